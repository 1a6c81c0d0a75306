//! The stats pushers (`--stats-push`, `--carbon`) of the real rwsgi binary, against real
//! receivers on loopback: a UDP listener (statsd, socket), Graphite's carbon-cache read back
//! with whisper-fetch, the nx-27017 MongoDB wire-protocol server read back with pymongo, and
//! a Zabbix trapper stand-in.

use std::time::{Duration, Instant};

use rwsgi_testkit::prelude::*;
use rwsgi_testkit::receivers::*;

/// `push_app` with two workers on pre-bound HTTP and stats sockets; a test adds its pushers.
fn push_server() -> Rwsgi {
    Rwsgi::new()
        .http()
        .stats()
        .test_app("push_app")
        .master()
        .processes(2)
}

fn total_requests(stats_port: u16) -> u64 {
    sum_workers(&stats(stats_port), "requests")
}

/// The kernel's host name, read independently of the server's own lookup.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the kernel's host name")
        .trim_end()
        .to_string()
}

#[test]
fn statsd_counters_are_deltas_socket_and_zabbix_formats() {
    let statsd = UdpReceiver::start();
    let sock = UdpReceiver::start();
    let zbx = ZabbixReceiver::start();
    let server = push_server()
        .args([
            "--stats-push",
            &format!("statsd:127.0.0.1:{},app", statsd.port),
            "--stats-push",
            &format!("socket:127.0.0.1:{}", sock.port),
            "--stats-push",
            &format!("zabbix:127.0.0.1:{},zbx", zbx.port),
            "--stats-pusher-default-freq",
            "2",
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    let gap = Duration::from_millis(500);
    let n_pushes = || statsd.pushes(gap).len();
    wait_for(Duration::from_secs(20), "two statsd pushes", || {
        n_pushes() >= 2
    });
    // right after a push, 5 requests: the next push counts exactly those 5
    let before = n_pushes();
    wait_for(Duration::from_secs(10), "a new push", || {
        n_pushes() > before
    });
    thread_sleep_ms(600); // let that push finish
    let k = 5;
    for _ in 0..k {
        assert_eq!(get(http, "/").status, 200);
    }
    let burst_after = n_pushes();
    wait_for(Duration::from_secs(10), "the push after the burst", || {
        n_pushes() > burst_after + 1
    });
    let pushes = statsd.pushes(gap);
    let after = statsd_map(&pushes[burst_after]);
    assert_eq!(
        after["app.worker.0.requests"],
        (k, "c".to_string()),
        "the push after {k} requests: {:?}",
        pushes[burst_after]
    );
    let quiet = statsd_map(&pushes[burst_after + 1]);
    assert_eq!(quiet["app.worker.0.requests"], (0, "c".to_string()));
    // the deltas add up to the total the stats server reports
    let total = total_requests(st) as i64;
    let sum: i64 = pushes
        .iter()
        .map(|p| {
            statsd_map(p)
                .get("app.worker.0.requests")
                .map_or(0, |v| v.0)
        })
        .sum();
    assert_eq!(sum, total);
    // types: gauges for sizes and worker counts, counters for cumulative values
    for (name, ty) in [
        ("app.core.busy_workers", "g"),
        ("app.core.idle_workers", "g"),
        ("app.worker.1.avg_response_time", "g"),
        ("app.worker.2.rss_size", "g"),
        ("app.worker.1.delta_requests", "g"),
        ("app.rss_size", "g"),
        ("app.socket.0.listen_queue", "g"),
        ("app.worker.1.total_tx", "c"),
        ("app.worker.1.core.0.requests", "c"),
        ("app.core.total_tx", "c"),
    ] {
        assert_eq!(after.get(name).map(|v| v.1.as_str()), Some(ty), "{name}");
    }
    assert_eq!(quiet["app.core.idle_workers"].0, 2);

    // socket pusher: `PREFIX.NAME TYPE VALUE`, absolute values
    let d = sock.datagrams();
    assert!(
        d.iter()
            .any(|x| x.starts_with("uwsgi.worker.0.requests 0 ")),
        "{d:?}"
    );
    assert!(
        d.contains(&format!("uwsgi.worker.0.requests 0 {total}")),
        "{d:?}"
    );
    assert!(d.contains(&"uwsgi.core.idle_workers 1 2".to_string()));

    // zabbix: sender requests with the host name and PREFIX.NAME keys
    let reqs = zbx.requests();
    assert!(!reqs.is_empty());
    let last = reqs.last().unwrap();
    assert_eq!(last["request"], "sender data");
    let item = last["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "zbx.worker.0.requests")
        .expect("zbx.worker.0.requests");
    assert_eq!(item["host"], hostname().as_str());
    assert!(item["value"].is_string());
}

fn thread_sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn statsd_all_gauges_and_no_workers() {
    let statsd = UdpReceiver::start();
    let server = push_server()
        .args([
            "--stats-push",
            &format!("statsd:127.0.0.1:{}", statsd.port),
            "--statsd-all-gauges",
            "--statsd-no-workers",
            "--stats-pusher-default-freq",
            "1",
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    for _ in 0..3 {
        get(http, "/");
    }
    let total = total_requests(st);
    wait_for(Duration::from_secs(10), "a push with the total", || {
        statsd.datagrams().contains(&format!(
            "uwsgi.core.total_tx:{}|g",
            sum_workers(&stats(st), "tx")
        ))
    });
    let d = statsd.datagrams();
    assert!(d.iter().all(|x| x.ends_with("|g")), "{d:?}");
    assert!(!d.iter().any(|x| x.starts_with("uwsgi.worker.")), "{d:?}");
    assert!(total >= 3);
}

#[test]
fn file_pusher_appends_documents_that_parse_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.log");
    let server = push_server()
        .args([
            "--stats-push",
            &format!("file:path={},freq=1", path.display()),
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    for _ in 0..4 {
        get(http, "/");
    }
    let total = total_requests(st);
    let text = wait_file(&path, Duration::from_secs(15), |t| {
        t.matches("\n\n").count() >= 2
            && t.split("\n\n").any(|d| {
                serde_json::from_str::<serde_json::Value>(d)
                    .is_ok_and(|v| sum_workers(&v, "requests") == total)
            })
    });
    assert!(text.ends_with("\n\n"));
    let docs: Vec<&str> = text.split("\n\n").filter(|d| !d.is_empty()).collect();
    assert!(docs.len() >= 2, "{text}");
    for d in &docs {
        assert!(!d.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(d).expect("a document on its own");
        assert_eq!(v["workers"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["sockets"][0]["name"], format!("127.0.0.1:{http}"));
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o640, 0, "0640 at most (umask applies): {mode:o}");
}

/// Creates the file that ends `stats_app`'s `/slow` request when dropped (also on a failed
/// assertion, so the server stops promptly).
struct Release(std::path::PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, b"go");
    }
}

/// The master's own counters reach the pusher process: with the only worker stuck in a slow
/// request and its listen queue overflowing, `listen_queue_errors` in the file pusher's
/// documents (and `core.overloaded` of the socket pusher) rises along with the live stats.
#[test]
fn pushed_listen_queue_errors_follow_the_live_stats() {
    let dir = tempfile::tempdir().unwrap();
    let chdir = dir.path().canonicalize().unwrap();
    let path = chdir.join("stats.log");
    let udp = UdpReceiver::start();
    let server = Rwsgi::new()
        .http()
        .stats()
        .args([
            "--pythonpath",
            &apps_dir().display().to_string(),
            "--module",
            "stats_app",
            "--chdir",
            &chdir.display().to_string(),
            "--master",
            "--processes",
            "1",
            "--listen",
            "2",
            "--stats-push",
            &format!("file:path={},freq=1", path.display()),
            "--stats-push",
            &format!("socket:127.0.0.1:{}", udp.port),
            "--stats-pusher-default-freq",
            "1",
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 1);
    let release = Release(chdir.join("stats-release"));

    // The only worker (one core) is held in /slow, so nothing accepts any more.
    let slow = std::thread::spawn(move || try_http(http, "GET", "/slow", &[], b""));
    wait_for(Duration::from_secs(20), "the worker busy in /slow", || {
        stats(st)["workers"][0]["status"] == "busy"
    });
    // Fill the accept queue (backlog 2): once it is full the kernel drops further SYNs, so
    // later connects time out; the accepted ones are kept open until the end.
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], http).into();
    let queued: Vec<std::net::TcpStream> = (0..8)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()
        })
        .collect();
    assert!(queued.len() >= 2, "{} connections queued", queued.len());

    let live_errors = || stats(st)["listen_queue_errors"].as_u64().unwrap();
    wait_for(
        Duration::from_secs(20),
        "the master counting a full listen queue",
        || live_errors() > 0,
    );
    let seen_live = live_errors();
    let pushed_errors = |text: &str| -> Vec<u64> {
        text.split("\n\n")
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| v["listen_queue_errors"].as_u64())
            .collect()
    };
    let pushed_now = || pushed_errors(&std::fs::read_to_string(&path).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pushed_now().iter().any(|&n| n >= seen_live) {
        assert!(
            Instant::now() < deadline,
            "no pushed document caught up with the live listen_queue_errors {seen_live}: {:?}",
            pushed_now()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pushed = pushed_now();
    let newest = *pushed.last().unwrap();
    assert!(
        newest >= seen_live && newest <= live_errors(),
        "pushed {pushed:?}, live {seen_live} then {}",
        live_errors()
    );
    assert!(
        pushed.windows(2).all(|w| w[0] <= w[1]),
        "a counter never goes down: {pushed:?}"
    );
    let overloaded = || -> Vec<u64> {
        udp.datagrams()
            .iter()
            .filter_map(|d| d.strip_prefix("uwsgi.core.overloaded 0 "))
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    wait_for(
        Duration::from_secs(20),
        "core.overloaded following listen_queue_errors",
        || overloaded().iter().any(|&n| n >= seen_live),
    );

    drop(release);
    drop(queued);
    let r = slow.join().unwrap().expect("the /slow request");
    assert_eq!(r.status, 200);
}

#[test]
fn carbon_lines_land_in_whisper_and_a_final_push_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let cc = CarbonCache::start(dir.path());
    let mut server = push_server()
        .args([
            "--carbon",
            &format!("127.0.0.1:{}", cc.port),
            "--carbon-freq",
            "60",
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    // uWSGI's default id: the first socket's name with dots replaced
    let base = format!("uwsgi.{}.127_0_0_1:{http}", hostname());
    let requests = format!("{base}.requests");
    wait_for(Duration::from_secs(20), "the first carbon push", || {
        !cc.fetch(&requests).is_empty()
    });
    for _ in 0..4 {
        get(http, "/");
    }
    let total = total_requests(st);
    assert!(total >= 4);
    // carbon-freq 60: only the push made while stopping can carry these requests
    std::thread::sleep(Duration::from_millis(1100));
    server.signal(libc::SIGTERM);
    assert_eq!(
        server.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        server.log()
    );
    wait_for(Duration::from_secs(20), "the final push in whisper", || {
        cc.fetch(&requests).last().map(|p| p.1) == Some(total as f64)
    });
    let names = cc.metrics();
    for m in [
        "worker1.requests",
        "worker2.requests",
        "worker1.avg_rt",
        "worker1.tx",
        "worker1.busyness",
        "worker1.harakiri",
        "avg_rt",
        "tx",
        "busyness",
        "active_workers",
        "harakiri",
    ] {
        assert!(
            names.contains(&format!("{base}.{m}")),
            "{base}.{m} not in {names:?}"
        );
    }
    assert_eq!(
        cc.fetch(&format!("{base}.active_workers"))
            .last()
            .map(|p| p.1),
        Some(2.0)
    );
}

#[test]
fn carbon_root_id_and_no_workers() {
    let dir = tempfile::tempdir().unwrap();
    let cc = CarbonCache::start(dir.path());
    let server = push_server()
        .args([
            "--carbon",
            &format!("127.0.0.1:{}", cc.port),
            "--carbon-freq",
            "1",
            "--carbon-root",
            "apps",
            "--carbon-id",
            "web",
            "--carbon-no-workers",
        ])
        .start();
    let http = server.ports.http;
    server.wait_http_ready(http, 2);
    let base = format!("apps.{}.web", hostname());
    wait_for(Duration::from_secs(20), "carbon pushes", || {
        !cc.fetch(&format!("{base}.tx")).is_empty()
    });
    let names = cc.metrics();
    assert!(names.contains(&format!("{base}.requests")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(".worker")), "{names:?}");
}

#[test]
fn mongodb_outages_lose_nothing_and_are_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let started = Instant::now();
    // the server is down at start
    let server = push_server()
        .args([
            "--stats-push",
            &format!("mongodb:addr=127.0.0.1:{port},collection=rw.stats,freq=1"),
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    server.wait_log(Duration::from_secs(20), |l| l.contains("push failed"));
    std::thread::sleep(Duration::from_secs(2));
    let mut mongo = MongoServer::start_on(dir.path(), port);
    server.wait_log(Duration::from_secs(40), |l| l.contains("recovered"));
    wait_for(Duration::from_secs(20), "documents in rw.stats", || {
        mongo.find("rw", "stats").len() >= 3
    });
    // down again, then up again
    mongo.stop();
    server.wait_log(Duration::from_secs(30), |l| {
        l.matches("push failed").count() >= 2
    });
    get(http, "/");
    let total = total_requests(st);
    std::thread::sleep(Duration::from_secs(2));
    let mongo = MongoServer::start_on(dir.path(), port);
    server.wait_log(Duration::from_secs(40), |l| {
        l.matches("recovered").count() >= 2
    });
    wait_for(
        Duration::from_secs(20),
        "a document with the new total",
        || {
            mongo
                .find("rw", "stats")
                .iter()
                .any(|d| sum_workers(d, "requests") == total)
        },
    );
    let log = server.log();
    // one line per outage and one per recovery, not one per retry
    assert_eq!(log.matches("push failed").count(), 2, "{log}");
    assert_eq!(log.matches("recovered").count(), 2, "{log}");
    let docs = mongo.find("rw", "stats");
    let d = &docs[0];
    assert_eq!(d["workers"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["sockets"][0]["name"], format!("127.0.0.1:{http}"));
    assert!(d["version"].is_string() && d["locks"].is_array());
    // a snapshot every second since the pusher started, the outages' ones buffered and
    // inserted on recovery: about one document per second of the whole run
    let secs = started.elapsed().as_secs();
    assert!(
        docs.len() as u64 + 5 >= secs,
        "{} documents for {secs} s",
        docs.len()
    );
}

#[test]
fn bad_pusher_options_stop_start_up_naming_them() {
    for (opt, val, needle) in [
        ("--stats-push", "graphite:127.0.0.1:2003", "graphite"),
        (
            "--stats-push",
            "file:path=/tmp/x,freq=soon",
            "file:path=/tmp/x,freq=soon",
        ),
        ("--stats-push", "statsd:127.0.0.1", "statsd:127.0.0.1"),
        (
            "--carbon",
            "graphite-without-port",
            "carbon:graphite-without-port",
        ),
    ] {
        let (code, log) = push_server()
            .args([opt, val])
            .run_to_exit(Duration::from_secs(20));
        assert!(
            matches!(code, Some(c) if c != 0),
            "{opt} {val}: {code:?} {log}"
        );
        assert!(log.contains(needle), "{opt} {val}: {log}");
    }
}

/// The pids in the master's "spawned the stats pusher process (pid: N)" lines, in order.
fn pusher_pids(log: &str) -> Vec<i32> {
    log.lines()
        .filter_map(|l| l.split("spawned the stats pusher process (pid: ").nth(1))
        .filter_map(|rest| rest.split(')').next()?.parse().ok())
        .collect()
}

/// The `app.worker.0.requests` counter (every worker's requests) of one statsd push.
fn pushed_requests(push: &[String]) -> i64 {
    match statsd_map(push).get("app.worker.0.requests") {
        Some((v, ty)) if ty == "c" => *v,
        _ => 0,
    }
}

#[test]
fn a_respawned_statsd_pusher_goes_on_with_deltas() {
    let statsd = UdpReceiver::start();
    let server = push_server()
        .args([
            "--stats-push",
            &format!("statsd:127.0.0.1:{},app", statsd.port),
            "--stats-pusher-default-freq",
            "1",
        ])
        .start();
    let (http, st) = (server.ports.http, server.ports.stats);
    server.wait_http_ready(http, 2);
    for _ in 0..7 {
        assert_eq!(get(http, "/").status, 200);
    }
    // (the readiness probe counts too)
    let served = total_requests(st) as i64;
    // A push that carries every request served, then the pusher process dies.
    let gap = Duration::from_millis(300);
    let total_pushed = || {
        statsd
            .pushes(gap)
            .iter()
            .map(|p| pushed_requests(p))
            .sum::<i64>()
    };
    wait_for(Duration::from_secs(20), "a push with the requests", || {
        total_pushed() >= served
    });
    // The next push begun means the one with the requests was saved (one thread does both).
    let carried = statsd.pushes(gap).len();
    wait_for(Duration::from_secs(20), "the push after it", || {
        statsd.pushes(gap).len() > carried
    });
    let first = pusher_pids(&server.log());
    assert_eq!(first.len(), 1, "{}", server.log());
    kill(first[0], libc::SIGKILL);
    server.wait_log(Duration::from_secs(20), |l| pusher_pids(l).len() == 2);
    // Pushes from the new process: with no request in between, they carry no increment, so
    // every delta still adds up to what the server served.
    let respawned = statsd.pushes(gap).len();
    wait_for(
        Duration::from_secs(20),
        "two pushes after the respawn",
        || statsd.pushes(gap).len() >= respawned + 2,
    );
    let pushes = statsd.pushes(gap);
    assert_eq!(total_requests(st) as i64, served, "{}", server.log());
    assert_eq!(
        pushes.iter().map(|p| pushed_requests(p)).sum::<i64>(),
        served,
        "the deltas pushed ({:?}) add up to more than the requests served: the respawned \
         pusher re-sent the totals",
        pushes
            .iter()
            .map(|p| pushed_requests(p))
            .collect::<Vec<_>>()
    );
}
