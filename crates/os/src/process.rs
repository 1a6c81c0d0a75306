//! Processes: signalling and reaping children, limits, the parent-death signal, leaving, exec,
//! and where stdout/stderr go.

use std::ffi::CString;
use std::io;
use std::os::fd::AsFd;

use rustix::process::{Pid, Resource, Rlimit, Signal, WaitOptions, WaitStatus};

/// A process id as the rest of rwsgi keeps it (`0` = none).
pub type RawPid = i32;

fn pid(raw: RawPid) -> io::Result<Pid> {
    // Zero or negative would signal a process group, or every process we may signal.
    if raw <= 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    Pid::from_raw(raw).ok_or_else(|| io::ErrorKind::InvalidInput.into())
}

/// Sends `sig` to process `target` (> 0; never a process group).
pub fn kill(target: RawPid, sig: Signal) -> io::Result<()> {
    Ok(rustix::process::kill_process(pid(target)?, sig)?)
}

/// Sends `sig` to the process group led by `leader` (> 0), e.g. a managed daemon and the
/// processes its shell started.
pub fn kill_group(leader: RawPid, sig: Signal) -> io::Result<()> {
    Ok(rustix::process::kill_process_group(pid(leader)?, sig)?)
}

/// Whether process `target` exists (`kill(pid, 0)`; one owned by another user counts).
pub fn exists(target: RawPid) -> bool {
    match pid(target) {
        Ok(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        Err(_) => false,
    }
}

/// Makes this process the leader of a new session and process group (`setsid(2)`).
pub fn new_session() -> io::Result<()> {
    rustix::process::setsid()?;
    Ok(())
}

/// Reaps one exited child without blocking: its pid and how it ended, `None` when no child
/// has exited (or there are no children).
pub fn reap_child() -> Option<(RawPid, WaitStatus)> {
    // Any child (-1), not only those in our process group: daemons run in sessions of their own.
    match rustix::process::wait(WaitOptions::NOHANG) {
        Ok(Some((pid, status))) => Some((pid.as_raw_pid(), status)),
        Ok(None) | Err(_) => None,
    }
}

/// This process's id.
pub fn current_pid() -> RawPid {
    rustix::process::getpid().as_raw_pid()
}

/// The parent's process id (`0` when the parent is outside our pid namespace).
pub fn parent_pid() -> RawPid {
    Pid::as_raw(rustix::process::getppid())
}

/// The real user and group ids of this process.
pub fn real_ids() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

/// Writes `args` and a newline to stderr in one `write(2)`. std's `eprintln!` writes a line
/// in pieces (stderr is unbuffered: one write per formatted piece), so the lines of processes
/// sharing one log file interleave mid-line; the crates that log shadow `eprintln!` with
/// this.
pub fn stderr_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut line = match args.as_str() {
        Some(s) => String::with_capacity(s.len() + 1) + s,
        None => args.to_string(),
    };
    line.push('\n');
    // A failed log write has nowhere to be reported.
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Caps the address space of this process (and of the children it forks later) at `bytes`.
pub fn limit_address_space(bytes: u64) -> io::Result<()> {
    let limit = Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    Ok(rustix::process::setrlimit(Resource::As, limit)?)
}

/// The soft and hard limits on this process's open descriptors (`RLIMIT_NOFILE`; `None`:
/// unlimited).
pub fn open_files_limit() -> (Option<u64>, Option<u64>) {
    let l = rustix::process::getrlimit(Resource::Nofile);
    (l.current, l.maximum)
}

/// Sets the soft limit on open descriptors to `soft` (at most the hard limit, unchanged); the
/// children forked later inherit it.
pub fn set_open_files_limit(soft: u64) -> io::Result<()> {
    let maximum = rustix::process::getrlimit(Resource::Nofile).maximum;
    let limit = Rlimit {
        current: Some(maximum.map_or(soft, |m| soft.min(m))),
        maximum,
    };
    Ok(rustix::process::setrlimit(Resource::Nofile, limit)?)
}

/// Lets the kernel's KSM merge identical pages of this process and of the children it forks
/// later (`prctl(PR_SET_MEMORY_MERGE, 1)`, Linux 6.4+): `--ksm`.
pub fn enable_memory_merge() -> io::Result<()> {
    // SAFETY: PR_SET_MEMORY_MERGE takes plain integers and changes only a flag of this
    // process's memory descriptor. libc's: rustix keeps this prctl option private.
    let rc = unsafe { libc::prctl(libc::PR_SET_MEMORY_MERGE, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks the kernel to send `sig` to this process when its parent dies.
pub fn set_parent_death_signal(sig: Signal) -> io::Result<()> {
    Ok(rustix::process::set_parent_process_death_signal(Some(sig))?)
}

/// Sets the calling thread's name (the process's name, `/proc/PID/comm`, when called from
/// the main thread); the kernel keeps its first 15 bytes.
pub fn set_name(name: &std::ffi::CStr) -> io::Result<()> {
    Ok(rustix::thread::set_name(name)?)
}

/// `_exit(2)`: leaves now, without running destructors, `atexit` hooks or stdio flushes (a
/// forked child must not run its parent's). Async-signal-safe.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and never returns. libc's: rustix offers it only in
    // its experimental runtime API.
    unsafe { libc::_exit(code) }
}

/// Forks a plain child: `Ok(0)` in the child, the child's pid in the parent. Only for a
/// process that has one thread and has not started Python (the master forks its workers
/// through the interpreter's wrapper, which tells Python), or, where other threads run (a
/// test binary), for a child that does only async-signal-safe work (atomics, a syscall,
/// [`exit_now`]) before it leaves: it may not take a lock another thread held at the fork.
pub fn fork_plain() -> io::Result<RawPid> {
    // SAFETY: fork has no memory preconditions; the caller is single-threaded (documented
    // above), so the child copies no lock another thread holds. libc's: rustix's fork is in
    // its experimental runtime API.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        pid => Ok(pid),
    }
}

/// Closes every descriptor above stderr except those in `keep`: a child process that must
/// not hold its parent's sockets open. Only for a fresh child whose other descriptors no live
/// object owns.
pub fn close_fds_except(keep: &[std::os::fd::RawFd]) -> io::Result<()> {
    // Listed first: the directory's own descriptor is closed before the loop.
    let open: Vec<std::os::fd::RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open.into_iter().filter(|fd| *fd > 2 && !keep.contains(fd)) {
        // SAFETY: the caller's contract: no live object owns a descriptor outside `keep`, so
        // none is used after this close. A stale one (the listing's) fails with EBADF.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Waits for child `raw` to exit (blocking), and says how it ended.
pub fn wait_for(raw: RawPid) -> io::Result<WaitStatus> {
    match rustix::process::waitpid(Some(pid(raw)?), WaitOptions::empty())? {
        Some((_, status)) => Ok(status),
        // Only WNOHANG returns without a status.
        None => Err(io::Error::other("waitpid returned no status")),
    }
}

/// `execv(path, args)`: replaces this process's image, keeping its descriptors that are not
/// close-on-exec and its environment. Returns only on failure.
pub fn exec(path: &std::ffi::CStr, args: &[CString]) -> io::Error {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the call. libc's:
    // rustix's execve is in its experimental runtime API.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    io::Error::last_os_error()
}

/// Points stdout and stderr (fds 1 and 2) at `to`.
pub fn redirect_output(to: impl AsFd) -> io::Result<()> {
    rustix::stdio::dup2_stdout(&to)?;
    rustix::stdio::dup2_stderr(&to)?;
    Ok(())
}

/// Runs `f` with the file-creation mask set to `mask`, then restores the previous mask. The
/// mask is process-wide: call this only while no other thread creates files (the master binds
/// its sockets at start-up, single-threaded).
pub fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
    let result = f();
    rustix::process::umask(previous);
    result
}

// --- process and socket options (`--umask`, `--max-fd`, `--honour-stdin`, titles)

/// Sets the process's file-creation mask (`umask(2)`); returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777)).as_raw_mode() as u32
}

/// Sets both the soft and the hard limit on open descriptors (`RLIMIT_NOFILE`) to `n`
/// (`--max-fd`): lowering always works, raising the hard limit needs `CAP_SYS_RESOURCE`.
pub fn set_open_files_soft_and_hard_limit(n: u64) -> io::Result<()> {
    let limit = Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    Ok(rustix::process::setrlimit(Resource::Nofile, limit)?)
}

/// Points stdin (fd 0) at `/dev/null`, as uWSGI does unless `--honour-stdin`.
pub fn stdin_to_null() -> io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    Ok(())
}

/// Where the kernel keeps this process's command line (`arg_start`, `arg_end`: fields 48 and
/// 49 of `/proc/PID/stat`), read from that file's text. The name in parentheses may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn arg_area(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // The field after `)` is number 3 (state): 48 is the 46th from there.
    let start: u64 = fields.nth(45)?.parse().ok()?;
    let end: u64 = fields.next()?.parse().ok()?;
    (start < end).then_some((start, end))
}

/// Replaces this process's command line (`/proc/PID/cmdline`, what `ps aux` and `top -c`
/// show) with `title`, as uWSGI's process names do: the title is written over the memory the
/// kernel reads the command line from (through `/proc/self/mem`, so no pointer is forged),
/// ended by a NUL and padded with spaces to the end of the area; a title longer than the
/// original command line is cut. The strings `std::env::args` reads live there: read them
/// before. Returns the bytes of `title` kept.
pub fn set_cmdline(title: &[u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let (start, end) = arg_area(&stat)
        .ok_or_else(|| io::Error::other("no command line area in /proc/self/stat"))?;
    let len = usize::try_from(end - start).map_err(io::Error::other)?;
    let buf = cmdline_image(title, len);
    let kept = buf.iter().position(|&b| b == 0).unwrap_or(0);
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")?;
    mem.write_all_at(&buf, start)?;
    Ok(kept)
}

/// Titles this process as `ps` shows it: the command line ([`set_cmdline`]) and, from the
/// main thread, the name the kernel keeps (15 bytes, `/proc/PID/comm`). Both are tried; the
/// first failure is returned.
pub fn set_title(title: &str) -> io::Result<()> {
    let cmdline = set_cmdline(title.as_bytes()).map(drop);
    // A NUL cannot come from an option value that parsed, but is dropped rather than trusted.
    let name: Vec<u8> = title.bytes().filter(|&b| b != 0).take(15).collect();
    let name = CString::new(name).map_err(io::Error::other)?;
    cmdline.and(set_name(&name))
}

/// The bytes written over a command line area of `len` bytes for `title`: the title (cut to
/// leave room, NULs dropped), a NUL, then spaces (a last byte that is not NUL tells the
/// kernel the area was rewritten, so it shows only up to the first NUL).
pub fn cmdline_image(title: &[u8], len: usize) -> Vec<u8> {
    let mut buf: Vec<u8> = title
        .iter()
        .copied()
        .filter(|&b| b != 0)
        .take(len.saturating_sub(1))
        .collect();
    if buf.len() < len {
        buf.push(0);
    }
    buf.resize(len, b' ');
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_and_lowered() {
        let (soft, hard) = open_files_limit();
        let soft = soft.expect("a finite soft limit");
        assert!(hard.is_none_or(|h| h >= soft));
        // Lowered (always allowed) then restored: the soft limit is what was set.
        set_open_files_limit(soft - 1).unwrap();
        assert_eq!(open_files_limit().0, Some(soft - 1));
        set_open_files_limit(soft).unwrap();
        assert_eq!(open_files_limit(), (Some(soft), hard));
    }

    #[test]
    fn a_pid_that_would_name_a_group_is_refused() {
        for raw in [0, -1, -5] {
            let err = kill(raw, Signal::TERM).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn a_killed_child_is_reaped_with_its_signal() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let raw = child.id() as RawPid;
        kill(raw, Signal::KILL).unwrap();
        // Bounded wait for the kernel to report it (reap_child never blocks).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            // Other tests' children may be reaped here too: only ours is looked for.
            if let Some((pid, status)) = reap_child() {
                if pid == raw {
                    break status;
                }
            }
            assert!(std::time::Instant::now() < deadline, "child not reaped");
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(status.terminating_signal(), Some(libc::SIGKILL));
        assert_eq!(status.exit_status(), None);
        // Already reaped: std must not wait for it.
        drop(child.try_wait());
    }

    #[test]
    fn a_thread_s_name_is_set() {
        std::thread::spawn(|| {
            set_name(c"rwsgi-os-test").unwrap();
            let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
            assert_eq!(comm.trim_end(), "rwsgi-os-test");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn ids_are_this_process_s() {
        assert_eq!(current_pid() as u32, std::process::id());
        assert!(parent_pid() > 0);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| -> u32 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        assert_eq!(real_ids(), (field("Uid:"), field("Gid:")));
    }

    #[test]
    fn the_arg_area_is_found_after_a_name_with_parentheses() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[48 - 3] = "1000".into();
        fields[49 - 3] = "1040".into();
        let stat = format!("42 (a) b (c)) {}", fields.join(" "));
        assert_eq!(arg_area(&stat), Some((1000, 1040)));
        assert_eq!(arg_area("42 (x) S 1"), None);
        assert_eq!(arg_area("no parenthesis"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(arg_area(&own).is_some(), "{own}");
    }

    #[test]
    fn a_cmdline_image_is_the_title_a_nul_and_spaces() {
        assert_eq!(cmdline_image(b"ab", 6), b"ab\0   ");
        assert_eq!(cmdline_image(b"abcdef", 4), b"abc\0");
        assert_eq!(cmdline_image(b"a\0b", 4), b"ab\0 ");
        assert_eq!(cmdline_image(b"x", 0), b"");
    }

    #[test]
    fn the_umask_reads_back() {
        let old = set_umask(0o027);
        assert_eq!(set_umask(old), 0o027);
    }
}
