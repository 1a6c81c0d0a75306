//! rwsgi-stats: the shared-memory scoreboard, the stats snapshot model and its renderers.
//!
//! * [`scoreboard`] — one `MAP_SHARED` mapping of atomic slots, written by workers (and the
//!   master's own counters), read by the master and the pusher process, and
//!   [`Scoreboard::snapshot`], which reads it into the model;
//! * [`model`] — [`StatsSnapshot`], the one type every renderer consumes;
//! * [`json`] — uWSGI 2.0's stats JSON, byte for byte;
//! * [`prometheus`] — the Prometheus text format and OpenMetrics, with uwsgi_exporter's names;
//! * [`metrics`] — uWSGI's metrics subsystem: `--metric` specs, `uwsgi.metric_*` operations,
//!   collectors, the metric list;
//! * [`procfs`] — rss/vsz of a pid;
//! * [`redact`] — what a snapshot shows of request vars (redaction, `--stats-vars`).

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
pub mod json;
pub mod metrics;
pub mod model;
pub mod procfs;
pub mod prometheus;
pub mod redact;
pub mod scoreboard;

pub use json::{render_uwsgi, render_uwsgi_vec, RenderOptions};
pub use model::{
    uwsgi_default_locks, AppInfo, AppStats, CoreStats, Latency, MasterInfo, MetricsInfo,
    SocketInfo, SocketStats, StatsSnapshot, StatusCount, WorkerId, WorkerStats, WorkerStatus,
};
pub use prometheus::{render_prometheus, Format, MetricsOptions};
pub use redact::VarsPolicy;
pub use scoreboard::{
    AppSlot, CoreRequest, CoreSlot, LatencySlot, Layout, MasterSlot, MetricSlot, ResponseSlot,
    Scoreboard, ScoreboardError, SocketSlot, WorkerSlot,
};
