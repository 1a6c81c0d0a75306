//! uWSGI's signal cron (`uwsgi.add_cron`): when a schedule matches (pure; the clock is passed
//! in, so tests run any minute).

use rwsgi_os::time::LocalTm;

/// `add_cron(sig, minute, hour, day, month, weekday)`'s schedule. `-1` is any value, `-N`
/// every N (the field's value divisible by N, crontab's `*/N`); weekday 7 is Sunday as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CronSpec {
    pub minute: i32,
    pub hour: i32,
    pub day: i32,
    pub month: i32,
    pub week: i32,
}

impl CronSpec {
    /// Whether local time `tm` matches, by uWSGI's rule (`uwsgi_cron_task_needs_execution`):
    /// every field must match, except that a given day of the month and a given day of the
    /// week are ORed, as in crontab.
    pub(crate) fn matches(&self, tm: &LocalTm) -> bool {
        fn field(spec: i32, now: i32) -> bool {
            if spec < 0 {
                now % spec.saturating_abs() == 0
            } else {
                spec == now
            }
        }
        let week = if self.week == 7 { 0 } else { self.week };
        let (minute, hour, month) = (
            field(self.minute, tm.minute),
            field(self.hour, tm.hour),
            field(self.month, tm.month),
        );
        let (day, wday) = (field(self.day, tm.mday), field(week, tm.wday));
        let days = if self.day >= 0 && self.week >= 0 {
            day || wday
        } else {
            day && wday
        };
        minute && hour && month && days
    }
}

/// One `add_cron` entry and when it last fired.
#[derive(Debug, Clone)]
pub(crate) struct CronEntry {
    pub sig: u8,
    pub spec: CronSpec,
    /// The minute (Unix seconds / 60) it last fired in.
    last_minute: Option<u64>,
}

impl CronEntry {
    pub(crate) fn new(sig: u8, spec: CronSpec) -> CronEntry {
        CronEntry {
            sig,
            spec,
            last_minute: None,
        }
    }

    /// Checked as often as the caller likes: true once per matching minute, at the first
    /// check in it (`now` in Unix seconds, `tm` its local time).
    pub(crate) fn due(&mut self, now: u64, tm: &LocalTm) -> bool {
        let minute = now / 60;
        if self.last_minute == Some(minute) || !self.spec.matches(tm) {
            return false;
        }
        self.last_minute = Some(minute);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake local clock: Unix seconds read as UTC, the epoch a Thursday.
    fn tm(t: u64) -> LocalTm {
        let days = t / 86_400;
        LocalTm {
            minute: ((t / 60) % 60) as i32,
            hour: ((t / 3600) % 24) as i32,
            mday: (days % 28 + 1) as i32,
            month: 1,
            wday: ((days + 4) % 7) as i32,
        }
    }

    fn spec(minute: i32, hour: i32, day: i32, month: i32, week: i32) -> CronSpec {
        CronSpec {
            minute,
            hour,
            day,
            month,
            week,
        }
    }

    #[test]
    fn any_minute_fires_once_at_each_minute_boundary() {
        let mut e = CronEntry::new(3, spec(-1, -1, -1, -1, -1));
        let start = 1_000_020; // 20 s into a minute
        let fired: Vec<u64> = (start..start + 185).filter(|&t| e.due(t, &tm(t))).collect();
        // The first check, then each boundary.
        assert_eq!(fired[0], start);
        assert!(fired[1..].iter().all(|t| t % 60 == 0), "{fired:?}");
        assert_eq!(fired.len(), 4);
    }

    #[test]
    fn checks_several_times_a_second_still_fire_once_a_minute() {
        let mut e = CronEntry::new(3, spec(-1, -1, -1, -1, -1));
        let mut n = 0;
        for t in 600..720 {
            for _ in 0..5 {
                n += e.due(t, &tm(t)) as u32;
            }
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn every_n_and_exact_values() {
        let t = |minute, hour| LocalTm {
            minute,
            hour,
            mday: 10,
            month: 3,
            wday: 2,
        };
        let every5 = spec(-5, -1, -1, -1, -1);
        assert!(every5.matches(&t(0, 7)) && every5.matches(&t(35, 7)));
        assert!(!every5.matches(&t(36, 7)));
        let at = spec(30, 4, -1, -1, -1);
        assert!(at.matches(&t(30, 4)) && !at.matches(&t(30, 5)) && !at.matches(&t(31, 4)));
        let even_hours = spec(0, -2, -1, -1, -1);
        assert!(even_hours.matches(&t(0, 4)) && !even_hours.matches(&t(0, 5)));
        assert!(spec(-1, -1, -1, 3, -1).matches(&t(1, 1)));
        assert!(!spec(-1, -1, -1, 4, -1).matches(&t(1, 1)));
    }

    #[test]
    fn day_of_month_and_weekday_are_ored_when_both_given() {
        let tue_10th = LocalTm {
            minute: 0,
            hour: 0,
            mday: 10,
            month: 3,
            wday: 2,
        };
        assert!(spec(0, 0, 10, -1, 5).matches(&tue_10th));
        assert!(spec(0, 0, 11, -1, 2).matches(&tue_10th));
        assert!(!spec(0, 0, 11, -1, 5).matches(&tue_10th));
        // Only one given: both must hold.
        assert!(!spec(0, 0, -1, -1, 5).matches(&tue_10th));
        assert!(spec(0, 0, 10, -1, -1).matches(&tue_10th));
        // 7 is Sunday.
        let sunday = LocalTm {
            wday: 0,
            ..tue_10th
        };
        assert!(spec(0, 0, -1, -1, 7).matches(&sunday));
    }
}
