//! HTTP/1.x request-side protocol logic for `--http-socket`: head parsing
//! with body framing, incremental chunked decoding, CGI environ key mapping,
//! percent decoding and WSGI status parsing.
//!
//! The head rules follow RFC 9112 and refuse, rather than guess at, every
//! form two parsers could read differently (bare LF line ends, framing
//! headers in conflict, several `Host` fields): a front proxy and this server
//! must agree on where a request ends, or one request hides another.

use crate::{parse_content_length, trim_ows};

/// How a request body is delimited on the wire: derived from an HTTP head, or from a uwsgi
/// packet's `CONTENT_LENGTH`; `wsgi.input` reads by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFraming {
    /// Neither `Content-Length` nor `Transfer-Encoding`: no body.
    #[default]
    None,
    /// `Content-Length: n` (kept as sent, so `Length(0)` is possible).
    Length(u64),
    /// `Transfer-Encoding: chunked`; decode with [`ChunkedDecoder`].
    Chunked,
}

/// Errors from [`parse_head`]. Each is answered with [`HttpError::status`]
/// and the connection is closed, since framing can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head is not complete within `max_head` bytes.
    #[error("HTTP request head too large")]
    HeadTooLarge,
    /// The request line alone does not fit in `max_head` bytes.
    #[error("HTTP request target too long")]
    UriTooLong,
    /// More header lines than the caller's header array holds.
    #[error("too many HTTP request headers")]
    TooManyHeaders,
    /// Syntax error in the request line or a header line.
    #[error("malformed HTTP request head: {0}")]
    Malformed(httparse::Error),
    /// A line of the head ends with LF alone. httparse takes it as a line
    /// end, a proxy may not: refused (RFC 9112 §2.2 allows either).
    #[error("bare LF in HTTP request head")]
    BareLf,
    /// A request target that is neither origin-form, absolute-form
    /// (`http`/`https`), `*` for `OPTIONS` nor authority-form for `CONNECT`.
    #[error("invalid HTTP request target")]
    InvalidTarget,
    /// HTTP/1.1 without a `Host` field (RFC 9112 §3.2).
    #[error("missing Host header")]
    MissingHost,
    /// More than one `Host` field line (RFC 9112 §3.2).
    #[error("more than one Host header")]
    DuplicateHost,
    /// A `Host` value that is not `host [ ":" port ]` (RFC 3986 §3.2.2).
    #[error("invalid Host header")]
    InvalidHost,
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
    /// `Transfer-Encoding` in an HTTP/1.0 request, whose framing RFC 9112
    /// §6.1 says to treat as faulty.
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    /// A `Transfer-Encoding` whose last coding is not a single `chunked`:
    /// the body cannot be delimited (RFC 9112 §6.3).
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    /// A coding before the final `chunked` (`gzip, chunked`): delimitable,
    /// but not decoded by this server (RFC 9112 §6.1: 501).
    #[error("unimplemented transfer coding")]
    UnimplementedTransferCoding,
}

impl HttpError {
    /// The status line the server answers this error with.
    pub fn status(&self) -> &'static str {
        match self {
            HttpError::HeadTooLarge | HttpError::TooManyHeaders => {
                "431 Request Header Fields Too Large"
            }
            HttpError::UriTooLong => "414 URI Too Long",
            HttpError::UnimplementedTransferCoding => "501 Not Implemented",
            HttpError::Malformed(_)
            | HttpError::BareLf
            | HttpError::InvalidTarget
            | HttpError::MissingHost
            | HttpError::DuplicateHost
            | HttpError::InvalidHost
            | HttpError::BadContentLength
            | HttpError::ConflictingContentLength
            | HttpError::LengthAndTransferEncoding
            | HttpError::TransferEncodingInHttp10
            | HttpError::UnsupportedTransferEncoding => "400 Bad Request",
        }
    }
}

/// A parsed HTTP/1.x request head. `'h` borrows the caller's header array,
/// `'b` the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpHead<'h, 'b> {
    /// Request method, e.g. `GET` (a validated token).
    pub method: &'b str,
    /// The raw request target as sent, e.g. `http://h/a%20b?x=1#f` (not
    /// decoded).
    pub target: &'b str,
    /// The path: `/a%20b`; `/` for an absolute-form target with an empty
    /// path, `*` for `OPTIONS *`, empty for `CONNECT`. Never a fragment.
    pub path: &'b str,
    /// After the first `?` (without it), up to any `#`; empty if none.
    pub query: &'b str,
    /// The target without scheme, authority and fragment: `/a%20b?x=1`
    /// (see [`HttpHead::write_request_uri`] for the empty-path case).
    pub uri: &'b str,
    /// The authority of an absolute-form target (`h` above), which replaces
    /// the `Host` field (RFC 9112 §3.2.2); `None` otherwise.
    pub authority: Option<&'b str>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and for HTTP/1.2–1.9, which are
    /// served as 1.1, RFC 9112 §2.3).
    pub minor_version: u8,
    /// The parsed headers, in order (a prefix of the caller's array).
    pub headers: &'h [httparse::Header<'b>],
    /// Bytes of the buffer taken by the head, including the blank line; the
    /// body (or the next pipelined request) starts here.
    pub head_len: usize,
    /// Body framing.
    pub body: BodyFraming,
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

    /// Appends the CGI `REQUEST_URI` to `out`: [`HttpHead::uri`], with the
    /// `/` an absolute-form target may leave out (`http://h?q` → `/?q`).
    pub fn write_request_uri(&self, out: &mut Vec<u8>) {
        if self.authority.is_some() && !self.uri.starts_with('/') {
            out.push(b'/');
        }
        out.extend_from_slice(self.uri.as_bytes());
    }
}

/// Parses an HTTP/1.x request head from the start of `buf`.
///
/// * `Ok(None)` — incomplete; read more. Once `buf` holds `max_head` bytes
///   without a complete head this becomes `Err(HeadTooLarge)` (or
///   `Err(UriTooLong)` when even the request line is incomplete) so a client
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
    let (method, target, minor_version, headers, head_len) = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            // httparse guarantees these are set on Complete; map defensively
            // anyway rather than unwrap on an input-reachable path.
            let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version)
            else {
                return Err(HttpError::Malformed(httparse::Error::Token));
            };
            let headers: &'h [httparse::Header<'b>] = req.headers;
            (method, target, minor, headers, n)
        }
        Ok(httparse::Status::Partial) => return incomplete(buf, max_head).map(|()| None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        Err(httparse::Error::Version) => {
            match parse_later_minor(buf, std::mem::take(&mut req.headers))? {
                Some(parts) => parts,
                None => return incomplete(buf, max_head).map(|()| None),
            }
        }
        Err(e) => return Err(HttpError::Malformed(e)),
    };
    // The buffer may have been filled past max_head by a large read; the
    // limit applies to the head itself either way.
    if head_len > max_head {
        return Err(too_large(&buf[..head_len], max_head));
    }
    // httparse ends lines at a bare LF too; a proxy that does not would see
    // other headers (or another request) in the same bytes.
    if has_bare_lf(&buf[..head_len]) {
        return Err(HttpError::BareLf);
    }
    let target_parts = split_target(method, target)?;

    let mut content_length: Option<u64> = None;
    let mut te_seen = false;
    // Over every Transfer-Encoding line, in order (RFC 9112 §6.1).
    let mut te_last_chunked = false;
    let mut te_chunked = 0u32;
    let mut te_other = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    let mut host: Option<&[u8]> = None;

    for h in headers {
        let name = h.name.as_bytes();
        // Dispatch on length first: most headers (User-Agent, Accept…) are
        // rejected by a single integer compare.
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                if host.is_some() {
                    return Err(HttpError::DuplicateHost);
                }
                host = Some(h.value);
            }
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
                    te_last_chunked = coding.eq_ignore_ascii_case(b"chunked");
                    if te_last_chunked {
                        te_chunked += 1;
                    } else {
                        te_other = true;
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

    match host {
        Some(value) if !valid_host(trim_ows(value), false) => return Err(HttpError::InvalidHost),
        None if minor_version >= 1 => return Err(HttpError::MissingHost),
        _ => {}
    }

    let body = if te_seen {
        if minor_version == 0 {
            return Err(HttpError::TransferEncodingInHttp10);
        }
        if content_length.is_some() {
            return Err(HttpError::LengthAndTransferEncoding);
        }
        // Not ending in chunked: no way to find the end. Chunked twice: a
        // sender MUST NOT, and decoding once would leave chunk framing in
        // the body.
        if !te_last_chunked || te_chunked != 1 {
            return Err(HttpError::UnsupportedTransferEncoding);
        }
        if te_other {
            return Err(HttpError::UnimplementedTransferCoding);
        }
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::None,
        }
    };

    let keep_alive = if minor_version >= 1 {
        !conn_close
    } else {
        conn_keep_alive && !conn_close
    };

    Ok(Some(HttpHead {
        method,
        target,
        path: target_parts.path,
        query: target_parts.query,
        uri: target_parts.uri,
        authority: target_parts.authority,
        minor_version,
        headers,
        head_len,
        body,
        keep_alive,
        expect_continue: expect_continue && minor_version >= 1,
    }))
}

/// The parts [`parse_head`] takes from httparse.
type HeadParts<'h, 'b> = (&'b str, &'b str, u8, &'h [httparse::Header<'b>], usize);

/// What an incomplete head in `buf` means: wait for more (`Ok`), or stop
/// because it can no longer fit in `max_head`.
fn incomplete(buf: &[u8], max_head: usize) -> Result<(), HttpError> {
    if buf.len() >= max_head {
        Err(too_large(buf, max_head))
    } else {
        Ok(())
    }
}

/// Which limit a head longer than `max_head` broke: the request line's (414)
/// when the line alone is longer, else the header section's (431).
fn too_large(head: &[u8], max_head: usize) -> HttpError {
    let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    if line_end >= max_head {
        HttpError::UriTooLong
    } else {
        HttpError::HeadTooLarge
    }
}

/// A request line ending in `HTTP/1.2`…`HTTP/1.9`, which httparse refuses
/// but RFC 9112 §2.3 says to serve as the highest 1.x minor supported: the
/// line is validated by httparse as `HTTP/1.1` on a copy (this path is rare),
/// then the headers are parsed in place. `Ok(None)`: incomplete.
fn parse_later_minor<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [httparse::Header<'b>],
) -> Result<Option<HeadParts<'h, 'b>>, HttpError> {
    let malformed = HttpError::Malformed(httparse::Error::Version);
    // httparse skips empty lines before the request line; so must the copy.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let Some(lf) = memchr::memchr(b'\n', &buf[start..]).map(|i| start + i) else {
        return Ok(None);
    };
    let line = &buf[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let [.., b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'2'..=b'9'] = line else {
        return Err(malformed);
    };
    let mut copy = Vec::with_capacity(line.len() + 4);
    copy.extend_from_slice(&line[..line.len() - 1]);
    copy.extend_from_slice(b"1\r\n\r\n");
    let mut no_headers = [httparse::EMPTY_HEADER; 0];
    let mut req = httparse::Request::new(&mut no_headers);
    match req.parse(&copy) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed),
        Err(e) => return Err(HttpError::Malformed(e)),
    }
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(malformed);
    };
    // Same offsets in the original: the copy differs only in the version digit.
    let at = |s: &str| s.as_ptr() as usize - copy.as_ptr() as usize;
    let (m0, t0) = (at(method), at(target));
    let slice = |from: usize, len: usize| {
        std::str::from_utf8(&buf[from..from + len]).map_err(|_| malformed)
    };
    let (method, target) = (slice(m0, method.len())?, slice(t0, target.len())?);
    match httparse::parse_headers(&buf[lf + 1..], headers) {
        Ok(httparse::Status::Complete((n, headers))) => {
            Ok(Some((method, target, 1, headers, lf + 1 + n)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders),
        Err(e) => Err(HttpError::Malformed(e)),
    }
}

/// Whether some LF in `head` is not preceded by CR.
#[inline]
fn has_bare_lf(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|i| i == 0 || head[i - 1] != b'\r')
}

/// The parts of a request target (RFC 9112 §3.2).
struct TargetParts<'b> {
    path: &'b str,
    query: &'b str,
    uri: &'b str,
    authority: Option<&'b str>,
}

/// Splits a request target into path, query and, for absolute-form, the
/// authority; drops a fragment (never part of a request target, but sent by
/// some clients).
fn split_target<'b>(method: &str, target: &'b str) -> Result<TargetParts<'b>, HttpError> {
    let uri = match memchr::memchr(b'#', target.as_bytes()) {
        Some(i) => &target[..i],
        None => target,
    };
    let path_and_query = |uri: &'b str, authority| {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        TargetParts {
            path: if path.is_empty() { "/" } else { path },
            query,
            uri,
            authority,
        }
    };
    if method == "CONNECT" {
        // authority-form only, and with a port (RFC 9112 §3.2.3).
        return if !uri.starts_with(':') && valid_host(uri.as_bytes(), true) {
            Ok(TargetParts {
                path: "",
                query: "",
                uri,
                authority: None,
            })
        } else {
            Err(HttpError::InvalidTarget)
        };
    }
    if uri.starts_with('/') {
        return Ok(path_and_query(uri, None));
    }
    if uri == "*" {
        return if method == "OPTIONS" {
            Ok(TargetParts {
                path: "*",
                query: "",
                uri,
                authority: None,
            })
        } else {
            Err(HttpError::InvalidTarget)
        };
    }
    let rest = strip_prefix_ignore_case(uri, "http://")
        .or_else(|| strip_prefix_ignore_case(uri, "https://"))
        .ok_or(HttpError::InvalidTarget)?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    // An http(s) URI needs a host; userinfo is deprecated and a phishing
    // tool (RFC 9110 §4.2.4: treat as an error).
    if authority.is_empty() || authority.contains('@') || !valid_host(authority.as_bytes(), false) {
        return Err(HttpError::InvalidTarget);
    }
    Ok(path_and_query(rest, Some(authority)))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then_some(&s[prefix.len()..])
}

/// Whether `v` is `host [ ":" port ]` (RFC 3986 §3.2.2, RFC 9110 §7.2):
/// an IP literal in brackets or a reg-name (which covers IPv4), then an
/// optional decimal port (required when `need_port`). Empty is valid (a
/// `Host` for a target without authority), except with `need_port`.
pub fn valid_host(v: &[u8], need_port: bool) -> bool {
    let (host_ok, port) = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(close) = memchr::memchr(b']', inner) else {
            return false;
        };
        let ip = &inner[..close];
        let ok = !ip.is_empty()
            && ip
                .iter()
                .all(|&b| b == b':' || is_unreserved(b) || is_sub_delim(b));
        (ok, &inner[close + 1..])
    } else {
        let (host, port) = match memchr::memchr(b':', v) {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, &v[v.len()..]),
        };
        (valid_reg_name(host), port)
    };
    let port_ok = match port {
        [] => !need_port,
        [b':', digits @ ..] => {
            digits.iter().all(u8::is_ascii_digit) && !(need_port && digits.is_empty())
        }
        _ => false,
    };
    host_ok && port_ok
}

/// `*( unreserved / pct-encoded / sub-delims )`.
fn valid_reg_name(mut s: &[u8]) -> bool {
    while let [b, rest @ ..] = s {
        if *b == b'%' {
            let [h, l, after @ ..] = rest else {
                return false;
            };
            if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() {
                return false;
            }
            s = after;
        } else if is_unreserved(*b) || is_sub_delim(*b) {
            s = rest;
        } else {
            return false;
        }
    }
    true
}

#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[inline]
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// RFC 9110 §5.6.2 `tchar`.
#[inline]
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Errors from [`ChunkedDecoder::decode`]. All are fatal for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk-size line that does not start with a hex digit, or has junk
    /// (whitespace included) after the size that does not start an
    /// extension.
    #[error("invalid chunk size")]
    InvalidSize,
    /// A chunk size that does not fit in 64 bits.
    #[error("chunk size overflow")]
    SizeOverflow,
    /// A chunk extension outside RFC 9112 §7.1.1's grammar: an empty or
    /// non-token name, a NUL or other control byte, an unterminated quote.
    #[error("invalid chunk extension")]
    InvalidExtension,
    /// A trailer line that is not `name: value` (RFC 9112 §7.1.2): no colon,
    /// a non-token name, a control byte in the value, an obs-fold.
    #[error("invalid trailer field")]
    InvalidTrailer,
    /// A missing or bare CR/LF where CRLF is required. Bare LF is refused on
    /// purpose: lenient line endings are a request smuggling vector.
    #[error("invalid line ending in chunked body")]
    BadLineEnding,
    /// A chunk extension or trailer line longer than
    /// [`ChunkedDecoder::MAX_LINE`].
    #[error("chunk extension or trailer line too long")]
    LineTooLong,
}

impl ChunkedError {
    /// The status line the server answers this error with, when no
    /// response has started: the client's framing is at fault.
    pub fn status(&self) -> &'static str {
        "400 Bad Request"
    }
}

/// Where the decoder is in RFC 9112 §7.1's grammar:
///
/// ```text
/// chunk     = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
/// ext-val   = token / quoted-string
/// trailer   = *( field-name ":" OWS field-value OWS CRLF ) CRLF
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `any` = at least one digit seen.
    Size { size: u64, any: bool },
    /// Whitespace after the size or an extension value: only more of it or
    /// `;` may follow (BWS is allowed before `;`, not before CRLF).
    SizeWs { size: u64 },
    /// After `;`: whitespace, then the first byte of an extension name.
    ExtNameStart { size: u64 },
    /// Inside an extension name.
    ExtName { size: u64 },
    /// Whitespace after an extension name: `=` or `;` must follow.
    ExtNameWs { size: u64 },
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValStart { size: u64 },
    /// Inside a token extension value.
    ExtVal { size: u64 },
    /// Inside a quoted extension value.
    ExtQuoted { size: u64 },
    /// After a backslash inside a quoted value.
    ExtQuotedPair { size: u64 },
    /// After the closing quote: whitespace, `;` or CR.
    ExtQuotedEnd { size: u64 },
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
    /// Inside a trailer field name, until the colon.
    TrailerName,
    /// Inside a trailer field value, until CR.
    TrailerValue,
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
/// and LF, …). Extensions and trailers are checked against the grammar and
/// skipped.
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
        use ChunkedError::{InvalidExtension as BadExt, InvalidTrailer as BadTrailer};
        // Extension and trailer bytes count against MAX_LINE.
        if !matches!(
            self.state,
            State::Size { .. } | State::SizeLf { .. } | State::DataCr | State::DataLf
        ) {
            self.bump_line()?;
        }
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
                None => {
                    self.line_len = 0;
                    match b {
                        b' ' | b'\t' => State::SizeWs { size },
                        b';' => State::ExtNameStart { size },
                        b'\r' => State::SizeLf { size },
                        b'\n' => return Err(ChunkedError::BadLineEnding),
                        _ => return Err(ChunkedError::InvalidSize),
                    }
                }
            },
            State::SizeWs { size } => match b {
                b' ' | b'\t' => State::SizeWs { size },
                b';' => State::ExtNameStart { size },
                _ => return Err(ChunkedError::InvalidSize),
            },
            State::ExtNameStart { size } => match b {
                b' ' | b'\t' => State::ExtNameStart { size },
                _ if is_tchar(b) => State::ExtName { size },
                _ => return Err(BadExt),
            },
            State::ExtName { size } => match b {
                _ if is_tchar(b) => State::ExtName { size },
                b' ' | b'\t' => State::ExtNameWs { size },
                b'=' => State::ExtValStart { size },
                b';' => State::ExtNameStart { size },
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => return Err(BadExt),
            },
            State::ExtNameWs { size } => match b {
                b' ' | b'\t' => State::ExtNameWs { size },
                b'=' => State::ExtValStart { size },
                b';' => State::ExtNameStart { size },
                _ => return Err(BadExt),
            },
            State::ExtValStart { size } => match b {
                b' ' | b'\t' => State::ExtValStart { size },
                b'"' => State::ExtQuoted { size },
                _ if is_tchar(b) => State::ExtVal { size },
                _ => return Err(BadExt),
            },
            State::ExtVal { size } => match b {
                _ if is_tchar(b) => State::ExtVal { size },
                b' ' | b'\t' => State::SizeWs { size },
                b';' => State::ExtNameStart { size },
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => return Err(BadExt),
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            State::ExtQuoted { size } => match b {
                b'"' => State::ExtQuotedEnd { size },
                b'\\' => State::ExtQuotedPair { size },
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => State::ExtQuoted { size },
                _ => return Err(BadExt),
            },
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            State::ExtQuotedPair { size } => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => State::ExtQuoted { size },
                _ => return Err(BadExt),
            },
            State::ExtQuotedEnd { size } => match b {
                b' ' | b'\t' => State::SizeWs { size },
                b';' => State::ExtNameStart { size },
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => return Err(BadExt),
            },
            State::SizeLf { size } => {
                if b != b'\n' {
                    return Err(ChunkedError::BadLineEnding);
                }
                if size == 0 {
                    self.line_len = 0;
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
                // Also refuses an obs-fold (a line starting with SP/HTAB).
                _ if is_tchar(b) => State::TrailerName,
                _ => return Err(BadTrailer),
            },
            State::TrailerName => match b {
                _ if is_tchar(b) => State::TrailerName,
                b':' => State::TrailerValue,
                b'\n' => return Err(ChunkedError::BadLineEnding),
                _ => return Err(BadTrailer),
            },
            // field-value bytes: VCHAR / obs-text / SP / HTAB.
            State::TrailerValue => match b {
                b'\r' => State::TrailerLf,
                b'\n' => return Err(ChunkedError::BadLineEnding),
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => State::TrailerValue,
                _ => return Err(BadTrailer),
            },
            State::TrailerLf => match b {
                b'\n' => {
                    self.line_len = 0;
                    State::TrailerStart
                }
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
        assert_eq!(h.body, BodyFraming::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
        assert_eq!(h.header("host"), Some(&b"localhost:8080"[..]));
        assert_eq!(h.header("x-missing"), None);
    }

    #[test]
    fn query_edge_cases() {
        let h = parse(b"GET /p? HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.path, h.query), ("/p", ""));
        let h = parse(b"GET /p?a?b HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.path, h.query), ("/p", "a?b"));
        let h = parse(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
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
            assert_eq!(h.body, BodyFraming::Length(5));
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
            if let BodyFraming::Length(n) = h.body {
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
        assert!(ka(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close\r\n\r\n"
        ));
        assert!(ka(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
        ));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
        ));
    }

    #[test]
    fn expect_continue() {
        let h = parse(
            b"PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(h.expect_continue);
        let h = parse(b"PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.expect_continue, "ignored for HTTP/1.0");
        let h = parse(b"PUT /u HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.expect_continue);
    }

    #[test]
    fn body_framing() {
        let body = |req: &[u8]| parse(req).map(|h| h.unwrap().body);
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
            Ok(BodyFraming::Length(0))
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\nContent-Length: 12\r\n\r\n"),
            Ok(BodyFraming::Length(12))
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED , \r\n\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(HttpError::ConflictingContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::LengthAndTransferEncoding)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Err(HttpError::LengthAndTransferEncoding)
        );
        for te in [
            &b"gzip"[..],
            b"chunked, gzip",
            b"chunked, chunked",
            b"identity",
            b"",
            b"chunkedx",
        ] {
            let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ".to_vec();
            req.extend_from_slice(te);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                body(&req),
                Err(HttpError::UnsupportedTransferEncoding),
                "{}",
                String::from_utf8_lossy(te)
            );
        }
        // Delimitable by the final chunked, but a coding this server does
        // not decode: 501 (row 14 of issue 10).
        for te in [
            &b"gzip, chunked"[..],
            b"x-custom ,chunked",
            b"identity, chunked",
        ] {
            let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ".to_vec();
            req.extend_from_slice(te);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(body(&req), Err(HttpError::UnimplementedTransferCoding));
        }
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::UnimplementedTransferCoding)
        );
        assert_eq!(
            HttpError::UnimplementedTransferCoding.status(),
            "501 Not Implemented"
        );
        // Split across two header lines counts as a list too.
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::UnsupportedTransferEncoding)
        );
    }

    #[test]
    fn size_limits() {
        let mut hdrs = [EMPTY_HEADER; 4];
        let req = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
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
        let partial = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: aaaaaaaaaaaaaaaaaaaa";
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
            parse(b"GE T / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"\x16\x03\x01\x02\x00"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn host_rules() {
        let err = |req: &[u8]| parse(req).err();
        assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), Some(HttpError::MissingHost));
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
            Some(HttpError::DuplicateHost)
        );
        assert_eq!(
            err(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
            Some(HttpError::DuplicateHost),
            "two Hosts are refused whatever the version"
        );
        for bad in [
            &b"a b"[..],
            b"a:b",
            b"a:80:90",
            b"a/b",
            b"a@b",
            b"[::1",
            b"[]",
            b"[::1]x",
            b"a%zz",
            b"\xc3\xa9",
        ] {
            let mut req = b"GET / HTTP/1.1\r\nHost: ".to_vec();
            req.extend_from_slice(bad);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                err(&req),
                Some(HttpError::InvalidHost),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for good in [
            &b""[..],
            b"localhost",
            b"Example.COM:8080",
            b"127.0.0.1:80",
            b"[::1]:8080",
            b"[v1.fe80::a+en1]",
            b"a%20b",
            b"xn--bcher-kva.example:",
        ] {
            let mut req = b"GET / HTTP/1.1\r\nHost: ".to_vec();
            req.extend_from_slice(good);
            req.extend_from_slice(b"\r\n\r\n");
            assert!(parse(&req).is_ok(), "{}", String::from_utf8_lossy(good));
        }
        assert!(
            parse(b"GET / HTTP/1.0\r\n\r\n").is_ok(),
            "HTTP/1.0 needs no Host"
        );
        assert_eq!(HttpError::MissingHost.status(), "400 Bad Request");
    }

    #[test]
    fn target_forms() {
        type Parts<'a> = (&'a str, &'a str, String, Option<&'a str>);
        fn parts(req: &[u8]) -> Result<Parts<'_>, HttpError> {
            parse(req).map(|h| {
                let h = h.unwrap();
                let mut uri = Vec::new();
                h.write_request_uri(&mut uri);
                (
                    h.path,
                    h.query,
                    String::from_utf8(uri).unwrap(),
                    h.authority,
                )
            })
        }
        assert_eq!(
            parts(b"GET http://good.example/x?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
            Ok(("/x", "q=1", "/x?q=1".into(), Some("good.example")))
        );
        assert_eq!(
            parts(b"GET HTTPS://h:8443 HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("/", "", "/".into(), Some("h:8443")))
        );
        assert_eq!(
            parts(b"GET http://h?a=b HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("/", "a=b", "/?a=b".into(), Some("h")))
        );
        assert_eq!(
            parts(b"GET /p?q=1#frag HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("/p", "q=1", "/p?q=1".into(), None))
        );
        assert_eq!(
            parts(b"GET /p#f?g HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("/p", "", "/p".into(), None))
        );
        assert_eq!(
            parts(b"GET http://h/a#f HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("/a", "", "/a".into(), Some("h")))
        );
        assert_eq!(
            parts(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(("*", "", "*".into(), None))
        );
        assert_eq!(
            parts(b"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n"),
            Ok(("", "", "h.example:443".into(), None))
        );
        for bad in [
            &b"GET * HTTP/1.1"[..],
            b"GET x HTTP/1.1",
            b"GET ?q HTTP/1.1",
            b"GET ftp://h/x HTTP/1.1",
            b"GET http:/x HTTP/1.1",
            b"GET http:///x HTTP/1.1",
            b"GET http://u@h/x HTTP/1.1",
            b"GET http://h h/x HTTP/1.1",
            b"GET http://[::1/x HTTP/1.1",
            b"CONNECT h.example HTTP/1.1",
            b"CONNECT /x HTTP/1.1",
            b"CONNECT :443 HTTP/1.1",
        ] {
            let mut req = bad.to_vec();
            req.extend_from_slice(b"\r\nHost: h\r\n\r\n");
            let got = parse(&req);
            assert!(
                matches!(got, Err(HttpError::InvalidTarget | HttpError::Malformed(_))),
                "{}: {got:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bare_lf_refused() {
        for req in [
            &b"GET / HTTP/1.1\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n\n",
            b"GET / HTTP/1.1\nHost: h\n\n",
            b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost: h\nX: y\r\n\r\n",
        ] {
            assert_eq!(
                parse(req).err(),
                Some(HttpError::BareLf),
                "{}",
                String::from_utf8_lossy(req).escape_debug()
            );
        }
        // A CRLF before the request line is ignored (RFC 9112 §2.2).
        let h = parse(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.path, "/");
        // obs-fold is refused by httparse itself.
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn later_minor_versions_served_as_1_1() {
        for v in b'2'..=b'9' {
            let mut req = b"POST /a?b HTTP/1.".to_vec();
            req.push(v);
            req.extend_from_slice(b"\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
            let h = parse(&req).unwrap().unwrap();
            assert_eq!(
                (h.method, h.path, h.query, h.minor_version),
                ("POST", "/a", "b", 1)
            );
            assert_eq!(h.body, BodyFraming::Length(3));
            assert_eq!(h.head_len, req.len() - 3);
            assert!(h.keep_alive);
            assert_eq!(h.header("host"), Some(&b"h"[..]));
        }
        let h = parse(b"\r\nGET / HTTP/1.5\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.minor_version, 1);
        // Incomplete: wait for the rest.
        assert_eq!(parse(b"GET / HTTP/1.2\r\nHost: h\r\n"), Ok(None));
        assert_eq!(parse(b"GET / HTTP/1.2"), Ok(None));
        // Still rejected: other majors, junk, a broken line, no Host.
        for bad in [
            &b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.10\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.x\r\nHost: h\r\n\r\n",
            b"GE T / HTTP/1.2\r\nHost: h\r\n\r\n",
            b"GET /\x01 HTTP/1.2\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.2\r\nBad Header: h\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(HttpError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad).escape_debug()
            );
        }
        assert_eq!(
            parse(b"GET / HTTP/1.3\r\n\r\n").err(),
            Some(HttpError::MissingHost)
        );
    }

    #[test]
    fn transfer_encoding_in_http10() {
        assert_eq!(
            parse(
                b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .err(),
            Some(HttpError::TransferEncodingInHttp10)
        );
        assert_eq!(
            parse(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .err(),
            Some(HttpError::TransferEncodingInHttp10)
        );
    }

    #[test]
    fn uri_too_long_is_414_headers_431() {
        let mut long_uri = b"GET /".to_vec();
        long_uri.extend(std::iter::repeat_n(b'a', 6000));
        // Still arriving, no end of line within the limit.
        assert_eq!(
            parse_head(&long_uri, &mut [EMPTY_HEADER; 8], 4096),
            Err(HttpError::UriTooLong)
        );
        long_uri.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(
            parse_head(&long_uri, &mut [EMPTY_HEADER; 8], 4096),
            Err(HttpError::UriTooLong),
            "complete head, line too long"
        );
        assert_eq!(HttpError::UriTooLong.status(), "414 URI Too Long");
        let mut long_header = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
        long_header.extend(std::iter::repeat_n(b'a', 6000));
        assert_eq!(
            parse_head(&long_header, &mut [EMPTY_HEADER; 8], 4096),
            Err(HttpError::HeadTooLarge)
        );
        long_header.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            parse_head(&long_header, &mut [EMPTY_HEADER; 8], 4096),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(
            HttpError::HeadTooLarge.status(),
            "431 Request Header Fields Too Large"
        );
    }

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let (n, fin) = d.decode(input, &mut out)?;
        Ok((out, n, fin))
    }

    #[test]
    fn chunked_basic() {
        let src = b"5\r\nhello\r\n6;name=val\r\n world\r\nA ;x\r\n0123456789\r\n0\r\n\r\nNEXT";
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
    fn chunk_extension_grammar() {
        for ok in [
            &b"3;a\r\nabc\r\n0\r\n\r\n"[..],
            b"3;a=b\r\nabc\r\n0\r\n\r\n",
            b"3 ;a\r\nabc\r\n0\r\n\r\n",
            b"3\t; a = b ; c\r\nabc\r\n0\r\n\r\n",
            b"3;a=\"q \\\"x\\\" \xff\"\r\nabc\r\n0\r\n\r\n",
            b"3;a=\"\" ;b\r\nabc\r\n0;last=1\r\n\r\n",
        ] {
            let (out, _, fin) = decode_all(ok)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(ok).escape_debug()));
            assert_eq!((out.as_slice(), fin), (&b"abc"[..], true));
        }
        let err = |s: &[u8]| decode_all(s).unwrap_err();
        assert_eq!(
            err(b"5 \r\n"),
            ChunkedError::InvalidSize,
            "BWS only before ;"
        );
        assert_eq!(err(b"5\t\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"5;\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5; \r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;;a\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a\x00b\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=\x01\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a =\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a \r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=b c\r\n"), ChunkedError::InvalidSize);
        assert_eq!(err(b"5;a=\"x\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=\"x\"y\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=\"\\\x00\"\r\n"), ChunkedError::InvalidExtension);
        assert_eq!(err(b"5;a=b\n"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"5;a=\"b\"\n"), ChunkedError::BadLineEnding);
        assert_eq!(ChunkedError::InvalidExtension.status(), "400 Bad Request");
    }

    #[test]
    fn trailer_grammar() {
        let (out, _, fin) =
            decode_all(b"1\r\na\r\n0\r\nX-A: 1\r\nY:\r\nZ: \t v \xfe\r\n\r\n").unwrap();
        assert_eq!((out.as_slice(), fin), (&b"a"[..], true));
        let err = |s: &[u8]| decode_all(s).unwrap_err();
        assert_eq!(err(b"0\r\nno colon\r\n\r\n"), ChunkedError::InvalidTrailer);
        assert_eq!(err(b"0\r\nnocolon\r\n\r\n"), ChunkedError::InvalidTrailer);
        assert_eq!(err(b"0\r\n: v\r\n\r\n"), ChunkedError::InvalidTrailer);
        assert_eq!(err(b"0\r\nX : v\r\n\r\n"), ChunkedError::InvalidTrailer);
        assert_eq!(err(b"0\r\nX: a\x00b\r\n\r\n"), ChunkedError::InvalidTrailer);
        assert_eq!(
            err(b"0\r\nX: a\r\n folded\r\n\r\n"),
            ChunkedError::InvalidTrailer
        );
        assert_eq!(err(b"0\r\nX: a\n\r\n"), ChunkedError::BadLineEnding);
        assert_eq!(err(b"0\r\nX\n"), ChunkedError::BadLineEnding);
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
