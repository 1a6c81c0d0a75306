//! Arbitrary bytes into the HTTP head parser and the small helpers applied to
//! its output: must never panic, and results must be self-consistent and
//! obey the RFC 9112 rules the parser enforces (one valid Host for HTTP/1.1,
//! no bare LF, no fragment, the target forms).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_proto::http::{self, BodyFraming};
use rwsgi_proto::httparse::EMPTY_HEADER;

fuzz_target!(|data: &[u8]| {
    let mut hdrs = [EMPTY_HEADER; 32];
    let max = 8192;
    match http::parse_head(data, &mut hdrs, max) {
        Ok(Some(h)) => {
            assert!(h.head_len <= data.len() && h.head_len <= max);
            assert!(h.minor_version <= 1);
            if h.minor_version == 0 {
                assert!(!h.expect_continue);
                assert_ne!(
                    h.body,
                    BodyFraming::Chunked,
                    "no Transfer-Encoding in HTTP/1.0"
                );
            }
            if let BodyFraming::Length(n) = h.body {
                assert!(h.header("content-length").is_some() || n == 0);
            }
            // Every LF of the head ends a CRLF.
            let head = &data[..h.head_len];
            for (i, &b) in head.iter().enumerate() {
                if b == b'\n' {
                    assert!(i > 0 && head[i - 1] == b'\r', "bare LF accepted");
                }
            }
            // At most one Host, valid; exactly one for HTTP/1.1.
            let hosts: Vec<&[u8]> = h
                .headers
                .iter()
                .filter(|x| x.name.eq_ignore_ascii_case("host"))
                .map(|x| x.value)
                .collect();
            assert!(hosts.len() <= 1 && (h.minor_version == 0 || hosts.len() == 1));
            // The target forms: path, query and uri are fragment-free pieces of the target.
            assert!(!h.path.contains('#') && !h.query.contains('#') && !h.uri.contains('#'));
            assert!(h.target.contains(h.uri));
            match h.authority {
                Some(a) => {
                    assert!(http::valid_host(a.as_bytes(), false) && !a.is_empty());
                    assert!(h.path.starts_with('/'));
                }
                None if h.method == "CONNECT" => assert!(h.path.is_empty()),
                None if h.path == "*" => assert_eq!(h.method, "OPTIONS"),
                None => assert!(h.path.starts_with('/') && h.uri.starts_with(h.path)),
            }
            let mut out = Vec::new();
            h.write_request_uri(&mut out);
            http::percent_decode(h.path.as_bytes(), &mut out);
            for hd in h.headers {
                http::header_to_cgi(hd.name.as_bytes(), &mut out);
            }
        }
        Ok(None) => assert!(data.len() < max),
        Err(_) => {}
    }
    let mut out = Vec::new();
    http::percent_decode(data, &mut out);
    assert!(out.len() <= data.len());
    if let Some(code) = http::status_code(data) {
        assert!((100..=999).contains(&code));
    }
    let _ = http::valid_host(data, data.first().is_some_and(|b| b & 1 == 1));
});
