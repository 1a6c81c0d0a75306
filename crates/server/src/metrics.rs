//! uWSGI's metrics subsystem in the server: whether it is on and which custom metrics exist
//! (from the options), the `uwsgi.metric_*` reads and writes against their scoreboard slots,
//! and the master's once-a-second pass (collectors, `--metrics-dir` files). The rules (spec
//! syntax, operations, collectors, the metric list) are pure, in [`rwsgi_stats::metrics`].
//!
//! Nothing here runs per request: a custom metric costs its app one atomic operation per
//! `metric_*` call, and without `--metric` the scoreboard has no metric slots at all.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rwsgi_config::Config;
use rwsgi_stats::metrics::{
    collect, file_field, is_builtin_metric, parse_metric_specs, uwsgi_metrics, Collector, Metric,
    MetricOp, MetricSpec, MetricSpecError,
};
use rwsgi_stats::model::{MasterInfo, MetricsInfo, SocketInfo};
use rwsgi_stats::scoreboard::Scoreboard;

/// uWSGI's page-sized metric files: the value, a newline, NULs to 4096 bytes.
const METRIC_FILE_SIZE: usize = 4096;

/// Why the metrics could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    /// A `--metric` is wrong.
    #[error(transparent)]
    Spec(#[from] MetricSpecError),
    /// `--metrics-dir` is not a directory rwsgi can write its files in.
    #[error("--metrics-dir {}: {source}", path.display())]
    Dir {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The metrics subsystem's facts from the options, or `None` when it is off. uWSGI turns it
/// on with `--enable-metrics` and with every option flagged `UWSGI_OPT_METRICS`: `--metric`,
/// `--metrics-dir`, `--metrics-no-cores` and `--stats-push`.
pub(crate) fn metrics_info(
    config: &Config,
    workers: usize,
    cores: usize,
    sockets: usize,
) -> Result<Option<MetricsInfo>, MetricsError> {
    let on = config.enable_metrics
        || !config.metric.is_empty()
        || config.metrics_dir.is_some()
        || config.metrics_no_cores
        || !config.stats_push.is_empty();
    if !on {
        return Ok(None);
    }
    let custom = parse_metric_specs(&config.metric, |name| {
        is_builtin_metric(name, workers, cores, sockets)
    })?;
    Ok(Some(MetricsInfo {
        custom,
        no_cores: config.metrics_no_cores,
        hide_from_stats: config.stats_no_metrics,
    }))
}

/// Sets each custom metric's slot to its initial value (before any fork).
pub(crate) fn init_slots(info: &MetricsInfo, scoreboard: &Scoreboard) {
    for (i, spec) in info.custom.iter().enumerate() {
        if let Some(slot) = scoreboard.try_metric(i) {
            slot.set(spec.initial_value);
        }
    }
}

/// What `uwsgi.metric_*` reads and writes (in any process: the scoreboard is shared).
pub(crate) struct MetricsAccess {
    info: Option<MetricsInfo>,
    /// Custom metric name -> its index (= its slot).
    by_name: HashMap<String, usize>,
    /// The master's facts as far as the built-in metrics need them (the socket count).
    master: MasterInfo,
}

impl MetricsAccess {
    /// The access for `info` (`None`: metrics are off, every call is refused as in uWSGI).
    pub(crate) fn new(info: Option<MetricsInfo>, sockets: usize) -> MetricsAccess {
        let by_name = info
            .iter()
            .flat_map(|i| i.custom.iter().enumerate())
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        MetricsAccess {
            master: MasterInfo {
                sockets: vec![SocketInfo::default(); sockets],
                metrics: info.clone(),
                include_cores: false,
                ..Default::default()
            },
            info,
            by_name,
        }
    }

    fn custom(&self, name: &str) -> Option<(usize, &MetricSpec)> {
        let i = *self.by_name.get(name)?;
        Some((i, self.info.as_ref()?.custom.get(i)?))
    }

    /// `uwsgi.metric_get`: the value of a custom or built-in metric; 0 when metrics are off or
    /// no metric has this name (as uWSGI answers). A built-in one is computed from the
    /// scoreboard now (uWSGI's lags up to a second behind).
    pub(crate) fn get(&self, scoreboard: &Scoreboard, name: &str) -> i64 {
        if self.info.is_none() {
            return 0;
        }
        if let Some((i, spec)) = self.custom(name) {
            if spec.alias.is_none() {
                return scoreboard.try_metric(i).map_or(0, |s| s.get());
            }
        }
        let l = scoreboard.layout();
        let known = self.by_name.contains_key(name)
            || is_builtin_metric(name, l.workers, l.cores, l.sockets);
        if !known {
            return 0;
        }
        // Only the per-core metrics need the core slots (never their request vars).
        let snap = if name.contains(".core.") {
            let master = MasterInfo {
                include_cores: true,
                ..self.master.clone()
            };
            scoreboard.snapshot_with_metrics(&master)
        } else {
            scoreboard.snapshot(&self.master)
        };
        find(&uwsgi_metrics(&snap), name).map_or(0, |m| m.value)
    }

    /// `uwsgi.metric_set/inc/...`: `false` (Python `None`) when metrics are off, for an
    /// unknown name, a built-in, alias or collected metric (uWSGI refuses to write those), and
    /// for a division by zero.
    pub(crate) fn update(&self, scoreboard: &Scoreboard, name: &str, op: MetricOp, n: i64) -> bool {
        match self.custom(name) {
            Some((i, spec)) if spec.collector.is_none() && spec.alias.is_none() => scoreboard
                .try_metric(i)
                .is_some_and(|slot| slot.update(op, n, spec.initial_value)),
            _ => false,
        }
    }
}

fn find<'a>(metrics: &'a [Metric], name: &str) -> Option<&'a Metric> {
    metrics.iter().find(|m| m.name == name)
}

/// The master's once-a-second metrics work: run the collectors that are due and rewrite the
/// `--metrics-dir` files whose value changed. `None` when there is nothing to do, so a server
/// without collectors or a metrics dir never builds the metric list.
pub(crate) struct MetricsCollector {
    /// (custom index, collector, children, initial value, freq) of every collected metric.
    collected: Vec<Collected>,
    dir: Option<MetricsDir>,
}

struct Collected {
    index: usize,
    collector: Collector,
    children: Vec<String>,
    initial: i64,
    freq: Duration,
    next_due: Option<Instant>,
}

struct MetricsDir {
    path: PathBuf,
    /// What each file holds now.
    written: HashMap<String, i64>,
}

impl MetricsCollector {
    /// The collector for `info`, creating one file per metric in `--metrics-dir` as uWSGI
    /// does at start-up (`master`: the facts the metric list is built from).
    pub(crate) fn new(
        info: &MetricsInfo,
        dir: Option<&Path>,
        scoreboard: &Scoreboard,
        master: &MasterInfo,
    ) -> Result<Option<MetricsCollector>, MetricsError> {
        let collected: Vec<Collected> = info
            .custom
            .iter()
            .enumerate()
            .filter_map(|(index, m)| {
                Some(Collected {
                    index,
                    collector: m.collector.clone()?,
                    children: m.children.clone(),
                    initial: m.initial_value,
                    freq: Duration::from_secs(u64::from(m.freq)),
                    next_due: None,
                })
            })
            .collect();
        let dir = match dir {
            None => None,
            Some(d) => {
                let err = |path: &Path| {
                    let path = path.to_path_buf();
                    move |source| MetricsError::Dir { path, source }
                };
                let path = d.canonicalize().map_err(err(d))?;
                for m in uwsgi_metrics(&scoreboard.snapshot_with_metrics(master)) {
                    let file = path.join(&m.name);
                    create_metric_file(&file).map_err(err(&file))?;
                }
                Some(MetricsDir {
                    path,
                    written: HashMap::new(),
                })
            }
        };
        if collected.is_empty() && dir.is_none() {
            return Ok(None);
        }
        Ok(Some(MetricsCollector { collected, dir }))
    }

    /// Once a second, from the master's loop.
    pub(crate) fn tick(&mut self, now: Instant, scoreboard: &Scoreboard, master: &MasterInfo) {
        let due = self
            .collected
            .iter()
            .any(|c| c.next_due.is_none_or(|t| t <= now));
        if !due && self.dir.is_none() {
            return;
        }
        let mut all = uwsgi_metrics(&scoreboard.snapshot_with_metrics(master));
        let first_custom = all.len().saturating_sub(self.custom_count(master));
        for c in &mut self.collected {
            if c.next_due.is_some_and(|t| t > now) {
                continue;
            }
            c.next_due = Some(now + c.freq);
            let Some(slot) = scoreboard.try_metric(c.index) else {
                continue;
            };
            let children: Vec<i64> = c
                .children
                .iter()
                .filter_map(|n| find(&all, n).map(|m| m.value))
                .collect();
            let file_value = match &c.collector {
                Collector::File { path, field } => read_head(Path::new(path))
                    .map(|b| file_field(&b, *field))
                    .unwrap_or_else(|e| {
                        eprintln!("metric collector: cannot read {path}: {e}");
                        0
                    }),
                _ => 0,
            };
            let value =
                c.initial
                    .wrapping_add(collect(&c.collector, slot.get(), &children, file_value));
            slot.set(value);
            if let Some(m) = all.get_mut(first_custom + c.index) {
                m.value = value;
            }
        }
        if let Some(dir) = &mut self.dir {
            for m in &all {
                if dir.written.get(&m.name) == Some(&m.value) {
                    continue;
                }
                let file = dir.path.join(&m.name);
                match write_metric_file(&file, m.value) {
                    Ok(()) => {
                        dir.written.insert(m.name.clone(), m.value);
                    }
                    Err(e) => eprintln!("--metrics-dir: cannot write {}: {e}", file.display()),
                }
            }
        }
    }

    fn custom_count(&self, master: &MasterInfo) -> usize {
        master.metrics.as_ref().map_or(0, |m| m.custom.len())
    }
}

/// The first 4096 bytes of `path` (uWSGI's `file` collector reads no more).
fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(METRIC_FILE_SIZE);
    std::fs::File::open(path)?
        .take(METRIC_FILE_SIZE as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// What a metric file holds: the value in decimal, a newline, NULs up to 4096 bytes (uWSGI
/// writes into a page-sized mapping of the file).
fn metric_file_content(value: i64) -> Vec<u8> {
    let mut out = format!("{value}\n").into_bytes();
    out.resize(METRIC_FILE_SIZE, 0);
    out
}

fn create_metric_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .open(path)?;
    f.set_len(METRIC_FILE_SIZE as u64)
}

fn write_metric_file(path: &Path, value: i64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all_at(&metric_file_content(value), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_files_are_uwsgi_pages() {
        let c = metric_file_content(-42);
        assert_eq!(c.len(), 4096);
        assert_eq!(&c[..4], b"-42\n");
        assert!(c[4..].iter().all(|&b| b == 0));
    }
}
