//! The machine: host name, page size, online CPUs, glob(3).

use std::ffi::{CStr, CString};

/// The host name (the kernel's node name, which is what `gethostname` reads).
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The system page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// The online CPUs, as glibc's `sysconf(_SC_NPROCESSORS_ONLN)` (which uWSGI's `%k` reads)
/// counts them: the ranges in `/sys/devices/system/cpu/online` (`0-3,8`); the CPUs this
/// process may run on when that file cannot be read.
pub fn online_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| count_cpu_list(list.trim()))
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok())
        })
        .unwrap_or(1)
}

/// The number of CPUs in a kernel CPU list (`0-3,8,10-11`).
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (lo.parse().ok()?, hi.parse().ok()?);
        n = n.checked_add(hi.checked_sub(lo)?.checked_add(1)?)?;
    }
    (n > 0).then_some(n)
}

/// The paths matching a shell `pattern`, sorted, directories marked with a trailing `/`, the
/// pattern itself when nothing matches: `glob(3)` with `GLOB_MARK | GLOB_NOCHECK`, as
/// uWSGI's `for-glob`. `None` on an error (glob is libc's, rustix has none).
pub fn glob(pattern: &str) -> Option<Vec<String>> {
    let c = CString::new(pattern).ok()?;
    // SAFETY: an all-zero glob_t is glob(3)'s documented initial state.
    let mut g: libc::glob_t = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated pattern and a live glob_t; no error callback.
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
                // SAFETY: a successful glob filled gl_pathv with gl_pathc NUL-terminated
                // strings, alive until globfree.
                unsafe { CStr::from_ptr(*g.gl_pathv.add(i)) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    });
    // SAFETY: g was initialized by glob above (globfree is fine after a failed glob too).
    unsafe { libc::globfree(&mut g) };
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        for (list, n) in [
            ("0", Some(1)),
            ("0-3", Some(4)),
            ("0-3,8,10-11", Some(7)),
            ("", None),
            ("3-1", None),
            ("x", None),
        ] {
            assert_eq!(count_cpu_list(list), n, "{list}");
        }
        assert!(online_cpus() >= 1);
    }

    #[test]
    fn glob_marks_directories_and_keeps_unmatched_patterns() {
        let dir = std::env::temp_dir().join(format!("rwsgi-os-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.ini"), "").unwrap();
        std::fs::write(dir.join("a.ini"), "").unwrap();
        let d = dir.display();
        let all = glob(&format!("{d}/*"));
        let none = glob(&format!("{d}/*.py"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            all,
            Some(vec![
                format!("{d}/a.ini"),
                format!("{d}/b.ini"),
                format!("{d}/sub/")
            ])
        );
        assert_eq!(none, Some(vec![format!("{d}/*.py")]));
    }

    #[test]
    fn hostname_and_page_size_are_the_kernel_s() {
        let proc_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname(), proc_name.trim_end());
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
    }
}
