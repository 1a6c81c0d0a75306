//! What the pushers remember across a respawn of their process.
//!
//! The master maps [`PushMemory`] before it forks the first pusher process; every pusher
//! process it forks later inherits the same pages, so a respawned statsd pusher finds the
//! counter values its predecessor last delivered and keeps sending deltas instead of
//! re-sending the totals. A graceful reload re-executes the master, which maps a fresh
//! memory along with a fresh scoreboard (counters from 0 again, so both start over together).
//!
//! Each pusher has one slot of two buffers: a save writes the buffer not in use, then
//! publishes it with one atomic store of the slot's header. A pusher killed in the middle of
//! a save (SIGKILL) therefore leaves the previous save whole.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rwsgi_os::mm::SharedArray;

/// Bytes one save may hold (a statsd pusher's counters as JSON: a few dozen bytes per
/// metric, so thousands of workers' worth; a larger save is skipped, see [`Slot::save`]).
pub const SLOT_CAPACITY: usize = 256 * 1024;

const WORD: usize = std::mem::size_of::<u64>();
const BUFFER_WORDS: usize = SLOT_CAPACITY / WORD;
/// A slot: the header word, then two buffers.
const SLOT_WORDS: usize = 1 + 2 * BUFFER_WORDS;
/// The header: bit 63 says which buffer holds the last save, the low bits its length
/// (0: nothing saved yet).
const WHICH_BIT: u64 = 1 << 63;

/// Shared memory with one slot per pusher, inherited by every pusher process forked after it
/// was made. Clones share the same memory.
#[derive(Clone, Debug)]
pub struct PushMemory {
    /// The mapping as `AtomicU64` words, `slots * SLOT_WORDS` of them.
    map: Arc<SharedArray<AtomicU64>>,
    slots: usize,
}

impl PushMemory {
    /// Maps one slot per pusher (`pushers` of them, at least one). The pages are the kernel's
    /// zero pages until a pusher writes them: unused slots cost no memory.
    pub fn new(pushers: usize) -> io::Result<PushMemory> {
        let slots = pushers.max(1);
        let map = SharedArray::new(slots * SLOT_WORDS)?;
        Ok(PushMemory {
            map: Arc::new(map),
            slots,
        })
    }

    /// The slot of pusher number `index` (its position in the configuration), or `None` past
    /// the slots mapped.
    pub fn slot(&self, index: usize) -> Option<Slot> {
        (index < self.slots).then(|| Slot {
            memory: self.clone(),
            index,
        })
    }

    fn words(&self) -> &[AtomicU64] {
        &self.map
    }
}

/// One pusher's part of [`PushMemory`].
#[derive(Debug)]
pub struct Slot {
    memory: PushMemory,
    index: usize,
}

impl Slot {
    fn words(&self) -> &[AtomicU64] {
        let start = self.index * SLOT_WORDS;
        &self.memory.words()[start..start + SLOT_WORDS]
    }

    fn buffer(&self, which: usize) -> &[AtomicU64] {
        let start = 1 + which * BUFFER_WORDS;
        &self.words()[start..start + BUFFER_WORDS]
    }

    /// The bytes of the last save, `None` if nothing was saved.
    pub fn load(&self) -> Option<Vec<u8>> {
        let header = self.words()[0].load(Ordering::Acquire);
        let len = (header & !WHICH_BIT) as usize;
        if len == 0 || len > SLOT_CAPACITY {
            return None;
        }
        let which = usize::from(header & WHICH_BIT != 0);
        let mut out = Vec::with_capacity(len.next_multiple_of(WORD));
        for w in &self.buffer(which)[..len.div_ceil(WORD)] {
            out.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        out.truncate(len);
        Some(out)
    }

    /// Replaces the saved bytes with `bytes`; false (and the previous save kept) when they
    /// are empty or do not fit in [`SLOT_CAPACITY`].
    pub fn save(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() || bytes.len() > SLOT_CAPACITY {
            return false;
        }
        let header = self.words()[0].load(Ordering::Acquire);
        let next = usize::from(header & WHICH_BIT == 0);
        for (w, chunk) in self.buffer(next).iter().zip(bytes.chunks(WORD)) {
            let mut word = [0u8; WORD];
            word[..chunk.len()].copy_from_slice(chunk);
            w.store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        let which = if next == 1 { WHICH_BIT } else { 0 };
        // Release: whoever sees the new header sees the buffer written above.
        self.words()[0].store(which | bytes.len() as u64, Ordering::Release);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_starts_empty_and_returns_its_last_save() {
        let mem = PushMemory::new(2).unwrap();
        let slot = mem.slot(1).unwrap();
        assert_eq!(slot.load(), None);
        assert!(slot.save(b"first save, longer than one word"));
        assert_eq!(
            slot.load().as_deref(),
            Some(&b"first save, longer than one word"[..])
        );
        assert!(slot.save(b"second"));
        assert_eq!(slot.load().as_deref(), Some(&b"second"[..]));
        assert!(slot.save(b"third!!!!"));
        assert_eq!(slot.load().as_deref(), Some(&b"third!!!!"[..]));
        // The other slot is untouched, and there is no third one.
        assert_eq!(mem.slot(0).unwrap().load(), None);
        assert!(mem.slot(2).is_none());
    }

    #[test]
    fn a_save_too_large_or_empty_keeps_the_previous_one() {
        let mem = PushMemory::new(1).unwrap();
        let slot = mem.slot(0).unwrap();
        assert!(slot.save(b"kept"));
        assert!(!slot.save(&vec![b'x'; SLOT_CAPACITY + 1]));
        assert!(!slot.save(b""));
        assert_eq!(slot.load().as_deref(), Some(&b"kept"[..]));
        let full = vec![b'y'; SLOT_CAPACITY];
        assert!(slot.save(&full));
        assert_eq!(slot.load(), Some(full));
    }

    #[test]
    fn what_a_child_process_saved_outlives_it() {
        let mem = PushMemory::new(1).unwrap();
        // The pusher process saves, dies; its respawn (forked from the same master, so
        // sharing the same pages as this parent) reads the save.
        // The child only stores into the shared mapping (no allocation, no lock) and leaves
        // with _exit, running none of the harness's code (fork_plain's rule in a test).
        let child = rwsgi_os::process::fork_plain().expect("fork");
        if child == 0 {
            let ok = mem.slot(0).is_some_and(|s| s.save(b"saved by the child"));
            rwsgi_os::process::exit_now(if ok { 0 } else { 1 });
        }
        let status = rwsgi_os::process::wait_for(child).unwrap();
        assert_eq!(status.exit_status(), Some(0));
        assert_eq!(
            mem.slot(0).unwrap().load().as_deref(),
            Some(&b"saved by the child"[..])
        );
    }
}
