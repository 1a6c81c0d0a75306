//! Faults that overlap: harakiri during a graceful reload.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `GET path` with `Connection: close` and returns the raw bytes the server sent before
/// closing (an error only for a connect/write failure or when nothing came within `wait`).
fn exchange(port: u16, path: &str, wait: Duration) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(wait))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        // A worker killed with the connection unread resets it: the connection ended.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(raw),
        Err(e) => Err(e),
    }
}

#[test]
fn harakiri_cuts_a_stuck_request_during_a_graceful_reload() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .args(["--processes", "1", "--harakiri", "3"])
        .start();
    let p = server.ports;
    let old = worker_pids(&wait_workers_ready(&server, p.stats, 1))[0];

    // A request that would take 30 s, in the app when the SIGHUP comes. Its read wait is
    // longer than the sleep: if harakiri skipped the stopping worker, it would get "slept".
    let port = p.http;
    let stuck = std::thread::spawn(move || exchange(port, "/sleep?30", Duration::from_secs(60)));
    wait_stats(
        &server,
        p.stats,
        Duration::from_secs(10),
        "the stuck request is in the app",
        |s| cores_sum(s, "in_request") == 1,
    );
    server.signal(libc::SIGHUP);
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("gracefully killing workers")
    });

    // Sent after the SIGHUP: it queues until the new generation accepts, which must come
    // once harakiri (3 s, checked each second) has cut the stuck one, well before the 30 s
    // sleep would have ended: a 20 s wait bounds it.
    let after = exchange(p.http, "/", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("request after the SIGHUP: {e}\n{}", server.log()));
    let after = parse_response(&after);
    assert_eq!(after.status, 200, "{}", server.log());
    assert_eq!(after.text(), "srv ok");

    let cut = stuck
        .join()
        .expect("stuck client thread")
        .unwrap_or_else(|e| panic!("stuck request: {e}\n{}", server.log()));
    assert!(
        !String::from_utf8_lossy(&cut).contains("slept"),
        "the stuck request completed instead of being cut:\n{}",
        server.log()
    );
    server.wait_log(Duration::from_secs(5), |l| {
        l.contains(&format!("HARAKIRI ON WORKER 1 (pid: {old}"))
    });
    let s = wait_stats(
        &server,
        p.stats,
        Duration::from_secs(10),
        "new generation",
        |s| worker_pids(s)[0] != old && worker_field(s, "accepting")[0] == 1,
    );
    assert_eq!(
        s["pid"].as_u64(),
        Some(server.pid() as u64),
        "same master: {s}"
    );
}
