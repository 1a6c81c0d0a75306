//! `rwsgi top`: `--once` on every address form and against sockets that send garbage, a
//! half document, or nothing; the live view in a tmux terminal against two servers under load
//! (workers, req/s, a busy core's URI, the fleet line, sorting, a server killed, `q`).
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A two-worker `srv_app` server with an HTTP socket and `stats` (`None`: a pre-bound TCP
/// stats socket; `Some(arg)`: `--stats arg`), plus `extra` options; waits until it answers.
fn start_server(stats: Option<&str>, extra: &[&str], dir: tempfile::TempDir) -> Server {
    let builder = Rwsgi::new().http();
    let builder = match stats {
        None => builder.stats(),
        Some(arg) => builder.args(["--stats", arg]),
    };
    let server = builder
        .test_app("srv_app")
        .master()
        .processes(2)
        .args(extra)
        .dir(dir)
        .start();
    server.wait_http_ready(server.ports.http, 2);
    server
}

/// The pids of `server`'s workers.
fn worker_pids_of(server: &Server) -> Vec<i32> {
    let pids: Vec<i32> = children_of(server.pid())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(pids.len(), 2, "two workers: {pids:?}\n{}", server.log());
    pids
}

/// `rwsgi top --once ARGS`: (exit code, stdout, stderr).
fn top_once(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(rwsgi_bin());
    cmd.arg("top").arg("--once").args(args);
    let out = run_bounded(cmd, Duration::from_secs(60));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The row of the worker with `pid` in a workers table (text or screen): `SRV WID % PID ...`.
fn worker_row(text: &str, pid: i32) -> Option<(usize, Vec<String>)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let t: Vec<String> = l.split_whitespace().map(str::to_string).collect();
        (t.len() > 4 && t[3] == pid.to_string()).then_some((i, t))
    })
}

/// The number after `key` on the line starting with `prefix`.
fn number_after(text: &str, prefix: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    let mut t = line.split_whitespace();
    t.find(|&w| w == key)?;
    t.next()?.parse().ok()
}

/// Checks a `--once` snapshot of one address of `server`.
fn check_once(addr: &str, server: &Server) {
    let (code, out, err) = top_once(&[addr]);
    assert_eq!(
        code,
        Some(0),
        "top --once {addr}\nstdout:\n{out}\nstderr:\n{err}"
    );
    let head = format!("[1] {addr}  req ");
    assert!(out.starts_with(&head), "{addr}:\n{out}");
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains(&format!("  pid {}  ", server.pid())),
        "{addr}: the master's pid\n{out}"
    );
    assert!(out.contains("FLEET 1 servers, 1 answering"), "{out}");
    for pid in worker_pids_of(server) {
        let (_, row) = worker_row(&out, pid).unwrap_or_else(|| panic!("worker {pid}:\n{out}"));
        assert_eq!(row[0], "1", "{out}");
    }
}

#[test]
fn top_once_on_every_address_form() {
    // TCP: as bound, as `:port`, by host name.
    let tcp = start_server(None, &[], tempfile::tempdir().expect("tempdir"));
    let p = tcp.ports.stats;
    for addr in [
        format!("127.0.0.1:{p}"),
        format!(":{p}"),
        format!("localhost:{p}"),
    ] {
        check_once(&addr, &tcp);
    }

    // A UNIX path.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stats.sock").display().to_string();
    let unix = start_server(Some(&path), &[], dir);
    check_once(&path, &unix);

    // `@abstract` (rwsgi binds `\0name` and `\0name\0`; top connects to `\0name`).
    let name = format!("@rwsgi-top-{}-{p}", std::process::id());
    let abs = start_server(Some(&name), &[], tempfile::tempdir().expect("tempdir"));
    check_once(&name, &abs);

    // `--stats-http`, with and without a path.
    let http = start_server(
        None,
        &["--stats-http"],
        tempfile::tempdir().expect("tempdir"),
    );
    let hp = http.ports.stats;
    check_once(&format!("http://127.0.0.1:{hp}"), &http);
    check_once(&format!("http://127.0.0.1:{hp}/stats?x=1"), &http);

    // All at once, while one core serves a slow request: the fleet line and the request in
    // flight.
    let busy_port = tcp.ports.http;
    let slow = thread::spawn(move || try_http(busy_port, "GET", "/sleep?4", &[], b""));
    wait_stats(
        &tcp,
        p,
        Duration::from_secs(20),
        "a core in a request",
        |s| cores_sum(s, "in_request") >= 1,
    );
    let addrs = [
        format!("127.0.0.1:{p}"),
        path.clone(),
        name.clone(),
        format!("http://127.0.0.1:{hp}"),
    ];
    let args: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let (code, out, err) = top_once(&args);
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("FLEET 4 servers, 4 answering  req "), "{out}");
    for (i, addr) in addrs.iter().enumerate() {
        assert!(out.contains(&format!("[{}] {addr}  req ", i + 1)), "{out}");
    }
    assert!(
        out.lines().any(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() >= 6
                && t[0] == "1"
                && t[3] == "GET"
                && t[4] == "/sleep?4"
                && t[5] == "127.0.0.1"
        }),
        "the slow request in flight:\n{out}"
    );
    let (_, row) = worker_row(&out, worker_pids_of(&tcp)[0])
        .into_iter()
        .chain(worker_row(&out, worker_pids_of(&tcp)[1]))
        .find(|(_, r)| r[4] == "/sleep?4")
        .unwrap_or_else(|| panic!("a worker row serving /sleep?4:\n{out}"));
    assert_eq!(row[0], "1");
    let _ = slow.join();
}

/// What a stand-in stats server sends.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Bytes that are not JSON (terminal escapes included).
    Garbage,
    /// The first half of a document, then close.
    HalfDocument,
    /// A byte now and then, never closing.
    Drip,
    /// Close without a byte.
    Nothing,
    /// An HTTP 500.
    HttpError,
    /// An HTTP 200 whose chunked body is cut off.
    HttpCutChunked,
}

/// A stats server stand-in on loopback, serving every connection with `how` until dropped.
struct BadStats {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl BadStats {
    fn start(how: Misbehaviour) -> BadStats {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                        serve(&mut s, how, &stopped);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        BadStats {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(s: &mut std::net::TcpStream, how: Misbehaviour, stop: &AtomicBool) {
    let mut head = [0u8; 1024];
    match how {
        Misbehaviour::Garbage => {
            let _ = s.write_all(b"\x1b[2J\x1b[H\x00\x01garbage \xff\xfe\r\n");
        }
        Misbehaviour::HalfDocument => {
            let _ = s.write_all(br#"{"version":"2.0.31","pid":1,"workers":[{"id":1,"pid":"#);
        }
        Misbehaviour::Drip => {
            // Bounded: 10 s at most, and it stops when the test does.
            for _ in 0..50 {
                if stop.load(Ordering::Relaxed) || s.write_all(b" ").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(200));
            }
        }
        Misbehaviour::Nothing => {}
        Misbehaviour::HttpError => {
            let _ = s.read(&mut head);
            let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        }
        Misbehaviour::HttpCutChunked => {
            let _ = s.read(&mut head);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"workers\":[",
            );
        }
    }
}

impl Drop for BadStats {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn top_once_survives_garbage_half_documents_and_silence() {
    let good = start_server(None, &[], tempfile::tempdir().expect("tempdir"));
    let bad: Vec<(BadStats, String, &str)> = [
        (Misbehaviour::Garbage, false, "invalid stats JSON"),
        (
            Misbehaviour::HalfDocument,
            false,
            "invalid stats JSON: EOF while parsing",
        ),
        (Misbehaviour::Drip, false, "no complete answer within"),
        (
            Misbehaviour::Nothing,
            false,
            "connection closed without an answer",
        ),
        (Misbehaviour::HttpError, true, "HTTP status 500"),
        (
            Misbehaviour::HttpCutChunked,
            true,
            "bad HTTP answer: chunked body cut off",
        ),
    ]
    .into_iter()
    .map(|(how, http, why)| {
        let b = BadStats::start(how);
        let addr = if http {
            format!("http://{}", b.addr())
        } else {
            b.addr()
        };
        (b, addr, why)
    })
    .collect();
    let good_addr = format!("127.0.0.1:{}", good.ports.stats);
    let mut args: Vec<&str> = bad.iter().map(|(_, a, _)| a.as_str()).collect();
    args.push(&good_addr);
    let (code, out, err) = top_once(&args);
    assert_eq!(
        code,
        Some(1),
        "a server did not answer\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.contains('\u{1b}'),
        "no terminal escapes from a socket: {out:?}"
    );
    for (i, (_, addr, why)) in bad.iter().enumerate() {
        let line = format!("[{}] {addr}  NOT ANSWERING: {why}", i + 1);
        assert!(out.lines().any(|l| l.starts_with(&line)), "{line}\n{out}");
    }
    assert!(out.contains(&format!("[7] {good_addr}  req ")), "{out}");
    assert!(out.contains("FLEET 7 servers, 1 answering"), "{out}");
    for pid in worker_pids_of(&good) {
        assert!(worker_row(&out, pid).is_some(), "worker {pid}:\n{out}");
    }
}

/// Bounded background load: GETs to `ports` in turn (errors ignored: a server is killed on
/// purpose), at most `max` requests and until stopped or 90 s have passed; plus a loop of
/// 3-second requests on the first port, so one core is always busy.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start(ports: Vec<u16>, max: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut threads = Vec::new();
        let s = stop.clone();
        let slow_port = ports[0];
        threads.push(thread::spawn(move || {
            for i in 0..max {
                if s.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let _ = try_http(ports[i % ports.len()], "GET", "/", &[], b"");
                thread::sleep(Duration::from_millis(5));
            }
        }));
        let s = stop.clone();
        threads.push(thread::spawn(move || {
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                let _ = try_http(slow_port, "GET", "/sleep?3", &[], b"");
            }
        }));
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The rows' worker pids, top to bottom, of those in `pids`.
fn pid_order(screen: &str, pids: &[i32]) -> Vec<i32> {
    let mut found: Vec<(usize, i32)> = pids
        .iter()
        .filter_map(|&p| worker_row(screen, p).map(|(y, _)| (y, p)))
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

#[test]
fn top_live_view_of_two_servers_in_tmux() {
    let one = start_server(None, &[], tempfile::tempdir().expect("tempdir"));
    let two = start_server(None, &[], tempfile::tempdir().expect("tempdir"));
    let garbage = BadStats::start(Misbehaviour::Garbage);
    let (a1, a2, a3) = (
        format!("127.0.0.1:{}", one.ports.stats),
        format!("127.0.0.1:{}", two.ports.stats),
        garbage.addr(),
    );
    let pids1 = worker_pids_of(&one);
    let pids2 = worker_pids_of(&two);
    let all: Vec<i32> = pids1.iter().chain(&pids2).copied().collect();
    let load = Load::start(vec![one.ports.http, two.ports.http], 20_000);

    // After top exits, the shell reports its status and the terminal's modes.
    let shell = format!(
        "'{}' top -i 0.5 {a1} {a2} {a3}; echo \"top exited with $?\"; \
         echo \"tty: $(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')\"; \
         sleep 300",
        rwsgi_bin().display()
    );
    let tmux = Tmux::start(
        format!("rwsgi-top-{}-{}", std::process::id(), one.ports.stats),
        &shell,
    );
    let screen = |what: &str, cond: &dyn Fn(&str) -> bool| -> String {
        eventually(Duration::from_secs(40), what, || {
            let s = tmux.capture();
            if s.contains("top exited") || s.contains("panicked") {
                panic!("top ended:\n{s}");
            }
            if cond(&s) {
                Ok(s)
            } else {
                Err(s)
            }
        })
    };

    // Both servers' workers, req/s above zero, the busy core's URI, the fleet line, and the
    // garbage-sending socket as a status line.
    let s = screen("both servers under load", &|s| {
        all.iter().all(|&p| worker_row(s, p).is_some())
            && number_after(s, "FLEET", "req/s").is_some_and(|r| r > 0.0)
            && pids1
                .iter()
                .filter_map(|&p| worker_row(s, p))
                .any(|(_, row)| row[4] == "/sleep?3")
            && s.contains("FLEET 3 servers, 2 answering")
    });
    assert!(s.contains(&format!("[1] {a1}  req ")), "{s}");
    assert!(s.contains(&format!("[2] {a2}  req ")), "{s}");
    assert!(
        s.contains(&format!("[3] {a3}  NOT ANSWERING for")) && s.contains("invalid stats JSON"),
        "{s}"
    );

    // Sorting: three columns right is PID, ascending; `r` reverses.
    tmux.send_keys(&["Right", "Right", "Right"]);
    let mut ascending = all.clone();
    ascending.sort();
    screen("sorted by pid ascending", &|s| {
        s.contains("PID▲") && pid_order(s, &all) == ascending
    });
    tmux.send_keys(&["r"]);
    let descending: Vec<i32> = ascending.iter().rev().copied().collect();
    screen("sorted by pid descending", &|s| {
        s.contains("PID▼") && pid_order(s, &all) == descending
    });

    // Server two stops answering: a status line; server one keeps updating.
    drop(two);
    let s = screen("server two not answering", &|s| {
        s.contains(&format!("[2] {a2}  NOT ANSWERING for"))
            && s.contains("FLEET 3 servers, 1 answering")
    });
    assert!(pids2.iter().all(|&p| worker_row(&s, p).is_none()), "{s}");
    let before = number_after(&s, "[1]", "req").expect("server one's requests");
    screen("server one still updating", &|s| {
        number_after(s, "[1]", "req").is_some_and(|n| n > before)
    });
    drop(load);

    // `q` quits and restores the terminal: main screen, cooked mode, echo on.
    tmux.send_keys(&["q"]);
    let s = eventually(Duration::from_secs(20), "top to exit", || {
        let s = tmux.capture();
        if s.contains("tty: ") {
            Ok(s)
        } else {
            Err(s)
        }
    });
    assert!(s.contains("top exited with 0"), "{s}");
    let tty: Vec<&str> = s
        .lines()
        .find_map(|l| l.strip_prefix("tty: "))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(tty, ["icanon", "echo"], "{s}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "{s}");
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "1",
        "cursor shown again: {s}"
    );
    assert!(
        !s.contains("FLEET"),
        "the view is gone from the screen: {s}"
    );
}

/// The header's p50/p99 are the server's own: the quantiles of the stats JSON's
/// `rwsgi.latency`, shown once there were requests.
#[test]
fn top_once_shows_the_servers_latency_quantiles() {
    let server = start_server(None, &[], tempfile::tempdir().expect("tempdir"));
    for _ in 0..20 {
        assert_eq!(get(server.ports.http, "/").status, 200);
    }
    let v = stats(server.ports.stats);
    let lat = &v["rwsgi"]["latency"];
    let (p50, p99) = (
        lat["p50"].as_u64().expect("p50 after requests"),
        lat["p99"].as_u64().expect("p99 after requests"),
    );
    assert!(p50 > 0 && p50 <= p99, "{lat}");
    let addr = format!("127.0.0.1:{}", server.ports.stats);
    let (code, out, err) = top_once(&[&addr]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let want = format!(
        "  p50 {}  p99 {}",
        rwsgi_top::table::micros(p50),
        rwsgi_top::table::micros(p99)
    );
    let head = out.lines().next().unwrap_or_default();
    assert!(head.contains(&want), "{want:?} not in {head:?}");
}
