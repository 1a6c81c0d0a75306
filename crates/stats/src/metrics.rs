//! uWSGI's metrics subsystem (`core/metrics.c`), pure: the `--metric` spec parser, the value
//! operations of `uwsgi.metric_*`, the collectors that need no plugin, and the metric list
//! (built-in and custom) computed from a [`StatsSnapshot`].
//!
//! The built-in names, order, types and OIDs are those uWSGI 2.0 registers (seen in
//! `shared/reference/uwsgi-2.0.21-push-file-head.txt`); their values are computed from the
//! snapshot when it is read, where uWSGI copies them once a second:
//!
//! | name | type | oid | from |
//! |---|---|---|---|
//! | `core.routed_signals`, `core.unrouted_signals` | counter | 5.1, 5.2 | signals the master delivered / dropped (a full queue) |
//! | `core.busy_workers`, `core.idle_workers` | gauge | 5.3, 5.4 | worker statuses |
//! | `core.overloaded` | counter | 5.5 | `listen_queue_errors` |
//! | `worker.N.requests` | counter | 3.N.1 | requests (N = 0 is the sum of all workers) |
//! | `worker.N.delta_requests` | absolute | 3.N.2 | delta_requests |
//! | `worker.N.failed_requests` | counter | 3.N.13 | exceptions |
//! | `worker.N.respawns` | counter | 3.N.14 | respawn_count |
//! | `worker.N.avg_response_time` | gauge | 3.N.8 | avg_rt (µs; worker 0: mean of the workers that served) |
//! | `worker.N.total_tx` | counter | 3.N.9 | tx |
//! | `worker.N.rss_size`, `worker.N.vsz_size` | gauge | 3.N.11, 3.N.12 | rss, vsz |
//! | `worker.N.running_time` | counter | 3.N.13 (uWSGI reuses it) | running_time (µs) |
//! | `worker.N.core.M.{requests,write_errors,routed_requests,static_requests,offloaded_requests,read_errors}` | counter | 3.N.2.M.{1,3,4,5,6,8} | the core's counters (N ≥ 1, when cores are in the snapshot and not `--metrics-no-cores`) |
//! | `core.total_tx`, `core.total_running_time` | counter | 5.100, 5.104 | sums |
//! | `core.total_rss`, `core.total_vsz`, `core.avg_response_time` | gauge | 5.101, 5.102, 5.103 | sums / mean |
//! | `socket.N.listen_queue` | gauge | 7.N.1 | the socket's queue |
//! | `rss_size`, `vsz_size` | alias (3) | 5.101, 5.102 | = core.total_rss / core.total_vsz |
//!
//! then the `--metric` ones in the order given. uWSGI's per-core `exceptions` is not reported:
//! rwsgi counts exceptions per worker only (`worker.N.failed_requests`), and a made-up zero
//! would lie.

use crate::model::{StatsSnapshot, WorkerStats, WorkerStatus};

/// uWSGI's metric types (`UWSGI_METRIC_*`), with their numeric values (the stats' `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// Grows; pushers that want deltas send the difference.
    Counter = 0,
    /// A level that goes up and down.
    Gauge = 1,
    /// A counter sent as its absolute value.
    Absolute = 2,
    /// Another metric's value under a second name.
    Alias = 3,
}

/// One metric and its current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    /// uWSGI's dotted name (`worker.1.requests`).
    pub name: String,
    /// Its type.
    pub kind: MetricType,
    /// Its SNMP-style OID below uWSGI's (`3.1.1`), empty when it has none.
    pub oid: String,
    /// Its value (uWSGI's metrics are signed 64-bit).
    pub value: i64,
}

/// A collector that computes a custom metric's value once per `freq` seconds (uWSGI's
/// `collector=`), instead of the app setting it. Only those that need no plugin or C code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collector {
    /// `file`: field `arg1n` (0-based, whitespace separated) of file `arg1`, as an integer.
    File {
        /// The file read.
        path: String,
        /// Which field.
        field: usize,
    },
    /// `sum`: the children's sum.
    Sum,
    /// `accumulator`: its own value plus the children's sum.
    Accumulator,
    /// `adder`: the children's sum plus `arg1n`.
    Adder(i64),
    /// `multiplier`: the children's sum times `arg1n`.
    Multiplier(i64),
    /// `avg`: the children's mean (0 without children).
    Avg,
}

/// One `--metric` definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    /// The name (`[0-9A-Za-z._-]+`).
    pub name: String,
    /// Its type (`alias` when `alias=` is given).
    pub kind: MetricType,
    /// Its OID (`[0-9.]*`), if given.
    pub oid: Option<String>,
    /// The value it starts with (and a collector's base).
    pub initial_value: i64,
    /// What computes it, if not the app.
    pub collector: Option<Collector>,
    /// Seconds between collections (at least 1).
    pub freq: u32,
    /// The metrics a collector reads (`children=a;b`).
    pub children: Vec<String>,
    /// For an alias: the metric whose value it shows.
    pub alias: Option<String>,
}

/// Why a `--metric` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricSpecError {
    /// No `name=`.
    #[error("--metric {spec:?}: a metric needs a name")]
    NoName {
        /// The spec as given.
        spec: String,
    },
    /// A character outside `[0-9A-Za-z._-]` in the name.
    #[error("--metric {spec:?}: invalid metric name {name:?} (allowed: 0-9 a-z A-Z . - _)")]
    BadName {
        /// The spec as given.
        spec: String,
        /// The name.
        name: String,
    },
    /// A character outside `[0-9.]` in the OID.
    #[error("--metric {spec:?}: invalid metric oid {oid:?} (allowed: 0-9 .)")]
    BadOid {
        /// The spec as given.
        spec: String,
        /// The OID.
        oid: String,
    },
    /// A value that is not what its key takes.
    #[error("--metric {spec:?}: {key}={value:?} {why}")]
    BadValue {
        /// The spec as given.
        spec: String,
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        why: &'static str,
    },
    /// A uWSGI feature rwsgi does not have.
    #[error("--metric {spec:?}: {what} is not supported: {why}")]
    Unsupported {
        /// The spec as given.
        spec: String,
        /// The feature.
        what: String,
        /// Why.
        why: &'static str,
    },
    /// `children=` or `alias=` names a metric not defined before this one.
    #[error("--metric {spec:?}: unable to find metric {name:?} (define it first)")]
    UnknownMetric {
        /// The spec as given.
        spec: String,
        /// The name looked for.
        name: String,
    },
    /// The name of a built-in metric.
    #[error("--metric {spec:?}: {name:?} is a built-in metric (read-only)")]
    BuiltinName {
        /// The spec as given.
        spec: String,
        /// The name.
        name: String,
    },
}

/// uWSGI's `uwsgi_kvlist_parse(.., ',', '=')`: items split on unescaped `,` (a backslash
/// escapes the next character), each `key=value` at its first `=`; items without `=` are
/// ignored, as uWSGI does.
fn kvlist(s: &str) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            items.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
        .into_iter()
        .filter_map(|item| {
            let (k, v) = item.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// uWSGI's `strtoll(s, NULL, 10)`: leading blanks, a sign, digits; 0 when there are none,
/// clamped at the i64 range.
pub fn strtoll(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        v = match v.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        }) {
            Some(v) => v,
            None => return if neg { i64::MIN } else { i64::MAX },
        };
    }
    v
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Parses one `--metric` value: a bare name, or uWSGI's `key=value,...` with `name`, `oid`,
/// `type` (`counter`, default; `gauge`; `absolute`; `alias`), `initial_value`, `collector`
/// (`file`, `sum`, `accumulator`, `adder`, `multiplier`, `avg`), `freq`, `arg1`, `arg1n`,
/// `children` (`a;b`) and `alias`. Refused by name: the `ptr` and `func` collectors (they
/// read C memory / call a C symbol) and `reset_after_push`. Unknown keys are ignored, as
/// uWSGI ignores them.
pub fn parse_metric_spec(spec: &str) -> Result<MetricSpec, MetricSpecError> {
    let s = || spec.to_string();
    let mut m = MetricSpec {
        name: String::new(),
        kind: MetricType::Counter,
        oid: None,
        initial_value: 0,
        collector: None,
        freq: 1,
        children: Vec::new(),
        alias: None,
    };
    if !spec.contains('=') {
        m.name = spec.to_string();
    }
    let (mut collector, mut arg1, mut arg1n) = (None, None, None);
    for (k, v) in kvlist(if spec.contains('=') { spec } else { "" }) {
        match k.as_str() {
            "name" => m.name = v,
            "oid" => m.oid = Some(v),
            "type" => {
                m.kind = match v.as_str() {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "absolute" => MetricType::Absolute,
                    "alias" => MetricType::Alias,
                    _ => {
                        // uWSGI silently makes an unknown type a counter; a typo should not
                        // change what the pushers send.
                        return Err(MetricSpecError::BadValue {
                            spec: s(),
                            key: "type",
                            value: v,
                            why: "is not counter, gauge, absolute or alias",
                        });
                    }
                }
            }
            "initial_value" => m.initial_value = strtoll(&v),
            "collector" => collector = Some(v),
            "freq" => {
                m.freq = v
                    .parse::<u32>()
                    .map_err(|_| MetricSpecError::BadValue {
                        spec: s(),
                        key: "freq",
                        value: v.clone(),
                        why: "is not a number of seconds",
                    })?
                    .max(1)
            }
            "arg1" => arg1 = Some(v),
            "arg1n" => arg1n = Some(strtoll(&v)),
            "children" => {
                m.children = v
                    .split(';')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "alias" => m.alias = Some(v),
            "reset_after_push" => {
                return Err(MetricSpecError::Unsupported {
                    spec: s(),
                    what: "reset_after_push".into(),
                    why: "rwsgi's pushers read the scoreboard and never write a metric",
                })
            }
            "arg2" | "arg3" | "arg2n" | "arg3n" => {
                return Err(MetricSpecError::Unsupported {
                    spec: s(),
                    what: k,
                    why: "no collector rwsgi has reads it",
                })
            }
            _ => {}
        }
    }
    if m.name.is_empty() {
        return Err(MetricSpecError::NoName { spec: s() });
    }
    if !valid_name(&m.name) {
        return Err(MetricSpecError::BadName {
            spec: s(),
            name: m.name,
        });
    }
    if let Some(oid) = &m.oid {
        if !oid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(MetricSpecError::BadOid {
                spec: s(),
                oid: oid.clone(),
            });
        }
    }
    if m.alias.is_some() {
        m.kind = MetricType::Alias;
    } else if m.kind == MetricType::Alias {
        return Err(MetricSpecError::BadValue {
            spec: s(),
            key: "type",
            value: "alias".into(),
            why: "needs alias=NAME",
        });
    }
    m.collector = match collector.as_deref() {
        None => None,
        Some("file") => Some(Collector::File {
            path: arg1.ok_or_else(|| MetricSpecError::BadValue {
                spec: s(),
                key: "collector",
                value: "file".into(),
                why: "needs arg1=PATH",
            })?,
            field: usize::try_from(arg1n.unwrap_or(0)).unwrap_or(0),
        }),
        Some("sum") => Some(Collector::Sum),
        Some("accumulator") => Some(Collector::Accumulator),
        Some("adder") => Some(Collector::Adder(arg1n.unwrap_or(0))),
        Some("multiplier") => Some(Collector::Multiplier(arg1n.unwrap_or(0))),
        Some("avg") => Some(Collector::Avg),
        Some(other @ ("ptr" | "func")) => {
            return Err(MetricSpecError::Unsupported {
                spec: s(),
                what: format!("collector {other}"),
                why: "it reads C memory or calls a C function of a uWSGI plugin",
            })
        }
        Some(other) => {
            return Err(MetricSpecError::Unsupported {
                spec: s(),
                what: format!("collector {other}"),
                why: "uWSGI has no such collector without a plugin",
            })
        }
    };
    Ok(m)
}

/// Parses every `--metric` in order and checks their references: `children` and `alias` name
/// a built-in metric (`is_builtin`) or one defined earlier, and no custom metric takes a
/// built-in's name. A name given twice keeps its first place and its last definition (uWSGI
/// re-registers it).
pub fn parse_metric_specs(
    specs: &[String],
    is_builtin: impl Fn(&str) -> bool,
) -> Result<Vec<MetricSpec>, MetricSpecError> {
    let mut out: Vec<MetricSpec> = Vec::new();
    for spec in specs {
        let m = parse_metric_spec(spec)?;
        if is_builtin(&m.name) {
            return Err(MetricSpecError::BuiltinName {
                spec: spec.clone(),
                name: m.name,
            });
        }
        for r in m.children.iter().chain(&m.alias) {
            if !is_builtin(r) && !out.iter().any(|o| &o.name == r) {
                return Err(MetricSpecError::UnknownMetric {
                    spec: spec.clone(),
                    name: r.clone(),
                });
            }
        }
        match out.iter_mut().find(|o| o.name == m.name) {
            Some(old) => *old = m,
            None => out.push(m),
        }
    }
    Ok(out)
}

/// What `uwsgi.metric_*` does to a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricOp {
    /// `metric_set`: value = n.
    Set,
    /// `metric_inc`: value += n.
    Inc,
    /// `metric_dec`: value -= n.
    Dec,
    /// `metric_mul`: value *= n.
    Mul,
    /// `metric_div`: value /= n (refused for 0).
    Div,
    /// `metric_set_max`: value = n when n is larger.
    SetMax,
    /// `metric_set_min`: value = n when n is smaller, and (uWSGI's rule) larger than the
    /// metric's initial value.
    SetMin,
}

/// The value `op` with argument `n` makes of `current` (`initial` is the metric's initial
/// value, which `SetMin` compares with); `None` when it leaves it unchanged. Arithmetic wraps
/// (uWSGI's C overflows).
pub fn apply_op(op: MetricOp, current: i64, n: i64, initial: i64) -> Option<i64> {
    match op {
        MetricOp::Set => Some(n),
        MetricOp::Inc => Some(current.wrapping_add(n)),
        MetricOp::Dec => Some(current.wrapping_sub(n)),
        MetricOp::Mul => Some(current.wrapping_mul(n)),
        MetricOp::Div => (n != 0).then(|| current.wrapping_div(n)),
        MetricOp::SetMax => (n > current).then_some(n),
        MetricOp::SetMin => (n > initial && n < current).then_some(n),
    }
}

/// Field `field` (0-based) of `content`, split on blanks, as uWSGI's `file` collector reads it
/// (only the first 4096 bytes; 0 when the field is missing or not a number).
pub fn file_field(content: &[u8], field: usize) -> i64 {
    let content = &content[..content.len().min(4096)];
    content
        .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0))
        .filter(|f| !f.is_empty())
        .nth(field)
        .map_or(0, |f| strtoll(&String::from_utf8_lossy(f)))
}

/// What collector `c` computes from its metric's `own` value and its `children`'s values (a
/// `file` collector's value is [`file_field`] of the file, read by the caller).
pub fn collect(c: &Collector, own: i64, children: &[i64], file_value: i64) -> i64 {
    let sum = children.iter().fold(0i64, |a, &b| a.wrapping_add(b));
    match c {
        Collector::File { .. } => file_value,
        Collector::Sum => sum,
        Collector::Accumulator => own.wrapping_add(sum),
        Collector::Adder(n) => sum.wrapping_add(*n),
        Collector::Multiplier(n) => sum.wrapping_mul(*n),
        Collector::Avg => sum.checked_div(children.len() as i64).unwrap_or(0),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn mean(values: impl Iterator<Item = u64>) -> u64 {
    let (sum, n) = values.fold((0u64, 0u64), |(s, n), v| (s.saturating_add(v), n + 1));
    sum.checked_div(n).unwrap_or(0)
}

struct List {
    out: Vec<Metric>,
}

impl List {
    fn push(&mut self, name: String, kind: MetricType, oid: String, value: u64) {
        self.out.push(Metric {
            name,
            kind,
            oid,
            value: to_i64(value),
        });
    }
}

/// The built-in metrics uWSGI registers, then the custom ones of `snap.master.metrics`, in
/// uWSGI's order (the stats' `metrics` object, the statsd/socket/zabbix pushers).
pub fn uwsgi_metrics(snap: &StatsSnapshot) -> Vec<Metric> {
    use MetricType::*;
    let ws = &snap.workers;
    let cores = snap.master.metrics.as_ref().is_none_or(|m| !m.no_cores);
    let mut l = List {
        out: Vec::with_capacity(16 + ws.len() * 20),
    };
    let busy = ws
        .iter()
        .filter(|w| matches!(w.status, WorkerStatus::Busy | WorkerStatus::Sig(_)))
        .count() as u64;
    let idle = ws
        .iter()
        .filter(|w| matches!(w.status, WorkerStatus::Idle | WorkerStatus::Pause))
        .count() as u64;
    l.push(
        "core.routed_signals".into(),
        Counter,
        "5.1".into(),
        snap.routed_signals,
    );
    l.push(
        "core.unrouted_signals".into(),
        Counter,
        "5.2".into(),
        snap.unrouted_signals,
    );
    l.push("core.busy_workers".into(), Gauge, "5.3".into(), busy);
    l.push("core.idle_workers".into(), Gauge, "5.4".into(), idle);
    l.push(
        "core.overloaded".into(),
        Counter,
        "5.5".into(),
        snap.listen_queue_errors,
    );

    let sum =
        |f: fn(&WorkerStats) -> u64| -> u64 { ws.iter().map(f).fold(0u64, u64::saturating_add) };
    let total_tx = sum(|w| w.tx);
    let total_rss = sum(|w| w.rss);
    let total_vsz = sum(|w| w.vsz);
    let total_rt = sum(|w| w.running_time);
    let avg_rt = mean(ws.iter().filter(|w| w.requests > 0).map(|w| w.avg_rt));

    // worker 0: the whole server, as uWSGI's `uwsgi.workers[0]`
    let w0 = [
        sum(|w| w.requests),
        sum(|w| w.delta_requests),
        sum(|w| w.exceptions),
        sum(|w| w.respawn_count),
        avg_rt,
        total_tx,
        total_rss,
        total_vsz,
        total_rt,
    ];
    let per_worker = |l: &mut List, id: u64, v: [u64; 9]| {
        const FIELDS: [(&str, MetricType, u32); 9] = [
            ("requests", Counter, 1),
            ("delta_requests", Absolute, 2),
            ("failed_requests", Counter, 13),
            ("respawns", Counter, 14),
            ("avg_response_time", Gauge, 8),
            ("total_tx", Counter, 9),
            ("rss_size", Gauge, 11),
            ("vsz_size", Gauge, 12),
            ("running_time", Counter, 13),
        ];
        for ((n, k, oid), val) in FIELDS.iter().zip(v) {
            l.push(format!("worker.{id}.{n}"), *k, format!("3.{id}.{oid}"), val);
        }
    };
    per_worker(&mut l, 0, w0);
    for w in ws {
        per_worker(
            &mut l,
            w.id,
            [
                w.requests,
                w.delta_requests,
                w.exceptions,
                w.respawn_count,
                w.avg_rt,
                w.tx,
                w.rss,
                w.vsz,
                w.running_time,
            ],
        );
        if !cores {
            continue;
        }
        for c in &w.cores {
            let (p, o) = (
                format!("worker.{}.core.{}", w.id, c.id),
                format!("3.{}.2.{}", w.id, c.id),
            );
            for (n, oid, v) in [
                ("requests", 1, c.requests),
                ("write_errors", 3, c.write_errors),
                ("routed_requests", 4, c.routed_requests),
                ("static_requests", 5, c.static_requests),
                ("offloaded_requests", 6, c.offloaded_requests),
                ("read_errors", 8, c.read_errors),
            ] {
                l.push(format!("{p}.{n}"), Counter, format!("{o}.{oid}"), v);
            }
        }
    }
    l.push("core.total_tx".into(), Counter, "5.100".into(), total_tx);
    l.push("core.total_rss".into(), Gauge, "5.101".into(), total_rss);
    l.push("core.total_vsz".into(), Gauge, "5.102".into(), total_vsz);
    l.push(
        "core.avg_response_time".into(),
        Gauge,
        "5.103".into(),
        avg_rt,
    );
    l.push(
        "core.total_running_time".into(),
        Counter,
        "5.104".into(),
        total_rt,
    );
    for (i, (_, queue)) in snap.sockets().enumerate() {
        l.push(
            format!("socket.{i}.listen_queue"),
            Gauge,
            format!("7.{i}.1"),
            queue,
        );
    }
    l.push("rss_size".into(), Alias, "5.101".into(), total_rss);
    l.push("vsz_size".into(), Alias, "5.102".into(), total_vsz);
    let mut out = l.out;
    if let Some(info) = &snap.master.metrics {
        let builtin = out.len();
        for (i, spec) in info.custom.iter().enumerate() {
            let (value, oid) = match &spec.alias {
                // An alias shows its target's value and OID (uWSGI remaps it).
                Some(target) => out
                    .iter()
                    .find(|m| &m.name == target)
                    .map_or((0, String::new()), |m| (m.value, m.oid.clone())),
                None => (
                    snap.metric_values.get(i).copied().unwrap_or(0),
                    spec.oid.clone().unwrap_or_default(),
                ),
            };
            out.push(Metric {
                name: spec.name.clone(),
                kind: spec.kind,
                oid,
                value,
            });
        }
        debug_assert_eq!(out.len(), builtin + info.custom.len());
    }
    out
}

/// Whether `name` is one of the built-in metrics uWSGI registers for a server of `workers`
/// workers of `cores` cores with `sockets` listening sockets (the names
/// [`uwsgi_metrics`] lists, decided without building them).
pub fn is_builtin_metric(name: &str, workers: usize, cores: usize, sockets: usize) -> bool {
    const CORE: [&str; 10] = [
        "core.routed_signals",
        "core.unrouted_signals",
        "core.busy_workers",
        "core.idle_workers",
        "core.overloaded",
        "core.total_tx",
        "core.total_rss",
        "core.total_vsz",
        "core.avg_response_time",
        "core.total_running_time",
    ];
    const WORKER: [&str; 9] = [
        "requests",
        "delta_requests",
        "failed_requests",
        "respawns",
        "avg_response_time",
        "total_tx",
        "rss_size",
        "vsz_size",
        "running_time",
    ];
    const PER_CORE: [&str; 6] = [
        "requests",
        "write_errors",
        "routed_requests",
        "static_requests",
        "offloaded_requests",
        "read_errors",
    ];
    let index = |s: &str, below: usize| s.parse::<usize>().ok().filter(|&n| n < below);
    if CORE.contains(&name) || name == "rss_size" || name == "vsz_size" {
        return true;
    }
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["worker", n, field] => index(n, workers + 1).is_some() && WORKER.contains(field),
        ["worker", n, "core", c, field] => {
            index(n, workers + 1).is_some_and(|n| n > 0)
                && index(c, cores).is_some()
                && PER_CORE.contains(field)
        }
        ["socket", n, "listen_queue"] => index(n, sockets).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::{MasterInfo, MetricsInfo, SocketInfo, SocketStats};

    fn parse(s: &str) -> MetricSpec {
        parse_metric_spec(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        parse_metric_spec(s).unwrap_err().to_string()
    }

    #[test]
    fn spec_bare_name_and_defaults() {
        let m = parse("app.hits");
        assert_eq!(m.name, "app.hits");
        assert_eq!(m.kind, MetricType::Counter);
        assert_eq!((m.oid, m.initial_value, m.freq), (None, 0, 1));
        assert_eq!(m.collector, None);
    }

    #[test]
    fn spec_key_values() {
        let m = parse("name=q.depth,type=gauge,oid=100.1,initial_value=-7,freq=5");
        assert_eq!(m.name, "q.depth");
        assert_eq!(m.kind, MetricType::Gauge);
        assert_eq!(m.oid.as_deref(), Some("100.1"));
        assert_eq!(m.initial_value, -7);
        assert_eq!(m.freq, 5);
        assert_eq!(parse("name=a,type=absolute").kind, MetricType::Absolute);
        assert_eq!(parse("name=a,freq=0").freq, 1, "uWSGI makes 0 one second");
        // uWSGI ignores unknown keys and items without '='
        assert_eq!(parse("name=a,colour=red,junk").name, "a");
        // strtoll: digits up to the first other character
        assert_eq!(parse("name=a,initial_value=12abc").initial_value, 12);
        assert_eq!(parse("name=a,initial_value=x").initial_value, 0);
    }

    #[test]
    fn spec_escapes_like_kvlist() {
        let m = parse(r"name=f,collector=file,arg1=/tmp/a\,b,arg1n=2");
        assert_eq!(
            m.collector,
            Some(Collector::File {
                path: "/tmp/a,b".into(),
                field: 2
            })
        );
    }

    #[test]
    fn spec_collectors() {
        let m = parse("name=t,collector=sum,children=a;b;");
        assert_eq!(m.collector, Some(Collector::Sum));
        assert_eq!(m.children, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            parse("name=t,collector=adder,arg1n=3").collector,
            Some(Collector::Adder(3))
        );
        assert_eq!(
            parse("name=t,collector=multiplier,arg1n=-2").collector,
            Some(Collector::Multiplier(-2))
        );
        assert_eq!(
            parse("name=t,collector=accumulator").collector,
            Some(Collector::Accumulator)
        );
        assert_eq!(
            parse("name=t,collector=avg").collector,
            Some(Collector::Avg)
        );
        let a = parse("name=mem,alias=core.total_rss");
        assert_eq!(
            (a.kind, a.alias.as_deref()),
            (MetricType::Alias, Some("core.total_rss"))
        );
    }

    #[test]
    fn spec_refusals_say_why() {
        assert!(err("type=gauge").contains("needs a name"));
        assert!(err("name=a b").contains("invalid metric name"));
        assert!(err("a/b").contains("invalid metric name"));
        assert!(err("name=a,oid=1.x").contains("invalid metric oid"));
        assert!(err("name=a,type=gague").contains("type=\"gague\" is not counter"));
        assert!(err("name=a,type=alias").contains("needs alias=NAME"));
        assert!(err("name=a,freq=-1").contains("freq"));
        assert!(err("name=a,collector=file").contains("needs arg1=PATH"));
        assert!(err("name=a,collector=ptr").contains("collector ptr is not supported"));
        assert!(err("name=a,collector=func,arg1=f").contains("C function"));
        assert!(err("name=a,collector=bogus").contains("collector bogus"));
        assert!(err("name=a,reset_after_push=1").contains("reset_after_push is not supported"));
        assert!(err("name=a,arg2=x").contains("arg2 is not supported"));
    }

    #[test]
    fn specs_resolve_references_and_redefinitions() {
        let builtin = |n: &str| is_builtin_metric(n, 2, 1, 1);
        let specs: Vec<String> = [
            "a",
            "name=b,type=gauge",
            "name=t,collector=sum,children=a;b;worker.1.requests",
            "name=a,type=absolute",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = parse_metric_specs(&specs, builtin).unwrap();
        let names: Vec<&str> = got.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "t"], "a keeps its place");
        assert_eq!(got[0].kind, MetricType::Absolute, "and its last definition");
        let bad = |list: &[&str]| {
            let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            parse_metric_specs(&v, builtin).unwrap_err().to_string()
        };
        assert!(bad(&["name=t,collector=sum,children=later", "later"]).contains("\"later\""));
        assert!(bad(&["name=x,alias=nope"]).contains("unable to find metric \"nope\""));
        assert!(bad(&["worker.1.requests"]).contains("built-in"));
        assert!(bad(&["rss_size"]).contains("built-in"));
    }

    #[test]
    fn builtin_names() {
        let b = |n| is_builtin_metric(n, 2, 2, 1);
        assert!(b("worker.0.requests"));
        assert!(b("worker.2.avg_response_time"));
        assert!(!b("worker.3.requests"));
        assert!(b("worker.1.core.1.read_errors"));
        assert!(!b("worker.0.core.0.requests"), "no cores for worker 0");
        assert!(!b("worker.1.core.2.requests"));
        assert!(b("socket.0.listen_queue"));
        assert!(!b("socket.1.listen_queue"));
        assert!(b("core.overloaded") && b("vsz_size"));
        assert!(!b("core.mine") && !b("worker.1.mine") && !b("worker.x.requests"));
    }

    #[test]
    fn ops_follow_uwsgi() {
        use MetricOp::*;
        assert_eq!(apply_op(Set, 5, 9, 0), Some(9));
        assert_eq!(apply_op(Inc, 5, 2, 0), Some(7));
        assert_eq!(apply_op(Dec, 5, 7, 0), Some(-2));
        assert_eq!(apply_op(Mul, -3, 4, 0), Some(-12));
        assert_eq!(apply_op(Div, 9, 2, 0), Some(4));
        assert_eq!(apply_op(Div, 9, 0, 0), None, "division by zero is refused");
        assert_eq!(apply_op(Div, i64::MIN, -1, 0), Some(i64::MIN), "wraps");
        assert_eq!(apply_op(Inc, i64::MAX, 1, 0), Some(i64::MIN), "wraps");
        assert_eq!(apply_op(SetMax, 5, 9, 0), Some(9));
        assert_eq!(apply_op(SetMax, 5, 3, 0), None);
        assert_eq!(apply_op(SetMin, 5, 3, 0), Some(3));
        assert_eq!(apply_op(SetMin, 5, 7, 0), None);
        // uWSGI's rule: never down to (or below) the initial value
        assert_eq!(apply_op(SetMin, 5, 0, 0), None);
        assert_eq!(apply_op(SetMin, 50, 10, 20), None);
    }

    #[test]
    fn collectors_compute() {
        let c = |c: Collector, own, ch: &[i64]| collect(&c, own, ch, 0);
        assert_eq!(c(Collector::Sum, 100, &[1, 2, 3]), 6);
        assert_eq!(c(Collector::Accumulator, 100, &[1, 2]), 103);
        assert_eq!(c(Collector::Adder(10), 0, &[1, 2]), 13);
        assert_eq!(c(Collector::Multiplier(3), 0, &[1, 2]), 9);
        assert_eq!(c(Collector::Avg, 0, &[1, 2, 6]), 3);
        assert_eq!(c(Collector::Avg, 0, &[]), 0);
        let f = Collector::File {
            path: "x".into(),
            field: 1,
        };
        assert_eq!(collect(&f, 0, &[], 42), 42);
        assert_eq!(file_field(b"  17 23\n", 0), 17);
        assert_eq!(file_field(b"0.50 0.40 0.30 1/200 999\n", 3), 1);
        assert_eq!(file_field(b"1 2", 5), 0);
        assert_eq!(file_field(b"-5\n", 0), -5);
    }

    fn snap() -> StatsSnapshot {
        StatsSnapshot {
            master: MasterInfo {
                sockets: vec![SocketInfo::default()],
                ..Default::default()
            },
            sockets: vec![SocketStats { queue: 2 }],
            workers: vec![fixtures::worker(1, 3), fixtures::worker(2, 4)],
            ..Default::default()
        }
    }

    fn get<'a>(ms: &'a [Metric], name: &str) -> &'a Metric {
        ms.iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn builtin_oids_match_uwsgi() {
        let ms = uwsgi_metrics(&snap());
        assert_eq!(get(&ms, "core.busy_workers").oid, "5.3");
        assert_eq!(get(&ms, "worker.0.requests").oid, "3.0.1");
        assert_eq!(get(&ms, "worker.2.failed_requests").oid, "3.2.13");
        assert_eq!(get(&ms, "worker.1.running_time").oid, "3.1.13");
        assert_eq!(get(&ms, "worker.1.core.0.read_errors").oid, "3.1.2.0.8");
        assert_eq!(get(&ms, "socket.0.listen_queue").oid, "7.0.1");
        assert_eq!(get(&ms, "vsz_size").oid, "5.102");
        for m in &ms {
            assert!(
                is_builtin_metric(&m.name, 2, 1, 1),
                "{} is listed but not known as built-in",
                m.name
            );
        }
    }

    #[test]
    fn custom_metrics_follow_the_builtins() {
        let mut s = snap();
        let specs: Vec<String> = [
            "hits",
            "name=depth,type=gauge,oid=9.1",
            "name=mem,alias=rss_size",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        s.master.metrics = Some(MetricsInfo {
            custom: parse_metric_specs(&specs, |n| is_builtin_metric(n, 2, 1, 1)).unwrap(),
            ..Default::default()
        });
        s.metric_values = vec![-4, 12, 0];
        let ms = uwsgi_metrics(&s);
        let tail: Vec<(&str, MetricType, &str, i64)> = ms[ms.len() - 3..]
            .iter()
            .map(|m| (m.name.as_str(), m.kind, m.oid.as_str(), m.value))
            .collect();
        assert_eq!(
            tail,
            [
                ("hits", MetricType::Counter, "", -4),
                ("depth", MetricType::Gauge, "9.1", 12),
                ("mem", MetricType::Alias, "5.101", 2000),
            ]
        );
        assert_eq!(ms[ms.len() - 4].name, "vsz_size");
        s.master.metrics.as_mut().unwrap().no_cores = true;
        assert!(!uwsgi_metrics(&s).iter().any(|m| m.name.contains(".core.")));
    }
}
