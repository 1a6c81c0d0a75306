//! Responses (PEP 3333): iterables, streaming, `write()`, `close()`, framing (Content-Length,
//! chunked, until-close), bodiless responses and `wsgi.file_wrapper`.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Sends a keep-alive HTTP/1.1 request on `s` and reads its response.
fn ka_request(s: &mut TcpStream, method: &str, path: &str) -> (Response, bool) {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_http_response(s).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Reads until `needle` has arrived; panics if the server closes or goes quiet first.
fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) {
    let mut chunk = [0u8; 4096];
    while !buf.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut chunk) {
            Ok(0) => panic!(
                "closed before {:?} arrived: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "{:?} never arrived ({e}); got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(buf)
            ),
        }
    }
}

#[test]
fn list_generator_and_write_callable() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let r = get(srv.http, "/list");
    assert_eq!((r.status, r.text().as_str()), (200, "one,two,three"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // A list's length is known: the server frames it with Content-Length.
    assert_eq!(r.header("content-length"), Some("13"));

    let r = get(srv.http, "/gen");
    assert_eq!((r.status, r.text().as_str()), (200, "g1,g2,g3"));

    let r = get(srv.http, "/write");
    assert_eq!((r.status, r.text().as_str()), (200, "w1,w2"));

    // write() first, then the returned iterable, in order.
    let r = get(srv.http, "/write_mixed");
    assert_eq!((r.status, r.text().as_str()), (200, "w1,w2,i1,i2"));

    // The same over the uwsgi protocol (the body ends when the connection does).
    for (path, body) in [
        ("/list", "one,two,three"),
        ("/gen", "g1,g2,g3"),
        ("/write", "w1,w2"),
        ("/write_mixed", "w1,w2,i1,i2"),
    ] {
        let r = uwsgi_call(srv.uwsgi, "GET", path, "", &[], b"");
        assert_eq!((r.status, r.text().as_str()), (200, body), "uwsgi {path}");
    }
}

#[test]
fn keep_alive_framing() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let mut s = connect(srv.http);

    // No Content-Length from the app on a keep-alive HTTP/1.1 connection: chunked.
    let (r, closed) = ka_request(&mut s, "GET", "/gen");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{r:?}");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.text(), "g1,g2,g3");
    assert!(!closed);

    // write() responses are streamed the same way.
    let (r, _) = ka_request(&mut s, "GET", "/write_mixed");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{r:?}");
    assert_eq!(r.text(), "w1,w2,i1,i2");

    // The app's Content-Length is respected: no chunking, exactly that many bytes.
    let (r, _) = ka_request(&mut s, "GET", "/content_length");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.text(), "hello");

    // 204 and 304 carry no body (and no body framing): the next response on the connection
    // parses cleanly, which it would not if the app's body had been sent.
    for code in [204u16, 304] {
        let (r, _) = ka_request(&mut s, "GET", &format!("/status?code={code}"));
        assert_eq!(r.status, code);
        assert_eq!(r.header("transfer-encoding"), None, "{code}: {r:?}");
        let (r, _) = ka_request(&mut s, "GET", "/list");
        assert_eq!((r.status, r.text().as_str()), (200, "one,two,three"));
    }

    // HEAD: headers only, the connection still usable afterwards.
    s.write_all(b"HEAD /head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    read_until(&mut s, &mut head, b"\r\n\r\n");
    let r = parse_response_to("HEAD", &head);
    assert_eq!(r.status, 200);
    assert!(head.ends_with(b"\r\n\r\n"), "bytes after the HEAD head");
    let (r2, _) = ka_request(&mut s, "GET", "/list");
    assert_eq!(
        (r2.status, r2.text().as_str()),
        (200, "one,two,three"),
        "after HEAD ({r:?})"
    );
}

#[test]
fn bodiless_responses_on_closing_connections() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    for (req, what) in [
        (
            "HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HEAD",
        ),
        (
            "GET /status?code=204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "204",
        ),
        (
            "GET /status?code=304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "304",
        ),
        ("HEAD /gen HTTP/1.0\r\n\r\n", "HEAD generator 1.0"),
    ] {
        let raw = raw_exchange(srv.http, req.as_bytes()).expect("exchange");
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{what}: no head in {raw:?}"));
        assert!(parse_response(&raw).status >= 200, "{what}");
        assert_eq!(
            String::from_utf8_lossy(&raw[end + 4..]),
            "",
            "{what}: a body was sent"
        );
    }
    // Over the uwsgi protocol too.
    let r = uwsgi_call(srv.uwsgi, "HEAD", "/head", "", &[], b"");
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = uwsgi_call(srv.uwsgi, "GET", "/status", "code=204", &[], b"");
    assert_eq!((r.status, r.body.len()), (204, 0));
}

#[test]
fn http_1_0_body_until_close() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let raw = raw_exchange(srv.http, b"GET /gen HTTP/1.0\r\n\r\n").expect("exchange");
    let r = parse_response(&raw);
    assert!(raw.starts_with(b"HTTP/1.0 200"), "{raw:?}");
    assert_eq!(r.header("transfer-encoding"), None, "no chunking for 1.0");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.text(), "g1,g2,g3");

    // A keep-alive 1.0 client still gets an until-close body when the length is unknown.
    let mut s = connect(srv.http);
    s.write_all(b"GET /gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let (r, closed) = read_http_response(&mut s).expect("response");
    assert_eq!(r.text(), "g1,g2,g3");
    assert!(closed, "the body must be delimited by closing");
}

#[test]
fn generator_chunks_are_streamed_not_buffered() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    for keep_alive in [false, true] {
        let tag = if keep_alive { "ka" } else { "close" };
        let mut s = connect(srv.http);
        let conn = if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        s.write_all(
            format!("GET /gen_wait?tag={tag} HTTP/1.1\r\nHost: x\r\n{conn}\r\n").as_bytes(),
        )
        .unwrap();
        let mut got = Vec::new();
        // The app blocks after its first chunk until the test creates go-<tag>: the first chunk
        // has to reach the client while the app is still inside the generator.
        read_until(&mut s, &mut got, b"first-chunk;");
        assert!(!String::from_utf8_lossy(&got).contains("second-chunk"));
        std::fs::write(srv.dir().join(format!("go-{tag}")), b"").unwrap();
        if keep_alive {
            read_until(&mut s, &mut got, b"0\r\n\r\n");
        } else {
            s.read_to_end(&mut got).unwrap();
        }
        let r = parse_response(&got);
        assert_eq!(r.text(), "first-chunk;second-chunk", "{tag}");
    }
}

#[test]
fn close_is_always_called() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let closed = srv.dir().join("closed");

    // Normal end.
    let r = get(srv.http, "/close_normal?tag=normal");
    assert_eq!((r.status, r.text().as_str()), (200, "c1,c2"));
    wait_file(&closed, Duration::from_secs(20), |t| {
        t.lines().any(|l| l == "normal")
    });

    // Exception in the middle of the iteration.
    let _ = raw_exchange(
        srv.http,
        b"GET /close_exc?tag=exc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    wait_file(&closed, Duration::from_secs(20), |t| {
        t.lines().any(|l| l == "exc")
    });

    // Over the uwsgi protocol.
    let r = uwsgi_call(srv.uwsgi, "GET", "/close_normal", "tag=uwsgi", &[], b"");
    assert_eq!(r.text(), "c1,c2");
    wait_file(&closed, Duration::from_secs(20), |t| {
        t.lines().any(|l| l == "uwsgi")
    });

    // The client disconnects mid-response: the app goes on yielding into a dead socket.
    {
        let mut s = connect(srv.http);
        s.write_all(b"GET /close_disconnect?tag=gone HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        read_until(&mut s, &mut got, b"started;");
    } // dropped: closed
    std::fs::write(srv.dir().join("gone-gone"), b"").unwrap();
    let text = wait_file(&closed, Duration::from_secs(30), |t| {
        t.lines().any(|l| l == "gone")
    });
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["normal", "exc", "uwsgi", "gone"],
        "close() called exactly once per response"
    );

    // The worker is still serving.
    let r = get(srv.http, "/list");
    assert_eq!(r.text(), "one,two,three");
}

#[test]
fn file_wrapper_serves_a_file() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(srv.dir().join("payload.bin"), &data).unwrap();
    let r = get(srv.http, "/file_wrapper?name=payload.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "file_wrapper body differs");

    let r = uwsgi_call(
        srv.uwsgi,
        "GET",
        "/file_wrapper",
        "name=payload.bin",
        &[],
        b"",
    );
    assert!(r.body == data, "file_wrapper body differs over uwsgi");

    // Keep-alive: a correctly framed body, the connection reusable.
    let mut s = connect(srv.http);
    let (r, _) = ka_request(&mut s, "GET", "/file_wrapper?name=payload.bin");
    assert!(r.body == data, "file_wrapper body differs on keep-alive");
    let (r, _) = ka_request(&mut s, "GET", "/list");
    assert_eq!(r.text(), "one,two,three");
}

#[test]
fn app_content_length_mismatch_keeps_framing_sane() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let mut s = connect(srv.http);
    // Announced 3, yielded 18: exactly 3 bytes go out and the connection stays in sync.
    let (r, _) = ka_request(&mut s, "GET", "/cl_short");
    assert_eq!(r.header("content-length"), Some("3"));
    assert_eq!(r.text(), "hel");
    let (r, _) = ka_request(&mut s, "GET", "/list");
    assert_eq!(
        r.text(),
        "one,two,three",
        "extra body bytes leaked into the next response"
    );

    // Announced 10, yielded 5: the server must close, or the client waits forever.
    let mut s = connect(srv.http);
    s.write_all(b"GET /cl_long HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("the server closes the connection");
    let r = parse_cut_response(&raw);
    assert_eq!(r.header("content-length"), Some("10"));
    assert_eq!(r.text(), "short");
}

#[test]
fn start_response_from_inside_the_iterable() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let r = get(srv.http, "/lazy_start");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-lazy"), Some("1"));
    assert_eq!(r.text(), "lazy,body");
    let mut s = connect(srv.http);
    let (r, _) = ka_request(&mut s, "GET", "/lazy_start");
    assert_eq!((r.status, r.text().as_str()), (201, "lazy,body"));
    let r = uwsgi_call(srv.uwsgi, "GET", "/lazy_start", "", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (201, "lazy,body"));
}

#[test]
fn non_bytes_body_item_is_an_error() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let r = get(srv.http, "/bad_item");
    assert_eq!(r.status, 500, "{r:?}");
    assert!(!r.text().contains("not bytes"), "the str was sent: {r:?}");
    srv.server
        .wait_log(Duration::from_secs(20), |l| l.contains("TypeError"));
    srv.wait_stats(|s| s["workers"][0]["exceptions"].as_u64() == Some(1));
}

#[test]
fn large_streamed_bodies_byte_exact() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let size = 1024 * 1024;
    let expected: Vec<u8> = (0..size)
        .map(|i| ((i * 31 + i / 977) & 0xff) as u8)
        .collect();
    for mode in ["big_gen", "big_write"] {
        // Pieces below and above the writer's zero-copy threshold.
        for piece in [1000, 100_000] {
            let path = format!("/{mode}?size={size}&piece={piece}");
            let r = get(srv.http, &path);
            assert!(r.body == expected, "{path}: {} bytes", r.body.len());
            let mut s = connect(srv.http);
            let (r, _) = ka_request(&mut s, "GET", &path);
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
            assert!(r.body == expected, "{path} chunked: {} bytes", r.body.len());
            let (r, _) = ka_request(&mut s, "GET", "/list");
            assert_eq!(r.text(), "one,two,three");
            let r = uwsgi_call(
                srv.uwsgi,
                "GET",
                &format!("/{mode}"),
                &path[mode.len() + 2..],
                &[],
                b"",
            );
            assert!(r.body == expected, "{path} uwsgi: {} bytes", r.body.len());
        }
    }
}

#[test]
fn head_of_a_streamed_response_on_keep_alive() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let mut s = connect(srv.http);
    for path in ["/gen", "/write_mixed", "/content_length"] {
        s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut head = Vec::new();
        read_until(&mut s, &mut head, b"\r\n\r\n");
        assert!(
            head.ends_with(b"\r\n\r\n"),
            "HEAD {path}: body bytes {head:?}"
        );
        let r = parse_response_to("HEAD", &head);
        assert_eq!(r.status, 200, "HEAD {path}");
        let (r, _) = ka_request(&mut s, "GET", "/list");
        assert_eq!(r.text(), "one,two,three", "after HEAD {path}");
    }
}
