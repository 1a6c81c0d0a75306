//! Memory: the anonymous shared mapping the scoreboard lives in, and malloc tuning.

use std::io;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags};

/// A zero-filled, read-write `MAP_SHARED | MAP_ANONYMOUS` mapping: shared with the children
/// forked after it was made. Unmapped on drop; what is stored in it, and how the processes
/// sharing it access it, is the owner's business (it hands out a raw pointer only).
#[derive(Debug)]
pub struct SharedMapping {
    base: NonNull<u8>,
    len: usize,
}

impl SharedMapping {
    /// Maps `len` bytes (rounded up to whole pages by the kernel), page-aligned.
    pub fn new(len: usize) -> io::Result<SharedMapping> {
        // SAFETY: a new mapping at an address the kernel chooses (null hint, no MAP_FIXED)
        // cannot overlap any memory already in use.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )?
        };
        let base =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(SharedMapping { base, len })
    }

    /// The first byte (page-aligned, never null).
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The length asked for.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an empty mapping cannot be made.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this length and is unmapped once; any
        // reference into it the owner handed out borrows the owner, so none outlives it.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A glibc allocator parameter for [`set_malloc_option`].
#[derive(Debug, Clone, Copy)]
pub enum MallocOption {
    /// `M_MMAP_THRESHOLD`: blocks at least this large get a mapping of their own.
    MmapThreshold,
    /// `M_TRIM_THRESHOLD`: free heap past this is handed back to the kernel.
    TrimThreshold,
}

/// `mallopt(3)`; false if glibc refused the value.
pub fn set_malloc_option(option: MallocOption, value: i32) -> bool {
    let param = match option {
        MallocOption::MmapThreshold => libc::M_MMAP_THRESHOLD,
        MallocOption::TrimThreshold => libc::M_TRIM_THRESHOLD,
    };
    // SAFETY: mallopt only changes allocator parameters (thread-safe in glibc). libc's: the
    // allocator is glibc's.
    unsafe { libc::mallopt(param, value) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_mapping_is_page_aligned_zeroed_and_writable() {
        let map = SharedMapping::new(8192).unwrap();
        assert_eq!(map.len(), 8192);
        assert_eq!(map.as_ptr() as usize % 4096, 0);
        // SAFETY: the mapping is page-aligned, zeroed (a valid AtomicU64) and outlives `shared`.
        let shared = unsafe { &*(map.as_ptr() as *const std::sync::atomic::AtomicU64) };
        assert_eq!(shared.load(std::sync::atomic::Ordering::SeqCst), 0);
        shared.store(41, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(shared.load(std::sync::atomic::Ordering::SeqCst), 41);
    }

    #[test]
    fn malloc_options_are_accepted() {
        assert!(set_malloc_option(MallocOption::MmapThreshold, 4 << 20));
        assert!(set_malloc_option(MallocOption::TrimThreshold, 32 << 20));
    }
}
