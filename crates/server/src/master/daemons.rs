//! Attached daemons (`--attach-daemon`, `--attach-daemon2`, `--smart-attach-daemon`...), as
//! uWSGI's "external daemons": processes the master starts after the workers, in a session of
//! their own (so their stop signal reaches what their shell started), respawns with uWSGI's
//! throttle when they die, restarts when a `touch` file changes, and stops with the server.
//! A smart daemon is the process its pidfile names: started only when no live process is
//! named there, and left running when the server stops.

use std::ffi::CString;
use std::path::Path;
use std::time::{Duration, Instant};

use rwsgi_config::DaemonSpec;
use rwsgi_os::process::{self, RawPid};
use rwsgi_os::Signal;

use super::{Master, Phase};
use crate::touch::TouchWatch;

/// uWSGI's longest throttle without `max_throttle`, in seconds.
const MAX_THROTTLE: u64 = 300;

/// One managed process and what the master knows of it.
pub(super) struct Daemon {
    spec: DaemonSpec,
    /// The process the master forked (0: none running, or a smart daemon that daemonized).
    pid: RawPid,
    /// How many times it was started.
    respawns: u64,
    last_spawn: Option<Instant>,
    /// Start it (again) no earlier than this.
    respawn_at: Option<Instant>,
    /// Its `touch` files.
    touch: TouchWatch,
    /// Consecutive checks that found a smart daemon's pidfile naming no live process.
    pidfile_misses: u64,
}

impl Daemon {
    /// The managed daemons of the configuration.
    pub(super) fn all(specs: &[DaemonSpec]) -> Vec<Daemon> {
        specs
            .iter()
            .map(|spec| Daemon {
                touch: TouchWatch::new(&spec.touch),
                spec: spec.clone(),
                pid: 0,
                respawns: 0,
                last_spawn: None,
                respawn_at: None,
                pidfile_misses: 0,
            })
            .collect()
    }

    /// Stopped with the server: every daemon but a smart one.
    fn stops_with_server(&self) -> bool {
        self.spec.pidfile.is_none()
    }
}

/// uWSGI's respawn throttle in seconds: none for the first start; then the number of starts
/// so far minus the seconds the last run lasted, at least 1, at most `max` (300 without it).
/// A daemon that keeps dying at once waits longer each time.
pub(crate) fn throttle(respawns: u64, lived_secs: u64, max: Option<u64>) -> u64 {
    if respawns == 0 {
        return 0;
    }
    let t = respawns.saturating_sub(lived_secs).max(1);
    t.min(max.unwrap_or(MAX_THROTTLE))
}

/// The live pid a pidfile names (atoi-style: leading digits), if any.
fn pidfile_pid(path: &Path) -> Option<RawPid> {
    let text = std::fs::read_to_string(path).ok()?;
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let pid: RawPid = digits.parse().ok()?;
    (pid > 0 && process::exists(pid)).then_some(pid)
}

impl Master {
    /// After the workers: every daemon, except a smart one whose pidfile names a live process.
    pub(super) fn spawn_daemons(&mut self) {
        for i in 0..self.daemons.len() {
            if let Some(path) = &self.daemons[i].spec.pidfile {
                if let Some(pid) = pidfile_pid(path) {
                    eprintln!(
                        "[rwsgi-daemons] found valid/active pidfile for \"{}\" (pid: {pid})",
                        self.daemons[i].spec.command
                    );
                    continue;
                }
            }
            self.spawn_daemon(i);
        }
    }

    fn spawn_daemon(&mut self, i: usize) {
        let spec = self.daemons[i].spec.clone();
        match self.fork_child(|_| run_daemon(&spec)) {
            Ok(pid) => {
                let d = &mut self.daemons[i];
                eprintln!(
                    "[rwsgi-daemons] {}spawning \"{}\" (pid: {pid})",
                    if d.respawns > 0 { "re" } else { "" },
                    d.spec.command
                );
                d.pid = pid;
                d.respawns += 1;
                d.last_spawn = Some(Instant::now());
                d.respawn_at = None;
                d.pidfile_misses = 0;
            }
            Err(e) => {
                eprintln!("[rwsgi-daemons] unable to spawn \"{}\": {e}", spec.command);
                self.daemons[i].respawn_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    /// A child exited: if it was a daemon, schedules its respawn (throttled), or for a control
    /// daemon shuts the server down. True if `pid` was a daemon.
    pub(super) fn on_daemon_exit(&mut self, pid: RawPid) -> bool {
        let Some(i) = self.daemons.iter().position(|d| d.pid == pid) else {
            return false;
        };
        let d = &mut self.daemons[i];
        d.pid = 0;
        if d.spec.pidfile.is_some() {
            return true; // daemonized (or died): the pidfile check decides
        }
        eprintln!("daemon \"{}\" (pid: {pid}) annihilated", d.spec.command);
        if self.phase != Phase::Running {
            return true;
        }
        if d.spec.control {
            eprintln!("*** the control daemon died: shutting down ***");
            self.begin_shutdown("control daemon");
            return true;
        }
        self.schedule_daemon_respawn(i);
        true
    }

    fn schedule_daemon_respawn(&mut self, i: usize) {
        let d = &mut self.daemons[i];
        let lived = d.last_spawn.map_or(0, |t| t.elapsed().as_secs());
        let wait = throttle(d.respawns, lived, d.spec.max_throttle);
        if wait > 0 {
            eprintln!(
                "[rwsgi-daemons] throttling \"{}\" for {wait} seconds",
                d.spec.command
            );
        }
        d.respawn_at = Some(Instant::now() + Duration::from_secs(wait));
    }

    /// Once a second: `touch` files (restart), smart daemons' pidfiles (start again after
    /// `freq` checks naming no live process).
    pub(super) fn check_daemons(&mut self) {
        for i in 0..self.daemons.len() {
            let d = &mut self.daemons[i];
            if let Some(path) = d.touch.touched() {
                eprintln!(
                    "[rwsgi-daemons] {} touched: restarting \"{}\"",
                    path.display(),
                    d.spec.command
                );
                if d.pid > 0 {
                    self.signal_daemon(i);
                } else if let Some(pid) = d.spec.pidfile.as_deref().and_then(pidfile_pid) {
                    // A daemonized smart daemon: the pidfile check starts it again.
                    let _ = process::kill(pid, signal_of(d.spec.stop_signal));
                }
            }
            let d = &mut self.daemons[i];
            let Some(path) = d.spec.pidfile.clone() else {
                continue;
            };
            if d.pid > 0 || d.respawn_at.is_some() || pidfile_pid(&path).is_some() {
                d.pidfile_misses = 0;
                continue;
            }
            d.pidfile_misses += 1;
            if d.pidfile_misses >= d.spec.freq.max(1) {
                eprintln!(
                    "[rwsgi-daemons] \"{}\" is not running (pidfile {}): starting it",
                    d.spec.command,
                    path.display()
                );
                self.schedule_daemon_respawn(i);
            }
        }
    }

    /// Each pass: starts the daemons whose respawn is due.
    pub(super) fn respawn_daemons(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        let now = Instant::now();
        for i in 0..self.daemons.len() {
            if self.daemons[i].pid == 0 && self.daemons[i].respawn_at.is_some_and(|t| t <= now) {
                self.spawn_daemon(i);
            }
        }
    }

    fn signal_daemon(&self, i: usize) {
        let d = &self.daemons[i];
        if d.pid > 0 {
            // Its session's group: the shell and what it started.
            let _ = process::kill_group(d.pid, signal_of(d.spec.stop_signal));
        }
    }

    /// Shutdown or reload: every daemon but the smart ones gets its stop signal.
    pub(super) fn stop_daemons(&mut self) {
        for i in 0..self.daemons.len() {
            self.daemons[i].respawn_at = None;
            if self.daemons[i].stops_with_server() && self.daemons[i].pid > 0 {
                eprintln!(
                    "[rwsgi-daemons] stopping daemon (pid: {}): {}",
                    self.daemons[i].pid, self.daemons[i].spec.command
                );
                self.signal_daemon(i);
            }
        }
    }

    /// The daemons the master still waits for before it exits or re-executes.
    pub(super) fn daemon_pids(&self) -> impl Iterator<Item = RawPid> + '_ {
        self.daemons
            .iter()
            .filter(|d| d.pid > 0 && d.stops_with_server())
            .map(|d| d.pid)
    }

    /// Past the mercy: the remaining daemons' groups are killed.
    pub(super) fn kill_daemons(&self) {
        for pid in self.daemon_pids() {
            eprintln!("[rwsgi-daemons] daemon did not die in time, killing (pid: {pid})");
            let _ = process::kill_group(pid, Signal::KILL);
        }
    }
}

fn signal_of(raw: i32) -> Signal {
    Signal::from_named_raw(raw).unwrap_or(Signal::TERM)
}

/// The daemon process: default signals, its own session, then `/bin/sh -c COMMAND` (for a
/// master-daemonized smart daemon, the command in the background and its pid in the pidfile).
fn run_daemon(spec: &DaemonSpec) -> i32 {
    crate::signals::child_defaults();
    let _ = rwsgi_os::signal::default(libc::SIGPIPE);
    let _ = process::new_session();
    if spec.pidfile.is_none() {
        // A plain daemon never outlives the master (uWSGI's PDEATHSIG).
        let _ = process::set_parent_death_signal(Signal::KILL);
    }
    if let Some(dir) = &spec.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("[rwsgi-daemons] chdir {}: {e}", dir.display());
            return 1;
        }
    }
    let mut args = vec!["/bin/sh".to_string(), "-c".to_string()];
    match (&spec.pidfile, spec.daemonize) {
        (Some(pidfile), true) => {
            // $1 is the pidfile, passed as an argument so its name needs no quoting.
            args.push(format!("{} </dev/null &\necho $! > \"$1\"", spec.command));
            args.push("rwsgi-daemon".to_string());
            args.push(pidfile.display().to_string());
        }
        _ => args.push(spec.command.clone()),
    }
    let Ok(args) = args
        .into_iter()
        .map(CString::new)
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!("[rwsgi-daemons] the command contains a NUL byte");
        return 1;
    };
    let err = process::exec(c"/bin/sh", &args);
    eprintln!("[rwsgi-daemons] unable to run \"{}\": {err}", spec.command);
    127
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_grows_with_quick_deaths_and_is_capped() {
        assert_eq!(throttle(0, 0, None), 0, "the first start waits for nothing");
        assert_eq!(throttle(1, 0, None), 1);
        assert_eq!(throttle(5, 1, None), 4);
        assert_eq!(throttle(5, 100, None), 1, "a long run still waits a second");
        assert_eq!(throttle(1000, 0, None), MAX_THROTTLE);
        assert_eq!(throttle(1000, 0, Some(7)), 7);
    }

    #[test]
    fn a_pidfile_names_a_live_pid_by_its_leading_digits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.pid");
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("write");
        assert_eq!(pidfile_pid(&path), Some(std::process::id() as RawPid));
        std::fs::write(&path, "nope").expect("write");
        assert_eq!(pidfile_pid(&path), None);
        assert_eq!(pidfile_pid(&dir.path().join("missing")), None);
    }
}
