//! Signals: handlers, masks, and a self-pipe that turns signals into readiness.
//!
//! `sigaction` and `pthread_sigmask` are libc's: rustix has no safe sigaction (its kernel
//! one bypasses libc's own signal bookkeeping), and the mask must be libc's to agree with it.
//! Signals are plain numbers here (`c_int`), as the configuration names them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::pipe::{pipe_with, PipeFlags};

/// A signal number.
pub type SignalNumber = libc::c_int;

/// What a signal does.
#[derive(Clone, Copy)]
enum Action {
    Handler(extern "C" fn(SignalNumber)),
    Ignore,
    Default,
}

fn set_action(sig: SignalNumber, action: Action) -> io::Result<()> {
    let handler = match action {
        Action::Handler(f) => f as *const () as libc::sighandler_t,
        Action::Ignore => libc::SIG_IGN,
        Action::Default => libc::SIG_DFL,
    };
    // SAFETY: a zeroed sigaction is valid; it gets a valid handler (a function that, as
    // `install` requires, only makes async-signal-safe calls, or SIG_IGN / SIG_DFL), an empty
    // mask and SA_RESTART; sigaction only reads it.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Routes `signals` to `handler`, which must only make async-signal-safe calls.
pub fn install(signals: &[SignalNumber], handler: extern "C" fn(SignalNumber)) -> io::Result<()> {
    for &sig in signals {
        set_action(sig, Action::Handler(handler))?;
    }
    Ok(())
}

/// Ignores `sig`.
pub fn ignore(sig: SignalNumber) -> io::Result<()> {
    set_action(sig, Action::Ignore)
}

/// Restores the default action of `sig`.
pub fn default(sig: SignalNumber) -> io::Result<()> {
    set_action(sig, Action::Default)
}

/// A set of signals, as the mask functions take it.
fn sigset(signals: &[SignalNumber]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Applies `how` (block / unblock / set) with `set` to this thread's mask; returns the old
/// mask.
fn sigmask(how: libc::c_int, set: &libc::sigset_t) -> libc::sigset_t {
    // SAFETY: pthread_sigmask only reads `set` and writes `old`, both valid sigset_t.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(how, set, &mut old);
        old
    }
}

/// Signals blocked for this thread until the guard is dropped, which restores the mask the
/// thread had before.
pub struct Blocked {
    previous: libc::sigset_t,
}

impl Blocked {
    /// Blocks `signals`.
    pub fn new(signals: &[SignalNumber]) -> Blocked {
        Blocked {
            previous: sigmask(libc::SIG_BLOCK, &sigset(signals)),
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        sigmask(libc::SIG_SETMASK, &self.previous);
    }
}

/// Unblocks `signals` for this thread.
pub fn unblock(signals: &[SignalNumber]) {
    sigmask(libc::SIG_UNBLOCK, &sigset(signals));
}

/// The write end of the signal pipe, and the process that installed it: a child that
/// inherited the handler (a worker, for a signal only the master hooks) must not report into
/// its parent's pipe. Never closed, so the handler cannot write to a reused number.
static PIPE: OnceLock<(OwnedFd, i32)> = OnceLock::new();

extern "C" fn on_signal(sig: SignalNumber) {
    // Only an atomic load, getpid(2) and write(2): async-signal-safe, and rustix's raw
    // syscalls leave errno alone.
    if let Some((fd, owner)) = PIPE.get() {
        if *owner == rustix::process::getpid().as_raw_pid() {
            let _ = rustix::io::write(fd, &[sig as u8]);
        }
    }
}

/// The read end of the signal pipe of this process: handled signals arrive on it as bytes,
/// in order, so an event loop handles them as ordinary readiness.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
}

impl SignalPipe {
    /// Routes `signals` to a new non-blocking pipe. Once per process tree: a child of the
    /// process that installed one cannot install its own (its signals go to handlers of its
    /// own, through [`install`]).
    pub fn install(signals: &[SignalNumber]) -> io::Result<SignalPipe> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        PIPE.set((write, rustix::process::getpid().as_raw_pid()))
            .map_err(|_| io::Error::new(io::ErrorKind::AlreadyExists, "signal pipe installed"))?;
        install(signals, on_signal)?;
        Ok(SignalPipe { read })
    }

    /// The fd to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Drains pending signals, in arrival order.
    pub fn drain(&self, out: &mut Vec<SignalNumber>) {
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = rustix::io::read(&self.read, &mut buf) {
            out.extend(buf[..n].iter().map(|&b| SignalNumber::from(b)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn drain_one(pipe: &SignalPipe) -> Vec<SignalNumber> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < deadline {
            pipe.drain(&mut got);
            std::thread::sleep(Duration::from_millis(2));
        }
        got
    }

    // One test: a process has one signal pipe.
    #[test]
    fn signals_arrive_on_the_pipe_and_it_is_installed_once() {
        let pipe = SignalPipe::install(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        assert!(SignalPipe::install(&[libc::SIGUSR1]).is_err());
        let me = rustix::process::getpid();
        for (sig, raw) in [
            (rustix::process::Signal::USR2, libc::SIGUSR2),
            (rustix::process::Signal::USR1, libc::SIGUSR1),
        ] {
            rustix::process::kill_process(me, sig).unwrap();
            assert_eq!(drain_one(&pipe), [raw]);
        }
    }

    /// Whether `sig` is in this thread's blocked mask, as the kernel reports it.
    fn blocked(sig: SignalNumber) -> bool {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
        let mask = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
        mask & (1 << (sig - 1)) != 0
    }

    #[test]
    fn a_blocked_guard_restores_the_previous_mask_and_unblock_unblocks() {
        assert!(!blocked(libc::SIGWINCH));
        {
            let _guard = Blocked::new(&[libc::SIGWINCH, libc::SIGURG]);
            assert!(blocked(libc::SIGWINCH) && blocked(libc::SIGURG));
            unblock(&[libc::SIGURG]);
            assert!(blocked(libc::SIGWINCH) && !blocked(libc::SIGURG));
        }
        assert!(!blocked(libc::SIGWINCH));
    }
}
