//! uWSGI's metrics subsystem: `--metric` and `uwsgi.metric_*` from a real app over several
//! workers, the values in the stats JSON's `metrics`, the file and statsd pushers, `/metrics`,
//! `--metrics-dir` files, collectors, and uWSGI's answers for what it refuses.
use rwsgi_testkit::prelude::*;
use rwsgi_testkit::receivers::UdpReceiver;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn call(server: &Server, path: &str) -> Value {
    let r = try_http(server.ports.http, "GET", path, &[], b"")
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    assert_eq!(r.status, 200, "GET {path}\n{}", server.log());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// Every `NAME:VALUE|c` datagram for `name` summed (statsd counters are deltas).
fn statsd_counter_sum(udp: &UdpReceiver, name: &str) -> i64 {
    udp.datagrams()
        .iter()
        .filter_map(|d| d.strip_prefix(&format!("{name}:"))?.strip_suffix("|c"))
        .map(|v| v.parse::<i64>().expect("a number"))
        .sum()
}

#[test]
fn metric_inc_from_concurrent_workers_reaches_stats_file_and_statsd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pushed = dir.path().join("push.log");
    let statsd = UdpReceiver::start();
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("metrics_app")
        .master()
        .processes(3)
        .args([
            "--metric",
            "app.hits",
            "--metric",
            "name=app.level,type=gauge,oid=100.2,initial_value=5",
            "--stats-push",
            &format!("file:path={},freq=1", pushed.display()),
            "--stats-push",
            &format!("statsd:127.0.0.1:{},rw", statsd.port),
            "--stats-pusher-default-freq",
            "1",
        ])
        .start();
    wait_workers_ready(&server, server.ports.stats, 3);

    // 8 clients x 15 requests, each request holding its (only) core 20 ms: the calls
    // overlap on several workers.
    const CLIENTS: usize = 8;
    const EACH: usize = 15;
    let port = server.ports.http;
    let workers: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(move || {
                    (0..EACH)
                        .map(|_| {
                            let r = try_http(port, "GET", "/inc", &[], b"").expect("GET /inc");
                            assert_eq!(r.status, 200);
                            let v: Value = serde_json::from_slice(&r.body).expect("json");
                            assert_eq!(v["result"], true, "metric_inc answers True");
                            v["worker"].as_u64().expect("worker id")
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client"))
            .collect()
    });
    let calls = (CLIENTS * EACH) as i64;
    let distinct: HashSet<u64> = workers.iter().copied().collect();
    assert!(
        distinct.len() >= 2,
        "served by one worker only: {distinct:?}"
    );

    let v = stats(server.ports.stats);
    assert_eq!(
        v["metrics"]["app.hits"],
        json!({"type": 0, "oid": "", "value": calls}),
        "{}",
        v["metrics"]
    );
    assert_eq!(
        v["metrics"]["app.level"],
        json!({"type": 1, "oid": "100.2", "value": 5})
    );
    // the built-in ones are there too, computed from the scoreboard
    assert_eq!(
        v["metrics"]["worker.0.requests"]["value"],
        sum_workers(&v, "requests")
    );
    let last_lock = v["locks"].as_array().and_then(|l| l.last()).cloned();
    assert_eq!(
        last_lock,
        Some(json!({"metrics": 0})),
        "uWSGI's metrics lock"
    );
    assert_eq!(call(&server, "/get?app.hits")["value"], calls);

    // the file pusher's documents carry it
    let text = wait_file(&pushed, WAIT, |t| {
        t.split("\n\n").any(|d| {
            serde_json::from_str::<Value>(d)
                .is_ok_and(|d| d["metrics"]["app.hits"]["value"] == calls)
        })
    });
    assert!(text.contains("\"app.level\":{\"type\":1,\"oid\":\"100.2\",\"value\":5}"));

    // statsd: uWSGI's name (PREFIX.NAME), a counter sent as increments that add up
    eventually(WAIT, "the statsd increments to add up", || {
        let sum = statsd_counter_sum(&statsd, "rw.app.hits");
        if sum == calls {
            Ok(())
        } else {
            Err(format!("{sum} of {calls}"))
        }
    });
    assert!(statsd.datagrams().iter().any(|d| d == "rw.app.level:5|g"));
}

#[test]
fn metric_functions_answer_as_uwsgi() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .metrics()
        .test_app("metrics_app")
        .master()
        .processes(2)
        .args([
            "--metric",
            "name=m,initial_value=10",
            "--metric",
            "name=floor,type=gauge,initial_value=3",
            "--metric",
            "name=both,collector=sum,children=m;floor",
            "--metric",
            "name=alias_m,alias=m",
        ])
        .start();
    wait_workers_ready(&server, server.ports.stats, 2);
    let op = |f: &str, name: &str, n: Option<i64>| {
        let path = match n {
            Some(n) => format!("/call?{f}&{name}&{n}"),
            None => format!("/call?{f}&{name}"),
        };
        let v = call(&server, &path);
        (v["result"].clone(), v["value"].as_i64().expect("value"))
    };
    let t = Value::Bool(true);
    assert_eq!(op("inc", "m", None), (t.clone(), 11), "inc by 1 by default");
    assert_eq!(op("inc", "m", Some(9)), (t.clone(), 20));
    assert_eq!(op("dec", "m", Some(25)), (t.clone(), -5), "signed");
    assert_eq!(op("mul", "m", Some(-4)), (t.clone(), 20));
    assert_eq!(op("div", "m", Some(3)), (t.clone(), 6));
    assert_eq!(
        op("div", "m", Some(0)),
        (Value::Null, 6),
        "division by 0 refused"
    );
    assert_eq!(op("set_max", "m", Some(4)), (t.clone(), 6));
    assert_eq!(op("set_max", "m", Some(40)), (t.clone(), 40));
    assert_eq!(op("set_min", "m", Some(12)), (t.clone(), 12));
    // uWSGI's set_min never goes down to the initial value (10)
    assert_eq!(op("set_min", "m", Some(10)), (t.clone(), 12));
    assert_eq!(op("set", "m", None), (t.clone(), 1), "set to 1 by default");
    assert_eq!(op("set", "m", Some(7)), (t.clone(), 7));
    assert_eq!(op("get", "alias_m", None).1, 7, "an alias reads its target");
    // refused: unknown, built-in, alias and collected metrics
    assert_eq!(op("inc", "nope", None), (Value::Null, 0));
    assert_eq!(op("set", "worker.1.requests", Some(5)).0, Value::Null);
    assert_eq!(op("inc", "alias_m", None).0, Value::Null);
    assert_eq!(op("inc", "both", None).0, Value::Null);
    // built-ins read live from the scoreboard
    let served = sum_workers(&stats(server.ports.stats), "requests") as i64;
    let got = call(&server, "/get?worker.0.requests")["value"]
        .as_i64()
        .unwrap();
    assert!(
        got >= served && got <= served + 1,
        "{got} vs {served} (+ this request's own)"
    );
    assert_eq!(
        call(&server, "/get?worker.1.core.0.read_errors")["value"],
        0
    );
    // the collector sums its children once a second: 7 + 3
    eventually(WAIT, "the sum collector", || {
        let v = stats(server.ports.stats)["metrics"]["both"]["value"].clone();
        if v == 10 {
            Ok(())
        } else {
            Err(format!("both = {v}"))
        }
    });
    // /metrics: one family for the custom metrics, and promtool accepts it
    let r = try_http(server.ports.metrics, "GET", "/metrics", &[], b"").expect("GET /metrics");
    let text = r.text();
    for want in [
        "# TYPE rwsgi_metric gauge",
        r#"rwsgi_metric{name="m"} 7"#,
        r#"rwsgi_metric{name="floor"} 3"#,
        r#"rwsgi_metric{name="both"} 10"#,
        r#"rwsgi_metric{name="alias_m"} 7"#,
    ] {
        assert!(text.lines().any(|l| l == want), "{want:?} not in\n{text}");
    }
    let mut promtool = std::process::Command::new(which("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(&r.body)
        .expect("feed promtool");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_metrics_the_functions_refuse_and_the_stats_have_none() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("metrics_app")
        .master()
        .processes(1)
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    assert_eq!(call(&server, "/inc")["result"], Value::Null);
    assert_eq!(call(&server, "/get?worker.0.requests")["value"], 0);
    let v = stats(server.ports.stats);
    assert!(v.get("metrics").is_none(), "no metrics key: {v}");
    assert!(!v["locks"].to_string().contains("metrics"));
}

#[test]
fn metrics_dir_holds_one_file_per_metric_and_a_file_collector_reads_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mdir = dir.path().join("metrics");
    std::fs::create_dir(&mdir).expect("metrics dir");
    let source = dir.path().join("source");
    std::fs::write(&source, "17 23\n").expect("source");
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("metrics_app")
        .master()
        .processes(2)
        .args([
            "--metrics-dir",
            &mdir.display().to_string(),
            "--metric",
            "app.hits",
            "--metric",
            &format!(
                "name=from_file,type=gauge,collector=file,arg1={},arg1n=1,initial_value=100",
                source.display()
            ),
        ])
        .start();
    wait_workers_ready(&server, server.ports.stats, 2);
    for _ in 0..3 {
        assert_eq!(call(&server, "/inc")["result"], true);
    }
    let read = |name: &str| -> String {
        let bytes = std::fs::read(mdir.join(name)).unwrap_or_default();
        let text: Vec<u8> = bytes.iter().copied().take_while(|&b| b != 0).collect();
        String::from_utf8_lossy(&text).into_owned()
    };
    eventually(WAIT, "the metric files", || {
        let (hits, file) = (read("app.hits"), read("from_file"));
        if hits == "3\n" && file == "123\n" {
            Ok(())
        } else {
            Err(format!("app.hits={hits:?} from_file={file:?}"))
        }
    });
    // uWSGI's page-sized files, a built-in among them
    assert_eq!(
        std::fs::metadata(mdir.join("app.hits"))
            .expect("file")
            .len(),
        4096
    );
    assert!(mdir.join("worker.2.requests").exists());
    assert!(mdir.join("core.busy_workers").exists());
    // the collector follows the file
    std::fs::write(&source, "1 -4\n").expect("source");
    eventually(WAIT, "the file collector", || {
        let v = stats(server.ports.stats)["metrics"]["from_file"]["value"].clone();
        if v == 96 {
            Ok(())
        } else {
            Err(format!("from_file = {v}"))
        }
    });
}

#[test]
fn metric_options_are_refused_with_their_reason() {
    for (args, want) in [
        (
            vec!["--metric", "name=x,collector=ptr"],
            "collector ptr is not supported",
        ),
        (vec!["--metric", "bad name"], "invalid metric name"),
        (
            vec!["--metric", "worker.1.requests"],
            "is a built-in metric",
        ),
        (
            vec!["--metric", "name=x,reset_after_push=1"],
            "reset_after_push is not supported",
        ),
        (
            vec!["--metrics-dir", "/nonexistent/rwsgi-metrics"],
            "--metrics-dir /nonexistent/rwsgi-metrics",
        ),
        (
            vec!["--metrics-dir-restore"],
            "rwsgi does not restore metrics",
        ),
    ] {
        let apps = apps_dir().display().to_string();
        let http = format!("127.0.0.1:{}", free_port());
        let mut argv = vec!["--http-socket", &http, "--module", "metrics_app"];
        argv.extend(["--chdir", &apps, "--master"]);
        argv.extend(args.iter().copied());
        let (code, log) = run_to_exit(&argv, WAIT);
        assert!(code.is_some_and(|c| c != 0), "{args:?} started: {code:?}");
        assert!(log.contains(want), "{args:?}: {log}");
    }
}

#[test]
fn carbon_use_metrics_sends_uwsgis_metric_names_to_a_real_carbon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cc = rwsgi_testkit::receivers::CarbonCache::start(dir.path());
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("metrics_app")
        .master()
        .processes(2)
        .args([
            "--metric",
            "app.hits",
            "--carbon",
            &format!("127.0.0.1:{}", cc.port),
            "--carbon-freq",
            "1",
            "--carbon-id",
            "web",
            "--carbon-use-metrics",
        ])
        .start();
    wait_workers_ready(&server, server.ports.stats, 2);
    for _ in 0..3 {
        assert_eq!(call(&server, "/inc")["result"], true);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    let base = format!("uwsgi.{}.web", host.trim_end());
    let hits = format!("{base}.app.hits");
    wait_for(WAIT, "app.hits = 3 in whisper", || {
        cc.fetch(&hits).last().map(|p| p.1) == Some(3.0)
    });
    let names = cc.metrics();
    assert!(
        names.contains(&format!("{base}.worker.0.requests")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.ends_with(".busyness")),
        "none of carbon's own lines: {names:?}"
    );
}
