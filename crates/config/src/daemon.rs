//! `--attach-daemon`, `--attach-control-daemon`, `--smart-attach-daemon(2)` and
//! `--attach-daemon2 key=val,...`: processes the master runs beside the workers (uWSGI's
//! "external daemons").

use std::path::PathBuf;

/// One managed process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
    /// Smart daemon: the process is the one this pidfile names (it may daemonize itself); it
    /// is started only when the pidfile names no live process, and is left running when the
    /// server stops (uWSGI's semantics: it survives reloads).
    pub pidfile: Option<PathBuf>,
    /// With a pidfile: the master daemonizes the command and writes the pidfile itself.
    pub daemonize: bool,
    /// Seconds between pidfile checks before a smart daemon counts as dead (uWSGI's `freq`).
    pub freq: u64,
    /// A control daemon: when it dies the whole server shuts down.
    pub control: bool,
    /// Files whose modification restarts the daemon.
    pub touch: Vec<PathBuf>,
    /// Signal that stops it (default SIGTERM), sent to its process group.
    pub stop_signal: i32,
    /// Directory it runs in.
    pub chdir: Option<PathBuf>,
    /// Longest respawn throttle in seconds (uWSGI caps it at 300 without this).
    pub max_throttle: Option<u64>,
}

impl DaemonSpec {
    /// A plain daemon running `command` (uWSGI's defaults: freq 10, SIGTERM).
    pub fn plain(command: &str) -> DaemonSpec {
        DaemonSpec {
            command: command.trim().to_string(),
            pidfile: None,
            daemonize: false,
            freq: 10,
            control: false,
            touch: Vec::new(),
            stop_signal: SIGTERM,
            chdir: None,
            max_throttle: None,
        }
    }

    /// `--smart-attach-daemon PIDFILE[,FREQ] COMMAND` (`daemonize`: the `2` variant).
    pub fn smart(value: &str, daemonize: bool) -> Result<DaemonSpec, String> {
        let value = value.trim();
        let Some((pidfile, command)) = value.split_once(char::is_whitespace) else {
            return Err("expected 'PIDFILE COMMAND'".into());
        };
        let (pidfile, freq) = match pidfile.split_once(',') {
            Some((p, f)) => (p, Some(parse_number("freq", f)?)),
            None => (pidfile, None),
        };
        let mut spec = DaemonSpec::plain(command);
        spec.pidfile = Some(PathBuf::from(pidfile));
        spec.daemonize = daemonize;
        if let Some(f) = freq {
            spec.freq = f;
        }
        spec.validated()
    }

    /// `--attach-daemon2 key=val,...` with uWSGI's keys; a key uWSGI has whose feature rwsgi
    /// lacks (`uid`, `gid`, `ns_pid`, `stdin`, `reloadsignal`, `notifypid`, `legion`) or one
    /// uWSGI does not know is refused by name.
    pub fn keyval(value: &str) -> Result<DaemonSpec, String> {
        let mut spec = DaemonSpec::plain("");
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, val) = item.split_once('=').unwrap_or((item, ""));
            let val = val.trim();
            match key.trim() {
                "command" | "cmd" | "exec" => spec.command = val.to_string(),
                "freq" => spec.freq = parse_number("freq", val)?,
                "pidfile" => spec.pidfile = Some(PathBuf::from(val)),
                "control" => spec.control = truthy(val),
                "daemonize" | "daemon" => spec.daemonize = truthy(val),
                "touch" => spec
                    .touch
                    .extend(val.split(';').filter(|s| !s.is_empty()).map(PathBuf::from)),
                "stopsignal" | "stop_signal" => {
                    let n = parse_number("stopsignal", val)?;
                    spec.stop_signal = i32::try_from(n)
                        .ok()
                        .filter(|n| (1..=64).contains(n))
                        .ok_or_else(|| format!("stopsignal={val}: not a signal number"))?;
                }
                "chdir" => spec.chdir = Some(PathBuf::from(val)),
                "max_throttle" => spec.max_throttle = Some(parse_number("max_throttle", val)?),
                k @ ("reloadsignal" | "reload_signal" | "stdin" | "uid" | "gid" | "ns_pid"
                | "notifypid" | "legion") => {
                    return Err(format!("the '{k}' key is not supported by rwsgi"));
                }
                k => return Err(format!("unknown key '{k}'")),
            }
        }
        if spec.command.is_empty() {
            return Err("you need to specify a 'command' key".into());
        }
        spec.validated()
    }

    fn validated(self) -> Result<DaemonSpec, String> {
        if self.command.is_empty() {
            return Err("no command".into());
        }
        if self.daemonize && self.pidfile.is_none() {
            return Err("'daemonize' needs a 'pidfile'".into());
        }
        Ok(self)
    }
}

/// SIGTERM's number (15 on every Linux architecture; this crate has no libc).
const SIGTERM: i32 = 15;

fn truthy(v: &str) -> bool {
    !matches!(v, "0" | "false" | "no" | "off")
}

fn parse_number(key: &str, v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{key}={v}: expected a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyval_reads_uwsgis_common_keys() {
        let d = DaemonSpec::keyval(
            "cmd=memcached -p 1,pidfile=/tmp/m.pid,daemonize=1,freq=3,control=1,touch=/a;/b,\
             stopsignal=2,chdir=/srv,max_throttle=5",
        )
        .expect("valid");
        assert_eq!(d.command, "memcached -p 1");
        assert_eq!(d.pidfile, Some(PathBuf::from("/tmp/m.pid")));
        assert!(d.daemonize && d.control);
        assert_eq!((d.freq, d.stop_signal, d.max_throttle), (3, 2, Some(5)));
        assert_eq!(d.touch, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(d.chdir, Some(PathBuf::from("/srv")));
    }

    #[test]
    fn keyval_refuses_unknown_and_unsupported_keys_by_name_and_needs_a_command() {
        let e = DaemonSpec::keyval("cmd=x,colour=red").expect_err("unknown");
        assert!(e.contains("'colour'"), "{e}");
        let e = DaemonSpec::keyval("cmd=x,uid=nobody").expect_err("unsupported");
        assert!(e.contains("'uid'") && e.contains("not supported"), "{e}");
        assert!(DaemonSpec::keyval("freq=2").is_err());
        assert!(DaemonSpec::keyval("cmd=x,daemonize=1").is_err());
        assert!(DaemonSpec::keyval("cmd=x,stopsignal=99").is_err());
    }

    #[test]
    fn smart_takes_a_pidfile_an_optional_freq_and_a_command() {
        let d = DaemonSpec::smart("/run/x.pid,2 /usr/bin/x --flag", false).expect("valid");
        assert_eq!(d.pidfile, Some(PathBuf::from("/run/x.pid")));
        assert_eq!((d.freq, d.command.as_str()), (2, "/usr/bin/x --flag"));
        assert!(DaemonSpec::smart("/run/x.pid", false).is_err());
        assert!(
            DaemonSpec::smart("/run/x.pid 'cmd'", true)
                .expect("valid")
                .daemonize
        );
    }
}
