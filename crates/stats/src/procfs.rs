//! Memory usage of a process from `/proc/<pid>/statm`.

/// Resident and virtual size, in bytes (the units of uWSGI's `rss` and `vsz`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemUsage {
    /// Resident set size in bytes.
    pub rss: u64,
    /// Virtual size in bytes.
    pub vsz: u64,
}

/// Errors reading `/proc/<pid>/statm`.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    /// The file could not be read (no such process, permission, no procfs).
    #[error("cannot read /proc/{pid}/statm: {source}")]
    Io {
        /// The process.
        pid: u32,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file did not hold at least two page counts.
    #[error("malformed /proc/{pid}/statm: {content:?}")]
    Parse {
        /// The process.
        pid: u32,
        /// What the file held.
        content: String,
    },
}

/// The system page size.
pub fn page_size() -> u64 {
    rwsgi_os::system::page_size() as u64
}

/// Parse the content of a statm file: `size resident shared text lib data dt`, in pages.
pub fn parse_statm(content: &str, page_size: u64) -> Option<MemUsage> {
    let mut it = content.split_ascii_whitespace();
    let size: u64 = it.next()?.parse().ok()?;
    let resident: u64 = it.next()?.parse().ok()?;
    Some(MemUsage {
        rss: resident.saturating_mul(page_size),
        vsz: size.saturating_mul(page_size),
    })
}

/// rss and vsz of `pid` in bytes.
pub fn memory_usage(pid: u32) -> Result<MemUsage, ProcfsError> {
    let path = format!("/proc/{pid}/statm");
    let content =
        std::fs::read_to_string(&path).map_err(|source| ProcfsError::Io { pid, source })?;
    parse_statm(&content, page_size()).ok_or_else(|| ProcfsError::Parse {
        pid,
        content: content.chars().take(200).collect(),
    })
}

/// rss and vsz of the calling process (what a worker reports about itself).
pub fn self_memory_usage() -> Result<MemUsage, ProcfsError> {
    memory_usage(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_statm("32708 2847 1234 1 0 5000 0\n", 4096),
            Some(MemUsage {
                rss: 2847 * 4096,
                vsz: 32708 * 4096
            })
        );
        assert_eq!(parse_statm("", 4096), None);
        assert_eq!(parse_statm("12", 4096), None);
        assert_eq!(parse_statm("a b", 4096), None);
    }

    #[test]
    fn reads_self() {
        let m = self_memory_usage().unwrap();
        assert!(m.rss > 0 && m.vsz >= m.rss, "{m:?}");
        assert_eq!(page_size() % 4096, 0);
    }

    #[test]
    fn missing_pid_is_io_error() {
        // pid_max is at most 2^22 on Linux.
        let e = memory_usage(u32::MAX - 1).unwrap_err();
        assert!(matches!(e, ProcfsError::Io { .. }), "{e}");
    }
}
