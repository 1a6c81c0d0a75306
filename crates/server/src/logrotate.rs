//! `--log-maxsize` / `--log-backupname`: the master rotates the `--logto` file once it grows
//! past the limit (checked once a second, as uWSGI's master does).
//!
//! Every process appends to the same open file (`O_APPEND`), and rwsgi has no log master to
//! reopen it for them, so the rotation copies the file to its backup name and truncates it in
//! place: every writer's next line then starts the new file. Lines written between the copy
//! and the truncation (a few microseconds) are lost, as with logrotate's `copytruncate`.

use std::path::{Path, PathBuf};

/// The rotation policy for one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRotation {
    /// The `--logto` file.
    pub path: PathBuf,
    /// Rotate once the file is larger than this many bytes.
    pub max_size: u64,
    /// `--log-backupname`; `None`: the log's name, a dot and the Unix time (as uWSGI names it).
    pub backup_name: Option<PathBuf>,
}

impl LogRotation {
    /// Whether a file of `size` bytes is due for rotation.
    pub(crate) fn due(&self, size: u64) -> bool {
        size > self.max_size
    }

    /// Where the rotated content goes, at Unix time `now`.
    pub(crate) fn backup_path(&self, now: u64) -> PathBuf {
        match &self.backup_name {
            Some(p) => p.clone(),
            None => {
                let mut name = self.path.clone().into_os_string();
                name.push(format!(".{now}"));
                PathBuf::from(name)
            }
        }
    }

    /// Rotates the file when it is due; returns the backup's path when it did.
    pub(crate) fn check(&self) -> std::io::Result<Option<PathBuf>> {
        let size = std::fs::metadata(&self.path)?.len();
        if !self.due(size) {
            return Ok(None);
        }
        let backup = self.backup_path(rwsgi_os::time::unix_now());
        // Written to the log itself, so the backup ends with it (uWSGI writes the same line).
        eprintln!(
            "logsize: {size}, triggering rotation to {}...",
            backup.display()
        );
        copy_truncate(&self.path, &backup)?;
        Ok(Some(backup))
    }
}

fn copy_truncate(path: &Path, backup: &Path) -> std::io::Result<()> {
    std::fs::copy(path, backup)?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_past_the_limit_and_backups_named_as_uwsgi_names_them() {
        let mut r = LogRotation {
            path: "/var/log/app.log".into(),
            max_size: 100,
            backup_name: None,
        };
        assert!(!r.due(100));
        assert!(r.due(101));
        assert_eq!(
            r.backup_path(1_700_000_000),
            PathBuf::from("/var/log/app.log.1700000000")
        );
        r.backup_name = Some("/var/log/old.log".into());
        assert_eq!(r.backup_path(1), PathBuf::from("/var/log/old.log"));
    }

    #[test]
    fn a_rotated_file_keeps_its_content_in_the_backup_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "0123456789").unwrap();
        let r = LogRotation {
            path: path.clone(),
            max_size: 5,
            backup_name: Some(dir.path().join("old")),
        };
        assert_eq!(r.check().unwrap(), Some(dir.path().join("old")));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("old")).unwrap(),
            "0123456789"
        );
        assert_eq!(r.check().unwrap(), None, "empty now: not due");
    }
}
