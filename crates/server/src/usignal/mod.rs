//! uWSGI's signal framework (`uwsgi.register_signal`, `uwsgi.signal`, timers, cron, file
//! monitors), as apps use it.
//!
//! * Channels: before anything forks, the master makes a `SOCK_SEQPACKET` pair per worker and
//!   one for the pool ("the first free worker": every worker reads it, one takes each
//!   signal). A signal to a worker is one byte; what a worker asks of the master (raise a
//!   signal, register a target, add a timer, a cron entry, a file monitor) is one message the
//!   other way ([`wire`]). The kernel's socket buffer bounds each queue (`--signal-bufsize`):
//!   when it is full the master drops the signal, logs and counts it (uWSGI's
//!   `core.unrouted_signals`), and never blocks.
//! * The master ([`Hub`]) keeps where each signal goes ([`target`]), the timers ([`timer`]),
//!   the cron entries ([`crate::cron`], checked on its loop's passes) and an inotify watcher, and
//!   routes. What the master's own Python registers while the app loads is kept in a list
//!   the hub takes once its loop exists.
//! * A worker's cores watch its channel and the pool in their epoll loops (no cost per
//!   request); the core that reads a signal runs the Python handler with the GIL, between
//!   requests, and counts it in the scoreboard (`signals`).

pub(crate) mod target;
pub(crate) mod timer;
pub(crate) mod wire;

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi_os::poller::{Poller, READ};
use rwsgi_os::sigchan;
use rwsgi_os::watch::FileWatcher;
use rwsgi_stats::scoreboard::Scoreboard;
use rwsgi_stats::WorkerId;
use rwsgi_wsgi::uwsgi_module::{SignalBackend, SignalRequest};

use crate::cron::CronEntry;
use rwsgi_config::CronSpec;
use target::Target;
use timer::Timer;
use wire::Msg;

/// The master's epoll token of worker `i`'s channel is `TOKEN_CHANNELS + i` (between the
/// master FIFO's token and cheap mode's wake tokens).
pub(crate) const TOKEN_CHANNELS: u64 = 1 << 44;
/// The master's epoll token of the file monitors' inotify descriptor.
pub(crate) const TOKEN_FILEMON: u64 = TOKEN_CHANNELS - 1;
/// uWSGI's limits on timers, rb timers, cron entries and file monitors.
const MAX_EACH: usize = 64;

/// One socket pair: the master's end and the worker's (or every worker's, for the pool).
#[derive(Debug)]
struct Pair {
    master: OwnedFd,
    worker: OwnedFd,
}

impl Pair {
    fn new(bufsize: usize) -> io::Result<Pair> {
        let (master, worker) = sigchan::message_pair(bufsize)?;
        Ok(Pair { master, worker })
    }
}

/// Every signal channel; made once by the master before any fork, and inherited.
#[derive(Debug)]
pub(crate) struct Channels {
    pool: Pair,
    workers: Vec<Pair>,
}

impl Channels {
    /// The channels of `workers` workers, each buffer `bufsize` bytes (0: the kernel's).
    pub(crate) fn new(workers: usize, bufsize: usize) -> io::Result<Channels> {
        Ok(Channels {
            pool: Pair::new(bufsize)?,
            workers: (0..workers)
                .map(|_| Pair::new(bufsize))
                .collect::<io::Result<_>>()?,
        })
    }

    /// Worker `wid`'s end of its own channel.
    pub(crate) fn worker_end(&self, wid: WorkerId) -> BorrowedFd<'_> {
        self.workers[wid.index()].worker.as_fd()
    }

    /// The workers' end of the pool.
    pub(crate) fn pool_end(&self) -> BorrowedFd<'_> {
        self.pool.worker.as_fd()
    }
}

/// What the master's own Python asked for while the app loaded.
type Pending = Arc<Mutex<Vec<Msg>>>;

/// The `uwsgi` module's side ([`SignalBackend`]): in a worker it writes to the worker's
/// channel; in the master it keeps the request for the hub.
pub(crate) struct Bridge {
    channels: Arc<Channels>,
    scoreboard: Arc<Scoreboard>,
    pending: Pending,
}

impl Bridge {
    /// The bridge, and the list of the master's requests the [`Hub`] takes.
    pub(crate) fn new(channels: Arc<Channels>, scoreboard: Arc<Scoreboard>) -> (Bridge, Pending) {
        let pending = Pending::default();
        (
            Bridge {
                channels,
                scoreboard,
                pending: pending.clone(),
            },
            pending,
        )
    }

    fn send(&self, wid: usize, msg: Msg) -> Result<(), String> {
        let Some(wid) = WorkerId::new(wid).filter(|w| w.index() < self.channels.workers.len())
        else {
            self.pending
                .lock()
                .map_err(|_| "the signal list is poisoned".to_string())?
                .push(msg);
            return Ok(());
        };
        let mut buf = Vec::with_capacity(16);
        wire::encode(&msg, &mut buf);
        match sigchan::send_message(self.channels.worker_end(wid), &buf) {
            Ok(true) => Ok(()),
            Ok(false) => Err("the master's signal queue is full".to_string()),
            Err(e) => Err(format!("cannot reach the master: {e}")),
        }
    }
}

impl SignalBackend for Bridge {
    fn register(&self, wid: usize, sig: u8, target: &str) -> Result<(), String> {
        let target =
            target::parse(target, self.channels.workers.len()).map_err(|e| e.to_string())?;
        self.send(wid, Msg::Register(sig, target))
    }

    fn request(&self, wid: usize, req: SignalRequest) -> Result<(), String> {
        if let SignalRequest::FileMonitor { path, .. } = &req {
            let len = path.as_os_str().len();
            if len == 0 || len > wire::MAX_PATH {
                return Err(format!(
                    "add_file_monitor: invalid filename length {len} (1-{})",
                    wire::MAX_PATH
                ));
            }
        }
        self.send(wid, Msg::Request(req))
    }

    fn wait(&self, wid: usize) -> Option<u8> {
        let wid = WorkerId::new(wid).filter(|w| w.index() < self.channels.workers.len())?;
        let fds = [self.channels.worker_end(wid), self.channels.pool_end()];
        loop {
            let ready = sigchan::wait_readable(&fds, None).ok()??;
            let mut b = [0u8; 1];
            match sigchan::recv_message(fds[ready], &mut b) {
                Ok(Some(1)) => return Some(b[0]),
                // Another core or worker took it first.
                Ok(None) => continue,
                _ => return None,
            }
        }
    }

    fn handled(&self, wid: usize) {
        if let Some(wid) =
            WorkerId::new(wid).filter(|w| w.get() <= self.scoreboard.layout().workers)
        {
            self.scoreboard.worker(wid).add_signal();
        }
    }

    fn set_user_harakiri(&self, wid: usize, core: usize, deadline: u64) {
        let layout = self.scoreboard.layout();
        if let Some(wid) = WorkerId::new(wid).filter(|w| w.get() <= layout.workers) {
            if core < layout.cores {
                self.scoreboard.core(wid, core).set_user_harakiri(deadline);
            }
        }
    }
}

/// Reads one signal from `fd` (a worker's channel or the pool): `Some(sig)`, or `None` when
/// another reader took it.
pub(crate) fn read_signal(fd: BorrowedFd<'_>) -> Option<u8> {
    let mut b = [0u8; 1];
    match sigchan::recv_message(fd, &mut b) {
        Ok(Some(1)) => Some(b[0]),
        _ => None,
    }
}

/// The master's side: the routing table, timers, cron, file monitors.
pub(crate) struct Hub {
    channels: Arc<Channels>,
    pending: Pending,
    /// Where each signal goes (unregistered: the pool, as uWSGI's empty target).
    table: Vec<Option<Target>>,
    timers: Vec<Timer>,
    rb_timers: usize,
    crons: Vec<CronEntry>,
    /// The Unix second the cron entries were last checked in.
    cron_checked: u64,
    watcher: Option<FileWatcher>,
    /// Watch descriptor → signal.
    monitors: Vec<(i32, u8)>,
    /// When a full queue was last logged (at most once a second: a flood must not flood the
    /// log too; every drop is counted).
    full_logged: std::cell::Cell<Option<Instant>>,
}

/// Who the master may deliver to right now (for `active-workers`).
pub(crate) struct Workers<'a> {
    pub scoreboard: &'a Scoreboard,
    /// Per worker (index = id - 1): running, not cheaped, not stopping.
    pub active: &'a [bool],
}

impl Hub {
    pub(crate) fn new(channels: Arc<Channels>, pending: Pending) -> Hub {
        Hub {
            channels,
            pending,
            table: vec![None; 256],
            timers: Vec::new(),
            rb_timers: 0,
            crons: Vec::new(),
            cron_checked: 0,
            watcher: None,
            monitors: Vec::new(),
            full_logged: std::cell::Cell::new(None),
        }
    }

    /// The channels, for the workers the master forks.
    pub(crate) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Watches every worker's channel in the master's loop.
    pub(crate) fn register(&self, poller: &Poller) -> io::Result<()> {
        for (i, pair) in self.channels.workers.iter().enumerate() {
            poller.add(&pair.master, TOKEN_CHANNELS + i as u64, READ)?;
        }
        Ok(())
    }

    /// True for the tokens [`on_event`](Self::on_event) handles.
    pub(crate) fn owns(&self, token: u64) -> bool {
        token == TOKEN_FILEMON
            || (TOKEN_CHANNELS..TOKEN_CHANNELS + self.channels.workers.len() as u64)
                .contains(&token)
    }

    /// Carries out what the master's own Python asked for (at app load).
    pub(crate) fn take_pending(&mut self, poller: &Poller, w: &Workers<'_>) {
        let msgs = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        for msg in msgs {
            self.apply(None, msg, poller, w);
        }
    }

    /// A worker's channel or the inotify descriptor is readable.
    pub(crate) fn on_event(&mut self, token: u64, poller: &Poller, w: &Workers<'_>) {
        if token == TOKEN_FILEMON {
            self.on_file_events(w);
            return;
        }
        let idx = (token - TOKEN_CHANNELS) as usize;
        let wid = WorkerId::from_index(idx);
        let mut buf = [0u8; wire::MAX_MESSAGE];
        // A bounded batch: the loop comes back while more is queued (level-triggered).
        for _ in 0..64 {
            let n = match sigchan::recv_message(&self.channels.workers[idx].master, &mut buf) {
                Ok(Some(n)) if n > 0 => n,
                _ => return,
            };
            match wire::decode(&buf[..n], self.channels.workers.len()) {
                Ok(msg) => self.apply(Some(wid), msg, poller, w),
                Err(e) => eprintln!("[uwsgi-signal] worker {wid}: {e}"),
            }
        }
    }

    fn apply(&mut self, from: Option<WorkerId>, msg: Msg, poller: &Poller, w: &Workers<'_>) {
        match msg {
            Msg::Register(sig, target) => self.table[sig as usize] = Some(target),
            Msg::Request(SignalRequest::Raise(sig)) => self.route(sig, w),
            Msg::Request(SignalRequest::Timer {
                sig,
                millis,
                iterations,
            }) => {
                let rb = iterations > 0;
                let (count, kind) = if rb {
                    (self.rb_timers, "rb_timers")
                } else {
                    (self.timers.len() - self.rb_timers, "timers")
                };
                if count >= MAX_EACH {
                    eprintln!("you can register max {MAX_EACH} {kind} !!!");
                    return;
                }
                self.rb_timers += rb as usize;
                let every = Duration::from_millis(millis.max(1) as u64);
                self.timers
                    .push(Timer::new(sig, every, iterations, Instant::now()));
                eprintln!("[uwsgi-signal] timer {sig} every {millis} ms registered");
            }
            Msg::Request(SignalRequest::Cron { sig, spec }) => {
                if self.crons.len() >= MAX_EACH {
                    eprintln!("you can register max {MAX_EACH} cron !!!");
                    return;
                }
                let [minute, hour, day, month, week] = spec;
                self.crons.push(CronEntry::new(
                    sig,
                    CronSpec {
                        minute,
                        hour,
                        day,
                        month,
                        week,
                    },
                ));
            }
            Msg::Request(SignalRequest::FileMonitor { sig, path }) => {
                if self.monitors.len() >= MAX_EACH {
                    eprintln!("you can register max {MAX_EACH} file monitors !!!");
                    return;
                }
                if let Err(e) = self.watch(sig, &path, poller) {
                    let who = from.map_or("the master".to_string(), |w| format!("worker {w}"));
                    eprintln!(
                        "[uwsgi-signal] unable to monitor {} for {who}: {e}",
                        path.display()
                    );
                }
            }
        }
    }

    fn watch(&mut self, sig: u8, path: &std::path::Path, poller: &Poller) -> io::Result<()> {
        if self.watcher.is_none() {
            let watcher = FileWatcher::new()?;
            poller.add(&watcher, TOKEN_FILEMON, READ)?;
            self.watcher = Some(watcher);
        }
        if let Some(watcher) = &self.watcher {
            let wd = watcher.watch(path)?;
            self.monitors.push((wd, sig));
            eprintln!(
                "[uwsgi-signal] file monitor {} for signal {sig} registered",
                path.display()
            );
        }
        Ok(())
    }

    /// One signal per monitor per batch of events (an editor's save is several events).
    fn on_file_events(&mut self, w: &Workers<'_>) {
        let Some(watcher) = &self.watcher else {
            return;
        };
        let mut wds = BTreeSet::new();
        watcher.drain(|wd, _| {
            wds.insert(wd);
        });
        let sigs: BTreeSet<u8> = self
            .monitors
            .iter()
            .filter(|(wd, _)| wds.contains(wd))
            .map(|&(_, sig)| sig)
            .collect();
        for sig in sigs {
            self.route(sig, w);
        }
    }

    /// Fires the due timers and, once per second, checks the cron entries.
    pub(crate) fn tick(&mut self, now: Instant, unix_now: u64, w: &Workers<'_>) {
        let mut due = Vec::new();
        for t in &mut self.timers {
            if t.fire(now) {
                due.push(t.sig);
            }
        }
        if self.timers.iter().any(|t| !t.live()) {
            self.timers.retain(Timer::live);
        }
        if !self.crons.is_empty() && unix_now != self.cron_checked {
            self.cron_checked = unix_now;
            let tm = rwsgi_os::time::local_tm(unix_now);
            for c in &mut self.crons {
                if c.due(unix_now, &tm) {
                    eprintln!("[uwsgi-cron] routing signal {}", c.sig);
                    due.push(c.sig);
                }
            }
        }
        for sig in due {
            self.route(sig, w);
        }
    }

    /// When the next timer is due (the master's loop may sleep until then).
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers.iter().map(Timer::next).min()
    }

    /// Delivers `sig` to its target's queues.
    fn route(&self, sig: u8, w: &Workers<'_>) {
        let target = self.table[sig as usize].unwrap_or(Target::Pool);
        let n = self.channels.workers.len();
        match target {
            Target::Pool => self.deliver(sig, &self.channels.pool.master, "the workers pool", w),
            Target::Worker(wid) => self.deliver_to(sig, wid, w),
            Target::Workers => {
                for wid in WorkerId::all(n) {
                    self.deliver_to(sig, wid, w);
                }
            }
            Target::ActiveWorkers => {
                for wid in WorkerId::all(n) {
                    if w.active.get(wid.index()).copied().unwrap_or(false) {
                        self.deliver_to(sig, wid, w);
                    }
                }
            }
        }
    }

    fn deliver_to(&self, sig: u8, wid: WorkerId, w: &Workers<'_>) {
        if let Some(pair) = self.channels.workers.get(wid.index()) {
            self.deliver(sig, &pair.master, &format!("worker {wid}"), w);
        }
    }

    fn deliver(&self, sig: u8, fd: &OwnedFd, to: &str, w: &Workers<'_>) {
        let delivered = match sigchan::send_message(fd, &[sig]) {
            Ok(true) => true,
            Ok(false) => {
                let now = Instant::now();
                if self
                    .full_logged
                    .get()
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                {
                    self.full_logged.set(Some(now));
                    eprintln!(
                        "*** SIGNAL QUEUE IS FULL (you can tune it with --signal-bufsize) ***"
                    );
                    eprintln!("could not deliver signal {sig} to {to}");
                }
                false
            }
            Err(e) => {
                eprintln!("could not deliver signal {sig} to {to}: {e}");
                false
            }
        };
        w.scoreboard.master().count_signal(delivered);
    }

    /// Publishes each queue's depth (the stats' `signal_queue`).
    pub(crate) fn refresh_queues(&self, scoreboard: &Scoreboard) {
        let depth = |fd: &OwnedFd| sigchan::queued_bytes(fd).unwrap_or(0);
        scoreboard
            .master()
            .set_signal_queue(depth(&self.channels.pool.worker));
        for (i, pair) in self.channels.workers.iter().enumerate() {
            scoreboard
                .worker(WorkerId::from_index(i))
                .set_signal_queue(depth(&pair.worker));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_stats::model::MasterInfo;
    use rwsgi_stats::scoreboard::Layout;

    fn setup(bufsize: usize) -> (Hub, Bridge, Arc<Scoreboard>, Poller) {
        let sb = Arc::new(
            Scoreboard::new(Layout {
                workers: 2,
                cores: 1,
                apps: 1,
                sockets: 0,
                metrics: 0,
            })
            .unwrap(),
        );
        let channels = Arc::new(Channels::new(2, bufsize).unwrap());
        let (bridge, pending) = Bridge::new(channels.clone(), sb.clone());
        (
            Hub::new(channels, pending),
            bridge,
            sb,
            Poller::new().unwrap(),
        )
    }

    /// Every signal queued on `fd`.
    fn queued(fd: BorrowedFd<'_>) -> Vec<u8> {
        std::iter::from_fn(|| read_signal(fd)).collect()
    }

    fn w(n: usize) -> WorkerId {
        WorkerId::new(n).unwrap()
    }

    #[test]
    fn each_target_reaches_its_queues() {
        let (mut hub, bridge, sb, poller) = setup(0);
        let ws = Workers {
            scoreboard: &sb,
            active: &[false, true],
        };
        // The master's registrations wait for the hub.
        bridge.register(0, 1, "workers").unwrap();
        bridge.register(0, 2, "worker2").unwrap();
        bridge.register(0, 3, "active-workers").unwrap();
        bridge.register(0, 4, "").unwrap();
        assert!(bridge
            .register(0, 5, "spooler")
            .unwrap_err()
            .contains("spooler"));
        for sig in [1, 2, 3, 4, 9] {
            bridge.request(0, SignalRequest::Raise(sig)).unwrap();
        }
        hub.take_pending(&poller, &ws);
        let ch = hub.channels();
        hub.refresh_queues(&sb);
        assert_eq!(sb.worker(w(1)).stats(1).signal_queue, 1);
        assert_eq!(sb.worker(w(2)).stats(2).signal_queue, 3);
        assert_eq!(sb.master().signal_queue(), 2);
        assert_eq!(queued(ch.worker_end(w(1))), [1]);
        assert_eq!(queued(ch.worker_end(w(2))), [1, 2, 3]);
        // The default target, and an unregistered signal (uWSGI's empty target): the pool.
        assert_eq!(queued(ch.pool_end()), [4, 9]);
        assert_eq!(sb.snapshot(&MasterInfo::default()).routed_signals, 6);
    }

    #[test]
    fn a_workers_messages_register_raise_and_add_timers() {
        let (mut hub, bridge, sb, poller) = setup(0);
        let ws = Workers {
            scoreboard: &sb,
            active: &[true, true],
        };
        // From worker 1's process: over its channel.
        bridge.register(1, 7, "worker1").unwrap();
        bridge.request(1, SignalRequest::Raise(7)).unwrap();
        bridge
            .request(
                1,
                SignalRequest::Timer {
                    sig: 8,
                    millis: 1000,
                    iterations: 2,
                },
            )
            .unwrap();
        assert!(hub.owns(TOKEN_CHANNELS) && hub.owns(TOKEN_CHANNELS + 1));
        assert!(!hub.owns(TOKEN_CHANNELS + 2));
        hub.on_event(TOKEN_CHANNELS, &poller, &ws);
        let ch = hub.channels.clone();
        assert_eq!(queued(ch.worker_end(w(1))), [7]);
        let next = hub.next_timer().expect("a timer");
        let now = Instant::now();
        hub.tick(now, 0, &ws);
        assert!(queued(ch.pool_end()).is_empty());
        // Two iterations, then the timer is gone.
        hub.tick(next, 0, &ws);
        hub.tick(next + Duration::from_secs(1), 0, &ws);
        hub.tick(next + Duration::from_secs(2), 0, &ws);
        assert_eq!(queued(ch.pool_end()), [8, 8]);
        assert!(hub.next_timer().is_none());
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (mut hub, bridge, sb, poller) = setup(4096);
        let ws = Workers {
            scoreboard: &sb,
            active: &[true, true],
        };
        bridge.register(0, 1, "worker1").unwrap();
        hub.take_pending(&poller, &ws);
        for _ in 0..10_000 {
            hub.route(1, &ws);
        }
        let snap = sb.snapshot(&MasterInfo::default());
        assert!(snap.unrouted_signals > 0, "{snap:?}");
        assert_eq!(snap.routed_signals + snap.unrouted_signals, 10_000);
        let got = queued(hub.channels().worker_end(w(1))).len() as u64;
        assert_eq!(got, snap.routed_signals);
    }

    #[test]
    fn cron_entries_fire_once_a_minute_from_the_tick() {
        let (mut hub, bridge, sb, poller) = setup(0);
        let ws = Workers {
            scoreboard: &sb,
            active: &[true, true],
        };
        bridge
            .request(
                0,
                SignalRequest::Cron {
                    sig: 5,
                    spec: [-1; 5],
                },
            )
            .unwrap();
        hub.take_pending(&poller, &ws);
        let now = Instant::now();
        for t in 6_000..6_130 {
            hub.tick(now, t, &ws);
        }
        // 6000 is a minute boundary: 6000, 6060, 6120.
        assert_eq!(queued(hub.channels().pool_end()), [5, 5, 5]);
    }

    #[test]
    fn a_file_monitor_fires_once_per_batch_of_events() {
        let (mut hub, bridge, sb, poller) = setup(0);
        let ws = Workers {
            scoreboard: &sb,
            active: &[true, true],
        };
        let dir = std::env::temp_dir().join(format!("rwsgi-fmon-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"0").unwrap();
        bridge
            .request(
                0,
                SignalRequest::FileMonitor {
                    sig: 6,
                    path: file.clone(),
                },
            )
            .unwrap();
        hub.take_pending(&poller, &ws);
        std::fs::write(&file, b"1").unwrap();
        std::fs::write(&file, b"2").unwrap();
        hub.on_event(TOKEN_FILEMON, &poller, &ws);
        assert_eq!(queued(hub.channels().pool_end()), [6]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
