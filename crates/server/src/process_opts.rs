//! uWSGI's process options applied at start-up: `--umask`, `--daemonize` / `--daemonize2`,
//! `--max-fd`, stdin (`--honour-stdin`), the pidfiles (`--pidfile2`, `--safe-pidfile*`),
//! `--show-config`, and the `--harakiri-verbose` details. The decisions and texts are pure
//! functions (unit-tested); the syscalls are `rwsgi_os`'s.

use std::io;
use std::path::Path;

use rwsgi_config::Config;

/// Set by a daemonized process for the master it re-executes on a graceful reload, which must
/// not detach again (uWSGI's `is_a_reload`).
const DAEMONIZED_ENV: &str = "RWSGI_DAEMONIZED";

/// `--umask`, at once (uWSGI applies it while parsing, before anything is created).
pub(crate) fn apply_umask(config: &Config) {
    if let Some(mask) = config.umask {
        rwsgi_os::process::set_umask(mask);
    }
}

/// `--daemonize` / `--daemonize2`: their file is the log (uWSGI ignores `--logto` then).
pub(crate) fn daemon_log(config: &mut Config) {
    if let Some(file) = config.daemonize.as_ref().or(config.daemonize2.as_ref()) {
        config.logto = Some(file.clone());
    }
}

/// Whether this process must detach now: asked for, and not a master re-executed by a reload
/// of one that did already.
pub(crate) fn should_detach(asked: bool) -> bool {
    asked && std::env::var_os(DAEMONIZED_ENV).is_none()
}

/// Detaches as uWSGI's `daemonize()`: fork (the parent leaves with 0), a new session, fork
/// again (so the daemon can never reacquire a terminal), the file-creation mask 0 unless
/// `--umask` set one, stdin at /dev/null. `fork` is the fork to use (Python's wrapper once
/// the interpreter runs). Only while single-threaded.
pub(crate) fn detach(
    keep_umask: bool,
    mut fork: impl FnMut() -> io::Result<i32>,
) -> io::Result<()> {
    if fork()? != 0 {
        rwsgi_os::process::exit_now(0);
    }
    rwsgi_os::process::new_session()?;
    if fork()? != 0 {
        rwsgi_os::process::exit_now(0);
    }
    if !keep_umask {
        rwsgi_os::process::set_umask(0);
    }
    rwsgi_os::process::stdin_to_null()?;
    // SAFETY: in the child of a fork only the forking thread exists, so no other thread can
    // read the environment while it changes.
    unsafe { std::env::set_var(DAEMONIZED_ENV, "1") };
    Ok(())
}

/// `--max-fd`: the open-descriptor limit, soft and hard (a failure is logged, as uWSGI does);
/// then the limit in force, logged as uWSGI's "detected max file descriptor number".
pub(crate) fn apply_max_fd(config: &Config) {
    if let Some(n) = config.max_fd {
        if let Err(e) = rwsgi_os::process::set_open_files_soft_and_hard_limit(n) {
            eprintln!("setrlimit(RLIMIT_NOFILE, {n}) for --max-fd: {e}");
        }
        if let (Some(limit), _) = rwsgi_os::process::open_files_limit() {
            eprintln!("detected max file descriptor number: {limit}");
        }
    }
}

/// `--ksm`: the kernel merges identical pages of the master and every worker (they inherit
/// the flag). uWSGI re-marks its mappings with `madvise(MADV_MERGEABLE)` every N cycles; the
/// process-wide flag covers every mapping, later ones included. A kernel without it (before
/// 6.4, or KSM compiled out) is logged, as uWSGI logs a failed madvise.
pub(crate) fn apply_ksm(config: &Config) {
    if config.ksm {
        if let Err(e) = rwsgi_os::process::enable_memory_merge() {
            eprintln!("prctl(PR_SET_MEMORY_MERGE) for --ksm: {e}");
        }
    }
}

/// Unless `--honour-stdin`, stdin becomes /dev/null (as uWSGI's master does once its sockets
/// are bound), except when a listening socket is fd 0 (a socket inherited as stdin).
pub(crate) fn remap_stdin(config: &Config, listener_fds: impl IntoIterator<Item = i32>) {
    if config.honour_stdin || listener_fds.into_iter().any(|fd| fd == 0) {
        return;
    }
    if let Err(e) = rwsgi_os::process::stdin_to_null() {
        eprintln!("cannot point stdin at /dev/null: {e}");
    }
}

/// When a pidfile is written, relative to dropping privileges (`--uid` / `--gid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PidfileTime {
    /// `--pidfile`, `--safe-pidfile`.
    BeforeDrop,
    /// `--pidfile2`, `--safe-pidfile2`.
    AfterDrop,
}

/// The pidfiles written at `when`: (path, atomically).
pub(crate) fn pidfiles(config: &Config, when: PidfileTime) -> Vec<(&Path, bool)> {
    let (plain, safe) = match when {
        PidfileTime::BeforeDrop => (&config.pidfile, &config.safe_pidfile),
        PidfileTime::AfterDrop => (&config.pidfile2, &config.safe_pidfile2),
    };
    let mut out = Vec::new();
    out.extend(plain.as_deref().map(|p| (p, false)));
    out.extend(safe.as_deref().map(|p| (p, true)));
    out
}

/// Writes this process's pid to the pidfiles of `when` (uWSGI logs "writing pidfile to").
/// A plain pidfile that cannot be written is fatal, as before; a safe one is logged.
pub(crate) fn write_pidfiles(config: &Config, when: PidfileTime) -> io::Result<()> {
    let pid = std::process::id();
    for (path, safe) in pidfiles(config, when) {
        eprintln!("writing pidfile to {}", path.display());
        if safe {
            if let Err(e) = write_pidfile_atomically(path, pid) {
                eprintln!("could not write pidfile {}: {e}", path.display());
            }
        } else {
            std::fs::write(path, format!("{pid}\n"))?;
        }
    }
    Ok(())
}

/// The temporary file a safe pidfile is written to before it is renamed over `path`: beside
/// it (same filesystem, so the rename is atomic), named after it and this pid.
pub(crate) fn temp_pidfile(path: &Path, pid: u32) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{pid}.tmp"))
}

/// Writes `pid` to a temporary file and renames it over `path`: a reader sees the old
/// content or the new, never an empty or partial file.
fn write_pidfile_atomically(path: &Path, pid: u32) -> io::Result<()> {
    let tmp = temp_pidfile(path, pid);
    std::fs::write(&tmp, format!("{pid}\n"))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `--show-config`: the configuration as uWSGI prints it, every option occurrence as one
/// `key = value` line (a bare flag `= true`).
pub(crate) fn show_config(exported: &[(String, Option<String>)]) -> String {
    let mut out = String::from("\n;uWSGI instance configuration\n[uwsgi]\n");
    for (key, value) in exported {
        out.push_str(&format!("{key} = {}\n", value.as_deref().unwrap_or("true")));
    }
    out.push_str(";end of configuration\n\n");
    out
}

/// `--harakiri-verbose`: what uWSGI logs of a worker being killed, from its
/// `/proc/PID/syscall` and `/proc/PID/wchan` (whichever could be read).
pub(crate) fn harakiri_details(syscall: Option<&str>, wchan: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = syscall.map(str::trim_end).filter(|s| !s.is_empty()) {
        out.push(format!("HARAKIRI: -- syscall> {s}"));
    }
    if let Some(w) = wchan.map(str::trim_end).filter(|w| !w.is_empty()) {
        out.push(format!("HARAKIRI: -- wchan> {w}"));
    }
    out
}

/// [`harakiri_details`] for process `pid`.
pub(crate) fn read_harakiri_details(pid: i32) -> Vec<String> {
    let read = |what: &str| std::fs::read_to_string(format!("/proc/{pid}/{what}")).ok();
    harakiri_details(read("syscall").as_deref(), read("wchan").as_deref())
}

/// `--fs-reload`: paths watched through inotify (uWSGI's fsmon: a file or directory itself
/// modified, or an entry of a directory created, deleted, moved or written); the master
/// drains the events once a second.
#[derive(Debug, Default)]
pub(crate) struct FsReload {
    watch: Option<rwsgi_os::watch::FileWatcher>,
    /// Each watched path with its watch descriptor.
    paths: Vec<(i32, std::path::PathBuf)>,
}

impl FsReload {
    /// Watches `paths`; one that cannot be watched (missing) is logged and skipped, as in
    /// uWSGI.
    pub(crate) fn new(paths: &[std::path::PathBuf]) -> FsReload {
        if paths.is_empty() {
            return FsReload::default();
        }
        let watch = match rwsgi_os::watch::FileWatcher::new() {
            Ok(w) => w,
            Err(e) => {
                eprintln!("[uwsgi-fsmon] inotify_init(): {e}");
                return FsReload::default();
            }
        };
        let mut watched = Vec::new();
        for path in paths {
            match watch.watch(path) {
                Ok(wd) => {
                    eprintln!(
                        "[uwsgi-fsmon] registered monitor for \"{}\"",
                        path.display()
                    );
                    watched.push((wd, path.clone()));
                }
                Err(e) => eprintln!(
                    "[uwsgi-fsmon] unable to register monitor for \"{}\": {e}",
                    path.display()
                ),
            }
        }
        FsReload {
            watch: Some(watch),
            paths: watched,
        }
    }

    /// The first watched path with an event since the last call, if any.
    pub(crate) fn changed(&mut self) -> Option<&Path> {
        let mut first = None;
        self.watch.as_ref()?.drain(|wd, _| {
            first = first.or(Some(wd));
        });
        let wd = first?;
        self.paths
            .iter()
            .find(|(w, _)| *w == wd)
            .map(|(_, p)| p.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_config_prints_every_occurrence_as_uwsgi_does() {
        let exported = vec![
            ("http-socket".to_string(), Some(":8000".to_string())),
            ("master".to_string(), None),
            ("env".to_string(), Some("A=1".to_string())),
            ("env".to_string(), Some("B=2".to_string())),
        ];
        assert_eq!(
            show_config(&exported),
            "\n;uWSGI instance configuration\n[uwsgi]\nhttp-socket = :8000\nmaster = true\n\
             env = A=1\nenv = B=2\n;end of configuration\n\n"
        );
    }

    #[test]
    fn pidfiles_are_written_before_and_after_the_drop_as_asked() {
        let mut c = Config::default();
        assert!(pidfiles(&c, PidfileTime::BeforeDrop).is_empty());
        c.pidfile = Some("/run/a.pid".into());
        c.safe_pidfile2 = Some("/run/b.pid".into());
        assert_eq!(
            pidfiles(&c, PidfileTime::BeforeDrop),
            [(Path::new("/run/a.pid"), false)]
        );
        assert_eq!(
            pidfiles(&c, PidfileTime::AfterDrop),
            [(Path::new("/run/b.pid"), true)]
        );
    }

    #[test]
    fn a_safe_pidfile_goes_through_a_temporary_file_beside_it() {
        assert_eq!(
            temp_pidfile(Path::new("/run/app/master.pid"), 42),
            Path::new("/run/app/.master.pid.42.tmp")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.pid");
        std::fs::write(&path, "1\n").expect("old pidfile");
        write_pidfile_atomically(&path, 4242).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "4242\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn harakiri_details_are_uwsgi_s_lines_for_what_could_be_read() {
        assert_eq!(
            harakiri_details(Some("7 0x1 0x2\n"), Some("do_sys_poll")),
            [
                "HARAKIRI: -- syscall> 7 0x1 0x2",
                "HARAKIRI: -- wchan> do_sys_poll"
            ]
        );
        assert_eq!(harakiri_details(None, Some("0")), ["HARAKIRI: -- wchan> 0"]);
        assert!(harakiri_details(None, Some("")).is_empty());
    }

    #[test]
    fn daemon_files_are_the_log() {
        let mut c = Config {
            logto: Some("other.log".into()),
            daemonize2: Some("d.log".into()),
            ..Config::default()
        };
        daemon_log(&mut c);
        assert_eq!(c.logto.as_deref(), Some("d.log"));
        let mut plain = Config::default();
        daemon_log(&mut plain);
        assert_eq!(plain.logto, None);
    }
}
