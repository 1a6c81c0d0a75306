//! Stats path benchmarks: snapshot + uWSGI JSON render and snapshot + Prometheus render for
//! 8/64/256 workers x 4 cores, and the per-request scoreboard hot path.

// criterion_group! generates the undocumented entry point.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rwsgi_stats::WorkerId;
use rwsgi_stats::{
    render_prometheus, render_uwsgi, AppInfo, Layout, MasterInfo, MetricsOptions, RenderOptions,
    Scoreboard, SocketInfo,
};

/// Worker `n` (1-based).
fn wid(n: usize) -> WorkerId {
    WorkerId::new(n).expect("worker ids are 1-based")
}

const VARS: [(&str, &str); 15] = [
    ("REQUEST_METHOD", "GET"),
    ("REQUEST_URI", "/api/v1/items?page=2&sort=desc"),
    ("PATH_INFO", "/api/v1/items"),
    ("QUERY_STRING", "page=2&sort=desc"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("SCRIPT_NAME", ""),
    ("SERVER_NAME", "vm"),
    ("SERVER_PORT", "9501"),
    ("REMOTE_ADDR", "127.0.0.1"),
    ("REMOTE_PORT", "51234"),
    ("HTTP_HOST", "localhost:9501"),
    (
        "HTTP_USER_AGENT",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    ),
    (
        "HTTP_ACCEPT",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("HTTP_ACCEPT_ENCODING", "gzip, deflate, br"),
    (
        "HTTP_COOKIE",
        "session=0123456789abcdef; csrftoken=\"quoted\\value\"",
    ),
];

fn vars() -> impl Iterator<Item = (&'static [u8], &'static [u8])> {
    VARS.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()))
}

fn populated(workers: usize) -> (Scoreboard, MasterInfo) {
    let sb = Scoreboard::new(Layout {
        workers,
        cores: 4,
        apps: 1,
        sockets: 2,
        metrics: 0,
    })
    .unwrap();
    for n in 1..=workers {
        let id = wid(n);
        sb.prepare_spawn(id, 1_795_554_402);
        sb.worker(id).set_pid(10_000 + n as u32);
        sb.worker(id).set_accepting(true);
        sb.worker(id).set_memory(11_661_312, 133_971_968);
        for i in 0..(n % 7 + 1) * 13 {
            let c = sb.core(id, i % 4);
            sb.app(id, 0).request_begin();
            c.begin_request(1_795_554_403, vars());
            sb.worker(id)
                .request_done(80 + i as u64, 1_200, i % 50 == 0);
            sb.app(id, 0).request_done(false);
            sb.responses(id, i % 4)
                .record([200, 200, 200, 404, 500, 302][i % 6], 300);
            sb.try_latency(id, i % 4, 0)
                .unwrap()
                .observe(1_000 * (i as u64 % 40));
            c.end_request();
        }
        // A few cores busy, each with ~15 vars.
        if n % 3 == 0 {
            sb.core(id, n % 4).begin_request(1_795_554_404, vars());
        }
    }
    let master = MasterInfo {
        version: "2.0.31".into(),
        pid: 10_000,
        cwd: "/srv/app".into(),
        sockets: vec![
            SocketInfo {
                name: "127.0.0.1:9501".into(),
                proto: "http".into(),
                max_queue: 100,
            },
            SocketInfo {
                name: "/run/app.sock".into(),
                proto: "uwsgi".into(),
                max_queue: 100,
            },
        ],
        apps: vec![AppInfo::default()],
        ..Default::default()
    };
    (sb, master)
}

fn stats(c: &mut Criterion) {
    let mut g = c.benchmark_group("stats_snapshot_render");
    for workers in [8usize, 64, 256] {
        let (sb, master) = populated(workers);
        let mut out = Vec::new();
        render_uwsgi(&sb.snapshot(&master), RenderOptions::default(), &mut out);
        g.throughput(Throughput::Bytes(out.len() as u64));
        // What the stats socket serves: `snapshot_full` also reads the response and latency
        // slots for the `rwsgi` key.
        g.bench_with_input(BenchmarkId::new("indented", workers), &workers, |b, _| {
            b.iter(|| {
                out.clear();
                let snap = sb.snapshot_full(black_box(&master));
                render_uwsgi(&snap, RenderOptions::default(), &mut out);
                black_box(out.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("minified", workers), &workers, |b, _| {
            b.iter(|| {
                out.clear();
                let snap = sb.snapshot_full(black_box(&master));
                render_uwsgi(
                    &snap,
                    RenderOptions {
                        minified: true,
                        ..Default::default()
                    },
                    &mut out,
                );
                black_box(out.len())
            })
        });
        let snap = sb.snapshot(&master);
        g.bench_with_input(
            BenchmarkId::new("render_only", workers),
            &workers,
            |b, _| {
                b.iter(|| {
                    out.clear();
                    render_uwsgi(black_box(&snap), RenderOptions::default(), &mut out);
                    black_box(out.len())
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("prometheus", workers), &workers, |b, _| {
            b.iter(|| {
                out.clear();
                let snap = sb.snapshot_with_metrics(black_box(&master));
                render_prometheus(&snap, MetricsOptions::default(), &mut out);
                black_box(out.len())
            })
        });
        g.bench_with_input(
            BenchmarkId::new("snapshot_only", workers),
            &workers,
            |b, _| b.iter(|| black_box(sb.snapshot(black_box(&master)))),
        );
    }
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    let sb = Scoreboard::new(Layout {
        workers: 4,
        cores: 4,
        apps: 1,
        sockets: 0,
        metrics: 0,
    })
    .unwrap();
    let (w, core, app) = (sb.worker(wid(2)), sb.core(wid(2), 1), sb.app(wid(2), 0));
    let mut g = c.benchmark_group("request_hot_path");
    g.bench_function("begin15vars_done_end", |b| {
        b.iter(|| {
            core.begin_request(black_box(1_795_554_404), vars());
            app.request_begin();
            w.request_done(black_box(120), black_box(1_500), false);
            app.request_done(false);
            core.end_request();
        })
    });
    let (responses, latency) = (
        sb.responses(wid(2), 1),
        sb.try_latency(wid(2), 1, 0).unwrap(),
    );
    g.bench_function("begin15vars_done_end_with_metrics", |b| {
        b.iter(|| {
            core.begin_request(black_box(1_795_554_404), vars());
            app.request_begin();
            w.request_done(black_box(120), black_box(1_500), false);
            app.request_done(false);
            responses.record(black_box(200), black_box(300));
            latency.observe(black_box(120));
            core.end_request();
        })
    });
    g.bench_function("response_and_latency", |b| {
        b.iter(|| {
            responses.record(black_box(200), black_box(300));
            latency.observe(black_box(120));
        })
    });
    g.bench_function("begin_novars_done_end", |b| {
        b.iter(|| {
            core.begin_request(black_box(1_795_554_404), std::iter::empty());
            w.request_done(black_box(120), black_box(1_500), false);
            core.end_request();
        })
    });
    g.bench_function("worker_request_done", |b| {
        b.iter(|| w.request_done(black_box(120), black_box(1_500), false))
    });
    g.finish();
}

criterion_group!(benches, stats, hot_path);
criterion_main!(benches);
