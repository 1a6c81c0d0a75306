//! rwsgi-os: the one place rwsgi talks to the kernel.
//!
//! Every other crate reaches the operating system through this one (or through `std`), so the
//! `unsafe` that system calls need lives here, each block with the reason it is sound, behind
//! safe functions that take owned or borrowed descriptors.
//!
//! * [`fdio`] — non-blocking read / `writev` / `sendmsg` and `poll` on a request's socket;
//! * [`poller`] — the level-triggered epoll loop (`EPOLLEXCLUSIVE` on listening sockets);
//! * [`fd`] — the wake-up eventfd, inherited sockets, close-on-exec;
//! * [`net`] — `accept4`, `shutdown`, TCP socket options;
//! * [`process`] — `kill`, `waitpid`, `setrlimit`, the parent-death signal, `_exit`, `execv`,
//!   the process name, stdout/stderr redirection;
//! * [`signal`] — handlers, masks, and the self-pipe that turns signals into readiness;
//! * [`sigchan`] — uWSGI signals' master ↔ worker message channels;
//! * [`mm`] — the anonymous shared mappings (scoreboard, user locks, pushers' memory) as typed
//!   slot arrays, malloc tuning;
//! * [`user`] — `--uid` / `--gid`, the names of ids, `--chown-socket`;
//! * [`watch`] — inotify watches for `--fs-reload` and `uwsgi.add_file_monitor`;
//! * [`time`] and [`system`] — the clock, local time, host name, page size, online CPUs,
//!   `glob(3)`.
//!
//! Built on rustix, whose `linux_raw` backend issues the syscalls directly (no errno, no
//! allocation): as cheap as the libc calls it replaces. libc stays only where rustix has no
//! process-wide safe equivalent, each use commented:
//! `sigaction` and `pthread_sigmask` (rustix has no safe sigaction), `setuid` / `setgid` /
//! `setgroups` (rustix's change only the calling thread, libc's the whole process),
//! `getpwnam` / `getgrnam` / `getpwuid` / `getgrgid` (NSS lives in libc), `glob` (rustix has
//! no globbing), `localtime_r` / `strftime` (time zones live in
//! libc), `mallopt` (glibc's allocator), `execv` and `_exit` (rustix has them only in its
//! experimental runtime API), and the `TCP_INFO` / `TCP_DEFER_ACCEPT` socket options. `fork`
//! is not here: it must go through Python's `PyOS_*Fork` (in rwsgi-wsgi).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod fd;
pub mod fdio;
pub mod mm;
pub mod net;
pub mod poller;
pub mod process;
pub mod shlock;
pub mod sigchan;
pub mod signal;
pub mod system;
pub mod time;
pub mod user;
pub mod watch;

pub use rustix::process::{Signal, WaitStatus};
