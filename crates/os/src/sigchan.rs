//! uWSGI signals' plumbing: the bounded master ↔ worker channels (`SOCK_SEQPACKET` socket
//! pairs, one message per signal or request), `FIONREAD` for the stats' `signal_queue`,
//! waiting on several channels (`uwsgi.signal_wait`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
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
}
