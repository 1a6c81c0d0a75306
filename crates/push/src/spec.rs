//! Parsing of `--stats-push` specs and the `--carbon*` options into [`PusherSpec`]s (pure).
//!
//! uWSGI's syntax: `--stats-push NAME[:ARGS]`; ARGS are `key=value,key=value` for the JSON
//! pushers (`file`, `mongodb`, parsed by uWSGI's `uwsgi_kvlist_parse`) and positional
//! `ADDRESS[,PREFIX]` for the metric pushers (`statsd`, `socket`, `zabbix`).

use rwsgi_config::Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::PushError;

/// uWSGI's default file for the `file` pusher (relative to the server's cwd).
pub const DEFAULT_FILE_PATH: &str = "uwsgi.stats";
/// uWSGI's default separator written after every document of the `file` pusher.
pub const DEFAULT_FILE_SEPARATOR: &str = "\n\n";
/// The `mongodb` pusher's default server.
pub const DEFAULT_MONGO_ADDR: &str = "127.0.0.1:27017";
/// The `mongodb` pusher's default `database.collection`.
pub const DEFAULT_MONGO_COLLECTION: &str = "uwsgi.statistics";
/// The `zabbix` pusher's default server (a Zabbix server's trapper port).
pub const DEFAULT_ZABBIX_ADDR: &str = "127.0.0.1:10051";
/// The prefix of every metric name of the `statsd`, `socket` and `zabbix` pushers.
pub const DEFAULT_METRIC_PREFIX: &str = "uwsgi";
/// Carbon's metric root (`--carbon-root`), trailing dot included.
pub const DEFAULT_CARBON_ROOT: &str = "uwsgi.";

/// A `host:port` target, validated but not resolved (resolution happens in the pusher's own
/// thread, on every connection, so a DNS change or a slow resolver never blocks start-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// The port (never 0).
    pub port: u16,
}

impl HostPort {
    /// Parses `host:port` or `[v6]:port` with the socket-address rules of every other option
    /// ([`Addr::parse`]); a push target must be TCP/UDP with a port, and an empty host means
    /// `127.0.0.1` (the target is this machine, not "all interfaces" as for a bind).
    pub fn parse(s: &str) -> Result<HostPort, String> {
        match Addr::parse(s) {
            Ok(Addr::Tcp { port: 0, .. }) => Err(format!("invalid port '0' in address '{s}'")),
            Ok(Addr::Tcp { host, port }) => Ok(HostPort {
                host: if host.is_empty() {
                    "127.0.0.1".to_string()
                } else {
                    host
                },
                port,
            }),
            Ok(_) => Err(format!(
                "address '{}' has no port (expected host:port)",
                s.trim()
            )),
            Err(e) => Err(format!("invalid address '{}': {e}", s.trim())),
        }
    }

    /// `host:port` (brackets around IPv6), suitable for `ToSocketAddrs` and URIs.
    pub fn to_addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One configured pusher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PusherSpec {
    /// How log lines name it: the `--stats-push` value as written, or `carbon:HOST:PORT`.
    pub label: String,
    /// Push period.
    pub freq: Duration,
    /// What it pushes to.
    pub kind: PusherKind,
}

/// What a pusher sends where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PusherKind {
    /// `file:path=P,separator=S,freq=N`: appends the stats JSON (minified, one line) + separator.
    File {
        /// The file appended to.
        path: PathBuf,
        /// Written between documents.
        separator: String,
    },
    /// `mongodb:addr=H:P,collection=DB.COLL,freq=N`: inserts the stats document.
    Mongo {
        /// The server.
        addr: HostPort,
        /// The database.
        database: String,
        /// The collection.
        collection: String,
    },
    /// `statsd:ADDR[,PREFIX]`.
    Statsd {
        /// The statsd server (UDP).
        addr: HostPort,
        /// Put before every metric name.
        prefix: String,
        /// `--statsd-no-workers`: only the server-wide metrics.
        no_workers: bool,
        /// `--statsd-all-gauges`: counters sent as gauges too.
        all_gauges: bool,
    },
    /// `socket:ADDR[,PREFIX]`: one UDP datagram `PREFIX.NAME TYPE VALUE` per metric.
    Socket {
        /// The receiver (UDP).
        addr: HostPort,
        /// Put before every metric name.
        prefix: String,
    },
    /// `zabbix:[ADDR][,PREFIX]`: Zabbix sender protocol over TCP.
    Zabbix {
        /// The Zabbix trapper.
        addr: HostPort,
        /// Put before every item key.
        prefix: String,
    },
    /// `--carbon HOST:PORT`: Graphite plaintext protocol over TCP.
    Carbon(CarbonSpec),
}

/// The settings of one `--carbon` server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarbonSpec {
    /// The carbon server.
    pub addr: HostPort,
    /// `--carbon-root` with its trailing dot (`uwsgi.` by default; empty means no root).
    pub root: String,
    /// `--carbon-id` (default: the first socket's name, dots and whitespace replaced by `_`).
    pub id: String,
    /// `--carbon-no-workers`.
    pub no_workers: bool,
    /// `--memory-report`: uWSGI sends rss/vsz only then.
    pub memory_report: bool,
    /// `--carbon-use-metrics`: send the metric list instead of carbon's own lines.
    pub use_metrics: bool,
}

fn err(spec: &str, msg: impl Into<String>) -> PushError {
    PushError::Invalid {
        spec: spec.to_string(),
        msg: msg.into(),
    }
}

/// uWSGI's `uwsgi_kvlist_parse` with `,` and `=`: every item must be `key=value` with a key
/// from `keys`; a repeated key keeps its last value.
fn kvlist<'a>(
    spec: &str,
    args: Option<&'a str>,
    keys: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, PushError> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    let Some(args) = args else { return Ok(out) };
    for item in args.split(',') {
        if item.is_empty() {
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| err(spec, format!("'{item}' is not key=value")))?;
        if !keys.contains(&k) {
            return Err(err(
                spec,
                format!("unknown key '{k}' (known: {})", keys.join(", ")),
            ));
        }
        out.retain(|(old, _)| *old != k);
        out.push((k, v));
    }
    Ok(out)
}

fn freq_of(spec: &str, v: &str) -> Result<Duration, PushError> {
    match v.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err(err(
            spec,
            format!("freq must be a whole number of seconds >= 1, not '{v}'"),
        )),
    }
}

/// `ADDRESS[,PREFIX]` as the statsd/socket/zabbix plugins split it.
fn addr_prefix(args: Option<&str>) -> (Option<&str>, String) {
    match args {
        None => (None, DEFAULT_METRIC_PREFIX.to_string()),
        Some(a) => match a.split_once(',') {
            Some((addr, prefix)) => (Some(addr), prefix.to_string()),
            None => (Some(a), DEFAULT_METRIC_PREFIX.to_string()),
        },
    }
}

/// Options that change how the `--stats-push` pushers behave.
#[derive(Clone, Copy, Debug, Default)]
pub struct PushOptions {
    /// `--stats-pusher-default-freq` (uWSGI's default is 3).
    pub default_freq: u64,
    /// `--statsd-no-workers`.
    pub statsd_no_workers: bool,
    /// `--statsd-all-gauges`.
    pub statsd_all_gauges: bool,
}

/// Parses one `--stats-push` value.
pub fn parse_stats_push(spec: &str, opts: PushOptions) -> Result<PusherSpec, PushError> {
    let (name, args) = match spec.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a)),
        None => (spec.trim(), None),
    };
    let mut freq = Duration::from_secs(opts.default_freq.max(1));
    let kind = match name {
        "file" => {
            let mut path = PathBuf::from(DEFAULT_FILE_PATH);
            let mut separator = DEFAULT_FILE_SEPARATOR.to_string();
            for (k, v) in kvlist(spec, args, &["path", "separator", "freq"])? {
                match k {
                    "path" if v.is_empty() => return Err(err(spec, "empty path")),
                    "path" => path = PathBuf::from(v),
                    "separator" => separator = v.to_string(),
                    _ => freq = freq_of(spec, v)?,
                }
            }
            PusherKind::File { path, separator }
        }
        "mongodb" => {
            let mut addr = DEFAULT_MONGO_ADDR.to_string();
            let mut ns = DEFAULT_MONGO_COLLECTION.to_string();
            for (k, v) in kvlist(spec, args, &["addr", "address", "collection", "freq"])? {
                match k {
                    "addr" | "address" => addr = v.to_string(),
                    "collection" => ns = v.to_string(),
                    _ => freq = freq_of(spec, v)?,
                }
            }
            let addr = HostPort::parse(&addr).map_err(|m| err(spec, m))?;
            let (database, collection) = ns
                .split_once('.')
                .filter(|(d, c)| !d.is_empty() && !c.is_empty())
                .ok_or_else(|| {
                    err(
                        spec,
                        format!("collection '{ns}' must be DATABASE.COLLECTION"),
                    )
                })?;
            PusherKind::Mongo {
                addr,
                database: database.to_string(),
                collection: collection.to_string(),
            }
        }
        "statsd" | "socket" => {
            let (addr, prefix) = addr_prefix(args);
            let addr = addr
                .filter(|a| !a.trim().is_empty())
                .ok_or_else(|| err(spec, "an address is required (NAME:HOST:PORT[,PREFIX])"))?;
            let addr = HostPort::parse(addr).map_err(|m| err(spec, m))?;
            if name == "statsd" {
                PusherKind::Statsd {
                    addr,
                    prefix,
                    no_workers: opts.statsd_no_workers,
                    all_gauges: opts.statsd_all_gauges,
                }
            } else {
                PusherKind::Socket { addr, prefix }
            }
        }
        "zabbix" => {
            let (addr, prefix) = addr_prefix(args);
            let addr = match addr.map(str::trim) {
                None | Some("") => DEFAULT_ZABBIX_ADDR,
                Some(a) => a,
            };
            let addr = HostPort::parse(addr).map_err(|m| err(spec, m))?;
            PusherKind::Zabbix { addr, prefix }
        }
        "" => return Err(err(spec, "empty pusher name")),
        other => {
            return Err(PushError::UnknownPusher {
                spec: spec.to_string(),
                name: other.to_string(),
            })
        }
    };
    Ok(PusherSpec {
        label: spec.to_string(),
        freq,
        kind,
    })
}

/// Carbon's defaults as uWSGI's `carbon_post_init` computes them.
#[derive(Clone, Debug, Default)]
pub struct CarbonOptions<'a> {
    /// `--carbon-freq` seconds.
    pub freq: u64,
    /// `--carbon-id`.
    pub id: Option<&'a str>,
    /// `--carbon-root`.
    pub root: Option<&'a str>,
    /// `--carbon-no-workers`.
    pub no_workers: bool,
    /// `--memory-report`.
    pub memory_report: bool,
    /// `--carbon-use-metrics`.
    pub use_metrics: bool,
    /// The first listening socket's name as uWSGI prints it (`127.0.0.1:3031`, `:3031`, a path).
    pub first_socket: Option<&'a str>,
}

/// uWSGI's default carbon id: the first socket's name with every `.` replaced by `_`
/// (colons are kept, as uWSGI keeps them), and whitespace too (a UNIX socket path may have
/// some; carbon's plaintext lines are split on it, so uWSGI's lines would break there).
pub fn default_carbon_id(first_socket: Option<&str>) -> String {
    first_socket
        .unwrap_or("default")
        .chars()
        .map(|c| {
            if c == '.' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// uWSGI's root node: `uwsgi.` unless given; a trailing dot is added to a non-empty root.
pub fn carbon_root(root: Option<&str>) -> String {
    match root {
        None => DEFAULT_CARBON_ROOT.to_string(),
        Some("") => String::new(),
        Some(r) if r.ends_with('.') => r.to_string(),
        Some(r) => format!("{r}."),
    }
}

/// Parses one `--carbon` value (`HOST:PORT`).
pub fn parse_carbon(value: &str, o: &CarbonOptions<'_>) -> Result<PusherSpec, PushError> {
    let label = format!("carbon:{value}");
    let addr = HostPort::parse(value).map_err(|m| PushError::Invalid {
        spec: label.clone(),
        msg: m,
    })?;
    if let Some(id) = o.id {
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(PushError::Invalid {
                spec: label,
                msg: format!("invalid carbon-id '{id}'"),
            });
        }
    }
    Ok(PusherSpec {
        label,
        freq: Duration::from_secs(o.freq.max(1)),
        kind: PusherKind::Carbon(CarbonSpec {
            addr,
            root: carbon_root(o.root),
            id: o
                .id
                .map(str::to_string)
                .unwrap_or_else(|| default_carbon_id(o.first_socket)),
            no_workers: o.no_workers,
            memory_report: o.memory_report,
            use_metrics: o.use_metrics,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PushOptions {
        PushOptions {
            default_freq: 3,
            ..Default::default()
        }
    }

    fn hp(h: &str, p: u16) -> HostPort {
        HostPort {
            host: h.into(),
            port: p,
        }
    }

    fn bad(spec: &str) -> String {
        parse_stats_push(spec, opts()).unwrap_err().to_string()
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(HostPort::parse("127.0.0.1:8125"), Ok(hp("127.0.0.1", 8125)));
        assert_eq!(HostPort::parse("localhost:2003"), Ok(hp("localhost", 2003)));
        assert_eq!(HostPort::parse(":2003"), Ok(hp("127.0.0.1", 2003)));
        assert_eq!(HostPort::parse("[::1]:2003"), Ok(hp("::1", 2003)));
        assert_eq!(hp("::1", 2003).to_addr_string(), "[::1]:2003");
        for b in [
            "127.0.0.1",
            "h:0",
            "h:99999",
            "h:x",
            "::1:80",
            "[::1]80",
            "a b:1",
            "",
        ] {
            assert!(HostPort::parse(b).is_err(), "{b}");
        }
    }

    #[test]
    fn file_defaults_and_keys() {
        let p = parse_stats_push("file", opts()).unwrap();
        assert_eq!(p.freq, Duration::from_secs(3));
        assert_eq!(
            p.kind,
            PusherKind::File {
                path: "uwsgi.stats".into(),
                separator: "\n\n".into()
            }
        );
        let p = parse_stats_push("file:path=/tmp/x.json,separator=---,freq=7", opts()).unwrap();
        assert_eq!(p.label, "file:path=/tmp/x.json,separator=---,freq=7");
        assert_eq!(p.freq, Duration::from_secs(7));
        assert_eq!(
            p.kind,
            PusherKind::File {
                path: "/tmp/x.json".into(),
                separator: "---".into()
            }
        );
        // the default freq follows --stats-pusher-default-freq
        let p = parse_stats_push(
            "file:path=a",
            PushOptions {
                default_freq: 9,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(p.freq, Duration::from_secs(9));
    }

    #[test]
    fn file_errors_name_the_problem() {
        assert!(bad("file:path=/x,fre=2").contains("unknown key 'fre'"));
        assert!(bad("file:/tmp/x").contains("'/tmp/x' is not key=value"));
        assert!(bad("file:freq=0").contains("freq"));
        assert!(bad("file:freq=abc").contains("'abc'"));
        assert!(bad("file:path=").contains("empty path"));
        assert!(
            bad("file:freq=x").contains("file:freq=x"),
            "names the pusher"
        );
    }

    #[test]
    fn mongodb_defaults_alias_and_errors() {
        let p = parse_stats_push("mongodb", opts()).unwrap();
        assert_eq!(
            p.kind,
            PusherKind::Mongo {
                addr: hp("127.0.0.1", 27017),
                database: "uwsgi".into(),
                collection: "statistics".into()
            }
        );
        let p = parse_stats_push(
            "mongodb:address=db1:27018,collection=app.stats.v1,freq=10",
            opts(),
        )
        .unwrap();
        assert_eq!(p.freq, Duration::from_secs(10));
        assert_eq!(
            p.kind,
            PusherKind::Mongo {
                addr: hp("db1", 27018),
                database: "app".into(),
                collection: "stats.v1".into()
            }
        );
        let p = parse_stats_push("mongodb:addr=h:1", opts()).unwrap();
        assert!(matches!(p.kind, PusherKind::Mongo { addr, .. } if addr == hp("h", 1)));
        assert!(bad("mongodb:collection=nodot").contains("DATABASE.COLLECTION"));
        assert!(bad("mongodb:collection=.x").contains("DATABASE.COLLECTION"));
        assert!(bad("mongodb:addr=nohost").contains("no port"));
        assert!(bad("mongodb:host=x:1").contains("unknown key 'host'"));
    }

    #[test]
    fn statsd_and_socket_positional() {
        let o = PushOptions {
            default_freq: 3,
            statsd_no_workers: true,
            statsd_all_gauges: true,
        };
        let p = parse_stats_push("statsd:127.0.0.1:8125", o).unwrap();
        assert_eq!(
            p.kind,
            PusherKind::Statsd {
                addr: hp("127.0.0.1", 8125),
                prefix: "uwsgi".into(),
                no_workers: true,
                all_gauges: true
            }
        );
        let p = parse_stats_push("statsd:localhost:8125,myinstance", opts()).unwrap();
        assert_eq!(
            p.kind,
            PusherKind::Statsd {
                addr: hp("localhost", 8125),
                prefix: "myinstance".into(),
                no_workers: false,
                all_gauges: false
            }
        );
        let p = parse_stats_push("socket:127.0.0.1:9000,pfx", opts()).unwrap();
        assert_eq!(
            p.kind,
            PusherKind::Socket {
                addr: hp("127.0.0.1", 9000),
                prefix: "pfx".into()
            }
        );
        assert!(bad("statsd").contains("address is required"));
        assert!(bad("statsd:").contains("address is required"));
        assert!(bad("statsd:127.0.0.1").contains("no port"));
        assert!(bad("socket:127.0.0.1:x,p").contains("invalid port 'x'"));
    }

    #[test]
    fn zabbix_defaults() {
        for s in ["zabbix", "zabbix:", "zabbix:,pfx"] {
            let p = parse_stats_push(s, opts()).unwrap();
            let PusherKind::Zabbix { addr, prefix } = p.kind else {
                panic!()
            };
            assert_eq!(addr, hp("127.0.0.1", 10051));
            assert_eq!(prefix, if s.ends_with("pfx") { "pfx" } else { "uwsgi" });
        }
        let p = parse_stats_push("zabbix:zbx:10052,app", opts()).unwrap();
        assert_eq!(
            p.kind,
            PusherKind::Zabbix {
                addr: hp("zbx", 10052),
                prefix: "app".into()
            }
        );
        assert!(bad("zabbix:zbx").contains("no port"));
    }

    #[test]
    fn unknown_pusher_is_named() {
        let e = parse_stats_push("rrdtool:/tmp", opts()).unwrap_err();
        assert!(matches!(e, PushError::UnknownPusher { ref name, .. } if name == "rrdtool"));
        assert!(e.to_string().contains("rrdtool"));
        assert!(bad(":x").contains("empty pusher name"));
    }

    #[test]
    fn carbon_defaults_like_uwsgi() {
        assert_eq!(default_carbon_id(Some("127.0.0.1:3031")), "127_0_0_1:3031");
        assert_eq!(default_carbon_id(Some(":3031")), ":3031");
        assert_eq!(default_carbon_id(Some("/tmp/app.sock")), "/tmp/app_sock");
        // found by the push_spec fuzz body (through its proptest): a space in the first
        // socket's name made an id that carbon splits in two
        assert_eq!(
            default_carbon_id(Some("/tmp/my app.sock")),
            "/tmp/my_app_sock"
        );
        assert_eq!(default_carbon_id(Some("[::1]:3031\t")), "[::1]:3031_");
        assert_eq!(carbon_root(None), "uwsgi.");
        assert_eq!(carbon_root(Some("apps")), "apps.");
        assert_eq!(carbon_root(Some("apps.")), "apps.");
        assert_eq!(carbon_root(Some("")), "");
        let o = CarbonOptions {
            freq: 60,
            first_socket: Some("127.0.0.1:3031"),
            ..Default::default()
        };
        let p = parse_carbon("127.0.0.1:2003", &o).unwrap();
        assert_eq!(p.label, "carbon:127.0.0.1:2003");
        assert_eq!(p.freq, Duration::from_secs(60));
        let PusherKind::Carbon(c) = p.kind else {
            panic!()
        };
        assert_eq!(c.id, "127_0_0_1:3031");
        assert_eq!(c.root, "uwsgi.");
        let o = CarbonOptions {
            freq: 5,
            id: Some("myapp"),
            root: Some("prod"),
            no_workers: true,
            memory_report: true,
            use_metrics: true,
            first_socket: None,
        };
        let PusherKind::Carbon(c) = parse_carbon("graphite:2003", &o).unwrap().kind else {
            panic!()
        };
        assert_eq!((c.id.as_str(), c.root.as_str()), ("myapp", "prod."));
        assert!(c.no_workers && c.memory_report && c.use_metrics);
        assert!(parse_carbon("graphite", &o)
            .unwrap_err()
            .to_string()
            .contains("carbon:graphite"));
        let o = CarbonOptions {
            id: Some("a b"),
            ..o
        };
        assert!(parse_carbon("g:1", &o).is_err());
    }
}
