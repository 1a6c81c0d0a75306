//! Descriptors: the wake-up eventfd, sockets inherited across `exec`, close-on-exec.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;

use rustix::event::{eventfd, EventfdFlags};
use rustix::io::FdFlags;

/// An eventfd that becomes readable once [`WakeFd::wake`] is called: wakes an event loop from
/// another thread or from a signal handler.
#[derive(Debug)]
pub struct WakeFd(OwnedFd);

impl WakeFd {
    /// A new non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<WakeFd> {
        Ok(WakeFd(eventfd(
            0,
            EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
        )?))
    }

    /// Makes the eventfd readable. One `write(2)` and nothing else, so it is async-signal-safe
    /// (and rustix's raw syscall leaves `errno` alone). A full counter is still readable, so
    /// a failed write loses nothing.
    pub fn wake(&self) {
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }
}

impl AsFd for WakeFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Takes ownership of descriptor number `fd` if it is an open socket (a listening socket a
/// reloading master handed over by number). The caller must be its only owner: nothing else
/// in this process may use or close that number.
pub fn adopt_socket(fd: RawFd) -> Option<OwnedFd> {
    // The descriptor's own stat, through /proc (as the reload's exec of /proc/self/exe already
    // needs it): a number not known to be open cannot be borrowed for rustix's fstat.
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
    if !meta.file_type().is_socket() {
        return None;
    }
    // SAFETY: the number is open (its stat was read), and the caller says nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets or clears close-on-exec on `fd` (cleared: the descriptor survives `exec`).
pub fn set_cloexec(fd: impl AsFd, on: bool) -> io::Result<()> {
    let flags = if on {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
}

/// Creates a FIFO (named pipe) at `path`, mode 0600, replacing whatever file was there (as
/// uWSGI's `--master-fifo` does, so a stale FIFO or file from an earlier run does not stay).
pub fn make_fifo(path: &std::path::Path) -> io::Result<()> {
    match rustix::fs::unlink(path) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let mode = rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR;
    Ok(rustix::fs::mkfifoat(rustix::fs::CWD, path, mode)?)
}

/// Opens the FIFO at `path` for reading, non-blocking and close-on-exec: the open does not
/// wait for a writer, and reads return `EAGAIN` while the FIFO is empty.
pub fn open_fifo_reader(path: &std::path::Path) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn a_woken_eventfd_is_readable() {
        let w = WakeFd::new().unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            rustix::io::read(&w, &mut buf).unwrap_err(),
            rustix::io::Errno::AGAIN
        );
        w.wake();
        w.wake();
        assert_eq!(rustix::io::read(&w, &mut buf).unwrap(), 8);
        assert_eq!(u64::from_ne_bytes(buf), 2);
    }

    #[test]
    fn only_open_sockets_are_adopted() {
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(adopt_socket(file.as_raw_fd()).is_none());
        let (r, _w) = rustix::pipe::pipe().unwrap();
        assert!(adopt_socket(r.as_raw_fd()).is_none());
        assert!(adopt_socket(-1).is_none());
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let raw = a.into_raw_fd();
        let owned = adopt_socket(raw).expect("a socket");
        assert_eq!(owned.as_raw_fd(), raw);
    }

    #[test]
    fn cloexec_is_set_and_cleared() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        set_cloexec(&a, false).unwrap();
        assert!(!rustix::io::fcntl_getfd(&a)
            .unwrap()
            .contains(FdFlags::CLOEXEC));
        set_cloexec(&a, true).unwrap();
        assert!(rustix::io::fcntl_getfd(&a)
            .unwrap()
            .contains(FdFlags::CLOEXEC));
    }
}
