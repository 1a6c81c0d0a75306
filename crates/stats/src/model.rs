//! The stats snapshot: one plain-data type every renderer (uWSGI JSON, Prometheus, `top`) uses.

use crate::scoreboard::{Scoreboard, WorkerStatus};

/// Everything the stats server reports, as uWSGI 2.0 structures it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub version: String,
    pub listen_queue: u64,
    pub listen_queue_errors: u64,
    pub signal_queue: u64,
    pub load: u64,
    pub pid: u64,
    pub uid: u64,
    pub gid: u64,
    pub cwd: String,
    /// Lock names; rendered as `{"<name>":0}` objects (rwsgi holds none of uWSGI's locks).
    pub locks: Vec<String>,
    pub sockets: Vec<SocketStats>,
    pub workers: Vec<WorkerStats>,
}

/// One listening socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    pub name: String,
    /// `"uwsgi"` or `"http"`.
    pub proto: String,
    /// Connections waiting in the accept queue.
    pub queue: u64,
    /// The listen backlog.
    pub max_queue: u64,
    pub shared: u64,
    pub can_offload: u64,
}

/// One worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub id: u64,
    pub pid: u64,
    pub accepting: u64,
    pub requests: u64,
    pub delta_requests: u64,
    pub exceptions: u64,
    pub harakiri_count: u64,
    pub signals: u64,
    pub signal_queue: u64,
    pub status: WorkerStatus,
    /// Bytes.
    pub rss: u64,
    /// Bytes.
    pub vsz: u64,
    /// Microseconds spent in requests.
    pub running_time: u64,
    /// Unix seconds.
    pub last_spawn: u64,
    pub respawn_count: u64,
    /// Bytes sent.
    pub tx: u64,
    /// Microseconds.
    pub avg_rt: u64,
    pub apps: Vec<AppStats>,
    /// Empty when the snapshot was taken without cores.
    pub cores: Vec<CoreStats>,
}

/// One app of one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppStats {
    pub id: u64,
    pub modifier1: u64,
    pub mountpoint: String,
    pub startup_time: u64,
    pub requests: u64,
    pub exceptions: u64,
    pub chdir: String,
}

/// One core (thread) of one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    pub id: u64,
    pub requests: u64,
    pub static_requests: u64,
    pub routed_requests: u64,
    pub offloaded_requests: u64,
    pub write_errors: u64,
    pub read_errors: u64,
    pub in_request: u64,
    /// `"KEY=VALUE"` of the request in flight (lossy UTF-8). The uWSGI renderer appends the
    /// trailing `""` uWSGI emits after a non-empty list.
    pub vars: Vec<String>,
    /// Unix seconds; `Some` only while in a request (rendered as `req_info.request_start`).
    pub request_start: Option<u64>,
}

/// Static per-app information only the master knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    pub modifier1: u64,
    pub mountpoint: String,
    /// Seconds it took to load the app (uWSGI reports 0 for a fast load).
    pub startup_time: u64,
    pub chdir: String,
}

/// What the master contributes to a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterInfo {
    pub version: String,
    pub pid: u64,
    pub uid: u64,
    pub gid: u64,
    pub cwd: String,
    pub listen_queue: u64,
    pub listen_queue_errors: u64,
    pub signal_queue: u64,
    pub load: u64,
    pub locks: Vec<String>,
    pub sockets: Vec<SocketStats>,
    /// Apps loaded in every worker (index = app id), at most `Layout::apps` are reported.
    pub apps: Vec<AppInfo>,
    /// Fill `cores` (with their request vars). `false` for `--stats-no-cores`, which also
    /// skips the seqlock copies.
    pub include_cores: bool,
}

/// The lock list uWSGI 2.0 registers by default, in its order.
pub const UWSGI_DEFAULT_LOCKS: [&str; 8] = [
    "user 0", "signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp",
];

/// [`UWSGI_DEFAULT_LOCKS`] as owned strings.
pub fn uwsgi_default_locks() -> Vec<String> {
    UWSGI_DEFAULT_LOCKS.iter().map(|s| s.to_string()).collect()
}

impl Default for MasterInfo {
    fn default() -> Self {
        MasterInfo {
            version: String::new(),
            pid: 0,
            uid: 0,
            gid: 0,
            cwd: String::new(),
            listen_queue: 0,
            listen_queue_errors: 0,
            signal_queue: 0,
            load: 0,
            locks: uwsgi_default_locks(),
            sockets: Vec::new(),
            apps: Vec::new(),
            include_cores: true,
        }
    }
}

fn push_lossy(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

impl Scoreboard {
    /// Read every slot (relaxed loads; request vars under the seqlock) and combine them with
    /// the master's own information.
    pub fn snapshot(&self, master: &MasterInfo) -> StatsSnapshot {
        let layout = *self.layout();
        let napps = master.apps.len().min(layout.apps);
        let mut workers = Vec::with_capacity(layout.workers);
        for wid in 1..=layout.workers {
            let c = self.worker(wid).counters();
            let status = self.status_from(wid, &c);
            let apps = master.apps[..napps]
                .iter()
                .enumerate()
                .map(|(j, info)| {
                    let (requests, exceptions) = self.app(wid, j).counters();
                    AppStats {
                        id: j as u64,
                        modifier1: info.modifier1,
                        mountpoint: info.mountpoint.clone(),
                        startup_time: info.startup_time,
                        requests,
                        exceptions,
                        chdir: info.chdir.clone(),
                    }
                })
                .collect();
            let cores = if master.include_cores {
                (0..layout.cores).map(|i| self.core_stats(wid, i)).collect()
            } else {
                Vec::new()
            };
            workers.push(WorkerStats {
                id: wid as u64,
                pid: c.pid,
                accepting: c.accepting,
                requests: c.requests,
                delta_requests: c.delta_requests,
                exceptions: c.exceptions,
                harakiri_count: c.harakiri_count,
                signals: c.signals,
                signal_queue: c.signal_queue,
                status,
                rss: c.rss,
                vsz: c.vsz,
                running_time: c.running_time,
                last_spawn: c.last_spawn,
                respawn_count: c.respawn_count,
                tx: c.tx,
                avg_rt: c.avg_rt,
                apps,
                cores,
            });
        }
        StatsSnapshot {
            version: master.version.clone(),
            listen_queue: master.listen_queue,
            listen_queue_errors: master.listen_queue_errors,
            signal_queue: master.signal_queue,
            load: master.load,
            pid: master.pid,
            uid: master.uid,
            gid: master.gid,
            cwd: master.cwd.clone(),
            locks: master.locks.clone(),
            sockets: master.sockets.clone(),
            workers,
        }
    }

    fn core_stats(&self, wid: usize, i: usize) -> CoreStats {
        let slot = self.core(wid, i);
        let k = slot.counters();
        let mut cs = CoreStats {
            id: i as u64,
            requests: k.requests,
            static_requests: k.static_requests,
            routed_requests: k.routed_requests,
            offloaded_requests: k.offloaded_requests,
            write_errors: k.write_errors,
            read_errors: k.read_errors,
            in_request: k.in_request,
            vars: Vec::new(),
            request_start: None,
        };
        if k.in_request == 0 {
            return cs;
        }
        match slot.read_request() {
            Some(r) if r.in_request => {
                cs.in_request = 1;
                cs.request_start = Some(r.request_start);
                cs.vars = r
                    .vars()
                    .map(|(key, val)| {
                        let mut s = String::with_capacity(key.len() + val.len() + 1);
                        push_lossy(&mut s, key);
                        s.push('=');
                        push_lossy(&mut s, val);
                        s
                    })
                    .collect();
            }
            // The request ended between the two reads.
            Some(_) => cs.in_request = 0,
            // No stable copy (writer too busy): report the request without vars.
            None => cs.request_start = Some(slot.request_start()),
        }
        cs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoreboard::Layout;

    #[test]
    fn snapshot_reads_slots() {
        let sb = Scoreboard::new(Layout {
            workers: 2,
            cores: 2,
            apps: 2,
        })
        .unwrap();
        sb.on_spawn_all(100);
        sb.worker(2).request_done(100, 50, true);
        sb.app(2, 0).request_begin();
        sb.app(2, 0).request_done(true);
        sb.core(2, 1)
            .begin_request(123, [(&b"PATH_INFO"[..], &b"/\xff"[..])]);
        let master = MasterInfo {
            version: "2.0.31".into(),
            apps: vec![AppInfo::default()],
            ..Default::default()
        };
        let s = sb.snapshot(&master);
        assert_eq!(s.workers.len(), 2);
        assert_eq!(s.locks.len(), 8);
        let w = &s.workers[1];
        assert_eq!(w.id, 2);
        assert_eq!(w.pid, 1002);
        assert_eq!(w.respawn_count, 1);
        assert_eq!(w.status, WorkerStatus::Busy);
        assert_eq!(s.workers[0].status, WorkerStatus::Idle);
        assert_eq!((w.requests, w.exceptions, w.tx, w.avg_rt), (1, 1, 50, 50));
        assert_eq!(w.apps.len(), 1, "only apps the master knows");
        assert_eq!((w.apps[0].requests, w.apps[0].exceptions), (1, 1));
        assert_eq!(w.cores.len(), 2);
        assert_eq!(w.cores[1].in_request, 1);
        assert_eq!(w.cores[1].request_start, Some(123));
        assert_eq!(w.cores[1].vars, vec!["PATH_INFO=/\u{fffd}".to_string()]);
        assert_eq!(w.cores[0].vars, Vec::<String>::new());
        assert_eq!(w.cores[0].request_start, None);

        let s = sb.snapshot(&MasterInfo {
            include_cores: false,
            ..master
        });
        assert!(s.workers.iter().all(|w| w.cores.is_empty()));
    }

    impl Scoreboard {
        fn on_spawn_all(&self, now: u64) {
            for wid in 1..=self.layout().workers {
                self.prepare_spawn(wid, now);
                self.worker(wid).set_pid(1000 + wid as u32);
            }
        }
    }
}
