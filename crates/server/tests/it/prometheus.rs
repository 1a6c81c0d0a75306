//! Prometheus on `/metrics`: the exporter's names on the stats socket and on `--metrics`,
//! `promtool check metrics` on a busy server, the UNIX listen queue read from the kernel, and
//! a fleet of three servers scraped by a real Prometheus (Debian's package), which also runs
//! the shipped alert rules and every query of the shipped dashboard.

use rwsgi_testkit::prelude::*;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring")
}

/// `GET /metrics` on a TCP port (the stats socket with --stats-http, or --metrics).
fn scrape(port: u16, accept: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    try_http(port, "GET", "/metrics", &headers, b"").expect("GET /metrics")
}

/// The samples of a text-format scrape: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            (series.to_string(), value.parse().expect("a numeric value"))
        })
        .collect()
}

/// The sum of every sample of family `name` (with any labels).
fn family_sum(s: &HashMap<String, f64>, name: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| k.as_str() == name || k.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

/// Waits until the server's metrics satisfy `cond`; returns that scrape's samples.
fn wait_metrics(
    port: u16,
    what: &str,
    cond: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    eventually(WAIT, what, || {
        let r = scrape(port, None);
        let s = samples(&r.text());
        if r.status == 200 && cond(&s) {
            Ok(s)
        } else {
            Err(r.text())
        }
    })
}

fn wait_spawned(server: &Server, workers: usize) {
    server.wait_log(Duration::from_secs(30), |l| {
        l.matches("spawned rwsgi worker").count() >= workers
    });
}

/// Creates the file that ends the app's `/slow?<file>` requests when dropped (also on a failed
/// assertion, so the server stops promptly).
struct Release(PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, b"go");
    }
}

/// Starts `GET /slow?<release>` on a thread; it ends once `release` exists.
fn start_slow(port: u16, release: &Path) -> std::thread::JoinHandle<u16> {
    let path = format!("/slow?{}", release.display());
    std::thread::spawn(move || {
        try_http(port, "GET", &path, &[], b"")
            .map(|r| r.status)
            .unwrap_or(0)
    })
}

#[test]
fn stats_http_serves_metrics_on_its_path_and_json_elsewhere() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .arg("--stats-http")
        .test_app("prom_app")
        .master()
        .processes(2)
        .start();
    let Ports { http, stats, .. } = server.ports;
    wait_spawned(&server, 2);
    for path in ["/", "/", "/", "/missing", "/missing", "/boom"] {
        let want = match path {
            "/missing" => 404,
            "/boom" => 500,
            _ => 200,
        };
        assert_eq!(get(http, path).status, want, "{path}");
    }
    // A request rwsgi refuses itself (no app call, no worker request) counts its status too.
    let refused = parse_response(&raw_exchange(http, b"NOT HTTP\r\n\r\n").expect("send"));
    assert!((400..500).contains(&refused.status), "{refused:?}");
    let refused_series = format!(r#"rwsgi_responses_total{{code="{}"}}"#, refused.status);
    let s = wait_metrics(stats, "6 requests in uwsgi_worker_requests_total", |s| {
        family_sum(s, "uwsgi_worker_requests_total") == 6.0 && s.contains_key(&refused_series)
    });
    assert_eq!(s[&refused_series], 1.0);
    assert_eq!(s[r#"rwsgi_responses_total{code="200"}"#], 3.0);
    assert_eq!(s[r#"rwsgi_responses_total{code="404"}"#], 2.0);
    assert_eq!(s[r#"rwsgi_responses_total{code="500"}"#], 1.0);
    assert_eq!(
        s[r#"rwsgi_request_duration_seconds_count{mountpoint=""}"#],
        6.0
    );
    assert_eq!(
        s[r#"rwsgi_request_duration_seconds_bucket{mountpoint="",le="+Inf"}"#],
        6.0
    );
    assert_eq!(family_sum(&s, "uwsgi_worker_exceptions_total"), 1.0);
    assert_eq!(family_sum(&s, "uwsgi_worker_app_requests_total"), 6.0);
    assert_eq!(s["uwsgi_workers"], 2.0);
    for id in ["1", "2"] {
        let busy = format!(r#"uwsgi_worker_busy{{worker_id="{id}"}}"#);
        assert!(s.contains_key(&busy), "{busy} in {s:?}");
    }
    let response_bytes = s["rwsgi_response_bytes_total"];
    assert_eq!(
        response_bytes,
        family_sum(&s, "uwsgi_worker_transmitted_bytes_total")
    );
    assert!(s["rwsgi_request_bytes_total"] > 0.0);
    let socket =
        format!(r#"uwsgi_socket_max_queue_length{{name="127.0.0.1:{http}",proto="http"}}"#);
    assert!(s.contains_key(&socket), "{socket} in {s:?}");

    let text = scrape(stats, None);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!text.text().contains("stats_uri"));
    let om = scrape(
        stats,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    );
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om = om.text();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("# TYPE uwsgi_worker_requests counter\n"),
        "{om}"
    );

    // Every other path keeps the uWSGI JSON.
    let json = get(stats, "/");
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: Value = serde_json::from_slice(&json.body).expect("the stats JSON");
    assert_eq!(sum_workers(&v, "requests"), 6);
}

#[test]
fn the_metrics_listener_serves_only_metrics_on_tcp_unix_and_abstract_sockets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("metrics.sock");
    let name = format!("rwsgi-metrics-test-{}", std::process::id());
    // TCP: pre-bound by the harness; UNIX and abstract: bound by rwsgi itself.
    for addr in [
        None,
        Some((path.display().to_string(), StatsAddr::Unix(path.clone()))),
        Some((
            format!("@{name}"),
            StatsAddr::Abstract(name.clone().into_bytes()),
        )),
    ] {
        let rwsgi = Rwsgi::new().http();
        let rwsgi = match &addr {
            None => rwsgi.metrics(),
            Some((addr, _)) => rwsgi.args(["--metrics", addr]),
        };
        let server = rwsgi.test_app("prom_app").master().processes(1).start();
        let (addr, client) = addr.unwrap_or_else(|| {
            let port = server.ports.metrics;
            (format!("127.0.0.1:{port}"), StatsAddr::Tcp(port))
        });
        wait_spawned(&server, 1);
        assert_eq!(get(server.ports.http, "/").status, 200);
        let metrics = eventually(WAIT, "1 request on /metrics", || {
            let raw = stats_exchange(&client, b"GET /metrics HTTP/1.0\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let r = parse_response(&raw);
            let s = samples(&r.text());
            if r.status == 200 && family_sum(&s, "uwsgi_worker_requests_total") == 1.0 {
                Ok(r)
            } else {
                Err(r.text())
            }
        });
        assert!(metrics.text().contains("# TYPE uwsgi_workers gauge"));
        let raw = stats_exchange(&client, b"GET / HTTP/1.0\r\n\r\n").expect("GET /");
        assert_eq!(
            parse_response(&raw).status,
            404,
            "no JSON on --metrics ({addr})"
        );
    }
}

/// `promtool check metrics < text`: (success, what promtool said).
fn promtool_check_metrics(text: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, text).expect("write the scrape");
    let mut cmd = Command::new(which("sh"));
    cmd.arg("-c").arg(format!(
        "exec {} check metrics < '{}'",
        which("promtool").display(),
        file.display()
    ));
    let out = run_bounded(cmd, Duration::from_secs(30));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn promtool_accepts_the_metrics_of_a_busy_8_worker_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let release = Release(dir.path().join("release"));
    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--stats-http", "--metrics-cores"])
        .test_app("prom_app")
        .master()
        .processes(8)
        .start();
    let Ports { http, stats, .. } = server.ports;
    wait_spawned(&server, 8);
    for path in ["/", "/missing", "/boom", "/", "/missing"] {
        assert!(get(http, path).status > 0);
    }
    let slow: Vec<_> = (0..3).map(|_| start_slow(http, &release.0)).collect();
    wait_metrics(stats, "3 busy workers and 5 requests done", |s| {
        family_sum(s, "uwsgi_worker_busy") == 3.0
            && family_sum(s, "rwsgi_worker_busy_cores") == 3.0
            && family_sum(s, "uwsgi_worker_core_busy") == 3.0
            && family_sum(s, "uwsgi_worker_requests_total") == 5.0
    });
    let busy = scrape(stats, None);
    let (ok, said) = promtool_check_metrics(&busy.body);
    assert!(
        ok && said.trim().is_empty(),
        "promtool: {said}\n{}",
        busy.text()
    );
    // The oracle can fail: a broken exposition is refused.
    let (ok, _) = promtool_check_metrics(b"# TYPE x counter\nx{a=\"1\"} one\n");
    assert!(!ok, "promtool refuses a malformed sample");
    drop(release);
    for h in slow {
        assert_eq!(h.join().expect("slow request"), 200);
    }
}

/// Connects to a UNIX socket and sends a uwsgi request for `path?query`, without reading.
fn unix_request(socket: &Path, path: &str, query: &str) -> UnixStream {
    let mut s = UnixStream::connect(socket).expect("connect the UNIX socket");
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    s.write_all(&uwsgi_str_packet(&uwsgi_vars("GET", path, query, "0"), b""))
        .expect("send a uwsgi request");
    s
}

#[test]
fn the_unix_listen_queue_rises_while_workers_are_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("app.sock");
    let release = Release(dir.path().join("release"));
    let server = Rwsgi::new()
        .stats()
        .args(["--stats-http", "--socket", &socket.display().to_string()])
        .test_app("prom_app")
        .master()
        .processes(1)
        .start();
    let stats = server.ports.stats;
    wait_spawned(&server, 1);
    let name = socket.display().to_string();
    let queue_series = format!(r#"uwsgi_socket_queue_length{{name="{name}",proto="uwsgi"}}"#);
    let s = wait_metrics(stats, "the UNIX socket listed", |s| {
        s.contains_key(&queue_series)
    });
    assert_eq!(s[&queue_series], 0.0);

    // The one worker's one core is held by a slow request; the next ones wait in the queue.
    let mut held = unix_request(&socket, "/slow", &release.0.display().to_string());
    wait_metrics(stats, "the worker busy", |s| {
        family_sum(s, "uwsgi_worker_busy") == 1.0
    });
    let mut waiting: Vec<UnixStream> = (0..4).map(|_| unix_request(&socket, "/", "")).collect();
    let s = wait_metrics(stats, "4 connections queued on the UNIX socket", |s| {
        s.get(&queue_series) == Some(&4.0) && s.get("uwsgi_listen_queue_length") == Some(&4.0)
    });
    assert_eq!(family_sum(&s, "uwsgi_worker_requests_total"), 0.0);
    let v = stats_json(stats);
    assert_eq!(v["listen_queue"], 4, "{v}");
    assert_eq!(v["sockets"][0]["queue"], 4, "{v}");

    // Released, the worker serves them all and the queue drains.
    drop(release);
    let mut answer = Vec::new();
    held.read_to_end(&mut answer).expect("the slow answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    for s in &mut waiting {
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).expect("a queued answer");
        assert!(answer.starts_with(b"HTTP/1.1 200"));
    }
    wait_metrics(stats, "the queue drained", |s| {
        s.get(&queue_series) == Some(&0.0) && family_sum(s, "uwsgi_worker_requests_total") == 5.0
    });
}

/// The stats JSON over HTTP (`--stats-http`).
fn stats_json(port: u16) -> Value {
    serde_json::from_slice(&get(port, "/").body).expect("the stats JSON")
}

/// A real Prometheus on loopback with a temp storage dir, stopped by pid when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[u16], rules: &Path) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let targets: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - '{}'\n\
             scrape_configs:\n  - job_name: rwsgi\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: [{}]\n",
            rules.display(),
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(which("prometheus"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        eventually(WAIT, "prometheus ready", || {
            match try_http(port, "GET", "/-/ready", &[], b"") {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("{} {}", r.status, prometheus.log())),
                Err(e) => Err(format!("{e}\n{}", prometheus.log())),
            }
        });
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/<path>`: its `data`, or the error Prometheus gave.
    fn api(&self, path: &str) -> Result<Value, String> {
        let r = try_http(self.port, "GET", &format!("/api/v1/{path}"), &[], b"")
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("{e}: {}", r.text()))?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(v.to_string())
        }
    }

    /// An instant query: the result vector (empty is a valid answer).
    fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api(&format!("query?query={}", percent_encode(expr)))?;
        match data["result"].as_array() {
            Some(result) if data["resultType"] == "vector" => Ok(result.clone()),
            _ => Err(format!("not a vector: {data}")),
        }
    }

    /// The single value of an instant query (`Err` while it has none).
    fn value(&self, expr: &str) -> Result<f64, String> {
        let result = self.query(expr)?;
        match result.as_slice() {
            [one] => one["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no value in {one}")),
            other => Err(format!("{expr}: {} series: {other:?}", other.len())),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGTERM);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every PromQL expression of the shipped Grafana dashboard, with Grafana's variables
/// replaced as Grafana would for "All instances"; `label_values(M, L)` becomes the query
/// Grafana's variable runs (the series of M, by L).
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(monitoring_dir().join("rwsgi-dashboard.json"))
        .expect("the shipped dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("a target expr").to_string())
        .collect();
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if let Some(def) = var["definition"].as_str() {
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .expect("label_values(metric, label)");
            let (metric, label) = inner.split_once(',').expect("metric, label");
            exprs.push(format!("count by ({}) ({metric})", label.trim()));
        }
    }
    exprs
        .into_iter()
        .map(|e| {
            e.replace("$__rate_interval", "1m")
                .replace("$instance", ".*")
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_a_fleet_of_three() {
    let rules = monitoring_dir().join("rwsgi-alerts.yml");
    let check = run_bounded(
        {
            let mut c = Command::new(which("promtool"));
            c.arg("check").arg("rules").arg(&rules);
            c
        },
        Duration::from_secs(30),
    );
    assert!(
        check.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let fleet: Vec<Server> = (0..3)
        .map(|_| {
            Rwsgi::new()
                .http()
                .stats()
                .arg("--stats-http")
                .test_app("prom_app")
                .master()
                .processes(2)
                .start()
        })
        .collect();
    for s in &fleet {
        wait_spawned(s, 2);
    }
    // Instance i gets 3 + i good requests and i + 1 misses; the second one also a 500.
    let mut sent = 0;
    let mut misses = 0;
    for (i, s) in fleet.iter().enumerate() {
        for _ in 0..3 + i {
            assert_eq!(get(s.ports.http, "/").status, 200);
        }
        for _ in 0..=i {
            assert_eq!(get(s.ports.http, "/missing").status, 404);
        }
        sent += 3 + i + i + 1;
        misses += i + 1;
        if i == 1 {
            assert_eq!(get(s.ports.http, "/boom").status, 500);
            sent += 1;
        }
    }

    let stats_ports: Vec<u16> = fleet.iter().map(|s| s.ports.stats).collect();
    let prometheus = Prometheus::start(&stats_ports, &rules);
    eventually(WAIT, "every target up", || {
        let up = prometheus.query("up")?;
        let all_up = up.len() == 3 && up.iter().all(|s| s["value"][1] == "1");
        if all_up {
            Ok(())
        } else {
            Err(format!("{up:?}\n{}", prometheus.log()))
        }
    });
    eventually(WAIT, "the fleet's requests in Prometheus", || {
        let total = prometheus.value("sum(uwsgi_worker_requests_total)")?;
        if total == sent as f64 {
            Ok(())
        } else {
            Err(format!("{total} of {sent}"))
        }
    });
    assert_eq!(
        prometheus.value(r#"sum(rwsgi_responses_total{code="404"})"#),
        Ok(misses as f64)
    );
    assert_eq!(
        prometheus.value(r#"sum(rwsgi_responses_total{code="500"})"#),
        Ok(1.0)
    );
    assert_eq!(
        prometheus.value("count(rwsgi_build_info)"),
        Ok(3.0),
        "one build per instance"
    );
    let p99 = prometheus
        .value("histogram_quantile(0.99, sum by (le) (rwsgi_request_duration_seconds_bucket))")
        .expect("a p99");
    assert!(p99.is_finite() && p99 > 0.0, "p99 = {p99}");

    // A few more scrapes, so rate() over 1m has points to work with.
    eventually(WAIT, "five scrapes of every target", || {
        let n = prometheus.value("min(count_over_time(uwsgi_workers[1m]))")?;
        if n >= 5.0 {
            Ok(())
        } else {
            Err(format!("{n} scrapes"))
        }
    });
    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    let mut with_data = 0;
    for q in &queries {
        let result = prometheus
            .query(q)
            .unwrap_or_else(|e| panic!("dashboard query {q}: {e}"));
        with_data += usize::from(!result.is_empty());
    }
    assert!(
        with_data * 2 > queries.len(),
        "most dashboard panels show the fleet ({with_data} of {})",
        queries.len()
    );

    // Prometheus loaded the shipped rules and evaluated every one without an error.
    let rules = eventually(WAIT, "every alert rule evaluated", || {
        let data = prometheus.api("rules")?;
        let rules: Vec<Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = rules.len() == 6
            && rules.iter().all(|r| {
                r["lastEvaluation"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001"))
            });
        if evaluated {
            Ok(rules)
        } else {
            Err(format!("{rules:?}"))
        }
    });
    for r in &rules {
        assert_eq!(r["health"], "ok", "{r}");
        let query = r["query"].as_str().expect("the rule's expression");
        prometheus
            .query(query)
            .unwrap_or_else(|e| panic!("alert rule {query}: {e}"));
    }
    // Nothing in this healthy fleet fires.
    let alerts = prometheus.api("alerts").expect("alerts");
    assert_eq!(
        alerts["alerts"].as_array().map(Vec::len),
        Some(0),
        "{alerts}"
    );
}

#[test]
fn the_metrics_listener_is_handed_over_across_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("metrics.sock");
    let server = Rwsgi::new()
        .http()
        .args(["--metrics", &path.display().to_string()])
        .test_app("prom_app")
        .master()
        .processes(1)
        .start();
    wait_spawned(&server, 1);
    let client = StatsAddr::Unix(path.clone());
    let workers = |what: &str| {
        eventually(WAIT, what, || {
            let raw = stats_exchange(&client, b"GET /metrics HTTP/1.0\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let r = parse_response(&raw);
            match samples(&r.text()).get("uwsgi_workers") {
                Some(&n) if r.status == 200 => Ok(n),
                _ => Err(r.text()),
            }
        })
    };
    assert_eq!(workers("metrics before the reload"), 1.0);
    let socket = listening_socket_inode(&path).expect("the metrics socket in /proc/net/unix");
    server.signal(libc::SIGHUP);
    server.wait_log(WAIT, |l| l.matches("spawned rwsgi worker").count() >= 2);
    assert_eq!(workers("metrics after the reload"), 1.0);
    assert_eq!(
        listening_socket_inode(&path),
        Some(socket),
        "the same socket, inherited, not bound again:\n{}",
        server.log()
    );
}

/// The socket inode (not the file's) of the UNIX socket listening on `path`, from
/// /proc/net/unix: a socket bound again gets a new one.
fn listening_socket_inode(path: &Path) -> Option<u64> {
    /// `__SO_ACCEPTCON` in the Flags column: a listening socket.
    const ACCEPTCON: u32 = 0x10000;
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    table.lines().skip(1).find_map(|line| {
        // Num RefCount Protocol Flags Type St Inode Path
        let cols: Vec<&str> = line.split_whitespace().collect();
        let flags = u32::from_str_radix(cols.get(3)?, 16).ok()?;
        let listening = flags & ACCEPTCON != 0;
        (listening && Path::new(cols.get(7)?) == path)
            .then(|| cols.get(6)?.parse().ok())
            .flatten()
    })
}
