//! The state of every watched server: its last snapshot, its rates (from successive
//! snapshots), whether it answers, and the history of the fleet's total req/s.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::model::{ServerStats, WorkerCounts};

/// How many req/s samples the sparkline keeps (wider than any terminal needs).
pub const HISTORY_LEN: usize = 512;

/// Requests per second between two snapshots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rates {
    /// The server's total.
    pub total: f64,
    /// By worker id.
    pub per_worker: HashMap<u64, f64>,
}

impl Rates {
    /// The rates from `prev` (taken at `prev_at`) to `cur` (taken at `at`). A counter that went
    /// down (a worker respawned, the server restarted) counts as no requests rather than a
    /// negative rate; an interval of zero gives no rates.
    pub fn between(prev: &ServerStats, prev_at: Instant, cur: &ServerStats, at: Instant) -> Rates {
        let secs = at.saturating_duration_since(prev_at).as_secs_f64();
        if secs <= 0.0 {
            return Rates::default();
        }
        let before: HashMap<u64, u64> = prev.workers.iter().map(|w| (w.id, w.requests)).collect();
        let mut rates = Rates::default();
        for w in &cur.workers {
            let done = before
                .get(&w.id)
                .map_or(0, |&old| w.requests.saturating_sub(old));
            let rate = done as f64 / secs;
            rates.total += rate;
            rates.per_worker.insert(w.id, rate);
        }
        rates
    }
}

/// Why a server is not answering, and since when.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The last error, one line.
    pub message: String,
    /// When it first failed (in this run of failures).
    pub since: Instant,
}

/// One watched server.
#[derive(Clone, Debug)]
pub struct ServerView {
    /// The address as the user wrote it.
    pub label: String,
    /// The last good snapshot and when it was taken.
    pub last: Option<(ServerStats, Instant)>,
    /// Rates between the last two good snapshots (`None` until there are two).
    pub rates: Option<Rates>,
    /// Set while the server does not answer (it is retried all the same).
    pub failure: Option<Failure>,
}

impl ServerView {
    /// The snapshot to show: the last good one, while the server answers.
    pub fn live(&self) -> Option<&ServerStats> {
        match (&self.failure, &self.last) {
            (None, Some((s, _))) => Some(s),
            _ => None,
        }
    }

    /// The worker's req/s, once known.
    pub fn worker_rate(&self, worker_id: u64) -> Option<f64> {
        self.rates.as_ref()?.per_worker.get(&worker_id).copied()
    }
}

/// One poll's outcome for server `server`.
#[derive(Debug)]
pub struct Update {
    /// Index into [`Fleet::servers`].
    pub server: usize,
    /// The snapshot, or why there is none (one line).
    pub result: Result<ServerStats, String>,
    /// When the poll finished.
    pub at: Instant,
}

/// Every watched server.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// In command-line order.
    pub servers: Vec<ServerView>,
    /// The fleet's total req/s, one sample per [`Fleet::tick`], oldest first.
    pub history: VecDeque<u64>,
}

/// Sums over the answering servers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Servers watched.
    pub servers: usize,
    /// Servers answering.
    pub answering: usize,
    /// Requests served.
    pub requests: u64,
    /// req/s (`None` until some answering server has two snapshots).
    pub rps: Option<f64>,
    /// Listen queues.
    pub listen_queue: u64,
    /// Load.
    pub load: u64,
    /// Workers by status.
    pub workers: WorkerCounts,
}

impl Fleet {
    /// Servers at `labels`, none polled yet.
    pub fn new(labels: impl IntoIterator<Item = String>) -> Fleet {
        Fleet {
            servers: labels
                .into_iter()
                .map(|label| ServerView {
                    label,
                    last: None,
                    rates: None,
                    failure: None,
                })
                .collect(),
            history: VecDeque::new(),
        }
    }

    /// Takes one poll's outcome (an index out of range is ignored).
    pub fn apply(&mut self, update: Update) {
        let Some(view) = self.servers.get_mut(update.server) else {
            return;
        };
        match update.result {
            Ok(stats) => {
                // After a failure the last snapshot may be from before a restart: the rates
                // start afresh from this one.
                view.rates = match (&view.failure, &view.last) {
                    (None, Some((prev, prev_at))) => {
                        Some(Rates::between(prev, *prev_at, &stats, update.at))
                    }
                    _ => None,
                };
                view.last = Some((stats, update.at));
                view.failure = None;
            }
            Err(message) => {
                let since = view.failure.as_ref().map_or(update.at, |f| f.since);
                view.failure = Some(Failure {
                    message: crate::model::printable(&message),
                    since,
                });
                view.rates = None;
            }
        }
    }

    /// Records the current total req/s in the history (once per refresh interval).
    pub fn tick(&mut self) {
        let rps = self.totals().rps.unwrap_or(0.0);
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(rps.round() as u64);
    }

    /// Sums over the answering servers.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            servers: self.servers.len(),
            ..Totals::default()
        };
        for view in &self.servers {
            let Some(s) = view.live() else { continue };
            t.answering += 1;
            t.requests = t.requests.saturating_add(s.requests());
            t.listen_queue = t.listen_queue.saturating_add(s.listen_queue);
            t.load = t.load.saturating_add(s.load);
            t.workers += s.worker_counts();
            if let Some(r) = &view.rates {
                *t.rps.get_or_insert(0.0) += r.total;
            }
        }
        t
    }
}

/// How long ago `since` was, seen at `now`.
pub fn age(since: Instant, now: Instant) -> Duration {
    now.saturating_duration_since(since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkerStats;

    fn snap(reqs: &[(u64, u64)]) -> ServerStats {
        ServerStats {
            workers: reqs
                .iter()
                .map(|&(id, requests)| WorkerStats {
                    id,
                    requests,
                    status: "idle".into(),
                    ..WorkerStats::default()
                })
                .collect(),
            ..ServerStats::default()
        }
    }

    #[test]
    fn rates_from_successive_snapshots() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let r = Rates::between(&snap(&[(1, 10), (2, 5)]), t0, &snap(&[(1, 30), (2, 6)]), t1);
        assert_eq!(r.per_worker[&1], 10.0);
        assert_eq!(r.per_worker[&2], 0.5);
        assert_eq!(r.total, 10.5);
    }

    #[test]
    fn a_counter_going_down_or_a_new_worker_is_no_requests() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let r = Rates::between(&snap(&[(1, 10)]), t0, &snap(&[(1, 3), (2, 50)]), t1);
        assert_eq!(r.per_worker[&1], 0.0);
        assert_eq!(r.per_worker[&2], 0.0);
        assert_eq!(r.total, 0.0);
        // Two snapshots at the same instant: no rate at all (not infinity).
        assert_eq!(
            Rates::between(&snap(&[(1, 1)]), t0, &snap(&[(1, 9)]), t0),
            Rates::default()
        );
    }

    #[test]
    fn fleet_tracks_failures_and_totals() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut f = Fleet::new(["a".to_string(), "b".to_string()]);
        let ok = |server, reqs: &[(u64, u64)], t| Update {
            server,
            result: Ok(snap(reqs)),
            at: t,
        };
        f.apply(ok(0, &[(1, 10)], at(0)));
        f.apply(ok(1, &[(1, 100), (2, 100)], at(0)));
        assert_eq!(f.totals().rps, None, "one snapshot: no rate yet");
        f.apply(ok(0, &[(1, 20)], at(1)));
        f.apply(ok(1, &[(1, 110), (2, 120)], at(1)));
        let t = f.totals();
        assert_eq!((t.servers, t.answering, t.requests), (2, 2, 250));
        assert_eq!(t.rps, Some(40.0));
        assert_eq!(t.workers.idle, 3);
        f.tick();
        assert_eq!(f.history.back(), Some(&40));

        let fail = |t| Update {
            server: 1,
            result: Err("connection refused".into()),
            at: t,
        };
        f.apply(fail(at(2)));
        f.apply(fail(at(3)));
        let failure = f.servers[1].failure.as_ref().unwrap();
        assert_eq!(failure.since, at(2), "since the first failure");
        assert!(f.servers[1].live().is_none());
        let t = f.totals();
        assert_eq!((t.answering, t.requests, t.rps), (1, 20, Some(10.0)));
        // It answers again: live again, rates start afresh.
        f.apply(ok(1, &[(1, 0), (2, 0)], at(4)));
        assert!(f.servers[1].failure.is_none());
        assert_eq!(f.servers[1].rates, None);
        // An index nobody polls is ignored.
        f.apply(fail(at(5)));
        f.apply(Update {
            server: 9,
            result: Err("x".into()),
            at: at(5),
        });
    }

    #[test]
    fn history_is_bounded() {
        let mut f = Fleet::new(["a".to_string()]);
        for _ in 0..HISTORY_LEN + 10 {
            f.tick();
        }
        assert_eq!(f.history.len(), HISTORY_LEN);
    }
}
