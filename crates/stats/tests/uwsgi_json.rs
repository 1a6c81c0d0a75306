//! The uWSGI renderer against real uWSGI 2.0.31 captures (tests/reference/, copied from
//! /work/shared/reference/).

use proptest::prelude::*;
use rwsgi_stats::json::{LATENCY_KEY, P50_KEY, P99_KEY, RWSGI_KEY};
use rwsgi_stats::metrics::{parse_metric_spec, MetricOp};
use rwsgi_stats::scoreboard::{LATENCY_BUCKETS_US, LATENCY_SLOTS};
use rwsgi_stats::WorkerId;
use rwsgi_stats::{
    render_uwsgi_vec, uwsgi_default_locks, AppInfo, AppStats, CoreStats, Layout, MasterInfo,
    MetricsInfo, RenderOptions, Scoreboard, SocketInfo, SocketStats, StatsSnapshot, VarsPolicy,
    WorkerStats, WorkerStatus,
};
use serde_json::Value;

/// Worker `n` (1-based).
fn wid(n: usize) -> WorkerId {
    WorkerId::new(n).expect("worker ids are 1-based")
}

const BUSY: &str = include_str!("reference/uwsgi-2.0.31-busy.json");
const IDLE: &str = include_str!("reference/uwsgi-2.0.31-idle.json");
const KEYS: &str = include_str!("reference/keys.json");
/// uWSGI 2.0.21's file pusher output (metrics enabled by --stats-push): 1 worker, 1 core,
/// 1 socket.
const PUSH_HEAD: &str = include_str!("reference/uwsgi-2.0.21-push-file-head.txt");

const BUSY_VARS: [&str; 12] = [
    "REQUEST_METHOD=GET",
    "PATH_INFO=/slow",
    "REQUEST_URI=/slow?q=1",
    "QUERY_STRING=q=1",
    "SERVER_PROTOCOL=HTTP/1.1",
    "SERVER_NAME=vm",
    "SERVER_PORT=9501",
    "REMOTE_ADDR=127.0.0.1",
    "HTTP_HOST=localhost:9501",
    "HTTP_USER_AGENT=curl/7.88.1",
    "HTTP_ACCEPT=*/*",
    "HTTP_COOKIE=session=secret",
];

fn socket(name: &str, proto: &str) -> SocketInfo {
    SocketInfo {
        name: name.into(),
        proto: proto.into(),
        max_queue: 100,
    }
}

fn core(id: u64, requests: u64, busy: bool) -> CoreStats {
    CoreStats {
        id,
        requests,
        in_request: busy as u64,
        vars: if busy {
            BUSY_VARS.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        },
        request_start: busy.then_some(1795554404),
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    id: u64,
    pid: u64,
    requests: u64,
    exceptions: u64,
    status: WorkerStatus,
    running_time: u64,
    tx: u64,
    avg_rt: u64,
    app_requests: u64,
    cores: Vec<CoreStats>,
) -> WorkerStats {
    WorkerStats {
        id,
        pid,
        accepting: 1,
        requests,
        delta_requests: requests,
        exceptions,
        harakiri_count: 0,
        status,
        rss: 11661312,
        vsz: 133971968,
        running_time,
        last_spawn: 1795554402,
        respawn_count: 1,
        tx,
        avg_rt,
        apps: vec![AppStats {
            id: 0,
            requests: app_requests,
            exceptions,
            latency: Default::default(),
        }],
        cores,
        ..Default::default()
    }
}

/// The snapshot uWSGI had when it wrote uwsgi-2.0.31-busy.json.
fn busy_snapshot() -> StatsSnapshot {
    StatsSnapshot {
        master: MasterInfo {
            version: "2.0.31".into(),
            pid: 15005,
            uid: 0,
            gid: 0,
            cwd: "/tmp/cap".into(),
            locks: uwsgi_default_locks(),
            sockets: vec![
                socket("127.0.0.1:9501", "http"),
                socket("127.0.0.1:9502", "uwsgi"),
            ],
            apps: vec![AppInfo::default()],
            include_cores: true,
            // uWSGI shows every var as it is.
            vars: VarsPolicy::Full,
            metrics: None,
        },
        listen_queue_errors: 0,
        sockets: vec![SocketStats { queue: 0 }, SocketStats { queue: 0 }],
        workers: vec![
            worker(
                1,
                15007,
                2,
                0,
                WorkerStatus::Idle,
                240,
                112,
                87,
                2,
                vec![core(0, 1, false), core(1, 1, false)],
            ),
            worker(
                2,
                15008,
                30,
                1,
                WorkerStatus::Busy,
                2209,
                1624,
                132,
                31,
                vec![core(0, 15, true), core(1, 15, false)],
            ),
        ],
        metric_values: Vec::new(),
        ..Default::default()
    }
}

fn render(s: &StatsSnapshot, minified: bool, no_cores: bool) -> Vec<u8> {
    if no_cores {
        let mut s = s.clone();
        s.master.include_cores = false;
        return render_uwsgi_vec(
            &s,
            RenderOptions {
                minified,
                ..Default::default()
            },
        );
    }
    render_uwsgi_vec(
        s,
        RenderOptions {
            minified,
            ..Default::default()
        },
    )
}

fn parse(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

#[test]
fn busy_capture_is_reproduced_byte_for_byte() {
    let out = render(&busy_snapshot(), false, false);
    assert_eq!(String::from_utf8(out).unwrap(), BUSY);
}

#[test]
fn busy_capture_value_for_value() {
    let ours = parse(&render(&busy_snapshot(), false, false));
    let theirs: Value = serde_json::from_str(BUSY).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn idle_capture_is_reproduced() {
    let mut s = busy_snapshot();
    let w = &mut s.workers[1];
    w.status = WorkerStatus::Idle;
    w.requests = 31;
    w.delta_requests = 31;
    let theirs: Value = serde_json::from_str(IDLE).unwrap();
    // Take the numbers of the idle capture for worker 2.
    let tw = &theirs["workers"][1];
    w.running_time = tw["running_time"].as_u64().unwrap();
    w.tx = tw["tx"].as_u64().unwrap();
    w.avg_rt = tw["avg_rt"].as_u64().unwrap();
    w.cores[0] = core(0, tw["cores"][0]["requests"].as_u64().unwrap(), false);
    w.cores[1].requests = tw["cores"][1]["requests"].as_u64().unwrap();
    let out = render(&s, false, false);
    assert_eq!(parse(&out), theirs);
    assert_eq!(String::from_utf8(out).unwrap(), IDLE);
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Number(n) if n.is_u64() || n.is_i64() => "int",
        Value::Number(_) => "float",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

fn check_section(keys: &Value, section: &str, obj: &Value) {
    let want = keys[section].as_object().unwrap();
    let got = obj
        .as_object()
        .unwrap_or_else(|| panic!("{section} is not an object"));
    for (k, t) in want {
        let v = got
            .get(k)
            .unwrap_or_else(|| panic!("{section}: missing key {k:?}"));
        assert_eq!(type_name(v), t.as_str().unwrap(), "{section}.{k}: {v}");
    }
}

/// A realistic snapshot produced through the scoreboard, not hand-built.
fn scoreboard_snapshot() -> StatsSnapshot {
    let sb = Scoreboard::new(Layout {
        workers: 3,
        cores: 2,
        apps: 1,
        sockets: 2,
        metrics: 0,
    })
    .unwrap();
    for n in 1..=3 {
        let id = wid(n);
        sb.prepare_spawn(id, 1_795_554_402);
        sb.worker(id).set_pid(15000 + n as u32);
        sb.worker(id).set_accepting(true);
        sb.worker(id).set_memory(11661312, 133971968);
        for _ in 0..n {
            sb.app(id, 0).request_begin();
            sb.core(id, 0)
                .begin_request(1_795_554_403, [(&b"PATH_INFO"[..], &b"/"[..])]);
            sb.worker(id).request_done(120, 56, false);
            sb.app(id, 0).request_done(false);
            sb.core(id, 0).end_request();
        }
    }
    sb.core(wid(2), 1).begin_request(
        1_795_554_404,
        BUSY_VARS
            .iter()
            .map(|v| v.split_once('=').unwrap())
            .map(|(k, v)| (k.as_bytes(), v.as_bytes())),
    );
    let mut snap = sb.snapshot(&MasterInfo {
        version: "2.0.31".into(),
        pid: 15000,
        cwd: "/tmp/cap".into(),
        sockets: vec![
            socket("127.0.0.1:9501", "http"),
            socket("/tmp/x.sock", "uwsgi"),
        ],
        apps: vec![AppInfo::default()],
        // uWSGI's capture shows every var as it is (`--stats-vars full`).
        vars: VarsPolicy::Full,
        ..Default::default()
    });
    // the renderer alone: a cheap status as the scoreboard reports a cheaped worker
    snap.workers[2].status = WorkerStatus::Cheap;
    snap
}

#[test]
fn every_uwsgi_key_with_its_type() {
    let keys: Value = serde_json::from_str(KEYS).unwrap();
    let snap = scoreboard_snapshot();
    for minified in [false, true] {
        let v = parse(&render(&snap, minified, false));
        check_section(&keys, "top", &v);
        let locks = v["locks"].as_array().unwrap();
        assert_eq!(locks.len(), 8);
        for l in locks {
            let o = l.as_object().unwrap();
            assert_eq!(o.len(), 1);
            assert_eq!(o.values().next().unwrap(), &Value::from(0));
        }
        let sockets = v["sockets"].as_array().unwrap();
        assert_eq!(sockets.len(), 2);
        sockets
            .iter()
            .for_each(|s| check_section(&keys, "socket", s));
        let workers = v["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 3);
        for w in workers {
            check_section(&keys, "worker", w);
            let apps = w["apps"].as_array().unwrap();
            assert_eq!(apps.len(), 1);
            apps.iter().for_each(|a| check_section(&keys, "app", a));
            let cores = w["cores"].as_array().unwrap();
            assert_eq!(cores.len(), 2);
            cores.iter().for_each(|c| check_section(&keys, "core", c));
        }
        let busy_core = &workers[1]["cores"][1];
        assert_eq!(busy_core["in_request"], 1);
        assert_eq!(busy_core["req_info"]["request_start"], 1_795_554_404u64);
        let vars: Vec<&str> = busy_core["vars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&vars[..12], &BUSY_VARS[..]);
        assert_eq!(
            vars[12], "",
            "uWSGI ends a busy core's vars with an empty string"
        );
        assert_eq!(workers[1]["status"], "busy");
        assert_eq!(workers[0]["status"], "idle");
        assert_eq!(workers[2]["status"], "cheap");
        assert_eq!(workers[2]["requests"], 3);
        assert_eq!(workers[2]["respawn_count"], 1);
        assert_eq!(workers[0]["cores"][0]["req_info"], serde_json::json!({}));
    }
}

#[test]
fn minified_parses_to_the_same_value() {
    for snap in [busy_snapshot(), scoreboard_snapshot()] {
        let pretty = render(&snap, false, false);
        let min = render(&snap, true, false);
        assert!(!min.contains(&b'\n') && !min.contains(&b'\t'));
        assert!(min.len() < pretty.len());
        assert_eq!(parse(&pretty), parse(&min));
    }
    let min = render(&busy_snapshot(), true, false);
    let s = String::from_utf8(min).unwrap();
    assert!(
        s.starts_with("{\"version\":\"2.0.31\",\"listen_queue\":0,"),
        "{s}"
    );
    assert!(
        s.contains("\"locks\":[{\"user 0\":0},{\"signal\":0},"),
        "{s}"
    );
    assert!(s.contains("\"vars\":[],\"req_info\":{}}"), "{s}");
    assert!(s.ends_with("]}]}"), "{s}");
}

#[test]
fn no_cores_removes_cores() {
    for minified in [false, true] {
        let out = render(&busy_snapshot(), minified, true);
        let v = parse(&out);
        for w in v["workers"].as_array().unwrap() {
            assert!(w.get("cores").is_none());
            assert!(w.get("apps").is_some());
        }
        let mut expected: Value = serde_json::from_str(BUSY).unwrap();
        for w in expected["workers"].as_array_mut().unwrap() {
            w.as_object_mut().unwrap().remove("cores");
        }
        assert_eq!(v, expected);
    }
    // Same layout as uWSGI's `goto nocores`: the apps list closes the worker object.
    let s = String::from_utf8(render(&busy_snapshot(), false, true)).unwrap();
    assert!(
        s.contains("\t\t\t\t\"chdir\":\"\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"id\":2,"),
        "{s}"
    );
}

#[test]
fn hostile_strings_stay_valid_json() {
    let mut s = busy_snapshot();
    s.master.cwd = "/tmp/\"quoted\"\\dir\n".into();
    s.master.sockets[0].name = "\u{0}@abstract\u{1f}".into();
    s.master.apps[0].mountpoint = "é\u{2028}".into();
    s.workers[1].cores[0]
        .vars
        .push("HTTP_X=\"}],\\\t\u{7f}".into());
    for minified in [false, true] {
        let v = parse(&render(&s, minified, false));
        assert_eq!(v["cwd"], "/tmp/\"quoted\"\\dir\n");
        assert_eq!(v["sockets"][0]["name"], "\u{0}@abstract\u{1f}");
        assert_eq!(v["workers"][1]["apps"][0]["mountpoint"], "é\u{2028}");
        assert_eq!(
            v["workers"][1]["cores"][0]["vars"][12],
            "HTTP_X=\"}],\\\t\u{7f}"
        );
    }
}

#[test]
fn sig_status_and_empty_lists() {
    let mut s = busy_snapshot();
    s.master.sockets.clear();
    s.sockets.clear();
    s.workers[0].apps.clear();
    s.workers[0].status = WorkerStatus::Sig(17);
    s.workers[1].status = WorkerStatus::Pause;
    let v = parse(&render(&s, false, false));
    assert_eq!(v["workers"][0]["status"], "sig17");
    assert_eq!(v["workers"][1]["status"], "pause");
    assert_eq!(v["sockets"], serde_json::json!([]));
    let s2 = StatsSnapshot {
        master: MasterInfo {
            locks: Vec::new(),
            ..Default::default()
        },
        ..Default::default()
    };
    for minified in [false, true] {
        let v = parse(&render(&s2, minified, false));
        assert_eq!(v["workers"], serde_json::json!([]));
        assert_eq!(v["locks"], serde_json::json!([]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes in request vars (through the scoreboard, including non-UTF-8 and
    /// control bytes) always give valid JSON, and the vars come back as their lossy UTF-8.
    #[test]
    fn arbitrary_var_bytes_give_valid_json(
        vars in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40), proptest::collection::vec(any::<u8>(), 0..300)),
            0..20),
        minified in any::<bool>(),
    ) {
        let sb = Scoreboard::new(Layout { workers: 1, cores: 1, apps: 1, sockets: 0, metrics: 0 }).unwrap();
        sb.core(wid(1), 0).begin_request(7, vars.iter().map(|(k, v)| (&k[..], &v[..])));
        let snap = sb.snapshot(&MasterInfo {
            apps: vec![AppInfo::default()],
            vars: VarsPolicy::Full,
            ..Default::default()
        });
        let out = render(&snap, minified, false);
        let v: Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let got = v["workers"][0]["cores"][0]["vars"].as_array().unwrap().clone();
        let req = sb.core(wid(1), 0).read_request().unwrap();
        let expect: Vec<String> = req.vars()
            .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
            .collect();
        if expect.is_empty() {
            prop_assert_eq!(got.len(), 0);
        } else {
            prop_assert_eq!(got.len(), expect.len() + 1);
            for (g, e) in got.iter().zip(&expect) {
                prop_assert_eq!(g.as_str().unwrap(), e.as_str());
            }
            prop_assert_eq!(got.last().unwrap().as_str().unwrap(), "");
        }
    }

    /// Arbitrary strings anywhere in the model always give valid JSON that round-trips.
    #[test]
    fn redacted_vars_never_show_their_values(
        vars in proptest::collection::vec(
            (
                prop_oneof![
                    Just(b"HTTP_COOKIE".to_vec()),
                    Just(b"http_authorization".to_vec()),
                    Just(b"HTTP_PROXY_AUTHORIZATION".to_vec()),
                    Just(b"HTTP_X_API_KEY".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..20),
                ],
                proptest::collection::vec(any::<u8>(), 0..100),
            ),
            0..12),
        minified in any::<bool>(),
    ) {
        let sb = Scoreboard::new(Layout { workers: 1, cores: 1, apps: 1, sockets: 0, metrics: 0 }).unwrap();
        sb.core(wid(1), 0).begin_request(7, vars.iter().map(|(k, v)| (&k[..], &v[..])));
        let snap = sb.snapshot(&MasterInfo {
            apps: vec![AppInfo::default()],
            vars: VarsPolicy::redacted(["X-Api-Key"]),
            ..Default::default()
        });
        let v: Value = serde_json::from_slice(&render(&snap, minified, false))
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let got = v["workers"][0]["cores"][0]["vars"].as_array().unwrap().clone();
        let req = sb.core(wid(1), 0).read_request().unwrap();
        for ((k, val), g) in req.vars().zip(&got) {
            let key = String::from_utf8_lossy(k);
            let secret = ["HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_X_API_KEY"]
                .iter()
                .any(|s| key.eq_ignore_ascii_case(s));
            let shown = if secret {
                format!("{key}={}", rwsgi_stats::redact::REDACTED)
            } else {
                format!("{key}={}", String::from_utf8_lossy(val))
            };
            prop_assert_eq!(g.as_str().unwrap(), shown.as_str());
        }
        prop_assert_eq!(got.len(), if req.vars().count() == 0 { 0 } else { req.vars().count() + 1 });
    }

    #[test]
    fn arbitrary_strings_round_trip(
        cwd in ".*",
        var in ".*",
        name in "\\PC*",
        mountpoint in ".*",
        chdir in ".*",
        minified in any::<bool>(),
    ) {
        let mut s = busy_snapshot();
        s.master.cwd = cwd.clone();
        s.master.sockets[0].name = name.clone();
        s.master.apps[0].mountpoint = mountpoint.clone();
        s.master.apps[0].chdir = chdir.clone();
        s.workers[1].cores[0].vars = vec![var.clone()];
        let v: Value = serde_json::from_slice(&render(&s, minified, false)).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(v["cwd"].as_str().unwrap(), cwd.as_str());
        prop_assert_eq!(v["sockets"][0]["name"].as_str().unwrap(), name.as_str());
        prop_assert_eq!(v["workers"][0]["apps"][0]["mountpoint"].as_str().unwrap(), mountpoint.as_str());
        prop_assert_eq!(v["workers"][0]["apps"][0]["chdir"].as_str().unwrap(), chdir.as_str());
        prop_assert_eq!(v["workers"][1]["cores"][0]["vars"][0].as_str().unwrap(), var.as_str());
    }
}

/// The metric names of a pretty-printed document, in order (`\t\t"NAME":\t\t{` lines).
fn metric_names(doc: &str) -> Vec<String> {
    let start = doc.find("\t\"metrics\":\t{").expect("a metrics object");
    let end = start + doc[start..].find("\n\t},").expect("its end");
    doc[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("\t\t\"")?.strip_suffix("\":\t\t{"))
        .map(str::to_string)
        .collect()
}

#[test]
fn metrics_object_matches_uwsgi_push_capture() {
    let theirs_text = {
        let mut it = serde_json::Deserializer::from_str(PUSH_HEAD).into_iter::<Value>();
        it.next().unwrap().unwrap();
        &PUSH_HEAD[..it.byte_offset()]
    };
    let theirs: Value = serde_json::from_str(theirs_text).unwrap();
    let sb = Scoreboard::new(Layout {
        workers: 1,
        cores: 1,
        apps: 1,
        sockets: 1,
        metrics: 0,
    })
    .unwrap();
    sb.prepare_spawn(wid(1), 1);
    let mut locks = uwsgi_default_locks();
    locks.push("metrics".into());
    let info = MasterInfo {
        version: "2.0.21-debian".into(),
        locks,
        sockets: vec![socket("127.0.0.1:9541", "uwsgi")],
        apps: vec![AppInfo::default()],
        metrics: Some(MetricsInfo::default()),
        ..Default::default()
    };
    let ours_text = String::from_utf8(render(&sb.snapshot(&info), false, false)).unwrap();
    let ours = parse(ours_text.as_bytes());
    // Where uWSGI puts it: after the locks, before the sockets.
    let pos = |t: &str, k: &str| t.find(&format!("\n\t\"{k}\":")).unwrap();
    assert!(pos(&ours_text, "locks") < pos(&ours_text, "metrics"));
    assert!(pos(&ours_text, "metrics") < pos(&ours_text, "sockets"));
    assert_eq!(ours["locks"], theirs["locks"]);
    // Every name in uWSGI's order, less the per-core exceptions rwsgi does not count.
    let want: Vec<String> = metric_names(theirs_text)
        .into_iter()
        .filter(|n| !(n.contains(".core.") && n.ends_with(".exceptions")))
        .collect();
    assert_eq!(metric_names(&ours_text), want);
    assert_eq!(want.len(), 37);
    for name in &want {
        let (o, t) = (&ours["metrics"][name], &theirs["metrics"][name]);
        assert_eq!(o["type"], t["type"], "{name}");
        assert_eq!(o["oid"], t["oid"], "{name}");
        assert_eq!(type_name(&o["value"]), "int", "{name}");
        assert_eq!(
            o.as_object().unwrap().keys().collect::<Vec<_>>(),
            t.as_object().unwrap().keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(ours["metrics"]["worker.1.respawns"]["value"], 1);
    // --stats-no-metrics leaves the object out.
    let mut hidden = info.clone();
    hidden.metrics = Some(MetricsInfo {
        hide_from_stats: true,
        ..Default::default()
    });
    assert!(parse(&render(&sb.snapshot(&hidden), false, false))
        .get("metrics")
        .is_none());
}

#[test]
fn custom_metrics_in_the_stats_with_signed_values() {
    let sb = Scoreboard::new(Layout {
        workers: 1,
        cores: 1,
        apps: 1,
        sockets: 0,
        metrics: 2,
    })
    .unwrap();
    sb.try_metric(0).unwrap().update(MetricOp::Inc, 41, 0);
    sb.try_metric(1).unwrap().update(MetricOp::Dec, 3, 0);
    let custom = vec![
        parse_metric_spec("name=app.jobs,oid=100.1").unwrap(),
        parse_metric_spec("name=app.level,type=gauge").unwrap(),
    ];
    let info = MasterInfo {
        apps: vec![AppInfo::default()],
        metrics: Some(MetricsInfo {
            custom,
            ..Default::default()
        }),
        ..Default::default()
    };
    for minified in [false, true] {
        let v = parse(&render(&sb.snapshot(&info), minified, false));
        assert_eq!(
            v["metrics"]["app.jobs"],
            serde_json::json!({"type": 0, "oid": "100.1", "value": 41})
        );
        assert_eq!(
            v["metrics"]["app.level"],
            serde_json::json!({"type": 1, "oid": "", "value": -3})
        );
    }
}

#[test]
fn rwsgi_key_is_the_only_addition() {
    let theirs: Value = serde_json::from_str(BUSY).unwrap();
    for minified in [false, true] {
        let out = render_uwsgi_vec(
            &busy_snapshot(),
            RenderOptions {
                minified,
                rwsgi_keys: true,
            },
        );
        let mut ours = parse(&out);
        let extra = ours.as_object_mut().unwrap().remove(RWSGI_KEY).unwrap();
        assert_eq!(ours, theirs, "uWSGI's keys as they were");
        assert_eq!(
            extra,
            serde_json::json!({
                "latency": {"count": 0, "sum_us": 0, "p50": null, "p99": null,
                            "le_us": LATENCY_BUCKETS_US, "buckets": ([0u64; LATENCY_SLOTS])},
                "responses": {}
            })
        );
    }
}

#[test]
fn rwsgi_key_from_the_scoreboard() {
    let sb = Scoreboard::new(Layout {
        workers: 2,
        cores: 2,
        apps: 1,
        sockets: 0,
        metrics: 0,
    })
    .unwrap();
    // 100 requests: 98 fast (<= 5 ms), 2 between 0.5 and 1 s
    for i in 0..100u64 {
        let (id, core) = (wid(1 + (i % 2) as usize), (i / 2 % 2) as usize);
        let rt = if i < 98 { 1_000 } else { 600_000 };
        sb.try_latency(id, core, 0).unwrap().observe(rt);
        sb.responses(id, core)
            .record(if i < 95 { 200 } else { 404 }, 0);
    }
    sb.responses(wid(1), 0).record(1000, 0);
    let info = MasterInfo {
        apps: vec![AppInfo::default()],
        ..Default::default()
    };
    let v = parse(&render_uwsgi_vec(
        &sb.snapshot_full(&info),
        RenderOptions {
            minified: false,
            rwsgi_keys: true,
        },
    ));
    let l = &v[RWSGI_KEY][LATENCY_KEY];
    assert_eq!(l["count"], 100);
    assert_eq!(l["sum_us"], 98 * 1_000 + 2 * 600_000);
    assert_eq!(l["buckets"][0], 98);
    assert_eq!(l["buckets"][7], 2, "the (0.5 s, 1 s] bucket");
    // p50: rank 50 of 98 in [0, 5 ms]; p99: rank 99, the 1st of 2 in (0.5 s, 1 s]
    assert_eq!(l[P50_KEY], 2_551);
    assert_eq!(l[P99_KEY], 750_000);
    assert_eq!(
        v[RWSGI_KEY]["responses"],
        serde_json::json!({"200": 95, "404": 5, "other": 1})
    );
}
