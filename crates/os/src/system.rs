//! The machine: host name, page size.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_and_page_size_are_the_kernel_s() {
        let proc_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname(), proc_name.trim_end());
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
    }
}
