//! A minimal level-triggered epoll wrapper: the master's and each core's event loop.
//!
//! Level-triggered on purpose: a worker accepts one connection per wake-up, so a busy worker
//! leaves the rest of the accept queue to its idle siblings (with `EPOLLEXCLUSIVE`, the kernel
//! wakes one waiter per new connection instead of all of them).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Interest in readability.
pub const READ: u32 = libc::EPOLLIN as u32;
/// Interest in writability.
pub const WRITE: u32 = libc::EPOLLOUT as u32;
/// Wake only one of the processes/threads waiting on this fd (listening sockets).
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

/// An epoll instance.
#[derive(Debug)]
pub struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
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
        // SAFETY: plain syscall; the result is checked and owned.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: fd is a fresh descriptor we own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events: Vec::with_capacity(256),
        })
    }

    fn ctl(&self, op: i32, fd: RawFd, token: u64, flags: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: flags,
            u64: token,
        };
        // SAFETY: valid epoll fd and event struct.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for `flags` (READ, WRITE, EXCLUSIVE), reporting `token`.
    pub fn add(&self, fd: RawFd, token: u64, flags: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, flags)
    }

    /// Changes what `fd` is watched for.
    pub fn modify(&self, fd: RawFd, token: u64, flags: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, flags)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for events (`None` = forever); returns how many are ready, read them with
    /// [`Poller::event`].
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let ms = timeout.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32);
        let cap = self.events.capacity();
        // SAFETY: the buffer has `cap` slots; the kernel fills the first n.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap as i32,
                ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                // SAFETY: no events were written.
                unsafe { self.events.set_len(0) };
                return Ok(0);
            }
            return Err(err);
        }
        // SAFETY: the kernel initialised n entries.
        unsafe { self.events.set_len(n as usize) };
        Ok(n as usize)
    }

    /// The i-th event of the last wait.
    pub fn event(&self, i: usize) -> Event {
        Event {
            token: self.events[i].u64,
        }
    }
}
