//! `rwsgi --connect-and-read ADDR`: print what a (stats) socket sends, then exit.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rwsgi_config::Addr;

/// Why the socket could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The address did not parse.
    #[error("invalid address '{0}': {1}")]
    Addr(String, rwsgi_config::AddrError),
    /// Connecting failed.
    #[error("cannot connect to {0}: {1}")]
    Connect(String, io::Error),
    /// Reading failed.
    #[error("error reading from {0}: {1}")]
    Read(String, io::Error),
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn connect(addr: &Addr) -> io::Result<Box<dyn Read>> {
    match addr {
        Addr::Tcp { host, port } => {
            let sa =
                crate::listen::resolve(if host.is_empty() { "127.0.0.1" } else { host }, *port)?;
            let s = TcpStream::connect_timeout(&sa, TIMEOUT)?;
            s.set_read_timeout(Some(TIMEOUT))?;
            Ok(Box::new(s))
        }
        Addr::Unix(path) => {
            let s = UnixStream::connect(path)?;
            s.set_read_timeout(Some(TIMEOUT))?;
            Ok(Box::new(s))
        }
        Addr::Abstract(name) => {
            // The plain name first (rwsgi, and most servers); then uWSGI's form, whose address
            // carries a trailing NUL byte.
            let mut with_nul = name.clone();
            with_nul.push(0);
            let mut last = None;
            for candidate in [name.as_slice(), with_nul.as_slice()] {
                use std::os::linux::net::SocketAddrExt;
                let sa = std::os::unix::net::SocketAddr::from_abstract_name(candidate)?;
                match UnixStream::connect_addr(&sa) {
                    Ok(s) => {
                        s.set_read_timeout(Some(TIMEOUT))?;
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| io::Error::other("no address")))
        }
    }
}

/// Connects to `target`, copies everything it sends to stdout.
pub(crate) fn run(target: &str) -> Result<(), ConnectError> {
    let addr = Addr::parse(target).map_err(|e| ConnectError::Addr(target.to_string(), e))?;
    let mut stream = connect(&addr).map_err(|e| ConnectError::Connect(target.to_string(), e))?;
    let mut data = Vec::new();
    stream
        .read_to_end(&mut data)
        .map_err(|e| ConnectError::Read(target.to_string(), e))?;
    let mut out = io::stdout().lock();
    out.write_all(&data)
        .and_then(|_| out.flush())
        .map_err(|e| ConnectError::Read("stdout".into(), e))?;
    Ok(())
}
