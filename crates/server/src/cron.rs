//! uWSGI's cron schedules, for both its crons: the signal cron (`uwsgi.add_cron`, the
//! signal hub's) and the command cron (`--cron`, `--unique-cron`, `--cron2`: the master's
//! `master/crons.rs`). When a schedule matches and when a task is due are pure here: the
//! clock is passed in, so tests run any minute.

use rwsgi_config::{CronSpec, CronTask};
use rwsgi_os::process::RawPid;
use rwsgi_os::time::LocalTm;

/// Whether local time `tm` matches `spec`, by uWSGI's rule (`uwsgi_cron_task_needs_execution`):
/// every field must match, except that a given day of the month and a given day of the week
/// are ORed, as in crontab.
pub(crate) fn matches(spec: &CronSpec, tm: &LocalTm) -> bool {
    fn field(spec: i32, now: i32) -> bool {
        if spec < 0 {
            now % spec.saturating_abs() == 0
        } else {
            spec == now
        }
    }
    let week = if spec.week == 7 { 0 } else { spec.week };
    let (minute, hour, month) = (
        field(spec.minute, tm.minute),
        field(spec.hour, tm.hour),
        field(spec.month, tm.month),
    );
    let (day, wday) = (field(spec.day, tm.mday), field(week, tm.wday));
    let days = if spec.day >= 0 && spec.week >= 0 {
        day || wday
    } else {
        day && wday
    };
    minute && hour && month && days
}

/// A schedule and the minute it last fired in.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub spec: CronSpec,
    /// The minute (Unix seconds / 60) it last fired in.
    last_minute: Option<u64>,
}

impl Schedule {
    pub(crate) fn new(spec: CronSpec) -> Schedule {
        Schedule {
            spec,
            last_minute: None,
        }
    }

    /// Checked as often as the caller likes: true once per matching minute, at the first
    /// check in it (`now` in Unix seconds, `tm` its local time).
    pub(crate) fn due(&mut self, now: u64, tm: &LocalTm) -> bool {
        let minute = now / 60;
        if self.last_minute == Some(minute) || !matches(&self.spec, tm) {
            return false;
        }
        self.last_minute = Some(minute);
        true
    }
}

/// One `add_cron` entry: the signal it raises.
#[derive(Debug, Clone)]
pub(crate) struct CronEntry {
    pub sig: u8,
    pub schedule: Schedule,
}

impl CronEntry {
    pub(crate) fn new(sig: u8, spec: CronSpec) -> CronEntry {
        CronEntry {
            sig,
            schedule: Schedule::new(spec),
        }
    }

    /// See [`Schedule::due`].
    pub(crate) fn due(&mut self, now: u64, tm: &LocalTm) -> bool {
        self.schedule.due(now, tm)
    }
}

/// One run of a command cron task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub pid: RawPid,
    /// Unix seconds.
    pub started: u64,
    /// Killed when still running past this second (`--cron-harakiri`, `harakiri=`).
    pub deadline: Option<u64>,
}

/// A command cron task and its runs (a task that is not unique may have several at once).
#[derive(Debug, Clone)]
pub(crate) struct CommandCron {
    pub task: CronTask,
    schedule: Schedule,
    /// Its live runs, oldest first.
    runs: Vec<Run>,
    /// `task.harakiri_secs(--cron-harakiri)`.
    harakiri: Option<u64>,
}

impl CommandCron {
    pub(crate) fn new(task: CronTask, cron_harakiri: u64) -> CommandCron {
        CommandCron {
            schedule: Schedule::new(task.spec),
            harakiri: task.harakiri_secs(cron_harakiri),
            task,
            runs: Vec::new(),
        }
    }

    /// Whether to start the command now. uWSGI's order: a unique task with a live run is
    /// skipped before its schedule is looked at, so once the run ends a still-matching
    /// minute starts it.
    pub(crate) fn due(&mut self, now: u64, tm: &LocalTm) -> bool {
        if self.task.unique && !self.runs.is_empty() {
            return false;
        }
        self.schedule.due(now, tm)
    }

    /// The command was started as `pid` at `now`.
    pub(crate) fn started(&mut self, pid: RawPid, now: u64) {
        self.runs.push(Run {
            pid,
            started: now,
            deadline: self.harakiri.map(|s| now.saturating_add(s)),
        });
    }

    /// `pid` exited: its run, if it was one of this task's.
    pub(crate) fn exited(&mut self, pid: RawPid) -> Option<Run> {
        let i = self.runs.iter().position(|r| r.pid == pid)?;
        Some(self.runs.remove(i))
    }

    /// The runs past their deadline at `now`, each returned once (its deadline is cleared:
    /// it is being killed, and its exit is still reported by [`CommandCron::exited`]).
    pub(crate) fn overdue(&mut self, now: u64) -> Vec<RawPid> {
        let mut late = Vec::new();
        for r in &mut self.runs {
            if r.deadline.is_some_and(|d| d < now) {
                r.deadline = None;
                late.push(r.pid);
            }
        }
        late
    }

    /// Whether a run is alive.
    #[cfg(test)]
    pub(crate) fn running(&self) -> bool {
        !self.runs.is_empty()
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
        CronSpec::new(minute, hour, day, month, week)
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
        assert!(matches(&every5, &t(0, 7)) && matches(&every5, &t(35, 7)));
        assert!(!matches(&every5, &t(36, 7)));
        let at = spec(30, 4, -1, -1, -1);
        assert!(matches(&at, &t(30, 4)) && !matches(&at, &t(30, 5)) && !matches(&at, &t(31, 4)));
        let even_hours = spec(0, -2, -1, -1, -1);
        assert!(matches(&even_hours, &t(0, 4)) && !matches(&even_hours, &t(0, 5)));
        assert!(matches(&spec(-1, -1, -1, 3, -1), &t(1, 1)));
        assert!(!matches(&spec(-1, -1, -1, 4, -1), &t(1, 1)));
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
        assert!(matches(&spec(0, 0, 10, -1, 5), &tue_10th));
        assert!(matches(&spec(0, 0, 11, -1, 2), &tue_10th));
        assert!(!matches(&spec(0, 0, 11, -1, 5), &tue_10th));
        // Only one given: both must hold.
        assert!(!matches(&spec(0, 0, -1, -1, 5), &tue_10th));
        assert!(matches(&spec(0, 0, 10, -1, -1), &tue_10th));
        // 7 is Sunday.
        let sunday = LocalTm {
            wday: 0,
            ..tue_10th
        };
        assert!(matches(&spec(0, 0, -1, -1, 7), &sunday));
    }

    fn task(line: &str, unique: bool) -> CronTask {
        CronTask::parse(line, unique).expect("valid")
    }

    /// Runs the master's loop over `secs` (one check a second, as `master/crons.rs` does): a
    /// run started at second t lasts `lasts` seconds. Returns the start times.
    fn simulate(c: &mut CommandCron, secs: std::ops::Range<u64>, lasts: u64) -> Vec<u64> {
        let mut starts = Vec::new();
        let mut pid = 100;
        let mut ends: Vec<(u64, RawPid)> = Vec::new();
        for t in secs {
            for &(_, p) in ends.iter().filter(|(end, _)| *end == t) {
                assert!(c.exited(p).is_some());
            }
            if c.due(t, &tm(t)) {
                pid += 1;
                c.started(pid, t);
                ends.push((t + lasts, pid));
                starts.push(t);
            }
        }
        starts
    }

    #[test]
    fn every_fifteen_minutes_from_the_fake_clock() {
        let mut c = CommandCron::new(task("-15 -1 -1 -1 -1 job", true), 0);
        let start = 86_400 * 3 + 7 * 60 + 13; // 00:07:13
        let starts = simulate(&mut c, start..start + 3600, 5);
        let minutes: Vec<u64> = starts.iter().map(|t| (t / 60) % 60).collect();
        assert_eq!(minutes, [15, 30, 45, 0]);
        assert!(starts.iter().all(|t| t % 60 == 0), "{starts:?}");
    }

    #[test]
    fn a_unique_task_waits_for_its_run_and_a_plain_one_does_not() {
        // Each run lasts 150 s: a plain task starts every minute anyway, a unique one only once
        // its run ended, in a minute that still matches (uWSGI's order of checks).
        let start = 6_000; // a minute boundary
        let mut plain = CommandCron::new(task("-1 -1 -1 -1 -1 job", false), 0);
        assert_eq!(
            simulate(&mut plain, start..start + 300, 150),
            [6_000, 6_060, 6_120, 6_180, 6_240]
        );
        let mut unique = CommandCron::new(task("-1 -1 -1 -1 -1 job", true), 0);
        assert_eq!(
            simulate(&mut unique, start..start + 300, 150),
            [6_000, 6_150]
        );
        assert!(unique.running());
        // An unknown pid is not a run of this task.
        assert_eq!(unique.exited(1), None);
    }

    #[test]
    fn overdue_runs_are_named_once_and_still_reported_when_they_exit() {
        let mut t = task("-1 -1 -1 -1 -1 sleep 100", false);
        let mut c = CommandCron::new(t.clone(), 5);
        c.started(7, 1_000);
        c.started(8, 1_003);
        assert!(c.overdue(1_005).is_empty(), "not past the deadline yet");
        assert_eq!(c.overdue(1_006), [7]);
        assert!(c.overdue(1_007).is_empty(), "named once");
        assert_eq!(c.overdue(1_009), [8]);
        assert_eq!(
            c.exited(7),
            Some(Run {
                pid: 7,
                started: 1_000,
                deadline: None
            })
        );
        // harakiri=0 overrides --cron-harakiri.
        t.harakiri = Some(0);
        let mut c = CommandCron::new(t, 5);
        c.started(9, 0);
        assert!(c.overdue(1_000_000).is_empty());
    }
}
