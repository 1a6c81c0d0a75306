//! Wire-protocol logic for rwsgi: pure functions and small state machines,
//! no I/O, no allocation beyond caller-supplied buffers.
//!
//! * [`uwsgi`] — the uwsgi binary protocol spoken by nginx `uwsgi_pass`.
//! * [`http`] — HTTP/1.x request heads (for `--http-socket`), chunked request
//!   bodies, CGI environ key mapping, percent decoding and status parsing.
//! * [`static_file`] — static-file path mapping (traversal-safe), byte ranges, HTTP dates.
//! * [`proxy`] — the PROXY protocol header (v1 text, v2 binary) a balancer sends first.
//!
//! Everything here sits on the server's per-request hot path and is fed
//! untrusted bytes, so no function panics on any input; malformed input is
//! reported through the typed errors [`UwsgiError`], [`HttpError`],
//! [`ChunkedError`] and [`ProxyError`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod http;
pub mod proxy;
pub mod static_file;
pub mod uwsgi;

/// Re-exported so dependents name exactly the `httparse` version whose
/// [`httparse::Header`] type [`http::parse_head`] expects.
pub use httparse;

pub use http::{BodyFraming, ChunkedDecoder, ChunkedError, HttpError, HttpHead};
pub use proxy::{ProxyError, ProxyHead};
pub use uwsgi::{UwsgiError, UwsgiHead, Vars};

/// Parses a `Content-Length` value: one or more ASCII digits, surrounded by
/// optional spaces/tabs, fitting in a `u64`.
///
/// Returns `None` for anything else (empty, signs, commas, overflow). Being
/// strict here matters: a lenient parse that disagrees with a front proxy's
/// is a request-smuggling vector.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = trim_ows(value);
    if value.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Strips HTTP optional whitespace (SP / HTAB) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_parsing() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b" 42\t"), Some(42));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(parse_content_length(b"18446744073709551616"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"  "), None);
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b"-1"), None);
        assert_eq!(parse_content_length(b"1 2"), None);
        assert_eq!(parse_content_length(b"5,5"), None);
        assert_eq!(parse_content_length(b"0x10"), None);
    }

    #[test]
    fn trim() {
        assert_eq!(trim_ows(b"  a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
