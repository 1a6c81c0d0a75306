//! Snapshot pieces for tests of the crates that render or push stats (compiled for this
//! crate's tests and with the `test-fixtures` feature, never into the server).

use crate::model::{CoreStats, WorkerStats};

/// Worker `id` that served `requests` (all on core 0, all since the last push), with one
/// exception, one respawn, 1000 bytes of RSS, 5000 of VSZ, 10 bytes sent per request and an
/// average response time of `200 * id` µs; every other field at its default.
pub fn worker(id: u64, requests: u64) -> WorkerStats {
    WorkerStats {
        id,
        requests,
        delta_requests: requests,
        exceptions: 1,
        rss: 1000,
        vsz: 5000,
        respawn_count: 1,
        tx: 10 * requests,
        avg_rt: 200 * id,
        cores: vec![CoreStats {
            id: 0,
            requests,
            ..Default::default()
        }],
        ..Default::default()
    }
}
