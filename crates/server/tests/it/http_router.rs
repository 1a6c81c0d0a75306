//! uWSGI's HTTP-router options on rwsgi's HTTP sockets (issue 11), from the ini files under
//! `tests/configs/` (`http_router.ini`, `http_timeout.ini`, `http_keepalive.ini`):
//! `http-timeout` (and that it wins over `socket-timeout`), `http-keepalive`,
//! `http-auto-chunked`, the PROXY protocol (`http-enable-proxy-protocol`), `no-defer-accept`
//! and `limit-post`. Each test checks what the option did to connections and requests.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Starts rwsgi on corpus config `name` ([`Rwsgi::corpus_ini`]); waits until the HTTP socket
/// answers.
fn start(name: &str) -> Server {
    let server = Rwsgi::new().corpus_ini(name).start();
    server.wait_http_ready(server.ports.http, 1);
    server
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}

/// One request on a kept-alive connection; the response must keep it.
fn keepalive_get(s: &mut TcpStream, path: &str, server: &Server) -> Response {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .expect("send");
    let (r, closed) =
        read_http_response(s).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    assert!(
        !closed && r.header("Connection").is_none(),
        "kept alive: {r:?}"
    );
    r
}

/// Blocks until the server closes `s` (EOF or reset); returns how long that took.
fn time_to_close(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

/// `/environ` after `prefix` (a PROXY header, or nothing) on a new connection, as JSON;
/// the connection is kept for a second request, which must see the same client.
fn environ_after(port: u16, prefix: &[u8], server: &Server) -> serde_json::Value {
    let mut s = connect(port);
    s.write_all(prefix).expect("send the header");
    let first = json(&keepalive_get(&mut s, "/environ", server));
    let second = json(&keepalive_get(&mut s, "/environ", server));
    assert_eq!(first, second, "the header speaks for the whole connection");
    first
}

fn v2(command: u8, family: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[0x20 | command, family]);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn proxy_protocol_v1_and_v2_set_remote_addr_and_the_log_line() {
    let server = start("http_router.ini");
    let port = server.ports.http;

    let env = environ_after(
        port,
        b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n",
        &server,
    );
    assert_eq!(env["REMOTE_ADDR"], "203.0.113.7");
    assert_eq!(env["REMOTE_PORT"], "56324");
    // The request log names the client the header carried.
    server.wait_log(Duration::from_secs(10), |l| {
        l.lines()
            .any(|line| line.contains("203.0.113.7") && line.contains("GET /environ"))
    });

    // The stats show the proxied client in the request's vars while it runs.
    let flag = server.dir.path().join("release");
    let mut held = connect(port);
    held.set_nodelay(true).unwrap();
    // In two writes: the header may arrive in pieces.
    held.write_all(b"PROXY TCP4 198.51.100.77 192.0").unwrap();
    held.write_all(
        format!(
            ".2.1 1234 80\r\nGET /hold?{} HTTP/1.1\r\nHost: x\r\n\r\n",
            flag.display()
        )
        .as_bytes(),
    )
    .unwrap();
    eventually(
        Duration::from_secs(10),
        "REMOTE_ADDR in the stats' vars",
        || {
            let doc = try_stats(server.ports.stats)?;
            let text = doc.to_string();
            if text.contains("REMOTE_ADDR=198.51.100.77") && text.contains("REMOTE_PORT=1234") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    std::fs::write(&flag, b"").unwrap();
    let (r, _) = read_http_response(&mut held).expect("the held response");
    assert_eq!(r.status, 200);

    let env = environ_after(port, b"PROXY TCP6 2001:db8::42 ::1 4242 80\r\n", &server);
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("2001:db8::42"), Some("4242"))
    );

    // v2, TCP over IPv4 with a TLV after the addresses.
    let mut p = vec![198, 51, 100, 9, 127, 0, 0, 1];
    p.extend_from_slice(&40001u16.to_be_bytes());
    p.extend_from_slice(&8000u16.to_be_bytes());
    p.extend_from_slice(&[0x04, 0x00, 0x02, b'o', b'k']);
    let env = environ_after(port, &v2(1, 0x11, &p), &server);
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("198.51.100.9"), Some("40001"))
    );

    // v2 over IPv6.
    let mut p = Vec::new();
    p.extend_from_slice(
        &"2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    p.extend_from_slice(&[0x9c, 0x40, 0x1f, 0x40]);
    let env = environ_after(port, &v2(1, 0x21, &p), &server);
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("2001:db8::7"), Some("40000"))
    );

    // LOCAL (a balancer's health check), UNSPEC and UNIX families, v1 UNKNOWN and no header
    // at all: the socket's peer stays the client.
    for prefix in [
        v2(0, 0x11, &[9; 12]),
        v2(1, 0x00, &[]),
        v2(1, 0x31, &[0; 216]),
        b"PROXY UNKNOWN\r\n".to_vec(),
        Vec::new(),
    ] {
        let env = environ_after(port, &prefix, &server);
        assert_eq!(env["REMOTE_ADDR"], "127.0.0.1", "{prefix:?}");
    }
}

#[test]
fn a_malformed_proxy_header_gets_400_and_the_worker_lives_on() {
    let server = start("http_router.ini");
    let port = server.ports.http;
    let before = json(&get(port, "/calls"))["calls"].as_u64().unwrap();
    let mut oversized = v2(1, 0x11, &[]);
    oversized[14..16].copy_from_slice(&60000u16.to_be_bytes());
    for bad in [
        b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"PROXY TCP4 ::1 ::1 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 200]].concat(),
        oversized,
        v2(7, 0x11, &[0; 12]),
    ] {
        let raw = raw_exchange(port, &bad).expect("exchange");
        let r = parse_response(&raw);
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(&bad),
            String::from_utf8_lossy(&raw)
        );
    }
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("bad PROXY header from 127.0.0.1")
    });
    // No app call was made for them, and the same worker still serves.
    let after = json(&get(port, "/calls"))["calls"].as_u64().unwrap();
    assert_eq!(after, before + 1, "{}", server.log());
}

#[test]
fn auto_chunked_and_keepalive_on_the_router_config() {
    let server = start("http_router.ini");
    let mut s = connect(server.ports.http);
    for _ in 0..3 {
        let r = keepalive_get(&mut s, "/stream", &server);
        assert_eq!(r.header("Transfer-Encoding"), Some("chunked"), "{r:?}");
        assert_eq!(r.body, b"first second third");
    }
}

#[test]
fn limit_post_refuses_long_bodies_with_413_before_the_app() {
    let server = start("http_router.ini");
    let port = server.ports.http;
    let calls = |server: &Server| {
        json(
            &try_http(port, "GET", "/calls", &[], b"")
                .unwrap_or_else(|e| panic!("{e}\n{}", server.log())),
        )["calls"]
            .as_u64()
            .unwrap()
    };
    let before = calls(&server);
    // At the limit: the app reads it all.
    let r = try_http(port, "POST", "/echo", &[], &[b'a'; 4096]).expect("POST");
    assert_eq!((r.status, json(&r)["read"].as_u64()), (200, Some(4096)));
    // One byte over: 413, body sent along or not, and the app never runs.
    let r = try_http(port, "POST", "/echo", &[], &[b'a'; 4097]).expect("POST");
    assert_eq!(r.status, 413, "{}", server.log());
    let mut s = connect(port);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
        .unwrap();
    let (r, _) = read_http_response(&mut s).expect("413 at once, with no body sent");
    assert_eq!((r.status, r.header("Connection")), (413, Some("close")));
    assert_eq!(
        calls(&server),
        before + 2,
        "only /echo at the limit and the /calls ran"
    );
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("over limit-post (4096 bytes): 413")
    });

    // Chunked: cut with 413 once the decoded body passes the limit; under it, read whole.
    let chunked = |total: usize| {
        let mut req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for _ in 0..total / 1000 {
            req.extend_from_slice(b"3e8\r\n");
            req.extend_from_slice(&[b'c'; 1000]);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        parse_response(&raw_exchange(port, &req).expect("exchange"))
    };
    let r = chunked(4000);
    assert_eq!((r.status, json(&r)["read"].as_u64()), (200, Some(4000)));
    let r = chunked(6000);
    assert_eq!(r.status, 413, "{}", server.log());
    let r = get(port, "/calls");
    assert_eq!(r.status, 200, "the worker lives on");
}

#[test]
fn http_timeout_wins_over_socket_timeout_for_idle_and_stalled_clients() {
    // http-timeout = 2 with socket-timeout = 60: the HTTP socket's clients get 2 s.
    let server = start("http_timeout.ini");
    let port = server.ports.http;
    let mut idle = connect(port);
    keepalive_get(&mut idle, "/environ", &server);
    let mut stalled = connect(port);
    stalled.write_all(b"GET /environ HTTP/1.1\r\nHo").unwrap();
    let (idle_after, stalled_after) = (time_to_close(&mut idle), time_to_close(&mut stalled));
    for (what, t) in [("idle", idle_after), ("stalled", stalled_after)] {
        // The sweep runs once a second: closed after 2 s and well before 60 s (or 10 s).
        assert!(t < Duration::from_secs(6), "{what} closed after {t:?}");
    }
    assert!(
        idle_after + stalled_after >= Duration::from_millis(1500),
        "not before 2 s: {idle_after:?}"
    );
}

#[test]
fn http_keepalive_n_bounds_the_idle_time_between_requests_only() {
    // http-keepalive = 3 with http-timeout = 30: an idle kept-alive connection is closed after
    // about 3 s, while a client in the middle of its head still has 30 s.
    let server = start("http_keepalive.ini");
    let port = server.ports.http;
    let mut idle = connect(port);
    keepalive_get(&mut idle, "/environ", &server);
    let mut slow = connect(port);
    slow.write_all(b"GET /environ HTTP/1.1\r\n").unwrap();
    let t = time_to_close(&mut idle);
    assert!(
        t >= Duration::from_millis(2500) && t < Duration::from_secs(8),
        "idle closed after {t:?}"
    );
    slow.write_all(b"Host: x\r\n\r\n").unwrap();
    let (r, _) = read_http_response(&mut slow)
        .unwrap_or_else(|e| panic!("the slow head was cut: {e}\n{}", server.log()));
    assert_eq!(r.status, 200);
}

/// The pid of the server's one worker.
fn only_worker(server: &Server) -> u64 {
    match children_of(server.pid()).as_slice() {
        [(pid, _)] => *pid as u64,
        other => panic!("expected one worker, found {other:?}\n{}", server.log()),
    }
}

/// The sockets a process has open (entries of /proc/PID/fd that are sockets).
fn open_sockets(pid: u64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The state (`/proc/net/tcp`'s hex code) of the server's side of the connection from local
/// port `client` to `server`, if the kernel lists it.
fn server_side_state(server: u16, client: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
        (port(f.get(1)?)? == server && port(f.get(2)?)? == client).then(|| f[3].to_string())
    })
}

#[test]
fn no_defer_accept_lets_a_silent_client_in_at_once_and_the_timeout_then_closes_it() {
    let server = start("http_timeout.ini");
    let port = server.ports.http;
    let worker = only_worker(&server);
    let base = open_sockets(worker);
    let mut silent = connect(port);
    wait_for(
        Duration::from_secs(5),
        "the worker accepting the silent client",
        || open_sockets(worker) == base + 1,
    );
    // Accepted, it is then subject to the HTTP timeout (2 s) like any client.
    let t = time_to_close(&mut silent);
    assert!(t < Duration::from_secs(6), "closed after {t:?}");
    drop(silent);

    // Without --no-defer-accept (the default), the kernel holds the silent client back: the
    // server side of its connection waits in SYN_RECV and the worker has nothing to accept.
    let deferred = Rwsgi::new().http().test_app("http_router_app").start();
    let dport = deferred.ports.http;
    deferred.wait_http_ready(dport, 1);
    let dworker = only_worker(&deferred);
    let dbase = open_sockets(dworker);
    let held = connect(dport);
    let client_port = held.local_addr().unwrap().port();
    eventually(
        Duration::from_secs(5),
        "the held connection in /proc/net/tcp",
        || match server_side_state(dport, client_port) {
            Some(state) if state == "03" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    // A request on another connection goes round the worker's loop; the held one stays out.
    assert_eq!(get(dport, "/calls").status, 200);
    assert_eq!(open_sockets(dworker), dbase, "{}", deferred.log());
}

#[test]
fn limit_post_holds_on_uwsgi_sockets_too_and_http_timeout_does_not_reach_them() {
    // As uWSGI checks CONTENT_LENGTH for every protocol. The PROXY header is for HTTP sockets
    // only: a uwsgi packet is never read as one.
    let server = Rwsgi::new()
        .uwsgi()
        .test_app("http_router_app")
        .args([
            "--limit-post",
            "100",
            "--enable-proxy-protocol",
            "--http-timeout",
            "1",
        ])
        .start();
    let port = server.ports.uwsgi;
    wait_uwsgi_ready(&server, port, "/calls");
    let r = try_uwsgi(port, "POST", "/echo", &[b'u'; 100]).expect("uwsgi");
    assert_eq!((r.status, json(&r)["read"].as_u64()), (200, Some(100)));
    let r = try_uwsgi(port, "POST", "/echo", &[b'u'; 101]).expect("uwsgi");
    assert_eq!(r.status, 413, "{}", server.log());
    // A uwsgi client in the middle of its packet keeps --socket-timeout's 10 s, not the 1 s
    // of --http-timeout: still served after the HTTP timeout (and a sweep) has passed.
    let packet = uwsgi_str_packet(
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/calls"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
        ],
        b"",
    );
    let mut s = connect(port);
    s.write_all(&packet[..3]).unwrap();
    let waited = Instant::now();
    // The first byte lets the connection in; it must still be open 2.5 s later.
    s.set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = s.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "closed after {:?}: {early:?}",
        waited.elapsed()
    );
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&packet[3..]).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert_eq!(parse_response(&raw).status, 200, "{}", server.log());
}
