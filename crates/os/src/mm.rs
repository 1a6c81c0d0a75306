//! Memory: the anonymous shared mappings the scoreboard, the user locks and the pushers'
//! memory live in, seen as typed arrays; and malloc tuning.
//!
//! A [`SharedLayout`] reserves disjoint, aligned [`Region`]s of slot types, then maps them
//! all at once ([`SharedLayout::map`]); [`SharedMapping::get`] hands out a region as `&[T]`.
//! That view is safe because of what the slot types must be (`FromZeros + Sync`: the zero
//! pages the kernel maps are valid slots, and they change only through their own
//! thread-safe interior mutability, i.e. atomics) and because each byte belongs to one
//! region of one type, checked when a region is used. Processes forked after the mapping was
//! made share the same pages: to the slots, they are threads of one address space.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::mm::{MapFlags, ProtFlags};

/// What a slot type stored in a shared mapping must be, besides `Sync`: valid when all its
/// bytes are zero (derive it with `#[derive(zerocopy::FromZeros)]`, which checks every field).
pub use zerocopy::FromZeros;

/// Layout ids: one per [`SharedLayout`], so a region is only ever used on its own mapping.
static NEXT_LAYOUT: AtomicU64 = AtomicU64::new(1);

/// The plan of one shared mapping: typed arrays, one after the other, each aligned for its
/// type. Consumed by [`map`](Self::map), so each layout becomes at most one mapping.
#[derive(Debug)]
pub struct SharedLayout {
    id: u64,
    len: usize,
}

impl Default for SharedLayout {
    fn default() -> SharedLayout {
        SharedLayout::new()
    }
}

impl SharedLayout {
    /// An empty layout.
    pub fn new() -> SharedLayout {
        SharedLayout {
            id: NEXT_LAYOUT.fetch_add(1, Ordering::Relaxed),
            len: 0,
        }
    }

    /// Reserves `count` `T`s after what was reserved so far, aligned for `T`. `None` when the
    /// size overflows or `T` wants more than page alignment (the mapping is only page-aligned).
    pub fn array<T: FromZeros + Sync>(&mut self, count: usize) -> Option<Region<T>> {
        if align_of::<T>() > crate::system::page_size() {
            return None;
        }
        let offset = self.len.checked_next_multiple_of(align_of::<T>())?;
        let end = size_of::<T>().checked_mul(count)?.checked_add(offset)?;
        // A slice may not span more than isize::MAX bytes.
        if end > isize::MAX as usize {
            return None;
        }
        self.len = end;
        Some(Region {
            layout: self.id,
            offset,
            count,
            _slot: PhantomData,
        })
    }

    /// Bytes reserved so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True while nothing was reserved.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maps the layout: a zero-filled, read-write `MAP_SHARED | MAP_ANONYMOUS` mapping of
    /// [`len`](Self::len) bytes rounded up to whole pages (at least one), page-aligned, shared
    /// with the children forked after it was made.
    pub fn map(self) -> io::Result<SharedMapping> {
        let len = self
            .len
            .max(1)
            .checked_next_multiple_of(crate::system::page_size())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
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
        Ok(SharedMapping {
            base,
            len,
            layout: self.id,
        })
    }
}

/// `count` slots of type `T` reserved in a [`SharedLayout`]; [`SharedMapping::get`] views
/// them. A plain description (offset, length, layout id): copying it grants nothing.
pub struct Region<T> {
    layout: u64,
    offset: usize,
    count: usize,
    _slot: PhantomData<fn() -> T>,
}

impl<T> Region<T> {
    /// How many slots.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a region of no slot.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Byte offset of the first slot from the start of the mapping.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<T> Clone for Region<T> {
    fn clone(&self) -> Region<T> {
        *self
    }
}

impl<T> Copy for Region<T> {}

impl<T> fmt::Debug for Region<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("slot", &std::any::type_name::<T>())
            .field("offset", &self.offset)
            .field("count", &self.count)
            .finish()
    }
}

/// A mapped [`SharedLayout`]. Unmapped on drop.
#[derive(Debug)]
pub struct SharedMapping {
    base: NonNull<u8>,
    len: usize,
    layout: u64,
}

// SAFETY: the mapping is plain process memory, valid on every thread until drop (munmap from
// any thread is fine); the only access it grants is `get`'s `&[T]` with `T: Sync`.
unsafe impl Send for SharedMapping {}
// SAFETY: as above: `&SharedMapping` only reads its own fields and lends `&[T]`, `T: Sync`.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// The slots of `region`. Panics if `region` was reserved in another layout than the one
    /// this mapping was made from.
    #[inline]
    pub fn get<T: FromZeros + Sync>(&self, region: &Region<T>) -> &[T] {
        assert!(
            region.layout == self.layout,
            "a region of another shared mapping"
        );
        let first = self.base.as_ptr().wrapping_add(region.offset).cast::<T>();
        // SAFETY: `region` belongs to this mapping's layout (checked above), so it lies inside
        // the mapping (`map` mapped at least the layout's length) and starts at an offset
        // aligned for `T` in a page-aligned mapping (`array` refused alignments above a page).
        // The layout's regions are disjoint and each has one type, so these bytes are only ever
        // seen as `T`s. They were zero when mapped, a valid `T` (`FromZeros`), and change only
        // through `&T` (nothing lends `&mut`), i.e. through `T`'s own interior mutability, which
        // `T: Sync` makes sound to share between threads, and between the processes forked with
        // the mapping (one address space, as far as these pages go). The slice borrows `self`,
        // which unmaps only on drop.
        unsafe { std::slice::from_raw_parts(first, region.count) }
    }

    /// The mapped length: the layout's, rounded up to whole pages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: at least one page is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `SharedLayout::map` with this length and is unmapped
        // once; every view `get` lent borrows `self`, so none outlives it.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A shared mapping holding one array: `count` zero-filled `T`s (see [`SharedLayout`]).
pub struct SharedArray<T> {
    mapping: SharedMapping,
    region: Region<T>,
}

impl<T: FromZeros + Sync> SharedArray<T> {
    /// Maps `count` zero-filled `T`s.
    pub fn new(count: usize) -> io::Result<SharedArray<T>> {
        let mut layout = SharedLayout::new();
        let region = layout
            .array::<T>(count)
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        Ok(SharedArray {
            mapping: layout.map()?,
            region,
        })
    }

    /// The slots.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        self.mapping.get(&self.region)
    }
}

impl<T: FromZeros + Sync> Deref for SharedArray<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> fmt::Debug for SharedArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedArray")
            .field("region", &self.region)
            .field("mapped", &self.mapping.len())
            .finish()
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
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

    #[test]
    fn a_shared_array_is_page_aligned_zeroed_and_writable() {
        let words = SharedArray::<AtomicU64>::new(1024).unwrap();
        assert_eq!(words.len(), 1024);
        assert_eq!(words.as_ptr() as usize % crate::system::page_size(), 0);
        assert!(words.iter().all(|w| w.load(SeqCst) == 0));
        words[1023].store(41, SeqCst);
        assert_eq!(words[1023].load(SeqCst), 41);
    }

    #[derive(FromZeros)]
    #[repr(C, align(64))]
    struct Line([AtomicU64; 8]);

    #[test]
    fn regions_are_aligned_disjoint_and_in_order() {
        let mut layout = SharedLayout::new();
        let a = layout.array::<AtomicU32>(3).unwrap();
        let b = layout.array::<Line>(2).unwrap();
        let c = layout.array::<AtomicU64>(1).unwrap();
        assert_eq!((a.offset(), b.offset(), c.offset()), (0, 64, 192));
        assert_eq!(layout.len(), 200);
        let map = layout.map().unwrap();
        assert_eq!(map.len(), crate::system::page_size());
        map.get(&b)[1].0[7].store(u64::MAX, SeqCst);
        assert!(map.get(&a).iter().all(|w| w.load(SeqCst) == 0));
        assert_eq!(map.get(&c)[0].load(SeqCst), 0);
        assert_eq!(map.get(&b)[1].0[7].load(SeqCst), u64::MAX);
    }

    #[test]
    #[should_panic(expected = "a region of another shared mapping")]
    fn a_region_of_another_mapping_is_refused() {
        let mut small = SharedLayout::new();
        let _ = small.array::<AtomicU64>(1).unwrap();
        let small = small.map().unwrap();
        let mut big = SharedLayout::new();
        let far = big.array::<AtomicU64>(1 << 20).unwrap();
        let _ = small.get(&far);
    }

    #[derive(FromZeros)]
    #[repr(C, align(65536))]
    struct OverAligned(AtomicU64);

    #[test]
    fn sizes_that_overflow_and_alignments_above_a_page_are_refused() {
        let mut layout = SharedLayout::new();
        assert!(layout.array::<AtomicU64>(usize::MAX / 4).is_none());
        assert!(layout.array::<OverAligned>(1).is_none());
        assert!(layout.is_empty());
        // An empty layout still maps a page.
        assert_eq!(layout.map().unwrap().len(), crate::system::page_size());
    }

    /// One reservation of a proptest plan: which slot type, how many.
    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Word32,
        Word64,
        Line,
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever is reserved, in whatever order: each region is aligned for its type, the
        /// regions follow one another without overlap, all fit in the mapping, and a write
        /// through one region is seen through it and through no other.
        #[test]
        fn regions_never_overlap_and_fit(
            plan in proptest::collection::vec(
                (proptest::prop_oneof![
                    proptest::strategy::Just(Kind::Word32),
                    proptest::strategy::Just(Kind::Word64),
                    proptest::strategy::Just(Kind::Line),
                ], 0usize..300),
                1..12,
            )
        ) {
            let mut layout = SharedLayout::new();
            // (kind, offset, bytes, index into the typed lists below)
            let (mut w32, mut w64, mut lines, mut spans) = (vec![], vec![], vec![], vec![]);
            for &(kind, count) in &plan {
                let (offset, bytes, align) = match kind {
                    Kind::Word32 => {
                        let r = layout.array::<AtomicU32>(count).unwrap();
                        w32.push(r);
                        (r.offset(), 4 * count, 4)
                    }
                    Kind::Word64 => {
                        let r = layout.array::<AtomicU64>(count).unwrap();
                        w64.push(r);
                        (r.offset(), 8 * count, 8)
                    }
                    Kind::Line => {
                        let r = layout.array::<Line>(count).unwrap();
                        lines.push(r);
                        (r.offset(), 64 * count, 64)
                    }
                };
                proptest::prop_assert_eq!(offset % align, 0);
                spans.push((offset, offset + bytes));
            }
            for pair in spans.windows(2) {
                proptest::prop_assert!(pair[0].1 <= pair[1].0, "{:?}", pair);
            }
            let end = spans.last().map_or(0, |s| s.1);
            proptest::prop_assert_eq!(layout.len(), end);
            let map = layout.map().unwrap();
            proptest::prop_assert!(map.len() >= end);
            // Mark the last slot of every region with its region's number, then read all back.
            let mut mark = 0u64;
            for r in &w32 {
                mark += 1;
                if let Some(w) = map.get(r).last() {
                    w.store(mark as u32, SeqCst);
                }
            }
            for r in &w64 {
                mark += 1;
                if let Some(w) = map.get(r).last() {
                    w.store(mark, SeqCst);
                }
            }
            for r in &lines {
                mark += 1;
                if let Some(l) = map.get(r).last() {
                    l.0[7].store(mark, SeqCst);
                }
            }
            let mut mark = 0u64;
            for r in &w32 {
                mark += 1;
                let s = map.get(r);
                proptest::prop_assert_eq!(s.len(), r.len());
                for (i, w) in s.iter().enumerate() {
                    let want = if i + 1 == s.len() { mark as u32 } else { 0 };
                    proptest::prop_assert_eq!(w.load(SeqCst), want);
                }
            }
            for r in &w64 {
                mark += 1;
                let s = map.get(r);
                for (i, w) in s.iter().enumerate() {
                    let want = if i + 1 == s.len() { mark } else { 0 };
                    proptest::prop_assert_eq!(w.load(SeqCst), want);
                }
            }
            for r in &lines {
                mark += 1;
                let s = map.get(r);
                for (i, l) in s.iter().enumerate() {
                    let want = if i + 1 == s.len() { mark } else { 0 };
                    proptest::prop_assert_eq!(l.0[7].load(SeqCst), want);
                    proptest::prop_assert!(l.0[..7].iter().all(|w| w.load(SeqCst) == 0));
                }
            }
        }
    }

    #[test]
    fn malloc_options_are_accepted() {
        assert!(set_malloc_option(MallocOption::MmapThreshold, 4 << 20));
        assert!(set_malloc_option(MallocOption::TrimThreshold, 32 << 20));
    }
}
