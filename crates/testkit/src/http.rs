//! An HTTP/1.x client for tests, stricter than the server it tests: heads are parsed with
//! httparse, chunked bodies by a strict decoder, and a body must match its Content-Length.
//! A malformed response panics (fails the test) instead of parsing as a short one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Default)]
pub struct Response {
    /// The status code (0: the server sent no complete head).
    pub status: u16,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, dechunked.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length").map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("malformed Content-Length {v:?}"))
        })
    }

    fn bodiless(&self) -> bool {
        self.status == 204 || self.status == 304 || (100..200).contains(&self.status)
    }
}

/// Parses a response head (up to and including the blank line) strictly; returns the
/// response without its body and the head's length, or `None` if the head is incomplete.
fn parse_head(raw: &[u8]) -> Option<(Response, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(raw) {
        Ok(httparse::Status::Complete(n)) => {
            let status = parsed.code.unwrap_or(0);
            let headers = parsed
                .headers
                .iter()
                .map(|h| {
                    let value = std::str::from_utf8(h.value)
                        .unwrap_or_else(|_| panic!("non-UTF-8 value of {}", h.name));
                    (h.name.to_string(), value.to_string())
                })
                .collect();
            Some((
                Response {
                    status,
                    headers,
                    body: Vec::new(),
                },
                n,
            ))
        }
        Ok(httparse::Status::Partial) => None,
        Err(e) => panic!(
            "malformed response head ({e}): {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(512)])
        ),
    }
}

/// Decodes a complete chunked body (RFC 9112 §7.1): hex sizes, optional extensions, CRLF
/// after each chunk's data, a last chunk of size 0 and the trailer section. Returns the data
/// and the number of bytes the encoding took. Panics on anything malformed or incomplete.
pub fn dechunk(data: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    let line = |at: usize| -> (&[u8], usize) {
        let rest = &data[at..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("chunked body cut off: {:?}", String::from_utf8_lossy(rest)));
        (&rest[..end], at + end + 2)
    };
    loop {
        let (size_line, next) = line(at);
        let size_text = size_line.split(|&b| b == b';').next().unwrap_or_default();
        assert!(
            !size_text.is_empty() && size_text.iter().all(u8::is_ascii_hexdigit),
            "malformed chunk size line {:?}",
            String::from_utf8_lossy(size_line)
        );
        let size = usize::from_str_radix(std::str::from_utf8(size_text).unwrap_or("x"), 16)
            .unwrap_or_else(|_| panic!("chunk size {size_text:?} too large"));
        at = next;
        if size == 0 {
            // Trailer fields, then the blank line.
            loop {
                let (trailer, next) = line(at);
                at = next;
                if trailer.is_empty() {
                    return (out, at);
                }
                assert!(
                    trailer.contains(&b':'),
                    "malformed trailer line {:?}",
                    String::from_utf8_lossy(trailer)
                );
            }
        }
        assert!(
            data.len() >= at + size + 2,
            "chunk of {size} bytes cut off after {} bytes",
            data.len() - at
        );
        out.extend_from_slice(&data[at..at + size]);
        assert_eq!(
            &data[at + size..at + size + 2],
            b"\r\n",
            "no CRLF after chunk data"
        );
        at += size + 2;
    }
}

/// Parses one complete HTTP response read until the server closed: the status 0 response when
/// no complete head arrived (the server closed without answering). See [`parse_response_to`].
pub fn parse_response(raw: &[u8]) -> Response {
    parse_response_to("GET", raw)
}

/// Parses one complete response to a `method` request read until the server closed. The body
/// must be exactly as framed: chunked (decoded strictly), `Content-Length` bytes (none for HEAD,
/// which may also be cut after its head), or everything up to the close. Bytes after a framed
/// body are allowed only when they begin another response (pipelining).
pub fn parse_response_to(method: &str, raw: &[u8]) -> Response {
    let Some((mut resp, head_len)) = parse_head(raw) else {
        return Response::default();
    };
    let rest = &raw[head_len..];
    if resp.bodiless() || method.eq_ignore_ascii_case("HEAD") {
        check_tail(&resp, rest);
        return resp;
    }
    if resp.chunked() {
        let (body, used) = dechunk(rest);
        check_tail(&resp, &rest[used..]);
        resp.body = body;
    } else if let Some(n) = resp.content_length() {
        assert!(
            rest.len() >= n,
            "short body: Content-Length {n}, {} bytes before the close",
            rest.len()
        );
        check_tail(&resp, &rest[n..]);
        resp.body = rest[..n].to_vec();
    } else {
        resp.body = rest.to_vec();
    }
    resp
}

/// Splits everything a server sent on one connection before closing into its responses, in
/// order, each framed strictly (chunked, `Content-Length`, none for 1xx/204/304; a response
/// without framing runs to the close). Panics on a malformed or cut-off response.
pub fn split_responses(mut raw: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let Some((mut resp, head_len)) = parse_head(raw) else {
            panic!(
                "a cut-off response head: {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            );
        };
        let rest = &raw[head_len..];
        let used = if resp.bodiless() {
            0
        } else if resp.chunked() {
            let (body, used) = dechunk(rest);
            resp.body = body;
            used
        } else if let Some(n) = resp.content_length() {
            assert!(
                rest.len() >= n,
                "short body: Content-Length {n}, {} bytes",
                rest.len()
            );
            resp.body = rest[..n].to_vec();
            n
        } else {
            resp.body = rest.to_vec();
            rest.len()
        };
        raw = &rest[used..];
        out.push(resp);
    }
    out
}

/// Parses a response that the server cut short on purpose (its app yielded less than its
/// Content-Length, so the server closed): the head strictly, the body as it arrived.
pub fn parse_cut_response(raw: &[u8]) -> Response {
    let Some((mut resp, head_len)) = parse_head(raw) else {
        return Response::default();
    };
    let n = resp.content_length().unwrap_or(usize::MAX);
    let rest = &raw[head_len..];
    assert!(
        rest.len() < n,
        "the response was not cut: {} of {n} bytes",
        rest.len()
    );
    resp.body = rest.to_vec();
    resp
}

/// Nothing may follow a framed response except another response.
fn check_tail(resp: &Response, tail: &[u8]) {
    let informational = (100..200).contains(&resp.status);
    assert!(
        tail.is_empty() || tail.starts_with(b"HTTP/1.") || informational,
        "{} bytes after a {} response's body: {:?}",
        tail.len(),
        resp.status,
        String::from_utf8_lossy(&tail[..tail.len().min(200)])
    );
}

/// One HTTP/1.1 request on a new connection with `Connection: close`.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(parse_response_to(method, &raw))
}

/// `GET path`, panicking on I/O errors.
pub fn get(port: u16, path: &str) -> Response {
    try_http(port, "GET", path, &[], b"").expect("HTTP GET")
}

/// Sends raw bytes, returns everything the server sends back before closing.
pub fn raw_exchange(port: u16, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(bytes)?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// Reads one HTTP response off a connection that may stay open (Content-Length, chunked, or
/// until close). Returns the response and whether the body ended by the server closing.
pub fn read_http_response(s: &mut TcpStream) -> std::io::Result<(Response, bool)> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "closed inside the head: {:?}",
                    String::from_utf8_lossy(&raw)
                ),
            ));
        }
        raw.push(byte[0]);
    }
    let (mut resp, _) = parse_head(&raw).expect("a complete head");
    if resp.bodiless() {
        return Ok((resp, false));
    }
    if resp.chunked() {
        // Read up to the end of the chunked encoding, then decode it strictly.
        let mut enc = Vec::new();
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                if s.read(&mut byte)? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed inside a chunked body",
                    ));
                }
                line.push(byte[0]);
            }
            enc.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
            let size = usize::from_str_radix(text.split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::other(format!("chunk size {text:?}: {e}")))?;
            if size == 0 {
                // The trailer section: lines up to a blank one.
                loop {
                    let mut trailer = Vec::new();
                    while !trailer.ends_with(b"\r\n") {
                        if s.read(&mut byte)? == 0 {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "closed inside the trailer section",
                            ));
                        }
                        trailer.push(byte[0]);
                    }
                    enc.extend_from_slice(&trailer);
                    if trailer == b"\r\n" {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; size + 2];
            s.read_exact(&mut chunk)?;
            enc.extend_from_slice(&chunk);
        }
        resp.body = dechunk(&enc).0;
        return Ok((resp, false));
    }
    if let Some(n) = resp.content_length() {
        let mut body = vec![0u8; n];
        s.read_exact(&mut body)?;
        resp.body = body;
        return Ok((resp, false));
    }
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    resp.body = body;
    Ok((resp, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_strictly() {
        let encoded = b"5;x=1\r\nhello\r\n0\r\nT: v\r\n\r\n";
        let (body, used) = dechunk(encoded);
        assert_eq!((body.as_slice(), used), (&b"hello"[..], encoded.len()));
        for bad in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"0\r\nno colon\r\n\r\n",
        ] {
            assert!(
                std::panic::catch_unwind(|| dechunk(bad)).is_err(),
                "{:?} must be rejected",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bodies_must_match_their_framing() {
        let ok = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        assert_eq!((ok.status, ok.text().as_str()), (200, "hi"));
        let head = parse_response_to("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(head.status, 200);
        assert_eq!(parse_response(b"HTTP/1.1 200").status, 0, "no head yet");
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nhi",
            b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        ] {
            assert!(
                std::panic::catch_unwind(|| parse_response(bad)).is_err(),
                "{:?} must be rejected",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
