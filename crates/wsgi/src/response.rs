//! `start_response`, the `write()` callable and putting the response on the wire.
//!
//! Headers are validated and serialised once, when `start_response` is called; the status line
//! and the framing headers that depend on the body (Content-Length, chunked coding, Connection)
//! are added when the first body bytes, or the end of the response, reach the writer.

use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyAssertionError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::input::{BodyOnWire, LINGER_MAX_BYTES};
use rwsgi_os::fdio::{send_more_nb, sendfile_nb, wait_fd, writev_nb, DEFAULT_SOCKET_TIMEOUT};

/// The wire dialect of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An HTTP/1.x client of `--http-socket`.
    Http {
        /// HTTP/1.1 (chunked coding allowed) rather than 1.0.
        http11: bool,
    },
    /// A uwsgi-protocol peer (nginx): an HTTP-style response delimited by closing the connection.
    Uwsgi,
}

/// Body bytes at or above this size are written from the Python object itself (writev), not
/// copied into the output buffer.
const ZERO_COPY_MIN: usize = 16 * 1024;
/// Buffered output is flushed once it grows past this.
const FLUSH_AT: usize = 64 * 1024;
/// Most bytes one `sendfile(2)` of a `wsgi.file_wrapper` body is asked for.
const SENDFILE_MAX: u64 = 4 << 20;

/// Where a response is: before `start_response`, with its head recorded, or with the head on
/// the wire (and the body's coding chosen then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `start_response` was not called yet.
    Unstarted,
    /// Status and headers are recorded; nothing went out.
    HeadersSet,
    /// The head went out; the body follows in this coding.
    HeadSent(Coding),
}

/// How the body goes on the wire after the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// As it is: delimited by `Content-Length` or by the connection's close.
    Identity,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Everything the writer needs to know about one response.
#[derive(Debug)]
pub struct Writer {
    fd: RawFd,
    dialect: Dialect,
    protocol: Vec<u8>,
    /// The client asked to keep the connection open (and the server allows it).
    keep_alive: bool,
    /// The connection is closed right after this response if it is not kept alive, and no
    /// request bytes are left unread: the last write may wait for the FIN (see `finish`).
    fin_follows: bool,
    head_only: bool,
    out: Vec<u8>,
    status: Vec<u8>,
    status_code: u16,
    header_block: Vec<u8>,
    content_length: Option<u64>,
    phase: Phase,
    body_sent: u64,
    /// Bytes put on the wire (head and body), for the scoreboard's `tx`.
    pub tx: u64,
    /// Writing to the client failed.
    pub write_error: bool,
    /// The body went out with sendfile(2) (for `--log-sendfile`).
    pub via_sendfile: bool,
    options: ResponseOptions,
    /// Header lines and bytes of the head sent (for the request log).
    head: (usize, usize),
    /// The request body still being received, if any.
    body_on_wire: Option<BodyOnWire>,
    /// Internal routing changes this response's headers (`route`).
    routed: bool,
    /// What internal routing changes, kept boxed: the writer is moved into and out of the
    /// app call on every request, so its size is paid in copies (allocated once, reused).
    route: Option<Box<RouteHeaders>>,
}

/// Internal routing's changes to one response.
#[derive(Debug, Default)]
struct RouteHeaders {
    /// Header lines to add (`addheader:`), rendered `Name: value\r\n`.
    add: Vec<u8>,
    /// Names of the app's headers to drop (`delheader:`).
    remove: Vec<Vec<u8>>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            fd: -1,
            dialect: Dialect::Uwsgi,
            protocol: b"HTTP/1.1".to_vec(),
            keep_alive: false,
            fin_follows: false,
            head_only: false,
            out: Vec::new(),
            status: Vec::new(),
            status_code: 0,
            header_block: Vec::new(),
            content_length: None,
            phase: Phase::Unstarted,
            body_sent: 0,
            tx: 0,
            write_error: false,
            via_sendfile: false,
            options: ResponseOptions::default(),
            head: (0, 0),
            body_on_wire: None,
            routed: false,
            route: None,
        }
    }
}

/// The server's settings for every response, fixed at start-up.
#[derive(Debug, Clone)]
pub struct ResponseOptions {
    /// How long one wait for the client to take more of the response may last.
    pub timeout: Duration,
    /// A failed write raises `OSError` (in the app's `write()`, or reported as the request's
    /// exception); false with `--disable-write-exception`: the response just ends there. It
    /// counts as a write error either way.
    pub raise_write_errors: bool,
    /// `--add-header` lines, rendered (`Name: value\r\n`…), added to every response head.
    pub extra_headers: Option<Arc<[u8]>>,
    /// `--add-header 'Connection: close'`: no response keeps its connection.
    pub always_close: bool,
}

impl Default for ResponseOptions {
    fn default() -> Self {
        ResponseOptions {
            timeout: DEFAULT_SOCKET_TIMEOUT,
            raise_write_errors: true,
            extra_headers: None,
            always_close: false,
        }
    }
}

impl Writer {
    /// Waits (GIL released) until the client can take more, within the socket timeout; a
    /// client that does not is a failed write.
    fn wait_writable(&mut self, py: Python<'_>) -> io::Result<()> {
        let (fd, timeout) = (self.fd, self.options.timeout);
        py.detach(|| wait_fd(fd, true, timeout))
            .map_err(|e| self.failed(e))
    }

    /// Marks the response as failed by a write error and hands the error on.
    fn failed(&mut self, e: io::Error) -> io::Error {
        self.write_error = true;
        e
    }

    /// Applies the server's response settings (before [`Writer::reset`]: they decide whether
    /// the connection may be kept).
    pub fn set_options(&mut self, options: &ResponseOptions) {
        self.options.clone_from(options);
    }

    /// What a failed write becomes: `OSError`, or nothing when write errors are not raised.
    pub fn write_failed(&self, e: io::Error) -> PyResult<()> {
        if self.options.raise_write_errors {
            Err(PyOSError::new_err(format!("client connection: {e}")))
        } else {
            Ok(())
        }
    }

    /// Prepares this writer for a new response on `fd`, keeping its buffers' allocations
    /// (a core reuses one writer for all its requests).
    pub fn reset(
        &mut self,
        fd: RawFd,
        dialect: Dialect,
        protocol: &[u8],
        keep_alive: bool,
        fin_follows: bool,
        head_only: bool,
    ) {
        let protocol: &[u8] = if protocol.starts_with(b"HTTP/") && protocol.len() <= 16 {
            protocol
        } else {
            b"HTTP/1.1"
        };
        self.fd = fd;
        self.dialect = dialect;
        self.protocol.clear();
        self.protocol.extend_from_slice(protocol);
        self.keep_alive = keep_alive && dialect != Dialect::Uwsgi && !self.options.always_close;
        self.fin_follows = fin_follows;
        self.head_only = head_only;
        self.out.clear();
        self.status.clear();
        self.status_code = 0;
        self.header_block.clear();
        self.content_length = None;
        self.phase = Phase::Unstarted;
        self.body_sent = 0;
        self.tx = 0;
        self.write_error = false;
        self.via_sendfile = false;
        self.head = (0, 0);
        self.body_on_wire = None;
        self.routed = false;
    }

    /// Internal routing's changes to this response (after [`Writer::reset`]): header lines to
    /// add (rendered `Name: value\r\n`), and names of the app's headers to drop (never the
    /// framing: `Content-Length`, `Transfer-Encoding` and `Connection` are the server's).
    pub fn set_route_headers(&mut self, add: &[u8], remove: &[Vec<u8>]) {
        self.routed = true;
        let route = self.route.get_or_insert_with(Box::default);
        route.add.clear();
        route.add.extend_from_slice(add);
        route.remove.clear();
        route.remove.extend(remove.iter().cloned());
    }

    /// Applies internal routing's changes to the recorded headers.
    fn apply_route_headers(&mut self) {
        let Some(route) = self.route.as_deref() else {
            return;
        };
        if !route.remove.is_empty() {
            let block = std::mem::take(&mut self.header_block);
            for line in block.split_inclusive(|&b| b == b'\n') {
                let name = line.split(|&b| b == b':').next().unwrap_or(b"");
                let dropped = !name.eq_ignore_ascii_case(b"content-length")
                    && route.remove.iter().any(|r| r.eq_ignore_ascii_case(name));
                if !dropped {
                    self.header_block.extend_from_slice(line);
                }
            }
        }
        self.header_block.extend_from_slice(&route.add);
    }

    /// Watches the request body being received (after [`Writer::reset`]): a response head that
    /// goes out while more than [`LINGER_MAX_BYTES`] of it are still to come says
    /// `Connection: close`, so a client that goes on sending it is not promised a connection
    /// the server then has to cut.
    pub fn watch_body(&mut self, on_wire: BodyOnWire) {
        self.body_on_wire = Some(on_wire);
    }

    /// Header lines and total bytes of the response head that went out, as uWSGI's request
    /// log reports them ("2 headers in 79 bytes").
    pub fn head_stats(&self) -> (usize, usize) {
        self.head
    }

    /// The response's protocol (`HTTP/1.1`, …).
    pub fn protocol(&self) -> &[u8] {
        &self.protocol
    }

    /// The numeric status sent (0 before `start_response`).
    pub fn status_code(&self) -> u16 {
        self.status_code
    }

    /// True once the status line went out.
    pub fn headers_sent(&self) -> bool {
        matches!(self.phase, Phase::HeadSent(_))
    }

    /// True while the body goes out chunked.
    fn chunked(&self) -> bool {
        self.phase == Phase::HeadSent(Coding::Chunked)
    }

    /// Whether the connection may carry another request after this response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive && !self.write_error
    }

    /// Forbids reusing the connection (e.g. the request body was not fully read).
    pub fn force_close(&mut self) {
        self.keep_alive = false;
    }

    /// Records status and headers from `start_response`.
    pub fn set_headers(
        &mut self,
        status: &[u8],
        headers: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), &'static str> {
        self.status.clear();
        self.status.extend_from_slice(status);
        self.status_code = rwsgi_proto::http::status_code(status).unwrap_or(0);
        self.header_block.clear();
        self.content_length = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-length") {
                let text = std::str::from_utf8(value).map_err(|_| "bad Content-Length")?;
                self.content_length = Some(text.trim().parse().map_err(|_| "bad Content-Length")?);
            } else if name.eq_ignore_ascii_case(b"connection") {
                if value.eq_ignore_ascii_case(b"close") {
                    self.keep_alive = false;
                }
                // The server owns connection management; the app's header is not repeated.
                continue;
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // Hop-by-hop, the server's business (PEP 3333).
                continue;
            }
            self.header_block.extend_from_slice(name);
            self.header_block.extend_from_slice(b": ");
            self.header_block.extend_from_slice(value);
            self.header_block.extend_from_slice(b"\r\n");
        }
        self.phase = Phase::HeadersSet;
        Ok(())
    }

    fn body_allowed(&self) -> bool {
        !(self.head_only
            || self.status_code == 204
            || self.status_code == 304
            || (100..200).contains(&self.status_code))
    }

    /// Serialises the head into `out`. `total` is the full body length when it is known now
    /// (a response that ends here, or a list whose items are all at hand).
    fn push_head(&mut self, total: Option<u64>) {
        // One branch per response without routing rules.
        if self.routed {
            self.apply_route_headers();
        }
        let mut coding = Coding::Identity;
        if self
            .body_on_wire
            .as_ref()
            .is_some_and(|b| b.get() > LINGER_MAX_BYTES)
        {
            self.keep_alive = false;
        }
        if self.content_length.is_none() && self.body_allowed() {
            if let Some(n) = total {
                self.content_length = Some(n);
                self.header_block.extend_from_slice(b"Content-Length: ");
                self.header_block
                    .extend_from_slice(itoa_buf(n, &mut [0u8; 20]));
                self.header_block.extend_from_slice(b"\r\n");
            } else if self.keep_alive && self.dialect == (Dialect::Http { http11: true }) {
                coding = Coding::Chunked;
                self.header_block
                    .extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            } else {
                // The body ends when the connection does.
                self.keep_alive = false;
            }
        }
        let start = self.out.len();
        self.out.extend_from_slice(&self.protocol);
        self.out.push(b' ');
        self.out.extend_from_slice(&self.status);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&self.header_block);
        if let Some(extra) = &self.options.extra_headers {
            self.out.extend_from_slice(extra);
        }
        match self.dialect {
            Dialect::Http { http11 } => {
                if !self.keep_alive {
                    self.out.extend_from_slice(b"Connection: close\r\n");
                } else if !http11 {
                    self.out.extend_from_slice(b"Connection: keep-alive\r\n");
                }
            }
            Dialect::Uwsgi => {}
        }
        self.out.extend_from_slice(b"\r\n");
        let head = &self.out[start..];
        // Every line ends with CRLF: the status line and the blank line are not headers.
        let lines = head.iter().filter(|&&b| b == b'\n').count();
        self.head = (lines.saturating_sub(2), head.len());
        self.phase = Phase::HeadSent(coding);
    }

    /// Sends (or buffers) body bytes, sending the head first. `flush` writes through now;
    /// `total` is the whole body's size if known before the head goes out.
    pub fn send_body(
        &mut self,
        py: Python<'_>,
        data: &[u8],
        flush: bool,
        total: Option<u64>,
    ) -> io::Result<()> {
        if !self.headers_sent() {
            self.push_head(total);
        }
        let mut data = data;
        if !self.body_allowed() {
            data = &[];
        } else if let Some(limit) = self.content_length {
            // Never send more than announced: the extra bytes would corrupt the next response.
            let room = limit.saturating_sub(self.body_sent);
            if (data.len() as u64) > room {
                data = &data[..room as usize];
            }
        }
        self.body_sent += data.len() as u64;
        if self.chunked() && !data.is_empty() {
            let mut hex = [0u8; 16];
            self.out.extend_from_slice(hex_buf(data.len(), &mut hex));
            self.out.extend_from_slice(b"\r\n");
        }
        if data.len() >= ZERO_COPY_MIN {
            let out = std::mem::take(&mut self.out);
            let r = self.write_all2(py, &out, data, false);
            self.out = out;
            self.out.clear();
            r?;
        } else {
            self.out.extend_from_slice(data);
        }
        if self.chunked() && !data.is_empty() {
            self.out.extend_from_slice(b"\r\n");
        }
        if flush || self.out.len() >= FLUSH_AT {
            self.flush(py)?;
        }
        Ok(())
    }

    /// Sends `len` bytes of `file` (open for the call) from `offset` as the rest of the body,
    /// with `sendfile(2)` (`wsgi.file_wrapper` over a regular file): no copy through Python or
    /// user space. The head goes first, announcing the length when the app set none. False
    /// (nothing sent) when the body is chunked already: the caller then sends it as blocks.
    pub fn send_file(
        &mut self,
        py: Python<'_>,
        file: RawFd,
        mut offset: u64,
        len: u64,
    ) -> io::Result<bool> {
        if self.chunked() {
            return Ok(false);
        }
        if !self.headers_sent() {
            self.push_head(Some(self.body_sent.saturating_add(len)));
            if self.chunked() {
                return Ok(false);
            }
        }
        self.flush(py)?;
        if !self.body_allowed() {
            return Ok(true);
        }
        let mut left = match self.content_length {
            // Never more than announced (the extra bytes would corrupt the next response).
            Some(limit) => len.min(limit.saturating_sub(self.body_sent)),
            None => len,
        };
        while left > 0 {
            if self.write_error {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "client gone"));
            }
            self.via_sendfile = true;
            let count = left.min(SENDFILE_MAX) as usize;
            match sendfile_nb(self.fd, file, &mut offset, count) {
                // The file is shorter than it was: finish() sees the body fall short.
                Ok(Some(0)) => break,
                Ok(Some(n)) => {
                    left -= n as u64;
                    self.tx += n as u64;
                    self.body_sent += n as u64;
                }
                Ok(None) => self.wait_writable(py)?,
                Err(e) => return Err(self.failed(e)),
            }
        }
        Ok(true)
    }

    /// Ends the response: sends the head if nothing was sent, the last chunk, and flushes.
    pub fn finish(&mut self, py: Python<'_>) -> io::Result<()> {
        if !self.headers_sent() {
            self.push_head(Some(0));
        }
        if self.chunked() {
            self.out.extend_from_slice(b"0\r\n\r\n");
        }
        if let Some(n) = self.content_length {
            if self.body_sent < n && self.body_allowed() {
                // The app sent less than it announced; the client would wait forever.
                self.keep_alive = false;
            }
        }
        // A response the connection's close follows: its last bytes go out with MSG_MORE, so
        // close(2) sends them and the FIN in one segment. The peer (nginx behind uwsgi_pass,
        // which closes after every response) then wakes once for data and EOF, and loopback
        // carries one packet less per request.
        let last = self.fin_follows && !self.keep_alive;
        self.flush_out(py, last)
    }

    /// Writes a canned error response (no app headers were sent yet).
    pub fn send_error(&mut self, py: Python<'_>, status: &[u8], body: &[u8]) -> io::Result<()> {
        self.send_canned(py, status, b"Content-Type: text/plain\r\n", body)
    }

    /// Writes a whole response of the server's own: status, header lines (rendered
    /// `Name: value\r\n`), body (no app headers were sent yet).
    pub fn send_canned(
        &mut self,
        py: Python<'_>,
        status: &[u8],
        headers: &[u8],
        body: &[u8],
    ) -> io::Result<()> {
        self.header_block.clear();
        self.out.clear();
        self.phase = Phase::HeadersSet;
        self.status.clear();
        self.status.extend_from_slice(status);
        self.status_code = rwsgi_proto::http::status_code(status).unwrap_or(500);
        self.content_length = None;
        self.header_block.extend_from_slice(headers);
        self.body_sent = 0;
        self.send_body(py, body, false, Some(body.len() as u64))?;
        self.finish(py)
    }

    /// Writes out the buffered bytes.
    pub fn flush(&mut self, py: Python<'_>) -> io::Result<()> {
        self.flush_out(py, false)
    }

    /// Writes out the buffered bytes; `last`: they are the last before the FIN.
    fn flush_out(&mut self, py: Python<'_>, last: bool) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let r = self.write_all2(py, &out, &[], last);
        self.out = out;
        self.out.clear();
        r
    }

    /// Writes `a` then `b`; `last`: with MSG_MORE, as the last bytes before the FIN.
    fn write_all2(
        &mut self,
        py: Python<'_>,
        mut a: &[u8],
        mut b: &[u8],
        last: bool,
    ) -> io::Result<()> {
        if self.write_error {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "client gone"));
        }
        if self.fd < 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "response written after its request ended",
            ));
        }
        while !a.is_empty() || !b.is_empty() {
            let sent = if last {
                send_more_nb(self.fd, a, b)
            } else {
                writev_nb(self.fd, a, b)
            };
            match sent {
                Ok(Some(n)) => {
                    self.tx += n as u64;
                    if n >= a.len() {
                        b = &b[n - a.len()..];
                        a = &[];
                    } else {
                        a = &a[n..];
                    }
                }
                Ok(None) => self.wait_writable(py)?,
                Err(e) => return Err(self.failed(e)),
            }
        }
        Ok(())
    }
}

fn itoa_buf(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

fn hex_buf(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The `start_response` callable handed to the app; also holds the response writer.
#[pyclass(module = "rwsgi", name = "StartResponse")]
pub struct StartResponse {
    writer: Mutex<Writer>,
}

impl StartResponse {
    /// Wraps a writer.
    pub fn new(writer: Writer) -> StartResponse {
        StartResponse {
            writer: Mutex::new(writer),
        }
    }

    /// Runs `f` on the writer.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut Writer) -> T) -> T {
        match self.writer.lock() {
            Ok(mut w) => f(&mut w),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Takes the writer back out, detaching it from the socket.
    pub fn take_writer(&self) -> Writer {
        self.with_writer(std::mem::take)
    }
}

#[inline]
fn latin1(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str")))?;
    let text = s.to_str()?;
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let c = ch as u32;
        if c > 0xff {
            return Err(PyValueError::new_err(format!(
                "{what} must be latin-1 encodable (PEP 3333)"
            )));
        }
        if c == u32::from(b'\r') || c == u32::from(b'\n') || c == 0 {
            return Err(PyValueError::new_err(format!(
                "{what} must not contain CR, LF or NUL"
            )));
        }
        out.push(c as u8);
    }
    Ok(out)
}

#[pymethods]
impl StartResponse {
    /// `start_response(status, response_headers, exc_info=None)` → `write`.
    #[pyo3(signature = (status, headers, exc_info=None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        let this = slf.borrow();
        let sent = this.with_writer(|w| w.headers_sent());
        if sent {
            if let Some(info) = exc_info {
                // PEP 3333: too late to change the response; re-raise the app's exception.
                let value = info.get_item(1)?;
                return Err(PyErr::from_value(value));
            }
            return Err(PyAssertionError::new_err("headers already sent"));
        }
        let status = latin1(status, "status")?;
        if rwsgi_proto::http::status_code(&status).is_none() {
            return Err(PyValueError::new_err(format!(
                "invalid status {:?}: expected e.g. '200 OK'",
                String::from_utf8_lossy(&status)
            )));
        }
        let mut list = Vec::new();
        for item in headers.try_iter()? {
            let item = item?;
            let tuple = item
                .cast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err("each header must be a (name, value) tuple"))?;
            if tuple.len() != 2 {
                return Err(PyTypeError::new_err(
                    "each header must be a (name, value) tuple",
                ));
            }
            let name = latin1(&tuple.get_item(0)?, "header name")?;
            let value = latin1(&tuple.get_item(1)?, "header value")?;
            if name.is_empty() || name.iter().any(|&b| b == b':' || b == b' ') {
                return Err(PyValueError::new_err("invalid header name"));
            }
            list.push((name, value));
        }
        this.with_writer(|w| w.set_headers(&status, &list))
            .map_err(PyValueError::new_err)?;
        slf.getattr("write")
    }

    /// The legacy `write(data)` callable returned by `start_response`.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("write() argument must be bytes"))?;
        self.with_writer(|w| {
            if !w.headers_set() {
                return Err(PyAssertionError::new_err(
                    "write() called before start_response()",
                ));
            }
            match w.send_body(py, bytes.as_bytes(), true, None) {
                Ok(()) => Ok(()),
                Err(e) => w.write_failed(e),
            }
        })
    }
}

impl Writer {
    /// True once `start_response` was called.
    pub fn headers_set(&self) -> bool {
        self.phase != Phase::Unstarted
    }
}
