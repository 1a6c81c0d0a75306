//! Locks shared by the master and every worker forked after them (uWSGI's user locks,
//! `uwsgi.lock(n)`): futex mutexes in a `MAP_SHARED` mapping.

use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use rustix::thread::futex;

use crate::mm::SharedMapping;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and someone may be sleeping on it: the unlocker must wake one.
const CONTENDED: u32 = 2;

/// `n` process-shared mutexes (Drepper's three-state futex mutex). Not recursive, and not
/// robust: a process that dies holding one leaves it held, as a uWSGI lock without robust
/// mutex support does.
#[derive(Debug)]
pub struct SharedLocks {
    mapping: SharedMapping,
    count: usize,
}

// SAFETY: the mapping is only ever accessed through `&AtomicU32`s.
unsafe impl Send for SharedLocks {}
// SAFETY: as above: every access is atomic.
unsafe impl Sync for SharedLocks {}

impl SharedLocks {
    /// Maps `count` unlocked locks (at least one).
    pub fn new(count: usize) -> io::Result<SharedLocks> {
        let count = count.max(1);
        let mapping = SharedMapping::new(count * std::mem::size_of::<AtomicU32>())?;
        Ok(SharedLocks { mapping, count })
    }

    /// How many locks there are.
    pub fn count(&self) -> usize {
        self.count
    }

    fn word(&self, n: usize) -> Option<&AtomicU32> {
        if n >= self.count {
            return None;
        }
        // SAFETY: the mapping is page-aligned, zero-filled (= UNLOCKED), at least
        // `count * 4` bytes long and lives as long as `self`; `n < count`.
        Some(unsafe { &*self.mapping.as_ptr().cast::<AtomicU32>().add(n) })
    }

    /// Takes lock `n`, sleeping while another process or thread holds it. False when `n` is
    /// out of range.
    pub fn lock(&self, n: usize) -> bool {
        let Some(word) = self.word(n) else {
            return false;
        };
        if word
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
        {
            return true;
        }
        // Announce a waiter, then sleep until it is released (no private flag: the word is
        // shared between processes).
        while word.swap(CONTENDED, Acquire) != UNLOCKED {
            let _ = futex::wait(word, futex::Flags::empty(), CONTENDED, None);
        }
        true
    }

    /// Releases lock `n` (held or not, as uWSGI does). False when `n` is out of range.
    pub fn unlock(&self, n: usize) -> bool {
        let Some(word) = self.word(n) else {
            return false;
        };
        if word.swap(UNLOCKED, Release) == CONTENDED {
            let _ = futex::wake(word, futex::Flags::empty(), 1);
        }
        true
    }

    /// True when lock `n` is held by someone.
    pub fn is_locked(&self, n: usize) -> bool {
        self.word(n).is_some_and(|w| w.load(Relaxed) != UNLOCKED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn lock_excludes_other_threads_and_range_is_checked() {
        let locks = Arc::new(SharedLocks::new(2).unwrap());
        assert!(!locks.lock(2));
        assert!(!locks.unlock(2));
        let counter = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (locks, counter) = (locks.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        assert!(locks.lock(1));
                        // A non-atomic read-modify-write: lost updates if the lock leaks.
                        let v = counter.load(Relaxed);
                        std::hint::spin_loop();
                        counter.store(v + 1, Relaxed);
                        assert!(locks.unlock(1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Relaxed), 8000);
        assert!(!locks.is_locked(1));
        assert!(locks.lock(0));
        assert!(locks.is_locked(0));
        assert!(!locks.is_locked(1));
    }
}
