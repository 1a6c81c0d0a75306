//! A minimal level-triggered epoll wrapper: the master's and each core's event loop.
//!
//! Level-triggered on purpose: a worker accepts one connection per wake-up, so a busy worker
//! leaves the rest of the accept queue to its idle siblings (with `EPOLLEXCLUSIVE`, the kernel
//! wakes one waiter per new connection instead of all of them).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::time::Timespec;

/// What a descriptor is watched for: [`READ`], [`WRITE`], [`EXCLUSIVE`] or a union of them.
pub type Interest = EventFlags;

/// Interest in readability.
pub const READ: Interest = EventFlags::IN;
/// Interest in writability.
pub const WRITE: Interest = EventFlags::OUT;
/// Wake only one of the processes/threads waiting on this fd (listening sockets).
pub const EXCLUSIVE: Interest = EventFlags::EXCLUSIVE;

/// Most events one wait reports.
const EVENTS: usize = 256;

/// An epoll instance.
#[derive(Debug)]
pub struct Poller {
    fd: OwnedFd,
    /// The tokens of the last wait's events. (Kept as plain tokens, not rustix's events, whose
    /// pointer-or-integer data would make the poller unsendable to a GIL-free closure.)
    tokens: Vec<u64>,
}

/// One ready fd.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// The token it was registered with. Which readiness it was does not matter to the
    /// callers: each does the one non-blocking syscall its state calls for and handles EAGAIN.
    pub token: u64,
}

impl Poller {
    /// A new epoll fd (close-on-exec).
    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            fd: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            tokens: Vec::with_capacity(EVENTS),
        })
    }

    /// Watches `fd` for `interest`, reporting `token`.
    pub fn add(&self, fd: impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        Ok(epoll::add(
            &self.fd,
            fd,
            EventData::new_u64(token),
            interest,
        )?)
    }

    /// Changes what `fd` is watched for.
    pub fn modify(&self, fd: impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        Ok(epoll::modify(
            &self.fd,
            fd,
            EventData::new_u64(token),
            interest,
        )?)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        Ok(epoll::delete(&self.fd, fd)?)
    }

    /// Waits for events (`None` = forever); returns how many are ready, read them with
    /// [`Poller::event`]. An interrupted wait reports none.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        // Whole milliseconds, as epoll_wait(2) has them.
        let timeout = timeout
            .map(|d| {
                let ms = d.as_millis().min(i32::MAX as u128) as u64;
                Timespec::try_from(Duration::from_millis(ms))
            })
            .transpose()
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        self.tokens.clear();
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); EVENTS];
        match epoll::wait(&self.fd, &mut events, timeout.as_ref()) {
            Ok((ready, _)) => {
                self.tokens.extend(ready.iter().map(|e| e.data.u64()));
                Ok(self.tokens.len())
            }
            Err(rustix::io::Errno::INTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The i-th event of the last wait.
    pub fn event(&self, i: usize) -> Event {
        Event {
            token: self.tokens[i],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_the_token_of_a_readable_fd_until_it_is_deleted() {
        let mut poller = Poller::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        poller.add(&a, 7, READ).unwrap();
        assert_eq!(poller.wait(Some(Duration::from_millis(1))).unwrap(), 0);
        b.write_all(b"x").unwrap();
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert_eq!(poller.event(0).token, 7);
        // Level-triggered: still ready while the byte is unread.
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 1);
        poller.modify(&a, 8, READ | WRITE).unwrap();
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 1);
        assert_eq!(poller.event(0).token, 8);
        poller.delete(&a).unwrap();
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn exclusive_interest_is_accepted_for_a_listening_socket() {
        let poller = Poller::new().unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        poller.add(&l, 1, READ | EXCLUSIVE).unwrap();
    }
}
