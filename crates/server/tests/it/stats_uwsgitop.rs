//! The real `uwsgitop` (pip, pinned in scripts/test-requirements.txt) runs against rwsgi's
//! stats socket in a tmux terminal and shows every worker with its request counter.
use rwsgi_testkit::prelude::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pane shows, for every worker, a line `WID % PID REQ ...` with its id, pid and request
/// count.
fn pane_shows_workers(pane: &str, workers: &[(u64, u64, u64)]) -> bool {
    workers.iter().all(|&(id, pid, req)| {
        pane.lines().any(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            t.len() >= 4
                && t[0] == id.to_string()
                && t[2] == pid.to_string()
                && t[3] == req.to_string()
        })
    })
}

/// Starts a 2-worker server with stats at `stats_arg` (`None`: a pre-bound loopback port),
/// sends known traffic, runs uwsgitop on the same address and checks its screen.
fn check_uwsgitop(stats_arg: Option<&str>, stats_dir: tempfile::TempDir) {
    let rwsgi = Rwsgi::new().http();
    let (rwsgi, uwsgitop_addr) = match stats_arg {
        Some(arg) => (rwsgi.args(["--stats", arg]), arg.to_string()),
        None => {
            let rwsgi = rwsgi.stats();
            let addr = format!("127.0.0.1:{}", rwsgi.ports().stats);
            (rwsgi, addr)
        }
    };
    let uwsgitop_addr = uwsgitop_addr.as_str();
    let server = rwsgi
        .args([
            "--pythonpath",
            &apps_dir().display().to_string(),
            "--module",
            "stats_app",
            "--master",
            "--processes",
            "2",
        ])
        .dir(stats_dir)
        .start();
    let http = server.ports.http;
    server.wait_http_ready(http, 2);
    let traffic = 9;
    for _ in 0..traffic {
        assert_eq!(get(http, "/").status, 200);
    }
    assert_eq!(get(http, "/boom").status, 500);
    // The counters settle (the readiness probe made one request too).
    let addr = if let Some(name) = uwsgitop_addr.strip_prefix('@') {
        StatsAddr::Abstract(name.as_bytes().to_vec())
    } else if uwsgitop_addr.contains(':') {
        StatsAddr::Tcp(uwsgitop_addr.rsplit(':').next().unwrap().parse().unwrap())
    } else {
        StatsAddr::Unix(PathBuf::from(uwsgitop_addr))
    };
    let total = 1 + traffic + 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    let v = loop {
        let v = stats_at(&addr);
        if sum_workers(&v, "requests") == total {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "stats never showed {total} requests: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let workers: Vec<(u64, u64, u64)> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["id"].as_u64().unwrap(),
                w["pid"].as_u64().unwrap(),
                w["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(workers.len(), 2);

    let uwsgitop = which("uwsgitop");
    let session = format!("rwsgi-uwsgitop-{}-{http}", std::process::id());
    // If uwsgitop dies, its traceback stays on the screen (the shell then sleeps).
    let tmux = Tmux::start(
        session,
        &format!(
            "'{}' '{uwsgitop_addr}'; echo uwsgitop exited with $?; sleep 300",
            uwsgitop.display()
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let pane = loop {
        let pane = tmux.capture();
        assert!(
            !pane.contains("Traceback") && !pane.contains("uwsgitop exited"),
            "uwsgitop failed:\n{pane}"
        );
        if pane_shows_workers(&pane, &workers) {
            break pane;
        }
        assert!(
            Instant::now() < deadline,
            "uwsgitop never showed workers {workers:?}:\n{pane}\nserver log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(pane.contains(&format!("req: {total}")), "{pane}");
    assert!(
        pane.contains(&format!("masterpid: {}", server.pid())),
        "{pane}"
    );
    // One more refresh (uwsgitop polls every second) must not crash it either.
    std::thread::sleep(Duration::from_millis(1500));
    let pane = tmux.capture();
    assert!(!pane.contains("Traceback"), "{pane}");
    assert!(pane_shows_workers(&pane, &workers), "{pane}");
}

#[test]
fn uwsgitop_shows_every_worker_over_tcp() {
    let dir = tempfile::tempdir().expect("tempdir");
    check_uwsgitop(None, dir);
}

#[test]
fn uwsgitop_shows_every_worker_over_a_unix_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: &Path = dir.path();
    let sock = path.join("stats.sock").display().to_string();
    check_uwsgitop(Some(&sock), dir);
}

#[test]
fn uwsgitop_shows_every_worker_over_an_abstract_socket() {
    // uwsgitop connects to the plain name `\0name` (not uWSGI's `\0name\0`).
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("@{}", unique_name("rwsgi-uwsgitop"));
    check_uwsgitop(Some(&name), dir);
}
