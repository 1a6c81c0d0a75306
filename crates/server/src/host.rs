//! The machine as the config language sees it: the [`Host`] the binary gives
//! `rwsgi_config::parse`, reading the environment, files, commands and the process's facts
//! the way uWSGI does (the system calls through rwsgi-os).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use rwsgi_config::{Host, HostFacts, PathKind};
use rwsgi_os::{process, system, user};

/// The real machine.
pub(crate) struct OsHost {
    facts: HostFacts,
}

impl OsHost {
    /// Reads the facts once (start-up is single-threaded).
    pub(crate) fn new() -> OsHost {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (uid, gid) = process::real_ids();
        OsHost {
            facts: HostFacts {
                cpus: system::online_cpus(),
                hostname: system::hostname(),
                uid,
                user: user::user_name(uid).unwrap_or_else(|| uid.to_string()),
                gid,
                group: user::group_name(gid).unwrap_or_else(|| gid.to_string()),
                unix_time: since_epoch.as_secs(),
                unix_micros: u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX),
                cwd: std::env::current_dir().unwrap_or_default(),
                binary: std::env::current_exe()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
        }
    }
}

impl Host for OsHost {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    /// `/bin/sh -c COMMAND`'s standard output (stderr goes to ours, as with uWSGI's popen);
    /// like uWSGI the exit status does not matter, but a command that cannot run is an error.
    fn exec(&self, command: &str) -> io::Result<String> {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn path_kind(&self, path: &Path) -> PathKind {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => PathKind::File,
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::Other,
            Err(_) => PathKind::Missing,
        }
    }

    fn inode(&self, path: &Path) -> Option<u64> {
        std::fs::symlink_metadata(path).ok().map(|m| m.ino())
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        system::glob(pattern).unwrap_or_else(|| vec![pattern.to_string()])
    }

    fn facts(&self) -> &HostFacts {
        &self.facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_reads_stdout_whatever_the_status() {
        let host = OsHost::new();
        assert_eq!(host.exec("echo hi; echo err >&2; exit 3").unwrap(), "hi\n");
    }

    #[test]
    fn facts_are_the_process_ones() {
        let host = OsHost::new();
        let f = host.facts();
        assert!(f.cpus >= 1);
        assert_eq!((f.uid, f.gid), process::real_ids());
        assert!(!f.user.is_empty() && !f.group.is_empty());
        assert_eq!(f.cwd, std::env::current_dir().unwrap());
        let kind = |p: &str| host.path_kind(Path::new(p));
        assert_eq!(kind("/"), PathKind::Dir);
        assert_eq!(kind("/proc/self/status"), PathKind::File);
        assert_eq!(kind("/no/such/path"), PathKind::Missing);
    }
}
