//! rwsgi-push: uWSGI's stats pushers.
//!
//! The master forks one pusher process when any pusher is configured; that process calls
//! [`run`], which gives every pusher its own thread, its own schedule and its own
//! retry/backoff, so a slow or dead target never delays the others (nor the master).
//!
//! | option | what is sent |
//! |---|---|
//! | `--stats-push file:path=P,separator=S,freq=N` | the stats JSON, **minified on one line**, then the separator (default `\n\n`, as uWSGI) appended to P (default `uwsgi.stats`, created with mode 0640). Every document parses on its own, so the default separator really splits the file (uWSGI's pretty-printed documents contain blank lines themselves). |
//! | `--stats-push mongodb:addr=H:P,collection=DB.COLL,freq=N` | the stats JSON object inserted as one document (alias `address`; defaults `127.0.0.1:27017`, `uwsgi.statistics`). While the server is down or slow, up to [`MONGO_BUFFER`] (100) unsent documents are kept (the oldest dropped first) and inserted in order once it answers again. |
//! | `--stats-push statsd:H:P[,PREFIX]` | one UDP datagram per metric of uWSGI's metric subsystem, named `PREFIX.NAME` (default prefix `uwsgi`): counters as the increase since the last push (`|c`), gauges as values (`|g`). `--statsd-all-gauges`: every metric as an absolute `|g`; `--statsd-no-workers`: no `worker.*` metrics. |
//! | `--stats-push socket:H:P[,PREFIX]` | one UDP datagram per metric, `PREFIX.NAME TYPE VALUE` (uWSGI's numeric type, absolute value). |
//! | `--stats-push zabbix:[H:P][,PREFIX]` | one Zabbix sender request per push (default `127.0.0.1:10051`), item keys `PREFIX.NAME`, host = the machine's host name. |
//! | `--carbon H:P` (repeatable) | Graphite plaintext lines `ROOT.HOSTNAME.ID.METRIC VALUE TIMESTAMP` every `--carbon-freq` seconds (default 60) and once more when the server stops; `--carbon-root` (default `uwsgi`), `--carbon-id` (default: the first socket's name with dots and whitespace replaced by `_`), `--carbon-no-workers`; `--carbon-use-metrics`: instead of those lines, `ROOT.HOSTNAME.ID.NAME VALUE TIMESTAMP` for every metric of uWSGI's metric subsystem. |
//!
//! `statsd`, `socket` and `zabbix` push every `--stats-pusher-default-freq` seconds (default 3);
//! `file` and `mongodb` take `freq=N`. Every pusher pushes once right at start, then on its
//! period. The metric pushers send uWSGI's built-in metrics and then the custom `--metric`
//! ones (names, types and OIDs: [`rwsgi_stats::metrics`]); the JSON pushers' documents carry
//! the `metrics` object as the stats socket's do.
//!
//! A failing pusher logs one line (stderr) at its first failure and one when it recovers;
//! in between it retries with exponential backoff (1 s doubling up to [`MAX_BACKOFF`]), each
//! retry with the newest stats.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// `eprintln!` in one `write(2)` per line ([`rwsgi_os::process::stderr_line`]): std's
/// writes a line in pieces, which interleave with other processes' lines in a shared log.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        rwsgi_os::process::stderr_line(format_args!($($arg)*))
    };
}

mod job;
pub mod memory;
pub mod metrics;
mod runner;
mod sinks;
pub mod spec;

pub use memory::PushMemory;
pub use spec::{HostPort, PusherKind, PusherSpec};

/// Unsent documents the `mongodb` pusher keeps while its server is unreachable.
pub const MONGO_BUFFER: usize = 100;
/// The longest wait between two retries of a failing pusher.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Connect/write/read timeout of the TCP pushers (uWSGI's `--carbon-timeout` default).
pub const NET_TIMEOUT: Duration = Duration::from_secs(3);

/// A pusher that cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// `--stats-push NAME:...` with a NAME rwsgi does not know.
    #[error(
        "unknown stats pusher '{name}' in '{spec}' (known: file, mongodb, statsd, socket, zabbix)"
    )]
    UnknownPusher {
        /// The option's value as written.
        spec: String,
        /// The pusher name in it.
        name: String,
    },
    /// Malformed arguments.
    #[error("invalid stats pusher '{spec}': {msg}")]
    Invalid {
        /// The option's value as written.
        spec: String,
        /// What is wrong with it.
        msg: String,
    },
}

/// Every configured pusher (the `--stats-push` ones and one per `--carbon` server).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushConfig {
    /// The pushers, in the order configured.
    pub pushers: Vec<PusherSpec>,
    /// The machine's host name (carbon's node and zabbix's `host`).
    pub hostname: String,
}

impl PushConfig {
    /// No pusher configured: the master forks no pusher process.
    pub fn is_empty(&self) -> bool {
        self.pushers.is_empty()
    }
}

/// Validates every pusher option of `config` (called by the master at start-up; an error
/// stops start-up and names the pusher and the argument).
pub fn parse_config(config: &rwsgi_config::Config) -> Result<PushConfig, PushError> {
    let opts = spec::PushOptions {
        default_freq: config.stats_pusher_default_freq,
        statsd_no_workers: config.statsd_no_workers,
        statsd_all_gauges: config.statsd_all_gauges,
    };
    let mut pushers = Vec::new();
    for s in &config.stats_push {
        pushers.push(spec::parse_stats_push(s, opts)?);
    }
    let first_socket = config.sockets.first().map(|s| s.addr.to_string());
    let carbon = spec::CarbonOptions {
        freq: config.carbon_freq,
        id: config.carbon_id.as_deref(),
        root: config.carbon_root.as_deref(),
        no_workers: config.carbon_no_workers,
        memory_report: config.memory_report,
        use_metrics: config.carbon_use_metrics,
        first_socket: first_socket.as_deref(),
    };
    for c in &config.carbon {
        pushers.push(spec::parse_carbon(c, &carbon)?);
    }
    Ok(PushConfig {
        hostname: if pushers.is_empty() {
            String::new()
        } else {
            rwsgi_os::system::hostname()
        },
        pushers,
    })
}

/// Runs every pusher until `stop` becomes true (the pusher process's SIGTERM), then does
/// carbon's final push (bounded by [`NET_TIMEOUT`]) and returns. `snapshot` is called on this
/// thread whenever a pusher is due; the pushers' I/O happens on their own threads. `memory`
/// (made by the master before it forks the pusher process, one slot per pusher) carries what
/// the pushers delivered over to the next pusher process.
pub fn run(
    config: PushConfig,
    memory: &PushMemory,
    snapshot: &mut dyn FnMut() -> rwsgi_stats::model::StatsSnapshot,
    stop: &AtomicBool,
) {
    runner::run(config, memory, snapshot, stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_config::{Command, Config};

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["--socket", "127.0.0.1:3031", "--module", "app"];
        argv.extend_from_slice(args);
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        match rwsgi_config::parse_args(argv, |_| None, |_| Err(std::io::Error::other("no files"))) {
            Ok(Command::Serve(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_config_collects_every_pusher() {
        let c = config(&[
            "--stats-push",
            "file:path=/tmp/s.json,freq=2",
            "--stats-push",
            "statsd:127.0.0.1:8125,app",
            "--statsd-no-workers",
            "--carbon",
            "127.0.0.1:2003",
            "--carbon",
            "127.0.0.1:2004",
            "--carbon-freq",
            "5",
            "--carbon-root",
            "prod",
        ]);
        let p = parse_config(&c).unwrap();
        assert!(!p.is_empty());
        assert!(!p.hostname.is_empty());
        assert_eq!(p.pushers.len(), 4);
        assert!(matches!(
            &p.pushers[1].kind,
            PusherKind::Statsd { no_workers: true, all_gauges: false, prefix, .. } if prefix == "app"
        ));
        let PusherKind::Carbon(cs) = &p.pushers[3].kind else {
            panic!()
        };
        assert_eq!(p.pushers[3].freq, Duration::from_secs(5));
        assert_eq!(
            (cs.id.as_str(), cs.root.as_str()),
            ("127_0_0_1:3031", "prod.")
        );
        assert_eq!(cs.addr.port, 2004);
        assert!(parse_config(&config(&[])).unwrap().is_empty());
    }

    #[test]
    fn parse_config_errors_name_the_pusher() {
        let e = parse_config(&config(&["--stats-push", "graphite:x"])).unwrap_err();
        assert!(e.to_string().contains("'graphite'"), "{e}");
        let e = parse_config(&config(&["--carbon", "nohostport"])).unwrap_err();
        assert!(e.to_string().contains("carbon:nohostport"), "{e}");
    }
}
