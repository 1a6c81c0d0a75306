//! The stats snapshot: one plain-data type every renderer (uWSGI JSON, the pushers' metrics)
//! uses.
//!
//! Each fact has one home. What the master knows before any request ([`MasterInfo`]: identity,
//! sockets, apps, the `--stats-no-cores` switch) is built once and carried whole by every
//! [`StatsSnapshot`]; what changes ([`WorkerStats`], [`CoreStats`], [`AppStats`],
//! [`SocketStats`], `listen_queue_errors`) is read from the scoreboard by
//! [`Scoreboard::snapshot`](crate::Scoreboard::snapshot). Keys of uWSGI's schema that stand for
//! features rwsgi does not have (shared sockets) have no field: the renderers write them
//! as 0.

use std::fmt;

use crate::redact::VarsPolicy;

/// Everything the stats server reports, as uWSGI 2.0 structures it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// The master's static facts, as it built them at start-up.
    pub master: MasterInfo,
    /// Times the master found a listen queue full (uWSGI's `listen_queue_errors`).
    pub listen_queue_errors: u64,
    /// Signals queued for "the first free worker" and not yet taken (uWSGI's top-level
    /// `signal_queue`).
    pub signal_queue: u64,
    /// Signal deliveries the master made (uWSGI's `core.routed_signals`).
    pub routed_signals: u64,
    /// Signal deliveries the master dropped on a full queue (`core.unrouted_signals`).
    pub unrouted_signals: u64,
    /// Each user lock's holder pid (0: free), in the order of `master.locks`' first names;
    /// empty when the reader cannot see the locks (they then show 0).
    pub lock_holders: Vec<u64>,
    /// The accept-queue depth of each socket, in the order of `master.sockets`.
    pub sockets: Vec<SocketStats>,
    /// Every worker, id 1 first.
    pub workers: Vec<WorkerStats>,
    /// The custom metrics' values, in the order of `master.metrics.custom` (empty without
    /// metrics).
    pub metric_values: Vec<i64>,
}

/// The changing part of one listening socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Connections waiting in the accept queue.
    pub queue: u64,
}

/// One listening socket as the master bound it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketInfo {
    /// The address as configured (`127.0.0.1:9090`, `/run/app.sock`, `@abstract`).
    pub name: String,
    /// `"uwsgi"` or `"http"`.
    pub proto: String,
    /// The listen backlog.
    pub max_queue: u64,
}

// ---- The counters, each listed once ----
//
// Each `*_counters!` macro below is the one list of a slot's plain counters (u64, relaxed,
// loaded as they are). It feeds both the model struct here and the slot in
// `scoreboard.rs`, which declares one atomic per entry and loads each into the field of the
// same name: adding a counter is one line in its list, the method that writes it, and its key
// in each renderer. Fields that are not plain counters (ids, status, the in-flight request)
// are written out where they are built.

/// The per-worker counters, in slot order (semantics of uWSGI's `struct uwsgi_worker`).
macro_rules! worker_counters {
    ($then:ident) => {
        $then! {
            /// 0 while no process runs for this id.
            pid,
            /// 1 while the worker accepts requests.
            accepting,
            /// Requests since the first spawn (kept across respawns).
            requests,
            /// Requests since the current process was spawned.
            delta_requests,
            /// Requests whose app raised.
            exceptions,
            /// Times the master killed this worker for `--harakiri`.
            harakiri_count,
            /// Resident memory, bytes.
            rss,
            /// Virtual memory, bytes.
            vsz,
            /// Microseconds spent in requests.
            running_time,
            /// Unix seconds of the last spawn.
            last_spawn,
            /// Spawns of this id (1 after the first).
            respawn_count,
            /// Bytes sent.
            tx,
            /// Microseconds, uWSGI's running `(avg + rt) / 2`.
            avg_rt,
            /// 1 while the cheaper subsystem keeps this worker stopped (or is stopping it):
            /// its status is then `cheap`.
            cheap,
            /// uWSGI signals whose handler this worker ran (kept across respawns).
            signals,
            /// Signals queued for this worker and not yet read (the master measures it).
            signal_queue,
            /// 1 + the number of the uWSGI signal whose handler runs now, 0 when none: the
            /// status is then `sig<N>`.
            signal_running,
        }
    };
}
pub(crate) use worker_counters;

/// The per-core counters, in slot order.
macro_rules! core_counters {
    ($then:ident) => {
        $then! {
            /// Requests completed on this core.
            requests,
            /// Write errors while sending responses.
            write_errors,
            /// Read errors while reading requests.
            read_errors,
            /// Static files served (uWSGI's `static_requests`: `--static-map`, `--check-static`).
            static_requests,
            /// Static transfers the event loop finished after the request was done with (uWSGI's
            /// `offloaded_requests`: a large file or a slow client).
            offloaded_requests,
            /// `uwsgi.set_user_harakiri`'s deadline for this core's call (Unix seconds, 0:
            /// none): the master kills the worker once it passes.
            user_harakiri,
            /// Requests the internal routing rules answered themselves (uWSGI's
            /// `routed_requests`: `break:`, `return:`, the redirects).
            routed_requests,
        }
    };
}
pub(crate) use core_counters;

/// The per-(worker, app) counters, in slot order.
macro_rules! app_counters {
    ($then:ident) => {
        $then! {
            /// Requests dispatched to the app (counted when the app is called, as uWSGI does).
            requests,
            /// Requests whose app call raised.
            exceptions,
        }
    };
}
pub(crate) use app_counters;

macro_rules! worker_stats {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// One worker.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct WorkerStats {
            /// 1-based, as in uWSGI.
            pub id: u64,
            $($(#[$doc])* pub $counter: u64,)*
            /// `busy` while a core is in a request, else `idle`.
            pub status: WorkerStatus,
            /// One entry per app of `MasterInfo::apps` (index = app id).
            pub apps: Vec<AppStats>,
            /// Empty when the snapshot was taken without cores (`MasterInfo::include_cores`).
            pub cores: Vec<CoreStats>,
            /// Cores inside a request now (counted even without `include_cores`). This field,
            /// `request_bytes`, `responses` and `apps[].latency` are read only by
            /// [`Scoreboard::snapshot_with_metrics`](crate::Scoreboard::snapshot_with_metrics).
            pub busy_cores: u64,
            /// Bytes of request heads and declared bodies (rwsgi's own counter).
            pub request_bytes: u64,
            /// Responses by status code, lowest code first and any code outside 100..=599
            /// last, only codes seen (rwsgi's own counter).
            pub responses: Vec<StatusCount>,
        }
    };
}
worker_counters!(worker_stats);

/// How many responses went out with one status code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCount {
    /// The code; [`STATUS_OTHER`](crate::scoreboard::STATUS_OTHER) for a code outside
    /// 100..=599.
    pub code: u16,
    /// Responses sent with it.
    pub count: u64,
}

/// Upper bounds, in microseconds, of the request-latency histogram's buckets (Prometheus'
/// default buckets, 5 ms to 10 s); a last bucket counts everything slower (`+Inf`).
pub const LATENCY_BUCKETS_US: [u64; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];
/// Buckets kept per histogram: [`LATENCY_BUCKETS_US`] and `+Inf`.
pub const LATENCY_SLOTS: usize = LATENCY_BUCKETS_US.len() + 1;
/// A request-duration histogram: per-bucket counts (bounds in [`LATENCY_BUCKETS_US`], then
/// `+Inf`) and the sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Requests per bucket, not cumulative.
    pub buckets: [u64; LATENCY_SLOTS],
    /// Microseconds, summed over the requests counted.
    pub sum_us: u64,
}

impl Latency {
    /// Requests counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Adds `other` into this histogram.
    pub fn add(&mut self, other: &Latency) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }

    /// The `q` quantile (0..=1) in microseconds, estimated from the buckets as Prometheus'
    /// `histogram_quantile` does: linear inside the bucket the rank falls in (the first
    /// bucket starts at 0), and the highest finite bound when it falls in `+Inf`. `None`
    /// without requests.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * count as f64;
        let mut below = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let Some(&upper) = LATENCY_BUCKETS_US.get(i) else {
                    return LATENCY_BUCKETS_US.last().copied();
                };
                let lower = if i == 0 { 0 } else { LATENCY_BUCKETS_US[i - 1] };
                let within = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
                return Some(lower + ((upper - lower) as f64 * within).round() as u64);
            }
            below += n;
        }
        LATENCY_BUCKETS_US.last().copied()
    }
}

macro_rules! app_stats {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// The counters of one app in one worker (its static part is [`AppInfo`]).
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct AppStats {
            /// The app's index in `MasterInfo::apps`.
            pub id: u64,
            $($(#[$doc])* pub $counter: u64,)*
            /// How long the app's requests took on this worker (all cores).
            pub latency: Latency,
        }
    };
}
app_counters!(app_stats);

macro_rules! core_stats {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// One core (thread) of one worker.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct CoreStats {
            /// 0-based.
            pub id: u64,
            $($(#[$doc])* pub $counter: u64,)*
            /// 1 while inside a request.
            pub in_request: u64,
            /// `"KEY=VALUE"` of the request in flight (lossy UTF-8), as `MasterInfo::vars`
            /// allows. The uWSGI renderer appends the trailing `""` uWSGI emits after a
            /// non-empty list.
            pub vars: Vec<String>,
            /// In a request whose vars could not be copied (their writer never paused for
            /// the seqlock): `vars` is empty because it is unknown, not because the request
            /// has none. Rendered as `"vars_unavailable":1` (absent otherwise, as in uWSGI).
            pub vars_unavailable: bool,
            /// Unix seconds; `Some` only while in a request (rendered as
            /// `req_info.request_start`).
            pub request_start: Option<u64>,
        }
    };
}
core_counters!(core_stats);

/// Static per-app information only the master knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    /// uWSGI's modifier1 of the app (0: Python/WSGI).
    pub modifier1: u64,
    /// `SCRIPT_NAME` the app is mounted on (empty: the default app).
    pub mountpoint: String,
    /// Seconds it took to load the app (uWSGI reports 0 for a fast load).
    pub startup_time: u64,
    /// The directory the app runs in.
    pub chdir: String,
}

/// The master's static facts, built once at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterInfo {
    /// The server's version string.
    pub version: String,
    /// The master's pid.
    pub pid: u64,
    /// The master's uid.
    pub uid: u64,
    /// The master's gid.
    pub gid: u64,
    /// The working directory.
    pub cwd: String,
    /// Lock names; rendered as `{"<name>":<holder pid>}` objects (the snapshot's
    /// `lock_holders`; 0 for uWSGI's internal locks, which rwsgi does not have).
    pub locks: Vec<String>,
    /// The listening sockets, in binding order.
    pub sockets: Vec<SocketInfo>,
    /// Apps loaded in every worker (index = app id), at most `Layout::apps` are reported.
    pub apps: Vec<AppInfo>,
    /// Report cores (with their request vars). `false` for `--stats-no-cores`: snapshots then
    /// skip the seqlock copies and the JSON has no `cores` key.
    pub include_cores: bool,
    /// What the cores show of their request vars (redacted by default).
    pub vars: VarsPolicy,
    /// uWSGI's metrics subsystem, when enabled (`--enable-metrics`, `--metric`,
    /// `--stats-push`, ...): the stats JSON then has a `metrics` object.
    pub metrics: Option<MetricsInfo>,
}

/// The metrics subsystem's static facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsInfo {
    /// The `--metric` definitions, in order (their values are in the scoreboard).
    pub custom: Vec<crate::metrics::MetricSpec>,
    /// `--metrics-no-cores`: no `worker.N.core.M.*` metrics.
    pub no_cores: bool,
    /// `--stats-no-metrics`: the stats JSON leaves the `metrics` object out.
    pub hide_from_stats: bool,
}

/// A worker's id: 1-based, as uWSGI numbers its workers (the stats' `id`, `uwsgi.worker_id()`,
/// the log's "worker 1"). Per-worker arrays are indexed with [`WorkerId::index`], so an id
/// and a 0-based position cannot be mixed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(std::num::NonZeroUsize);

impl WorkerId {
    /// The worker with id `id`; `None` for 0.
    pub fn new(id: usize) -> Option<WorkerId> {
        std::num::NonZeroUsize::new(id).map(WorkerId)
    }

    /// The worker at 0-based position `index`.
    pub fn from_index(index: usize) -> WorkerId {
        WorkerId(std::num::NonZeroUsize::MIN.saturating_add(index))
    }

    /// The 1-based id.
    pub fn get(self) -> usize {
        self.0.get()
    }

    /// The 0-based position.
    pub fn index(self) -> usize {
        self.0.get() - 1
    }

    /// The ids of `count` workers: 1..=count.
    pub fn all(count: usize) -> impl DoubleEndedIterator<Item = WorkerId> + Clone {
        (0..count).map(WorkerId::from_index)
    }
}

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The lock list uWSGI 2.0 registers by default, in its order.
pub const UWSGI_DEFAULT_LOCKS: [&str; 8] = [
    "user 0", "signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp",
];

/// [`UWSGI_DEFAULT_LOCKS`] as owned strings.
pub fn uwsgi_default_locks() -> Vec<String> {
    UWSGI_DEFAULT_LOCKS.iter().map(|s| s.to_string()).collect()
}

impl Default for MasterInfo {
    fn default() -> Self {
        MasterInfo {
            version: String::new(),
            pid: 0,
            uid: 0,
            gid: 0,
            cwd: String::new(),
            locks: uwsgi_default_locks(),
            sockets: Vec::new(),
            apps: Vec::new(),
            include_cores: true,
            vars: VarsPolicy::default(),
            metrics: None,
        }
    }
}

/// What a worker app entry refers to when the master does not know the app.
static UNKNOWN_APP: AppInfo = AppInfo {
    modifier1: 0,
    mountpoint: String::new(),
    startup_time: 0,
    chdir: String::new(),
};

impl StatsSnapshot {
    /// Each socket the master bound with its current queue depth (0 when not measured).
    pub fn sockets(&self) -> impl Iterator<Item = (&SocketInfo, u64)> + '_ {
        self.master
            .sockets
            .iter()
            .enumerate()
            .map(|(i, info)| (info, self.sockets.get(i).map_or(0, |s| s.queue)))
    }

    /// Connections waiting in all accept queues (uWSGI's `listen_queue`, and rwsgi's `load`).
    pub fn listen_queue(&self) -> u64 {
        self.sockets().map(|(_, queue)| queue).sum()
    }

    /// Responses by status code over every worker, lowest code first (the "other" code,
    /// [`STATUS_OTHER`](crate::scoreboard::STATUS_OTHER), sorts as 0).
    pub fn responses_by_code(&self) -> Vec<(u16, u64)> {
        let mut codes: Vec<(u16, u64)> = Vec::new();
        for wk in &self.workers {
            for r in &wk.responses {
                match codes.binary_search_by_key(&r.code, |&(c, _)| c) {
                    Ok(i) => codes[i].1 += r.count,
                    Err(i) => codes.insert(i, (r.code, r.count)),
                }
            }
        }
        codes
    }

    /// The request-duration histogram of every app on every worker.
    pub fn latency_total(&self) -> Latency {
        let mut total = Latency::default();
        for a in self.workers.iter().flat_map(|w| &w.apps) {
            total.add(&a.latency);
        }
        total
    }

    /// The static facts of the app `stats` counts for.
    pub fn app_info(&self, stats: &AppStats) -> &AppInfo {
        usize::try_from(stats.id)
            .ok()
            .and_then(|i| self.master.apps.get(i))
            .unwrap_or(&UNKNOWN_APP)
    }
}

/// Worker status as uWSGI reports it. rwsgi's scoreboard produces `Idle`, `Busy` and `Cheap`;
/// the other states belong to uWSGI features rwsgi does not have (yet) and are kept for the
/// renderers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerStatus {
    /// `"idle"`
    #[default]
    Idle,
    /// `"busy"`
    Busy,
    /// `"cheap"` (stopped by the cheaper subsystem)
    Cheap,
    /// `"pause"` (suspended and not busy)
    Pause,
    /// `"sig<N>"` (running the handler of uWSGI signal N)
    Sig(u8),
}

impl fmt::Display for WorkerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerStatus::Idle => f.write_str("idle"),
            WorkerStatus::Busy => f.write_str("busy"),
            WorkerStatus::Cheap => f.write_str("cheap"),
            WorkerStatus::Pause => f.write_str("pause"),
            WorkerStatus::Sig(n) => write!(f, "sig{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names() {
        assert_eq!(WorkerStatus::Sig(17).to_string(), "sig17");
        assert_eq!(WorkerStatus::default().to_string(), "idle");
    }

    #[test]
    fn sockets_pair_info_with_queues_and_sum_them() {
        let socket = |name: &str| SocketInfo {
            name: name.into(),
            ..Default::default()
        };
        let mut s = StatsSnapshot {
            master: MasterInfo {
                sockets: vec![socket("a"), socket("b")],
                ..Default::default()
            },
            sockets: vec![SocketStats { queue: 3 }],
            ..Default::default()
        };
        let got: Vec<(&str, u64)> = s.sockets().map(|(i, q)| (i.name.as_str(), q)).collect();
        assert_eq!(
            got,
            vec![("a", 3), ("b", 0)],
            "an unmeasured socket reads 0"
        );
        s.sockets.push(SocketStats { queue: 4 });
        assert_eq!(s.listen_queue(), 7);
    }

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let mut l = Latency::default();
        assert_eq!(l.quantile_us(0.5), None, "no requests, no quantile");
        // 10 requests <= 5 ms, 10 in (5, 10] ms
        l.buckets[0] = 10;
        l.buckets[1] = 10;
        assert_eq!(l.quantile_us(0.5), Some(5_000));
        assert_eq!(l.quantile_us(0.25), Some(2_500));
        assert_eq!(l.quantile_us(0.75), Some(7_500));
        assert_eq!(l.quantile_us(0.99), Some(9_900));
        assert_eq!(l.quantile_us(1.0), Some(10_000));
        assert_eq!(l.quantile_us(1.5), None);
        // one very slow request: p99 in +Inf reads the highest finite bound
        let mut slow = Latency::default();
        slow.buckets[0] = 1;
        slow.buckets[LATENCY_SLOTS - 1] = 99;
        assert_eq!(slow.quantile_us(0.99), Some(10_000_000));
        assert_eq!(slow.quantile_us(0.005), Some(2_500));
        let mut sum = l;
        sum.add(&slow);
        assert_eq!((sum.count(), sum.buckets[0]), (120, 11));
    }

    #[test]
    fn app_info_by_id() {
        let s = StatsSnapshot {
            master: MasterInfo {
                apps: vec![AppInfo {
                    mountpoint: "/a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let app = |id| AppStats {
            id,
            ..Default::default()
        };
        assert_eq!(s.app_info(&app(0)).mountpoint, "/a");
        assert_eq!(s.app_info(&app(5)), &AppInfo::default());
    }
}
