//! The request body and `wsgi.input`, a file-like object over it.
//!
//! The body is read lazily, straight from the client socket, only when the app asks for it:
//! `read`, `readline`, `readlines` and iteration, as PEP 3333 requires. A client that
//! disconnects mid-body makes these raise `OSError` (uWSGI raises `IOError`) and is counted as a
//! read error of the core.

use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use rwsgi_proto::http::ChunkedDecoder;

use rwsgi_os::fdio::{read_append, read_nb, wait_fd, DEFAULT_SOCKET_TIMEOUT};

/// How a request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFraming {
    /// No body.
    #[default]
    None,
    /// Exactly this many bytes (`Content-Length`, or `CONTENT_LENGTH` of a uwsgi packet).
    Length(u64),
    /// HTTP/1.1 chunked transfer coding.
    Chunked,
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
    pub read_error: bool,
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
            read_error: false,
        }
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
                        let (used, done) = self
                            .decoder
                            .decode(&self.buf[self.pos..], &mut self.pending)
                            .map_err(|e| {
                                self.read_error = true;
                                io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                            })?;
                        self.pos += used;
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
            Ok(0) => {
                self.read_error = true;
                Err(eof())
            }
            Ok(n) => Ok(n),
            Err(e) => {
                self.read_error = true;
                Err(e)
            }
        }
    }

    /// Reads up to `size` bytes (all that is left when `size` is `None`).
    pub fn read(&mut self, py: Python<'_>, size: Option<usize>) -> io::Result<Vec<u8>> {
        let want = size.unwrap_or(usize::MAX);
        while self.available() < want && self.fill(py)? {}
        Ok(self.take(want))
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

    /// Fills `dst` with the next `dst.len()` body bytes (at most [`Body::exact_len`]): from what
    /// was already read, then straight from the socket, without intermediate copies.
    pub fn read_exact_into(&mut self, py: Python<'_>, dst: &mut [u8]) -> io::Result<()> {
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
                Ok(Some(0)) => {
                    self.read_error = true;
                    return Err(eof());
                }
                Ok(Some(n)) => {
                    off += n;
                    self.remaining -= n as u64;
                }
                Ok(None) => {
                    let (fd, timeout) = (self.fd, self.timeout);
                    if let Err(e) = py.detach(|| wait_fd(fd, false, timeout)) {
                        self.read_error = true;
                        return Err(e);
                    }
                }
                Err(e) => {
                    self.read_error = true;
                    return Err(e);
                }
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
            if scanned >= limit || !self.fill(py)? {
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
        let mut budget = limit;
        match self.framing {
            BodyFraming::None => true,
            BodyFraming::Length(_) => {
                let n = (self.buf.len() - self.pos).min(self.remaining as usize);
                self.pos += n;
                self.remaining -= n as u64;
                let mut scratch = [0u8; 8192];
                while self.remaining > 0 && budget > 0 {
                    let want = (self.remaining as usize).min(scratch.len());
                    match read_nb(self.fd, &mut scratch[..want]) {
                        Ok(Some(n)) if n > 0 => {
                            self.remaining -= n as u64;
                            budget = budget.saturating_sub(n);
                        }
                        _ => break,
                    }
                }
                self.finished = self.remaining == 0;
                self.finished
            }
            BodyFraming::Chunked => {
                let mut sink = Vec::new();
                while !self.finished && budget > 0 {
                    if self.pos < self.buf.len() {
                        match self.decoder.decode(&self.buf[self.pos..], &mut sink) {
                            Ok((used, done)) => {
                                self.pos += used;
                                budget = budget.saturating_sub(used);
                                self.finished = done;
                                sink.clear();
                                if done || used == 0 {
                                    continue;
                                }
                            }
                            Err(_) => return false,
                        }
                    }
                    if self.finished {
                        break;
                    }
                    if self.pos < self.buf.len() {
                        continue;
                    }
                    self.buf.clear();
                    self.pos = 0;
                    self.buf.resize(8192, 0);
                    match read_nb(self.fd, &mut self.buf) {
                        Ok(Some(n)) if n > 0 => self.buf.truncate(n),
                        _ => {
                            self.buf.clear();
                            return false;
                        }
                    }
                }
                self.finished
            }
        }
    }
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
            // Known length: read straight into the bytes object handed to the app.
            return PyBytes::new_with(py, n, |dst| body.read_exact_into(py, dst).map_err(os_error));
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
