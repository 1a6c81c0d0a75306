//! Loopback ports for tests.
//!
//! A server that rwsgi binds itself gets a socket the harness bound first ([`Prebound`], handed
//! over through `RWSGI_INHERITED_SOCKETS`, the variable rwsgi's graceful reload uses), so no
//! other test can take the port in between. [`free_port`] is only for peers the harness cannot
//! hand a socket to (nginx, carbon-cache, uWSGI) and for tests about binding itself.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A loopback TCP port that was free a moment ago (see the module docs for when to use it).
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
