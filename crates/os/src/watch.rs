//! inotify watches on files and directories, drained without blocking: `--fs-reload` and
//! `uwsgi.add_file_monitor` (uWSGI's fsmon).

use std::ffi::OsString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// Events read per [`FileWatcher::drain`]: a directory written to all the time must not hold
/// the master's loop (the rest are read on the next call).
const DRAIN_BOUND: usize = 1024;

/// An inotify instance (non-blocking, close-on-exec).
#[derive(Debug)]
pub struct FileWatcher {
    fd: OwnedFd,
}

impl FileWatcher {
    /// A new instance with no watch.
    pub fn new() -> io::Result<FileWatcher> {
        Ok(FileWatcher {
            fd: inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?,
        })
    }

    /// Watches `path` (a file or a directory) for what uWSGI's file monitors report: a write,
    /// a change of attributes (`touch`), an entry created, deleted or moved in it, or itself
    /// deleted or moved. Returns the watch descriptor the events will carry.
    pub fn watch(&self, path: &Path) -> io::Result<i32> {
        let flags = WatchFlags::ATTRIB
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MODIFY
            | WatchFlags::MOVE_SELF
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO;
        Ok(inotify::add_watch(&self.fd, path, flags)?)
    }

    /// Reads the pending events (at most [`DRAIN_BOUND`]), calling `f` with each one's watch
    /// descriptor and, for a watched directory, the name of the entry.
    pub fn drain(&self, mut f: impl FnMut(i32, Option<OsString>)) {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        for _ in 0..DRAIN_BOUND {
            let Ok(event) = reader.next() else { break };
            let name = event
                .file_name()
                .map(|n| OsString::from_vec(n.to_bytes().to_vec()));
            f(event.wd(), name);
        }
    }
}

impl AsFd for FileWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(w: &FileWatcher) -> Vec<i32> {
        let mut seen = Vec::new();
        w.drain(|wd, _| seen.push(wd));
        seen
    }

    #[test]
    fn a_write_inside_a_watched_directory_or_to_a_watched_file_is_reported() {
        let dir = std::env::temp_dir().join(format!(
            "rwsgi-os-watch-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.txt");
        std::fs::write(&file, "1").unwrap();
        let w = FileWatcher::new().unwrap();
        let wd_dir = w.watch(&dir).unwrap();
        let wd_file = w.watch(&file).unwrap();
        assert!(drained(&w).is_empty());
        std::fs::write(&file, "2").unwrap();
        let seen = drained(&w);
        assert!(
            seen.contains(&wd_dir) && seen.contains(&wd_file),
            "{seen:?}"
        );
        assert!(drained(&w).is_empty(), "drained");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
