//! Request bodies and forwarded headers (issue 10, part B): a malformed body is the client's
//! fault (400, no app exception), memory follows the body bytes that arrived, an unread body is
//! drained after the response so the client sees it, `--post-buffering` reads bodies in the
//! event loop, and `X-Forwarded-Proto` is honoured from trusted peers only.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn bodies_app() -> Vec<String> {
    vec![
        "--wsgi-file".into(),
        apps_dir().join("bodies_app.py").display().to_string(),
    ]
}

/// One worker with one core: whatever holds it up holds up every request.
fn one_core(extra: &[&str]) -> WsgiServer {
    let mut args = bodies_app();
    args.extend(["--processes", "1"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    WsgiServer::start(&args, 1)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn read_response(s: &mut TcpStream, srv: &WsgiServer) -> Response {
    read_http_response(s)
        .unwrap_or_else(|e| panic!("no response: {e}\n{}", srv.server.log()))
        .0
}

/// A line of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`: reported in kB).
fn proc_status_bytes(pid: u64, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kb * 1024
}

// ---------------------------------------------------------------------------------------------
// Row 10: a malformed chunk while the app reads

#[test]
fn a_bad_chunk_size_while_the_app_reads_is_a_400_and_not_an_app_exception() {
    let srv = one_core(&[]);
    let mut s = connect(srv.http);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, &srv);
    assert_eq!(r.status, 400, "{r:?}\n{}", srv.server.log());
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "nothing after the 400: {rest:?}");

    let st =
        srv.wait_stats(|s| cores_sum(s, "read_errors") >= 1 && cores_sum(s, "in_request") == 0);
    assert_eq!(worker_field(&st, "exceptions"), vec![0], "{st:#}");
    assert_eq!(st["workers"][0]["apps"][0]["exceptions"], 0, "{st:#}");
    assert!(
        !srv.server.log().contains("Traceback"),
        "the client's fault is no app traceback:\n{}",
        srv.server.log()
    );
    // The worker serves on, and a well-formed chunked body still reaches the app.
    let mut s = connect(srv.http);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, &srv);
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
}

// ---------------------------------------------------------------------------------------------
// Row 12: a Content-Length the client does not send

#[test]
fn a_claimed_content_length_allocates_only_what_arrived() {
    let srv = one_core(&[]);
    let pid = worker_pids(&stats(srv.stats))[0];
    // Warm the worker up (first request, environ caches) before the baseline.
    for _ in 0..3 {
        assert_eq!(get(srv.http, "/echo").status, 200);
    }
    let rss_before = proc_status_bytes(pid, "VmRSS");
    let peak_before = proc_status_bytes(pid, "VmHWM");

    let mut s = connect(srv.http);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n0123456789")
        .unwrap();
    // The app is in wsgi.input.read(), waiting for a GiB that never comes.
    srv.wait_stats(|s| cores_sum(s, "in_request") == 1);
    std::thread::sleep(Duration::from_millis(300));
    let rss_during = proc_status_bytes(pid, "VmRSS");
    drop(s);
    srv.wait_stats(|s| cores_sum(s, "in_request") == 0 && cores_sum(s, "read_errors") >= 1);
    // The high-water mark catches any allocation made and freed while the request ran.
    let peak_after = proc_status_bytes(pid, "VmHWM");

    const LIMIT: u64 = 16 << 20;
    assert!(
        rss_during.saturating_sub(rss_before) < LIMIT,
        "VmRSS grew from {rss_before} to {rss_during}"
    );
    assert!(
        peak_after.saturating_sub(peak_before) < LIMIT,
        "VmHWM grew from {peak_before} to {peak_after}"
    );
    // A cut-off body is the client's fault, not the app's.
    assert_eq!(worker_field(&stats(srv.stats), "exceptions"), vec![0]);
    assert_eq!(get(srv.http, "/pid").text(), pid.to_string());
}

#[test]
fn a_large_body_read_at_once_arrives_byte_exact() {
    // Larger than the size read straight into its final buffer: the growing path.
    let srv = one_core(&[]);
    let body: Vec<u8> = (0..9 * 1024 * 1024 + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut s = connect(srv.http);
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut writer = s.try_clone().unwrap();
    let sent = body.clone();
    let t = std::thread::spawn(move || {
        for piece in sent.chunks(256 * 1024) {
            writer.write_all(piece).unwrap();
        }
    });
    let r = read_response(&mut s, &srv);
    t.join().unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == body, "echo differs ({} bytes back)", r.body.len());
}

// ---------------------------------------------------------------------------------------------
// Row 13: a response before the body was read

/// Sends a head and half the body, reads the response, sends the second half 0.3 s later.
/// Returns the response and the connection.
fn half_body_then_rest(
    srv: &WsgiServer,
    head: &str,
    first: &[u8],
    rest: &[u8],
) -> (Response, TcpStream) {
    let mut s = connect(srv.http);
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The server may have answered and closed already; the client goes on like curl does.
    let _ = s.write_all(rest);
    let r = read_http_response(&mut s)
        .unwrap_or_else(|e| {
            panic!(
                "the client never saw the response: {e}\n{}",
                srv.server.log()
            )
        })
        .0;
    (r, s)
}

/// After `r` on `s`: another request on the same connection succeeds, or `r` said
/// `Connection: close` and the server then closed without resetting.
fn next_request_works_or_close_was_said(srv: &WsgiServer, r: &Response, mut s: TcpStream) {
    if r.header("connection") == Some("close") {
        let mut rest = Vec::new();
        let read = s.read_to_end(&mut rest);
        assert!(
            read.is_ok(),
            "closed with a reset after Connection: close: {read:?}"
        );
        assert!(rest.is_empty(), "{rest:?}");
        return;
    }
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let next = read_response(&mut s, srv);
    assert_eq!(next.status, 200, "{next:?}");
    assert!(next.text().ends_with(" ok"), "{next:?}");
}

#[test]
fn a_401_before_the_body_reaches_the_client_and_the_connection_stays_usable() {
    let srv = one_core(&[]);
    let body = vec![b'x'; 2000];
    let head = format!(
        "POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (r, s) = half_body_then_rest(&srv, &head, &body[..1000], &body[1000..]);
    assert_eq!((r.status, r.text().as_str()), (401, "no entry"));
    // A small unread rest is drained: the connection is kept.
    assert_eq!(r.header("connection"), None, "{r:?}");
    next_request_works_or_close_was_said(&srv, &r, s);

    // A chunked body with an unknown rest: Connection: close, and a graceful close.
    let head = "POST /reject HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (r, s) = half_body_then_rest(
        &srv,
        head,
        b"a\r\n0123456789\r\n",
        b"5\r\nabcde\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    next_request_works_or_close_was_said(&srv, &r, s);

    // HTTP/1.0 without keep-alive: the response closes, still gracefully.
    let head = format!(
        "POST /reject HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (r, s) = half_body_then_rest(&srv, &head, &body[..1000], &body[1000..]);
    assert_eq!(r.status, 401);
    next_request_works_or_close_was_said(&srv, &r, s);
    assert_eq!(worker_field(&stats(srv.stats), "exceptions"), vec![0]);
}

#[test]
fn a_large_unread_body_gets_connection_close_and_the_response_still_arrives() {
    let srv = one_core(&[]);
    let total = 8 << 20;
    let mut s = connect(srv.http);
    s.write_all(
        format!("POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    s.write_all(&vec![b'y'; 64 * 1024]).unwrap();
    // Keep sending, as a client streaming an upload does, while the response is read.
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let piece = vec![b'y'; 64 * 1024];
        for _ in 0..32 {
            if writer.write_all(&piece).is_err() {
                break;
            }
        }
    });
    let r = read_response(&mut s, &srv);
    t.join().unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "more than the drain limit was still to come: {r:?}"
    );
    assert_eq!(get(srv.http, "/pid").status, 200);
}

#[test]
fn flask_abort_401_reaches_the_client_before_its_body_is_sent() {
    let srv = WsgiServer::start(
        &[
            "--wsgi-file",
            &apps_dir().join("flask_bodies.py").display().to_string(),
            "--processes",
            "1",
        ],
        1,
    );
    let body = b"user=alice&password=".repeat(100);
    let half = body.len() / 2;
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for _ in 0..3 {
        let (r, s) = half_body_then_rest(&srv, &head, &body[..half], &body[half..]);
        assert_eq!(r.status, 401, "{r:?}\n{}", srv.server.log());
        assert!(
            r.text().contains("Unauthorized"),
            "Flask's own 401 page: {}",
            r.text()
        );
        next_request_works_or_close_was_said(&srv, &r, s);
    }
    // Over the uwsgi protocol (nginx in front): the 401 and a clean end of the stream.
    let mut u = TcpStream::connect(("127.0.0.1", srv.uwsgi)).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let len = body.len().to_string();
    let vars: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"POST"),
        (b"PATH_INFO", b"/login"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"SERVER_NAME", b"x"),
        (b"SERVER_PORT", b"80"),
        (b"CONTENT_TYPE", b"application/x-www-form-urlencoded"),
        (b"CONTENT_LENGTH", len.as_bytes()),
    ];
    u.write_all(&uwsgi_packet(&vars, &body[..half])).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = u.write_all(&body[half..]);
    let mut raw = Vec::new();
    let read = u.read_to_end(&mut raw);
    assert!(read.is_ok(), "uwsgi peer got a reset: {read:?}");
    assert_eq!(
        parse_response(&raw).status,
        401,
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

// ---------------------------------------------------------------------------------------------
// --post-buffering

/// Starts `n` clients that each send a head and part of a `len`-byte body, then stall.
fn stalled_clients(port: u16, path: &str, n: usize, len: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = connect(port);
            s.write_all(
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
            s.write_all(&body_of(i, len)[..len / 4]).unwrap();
            s
        })
        .collect()
}

fn body_of(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect()
}

#[test]
fn post_buffering_keeps_a_one_core_server_answering_while_32_clients_trickle_bodies() {
    let srv = one_core(&["--post-buffering", "65536"]);
    let len = 4000;
    let mut clients = stalled_clients(srv.http, "/echo", 32, len);
    // A normal request is answered while every body is still incomplete (without the option
    // each stalled body would hold the only core for its 30 s socket timeout).
    let mut s = connect(srv.http);
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, &srv);
    assert_eq!(r.status, 200, "{}", srv.server.log());
    // The worker marks the request done just after writing its response, so wait for that;
    // a trickling body in the app would hold the core's in_request at 1 until the timeout.
    wait_stats(
        &srv.server,
        srv.stats,
        Duration::from_secs(10),
        "no trickling body in the app",
        |st| cores_sum(st, "in_request") == 0,
    );

    // The trickled bodies reach the app whole, in a few more pieces each.
    for (i, s) in clients.iter_mut().enumerate() {
        let body = body_of(i, len);
        for piece in body[len / 4..].chunks(len / 3) {
            s.write_all(piece).unwrap();
        }
    }
    for (i, mut s) in clients.into_iter().enumerate() {
        let r = read_response(&mut s, &srv);
        assert_eq!(r.status, 200);
        assert!(r.body == body_of(i, len), "client {i}: {:?}", r.text());
    }
}

#[test]
fn without_post_buffering_a_stalled_body_holds_the_only_core_until_it_times_out() {
    // The contrast that gives the test above its meaning; the stalled client's timeout is
    // answered for the client's fault (408), not as an app exception.
    let srv = one_core(&["--socket-timeout", "2"]);
    let mut stalled = stalled_clients(srv.http, "/echo", 1, 4000).remove(0);
    srv.wait_stats(|s| cores_sum(s, "in_request") == 1);
    let r = try_http(srv.http, "GET", "/pid", &[], b"").expect("answered eventually");
    assert_eq!(r.status, 200);
    // By the time the GET was served, the stalled request had been answered: it held the core.
    stalled.set_nonblocking(true).unwrap();
    let mut got = vec![0u8; 4096];
    let n = stalled
        .read(&mut got)
        .expect("the stalled client's answer is already there");
    let r = parse_response(&got[..n]);
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(worker_field(&stats(srv.stats), "exceptions"), vec![0]);
}

#[test]
fn post_buffering_spools_large_bodies_to_a_file_and_wsgi_input_reads_them_the_same() {
    let srv = one_core(&[
        "--post-buffering",
        "1024",
        "--post-buffering-bufsize",
        "4096",
    ]);
    let body: Vec<u8> = (0..300_000u32)
        .flat_map(|i| {
            if i % 61 == 60 {
                vec![b'\n']
            } else {
                vec![b'0' + (i % 10) as u8]
            }
        })
        .collect();
    for (path, pieces) in [("/echo", 7), ("/pieces", 3), ("/echo", 1)] {
        let mut s = connect(srv.http);
        s.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        let interim = read_response(&mut s, &srv);
        assert_eq!(interim.status, 100, "{interim:?}");
        for piece in body.chunks(body.len() / pieces + 1) {
            s.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = read_response(&mut s, &srv);
        assert_eq!(r.status, 200, "{path}: {}", srv.server.log());
        assert!(r.body == body, "{path}: {} bytes back", r.body.len());
        // Kept alive: the next request on the connection is served.
        s.write_all(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut s, &srv).status, 200);
    }
    // Small bodies (in memory) and the uwsgi protocol too.
    let r = uwsgi_call(srv.uwsgi, "POST", "/echo", "", &[], b"small body");
    assert_eq!(r.text(), "small body");
    let r = uwsgi_call(srv.uwsgi, "POST", "/echo", "", &[], &body);
    assert!(r.body == body, "uwsgi spooled: {} bytes", r.body.len());
}

#[test]
fn post_buffering_drops_a_client_that_disconnects_before_its_body_is_complete() {
    let srv = one_core(&["--post-buffering", "65536"]);
    let served_before = worker_field(&stats(srv.stats), "requests");
    let clients = stalled_clients(srv.http, "/echo", 4, 4000);
    drop(clients);
    let st = srv.wait_stats(|s| cores_sum(s, "read_errors") >= 4);
    assert_eq!(
        worker_field(&st, "requests"),
        served_before,
        "no cut-off body reached the app: {st:#}"
    );
    assert_eq!(get(srv.http, "/pid").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Forwarded headers

fn scheme_over_http(port: u16, headers: &[(&str, &str)]) -> String {
    let r = try_http(port, "GET", "/scheme", headers, b"").expect("scheme");
    assert_eq!(r.status, 200, "{r:?}");
    r.text()
}

fn scheme_over_uwsgi(port: u16, extra: &[(&str, &[u8])]) -> String {
    uwsgi_call(port, "GET", "/scheme", "", extra, b"").text()
}

#[test]
fn forwarded_proto_from_a_loopback_peer_is_trusted_by_default() {
    let srv = one_core(&[]);
    let h = srv.http;
    assert_eq!(scheme_over_http(h, &[]), "http");
    assert_eq!(
        scheme_over_http(h, &[("X-Forwarded-Proto", "https")]),
        "https"
    );
    assert_eq!(scheme_over_http(h, &[("X-Forwarded-Ssl", "on")]), "https");
    assert_eq!(scheme_over_http(h, &[("X-Scheme", "https")]), "https");
    assert_eq!(
        scheme_over_http(h, &[("X-Forwarded-Proto", "http")]),
        "http"
    );
    assert_eq!(
        scheme_over_http(
            h,
            &[("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")]
        ),
        "http",
        "conflicting headers are not believed"
    );
    // Over uwsgi the peer is nginx (loopback here): its forwarded var counts...
    let u = srv.uwsgi;
    assert_eq!(scheme_over_uwsgi(u, &[]), "http");
    assert_eq!(
        scheme_over_uwsgi(u, &[("HTTP_X_FORWARDED_PROTO", b"https")]),
        "https"
    );
    // nginx behind a TLS load balancer: its own REQUEST_SCHEME is http, the LB's header wins.
    assert_eq!(
        scheme_over_uwsgi(
            u,
            &[
                ("REQUEST_SCHEME", b"http"),
                ("HTTP_X_FORWARDED_PROTO", b"https")
            ]
        ),
        "https"
    );
    // ... but nginx's own UWSGI_SCHEME says what it knows and wins.
    assert_eq!(
        scheme_over_uwsgi(
            u,
            &[
                ("HTTP_X_FORWARDED_PROTO", b"https"),
                ("UWSGI_SCHEME", b"http")
            ]
        ),
        "http"
    );
    // REMOTE_ADDR names the client, not the peer: it does not matter for trust.
    assert_eq!(
        scheme_over_uwsgi(
            u,
            &[
                ("HTTP_X_FORWARDED_PROTO", b"https"),
                ("REMOTE_ADDR", b"203.0.113.7")
            ]
        ),
        "https"
    );
}

#[test]
fn forwarded_proto_from_an_untrusted_peer_is_ignored() {
    let sock = tempfile::tempdir().unwrap();
    let unix = sock.path().join("u.sock");
    let srv = one_core(&[
        "--forwarded-allow-ips",
        "192.0.2.0/24, 2001:db8::1",
        "--socket",
        &unix.display().to_string(),
    ]);
    for headers in [
        &[("X-Forwarded-Proto", "https")][..],
        &[("X-Forwarded-Ssl", "on")],
        &[("X-Scheme", "https")],
    ] {
        assert_eq!(scheme_over_http(srv.http, headers), "http", "{headers:?}");
    }
    assert_eq!(
        scheme_over_uwsgi(srv.uwsgi, &[("HTTP_X_FORWARDED_PROTO", b"https")]),
        "http"
    );
    // A UNIX-socket peer (nginx on this host) is trusted whatever the list says.
    let packet = uwsgi_packet(
        &[
            (b"REQUEST_METHOD", b"GET"),
            (b"PATH_INFO", b"/scheme"),
            (b"SERVER_PROTOCOL", b"HTTP/1.1"),
            (b"HTTP_X_FORWARDED_PROTO", b"https"),
        ],
        b"",
    );
    let mut u = std::os::unix::net::UnixStream::connect(&unix).expect("unix socket");
    u.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    u.write_all(&packet).unwrap();
    let mut raw = Vec::new();
    u.read_to_end(&mut raw).unwrap();
    assert_eq!(parse_response(&raw).text(), "https");
}

#[test]
fn flask_sees_https_from_a_trusted_proxy_and_builds_https_urls() {
    // `*` (uWSGI's trust-everyone) is accepted; that it trusts any address is unit-tested in
    // rwsgi-config, as a test on loopback cannot be another peer.
    let srv = WsgiServer::start(
        &[
            "--wsgi-file",
            &apps_dir().join("flask_bodies.py").display().to_string(),
            "--processes",
            "1",
            "--forwarded-allow-ips",
            "*",
        ],
        1,
    );
    assert_eq!(
        scheme_over_http(srv.http, &[("X-Forwarded-Proto", "https")]),
        "https"
    );
    assert_eq!(scheme_over_http(srv.http, &[]), "http");
    // What the issue saw behind a TLS proxy: url_for(_external=True) now says https.
    let r = try_http(
        srv.http,
        "GET",
        "/external",
        &[("X-Forwarded-Proto", "https")],
        b"",
    )
    .unwrap();
    assert!(r.text().starts_with("https://"), "{}", r.text());
}
