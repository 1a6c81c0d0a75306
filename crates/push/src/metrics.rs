//! The wire formats of the metric pushers (pure: no I/O), from the metric list of uWSGI's
//! metrics subsystem ([`rwsgi_stats::metrics`]: the built-in names, types and OIDs, then the
//! custom `--metric`s).

use std::collections::HashMap;

pub use rwsgi_stats::metrics::{uwsgi_metrics, Metric, MetricType};
use rwsgi_stats::model::{StatsSnapshot, WorkerStatus};

fn full_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// One statsd datagram to send; `commit` is the counter value to remember once it was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsdDatagram {
    /// The JSON document sent.
    pub payload: String,
    /// `(metric name, absolute counter value)` for counters sent as deltas.
    pub commit: Option<(String, i64)>,
}

/// What a statsd pusher remembers between pushes: the counter values last delivered.
#[derive(Clone, Debug, Default)]
pub struct StatsdState {
    last: HashMap<String, i64>,
}

impl StatsdState {
    /// Records that `value` of counter `name` reached statsd.
    pub fn commit(&mut self, name: String, value: i64) {
        self.last.insert(name, value);
    }

    /// The increase of a counter since it was last delivered. A counter seen for the first
    /// time counts from zero: every counter starts at 0 with the scoreboard, so the first
    /// push carries what was served before it (a respawned pusher process starts from the
    /// state its predecessor saved, see [`crate::memory`]). A counter that went down (a
    /// fresh scoreboard) counts from zero again (so does a custom counter an app decremented).
    pub fn delta(&self, name: &str, value: i64) -> i64 {
        match self.last.get(name) {
            Some(&last) if value >= last => value - last,
            _ => value,
        }
    }

    /// The state as bytes, for [`crate::memory::Slot::save`].
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.last).unwrap_or_default()
    }

    /// The state saved by [`StatsdState::to_bytes`]; `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<StatsdState> {
        serde_json::from_slice(bytes)
            .ok()
            .map(|last| StatsdState { last })
    }
}

/// The statsd datagrams for `metrics`: gauges (`|g`, absolute values; uWSGI's absolute and
/// alias metrics are point-in-time values too) and counters as increments since the last
/// delivered push (`|c`). With `all_gauges` everything is an absolute `|g`, as uWSGI's
/// `--statsd-all-gauges`. With `no_workers`, the `worker.*` metrics are left out.
pub fn statsd_datagrams(
    metrics: &[Metric],
    prefix: &str,
    no_workers: bool,
    all_gauges: bool,
    state: &StatsdState,
) -> Vec<StatsdDatagram> {
    metrics
        .iter()
        .filter(|m| !(no_workers && m.name.starts_with("worker.")))
        .map(|m| {
            let name = full_name(prefix, &m.name);
            if all_gauges || m.kind != MetricType::Counter {
                StatsdDatagram {
                    payload: format!("{name}:{}|g", m.value),
                    commit: None,
                }
            } else {
                StatsdDatagram {
                    payload: format!("{name}:{}|c", state.delta(&m.name, m.value)),
                    commit: Some((m.name.clone(), m.value)),
                }
            }
        })
        .collect()
}

/// uWSGI's `socket` pusher datagram: `PREFIX.NAME TYPE VALUE` (absolute value, numeric type).
pub fn socket_datagram(prefix: &str, metric: &Metric) -> String {
    format!(
        "{} {} {}",
        full_name(prefix, &metric.name),
        metric.kind as u8,
        metric.value
    )
}

/// The Zabbix sender request (`ZBXD\x01`, payload length as u64 little-endian, JSON), one item
/// per metric: `{"host": HOSTNAME, "key": "PREFIX.NAME", "value": "VALUE"}` as uWSGI sends.
pub fn zabbix_packet(hostname: &str, prefix: &str, metrics: &[Metric]) -> Vec<u8> {
    let data: Vec<serde_json::Value> = metrics
        .iter()
        .map(|m| {
            serde_json::json!({
                "host": hostname,
                "key": full_name(prefix, &m.name),
                "value": m.value.to_string(),
            })
        })
        .collect();
    let body = serde_json::json!({"request": "sender data", "data": data}).to_string();
    let mut out = Vec::with_capacity(13 + body.len());
    out.extend_from_slice(b"ZBXD\x01");
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

/// Parses a Zabbix server's answer (`ZBXD\x01` + length + `{"response":"success",...}`):
/// `Ok(info)` on success, `Err(why)` otherwise. `None` while more bytes are needed.
pub fn zabbix_response(buf: &[u8]) -> Option<Result<String, String>> {
    if buf.len() < 13 {
        return None;
    }
    if &buf[..4] != b"ZBXD" {
        return Some(Err("the answer is not a Zabbix packet".into()));
    }
    let len = u64::from_le_bytes(buf[5..13].try_into().ok()?) as usize;
    if buf.len() < 13 + len {
        return None;
    }
    let v: serde_json::Value = match serde_json::from_slice(&buf[13..13 + len]) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("unreadable answer: {e}"))),
    };
    let info = v
        .get("info")
        .and_then(|i| i.as_str())
        .unwrap_or("")
        .to_string();
    match v.get("response").and_then(|r| r.as_str()) {
        Some("success") => Some(Ok(info)),
        other => Some(Err(format!(
            "the server answered {} {info}",
            other.unwrap_or("nothing")
        ))),
    }
}

/// What the carbon pusher remembers: per worker `running_time` at the last delivered push,
/// and when that was (for `busyness`).
#[derive(Clone, Debug, Default)]
pub struct CarbonState {
    last_running_time: HashMap<u64, u64>,
    /// Microseconds on a monotonic clock.
    last_at_us: Option<u64>,
}

/// Settings of the carbon line generator.
#[derive(Clone, Debug)]
pub struct CarbonFormat<'a> {
    /// `--carbon-root` with its trailing dot.
    pub root: &'a str,
    /// This machine's name (the node in the metric path).
    pub hostname: &'a str,
    /// `--carbon-id`: the server's name in the metric path.
    pub id: &'a str,
    /// `--carbon-no-workers`: only the server-wide metrics.
    pub no_workers: bool,
    /// `--memory-report`: also the workers' rss and vsz.
    pub memory_report: bool,
    /// `--carbon-use-metrics`: only `ROOT HOST.ID.NAME VALUE TS` for every metric of the
    /// metrics subsystem (built-in and custom), as uWSGI does then.
    pub use_metrics: bool,
    /// The push period, used for the first push's busyness window.
    pub freq_us: u64,
}

/// The lines uWSGI's carbon plugin (`plugins/carbon/carbon.c`) sends, in its order:
/// `ROOT HOST.ID.requests` (all workers), per worker `workerN.requests`, (`rss_size`,
/// `vsz_size` with `--memory-report`), `avg_rt`, `tx`, `busyness`, `harakiri`, then the totals
/// `rss_size`/`vsz_size` (memory report), `avg_rt`, `tx`, `busyness`, `active_workers`,
/// `harakiri`. `busyness` is the percentage of the window since the previous delivered push
/// that the worker spent in requests (100 for a worker busy in one long request that has not
/// finished yet). Returns the text and the state to keep once it was delivered.
pub fn carbon_lines(
    snap: &StatsSnapshot,
    fmt: &CarbonFormat<'_>,
    state: &CarbonState,
    now_unix: u64,
    now_us: u64,
) -> (String, CarbonState) {
    use std::fmt::Write;
    let base = format!("{}{}.{}", fmt.root, fmt.hostname, fmt.id);
    let window = match state.last_at_us {
        Some(t) if now_us > t => now_us - t,
        _ => fmt.freq_us.max(1),
    };
    let mut out = String::with_capacity(256 + snap.workers.len() * 256);
    if fmt.use_metrics {
        for m in uwsgi_metrics(snap) {
            let _ = writeln!(out, "{base}.{} {} {now_unix}", m.name, m.value);
        }
        let next = CarbonState {
            last_at_us: Some(now_us),
            ..state.clone()
        };
        return (out, next);
    }
    let mut line = |name: &str, v: u64| {
        let _ = writeln!(out, "{base}.{name} {v} {now_unix}");
    };
    let total_requests: u64 = snap.workers.iter().map(|w| w.requests).sum();
    line("requests", total_requests);
    let mut next = CarbonState {
        last_running_time: HashMap::new(),
        last_at_us: Some(now_us),
    };
    let (mut tx, mut harakiri, mut rss, mut vsz) = (0u64, 0u64, 0u64, 0u64);
    let (mut active, mut total_avg_rt, mut total_busyness) = (0u64, 0u64, 0u64);
    for w in &snap.workers {
        tx += w.tx;
        harakiri += w.harakiri_count;
        next.last_running_time.insert(w.id, w.running_time);
        let cheap = w.status == WorkerStatus::Cheap;
        let (avg_rt, busyness) = if cheap {
            (0, 0)
        } else {
            let last = state.last_running_time.get(&w.id).copied().unwrap_or(0);
            let spent = w.running_time.saturating_sub(last);
            let busy_now = matches!(w.status, WorkerStatus::Busy | WorkerStatus::Sig(_));
            let b = if spent == 0 && busy_now {
                100
            } else {
                (spent.saturating_mul(100) / window).min(100)
            };
            active += 1;
            total_avg_rt += w.avg_rt;
            total_busyness += b;
            if fmt.memory_report {
                rss += w.rss;
                vsz += w.vsz;
            }
            (w.avg_rt, b)
        };
        if fmt.no_workers {
            continue;
        }
        let id = w.id;
        line(&format!("worker{id}.requests"), w.requests);
        if fmt.memory_report {
            line(&format!("worker{id}.rss_size"), w.rss);
            line(&format!("worker{id}.vsz_size"), w.vsz);
        }
        line(&format!("worker{id}.avg_rt"), avg_rt);
        line(&format!("worker{id}.tx"), w.tx);
        line(&format!("worker{id}.busyness"), busyness);
        line(&format!("worker{id}.harakiri"), w.harakiri_count);
    }
    if fmt.memory_report {
        line("rss_size", rss);
        line("vsz_size", vsz);
    }
    line("avg_rt", total_avg_rt.checked_div(active).unwrap_or(0));
    line("tx", tx);
    line(
        "busyness",
        total_busyness.checked_div(active).unwrap_or(0).min(100),
    );
    line("active_workers", active);
    line("harakiri", harakiri);
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_stats::model::{MasterInfo, SocketInfo, SocketStats, WorkerStats};

    fn worker(id: u64, requests: u64) -> WorkerStats {
        WorkerStats {
            pid: 100 + id,
            accepting: 1,
            ..rwsgi_stats::fixtures::worker(id, requests)
        }
    }

    fn snap(reqs: &[u64]) -> StatsSnapshot {
        StatsSnapshot {
            master: MasterInfo {
                sockets: vec![SocketInfo {
                    name: "127.0.0.1:3031".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            sockets: vec![SocketStats { queue: 2 }],
            workers: reqs
                .iter()
                .enumerate()
                .map(|(i, r)| worker(i as u64 + 1, *r))
                .collect(),
            ..Default::default()
        }
    }

    fn get<'a>(ms: &'a [Metric], name: &str) -> &'a Metric {
        ms.iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn metric_set_names_types_values() {
        let mut s = snap(&[3, 4]);
        s.workers[1].status = WorkerStatus::Busy;
        let ms = uwsgi_metrics(&s);
        let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            &names[..6],
            &[
                "core.routed_signals",
                "core.unrouted_signals",
                "core.busy_workers",
                "core.idle_workers",
                "core.overloaded",
                "worker.0.requests"
            ]
        );
        assert_eq!(names.last(), Some(&"vsz_size"));
        // 5 core + 9 * 3 workers + 6 per core * 2 + 5 totals + 1 socket + 2 aliases
        assert_eq!(ms.len(), 5 + 27 + 12 + 5 + 1 + 2);
        assert_eq!(get(&ms, "core.busy_workers").value, 1);
        assert_eq!(get(&ms, "core.idle_workers").value, 1);
        assert_eq!(get(&ms, "worker.0.requests").value, 7);
        assert_eq!(get(&ms, "worker.0.requests").kind, MetricType::Counter);
        assert_eq!(get(&ms, "worker.2.requests").value, 4);
        assert_eq!(
            get(&ms, "worker.2.delta_requests").kind,
            MetricType::Absolute
        );
        assert_eq!(get(&ms, "worker.1.failed_requests").value, 1);
        assert_eq!(get(&ms, "worker.2.avg_response_time").value, 400);
        assert_eq!(
            get(&ms, "worker.2.avg_response_time").kind,
            MetricType::Gauge
        );
        assert_eq!(get(&ms, "worker.0.avg_response_time").value, 300);
        assert_eq!(get(&ms, "worker.1.total_tx").value, 30);
        assert_eq!(get(&ms, "worker.2.core.0.requests").value, 4);
        assert_eq!(get(&ms, "core.total_tx").value, 70);
        assert_eq!(get(&ms, "core.total_rss").value, 2000);
        assert_eq!(get(&ms, "socket.0.listen_queue").value, 2);
        assert_eq!(get(&ms, "rss_size").kind, MetricType::Alias);
        assert_eq!(get(&ms, "rss_size").value, 2000);
        assert!(!names.iter().any(|n| n.starts_with("worker.0.core")));
    }

    #[test]
    fn statsd_counters_are_deltas_between_pushes() {
        let mut st = StatsdState::default();
        let first = statsd_datagrams(&uwsgi_metrics(&snap(&[3, 4])), "uwsgi", false, false, &st);
        let find = |d: &[StatsdDatagram], p: &str| -> String {
            d.iter()
                .find(|x| x.payload.starts_with(&format!("{p}:")))
                .unwrap_or_else(|| panic!("{p}"))
                .payload
                .clone()
        };
        assert_eq!(
            find(&first, "uwsgi.worker.0.requests"),
            "uwsgi.worker.0.requests:7|c",
            "the first push counts from zero"
        );
        assert_eq!(
            find(&first, "uwsgi.core.busy_workers"),
            "uwsgi.core.busy_workers:0|g"
        );
        for d in first {
            if let Some((n, v)) = d.commit {
                st.commit(n, v);
            }
        }
        // 5 more requests on worker 1, 0 on worker 2
        let second = statsd_datagrams(&uwsgi_metrics(&snap(&[8, 4])), "uwsgi", false, false, &st);
        assert_eq!(
            find(&second, "uwsgi.worker.0.requests"),
            "uwsgi.worker.0.requests:5|c"
        );
        assert_eq!(
            find(&second, "uwsgi.worker.1.requests"),
            "uwsgi.worker.1.requests:5|c"
        );
        assert_eq!(
            find(&second, "uwsgi.worker.2.requests"),
            "uwsgi.worker.2.requests:0|c"
        );
        assert_eq!(
            find(&second, "uwsgi.core.total_tx"),
            "uwsgi.core.total_tx:50|c"
        );
        // gauges stay absolute
        assert_eq!(
            find(&second, "uwsgi.worker.1.rss_size"),
            "uwsgi.worker.1.rss_size:1000|g"
        );
        assert_eq!(find(&second, "uwsgi.rss_size"), "uwsgi.rss_size:2000|g");
        assert_eq!(
            find(&second, "uwsgi.worker.1.delta_requests"),
            "uwsgi.worker.1.delta_requests:8|g"
        );
        // a push that was not delivered is not committed: the next one carries both increments
        let third = statsd_datagrams(&uwsgi_metrics(&snap(&[10, 4])), "uwsgi", false, false, &st);
        assert_eq!(
            find(&third, "uwsgi.worker.1.requests"),
            "uwsgi.worker.1.requests:7|c"
        );
        // a counter that went down (respawned worker) counts from zero
        st.commit("worker.1.requests".into(), 50);
        assert_eq!(st.delta("worker.1.requests", 2), 2);
        assert_eq!(st.delta("never.pushed", 9), 9);
    }

    #[test]
    fn statsd_state_survives_its_bytes() {
        let mut st = StatsdState::default();
        st.commit("worker.1.requests".into(), 12);
        st.commit("core.overloaded".into(), 3);
        let back = StatsdState::from_bytes(&st.to_bytes()).expect("round trip");
        assert_eq!(back.delta("worker.1.requests", 15), 3);
        assert_eq!(back.delta("core.overloaded", 3), 0);
        assert_eq!(back.delta("never.pushed", 4), 4);
        assert!(StatsdState::from_bytes(b"not json").is_none());
        assert!(StatsdState::from_bytes(b"{\"a\": \"x\"}").is_none());
    }

    #[test]
    fn statsd_all_gauges_and_no_workers() {
        let st = StatsdState::default();
        let ms = uwsgi_metrics(&snap(&[3]));
        let d = statsd_datagrams(&ms, "app", true, true, &st);
        assert!(d
            .iter()
            .all(|x| x.payload.ends_with("|g") && x.commit.is_none()));
        assert!(!d.iter().any(|x| x.payload.starts_with("app.worker.")));
        assert!(d.iter().any(|x| x.payload == "app.core.total_tx:30|g"));
        assert_eq!(d.len(), 5 + 5 + 1 + 2);
        let d = statsd_datagrams(&ms, "", false, false, &st);
        assert_eq!(d[0].payload, "core.routed_signals:0|c");
    }

    #[test]
    fn socket_datagram_format() {
        let ms = uwsgi_metrics(&snap(&[3]));
        assert_eq!(
            socket_datagram("uwsgi", get(&ms, "worker.1.requests")),
            "uwsgi.worker.1.requests 0 3"
        );
        assert_eq!(
            socket_datagram("p", get(&ms, "core.total_rss")),
            "p.core.total_rss 1 1000"
        );
        assert_eq!(
            socket_datagram("p", get(&ms, "vsz_size")),
            "p.vsz_size 3 5000"
        );
    }

    #[test]
    fn zabbix_framing() {
        let ms = vec![
            Metric {
                name: "worker.1.requests".into(),
                kind: MetricType::Counter,
                oid: "3.1.1".into(),
                value: 12,
            },
            Metric {
                name: "core.busy_workers".into(),
                kind: MetricType::Gauge,
                oid: "5.3".into(),
                value: 0,
            },
        ];
        let p = zabbix_packet("web\"1", "uwsgi", &ms);
        assert_eq!(&p[..5], b"ZBXD\x01");
        let len = u64::from_le_bytes(p[5..13].try_into().unwrap()) as usize;
        assert_eq!(len, p.len() - 13);
        let v: serde_json::Value = serde_json::from_slice(&p[13..]).unwrap();
        assert_eq!(v["request"], "sender data");
        assert_eq!(v["data"][0]["host"], "web\"1");
        assert_eq!(v["data"][0]["key"], "uwsgi.worker.1.requests");
        assert_eq!(v["data"][0]["value"], "12");
        assert_eq!(v["data"][1]["key"], "uwsgi.core.busy_workers");

        let body = br#"{"response":"success","info":"processed: 2; failed: 0; total: 2"}"#;
        let mut ans = b"ZBXD\x01".to_vec();
        ans.extend_from_slice(&(body.len() as u64).to_le_bytes());
        assert_eq!(zabbix_response(&ans), None);
        ans.extend_from_slice(&body[..10]);
        assert_eq!(zabbix_response(&ans), None);
        ans.extend_from_slice(&body[10..]);
        assert_eq!(
            zabbix_response(&ans),
            Some(Ok("processed: 2; failed: 0; total: 2".into()))
        );
        let body = br#"{"response":"failed","info":"bad"}"#;
        let mut ans = b"ZBXD\x01".to_vec();
        ans.extend_from_slice(&(body.len() as u64).to_le_bytes());
        ans.extend_from_slice(body);
        assert!(matches!(zabbix_response(&ans), Some(Err(e)) if e.contains("failed bad")));
        assert!(matches!(zabbix_response(b"HTTP/1.1 400 Bad"), Some(Err(_))));
    }

    #[test]
    fn carbon_lines_like_uwsgi() {
        let mut s = snap(&[3, 4]);
        s.workers[0].running_time = 500_000; // 0.5 s of a 1 s window
        s.workers[1].status = WorkerStatus::Busy; // in a long request, no running_time yet
        s.workers[1].harakiri_count = 2;
        let f = CarbonFormat {
            root: "uwsgi.",
            hostname: "web1",
            id: "127_0_0_1:3031",
            no_workers: false,
            memory_report: false,
            use_metrics: false,
            freq_us: 1_000_000,
        };
        let (text, st) = carbon_lines(&s, &f, &CarbonState::default(), 1700000000, 5_000_000);
        let lines: Vec<&str> = text.lines().collect();
        let p = "uwsgi.web1.127_0_0_1:3031";
        assert_eq!(lines[0], format!("{p}.requests 7 1700000000"));
        assert_eq!(lines[1], format!("{p}.worker1.requests 3 1700000000"));
        assert_eq!(lines[2], format!("{p}.worker1.avg_rt 200 1700000000"));
        assert_eq!(lines[3], format!("{p}.worker1.tx 30 1700000000"));
        assert_eq!(lines[4], format!("{p}.worker1.busyness 50 1700000000"));
        assert_eq!(lines[5], format!("{p}.worker1.harakiri 0 1700000000"));
        assert_eq!(lines[9], format!("{p}.worker2.busyness 100 1700000000"));
        assert_eq!(lines[10], format!("{p}.worker2.harakiri 2 1700000000"));
        assert_eq!(
            &lines[11..],
            &[
                format!("{p}.avg_rt 300 1700000000"),
                format!("{p}.tx 70 1700000000"),
                format!("{p}.busyness 75 1700000000"),
                format!("{p}.active_workers 2 1700000000"),
                format!("{p}.harakiri 2 1700000000"),
            ]
        );
        assert!(!text.contains("rss_size"), "only with --memory-report");
        // next window: worker 1 spent 2 more seconds over a 4 s window -> 50
        s.workers[0].running_time = 2_500_000;
        s.workers[1].status = WorkerStatus::Idle;
        let (text, _) = carbon_lines(&s, &f, &st, 1700000004, 9_000_000);
        assert!(text.contains(&format!("{p}.worker1.busyness 50 1700000004")));
        assert!(text.contains(&format!("{p}.worker2.busyness 0 1700000004")));

        let f = CarbonFormat {
            no_workers: true,
            memory_report: true,
            root: "",
            ..f
        };
        let (text, _) = carbon_lines(&s, &f, &st, 1, 9_000_000);
        assert!(!text.contains(".worker"));
        assert!(text.contains("web1.127_0_0_1:3031.rss_size 2000 1\n"));
        assert!(text.starts_with("web1.127_0_0_1:3031.requests 7 1\n"));
    }

    #[test]
    fn carbon_cheap_workers_are_not_active() {
        let mut s = snap(&[1, 1]);
        s.workers[1].status = WorkerStatus::Cheap;
        let f = CarbonFormat {
            root: "uwsgi.",
            hostname: "h",
            id: "i",
            no_workers: false,
            memory_report: false,
            use_metrics: false,
            freq_us: 1,
        };
        let (text, _) = carbon_lines(&s, &f, &CarbonState::default(), 1, 1);
        assert!(text.contains("uwsgi.h.i.active_workers 1 1\n"));
        assert!(text.contains("uwsgi.h.i.worker2.avg_rt 0 1\n"));
        assert!(text.contains("uwsgi.h.i.avg_rt 200 1\n"));
    }

    #[test]
    fn carbon_use_metrics_sends_the_metric_list_only() {
        let mut s = snap(&[3, 4]);
        s.master.metrics = Some(rwsgi_stats::model::MetricsInfo {
            custom: vec![rwsgi_stats::metrics::parse_metric_spec("app.jobs").unwrap()],
            ..Default::default()
        });
        s.metric_values = vec![-2];
        let f = CarbonFormat {
            root: "uwsgi.",
            hostname: "h",
            id: "i",
            no_workers: false,
            memory_report: false,
            use_metrics: true,
            freq_us: 1,
        };
        let (text, _) = carbon_lines(&s, &f, &CarbonState::default(), 9, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), uwsgi_metrics(&s).len());
        assert_eq!(lines[0], "uwsgi.h.i.core.routed_signals 0 9");
        assert!(lines.contains(&"uwsgi.h.i.worker.0.requests 7 9"));
        assert_eq!(lines.last(), Some(&"uwsgi.h.i.app.jobs -2 9"));
        assert!(!text.contains("busyness"), "none of carbon's own lines");
    }
}
