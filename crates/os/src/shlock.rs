//! Locks shared by the master and every worker forked after them (uWSGI's user locks,
//! `uwsgi.lock(n)`): futex mutexes in a `MAP_SHARED` mapping.

use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use rustix::thread::futex;

use crate::mm::SharedArray;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and someone may be sleeping on it: the unlocker must wake one.
const CONTENDED: u32 = 2;

/// How long a waiter sleeps before it checks whether the holder died.
const HOLDER_CHECK: futex::Timespec = futex::Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// `n` process-shared mutexes (Drepper's three-state futex mutex), not recursive. Robust as
/// uWSGI's (pthread robust mutexes) are: a lock whose holder process died (a worker killed
/// by harakiri) is taken over by one of its waiters instead of blocking them forever.
#[derive(Debug)]
pub struct SharedLocks {
    /// Per lock: its state word, then its holder's pid (0 while free or being taken); zero
    /// when mapped, i.e. unlocked with no holder.
    words: SharedArray<AtomicU32>,
    count: usize,
}

impl SharedLocks {
    /// Maps `count` unlocked locks (at least one).
    pub fn new(count: usize) -> io::Result<SharedLocks> {
        let count = count.max(1);
        let words = SharedArray::new(count * 2)?;
        Ok(SharedLocks { words, count })
    }

    /// How many locks there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Lock `n`'s state word and holder word.
    fn words(&self, n: usize) -> Option<(&AtomicU32, &AtomicU32)> {
        if n >= self.count {
            return None;
        }
        Some((&self.words[2 * n], &self.words[2 * n + 1]))
    }

    fn word(&self, n: usize) -> Option<&AtomicU32> {
        self.words(n).map(|(state, _)| state)
    }

    /// Takes lock `n`, sleeping while another process or thread holds it. False when `n` is
    /// out of range.
    pub fn lock(&self, n: usize) -> bool {
        let Some((word, holder)) = self.words(n) else {
            return false;
        };
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        if word
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
        {
            holder.store(me, Relaxed);
            return true;
        }
        // Announce a waiter, then sleep until it is released (no private flag: the word is
        // shared between processes), looking now and then whether its holder died.
        while word.swap(CONTENDED, Acquire) != UNLOCKED {
            let waited = futex::wait(word, futex::Flags::empty(), CONTENDED, Some(&HOLDER_CHECK));
            if waited == Err(rustix::io::Errno::TIMEDOUT) {
                let dead = holder.load(Relaxed);
                // One waiter wins the takeover (the holder word arbitrates); the lock stays
                // held, now by it.
                if dead != 0
                    && !process_alive(dead)
                    && holder.compare_exchange(dead, me, Acquire, Relaxed).is_ok()
                {
                    return true;
                }
            }
        }
        holder.store(me, Relaxed);
        true
    }

    /// Releases lock `n` (held or not, as uWSGI does). False when `n` is out of range.
    pub fn unlock(&self, n: usize) -> bool {
        let Some((word, holder)) = self.words(n) else {
            return false;
        };
        holder.store(0, Relaxed);
        if word.swap(UNLOCKED, Release) == CONTENDED {
            let _ = futex::wake(word, futex::Flags::empty(), 1);
        }
        true
    }

    /// The pid of lock `n`'s holder (0 while free, or for an `n` out of range), as uWSGI's
    /// stats show each lock.
    pub fn holder(&self, n: usize) -> u32 {
        self.words(n).map_or(0, |(_, holder)| holder.load(Relaxed))
    }

    /// True when lock `n` is held by someone.
    pub fn is_locked(&self, n: usize) -> bool {
        self.word(n).is_some_and(|w| w.load(Relaxed) != UNLOCKED)
    }
}

/// False once `pid` has exited (and was reaped); a pid that cannot be signalled for lack of
/// permission is alive.
fn process_alive(pid: u32) -> bool {
    match rustix::process::Pid::from_raw(pid as i32) {
        Some(p) => rustix::process::test_kill_process(p) != Err(rustix::io::Errno::SRCH),
        None => false,
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

    #[test]
    fn a_lock_whose_holder_died_is_taken_over_by_a_waiter() {
        let locks = SharedLocks::new(1).unwrap();
        // The child only takes the lock (atomics, getpid, futex) and leaves with _exit: no
        // allocation, no lock another thread of the test harness could hold (fork_plain's rule).
        let child = crate::process::fork_plain().unwrap();
        if child == 0 {
            locks.lock(0);
            crate::process::exit_now(0);
        }
        assert!(crate::process::wait_for(child).unwrap().exited());
        assert!(locks.is_locked(0), "the child died holding the lock");
        // The waiter sees the holder gone and takes the lock over; it is then an ordinary one.
        assert!(locks.lock(0));
        assert!(locks.unlock(0));
        assert!(!locks.is_locked(0));
        assert!(locks.lock(0));
        assert!(locks.unlock(0));
    }
}
