//! `--fs-reload`: inotify watches on files and directories, drained without blocking.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// An inotify instance (non-blocking, close-on-exec) and its watches.
#[derive(Debug)]
pub struct FsWatch {
    fd: OwnedFd,
    /// (watch descriptor, index of the path the caller added).
    watches: Vec<(i32, usize)>,
}

impl FsWatch {
    /// A new instance with no watch.
    pub fn new() -> io::Result<FsWatch> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        Ok(FsWatch {
            fd,
            watches: Vec::new(),
        })
    }

    /// Watches `path` (uWSGI's fsmon events: attributes, writes, entries created, deleted
    /// or moved, the path itself deleted or moved); `index` is what [`FsWatch::changed`]
    /// reports for it.
    pub fn add(&mut self, path: &Path, index: usize) -> io::Result<()> {
        let flags = WatchFlags::ATTRIB
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MODIFY
            | WatchFlags::MOVE_SELF
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO;
        let wd = inotify::add_watch(&self.fd, path, flags)?;
        self.watches.push((wd, index));
        Ok(())
    }

    /// Reads every pending event; the index of the first watch that had one, if any.
    pub fn changed(&mut self) -> Option<usize> {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        let mut first = None;
        // Bounded: a directory written to all the time must not hold the master here.
        for _ in 0..1024 {
            match reader.next() {
                Ok(event) => {
                    let wd = event.wd();
                    if first.is_none() {
                        first = self.watches.iter().find(|(w, _)| *w == wd).map(|(_, i)| *i);
                    }
                }
                Err(_) => break,
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_inside_a_watched_directory_is_reported_once() {
        let dir = tempfile_dir();
        let file = dir.join("a.txt");
        std::fs::write(&file, "1").unwrap();
        let mut w = FsWatch::new().unwrap();
        w.add(&dir, 7).unwrap();
        assert_eq!(w.changed(), None);
        std::fs::write(&file, "2").unwrap();
        assert_eq!(w.changed(), Some(7));
        assert_eq!(w.changed(), None, "drained");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rwsgi-os-watch-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
