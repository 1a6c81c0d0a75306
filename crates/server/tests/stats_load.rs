//! 1,000 stats clients at once, plus clients that never read or send garbage and stay, while
//! the server carries a request load: no request fails, every stats answer is whole JSON, and
//! the stats socket and the server keep working afterwards.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 1000;
/// The request load: at most this many requests, or this long.
const LOAD_MAX_REQUESTS: u64 = 3000;
const LOAD_MAX_TIME: Duration = Duration::from_secs(20);

/// The storms of this file run one at a time (2-core machine).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Enough descriptors for 1,000 sockets here and in the server (which inherits the limit).
fn raise_fd_limit() {
    let want = 8192;
    let (soft, hard) = rwsgi_os::process::open_files_limit();
    if soft.is_some_and(|s| s < want) {
        rwsgi_os::process::set_open_files_limit(want).expect("setrlimit(RLIMIT_NOFILE)");
    }
    let soft = rwsgi_os::process::open_files_limit().0;
    assert!(
        soft.is_none_or(|s| s >= 2 * CLIENTS as u64 + 256),
        "RLIMIT_NOFILE {soft:?} is too low for {CLIENTS} clients (hard limit {hard:?})"
    );
}

/// What one stats client got.
enum Outcome {
    Json,
    /// Connected and read to EOF, but the bytes were not one whole JSON document.
    BadJson(String),
    /// Could not connect or the read failed (a dropped client).
    Io(String),
}

fn storm(http: bool) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    raise_fd_limit();
    let mut rwsgi = Rwsgi::new().http().stats().args([
        "--pythonpath",
        &apps_dir().display().to_string(),
        "--module",
        "stats_app",
        "--master",
        "--processes",
        "2",
        "--listen",
        "1024",
        "--disable-logging",
    ]);
    if http {
        rwsgi = rwsgi.arg("--stats-http");
    }
    let server = rwsgi.start();
    let (http_port, stats_port) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http_port, 2);
    let request: &'static [u8] = if http { b"GET / HTTP/1.0\r\n\r\n" } else { b"" };
    let read_stats = move || -> serde_json::Value {
        let raw = stats_exchange(&StatsAddr::Tcp(stats_port), request).expect("stats read");
        let body = if http {
            let r = parse_response(&raw);
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&raw));
            r.body
        } else {
            raw
        };
        serde_json::from_slice(&body).expect("stats JSON")
    };
    // The readiness probe was one request.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sum_workers(&read_stats(), "requests") != 1 {
        assert!(Instant::now() < deadline, "probe request never counted");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The request load.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut done = 0u64;
            let mut failures = Vec::new();
            while done < LOAD_MAX_REQUESTS
                && start.elapsed() < LOAD_MAX_TIME
                && !stop.load(Ordering::Relaxed)
            {
                match try_http(http_port, "GET", "/", &[], b"") {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => failures.push(format!("status {}", r.status)),
                    Err(e) => failures.push(e.to_string()),
                }
                done += 1;
            }
            (done, failures)
        })
    };

    // A client that connects and never reads, and one that sends garbage and stays.
    let mut idle = TcpStream::connect(("127.0.0.1", stats_port)).expect("idle client");
    let mut garbage = TcpStream::connect(("127.0.0.1", stats_port)).expect("garbage client");
    garbage
        .write_all(b"\x00\x01GARBAGE \xff\xfe not a request\r\n\r\n")
        .expect("send garbage");
    if http {
        // Half a request head, never finished.
        idle.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n")
            .expect("send half a head");
    }

    // 1,000 clients at once.
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    barrier.wait();
                    let mut s = match TcpStream::connect(("127.0.0.1", stats_port)) {
                        Ok(s) => s,
                        Err(e) => return Outcome::Io(format!("connect: {e}")),
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    let _ = s.set_write_timeout(Some(Duration::from_secs(60)));
                    if http {
                        if let Err(e) = s.write_all(request) {
                            return Outcome::Io(format!("write: {e}"));
                        }
                    }
                    let mut raw = Vec::new();
                    if let Err(e) = s.read_to_end(&mut raw) {
                        return Outcome::Io(format!("read: {e} after {} bytes", raw.len()));
                    }
                    let body = if http {
                        let r = parse_response(&raw);
                        if r.status != 200 {
                            return Outcome::BadJson(format!(
                                "HTTP answer: {:?}",
                                String::from_utf8_lossy(&raw[..raw.len().min(200)])
                            ));
                        }
                        r.body
                    } else {
                        raw
                    };
                    match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(v) if v["workers"].as_array().is_some_and(|w| w.len() == 2) => {
                            Outcome::Json
                        }
                        Ok(v) => Outcome::BadJson(format!("unexpected document {v}")),
                        Err(e) => Outcome::BadJson(format!("{e} ({} bytes)", body.len())),
                    }
                })
                .expect("spawn client thread")
        })
        .collect();
    let outcomes: Vec<Outcome> = clients
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let (load_done, load_failures) = load.join().expect("load thread");

    let ok = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Json))
        .count();
    let bad: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::BadJson(e) => Some(e),
            _ => None,
        })
        .collect();
    let io: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Io(e) => Some(e),
            _ => None,
        })
        .collect();
    println!(
        "stats storm (http: {http}): {ok}/{CLIENTS} clients got whole JSON, {} I/O errors, {} bad documents; load: {load_done} requests, {} failed",
        io.len(),
        bad.len(),
        load_failures.len()
    );
    assert!(
        load_failures.is_empty(),
        "{} of {load_done} requests failed during the storm: {:?}",
        load_failures.len(),
        &load_failures[..load_failures.len().min(10)]
    );
    assert!(load_done > 0);
    assert!(
        bad.is_empty(),
        "stats reads that completed but are not whole JSON: {:?}",
        &bad[..bad.len().min(10)]
    );
    assert!(
        ok >= CLIENTS * 99 / 100,
        "only {ok} of {CLIENTS} stats clients were answered; errors: {:?}\nserver log:\n{}",
        &io[..io.len().min(10)],
        server.log()
    );

    // The stuck clients are still connected (or were dropped at their deadline) and hurt
    // nobody: a fresh read works and the server still serves.
    let v = read_stats();
    assert_eq!(v["workers"].as_array().map(Vec::len), Some(2));
    assert_eq!(get(http_port, "/").status, 200);
    // Every load request, the probe and the last GET were counted.
    let want = 1 + load_done + 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = read_stats();
        if sum_workers(&v, "requests") == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stats show {} requests, {want} were made",
            sum_workers(&v, "requests")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(idle);
    drop(garbage);
    let v = read_stats();
    assert_eq!(v["pid"].as_i64(), Some(i64::from(server.pid())));
}

#[test]
fn thousand_raw_stats_clients_at_once_under_load() {
    storm(false);
}

#[test]
fn thousand_http_stats_clients_at_once_under_load() {
    storm(true);
}
