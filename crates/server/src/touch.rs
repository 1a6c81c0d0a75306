//! `--touch-reload`: files whose modification time, checked by the master once a second,
//! triggers a graceful reload when it changes (as uWSGI's touch-reload).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Watched files and the modification time each had when last looked at.
#[derive(Debug, Default)]
pub(crate) struct TouchWatch {
    files: Vec<(PathBuf, Option<SystemTime>)>,
}

impl TouchWatch {
    /// Starts watching `paths` from their current modification times (a missing file counts
    /// as touched once it appears).
    pub(crate) fn new(paths: &[PathBuf]) -> TouchWatch {
        TouchWatch {
            files: paths.iter().map(|p| (p.clone(), mtime(p))).collect(),
        }
    }

    /// The first watched file whose modification time changed since the last look, if any
    /// (every changed file's new time is remembered, so one touch reloads once). A file that
    /// cannot be read now is left alone: deleting it is not touching it.
    pub(crate) fn touched(&mut self) -> Option<&Path> {
        let mut first = None;
        for (i, (path, seen)) in self.files.iter_mut().enumerate() {
            let Some(now) = mtime(path) else { continue };
            if *seen != Some(now) {
                *seen = Some(now);
                first.get_or_insert(i);
            }
        }
        first.map(|i| self.files[i].0.as_path())
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::Duration;

    fn set_mtime(path: &Path, t: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(t))
            .expect("set mtime");
    }

    #[test]
    fn a_touch_is_reported_once_and_a_missing_file_once_it_appears() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        File::create(&a).expect("create a");
        let mut w = TouchWatch::new(&[a.clone(), b.clone()]);
        assert_eq!(w.touched(), None, "nothing changed yet");

        set_mtime(&a, SystemTime::now() + Duration::from_secs(5));
        assert_eq!(w.touched(), Some(a.as_path()));
        assert_eq!(w.touched(), None, "one touch, one reload");

        File::create(&b).expect("create b");
        assert_eq!(w.touched(), Some(b.as_path()));

        std::fs::remove_file(&a).expect("remove a");
        assert_eq!(w.touched(), None, "a deleted file is not a touch");
        assert_eq!(TouchWatch::new(&[]).touched(), None);
    }
}
