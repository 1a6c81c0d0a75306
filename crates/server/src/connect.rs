//! `rwsgi --connect-and-read ADDR`: print what a (stats) socket sends, then exit.

use std::io::{self, Read, Write};
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

/// Connects to `target`, copies everything it sends to stdout.
pub(crate) fn run(target: &str) -> Result<(), ConnectError> {
    let addr = Addr::parse(target).map_err(|e| ConnectError::Addr(target.to_string(), e))?;
    let mut stream = rwsgi_top::fetch::connect(&addr, TIMEOUT)
        .and_then(|s| s.set_timeouts(TIMEOUT).map(|()| s))
        .map_err(|e| ConnectError::Connect(target.to_string(), e))?;
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
