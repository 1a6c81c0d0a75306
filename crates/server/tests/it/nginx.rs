//! rwsgi behind a real nginx (`uwsgi_pass`), over TCP and UNIX sockets, from the command line
//! and from an ini file. nginx runs on loopback from a config in the test's temp dir and is
//! stopped by pid when the test ends.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary; panics (never skips) when it is not installed.
fn nginx_bin() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("nginx");
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "nginx is not installed: these tests need a real nginx \
         (scripts/test.sh installs it: apt-get install -y nginx-light)"
    );
}

/// A running nginx, stopped by pid when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx on 127.0.0.1:<free port> (racy: nginx binds its own port), passing every request to `upstream` (what follows
    /// `uwsgi_pass`, e.g. `127.0.0.1:3031` or `unix:/tmp/x/app.sock`). Files live in `dir`.
    fn start(dir: &Path, upstream: &str) -> Nginx {
        let bin = nginx_bin();
        let port = free_port();
        let d = dir.display();
        let conf = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 10m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            include /etc/nginx/uwsgi_params;
            uwsgi_pass {upstream};
        }}
    }}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let log = std::fs::File::create(dir.join("nginx-stderr.log")).expect("nginx log");
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut nginx = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited at start ({status}):\n{}", nginx.logs());
            }
            if Instant::now() > deadline {
                panic!("nginx did not listen on {port}:\n{}", nginx.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!(
            "--- nginx stderr ---\n{}\n--- nginx error.log ---\n{}",
            read("nginx-stderr.log"),
            read("nginx-error.log")
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGTERM);
    }
}

/// Polls GET `path` through nginx until rwsgi answers 200 (nginx answers 502 until then).
fn wait_ready_through(nginx: &Nginx, server: &Server, path: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Response::default();
    while Instant::now() < deadline {
        if let Ok(r) = try_http(nginx.port, "GET", path, &[], b"") {
            if r.status == 200 {
                return r;
            }
            last = r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no 200 through nginx (last status {}):\n{}\n--- rwsgi ---\n{}",
        last.status,
        nginx.logs(),
        server.log()
    );
}

/// The seed command line after its `--socket` (in `rwsgi`): a pre-bound stats socket, the
/// bundled example app, 8 workers.
fn seed(rwsgi: Rwsgi) -> Rwsgi {
    rwsgi.stats().args([
        "--module",
        "welcome",
        "--chdir",
        &examples_dir().display().to_string(),
        "--master",
        "--processes",
        "8",
    ])
}

/// Requests through nginx spread over several connections; every one gets Hello World.
fn assert_hello_world(nginx: &Nginx, server: &Server) {
    wait_ready_through(nginx, server, "/");
    for i in 0..20 {
        let r = try_http(nginx.port, "GET", &format!("/n{i}"), &[], b"").expect("GET via nginx");
        assert_eq!(r.status, 200, "request {i}:\n{}", server.log());
        assert_eq!(r.text(), "Hello World");
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
    }
}

#[test]
fn seed_command_line_behind_nginx_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let server = seed(Rwsgi::new().uwsgi()).start();
    let (upstream, stats_port) = (server.ports.uwsgi, server.ports.stats);
    let s = wait_workers_ready(&server, stats_port, 8);
    assert_eq!(s["sockets"][0]["proto"], "uwsgi");
    let nginx = Nginx::start(dir.path(), &format!("127.0.0.1:{upstream}"));
    assert_hello_world(&nginx, &server);
    // The requests were counted by rwsgi's workers.
    let s = stats(stats_port);
    let total: u64 = worker_field(&s, "requests").iter().sum();
    assert!(total >= 20, "workers counted {total} requests: {s}");
}

#[test]
fn seed_command_line_behind_nginx_over_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let server = seed(Rwsgi::new().args(["--socket", &sock.display().to_string()]))
        .args(["--chmod-socket", "666"])
        .start();
    let stats_port = server.ports.stats;
    wait_workers_ready(&server, stats_port, 8);
    let mode = std::fs::metadata(&sock)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", sock.display(), server.log()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666, "socket mode {:o}", mode & 0o777);
    let nginx = Nginx::start(dir.path(), &format!("unix:{}", sock.display()));
    assert_hello_world(&nginx, &server);
}

#[test]
fn seed_ini_file_behind_nginx() {
    let dir = tempfile::tempdir().unwrap();
    // The ini names the addresses of sockets the harness pre-bound: rwsgi adopts them.
    let mut rwsgi = Rwsgi::new();
    let upstream = rwsgi.prebind(SocketKind::Uwsgi);
    let stats_port = rwsgi.prebind(SocketKind::Stats);
    let ini = dir.path().join("app.ini");
    std::fs::write(
        &ini,
        format!(
            "[uwsgi]\n\
             socket = 127.0.0.1:{upstream}\n\
             stats = 127.0.0.1:{stats_port}\n\
             module = welcome\n\
             chdir = {}\n\
             master = true\n\
             processes = 8\n",
            examples_dir().display()
        ),
    )
    .unwrap();
    let server = rwsgi.args(["--ini", &ini.display().to_string()]).start();
    let s = wait_workers_ready(&server, stats_port, 8);
    assert_eq!(worker_pids(&s).len(), 8);
    let nginx = Nginx::start(dir.path(), &format!("127.0.0.1:{upstream}"));
    assert_hello_world(&nginx, &server);
}

/// rwsgi with the test app on a uwsgi TCP socket, and nginx in front of it.
fn app_behind_nginx(dir: &Path) -> (Server, Nginx) {
    let server = Rwsgi::new()
        .uwsgi()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(2)
        .start();
    let (upstream, stats_port) = (server.ports.uwsgi, server.ports.stats);
    wait_workers_ready(&server, stats_port, 2);
    let nginx = Nginx::start(dir, &format!("127.0.0.1:{upstream}"));
    wait_ready_through(&nginx, &server, "/");
    (server, nginx)
}

#[test]
fn post_body_through_nginx_reaches_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let (server, nginx) = app_behind_nginx(dir.path());
    // Small (in nginx's memory buffer) and large (spooled to client_body_temp_path) bodies.
    for size in [1usize, 100, 5000, 300_000] {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let r = try_http(
            nginx.port,
            "POST",
            "/echo",
            &[("Content-Type", "application/octet-stream")],
            &body,
        )
        .expect("POST via nginx");
        assert_eq!(r.status, 200, "size {size}:\n{}", server.log());
        assert_eq!(r.body.len(), size, "echoed length for size {size}");
        assert!(r.body == body, "echoed body differs for size {size}");
    }
}

#[test]
fn query_string_and_headers_reach_environ_through_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let (server, nginx) = app_behind_nginx(dir.path());
    let r = try_http(
        nginx.port,
        "GET",
        "/env?a=1&b=two%20words&c",
        &[("X-Test-Header", "hello nginx"), ("Accept-Language", "fr")],
        b"",
    )
    .expect("GET via nginx");
    assert_eq!(r.status, 200, "{}", server.log());
    let env: serde_json::Value = serde_json::from_slice(&r.body).expect("env JSON");
    assert_eq!(env["QUERY_STRING"], "a=1&b=two%20words&c", "{env}");
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(env["PATH_INFO"], "/env");
    assert_eq!(env["REQUEST_URI"], "/env?a=1&b=two%20words&c");
    assert_eq!(env["HTTP_X_TEST_HEADER"], "hello nginx", "{env}");
    assert_eq!(env["HTTP_ACCEPT_LANGUAGE"], "fr");
    // Debian's uwsgi_params sends HTTP_HOST as `$host` (no port); others pass the raw header.
    let host = env["HTTP_HOST"].as_str().unwrap_or_default();
    assert!(host.starts_with("127.0.0.1"), "HTTP_HOST {host:?}");
    assert_eq!(env["SERVER_PORT"], nginx.port.to_string());
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["wsgi.url_scheme"], "http");

    // A POST's content headers arrive as CONTENT_TYPE / CONTENT_LENGTH.
    let r = try_http(
        nginx.port,
        "POST",
        "/env?x=y",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"k=v",
    )
    .expect("POST via nginx");
    assert_eq!(r.status, 200, "{}", server.log());
    let env: serde_json::Value = serde_json::from_slice(&r.body).expect("env JSON");
    assert_eq!(env["REQUEST_METHOD"], "POST");
    assert_eq!(env["QUERY_STRING"], "x=y");
    assert_eq!(env["CONTENT_TYPE"], "application/x-www-form-urlencoded");
    assert_eq!(env["CONTENT_LENGTH"], "3");
}

/// Issue 10 rows 1, 2, 8 and 15 behind a real nginx: repeated fields (which nginx passes as
/// repeated vars) are one var each, joined; nginx drops the underscore name; the fragment never
/// reaches QUERY_STRING; SERVER_SOFTWARE is rwsgi's, as nginx's uwsgi_params sends none.
#[test]
fn environ_rules_behind_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let server = Rwsgi::new()
        .uwsgi()
        .args([
            "--wsgi-file",
            &apps_dir().join("http_conformance.py").display().to_string(),
            "--env",
            &format!("WSGI_TEST_DIR={}", dir.path().display()),
        ])
        .start();
    let upstream = server.ports.uwsgi;
    let nginx = Nginx::start(dir.path(), &format!("127.0.0.1:{upstream}"));
    wait_ready_through(&nginx, &server, "/");
    // Not half-closed (raw_exchange): nginx takes a client's FIN as an abort.
    let mut conn = TcpStream::connect(("127.0.0.1", nginx.port)).expect("connect nginx");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(
        b"GET /p%23x?q=1#frag HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nX-Dup: b\r\nCookie: c=1\r\n\
          Cookie: d=2\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\
          X-Auth-User: alice\r\nX_Auth_User: admin\r\nConnection: close\r\n\r\n",
    )
    .expect("send via nginx");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read via nginx");
    let r = parse_response(&raw);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), server.log());
    let env: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(env["HTTP_X_DUP"], "a, b", "{env}");
    assert_eq!(env["HTTP_COOKIE"], "c=1; d=2", "{env}");
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "10.0.0.1, 10.0.0.2", "{env}");
    assert_eq!(env["HTTP_X_AUTH_USER"], "alice", "{env}");
    assert_eq!(env["PATH_INFO"], "/p#x", "an escaped # is part of the path");
    assert_eq!(env["QUERY_STRING"], "q=1", "{env}");
    assert_eq!(
        env["SERVER_SOFTWARE"],
        format!("rwsgi/{}", env!("CARGO_PKG_VERSION"))
    );
}
