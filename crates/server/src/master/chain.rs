//! Chain reload (the master FIFO's `c`, `--touch-chain-reload`), as uWSGI's: workers are
//! replaced one at a time, and the next is asked to stop only once the previous one's
//! replacement is accepting, so all but at most one worker serve throughout (zero downtime,
//! and with `--lazy-apps` new code one worker at a time). Also `--max-worker-lifetime`.

use std::time::Instant;

use rwsgi_os::Signal;
use rwsgi_stats::WorkerId;

use super::Master;

/// Where a chain reload stands.
#[derive(Debug, Default)]
pub(super) struct Chain {
    /// The 1-based id of the worker the chain is at (uWSGI's `chain_reloading`); `None`: no
    /// chain reload is running.
    at: Option<usize>,
    /// When "still waiting" was last logged (once a second at most).
    last_wait_log: Option<Instant>,
}

impl Master {
    /// Starts a chain reload (a second request while one runs is only logged).
    pub(super) fn begin_chain_reload(&mut self) {
        if self.chain.at.is_some() {
            eprintln!("chain reload already running...");
        } else {
            eprintln!("chain reload starting...");
            self.chain.at = Some(1);
        }
    }

    /// A worker exited: if it was the chain's current victim, the chain moves past it.
    pub(super) fn chain_on_exit(&mut self, wid: WorkerId) {
        if self.chain.at == Some(wid.get()) {
            self.chain.at = Some(wid.get() + 1);
        }
    }

    /// Each pass of the loop (after respawns): waits for the previous worker's replacement to
    /// accept, then asks the next serving worker to stop gracefully.
    pub(super) fn check_chain(&mut self) {
        let Some(mut at) = self.chain.at else {
            return;
        };
        if self.phase != super::Phase::Running {
            self.chain.at = None;
            return;
        }
        if at > 1 {
            let prev = WorkerId::from_index(at - 2);
            let w = &self.workers[prev.index()];
            // Respawned and not yet accepting, or waiting to be respawned: not ready.
            let pending = (w.pid > 0 && !self.scoreboard.worker(prev).accepting())
                || (w.pid == 0 && w.respawn_at.is_some());
            if pending && !w.cheap {
                let now = Instant::now();
                if self
                    .chain
                    .last_wait_log
                    .is_none_or(|t| now.duration_since(t).as_secs() >= 1)
                {
                    eprintln!("chain is still waiting for worker {prev}...");
                    self.chain.last_wait_log = Some(now);
                }
                return;
            }
        }
        while at <= self.workers.len() {
            let id = WorkerId::from_index(at - 1);
            let w = &self.workers[id.index()];
            // The victim asked to stop holds the chain until it exits (it stops accepting
            // first, which must not look like a worker to skip).
            let winding_down = w.stopping_since.is_some();
            if w.pid > 0 && !w.cheap && (winding_down || self.scoreboard.worker(id).accepting()) {
                if w.stopping_since.is_none() {
                    eprintln!("chain next victim is worker {at}");
                    self.stop_worker(id, Signal::HUP);
                }
                break;
            }
            at += 1;
        }
        if at > self.workers.len() {
            eprintln!("chain reloading complete");
            self.chain.at = None;
        } else {
            self.chain.at = Some(at);
        }
    }

    /// `--max-worker-lifetime` (once a second): a serving worker older than its lifetime is
    /// asked to stop gracefully, and so respawned.
    pub(super) fn check_worker_lifetime(&mut self) {
        for wid in WorkerId::all(self.workers.len()) {
            let Some(limit) = self.settings.master.lifetime_for(wid.get()) else {
                return;
            };
            let w = &self.workers[wid.index()];
            if w.pid == 0 || w.cheap || w.stopping_since.is_some() {
                continue;
            }
            let Some(lived) = w.spawned.map(|t| t.elapsed().as_secs()) else {
                continue;
            };
            if lived > limit {
                eprintln!("worker {wid} lifetime reached, it was running for {lived} second(s)");
                self.stop_worker(wid, Signal::HUP);
            }
        }
    }
}
