//! The core server: respawn, graceful reload and shutdown, bad input on both protocols, HTTP
//! keep-alive / pipelining / chunked bodies / 100-continue, start-up errors, threads,
//! lazy-apps, max-requests and request logging. Everything runs the real binary on loopback.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// rwsgi running `tests/apps/srv_app.py` on an HTTP socket, a uwsgi socket and a stats socket,
/// with `--master` and `extra` options, in a fresh temp dir. Waits for `workers` workers.
/// (The sockets are bound before the workers start, so early connections just queue.)
fn start_app(extra: &[&str], workers: usize) -> (Server, Ports) {
    let dir = tempfile::tempdir().expect("tempdir");
    start_app_in(dir, extra, workers)
}

fn start_app_in(dir: tempfile::TempDir, extra: &[&str], workers: usize) -> (Server, Ports) {
    let (server, p) = launch_app_in(dir, extra);
    // Ready when every worker says it accepts (no probe request: some tests count requests).
    wait_workers_ready(&server, p.stats, workers);
    (server, p)
}

/// Starts rwsgi as [`start_app_in`] does, without waiting for anything.
fn launch_app_in(dir: tempfile::TempDir, extra: &[&str]) -> (Server, Ports) {
    let server = Rwsgi::new()
        .http()
        .uwsgi()
        .stats()
        .test_app("srv_app")
        .master()
        .args(extra)
        .dir(dir)
        .start();
    let ports = server.ports;
    (server, ports)
}

/// Signals a worker of the server this test started, by its pid.
fn kill(pid: u64, sig: i32) {
    rwsgi_testkit::process::kill(pid as i32, sig);
}

/// Asserts a plain `GET /` answers 200 "srv ok".
fn assert_serves(server: &Server, port: u16) {
    let r = try_http(port, "GET", "/", &[], b"")
        .unwrap_or_else(|e| panic!("GET /: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.text(), "srv ok");
}

// ---------------------------------------------------------------------------------------------
// Respawn

#[test]
fn killed_worker_is_respawned_and_server_keeps_answering() {
    let (server, p) = start_app(&["--processes", "2"], 2);
    let before = stats(p.stats);
    let pids = worker_pids(&before);
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&pid| pid > 0), "{before}");
    assert_eq!(worker_field(&before, "respawn_count"), vec![1, 1]);
    let old_spawn = worker_field(&before, "last_spawn")[0];
    let victim = pids[0];

    kill(victim, libc::SIGKILL);

    // Keep asking while the master notices and respawns (bounded in count and time).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut served = 0;
    let after = loop {
        let r = try_http(p.http, "GET", "/", &[], b"")
            .unwrap_or_else(|e| panic!("request {served} failed: {e}\n{}", server.log()));
        assert_eq!(r.status, 200, "request {served}:\n{}", server.log());
        served += 1;
        let s = stats(p.stats);
        let w1 = &s["workers"][0];
        if w1["pid"].as_u64() != Some(victim)
            && w1["pid"].as_u64() > Some(0)
            && w1["accepting"] == 1
        {
            break s;
        }
        assert!(
            Instant::now() < deadline && served < 2000,
            "worker 1 not respawned after {served} requests: {s}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let new_pids = worker_pids(&after);
    assert_ne!(new_pids[0], victim, "worker 1 has a new pid");
    assert_eq!(new_pids[1], pids[1], "worker 2 untouched");
    assert_eq!(worker_field(&after, "respawn_count"), vec![2, 1], "{after}");
    assert!(
        worker_field(&after, "last_spawn")[0] >= old_spawn,
        "last_spawn went back: {after}"
    );
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains(&format!("(pid: {victim}) died, killed by signal 9"))
    });
    // The dead worker was reaped, and the new one serves.
    assert!(!pid_alive(victim as i32), "old worker {victim} still there");
    for _ in 0..10 {
        assert_serves(&server, p.http);
    }
}

// ---------------------------------------------------------------------------------------------
// SIGHUP: graceful reload under load

#[test]
fn sighup_reloads_workers_without_failing_requests() {
    sighup_under_load(&["--processes", "2"]);
}

#[test]
fn sighup_reloads_threaded_workers_without_failing_requests() {
    sighup_under_load(&["--processes", "2", "--threads", "2"]);
}

/// A client loops requests (a new connection each, at most 2000 or 15 s) while the master
/// gets SIGHUP twice; every request must succeed and each SIGHUP must replace every worker.
fn sighup_under_load(args: &[&str]) {
    let (server, p) = start_app(args, 2);
    let first = worker_pids(&stats(p.stats));

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let client = {
        let (stop, done, failures) = (stop.clone(), done.clone(), failures.clone());
        let port = p.http;
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut n = 0;
            while n < 2000 && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                match try_http(port, "GET", &format!("/load/{n}"), &[], b"") {
                    Ok(r) if r.status == 200 && r.text() == "srv ok" => {}
                    Ok(r) => failures.lock().unwrap().push(format!(
                        "request {n}: status {} {:?}",
                        r.status,
                        r.text()
                    )),
                    Err(e) => failures.lock().unwrap().push(format!("request {n}: {e}")),
                }
                n += 1;
                done.store(n, Ordering::Relaxed);
            }
        })
    };
    let wait_done = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while done.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    let mut generations = vec![first.clone()];
    for _round in 0..2 {
        let base = done.load(Ordering::Relaxed);
        wait_done(base + 50);
        server.signal(libc::SIGHUP);
        let prev = generations.last().unwrap().clone();
        let s = wait_stats(
            &server,
            p.stats,
            Duration::from_secs(20),
            "every worker replaced after SIGHUP",
            |s| {
                let now = worker_pids(s);
                now.len() == 2
                    && now.iter().all(|pid| *pid > 0 && !prev.contains(pid))
                    && worker_field(s, "accepting").iter().all(|&a| a == 1)
            },
        );
        generations.push(worker_pids(&s));
        // The reload is in place: the same master (re-executed or not) still answers.
        assert_eq!(s["pid"].as_u64(), Some(server.pid() as u64), "{s}");
    }
    let base = done.load(Ordering::Relaxed);
    wait_done(base + 50);
    stop.store(true, Ordering::Relaxed);
    client.join().expect("client thread");

    let failures = failures.lock().unwrap();
    let total = done.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed across two SIGHUPs: {:#?}\n{}",
        failures.len(),
        &failures[..failures.len().min(20)],
        server.log()
    );
    assert!(total >= 150, "only {total} requests ran:\n{}", server.log());
    let log = server.log();
    assert!(
        !log.contains("DAMN"),
        "a reloaded worker died badly:\n{log}"
    );
    // The old generations are gone.
    for pid in generations[..2].iter().flatten() {
        assert!(!pid_alive(*pid as i32), "old worker {pid} still running");
    }
}

/// Sends `sig` to the master while a 1 s request is inside the app; that request must still
/// complete with 200.
fn signal_during_a_slow_request(server: &Server, p: &Ports, sig: i32) {
    let port = p.http;
    let slow = std::thread::spawn(move || try_http(port, "GET", "/sleep?1", &[], b""));
    wait_stats(
        server,
        p.stats,
        Duration::from_secs(10),
        "the slow request is in the app",
        |s| cores_sum(s, "in_request") == 1,
    );
    server.signal(sig);
    let r = slow
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("in-flight request failed: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.text(), "slept");
}

/// Waits until the single worker `old` was replaced by one that accepts, under the same
/// master (a graceful reload re-executes the master in place); returns that stats snapshot.
fn wait_reloaded(server: &Server, p: &Ports, old: u64) -> serde_json::Value {
    let s = wait_stats(
        server,
        p.stats,
        Duration::from_secs(20),
        "worker replaced",
        |s| worker_pids(s)[0] != old && worker_field(s, "accepting")[0] == 1,
    );
    assert_eq!(
        s["pid"].as_u64(),
        Some(server.pid() as u64),
        "same master: {s}"
    );
    s
}

#[test]
fn sighup_lets_an_inflight_request_finish() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let old = worker_pids(&stats(p.stats))[0];
    signal_during_a_slow_request(&server, &p, libc::SIGHUP);
    wait_reloaded(&server, &p, old);
    assert_serves(&server, p.http);
}

#[test]
fn touching_a_touch_reload_file_reloads_gracefully_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trigger = dir.path().join("reload-me");
    std::fs::File::create(&trigger).expect("create the trigger file");
    let trigger_arg = trigger.display().to_string();
    let (server, p) = start_app_in(
        dir,
        &["--processes", "1", "--touch-reload", &trigger_arg],
        1,
    );
    let old = worker_pids(&stats(p.stats))[0];

    // A modification time in the future: a change even on a filesystem with coarse times.
    std::fs::File::options()
        .write(true)
        .open(&trigger)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60)))
        .expect("touch");
    let s = wait_reloaded(&server, &p, old);
    server.wait_log(Duration::from_secs(5), |l| {
        l.contains(&format!("*** {trigger_arg} has been touched"))
    });
    assert_serves(&server, p.http);

    // The re-executed master starts from the new time: one touch, one reload (the master
    // looks once a second, so a reload loop would have replaced the worker again by now).
    let new = worker_pids(&s)[0];
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(worker_pids(&stats(p.stats))[0], new, "{}", server.log());
}

/// SIGKILLs the master; true when all of `children` are gone within `limit`.
fn children_gone_after_master_killed(server: &Server, children: &[u64], limit: Duration) -> bool {
    server.signal(libc::SIGKILL);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if children.iter().all(|&pid| !pid_alive(pid as i32)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn no_orphans_stops_the_workers_when_the_master_dies() {
    let (server, p) = start_app(&["--processes", "2", "--no-orphans"], 2);
    let workers = worker_pids(&stats(p.stats));
    assert!(
        children_gone_after_master_killed(&server, &workers, Duration::from_secs(20)),
        "workers {workers:?} outlived a SIGKILLed master\n{}",
        server.log()
    );

    // Without it, as in uWSGI, the workers live on (ended here by pid: this test started them).
    let (server, p) = start_app(&["--processes", "1"], 1);
    let workers = worker_pids(&stats(p.stats));
    let gone = children_gone_after_master_killed(&server, &workers, Duration::from_secs(2));
    for &pid in &workers {
        kill(pid, libc::SIGKILL);
    }
    assert!(
        !gone,
        "without --no-orphans the workers are expected to stay"
    );
}

#[test]
fn hook_master_start_unix_signal_maps_signals_to_reload_and_shutdown() {
    // SIGUSR1 made a graceful reload: the worker is replaced, the master stays.
    let hook = "unix_signal:10 grace_them_all";
    let (server, p) = start_app(&["--processes", "1", "--hook-master-start", hook], 1);
    let old = worker_pids(&stats(p.stats))[0];
    server.signal(libc::SIGUSR1);
    wait_reloaded(&server, &p, old);
    assert_serves(&server, p.http);
    drop(server);

    // SIGHUP made a graceful shutdown (instead of uWSGI's default reload): exit 0.
    let hook = "unix_signal:1 gracefully_kill_them_all";
    let (mut server, _p) = start_app(&["--processes", "1", "--hook-master-start", hook], 1);
    server.signal(libc::SIGHUP);
    let code = server.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", server.log());
}

// ---------------------------------------------------------------------------------------------
// SIGTERM / SIGINT

#[test]
fn sigterm_lets_an_inflight_request_finish_then_exits_zero_and_vacuums() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let sock_arg = sock.display().to_string();
    let (mut server, p) = start_app_in(
        dir,
        &["--processes", "1", "--socket", &sock_arg, "--vacuum"],
        1,
    );
    assert!(sock.exists(), "UNIX socket not created");
    let worker = worker_pids(&stats(p.stats))[0];

    signal_during_a_slow_request(&server, &p, libc::SIGTERM);
    let code = server.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "master exit code\n{}", server.log());
    assert!(
        server.log().contains("goodbye to rwsgi"),
        "{}",
        server.log()
    );
    assert!(!sock.exists(), "--vacuum left {}", sock.display());
    assert!(
        !pid_alive(worker as i32),
        "worker {worker} outlived the master"
    );
}

#[test]
fn sigterm_right_after_workers_fork_still_stops_every_worker() {
    // A stop signal that reaches a worker between its fork and its own handlers must wait for
    // them, not vanish (the worker would then serve on, and outlive its master).
    for round in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut server, _p) = launch_app_in(dir, &["--processes", "4"]);
        // Busy-wait (bounded) for the 4th fork, then signal at once: the newest worker is
        // then most likely still starting.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && children_of(server.pid()).len() < 4 {}
        server.signal(libc::SIGTERM);
        let code = server.wait_exit(Duration::from_secs(15));
        let log = server.log();
        assert_eq!(code, Some(0), "round {round}: master exit\n{log}");
        let workers: Vec<i32> = log
            .lines()
            .filter_map(|l| l.split("(pid: ").nth(1))
            .filter_map(|rest| rest.split(',').next()?.parse().ok())
            .collect();
        assert_eq!(workers.len(), 4, "{log}");
        for pid in workers {
            assert!(
                !pid_alive(pid),
                "round {round}: worker {pid} outlived its master\n{log}"
            );
        }
    }
}

#[test]
fn sigint_stops_the_server_with_exit_zero_and_vacuums() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let sock_arg = sock.display().to_string();
    let (mut server, p) = start_app_in(
        dir,
        &["--processes", "2", "--socket", &sock_arg, "--vacuum"],
        2,
    );
    assert!(sock.exists(), "UNIX socket not created");
    let workers = worker_pids(&stats(p.stats));
    assert_serves(&server, p.http);
    server.signal(libc::SIGINT);
    let code = server.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "master exit code\n{}", server.log());
    assert!(!sock.exists(), "--vacuum left {}", sock.display());
    for pid in workers {
        assert!(!pid_alive(pid as i32), "worker {pid} outlived the master");
    }
}

#[test]
fn without_vacuum_the_unix_socket_stays() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let sock_arg = sock.display().to_string();
    let (mut server, _p) = start_app_in(dir, &["--processes", "1", "--socket", &sock_arg], 1);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(sock.exists(), "socket removed without --vacuum");
}

// ---------------------------------------------------------------------------------------------
// Bad input

/// Sends `bytes` to `port`, half-closes, returns what came back (an I/O error, e.g. a reset,
/// counts as "closed without an answer").
fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    raw_exchange(port, bytes).unwrap_or_default()
}

/// The stats show the same workers, none respawned.
fn assert_same_workers(server: &Server, stats_port: u16, pids: &[u64]) {
    let s = stats(stats_port);
    assert_eq!(worker_pids(&s), pids, "workers changed\n{}", server.log());
    assert!(
        worker_field(&s, "respawn_count").iter().all(|&c| c == 1),
        "a worker was respawned: {s}\n{}",
        server.log()
    );
}

fn assert_uwsgi_serves(server: &Server, port: u16) {
    let r = try_uwsgi(port, "POST", "/echo", b"still alive")
        .unwrap_or_else(|e| panic!("uwsgi request: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.text(), "still alive");
}

#[test]
fn uwsgi_socket_survives_truncated_oversized_and_garbage_packets() {
    let (server, p) = start_app(&["--processes", "2"], 2);
    let pids = worker_pids(&stats(p.stats));
    assert_uwsgi_serves(&server, p.uwsgi);

    // Truncated: the header promises 100 bytes of vars, 20 arrive, then the client closes.
    let full = uwsgi_str_packet(&uwsgi_vars("GET", "/", "", "0"), b"");
    let mut truncated = vec![0u8];
    truncated.extend_from_slice(&100u16.to_le_bytes());
    truncated.push(0);
    truncated.extend_from_slice(&full[4..24]);
    let out = exchange(p.uwsgi, &truncated);
    assert!(out.is_empty(), "answer to a truncated packet: {out:?}");
    assert_uwsgi_serves(&server, p.uwsgi);

    // Only part of the 4-byte header.
    let out = exchange(p.uwsgi, &[0u8, 0x10]);
    assert!(out.is_empty(), "answer to half a header: {out:?}");
    assert_uwsgi_serves(&server, p.uwsgi);

    // Oversized: datasize 8000 > --buffer-size 4096 → 413 or a plain close.
    let mut big = vec![0u8];
    big.extend_from_slice(&8000u16.to_le_bytes());
    big.push(0);
    big.extend_from_slice(&[b'x'; 64]);
    let out = exchange(p.uwsgi, &big);
    if !out.is_empty() {
        assert_eq!(
            parse_response(&out).status,
            413,
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_uwsgi_serves(&server, p.uwsgi);

    // Garbage: an HTTP request on the uwsgi socket, a vars block whose key length overruns
    // the block, an unknown modifier1, random bytes.
    let mut overrun = vec![0u8, 8, 0, 0];
    overrun.extend_from_slice(&[0xff, 0x7f, b'A', b'B', b'C', b'D', b'E', b'F']);
    let mut modifier = full.clone();
    modifier[0] = 42;
    let random: Vec<u8> = (0u32..3000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (what, bytes) in [
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("an overrunning var", overrun),
        ("modifier1 42", modifier),
        ("random bytes", random),
    ] {
        let out = exchange(p.uwsgi, &bytes);
        if !out.is_empty() {
            let status = parse_response(&out).status;
            assert!(
                (400..500).contains(&status),
                "{what}: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
        assert_uwsgi_serves(&server, p.uwsgi);
    }
    assert_same_workers(&server, p.stats, &pids);
}

#[test]
fn http_socket_rejects_garbage_and_oversized_heads() {
    let (server, p) = start_app(&["--processes", "2"], 2);
    let pids = worker_pids(&stats(p.stats));
    let errors_before = cores_sum(&stats(p.stats), "read_errors");

    for garbage in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    ] {
        let out = exchange(p.http, garbage);
        let r = parse_response(&out);
        assert_eq!(
            r.status,
            400,
            "{:?} → {:?}\n{}",
            String::from_utf8_lossy(garbage),
            String::from_utf8_lossy(&out),
            server.log()
        );
        assert_serves(&server, p.http);
    }

    // A head larger than --buffer-size (4096 by default): 431 or a plain close.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10 * 1024)
    );
    let out = exchange(p.http, big.as_bytes());
    if !out.is_empty() {
        assert_eq!(
            parse_response(&out).status,
            431,
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_serves(&server, p.http);

    // The rejected requests are counted as read errors.
    let s = stats(p.stats);
    assert!(
        cores_sum(&s, "read_errors") > errors_before,
        "read_errors did not rise: {s}"
    );
    assert_same_workers(&server, p.stats, &pids);
}

#[test]
fn client_disconnecting_mid_body_is_a_read_error_and_the_worker_lives_on() {
    let (server, p) = start_app(&["--processes", "2"], 2);
    let pids = worker_pids(&stats(p.stats));
    let before = cores_sum(&stats(p.stats), "read_errors");

    let mut s = TcpStream::connect(("127.0.0.1", p.http)).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
        .unwrap();
    // Let the app start reading the body, then vanish.
    wait_stats(
        &server,
        p.stats,
        Duration::from_secs(10),
        "the request is in the app",
        |s| cores_sum(s, "in_request") == 1,
    );
    drop(s);

    wait_stats(
        &server,
        p.stats,
        Duration::from_secs(20),
        "read_errors rises after the mid-body disconnect",
        |s| cores_sum(s, "read_errors") > before && cores_sum(s, "in_request") == 0,
    );
    for _ in 0..5 {
        assert_serves(&server, p.http);
    }
    let r = try_http(p.http, "POST", "/echo", &[], b"a full body").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "a full body");
    assert_same_workers(&server, p.stats, &pids);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 connection handling

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn env_of(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("env JSON: {e}: {:?}", r.text()))
}

/// Over uwsgi the server closes after each response, and the last bytes wait for that close's
/// FIN (MSG_MORE): every size, over TCP and UNIX, must still arrive whole, then EOF.
#[test]
fn uwsgi_responses_arrive_whole_then_the_connection_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("uwsgi.sock");
    let sock_arg = sock.display().to_string();
    let (server, p) = start_app_in(dir, &["--processes", "2", "--socket", &sock_arg], 2);
    for size in [0usize, 1, 1000, 4000, 20_000, 70_000, 300_000, 2 << 20] {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let len = size.to_string();
        let packet = uwsgi_str_packet(&uwsgi_vars("POST", "/echo", "", &len), &body);
        let over_tcp = raw_exchange(p.uwsgi, &packet).expect("uwsgi over TCP");
        let mut unix = std::os::unix::net::UnixStream::connect(&sock).expect("connect UNIX");
        unix.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        unix.write_all(&packet).expect("send over UNIX");
        let mut over_unix = Vec::new();
        unix.read_to_end(&mut over_unix)
            .expect("read to EOF over UNIX");
        for (how, raw) in [("TCP", over_tcp), ("UNIX", over_unix)] {
            let r = parse_response(&raw);
            assert_eq!(r.status, 200, "{size} bytes over {how}\n{}", server.log());
            assert_eq!(r.header("Content-Length"), Some(len.as_str()), "{how}");
            assert!(
                r.body == body,
                "{size} bytes over {how}: {} came back",
                r.body.len()
            );
        }
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let mut s = connect(p.http);
    let mut ports = Vec::new();
    for i in 0..3 {
        s.write_all(format!("GET /env?n={i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let (r, closed) = read_http_response(&mut s)
            .unwrap_or_else(|e| panic!("response {i}: {e}\n{}", server.log()));
        assert_eq!(r.status, 200);
        assert!(!closed, "response {i} was delimited by a close");
        assert_ne!(r.header("Connection"), Some("close"), "response {i}");
        let env = env_of(&r);
        assert_eq!(env["QUERY_STRING"], format!("n={i}"));
        ports.push(env["REMOTE_PORT"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        ports.windows(2).all(|w| w[0] == w[1]),
        "one connection: {ports:?}"
    );

    // `Connection: close` ends it.
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (r, _) = read_http_response(&mut s).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "srv ok");
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0, "{rest:?}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let mut s = connect(p.http);
    s.write_all(
        b"GET /env?first HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond\
          GET /env?third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let (r1, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("1: {e}\n{}", server.log()));
    let (r2, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("2: {e}\n{}", server.log()));
    let (r3, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("3: {e}\n{}", server.log()));
    assert_eq!((r1.status, r2.status, r3.status), (200, 200, 200));
    assert_eq!(env_of(&r1)["QUERY_STRING"], "first");
    assert_eq!(r2.text(), "second");
    assert_eq!(env_of(&r3)["QUERY_STRING"], "third");
}

#[test]
fn chunked_request_body_is_decoded_for_the_app() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let mut s = connect(p.http);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n",
    )
    .unwrap();
    let (r, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.text(), "hello chunked world");

    // The same, sent in pieces, on a keep-alive connection followed by another request.
    let mut s = connect(p.http);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    for piece in [
        &b"3\r\nab"[..],
        b"c\r\n",
        b"A\r\n0123456789\r\n",
        b"0\r\n\r\n",
    ] {
        s.write_all(piece).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let (r, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(r.text(), "abc0123456789");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (r, _) = read_http_response(&mut s).unwrap();
    assert_eq!(r.text(), "srv ok");
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let mut s = connect(p.http);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    // Nothing of the body was sent: the interim response must come first.
    let (interim, _) =
        read_http_response(&mut s).unwrap_or_else(|e| panic!("no 100: {e}\n{}", server.log()));
    assert_eq!(interim.status, 100, "{interim:?}");
    s.write_all(b"hello world").unwrap();
    let (r, _) = read_http_response(&mut s).unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");

    // A body sent along with the head gets no interim response.
    let raw = exchange(
        p.http,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nok",
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Start-up errors

fn startup(args: &[String]) -> (Option<i32>, String) {
    run_to_exit(args, Duration::from_secs(30))
}

#[test]
fn unknown_option_fails_and_names_it() {
    let (code, out) = startup(&[
        "--http-socket".into(),
        format!("127.0.0.1:{}", free_port()),
        "--module".into(),
        "welcome".into(),
        "--no-such-option-xyz".into(),
        "1".into(),
    ]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("no-such-option-xyz"), "{out}");
    assert!(!out.contains("spawned rwsgi worker"), "{out}");
}

#[test]
fn bad_ini_line_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("bad.ini");
    std::fs::write(
        &ini,
        format!(
            "[uwsgi]\nhttp-socket = 127.0.0.1:{}\nmodule = welcome\nnot-an-option-xyz = 3\n",
            free_port()
        ),
    )
    .unwrap();
    // an unknown ini key is only a warning (as in uWSGI) unless strict
    let (code, out) = startup(&["--strict".into(), "--ini".into(), ini.display().to_string()]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("bad.ini:4"), "{out}");
    assert!(out.contains("not-an-option-xyz"), "{out}");
}

#[test]
fn missing_ini_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("nope.ini");
    let (code, out) = startup(&["--ini".into(), ini.display().to_string()]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("nope.ini"), "{out}");
}

#[test]
fn missing_module_exits_with_no_app_loaded() {
    let (code, out) = startup(&[
        "--http-socket".into(),
        format!("127.0.0.1:{}", free_port()),
        "--module".into(),
        "srv_no_such_module_xyz".into(),
        "--chdir".into(),
        apps_dir().display().to_string(),
        "--master".into(),
        "--processes".into(),
        "2".into(),
    ]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("no app loaded"), "{out}");
    assert!(out.contains("srv_no_such_module_xyz"), "{out}");
}

#[test]
fn missing_module_with_lazy_apps_exits_with_no_app_loaded() {
    let (code, out) = startup(&[
        "--http-socket".into(),
        format!("127.0.0.1:{}", free_port()),
        "--module".into(),
        "srv_no_such_module_xyz".into(),
        "--chdir".into(),
        apps_dir().display().to_string(),
        "--master".into(),
        "--lazy-apps".into(),
        "--processes".into(),
        "2".into(),
    ]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("no app loaded"), "{out}");
}

#[test]
fn unknown_plugin_fails_and_names_it() {
    let (code, out) = startup(&[
        "--plugins".into(),
        "python3,srv_fancy_plugin".into(),
        "--http-socket".into(),
        format!("127.0.0.1:{}", free_port()),
        "--module".into(),
        "welcome".into(),
    ]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{out}");
    assert!(out.contains("srv_fancy_plugin"), "{out}");
    assert!(!out.contains("spawned rwsgi worker"), "{out}");
}

#[test]
fn plugins_python3_is_accepted() {
    let (server, p) = start_app(&["--plugins", "python3", "--processes", "1"], 1);
    assert_serves(&server, p.http);
    let (server2, p2) = start_app(
        &[
            "--plugin",
            "/usr/lib/uwsgi/plugins/python3_plugin.so",
            "--processes",
            "1",
        ],
        1,
    );
    assert_serves(&server2, p2.http);
}

// ---------------------------------------------------------------------------------------------
// Threads and lazy-apps

#[test]
fn threads_serve_slow_requests_concurrently() {
    let (server, p) = start_app(&["--processes", "2", "--threads", "4"], 2);
    let s = stats(p.stats);
    for w in s["workers"].as_array().unwrap() {
        assert_eq!(w["cores"].as_array().map(Vec::len), Some(4), "{s}");
    }
    let port = p.http;
    let clients: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || try_http(port, "GET", &format!("/conc?0.5&{i}"), &[], b""))
        })
        .collect();
    let mut results = Vec::new();
    for c in clients {
        let r = c
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("request: {e}\n{}", server.log()));
        assert_eq!(r.status, 200, "{}", server.log());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        results.push(v);
    }
    // The most requests any one process had in the app at once (threads of one worker).
    let in_process = results
        .iter()
        .map(|v| v["max_inflight"].as_u64().unwrap())
        .max()
        .unwrap();
    // The most requests in the app at once, over both workers (from their time intervals).
    let mut events: Vec<(f64, i32)> = results
        .iter()
        .flat_map(|v| {
            [
                (v["start"].as_f64().unwrap(), 1),
                (v["end"].as_f64().unwrap(), -1),
            ]
        })
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut overall) = (0, 0);
    for (_, d) in events {
        cur += d;
        overall = overall.max(cur);
    }
    assert!(
        in_process >= 2,
        "no worker ran two requests at once (max {in_process}): {results:?}"
    );
    assert!(
        overall >= 4,
        "only {overall} of 8 slow requests overlapped with 2 workers × 4 threads: {results:?}"
    );
}

#[test]
fn lazy_apps_loads_the_app_in_each_worker() {
    let dir = tempfile::tempdir().unwrap();
    let imports = dir.path().join("imports.log");
    let env = format!("SRV_IMPORT_LOG={}", imports.display());
    let (server, p) = start_app_in(dir, &["--processes", "2", "--lazy-apps", "--env", &env], 2);
    let workers = worker_pids(&stats(p.stats));
    let text = wait_file(&imports, Duration::from_secs(10), |t| {
        t.lines().count() >= 2
    });
    let mut imported: Vec<u64> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    imported.sort_unstable();
    let mut expected = workers.clone();
    expected.sort_unstable();
    assert_eq!(imported, expected, "importing pids vs worker pids");
    assert!(
        !imported.contains(&(server.pid() as u64)),
        "master imported the app"
    );
    for _ in 0..6 {
        let r = get(p.http, "/pid");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v["pid"], v["import_pid"],
            "lazy app imported in its worker: {v}"
        );
        assert!(workers.contains(&v["pid"].as_u64().unwrap()));
    }
}

#[test]
fn without_lazy_apps_the_master_loads_the_app_once() {
    let dir = tempfile::tempdir().unwrap();
    let imports = dir.path().join("imports.log");
    let env = format!("SRV_IMPORT_LOG={}", imports.display());
    let (server, p) = start_app_in(dir, &["--processes", "2", "--env", &env], 2);
    let text = std::fs::read_to_string(&imports).unwrap();
    assert_eq!(text.trim(), server.pid().to_string(), "imports: {text:?}");
    let r = get(p.http, "/pid");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["import_pid"], server.pid(), "{v}");
    assert_ne!(v["pid"], server.pid(), "{v}");
}

// ---------------------------------------------------------------------------------------------
// max-requests

/// The pid of the worker that answers each of `n` requests, in order.
fn answering_pids(server: &Server, port: u16, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let r = try_http(port, "GET", "/pid", &[], b"")
                .unwrap_or_else(|e| panic!("request {i}: {e}\n{}", server.log()));
            assert_eq!(r.status, 200, "request {i}\n{}", server.log());
            let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
            v["pid"].as_u64().expect("pid")
        })
        .collect()
}

#[test]
fn max_requests_delta_adds_worker_id_times_delta_to_the_limit() {
    // Worker 1: 2 + 1 x 3 = 5 requests per process.
    let args = [
        "--processes",
        "1",
        "--max-requests",
        "2",
        "--max-requests-delta",
        "3",
    ];
    let (server, p) = start_app(&args, 1);
    let pids = answering_pids(&server, p.http, 7);
    assert!(pids[..5].iter().all(|&x| x == pids[0]), "{pids:?}");
    assert!(pids[5..].iter().all(|&x| x != pids[0]), "{pids:?}");
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("max requests reached: 5)")
    });
}

#[test]
fn reload_on_rss_recycles_a_worker_grown_past_the_limit() {
    // Every Python worker is larger than 1 MB: each request is its process's last.
    let (server, p) = start_app(&["--processes", "1", "--reload-on-rss", "1"], 1);
    let pids = answering_pids(&server, p.http, 3);
    let distinct: std::collections::HashSet<_> = pids.iter().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}\n{}", server.log());
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("(reload-on-rss: rss ") && l.contains(" MB > 1 MB)")
    });
    drop(server);

    // Far below the limit: the worker stays.
    let (server, p) = start_app(&["--processes", "1", "--reload-on-rss", "100000"], 1);
    let pids = answering_pids(&server, p.http, 3);
    assert!(pids.iter().all(|&x| x == pids[0]), "{pids:?}");
}

#[test]
fn evil_reload_on_rss_kills_and_respawns_a_worker_past_the_limit() {
    // Every Python worker is larger than 1 MB: the master kills it within a second or two.
    let (server, p) = start_app(&["--processes", "1", "--evil-reload-on-rss", "1"], 1);
    let first = worker_pids(&stats(p.stats))[0];
    server.wait_log(Duration::from_secs(20), |l| {
        l.contains(&format!("*** EVIL reload of worker 1 (pid: {first}): rss "))
    });
    wait_stats(
        &server,
        p.stats,
        Duration::from_secs(20),
        "respawned",
        |s| {
            let pid = worker_pids(s)[0];
            pid != first && pid != 0 && worker_field(s, "respawn_count")[0] >= 2
        },
    );
    drop(server);

    // Far below the limit: the worker stays.
    let (server, p) = start_app(&["--processes", "1", "--evil-reload-on-rss", "100000"], 1);
    let first = worker_pids(&stats(p.stats))[0];
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(worker_pids(&stats(p.stats))[0], first, "{}", server.log());
}

#[test]
fn limit_as_caps_the_workers_address_space() {
    let (server, p) = start_app(&["--processes", "1", "--limit-as", "2048"], 1);
    let worker = worker_pids(&stats(p.stats))[0];
    // Within the limit, then far past it: MemoryError in the app, and the worker lives on.
    assert_eq!(get(p.http, "/alloc?64").status, 200, "{}", server.log());
    let r = get(p.http, "/alloc?3072");
    assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, b"MemoryError");
    assert_eq!(worker_pids(&stats(p.stats))[0], worker);
    assert!(
        server
            .log()
            .contains("your process address space limit is 2147483648 bytes (2048 MB)"),
        "{}",
        server.log()
    );
    drop(server);

    // Control: without the limit the same allocation succeeds (address space only: the
    // pages are never touched).
    let (_server, p) = start_app(&["--processes", "1"], 1);
    assert_eq!(get(p.http, "/alloc?3072").status, 200);
}

#[test]
fn max_requests_recycles_the_worker_without_failing_requests() {
    let (server, p) = start_app(&["--processes", "1", "--max-requests", "5"], 1);
    let first = worker_pids(&stats(p.stats))[0];
    let pids = answering_pids(&server, p.http, 12);
    // Five per worker process: 5 + 5 + 2.
    assert!(pids[..5].iter().all(|&p| p == first), "{pids:?}");
    assert!(pids[5..].iter().all(|&p| p != first), "{pids:?}");
    assert_eq!(
        pids[5..10]
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        1,
        "{pids:?}"
    );
    assert!(pids[10..].iter().all(|&p| p != pids[5]), "{pids:?}");
    let s = wait_stats(
        &server,
        p.stats,
        Duration::from_secs(20),
        "worker recycled",
        |s| worker_field(s, "respawn_count")[0] >= 3 && worker_field(s, "accepting")[0] == 1,
    );
    assert_ne!(worker_pids(&s)[0], first);
    assert!(
        server.log().contains("max requests reached"),
        "{}",
        server.log()
    );
    // A recycle the worker chose is a planned exit, not a crash: no "DAMN !", and so no
    // crash-loop respawn throttle either.
    assert!(
        !server.log().contains("DAMN"),
        "max-requests recycle reported as a worker crash:\n{}",
        server.log()
    );
}

// ---------------------------------------------------------------------------------------------
// Logging

#[test]
fn logto_file_gets_the_request_log() {
    let dir = tempfile::tempdir().unwrap();
    let logto = dir.path().join("logto.log");
    let logto_arg = logto.display().to_string();
    let (server, p) = start_app_in(dir, &["--processes", "1", "--logto", &logto_arg], 1);
    for i in 0..3 {
        let r = get(p.http, &format!("/logme-{i}"));
        assert_eq!(r.status, 200);
    }
    let text = wait_file(&logto, Duration::from_secs(10), |t| {
        t.contains("GET /logme-2 ")
    });
    for i in 0..3 {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("GET /logme-{i} ")))
            .unwrap_or_else(|| panic!("no log line for /logme-{i}:\n{text}"));
        assert!(line.starts_with("[pid: "), "{line}");
        assert!(line.contains("(HTTP/1.1 200)"), "{line}");
    }
    assert!(
        text.contains("spawned rwsgi worker"),
        "start-up lines in --logto:\n{text}"
    );
    // Nothing went to the original stderr.
    assert!(!server.log().contains("/logme-"), "{}", server.log());
}

#[test]
fn disable_logging_suppresses_request_lines() {
    // The worker logs "max requests reached" after the request log line would have been
    // written, so waiting for it makes the absence check meaningful.
    let (server, p) = start_app(
        &[
            "--processes",
            "1",
            "--disable-logging",
            "--max-requests",
            "3",
        ],
        1,
    );
    for i in 0..3 {
        assert_eq!(get(p.http, &format!("/quiet-{i}")).status, 200);
    }
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("max requests reached")
    });
    let log = server.log();
    assert!(!log.contains("/quiet-"), "request lines logged:\n{log}");
    assert!(!log.contains("[pid: "), "request lines logged:\n{log}");
    assert!(log.contains("spawned rwsgi worker"), "{log}");

    // Control: the same without --disable-logging logs each request.
    let (server, p) = start_app(&["--processes", "1", "--max-requests", "3"], 1);
    for i in 0..3 {
        assert_eq!(get(p.http, &format!("/loud-{i}")).status, 200);
    }
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("max requests reached")
    });
    let log = server.log();
    for i in 0..3 {
        assert!(log.contains(&format!("GET /loud-{i} ")), "{log}");
    }
}

#[test]
fn log_format_writes_request_lines_in_the_given_format() {
    let format = "ACCESS %(addr) \"%(method) %(uri) %(proto)\" %(status) %(rsize) \
                  hdr=%(headers) host=%(host) rid=%(var.HTTP_X_REQUEST_ID) wid=%(wid) unknown=%(x)|";
    let (server, p) = start_app(&["--processes", "1", "--log-format", format], 1);
    let r = try_http(
        p.http,
        "GET",
        "/env?q=1",
        &[("X-Request-Id", "req-42")],
        b"",
    )
    .expect("request");
    assert_eq!(r.status, 200);
    let body_len = r.body.len();
    // %(x) is a log var the app never set: '-', as uWSGI prints (issue 12).
    let want = format!(
        "ACCESS 127.0.0.1 \"GET /env?q=1 HTTP/1.1\" 200 {body_len} hdr=3 host=127.0.0.1:{} \
         rid=req-42 wid=1 unknown=-|",
        p.http
    );
    server.wait_log(Duration::from_secs(10), |log| {
        log.lines().any(|l| l == want)
    });
    assert!(!server.log().contains("[pid: "), "{}", server.log());
}

// ---------------------------------------------------------------------------------------------
// Harakiri

#[test]
fn harakiri_kills_a_stuck_worker_counts_it_and_respawns() {
    let (server, p) = start_app(&["--processes", "1", "--harakiri", "1"], 1);
    let before = stats(p.stats);
    let victim = worker_pids(&before)[0];
    // A request stuck for far longer than the limit: the master kills its worker, so the
    // client sees the connection closed without a response.
    let stuck = try_http(p.http, "GET", "/sleep?30", &[], b"");
    let stuck = match stuck {
        Ok(r) => r.status,
        Err(_) => 0,
    };
    assert_ne!(
        stuck,
        200,
        "a stuck request must not complete:\n{}",
        server.log()
    );
    server.wait_log(Duration::from_secs(20), |l| {
        l.contains(&format!("HARAKIRI ON WORKER 1 (pid: {victim}"))
    });
    let after = wait_stats(&server, p.stats, Duration::from_secs(20), "respawn", |s| {
        s["workers"][0]["accepting"] == 1 && s["workers"][0]["pid"].as_u64() != Some(victim)
    });
    assert_eq!(worker_field(&after, "harakiri_count"), vec![1], "{after}");
    assert_eq!(worker_field(&after, "respawn_count"), vec![2], "{after}");
    assert_serves(&server, p.http);
}

// ---------------------------------------------------------------------------------------------
// Stale connections

#[test]
fn a_client_stuck_in_its_request_head_is_dropped_and_others_are_served() {
    let (server, p) = start_app(&["--processes", "1"], 1);
    let mut slow = connect(p.http);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("partial head");
    // Meanwhile the single worker keeps serving everyone else.
    assert_serves(&server, p.http);
    // The server gives up on the half-sent head: the connection is closed (EOF, or a reset),
    // well before the read timeout of this client.
    let (closed, got) = closed_within(&mut slow, Duration::from_secs(40));
    assert!(
        closed && got.is_empty(),
        "the stuck connection must be closed by the server"
    );
    assert_serves(&server, p.http);
}

#[test]
fn add_header_goes_on_every_response_over_http_and_uwsgi() {
    let args = [
        "--processes",
        "1",
        "--add-header",
        "X-Frame-Options: DENY",
        "--add-header",
        "X-Served-By: rwsgi test",
    ];
    let (server, p) = start_app(&args, 1);
    let r = get(p.http, "/");
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Served-By"), Some("rwsgi test"));

    let raw = uwsgi_request(
        p.uwsgi,
        &[(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/")],
        b"",
    )
    .expect("uwsgi request");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\r\nX-Frame-Options: DENY\r\n"), "{text}");
    assert!(text.contains("\r\nX-Served-By: rwsgi test\r\n"), "{text}");
}

#[test]
fn add_header_connection_close_closes_every_keep_alive_connection() {
    let (server, p) = start_app(
        &["--processes", "1", "--add-header", "Connection: close"],
        1,
    );
    let mut c = connect(p.http);
    // Two pipelined HTTP/1.1 requests: the first answer says close, and the second is never
    // answered.
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("requests");
    let (closed, got) = closed_within(&mut c, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&got);
    assert!(closed, "the server must close: {text}\n{}", server.log());
    assert_eq!(text.matches("HTTP/1.1 200").count(), 1, "{text}");
    assert_eq!(
        text.matches("\r\nConnection: close\r\n").count(),
        1,
        "{text}"
    );
}

/// Reads until EOF, a reset or `limit`; true when the server ended the connection in time.
fn closed_within(stream: &mut std::net::TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (true, got),
            Err(_) => return (false, got),
        }
    }
}

/// Asks for a 16 MiB streamed response, reads a little of it and resets the connection, so
/// the server's next writes fail; returns the stats once the request is over.
fn abandon_a_streamed_response(server: &Server, p: &Ports) -> serde_json::Value {
    let mut client = connect(p.http);
    client
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut first = [0u8; 1024];
    client
        .read_exact(&mut first)
        .expect("start of the response");
    // Linger 0: close(2) sends a reset at once instead of waiting for the unread data.
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    wait_stats(
        server,
        p.stats,
        Duration::from_secs(20),
        "the abandoned request ends",
        |s| worker_field(s, "requests") == vec![1] && cores_sum(s, "write_errors") == 1,
    )
}

#[test]
fn a_client_gone_mid_response_raises_oserror_unless_write_exceptions_are_disabled() {
    // uWSGI's default: the failed write is the request's exception, with its traceback.
    let (server, p) = start_app(&["--processes", "1"], 1);
    let after = abandon_a_streamed_response(&server, &p);
    assert_eq!(worker_field(&after, "exceptions"), vec![1], "{after}");
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("OSError: client connection")
    });
    assert_serves(&server, p.http);
    drop(server);

    // --disable-write-exception: the response just ends; a write error, not an exception.
    let (server, p) = start_app(
        &[
            "--processes",
            "1",
            "--disable-write-exception",
            "--ignore-write-errors",
            "--ignore-sigpipe",
        ],
        1,
    );
    let after = abandon_a_streamed_response(&server, &p);
    assert_eq!(worker_field(&after, "exceptions"), vec![0], "{after}");
    assert_serves(&server, p.http);
    let log = server.log();
    assert!(!log.contains("OSError"), "no traceback expected:\n{log}");
}

#[test]
fn socket_timeout_sets_how_long_a_half_sent_head_is_waited_for() {
    // The built-in limit for a stalled head is 10 s: closing well within 8 s shows the option.
    let (server, p) = start_app(&["--processes", "1", "--socket-timeout", "1"], 1);
    let mut slow = connect(p.http);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("partial head");
    let (closed, got) = closed_within(&mut slow, Duration::from_secs(8));
    assert!(
        closed,
        "the stalled head must be dropped after --socket-timeout 1"
    );
    assert!(got.is_empty(), "no answer to half a head: {got:?}");
    assert_serves(&server, p.http);
}

#[test]
fn socket_timeout_ends_a_request_whose_body_stalls() {
    // The built-in limit for one body read is 30 s: the request ends well within 20 s.
    let (server, p) = start_app(&["--processes", "1", "--socket-timeout", "1"], 1);
    let mut slow = connect(p.http);
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .expect("head and part of the body");
    let (closed, got) = closed_within(&mut slow, Duration::from_secs(20));
    assert!(
        closed,
        "a request whose body stalls must end after --socket-timeout 1"
    );
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "a partial body must not be echoed as a success: {}",
        String::from_utf8_lossy(&got)
    );
    assert_serves(&server, p.http);
}

// ---------------------------------------------------------------------------------------------
// Options that real configs set: reload-mercy, chdir2, process names, py-autoreload

#[test]
fn reload_mercy_shorter_than_worker_reload_mercy_bounds_the_shutdown() {
    // A 30 s request would hold the default 60 s mercy; --reload-mercy 1 ends it much sooner.
    let (mut server, p) = start_app(&["--processes", "1", "--reload-mercy", "1"], 1);
    let port = p.http;
    let _slow = std::thread::spawn(move || try_http(port, "GET", "/sleep?30", &[], b""));
    wait_stats(
        &server,
        p.stats,
        Duration::from_secs(10),
        "the slow request is in the app",
        |s| cores_sum(s, "in_request") == 1,
    );
    server.signal(libc::SIGTERM);
    assert!(
        server.wait_exit(Duration::from_secs(15)).is_some(),
        "the master must give up on the 30 s request after --reload-mercy 1\n{}",
        server.log()
    );
}

#[test]
fn chdir2_changes_directory_after_the_apps_are_loaded_preloaded_or_lazy() {
    for lazy in [false, true] {
        let target = tempfile::tempdir().expect("tempdir");
        let target_path = target.path().canonicalize().expect("canonical dir");
        let dir_arg = target_path.display().to_string();
        let mut extra = vec!["--processes", "1", "--chdir2", &dir_arg];
        if lazy {
            extra.push("--lazy-apps");
        }
        // The app is found through --chdir (tests/apps), then the worker runs in --chdir2.
        let (server, p) = start_app(&extra, 1);
        let r = try_http(p.http, "GET", "/cwd", &[], b"").expect("GET /cwd");
        assert_eq!(r.text(), dir_arg, "lazy={lazy}\n{}", server.log());
    }
}

fn comm(pid: u64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

#[test]
fn auto_procname_and_procname_prefix_name_the_master_and_each_worker() {
    let (server, p) = start_app(
        // The kernel keeps 15 bytes of a name: "x" + "rwsgi worker N" fits.
        &[
            "--processes",
            "2",
            "--auto-procname",
            "--procname-prefix",
            "x",
        ],
        2,
    );
    assert_eq!(comm(server.pid() as u64), "xrwsgi master");
    let mut names: Vec<String> = worker_pids(&stats(p.stats)).into_iter().map(comm).collect();
    names.sort();
    assert_eq!(names, ["xrwsgi worker 1", "xrwsgi worker 2"]);

    // Without the options the processes keep their binary's name.
    let (plain, q) = start_app(&["--processes", "1"], 1);
    assert_eq!(comm(plain.pid() as u64), "rwsgi");
    assert_eq!(comm(worker_pids(&stats(q.stats))[0]), "rwsgi");
}

#[test]
fn py_autoreload_reloads_gracefully_when_a_loaded_module_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("reload_app.py");
    let version = |v: &str| {
        format!(
            "def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
             return [b'{v}']\n"
        )
    };
    std::fs::write(&app, version("v1")).expect("write the app");
    let app_arg = app.display().to_string();
    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--wsgi-file", &app_arg, "--py-autoreload", "1"])
        .master()
        .processes(1)
        .dir(dir)
        .start();
    let p = server.ports;
    wait_workers_ready(&server, p.stats, 1);
    let get = || try_http(p.http, "GET", "/", &[], b"").map(|r| r.text());
    assert_eq!(get().expect("GET v1"), "v1");
    let old = worker_pids(&stats(p.stats))[0];

    std::fs::write(&app, version("v2")).expect("rewrite the app");
    // A modification time in the future: a change even on a filesystem with coarse times.
    std::fs::File::options()
        .write(true)
        .open(&app)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60)))
        .expect("touch");
    wait_reloaded(&server, &p, old);
    server.wait_log(Duration::from_secs(5), |l| {
        l.contains(&format!(
            "[rwsgi-python-reloader] module/file {app_arg} has been modified"
        ))
    });
    assert_eq!(get().expect("GET v2"), "v2", "{}", server.log());
}
