//! The built-in `uwsgi` module and `uwsgidecorators`, driven by a real app over two workers:
//! facts, `opt` from the command line and an ini file, `@postfork` once per worker and never in
//! the master, locks that one worker holds and another waits on, log vars in `--log-format`,
//! `reload()`/`stop()`, and uWSGI's own `uwsgidecorators` from PyPI.
use rwsgi_testkit::prelude::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// rwsgi running `app` (a module in tests/apps) with `--master --processes 2`, marker files in
/// the returned dir's `markers/` (the app's `$UMOD_DIR`), and `extra` options.
fn start(app: &str, extra: &[&str]) -> (Server, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let markers = dir.path().join("markers");
    std::fs::create_dir(&markers).expect("markers dir");
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app(app)
        .master()
        .processes(2)
        .args(["--env", &format!("UMOD_DIR={}", markers.display())])
        .args(extra)
        .dir(dir)
        .start();
    wait_workers_ready(&server, server.ports.stats, 2);
    (server, markers)
}

fn get_json(server: &Server, path: &str) -> Value {
    let r = try_http(server.ports.http, "GET", path, &[], b"")
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "GET {path}\n{}", server.log());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// The marker files named `prefix-<pid>`: pid -> text.
fn markers(dir: &Path, prefix: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read markers") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf8");
        if let Some(pid) = name.strip_prefix(&format!("{prefix}-")) {
            let text = std::fs::read_to_string(dir.join(&name)).expect("marker");
            out.insert(pid.parse().expect("pid"), text);
        }
    }
    out
}

fn worker_pids(server: &Server) -> Vec<u64> {
    stats(server.ports.stats)["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["pid"].as_u64().expect("pid"))
        .collect()
}

#[test]
fn module_facts_opt_and_postfork_over_two_workers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = dir.path().join("umod.ini");
    std::fs::write(
        &ini,
        "[uwsgi]\nlocks = 2\nenv = FIRST=1\nmyplaceholder = hello\nthreads = 1\n",
    )
    .expect("ini");
    let (server, markers_dir) = start(
        "umod_app",
        &["--ini", &ini.display().to_string(), "--env", "SECOND=2"],
    );
    let master = server.pid() as u64;
    let pids = worker_pids(&server);
    assert_eq!(pids.len(), 2);

    // The app was imported once, in the master, before the fork: worker_id 0, not ready.
    let imports = markers(&markers_dir, "import");
    assert_eq!(imports.keys().copied().collect::<Vec<_>>(), [master]);
    let import: Value = serde_json::from_str(&imports[&master]).expect("json");
    assert_eq!(
        import,
        json!({"pid": master, "worker_id": 0, "ready": null})
    );

    // @postfork ran exactly once in each worker, with that worker's id; never in the master.
    let postfork = markers(&markers_dir, "postfork");
    let mut by_pid: Vec<(u64, String)> = postfork.into_iter().collect();
    by_pid.sort();
    let mut want: Vec<(u64, String)> = pids
        .iter()
        .enumerate()
        .map(|(i, &pid)| (pid, format!("{}\n", i + 1)))
        .collect();
    want.sort();
    assert_eq!(by_pid, want, "{}", server.log());
    // @postfork(2): only in worker 2.
    let only_two = markers(&markers_dir, "postfork2");
    assert_eq!(
        only_two.into_iter().collect::<Vec<_>>(),
        [(pids[1], "2\n".to_string())]
    );

    let info = get_json(&server, "/info");
    let wid = info["worker_id"].as_u64().expect("worker_id");
    assert!(wid == 1 || wid == 2, "{info}");
    assert_eq!(info["pid"].as_u64(), Some(pids[wid as usize - 1]));
    assert_eq!(info["numproc"], 2);
    assert_eq!(info["cores"], 1);
    assert_eq!(info["masterpid"].as_u64(), Some(master));
    assert_eq!(info["mule_id"], 0);
    assert_eq!(info["version"], "2.0.31");
    assert_eq!(info["version_type"], "bytes");
    assert_eq!(info["version_info"], json!([2, 0, 31, 0, ""]));
    assert_eq!(info["rwsgi_version"], env!("CARGO_PKG_VERSION"));
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(info["hostname"], hostname.trim());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let started = info["started_on"].as_u64().expect("started_on");
    assert!(started <= now && started + 120 > now, "{started} vs {now}");
    assert_eq!(info["ready"], true);
    assert_eq!(info["postfork_runs"], json!([wid]));
    assert_eq!(info["log"], true);
    assert!(info["fd_is_socket"].as_bool().expect("bool"), "{info}");

    // workers(): the scoreboard's workers; this one is busy serving us.
    let workers = info["workers"].as_array().expect("workers");
    let ids: Vec<u64> = workers.iter().map(|w| w["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2]);
    let wpids: Vec<u64> = workers.iter().map(|w| w["pid"].as_u64().unwrap()).collect();
    assert_eq!(wpids, pids);
    assert_eq!(workers[wid as usize - 1]["status"], "busy");
    let sum: u64 = workers
        .iter()
        .map(|w| w["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(info["total_requests"].as_u64(), Some(sum));
    // Each worker's one app: an app counts a request when it is called, a worker when it
    // ends, so only this worker's app already counts the request in flight.
    for w in workers {
        let apps = w["apps"].as_array().expect("apps");
        assert_eq!(apps.len(), 1, "{w}");
        assert_eq!(apps[0]["id"], 0);
        assert_eq!(apps[0]["mountpoint"], "");
        let in_flight = u64::from(w["id"].as_u64() == Some(wid));
        assert_eq!(
            apps[0]["requests"].as_u64(),
            w["requests"].as_u64().map(|n| n + in_flight),
            "{w}"
        );
    }
    // request_id(): the requests this (only) core finished before this one.
    assert_eq!(info["request_id"], workers[wid as usize - 1]["requests"]);

    // opt: values as bytes, repeated options as lists, a bare flag True, placeholders too.
    let opt = &info["opt"];
    assert_eq!(opt["master"], true, "{opt}");
    assert_eq!(opt["processes"], json!({"bytes": "2"}));
    assert_eq!(opt["locks"], json!({"bytes": "2"}));
    assert_eq!(opt["threads"], json!({"bytes": "1"}));
    assert_eq!(opt["myplaceholder"], json!({"bytes": "hello"}));
    assert_eq!(opt["module"], json!({"bytes": "umod_app"}));
    assert_eq!(
        opt["env"],
        json!([
            format!("UMOD_DIR={}", markers_dir.display()),
            "FIRST=1",
            "SECOND=2"
        ])
    );

    // A second request on the same core counts one more.
    let again = get_json(&server, "/info");
    if again["worker_id"] == info["worker_id"] {
        assert_eq!(
            again["request_id"].as_u64(),
            info["request_id"].as_u64().map(|n| n + 1)
        );
    }
    server.wait_log(WAIT, |l| {
        l.contains(&format!("umod-log-line from {}", pids[wid as usize - 1]))
    });
}

#[test]
fn a_lock_held_by_one_worker_blocks_another() {
    let (server, markers_dir) = start("umod_app", &["--locks", "1"]);
    let port = server.ports.http;
    let hold = std::thread::spawn(move || try_http(port, "GET", "/hold", &[], b""));
    wait_file(&markers_dir.join("held"), WAIT, |_| true);
    // Worker A's only core is in /hold, so /take goes to worker B, which waits on lock 1.
    let take = std::thread::spawn(move || try_http(port, "GET", "/take", &[], b""));
    wait_stats(
        &server,
        server.ports.stats,
        WAIT,
        "both workers busy",
        |s| {
            s["workers"]
                .as_array()
                .is_some_and(|ws| ws.iter().all(|w| w["status"] == "busy"))
        },
    );
    std::fs::write(markers_dir.join("release"), b"").expect("release");
    let hold = hold.join().expect("thread").expect("GET /hold");
    let take = take.join().expect("thread").expect("GET /take");
    let hold: Value = serde_json::from_slice(&hold.body).expect("json");
    let take: Value = serde_json::from_slice(&take.body).expect("json");
    assert_ne!(hold["worker_id"], take["worker_id"]);
    assert_eq!(hold["released"], true);
    assert_eq!(hold["taken_while_held"], false, "{hold}");
    assert_eq!(take["release_seen"], true, "{take}");

    // The stats list the user locks as uWSGI does, before its internal ones.
    let names: Vec<String> = stats(server.ports.stats)["locks"]
        .as_array()
        .expect("locks")
        .iter()
        .flat_map(|l| l.as_object().expect("lock").keys().cloned())
        .collect();
    assert_eq!(names[..3], ["user 0", "user 1", "signal"], "{names:?}");

    // Out of range: lock 0 and --locks 1 exist, 99 does not.
    assert_eq!(
        get_json(&server, "/bad-lock")["error"],
        "Invalid lock number"
    );

    // @lock (lock 0) around a file read-modify-write, from concurrent clients.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let r = try_http(port, "GET", "/bump", &[], b"").expect("GET /bump");
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let counter = std::fs::read_to_string(markers_dir.join("counter")).expect("counter");
    assert_eq!(counter, "100");
}

#[test]
fn logvars_show_in_the_log_format_and_a_dash_where_unset() {
    let (server, _markers) = start(
        "umod_app",
        &[
            "--log-format",
            "LV tenant=%(tenant) none=%(nothing) uri=%(uri)",
        ],
    );
    let r = get_json(&server, "/logvar");
    let wid = r["worker_id"].as_u64().expect("wid");
    assert_eq!(r["get"], format!("acme-{wid}"));
    assert_eq!(r["unset"], Value::Null);
    get_json(&server, "/info");
    server.wait_log(WAIT, |l| l.contains("LV tenant=- none=- uri=/info"));
    let log = server.log();
    assert!(
        log.contains(&format!("LV tenant=acme-{wid} none=- uri=/logvar\n")),
        "{log}"
    );
}

#[test]
fn with_lazy_apps_the_app_loads_in_each_worker_and_postfork_runs_after() {
    let (server, markers_dir) = start("umod_app", &["--lazy-apps"]);
    let pids = worker_pids(&server);
    let imports = markers(&markers_dir, "import");
    assert_eq!(imports.keys().copied().collect::<Vec<_>>(), {
        let mut p = pids.clone();
        p.sort();
        p
    });
    for (i, pid) in pids.iter().enumerate() {
        let import: Value = serde_json::from_str(&imports[pid]).expect("json");
        assert_eq!(import["worker_id"], i as u64 + 1);
        assert_eq!(import["ready"], Value::Null);
    }
    let postfork = markers(&markers_dir, "postfork");
    for (i, pid) in pids.iter().enumerate() {
        assert_eq!(
            postfork.get(pid).map(String::as_str),
            Some(&*format!("{}\n", i + 1))
        );
    }
}

#[test]
fn reload_restarts_the_workers_and_stop_ends_the_server() {
    let (mut server, _markers) = start("umod_app", &[]);
    let before = worker_pids(&server);
    assert_eq!(get_json(&server, "/reload")["reload"], true);
    server.wait_log(WAIT, |l| l.contains("gracefully killing workers"));
    wait_stats(&server, server.ports.stats, WAIT, "new workers", |s| {
        let pids: Vec<u64> = s["workers"]
            .as_array()
            .map(|ws| ws.iter().filter_map(|w| w["pid"].as_u64()).collect())
            .unwrap_or_default();
        pids.len() == 2 && pids.iter().all(|p| *p > 0 && !before.contains(p))
    });
    wait_workers_ready(&server, server.ports.stats, 2);
    assert_eq!(get_json(&server, "/stop")["stop"], true);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
}

#[test]
fn uwsgis_own_uwsgidecorators_from_pypi_runs_postfork_in_every_worker() {
    let (server, markers_dir) = start("umod_pypi_app", &[]);
    let pids = worker_pids(&server);
    let postfork = markers(&markers_dir, "postfork");
    for (i, pid) in pids.iter().enumerate() {
        assert_eq!(
            postfork.get(pid).map(String::as_str),
            Some(&*format!("{}\n", i + 1))
        );
    }
    assert!(!postfork.contains_key(&(server.pid() as u64)));
    let r = get_json(&server, "/");
    assert!(
        r["file"].as_str().expect("file").contains("site-packages"),
        "{r}"
    );
    assert_eq!(r["hook_is_pypi"], true);
    assert_eq!(r["spooler_set"], true);
    assert_eq!(r["locked_inside"], true);
    assert_eq!(r["locked_after"], Value::Null);
}

#[test]
fn opentelemetry_set_up_in_postfork_exports_spans_from_every_worker() {
    let (server, markers_dir) = start("otel_app", &[]);
    let port = server.ports.http;
    // One request parks worker A's only core; the second must go to worker B.
    let first = std::thread::spawn(move || try_http(port, "GET", "/wait", &[], b""));
    wait_for(WAIT, "the first request waiting", || {
        !markers(&markers_dir, "waiting").is_empty()
    });
    let second = std::thread::spawn(move || try_http(port, "GET", "/wait", &[], b""));
    wait_for(WAIT, "both requests waiting", || {
        markers(&markers_dir, "waiting").len() == 2
    });
    std::fs::write(markers_dir.join("go"), b"").expect("go");
    for t in [first, second] {
        let r = t.join().expect("thread").expect("GET /wait");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "traced");
    }
    let pids = worker_pids(&server);
    // Each worker's BatchSpanProcessor thread (started in @postfork) exported its span.
    let spans = eventually(WAIT, "spans from both workers", || {
        let spans = markers(&markers_dir, "spans");
        if spans.len() == 2 {
            Ok(spans)
        } else {
            Err(format!("{spans:?}\n{}", server.log()))
        }
    });
    for (i, pid) in pids.iter().enumerate() {
        let text = spans
            .get(pid)
            .unwrap_or_else(|| panic!("no spans from worker pid {pid}: {spans:?}"));
        let span: Value = serde_json::from_str(text.lines().next().expect("a span")).expect("json");
        assert_eq!(span["name"], "request");
        assert_eq!(span["worker_id"], i as u64 + 1);
        assert_eq!(span["exported_by_pid"].as_u64(), Some(*pid));
        assert_ne!(span["exported_in_thread"], "MainThread", "{span}");
    }
}

#[test]
fn setprocname_titles_the_worker_as_ps_shows_it() {
    let (server, _) = start("umod_app", &[]);
    let r = get_json(&server, "/setprocname");
    let pid = r["pid"].as_u64().expect("pid");
    let want = format!("shop worker {}", r["worker_id"]);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let shown = String::from_utf8_lossy(&cmdline);
    // uWSGI's title: the name, then the rest of the old command line's area blanked.
    assert_eq!(shown.trim_end_matches([' ', '\0']), want, "{shown:?}");
}
