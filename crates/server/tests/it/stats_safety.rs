//! A stats socket that is safe to expose: UNIX socket modes (under umask 000), redaction of
//! request vars (over the socket and in a pusher's file), `--stats-vars`, the all-interfaces
//! warning, `--stats-http-auth`, `--stats-max-clients`, and valid JSON whatever bytes a busy
//! request carries.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// What a redacted value reads (the README documents it).
const REDACTED: &str = "[redacted]";

/// A temp dir for the server, with its canonical path (the app's `--chdir`).
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().canonicalize().expect("canonical temp dir");
    (dir, path)
}

/// Starts `rwsgi` (a builder that may have sockets already) as a one-worker server of
/// `stats_app` running in `dir`, with an HTTP socket on loopback and `extra` options.
fn start(rwsgi: Rwsgi, dir: tempfile::TempDir, path: &Path, extra: &[&str]) -> Server {
    let apps = apps_dir().display().to_string();
    let chdir = path.display().to_string();
    let server = rwsgi
        .http()
        .args(["--pythonpath", &apps, "--module", "stats_app"])
        .args(["--chdir", &chdir])
        .master()
        .processes(1)
        .args(extra)
        .dir(dir)
        .start();
    server.wait_http_ready(server.ports.http, 1);
    server
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Starts a server under umask 000 with a UNIX app socket, stats socket and metrics socket;
/// returns their modes (app, stats, metrics).
fn socket_modes(extra: &[&str]) -> (u32, u32, u32) {
    let (dir, path) = workdir();
    let [app, stats, metrics] = ["app.sock", "stats.sock", "metrics.sock"].map(|f| path.join(f));
    let rwsgi = Rwsgi::new()
        .umask(0)
        .args(["--socket", &app.display().to_string()])
        .args(["--stats", &stats.display().to_string()])
        .args(["--metrics", &metrics.display().to_string()]);
    let server = start(rwsgi, dir, &path, extra);
    // The sockets work at their modes (we are their owner).
    let v = stats_at(&StatsAddr::Unix(stats.clone()));
    assert_eq!(v["pid"].as_i64(), Some(i64::from(server.pid())), "{v}");
    let raw = stats_exchange(
        &StatsAddr::Unix(metrics.clone()),
        b"GET /metrics HTTP/1.0\r\n\r\n",
    )
    .expect("metrics over the UNIX socket");
    assert!(
        raw.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    (mode_of(&app), mode_of(&stats), mode_of(&metrics))
}

#[test]
fn unix_stats_and_metrics_sockets_are_owner_only_under_umask_000() {
    let (app, stats, metrics) = socket_modes(&[]);
    assert_eq!(stats, 0o600, "stats socket mode {stats:o}");
    assert_eq!(metrics, 0o600, "metrics socket mode {metrics:o}");
    // The app socket keeps uWSGI's behaviour: the umask decides.
    assert_eq!(app, 0o777, "app socket mode {app:o}");
}

#[test]
fn chmod_socket_applies_to_the_stats_sockets_as_in_uwsgi() {
    // `--chmod-socket` without a value is 666, on every UNIX socket (uWSGI binds its stats
    // socket with the same chmod-socket).
    assert_eq!(socket_modes(&["--chmod-socket"]), (0o666, 0o666, 0o666));
    // `--stats-chmod` wins for the stats sockets only.
    assert_eq!(
        socket_modes(&["--chmod-socket=640", "--stats-chmod", "660"]),
        (0o640, 0o660, 0o660)
    );
    assert_eq!(socket_modes(&["--stats-chmod=604"]), (0o777, 0o604, 0o604));
}

/// Creates `stats-release` (ending the app's `/slow` request) when dropped, also on a failed
/// assertion, so the server stops promptly.
struct Release(PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, b"go");
    }
}

/// Sends `request` (whose path is `/slow`) over HTTP on a thread; the request stays in flight
/// until the [`Release`] is dropped.
fn slow_http(server: &Server, dir: &Path, request: Vec<u8>) -> (JoinHandle<Vec<u8>>, Release) {
    let port = server.ports.http;
    let handle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(120))).ok();
        s.write_all(&request).expect("send /slow");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        raw
    });
    (handle, Release(dir.join("stats-release")))
}

/// The request that carries every secret the tests look for.
fn secret_request(port: u16) -> Vec<u8> {
    format!(
        "GET /slow?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: session=Hush1\r\n\
         Authorization: Bearer Hush2\r\nProxy-Authorization: Basic Hush3\r\n\
         X-Api-Key: Hush4\r\nX-Other-Secret: Hush5\r\nX-Visible: shown\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The vars of the one busy core in a stats document, once there is one.
fn busy_vars(v: &Value) -> Option<Vec<String>> {
    let cores = v["workers"].as_array()?.iter().flat_map(|w| {
        w["cores"]
            .as_array()
            .map(|c| c.iter().collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let busy: Vec<&Value> = cores.filter(|c| c["in_request"] == 1).collect();
    let [core] = busy[..] else { return None };
    core["vars"]
        .as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Waits for a busy core in the raw stats on `port`; returns its vars.
fn wait_busy_vars(server: &Server, port: u16) -> Vec<String> {
    let v = wait_stats(server, port, Duration::from_secs(30), "a busy core", |v| {
        busy_vars(v).is_some()
    });
    busy_vars(&v).expect("busy vars")
}

fn assert_redacted(vars: &[String], where_: &str) {
    for key in [
        "HTTP_COOKIE",
        "HTTP_AUTHORIZATION",
        "HTTP_PROXY_AUTHORIZATION",
        "HTTP_X_API_KEY",
        "HTTP_X_OTHER_SECRET",
    ] {
        let line = format!("{key}={REDACTED}");
        assert!(vars.contains(&line), "{where_}: no {line} in {vars:?}");
    }
    assert!(
        vars.iter().all(|v| !v.contains("Hush")),
        "{where_}: a secret leaked: {vars:?}"
    );
    for shown in [
        "HTTP_X_VISIBLE=shown",
        "PATH_INFO=/slow",
        "QUERY_STRING=q=1",
    ] {
        assert!(
            vars.iter().any(|v| v == shown),
            "{where_}: no {shown} in {vars:?}"
        );
    }
}

#[test]
fn busy_vars_are_redacted_over_the_socket_and_in_a_pushed_file() {
    let (dir, path) = workdir();
    let pushed = path.join("push.json");
    let push = format!("file:path={},freq=1", pushed.display());
    let server = start(
        Rwsgi::new().stats(),
        dir,
        &path,
        &[
            "--stats-redact",
            "X-Api-Key",
            "--stats-redact",
            "HTTP_X_OTHER_SECRET",
            "--stats-push",
            &push,
        ],
    );
    let stats_port = server.ports.stats;
    let (handle, release) = slow_http(&server, &path, secret_request(server.ports.http));
    assert_redacted(&wait_busy_vars(&server, stats_port), "stats socket");
    // The pusher writes a document per second; one shows the busy core.
    let text = wait_file(&pushed, Duration::from_secs(30), |t| {
        t.split("\n\n")
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .any(|d| busy_vars(&d).is_some())
    });
    let doc = text
        .split("\n\n")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|d| busy_vars(d).is_some())
        .expect("a pushed document with a busy core");
    assert_redacted(&busy_vars(&doc).expect("busy vars"), "file pusher");
    assert!(
        !text.contains("Hush"),
        "a secret leaked into {}",
        pushed.display()
    );
    drop(release);
    let raw = handle.join().expect("slow request thread");
    assert_eq!(parse_response(&raw).status, 200);
}

#[test]
fn stats_vars_full_shows_raw_values_and_off_drops_them() {
    let (dir, path) = workdir();
    let server = start(Rwsgi::new().stats(), dir, &path, &["--stats-vars", "full"]);
    let (handle, release) = slow_http(&server, &path, secret_request(server.ports.http));
    let vars = wait_busy_vars(&server, server.ports.stats);
    for raw in [
        "HTTP_COOKIE=session=Hush1",
        "HTTP_AUTHORIZATION=Bearer Hush2",
        "HTTP_PROXY_AUTHORIZATION=Basic Hush3",
        "HTTP_X_API_KEY=Hush4",
    ] {
        assert!(vars.iter().any(|v| v == raw), "full: no {raw} in {vars:?}");
    }
    drop(release);
    handle.join().expect("slow request thread");
    drop(server);

    let (dir, path) = workdir();
    let server = start(Rwsgi::new().stats(), dir, &path, &["--stats-vars=off"]);
    let (handle, release) = slow_http(&server, &path, secret_request(server.ports.http));
    // The core is in its request, with a start time, and shows no var at all.
    let v = wait_stats(
        &server,
        server.ports.stats,
        Duration::from_secs(30),
        "a busy core",
        |v| busy_vars(v).is_some(),
    );
    assert_eq!(busy_vars(&v), Some(Vec::new()), "off: {v}");
    let busy = v["workers"][0]["cores"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["in_request"] == 1))
        .expect("the busy core");
    assert!(
        busy["req_info"]["request_start"].as_u64().is_some(),
        "{busy}"
    );
    drop(release);
    handle.join().expect("slow request thread");
}

#[test]
fn stats_on_every_interface_log_a_warning() {
    let (dir, path) = workdir();
    let (stats_port, metrics_port, loopback_port) = (free_port(), free_port(), free_port());
    let stats = format!(":{stats_port}");
    let metrics = format!("[::]:{metrics_port}");
    let loopback = format!("127.0.0.1:{loopback_port}");
    let server = start(
        Rwsgi::new(),
        dir,
        &path,
        &["--stats", &stats, "--metrics", &metrics],
    );
    let log = server.log();
    for (kind, addr) in [("stats", &stats), ("metrics", &metrics)] {
        let line =
            format!("WARNING: the {kind} server on {addr} is reachable from every interface");
        assert!(log.contains(&line), "no '{line}' in:\n{log}");
    }
    drop(server);
    // Loopback is not every interface.
    let (dir, path) = workdir();
    let server = start(Rwsgi::new(), dir, &path, &["--stats", &loopback]);
    let log = server.log();
    assert!(log.contains("stats server enabled on"), "{log}");
    assert!(!log.contains("reachable from every interface"), "{log}");
}

/// Sends an HTTP `GET path` with `authorization` (if any) to a stats listener on `port`.
fn stats_get(port: u16, path: &str, authorization: Option<&str>) -> Response {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n");
    let raw = stats_exchange(&StatsAddr::Tcp(port), req.as_bytes()).expect("stats exchange");
    parse_response(&raw)
}

#[test]
fn http_stats_and_metrics_require_the_configured_credentials() {
    let (dir, path) = workdir();
    let auth = path.join("stats-auth");
    std::fs::write(&auth, "# scrapers\ns3cr3t-token\nprom:pass word\n").expect("auth file");
    // Readable by everyone: the server says so.
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let auth_arg = auth.display().to_string();
    let server = start(
        Rwsgi::new().stats().metrics(),
        dir,
        &path,
        &["--stats-http", "--stats-http-auth", &auth_arg],
    );
    let (stats_port, metrics_port) = (server.ports.stats, server.ports.metrics);
    let log = server.log();
    assert!(
        log.contains("is readable by other users (chmod 600 it)"),
        "{log}"
    );
    let basic = |up: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(up)
        )
    };
    for (port, path, body_is_json) in [
        (stats_port, "/", true),
        (stats_port, "/metrics", false),
        (metrics_port, "/metrics", false),
    ] {
        let what = format!("port {port} {path}");
        // Refused: no header, a wrong token, a wrong password, another scheme.
        for bad in [
            None,
            Some("Bearer wrong-token".to_string()),
            Some("Bearer s3cr3t-toke".to_string()),
            Some(basic("prom:wrong")),
            Some("Digest s3cr3t-token".to_string()),
        ] {
            let r = stats_get(port, path, bad.as_deref());
            assert_eq!(r.status, 401, "{what} with {bad:?}: {}", r.text());
            let challenge = r.header("WWW-Authenticate").unwrap_or_default();
            assert!(
                challenge.contains("Bearer") && challenge.contains("Basic"),
                "{what}: challenge {challenge:?}"
            );
            assert!(
                !r.text().contains("workers"),
                "{what}: stats leaked in a 401"
            );
        }
        // Accepted: the token, the user and password.
        for good in ["Bearer s3cr3t-token".to_string(), basic("prom:pass word")] {
            let r = stats_get(port, path, Some(&good));
            assert_eq!(r.status, 200, "{what} with {good}: {}", r.text());
            if body_is_json {
                let v: Value = serde_json::from_slice(&r.body).expect("stats JSON");
                assert_eq!(v["pid"].as_i64(), Some(i64::from(server.pid())));
            } else {
                assert!(r.text().contains("uwsgi_"), "{what}: {}", r.text());
            }
        }
    }
}

#[test]
fn http_auth_with_a_raw_stats_socket_or_without_credentials_is_refused_at_start() {
    let (_dir, path) = workdir();
    let auth = path.join("stats-auth");
    std::fs::write(&auth, "token\n").expect("auth file");
    let stats = format!("127.0.0.1:{}", free_port());
    let apps = apps_dir().display().to_string();
    let auth_arg = auth.display().to_string();
    let base = [
        "--http-socket",
        "127.0.0.1:0",
        "--pythonpath",
        &apps,
        "--module",
        "stats_app",
        "--stats",
        &stats,
        "--stats-http-auth",
    ];
    let (code, log) = run_to_exit(&[&base[..], &[&auth_arg]].concat(), Duration::from_secs(30));
    assert_ne!(code, Some(0), "{log}");
    assert!(
        log.contains("--stats-http-auth needs --stats-http"),
        "{log}"
    );
    // A file without any credential would refuse everyone: refused too.
    std::fs::write(&auth, "# nothing yet\n").expect("auth file");
    let with_http = [&base[..], &[&auth_arg, "--stats-http"]].concat();
    let (code, log) = run_to_exit(&with_http, Duration::from_secs(30));
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains("holds no token"), "{log}");
}

#[test]
fn clients_past_the_cap_wait_in_the_queue_and_are_served() {
    let (dir, path) = workdir();
    let server = start(
        Rwsgi::new().stats(),
        dir,
        &path,
        &["--stats-http", "--stats-max-clients", "2"],
    );
    let port = server.ports.stats;
    // Two clients that send nothing hold both slots (until their deadline).
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    server.wait_log(Duration::from_secs(20), |l| {
        l.contains("stats server: 2 clients at once (--stats-max-clients)")
    });
    // A third client waits in the listen queue; the master goes on meanwhile.
    let waiting = std::thread::spawn(move || {
        stats_exchange(&StatsAddr::Tcp(port), b"GET / HTTP/1.0\r\n\r\n")
    });
    assert_eq!(
        get(server.ports.http, "/").status,
        200,
        "the app while at the cap"
    );
    drop(holders);
    let raw = waiting
        .join()
        .expect("waiting client")
        .expect("the queued client is answered");
    let r = parse_response(&raw);
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).expect("stats JSON");
    assert_eq!(v["pid"].as_i64(), Some(i64::from(server.pid())));
}

#[test]
fn idle_stats_clients_are_closed() {
    let (dir, path) = workdir();
    let server = start(Rwsgi::new().stats(), dir, &path, &["--stats-http"]);
    let mut idle = TcpStream::connect(("127.0.0.1", server.ports.stats)).expect("connect");
    // Bounded: the server's deadline is far shorter than this read timeout.
    idle.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut buf = [0u8; 64];
    let n = idle
        .read(&mut buf)
        .expect("the server closes an idle client");
    assert_eq!(n, 0, "closed without an answer: {:?}", &buf[..n]);
}

#[test]
fn nasty_request_bytes_keep_the_stats_json_valid() {
    let (dir, path) = workdir();
    let server = start(
        Rwsgi::new().stats().uwsgi(),
        dir,
        &path,
        &["--stats-vars", "full"],
    );
    let uwsgi_port = server.ports.uwsgi;
    // Over the uwsgi protocol any byte reaches the vars: control characters, NUL, invalid
    // UTF-8, quotes, backslashes, JSON syntax.
    let nasty_value = b"\"}]\\\x00\x01\x1f\x7f\n\r\t\xff\xfe\xc3(\xe2\x80\xa8 end".to_vec();
    let nasty_key = b"X_\"\\\x02\xff".to_vec();
    let vars: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"REQUEST_METHOD".to_vec(), b"GET".to_vec()),
        (b"PATH_INFO".to_vec(), b"/slow".to_vec()),
        (b"QUERY_STRING".to_vec(), b"".to_vec()),
        (b"SERVER_NAME".to_vec(), b"x".to_vec()),
        (b"SERVER_PORT".to_vec(), b"80".to_vec()),
        (b"SERVER_PROTOCOL".to_vec(), b"HTTP/1.1".to_vec()),
        (b"HTTP_X_NASTY".to_vec(), nasty_value.clone()),
        (nasty_key.clone(), b"v".to_vec()),
    ];
    let sent = vars.clone();
    let handle = std::thread::spawn(move || {
        let refs: Vec<(&[u8], &[u8])> = sent.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        uwsgi_request(uwsgi_port, &refs, b"")
    });
    let release = Release(path.join("stats-release"));
    let got = wait_busy_vars(&server, server.ports.stats);
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let want_nasty = format!("HTTP_X_NASTY={}", lossy(&nasty_value));
    let want_key = format!("{}=v", lossy(&nasty_key));
    assert!(got.contains(&want_nasty), "{want_nasty:?} not in {got:?}");
    assert!(got.contains(&want_key), "{want_key:?} not in {got:?}");
    drop(release);
    let raw = handle
        .join()
        .expect("uwsgi thread")
        .expect("uwsgi response");
    assert_eq!(parse_response(&raw).status, 200);
}
