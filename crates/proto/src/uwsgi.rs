//! The uwsgi binary protocol, as sent by nginx `uwsgi_pass`.
//!
//! A request packet is a 4-byte header — `modifier1: u8`,
//! `datasize: u16` (little-endian), `modifier2: u8` — followed by `datasize`
//! bytes of "vars". Each var is `key_len: u16 LE, key, val_len: u16 LE, val`.
//! The request body follows the vars block; its length is given by the
//! `CONTENT_LENGTH` var, not by the packet header.

use std::iter::FusedIterator;

/// Size of the fixed uwsgi packet header.
pub const HEADER_LEN: usize = 4;

/// Largest vars block the 16-bit `datasize` field can describe.
pub const MAX_VARS_LEN: usize = u16::MAX as usize;

/// Errors from parsing or encoding uwsgi packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UwsgiError {
    /// `4 + datasize` exceeds the configured maximum head size
    /// (`--buffer-size`). uWSGI answers this by dropping the request.
    #[error("uwsgi packet head exceeds the configured buffer size")]
    TooLarge,
    /// A key/value length points past the end of the vars block, or the
    /// block ends with a partial var.
    #[error("malformed uwsgi vars block")]
    MalformedVars,
    /// (Encoding) a key or value is longer than the 65535 bytes its 16-bit
    /// length prefix can describe.
    #[error("uwsgi var key or value longer than 65535 bytes")]
    VarTooLong,
    /// (Encoding) the vars block is longer than the 65535 bytes the 16-bit
    /// `datasize` field can describe.
    #[error("uwsgi vars block longer than 65535 bytes")]
    BlockTooLarge,
    /// The `CONTENT_LENGTH` var is present and non-empty but not a decimal
    /// integer.
    #[error("invalid CONTENT_LENGTH var")]
    BadContentLength,
}

impl UwsgiError {
    /// The status line the server answers this error with (only the reading errors reach a
    /// client: the encoding ones are for senders).
    pub fn status(&self) -> &'static str {
        match self {
            UwsgiError::TooLarge => "413 Request Entity Too Large",
            UwsgiError::MalformedVars
            | UwsgiError::VarTooLong
            | UwsgiError::BlockTooLarge
            | UwsgiError::BadContentLength => "400 Bad Request",
        }
    }
}

/// A parsed uwsgi packet head, borrowing the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UwsgiHead<'a> {
    /// Packet type; 0 is a WSGI request. Kept verbatim: the server decides
    /// what to do with other values.
    pub modifier1: u8,
    /// Sub-type; 0 for ordinary requests.
    pub modifier2: u8,
    /// The raw, already validated vars block (without the 4-byte header).
    pub vars: &'a [u8],
    /// Bytes of the buffer taken by the head: `4 + datasize`. The request
    /// body starts at this offset.
    pub head_len: usize,
}

impl<'a> UwsgiHead<'a> {
    /// Iterates the vars as `(key, value)` pairs, without allocating.
    #[inline]
    pub fn iter(&self) -> Vars<'a> {
        Vars::new(self.vars)
    }

    /// Value of the first var whose key equals `key` exactly (uwsgi keys are
    /// case-sensitive CGI names). Linear scan: heads are small and this is
    /// cheaper than building a map for the few lookups a request needs.
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.iter().find(|&(k, _)| k == key).map(|(_, v)| v)
    }

    /// The request body length announced by the `CONTENT_LENGTH` var.
    ///
    /// Missing or empty means no body (0), as nginx sends an empty
    /// `CONTENT_LENGTH` for body-less requests.
    pub fn content_length(&self) -> Result<u64, UwsgiError> {
        match self.get(b"CONTENT_LENGTH") {
            None => Ok(0),
            Some(v) if crate::trim_ows(v).is_empty() => Ok(0),
            Some(v) => crate::parse_content_length(v).ok_or(UwsgiError::BadContentLength),
        }
    }
}

impl<'a> IntoIterator for &UwsgiHead<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Vars<'a>;
    fn into_iter(self) -> Vars<'a> {
        self.iter()
    }
}

/// Parses a uwsgi packet head from the start of `buf`.
///
/// * `Ok(None)` — more bytes are needed.
/// * `Err(TooLarge)` — `4 + datasize > max_head`; reported as soon as the
///   4 header bytes are available so the server never buffers an oversized
///   head.
/// * `Err(MalformedVars)` — the vars block is inconsistent.
/// * `Ok(Some(head))` — the whole vars block is present and validated, so
///   iterating it afterwards cannot fail.
pub fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<UwsgiHead<'_>>, UwsgiError> {
    let &[modifier1, lo, hi, modifier2, ..] = buf else {
        return Ok(None);
    };
    let head_len = HEADER_LEN + usize::from(u16::from_le_bytes([lo, hi]));
    if head_len > max_head {
        return Err(UwsgiError::TooLarge);
    }
    let Some(vars) = buf.get(HEADER_LEN..head_len) else {
        return Ok(None);
    };
    validate_vars(vars)?;
    Ok(Some(UwsgiHead {
        modifier1,
        modifier2,
        vars,
        head_len,
    }))
}

/// Checks that `block` is a sequence of complete vars with in-bounds
/// lengths and nothing trailing.
pub fn validate_vars(block: &[u8]) -> Result<(), UwsgiError> {
    let mut rest = block;
    while !rest.is_empty() {
        let (_, _, tail) = split_var(rest).ok_or(UwsgiError::MalformedVars)?;
        rest = tail;
    }
    Ok(())
}

/// Splits one `u16 len + bytes` field off the front of `buf`.
#[inline(always)]
fn split_field(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&[lo, hi], rest) = buf.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes([lo, hi]));
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Splits one var (key, value, remainder) off the front of `buf`.
#[inline(always)]
fn split_var(buf: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (key, rest) = split_field(buf)?;
    let (val, rest) = split_field(rest)?;
    Some((key, val, rest))
}

/// Zero-allocation iterator over a uwsgi vars block, yielding
/// `(key, value)` byte slices.
///
/// Intended for blocks validated by [`parse_head`] / [`validate_vars`]. On an
/// unvalidated block it stops (rather than panicking) at the first malformed
/// var.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    rest: &'a [u8],
}

impl<'a> Vars<'a> {
    /// Iterates the vars in `block` (the bytes after the 4-byte header).
    #[inline]
    pub fn new(block: &'a [u8]) -> Self {
        Vars { rest: block }
    }
}

impl<'a> Iterator for Vars<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_var(self.rest) {
            Some((k, v, rest)) => {
                self.rest = rest;
                Some((k, v))
            }
            None => {
                // Fuse on malformed input instead of yielding garbage.
                self.rest = &[];
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Each var takes at least 4 bytes (two empty length-prefixed fields).
        (
            usize::from(!self.rest.is_empty()),
            Some(self.rest.len() / 4),
        )
    }
}

impl FusedIterator for Vars<'_> {}

/// Clamps a field to what a u16 length prefix can describe.
#[inline(always)]
fn clamp_field(b: &[u8]) -> &[u8] {
    &b[..b.len().min(MAX_VARS_LEN)]
}

/// Appends the vars block encoding of `vars` to `out` (no packet header).
///
/// The wire format cannot express a key or value longer than 65535 bytes;
/// such fields are truncated to 65535 bytes rather than panicking. Use
/// [`encode_packet`] to have them rejected instead.
pub fn encode_vars(vars: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
    let needed: usize = vars
        .iter()
        .map(|(k, v)| 4 + clamp_field(k).len() + clamp_field(v).len())
        .sum();
    out.reserve(needed);
    for (k, v) in vars {
        for field in [clamp_field(k), clamp_field(v)] {
            // Cannot truncate: clamp_field bounds the length by u16::MAX.
            let len = field.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(field);
        }
    }
}

/// Appends a complete uwsgi packet head (header + vars block) to `out`.
///
/// Fails, leaving `out` untouched, if a key/value exceeds 65535 bytes
/// ([`UwsgiError::VarTooLong`]) or the vars block does
/// ([`UwsgiError::BlockTooLarge`]).
pub fn encode_packet(
    modifier1: u8,
    modifier2: u8,
    vars: &[(&[u8], &[u8])],
    out: &mut Vec<u8>,
) -> Result<(), UwsgiError> {
    let mut size: usize = 0;
    for (k, v) in vars {
        if k.len() > MAX_VARS_LEN || v.len() > MAX_VARS_LEN {
            return Err(UwsgiError::VarTooLong);
        }
        size += 4 + k.len() + v.len();
    }
    let datasize = u16::try_from(size).map_err(|_| UwsgiError::BlockTooLarge)?;
    out.reserve(HEADER_LEN + size);
    out.push(modifier1);
    out.extend_from_slice(&datasize.to_le_bytes());
    out.push(modifier2);
    encode_vars(vars, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vars nginx sends with the stock `uwsgi_params` file for
    /// `POST /app/path?x=1&y=2` over HTTPS.
    fn nginx_vars() -> Vec<(&'static [u8], &'static [u8])> {
        vec![
            (b"QUERY_STRING", b"x=1&y=2"),
            (b"REQUEST_METHOD", b"POST"),
            (b"CONTENT_TYPE", b"application/x-www-form-urlencoded"),
            (b"CONTENT_LENGTH", b"11"),
            (b"REQUEST_URI", b"/app/path?x=1&y=2"),
            (b"PATH_INFO", b"/app/path"),
            (b"DOCUMENT_ROOT", b"/usr/share/nginx/html"),
            (b"SERVER_PROTOCOL", b"HTTP/1.1"),
            (b"REQUEST_SCHEME", b"https"),
            (b"HTTPS", b"on"),
            (b"REMOTE_ADDR", b"203.0.113.7"),
            (b"REMOTE_PORT", b"51544"),
            (b"SERVER_PORT", b"443"),
            (b"SERVER_NAME", b"example.com"),
            (b"HTTP_HOST", b"example.com"),
            (b"HTTP_USER_AGENT", b"curl/8.5.0"),
            (b"HTTP_ACCEPT", b"*/*"),
            (b"HTTP_CONTENT_TYPE", b"application/x-www-form-urlencoded"),
            (b"HTTP_CONTENT_LENGTH", b"11"),
        ]
    }

    /// Builds the packet by hand, byte by byte, independently of the encoder.
    fn hand_packet(vars: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
        let mut block = Vec::new();
        for (k, v) in vars {
            block.push(k.len() as u8);
            block.push((k.len() >> 8) as u8);
            block.extend_from_slice(k);
            block.push(v.len() as u8);
            block.push((v.len() >> 8) as u8);
            block.extend_from_slice(v);
        }
        let mut p = vec![0, block.len() as u8, (block.len() >> 8) as u8, 0];
        p.extend_from_slice(&block);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn parses_nginx_packet() {
        let vars = nginx_vars();
        let body = b"hello=world";
        let pkt = hand_packet(&vars, body);
        let head = parse_head(&pkt, 4096).unwrap().unwrap();
        assert_eq!(head.modifier1, 0);
        assert_eq!(head.modifier2, 0);
        assert_eq!(head.head_len, pkt.len() - body.len());
        assert_eq!(&pkt[head.head_len..], body);
        let got: Vec<_> = head.iter().collect();
        assert_eq!(got, vars);
        assert_eq!(head.get(b"REQUEST_METHOD"), Some(&b"POST"[..]));
        assert_eq!(head.get(b"HTTP_HOST"), Some(&b"example.com"[..]));
        assert_eq!(head.get(b"request_method"), None);
        assert_eq!(head.content_length(), Ok(11));
    }

    #[test]
    fn encoder_matches_hand_built_packet() {
        let vars = nginx_vars();
        let mut out = Vec::new();
        encode_packet(0, 0, &vars, &mut out).unwrap();
        assert_eq!(out, hand_packet(&vars, b""));
        let mut block = Vec::new();
        encode_vars(&vars, &mut block);
        assert_eq!(block, out[4..]);
    }

    #[test]
    fn header_fields_little_endian() {
        let mut out = Vec::new();
        encode_packet(5, 9, &[(b"AB", b"C")], &mut out).unwrap();
        assert_eq!(out, [5, 7, 0, 9, 2, 0, b'A', b'B', 1, 0, b'C']);
        let head = parse_head(&out, 4096).unwrap().unwrap();
        assert_eq!((head.modifier1, head.modifier2, head.head_len), (5, 9, 11));
        // A 300-byte value: length 0x012c is sent low byte first.
        let mut out = Vec::new();
        encode_packet(0, 0, &[(b"K", &[b'v'; 300])], &mut out).unwrap();
        assert_eq!(&out[..4], [0, 0x31, 0x01, 0]); // datasize 305 = 0x0131
        assert_eq!(&out[7..9], [0x2c, 0x01]);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let pkt = hand_packet(&nginx_vars(), b"");
        for i in 0..pkt.len() {
            assert_eq!(parse_head(&pkt[..i], 4096), Ok(None), "prefix {i}");
        }
        assert!(parse_head(&pkt, 4096).unwrap().is_some());
    }

    #[test]
    fn too_large_detected_from_header_alone() {
        // datasize = 0x1000 → head_len 4100 > 4096.
        assert_eq!(
            parse_head(&[0, 0x00, 0x10, 0], 4096),
            Err(UwsgiError::TooLarge)
        );
        assert_eq!(parse_head(&[0, 0x00, 0x10], 4096), Ok(None));
        // Exactly at the limit is fine (just incomplete here).
        assert_eq!(parse_head(&[0, 0xfc, 0x0f, 0], 4096), Ok(None));
        assert_eq!(parse_head(&[0, 0, 0, 0], 3), Err(UwsgiError::TooLarge));
        assert_eq!(parse_head(&[0, 0xff, 0xff, 0], usize::MAX), Ok(None));
    }

    #[test]
    fn empty_vars_block() {
        let head = parse_head(&[0, 0, 0, 0, b'x'], 4096).unwrap().unwrap();
        assert_eq!(head.head_len, 4);
        assert_eq!(head.iter().count(), 0);
        assert_eq!(head.content_length(), Ok(0));
    }

    #[test]
    fn malformed_vars_rejected() {
        // key_len points past the block.
        assert_eq!(
            parse_head(&[0, 3, 0, 0, 5, 0, b'a'], 4096),
            Err(UwsgiError::MalformedVars)
        );
        // trailing partial var (one byte of a length prefix).
        assert_eq!(
            parse_head(&[0, 5, 0, 0, 0, 0, 0, 0, 7], 4096),
            Err(UwsgiError::MalformedVars)
        );
        // key present but no value length.
        assert_eq!(
            parse_head(&[0, 3, 0, 0, 1, 0, b'k'], 4096),
            Err(UwsgiError::MalformedVars)
        );
        // value length overruns.
        assert_eq!(
            parse_head(&[0, 6, 0, 0, 1, 0, b'k', 2, 0, b'v'], 4096),
            Err(UwsgiError::MalformedVars)
        );
        // Bytes after the block (the body) never affect validation.
        assert!(parse_head(&[0, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 4096)
            .unwrap()
            .is_some());
    }

    #[test]
    fn vars_iterator_fuses_on_garbage() {
        let mut it = Vars::new(&[1, 0, b'k', 1, 0, b'v', 9, 9, 9]);
        assert_eq!(it.next(), Some((&b"k"[..], &b"v"[..])));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
        assert_eq!(Vars::new(&[]).next(), None);
    }

    #[test]
    fn content_length_variants() {
        let mk = |v: &'static [u8]| {
            let mut p = Vec::new();
            encode_packet(0, 0, &[(b"CONTENT_LENGTH", v)], &mut p).unwrap();
            p
        };
        for (v, want) in [
            (&b""[..], Ok(0)),
            (b"0", Ok(0)),
            (b"1234", Ok(1234)),
            (b"abc", Err(UwsgiError::BadContentLength)),
            (b"-1", Err(UwsgiError::BadContentLength)),
        ] {
            let p = mk(v);
            let head = parse_head(&p, 4096).unwrap().unwrap();
            assert_eq!(head.content_length(), want, "{v:?}");
        }
    }

    #[test]
    fn encode_limits() {
        let big = vec![b'a'; 70_000];
        let mut out = vec![1, 2, 3];
        assert_eq!(
            encode_packet(0, 0, &[(b"K", &big)], &mut out),
            Err(UwsgiError::VarTooLong)
        );
        assert_eq!(out, [1, 2, 3], "output untouched on error");
        let half = vec![b'a'; 40_000];
        assert_eq!(
            encode_packet(0, 0, &[(b"A", &half), (b"B", &half)], &mut out),
            Err(UwsgiError::BlockTooLarge)
        );
        assert_eq!(out, [1, 2, 3]);

        // Largest possible block: 4 + 65531 = 65535 bytes.
        let max_val = vec![b'v'; MAX_VARS_LEN - 4];
        let mut out = Vec::new();
        encode_packet(0, 0, &[(b"", &max_val)], &mut out).unwrap();
        let head = parse_head(&out, usize::MAX).unwrap().unwrap();
        assert_eq!(head.head_len, 4 + MAX_VARS_LEN);
        assert_eq!(head.get(b""), Some(&max_val[..]));

        // encode_vars truncates instead of panicking.
        let mut block = Vec::new();
        encode_vars(&[(b"K", &big)], &mut block);
        assert_eq!(block.len(), 2 + 1 + 2 + MAX_VARS_LEN);
        let (k, v) = Vars::new(&block).next().unwrap();
        assert_eq!((k, v.len()), (&b"K"[..], MAX_VARS_LEN));
    }

    #[test]
    fn into_iterator_for_head() {
        let mut p = Vec::new();
        encode_packet(0, 0, &[(b"A", b"1"), (b"B", b"2")], &mut p).unwrap();
        let head = parse_head(&p, 4096).unwrap().unwrap();
        let mut keys = Vec::new();
        for (k, _) in &head {
            keys.push(k);
        }
        assert_eq!(keys, [b"A", b"B"]);
    }
}
