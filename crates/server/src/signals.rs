//! The server's signal policy: which signals stop a child, what every child starts with, and
//! how the master forks without losing a stop signal. The mechanism (handlers, masks, the
//! signal pipe) is rwsgi-os's.

use rwsgi_os::process;
use rwsgi_os::signal::{self, Blocked, SignalNumber};
pub(crate) use rwsgi_os::signal::{ignore, install, SignalPipe};

/// The signals that stop or reload a child of the master.
pub(crate) const STOP_SIGNALS: [SignalNumber; 4] =
    [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// What every child of the master starts with, called once its own handlers are installed:
/// the default SIGCHLD action (the master's handler is not theirs), SIGPIPE ignored (a client
/// that went away is an error return), and [`STOP_SIGNALS`] unblocked (see [`ForkGuard`]).
pub(crate) fn child_defaults() {
    let _ = signal::default(libc::SIGCHLD);
    let _ = ignore(libc::SIGPIPE);
    signal::unblock(&STOP_SIGNALS);
}

/// Held by the master across `fork`: [`STOP_SIGNALS`] stay blocked, so one sent to a child
/// before the child installed its handlers waits for them (the child unblocks them in
/// [`child_defaults`]) instead of going to the master's handler and being lost. Dropping the
/// guard, in the master, restores its mask.
pub(crate) struct ForkGuard {
    _blocked: Blocked,
}

impl ForkGuard {
    /// Blocks [`STOP_SIGNALS`] until the guard is dropped.
    pub(crate) fn new() -> ForkGuard {
        ForkGuard {
            _blocked: Blocked::new(&STOP_SIGNALS),
        }
    }
}

/// `--no-orphans`: this child gets SIGTERM (a graceful stop) when the master, its parent, dies.
/// Exits at once if the master is already gone (it died between the fork and this call).
pub(crate) fn stop_with_parent(parent: process::RawPid) {
    let _ = process::set_parent_death_signal(rwsgi_os::Signal::TERM);
    if process::parent_pid() != parent {
        // Without the master's destructors, inherited across the fork.
        process::exit_now(1);
    }
}
