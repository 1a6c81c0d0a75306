//! Blocking-with-deadline reads and writes on a non-blocking socket.
//!
//! Sockets stay non-blocking for the worker's event loop; while a request runs, the bridge reads
//! the body and writes the response through these helpers: try the syscall first (it usually
//! succeeds at once, with the GIL held, costing nothing extra), and only on `EAGAIN` wait in
//! `poll(2)` with the GIL released so other cores of the worker run.
//!
//! They take a [`RawFd`] because the bridge's Python objects (`wsgi.input`, the response
//! writer) cannot hold a borrow: the caller passes a descriptor it keeps open for the call.

use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::net::{SendAncillaryBuffer, SendFlags};
use rustix::time::Timespec;

/// How long one wait for a socket may take before the peer is considered gone.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `call` with `fd` borrowed for its duration; `EBADF` for a negative number (a body or
/// writer already detached from its socket), as the kernel would answer.
#[inline]
fn with_fd<R>(fd: RawFd, call: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: every function of this module documents that `fd` is a descriptor the caller
    // keeps open while the call runs, and the borrow ends with `call`. (Even a closed number
    // is only an EBADF from the kernel: no memory is at stake.)
    call(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Waits until `fd` (open for the call) is readable (`write == false`) or writable, or
/// `timeout` passes.
pub fn wait_fd(fd: RawFd, write: bool, timeout: Duration) -> io::Result<()> {
    let events = if write { PollFlags::OUT } else { PollFlags::IN };
    // Whole milliseconds, as poll(2) has them.
    let timeout = Duration::from_millis(timeout.as_millis().min(i32::MAX as u128) as u64);
    let timeout = Timespec::try_from(timeout).map_err(|_| io::ErrorKind::InvalidInput)?;
    with_fd(fd, |fd| {
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        loop {
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::TimedOut, "socket timeout")),
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    })
}

/// Runs a non-blocking syscall returning a byte count: retried on `EINTR`, `Ok(None)` on
/// `EAGAIN`.
#[inline]
fn nonblocking(mut call: impl FnMut() -> rustix::io::Result<usize>) -> io::Result<Option<usize>> {
    loop {
        match call() {
            Ok(n) => return Ok(Some(n)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// One `sendfile(2)` of up to `count` bytes of `file` (open for the call) from `*offset` to
/// the socket `fd` (open for the call), advancing `*offset` by what was sent; `Ok(None)` on
/// `EAGAIN`. The file's own position is left alone, so one open file can serve several
/// transfers.
pub fn sendfile_nb(
    fd: RawFd,
    file: RawFd,
    offset: &mut u64,
    count: usize,
) -> io::Result<Option<usize>> {
    with_fd(file, |file| {
        with_fd(fd, |fd| {
            nonblocking(|| rustix::fs::sendfile(fd, file, Some(&mut *offset), count))
        })
    })
}

/// The size of `fd` (open for the call) if it is a regular file, `None` for anything else
/// (a pipe, a socket): what `sendfile(2)` can send from.
pub fn regular_file_size(fd: RawFd) -> io::Result<Option<u64>> {
    with_fd(fd, |fd| {
        let st = rustix::fs::fstat(fd)?;
        let regular =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
        Ok(regular.then_some(st.st_size as u64))
    })
}

/// One `read(2)` from `fd` (open for the call); `Ok(None)` on `EAGAIN`.
pub fn read_nb(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    with_fd(fd, |fd| nonblocking(|| rustix::io::read(fd, &mut *buf)))
}

/// One `read(2)` from `fd` (open for the call) of up to `max` bytes appended to `buf` (no
/// zero-filling of the spare room); `Ok(None)` on `EAGAIN`.
pub fn read_append(fd: RawFd, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<usize>> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    let n = with_fd(fd, |fd| {
        nonblocking(|| rustix::io::read(fd, &mut spare[..want]).map(|(init, _)| init.len()))
    })?;
    if let Some(n) = n {
        // SAFETY: read(2) just initialised the first n bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
    }
    Ok(n)
}

/// The one or two slices of a write, as an iovec array and its used length.
#[inline]
fn slices<'a>(a: &'a [u8], b: &'a [u8]) -> ([IoSlice<'a>; 2], usize) {
    let n = if b.is_empty() { 1 } else { 2 };
    ([IoSlice::new(a), IoSlice::new(b)], n)
}

/// One `writev(2)` of up to two slices to `fd` (open for the call); `Ok(None)` on `EAGAIN`.
/// (MSG_NOSIGNAL is not available to writev, so processes that write to clients ignore
/// SIGPIPE instead.)
pub fn writev_nb(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<Option<usize>> {
    let (iov, n) = slices(a, b);
    with_fd(fd, |fd| nonblocking(|| rustix::io::writev(fd, &iov[..n])))
}

/// Like [`writev_nb`], but on a socket with `MSG_MORE`: the kernel holds a last partial
/// segment back until the next send or `close(2)`, which then carries it together with the FIN.
pub fn send_more_nb(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<Option<usize>> {
    let (iov, n) = slices(a, b);
    with_fd(fd, |fd| {
        nonblocking(|| {
            rustix::net::sendmsg(
                fd,
                &iov[..n],
                &mut SendAncillaryBuffer::default(),
                SendFlags::MORE | SendFlags::NOSIGNAL,
            )
        })
    })
}

/// One `write(2)` of `buf` to stderr (a log line: a short or failed write is not retried).
pub fn write_stderr(buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::io::write(rustix::stdio::stderr(), buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn a_read_on_an_empty_socket_is_none_and_data_written_arrives() {
        let (a, b) = pair();
        let mut buf = [0u8; 16];
        assert_eq!(read_nb(a.as_raw_fd(), &mut buf).unwrap(), None);
        assert_eq!(writev_nb(b.as_raw_fd(), b"hel", b"lo").unwrap(), Some(5));
        assert_eq!(read_nb(a.as_raw_fd(), &mut buf).unwrap(), Some(5));
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn read_append_reads_at_most_max_bytes_after_what_the_buffer_holds() {
        let (a, b) = pair();
        send_more_nb(b.as_raw_fd(), b"0123456789", b"").unwrap();
        let mut buf = b"ab".to_vec();
        assert_eq!(read_append(a.as_raw_fd(), &mut buf, 4).unwrap(), Some(4));
        assert_eq!(buf, b"ab0123");
        drop(b);
        assert_eq!(read_append(a.as_raw_fd(), &mut buf, 64).unwrap(), Some(6));
        assert_eq!(read_append(a.as_raw_fd(), &mut buf, 64).unwrap(), Some(0));
        assert_eq!(buf, b"ab0123456789");
    }

    #[test]
    fn wait_fd_times_out_on_silence_and_returns_once_readable() {
        let (a, b) = pair();
        let err = wait_fd(a.as_raw_fd(), false, Duration::from_millis(10)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        wait_fd(b.as_raw_fd(), true, Duration::from_millis(10)).unwrap();
        writev_nb(b.as_raw_fd(), b"x", b"").unwrap();
        wait_fd(a.as_raw_fd(), false, Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn errors_other_than_eagain_are_errors() {
        let (a, _b) = pair();
        let fd = a.as_raw_fd();
        rustix::net::shutdown(&a, rustix::net::Shutdown::Write).unwrap();
        // sendmsg with MSG_NOSIGNAL: EPIPE instead of the signal.
        let err = send_more_nb(fd, b"x", b"").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn a_detached_descriptor_is_ebadf_not_a_panic() {
        let mut buf = [0u8; 4];
        let ebadf = Some(libc::EBADF);
        assert_eq!(read_nb(-1, &mut buf).unwrap_err().raw_os_error(), ebadf);
        assert_eq!(writev_nb(-1, b"x", b"").unwrap_err().raw_os_error(), ebadf);
        assert_eq!(
            send_more_nb(-1, b"x", b"").unwrap_err().raw_os_error(),
            ebadf
        );
        let mut v = Vec::new();
        assert_eq!(
            read_append(-1, &mut v, 4).unwrap_err().raw_os_error(),
            ebadf
        );
        let wait = wait_fd(-1, false, Duration::from_millis(1)).unwrap_err();
        assert_eq!(wait.raw_os_error(), ebadf);
    }

    #[test]
    fn sendfile_sends_from_the_offset_and_advances_it() {
        use std::io::{Read, Write};
        let (a, mut b) = pair();
        let mut file = tempfile_with(b"0123456789");
        file.flush().unwrap();
        let mut offset = 3;
        let n = sendfile_nb(a.as_raw_fd(), file.as_raw_fd(), &mut offset, 4).unwrap();
        assert_eq!((n, offset), (Some(4), 7));
        assert_eq!(regular_file_size(file.as_raw_fd()).unwrap(), Some(10));
        assert_eq!(regular_file_size(a.as_raw_fd()).unwrap(), None, "a socket");
        let mut got = [0u8; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"3456");
    }

    fn tempfile_with(bytes: &[u8]) -> std::fs::File {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("rwsgi-os-sendfile-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }
}
