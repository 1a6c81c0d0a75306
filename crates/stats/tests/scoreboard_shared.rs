//! The scoreboard across processes (fork) and under a concurrent writer (seqlock).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rwsgi_stats::WorkerId;
use rwsgi_stats::{Layout, Scoreboard, WorkerStatus};

/// Worker `n` (1-based).
fn wid(n: usize) -> WorkerId {
    WorkerId::new(n).expect("worker ids are 1-based")
}

/// A forked child writes its slots; the parent (the "master") sees them after the child exits,
/// and sees the in-flight request while the child is still inside it.
#[test]
fn forked_child_writes_parent_reads() {
    let sb = Scoreboard::new(Layout {
        workers: 2,
        cores: 2,
        apps: 1,
        sockets: 0,
        metrics: 0,
    })
    .unwrap();
    sb.prepare_spawn(wid(2), 1_700_000_000);
    // One socket pair: child -> parent "request started", parent -> child "go on".
    let (mut parent, mut child) = UnixStream::pair().expect("socketpair");
    // The child only does atomic stores, one-byte reads and writes on the socket pair and
    // _exit: no allocation, no locks, nothing that another (now missing) thread of the test
    // harness could hold (fork_plain's rule in a test).
    let pid = rwsgi_os::process::fork_plain().expect("fork");
    if pid == 0 {
        let w = sb.worker(wid(2));
        w.set_accepting(true);
        for i in 0..10u64 {
            sb.app(wid(2), 0).request_begin();
            let c = sb.core(wid(2), (i % 2) as usize);
            c.begin_request(1_700_000_001, [(&b"PATH_INFO"[..], &b"/x"[..])]);
            w.request_done(100 + i, 10, i == 3);
            sb.app(wid(2), 0).request_done(i == 3);
            c.end_request();
        }
        sb.core(wid(2), 1).begin_request(
            1_700_000_002,
            [
                (&b"REQUEST_METHOD"[..], &b"GET"[..]),
                (&b"HTTP_COOKIE"[..], &b"a=\"b\""[..]),
            ],
        );
        let mut b = [1u8];
        let talked = child.write(&b).is_ok() && child.read(&mut b).is_ok();
        sb.core(wid(2), 1).end_request();
        // Without running the harness' destructors.
        rwsgi_os::process::exit_now(if talked { 0 } else { 1 });
    }
    drop(child);
    sb.worker(wid(2)).set_pid(pid as u32);
    let mut b = [0u8];
    assert_eq!(parent.read(&mut b).expect("read from the child"), 1);

    // The child is inside a request on core 1.
    assert_eq!(sb.worker_status(wid(2)), WorkerStatus::Busy);
    let r = sb.core(wid(2), 1).read_request().unwrap();
    assert!(r.in_request);
    assert_eq!(r.request_start, 1_700_000_002);
    let vars: Vec<_> = r.vars().collect();
    assert_eq!(
        vars,
        vec![
            (&b"REQUEST_METHOD"[..], &b"GET"[..]),
            (&b"HTTP_COOKIE"[..], &b"a=\"b\""[..])
        ]
    );

    parent.write_all(&b).expect("write to the child");
    let status = rwsgi_os::process::wait_for(pid).expect("waitpid");
    assert_eq!(status.exit_status(), Some(0), "{status:?}");
    let c = sb.worker(wid(2)).stats(2);
    assert_eq!(c.pid, pid as u64);
    assert_eq!(c.requests, 10);
    assert_eq!(c.delta_requests, 10);
    assert_eq!(c.exceptions, 1);
    assert_eq!(c.tx, 100);
    assert_eq!(c.running_time, (100..110).sum::<u64>());
    assert_eq!(c.accepting, 1);
    assert_eq!(c.respawn_count, 1);
    assert_eq!(c.last_spawn, 1_700_000_000);
    assert_eq!(sb.core(wid(2), 0).requests(), 5);
    assert_eq!(sb.core(wid(2), 1).requests(), 6);
    let app = sb.app(wid(2), 0).stats(0);
    assert_eq!((app.requests, app.exceptions), (10, 1));
    assert_eq!(sb.worker(wid(1)).stats(1).requests, 0);
    assert_eq!(sb.worker_status(wid(2)), WorkerStatus::Idle);
    sb.on_exit(wid(2));
    assert_eq!(sb.worker(wid(2)).pid(), 0);
}

/// A writer thread keeps replacing the vars with internally consistent sets (back to back,
/// each request busy for 20 µs); the reader must never see a torn mix.
#[test]
fn seqlock_copies_are_consistent_under_a_concurrent_writer() {
    let sb = Arc::new(
        Scoreboard::new(Layout {
            workers: 1,
            cores: 1,
            apps: 0,
            sockets: 0,
            metrics: 0,
        })
        .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let sb = sb.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = sb.core(wid(1), 0);
            let mut i: u64 = 0;
            let mut vals: Vec<Vec<u8>> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let digit = b'0' + (i % 10) as u8;
                // Different lengths each round so lengths and contents both must match.
                vals.clear();
                for j in 0..15 {
                    vals.push(vec![digit; 1 + (i as usize * 7 + j * 13) % 200]);
                }
                c.begin_request(i, vals.iter().map(|v| (&b"K"[..], &v[..])));
                // A request takes a moment between its start and end (the app runs): without
                // this, a reader on a loaded machine may never find the slot stable while busy.
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(20) {
                    std::hint::spin_loop();
                }
                if i % 3 == 0 {
                    c.end_request();
                }
            }
            i
        })
    };
    let c = sb.core(wid(1), 0);
    let deadline = Instant::now() + Duration::from_millis(700);
    let (mut stable, mut failed, mut busy_seen) = (0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        match c.read_request() {
            Some(r) => {
                stable += 1;
                if !r.in_request {
                    assert_eq!(r.vars().count(), 0);
                    continue;
                }
                busy_seen += 1;
                let i = r.request_start;
                let digit = b'0' + (i % 10) as u8;
                let vars: Vec<_> = r.vars().collect();
                assert_eq!(vars.len(), 15, "round {i}");
                for (j, (k, v)) in vars.iter().enumerate() {
                    assert_eq!(*k, b"K");
                    assert_eq!(
                        v.len(),
                        1 + (i as usize * 7 + j * 13) % 200,
                        "round {i} var {j}"
                    );
                    assert!(v.iter().all(|&b| b == digit), "torn read in round {i}");
                }
            }
            None => failed += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds > 100, "writer made {rounds} rounds");
    assert!(
        stable > 10 && busy_seen > 0,
        "stable {stable} busy {busy_seen} failed {failed}"
    );
    eprintln!("writer rounds {rounds}, stable reads {stable} (busy {busy_seen}), gave up {failed}");
}

/// Several core threads of one worker updating the shared worker counters.
#[test]
fn worker_counters_from_many_core_threads() {
    let sb = Arc::new(
        Scoreboard::new(Layout {
            workers: 1,
            cores: 4,
            apps: 1,
            sockets: 0,
            metrics: 0,
        })
        .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|core| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    let c = sb.core(wid(1), core);
                    c.begin_request(1, [(&b"A"[..], &b"B"[..])]);
                    sb.app(wid(1), 0).request_begin();
                    sb.worker(wid(1)).request_done(10, 3, false);
                    sb.app(wid(1), 0).request_done(false);
                    c.end_request();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let c = sb.worker(wid(1)).stats(1);
    assert_eq!(c.requests, 40_000);
    assert_eq!(c.tx, 120_000);
    assert_eq!(c.running_time, 400_000);
    assert_eq!(c.avg_rt, 9, "(avg + 10) / 2 converges to 9 in integers");
    let app = sb.app(wid(1), 0).stats(0);
    assert_eq!((app.requests, app.exceptions), (40_000, 0));
    assert!((0..4).all(|i| sb.core(wid(1), i).requests() == 10_000));
}
