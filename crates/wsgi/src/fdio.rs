//! Blocking-with-deadline reads and writes on a non-blocking socket.
//!
//! Sockets stay non-blocking for the worker's event loop; while a request runs, the bridge reads
//! the body and writes the response through these helpers: try the syscall first (it usually
//! succeeds at once, with the GIL held, costing nothing extra), and only on `EAGAIN` wait in
//! `poll(2)` with the GIL released so other cores of the worker run.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// How long one wait for a socket may take before the peer is considered gone.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `fd` is readable (`write == false`) or writable, or `timeout` passes.
pub fn wait_fd(fd: RawFd, write: bool, timeout: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd on the stack.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "socket timeout"));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Runs a non-blocking syscall returning a byte count: retried on `EINTR`, `Ok(None)` on
/// `EAGAIN`.
fn nonblocking(mut call: impl FnMut() -> isize) -> io::Result<Option<usize>> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// One `read(2)`; `Ok(None)` on `EAGAIN`.
pub fn read_nb(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: buf is a valid writable slice of buf.len() bytes.
    nonblocking(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// One `read(2)` of up to `max` bytes appended to `buf` (no zero-filling of the spare room);
/// `Ok(None)` on `EAGAIN`.
pub fn read_append(fd: RawFd, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<usize>> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    // SAFETY: the kernel writes at most `want` bytes into the vector's spare capacity.
    let n = nonblocking(|| unsafe { libc::read(fd, spare.as_mut_ptr().cast(), want) })?;
    if let Some(n) = n {
        // SAFETY: the first n spare bytes were just initialised by read(2).
        unsafe { buf.set_len(buf.len() + n) };
    }
    Ok(n)
}

/// One `writev(2)` of up to two slices; `Ok(None)` on `EAGAIN`.
pub fn writev_nb(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<Option<usize>> {
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut _,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut _,
            iov_len: b.len(),
        },
    ];
    let cnt = if b.is_empty() { 1 } else { 2 };
    // SAFETY: the iovecs point at live slices for the duration of the call. (MSG_NOSIGNAL is
    // not available to writev, so processes that write to clients ignore SIGPIPE instead.)
    nonblocking(|| unsafe { libc::writev(fd, iov.as_ptr(), cnt) })
}

/// Like [`writev_nb`], but on a socket with `MSG_MORE`: the kernel holds a last partial
/// segment back until the next send or `close(2)`, which then carries it together with the FIN.
pub fn send_more_nb(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<Option<usize>> {
    let mut iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut _,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut _,
            iov_len: b.len(),
        },
    ];
    // SAFETY: an all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = if b.is_empty() { 1 } else { 2 };
    // SAFETY: msg points at iovecs over live slices for the duration of the call.
    nonblocking(|| unsafe { libc::sendmsg(fd, &msg, libc::MSG_MORE | libc::MSG_NOSIGNAL) })
}
