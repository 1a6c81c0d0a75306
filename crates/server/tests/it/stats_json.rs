//! The live stats JSON: uWSGI 2.0's keys and types, and counters that move with the traffic.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const LISTEN: u32 = 64;

/// The reference key/type list (derived from a real uWSGI 2.0.31 capture), shared with the
/// stats crate's tests.
fn reference_keys() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stats/tests/reference/keys.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("keys.json")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

/// `obj` has exactly the keys of `spec` (less `omit`), each of the listed JSON type.
fn check_object(what: &str, obj: &Value, spec: &Value, omit: &[&str]) {
    check_object_with(what, obj, spec, omit, &[]);
}

/// [`check_object`] that also allows the keys of `extra` (name, JSON type), and no others.
fn check_object_with(what: &str, obj: &Value, spec: &Value, omit: &[&str], extra: &[(&str, &str)]) {
    let obj = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {obj}"));
    let spec = spec.as_object().expect("reference section");
    for (key, ty) in spec {
        if omit.contains(&key.as_str()) {
            assert!(!obj.contains_key(key), "{what}: unexpected key {key:?}");
            continue;
        }
        let v = obj
            .get(key)
            .unwrap_or_else(|| panic!("{what}: missing key {key:?} in {obj:?}"));
        assert_eq!(
            json_type(v),
            ty.as_str().expect("type name"),
            "{what}.{key} has the wrong JSON type: {v}"
        );
    }
    for key in obj.keys() {
        if let Some((_, ty)) = extra.iter().find(|(k, _)| k == key) {
            assert_eq!(json_type(&obj[key]), *ty, "{what}.{key}: {}", obj[key]);
            continue;
        }
        assert!(spec.contains_key(key), "{what}: key {key:?} is not uWSGI's");
    }
}

/// rwsgi's one documented addition to the top level (README, "The stats JSON"): `rwsgi`,
/// with exactly these keys.
fn check_rwsgi_key(doc: &Value) {
    let r = doc["rwsgi"].as_object().expect("the rwsgi key");
    let keys: Vec<&str> = r.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let lat = r["latency"].as_object().expect("rwsgi.latency");
    let mut lat_keys: Vec<&str> = lat.keys().map(String::as_str).collect();
    lat_keys.sort_unstable();
    assert_eq!(
        lat_keys,
        ["buckets", "count", "le_us", "p50", "p99", "sum_us"]
    );
    let buckets = lat["buckets"].as_array().expect("buckets");
    assert_eq!(
        buckets.len(),
        lat["le_us"].as_array().expect("le_us").len() + 1
    );
    let count: u64 = buckets.iter().map(|b| b.as_u64().expect("a count")).sum();
    assert_eq!(lat["count"], count);
    for q in ["p50", "p99"] {
        assert!(
            lat[q].is_u64() || (count == 0 && lat[q].is_null()),
            "{q}: {}",
            lat[q]
        );
    }
    let responses = r["responses"].as_object().expect("rwsgi.responses");
    for (code, n) in responses {
        assert!(code == "other" || code.parse::<u16>().is_ok(), "{code}");
        assert!(n.is_u64(), "{code}: {n}");
    }
}

/// Checks a whole stats document against the reference (`no_cores`: workers have no
/// `cores`).
fn check_reference(doc: &Value, no_cores: bool) {
    let keys = reference_keys();
    check_object_with("top level", doc, &keys["top"], &[], &[("rwsgi", "dict")]);
    check_rwsgi_key(doc);
    let omit: &[&str] = if no_cores { &["cores"] } else { &[] };
    let locks = doc["locks"].as_array().expect("locks");
    assert!(!locks.is_empty(), "no locks");
    for lock in locks {
        let obj = lock.as_object().expect("a lock is an object");
        assert_eq!(obj.len(), 1, "a lock has one key: {lock}");
        assert!(
            obj.values().all(|v| json_type(v) == "int"),
            "lock value is the holder's pid: {lock}"
        );
    }
    let sockets = doc["sockets"].as_array().expect("sockets");
    assert!(!sockets.is_empty(), "no sockets");
    for s in sockets {
        check_object("sockets[]", s, &keys["socket"], &[]);
    }
    let workers = doc["workers"].as_array().expect("workers");
    assert!(!workers.is_empty(), "no workers");
    for w in workers {
        check_object("workers[]", w, &keys["worker"], omit);
        let apps = w["apps"].as_array().expect("apps");
        assert!(!apps.is_empty(), "a worker without apps: {w}");
        for a in apps {
            check_object("apps[]", a, &keys["app"], &[]);
        }
        if !no_cores {
            let cores = w["cores"].as_array().expect("cores");
            assert!(!cores.is_empty(), "a worker without cores: {w}");
            for c in cores {
                check_object("cores[]", c, &keys["core"], &[]);
                assert!(
                    c["vars"]
                        .as_array()
                        .expect("vars")
                        .iter()
                        .all(Value::is_string),
                    "vars are strings: {c}"
                );
            }
        }
    }
}

/// A server like the reference capture's: an HTTP and a uwsgi socket, 2 processes with 2
/// threads each, `--memory-report`, the stats socket on loopback TCP, `--chdir` a temp dir.
struct Fixture {
    server: Server,
    http: u16,
    uwsgi: u16,
    stats: u16,
    chdir: PathBuf,
}

impl Fixture {
    fn start(extra: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let chdir = dir.path().canonicalize().expect("canonical temp dir");
        let apps = apps_dir().display().to_string();
        let chdir_arg = chdir.display().to_string();
        let listen = LISTEN.to_string();
        let server = Rwsgi::new()
            .http()
            .uwsgi()
            .stats()
            .args([
                "--pythonpath",
                &apps,
                "--module",
                "stats_app",
                "--chdir",
                &chdir_arg,
            ])
            .master()
            .processes(2)
            .args(["--threads", "2", "--memory-report", "--listen", &listen])
            .args(extra)
            .dir(dir)
            .start();
        let Ports {
            http, uwsgi, stats, ..
        } = server.ports;
        server.wait_http_ready(http, 2);
        Fixture {
            server,
            http,
            uwsgi,
            stats,
            chdir,
        }
    }

    /// Waits until the stats show `n` requests in total (workers, apps and cores agree).
    fn wait_requests(&self, n: u64) -> Value {
        wait_stats(
            &self.server,
            self.stats,
            Duration::from_secs(30),
            &format!("{n} requests in workers[], apps[] and cores[]"),
            |v| {
                sum_workers(v, "requests") == n
                    && sum_nested(v, "apps", "requests") == n
                    && sum_nested(v, "cores", "requests") == n
            },
        )
    }

    /// Starts `GET /slow?q=1` with a cookie on a thread; it ends once [`Release`] is dropped.
    fn start_slow(&self) -> (std::thread::JoinHandle<Response>, Release) {
        let release = Release(self.chdir.join("stats-release"));
        let port = self.http;
        let handle = std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(120))).ok();
            let req = format!(
                "GET /slow?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: session=secret\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).expect("send /slow");
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).expect("read /slow");
            parse_response(&raw)
        });
        (handle, release)
    }
}

/// Creates the file that ends the app's `/slow` request when dropped (also on a failed
/// assertion, so the server stops promptly).
struct Release(PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, b"go");
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn workers(v: &Value) -> &Vec<Value> {
    v["workers"].as_array().expect("workers")
}

fn all_idle(v: &Value) -> bool {
    workers(v).iter().all(|w| {
        w["status"] == "idle"
            && w["cores"].as_array().expect("cores").iter().all(|c| {
                c["in_request"] == 0
                    && c["vars"].as_array().is_some_and(Vec::is_empty)
                    && c["req_info"].as_object().is_some_and(|o| o.is_empty())
            })
    })
}

#[test]
fn live_stats_have_every_reference_key_and_type() {
    let f = Fixture::start(&[]);
    for _ in 0..3 {
        assert_eq!(get(f.http, "/").status, 200);
    }
    assert_eq!(
        try_uwsgi(f.uwsgi, "GET", "/", b"").expect("uwsgi").status,
        200
    );
    let v = f.wait_requests(5);
    check_reference(&v, false);
    // Every worker reports its two cores and its one app.
    for w in workers(&v) {
        assert_eq!(w["cores"].as_array().map(Vec::len), Some(2), "{w}");
        assert_eq!(w["apps"].as_array().map(Vec::len), Some(1), "{w}");
    }
    // The HTTP flavour of the socket serves the same document.
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()));
}

#[test]
fn identity_sockets_and_listen_queue() {
    let f = Fixture::start(&[]);
    let v = stats(f.stats);
    assert_eq!(v["pid"].as_i64(), Some(i64::from(f.server.pid())));
    let (uid, gid) = rwsgi_os::process::real_ids();
    assert_eq!(v["uid"].as_u64(), Some(u64::from(uid)));
    assert_eq!(v["gid"].as_u64(), Some(u64::from(gid)));
    assert_eq!(
        v["cwd"].as_str(),
        Some(f.chdir.to_str().expect("utf-8 path"))
    );
    assert!(
        v["listen_queue"].is_u64(),
        "listen_queue: {}",
        v["listen_queue"]
    );
    assert!(v["listen_queue_errors"].is_u64());
    let sockets = v["sockets"].as_array().expect("sockets");
    assert_eq!(sockets.len(), 2, "{sockets:?}");
    for (name, proto) in [
        (format!("127.0.0.1:{}", f.http), "http"),
        (format!("127.0.0.1:{}", f.uwsgi), "uwsgi"),
    ] {
        let s = sockets
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no socket named {name}: {sockets:?}"));
        assert_eq!(s["proto"], proto, "{s}");
        assert_eq!(s["max_queue"].as_u64(), Some(u64::from(LISTEN)), "{s}");
        assert!(s["queue"].is_u64(), "{s}");
    }
    // Worker pids are the master's children, all distinct.
    let pids: Vec<u64> = workers(&v)
        .iter()
        .map(|w| w["pid"].as_u64().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&p| p > 0 && p as i32 != f.server.pid()));
    assert_ne!(pids[0], pids[1]);
}

#[test]
fn request_counters_tx_and_times_move() {
    let f = Fixture::start(&[]);
    // wait_http_ready made one request.
    let before = f.wait_requests(1);
    let tx_before = sum_workers(&before, "tx");
    let http_n = 12;
    let uwsgi_n = 5;
    for _ in 0..http_n {
        let r = get(f.http, "/");
        assert_eq!((r.status, r.text().as_str()), (200, "Hello World"));
    }
    for _ in 0..uwsgi_n {
        assert_eq!(
            try_uwsgi(f.uwsgi, "GET", "/", b"").expect("uwsgi").status,
            200
        );
    }
    let n = 1 + http_n + uwsgi_n;
    let v = f.wait_requests(n);
    assert_eq!(sum_workers(&v, "requests"), n);
    assert_eq!(sum_nested(&v, "apps", "requests"), n);
    assert_eq!(sum_nested(&v, "cores", "requests"), n);
    assert_eq!(sum_workers(&v, "exceptions"), 0);
    let tx_after = sum_workers(&v, "tx");
    assert!(
        tx_after >= tx_before + (http_n + uwsgi_n) * "Hello World".len() as u64,
        "tx {tx_before} -> {tx_after}"
    );
    let mut served = 0;
    for w in workers(&v) {
        if w["requests"].as_u64() > Some(0) {
            served += 1;
            assert!(w["avg_rt"].as_u64() > Some(0), "avg_rt: {w}");
            assert!(w["running_time"].as_u64() > Some(0), "running_time: {w}");
            assert!(w["tx"].as_u64() > Some(0), "tx: {w}");
            // --memory-report: measured after each request.
            let (rss, vsz) = (w["rss"].as_u64().unwrap(), w["vsz"].as_u64().unwrap());
            assert!(rss > 0 && vsz > 0 && vsz >= rss, "rss {rss} vsz {vsz}: {w}");
        }
    }
    assert!(served >= 1);
}

#[test]
fn rwsgi_key_counts_status_codes_and_latency() {
    let f = Fixture::start(&[]);
    for _ in 0..3 {
        assert_eq!(get(f.http, "/boom").status, 500);
    }
    for _ in 0..4 {
        assert_eq!(get(f.http, "/").status, 200);
    }
    // (the fixture's readiness probes are 200s too)
    let v = eventually(Duration::from_secs(30), "the responses in rwsgi", || {
        let v = stats(f.stats);
        let r = &v["rwsgi"]["responses"];
        let ok = r["200"].as_u64().unwrap_or(0);
        let count = v["rwsgi"]["latency"]["count"].as_u64().unwrap_or(0);
        if r["500"] == 3 && ok >= 4 && count == ok + 3 {
            Ok(v)
        } else {
            Err(v["rwsgi"].to_string())
        }
    });
    check_rwsgi_key(&v);
    let lat = &v["rwsgi"]["latency"];
    let (p50, p99) = (lat["p50"].as_u64().unwrap(), lat["p99"].as_u64().unwrap());
    assert!(p50 <= p99, "{lat}");
    assert_eq!(lat["count"], sum_nested(&v, "apps", "requests"));
    assert!(lat["sum_us"].as_u64().unwrap() > 0);
}

#[test]
fn exceptions_are_counted_per_worker_and_app() {
    let f = Fixture::start(&[]);
    let raising = 3;
    for _ in 0..raising {
        assert_eq!(get(f.http, "/boom").status, 500);
    }
    assert_eq!(get(f.http, "/").status, 200);
    let v = f.wait_requests(1 + raising + 1);
    let v = if sum_workers(&v, "exceptions") == raising {
        v
    } else {
        wait_stats(
            &f.server,
            f.stats,
            Duration::from_secs(30),
            "3 exceptions",
            |v| sum_workers(v, "exceptions") == raising,
        )
    };
    assert_eq!(sum_workers(&v, "exceptions"), raising, "{v:#}");
    assert_eq!(sum_nested(&v, "apps", "exceptions"), raising, "{v:#}");
    // Per worker, its apps' exceptions add up to the worker's.
    for w in workers(&v) {
        let apps: u64 = w["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["exceptions"].as_u64().unwrap())
            .sum();
        assert_eq!(w["exceptions"].as_u64(), Some(apps), "{w}");
    }
}

#[test]
fn killed_worker_is_respawned_with_its_count_and_spawn_time() {
    let f = Fixture::start(&[]);
    let v = stats(f.stats);
    let w1 = &workers(&v)[0];
    let w2 = &workers(&v)[1];
    let old_pid = w1["pid"].as_u64().expect("pid");
    let old_spawn = w1["last_spawn"].as_u64().expect("last_spawn");
    assert_eq!(w1["respawn_count"], 1, "{w1}");
    assert!(old_pid > 0);
    rwsgi_os::process::kill(old_pid as i32, rwsgi_os::Signal::KILL).expect("SIGKILL the worker");
    let v = wait_stats(
        &f.server,
        f.stats,
        Duration::from_secs(30),
        "worker 1 respawned",
        |v| {
            let w = &workers(v)[0];
            w["respawn_count"] == 2 && w["pid"].as_u64().is_some_and(|p| p != old_pid && p > 0)
        },
    );
    let w = &workers(&v)[0];
    let new_pid = w["pid"].as_u64().unwrap();
    assert!(pid_alive(new_pid as i32), "new worker {new_pid} not alive");
    assert!(
        w["last_spawn"].as_u64().unwrap() >= old_spawn,
        "last_spawn went back: {old_spawn} -> {w}"
    );
    // The other worker was left alone.
    assert_eq!(workers(&v)[1]["pid"], w2["pid"]);
    assert_eq!(workers(&v)[1]["respawn_count"], 1);
    // And the server still serves.
    for _ in 0..4 {
        assert_eq!(get(f.http, "/").status, 200);
    }
}

/// Checks the stats while `/slow?q=1` runs; returns the busy document.
fn check_busy(f: &Fixture) -> Value {
    let v = wait_stats(
        &f.server,
        f.stats,
        Duration::from_secs(30),
        "a busy worker",
        |v| {
            workers(v).iter().any(|w| {
                w["status"] == "busy"
                    && w["cores"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["in_request"] == 1))
            })
        },
    );
    let busy: Vec<&Value> = workers(&v)
        .iter()
        .filter(|w| w["status"] == "busy")
        .collect();
    assert_eq!(busy.len(), 1, "one busy worker: {v:#}");
    let cores: Vec<&Value> = workers(&v)
        .iter()
        .flat_map(|w| w["cores"].as_array().unwrap())
        .collect();
    let in_request: Vec<&&Value> = cores.iter().filter(|c| c["in_request"] == 1).collect();
    assert_eq!(in_request.len(), 1, "one core in a request: {v:#}");
    let core = in_request[0];
    assert!(
        busy[0]["cores"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == *core),
        "the busy core belongs to the busy worker"
    );
    let vars: Vec<&str> = core["vars"]
        .as_array()
        .expect("vars")
        .iter()
        .map(|s| s.as_str().expect("var string"))
        .collect();
    for want in ["REQUEST_METHOD=GET", "PATH_INFO=/slow", "QUERY_STRING=q=1"] {
        assert!(vars.contains(&want), "{want} missing from {vars:?}");
    }
    // The cookie's key is shown, its value redacted (`--stats-vars` defaults to redacted).
    assert!(
        vars.contains(&"HTTP_COOKIE=[redacted]"),
        "no redacted cookie line in {vars:?}"
    );
    assert_eq!(vars.last(), Some(&""), "vars end with \"\": {vars:?}");
    let start = core["req_info"]["request_start"]
        .as_i64()
        .unwrap_or_else(|| panic!("req_info.request_start: {core}"));
    assert!(
        (start - unix_now()).abs() < 300,
        "request_start {start} is not near now ({})",
        unix_now()
    );
    // Every other core is idle with empty vars and req_info.
    for c in cores.iter().filter(|c| c["in_request"] != 1) {
        assert_eq!(c["in_request"], 0, "{c}");
        assert_eq!(c["vars"].as_array().map(Vec::len), Some(0), "{c}");
        assert_eq!(c["req_info"].as_object().map(|o| o.len()), Some(0), "{c}");
    }
    v
}

#[test]
fn slow_request_shows_busy_worker_core_vars_and_request_start() {
    let f = Fixture::start(&[]);
    let (handle, release) = f.start_slow();
    let v = check_busy(&f);
    check_reference(&v, false);
    drop(release);
    let r = handle.join().expect("slow request thread");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World"));
    let v = wait_stats(
        &f.server,
        f.stats,
        Duration::from_secs(30),
        "all workers idle, vars empty",
        all_idle,
    );
    check_reference(&v, false);
}

#[test]
fn minified_stats_have_no_whitespace_and_the_same_keys() {
    let f = Fixture::start(&["--stats-minified"]);
    let (handle, release) = f.start_slow();
    // While busy (vars filled) and after (idle).
    let _ = check_busy(&f);
    check_minified(&f, "busy");
    drop(release);
    let r = handle.join().expect("slow request thread");
    assert_eq!(r.status, 200);
    wait_stats(
        &f.server,
        f.stats,
        Duration::from_secs(30),
        "all idle",
        all_idle,
    );
    check_minified(&f, "idle");
}

fn check_minified(f: &Fixture, phase: &str) {
    let raw = stats_exchange(&StatsAddr::Tcp(f.stats), b"").expect("stats");
    assert!(
        !raw.contains(&b'\n') && !raw.contains(&b'\t'),
        "{phase}: minified output has whitespace:\n{}",
        String::from_utf8_lossy(&raw)
    );
    let v: Value = serde_json::from_slice(&raw).expect("minified JSON");
    check_reference(&v, false);
}

#[test]
fn no_cores_drops_the_cores_key_of_every_worker() {
    let f = Fixture::start(&["--stats-no-cores"]);
    assert_eq!(get(f.http, "/").status, 200);
    let v = stats(f.stats);
    for w in workers(&v) {
        assert!(w.get("cores").is_none(), "cores present: {w}");
    }
    check_reference(&v, true);
    // Without cores, the request counters are still there.
    let v = wait_stats(
        &f.server,
        f.stats,
        Duration::from_secs(30),
        "2 requests",
        |v| sum_workers(v, "requests") == 2 && sum_nested(v, "apps", "requests") == 2,
    );
    check_reference(&v, true);
}
