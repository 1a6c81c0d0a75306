//! `start_response` semantics (exc_info, bad arguments) and app exceptions: what the client
//! gets, what is logged, what the stats count, and that the worker keeps serving.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

fn exceptions(s: &Value) -> (u64, u64) {
    let w = &s["workers"][0];
    (
        w["exceptions"].as_u64().unwrap_or(u64::MAX),
        w["apps"][0]["exceptions"].as_u64().unwrap_or(u64::MAX),
    )
}

fn one_worker() -> WsgiServer {
    WsgiServer::start(
        &[conformance_app(), vec!["--processes".into(), "1".into()]].concat(),
        1,
    )
}

#[test]
fn exc_info_before_headers_replaces_the_response() {
    let srv = one_worker();
    let r = get(srv.http, "/exc_info_before");
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(r.text(), "custom error body");
    assert_eq!(
        r.header("x-first"),
        None,
        "the first start_response's headers leaked"
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // The app handled it: not an exception of the server's.
    let s = stats(srv.stats);
    assert_eq!(exceptions(&s), (0, 0), "{s:#}");
}

#[test]
fn exc_info_after_headers_reraises() {
    let srv = one_worker();
    let r = get(srv.http, "/exc_info_after?tag=late");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "part1;part2");
    let rec = wait_file(
        &srv.dir().join("exc_info_after"),
        Duration::from_secs(20),
        |t| !t.is_empty(),
    );
    assert_eq!(rec.trim(), "reraised same");
}

#[test]
fn bad_start_response_arguments_give_500_and_count() {
    let srv = one_worker();
    for (i, path) in ["/bad_status", "/bad_header_value", "/bad_header_newline"]
        .into_iter()
        .enumerate()
    {
        let raw = raw_exchange(
            srv.http,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .expect("exchange");
        let r = parse_response(&raw);
        assert_eq!(r.status, 500, "{path}: {r:?}");
        assert!(!r.text().contains("accepted"), "{path}: app body sent");
        assert_eq!(r.header("x-injected"), None, "{path}: header injection");
        assert_eq!(r.header("x-bad"), None, "{path}");
        let n = i as u64 + 1;
        srv.wait_stats(|s| exceptions(s) == (n, n));
    }
    let log = srv.server.log();
    assert!(log.contains("TypeError"), "{log}");
    // Still serving.
    assert_eq!(get(srv.http, "/list").text(), "one,two,three");
}

#[test]
fn exception_before_start_response() {
    let srv = one_worker();
    let r = get(srv.http, "/raise_before?tag=EARLY-42");
    assert_eq!(r.status, 500);
    assert!(
        !r.text().contains("EARLY-42"),
        "traceback leaked to the client"
    );
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("Traceback (most recent call last)")
            && l.contains("RuntimeError: boom before start_response EARLY-42")
    });
    srv.wait_stats(|s| exceptions(s) == (1, 1));

    // Over the uwsgi protocol as well.
    let r = uwsgi_call(srv.uwsgi, "GET", "/raise_before", "tag=EARLY-43", &[], b"");
    assert_eq!(r.status, 500);
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("RuntimeError: boom before start_response EARLY-43")
    });
    let s = srv.wait_stats(|s| exceptions(s) == (2, 2));
    assert!(
        s["workers"][0]["requests"].as_u64().unwrap_or(0) >= 2,
        "{s:#}"
    );

    assert_eq!(get(srv.http, "/list").text(), "one,two,three");
}

#[test]
fn exception_after_headers_cuts_the_response() {
    let srv = one_worker();

    // Keep-alive HTTP/1.1 (chunked): the server must close the connection without the final
    // chunk, or the client would take the truncated body as complete (or wait forever).
    let mut s = TcpStream::connect(("127.0.0.1", srv.http)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /raise_mid?tag=MID-1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("the server closes the connection");
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("partial-body;"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "terminating chunk sent: {text:?}"
    );
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("Traceback (most recent call last)")
            && l.contains("RuntimeError: boom mid-stream MID-1")
    });
    srv.wait_stats(|s| exceptions(s) == (1, 1));

    // Same over the uwsgi protocol.
    let raw = uwsgi_request(
        srv.uwsgi,
        &[
            (b"REQUEST_METHOD", b"GET"),
            (b"PATH_INFO", b"/raise_mid"),
            (b"QUERY_STRING", b"tag=MID-2"),
            (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        ],
        b"",
    )
    .expect("uwsgi exchange");
    assert!(String::from_utf8_lossy(&raw).contains("partial-body;"));
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("boom mid-stream MID-2")
    });
    srv.wait_stats(|s| exceptions(s) == (2, 2));

    // The worker keeps serving, on new and keep-alive connections.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /list HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (r, _) = read_http_response(&mut s).expect("response");
        assert_eq!(r.text(), "one,two,three");
    }
    let s = stats(srv.stats);
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(1));
}

#[test]
fn exception_in_close_after_a_complete_body() {
    let srv = one_worker();
    // The body was fully produced; close() raising must not truncate the response (a chunked
    // response without its last chunk is an error for the client).
    let mut s = TcpStream::connect(("127.0.0.1", srv.http)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /close_raises?tag=CR-1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (r, _) = read_http_response(&mut s).expect("a complete response");
    assert_eq!((r.status, r.text().as_str()), (200, "complete,body"));
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("Traceback (most recent call last)")
            && l.contains("ValueError: close() failed CR-1")
    });
    srv.wait_stats(|s| exceptions(s) == (1, 1));

    let r = get(srv.http, "/close_raises?tag=CR-2");
    assert_eq!((r.status, r.text().as_str()), (200, "complete,body"));
    assert_eq!(get(srv.http, "/list").text(), "one,two,three");
}
