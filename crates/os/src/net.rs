//! Sockets: accepting, shutting down, TCP options, accept-queue depths (TCP_INFO for TCP,
//! sock_diag netlink for UNIX).

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

/// Reads the accept-queue depth of listening UNIX sockets from the kernel through a
/// `NETLINK_SOCK_DIAG` socket (`UNIX_DIAG_RQLEN`: for a listener, the connections waiting to
/// be accepted), as `ss -xl` shows it. TCP_INFO has no UNIX equivalent, which is why uWSGI
/// reports 0 there. One netlink socket, reused; each query is one send and one receive, and
/// never waits (the kernel answers during the send).
#[derive(Debug)]
pub struct UnixQueueProbe {
    netlink: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR` (linux/netlink.h).
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// `UDIAG_SHOW_RQLEN` (linux/unix_diag.h).
const UDIAG_SHOW_RQLEN: u32 = 0x10;
/// `UNIX_DIAG_RQLEN`, the attribute it adds.
const UNIX_DIAG_RQLEN: u16 = 4;
/// `TCP_LISTEN`: the state bit asked for (UNIX sockets use the TCP state numbers).
const TCP_LISTEN: u32 = 10;
/// `struct nlmsghdr`.
const NLMSG_HDR_LEN: usize = 16;
/// `struct unix_diag_req`.
const UNIX_DIAG_REQ_LEN: usize = 24;
/// `struct unix_diag_msg`.
const UNIX_DIAG_MSG_LEN: usize = 16;
/// Length of one query: a netlink header and a `unix_diag_req`.
const UNIX_DIAG_QUERY_LEN: usize = NLMSG_HDR_LEN + UNIX_DIAG_REQ_LEN;

impl UnixQueueProbe {
    /// Opens the netlink socket.
    pub fn new() -> io::Result<UnixQueueProbe> {
        let netlink = rustix::net::socket_with(
            rustix::net::AddressFamily::NETLINK,
            rustix::net::SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(rustix::net::netlink::SOCK_DIAG),
        )?;
        Ok(UnixQueueProbe {
            netlink,
            seq: 0,
            buf: vec![0; 8192],
        })
    }

    /// The accept-queue depth of the listening UNIX socket `listener`.
    pub fn queue_depth(&mut self, listener: impl AsFd) -> io::Result<u64> {
        let inode = rustix::fs::fstat(listener)?.st_ino;
        let inode = u32::try_from(inode).map_err(|_| invalid("socket inode above 32 bits"))?;
        self.seq = self.seq.wrapping_add(1);
        let query = unix_diag_query(inode, self.seq);
        rustix::net::send(&self.netlink, &query, rustix::net::SendFlags::empty())?;
        loop {
            let (n, _) = rustix::net::recv(
                &self.netlink,
                &mut self.buf[..],
                rustix::net::RecvFlags::DONTWAIT,
            )?;
            // A reply to an earlier query that timed out is skipped by its sequence number.
            if let Some(depth) = parse_unix_diag_reply(&self.buf[..n], inode, self.seq)? {
                return Ok(depth);
            }
        }
    }
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// The netlink message asking for the listening UNIX socket `inode`'s queue lengths.
fn unix_diag_query(inode: u32, seq: u32) -> [u8; UNIX_DIAG_QUERY_LEN] {
    let mut q = [0u8; UNIX_DIAG_QUERY_LEN];
    // struct nlmsghdr: len, type, flags, seq, pid (0: the kernel fills in ours).
    q[0..4].copy_from_slice(&(UNIX_DIAG_QUERY_LEN as u32).to_ne_bytes());
    q[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    q[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    q[8..12].copy_from_slice(&seq.to_ne_bytes());
    // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
    let r = &mut q[NLMSG_HDR_LEN..];
    r[0] = libc::AF_UNIX as u8;
    r[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    r[8..12].copy_from_slice(&inode.to_ne_bytes());
    r[12..16].copy_from_slice(&UDIAG_SHOW_RQLEN.to_ne_bytes());
    // INET_DIAG_NOCOOKIE: look the socket up by inode alone.
    r[16..24].copy_from_slice(&[0xff; 8]);
    q
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The receive-queue length in the kernel's answer to query `seq` about `inode`; `None` for a
/// message that answers another query.
fn parse_unix_diag_reply(reply: &[u8], inode: u32, seq: u32) -> io::Result<Option<u64>> {
    let short = || invalid("short sock_diag reply");
    let len = u32_at(reply, 0).ok_or_else(short)? as usize;
    let kind = u16_at(reply, 4).ok_or_else(short)?;
    if len < NLMSG_HDR_LEN || len > reply.len() {
        return Err(short());
    }
    if u32_at(reply, 8) != Some(seq) {
        return Ok(None);
    }
    let msg = &reply[NLMSG_HDR_LEN..len];
    if kind == NLMSG_ERROR {
        // struct nlmsgerr: a negative errno, then the query.
        let errno = u32_at(msg, 0).ok_or_else(short)? as i32;
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != SOCK_DIAG_BY_FAMILY || msg.len() < UNIX_DIAG_MSG_LEN {
        return Err(invalid("unexpected sock_diag message"));
    }
    if u32_at(msg, 4) != Some(inode) {
        return Err(invalid("sock_diag answered for another socket"));
    }
    // A lookup by inode ignores the state filter: a connected socket's receive queue is data.
    if u32::from(msg[2]) != TCP_LISTEN {
        return Err(invalid("not a listening socket"));
    }
    // The attributes (struct rtattr: len, type, payload; 4-byte aligned).
    let mut at = UNIX_DIAG_MSG_LEN;
    while let (Some(alen), Some(atype)) = (u16_at(msg, at), u16_at(msg, at + 2)) {
        let alen = alen as usize;
        if alen < 4 {
            break;
        }
        if atype == UNIX_DIAG_RQLEN {
            // struct unix_diag_rqlen: rqueue, wqueue.
            return u32_at(msg, at + 4)
                .map(|q| Some(u64::from(q)))
                .ok_or_else(short);
        }
        at += alen.div_ceil(4) * 4;
    }
    Err(invalid("sock_diag reply without UNIX_DIAG_RQLEN"))
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
    fn the_unix_queue_depth_counts_connections_not_yet_accepted() {
        let path = std::env::temp_dir().join(format!("rwsgi-os-diag-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut probe = UnixQueueProbe::new().unwrap();
        assert_eq!(probe.queue_depth(&l).unwrap(), 0);
        let clients: Vec<_> = (0..3)
            .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
            .collect();
        assert_eq!(probe.queue_depth(&l).unwrap(), 3);
        let _first = l.accept().unwrap();
        assert_eq!(probe.queue_depth(&l).unwrap(), 2);
        drop(clients);
        // A connected (not listening) socket has no accept queue.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(probe.queue_depth(&a).is_err());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn unix_diag_replies_are_checked() {
        let query = unix_diag_query(77, 5);
        assert_eq!(u32_at(&query, 0), Some(40));
        assert_eq!(u32_at(&query, NLMSG_HDR_LEN + 8), Some(77));
        // A reply: header, unix_diag_msg for inode 77, an unrelated attribute, then RQLEN.
        let mut reply = Vec::new();
        let total = NLMSG_HDR_LEN + UNIX_DIAG_MSG_LEN + 8 + 12;
        reply.extend_from_slice(&(total as u32).to_ne_bytes());
        reply.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        reply.extend_from_slice(&0u16.to_ne_bytes());
        reply.extend_from_slice(&5u32.to_ne_bytes());
        reply.extend_from_slice(&0u32.to_ne_bytes());
        reply.extend_from_slice(&[1, 1, 10, 0]);
        reply.extend_from_slice(&77u32.to_ne_bytes());
        reply.extend_from_slice(&[0xff; 8]);
        reply.extend_from_slice(&8u16.to_ne_bytes());
        reply.extend_from_slice(&2u16.to_ne_bytes());
        reply.extend_from_slice(&[0; 4]);
        reply.extend_from_slice(&12u16.to_ne_bytes());
        reply.extend_from_slice(&UNIX_DIAG_RQLEN.to_ne_bytes());
        reply.extend_from_slice(&9u32.to_ne_bytes());
        reply.extend_from_slice(&128u32.to_ne_bytes());
        assert_eq!(parse_unix_diag_reply(&reply, 77, 5).unwrap(), Some(9));
        assert_eq!(
            parse_unix_diag_reply(&reply, 77, 6).unwrap(),
            None,
            "another query's"
        );
        assert!(
            parse_unix_diag_reply(&reply, 78, 5).is_err(),
            "another socket's"
        );
        let mut connected = reply.clone();
        connected[NLMSG_HDR_LEN + 2] = 1; // TCP_ESTABLISHED
        assert!(
            parse_unix_diag_reply(&connected, 77, 5).is_err(),
            "not listening"
        );
        assert!(
            parse_unix_diag_reply(&reply[..20], 77, 5).is_err(),
            "cut short"
        );
        let mut error = reply[..NLMSG_HDR_LEN + 4].to_vec();
        error[0..4].copy_from_slice(&((NLMSG_HDR_LEN + 4) as u32).to_ne_bytes());
        error[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        error[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        let e = parse_unix_diag_reply(&error, 77, 5).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
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
