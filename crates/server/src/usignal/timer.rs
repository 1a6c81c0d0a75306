//! uWSGI's signal timers (`uwsgi.add_timer`, `uwsgi.add_rb_timer`): when each fires (pure;
//! the time is passed in).

use std::time::{Duration, Instant};

/// A timer raising `sig` every `every`; `left` firings when it has a limit (an rb timer's
/// iterations).
#[derive(Debug, Clone)]
pub(crate) struct Timer {
    pub sig: u8,
    every: Duration,
    next: Instant,
    left: Option<u32>,
}

impl Timer {
    /// A timer first due `every` after `now`; `iterations` 0 means forever.
    pub(crate) fn new(sig: u8, every: Duration, iterations: u32, now: Instant) -> Timer {
        Timer {
            sig,
            every,
            next: now + every,
            left: (iterations > 0).then_some(iterations),
        }
    }

    /// True when it fires at `now` (then it is due again `every` later; ticks the caller
    /// missed are not made up for, as a kernel timer's would not be).
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        if now < self.next || self.left == Some(0) {
            return false;
        }
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        if let Some(left) = &mut self.left {
            *left -= 1;
        }
        true
    }

    /// False once an rb timer made its last firing.
    pub(crate) fn live(&self) -> bool {
        self.left != Some(0)
    }

    /// When it is next due.
    pub(crate) fn next(&self) -> Instant {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_every_period_and_not_in_between() {
        let t0 = Instant::now();
        let mut t = Timer::new(1, Duration::from_secs(2), 0, t0);
        let s = |ms| t0 + Duration::from_millis(ms);
        assert!(!t.fire(s(1999)));
        assert!(t.fire(s(2000)));
        assert!(!t.fire(s(2100)));
        assert!(t.fire(s(4100)));
        assert!(t.live());
        // A long stall: one firing, then back on period.
        assert!(t.fire(s(20_000)));
        assert!(!t.fire(s(20_500)));
        assert!(t.fire(s(22_000)));
    }

    #[test]
    fn iterations_limit_an_rb_timer() {
        let t0 = Instant::now();
        let mut t = Timer::new(1, Duration::from_secs(1), 2, t0);
        let n = (1..=10)
            .filter(|&i| t.fire(t0 + Duration::from_secs(i)))
            .count();
        assert_eq!(n, 2);
        assert!(!t.live());
    }
}
