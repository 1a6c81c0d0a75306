//! `--master-fifo`: uWSGI's one-letter commands written to a FIFO (graceful reload, chain
//! reload under load with every response counted, workers-only reload, graceful and brutal
//! shutdown, stats, FIFO switching, unknown letters), `--touch-chain-reload` and
//! `--max-worker-lifetime`.
use rwsgi_testkit::prelude::*;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// rwsgi with `srv_app` on HTTP and stats, `--master`, `processes` workers, files in a temp
/// dir whose `fifo` (and `fifo2`) are given as `--master-fifo`, and `extra`.
fn start(processes: usize, fifos: usize, extra: &[&str]) -> (Server, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<PathBuf> = (0..fifos)
        .map(|i| dir.path().join(format!("fifo{i}")))
        .collect();
    let mut r = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(processes)
        .dir(dir);
    for p in &paths {
        r = r.args(["--master-fifo", &p.display().to_string()]);
    }
    let server = r.args(extra).start();
    wait_workers_ready(&server, server.ports.stats, processes);
    (server, paths)
}

/// Writes `bytes` to the FIFO at `path` once the master reads it (a non-blocking open fails
/// with ENXIO while no reader has it open, e.g. while the master re-creates it).
fn send(path: &Path, bytes: &[u8]) {
    let mut f = eventually(WAIT, "the master reading its fifo", || {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
    });
    f.write_all(bytes).expect("write to the fifo");
}

fn pids(server: &Server) -> Vec<u64> {
    worker_pids(&stats(server.ports.stats))
}

/// Waits until every worker slot has a pid, none of them in `old`, and all accepting.
fn wait_all_replaced(server: &Server, old: &[u64]) -> Vec<u64> {
    eventually(WAIT, "every worker replaced", || {
        let s = stats(server.ports.stats);
        let now = worker_pids(&s);
        let accepting = worker_field(&s, "accepting");
        if now.iter().all(|p| *p > 0 && !old.contains(p)) && accepting.iter().all(|&a| a == 1) {
            Ok(now)
        } else {
            Err(format!("{now:?} (was {old:?})\n{}", server.log()))
        }
    })
}

#[test]
fn r_reloads_gracefully_and_the_new_master_reads_the_fifo_again() {
    let (server, fifo) = start(2, 1, &[]);
    let before = pids(&server);
    send(&fifo[0], b"r\n");
    server.wait_log(WAIT, |l| l.contains("binary reloading rwsgi"));
    wait_all_replaced(&server, &before);
    assert_eq!(get(server.ports.http, "/").text(), "srv ok");
    // The re-executed master made the FIFO again: a second command reaches it.
    send(&fifo[0], b"s");
    server.wait_log(WAIT, |l| l.contains("\"workers\""));
}

#[test]
fn w_reloads_the_workers_only() {
    let (server, fifo) = start(2, 1, &[]);
    let before = pids(&server);
    send(&fifo[0], b"w");
    wait_all_replaced(&server, &before);
    let log = server.log();
    assert!(log.contains("reloading the workers"), "{log}");
    assert!(!log.contains("binary reloading"), "the master stays: {log}");
}

#[test]
fn q_shuts_down_gracefully_waiting_for_the_request_in_flight() {
    let (mut server, fifo) = start(1, 1, &[]);
    let port = server.ports.http;
    let slow = std::thread::spawn(move || try_http(port, "GET", "/sleep?1", &[], b""));
    wait_for(WAIT, "the request in flight", || {
        cores_sum(&stats(server.ports.stats), "in_request") == 1
    });
    send(&fifo[0], b"q");
    let response = slow.join().expect("client").expect("response");
    assert_eq!(
        (response.status, response.text()),
        (200, "slept".to_string())
    );
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
}

#[test]
fn brutal_shutdown_does_not_wait_for_requests() {
    let (mut server, fifo) = start(1, 1, &["--reload-mercy", "30"]);
    let port = server.ports.http;
    let slow = std::thread::spawn(move || try_http(port, "GET", "/sleep?20", &[], b""));
    wait_for(WAIT, "the request in flight", || {
        cores_sum(&stats(server.ports.stats), "in_request") == 1
    });
    send(&fifo[0], b"Q");
    // Well before the 20 s request or the 30 s mercy could end it.
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        server.log()
    );
    assert!(
        !matches!(slow.join().expect("client"), Ok(r) if r.status == 200),
        "the request was cut"
    );
}

#[test]
fn a_digit_switches_to_the_next_fifo_once_the_writer_closes() {
    let (mut server, fifo) = start(1, 2, &[]);
    send(&fifo[0], b"1");
    server.wait_log(WAIT, |l| {
        l.contains(&format!("active master fifo is now {}", fifo[1].display()))
    });
    send(&fifo[1], b"q");
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
}

#[test]
fn unknown_and_unsupported_letters_are_logged_and_ignored() {
    let (server, fifo) = start(1, 1, &[]);
    let before = pids(&server);
    send(&fifo[0], b"xE\n");
    server.wait_log(WAIT, |l| {
        l.contains("unknown command 'x'") && l.contains("command 'E' is not supported")
    });
    assert_eq!(get(server.ports.http, "/").text(), "srv ok");
    assert_eq!(pids(&server), before, "nothing was reloaded");
}

/// The log from the chain's start: each victim is named only after the previous worker's
/// replacement was spawned, in worker order, and the chain completes.
fn assert_one_at_a_time(log: &str, processes: usize) {
    let chain = &log[log.find("chain reload starting").expect("chain started")..];
    let mut at = 0;
    for wid in 1..=processes {
        let victim = format!("chain next victim is worker {wid}\n");
        let respawn = format!("spawned rwsgi worker {wid} ");
        let v = at
            + chain[at..]
                .find(&victim)
                .unwrap_or_else(|| panic!("{victim}\n{chain}"));
        let r = v + chain[v..]
            .find(&respawn)
            .unwrap_or_else(|| panic!("{respawn}\n{chain}"));
        if let Some(next) = chain[at..v].find("chain next victim") {
            panic!("a victim before worker {wid}'s turn at {next}:\n{chain}");
        }
        at = r;
    }
    assert!(chain[at..].contains("chain reloading complete"), "{chain}");
}

#[test]
fn c_chain_reloads_one_worker_at_a_time_without_a_failed_request() {
    let (server, fifo) = start(3, 1, &["--lazy-apps"]);
    let before = pids(&server);
    let load = Load::start(server.ports.http, 4, "/sleep?0.02", "slept", 5000);
    wait_for(WAIT, "the load running", || load.ok() > 20);
    send(&fifo[0], b"c");
    server.wait_log(WAIT, |l| l.contains("chain reloading complete"));
    let after = wait_all_replaced(&server, &before);
    let ok_at_end = load.ok();
    wait_for(WAIT, "requests after the chain", || {
        load.ok() > ok_at_end + 20
    });
    let served = load.finish(&server);
    assert!(served > 40, "{served} responses");
    assert_eq!(after.len(), 3);
    assert_one_at_a_time(&server.log(), 3);
    assert!(
        !server.log().contains("binary reloading"),
        "the master stays"
    );
}

#[test]
fn touch_chain_reload_replaces_every_worker_in_a_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let touched = dir.path().join("touch-me");
    std::fs::write(&touched, "").expect("touch file");
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(2)
        .args(["--touch-chain-reload", &touched.display().to_string()])
        .start();
    let before = wait_workers_ready(&server, server.ports.stats, 2);
    let before = worker_pids(&before);
    // A new modification time, a second ahead (filesystems keep coarse times).
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&touched)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    server.wait_log(WAIT, |l| l.contains("chain reloading complete"));
    wait_all_replaced(&server, &before);
    assert_one_at_a_time(&server.log(), 2);
}

#[test]
fn max_worker_lifetime_recycles_a_worker_gracefully() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--max-worker-lifetime", "1"])
        .start();
    let first = worker_pids(&wait_workers_ready(&server, server.ports.stats, 1));
    server.wait_log(WAIT, |l| {
        l.contains("worker 1 lifetime reached, it was running for ")
    });
    wait_all_replaced(&server, &first);
    assert_eq!(get(server.ports.http, "/").text(), "srv ok");
}

/// The worker pid that answered `/pid`.
fn answering_pid(server: &Server) -> u64 {
    let body: serde_json::Value =
        serde_json::from_str(&get(server.ports.http, "/pid").text()).expect("json");
    body["pid"].as_u64().expect("pid")
}

#[test]
fn reload_on_as_recycles_a_worker_past_its_address_space_limit() {
    // Every Python worker maps more than 1 MB: each request is its process's last.
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--reload-on-as", "1"])
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    let first = answering_pid(&server);
    server.wait_log(WAIT, |l| {
        l.contains("(reload-on-as: vsz ") && l.contains(" MB >= 1 MB)")
    });
    wait_all_replaced(&server, &[first]);
    assert_ne!(answering_pid(&server), first);
    drop(server);

    // Far below the limit: the worker stays.
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--reload-on-as", "10000000"])
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    let pids: Vec<u64> = (0..3).map(|_| answering_pid(&server)).collect();
    assert!(pids.iter().all(|&p| p == pids[0]), "{pids:?}");
}
