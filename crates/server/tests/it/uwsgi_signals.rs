//! uWSGI's signal framework from a real app over two workers (`tests/apps/signals_app.py`):
//! a timer fires only in the worker it targets, `workers` reaches each worker once, an rb
//! timer stops after its iterations, cron with -1 fires in each worker at the first check
//! of the minute, a file monitor fires on a touch, `uwsgi.signal(n)` from a request runs the
//! handler, `signal_wait` returns what arrived, `@harakiri` kills an overlong call, the
//! stats' `signals` and `signal_queue` are real, refused targets name what is missing, and
//! uWSGI's own `uwsgidecorators` from PyPI drives the same framework.
use rwsgi_testkit::prelude::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// rwsgi running `app` with `--master --processes N --threads 1`, handler files in the
/// returned dir (the app's `$SIG_DIR`).
fn start(app: &str, processes: usize, extra: &[&str]) -> (Server, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let marks = dir.path().join("marks");
    std::fs::create_dir(&marks).expect("marks dir");
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app(app)
        .master()
        .processes(processes)
        .args(["--threads", "1"])
        .args(["--env", &format!("SIG_DIR={}", marks.display())])
        .args(extra)
        .dir(dir)
        .start();
    wait_workers_ready(&server, server.ports.stats, processes);
    (server, marks)
}

/// The lines of handler file `name`, as (worker id, signal number).
fn marks(dir: &Path, name: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    text.lines()
        .map(|l| {
            let (w, n) = l.split_once(' ').expect("two numbers");
            (w.parse().expect("wid"), n.parse().expect("signum"))
        })
        .collect()
}

/// Waits until `name` has at least `n` lines; returns them.
fn wait_marks(server: &Server, dir: &Path, name: &str, n: usize) -> Vec<(u64, u64)> {
    eventually(WAIT, &format!("{n} lines in {name}"), || {
        let m = marks(dir, name);
        if m.len() >= n {
            Ok(m)
        } else {
            Err(format!("{m:?}\n{}", server.log()))
        }
    })
}

fn per_worker(m: &[(u64, u64)]) -> BTreeMap<u64, usize> {
    let mut out = BTreeMap::new();
    for (w, _) in m {
        *out.entry(*w).or_default() += 1;
    }
    out
}

/// Asserts that the `workers` handler (signal 30, marking "workers") ran `times` times in
/// each of the two workers.
fn assert_each_worker_ran(server: &Server, dir: &Path, times: usize) {
    let all = wait_marks(server, dir, "workers", 2 * times);
    assert_eq!(
        per_worker(&all),
        BTreeMap::from([(1, times), (2, times)]),
        "{all:?}"
    );
}

fn get_json(server: &Server, path: &str) -> Value {
    let r = try_http(server.ports.http, "GET", path, &[], b"")
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "GET {path}\n{}", server.log());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

fn worker_signals(s: &Value) -> Vec<u64> {
    s["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["signals"].as_u64().expect("signals"))
        .collect()
}

#[test]
fn timers_targets_cron_and_file_monitors_reach_the_workers_they_name() {
    let (server, dir) = start("signals_app", 2, &[]);

    // @timer(1, target="worker2") got signal 0 (the first free one): only worker 2 runs it.
    let ticks = wait_marks(&server, &dir, "timer", 3);
    assert!(ticks.iter().all(|&m| m == (2, 0)), "{ticks:?}");
    // @mstimer(200, signum=41, target="worker1"): five times a second, in worker 1.
    let fast = wait_marks(&server, &dir, "ms", 10);
    assert!(fast.iter().all(|&m| m == (1, 41)), "{fast:?}");
    assert!(fast.len() >= 2 * ticks.len(), "{fast:?} vs {ticks:?}");

    // Cron -1 -1 -1 -1 -1 to `workers`: the first check of the minute, once in each worker.
    let crons = wait_marks(&server, &dir, "cron", 2);
    assert_eq!(
        per_worker(&crons).keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "{crons:?}"
    );
    assert!(crons.iter().all(|&(_, n)| n == 2), "{crons:?}");

    // The rb timer (signal 20, 3 iterations, the first free worker) stops after 3.
    let rb = wait_marks(&server, &dir, "rb", 3);
    assert!(rb.iter().all(|&(_, n)| n == 20), "{rb:?}");
    // Three more seconds by the 1 s timer's clock: no fourth.
    let seen = marks(&dir, "timer").len();
    wait_marks(&server, &dir, "timer", seen + 3);
    assert_eq!(marks(&dir, "rb").len(), 3, "{}", server.log());

    // uwsgi.signal(30) from a request: `workers` runs it once in each worker.
    get_json(&server, "/raise/30");
    assert_each_worker_ran(&server, &dir, 1);
    // uwsgi.signal(31) (default target): one worker, once.
    get_json(&server, "/raise/31");
    let one = wait_marks(&server, &dir, "anyone", 1);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].1, 31);

    // The file monitor (signal 1, worker1) fires when the file is touched.
    assert!(marks(&dir, "filemon").is_empty());
    std::fs::write(dir.join("watched"), "1").expect("touch");
    let fm = wait_marks(&server, &dir, "filemon", 1);
    assert!(fm.iter().all(|&m| m == (1, 1)), "{fm:?}");

    // Every handler the master registered is known in each worker; refused targets say why.
    let info = get_json(&server, "/info");
    let registered: Vec<u64> = info["registered"]
        .as_array()
        .expect("registered")
        .iter()
        .map(|n| n.as_u64().expect("n"))
        .collect();
    assert_eq!(registered, [0, 1, 2, 20, 30, 31, 40, 41, 42], "{info}");
    let refusals = &info["refusals"];
    assert!(
        refusals["spooler"]
            .as_str()
            .expect("spooler")
            .contains("spooler"),
        "{info}"
    );
    assert!(
        refusals["mule1"].as_str().expect("mule1").contains("mules"),
        "{info}"
    );
    assert!(
        refusals["worker9"]
            .as_str()
            .expect("worker9")
            .contains("2 workers"),
        "{info}"
    );
    assert!(
        refusals["nonsense"]
            .as_str()
            .expect("nonsense")
            .contains("unsupported"),
        "{info}"
    );

    // The stats: each worker's `signals` is what its handlers ran (worker 2: every tick).
    wait_stats(&server, server.ports.stats, WAIT, "signals counted", |s| {
        let handled = worker_signals(s);
        handled.len() == 2 && handled[1] as usize >= marks(&dir, "timer").len()
    });
    // Worker 1 ran exactly what its lines show (read together: a cron minute may pass).
    let worker1_lines = || {
        [
            "timer", "ms", "rb", "workers", "anyone", "filemon", "cron", "slow",
        ]
        .iter()
        .flat_map(|f| marks(&dir, f))
        .filter(|&(w, _)| w == 1)
        .count() as u64
    };
    let s = eventually(WAIT, "worker 1's signals = its handlers' lines", || {
        let s = stats(server.ports.stats);
        let (handled, lines) = (worker_signals(&s)[0], worker1_lines());
        if handled == lines {
            Ok(s)
        } else {
            Err(format!("{handled} handled, {lines} lines"))
        }
    });
    let handled = worker_signals(&s);
    assert_eq!(s["signal_queue"], 0, "{s}");
    // uWSGI's routed-signal metric counts every delivery.
    let routed = s["metrics"]["core.routed_signals"]["value"].as_u64();
    if let Some(routed) = routed {
        assert!(routed >= handled.iter().sum::<u64>(), "{s}");
    }
}

#[test]
fn a_busy_worker_queues_its_signals_and_signal_wait_returns_what_arrived() {
    let (server, dir) = start("signals_app", 2, &[]);
    let port = server.ports.http;
    // Worker 2's 1 s timer queues while worker 2 sleeps in a request (one core: nothing else
    // reads its channel). Occupy both workers so worker 2 is surely one of them.
    let sleepers: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || try_http(port, "GET", "/sleep?4", &[], b"")))
        .collect();
    let s = wait_stats(&server, server.ports.stats, WAIT, "worker 2's queue", |s| {
        s["workers"][1]["signal_queue"].as_u64().unwrap_or(0) >= 2
    });
    assert_eq!(s["workers"][1]["status"], "busy", "{s}");
    for t in sleepers {
        let r = t.join().expect("thread").expect("sleep request");
        assert_eq!(r.status, 200);
    }
    // Served once the worker is back in its loop: the queue drains, every tick handled.
    wait_stats(&server, server.ports.stats, WAIT, "queue drained", |s| {
        s["workers"][1]["signal_queue"] == 0
    });

    // signal_wait(40): a request waits in one worker (its only core inside the request: the
    // wait is the only reader of its channel; the timers' signals arriving meanwhile run their
    // handlers); signal 40 to `workers` from a request on the other worker ends it.
    let waiter = std::thread::spawn(move || try_http(port, "GET", "/wait", &[], b""));
    wait_stats(&server, server.ports.stats, WAIT, "a worker waiting", |s| {
        s["workers"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["status"] == "busy"))
    });
    let raiser = get_json(&server, "/raise/40");
    let r = waiter.join().expect("thread").expect("wait request");
    let waited: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(waited["received"], 40, "{waited}");
    assert_ne!(waited["worker_id"], raiser["worker_id"], "{waited}");
    let ran = wait_marks(&server, &dir, "waited", 2);
    assert_eq!(
        per_worker(&ran),
        BTreeMap::from([(1, 1), (2, 1)]),
        "{ran:?}"
    );
}

#[test]
fn with_lazy_apps_each_worker_registers_its_own_handlers() {
    let (server, dir) = start("signals_app", 2, &["--lazy-apps"]);
    // Each worker added its own 1 s timer to worker 2: two ticks a second there, none in 1.
    let ticks = wait_marks(&server, &dir, "timer", 6);
    assert!(ticks.iter().all(|&m| m == (2, 0)), "{ticks:?}");
    // Each worker's own handler of signal 30 runs once.
    get_json(&server, "/raise/30");
    assert_each_worker_ran(&server, &dir, 1);
    // The app was never imported in the master: the log shows registrations by wid 1 and 2
    // (the master logs each when its message arrives, maybe after the handler already ran).
    for wid in [1, 2] {
        let line = format!("signum 30 registered (wid: {wid}");
        server.wait_log(WAIT, |l| l.contains(&line));
    }
    let log = server.log();
    assert!(!log.contains("signum 30 registered (wid: 0"), "{log}");
}

#[test]
fn with_two_cores_per_worker_one_core_takes_each_signal() {
    let (server, dir) = start("signals_app", 2, &["--threads", "2"]);
    assert_eq!(
        stats(server.ports.stats)["workers"][0]["cores"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    for _ in 0..5 {
        get_json(&server, "/raise/30");
    }
    assert_each_worker_ran(&server, &dir, 5);
    // Worker 2's handled count matches its lines: no signal ran twice, none was lost.
    let ticks = wait_marks(&server, &dir, "timer", 3);
    assert!(ticks.iter().all(|&m| m == (2, 0)), "{ticks:?}");
    eventually(WAIT, "worker 2's signals = its handlers' lines", || {
        let s = stats(server.ports.stats);
        let lines = ["timer", "workers", "rb", "anyone", "cron"]
            .iter()
            .flat_map(|f| marks(&dir, f))
            .filter(|&(w, _)| w == 2)
            .count() as u64;
        let handled = worker_signals(&s)[1];
        if handled == lines {
            Ok(())
        } else {
            Err(format!("{handled} handled, {lines} lines"))
        }
    });
}

#[test]
fn a_held_lock_shows_its_holder_in_the_stats() {
    let (server, _dir) = start("signals_app", 2, &["--locks", "2"]);
    let port = server.ports.http;
    let hold = std::thread::spawn(move || try_http(port, "GET", "/hold?3", &[], b""));
    let s = wait_stats(&server, server.ports.stats, WAIT, "user 1 held", |s| {
        s["locks"][1]["user 1"].as_u64().unwrap_or(0) != 0
    });
    let holder = s["locks"][1]["user 1"].as_u64();
    assert_eq!(s["locks"][0]["user 0"], 0, "{s}");
    let pids: Vec<Option<u64>> = (0..2).map(|i| s["workers"][i]["pid"].as_u64()).collect();
    assert!(pids.contains(&holder), "{s}");
    let r = hold.join().expect("thread").expect("hold request");
    let body: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["pid"].as_u64(), holder);
    wait_stats(&server, server.ports.stats, WAIT, "user 1 released", |s| {
        s["locks"][1]["user 1"] == 0
    });
}

#[test]
fn user_harakiri_kills_an_overlong_call() {
    let (server, _dir) = start("signals_app", 2, &[]);
    let port = server.ports.http;
    let pids = |s: &Value| -> Vec<Option<u64>> {
        (0..2).map(|i| s["workers"][i]["pid"].as_u64()).collect()
    };
    let before = pids(&stats(server.ports.stats));
    // @harakiri(1) around a 30 s sleep: the master kills that worker (no --harakiri given).
    let call = std::thread::spawn(move || try_http(port, "GET", "/harakiri", &[], b""));
    let s = wait_stats(&server, server.ports.stats, WAIT, "a user harakiri", |s| {
        (0..2)
            .map(|i| s["workers"][i]["harakiri_count"].as_u64().unwrap_or(0))
            .sum::<u64>()
            == 1
    });
    let victim = (0..2)
        .find(|&i| s["workers"][i]["harakiri_count"] == 1)
        .expect("the killed worker");
    server.wait_log(WAIT, |l| {
        l.contains(&format!(
            "HARAKIRI (user) triggered by worker {} core 0",
            victim + 1
        ))
    });
    let r = call.join().expect("thread");
    assert!(
        r.map_or(true, |r| r.status != 200),
        "the call was cut short"
    );
    // Respawned; the other worker untouched.
    let after = wait_stats(&server, server.ports.stats, WAIT, "a new worker", |s| {
        let p = pids(s);
        p[victim] != before[victim] && s["workers"][victim]["accepting"] == 1
    });
    assert_eq!(pids(&after)[1 - victim], before[1 - victim]);
}

#[test]
fn uwsgis_own_decorators_from_pypi_drive_the_same_framework() {
    let (server, dir) = start("signals_pypi_app", 2, &[]);
    let ticks = wait_marks(&server, &dir, "pypi-timer", 4);
    assert_eq!(
        per_worker(&ticks).keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "{ticks:?}"
    );
    get_json(&server, "/raise");
    let raised = wait_marks(&server, &dir, "pypi-signal", 1);
    assert_eq!(raised.len(), 1);
    std::fs::write(dir.join("watched"), "1").expect("touch");
    wait_marks(&server, &dir, "pypi-filemon", 1);
    // spool and mulefunc name what rwsgi lacks.
    let info = get_json(&server, "/info");
    assert!(
        info["spool"].as_str().expect("spool").contains("spool"),
        "{info}"
    );
}
