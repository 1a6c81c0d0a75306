//! The request's CGI variables in one flat, reusable buffer.
//!
//! Both protocols end up here: the uwsgi protocol's vars block is copied pair by pair, an HTTP
//! head is translated into the same CGI names. The environ dict, the scoreboard's copy of a busy
//! core's vars and the request log line are all built from this one place.
//!
//! The rules both translations apply (RFC 9110 §5.3, RFC 3875 §4.1.18):
//! * a header field sent on several lines becomes one variable, the values joined in order with
//!   `, ` (`; ` for `Cookie`, the one field whose values are not a comma list). nginx sends a
//!   repeated header as repeated `HTTP_*` vars, so the uwsgi path joins those the same way;
//! * over HTTP, a field name containing `_` is dropped: `X_Auth_User` would otherwise become
//!   the same `HTTP_X_AUTH_USER` as a proxy's `X-Auth-User` (nginx's default and Gunicorn do the
//!   same). Over the uwsgi protocol the name is already a CGI name, so the `_`/`-` difference is
//!   gone: nginx drops such fields by default (`underscores_in_headers off`), which is what
//!   keeps them out;
//! * neither `PATH_INFO` nor `QUERY_STRING` carries a fragment (the HTTP parser drops it; over
//!   uwsgi a `#` in `QUERY_STRING`, where a literal one would be `%23`, ends it).

use std::ops::Range;

use rwsgi_proto::http::{self, HttpHead};
use rwsgi_proto::UwsgiHead;

/// A list of `KEY=VALUE` byte pairs backed by a single buffer that is cleared, not freed, between
/// requests.
#[derive(Default, Debug, Clone)]
pub struct RequestVars {
    data: Vec<u8>,
    spans: Vec<(Range<usize>, Range<usize>)>,
    /// A trusted proxy said the original request came over https (`X-Forwarded-Proto` ...).
    forwarded_https: bool,
}

impl RequestVars {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every pair, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.forwarded_https = false;
    }

    /// Records that a trusted proxy's forwarded headers say the request came over https
    /// (`wsgi.url_scheme` becomes `https` unless a `UWSGI_SCHEME` var says otherwise).
    pub fn set_forwarded_https(&mut self, https: bool) {
        self.forwarded_https = https;
    }

    /// See [`RequestVars::set_forwarded_https`].
    pub fn forwarded_https(&self) -> bool {
        self.forwarded_https
    }

    /// Appends a pair (inlined: the parsers call it once per header, in their loops).
    #[inline]
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        let k0 = self.data.len();
        self.data.extend_from_slice(key);
        let k1 = self.data.len();
        self.data.extend_from_slice(value);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Appends a pair whose key is built by `key` writing into the buffer (saves a temporary when
    /// translating HTTP header names into CGI names).
    pub fn push_with(&mut self, key: impl FnOnce(&mut Vec<u8>), value: &[u8]) {
        let k0 = self.data.len();
        key(&mut self.data);
        let k1 = self.data.len();
        self.data.extend_from_slice(value);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Appends a pair whose value is built by `value` writing into the buffer.
    pub fn push_value_with(&mut self, key: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
        let k0 = self.data.len();
        self.data.extend_from_slice(key);
        let k1 = self.data.len();
        value(&mut self.data);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone + '_ {
        self.spans
            .iter()
            .map(move |(k, v)| (&self.data[k.clone()], &self.data[v.clone()]))
    }

    /// The value of the last pair named `key` (later pairs override earlier ones, as in a dict).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.spans
            .iter()
            .rev()
            .find(|(k, _)| &self.data[k.clone()] == key)
            .map(|(_, v)| &self.data[v.clone()])
    }

    /// Replaces the value of `key` (or appends it).
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        if let Some(i) = self
            .spans
            .iter()
            .rposition(|(k, _)| &self.data[k.clone()] == key)
        {
            let v0 = self.data.len();
            self.data.extend_from_slice(value);
            self.spans[i].1 = v0..self.data.len();
        } else {
            self.push(key, value);
        }
    }
}

/// What the HTTP translation needs to know about the connection and the server.
#[derive(Debug, Clone, Copy)]
pub struct HttpConn<'a> {
    /// `SERVER_NAME` (the server's hostname, as uWSGI's http router).
    pub server_name: &'a [u8],
    /// `SERVER_PORT` (the listener's port).
    pub server_port: &'a [u8],
    /// `REMOTE_ADDR`.
    pub remote_addr: &'a [u8],
    /// `REMOTE_PORT`.
    pub remote_port: &'a [u8],
}

impl RequestVars {
    /// Replaces the pairs with the CGI variables of an HTTP request head.
    pub fn fill_from_http(&mut self, head: &HttpHead<'_, '_>, conn: &HttpConn<'_>) {
        self.clear();
        let protocol: &[u8] = if head.minor_version == 0 {
            b"HTTP/1.0"
        } else {
            b"HTTP/1.1"
        };
        self.push(b"REQUEST_METHOD", head.method.as_bytes());
        self.push_value_with(b"PATH_INFO", |out| {
            http::percent_decode(head.path.as_bytes(), out)
        });
        self.push_value_with(b"REQUEST_URI", |out| head.write_request_uri(out));
        self.push(b"QUERY_STRING", head.query.as_bytes());
        self.push(b"SERVER_PROTOCOL", protocol);
        self.push(b"SCRIPT_NAME", b"");
        self.push(b"SERVER_NAME", conn.server_name);
        self.push(b"SERVER_PORT", conn.server_port);
        self.push(b"REMOTE_ADDR", conn.remote_addr);
        self.push(b"REMOTE_PORT", conn.remote_port);
        // An absolute-form target's authority replaces any Host field (RFC 9112 §3.2.2).
        if let Some(authority) = head.authority {
            self.push(b"HTTP_HOST", authority.as_bytes());
        }
        let mut seen = Seen::default();
        for h in head.headers {
            let name = h.name.as_bytes();
            if head.authority.is_some() && name.eq_ignore_ascii_case(b"host") {
                continue;
            }
            let mut underscore = false;
            self.push_with(|out| underscore = http::header_to_cgi(name, out), h.value);
            if underscore {
                self.pop();
                continue;
            }
            self.join_if_repeated(&mut seen);
        }
    }

    /// Replaces the pairs with the vars of a uwsgi packet, joining repeated `HTTP_*` vars.
    /// Other repeated vars are kept as sent: the last wins in the environ, as in uWSGI, which
    /// `uwsgi_param` overrides rely on.
    pub fn fill_from_uwsgi(&mut self, head: &UwsgiHead<'_>) {
        self.clear();
        let mut seen = Seen::default();
        for (k, v) in head.iter() {
            if k.starts_with(b"HTTP_") {
                self.push(k, v);
                self.join_if_repeated(&mut seen);
            } else if k == b"QUERY_STRING" {
                let end = v.iter().position(|&b| b == b'#').unwrap_or(v.len());
                self.push(k, &v[..end]);
            } else {
                self.push(k, v);
            }
        }
    }

    /// Drops the last pair.
    fn pop(&mut self) {
        if let Some((k, _)) = self.spans.pop() {
            self.data.truncate(k.start);
        }
    }

    /// If the last pair's key was pushed before (by the translation tracking `seen`), folds
    /// it into the earlier pair.
    #[inline(always)]
    fn join_if_repeated(&mut self, seen: &mut Seen) {
        let Some((k, _)) = self.spans.last() else {
            return;
        };
        if seen.check_and_set(&self.data[k.clone()]) {
            self.merge_last();
        }
    }

    /// Merges the last pair into an earlier pair with the same key, if there is one: the
    /// earlier value becomes `earlier, last` (`; ` between cookies; a repeated
    /// `CONTENT_LENGTH`, identical by then, is kept once). Rare, so it may copy.
    fn merge_last(&mut self) {
        let Some((key, value)) = self.spans.last().cloned() else {
            return;
        };
        let n = self.spans.len() - 1;
        let Some(i) = self.spans[..n]
            .iter()
            .position(|(k, _)| self.data[k.clone()] == self.data[key.clone()])
        else {
            return;
        };
        let sep: Option<&[u8]> = match &self.data[key.clone()] {
            b"HTTP_COOKIE" => Some(b"; "),
            b"CONTENT_LENGTH" => None,
            _ => Some(b", "),
        };
        if let Some(sep) = sep {
            // New value at the end of the buffer, then moved down over the last pair.
            let joined = self.data.len();
            self.data.extend_from_within(self.spans[i].1.clone());
            self.data.extend_from_slice(sep);
            self.data.extend_from_within(value);
            let len = self.data.len() - joined;
            self.data.copy_within(joined.., key.start);
            self.spans[i].1 = key.start..key.start + len;
            self.data.truncate(key.start + len);
        } else {
            self.data.truncate(key.start);
        }
        self.spans.pop();
    }
}

/// A 64-bit summary of the keys pushed so far: a clear bit proves a key is new, so the common
/// request (no repeated field) never compares keys.
#[derive(Default)]
struct Seen(u64);

impl Seen {
    /// Records `key`; true when it may have been recorded before.
    #[inline(always)]
    fn check_and_set(&mut self, key: &[u8]) -> bool {
        // Length, the first byte after `HTTP_` and the last byte tell most header names apart;
        // a collision only costs a scan. (Length and last byte alone put `Host` and
        // `Accept-Encoding`, which Python's http.client sends together, on one bit.)
        let last = key.last().copied().unwrap_or(0);
        let first = key.get(5).copied().unwrap_or(0);
        let mixed = (key.len() as u32) | u32::from(last) << 8 | u32::from(first) << 16;
        let h = mixed.wrapping_mul(0x9E37_79B9) >> 26;
        let bit = 1u64 << h;
        let hit = self.0 & bit != 0;
        self.0 |= bit;
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_set_iter() {
        let mut v = RequestVars::new();
        v.push(b"A", b"1");
        v.push_with(|b| b.extend_from_slice(b"HTTP_X"), b"y");
        v.push(b"A", b"2");
        assert_eq!(v.get(b"A"), Some(&b"2"[..]));
        v.set(b"HTTP_X", b"z");
        v.set(b"NEW", b"n");
        let all: Vec<_> = v.iter().collect();
        assert_eq!(all[1], (&b"HTTP_X"[..], &b"z"[..]));
        assert_eq!(v.len(), 4);
        v.clear();
        assert!(v.is_empty());
        assert_eq!(v.get(b"A"), None);
    }
}

#[cfg(test)]
mod translation_tests {
    use super::*;
    use rwsgi_proto::httparse::EMPTY_HEADER;
    use rwsgi_proto::uwsgi;

    const CONN: HttpConn<'static> = HttpConn {
        server_name: b"srv",
        server_port: b"8080",
        remote_addr: b"127.0.0.1",
        remote_port: b"5555",
    };

    fn from_http(req: &[u8]) -> Vec<(String, String)> {
        let mut hdrs = [EMPTY_HEADER; 32];
        let head = http::parse_head(req, &mut hdrs, 8192).unwrap().unwrap();
        let mut v = RequestVars::new();
        v.fill_from_http(&head, &CONN);
        pairs(&v)
    }

    fn from_uwsgi(vars: &[(&[u8], &[u8])]) -> Vec<(String, String)> {
        let mut pkt = Vec::new();
        uwsgi::encode_packet(0, 0, vars, &mut pkt).unwrap();
        let head = uwsgi::parse_head(&pkt, 65_539).unwrap().unwrap();
        let mut v = RequestVars::new();
        v.fill_from_uwsgi(&head);
        pairs(&v)
    }

    fn pairs(v: &RequestVars) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn get<'a>(all: &'a [(String, String)], key: &str) -> Vec<&'a str> {
        all.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn http_repeated_fields_join_in_order() {
        let all = from_http(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nCookie: c=1\r\nx-dup: b\r\nAccept: */*\r\n\
              Cookie: d=2\r\nX-Forwarded-For: 10.0.0.1\r\nX-Dup: c, d\r\nX-Forwarded-For: 10.0.0.2\r\n\
              Content-Type: text/plain\r\n\r\n",
        );
        assert_eq!(get(&all, "HTTP_X_DUP"), ["a, b, c, d"]);
        assert_eq!(get(&all, "HTTP_COOKIE"), ["c=1; d=2"]);
        assert_eq!(get(&all, "HTTP_X_FORWARDED_FOR"), ["10.0.0.1, 10.0.0.2"]);
        assert_eq!(get(&all, "HTTP_ACCEPT"), ["*/*"]);
        assert_eq!(get(&all, "CONTENT_TYPE"), ["text/plain"]);
        assert_eq!(get(&all, "HTTP_HOST"), ["h"]);
        // The joined var keeps the first field's place.
        let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        let tail = &keys[keys.iter().position(|&k| k == "HTTP_HOST").unwrap()..];
        assert_eq!(
            tail,
            [
                "HTTP_HOST",
                "HTTP_X_DUP",
                "HTTP_COOKIE",
                "HTTP_ACCEPT",
                "HTTP_X_FORWARDED_FOR",
                "CONTENT_TYPE"
            ]
        );
        let all = from_http(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n",
        );
        assert_eq!(get(&all, "CONTENT_LENGTH"), ["3"], "kept once, not `3, 3`");
    }

    #[test]
    fn http_many_distinct_fields_are_not_merged() {
        // More names than the 64-bit summary has bits: false positives must not merge.
        let mut req = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 0..30 {
            req.extend_from_slice(format!("X-F{i}: v{i}\r\nY{i}: w\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        let mut hdrs = [EMPTY_HEADER; 64];
        let head = http::parse_head(&req, &mut hdrs, 8192).unwrap().unwrap();
        let mut v = RequestVars::new();
        v.fill_from_http(&head, &CONN);
        let all = pairs(&v);
        for i in 0..30 {
            assert_eq!(get(&all, &format!("HTTP_X_F{i}")), [format!("v{i}")]);
            assert_eq!(get(&all, &format!("HTTP_Y{i}")), ["w"]);
        }
    }

    #[test]
    fn http_underscore_names_dropped() {
        let all = from_http(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Auth-User: alice\r\nX_Auth_User: admin\r\n\
              Content_Length: 5\r\nX-Ok: 1\r\n\r\n",
        );
        assert_eq!(get(&all, "HTTP_X_AUTH_USER"), ["alice"]);
        assert_eq!(get(&all, "HTTP_X_OK"), ["1"]);
        assert!(get(&all, "CONTENT_LENGTH").is_empty());
        assert!(all.iter().all(|(_, v)| v != "admin"));
    }

    #[test]
    fn http_target_parts() {
        let all = from_http(
            b"GET http://good.example/x%20y?q=1#frag HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        );
        assert_eq!(get(&all, "PATH_INFO"), ["/x y"]);
        assert_eq!(get(&all, "QUERY_STRING"), ["q=1"]);
        assert_eq!(get(&all, "REQUEST_URI"), ["/x%20y?q=1"]);
        assert_eq!(get(&all, "HTTP_HOST"), ["good.example"]);
        let all = from_http(b"GET /p?q=1#frag HTTP/1.0\r\n\r\n");
        assert_eq!(get(&all, "PATH_INFO"), ["/p"]);
        assert_eq!(get(&all, "QUERY_STRING"), ["q=1"]);
        assert_eq!(get(&all, "REQUEST_URI"), ["/p?q=1"]);
        assert_eq!(get(&all, "SERVER_PROTOCOL"), ["HTTP/1.0"]);
        assert!(get(&all, "HTTP_HOST").is_empty());
        let all = from_http(b"GET / HTTP/1.7\r\nHost: h\r\n\r\n");
        assert_eq!(get(&all, "SERVER_PROTOCOL"), ["HTTP/1.1"]);
    }

    #[test]
    fn uwsgi_repeated_http_vars_join() {
        let all = from_uwsgi(&[
            (b"REQUEST_METHOD", b"GET"),
            (b"QUERY_STRING", b"q=1#frag"),
            (b"HTTP_X_DUP", b"a"),
            (b"HTTP_COOKIE", b"c=1"),
            (b"HTTP_X_DUP", b"b"),
            (b"HTTP_COOKIE", b"d=2"),
            (b"SCRIPT_NAME", b"/one"),
            (b"SCRIPT_NAME", b"/two"),
        ]);
        assert_eq!(get(&all, "HTTP_X_DUP"), ["a, b"]);
        assert_eq!(get(&all, "HTTP_COOKIE"), ["c=1; d=2"]);
        assert_eq!(get(&all, "QUERY_STRING"), ["q=1"]);
        // Not a header: kept as sent (the environ takes the last, as uWSGI's does).
        assert_eq!(get(&all, "SCRIPT_NAME"), ["/one", "/two"]);
    }
}
