//! Property tests: round-trips and "never panics" over arbitrary input.

use proptest::prelude::*;
use rwsgi_proto::http::{self, BodyFraming, ChunkedDecoder, ChunkedError, HttpError};
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

/// An RFC 9110 token.
const TOKEN: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}";
/// Optional whitespace.
const BWS: &str = "[ \t]{0,2}";

/// A chunk-ext per RFC 9112 §7.1.1: `*( BWS ";" BWS name [ BWS "=" BWS value ] )`, the value a
/// token or a quoted string with quoted-pairs and obs-text.
fn chunk_ext() -> impl Strategy<Value = Vec<u8>> {
    let quoted = prop::collection::vec(
        prop_oneof![
            prop::sample::select(b" \t!#[]~az09\x80\xff".to_vec()).prop_map(|b| vec![b]),
            prop::sample::select(b"\"\\ \tz\xff".to_vec()).prop_map(|b| vec![b'\\', b]),
        ],
        0..6,
    )
    .prop_map(|parts| {
        let mut q = vec![b'"'];
        q.extend(parts.concat());
        q.push(b'"');
        q
    });
    let value = prop_oneof![TOKEN.prop_map(String::into_bytes), quoted];
    let one =
        (BWS, BWS, TOKEN, prop::option::of((BWS, BWS, value))).prop_map(|(w1, w2, name, val)| {
            let mut e = w1.into_bytes();
            e.push(b';');
            e.extend(w2.bytes());
            e.extend(name.bytes());
            if let Some((w3, w4, v)) = val {
                e.extend(w3.bytes());
                e.push(b'=');
                e.extend(w4.bytes());
                e.extend(v);
            }
            e
        });
    prop::collection::vec(one, 0..3).prop_map(|v| v.concat())
}

/// A trailer field line without its CRLF: `name ":" OWS value OWS`.
fn trailer_line() -> impl Strategy<Value = Vec<u8>> {
    (TOKEN, BWS, "[ -~]{0,10}").prop_map(|(n, w, v)| format!("{n}:{w}{v}").into_bytes())
}

/// A reg-name host (RFC 3986), an optional port.
fn host() -> impl Strategy<Value = String> {
    (
        "[a-z0-9._~!$&'()*+,;=-]{1,15}",
        prop::option::of(0u16..=65535),
    )
        .prop_map(|(h, p)| match p {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
}

fn encode_chunked(chunks: &[Vec<u8>], exts: &[Vec<u8>], trailers: &[Vec<u8>]) -> Vec<u8> {
    let mut enc = Vec::new();
    for (i, c) in chunks.iter().filter(|c| !c.is_empty()).enumerate() {
        enc.extend_from_slice(format!("{:x}", c.len()).as_bytes());
        if !exts.is_empty() {
            enc.extend_from_slice(&exts[i % exts.len()]);
        }
        enc.extend_from_slice(b"\r\n");
        enc.extend_from_slice(c);
        enc.extend_from_slice(b"\r\n");
    }
    enc.push(b'0');
    if let Some(e) = exts.last() {
        enc.extend_from_slice(e);
    }
    enc.extend_from_slice(b"\r\n");
    for t in trailers {
        enc.extend_from_slice(t);
        enc.extend_from_slice(b"\r\n");
    }
    enc.extend_from_slice(b"\r\n");
    enc
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any grammatical chunk extensions and trailers decode to exactly the body, fed whole or
    /// byte by byte.
    #[test]
    fn chunk_ext_and_trailers_accepted(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4),
        exts in prop::collection::vec(chunk_ext(), 1..4),
        trailers in prop::collection::vec(trailer_line(), 0..3),
    ) {
        let enc = encode_chunked(&chunks, &exts, &trailers);
        let mut out = Vec::new();
        let got = ChunkedDecoder::new().decode(&enc, &mut out);
        prop_assert_eq!(got, Ok((enc.len(), true)), "{:?}", String::from_utf8_lossy(&enc));
        prop_assert_eq!(&out, &chunks.concat());
        let mut dec = ChunkedDecoder::new();
        let mut out2 = Vec::new();
        for b in &enc {
            dec.decode(std::slice::from_ref(b), &mut out2).unwrap();
        }
        prop_assert!(dec.is_finished());
        prop_assert_eq!(out2, out);
    }

    /// A control byte (other than HTAB) anywhere in a chunk-size line's extension or in a
    /// trailer line is refused, never skipped.
    #[test]
    fn control_bytes_in_ext_or_trailer_refused(
        ext in chunk_ext(), trailer in trailer_line(), ctl in prop_oneof![0u8..=8, 11u8..=12, 14u8..=31, Just(127u8)],
        at in any::<prop::sample::Index>(), in_trailer in any::<bool>(),
    ) {
        let (mut ext, mut trailer) = (ext, trailer);
        if in_trailer {
            let i = at.index(trailer.len() + 1);
            trailer.insert(i, ctl);
        } else {
            ext = [b";a".to_vec(), ext].concat();
            let i = 1 + at.index(ext.len());
            ext.insert(i, ctl);
        }
        let enc = encode_chunked(&[b"abc".to_vec()], &[ext], &[trailer]);
        let mut out = Vec::new();
        let got = ChunkedDecoder::new().decode(&enc, &mut out);
        prop_assert!(got.is_err(), "{:?} accepted", String::from_utf8_lossy(&enc));
    }

    /// A trailer line without a colon is refused.
    #[test]
    fn trailer_without_colon_refused(name in "[A-Za-z0-9 -]{1,20}") {
        let enc = format!("0\r\n{name}\r\n\r\n");
        let mut out = Vec::new();
        let got = ChunkedDecoder::new().decode(enc.as_bytes(), &mut out);
        prop_assert!(matches!(got, Err(ChunkedError::InvalidTrailer)), "{got:?}");
    }

    /// Whitespace after a chunk size is only allowed before an extension.
    #[test]
    fn chunk_size_whitespace(ws in "[ \t]{1,3}", size in 1u32..0x1000) {
        let bad = format!("{size:x}{ws}\r\n");
        let mut out = Vec::new();
        prop_assert_eq!(ChunkedDecoder::new().decode(bad.as_bytes(), &mut out), Err(ChunkedError::InvalidSize));
        let ok = format!("{size:x}{ws};e\r\n");
        prop_assert!(ChunkedDecoder::new().decode(ok.as_bytes(), &mut out).is_ok());
    }

    /// absolute-form means what origin-form + Host means (RFC 9112 §3.2.2), and the Host field
    /// is overridden; a fragment never reaches path or query.
    #[test]
    fn absolute_form_equals_origin_form(
        https in any::<bool>(), host in host(), path in "(/[a-z0-9%._-]{0,8}){0,3}",
        query in prop::option::of("[a-z0-9=&%/?]{0,12}"), frag in prop::option::of("[a-z0-9?#/]{0,6}"),
    ) {
        let q = query.as_ref().map(|q| format!("?{q}")).unwrap_or_default();
        let f = frag.as_ref().map(|f| format!("#{f}")).unwrap_or_default();
        let scheme = if https { "HTTPS" } else { "http" };
        let abs = format!("GET {scheme}://{host}{path}{q}{f} HTTP/1.1\r\nHost: other\r\n\r\n");
        let origin_path = if path.is_empty() { "/".to_string() } else { path.clone() };
        let org = format!("GET {origin_path}{q}{f} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let (mut h1, mut h2) = ([EMPTY_HEADER; 4], [EMPTY_HEADER; 4]);
        let a = http::parse_head(abs.as_bytes(), &mut h1, 4096).unwrap().unwrap();
        let o = http::parse_head(org.as_bytes(), &mut h2, 4096).unwrap().unwrap();
        prop_assert_eq!(a.authority, Some(host.as_str()));
        prop_assert_eq!((a.path, a.query), (o.path, o.query));
        let (mut ua, mut uo) = (Vec::new(), Vec::new());
        a.write_request_uri(&mut ua);
        o.write_request_uri(&mut uo);
        prop_assert_eq!(ua, uo);
        prop_assert!(!a.path.contains('#') && !a.query.contains('#'));
        prop_assert_eq!(o.query, query.as_deref().unwrap_or(""));
    }

    /// HTTP/1.1 needs exactly one Host, with a valid value.
    #[test]
    fn host_rules(host in host(), junk in prop::sample::select(vec![' ', '/', '@', '"', '<', '{', '\\']),
                  at in any::<prop::sample::Index>(), twice in any::<bool>()) {
        let req = |h: &str| format!("GET / HTTP/1.1\r\nHost: {h}\r\n\r\n");
        let mut hd = [EMPTY_HEADER; 4];
        prop_assert!(http::parse_head(req(&host).as_bytes(), &mut hd, 4096).is_ok());
        let mut bad = host.clone();
        bad.insert(at.index(host.len()) + usize::from(host.is_empty()), junk);
        if bad.trim() != bad { bad.insert(0, 'x'); }
        let mut hd = [EMPTY_HEADER; 4];
        let bad_req = req(bad.trim());
        let got = http::parse_head(bad_req.as_bytes(), &mut hd, 4096);
        prop_assert!(matches!(got, Err(HttpError::InvalidHost | HttpError::Malformed(_))), "{bad:?}: {got:?}");
        let two = if twice { format!("Host: {host}\r\nHost: {host}") } else { String::new() };
        let r = format!("GET / HTTP/1.1\r\nX: y\r\n{two}\r\n\r\n");
        let r = r.replace("\r\n\r\n\r\n", "\r\n\r\n");
        let mut hd = [EMPTY_HEADER; 4];
        let want = if twice { HttpError::DuplicateHost } else { HttpError::MissingHost };
        prop_assert_eq!(http::parse_head(r.as_bytes(), &mut hd, 4096), Err(want));
    }

    /// Any CRLF of a head turned into a bare LF is refused.
    #[test]
    fn bare_lf_anywhere_refused(names in prop::collection::vec("[A-Za-z-]{1,8}", 0..4),
                                which in any::<prop::sample::Index>()) {
        let mut req = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for n in &names { req.push_str(&format!("{n}: v\r\n")); }
        req.push_str("\r\n");
        let crlfs: Vec<usize> = req.match_indices("\r\n").map(|(i, _)| i).collect();
        let i = crlfs[which.index(crlfs.len())];
        let mut bytes = req.into_bytes();
        bytes.remove(i);
        let mut hd = [EMPTY_HEADER; 8];
        prop_assert_eq!(http::parse_head(&bytes, &mut hd, 4096), Err(HttpError::BareLf));
    }

    /// HTTP/1.2 to 1.9 parse exactly as HTTP/1.1.
    #[test]
    fn later_minor_is_1_1(minor in 2u8..=9, path in "/[a-z0-9/?=]{0,20}",
                          names in prop::collection::vec("[A-Za-z-]{1,8}", 0..4), cl in any::<u16>()) {
        let mut tail = String::from("Host: h\r\n");
        for n in &names { tail.push_str(&format!("X-{n}: v\r\n")); }
        tail.push_str(&format!("Content-Length: {cl}\r\n\r\n"));
        let later = format!("PUT {path} HTTP/1.{minor}\r\n{tail}");
        let one = format!("PUT {path} HTTP/1.1\r\n{tail}");
        let (mut h1, mut h2) = ([EMPTY_HEADER; 8], [EMPTY_HEADER; 8]);
        let a = http::parse_head(later.as_bytes(), &mut h1, 4096);
        let b = http::parse_head(one.as_bytes(), &mut h2, 4096);
        prop_assert_eq!(a, b);
    }
}
