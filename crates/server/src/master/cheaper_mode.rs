//! The master's side of the cheaper subsystem: which workers start, the once-a-second cycle
//! that runs the algorithm ([`crate::cheaper`], pure) on what the scoreboard shows, `--idle`
//! and cheap mode (every worker stopped until a connection arrives). Carrying out a decision
//! never blocks: a cheaped worker is asked to stop gracefully (it stops accepting, finishes
//! what it holds, exits) and the reaper does not respawn it.

use std::time::Instant;

use rwsgi_config::{CheaperAlgo, Config};
use rwsgi_os::poller::READ;
use rwsgi_os::time::unix_now;
use rwsgi_os::Signal;
use rwsgi_stats::WorkerId;

use super::{Master, Phase, StartError};
use crate::cheaper::{Cheaper, CheaperSettings, Decision, IdleWatch, View, WorkerView};

/// Tokens of the listening sockets while the master watches them in cheap mode (far above the
/// stats and metrics servers' tokens).
pub(super) const TOKEN_WAKE: u64 = 1 << 48;

/// What the master keeps for cheaper mode, `--idle` and `--cheap`.
pub(super) struct CheaperMode {
    /// `--cheaper`: the algorithm and its state.
    cheaper: Option<Cheaper>,
    /// `--idle`.
    idle: Option<IdleWatch>,
    /// `--die-on-idle`.
    die_on_idle: bool,
    /// uWSGI's cheap mode: every worker is stopped and the master waits for a connection on a
    /// listening socket (`--cheap` at start-up, `--idle` later).
    sleeping: bool,
    /// The origin of the algorithm's monotonic clock.
    origin: Instant,
}

impl CheaperMode {
    /// From the configuration; the lines are uWSGI's start-up messages (a clamped
    /// `cheaper-initial`, the busyness settings, `--cheaper-algo-list`).
    pub(super) fn new(config: &Config) -> (CheaperMode, Vec<String>) {
        let origin = Instant::now();
        let (settings, mut log) = CheaperSettings::from_config(config);
        if config.cheaper_algo_list {
            log.push("*** rwsgi loaded cheaper algorithms ***".to_string());
            log.extend(CheaperAlgo::ALL.iter().map(|(name, _)| name.to_string()));
            log.push("--- end of cheaper algorithms list ---".to_string());
        }
        let cheaper = settings.map(|s| {
            let (c, lines) = Cheaper::new(s, config.processes as usize, 0);
            log.extend(lines);
            c
        });
        let mode = CheaperMode {
            cheaper,
            idle: config.idle.map(IdleWatch::new),
            die_on_idle: config.die_on_idle,
            sleeping: config.cheap,
            origin,
        };
        (mode, log)
    }

    /// Whether any of cheaper mode, `--idle` or `--cheap` is on: the server then keeps
    /// running with no worker, as uWSGI's master does.
    pub(super) fn enabled(config: &Config) -> bool {
        config.cheaper > 0 || config.idle.is_some() || config.cheap
    }
}

impl Master {
    /// Start-up: in cheap mode no worker; in cheaper mode `cheaper-initial` workers and the
    /// other slots cheap; else every worker.
    pub(super) fn spawn_initial(&mut self) -> Result<(), StartError> {
        let processes = self.settings.processes;
        let initial = if self.cheaper.sleeping {
            0
        } else {
            self.cheaper
                .cheaper
                .as_ref()
                .map_or(processes, |c| c.settings().initial)
        };
        let count = if initial == processes {
            format!("{processes}")
        } else {
            format!("{initial} of {processes}")
        };
        eprintln!(
            "spawning {count} worker(s) with {} core(s) each (master pid {})",
            self.settings.threads,
            std::process::id()
        );
        for wid in WorkerId::all(processes) {
            if wid.get() <= initial {
                self.spawn(wid)?;
            } else {
                self.mark_cheap(wid);
            }
        }
        if self.cheaper.sleeping {
            self.watch_listeners();
        }
        Ok(())
    }

    /// Worker `wid` is cheap: not respawned when it exits, `cheap` in the stats.
    fn mark_cheap(&mut self, wid: WorkerId) {
        self.workers[wid.index()].cheap = true;
        self.scoreboard.worker(wid).set_cheap(true);
    }

    /// The once-a-second cycle (uWSGI's master cycle): `--idle`, then the cheaper algorithm.
    pub(super) fn cheaper_cycle(&mut self) {
        if self.cheaper.sleeping {
            return;
        }
        if self.check_idle() {
            return;
        }
        let views = self.worker_views();
        let backlog: u64 = (0..self.listeners.len())
            .map(|i| self.scoreboard.socket(i).queue())
            .sum();
        let now_us = u64::try_from(self.cheaper.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        let Some(cheaper) = self.cheaper.cheaper.as_mut() else {
            return;
        };
        let algo = cheaper.settings().algo.name();
        let outcome = cheaper.decide(&View {
            workers: &views,
            backlog,
            now_us,
        });
        for line in &outcome.log {
            eprintln!("{line}");
        }
        match outcome.decision {
            Decision::None => {}
            Decision::Spawn(ids) => {
                eprintln!(
                    "cheaper mode ({algo}): spawning {} worker(s): {ids:?}",
                    ids.len()
                );
                for wid in ids {
                    if let Err(e) = self.spawn(wid) {
                        eprintln!("cannot spawn worker {wid}: {e}");
                        break;
                    }
                }
            }
            Decision::Cheap(ids) => {
                for wid in ids {
                    eprintln!(
                        "cheaper mode ({algo}): cheaping worker {wid} (pid: {})",
                        self.workers[wid.index()].pid
                    );
                    self.mark_cheap(wid);
                    self.stop_worker(wid, Signal::TERM);
                }
            }
        }
    }

    /// What the algorithm sees of each slot, from the master's records and the scoreboard.
    fn worker_views(&self) -> Vec<WorkerView> {
        WorkerId::all(self.workers.len())
            .map(|wid| {
                let w = &self.workers[wid.index()];
                let slot = self.scoreboard.worker(wid).stats(wid.get() as u64);
                WorkerView {
                    running: w.pid > 0,
                    cheap: w.cheap,
                    busy: (0..self.settings.threads)
                        .any(|core| self.scoreboard.core(wid, core).in_request()),
                    last_spawn: slot.last_spawn,
                    running_time_us: slot.running_time,
                    rss: slot.rss,
                }
            })
            .collect()
    }

    /// `--idle`: after that many seconds without a request, every worker is cheaped (or, with
    /// `--die-on-idle`, the server shuts down). True when it fired.
    fn check_idle(&mut self) -> bool {
        let Some(idle) = self.cheaper.idle.as_mut() else {
            return false;
        };
        let any_busy = WorkerId::all(self.workers.len()).any(|wid| {
            !self.workers[wid.index()].cheap
                && self.workers[wid.index()].pid > 0
                && (0..self.settings.threads).any(|c| self.scoreboard.core(wid, c).in_request())
        });
        let requests = WorkerId::all(self.workers.len())
            .map(|wid| self.scoreboard.worker(wid).requests())
            .sum();
        let now = unix_now();
        if !idle.check(now, requests, any_busy) {
            return false;
        }
        eprintln!(
            "workers have been inactive for more than {} seconds ({now})",
            idle.limit()
        );
        if self.cheaper.die_on_idle {
            self.begin_shutdown("idle");
            return true;
        }
        for wid in WorkerId::all(self.workers.len()) {
            self.mark_cheap(wid);
            self.stop_worker(wid, Signal::TERM);
        }
        self.cheaper.sleeping = true;
        self.watch_listeners();
        true
    }

    /// Cheap mode: the master watches the listening sockets; the first connection wakes it.
    fn watch_listeners(&mut self) {
        for (i, l) in self.listeners.iter().enumerate() {
            if let Err(e) = self.poller.add(&l.fd, TOKEN_WAKE + i as u64, READ) {
                eprintln!("cheap mode: cannot watch socket {}: {e}", l.name);
            }
        }
        eprintln!("cheap mode enabled: waiting for socket connection...");
    }

    /// A connection arrived in cheap mode: the master stops watching the sockets (the
    /// connection waits in the queue for a worker) and spawns `cheaper` workers, or all of
    /// them without cheaper mode. A worker still stopping is respawned when it exits.
    pub(super) fn wake_from_cheap_mode(&mut self) {
        if !self.cheaper.sleeping {
            return;
        }
        self.cheaper.sleeping = false;
        for l in &self.listeners {
            let _ = self.poller.delete(&l.fd);
        }
        if self.phase != Phase::Running {
            return; // shutting down or reloading: the connection waits for the next server
        }
        let needed = self
            .cheaper
            .cheaper
            .as_ref()
            .map_or(self.workers.len(), |c| c.settings().min_workers);
        for wid in WorkerId::all(needed) {
            if self.workers[wid.index()].pid > 0 {
                self.workers[wid.index()].cheap = false;
                self.scoreboard.worker(wid).set_cheap(false);
            } else if let Err(e) = self.spawn(wid) {
                eprintln!("cannot spawn worker {wid}: {e}");
                break;
            }
        }
    }

    /// The master FIFO's `+`: one more worker (the lowest cheap slot) in cheaper mode.
    pub(super) fn cheaper_add_worker(&mut self) {
        if self.cheaper.cheaper.is_none() || self.cheaper.sleeping {
            eprintln!("master fifo: '+' needs cheaper mode: ignored");
            return;
        }
        let Some(wid) = WorkerId::all(self.workers.len())
            .find(|&wid| self.workers[wid.index()].cheap && self.workers[wid.index()].pid == 0)
        else {
            return; // every slot runs already
        };
        eprintln!("master fifo: spawning cheap worker {wid}");
        if let Err(e) = self.spawn(wid) {
            eprintln!("cannot spawn worker {wid}: {e}");
        }
    }

    /// The master FIFO's `-`: one worker fewer (the highest running one) in cheaper mode,
    /// never below `--cheaper`.
    pub(super) fn cheaper_remove_worker(&mut self) {
        let Some(min) = self
            .cheaper
            .cheaper
            .as_ref()
            .map(|c| c.settings().min_workers)
        else {
            eprintln!("master fifo: '-' needs cheaper mode: ignored");
            return;
        };
        let running: Vec<WorkerId> = WorkerId::all(self.workers.len())
            .filter(|&wid| {
                let w = &self.workers[wid.index()];
                w.pid > 0 && !w.cheap && w.stopping_since.is_none()
            })
            .collect();
        if running.len() <= min {
            return;
        }
        if let Some(&wid) = running.last() {
            eprintln!("master fifo: cheaping worker {wid}");
            self.mark_cheap(wid);
            self.stop_worker(wid, Signal::TERM);
        }
    }
}
