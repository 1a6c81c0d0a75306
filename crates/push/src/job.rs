//! What the scheduler hands to the pushers.

use rwsgi_stats::model::StatsSnapshot;

/// One snapshot handed to the pushers that are due.
pub(crate) struct Job {
    /// The stats at `unix`.
    pub snap: StatsSnapshot,
    /// Unix seconds when it was taken.
    pub unix: u64,
    /// Microseconds since the pusher process started (monotonic).
    pub mono_us: u64,
    /// The last push, made while stopping (carbon only).
    pub final_push: bool,
}
