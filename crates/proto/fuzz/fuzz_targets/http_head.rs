//! Arbitrary bytes into the HTTP head parser and the small helpers applied to
//! its output: must never panic, and results must be self-consistent.
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
            assert!(h.target.starts_with(h.path));
            if h.minor_version == 0 {
                assert!(!h.expect_continue);
            }
            if let BodyFraming::Length(n) = h.body {
                assert!(h.header("content-length").is_some() || n == 0);
            }
            let mut out = Vec::new();
            http::percent_decode(h.path.as_bytes(), &mut out);
            assert!(out.len() <= h.path.len());
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
});
