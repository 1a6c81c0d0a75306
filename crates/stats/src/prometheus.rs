//! The Prometheus rendering of a [`StatsSnapshot`]: the names and labels of
//! timonwong/uwsgi_exporter (so its dashboards, alerts and autoscalers work unchanged), less
//! its `stats_uri` label (Prometheus adds `instance`), plus rwsgi's own series under `rwsgi_`.
//!
//! Written by hand rather than with `prometheus-client`: that crate encodes only OpenMetrics,
//! whose counter families are named without `_total` — the classic text format (0.0.4) that
//! Prometheus asks for first and `promtool check metrics` reads would then see families the
//! exporter never had. Both formats are small; this module writes either, from one table of
//! families, and promtool is the test oracle (`crates/server/tests/it/prometheus.rs`).

use std::io::Write;

use crate::metrics::uwsgi_metrics;
use crate::model::{
    AppInfo, AppStats, CoreStats, Latency, StatsSnapshot, WorkerStats, WorkerStatus,
};
use crate::scoreboard::{LATENCY_BUCKETS_US, STATUS_OTHER, STATUS_OTHER_NAME};

/// Which exposition format to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    #[default]
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text`, the classic text format otherwise.
    pub fn from_accept(accept: &[u8]) -> Format {
        let wants_om = accept
            .windows(b"application/openmetrics-text".len())
            .any(|w| w.eq_ignore_ascii_case(b"application/openmetrics-text"));
        if wants_om {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// The exposition format.
    pub format: Format,
    /// Also the per-core `uwsgi_worker_core_*` series (off by default, as in the exporter).
    pub cores: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
}

/// A number as the exporter reports it.
enum Value {
    Int(u64),
    /// A uWSGI metric (signed).
    Signed(i64),
    /// Microseconds, reported in seconds.
    Micros(u64),
}

type WorkerMetric = (&'static str, Kind, &'static str, fn(&WorkerStats) -> Value);

fn status_is(w: &WorkerStats, s: WorkerStatus) -> Value {
    Value::Int((w.status == s) as u64)
}

/// The exporter's per-worker families, in its order (`uwsgi_worker_` + name).
const WORKER_METRICS: &[WorkerMetric] = &[
    (
        "accepting",
        Kind::Gauge,
        "Is this worker accepting requests?",
        |w| Value::Int(w.accepting),
    ),
    (
        "delta_requests",
        Kind::Gauge,
        "Number of delta requests",
        |w| Value::Int(w.delta_requests),
    ),
    (
        "signal_queue_length",
        Kind::Gauge,
        "Length of signal queue.",
        |w| Value::Int(w.signal_queue),
    ),
    ("rss_bytes", Kind::Gauge, "Worker RSS bytes.", |w| {
        Value::Int(w.rss)
    }),
    ("vsz_bytes", Kind::Gauge, "Worker VSZ bytes.", |w| {
        Value::Int(w.vsz)
    }),
    (
        "running_time_seconds",
        Kind::Gauge,
        "Worker running time in seconds.",
        |w| Value::Micros(w.running_time),
    ),
    (
        "last_spawn_time_seconds",
        Kind::Gauge,
        "Last spawn time in seconds since epoch.",
        |w| Value::Int(w.last_spawn),
    ),
    (
        "average_response_time_seconds",
        Kind::Gauge,
        "Average response time in seconds.",
        |w| Value::Micros(w.avg_rt),
    ),
    ("busy", Kind::Gauge, "Is core in busy?", |w| {
        status_is(w, WorkerStatus::Busy)
    }),
    ("idle", Kind::Gauge, "Is core in idle?", |w| {
        status_is(w, WorkerStatus::Idle)
    }),
    ("cheap", Kind::Gauge, "Is core in cheap mode?", |w| {
        status_is(w, WorkerStatus::Cheap)
    }),
    (
        "requests_total",
        Kind::Counter,
        "Total number of requests.",
        |w| Value::Int(w.requests),
    ),
    (
        "exceptions_total",
        Kind::Counter,
        "Total number of exceptions.",
        |w| Value::Int(w.exceptions),
    ),
    (
        "harakiri_count_total",
        Kind::Counter,
        "Total number of harakiri count.",
        |w| Value::Int(w.harakiri_count),
    ),
    (
        "signals_total",
        Kind::Counter,
        "Total number of signals.",
        |w| Value::Int(w.signals),
    ),
    (
        "respawn_count_total",
        Kind::Counter,
        "Total number of respawn count.",
        |w| Value::Int(w.respawn_count),
    ),
    (
        "transmitted_bytes_total",
        Kind::Counter,
        "Worker transmitted bytes.",
        |w| Value::Int(w.tx),
    ),
    ("apps", Kind::Gauge, "Number of apps.", |w| {
        Value::Int(w.apps.len() as u64)
    }),
    ("cores", Kind::Gauge, "Number of cores.", |w| {
        Value::Int(w.cores.len() as u64)
    }),
];

/// One `uwsgi_socket_*` label set and its values.
struct SocketRow<'a> {
    name: &'a str,
    proto: &'a str,
    queue: u64,
    max_queue: u64,
}

/// Writes `snapshot` in the Prometheus format `opts` names.
pub fn render_prometheus(snapshot: &StatsSnapshot, opts: MetricsOptions, out: &mut Vec<u8>) {
    let mut w = Out {
        out,
        om: opts.format == Format::OpenMetrics,
    };
    let s = snapshot;

    w.family(
        "uwsgi_listen_queue_length",
        Kind::Gauge,
        "Length of listen queue.",
    );
    w.sample(
        "uwsgi_listen_queue_length",
        "",
        &[],
        Value::Int(s.listen_queue()),
    );
    w.family(
        "uwsgi_listen_queue_errors",
        Kind::Gauge,
        "Number of listen queue errors.",
    );
    w.sample(
        "uwsgi_listen_queue_errors",
        "",
        &[],
        Value::Int(s.listen_queue_errors),
    );
    w.family(
        "uwsgi_signal_queue_length",
        Kind::Gauge,
        "Length of signal queue.",
    );
    w.sample(
        "uwsgi_signal_queue_length",
        "",
        &[],
        Value::Int(s.signal_queue),
    );
    w.family("uwsgi_workers", Kind::Gauge, "Number of workers.");
    w.sample("uwsgi_workers", "", &[], Value::Int(s.workers.len() as u64));

    // The exporter keeps the first socket of each (name, proto).
    let mut sockets: Vec<SocketRow<'_>> = Vec::with_capacity(s.master.sockets.len());
    for (info, queue) in s.sockets() {
        if !sockets
            .iter()
            .any(|r| r.name == info.name && r.proto == info.proto)
        {
            sockets.push(SocketRow {
                name: &info.name,
                proto: &info.proto,
                queue,
                max_queue: info.max_queue,
            });
        }
    }
    type SocketMetric = (&'static str, &'static str, fn(&SocketRow<'_>) -> u64);
    let socket_metrics: [SocketMetric; 4] = [
        (
            "uwsgi_socket_queue_length",
            "Length of socket queue.",
            |r| r.queue,
        ),
        (
            "uwsgi_socket_max_queue_length",
            "Max length of socket queue.",
            |r| r.max_queue,
        ),
        // rwsgi has neither shared sockets nor offloading.
        ("uwsgi_socket_shared", "Is shared socket?", |_| 0),
        ("uwsgi_socket_can_offload", "Can socket offload?", |_| 0),
    ];
    for (name, help, get) in socket_metrics {
        w.family(name, Kind::Gauge, help);
        for r in &sockets {
            let labels = [("name", r.name), ("proto", r.proto)];
            w.sample(name, "", &labels, Value::Int(get(r)));
        }
    }

    let mut ids: Vec<itoa::Buffer> = s.workers.iter().map(|_| itoa::Buffer::new()).collect();
    let worker_ids: Vec<&str> = ids
        .iter_mut()
        .zip(&s.workers)
        .map(|(b, wk)| b.format(wk.id))
        .collect();

    let mut name = String::with_capacity(64);
    for &(suffix, kind, help, get) in WORKER_METRICS {
        name.clear();
        name.push_str("uwsgi_worker_");
        name.push_str(suffix);
        w.family(&name, kind, help);
        for (wk, id) in s.workers.iter().zip(&worker_ids) {
            w.sample(&name, "", &[("worker_id", id)], get(wk));
        }
    }

    type AppMetric = (
        &'static str,
        Kind,
        &'static str,
        fn(&AppStats, &AppInfo) -> u64,
    );
    let app_metrics: [AppMetric; 3] = [
        (
            "uwsgi_worker_app_startup_time_seconds",
            Kind::Gauge,
            "How long this app took to start.",
            |_, info| info.startup_time,
        ),
        (
            "uwsgi_worker_app_requests_total",
            Kind::Counter,
            "Total number of requests.",
            |app, _| app.requests,
        ),
        (
            "uwsgi_worker_app_exceptions_total",
            Kind::Counter,
            "Total number of exceptions.",
            |app, _| app.exceptions,
        ),
    ];
    let mut app_id = itoa::Buffer::new();
    for (name, kind, help, get) in app_metrics {
        w.family(name, kind, help);
        for (wk, id) in s.workers.iter().zip(&worker_ids) {
            for app in &wk.apps {
                let info = s.app_info(app);
                let labels = [
                    ("worker_id", *id),
                    ("app_id", app_id.format(app.id)),
                    ("mountpoint", &info.mountpoint),
                    ("chdir", &info.chdir),
                ];
                w.sample(name, "", &labels, Value::Int(get(app, info)));
            }
        }
    }

    if opts.cores {
        type CoreMetric = (&'static str, Kind, &'static str, fn(&CoreStats) -> u64);
        let core_metrics: [CoreMetric; 7] = [
            ("uwsgi_worker_core_busy", Kind::Gauge, "Is core busy", |c| {
                c.in_request
            }),
            (
                "uwsgi_worker_core_requests_total",
                Kind::Counter,
                "Total number of requests.",
                |c| c.requests,
            ),
            // The static and offloaded counts are not exported here (yet).
            (
                "uwsgi_worker_core_static_requests_total",
                Kind::Counter,
                "Total number of static requests.",
                |_| 0,
            ),
            (
                "uwsgi_worker_core_routed_requests_total",
                Kind::Counter,
                "Total number of routed requests.",
                |c| c.routed_requests,
            ),
            (
                "uwsgi_worker_core_offloaded_requests_total",
                Kind::Counter,
                "Total number of offloaded requests.",
                |_| 0,
            ),
            (
                "uwsgi_worker_core_write_errors_total",
                Kind::Counter,
                "Total number of write errors.",
                |c| c.write_errors,
            ),
            (
                "uwsgi_worker_core_read_errors_total",
                Kind::Counter,
                "Total number of read errors.",
                |c| c.read_errors,
            ),
        ];
        let mut core_id = itoa::Buffer::new();
        for (name, kind, help, get) in core_metrics {
            w.family(name, kind, help);
            for (wk, id) in s.workers.iter().zip(&worker_ids) {
                for c in &wk.cores {
                    let labels = [("worker_id", *id), ("core_id", core_id.format(c.id))];
                    w.sample(name, "", &labels, Value::Int(get(c)));
                }
            }
        }
    }

    // ---- rwsgi's own ----
    w.family(
        "rwsgi_worker_busy_cores",
        Kind::Gauge,
        "Cores of the worker inside a request.",
    );
    for (wk, id) in s.workers.iter().zip(&worker_ids) {
        w.sample(
            "rwsgi_worker_busy_cores",
            "",
            &[("worker_id", id)],
            Value::Int(wk.busy_cores),
        );
    }

    let histogram = "rwsgi_request_duration_seconds";
    w.family(
        histogram,
        Kind::Histogram,
        "Time from a request's dispatch to its app until the response was written, by app.",
    );
    for (app_idx, info) in s.master.apps.iter().enumerate() {
        // An app past the scoreboard's room has no counters.
        let mut per_worker = s
            .workers
            .iter()
            .filter_map(|wk| wk.apps.get(app_idx))
            .peekable();
        if per_worker.peek().is_none() {
            continue;
        }
        let mut total = Latency::default();
        for a in per_worker {
            for (sum, b) in total.buckets.iter_mut().zip(&a.latency.buckets) {
                *sum += b;
            }
            total.sum_us += a.latency.sum_us;
        }
        let mut cumulative = 0;
        let mut le = String::new();
        for (i, count) in total.buckets.iter().enumerate() {
            cumulative += count;
            le.clear();
            match LATENCY_BUCKETS_US.get(i) {
                Some(&us) => push_seconds(&mut le, us),
                None => le.push_str("+Inf"),
            }
            let labels = [
                ("mountpoint", info.mountpoint.as_str()),
                ("le", le.as_str()),
            ];
            w.sample(histogram, "_bucket", &labels, Value::Int(cumulative));
        }
        let labels = [("mountpoint", info.mountpoint.as_str())];
        w.sample(histogram, "_sum", &labels, Value::Micros(total.sum_us));
        w.sample(histogram, "_count", &labels, Value::Int(cumulative));
    }

    let codes = s.responses_by_code();
    w.family(
        "rwsgi_responses_total",
        Kind::Counter,
        "Responses sent, by status code.",
    );
    let mut code_buf = itoa::Buffer::new();
    for (code, count) in codes {
        let code = if code == STATUS_OTHER {
            STATUS_OTHER_NAME
        } else {
            code_buf.format(code)
        };
        w.sample(
            "rwsgi_responses_total",
            "",
            &[("code", code)],
            Value::Int(count),
        );
    }

    let sum = |f: fn(&WorkerStats) -> u64| s.workers.iter().map(f).sum::<u64>();
    let totals: [(&str, &str, u64); 3] = [
        (
            "rwsgi_request_bytes_total",
            "Bytes of request heads and declared bodies.",
            sum(|w| w.request_bytes),
        ),
        (
            "rwsgi_response_bytes_total",
            "Bytes of responses sent.",
            sum(|w| w.tx),
        ),
        (
            "rwsgi_harakiri_total",
            "Workers killed for --harakiri.",
            sum(|w| w.harakiri_count),
        ),
    ];
    for (name, help, value) in totals {
        w.family(name, Kind::Counter, help);
        w.sample(name, "", &[], Value::Int(value));
    }

    // The custom --metric values (the built-in ones are the exporter's series above), one
    // family: their names are uWSGI's dotted ones, any type, and may go down (metric_dec).
    if let Some(info) = s.master.metrics.as_ref().filter(|m| !m.custom.is_empty()) {
        w.family(
            "rwsgi_metric",
            Kind::Gauge,
            "A custom uWSGI metric (--metric), by its name.",
        );
        // The custom metrics come last in uWSGI's list.
        let all = uwsgi_metrics(s);
        let custom = &all[all.len().saturating_sub(info.custom.len())..];
        for m in custom {
            w.sample(
                "rwsgi_metric",
                "",
                &[("name", &m.name)],
                Value::Signed(m.value),
            );
        }
    }

    w.family(
        "rwsgi_build_info",
        Kind::Gauge,
        "Always 1; the version in a label.",
    );
    w.sample(
        "rwsgi_build_info",
        "",
        &[("version", &s.master.version)],
        Value::Int(1),
    );

    if w.om {
        w.out.extend_from_slice(b"# EOF\n");
    }
}

/// Seconds from microseconds, as Prometheus reads them (`0.005`, `10`).
fn push_seconds(out: &mut String, us: u64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}", us as f64 / 1e6);
}

struct Out<'a> {
    out: &'a mut Vec<u8>,
    om: bool,
}

impl Out<'_> {
    /// The HELP and TYPE lines. OpenMetrics names a counter family without its `_total`.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let family = match (self.om, kind) {
            (true, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {family} {help}\n# TYPE {family} {kind}");
    }

    fn sample(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], value: Value) {
        let o = &mut *self.out;
        o.extend_from_slice(name.as_bytes());
        o.extend_from_slice(suffix.as_bytes());
        if !labels.is_empty() {
            o.push(b'{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                o.extend_from_slice(k.as_bytes());
                o.extend_from_slice(b"=\"");
                escape_label_value(o, v);
                o.push(b'"');
            }
            o.push(b'}');
        }
        o.push(b' ');
        match value {
            Value::Int(n) => o.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Value::Signed(n) => o.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Value::Micros(us) => {
                let _ = write!(o, "{}", us as f64 / 1e6);
            }
        }
        o.push(b'\n');
    }
}

/// Label values escape `\`, `"` and newlines (both formats).
fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    for &b in v.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MasterInfo, SocketInfo, SocketStats, StatusCount};

    fn snapshot() -> StatsSnapshot {
        let app = |id, requests, fast, slow| AppStats {
            id,
            requests,
            exceptions: 1,
            latency: Latency {
                buckets: {
                    let mut b = [0; crate::scoreboard::LATENCY_SLOTS];
                    b[0] = fast;
                    b[crate::scoreboard::LATENCY_SLOTS - 1] = slow;
                    b
                },
                sum_us: fast * 1_000 + slow * 20_000_000,
            },
        };
        let worker = |id: u64| WorkerStats {
            id,
            pid: 1000 + id,
            requests: 10 * id,
            status: if id == 1 {
                WorkerStatus::Busy
            } else {
                WorkerStatus::Idle
            },
            running_time: 1_500_000,
            apps: vec![app(0, 3, 2, 1), app(1, 4, 4, 0)],
            cores: vec![CoreStats {
                id: 0,
                requests: 7,
                in_request: (id == 1) as u64,
                ..Default::default()
            }],
            busy_cores: (id == 1) as u64,
            request_bytes: 100,
            tx: 1000,
            responses: vec![
                StatusCount {
                    code: 200,
                    count: 5,
                },
                StatusCount {
                    code: 404,
                    count: id,
                },
                StatusCount {
                    code: STATUS_OTHER,
                    count: 1,
                },
            ],
            ..Default::default()
        };
        StatsSnapshot {
            master: MasterInfo {
                version: "0.1.0".into(),
                sockets: vec![
                    SocketInfo {
                        name: "/tmp/a \"b\".sock".into(),
                        proto: "uwsgi".into(),
                        max_queue: 100,
                    },
                    SocketInfo {
                        name: "/tmp/a \"b\".sock".into(),
                        proto: "uwsgi".into(),
                        max_queue: 7,
                    },
                    SocketInfo {
                        name: ":8080".into(),
                        proto: "http".into(),
                        max_queue: 128,
                    },
                ],
                apps: vec![
                    AppInfo {
                        mountpoint: String::new(),
                        chdir: "/srv".into(),
                        ..Default::default()
                    },
                    AppInfo {
                        mountpoint: "/api".into(),
                        chdir: "/srv".into(),
                        ..Default::default()
                    },
                ],
                metrics: Some(crate::model::MetricsInfo {
                    custom: ["jobs.done", "name=queue.depth,type=gauge"]
                        .iter()
                        .map(|m| crate::metrics::parse_metric_spec(m).unwrap())
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            listen_queue_errors: 2,
            sockets: vec![
                SocketStats { queue: 3 },
                SocketStats { queue: 9 },
                SocketStats { queue: 1 },
            ],
            workers: vec![worker(1), worker(2)],
            metric_values: vec![5, -2],
            ..Default::default()
        }
    }

    fn render(opts: MetricsOptions) -> String {
        let mut out = Vec::new();
        render_prometheus(&snapshot(), opts, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn exporter_names_and_labels() {
        let t = render(MetricsOptions::default());
        let l = lines(&t);
        for want in [
            "# TYPE uwsgi_listen_queue_length gauge",
            "uwsgi_listen_queue_length 13",
            "uwsgi_listen_queue_errors 2",
            "uwsgi_workers 2",
            r#"uwsgi_socket_queue_length{name="/tmp/a \"b\".sock",proto="uwsgi"} 3"#,
            r#"uwsgi_socket_max_queue_length{name=":8080",proto="http"} 128"#,
            "# TYPE uwsgi_worker_requests_total counter",
            r#"uwsgi_worker_requests_total{worker_id="2"} 20"#,
            r#"uwsgi_worker_busy{worker_id="1"} 1"#,
            r#"uwsgi_worker_idle{worker_id="1"} 0"#,
            r#"uwsgi_worker_running_time_seconds{worker_id="1"} 1.5"#,
            r#"uwsgi_worker_apps{worker_id="1"} 2"#,
            r#"uwsgi_worker_app_requests_total{worker_id="2",app_id="1",mountpoint="/api",chdir="/srv"} 4"#,
            r#"uwsgi_worker_app_exceptions_total{worker_id="1",app_id="0",mountpoint="",chdir="/srv"} 1"#,
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{t}");
        }
        // The first socket of a (name, proto) wins, as in the exporter.
        assert_eq!(t.matches("uwsgi_socket_queue_length{").count(), 2);
        assert!(!t.contains("stats_uri"), "no exporter stats_uri label");
        assert!(!t.contains("pid"), "workers are labelled by id, never pid");
        assert!(!t.contains("uwsgi_worker_core_"), "cores only when asked");
        assert!(!t.contains("# EOF"));
    }

    #[test]
    fn rwsgi_extras() {
        let t = render(MetricsOptions::default());
        let l = lines(&t);
        for want in [
            "# TYPE rwsgi_request_duration_seconds histogram",
            r#"rwsgi_request_duration_seconds_bucket{mountpoint="",le="0.005"} 4"#,
            r#"rwsgi_request_duration_seconds_bucket{mountpoint="",le="10"} 4"#,
            r#"rwsgi_request_duration_seconds_bucket{mountpoint="",le="+Inf"} 6"#,
            r#"rwsgi_request_duration_seconds_count{mountpoint=""} 6"#,
            r#"rwsgi_request_duration_seconds_sum{mountpoint=""} 40.004"#,
            r#"rwsgi_request_duration_seconds_count{mountpoint="/api"} 8"#,
            r#"rwsgi_responses_total{code="200"} 10"#,
            r#"rwsgi_responses_total{code="404"} 3"#,
            r#"rwsgi_responses_total{code="other"} 2"#,
            "rwsgi_request_bytes_total 200",
            "rwsgi_response_bytes_total 2000",
            r#"rwsgi_worker_busy_cores{worker_id="1"} 1"#,
            "rwsgi_harakiri_total 0",
            r#"rwsgi_metric{name="jobs.done"} 5"#,
            r#"rwsgi_metric{name="queue.depth"} -2"#,
            r#"rwsgi_build_info{version="0.1.0"} 1"#,
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{t}");
        }
    }

    #[test]
    fn every_sample_follows_its_family_type_line() {
        for format in [Format::Text, Format::OpenMetrics] {
            let t = render(MetricsOptions {
                format,
                cores: true,
            });
            let mut family = "";
            let mut kind = "";
            let mut seen = std::collections::HashSet::new();
            for line in t.lines() {
                if let Some(rest) = line.strip_prefix("# TYPE ") {
                    let (f, k) = rest.split_once(' ').unwrap();
                    assert!(seen.insert(f.to_string()), "family {f} twice");
                    (family, kind) = (f, k);
                } else if !line.starts_with('#') {
                    let name = line.split(['{', ' ']).next().unwrap();
                    let ok = match (format, kind) {
                        (_, "histogram") => ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name.strip_suffix(s) == Some(family)),
                        (Format::OpenMetrics, "counter") => {
                            name.strip_suffix("_total") == Some(family)
                        }
                        _ => name == family,
                    };
                    assert!(ok, "{name} under family {family} ({kind}) in {format:?}");
                }
            }
        }
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let t = render(MetricsOptions {
            format: Format::OpenMetrics,
            cores: false,
        });
        assert!(t.contains("# TYPE uwsgi_worker_requests counter\n"));
        assert!(t.contains("uwsgi_worker_requests_total{worker_id=\"1\"} 10\n"));
        assert!(t.ends_with("# EOF\n"));
    }

    #[test]
    fn cores_behind_the_option() {
        let t = render(MetricsOptions {
            format: Format::Text,
            cores: true,
        });
        assert!(t
            .lines()
            .any(|l| l == r#"uwsgi_worker_core_busy{worker_id="1",core_id="0"} 1"#));
        assert!(t
            .lines()
            .any(|l| l == r#"uwsgi_worker_core_requests_total{worker_id="2",core_id="0"} 7"#));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = Vec::new();
        escape_label_value(&mut out, "a\\b\"c\nd");
        assert_eq!(out, br#"a\\b\"c\nd"#);
        let mut s = snapshot();
        s.master.apps[1].mountpoint = "/x\ny\\".into();
        let mut out = Vec::new();
        render_prometheus(&s, MetricsOptions::default(), &mut out);
        let t = String::from_utf8(out).unwrap();
        assert!(
            t.contains(r#"rwsgi_request_duration_seconds_count{mountpoint="/x\ny\\"} 8"#),
            "{t}"
        );
        assert!(
            t.lines().all(|l| !l.starts_with('y')),
            "no raw newline in a label"
        );
    }

    #[test]
    fn accept_header_picks_the_format() {
        assert_eq!(
            Format::from_accept(b"application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_accept(b"text/plain;version=0.0.4"),
            Format::Text
        );
        assert_eq!(Format::from_accept(b""), Format::Text);
    }
}
