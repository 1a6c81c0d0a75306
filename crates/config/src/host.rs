//! What the configuration language needs from the machine it runs on.
//!
//! uWSGI's configs read the environment, files, command output, the CPU count, the host
//! name, the user... This crate does no I/O: the binary passes a [`Host`] that does it, and
//! tests pass a fake one.

use std::io;
use std::path::{Path, PathBuf};

/// Facts about the process and machine, read once at start-up (uWSGI's "static" magic
/// variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `%k`: number of online CPUs.
    pub cpus: u32,
    /// `%h`: host name.
    pub hostname: String,
    /// `%u`: real user id.
    pub uid: u32,
    /// `%U`: its user name (the id as text when it has none).
    pub user: String,
    /// `%g`: real group id.
    pub gid: u32,
    /// `%G`: its group name (the id as text when it has none).
    pub group: String,
    /// `%t`: seconds since the epoch.
    pub unix_time: u64,
    /// `%T`: microseconds since the epoch.
    pub unix_micros: u64,
    /// `%v`: the current directory; relative config paths are taken from here.
    pub cwd: PathBuf,
    /// `%b`: path of the running binary.
    pub binary: String,
}

/// What a path names, for `if-exists`, `if-file`, `if-dir` and their negations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing there (or it cannot be examined).
    Missing,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Something else (socket, device, fifo...).
    Other,
}

/// The machine as the configuration sees it.
pub trait Host {
    /// An environment variable (`$(VAR)`, `if-env`).
    fn env(&self, name: &str) -> Option<String>;
    /// A file's text (`ini`, `@(file)`, `for-readline`).
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// Standard output of `/bin/sh -c COMMAND` (`@(exec://COMMAND)`).
    fn exec(&self, command: &str) -> io::Result<String>;
    /// What `path` is, following symlinks.
    fn path_kind(&self, path: &Path) -> PathKind;
    /// The inode number of `path` itself, not following symlinks (`%i`).
    fn inode(&self, path: &Path) -> Option<u64>;
    /// Paths matching a shell glob, sorted, directories with a trailing `/`; the pattern
    /// itself when nothing matches (`glob(3)` with `GLOB_MARK | GLOB_NOCHECK`, as uWSGI's
    /// `for-glob`).
    fn glob(&self, pattern: &str) -> Vec<String>;
    /// The static facts.
    fn facts(&self) -> &HostFacts;
}

/// The host behind the closure-based entry points ([`crate::parse_args`],
/// [`crate::parse_args_and_env`]): environment and files through the closures, nothing else
/// (no command runs, no path exists, facts are neutral apart from the current directory).
pub(crate) struct ClosureHost<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&Path) -> io::Result<String>,
    pub facts: HostFacts,
}

impl Host for ClosureHost<'_> {
    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        (self.read_file)(path)
    }
    fn exec(&self, _command: &str) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "running commands is not available here",
        ))
    }
    fn path_kind(&self, _path: &Path) -> PathKind {
        PathKind::Missing
    }
    fn inode(&self, _path: &Path) -> Option<u64> {
        None
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        vec![pattern.to_string()]
    }
    fn facts(&self) -> &HostFacts {
        &self.facts
    }
}
