//! `rwsgi_push::run` against real receivers on loopback, fed with synthetic snapshots (the
//! master's wiring is tested in `crates/server/tests/push*.rs`).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rwsgi_push::spec::{parse_carbon, parse_stats_push, CarbonOptions, PushOptions};
use rwsgi_push::{PushConfig, PusherSpec};
use rwsgi_stats::model::{
    CoreStats, MasterInfo, SocketInfo, SocketStats, StatsSnapshot, WorkerStats,
};
use rwsgi_testkit::receivers::*;

fn snapshot(requests: u64) -> StatsSnapshot {
    StatsSnapshot {
        master: MasterInfo {
            version: "2.0.31".into(),
            pid: 42,
            cwd: "/srv".into(),
            locks: vec!["user 0".into()],
            sockets: vec![SocketInfo {
                name: "127.0.0.1:3031".into(),
                proto: "uwsgi".into(),
                max_queue: 100,
            }],
            ..Default::default()
        },
        sockets: vec![SocketStats { queue: 0 }],
        workers: (1..=2)
            .map(|id| WorkerStats {
                id,
                pid: 100 + id,
                accepting: 1,
                requests: if id == 1 { requests } else { 0 },
                last_spawn: 1,
                respawn_count: 1,
                tx: if id == 1 { 100 * requests } else { 0 },
                cores: vec![CoreStats {
                    id: 0,
                    requests: if id == 1 { requests } else { 0 },
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn opts(freq: u64) -> PushOptions {
    PushOptions {
        default_freq: freq,
        ..Default::default()
    }
}

/// Runs `pushers` until `until` returns true (or `max` passes); `requests` is what the
/// snapshots report for worker 1.
fn run_until(
    pushers: Vec<PusherSpec>,
    requests: Arc<AtomicU64>,
    max: Duration,
    mut until: impl FnMut() -> bool,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = thread::spawn(move || {
        let cfg = PushConfig {
            pushers,
            hostname: "testhost".into(),
        };
        let mut snap = || snapshot(requests.load(Ordering::SeqCst));
        let memory = rwsgi_push::PushMemory::new(cfg.pushers.len()).expect("push memory");
        rwsgi_push::run(cfg, &memory, &mut snap, &s2);
    });
    let t = Instant::now();
    while !until() && t.elapsed() < max {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
}

#[test]
fn statsd_counters_are_deltas_and_gauges_absolute() {
    let rx = UdpReceiver::start();
    let spec = parse_stats_push(&format!("statsd:127.0.0.1:{},app", rx.port), opts(1)).unwrap();
    let requests = Arc::new(AtomicU64::new(7));
    let r2 = requests.clone();
    let mut bumped = 0;
    run_until(vec![spec], requests, Duration::from_secs(20), || {
        let pushes = rx.pushes(Duration::from_millis(300)).len();
        // after each push, 5 more requests
        if pushes > bumped {
            bumped = pushes;
            r2.fetch_add(5, Ordering::SeqCst);
        }
        pushes >= 4
    });
    let pushes = rx.pushes(Duration::from_millis(300));
    assert!(pushes.len() >= 4, "{pushes:?}");
    // counters start at 0 with the scoreboard: the first push counts from zero
    let first = statsd_map(&pushes[0]);
    assert_eq!(first["app.worker.1.requests"], (7, "c".to_string()));
    assert_eq!(first["app.worker.0.requests"], (7, "c".to_string()));
    assert_eq!(first["app.core.total_tx"], (700, "c".to_string()));
    assert_eq!(first["app.core.idle_workers"], (2, "g".to_string()));
    assert_eq!(first["app.socket.0.listen_queue"].1, "g");
    for p in &pushes[1..3] {
        let m = statsd_map(p);
        assert_eq!(m["app.worker.1.requests"], (5, "c".to_string()), "{p:?}");
        assert_eq!(m["app.worker.1.core.0.requests"], (5, "c".to_string()));
        assert_eq!(m["app.worker.2.requests"], (0, "c".to_string()));
        assert_eq!(m["app.core.total_tx"], (500, "c".to_string()));
        assert_eq!(m["app.rss_size"].1, "g");
    }
}

#[test]
fn statsd_all_gauges_no_workers_and_socket_format() {
    let statsd = UdpReceiver::start();
    let sock = UdpReceiver::start();
    let o = PushOptions {
        default_freq: 1,
        statsd_no_workers: true,
        statsd_all_gauges: true,
    };
    let a = parse_stats_push(&format!("statsd:127.0.0.1:{}", statsd.port), o).unwrap();
    let b = parse_stats_push(&format!("socket:127.0.0.1:{}", sock.port), opts(1)).unwrap();
    let requests = Arc::new(AtomicU64::new(9));
    run_until(vec![a, b], requests, Duration::from_secs(10), || {
        statsd.pushes(Duration::from_millis(300)).len() >= 2
            && sock.pushes(Duration::from_millis(300)).len() >= 2
    });
    let pushes = statsd.pushes(Duration::from_millis(300));
    for p in &pushes[..2] {
        let m = statsd_map(p);
        assert!(m.keys().all(|k| !k.starts_with("uwsgi.worker.")), "{p:?}");
        assert!(m.values().all(|(_, t)| t == "g"));
        assert_eq!(m["uwsgi.core.total_tx"], (900, "g".to_string()));
    }
    let d = sock.datagrams();
    assert!(
        d.contains(&"uwsgi.worker.1.requests 0 9".to_string()),
        "{d:?}"
    );
    assert!(d.contains(&"uwsgi.core.busy_workers 1 0".to_string()));
    assert!(d.contains(&"uwsgi.rss_size 3 0".to_string()));
}

#[test]
fn file_documents_parse_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.log");
    let spec = parse_stats_push(&format!("file:path={},freq=1", path.display()), opts(3)).unwrap();
    let requests = Arc::new(AtomicU64::new(3));
    let p2 = path.clone();
    run_until(vec![spec], requests, Duration::from_secs(10), || {
        std::fs::read_to_string(&p2).is_ok_and(|t| t.matches("\n\n").count() >= 3)
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let docs: Vec<&str> = text.split("\n\n").filter(|d| !d.is_empty()).collect();
    assert!(docs.len() >= 3);
    for d in docs {
        assert!(!d.contains('\n'), "one line per document");
        let v: serde_json::Value = serde_json::from_str(d).unwrap();
        assert_eq!(v["workers"][0]["requests"], 3);
        assert_eq!(v["version"], "2.0.31");
    }
}

#[test]
fn zabbix_sender_requests() {
    let z = ZabbixReceiver::start();
    let spec = parse_stats_push(&format!("zabbix:127.0.0.1:{},myapp", z.port), opts(1)).unwrap();
    run_until(
        vec![spec],
        Arc::new(AtomicU64::new(4)),
        Duration::from_secs(10),
        || !z.requests().is_empty(),
    );
    let r = &z.requests()[0];
    assert_eq!(r["request"], "sender data");
    let items = r["data"].as_array().unwrap();
    let item = items
        .iter()
        .find(|i| i["key"] == "myapp.worker.1.requests")
        .unwrap();
    assert_eq!(item["host"], "testhost");
    assert_eq!(item["value"], "4");
}

#[test]
fn a_dead_target_does_not_delay_the_others() {
    // a "zabbix server" that accepts and never answers: every push waits for its timeout
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_port = hole.local_addr().unwrap().port();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h2 = held.clone();
    thread::spawn(move || {
        for s in hole.incoming().flatten() {
            h2.lock().unwrap().push(s);
        }
    });
    let rx = UdpReceiver::start();
    let z = parse_stats_push(&format!("zabbix:127.0.0.1:{hole_port}"), opts(1)).unwrap();
    let s = parse_stats_push(&format!("statsd:127.0.0.1:{}", rx.port), opts(1)).unwrap();
    let t = Instant::now();
    run_until(
        vec![z, s],
        Arc::new(AtomicU64::new(1)),
        Duration::from_secs(15),
        || rx.pushes(Duration::from_millis(300)).len() >= 4,
    );
    assert!(rx.pushes(Duration::from_millis(300)).len() >= 4);
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "statsd kept its 1 s period"
    );
}

#[test]
fn carbon_lines_reach_carbon_cache_and_a_final_push_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let cc = CarbonCache::start(dir.path());
    let o = CarbonOptions {
        freq: 60,
        first_socket: Some("127.0.0.1:3031"),
        ..Default::default()
    };
    let spec = parse_carbon(&format!("127.0.0.1:{}", cc.port), &o).unwrap();
    let requests = Arc::new(AtomicU64::new(10));
    let r2 = requests.clone();
    let metric = "uwsgi.testhost.127_0_0_1:3031.requests";
    run_until(vec![spec], requests, Duration::from_secs(20), || {
        !cc.fetch(metric).is_empty()
    });
    // the first push (at start) was read back; the stop above made the final one with 10.
    // Run again: 10 at start, then 25 pushed only by the final push on stop.
    let first = cc.fetch(metric);
    assert_eq!(first.last().map(|p| p.1), Some(10.0), "{first:?}");
    thread::sleep(Duration::from_millis(1100));
    let o = CarbonOptions {
        freq: 60,
        first_socket: Some("127.0.0.1:3031"),
        ..Default::default()
    };
    let spec = parse_carbon(&format!("127.0.0.1:{}", cc.port), &o).unwrap();
    let requests = Arc::new(AtomicU64::new(10));
    let r3 = requests.clone();
    let t = Instant::now();
    run_until(vec![spec], requests, Duration::from_secs(5), || {
        if t.elapsed() > Duration::from_millis(1500) {
            r3.store(25, Ordering::SeqCst);
            return true;
        }
        false
    });
    drop(r2);
    wait_for(Duration::from_secs(15), "the final push in whisper", || {
        cc.fetch(metric).last().map(|p| p.1) == Some(25.0)
    });
    let names = cc.metrics();
    for m in [
        "uwsgi.testhost.127_0_0_1:3031.worker1.requests",
        "uwsgi.testhost.127_0_0_1:3031.worker2.busyness",
        "uwsgi.testhost.127_0_0_1:3031.active_workers",
        "uwsgi.testhost.127_0_0_1:3031.tx",
    ] {
        assert!(names.contains(&m.to_string()), "{m} not in {names:?}");
    }
    assert_eq!(
        cc.fetch("uwsgi.testhost.127_0_0_1:3031.active_workers")
            .last()
            .map(|p| p.1),
        Some(2.0)
    );
}

#[test]
fn mongodb_documents_survive_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let spec = parse_stats_push(
        &format!("mongodb:addr=127.0.0.1:{port},collection=app.stats,freq=1"),
        opts(3),
    )
    .unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let r2 = requests.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = thread::spawn(move || {
        let cfg = PushConfig {
            pushers: vec![spec],
            hostname: "h".into(),
        };
        // every snapshot has the next number: nothing may be lost or reordered
        let mut snap = || snapshot(r2.fetch_add(1, Ordering::SeqCst) + 1);
        let memory = rwsgi_push::PushMemory::new(cfg.pushers.len()).expect("push memory");
        rwsgi_push::run(cfg, &memory, &mut snap, &s2);
    });
    // down at start for ~3 pushes
    thread::sleep(Duration::from_millis(3200));
    let mongo = MongoServer::start_on(dir.path(), port);
    wait_for(
        Duration::from_secs(40),
        "buffered documents inserted",
        || mongo.find("app", "stats").len() >= 5,
    );
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
    let docs = mongo.find("app", "stats");
    let seq: Vec<u64> = docs
        .iter()
        .map(|d| d["workers"][0]["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(seq[0], 1, "the documents of the outage were kept: {seq:?}");
    assert!(
        seq.windows(2).all(|w| w[1] == w[0] + 1),
        "in order: {seq:?}"
    );
    assert_eq!(docs[0]["version"], "2.0.31");
    assert_eq!(docs[0]["sockets"][0]["name"], "127.0.0.1:3031");
    assert!(docs[0]["workers"][0]["cores"].is_array());
}
