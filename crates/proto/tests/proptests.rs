//! Property tests: round-trips and "never panics" over arbitrary input.

use proptest::prelude::*;
use rwsgi_proto::http::{self, BodyFraming, ChunkedDecoder};
use rwsgi_proto::httparse::EMPTY_HEADER;
use rwsgi_proto::uwsgi::{self, UwsgiError};

fn var_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 0..200),
        ),
        0..30,
    )
}

/// Cuts `len` into pieces at the given (arbitrary) points.
fn split_points(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut pts: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    pts.push(0);
    pts.push(len);
    pts.sort_unstable();
    pts.dedup();
    pts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn uwsgi_roundtrip(vars in var_strategy(), m1 in any::<u8>(), m2 in any::<u8>(),
                       body in prop::collection::vec(any::<u8>(), 0..64)) {
        let refs: Vec<(&[u8], &[u8])> = vars.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut pkt = Vec::new();
        uwsgi::encode_packet(m1, m2, &refs, &mut pkt).unwrap();
        let head_len = pkt.len();
        pkt.extend_from_slice(&body);
        let head = uwsgi::parse_head(&pkt, 65_539).unwrap().unwrap();
        prop_assert_eq!(head.modifier1, m1);
        prop_assert_eq!(head.modifier2, m2);
        prop_assert_eq!(head.head_len, head_len);
        let got: Vec<(&[u8], &[u8])> = head.iter().collect();
        prop_assert_eq!(got, refs);
        // The limit is inclusive of the whole head and nothing more.
        prop_assert_eq!(uwsgi::parse_head(&pkt, head_len - 1), Err(UwsgiError::TooLarge));
    }

    #[test]
    fn uwsgi_prefixes_incomplete(vars in var_strategy(), cut in any::<prop::sample::Index>()) {
        let refs: Vec<(&[u8], &[u8])> = vars.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut pkt = Vec::new();
        uwsgi::encode_packet(0, 0, &refs, &mut pkt).unwrap();
        let i = cut.index(pkt.len());
        prop_assert_eq!(uwsgi::parse_head(&pkt[..i], 65_539), Ok(None));
    }

    #[test]
    fn uwsgi_arbitrary_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..600),
                                         max in 0usize..70_000) {
        if let Ok(Some(head)) = uwsgi::parse_head(&buf, max) {
            prop_assert!(head.head_len <= max && head.head_len <= buf.len());
            // A validated block iterates to its exact end.
            let consumed: usize = head.iter().map(|(k, v)| 4 + k.len() + v.len()).sum();
            prop_assert_eq!(consumed, head.vars.len());
            let _ = head.content_length();
        }
        // The iterator alone must also be safe on unvalidated bytes.
        let _ = uwsgi::Vars::new(&buf).count();
    }

    #[test]
    fn http_arbitrary_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..600),
                                        max in 0usize..1000) {
        let mut hdrs = [EMPTY_HEADER; 16];
        if let Ok(Some(h)) = http::parse_head(&buf, &mut hdrs, max) {
            prop_assert!(h.head_len <= buf.len() && h.head_len <= max);
        }
    }

    #[test]
    fn http_textual_never_panic(buf in "[A-Za-z0-9 :/?%\r\n,;-]{0,300}") {
        let mut hdrs = [EMPTY_HEADER; 16];
        let _ = http::parse_head(buf.as_bytes(), &mut hdrs, 4096);
    }

    #[test]
    fn http_head_split_anywhere(path in "/[a-z0-9/%._-]{0,30}", query in "[a-z0-9=&]{0,20}",
                                cl in any::<u32>(), cut in any::<prop::sample::Index>()) {
        let req = format!("POST {path}?{query} HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\n\r\n");
        let bytes = req.as_bytes();
        let mut hdrs = [EMPTY_HEADER; 8];
        let i = cut.index(bytes.len());
        prop_assert_eq!(http::parse_head(&bytes[..i], &mut hdrs, 4096), Ok(None));
        let h = http::parse_head(bytes, &mut hdrs, 4096).unwrap().unwrap();
        prop_assert_eq!(h.path, path.as_str());
        prop_assert_eq!(h.query, query.as_str());
        prop_assert_eq!(h.body, BodyFraming::Length(u64::from(cl)));
        prop_assert_eq!(h.head_len, bytes.len());
    }

    #[test]
    fn chunked_roundtrip(body in prop::collection::vec(any::<u8>(), 0..2000),
                         chunk_cuts in prop::collection::vec(any::<usize>(), 0..10),
                         feed_cuts in prop::collection::vec(any::<usize>(), 0..20),
                         ext in prop::bool::ANY, upper in prop::bool::ANY, trailer in prop::bool::ANY,
                         tail in prop::collection::vec(any::<u8>(), 0..10)) {
        // Encode with arbitrary chunk boundaries, optional extensions,
        // upper-case hex and trailers.
        let mut enc = Vec::new();
        let pts = split_points(body.len(), &chunk_cuts);
        for w in pts.windows(2) {
            let chunk = &body[w[0]..w[1]];
            if chunk.is_empty() { continue; }
            let size = if upper { format!("{:X}", chunk.len()) } else { format!("{:x}", chunk.len()) };
            enc.extend_from_slice(size.as_bytes());
            if ext { enc.extend_from_slice(b";foo=\"bar\""); }
            enc.extend_from_slice(b"\r\n");
            enc.extend_from_slice(chunk);
            enc.extend_from_slice(b"\r\n");
        }
        enc.extend_from_slice(b"0\r\n");
        if trailer { enc.extend_from_slice(b"X-Checksum: abc\r\n"); }
        enc.extend_from_slice(b"\r\n");
        let enc_len = enc.len();
        enc.extend_from_slice(&tail); // pipelined bytes that must not be eaten

        // Decode through arbitrary feed boundaries.
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut finished = false;
        for w in split_points(enc.len(), &feed_cuts).windows(2) {
            if finished { break; }
            let mut piece = &enc[pos.max(w[0])..w[1]];
            while !piece.is_empty() && !finished {
                let (n, fin) = dec.decode(piece, &mut out).unwrap();
                prop_assert!(n <= piece.len());
                if !fin { prop_assert_eq!(n, piece.len()); }
                pos += n;
                piece = &piece[n..];
                finished = fin;
            }
        }
        prop_assert!(finished);
        prop_assert_eq!(pos, enc_len);
        prop_assert_eq!(out, body);
    }

    #[test]
    fn chunked_arbitrary_never_panic(buf in prop::collection::vec(any::<u8>(), 0..400),
                                     cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        for w in split_points(buf.len(), &cuts).windows(2) {
            match dec.decode(&buf[w[0]..w[1]], &mut out) {
                Ok((_, true)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        prop_assert!(out.len() <= buf.len());
    }

    #[test]
    fn chunk_writer_roundtrip(pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut enc = Vec::new();
        for p in &pieces { http::write_chunk(p, &mut enc); }
        enc.extend_from_slice(http::LAST_CHUNK);
        let mut out = Vec::new();
        prop_assert_eq!(ChunkedDecoder::new().decode(&enc, &mut out), Ok((enc.len(), true)));
        prop_assert_eq!(out, pieces.concat());
    }

    #[test]
    fn percent_decode_matches_reference(input in prop::collection::vec(
        prop::sample::select(b"%0aF9gz/ \x80".to_vec()), 0..60)) {
        let mut out = Vec::new();
        http::percent_decode(&input, &mut out);
        // Simple byte-at-a-time reference implementation.
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        let mut want = Vec::new();
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'%' && i + 2 < input.len() {
                if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                    want.push(h * 16 + l);
                    i += 3;
                    continue;
                }
            }
            want.push(input[i]);
            i += 1;
        }
        prop_assert_eq!(out, want);
    }

    #[test]
    fn cgi_name_shape(name in "[A-Za-z0-9-]{1,30}") {
        let mut out = Vec::new();
        http::header_to_cgi(name.as_bytes(), &mut out);
        let s = String::from_utf8(out).unwrap();
        prop_assert!(!s.contains('-'));
        prop_assert_eq!(s.to_ascii_uppercase(), s.clone());
        prop_assert!(s.starts_with("HTTP_") || s == "CONTENT_TYPE" || s == "CONTENT_LENGTH");
    }

    #[test]
    fn status_code_roundtrip(code in 100u16..1000, reason in "( [A-Za-z ]{0,20})?") {
        let s = format!("{code}{reason}");
        prop_assert_eq!(http::status_code(s.as_bytes()), Some(code));
    }
}
