//! The request body and `wsgi.input`, a file-like object over it.
//!
//! The body is read lazily, straight from the client socket, only when the app asks for it:
//! `read`, `readline`, `readlines` and iteration, as PEP 3333 requires. A client that
//! disconnects mid-body, stalls or sends a malformed chunk makes these raise `OSError` (uWSGI
//! raises `IOError`); the failure is remembered ([`Body::failure`]) so the server answers for the
//! client's fault itself (400/408) instead of counting an app exception, and it is counted as a
//! read error of the core.
//!
//! Memory follows the bytes that arrived, never a length the client claims: a `read()` of a
//! body larger than [`PREALLOC_MAX`] grows its buffer as the data comes in.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use rwsgi_proto::http::ChunkedDecoder;

use rwsgi_os::fdio::{read_append, read_nb, wait_fd, DEFAULT_SOCKET_TIMEOUT};

pub use rwsgi_proto::BodyFraming;

/// How the client failed while its body was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// The body broke its framing (a bad chunk size, extension or trailer).
    Malformed,
    /// The client sent nothing for a whole socket timeout.
    TimedOut,
    /// The connection ended (or failed) before the body did.
    Disconnected,
    /// A chunked body grew past `--limit-post`.
    TooLarge,
}

impl BodyFailure {
    /// The response a client whose body failed this way gets, if it can still be answered.
    pub fn status(self) -> Option<&'static [u8]> {
        match self {
            BodyFailure::Malformed => Some(b"400 Bad Request"),
            BodyFailure::TimedOut => Some(b"408 Request Timeout"),
            BodyFailure::Disconnected => None,
            BodyFailure::TooLarge => Some(b"413 Request Entity Too Large"),
        }
    }

    fn of(e: &io::Error) -> BodyFailure {
        match e.kind() {
            io::ErrorKind::InvalidData => BodyFailure::Malformed,
            io::ErrorKind::TimedOut => BodyFailure::TimedOut,
            io::ErrorKind::FileTooLarge => BodyFailure::TooLarge,
            _ => BodyFailure::Disconnected,
        }
    }
}

/// A `read()` of at most this many bytes of a `Content-Length` body is read straight into its
/// final buffer, allocated at once; a larger one grows with the bytes that arrive.
pub const PREALLOC_MAX: usize = 4 << 20;
/// Body bytes still unread after the response that the server reads and discards to keep the
/// connection (and, before a close, at most this many are discarded so the client sees the
/// response rather than a reset), as nginx's lingering close does.
pub const LINGER_MAX_BYTES: u64 = 1 << 20;

/// How many body bytes have not even arrived yet ([`u64::MAX`]: unknown, a chunked body that
/// has not ended), shared by a core's bodies with its response writer: a response that would
/// leave more than [`LINGER_MAX_BYTES`] on the wire says `Connection: close`.
#[derive(Debug, Clone, Default)]
pub struct BodyOnWire(Arc<AtomicU64>);

impl BodyOnWire {
    /// The count published by the body being read.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

/// The body of one request: bytes already read with the head, then the socket.
#[derive(Debug)]
pub struct Body {
    fd: RawFd,
    /// The connection's read buffer; `buf[pos..]` is not consumed yet. Handed back to the
    /// connection after the request, so pipelined bytes that follow the body survive.
    buf: Vec<u8>,
    pos: usize,
    framing: BodyFraming,
    remaining: u64,
    decoder: ChunkedDecoder,
    finished: bool,
    /// Decoded body bytes the app has not taken yet.
    pending: Vec<u8>,
    pending_pos: usize,
    timeout: Duration,
    /// The client failed (disconnect, timeout, malformed chunk) while the body was read.
    failure: Option<BodyFailure>,
    /// Where this body publishes how much of it is still on the wire, if anyone looks.
    on_wire: Option<BodyOnWire>,
    /// Most decoded bytes a chunked body may have (`--limit-post`; `u64::MAX`: no limit).
    limit: u64,
    /// Decoded bytes of a chunked body so far.
    decoded: u64,
}

impl Default for Body {
    fn default() -> Self {
        Body::new(-1, Vec::new(), 0, BodyFraming::None)
    }
}

/// Largest single read from the socket into the body buffer.
const READ_CHUNK: usize = 64 * 1024;

impl Body {
    /// A body read from `fd`, starting with `buf[pos..]`.
    pub fn new(fd: RawFd, buf: Vec<u8>, pos: usize, framing: BodyFraming) -> Body {
        let (remaining, finished) = match framing {
            BodyFraming::None => (0, true),
            BodyFraming::Length(n) => (n, n == 0),
            BodyFraming::Chunked => (0, false),
        };
        Body {
            fd,
            buf,
            pos,
            framing,
            remaining,
            decoder: ChunkedDecoder::default(),
            finished,
            pending: Vec::new(),
            pending_pos: 0,
            timeout: DEFAULT_SOCKET_TIMEOUT,
            failure: None,
            on_wire: None,
            limit: u64::MAX,
            decoded: 0,
        }
    }

    /// Bounds a chunked body (`--limit-post`; `u64::MAX`: no bound): reading past `limit`
    /// decoded bytes fails, as [`BodyFailure::TooLarge`]. (A body with a Content-Length is
    /// refused before the app.)
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Publishes, now and after every read, how many body bytes are still on the wire.
    pub fn publish_on_wire(&mut self, on_wire: BodyOnWire) {
        self.on_wire = Some(on_wire);
        self.publish();
    }

    fn publish(&self) {
        if let Some(w) = &self.on_wire {
            w.set(self.left_on_wire());
        }
    }

    /// Body bytes not received yet ([`u64::MAX`] for a chunked body that has not ended).
    pub fn left_on_wire(&self) -> u64 {
        match self.framing {
            _ if self.finished => 0,
            BodyFraming::None => 0,
            BodyFraming::Length(_) => self
                .remaining
                .saturating_sub((self.buf.len() - self.pos) as u64),
            BodyFraming::Chunked => u64::MAX,
        }
    }

    /// How the client failed while the body was read, if it did.
    pub fn failure(&self) -> Option<BodyFailure> {
        self.failure
    }

    /// The client failed while the body was read.
    pub fn read_error(&self) -> bool {
        self.failure.is_some()
    }

    /// Records a client failure and hands the error on.
    fn failed(&mut self, e: io::Error) -> io::Error {
        self.failure = Some(BodyFailure::of(&e));
        e
    }

    /// Sets how long one wait for the client may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// True once the whole body has been read off the wire.
    pub fn is_complete(&self) -> bool {
        self.finished
    }

    /// Gives back the connection buffer and the offset of the first byte after the body.
    /// Detaches the body from the socket so a stale `wsgi.input` can never touch the fd again.
    pub fn into_buffer(mut self) -> (Vec<u8>, usize) {
        self.fd = -1;
        (std::mem::take(&mut self.buf), self.pos)
    }

    fn available(&self) -> usize {
        self.pending.len() - self.pending_pos
    }

    /// Reads more of the body into `pending`. Returns false at the end of the body.
    fn fill(&mut self, py: Python<'_>) -> io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        if self.pending_pos == self.pending.len() {
            self.pending.clear();
            self.pending_pos = 0;
        }
        match self.framing {
            BodyFraming::None => {
                self.finished = true;
                Ok(false)
            }
            BodyFraming::Length(_) => {
                if self.pos < self.buf.len() {
                    let n = (self.buf.len() - self.pos).min(self.remaining as usize);
                    self.pending
                        .extend_from_slice(&self.buf[self.pos..self.pos + n]);
                    self.pos += n;
                    self.remaining -= n as u64;
                } else {
                    let want = (self.remaining as usize).min(READ_CHUNK);
                    let n = self.read_socket(py, want, false)?;
                    self.remaining -= n as u64;
                }
                if self.remaining == 0 {
                    self.finished = true;
                }
                Ok(true)
            }
            BodyFraming::Chunked => {
                loop {
                    if self.pos < self.buf.len() {
                        let before = self.pending.len();
                        let decoded = self
                            .decoder
                            .decode(&self.buf[self.pos..], &mut self.pending)
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                        let (used, done) = match decoded {
                            Ok(d) => d,
                            Err(e) => return Err(self.failed(e)),
                        };
                        self.pos += used;
                        self.decoded += (self.pending.len() - before) as u64;
                        if self.decoded > self.limit {
                            let e = io::Error::new(
                                io::ErrorKind::FileTooLarge,
                                format!("chunked body over limit-post ({} bytes)", self.limit),
                            );
                            return Err(self.failed(e));
                        }
                        if done {
                            self.finished = true;
                            return Ok(true);
                        }
                        if self.pending.len() > before {
                            return Ok(true);
                        }
                    }
                    // Need more raw bytes: recycle the connection buffer.
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                    self.read_socket(py, READ_CHUNK, true)?;
                }
            }
        }
    }

    /// Appends up to `max` bytes from the socket to the raw buffer (`raw`) or to `pending`.
    /// The end of the stream before the end of the body is an error.
    fn read_socket(&mut self, py: Python<'_>, max: usize, raw: bool) -> io::Result<usize> {
        let target = if raw {
            &mut self.buf
        } else {
            &mut self.pending
        };
        match read_into(self.fd, target, max, self.timeout, py) {
            Ok(0) => Err(self.failed(eof())),
            Ok(n) => Ok(n),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Reads up to `size` bytes (all that is left when `size` is `None`).
    pub fn read(&mut self, py: Python<'_>, size: Option<usize>) -> io::Result<Vec<u8>> {
        let want = size.unwrap_or(usize::MAX);
        let filled = self.fill_to(py, want);
        self.publish();
        filled?;
        Ok(self.take(want))
    }

    fn fill_to(&mut self, py: Python<'_>, want: usize) -> io::Result<()> {
        while self.available() < want && self.fill(py)? {}
        Ok(())
    }

    /// How many bytes `read(size)` returns when the body has a known length (everything that
    /// is left, or `size` of it): then the result can be read straight into its final buffer.
    pub fn exact_len(&self, size: Option<usize>) -> Option<usize> {
        match self.framing {
            BodyFraming::Chunked => None,
            BodyFraming::None | BodyFraming::Length(_) => {
                let left = self.available().saturating_add(self.remaining as usize);
                Some(size.map_or(left, |s| s.min(left)))
            }
        }
    }

    /// Reads the next `n` body bytes (at most [`Body::exact_len`]) into a buffer that grows
    /// with the bytes that arrive (doubling, from 64 KiB), never by what `n` claims.
    pub fn read_growing(&mut self, py: Python<'_>, n: usize) -> io::Result<Vec<u8>> {
        const FIRST_STEP: usize = 64 * 1024;
        let mut out = Vec::new();
        while out.len() < n {
            let start = out.len();
            let step = (n - start).min(start.max(FIRST_STEP));
            out.resize(start + step, 0);
            self.read_exact_into(py, &mut out[start..])?;
        }
        Ok(out)
    }

    /// Fills `dst` with the next `dst.len()` body bytes (at most [`Body::exact_len`]): from what
    /// was already read, then straight from the socket, without intermediate copies.
    pub fn read_exact_into(&mut self, py: Python<'_>, dst: &mut [u8]) -> io::Result<()> {
        let r = self.read_exact_into_inner(py, dst);
        self.publish();
        r
    }

    fn read_exact_into_inner(&mut self, py: Python<'_>, dst: &mut [u8]) -> io::Result<()> {
        let mut off = self.available().min(dst.len());
        dst[..off].copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + off]);
        self.pending_pos += off;
        if off < dst.len() && self.pos < self.buf.len() {
            let n = (self.buf.len() - self.pos)
                .min(self.remaining as usize)
                .min(dst.len() - off);
            dst[off..off + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            self.remaining -= n as u64;
            off += n;
        }
        while off < dst.len() {
            if self.fd < 0 {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "wsgi.input used after its request ended",
                ));
            }
            let want = (dst.len() - off).min(self.remaining as usize);
            match read_nb(self.fd, &mut dst[off..off + want]) {
                Ok(Some(0)) => return Err(self.failed(eof())),
                Ok(Some(n)) => {
                    off += n;
                    self.remaining -= n as u64;
                }
                Ok(None) => {
                    let (fd, timeout) = (self.fd, self.timeout);
                    if let Err(e) = py.detach(|| wait_fd(fd, false, timeout)) {
                        return Err(self.failed(e));
                    }
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        if self.remaining == 0 && matches!(self.framing, BodyFraming::Length(_)) {
            self.finished = true;
        }
        Ok(())
    }

    /// Reads one line, including its `\n`, of at most `limit` bytes.
    pub fn readline(&mut self, py: Python<'_>, limit: Option<usize>) -> io::Result<Vec<u8>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut scanned = 0;
        loop {
            let window = &self.pending[self.pending_pos + scanned..];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                return Ok(self.take((scanned + i + 1).min(limit)));
            }
            scanned = self.available();
            if scanned >= limit {
                return Ok(self.take(limit));
            }
            let more = self.fill(py);
            self.publish();
            if !more? {
                return Ok(self.take(limit));
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.available());
        let out = self.pending[self.pending_pos..self.pending_pos + n].to_vec();
        self.pending_pos += n;
        out
    }

    /// Reads and discards the rest of the body, up to `limit` bytes, without waiting for the
    /// client. Returns true when the body was completely consumed (the connection can be reused).
    pub fn drain_ready(&mut self, limit: usize) -> bool {
        let mut budget = limit as u64;
        self.drain(&mut budget) == Drain::Complete
    }

    /// Reads and discards what the client has sent of the rest of the body, without waiting,
    /// taking the bytes read off `budget`.
    pub fn drain(&mut self, budget: &mut u64) -> Drain {
        let state = self.drain_inner(budget);
        self.publish();
        state
    }

    fn drain_inner(&mut self, budget: &mut u64) -> Drain {
        if self.failure.is_some() {
            // A body that failed has no end to find (and a failed decoder is not reused).
            return Drain::Failed;
        }
        let mut scratch = [0u8; 8192];
        match self.framing {
            BodyFraming::None => Drain::Complete,
            BodyFraming::Length(_) => {
                let n = (self.buf.len() - self.pos).min(self.remaining as usize);
                self.pos += n;
                self.remaining -= n as u64;
                loop {
                    if self.remaining == 0 {
                        self.finished = true;
                        return Drain::Complete;
                    }
                    if *budget == 0 {
                        return Drain::OverBudget;
                    }
                    let want = self.remaining.min(scratch.len() as u64) as usize;
                    match read_nb(self.fd, &mut scratch[..want]) {
                        Ok(Some(0)) | Err(_) => return Drain::Failed,
                        Ok(Some(n)) => {
                            self.remaining -= n as u64;
                            *budget = budget.saturating_sub(n as u64);
                        }
                        Ok(None) => return Drain::Pending,
                    }
                }
            }
            BodyFraming::Chunked => {
                let mut sink = Vec::new();
                loop {
                    if self.finished {
                        return Drain::Complete;
                    }
                    if self.pos < self.buf.len() {
                        match self.decoder.decode(&self.buf[self.pos..], &mut sink) {
                            Ok((used, done)) => {
                                self.pos += used;
                                *budget = budget.saturating_sub(used as u64);
                                self.finished = done;
                                sink.clear();
                                if done || used > 0 {
                                    continue;
                                }
                            }
                            Err(_) => return Drain::Failed,
                        }
                    }
                    if *budget == 0 {
                        return Drain::OverBudget;
                    }
                    // What is left in `buf` is an incomplete chunk line: keep it, read more.
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                    match read_nb(self.fd, &mut scratch) {
                        Ok(Some(0)) | Err(_) => return Drain::Failed,
                        Ok(Some(n)) => self.buf.extend_from_slice(&scratch[..n]),
                        Ok(None) => return Drain::Pending,
                    }
                }
            }
        }
    }
}

/// Where draining a body stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// The whole body was consumed: the connection can carry the next request.
    Complete,
    /// The client has sent nothing more yet.
    Pending,
    /// The budget ran out first.
    OverBudget,
    /// The connection ended or the body broke its framing.
    Failed,
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "client closed the connection before sending the whole body",
    )
}

/// Reads into `buf`, waiting (GIL released) when nothing is there yet.
fn read_into(
    fd: RawFd,
    buf: &mut Vec<u8>,
    max: usize,
    timeout: Duration,
    py: Python<'_>,
) -> io::Result<usize> {
    if fd < 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "wsgi.input used after its request ended",
        ));
    }
    loop {
        if let Some(n) = read_append(fd, buf, max)? {
            return Ok(n);
        }
        py.detach(|| wait_fd(fd, false, timeout))?;
    }
}

/// `wsgi.input`.
#[pyclass(module = "rwsgi", name = "Input")]
pub struct Input {
    body: Mutex<Body>,
}

impl Input {
    /// Wraps a body.
    pub fn new(body: Body) -> Input {
        Input {
            body: Mutex::new(body),
        }
    }

    /// Takes the body back out (the object stays valid for Python but reads nothing more).
    pub fn take_body(&self) -> Body {
        match self.body.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Body>> {
        // try_lock: a body shared between threads of the app is a bug of the app; refusing is
        // better than deadlocking on the GIL while another thread waits for the socket.
        self.body
            .try_lock()
            .map_err(|_| PyRuntimeError::new_err("wsgi.input is being read by another thread"))
    }

    fn with_body<T>(&self, f: impl FnOnce(&mut Body) -> io::Result<T>) -> PyResult<T> {
        f(&mut *self.lock()?).map_err(os_error)
    }
}

fn os_error(e: io::Error) -> PyErr {
    PyOSError::new_err(e.to_string())
}

fn size_arg(size: Option<isize>) -> Option<usize> {
    match size {
        Some(n) if n >= 0 => Some(n as usize),
        _ => None,
    }
}

#[pymethods]
impl Input {
    /// `read(size=-1)`.
    #[pyo3(signature = (size=None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let mut body = self.lock()?;
        if let Some(n) = body.exact_len(size_arg(size)) {
            if n <= PREALLOC_MAX {
                // Known length: read straight into the bytes object handed to the app.
                return PyBytes::new_with(py, n, |dst| {
                    body.read_exact_into(py, dst).map_err(os_error)
                });
            }
            // A length the client claims is not allocated before its bytes arrive.
            let data = body.read_growing(py, n).map_err(os_error)?;
            return Ok(PyBytes::new(py, &data));
        }
        let data = body.read(py, size_arg(size)).map_err(os_error)?;
        Ok(PyBytes::new(py, &data))
    }

    /// `readline(size=-1)`.
    #[pyo3(signature = (size=None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.with_body(|b| b.readline(py, size_arg(size)))?;
        Ok(PyBytes::new(py, &data))
    }

    /// `readlines(hint=-1)`.
    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = size_arg(hint).filter(|&h| h > 0);
        let list = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.with_body(|b| b.readline(py, None))?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            list.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(list)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.with_body(|b| b.readline(py, None))?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    /// A body over one end of a socket pair (non-blocking, as the worker's sockets are).
    fn body_over(buf: &[u8], pos: usize, framing: BodyFraming) -> (Body, UnixStream, UnixStream) {
        let (ours, client) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let body = Body::new(ours.as_raw_fd(), buf.to_vec(), pos, framing);
        (body, ours, client)
    }

    #[test]
    fn a_length_body_drains_as_it_arrives_and_leaves_the_next_request_alone() {
        let head = b"HEAD-";
        let mut buf = head.to_vec();
        buf.extend_from_slice(b"0123456789");
        let (mut body, ours, mut client) = body_over(&buf, head.len(), BodyFraming::Length(30));
        let on_wire = BodyOnWire::default();
        body.publish_on_wire(on_wire.clone());
        assert_eq!((body.left_on_wire(), on_wire.get()), (20, 20));
        let mut budget = 1 << 20;
        assert_eq!(body.drain(&mut budget), Drain::Pending);
        client.write_all(b"abcdefghij").unwrap();
        assert_eq!(body.drain(&mut budget), Drain::Pending);
        assert_eq!(on_wire.get(), 10);
        client.write_all(b"ABCDEFGHIJGET / HTTP/1.1\r\n").unwrap();
        assert_eq!(body.drain(&mut budget), Drain::Complete);
        assert_eq!((body.left_on_wire(), on_wire.get()), (0, 0));
        assert_eq!(budget, (1 << 20) - 20, "buffered bytes cost no budget");
        // The next request's bytes were not read off the socket.
        let mut next = [0u8; 64];
        let n = read_nb(ours.as_raw_fd(), &mut next).unwrap().unwrap();
        assert_eq!(&next[..n], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn draining_stops_at_the_budget_and_at_the_end_of_the_stream() {
        let (mut body, _ours, mut client) = body_over(b"", 0, BodyFraming::Length(100_000));
        client.write_all(&[b'x'; 20_000]).unwrap();
        let mut budget = 10_000;
        assert_eq!(body.drain(&mut budget), Drain::OverBudget);
        assert_eq!(budget, 0);
        let mut budget = 1 << 20;
        drop(client);
        assert_eq!(body.drain(&mut budget), Drain::Failed);
    }

    #[test]
    fn a_chunked_body_drains_across_reads_and_keeps_what_follows_it() {
        let (mut body, _ours, mut client) = body_over(b"5\r\nhel", 0, BodyFraming::Chunked);
        assert_eq!(
            body.left_on_wire(),
            u64::MAX,
            "a chunked body's rest is unknown"
        );
        let mut budget = 1 << 20;
        assert_eq!(body.drain(&mut budget), Drain::Pending);
        client.write_all(b"lo\r\n3").unwrap();
        assert_eq!(body.drain(&mut budget), Drain::Pending);
        client.write_all(b"\r\nabc\r\n0\r\n\r\nNEXT").unwrap();
        assert_eq!(body.drain(&mut budget), Drain::Complete);
        assert_eq!(body.left_on_wire(), 0);
        let (buf, pos) = body.into_buffer();
        assert_eq!(&buf[pos..], b"NEXT");

        let (mut body, _ours, _client) = body_over(b"zz\r\n", 0, BodyFraming::Chunked);
        assert_eq!(body.drain(&mut budget), Drain::Failed);
    }

    #[test]
    fn failures_say_what_the_client_gets() {
        let kinds = [
            (
                io::ErrorKind::InvalidData,
                BodyFailure::Malformed,
                Some(&b"400 Bad Request"[..]),
            ),
            (
                io::ErrorKind::TimedOut,
                BodyFailure::TimedOut,
                Some(&b"408 Request Timeout"[..]),
            ),
            (
                io::ErrorKind::FileTooLarge,
                BodyFailure::TooLarge,
                Some(&b"413 Request Entity Too Large"[..]),
            ),
            (
                io::ErrorKind::UnexpectedEof,
                BodyFailure::Disconnected,
                None,
            ),
            (
                io::ErrorKind::ConnectionReset,
                BodyFailure::Disconnected,
                None,
            ),
        ];
        for (kind, failure, status) in kinds {
            let f = BodyFailure::of(&io::Error::new(kind, "x"));
            assert_eq!((f, f.status()), (failure, status), "{kind:?}");
        }
    }
}
