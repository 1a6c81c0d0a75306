//! HTTP/1.x request-side protocol logic for `--http-socket`: head parsing
//! with body framing, incremental chunked decoding, CGI environ key mapping,
//! percent decoding and WSGI status parsing.

use crate::{parse_content_length, trim_ows};

/// How the request body is framed, derived from the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Neither `Content-Length` nor `Transfer-Encoding`: no body.
    None,
    /// `Content-Length: n` (kept as sent, so `Length(0)` is possible).
    Length(u64),
    /// `Transfer-Encoding: chunked`; decode with [`ChunkedDecoder`].
    Chunked,
}

/// Errors from [`parse_head`]. The server answers all of them with a 400
/// (or 431 for [`HttpError::HeadTooLarge`] / [`HttpError::TooManyHeaders`])
/// and closes the connection, since framing can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head is not complete within `max_head` bytes.
    #[error("HTTP request head too large")]
    HeadTooLarge,
    /// More header lines than the caller's header array holds.
    #[error("too many HTTP request headers")]
    TooManyHeaders,
    /// Syntax error in the request line or a header line.
    #[error("malformed HTTP request head: {0}")]
    Malformed(httparse::Error),
    /// A `Content-Length` value that is not a plain decimal integer.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Several `Content-Length` headers with different values.
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`: a classic request
    /// smuggling vector, so refused rather than resolved.
    #[error("both Content-Length and Transfer-Encoding present")]
    LengthAndTransferEncoding,
    /// A `Transfer-Encoding` other than a single `chunked`: the server can
    /// only decode chunked, and anything not ending in chunked cannot be
    /// delimited at all.
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
}

/// A parsed HTTP/1.x request head. `'h` borrows the caller's header array,
/// `'b` the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpHead<'h, 'b> {
    /// Request method, e.g. `GET` (a validated token).
    pub method: &'b str,
    /// The raw request target, e.g. `/a%20b?x=1` (not decoded).
    pub target: &'b str,
    /// `target` before the first `?`.
    pub path: &'b str,
    /// `target` after the first `?` (without it); empty if there is none.
    pub query: &'b str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The parsed headers, in order (a prefix of the caller's array).
    pub headers: &'h [httparse::Header<'b>],
    /// Bytes of the buffer taken by the head, including the blank line; the
    /// body (or the next pipelined request) starts here.
    pub head_len: usize,
    /// Body framing.
    pub body: BodyKind,
    /// Whether the connection may be reused after this request: HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// HTTP/1.1 `Expect: 100-continue` (ignored for HTTP/1.0, per RFC 9110).
    pub expect_continue: bool,
}

impl<'b> HttpHead<'_, 'b> {
    /// Value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// Parses an HTTP/1.x request head from the start of `buf`.
///
/// * `Ok(None)` — incomplete; read more. Once `buf` holds `max_head` bytes
///   without a complete head this becomes `Err(HeadTooLarge)` so a client
///   cannot make the server buffer without bound.
/// * `Ok(Some(head))` — complete; framing (`body`, `keep_alive`,
///   `expect_continue`) is derived in the same single pass over the headers.
///
/// `headers` bounds the header count; use `[httparse::EMPTY_HEADER; N]`.
pub fn parse_head<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [httparse::Header<'b>],
    max_head: usize,
) -> Result<Option<HttpHead<'h, 'b>>, HttpError> {
    let mut req = httparse::Request::new(headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max_head {
                Err(HttpError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        Err(e) => return Err(HttpError::Malformed(e)),
    };
    // The buffer may have been filled past max_head by a large read; the
    // limit applies to the head itself either way.
    if head_len > max_head {
        return Err(HttpError::HeadTooLarge);
    }
    // httparse guarantees these are set on Complete; map defensively anyway
    // rather than unwrap on an input-reachable path.
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HttpError::Malformed(httparse::Error::Token));
    };
    let headers: &'h [httparse::Header<'b>] = req.headers;

    let mut content_length: Option<u64> = None;
    let mut te_seen = false;
    let mut te_ok = true; // exactly one coding, `chunked`, across all TE headers
    let mut te_codings = 0u32;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;

    for h in headers {
        let name = h.name.as_bytes();
        // Dispatch on length first: most headers (Host, User-Agent, Accept…)
        // are rejected by a single integer compare.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let n = parse_content_length(h.value).ok_or(HttpError::BadContentLength)?;
                match content_length {
                    Some(prev) if prev != n => return Err(HttpError::ConflictingContentLength),
                    _ => content_length = Some(n),
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                te_seen = true;
                for coding in h.value.split(|&b| b == b',') {
                    let coding = trim_ows(coding);
                    if coding.is_empty() {
                        continue; // empty list elements are allowed (RFC 9110 §5.6.1)
                    }
                    te_codings += 1;
                    if !coding.eq_ignore_ascii_case(b"chunked") {
                        te_ok = false;
                    }
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for opt in h.value.split(|&b| b == b',') {
                    let opt = trim_ows(opt);
                    if opt.eq_ignore_ascii_case(b"close") {
                        conn_close = true;
                    } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                        conn_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect")
                && trim_ows(h.value).eq_ignore_ascii_case(b"100-continue") =>
            {
                expect_continue = true;
            }
            _ => {}
        }
    }

    let body = if te_seen {
        if content_length.is_some() {
            return Err(HttpError::LengthAndTransferEncoding);
        }
        if !te_ok || te_codings != 1 {
            return Err(HttpError::UnsupportedTransferEncoding);
        }
        BodyKind::Chunked
    } else {
        match content_length {
            Some(n) => BodyKind::Length(n),
            None => BodyKind::None,
        }
    };

    let keep_alive = if minor_version >= 1 {
        !conn_close
    } else {
        conn_keep_alive && !conn_close
    };

    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };

    Ok(Some(HttpHead {
        method,
        target,
        path,
        query,
        minor_version,
        headers,
        head_len,
        body,
        keep_alive,
        expect_continue: expect_continue && minor_version >= 1,
    }))
}

/// Errors from [`ChunkedDecoder::decode`]. All are fatal for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk-size line that does not start with a hex digit, or has junk
    /// after the size.
    #[error("invalid chunk size")]
    InvalidSize,
    /// A chunk size that does not fit in 64 bits.
    #[error("chunk size overflow")]
    SizeOverflow,
    /// A missing or bare CR/LF where CRLF is required. Bare LF is refused on
    /// purpose: lenient line endings are a request smuggling vector.
    #[error("invalid line ending in chunked body")]
    BadLineEnding,
    /// A chunk extension or trailer line longer than
    /// [`ChunkedDecoder::MAX_LINE`].
    #[error("chunk extension or trailer line too long")]
    LineTooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `any` = at least one digit seen.
    Size { size: u64, any: bool },
    /// After the size: optional whitespace then `;` or CR.
    SizeWs { size: u64 },
    /// Inside a chunk extension, skipping until CR.
    Ext { size: u64 },
    /// Saw CR after the size line; expecting LF.
    SizeLf { size: u64 },
    /// Copying chunk data.
    Data { remaining: u64 },
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line, skipping until CR.
    Trailer,
    /// Saw CR ending a trailer line; expecting LF.
    TrailerLf,
    /// Saw CR of the final empty line; expecting LF.
    FinalLf,
    /// Body complete.
    Done,
}

/// Incremental decoder for `Transfer-Encoding: chunked` request bodies.
///
/// Feed it whatever bytes arrived; it copies decoded data to `dst` and keeps
/// enough state to resume at any byte boundary (inside a hex size, between CR
/// and LF, …). Extensions and trailers are skipped.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes consumed in the current extension/trailer line, to bound them.
    line_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// Longest chunk extension or trailer line accepted, in bytes; bounds the
    /// work a client can make the server do without producing body bytes.
    pub const MAX_LINE: usize = 8192;

    /// A decoder positioned at the first chunk-size line.
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                size: 0,
                any: false,
            },
            line_len: 0,
        }
    }

    /// Whether the terminating chunk and trailers have been consumed.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `src` as possible, appending body bytes to `dst`.
    ///
    /// Returns `(consumed, finished)`. When `finished`, `consumed` stops right
    /// after the final CRLF, so bytes of a pipelined next request remain in
    /// `src[consumed..]`. Otherwise all of `src` is consumed. After an error
    /// the decoder must not be reused.
    pub fn decode(&mut self, src: &[u8], dst: &mut Vec<u8>) -> Result<(usize, bool), ChunkedError> {
        let mut pos = 0;
        while pos < src.len() {
            if let State::Data { remaining } = self.state {
                // Bulk copy: the hot path for large bodies.
                let avail = src.len() - pos;
                let n = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
                dst.extend_from_slice(&src[pos..pos + n]);
                pos += n;
                let remaining = remaining - n as u64;
                self.state = if remaining == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining }
                };
                continue;
            }
            if self.state == State::Done {
                return Ok((pos, true));
            }
            let b = src[pos];
            pos += 1;
            self.state = self.step(b)?;
        }
        Ok((pos, self.state == State::Done))
    }

    /// Advances the non-data states by one byte.
    #[inline]
    fn step(&mut self, b: u8) -> Result<State, ChunkedError> {
        Ok(match self.state {
            State::Size { size, any } => match hex_val(b) {
                Some(d) => {
                    if size > (u64::MAX >> 4) {
                        return Err(ChunkedError::SizeOverflow);
                    }
                    State::Size {
                        size: (size << 4) | u64::from(d),
                        any: true,
                    }
                }
                None if !any => return Err(ChunkedError::InvalidSize),
                None => self.after_size(size, b)?,
            },
            State::SizeWs { size } => self.after_size(size, b)?,
            State::Ext { size } => match b {
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => {
                    self.bump_line()?;
                    State::Ext { size }
                }
            },
            State::SizeLf { size } => {
                if b != b'\n' {
                    return Err(ChunkedError::BadLineEnding);
                }
                if size == 0 {
                    State::TrailerStart
                } else {
                    State::Data { remaining: size }
                }
            }
            State::DataCr => match b {
                b'\r' => State::DataLf,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            State::DataLf => match b {
                b'\n' => State::Size {
                    size: 0,
                    any: false,
                },
                _ => return Err(ChunkedError::BadLineEnding),
            },
            State::TrailerStart => match b {
                b'\r' => State::FinalLf,
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => {
                    self.line_len = 0;
                    self.bump_line()?;
                    State::Trailer
                }
            },
            State::Trailer => match b {
                b'\r' => State::TrailerLf,
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => {
                    self.bump_line()?;
                    State::Trailer
                }
            },
            State::TrailerLf => match b {
                b'\n' => State::TrailerStart,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            State::FinalLf => match b {
                b'\n' => State::Done,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            // Handled by the caller; kept total so no input can panic.
            State::Data { remaining } => State::Data { remaining },
            State::Done => State::Done,
        })
    }

    /// Handles the byte after a complete hex size.
    #[inline]
    fn after_size(&mut self, size: u64, b: u8) -> Result<State, ChunkedError> {
        Ok(match b {
            // Tolerate "BWS" before an extension/CRLF, as common servers do.
            b' ' | b'\t' => State::SizeWs { size },
            b';' => {
                self.line_len = 0;
                State::Ext { size }
            }
            b'\r' => State::SizeLf { size },
            b'\n' => return Err(ChunkedError::BadLineEnding),
            _ => return Err(ChunkedError::InvalidSize),
        })
    }

    #[inline]
    fn bump_line(&mut self) -> Result<(), ChunkedError> {
        self.line_len += 1;
        if self.line_len > Self::MAX_LINE {
            Err(ChunkedError::LineTooLong)
        } else {
            Ok(())
        }
    }
}

#[inline(always)]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The terminating chunk of a chunked message with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends `data` as one chunk (`hex-size CRLF data CRLF`) to `out`.
///
/// Empty `data` appends nothing: an empty chunk would terminate the message
/// (use [`LAST_CHUNK`] for that).
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    write_hex(data.len() as u64, out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn write_hex(mut n: u64, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends the CGI/WSGI environ key for header `name` to `out`:
/// `Content-Type` → `CONTENT_TYPE`, `Content-Length` → `CONTENT_LENGTH`,
/// anything else → `HTTP_` + upper-cased name with `-` → `_`.
#[inline]
pub fn header_to_cgi(name: &[u8], out: &mut Vec<u8>) {
    // CGI (RFC 3875 §4.1) gives these two their own un-prefixed variables.
    match name.len() {
        12 if name.eq_ignore_ascii_case(b"content-type") => {
            out.extend_from_slice(b"CONTENT_TYPE");
            return;
        }
        14 if name.eq_ignore_ascii_case(b"content-length") => {
            out.extend_from_slice(b"CONTENT_LENGTH");
            return;
        }
        _ => {}
    }
    out.reserve(5 + name.len());
    out.extend_from_slice(b"HTTP_");
    out.extend(name.iter().map(|&b| match b {
        b'-' => b'_',
        _ => b.to_ascii_uppercase(),
    }));
}

/// Appends `input` to `out` with `%XX` escapes decoded, as uWSGI does for
/// `PATH_INFO`. A `%` not followed by two hex digits is copied literally.
/// `+` is left alone (it only means space in query strings).
pub fn percent_decode(input: &[u8], out: &mut Vec<u8>) {
    let Some(first) = memchr::memchr(b'%', input) else {
        // Fast path: most paths carry no escapes.
        out.extend_from_slice(input);
        return;
    };
    out.reserve(input.len());
    out.extend_from_slice(&input[..first]);
    let mut rest = &input[first..];
    // Invariant: `rest` starts with '%'.
    while let [b'%', tail @ ..] = rest {
        match decode_escape(tail) {
            Some((v, after)) => {
                out.push(v);
                rest = after;
            }
            None => {
                out.push(b'%');
                rest = tail;
            }
        }
        let next = memchr::memchr(b'%', rest).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..next]);
        rest = &rest[next..];
    }
}

/// Decodes the two hex digits after a `%`, returning the byte and the rest.
#[inline(always)]
fn decode_escape(tail: &[u8]) -> Option<(u8, &[u8])> {
    let [h, l, after @ ..] = tail else {
        return None;
    };
    Some(((hex_val(*h)? << 4) | hex_val(*l)?, after))
}

/// Parses the status code from a WSGI status string such as `"200 OK"`:
/// exactly three ASCII digits (the first non-zero) followed by a space or
/// the end of the string.
pub fn status_code(status_line: &[u8]) -> Option<u16> {
    match status_line {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..]
            if matches!(rest.first(), None | Some(b' ')) =>
        {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use httparse::EMPTY_HEADER;

    fn parse(buf: &[u8]) -> Result<Option<HttpHead<'_, '_>>, HttpError> {
        // Leak a header array so the result can be returned from a helper.
        let headers = Box::leak(Box::new([EMPTY_HEADER; 32]));
        parse_head(buf, headers, 8192)
    }

    const CURL: &[u8] = b"GET /hello/w%20rld?a=1&b=2 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

    #[test]
    fn parses_curl_get() {
        let h = parse(CURL).unwrap().unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/hello/w%20rld?a=1&b=2");
        assert_eq!(h.path, "/hello/w%20rld");
        assert_eq!(h.query, "a=1&b=2");
        assert_eq!(h.minor_version, 1);
        assert_eq!(h.headers.len(), 3);
        assert_eq!(h.head_len, CURL.len());
        assert_eq!(h.body, BodyKind::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
        assert_eq!(h.header("host"), Some(&b"localhost:8080"[..]));
        assert_eq!(h.header("x-missing"), None);
    }

    #[test]
    fn query_edge_cases() {
        let h = parse(b"GET /p? HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.path, h.query), ("/p", ""));
        let h = parse(b"GET /p?a?b HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.path, h.query), ("/p", "a?b"));
        let h = parse(b"OPTIONS * HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.path, h.query), ("*", ""));
    }

    #[test]
    fn split_at_every_offset() {
        let full = b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
        let head_len = full.len() - 5;
        for i in 0..head_len {
            assert_eq!(parse(&full[..i]), Ok(None), "offset {i}");
        }
        for i in head_len..=full.len() {
            let h = parse(&full[..i]).unwrap().unwrap();
            assert_eq!(h.head_len, head_len);
            assert_eq!(h.body, BodyKind::Length(5));
        }
    }

    #[test]
    fn pipelined_requests() {
        let buf = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c?q HTTP/1.0\r\n\r\n";
        let mut off = 0;
        let mut seen = Vec::new();
        while off < buf.len() {
            let h = parse(&buf[off..]).unwrap().unwrap();
            off += h.head_len;
            if let BodyKind::Length(n) = h.body {
                off += n as usize;
            }
            seen.push((h.method, h.path, h.keep_alive));
        }
        assert_eq!(
            seen,
            [
                ("GET", "/a", true),
                ("POST", "/b", true),
                ("GET", "/c", false)
            ]
        );
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |req: &[u8]| parse(req).unwrap().unwrap().keep_alive;
        assert!(ka(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
        ));
    }

    #[test]
    fn expect_continue() {
        let h = parse(b"PUT /u HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.expect_continue);
        let h = parse(b"PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.expect_continue, "ignored for HTTP/1.0");
        let h = parse(b"PUT /u HTTP/1.1\r\nExpect: something\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.expect_continue);
    }

    #[test]
    fn body_framing() {
        let body = |req: &[u8]| parse(req).map(|h| h.unwrap().body);
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            Ok(BodyKind::Length(0))
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\ncontent-length: 12\r\nContent-Length: 12\r\n\r\n"),
            Ok(BodyKind::Length(12))
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED , \r\n\r\n"),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(HttpError::ConflictingContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::LengthAndTransferEncoding)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Err(HttpError::LengthAndTransferEncoding)
        );
        for te in [
            &b"gzip"[..],
            b"chunked, gzip",
            b"gzip, chunked",
            b"chunked, chunked",
            b"identity",
            b"",
            b"chunkedx",
        ] {
            let mut req = b"POST / HTTP/1.1\r\nTransfer-Encoding: ".to_vec();
            req.extend_from_slice(te);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                body(&req),
                Err(HttpError::UnsupportedTransferEncoding),
                "{}",
                String::from_utf8_lossy(te)
            );
        }
        // Split across two header lines counts as a list too.
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::UnsupportedTransferEncoding)
        );
    }

    #[test]
    fn size_limits() {
        let mut hdrs = [EMPTY_HEADER; 4];
        let req = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
        assert_eq!(
            parse_head(req, &mut hdrs, 8192),
            Err(HttpError::TooManyHeaders)
        );
        let mut hdrs = [EMPTY_HEADER; 8];
        assert!(parse_head(req, &mut hdrs, req.len()).unwrap().is_some());
        assert_eq!(
            parse_head(req, &mut hdrs, req.len() - 1),
            Err(HttpError::HeadTooLarge)
        );
        let partial = b"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaa";
        assert_eq!(parse_head(partial, &mut hdrs, 100), Ok(None));
        assert_eq!(
            parse_head(partial, &mut hdrs, partial.len()),
            Err(HttpError::HeadTooLarge)
        );
    }

    #[test]
    fn malformed_heads() {
        assert!(matches!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GE T / HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"\x16\x03\x01\x02\x00"),
            Err(HttpError::Malformed(_))
        ));
    }

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let (n, fin) = d.decode(input, &mut out)?;
        Ok((out, n, fin))
    }

    #[test]
    fn chunked_basic() {
        let src = b"5\r\nhello\r\n6;name=val\r\n world\r\nA \r\n0123456789\r\n0\r\n\r\nNEXT";
        let (out, n, fin) = decode_all(src).unwrap();
        assert_eq!(out, b"hello world0123456789");
        assert!(fin);
        assert_eq!(&src[n..], b"NEXT");
    }

    #[test]
    fn chunked_trailers_and_extensions() {
        let src = b"3;a=b;c\r\nabc\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\n";
        let (out, n, fin) = decode_all(src).unwrap();
        assert_eq!((out.as_slice(), n, fin), (&b"abc"[..], src.len(), true));
    }

    #[test]
    fn chunked_split_every_byte() {
        let src = b"1a;ext\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for (i, b) in src.iter().enumerate() {
            let (n, fin) = d.decode(std::slice::from_ref(b), &mut out).unwrap();
            assert_eq!(n, 1);
            assert_eq!(fin, i == src.len() - 1);
        }
        assert_eq!(out, b"abcdefghijklmnopqrstuvwxyz");
        assert!(d.is_finished());
        assert_eq!(d.decode(b"more", &mut out), Ok((0, true)));
    }

    #[test]
    fn chunked_errors() {
        let err = |s: &[u8]| decode_all(s).unwrap_err();
        assert_eq!(err(b"\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"g\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"5x\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"5 x\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"-5\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"5\n"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"5\rx"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"1\r\nab"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"1\r\na\rx"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"0\r\n\n"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"0\r\nT: v\n"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"1;e\n"), ChunkedError::BadLineEnding);
        assert_eq!(
            err(b"10000000000000000\r\n"),
            ChunkedError::SizeOverflow,
            "17 hex digits"
        );
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'x', ChunkedDecoder::MAX_LINE + 1));
        assert_eq!(err(&long), ChunkedError::LineTooLong);
        let mut long = b"0\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', ChunkedDecoder::MAX_LINE + 1));
        assert_eq!(err(&long), ChunkedError::LineTooLong);
    }

    #[test]
    fn chunked_max_size_and_leading_zeros() {
        // Largest representable size is accepted (data just never arrives).
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(
            d.decode(b"ffffffffffffffff\r\nab", &mut out),
            Ok((20, false))
        );
        assert_eq!(out, b"ab");
        let (out, _, fin) = decode_all(b"00000000000000000000003\r\nabc\r\n0\r\n\r\n").unwrap();
        assert_eq!((out.as_slice(), fin), (&b"abc"[..], true));
    }

    #[test]
    fn chunk_writer() {
        let mut out = Vec::new();
        write_chunk(b"", &mut out);
        assert!(out.is_empty());
        write_chunk(&[b'z'; 300], &mut out);
        assert!(out.starts_with(b"12c\r\nzzz"));
        out.extend_from_slice(LAST_CHUNK);
        let (dec, n, fin) = decode_all(&out).unwrap();
        assert_eq!((dec, n, fin), (vec![b'z'; 300], out.len(), true));
        let mut hex = Vec::new();
        write_hex(0, &mut hex);
        write_hex(u64::MAX, &mut hex);
        assert_eq!(hex, b"0ffffffffffffffff");
    }

    #[test]
    fn cgi_names() {
        let cgi = |n: &[u8]| {
            let mut out = b"prefix:".to_vec();
            header_to_cgi(n, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(cgi(b"Content-Type"), "prefix:CONTENT_TYPE");
        assert_eq!(cgi(b"content-length"), "prefix:CONTENT_LENGTH");
        assert_eq!(cgi(b"Host"), "prefix:HTTP_HOST");
        assert_eq!(cgi(b"X-Forwarded-For"), "prefix:HTTP_X_FORWARDED_FOR");
        assert_eq!(cgi(b"user-agent"), "prefix:HTTP_USER_AGENT");
        assert_eq!(cgi(b"Content-MD5"), "prefix:HTTP_CONTENT_MD5");
        assert_eq!(cgi(b"Content-Typo"), "prefix:HTTP_CONTENT_TYPO");
        assert_eq!(cgi(b""), "prefix:HTTP_");
    }

    #[test]
    fn percent_decoding() {
        let pd = |s: &[u8]| {
            let mut out = b">".to_vec();
            percent_decode(s, &mut out);
            out
        };
        assert_eq!(pd(b"/plain/path"), b">/plain/path");
        assert_eq!(pd(b"/a%20b"), b">/a b");
        assert_eq!(pd(b"%2F%2f"), b">//");
        assert_eq!(pd(b"%e2%82%AC"), ">€".as_bytes());
        assert_eq!(pd(b"%"), b">%");
        assert_eq!(pd(b"%2"), b">%2");
        assert_eq!(pd(b"%zz%41"), b">%zzA");
        assert_eq!(pd(b"%%41"), b">%A");
        assert_eq!(pd(b"100%"), b">100%");
        assert_eq!(pd(b"a+b"), b">a+b");
        assert_eq!(pd(b"%00x"), b">\0x");
        assert_eq!(pd(b""), b">");
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code(b"200 OK"), Some(200));
        assert_eq!(status_code(b"404 Not Found"), Some(404));
        assert_eq!(status_code(b"599"), Some(599));
        assert_eq!(status_code(b"999 Custom"), Some(999));
        assert_eq!(status_code(b"20 OK"), None);
        assert_eq!(status_code(b"2000 OK"), None);
        assert_eq!(status_code(b"200OK"), None);
        assert_eq!(status_code(b"099 x"), None);
        assert_eq!(status_code(b" 200 OK"), None);
        assert_eq!(status_code(b""), None);
        assert_eq!(status_code(b"abc"), None);
    }
}
