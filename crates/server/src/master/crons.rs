//! uWSGI's command cron (`--cron`, `--unique-cron`, `--cron2`, `--cron-harakiri`): the master
//! checks each task once a second (the schedule and the unique rule are pure, in
//! `crate::cron`), starts a due one through `/bin/sh -c` in a process group of its own (its
//! output goes where the master's does: the log), logs its exit when it reaps it, and kills the
//! group of a run past its harakiri. Runs are not stopped with the server (as in uWSGI).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rwsgi_os::process::{self, RawPid};
use rwsgi_os::time::unix_now;
use rwsgi_os::Signal;

use super::{Master, Phase};
use crate::cron::CommandCron;

/// The master's command cron tasks.
pub(super) struct Crons {
    tasks: Vec<CommandCron>,
    /// The Unix second they were last checked in.
    checked: u64,
}

impl Crons {
    /// The configured tasks, each logged as uWSGI does.
    pub(super) fn new(tasks: &[rwsgi_config::CronTask], cron_harakiri: u64) -> Crons {
        for t in tasks {
            eprintln!(
                "[uwsgi-cron] command \"{}\" registered as cron task",
                t.command
            );
        }
        Crons {
            tasks: tasks
                .iter()
                .map(|t| CommandCron::new(t.clone(), cron_harakiri))
                .collect(),
            checked: 0,
        }
    }
}

/// Starts `command` through `/bin/sh -c` in a new process group (its leader: a harakiri kills
/// what the shell started too). std's `Command` runs none of our code (and no Python) after
/// its fork, so the master can use it directly.
fn start(command: &str) -> std::io::Result<RawPid> {
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::inherit())
        .process_group(0)
        .spawn()?;
    // Reaped by the master's `reap_child` (waitpid on any child), never through `child`.
    RawPid::try_from(child.id()).map_err(std::io::Error::other)
}

impl Master {
    /// Each pass of the loop; does its work once per second: harakiri, then the due tasks
    /// (only while running: not during a shutdown or reload).
    pub(super) fn check_crons(&mut self) {
        if self.crons.tasks.is_empty() {
            return;
        }
        let now = unix_now();
        if now == self.crons.checked {
            return;
        }
        self.crons.checked = now;
        for task in &mut self.crons.tasks {
            for pid in task.overdue(now) {
                eprintln!(
                    "*** HARAKIRI ON CRON \"{}\" (pid: {pid}) ***",
                    task.task.command
                );
                let _ = process::kill_group(pid, Signal::KILL);
            }
        }
        if self.phase != Phase::Running {
            return;
        }
        let tm = rwsgi_os::time::local_tm(now);
        for task in &mut self.crons.tasks {
            if !task.due(now, &tm) {
                continue;
            }
            match start(&task.task.command) {
                Ok(pid) => {
                    task.started(pid, now);
                    eprintln!("[uwsgi-cron] running \"{}\" (pid {pid})", task.task.command);
                }
                Err(e) => eprintln!("[uwsgi-cron] unable to run \"{}\": {e}", task.task.command),
            }
        }
    }

    /// A child exited: if it was a cron run, logs it as uWSGI does. True if it was one.
    pub(super) fn on_cron_exit(&mut self, pid: RawPid) -> bool {
        let now = unix_now();
        for task in &mut self.crons.tasks {
            if let Some(run) = task.exited(pid) {
                eprintln!(
                    "[uwsgi-cron] command \"{}\" running with pid {pid} exited after {} second(s)",
                    task.task.command,
                    now.saturating_sub(run.started)
                );
                return true;
            }
        }
        false
    }
}
