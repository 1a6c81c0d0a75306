//! Hands the built-in `uwsgi` Python module ([`rwsgi_wsgi::uwsgi_module`]) what it shows:
//! the options as written, the process layout, the user locks, and a live view of the
//! scoreboard for `uwsgi.workers()` / `uwsgi.total_requests()`.

use std::sync::Arc;

use pyo3::prelude::*;
use rwsgi_config::Config;
use rwsgi_os::shlock::SharedLocks;
use rwsgi_stats::metrics::MetricOp;
use rwsgi_stats::scoreboard::Scoreboard;
use rwsgi_stats::WorkerId;
use rwsgi_wsgi::uwsgi_module::{
    self, MetricUpdate, ModuleError, ServerContext, ServerView, WorkerAppInfo, WorkerInfo,
};

use crate::metrics::MetricsAccess;

use crate::settings::Settings;

/// The scoreboard, read for the module (relaxed loads only, like the stats server).
struct ScoreboardView {
    scoreboard: Arc<Scoreboard>,
    /// The configured apps' mount points, in load order (= their scoreboard app ids).
    mountpoints: Vec<String>,
    /// `--chdir`, as the stats show it.
    chdir: String,
    /// The metrics `uwsgi.metric_*` reach.
    metrics: MetricsAccess,
}

impl ServerView for ScoreboardView {
    fn total_requests(&self) -> u64 {
        WorkerId::all(self.scoreboard.layout().workers)
            .map(|wid| self.scoreboard.worker(wid).requests())
            .sum()
    }

    fn workers(&self) -> Vec<WorkerInfo> {
        WorkerId::all(self.scoreboard.layout().workers)
            .map(|wid| {
                let s = self.scoreboard.worker(wid).stats(wid.get() as u64);
                WorkerInfo {
                    id: s.id,
                    pid: s.pid,
                    requests: s.requests,
                    delta_requests: s.delta_requests,
                    exceptions: s.exceptions,
                    status: self.scoreboard.worker_status(wid).to_string(),
                    rss: s.rss,
                    vsz: s.vsz,
                    running_time: s.running_time,
                    last_spawn: s.last_spawn,
                    respawn_count: s.respawn_count,
                    tx: s.tx,
                    avg_rt: s.avg_rt,
                    signals: s.signals,
                    apps: self
                        .mountpoints
                        .iter()
                        .enumerate()
                        .filter_map(|(j, mountpoint)| {
                            let a = self.scoreboard.try_app(wid, j)?.stats(j as u64);
                            Some(WorkerAppInfo {
                                id: a.id,
                                mountpoint: mountpoint.clone(),
                                startup_time: 0,
                                requests: a.requests,
                                exceptions: a.exceptions,
                                chdir: self.chdir.clone(),
                            })
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn metric_get(&self, name: &str) -> i64 {
        self.metrics.get(&self.scoreboard, name)
    }

    fn metric_update(&self, name: &str, update: MetricUpdate, n: i64) -> bool {
        let op = match update {
            MetricUpdate::Set => MetricOp::Set,
            MetricUpdate::Inc => MetricOp::Inc,
            MetricUpdate::Dec => MetricOp::Dec,
            MetricUpdate::Mul => MetricOp::Mul,
            MetricUpdate::Div => MetricOp::Div,
            MetricUpdate::SetMax => MetricOp::SetMax,
            MetricUpdate::SetMin => MetricOp::SetMin,
        };
        self.metrics.update(&self.scoreboard, name, op, n)
    }
}

/// Why the module could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UmodError {
    /// The lock mapping could not be made.
    #[error("cannot create the uwsgi locks: {0}")]
    Locks(#[from] std::io::Error),
    /// The module could not be built.
    #[error(transparent)]
    Module(#[from] ModuleError),
}

/// Installs `uwsgi` and `uwsgidecorators` in this (the master's) interpreter, before the apps
/// load; workers inherit them. Returns the user locks (their holders show in the stats).
pub(crate) fn install(
    config: &Config,
    settings: &Settings,
    scoreboard: Arc<Scoreboard>,
    metrics: MetricsAccess,
    signals: Box<dyn rwsgi_wsgi::uwsgi_module::SignalBackend>,
) -> Result<Arc<SharedLocks>, UmodError> {
    // Lock 0 always exists; --locks N adds 1..=N.
    let locks = Arc::new(SharedLocks::new(config.locks as usize + 1)?);
    let ctx = ServerContext {
        opt: config.exported.0.clone(),
        numproc: settings.processes,
        cores: settings.threads,
        masterpid: std::process::id(),
        hostname: settings.hostname.clone(),
        started_on: rwsgi_os::time::unix_now(),
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        locks: locks.clone(),
        view: Box::new(ScoreboardView {
            scoreboard,
            mountpoints: settings.apps.iter().map(|a| a.mountpoint.clone()).collect(),
            chdir: settings.chdir.clone(),
            metrics,
        }),
        signals,
    };
    Python::attach(|py| uwsgi_module::install(py, ctx))?;
    Ok(locks)
}
