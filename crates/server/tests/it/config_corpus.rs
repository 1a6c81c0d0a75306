//! The ini corpus under `tests/configs/`, written for this suite: each config uses forms of
//! uWSGI's config language (comment-tailed values, magic variables, placeholder arithmetic,
//! value includes, config logic, unknown keys) and each test checks what they did to the
//! running server, not only that it started.
use rwsgi_testkit::prelude::*;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn configs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

fn config(name: &str) -> String {
    configs_dir().join(name).display().to_string()
}

/// Starts rwsgi on corpus config `name` with the ports (and `tmp`, the run's temp dir) as
/// placeholders, `extra` arguments and `env` added to the environment (each `CORPUS_*`
/// variable of the test's own environment removed first, so runs do not leak into each other).
fn start(name: &str, extra: &[&str], env: &[(&str, String)]) -> (Server, Ports) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Ports {
        http: free_port(),
        stats: free_port(),
        ..Ports::default()
    };
    let mut args: Vec<String> = vec![
        "--set-placeholder".into(),
        format!("http_port={}", p.http),
        "--set-placeholder".into(),
        format!("stats_port={}", p.stats),
        "--set-placeholder".into(),
        format!("tmp={}", dir.path().display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(config(name));
    let log_path = dir.path().join("rwsgi.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = Command::new(rwsgi_bin());
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CORPUS_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn rwsgi");
    (
        Server {
            child,
            dir,
            log_path,
            ports: p,
        },
        p,
    )
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}

/// `GET path` on `port`, as JSON.
fn get_json(server: &Server, port: u16, path: &str) -> serde_json::Value {
    let r = try_http(port, "GET", path, &[], b"")
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "GET {path}\n{}", server.log());
    json(&r)
}

/// uWSGI's `%k`: the online CPUs, as `getconf` reports them.
fn online_cpus() -> usize {
    sh("getconf _NPROCESSORS_ONLN").parse().expect("cpu count")
}

#[test]
fn cpu_count_sets_workers_and_threads() {
    let k = online_cpus();
    let (server, p) = start("cpu_count.ini", &[], &[]);
    let s = wait_workers_ready(&server, p.stats, k);
    let workers = s["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), k, "processes = %k\n{s:#}");
    for w in workers {
        let cores = w["cores"].as_array().map_or(0, Vec::len);
        assert_eq!(cores, 2 * k + 1, "threads = %((%k * 2) + 1)\n{s:#}");
    }
    assert_eq!(get_json(&server, p.http, "/")["ok"], true);
    // without the for-glob of logic.ini, the pythonpath-only module does not import
    assert_eq!(
        get_json(&server, p.http, "/import/wsgi_pp_only")["imported"],
        false
    );
}

#[test]
fn comment_tailed_numbers_take_effect() {
    let (server, p) = start("comment_tails.ini", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    // buffer-size = 32768: a 20 KB header fits (the 4096 default would refuse it)
    let big = "x".repeat(20_000);
    let r = try_http(p.http, "GET", "/", &[("X-Big", big.as_str())], b"")
        .unwrap_or_else(|e| panic!("big header: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    // max-requests = 3 ; recycle: the big-header request was the first of three
    let pid = |_| {
        get_json(&server, p.http, "/pid")["pid"]
            .as_u64()
            .expect("pid")
    };
    let pids: Vec<u64> = (0..5).map(pid).collect();
    assert!(pids[0] == pids[1], "{pids:?}\n{}", server.log());
    assert!(pids[2..].iter().all(|&x| x != pids[0]), "{pids:?}");
    assert_eq!(pids[2], pids[3], "{pids:?}");
    assert_eq!(pids[2], pids[4], "{pids:?}");
    server.wait_log(Duration::from_secs(20), |l| {
        l.contains("max requests reached")
    });
    // listen = 64 ; backlog: a listening socket's Send-Q in `ss` is its backlog
    let ss = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{}", p.http)])
        .output()
        .expect("ss");
    let line = String::from_utf8_lossy(&ss.stdout).to_string();
    let backlog = line.split_whitespace().nth(2);
    assert_eq!(backlog, Some("64"), "ss: {line}");
    assert!(!server.log().contains("warning"), "{}", server.log());
}

#[test]
fn logic_picks_the_socket_from_the_environment() {
    let port = free_port();
    let (server, p) = start("logic.ini", &[], &[("CORPUS_PORT", port.to_string())]);
    wait_workers_ready(&server, p.stats, 1);
    let env = get_json(&server, port, "/environ");
    let dir = format!("{}/", configs_dir().display());
    let want = serde_json::json!({
        "CORPUS_PORT": port.to_string(),
        "CORPUS_FOR_alpha": "alpha",
        "CORPUS_FOR_beta": "beta",
        "CORPUS_LINE_A": "first",
        "CORPUS_LINE_B": "second",
        "CORPUS_TIMES_1": "yes",
        "CORPUS_TIMES_2": "yes",
        "CORPUS_EXISTS": format!("{dir}logic.ini"),
        "CORPUS_NOT_EXISTS": format!("{dir}no-such-file"),
        "CORPUS_FILE": "yes",
        "CORPUS_NOT_FILE": "yes",
        "CORPUS_DIR": "yes",
        "CORPUS_NOT_DIR": "yes",
        "CORPUS_OPT": "corpus_app",
        "CORPUS_NOT_OPT": "yes",
        "CORPUS_HOSTNAME": hostname(),
        "CORPUS_PLUGIN": "python3",
        "CORPUS_ELSE": "yes",
    });
    assert_eq!(env, want, "{}", server.log());
    // for-glob put the pythonpath-only directory on the path
    assert_eq!(
        get_json(&server, port, "/import/wsgi_pp_only")["imported"],
        true,
        "{}",
        server.log()
    );
    // the if-not-env socket was not bound
    assert!(
        try_http(p.http, "GET", "/", &[], b"").is_err(),
        "if-not-env branch bound its socket\n{}",
        server.log()
    );
    drop(server);

    // without the variable, the other branch's socket answers
    let (server, p) = start("logic.ini", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    let env = get_json(&server, p.http, "/environ");
    assert_eq!(env.get("CORPUS_PORT"), None, "{env}");
    assert_eq!(env["CORPUS_ELSE"], "yes", "{env}");
}

fn sh(cmd: &str) -> String {
    let o = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect(cmd);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn hostname() -> String {
    sh("hostname")
}

/// uWSGI's `%j`: the djb33x hash of the absolute path (C `char`s), its bytes in memory order.
fn djb33x_hex(s: &str) -> String {
    let h = s.bytes().fold(5381u32, |h, b| {
        (h << 5).wrapping_add(h) ^ (b as i8 as i32 as u32)
    });
    h.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[test]
fn includes_magic_variables_and_arithmetic() {
    let before = unix_now();
    let (server, p) = start("includes_magic.ini:magic", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    // module = @(exec://echo corpus_app): the app answering proves the include
    let mut env = get_json(&server, p.http, "/environ");
    let after = unix_now();
    let ini = configs_dir().join("includes_magic.ini");
    let ini_path = ini.display().to_string();
    let dir = configs_dir();
    let parts: Vec<String> = dir
        .iter()
        .skip(1)
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    // %t|%T: the start-up time in seconds and microseconds, within the test's clock readings
    let time = env["CORPUS_TIME"]
        .as_str()
        .expect("CORPUS_TIME")
        .to_string();
    let (secs, micros) = time.split_once('|').expect("t|T");
    let secs: u64 = secs.parse().expect("%t");
    let micros: u64 = micros.parse().expect("%T");
    assert!(
        (before..=after).contains(&secs),
        "{time} not in {before}..={after}"
    );
    assert_eq!(micros / 1_000_000, secs, "{time}");
    env.as_object_mut().expect("object").remove("CORPUS_TIME");
    let hash = djb33x_hex(&ini_path);
    let inode = std::fs::symlink_metadata(&ini).expect("ini").ino();
    let want = serde_json::json!({
        "CORPUS_SECRET": "corpus-secret",
        "CORPUS_SECRET_URL": "corpus-secret",
        "CORPUS_CPUS": online_cpus().to_string(),
        "CORPUS_HOST": hostname(),
        "CORPUS_UID": sh("id -u"),
        "CORPUS_USER": sh("id -un"),
        "CORPUS_GID": sh("id -g"),
        "CORPUS_GROUP": sh("id -gn"),
        "CORPUS_NAME": "includes_magic",
        "CORPUS_DIR": format!("{}/", dir.display()),
        "CORPUS_EXT": "ini",
        "CORPUS_INODE": inode.to_string(),
        "CORPUS_VERSION": env!("CARGO_PKG_VERSION"),
        "CORPUS_PATH": format!(
            "{ini_path}|{ini_path}|includes_magic.ini|includes_magic.ini|{ini_path}:magic|\
             {ini_path}:magic"
        ),
        "CORPUS_PARTS": format!(
            "configs|configs|magic|magic|{}|{}|ini|includes_magic|{}/",
            parts[0],
            parts[1],
            dir.display()
        ),
        "CORPUS_HASH": format!("{hash}|{hash}|{inode}"),
        "CORPUS_CWD": std::env::current_dir().expect("cwd").display().to_string(),
        "CORPUS_BINARY": rwsgi_bin().display().to_string(),
        "CORPUS_ESCAPE": "\x1b[0m",
        "CORPUS_PERCENT": "100%",
        "CORPUS_K1": (online_cpus() + 1).to_string(),
        "CORPUS_COMMENT": "kept ; as in uWSGI",
        "CORPUS_HOME": std::env::var("HOME").unwrap_or_default(),
        "CORPUS_DEFAULT": "fallback",
        "CORPUS_ARITH": (u32::from(p.stats) + 1).to_string(),
    });
    assert_eq!(env, want, "{}", server.log());
    // pidfile = %(tmp)/%n.pid
    let pidfile = server.dir.path().join("includes_magic.pid");
    let written = wait_file(&pidfile, Duration::from_secs(20), |t| !t.trim().is_empty());
    assert_eq!(written.trim(), server.pid().to_string());
}

#[test]
fn unknown_keys_start_with_a_warning_or_stop_under_strict() {
    let (server, p) = start("unknown_keys.ini", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    // app = corpus_app is a placeholder that module uses: the app answers
    assert_eq!(get_json(&server, p.http, "/")["ok"], true);
    let ini = config("unknown_keys.ini");
    let log = server.log();
    let warning = format!(
        "rwsgi: warning: {ini}:10: unknown option 'vaccum' (kept as a placeholder; nothing \
         uses it): did you mean 'vacuum'?"
    );
    assert!(log.contains(&warning), "{log}");
    assert_eq!(log.matches("warning").count(), 1, "{log}");
    drop(server);

    let (mut server, _) = start("unknown_keys.ini", &["--strict"], &[]);
    let code = server.wait_exit(Duration::from_secs(30));
    let log = server.log();
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{log}");
    assert!(
        log.contains(&format!("rwsgi: {ini}:7: unknown option 'app'")),
        "{log}"
    );
    assert!(!log.contains("spawned rwsgi worker"), "{log}");
}

#[test]
fn a_value_without_a_number_names_file_and_line() {
    let (mut server, _) = start("bad_number.ini", &[], &[]);
    let code = server.wait_exit(Duration::from_secs(30));
    let log = server.log();
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{log}");
    let want = format!(
        "rwsgi: {}:6: invalid value 'many ; workers' for option 'processes': expected a \
         non-negative integer",
        config("bad_number.ini")
    );
    assert!(log.contains(&want), "{log}");
}

/// A YAML and a JSON config (`formats.yaml`, `formats.json`) start a server that serves, with
/// their lists applied as repeated options and `%n` / `%d` / placeholders expanded.
#[test]
fn yaml_and_json_configs_start_and_serve() {
    for (name, format) in [("formats.yaml", "yaml"), ("formats.json", "json")] {
        let (server, p) = start(name, &[], &[]);
        let s = wait_workers_ready(&server, p.stats, 2);
        assert_eq!(
            s["workers"].as_array().map(Vec::len),
            Some(2),
            "{name}: processes\n{s:#}"
        );
        let env = get_json(&server, p.http, "/environ");
        assert_eq!(env["CORPUS_FORMAT"], format, "{name}: {env}");
        assert_eq!(env["CORPUS_NAME"], "formats", "{name}: %n\n{env}");
    }
}

/// `real_forms.ini`: forms from the real-config sample. A `module = m:factory()` is called
/// once and its result served; a `.wsgi` file loads; `post-buffering = true` starts (as 0, with
/// uWSGI's warning); `add-header = Connection: Keep-Alive` keeps connections alive without a
/// second Connection header.
#[test]
fn real_config_forms_start_and_serve() {
    let (server, p) = start("real_forms.ini", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    let root = get_json(&server, p.http, "/");
    assert_eq!(root["factory"], true, "{root}");
    assert_eq!(root["calls"], 1, "{root}");
    // os.register_at_fork's after_in_child hook ran in the worker
    assert_eq!(root["forked_child"], true, "{root}");
    let legacy = get_json(&server, p.http, "/legacy/x");
    assert_eq!(legacy["wsgi_file"], true, "{legacy}");
    assert_eq!(legacy["script_name"], "/legacy", "{legacy}");
    let log = server.log();
    let warning = format!(
        "rwsgi: warning: {}:14: 'post-buffering = true' reads as 0, as in uWSGI (a word for a \
         number is 0): 'post-buffering' gets 0; write the number meant",
        config("real_forms.ini")
    );
    assert!(log.contains(&warning), "{log}");
    // two requests on one HTTP/1.1 connection: both answered, neither says Connection
    let mut s = std::net::TcpStream::connect(("127.0.0.1", p.http)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    for _ in 0..2 {
        use std::io::Write;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let (r, closed) = read_http_response(&mut s).expect("response");
        assert_eq!(r.status, 200, "{}", server.log());
        assert!(!closed, "the connection was closed");
        assert_eq!(r.header("Connection"), None, "{:?}", r.headers);
    }
    // the escape_json plugin's log vars: the request line is JSON, its strings escaped
    let r = try_http(
        p.http,
        "GET",
        "/json",
        &[("User-Agent", "a \"quoted\" agent")],
        b"",
    )
    .unwrap_or_else(|e| panic!("GET /json: {e}\n{}", server.log()));
    assert_eq!(r.status, 200);
    let line = eventually(Duration::from_secs(10), "the JSON request line", || {
        let log = server.log();
        log.lines()
            .find(|l| l.starts_with("{\"uri\":\"/json\""))
            .map(str::to_string)
            .ok_or(log)
    });
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["ua"], "a \"quoted\" agent", "{line}");
    // static-expires = /* 31557600: a static file expires a year from now
    let r = try_http(p.http, "GET", "/files/corpus_factory.py", &[], b"")
        .unwrap_or_else(|e| panic!("static GET: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    assert!(r.text().contains("def create_app"), "{}", r.text());
    let year: u32 = sh("date -u +%Y").parse().expect("year");
    let expires = r.header("Expires").unwrap_or_default().to_string();
    assert!(
        [year + 1, year + 2]
            .iter()
            .any(|y| expires.contains(&format!(" {y} "))),
        "Expires: {expires:?}"
    );
}

/// `harakiri_graceful.ini`: a worker stuck past `harakiri` gets SIGTERM first and SIGKILL only
/// `harakiri-graceful-timeout` seconds later, then a new worker serves.
#[test]
fn graceful_harakiri_signals_first_and_kills_after_the_timeout() {
    let (server, p) = start("harakiri_graceful.ini", &[], &[]);
    wait_workers_ready(&server, p.stats, 1);
    let before = get_json(&server, p.http, "/")["pid"].as_u64().expect("pid");
    // the stuck request gets no answer: the worker is killed under it, harakiri (1 s) plus
    // the graceful timeout (3 s) after it started, not at the harakiri alone
    let t0 = std::time::Instant::now();
    let stuck = try_http(p.http, "GET", "/sleep", &[], b"");
    let held = t0.elapsed();
    assert!(
        stuck.as_ref().map_or(true, |r| r.status != 200),
        "{:?}",
        stuck.map(|r| r.status)
    );
    assert!(
        held >= Duration::from_secs(4),
        "killed after {held:?}\n{}",
        server.log()
    );
    let log = server.log();
    let first = format!(
        "*** HARAKIRI ON WORKER 1 (pid: {before}, try: 1): graceful termination attempt with \
         signal 15 ***"
    );
    let second = format!("*** HARAKIRI ON WORKER 1 (pid: {before}, try: 2) ***");
    let (Some(a), Some(b)) = (log.find(&first), log.find(&second)) else {
        panic!("no graceful then forced harakiri in:\n{log}");
    };
    assert!(a < b, "{log}");
    let after = eventually(Duration::from_secs(20), "a new worker serves", || {
        let r = try_http(p.http, "GET", "/", &[], b"").map_err(|e| e.to_string())?;
        let pid = json(&r)["pid"].as_u64().ok_or("no pid")?;
        if pid == before {
            return Err(format!("still pid {pid}"));
        }
        Ok(pid)
    });
    assert_ne!(after, before);
}
