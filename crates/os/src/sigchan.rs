//! uWSGI signals' plumbing: the bounded master ↔ worker channels (`SOCK_SEQPACKET` socket
//! pairs, one message per signal or request), `FIONREAD` for the stats' `signal_queue`,
//! waiting on several channels (`uwsgi.signal_wait`), and the file monitors' inotify.

use std::ffi::OsString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::inotify;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// A non-blocking, close-on-exec `SOCK_SEQPACKET` pair: each send is one message, read whole
/// by one reader. `bufsize` (`--signal-bufsize`), when non-zero, sets both ends' send and
/// receive buffers: the queue's bound.
pub fn message_pair(bufsize: usize) -> io::Result<(OwnedFd, OwnedFd)> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    if bufsize > 0 {
        for end in [&a, &b] {
            rustix::net::sockopt::set_socket_send_buffer_size(end, bufsize)?;
            rustix::net::sockopt::set_socket_recv_buffer_size(end, bufsize)?;
        }
    }
    Ok((a, b))
}

/// Sends `msg` as one message without waiting: `Ok(false)` when the queue is full.
pub fn send_message(fd: impl AsFd, msg: &[u8]) -> io::Result<bool> {
    loop {
        match rustix::net::send(&fd, msg, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message into `buf` without waiting: `Ok(None)` when none is queued,
/// `Ok(Some(0))` when the other end is closed (a message is never empty). A longer message is
/// cut to `buf`'s length.
pub fn recv_message(fd: impl AsFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::net::recv(&fd, &mut *buf, RecvFlags::DONTWAIT) {
            Ok((n, _)) => return Ok(Some(n)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Bytes queued for reading on `fd` (`FIONREAD`: on a `SOCK_SEQPACKET` socket, all its
/// messages together).
pub fn queued_bytes(fd: impl AsFd) -> io::Result<u64> {
    Ok(rustix::io::ioctl_fionread(fd)?)
}

/// Waits until one of `fds` is readable, or `timeout` passes (`None`: no limit); returns the
/// index of the first readable one.
pub fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Option<usize>> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    let timeout = timeout
        .map(|t| rustix::time::Timespec::try_from(t).map_err(|_| io::ErrorKind::InvalidInput))
        .transpose()?;
    loop {
        match rustix::event::poll(&mut polled, timeout.as_ref()) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(polled.iter().position(|p| !p.revents().is_empty())),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// An inotify instance (non-blocking, close-on-exec) for `uwsgi.add_file_monitor`.
#[derive(Debug)]
pub struct FileWatcher {
    fd: OwnedFd,
}

impl FileWatcher {
    /// A new, empty watcher.
    pub fn new() -> io::Result<FileWatcher> {
        Ok(FileWatcher {
            fd: inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?,
        })
    }

    /// Watches `path` (a file or a directory) for what uWSGI's file monitors report: a write,
    /// a change of attributes (`touch`), a file created, deleted or moved in it, or itself
    /// deleted or moved. Returns the watch descriptor.
    pub fn watch(&self, path: &std::path::Path) -> io::Result<i32> {
        use inotify::WatchFlags as W;
        let flags = W::ATTRIB
            | W::CREATE
            | W::MODIFY
            | W::DELETE
            | W::DELETE_SELF
            | W::MOVE_SELF
            | W::MOVED_FROM
            | W::MOVED_TO;
        Ok(inotify::add_watch(&self.fd, path, flags)?)
    }

    /// Reads every pending event, calling `f` with each one's watch descriptor (and the name
    /// of the entry, for a watched directory).
    pub fn drain(&self, mut f: impl FnMut(i32, Option<OsString>)) {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        while let Ok(ev) = reader.next() {
            let name = ev
                .file_name()
                .map(|n| OsString::from_vec(n.to_bytes().to_vec()));
            f(ev.wd(), name);
        }
    }
}

impl AsFd for FileWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_whole_and_a_full_queue_refuses() {
        let (a, b) = message_pair(0).unwrap();
        assert!(send_message(&a, &[7]).unwrap());
        assert!(send_message(&a, b"abc").unwrap());
        assert_eq!(queued_bytes(&b).unwrap(), 4);
        let mut buf = [0u8; 16];
        assert_eq!(recv_message(&b, &mut buf).unwrap(), Some(1));
        assert_eq!(buf[0], 7);
        assert_eq!(recv_message(&b, &mut buf).unwrap(), Some(3));
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(recv_message(&b, &mut buf).unwrap(), None);
        // Bounded: sending without reading ends in a refusal, not a block.
        let mut sent = 0;
        while send_message(&a, &[1]).unwrap() {
            sent += 1;
            assert!(sent < 1_000_000);
        }
        assert!(sent > 0);
        drop(a);
        while recv_message(&b, &mut buf).unwrap() == Some(1) {}
        assert_eq!(recv_message(&b, &mut buf).unwrap(), Some(0));
    }

    #[test]
    fn waits_for_the_readable_one() {
        let (a, b) = message_pair(0).unwrap();
        let (c, d) = message_pair(0).unwrap();
        let fds = [b.as_fd(), d.as_fd()];
        assert_eq!(
            wait_readable(&fds, Some(Duration::from_millis(10))).unwrap(),
            None
        );
        send_message(&c, &[1]).unwrap();
        assert_eq!(wait_readable(&fds, None).unwrap(), Some(1));
        drop(a);
    }

    #[test]
    fn a_touched_file_is_reported() {
        let dir = std::env::temp_dir().join(format!("rwsgi-fw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"x").unwrap();
        let w = FileWatcher::new().unwrap();
        let wd = w.watch(&file).unwrap();
        let mut seen = Vec::new();
        w.drain(|wd, _| seen.push(wd));
        assert!(seen.is_empty());
        std::fs::write(&file, b"y").unwrap();
        w.drain(|wd, _| seen.push(wd));
        assert!(seen.contains(&wd));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
