//! The cheaper subsystem: for each algorithm, only `cheaper` workers run at rest and the other
//! slots read `cheap` in the stats; a bounded load of slow requests makes the active workers
//! rise step by step up to `processes`; after the load they fall back to `cheaper`; no request
//! fails at any point. Also `cheaper-initial`, `--idle` (cheap mode, woken by a connection),
//! `--die-on-idle` and `--cheap`.
use rwsgi_testkit::prelude::*;
use serde_json::Value;

use std::time::{Duration, Instant};

/// The app's slow route: each request holds a worker for 0.2 s.
const SLOW: &str = "/sleep?0.2";

/// rwsgi with `tests/apps/srv_app.py` on an HTTP and a stats socket, `--master` and `extra`.
fn start(extra: &[&str]) -> Server {
    Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .args(extra)
        .start()
}

/// Workers that run and are not cheap (status other than `cheap`, a pid).
fn active(s: &Value) -> usize {
    s["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter(|w| w["status"] != "cheap" && w["pid"].as_u64().unwrap_or(0) > 0)
                .count()
        })
        .unwrap_or(0)
}

/// Exactly `n` workers active and accepting, every other slot `cheap` with pid 0 and
/// accepting 0 (uWSGI's report of a cheaped worker).
fn at_rest(s: &Value, n: usize) -> bool {
    let Some(ws) = s["workers"].as_array() else {
        return false;
    };
    let cheap = |w: &&Value| w["status"] == "cheap" && w["pid"] == 0 && w["accepting"] == 0;
    let running = |w: &&Value| {
        w["status"] != "cheap" && w["pid"].as_u64().unwrap_or(0) > 0 && w["accepting"] == 1
    };
    ws.iter().filter(running).count() == n && ws.iter().filter(cheap).count() == ws.len() - n
}

fn wait_at_rest(server: &Server, n: usize, timeout: Duration) -> Value {
    wait_stats(
        server,
        server.ports.stats,
        timeout,
        &format!("{n} active, the rest cheap"),
        |s| at_rest(s, n),
    )
}

/// Requests each load client sends at most (see [`Load`]).
const MAX_PER_CLIENT: usize = 400;

/// `clients` threads sending slow requests (see [`Load`]).
fn slow_load(port: u16, clients: usize) -> Load {
    Load::start(port, clients, SLOW, "slept", MAX_PER_CLIENT)
}

/// Polls the stats under load until `processes` workers are active, recording each change of
/// the active count; asserts it only rose, by at most `step` at a time.
fn rises_step_by_step(server: &Server, processes: usize, step: usize) -> Vec<usize> {
    let mut seen = vec![active(&stats(server.ports.stats))];
    eventually(
        Duration::from_secs(40),
        "active workers up to processes",
        || {
            let now = active(&stats(server.ports.stats));
            if Some(&now) != seen.last() {
                seen.push(now);
            }
            if now == processes {
                Ok(())
            } else {
                Err(format!("active counts so far: {seen:?}\n{}", server.log()))
            }
        },
    );
    for pair in seen.windows(2) {
        assert!(
            pair[1] > pair[0] && pair[1] - pair[0] <= step,
            "active workers {seen:?} did not rise by at most {step} at a time\n{}",
            server.log()
        );
    }
    seen
}

/// The whole story for one algorithm: rest, rise under load, fall back, no failure.
fn scales_up_and_back(algo: &str, algo_args: &[&str], clients: usize, step: usize) {
    let processes = 4;
    let mut args = vec!["--processes", "4", "--cheaper", "1", "--cheaper-algo", algo];
    args.extend_from_slice(algo_args);
    let server = start(&args);
    wait_at_rest(&server, 1, Duration::from_secs(20));

    let load = slow_load(server.ports.http, clients);
    let seen = rises_step_by_step(&server, processes, step);
    assert!(seen.len() >= 2, "{seen:?}");
    let served = load.finish(&server);
    assert!(served > 0);

    let s = wait_at_rest(&server, 1, Duration::from_secs(40));
    // a cheaped slot keeps its counters
    let served_by_cheap: u64 = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["status"] == "cheap")
        .map(|w| w["requests"].as_u64().unwrap_or(0))
        .sum();
    assert!(served_by_cheap > 0, "{s}");
    assert_eq!(sum_workers(&s, "requests"), served, "{s}");
    let log = server.log();
    for decision in ["spawning", "cheaping worker"] {
        let line = format!("cheaper mode ({algo}): {decision}");
        assert!(log.contains(&line), "no '{line}' in:\n{log}");
    }
    assert!(log.contains("cheaped."), "{log}");
    // every worker was forked from the master's loaded app: it loaded once
    assert_eq!(log.matches("ready in process").count(), 1, "{log}");
}

#[test]
fn spare_scales_with_busy_workers() {
    scales_up_and_back("spare", &["--cheaper-overload", "1"], 8, 1);
}

#[test]
fn spare2_scales_with_idle_workers() {
    scales_up_and_back(
        "spare2",
        &["--cheaper-idle", "1", "--cheaper-step", "2"],
        8,
        2,
    );
}

#[test]
fn backlog_scales_with_the_listen_queue() {
    scales_up_and_back("backlog", &["--cheaper-overload", "2"], 12, 1);
}

#[test]
fn busyness_scales_with_time_spent_in_requests() {
    scales_up_and_back(
        "busyness",
        &[
            "--cheaper-overload",
            "1",
            "--cheaper-busyness-multiplier",
            "1",
            "--cheaper-busyness-verbose",
        ],
        8,
        1,
    );
}

#[test]
fn manual_keeps_the_worker_count_under_load() {
    let server = start(&[
        "--processes",
        "3",
        "--cheaper",
        "1",
        "--cheaper-algo",
        "manual",
    ]);
    wait_at_rest(&server, 1, Duration::from_secs(20));
    let load = slow_load(server.ports.http, 4);
    // a few overloaded cycles: nothing changes
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(at_rest(&stats(server.ports.stats), 1), "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(load.finish(&server) > 0);
}

#[test]
fn cheaper_initial_starts_that_many_of_many_processes() {
    let server = start(&[
        "--processes",
        "500",
        "--cheaper",
        "2",
        "--cheaper-initial",
        "16",
    ]);
    let s = wait_at_rest(&server, 16, Duration::from_secs(60));
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(500));
    let log = server.log();
    assert!(log.contains("spawning 16 of 500 worker(s)"), "{log}");
}

#[test]
fn idle_cheaps_every_worker_until_a_connection_arrives() {
    let server = start(&["--processes", "2", "--idle", "2"]);
    wait_workers_ready(&server, server.ports.stats, 2);
    let s = wait_at_rest(&server, 0, Duration::from_secs(20));
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2));
    server.wait_log(Duration::from_secs(5), |l| {
        l.contains("cheap mode enabled: waiting for socket connection...")
    });
    // the connection waits in the queue while the master spawns the workers again
    let r = try_http(server.ports.http, "GET", "/", &[], b"")
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "srv ok"),
        "{}",
        server.log()
    );
    wait_at_rest(&server, 2, Duration::from_secs(20));
}

#[test]
fn idle_with_cheaper_wakes_only_cheaper_workers() {
    let server = start(&["--processes", "3", "--cheaper", "1", "--idle", "2"]);
    wait_at_rest(&server, 1, Duration::from_secs(20));
    wait_at_rest(&server, 0, Duration::from_secs(20));
    assert_eq!(get(server.ports.http, "/").status, 200);
    wait_at_rest(&server, 1, Duration::from_secs(20));
}

#[test]
fn die_on_idle_shuts_the_server_down() {
    let mut server = start(&["--processes", "2", "--idle", "2", "--die-on-idle"]);
    assert_eq!(get(server.ports.http, "/").status, 200);
    let code = server.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", server.log());
    assert!(server
        .log()
        .contains("workers have been inactive for more than 2 seconds"));
}

#[test]
fn cheap_starts_no_worker_before_the_first_connection() {
    let server = start(&["--processes", "2", "--cheap"]);
    let s = wait_at_rest(&server, 0, Duration::from_secs(20));
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2));
    let r = try_http(server.ports.http, "GET", "/", &[], b"")
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    wait_at_rest(&server, 2, Duration::from_secs(20));
}

#[test]
fn an_unknown_algorithm_is_refused_naming_it() {
    let (code, out) = run_to_exit(
        &[
            "--http-socket",
            "127.0.0.1:0",
            "--module",
            "m",
            "--processes",
            "2",
            "--cheaper",
            "1",
            "--cheaper-algo",
            "fast",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("invalid value 'fast' for option 'cheaper-algo'"),
        "{out}"
    );
}

#[test]
fn prometheus_reports_the_cheap_workers() {
    let server = start(&["--processes", "3", "--cheaper", "1", "--stats-http"]);
    let port = server.ports.stats;
    let text = eventually(
        Duration::from_secs(20),
        "uwsgi_worker_cheap per worker",
        || {
            let r = try_http(port, "GET", "/metrics", &[], b"").map_err(|e| e.to_string())?;
            let text = r.text();
            let line = |id: &str, v: &str| {
                text.lines().any(|l| {
                    l.starts_with("uwsgi_worker_cheap{")
                        && l.contains(&format!("worker_id=\"{id}\""))
                        && l.ends_with(&format!(" {v}"))
                })
            };
            if line("1", "0") && line("2", "1") && line("3", "1") {
                Ok(text)
            } else {
                Err(format!("{text}\n{}", server.log()))
            }
        },
    );
    assert!(text.contains("uwsgi_worker_idle{"), "{text}");
}

#[test]
fn a_graceful_reload_starts_again_from_cheaper_initial() {
    let server = start(&[
        "--processes",
        "3",
        "--cheaper",
        "1",
        "--cheaper-initial",
        "2",
    ]);
    let before = wait_at_rest(&server, 2, Duration::from_secs(20));
    server.signal(libc::SIGHUP);
    // new pids, the same shape
    let after = wait_stats(
        &server,
        server.ports.stats,
        Duration::from_secs(30),
        "reloaded",
        |s| {
            at_rest(s, 2)
                && s["pid"] == before["pid"]
                && worker_pids(s)[..2] != worker_pids(&before)[..2]
        },
    );
    assert_eq!(worker_pids(&after)[2], 0);
    assert_eq!(get(server.ports.http, "/").status, 200);
}

#[test]
fn with_lazy_apps_a_spawned_worker_loads_the_app_itself() {
    let server = start(&[
        "--processes",
        "3",
        "--cheaper",
        "1",
        "--lazy-apps",
        "--cheaper-algo",
        "spare2",
        "--cheaper-idle",
        "1",
        "--cheaper-step",
        "2",
    ]);
    wait_at_rest(&server, 1, Duration::from_secs(20));
    let load = slow_load(server.ports.http, 6);
    rises_step_by_step(&server, 3, 2);
    let s = stats(server.ports.stats);
    assert!(load.finish(&server) > 0);
    let log = server.log();
    for pid in worker_pids(&s).into_iter().filter(|&p| p > 0) {
        assert!(
            log.contains(&format!("ready in process {pid}\n")),
            "worker {pid}:\n{log}"
        );
    }
    assert!(
        !log.contains(&format!("ready in process {}\n", server.pid())),
        "{log}"
    );
}

/// Per worker: status, whether it has a pid, accepting.
fn shape(s: &Value) -> Vec<(String, bool, u64)> {
    s["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| {
                    let status = w["status"].as_str().unwrap_or_default().to_string();
                    let has_pid = w["pid"].as_u64().unwrap_or(0) > 0;
                    (status, has_pid, w["accepting"].as_u64().unwrap_or(9))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cheap_workers_look_as_real_uwsgi_reports_them() {
    let args = [
        "--processes",
        "3",
        "--cheaper",
        "1",
        "--cheaper-initial",
        "2",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, stats_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("uwsgi.log")).expect("log");
    let child = std::process::Command::new(which("uwsgi"))
        .args(["--http-socket", &format!("127.0.0.1:{http}")])
        .args(["--stats", &format!("127.0.0.1:{stats_port}")])
        .args([
            "--module",
            "srv_app",
            "--chdir",
            &apps_dir().display().to_string(),
        ])
        .arg("--master")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn uwsgi");
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            // uWSGI 2.0 reloads on SIGTERM: SIGINT stops it
            stop_child(&mut self.0, libc::SIGINT);
        }
    }
    let _uwsgi = Stop(child);
    let want = [
        ("idle".to_string(), true, 1),
        ("idle".to_string(), true, 1),
        ("cheap".to_string(), false, 0),
    ];
    let uwsgi = eventually(
        Duration::from_secs(30),
        "uWSGI at rest",
        || match try_stats(stats_port) {
            Ok(s) if shape(&s) == want => Ok(s),
            Ok(s) => Err(s.to_string()),
            Err(e) => Err(e),
        },
    );
    let server = start(&args);
    let rwsgi = wait_stats(
        &server,
        server.ports.stats,
        Duration::from_secs(20),
        "rest",
        |s| shape(s) == want,
    );
    assert_eq!(shape(&rwsgi), shape(&uwsgi));
}
