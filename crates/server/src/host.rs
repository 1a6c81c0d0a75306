//! The machine as the config language sees it: the [`Host`] the binary gives
//! `rwsgi_config::parse`, reading the environment, files, commands and the process's facts
//! the way uWSGI does.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use rwsgi_config::{Host, HostFacts, PathKind};

/// The real machine.
pub struct OsHost {
    facts: HostFacts,
}

impl OsHost {
    /// Reads the facts once (start-up is single-threaded).
    pub fn new() -> OsHost {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        OsHost {
            facts: HostFacts {
                cpus: online_cpus(),
                hostname: hostname(),
                uid,
                user: user_name(uid).unwrap_or_else(|| uid.to_string()),
                gid,
                group: group_name(gid).unwrap_or_else(|| gid.to_string()),
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
        glob(pattern).unwrap_or_else(|| vec![pattern.to_string()])
    }

    fn facts(&self) -> &HostFacts {
        &self.facts
    }
}

/// uWSGI's `%k`: `sysconf(_SC_NPROCESSORS_ONLN)`.
fn online_cpus() -> u32 {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; one byte is kept for the terminating NUL.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } != 0 {
        return String::new();
    }
    CStr::from_bytes_until_nul(&buf)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn user_name(uid: u32) -> Option<String> {
    // SAFETY: getpwuid returns NULL or a pointer to static storage, read at once (start-up is
    // single-threaded).
    let pw = unsafe { libc::getpwuid(uid) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null result of getpwuid; pw_name is a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr((*pw).pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn group_name(gid: u32) -> Option<String> {
    // SAFETY: getgrgid returns NULL or a pointer to static storage, read at once.
    let gr = unsafe { libc::getgrgid(gid) };
    if gr.is_null() {
        return None;
    }
    // SAFETY: non-null result of getgrgid; gr_name is a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr((*gr).gr_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `glob(3)` with `GLOB_MARK | GLOB_NOCHECK`, as uWSGI's `for-glob`; `None` on an error.
fn glob(pattern: &str) -> Option<Vec<String>> {
    let c = CString::new(pattern).ok()?;
    // SAFETY: an all-zero glob_t is glob(3)'s documented initial state.
    let mut g: libc::glob_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated pattern and glob_t; no error callback.
    let rc = unsafe {
        libc::glob(
            c.as_ptr(),
            libc::GLOB_MARK | libc::GLOB_NOCHECK,
            None,
            &mut g,
        )
    };
    let paths = (rc == 0).then(|| {
        (0..g.gl_pathc)
            .map(|i| {
                // SAFETY: glob filled gl_pathv with gl_pathc NUL-terminated strings.
                unsafe { CStr::from_ptr(*g.gl_pathv.add(i)) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    });
    // SAFETY: g was initialized by glob above (globfree is also fine after a failed glob).
    unsafe { libc::globfree(&mut g) };
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_marks_directories_and_keeps_unmatched_patterns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.ini"), "").unwrap();
        std::fs::write(dir.path().join("a.ini"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let d = dir.path().display();
        let host = OsHost::new();
        assert_eq!(
            host.glob(&format!("{d}/*")),
            [
                format!("{d}/a.ini"),
                format!("{d}/b.ini"),
                format!("{d}/sub/")
            ]
        );
        assert_eq!(host.glob(&format!("{d}/*.py")), [format!("{d}/*.py")]);
    }

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
        assert_eq!(f.uid, rustix::process::getuid().as_raw());
        assert!(!f.user.is_empty() && !f.group.is_empty());
        assert_eq!(f.cwd, std::env::current_dir().unwrap());
        let kind = |p: &str| host.path_kind(Path::new(p));
        assert_eq!(kind("/"), PathKind::Dir);
        assert_eq!(kind("/proc/self/status"), PathKind::File);
        assert_eq!(kind("/no/such/path"), PathKind::Missing);
    }
}
