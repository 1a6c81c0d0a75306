//! `wsgi.input` (PEP 3333): read(), read(n), readline(), readline(n), readlines(), iteration,
//! reading past the end, and large bodies byte-exact, over both protocols.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const BODY: &[u8] = b"first line\nsecond\n\n\xe9t\xe9 line\nno newline at the end";

/// The JSON list of latin-1 strings the probe answers with, as bytes.
fn pieces(r: &Response) -> Vec<Vec<u8>> {
    assert_eq!(r.status, 200, "probe failed: {}", r.text());
    let v: Vec<String> =
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("probe JSON: {e}: {}", r.text()));
    v.iter()
        .map(|s| s.chars().map(|c| c as u32 as u8).collect())
        .collect()
}

fn lines(body: &[u8]) -> Vec<Vec<u8>> {
    body.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// What each probe mode must return for `body` (n = 7 for read(n), 4 for readline(n)).
fn expected(mode: &str, body: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    match mode {
        "read" => out = vec![body.to_vec(), vec![], vec![]],
        "read_n" => {
            out = body.chunks(7).map(<[u8]>::to_vec).collect();
            out.push(vec![]);
        }
        "readline" => {
            out = lines(body);
            out.push(vec![]);
        }
        "readline_n" => {
            for line in lines(body) {
                out.extend(line.chunks(4).map(<[u8]>::to_vec));
            }
            out.push(vec![]);
        }
        "readlines" | "iter" => {
            out = lines(body);
            out.push(vec![]);
        }
        "over" => out = vec![body.to_vec(), vec![], vec![], vec![], vec![]],
        "sizes" => {
            let first = lines(body)[0].clone();
            out = vec![
                vec![],
                vec![],
                first.clone(),
                body[first.len()..].to_vec(),
                vec![],
            ];
        }
        "hint" => {
            // readlines(12): whole lines until at least 12 bytes were collected.
            let ls = lines(body);
            let mut n = 0;
            for l in ls {
                n += l.len();
                out.push(l);
                if n >= 12 {
                    break;
                }
            }
            let rest = body[n..].to_vec();
            out.push(b"|".to_vec());
            out.push(rest);
        }
        _ => unreachable!(),
    }
    out
}

const MODES: [&str; 9] = [
    "read",
    "sizes",
    "hint",
    "read_n",
    "readline",
    "readline_n",
    "readlines",
    "iter",
    "over",
];

fn query(mode: &str) -> &'static str {
    match mode {
        "read_n" => "n=7",
        "readline_n" => "n=4",
        _ => "",
    }
}

/// An HTTP/1.1 request whose body is sent with chunked transfer coding, `chunk` bytes a chunk.
fn http_chunked(port: u16, path: &str, body: &[u8], chunk: usize) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut req = head.into_bytes();
    for c in body.chunks(chunk) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // A writer thread: the server may start answering before the whole body is written.
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&req));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    writer.join().unwrap().expect("write request");
    parse_response(&raw)
}

/// A Content-Length request, the body written from another thread (it may be large).
fn http_post(port: u16, path: &str, body: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&req));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    writer.join().unwrap().expect("write request");
    parse_response(&raw)
}

fn big_body() -> Vec<u8> {
    // 1 MiB covering every byte value, not periodic in any small power of two.
    let mut x: u32 = 0x1234_5678;
    (0..1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn input_methods_over_http_content_length() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    for mode in MODES {
        let q = query(mode);
        let path = format!("/input/{mode}?{q}");
        let r = http_post(srv.http, &path, BODY);
        assert_eq!(pieces(&r), expected(mode, BODY), "mode {mode}");
    }
    // No body at all: every read is empty at once.
    let r = get(srv.http, "/input/read");
    assert_eq!(pieces(&r), vec![Vec::<u8>::new(); 3]);
}

#[test]
fn input_methods_over_http_chunked() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    for mode in MODES {
        if mode == "over" {
            continue; // needs CONTENT_LENGTH
        }
        let q = query(mode);
        let path = format!("/input/{mode}?{q}");
        // Chunks of 5 bytes: lines and read(n) pieces straddle chunk boundaries.
        let r = http_chunked(srv.http, &path, BODY, 5);
        assert_eq!(pieces(&r), expected(mode, BODY), "mode {mode} (chunked)");
    }
}

#[test]
fn input_methods_over_uwsgi_socket() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    for mode in MODES {
        let r = uwsgi_call(
            srv.uwsgi,
            "POST",
            &format!("/input/{mode}"),
            query(mode),
            &[],
            BODY,
        );
        assert_eq!(pieces(&r), expected(mode, BODY), "mode {mode} (uwsgi)");
    }
}

#[test]
fn one_mebibyte_body_echoed_byte_exact() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let body = big_body();

    let r = http_post(srv.http, "/echo", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len(), "http Content-Length echo size");
    assert!(r.body == body, "http Content-Length echo differs");

    let r = http_chunked(srv.http, "/echo", &body, 7001);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len(), "http chunked echo size");
    assert!(r.body == body, "http chunked echo differs");

    let r = uwsgi_call(srv.uwsgi, "POST", "/echo", "", &[], &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len(), "uwsgi echo size");
    assert!(r.body == body, "uwsgi echo differs");
}
