//! Signals delivered as bytes on a pipe, so event loops handle them as ordinary readiness.
//!
//! The handler only does `write(2)` (async-signal-safe); everything else happens in the loop.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The process that installed the pipe: a child that inherited the handler (a worker, for a
/// signal only the master hooks) must not report into its parent's pipe.
static PIPE_OWNER: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    // SAFETY: getpid is async-signal-safe.
    if fd >= 0 && PIPE_OWNER.load(Ordering::Relaxed) == unsafe { libc::getpid() } {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; errno is saved and restored around it.
        unsafe {
            let saved = *libc::__errno_location();
            libc::write(fd, (&b as *const u8).cast(), 1);
            *libc::__errno_location() = saved;
        }
    }
}

/// The read end of the signal pipe of this process.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Routes `signals` to a new non-blocking pipe (replacing any earlier pipe of this process,
    /// e.g. the master's, inherited by a worker).
    pub fn install(signals: &[libc::c_int]) -> io::Result<SignalPipe> {
        let mut fds = [0; 2];
        // SAFETY: fds has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptors we own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        PIPE_WRITE.store(write.as_raw_fd(), Ordering::Relaxed);
        // SAFETY: getpid cannot fail.
        PIPE_OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);
        install(signals, on_signal)?;
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// The fd to poll.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Drains pending signals, in arrival order.
    pub fn drain(&self, out: &mut Vec<libc::c_int>) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reading into a stack buffer.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend(buf[..n as usize].iter().map(|&b| b as libc::c_int));
        }
    }
}

fn set_handler(sig: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: a zeroed sigaction with a valid handler and SA_RESTART.
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
pub fn install(signals: &[libc::c_int], handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    for &sig in signals {
        set_handler(sig, handler as *const () as libc::sighandler_t)?;
    }
    Ok(())
}

/// The signals that stop or reload a child of the master.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// What every child of the master starts with, called once its own handlers are installed:
/// the default SIGCHLD action (the master's handler is not theirs), SIGPIPE ignored (a client
/// that went away is an error return), and [`STOP_SIGNALS`] unblocked (see [`ForkGuard`]).
pub fn child_defaults() {
    let _ = default(libc::SIGCHLD);
    let _ = ignore(libc::SIGPIPE);
    set_mask(libc::SIG_UNBLOCK, &STOP_SIGNALS);
}

/// Held by the master across `fork`: [`STOP_SIGNALS`] stay blocked, so one sent to a child
/// before the child installed its handlers waits for them (the child unblocks them in
/// [`child_defaults`]) instead of going to the master's handler and being lost. Dropping the
/// guard, in the master, restores its mask.
pub struct ForkGuard {
    previous: libc::sigset_t,
}

impl ForkGuard {
    /// Blocks [`STOP_SIGNALS`] until the guard is dropped.
    pub fn new() -> ForkGuard {
        ForkGuard {
            previous: set_mask(libc::SIG_BLOCK, &STOP_SIGNALS),
        }
    }
}

impl Drop for ForkGuard {
    fn drop(&mut self) {
        // SAFETY: restoring a mask pthread_sigmask gave us.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// Applies `how` (block / unblock) for `signals` to this thread's mask; returns the old mask.
fn set_mask(how: libc::c_int, signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; pthread_sigmask
    // only reads `set` and writes `old`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(how, &set, &mut old);
        old
    }
}

/// `--no-orphans`: this child gets SIGTERM (a graceful stop) when the master, its parent, dies.
/// Exits at once if the master is already gone (it died between the fork and this call).
pub fn stop_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's parent-death signal.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // SAFETY: getppid cannot fail; _exit leaves without the master's inherited destructors.
    if unsafe { libc::getppid() } != parent {
        unsafe { libc::_exit(1) };
    }
}

/// Ignores `sig` (SIGPIPE: a client that went away is an error return, not a death).
pub fn ignore(sig: libc::c_int) -> io::Result<()> {
    set_handler(sig, libc::SIG_IGN)
}

/// Restores the default action of `sig`.
pub fn default(sig: libc::c_int) -> io::Result<()> {
    set_handler(sig, libc::SIG_DFL)
}
