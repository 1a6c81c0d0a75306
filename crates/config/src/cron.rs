//! uWSGI's command cron (`--cron`, `--unique-cron`, `--cron2`, `--cron-harakiri`): commands
//! the master runs on a schedule. This module only reads the specs; the schedule's matcher
//! is the server's (`server/src/cron.rs`, shared with `uwsgi.add_cron`'s signal cron).

/// A cron schedule, uWSGI's five numbers: `-1` is any value, `-N` every N (the field's value
/// divisible by N, crontab's `*/N`), any other value that value; week 0 and 7 are Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronSpec {
    /// 0-59.
    pub minute: i32,
    /// 0-23.
    pub hour: i32,
    /// Day of the month, 1-31.
    pub day: i32,
    /// 1-12.
    pub month: i32,
    /// Day of the week, 0-7 (0 and 7: Sunday).
    pub week: i32,
}

impl CronSpec {
    /// Every minute (`-1 -1 -1 -1 -1`, `--cron2`'s default).
    pub const ANY: CronSpec = CronSpec::new(-1, -1, -1, -1, -1);

    /// The five numbers in uWSGI's order (not validated: see [`CronTask::parse`]).
    pub const fn new(minute: i32, hour: i32, day: i32, month: i32, week: i32) -> CronSpec {
        CronSpec {
            minute,
            hour,
            day,
            month,
            week,
        }
    }

    /// A value no clock can have (minute 60, day 0, ...) is refused: uWSGI takes it and the
    /// task never runs.
    fn validated(self) -> Result<CronSpec, String> {
        let fields = [
            ("minute", self.minute, 0, 59),
            ("hour", self.hour, 0, 23),
            ("day", self.day, 1, 31),
            ("month", self.month, 1, 12),
            ("week", self.week, 0, 7),
        ];
        for (name, value, lo, hi) in fields {
            if value >= 0 && !(lo..=hi).contains(&value) {
                return Err(format!(
                    "{name} {value} never comes ({lo}-{hi}, or -1 for any, -N for every N)"
                ));
            }
        }
        Ok(self)
    }
}

/// One command the master runs on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTask {
    /// When.
    pub spec: CronSpec,
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
    /// `--unique-cron`, `--cron2 unique=1`: not started again while its last run is alive.
    pub unique: bool,
    /// `--cron2 harakiri=N`: kill a run after N seconds (`Some(0)`: never, whatever
    /// `--cron-harakiri` says); `None`: `--cron-harakiri`'s.
    pub harakiri: Option<u64>,
}

impl CronTask {
    /// `--cron` / `--unique-cron`: `MINUTE HOUR DAY MONTH WEEK COMMAND` (uWSGI reads the five
    /// numbers with `sscanf("%d %d %d %d %d %n")`; the command is the rest of the line).
    pub fn parse(value: &str, unique: bool) -> Result<CronTask, String> {
        let mut rest = value.trim_start();
        let mut n = [0i32; 5];
        for (i, slot) in n.iter_mut().enumerate() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            if word.is_empty() {
                return Err(format!(
                    "expected 'MINUTE HOUR DAY MONTH WEEK COMMAND': only {i} number(s)"
                ));
            }
            *slot = word
                .parse()
                .map_err(|_| format!("'{word}' is not a number (-1 for any, -N for every N)"))?;
            rest = rest[end..].trim_start();
        }
        let command = rest.trim_end();
        if command.is_empty() {
            return Err("no command after the five numbers".into());
        }
        let [minute, hour, day, month, week] = n;
        Ok(CronTask {
            spec: CronSpec {
                minute,
                hour,
                day,
                month,
                week,
            }
            .validated()?,
            command: command.to_string(),
            unique,
            harakiri: None,
        })
    }

    /// `--cron2 KEY=VAL,... COMMAND` (or a bare `COMMAND`: every minute) with uWSGI's keys
    /// minute, hour, day, month, week (each -1 by default), unique, harakiri. uWSGI's
    /// `legion` is refused by name (rwsgi has no Legions), and so is a key uWSGI ignores.
    pub fn keyval(value: &str) -> Result<CronTask, String> {
        let value = value.trim();
        let (keys, command) = match value.split_once(char::is_whitespace) {
            Some((first, rest)) if first.contains('=') => (first, rest.trim()),
            // uWSGI: no '=' in the first word, the whole value is the command.
            _ if !value.contains(char::is_whitespace) && value.contains('=') => {
                return Err("KEY=VAL,... and no command after it".into());
            }
            _ => ("", value),
        };
        if command.is_empty() {
            return Err("no command".into());
        }
        let mut task = CronTask {
            spec: CronSpec::ANY,
            command: command.to_string(),
            unique: false,
            harakiri: None,
        };
        for item in keys.split(',').filter(|s| !s.is_empty()) {
            let (key, val) = item.split_once('=').unwrap_or((item, ""));
            let number = |v: &str| {
                v.parse::<i32>()
                    .map_err(|_| format!("{key}={v}: expected a number"))
            };
            match key {
                "minute" => task.spec.minute = number(val)?,
                "hour" => task.spec.hour = number(val)?,
                "day" => task.spec.day = number(val)?,
                "month" => task.spec.month = number(val)?,
                "week" => task.spec.week = number(val)?,
                "unique" => task.unique = number(val)? != 0,
                "harakiri" => {
                    task.harakiri = Some(
                        val.parse()
                            .map_err(|_| format!("harakiri={val}: expected seconds (0: never)"))?,
                    );
                }
                "legion" => {
                    return Err("the 'legion' key is not supported: rwsgi has no Legions".into())
                }
                k => return Err(format!("unknown key '{k}'")),
            }
        }
        task.spec = task.spec.validated()?;
        Ok(task)
    }

    /// How long a run may last, in seconds, given `--cron-harakiri` (`cron_harakiri`, 0: no
    /// limit): uWSGI's rule, `harakiri=N` first (0 turns the limit off), else the option's.
    pub fn harakiri_secs(&self, cron_harakiri: u64) -> Option<u64> {
        Some(self.harakiri.unwrap_or(cron_harakiri)).filter(|&s| s > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(minute: i32, hour: i32, day: i32, month: i32, week: i32) -> CronSpec {
        CronSpec::new(minute, hour, day, month, week)
    }

    #[test]
    fn five_numbers_then_the_rest_of_the_line_is_the_command() {
        let t = CronTask::parse("-15 -1 -1 -1 -1 ./manage.py runjobs quarter_hourly", true)
            .expect("mailman-web's");
        assert_eq!(t.spec, spec(-15, -1, -1, -1, -1));
        assert_eq!(t.command, "./manage.py runjobs quarter_hourly");
        assert!(t.unique);
        assert_eq!(t.harakiri, None);
        let t = CronTask::parse("  30\t4 +1  -1 7   echo  a  b  ", false).expect("spaces");
        assert_eq!(t.spec, spec(30, 4, 1, -1, 7));
        assert_eq!(t.command, "echo  a  b");
        assert!(!t.unique);
    }

    #[test]
    fn bad_cron_specs_say_what_is_wrong() {
        for (value, says) in [
            ("", "only 0 number"),
            ("-1 -1 -1", "only 3 number"),
            ("-1 -1 -1 -1 -1", "no command"),
            ("-1 -1 -1 -1 -1   ", "no command"),
            ("* -1 -1 -1 -1 true", "'*' is not a number"),
            ("-1 -1 -1 -1 1x true", "'1x' is not a number"),
            ("60 -1 -1 -1 -1 true", "minute 60 never comes"),
            ("-1 24 -1 -1 -1 true", "hour 24"),
            ("-1 -1 0 -1 -1 true", "day 0"),
            ("-1 -1 -1 13 -1 true", "month 13"),
            ("-1 -1 -1 -1 8 true", "week 8"),
            ("99999999999 -1 -1 -1 -1 true", "not a number"),
        ] {
            let e = CronTask::parse(value, false).expect_err(value);
            assert!(e.contains(says), "{value:?}: {e}");
        }
        // Every N, however large, can come (minute 0 is divisible by anything).
        assert!(CronTask::parse("-90 -100 -1 -1 -1 true", false).is_ok());
    }

    #[test]
    fn cron2_keys_default_to_every_minute() {
        let t = CronTask::keyval("minute=-5,hour=3,unique=1,harakiri=30 /usr/bin/job --now")
            .expect("valid");
        assert_eq!(t.spec, spec(-5, 3, -1, -1, -1));
        assert_eq!(t.command, "/usr/bin/job --now");
        assert!(t.unique);
        assert_eq!(t.harakiri, Some(30));
        let t = CronTask::keyval("day=1,month=6,week=0,unique=0 true").expect("valid");
        assert_eq!(t.spec, spec(-1, -1, 1, 6, 0));
        assert!(!t.unique);
        // No '=' in the first word: the whole value is the command, every minute.
        let t = CronTask::keyval("/bin/echo minute=5").expect("valid");
        assert_eq!(t.spec, CronSpec::ANY);
        assert_eq!(t.command, "/bin/echo minute=5");
        assert_eq!(CronTask::keyval("true").expect("valid").command, "true");
    }

    #[test]
    fn cron2_refuses_what_it_cannot_do_by_name() {
        for (value, says) in [
            ("minute=5", "no command"),
            ("minute=5,hour=2", "no command"),
            ("legion=web true", "'legion' key is not supported"),
            ("colour=red true", "unknown key 'colour'"),
            ("minute=x true", "minute=x: expected a number"),
            ("harakiri=-1 true", "harakiri=-1"),
            ("minute=61 true", "minute 61 never comes"),
            ("", "no command"),
        ] {
            let e = CronTask::keyval(value).expect_err(value);
            assert!(e.contains(says), "{value:?}: {e}");
        }
    }

    #[test]
    fn harakiri_is_the_tasks_then_cron_harakiris_and_zero_is_never() {
        let mut t = CronTask::parse("-1 -1 -1 -1 -1 true", false).expect("valid");
        assert_eq!(t.harakiri_secs(0), None);
        assert_eq!(t.harakiri_secs(10), Some(10));
        t.harakiri = Some(3);
        assert_eq!(t.harakiri_secs(10), Some(3));
        t.harakiri = Some(0);
        assert_eq!(t.harakiri_secs(10), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_says_why(value in ".{0,80}", unique: bool) {
            for r in [CronTask::parse(&value, unique), CronTask::keyval(&value)] {
                match r {
                    Ok(t) => {
                        proptest::prop_assert!(!t.command.is_empty());
                        proptest::prop_assert_eq!(t.command.trim(), t.command.as_str());
                    }
                    Err(e) => proptest::prop_assert!(!e.is_empty()),
                }
            }
        }

        #[test]
        fn valid_specs_read_back(
            minute in -70i32..60, hour in -30i32..24, day in -40i32..32,
            month in -13i32..13, week in -8i32..8, command in "[a-z][a-z ]{0,20}[a-z]",
        ) {
            let spec = CronSpec { minute, hour, day, month, week };
            let line = format!("{minute} {hour} {day} {month} {week} {command}");
            let ok = spec.validated().is_ok();
            let parsed = CronTask::parse(&line, false);
            proptest::prop_assert_eq!(parsed.is_ok(), ok, "{}", line);
            if let Ok(t) = parsed {
                proptest::prop_assert_eq!(t.spec, spec);
                proptest::prop_assert_eq!(t.command, command);
            }
        }
    }
}
