//! Sockets: accepting, shutting down, TCP options.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::net::{sockopt, Shutdown, SocketFlags};

/// Accepts one connection from `listener` as a non-blocking, close-on-exec socket, with the
/// peer's address (`None` for a UNIX-domain peer). `EAGAIN` when none is pending.
pub fn accept_from(listener: impl AsFd) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
    let (fd, peer) =
        rustix::net::acceptfrom_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)?;
    Ok((fd, peer.and_then(|a| SocketAddr::try_from(a).ok())))
}

/// Accepts one connection from `listener` as a non-blocking, close-on-exec socket.
pub fn accept(listener: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::net::accept_with(
        listener,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
    )?)
}

/// Shuts the write side of `socket` down (sends the FIN).
pub fn shutdown_write(socket: impl AsFd) -> io::Result<()> {
    Ok(rustix::net::shutdown(socket, Shutdown::Write)?)
}

/// Disables Nagle's algorithm on a TCP socket.
pub fn set_nodelay(socket: impl AsFd) -> io::Result<()> {
    Ok(sockopt::set_tcp_nodelay(socket, true)?)
}

/// `TCP_DEFER_ACCEPT`: a connection to this listening socket becomes acceptable only once
/// its first bytes arrived (or after `secs`). libc's: rustix has no such option.
pub fn set_defer_accept(listener: impl AsFd, secs: i32) -> io::Result<()> {
    let fd = listener.as_fd().as_raw_fd();
    // SAFETY: an int option read from a live stack value of the size passed; `fd` is
    // borrowed for the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The depth of a listening TCP socket's accept queue, from the kernel (`tcpi_unacked` of a
/// listener is its current backlog, as uWSGI reads it). `None` for non-TCP sockets. libc's
/// `TCP_INFO`: rustix has no such option.
pub fn tcp_queue_depth(listener: impl AsFd) -> Option<u64> {
    let fd = listener.as_fd().as_raw_fd();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: all-zero is a valid tcp_info (plain integers); getsockopt writes at most `len`
    // bytes into it; `fd` is borrowed for the call.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let r = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (r == 0).then_some(u64::from(info.tcpi_unacked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn listener() -> TcpListener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        l
    }

    #[test]
    fn accept_from_reports_the_peer_address_and_eagain_when_nothing_is_pending() {
        let l = listener();
        let err = accept_from(&l).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (fd, peer) = accept_from(&l).unwrap();
        assert_eq!(peer, Some(client.local_addr().unwrap()));
        let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
        assert!(flags.contains(rustix::fs::OFlags::NONBLOCK));
        set_nodelay(&fd).unwrap();
        assert!(sockopt::tcp_nodelay(&fd).unwrap());
    }

    #[test]
    fn a_unix_peer_has_no_address_and_shutdown_sends_eof() {
        let dir = std::env::temp_dir().join(format!("rwsgi-os-net-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let l = std::os::unix::net::UnixListener::bind(&dir).unwrap();
        let mut client = std::os::unix::net::UnixStream::connect(&dir).unwrap();
        let (fd, peer) = accept_from(&l).unwrap();
        assert_eq!(peer, None);
        shutdown_write(&fd).unwrap();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut buf).unwrap();
        assert!(buf.is_empty());
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn the_queue_depth_counts_connections_not_yet_accepted() {
        let l = listener();
        assert_eq!(tcp_queue_depth(&l), Some(0));
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        // The handshake completes in the kernel; wait (bounded) for it to reach the queue.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while tcp_queue_depth(&l) != Some(1) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(tcp_queue_depth(&l), Some(1));
        set_defer_accept(listener(), 4).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(set_defer_accept(&a, 4).is_err());
        assert_eq!(tcp_queue_depth(&a), None);
    }
}
