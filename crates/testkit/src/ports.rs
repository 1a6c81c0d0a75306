//! Loopback ports for tests.
//!
//! A server that rwsgi binds itself gets a socket the harness bound first ([`Prebound`], handed
//! over through `RWSGI_INHERITED_SOCKETS`, the variable rwsgi's graceful reload uses), so no
//! other test can take the port in between. Names that only need to be unique (abstract
//! sockets) come from [`unique_name`], which cannot collide.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// A loopback TCP port that was free a moment ago. Racy: another process may bind it before
/// the one it is meant for does, so it is only for what cannot take a pre-bound socket:
/// peers that bind their own port (nginx, carbon-cache, uWSGI, the MongoDB server), rwsgi's
/// `:PORT` all-interfaces form (the stats_addr tests), and a port nobody should be listening
/// on (`--connect-and-read` to a dead address). A server started through
/// [`crate::process::Rwsgi`] gets [`Prebound`] sockets instead.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A listening TCP socket on 127.0.0.1 that the harness bound, to be inherited by rwsgi.
#[derive(Debug)]
pub struct Prebound {
    /// The socket.
    pub fd: OwnedFd,
    /// Its port.
    pub port: u16,
}

impl Prebound {
    /// Binds 127.0.0.1 on a port the kernel picks.
    pub fn new() -> Prebound {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local address").port();
        Prebound {
            fd: OwnedFd::from(l),
            port,
        }
    }

    /// The address rwsgi is told to bind (it finds this socket under that address).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The raw descriptor.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Default for Prebound {
    fn default() -> Self {
        Prebound::new()
    }
}

/// `PREFIX-PID-N`, a name no other call in any live process makes (the pid tells processes
/// apart, a counter the calls of one process): for abstract socket names, which need no port.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}
