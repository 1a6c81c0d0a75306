//! Reading one stats document: the address forms, a bounded exchange (connect timeout, one
//! deadline for the whole read, a size cap), and the HTTP framing of `--stats-http`.
//!
//! Whatever a socket sends, a fetch ends within its deadline with a document or an error.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rwsgi_config::{Addr, AddrError};

use crate::model::{ModelError, ServerStats};

/// Where a stats server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A raw stats socket (`host:port`, `:port`, a UNIX path, `@abstract`).
    Raw(Addr),
    /// `--stats-http`: `http://host:port[/path]`.
    Http {
        /// The TCP address.
        addr: Addr,
        /// `host:port` as written, for the `Host` header.
        authority: String,
        /// The request target (`/` when none was given).
        path: String,
    },
}

/// Why an address was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not an address in uWSGI's syntax.
    #[error("invalid address '{0}': {1}")]
    Addr(String, AddrError),
    /// `http://` needs a TCP `host:port`.
    #[error("invalid address '{0}': http:// needs host:port")]
    HttpNeedsTcp(String),
}

impl Target {
    /// Parses an address: `http://` URLs for `--stats-http`, anything else as uWSGI's socket
    /// syntax (`rwsgi_config::Addr`).
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        let Some(rest) = s.strip_prefix("http://") else {
            return Addr::parse(s)
                .map(Target::Raw)
                .map_err(|e| TargetError::Addr(s.to_string(), e));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = Addr::parse(authority).map_err(|e| TargetError::Addr(s.to_string(), e))?;
        if addr.is_unix() {
            return Err(TargetError::HttpNeedsTcp(s.to_string()));
        }
        Ok(Target::Http {
            addr,
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }

    fn addr(&self) -> &Addr {
        match self {
            Target::Raw(a) | Target::Http { addr: a, .. } => a,
        }
    }
}

/// Bounds on one fetch.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// To connect.
    pub connect: Duration,
    /// For the whole exchange, connecting included.
    pub deadline: Duration,
    /// The largest answer read (a stats document of a thousand workers is a few MiB).
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(2),
            deadline: Duration::from_secs(3),
            max_bytes: 32 << 20,
        }
    }
}

/// Why no document was read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting failed (refused, no such socket, unreachable, timed out).
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// Sending the HTTP request failed.
    #[error("cannot send the request: {0}")]
    Write(io::Error),
    /// Reading failed.
    #[error("read failed: {0}")]
    Read(io::Error),
    /// The server did not finish within the deadline.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The answer was larger than [`Limits::max_bytes`].
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The connection closed before anything was sent.
    #[error("connection closed without an answer")]
    Empty,
    /// `--stats-http`: the answer is not HTTP, or is cut off.
    #[error("bad HTTP answer: {0}")]
    Http(String),
    /// `--stats-http`: a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The document is not a stats document.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A connected socket of either family.
/// A connection to a stats socket of any family.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A filesystem or abstract UNIX socket.
    Unix(UnixStream),
}

impl Stream {
    /// Sets the read and write timeouts.
    pub fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s
                .set_read_timeout(Some(t))
                .and_then(|_| s.set_write_timeout(Some(t))),
            Stream::Unix(s) => s
                .set_read_timeout(Some(t))
                .and_then(|_| s.set_write_timeout(Some(t))),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Connects to a stats socket in uWSGI's address syntax: `:port` is reached on 127.0.0.1, and an
/// abstract `@name` as `\0name`, then as uWSGI's `\0name\0` (also `--connect-and-read`'s rule).
pub fn connect(addr: &Addr, timeout: Duration) -> io::Result<Stream> {
    match addr {
        Addr::Tcp { host, port } => {
            // `:port` listens on every interface; loopback is one of them.
            let host = if host.is_empty() {
                "127.0.0.1"
            } else {
                host.as_str()
            };
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for host");
            for sa in (host, *port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&sa, timeout) {
                    Ok(s) => return Ok(Stream::Tcp(s)),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        Addr::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        Addr::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            // The plain name (rwsgi binds it, uwsgitop connects to it); then uWSGI's own form,
            // whose address carries a trailing NUL.
            let mut with_nul = name.clone();
            with_nul.push(0);
            let mut last = None;
            for candidate in [name.as_slice(), with_nul.as_slice()] {
                let sa = std::os::unix::net::SocketAddr::from_abstract_name(candidate)?;
                match UnixStream::connect_addr(&sa) {
                    Ok(s) => return Ok(Stream::Unix(s)),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| io::Error::other("no address")))
        }
    }
}

/// Connects to `target`, sends the HTTP request if it is one, and reads until the server
/// closes; within `limits`.
pub fn exchange(target: &Target, limits: Limits) -> Result<Vec<u8>, FetchError> {
    let started = Instant::now();
    let remaining = || limits.deadline.saturating_sub(started.elapsed());
    let mut stream =
        connect(target.addr(), limits.connect.min(limits.deadline)).map_err(FetchError::Connect)?;
    if let Target::Http {
        authority, path, ..
    } = target
    {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\n\
             Connection: close\r\nUser-Agent: rwsgi-top\r\n\r\n"
        );
        stream
            .set_timeouts(remaining().max(Duration::from_millis(1)))
            .map_err(FetchError::Write)?;
        stream
            .write_all(request.as_bytes())
            .map_err(FetchError::Write)?;
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = remaining();
        if left.is_zero() {
            return Err(FetchError::Timeout(limits.deadline));
        }
        stream.set_timeouts(left).map_err(FetchError::Read)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.len() + n > limits.max_bytes {
                    return Err(FetchError::TooLarge(limits.max_bytes));
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(FetchError::Timeout(limits.deadline));
            }
            Err(e) => return Err(FetchError::Read(e)),
        }
    }
    if out.is_empty() {
        return Err(FetchError::Empty);
    }
    Ok(out)
}

/// Polls `target` once: the server's snapshot, or why not.
pub fn poll(target: &Target, limits: Limits) -> Result<ServerStats, FetchError> {
    let raw = exchange(target, limits)?;
    let doc = match target {
        Target::Raw(_) => raw,
        Target::Http { .. } => http_body(&raw)?,
    };
    Ok(ServerStats::parse(&doc)?)
}

/// The body of a complete HTTP response (`raw` is everything the server sent before closing):
/// status 200 required; chunked bodies are dechunked, a `Content-Length` must be met.
pub fn http_body(raw: &[u8]) -> Result<Vec<u8>, FetchError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(FetchError::Http("cut-off head".into())),
        Err(e) => return Err(FetchError::Http(e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let body = &raw[head_len..];
    if header("transfer-encoding").is_some_and(|te| te.ends_with("chunked")) {
        return dechunk(body);
    }
    match header("content-length") {
        Some(len) => {
            let len: usize = len
                .parse()
                .map_err(|_| FetchError::Http(format!("bad Content-Length '{len}'")))?;
            if body.len() < len {
                return Err(FetchError::Http(format!(
                    "body cut off: {} of {len} bytes",
                    body.len()
                )));
            }
            Ok(body[..len].to_vec())
        }
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, FetchError> {
    let cut = || FetchError::Http("chunked body cut off".into());
    let mut out = Vec::new();
    loop {
        let (start, size) = match httparse::parse_chunk_size(body) {
            Ok(httparse::Status::Complete(v)) => v,
            Ok(httparse::Status::Partial) => return Err(cut()),
            Err(_) => return Err(FetchError::Http("bad chunk size".into())),
        };
        let size = usize::try_from(size).map_err(|_| cut())?;
        body = &body[start..];
        if size == 0 {
            // Trailers are not wanted; the body is complete.
            return Ok(out);
        }
        let chunk_end = size.checked_add(2).ok_or_else(cut)?;
        if body.len() < chunk_end {
            return Err(cut());
        }
        if &body[size..chunk_end] != b"\r\n" {
            return Err(FetchError::Http("chunk not followed by CRLF".into()));
        }
        out.extend_from_slice(&body[..size]);
        body = &body[chunk_end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn parses_every_address_form() {
        let tcp = |host: &str, port| Addr::Tcp {
            host: host.into(),
            port,
        };
        assert_eq!(
            Target::parse("127.0.0.1:9191").unwrap(),
            Target::Raw(tcp("127.0.0.1", 9191))
        );
        assert_eq!(Target::parse(":9191").unwrap(), Target::Raw(tcp("", 9191)));
        assert_eq!(
            Target::parse("/run/stats.sock").unwrap(),
            Target::Raw(Addr::Unix("/run/stats.sock".into()))
        );
        assert_eq!(
            Target::parse("@stats").unwrap(),
            Target::Raw(Addr::Abstract(b"stats".to_vec()))
        );
        assert_eq!(
            Target::parse("http://localhost:9191").unwrap(),
            Target::Http {
                addr: tcp("localhost", 9191),
                authority: "localhost:9191".into(),
                path: "/".into()
            }
        );
        assert_eq!(
            Target::parse("http://127.0.0.1:1/stats?x").unwrap(),
            Target::Http {
                addr: tcp("127.0.0.1", 1),
                authority: "127.0.0.1:1".into(),
                path: "/stats?x".into()
            }
        );
        assert!(matches!(
            Target::parse("http://nohost"),
            Err(TargetError::HttpNeedsTcp(_))
        ));
        assert!(matches!(
            Target::parse("host:notaport"),
            Err(TargetError::Addr(_, AddrError::BadPort(_)))
        ));
        assert!(matches!(
            Target::parse(""),
            Err(TargetError::Addr(_, AddrError::Empty))
        ));
    }

    #[test]
    fn http_bodies_plain_sized_and_chunked() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(http_body(plain).unwrap(), b"{\"a\":1}");
        let sized = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}\n";
        assert_eq!(http_body(sized).unwrap(), b"{}\n");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn bad_http_is_an_error() {
        for raw in [
            &b"garbage"[..],
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"HTTP/1.1 404 Not Found\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        ] {
            assert!(
                http_body(raw).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(matches!(
            http_body(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(FetchError::Status(404))
        ));
    }

    /// A TCP server on loopback answering one connection with `serve`; returns its target.
    fn one_shot(
        serve: impl FnOnce(TcpStream) + Send + 'static,
    ) -> (Target, thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = thread::spawn(move || {
            if let Ok((s, _)) = l.accept() {
                serve(s);
            }
        });
        (Target::parse(&format!("127.0.0.1:{port}")).unwrap(), h)
    }

    fn quick() -> Limits {
        Limits {
            connect: Duration::from_secs(2),
            deadline: Duration::from_millis(500),
            max_bytes: 1024,
        }
    }

    #[test]
    fn a_good_document_is_read() {
        let (t, h) = one_shot(|mut s| {
            let _ = s.write_all(br#"{"pid":7,"workers":[{"id":1}]}"#);
        });
        let stats = poll(&t, quick()).unwrap();
        assert_eq!((stats.pid, stats.workers.len()), (7, 1));
        h.join().unwrap();
    }

    #[test]
    fn garbage_half_documents_and_silence_are_errors() {
        let (t, h) = one_shot(|mut s| {
            let _ = s.write_all(b"\x00\x01garbage\xff");
        });
        assert!(matches!(poll(&t, quick()), Err(FetchError::Model(_))));
        h.join().unwrap();

        let (t, h) = one_shot(|mut s| {
            let _ = s.write_all(br#"{"pid":7,"workers":[{"id":1,"#);
        });
        assert!(matches!(poll(&t, quick()), Err(FetchError::Model(_))));
        h.join().unwrap();

        let (t, h) = one_shot(drop);
        assert!(matches!(poll(&t, quick()), Err(FetchError::Empty)));
        h.join().unwrap();

        // Sends a byte now and then, never closes: the deadline ends it.
        let (t, h) = one_shot(|mut s| {
            for _ in 0..20 {
                if s.write_all(b" ").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        assert!(matches!(poll(&t, quick()), Err(FetchError::Timeout(_))));
        h.join().unwrap();

        let (t, h) = one_shot(|mut s| {
            let _ = s.write_all(&[b' '; 4096]);
        });
        assert!(matches!(poll(&t, quick()), Err(FetchError::TooLarge(1024))));
        h.join().unwrap();
    }

    #[test]
    fn http_target_sends_a_get_and_dechunks() {
        let (raw, h) = one_shot(|mut s| {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let ok = head.starts_with(b"GET /stats HTTP/1.1\r\n");
            let body: &[u8] = if ok {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"pid\"\r\n3\r\n:9}\r\n0\r\n\r\n"
            } else {
                b"HTTP/1.1 400 Bad Request\r\n\r\n"
            };
            let _ = s.write_all(body);
        });
        let Target::Raw(Addr::Tcp { port, .. }) = raw else {
            unreachable!("one_shot gives a TCP target")
        };
        let t = Target::parse(&format!("http://127.0.0.1:{port}/stats")).unwrap();
        assert_eq!(poll(&t, quick()).unwrap().pid, 9);
        h.join().unwrap();
    }

    #[test]
    fn nobody_listening_is_a_connect_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = Target::parse(&format!("127.0.0.1:{port}")).unwrap();
        assert!(matches!(poll(&t, quick()), Err(FetchError::Connect(_))));
        let t = Target::parse("/nonexistent/dir/stats.sock").unwrap();
        assert!(matches!(poll(&t, quick()), Err(FetchError::Connect(_))));
    }
}
