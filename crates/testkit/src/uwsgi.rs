//! A uwsgi-protocol client for tests (what nginx's `uwsgi_pass` sends).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::http::{parse_response_to, Response};
use crate::process::Server;
use crate::wait::eventually;

/// Encodes a uwsgi-protocol request: the 4-byte header (modifier1 0, u16 LE size of the vars
/// block, modifier2 0), then each var as u16 LE key length, key, u16 LE value length, value;
/// then `body`.
pub fn uwsgi_packet(vars: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (k, v) in vars {
        block.extend_from_slice(&(k.len() as u16).to_le_bytes());
        block.extend_from_slice(k);
        block.extend_from_slice(&(v.len() as u16).to_le_bytes());
        block.extend_from_slice(v);
    }
    let mut pkt = Vec::with_capacity(4 + block.len() + body.len());
    pkt.push(0);
    pkt.extend_from_slice(&(block.len() as u16).to_le_bytes());
    pkt.push(0);
    pkt.extend_from_slice(&block);
    pkt.extend_from_slice(body);
    pkt
}

/// A uwsgi packet (modifier1 0) carrying string `vars`, followed by `body`.
pub fn uwsgi_str_packet(vars: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let vars: Vec<(&[u8], &[u8])> = vars
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    uwsgi_packet(&vars, body)
}

/// Sends one uwsgi-protocol request to `port` and reads the response until the server closes.
pub fn uwsgi_request(port: u16, vars: &[(&[u8], &[u8])], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(&uwsgi_packet(vars, body))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// The CGI vars a front end would send for `method path?query` (plus CONTENT_LENGTH).
pub fn uwsgi_vars<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body_len: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("REQUEST_METHOD", method),
        ("PATH_INFO", path),
        ("QUERY_STRING", query),
        ("REQUEST_URI", path),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("CONTENT_LENGTH", body_len),
    ]
}

/// A uwsgi-protocol request with the usual CGI vars (`method`, `path`, `query`), plus `extra`
/// vars; `CONTENT_LENGTH` is added for a non-empty body. Returns the parsed response.
pub fn uwsgi_call(
    port: u16,
    method: &str,
    path: &str,
    query: &str,
    extra: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let len = body.len().to_string();
    let mut vars: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", method.as_bytes()),
        (b"SCRIPT_NAME", b""),
        (b"PATH_INFO", path.as_bytes()),
        (b"QUERY_STRING", query.as_bytes()),
        (b"REQUEST_URI", uri.as_bytes()),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"SERVER_NAME", b"uwsgi-test-server"),
        (b"SERVER_PORT", b"8080"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
    ];
    if !body.is_empty() {
        vars.push((b"CONTENT_LENGTH", len.as_bytes()));
    }
    for (k, v) in extra {
        vars.push((k.as_bytes(), v));
    }
    let raw = uwsgi_request(port, &vars, body).expect("uwsgi request");
    parse_response_to(method, &raw)
}

/// One request over the uwsgi protocol on a TCP port; the response is read to EOF.
pub fn try_uwsgi(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
    let len = body.len().to_string();
    let vars: Vec<(&[u8], &[u8])> = uwsgi_vars(method, path, "", &len)
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    Ok(parse_response_to(
        method,
        &uwsgi_request(port, &vars, body)?,
    ))
}

/// Polls `try_uwsgi(port, "GET", path)` until it answers 200, or panics with the log.
pub fn wait_uwsgi_ready(server: &Server, port: u16, path: &str) {
    eventually(
        Duration::from_secs(20),
        "the uwsgi socket answering 200",
        || match try_uwsgi(port, "GET", path, b"") {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(format!("status {}\n{}", r.status, server.log())),
            Err(e) => Err(format!("{e}\n{}", server.log())),
        },
    );
}
