//! The shared-memory scoreboard.
//!
//! The master creates one `MAP_SHARED | MAP_ANONYMOUS` mapping before it forks any worker, so
//! every worker process writes its own slots and the master reads all of them. The mapping holds
//! a versioned [`Header`] followed by three arrays of fixed-size `#[repr(C)]` slots made only of
//! atomics: one [`WorkerSlot`] per worker, one [`CoreSlot`] per (worker, core) and one
//! [`AppSlot`] per (worker, app).
//!
//! Ownership rules (nothing enforces them at run time; they keep every hot-path method a couple
//! of plain atomic operations):
//! * a [`CoreSlot`] is written by exactly one thread (the worker core that owns it) — its counters
//!   use load+store instead of locked read-modify-write and its request vars are published through
//!   a seqlock with that single writer;
//! * a [`WorkerSlot`] and its [`AppSlot`]s are written by the threads of one worker process
//!   (read-modify-writes are atomic, `fetch_add`), plus the master around spawn/exit;
//! * the master reads everything with relaxed loads (the JSON it builds is a statistic, not a
//!   consistent cut), except the request vars, which are copied under the seqlock.
//!
//! Layout growth: the header records magic, layout version and the size of each slot type, and
//! every slot type carries reserved words (the worker slot reserves [`WORKER_RESERVED_WORDS`] for
//! per-worker latency-histogram buckets). Adding a field means taking reserved words or bumping
//! [`LAYOUT_VERSION`]; master and workers are the same binary (fork, no exec), so the version is a
//! guard against mixing mappings, not a compatibility protocol.

use std::fmt;
use std::hint::spin_loop;
use std::mem::{align_of, size_of};
use std::sync::atomic::{fence, AtomicU64, Ordering};

use rwsgi_os::mm::SharedMapping;

use Ordering::{Acquire, Relaxed, Release};

/// `b"RWSGISB\0"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RWSGISB\0");
/// Bumped whenever a slot changes layout incompatibly.
pub const LAYOUT_VERSION: u32 = 1;
/// Bytes of request vars kept per core (longer environments are truncated).
pub const VARS_CAPACITY: usize = 4096;
const VARS_WORDS: usize = VARS_CAPACITY / 8;
/// Reserved u64 words at the end of each worker slot (room for latency histogram buckets).
pub const WORKER_RESERVED_WORDS: usize = 40;
/// Reserved u64 words in each core slot.
pub const CORE_RESERVED_WORDS: usize = 6;
/// Reserved u64 words in each app slot.
pub const APP_RESERVED_WORDS: usize = 6;
/// How many times a reader retries the seqlock before it reports an empty copy.
pub const SEQLOCK_MAX_RETRIES: usize = 64;
/// Upper bounds that keep the mapping size sane (uWSGI's own limits are in the same range).
pub const MAX_WORKERS: usize = 65_536;
/// See [`MAX_WORKERS`].
pub const MAX_CORES: usize = 65_536;
/// See [`MAX_WORKERS`].
pub const MAX_APPS: usize = 1_024;

/// Worker status flags (bits of `WorkerSlot::flags`).
const FLAG_BUSY: u64 = 1;
const FLAG_CHEAP: u64 = 1 << 1;
const FLAG_PAUSE: u64 = 1 << 2;
const FLAG_SIG: u64 = 1 << 3;

/// Shape of a scoreboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of worker processes (ids 1..=workers, like uWSGI).
    pub workers: usize,
    /// Cores (threads / async slots) per worker.
    pub cores: usize,
    /// Maximum number of apps per worker.
    pub apps: usize,
}

/// Errors creating or validating a scoreboard.
#[derive(Debug, thiserror::Error)]
pub enum ScoreboardError {
    /// The layout asks for zero workers/cores or exceeds a limit.
    #[error("invalid scoreboard layout {layout:?}: {reason}")]
    InvalidLayout {
        /// The rejected layout.
        layout: Layout,
        /// Why.
        reason: &'static str,
    },
    /// `mmap` failed.
    #[error("cannot map the scoreboard ({size} bytes): {source}")]
    Mmap {
        /// Requested size in bytes.
        size: usize,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The header does not describe this build's layout (wrong magic, version or slot sizes).
    #[error("scoreboard header mismatch: {0}")]
    BadHeader(&'static str),
}

/// The header at offset 0 of the mapping. Written once by the creator before any fork.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`LAYOUT_VERSION`].
    pub version: u32,
    /// `size_of::<Header>()`.
    pub header_size: u32,
    /// Number of workers.
    pub workers: u32,
    /// Cores per worker.
    pub cores: u32,
    /// Apps per worker.
    pub apps: u32,
    /// `size_of::<WorkerSlot>()`.
    pub worker_slot_size: u32,
    /// `size_of::<CoreSlot>()`.
    pub core_slot_size: u32,
    /// `size_of::<AppSlot>()`.
    pub app_slot_size: u32,
    /// Byte offset of the worker array.
    pub workers_offset: u64,
    /// Byte offset of the core array.
    pub cores_offset: u64,
    /// Byte offset of the app array.
    pub apps_offset: u64,
    /// Total mapping size.
    pub total_size: u64,
}

#[inline]
fn bump(a: &AtomicU64) {
    // Single-writer increment: a plain load and store, no locked instruction.
    a.store(a.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Per-worker counters. Field semantics follow uWSGI's `struct uwsgi_worker`.
#[repr(C, align(64))]
pub struct WorkerSlot {
    pid: AtomicU64,
    accepting: AtomicU64,
    requests: AtomicU64,
    delta_requests: AtomicU64,
    exceptions: AtomicU64,
    harakiri_count: AtomicU64,
    signals: AtomicU64,
    signal_queue: AtomicU64,
    flags: AtomicU64,
    signum: AtomicU64,
    rss: AtomicU64,
    vsz: AtomicU64,
    running_time: AtomicU64,
    last_spawn: AtomicU64,
    respawn_count: AtomicU64,
    tx: AtomicU64,
    avg_rt: AtomicU64,
    last_rt: AtomicU64,
    /// Room for a per-worker latency histogram (fixed buckets, atomic adds) and more.
    reserved: [AtomicU64; WORKER_RESERVED_WORDS],
}

/// Per-core counters and the in-flight request (start time + vars under a seqlock).
#[repr(C, align(64))]
pub struct CoreSlot {
    seq: AtomicU64,
    in_request: AtomicU64,
    request_start: AtomicU64,
    vars_len: AtomicU64,
    vars_truncated: AtomicU64,
    requests: AtomicU64,
    static_requests: AtomicU64,
    routed_requests: AtomicU64,
    offloaded_requests: AtomicU64,
    write_errors: AtomicU64,
    read_errors: AtomicU64,
    reserved: [AtomicU64; CORE_RESERVED_WORDS],
    /// Records `[klen u16 LE][vlen u16 LE][key][value]`, packed, little-endian words.
    vars: [AtomicU64; VARS_WORDS],
}

/// Per-(worker, app) counters.
#[repr(C, align(64))]
pub struct AppSlot {
    requests: AtomicU64,
    exceptions: AtomicU64,
    reserved: [AtomicU64; APP_RESERVED_WORDS],
}

const _: () = {
    assert!(size_of::<WorkerSlot>() % 64 == 0);
    assert!(size_of::<CoreSlot>() % 64 == 0);
    assert!(size_of::<AppSlot>() % 64 == 0);
    assert!(size_of::<Header>() <= 128);
    assert!(VARS_CAPACITY % 8 == 0);
};

const HEADER_SPACE: usize = 128;

/// Worker status as uWSGI reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerStatus {
    /// `"idle"`
    #[default]
    Idle,
    /// `"busy"`
    Busy,
    /// `"cheap"` (stopped by the cheaper subsystem)
    Cheap,
    /// `"pause"` (suspended and not busy)
    Pause,
    /// `"sig<N>"` (running the handler of uWSGI signal N)
    Sig(u8),
}

impl WorkerStatus {
    /// uWSGI's precedence: cheap, then pause (only when suspended and not busy), then sig, then
    /// busy, then idle. `busy` is "any core in a request" (or the worker's busy flag, or a signal
    /// handler running, as in uWSGI's `uwsgi_worker_is_busy`).
    pub fn from_parts(cheap: bool, paused: bool, sig: Option<u8>, busy: bool) -> WorkerStatus {
        let busy = busy || sig.is_some();
        if cheap {
            WorkerStatus::Cheap
        } else if paused && !busy {
            WorkerStatus::Pause
        } else if let Some(n) = sig {
            WorkerStatus::Sig(n)
        } else if busy {
            WorkerStatus::Busy
        } else {
            WorkerStatus::Idle
        }
    }
}

impl fmt::Display for WorkerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerStatus::Idle => f.write_str("idle"),
            WorkerStatus::Busy => f.write_str("busy"),
            WorkerStatus::Cheap => f.write_str("cheap"),
            WorkerStatus::Pause => f.write_str("pause"),
            WorkerStatus::Sig(n) => write!(f, "sig{n}"),
        }
    }
}

/// A relaxed copy of a worker slot's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounters {
    pub pid: u64,
    pub accepting: u64,
    pub requests: u64,
    pub delta_requests: u64,
    pub exceptions: u64,
    pub harakiri_count: u64,
    pub signals: u64,
    pub signal_queue: u64,
    pub busy_flag: bool,
    pub cheap: bool,
    pub paused: bool,
    pub sig: Option<u8>,
    pub rss: u64,
    pub vsz: u64,
    pub running_time: u64,
    pub last_spawn: u64,
    pub respawn_count: u64,
    pub tx: u64,
    pub avg_rt: u64,
    pub last_rt: u64,
}

impl WorkerSlot {
    // ---- worker side: per request ----

    /// Account a finished request (uWSGI's `uwsgi_close_request`): requests, delta_requests,
    /// running_time += rt, avg_rt = (avg_rt + rt) / 2, tx += bytes, exceptions.
    #[inline]
    pub fn request_done(&self, rt_us: u64, tx_bytes: u64, exception: bool) {
        self.requests.fetch_add(1, Relaxed);
        self.delta_requests.fetch_add(1, Relaxed);
        self.running_time.fetch_add(rt_us, Relaxed);
        if tx_bytes != 0 {
            self.tx.fetch_add(tx_bytes, Relaxed);
        }
        if exception {
            self.exceptions.fetch_add(1, Relaxed);
        }
        // uWSGI's racy `avg = (avg + rt) / 2`, done as one atomic update.
        let mut cur = self.avg_rt.load(Relaxed);
        loop {
            let next = cur.wrapping_add(rt_us) / 2;
            match self
                .avg_rt
                .compare_exchange_weak(cur, next, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.last_rt.store(rt_us, Relaxed);
    }

    // ---- worker side: state ----

    /// Worker is (not) accepting requests (`accepting`).
    pub fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting as u64, Relaxed);
    }

    /// Mark the whole worker busy outside of any core request (status `busy`).
    pub fn set_busy(&self, busy: bool) {
        self.set_flag(FLAG_BUSY, busy);
    }

    /// Cheaped by the master (status `cheap`).
    pub fn set_cheap(&self, cheap: bool) {
        self.set_flag(FLAG_CHEAP, cheap);
    }

    /// Suspended (status `pause` while no core is in a request).
    pub fn set_paused(&self, paused: bool) {
        self.set_flag(FLAG_PAUSE, paused);
    }

    /// Entering the handler of uWSGI signal `signum`: status `sig<N>`, `signals` += 1.
    pub fn begin_signal(&self, signum: u8) {
        self.signum.store(signum as u64, Relaxed);
        self.signals.fetch_add(1, Relaxed);
        self.flags.fetch_or(FLAG_SIG, Release);
    }

    /// Leaving the signal handler.
    pub fn end_signal(&self) {
        self.flags.fetch_and(!FLAG_SIG, Release);
    }

    /// Current memory usage in bytes (uWSGI updates it after each request with --memory-report).
    pub fn set_memory(&self, rss: u64, vsz: u64) {
        self.rss.store(rss, Relaxed);
        self.vsz.store(vsz, Relaxed);
    }

    // ---- master side ----

    /// Before forking worker: what uWSGI's `uwsgi_respawn_worker` resets. `respawn_count` += 1
    /// (1 after the first spawn), `last_spawn` = now (unix s), accepting = 0, rss = vsz = 0,
    /// cheap and sig cleared, `delta_requests` = 0. Kept across respawns: requests, exceptions,
    /// tx, running_time, avg_rt, harakiri_count, signals and the pause flag.
    pub fn prepare_spawn(&self, now_unix_s: u64) {
        self.accepting.store(0, Relaxed);
        self.respawn_count.fetch_add(1, Relaxed);
        self.last_spawn.store(now_unix_s, Relaxed);
        self.rss.store(0, Relaxed);
        self.vsz.store(0, Relaxed);
        self.flags
            .fetch_and(!(FLAG_CHEAP | FLAG_SIG | FLAG_BUSY), Relaxed);
        self.signum.store(0, Relaxed);
        self.delta_requests.store(0, Relaxed);
    }

    /// After fork, in the master: the pid of the new process.
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid as u64, Release);
    }

    /// [`prepare_spawn`](Self::prepare_spawn) + [`set_pid`](Self::set_pid). Prefer the split form
    /// when the child may start serving before the master gets here (the reset of
    /// `delta_requests` would otherwise race with the child's first requests).
    pub fn on_spawn(&self, pid: u32, now_unix_s: u64) {
        self.prepare_spawn(now_unix_s);
        self.set_pid(pid);
    }

    /// The worker process is gone: pid = 0, not accepting, busy/sig cleared.
    pub fn on_exit(&self) {
        self.pid.store(0, Relaxed);
        self.accepting.store(0, Relaxed);
        self.flags.fetch_and(!(FLAG_SIG | FLAG_BUSY), Relaxed);
    }

    /// Master killed the worker for harakiri.
    pub fn inc_harakiri(&self) {
        self.harakiri_count.fetch_add(1, Relaxed);
    }

    /// Bytes waiting in the worker's signal pipe (master-side measurement).
    pub fn set_signal_queue(&self, n: u64) {
        self.signal_queue.store(n, Relaxed);
    }

    // ---- readers ----

    /// pid (0 when not running).
    pub fn pid(&self) -> u64 {
        self.pid.load(Acquire)
    }
    /// Requests since the first spawn (never reset).
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }
    /// Requests since the current process was spawned.
    pub fn delta_requests(&self) -> u64 {
        self.delta_requests.load(Relaxed)
    }

    /// A relaxed copy of every counter.
    pub fn counters(&self) -> WorkerCounters {
        let flags = self.flags.load(Acquire);
        WorkerCounters {
            pid: self.pid.load(Relaxed),
            accepting: self.accepting.load(Relaxed),
            requests: self.requests.load(Relaxed),
            delta_requests: self.delta_requests.load(Relaxed),
            exceptions: self.exceptions.load(Relaxed),
            harakiri_count: self.harakiri_count.load(Relaxed),
            signals: self.signals.load(Relaxed),
            signal_queue: self.signal_queue.load(Relaxed),
            busy_flag: flags & FLAG_BUSY != 0,
            cheap: flags & FLAG_CHEAP != 0,
            paused: flags & FLAG_PAUSE != 0,
            sig: (flags & FLAG_SIG != 0).then(|| self.signum.load(Relaxed) as u8),
            rss: self.rss.load(Relaxed),
            vsz: self.vsz.load(Relaxed),
            running_time: self.running_time.load(Relaxed),
            last_spawn: self.last_spawn.load(Relaxed),
            respawn_count: self.respawn_count.load(Relaxed),
            tx: self.tx.load(Relaxed),
            avg_rt: self.avg_rt.load(Relaxed),
            last_rt: self.last_rt.load(Relaxed),
        }
    }

    /// The reserved words (zero until a later layout uses them).
    pub fn reserved(&self) -> &[AtomicU64] {
        &self.reserved
    }

    fn set_flag(&self, flag: u64, on: bool) {
        if on {
            self.flags.fetch_or(flag, Release);
        } else {
            self.flags.fetch_and(!flag, Release);
        }
    }
}

/// Packs bytes into consecutive atomic words (little-endian), without a staging buffer.
struct WordWriter<'a> {
    words: &'a [AtomicU64],
    idx: usize,
    cur: u64,
    fill: usize,
}

impl WordWriter<'_> {
    #[inline]
    fn push(&mut self, mut b: &[u8]) {
        if self.fill != 0 {
            while self.fill < 8 {
                let Some((&x, rest)) = b.split_first() else {
                    return;
                };
                self.cur |= (x as u64) << (8 * self.fill);
                self.fill += 1;
                b = rest;
            }
            self.words[self.idx].store(self.cur, Relaxed);
            self.idx += 1;
            self.cur = 0;
            self.fill = 0;
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.words[self.idx].store(w, Relaxed);
            self.idx += 1;
        }
        for &x in chunks.remainder() {
            self.cur |= (x as u64) << (8 * self.fill);
            self.fill += 1;
        }
    }

    #[inline]
    fn finish(self) {
        if self.fill != 0 {
            self.words[self.idx].store(self.cur, Relaxed);
        }
    }
}

/// A consistent copy of a core's in-flight request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreRequest {
    /// The core was inside a request.
    pub in_request: bool,
    /// Unix seconds when the request started (meaningful while `in_request`).
    pub request_start: u64,
    /// Some vars did not fit in [`VARS_CAPACITY`] bytes and were cut.
    pub truncated: bool,
    raw: Vec<u8>,
}

impl CoreRequest {
    /// The request vars, `(key, value)`, in the order they were given.
    pub fn vars(&self) -> VarsIter<'_> {
        VarsIter { rest: &self.raw }
    }
}

/// Iterator over `(key, value)` pairs of a [`CoreRequest`].
pub struct VarsIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for VarsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest;
        if r.len() < 4 {
            return None;
        }
        let kl = u16::from_le_bytes([r[0], r[1]]) as usize;
        let vl = u16::from_le_bytes([r[2], r[3]]) as usize;
        let body = &r[4..];
        if body.len() < kl + vl {
            self.rest = &[];
            return None;
        }
        let (k, body) = body.split_at(kl);
        let (v, body) = body.split_at(vl);
        self.rest = body;
        Some((k, v))
    }
}

impl CoreSlot {
    /// Start of a request on this core: `in_request` = 1, `request_start` = now (unix s), and a
    /// copy of the request vars (truncated to [`VARS_CAPACITY`] bytes; a var that does not fit
    /// is cut and the rest dropped). Single writer: only the owning core calls this.
    #[inline]
    pub fn begin_request<'v, I>(&self, now_unix_s: u64, vars: I)
    where
        I: IntoIterator<Item = (&'v [u8], &'v [u8])>,
    {
        let odd = self.write_begin();
        self.request_start.store(now_unix_s, Relaxed);
        self.in_request.store(1, Relaxed);
        let mut w = WordWriter {
            words: &self.vars,
            idx: 0,
            cur: 0,
            fill: 0,
        };
        let mut used = 0usize;
        let mut truncated = false;
        for (k, v) in vars {
            let room = VARS_CAPACITY - used;
            if room < 4 + k.len() || k.len() > u16::MAX as usize {
                truncated = true;
                break;
            }
            let vl = v.len().min(room - 4 - k.len()).min(u16::MAX as usize);
            let klb = (k.len() as u16).to_le_bytes();
            let vlb = (vl as u16).to_le_bytes();
            w.push(&[klb[0], klb[1], vlb[0], vlb[1]]);
            w.push(k);
            w.push(&v[..vl]);
            used += 4 + k.len() + vl;
            if vl < v.len() {
                truncated = true;
                break;
            }
        }
        w.finish();
        self.vars_len.store(used as u64, Relaxed);
        self.vars_truncated.store(truncated as u64, Relaxed);
        self.write_end(odd);
    }

    /// End of the request: `requests` += 1, `in_request` = 0, vars cleared.
    #[inline]
    pub fn end_request(&self) {
        bump(&self.requests);
        self.clear_request();
    }

    /// Clear the in-flight request without counting it (e.g. the master after the worker died).
    pub fn clear_request(&self) {
        let odd = self.write_begin();
        self.in_request.store(0, Relaxed);
        self.vars_len.store(0, Relaxed);
        self.vars_truncated.store(0, Relaxed);
        self.write_end(odd);
    }

    /// A request served as a static file.
    #[inline]
    pub fn inc_static_requests(&self) {
        bump(&self.static_requests);
    }
    /// A request handled by the internal router.
    #[inline]
    pub fn inc_routed_requests(&self) {
        bump(&self.routed_requests);
    }
    /// A request whose response was offloaded.
    #[inline]
    pub fn inc_offloaded_requests(&self) {
        bump(&self.offloaded_requests);
    }
    /// Write errors while sending a response.
    #[inline]
    pub fn add_write_errors(&self, n: u64) {
        self.write_errors
            .store(self.write_errors.load(Relaxed).wrapping_add(n), Relaxed);
    }
    /// Read errors while reading a request.
    #[inline]
    pub fn add_read_errors(&self, n: u64) {
        self.read_errors
            .store(self.read_errors.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// 1 while inside a request.
    pub fn in_request(&self) -> bool {
        self.in_request.load(Relaxed) != 0
    }
    /// Unix seconds of the current request's start (relaxed, outside the seqlock).
    pub fn request_start(&self) -> u64 {
        self.request_start.load(Relaxed)
    }
    /// Requests completed on this core.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }
    /// `(requests, static, routed, offloaded, write_errors, read_errors)`.
    pub fn counters(&self) -> CoreCounters {
        CoreCounters {
            requests: self.requests.load(Relaxed),
            static_requests: self.static_requests.load(Relaxed),
            routed_requests: self.routed_requests.load(Relaxed),
            offloaded_requests: self.offloaded_requests.load(Relaxed),
            write_errors: self.write_errors.load(Relaxed),
            read_errors: self.read_errors.load(Relaxed),
            in_request: self.in_request.load(Relaxed),
        }
    }

    /// Copy the in-flight request out under the seqlock. Retries at most
    /// [`SEQLOCK_MAX_RETRIES`] times; `None` when no stable copy could be taken.
    pub fn read_request(&self) -> Option<CoreRequest> {
        let mut raw = Vec::new();
        self.read_request_into(&mut raw)
            .map(|(in_request, request_start, truncated)| CoreRequest {
                in_request,
                request_start,
                truncated,
                raw,
            })
    }

    /// Like [`read_request`](Self::read_request) into a reusable buffer; returns
    /// `(in_request, request_start, truncated)` and leaves the packed vars in `raw`
    /// (empty when not in a request or on failure).
    fn read_request_into(&self, raw: &mut Vec<u8>) -> Option<(bool, u64, bool)> {
        for _ in 0..SEQLOCK_MAX_RETRIES {
            let s1 = self.seq.load(Acquire);
            if s1 & 1 == 1 {
                spin_loop();
                continue;
            }
            let in_request = self.in_request.load(Relaxed) != 0;
            let start = self.request_start.load(Relaxed);
            let truncated = self.vars_truncated.load(Relaxed) != 0;
            let len = (self.vars_len.load(Relaxed) as usize).min(VARS_CAPACITY);
            raw.clear();
            if in_request {
                for w in &self.vars[..len.div_ceil(8)] {
                    raw.extend_from_slice(&w.load(Relaxed).to_le_bytes());
                }
                raw.truncate(len);
            }
            fence(Acquire);
            let s2 = self.seq.load(Relaxed);
            if s1 == s2 {
                return Some((in_request, start, truncated));
            }
            spin_loop();
        }
        raw.clear();
        None
    }

    #[inline]
    fn write_begin(&self) -> u64 {
        // Even when idle; if a writer died mid-update the counter is odd and we move past it.
        let s = self.seq.load(Relaxed);
        let odd = s.wrapping_add(1) | 1;
        self.seq.store(odd, Relaxed);
        fence(Release);
        odd
    }

    #[inline]
    fn write_end(&self, odd: u64) {
        self.seq.store(odd.wrapping_add(1), Release);
    }
}

/// A relaxed copy of a core's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    pub requests: u64,
    pub static_requests: u64,
    pub routed_requests: u64,
    pub offloaded_requests: u64,
    pub write_errors: u64,
    pub read_errors: u64,
    pub in_request: u64,
}

impl AppSlot {
    /// The app was invoked for a request. uWSGI counts app requests when it dispatches to the
    /// app, so a request in flight already shows in `apps[].requests` (the busy capture has
    /// app requests 31 against worker requests 30).
    #[inline]
    pub fn request_begin(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// The app call finished; counts an exception if it raised. (Requests are counted by
    /// [`request_begin`](Self::request_begin).)
    #[inline]
    pub fn request_done(&self, exception: bool) {
        if exception {
            self.exceptions.fetch_add(1, Relaxed);
        }
    }

    /// `(requests, exceptions)`.
    pub fn counters(&self) -> (u64, u64) {
        (self.requests.load(Relaxed), self.exceptions.load(Relaxed))
    }
}

/// Owns the shared mapping. Create it in the master before forking; children inherit it.
pub struct Scoreboard {
    mapping: SharedMapping,
    layout: Layout,
    workers_offset: usize,
    cores_offset: usize,
    apps_offset: usize,
}

// SAFETY: the mapping is only accessed through atomics (slots) or read-only after creation
// (header); it stays mapped until the scoreboard is dropped.
unsafe impl Send for Scoreboard {}
// SAFETY: see above.
unsafe impl Sync for Scoreboard {}

impl fmt::Debug for Scoreboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoreboard")
            .field("layout", &self.layout)
            .field("size", &self.mapping.len())
            .finish()
    }
}

fn round_up(n: usize, to: usize) -> Option<usize> {
    n.checked_add(to - 1).map(|x| x / to * to)
}

impl Scoreboard {
    /// Map a zeroed scoreboard for `layout`.
    pub fn new(layout: Layout) -> Result<Scoreboard, ScoreboardError> {
        let bad = |reason| ScoreboardError::InvalidLayout { layout, reason };
        if layout.workers == 0 {
            return Err(bad("workers must be >= 1"));
        }
        if layout.cores == 0 {
            return Err(bad("cores must be >= 1"));
        }
        if layout.workers > MAX_WORKERS {
            return Err(bad("too many workers"));
        }
        if layout.cores > MAX_CORES {
            return Err(bad("too many cores"));
        }
        if layout.apps > MAX_APPS {
            return Err(bad("too many apps"));
        }
        let too_big = || bad("mapping size overflows");
        let workers_offset = HEADER_SPACE;
        let cores_offset = layout
            .workers
            .checked_mul(size_of::<WorkerSlot>())
            .and_then(|n| n.checked_add(workers_offset))
            .and_then(|n| round_up(n, align_of::<CoreSlot>()))
            .ok_or_else(too_big)?;
        let apps_offset = layout
            .workers
            .checked_mul(layout.cores)
            .and_then(|n| n.checked_mul(size_of::<CoreSlot>()))
            .and_then(|n| n.checked_add(cores_offset))
            .and_then(|n| round_up(n, align_of::<AppSlot>()))
            .ok_or_else(too_big)?;
        let size = layout
            .workers
            .checked_mul(layout.apps)
            .and_then(|n| n.checked_mul(size_of::<AppSlot>()))
            .and_then(|n| n.checked_add(apps_offset))
            .and_then(|n| round_up(n, 4096))
            .ok_or_else(too_big)?;

        let mapping =
            SharedMapping::new(size).map_err(|source| ScoreboardError::Mmap { size, source })?;
        let base = mapping.as_ptr();
        let header = Header {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            header_size: size_of::<Header>() as u32,
            workers: layout.workers as u32,
            cores: layout.cores as u32,
            apps: layout.apps as u32,
            worker_slot_size: size_of::<WorkerSlot>() as u32,
            core_slot_size: size_of::<CoreSlot>() as u32,
            app_slot_size: size_of::<AppSlot>() as u32,
            workers_offset: workers_offset as u64,
            cores_offset: cores_offset as u64,
            apps_offset: apps_offset as u64,
            total_size: size as u64,
        };
        // SAFETY: fresh page-aligned mapping of at least HEADER_SPACE bytes, nobody else sees it
        // yet. The rest is zero-filled by the kernel, and all-zero is a valid value for every
        // slot (they are plain atomics).
        unsafe { std::ptr::write(base as *mut Header, header) };
        let sb = Scoreboard {
            mapping,
            layout,
            workers_offset,
            cores_offset,
            apps_offset,
        };
        sb.verify()?;
        Ok(sb)
    }

    /// The layout this scoreboard was made for.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Size of the mapping in bytes.
    pub fn mapped_size(&self) -> usize {
        self.mapping.len()
    }

    /// The header at the start of the mapping.
    pub fn header(&self) -> &Header {
        // SAFETY: written in `new`, never modified afterwards.
        unsafe { &*(self.mapping.as_ptr() as *const Header) }
    }

    /// Check the header against this build's layout.
    pub fn verify(&self) -> Result<(), ScoreboardError> {
        let h = self.header();
        if h.magic != MAGIC {
            return Err(ScoreboardError::BadHeader("magic"));
        }
        if h.version != LAYOUT_VERSION {
            return Err(ScoreboardError::BadHeader("layout version"));
        }
        if h.worker_slot_size as usize != size_of::<WorkerSlot>()
            || h.core_slot_size as usize != size_of::<CoreSlot>()
            || h.app_slot_size as usize != size_of::<AppSlot>()
        {
            return Err(ScoreboardError::BadHeader("slot sizes"));
        }
        if h.workers as usize != self.layout.workers
            || h.cores as usize != self.layout.cores
            || h.apps as usize != self.layout.apps
        {
            return Err(ScoreboardError::BadHeader("layout"));
        }
        Ok(())
    }

    /// Worker `wid`, 1-based like uWSGI. Panics if `wid` is 0 or > workers.
    #[inline]
    pub fn worker(&self, wid: usize) -> &WorkerSlot {
        self.try_worker(wid)
            .unwrap_or_else(|| panic!("worker id {wid} out of 1..={}", self.layout.workers))
    }

    /// Worker `wid` or `None` when out of range.
    #[inline]
    pub fn try_worker(&self, wid: usize) -> Option<&WorkerSlot> {
        if wid == 0 || wid > self.layout.workers {
            return None;
        }
        let off = self.workers_offset + (wid - 1) * size_of::<WorkerSlot>();
        // SAFETY: in bounds by construction, aligned (offsets rounded), atomics only.
        Some(unsafe { &*(self.mapping.as_ptr().add(off) as *const WorkerSlot) })
    }

    /// Core `core` (0-based) of worker `wid` (1-based). Panics when out of range.
    #[inline]
    pub fn core(&self, wid: usize, core: usize) -> &CoreSlot {
        self.try_core(wid, core).unwrap_or_else(|| {
            panic!(
                "core ({wid}, {core}) out of (1..={}, 0..{})",
                self.layout.workers, self.layout.cores
            )
        })
    }

    /// Core or `None` when out of range.
    #[inline]
    pub fn try_core(&self, wid: usize, core: usize) -> Option<&CoreSlot> {
        if wid == 0 || wid > self.layout.workers || core >= self.layout.cores {
            return None;
        }
        let idx = (wid - 1) * self.layout.cores + core;
        let off = self.cores_offset + idx * size_of::<CoreSlot>();
        // SAFETY: as in try_worker.
        Some(unsafe { &*(self.mapping.as_ptr().add(off) as *const CoreSlot) })
    }

    /// App `app` (0-based) of worker `wid` (1-based). Panics when out of range.
    #[inline]
    pub fn app(&self, wid: usize, app: usize) -> &AppSlot {
        self.try_app(wid, app).unwrap_or_else(|| {
            panic!(
                "app ({wid}, {app}) out of (1..={}, 0..{})",
                self.layout.workers, self.layout.apps
            )
        })
    }

    /// App or `None` when out of range.
    #[inline]
    pub fn try_app(&self, wid: usize, app: usize) -> Option<&AppSlot> {
        if wid == 0 || wid > self.layout.workers || app >= self.layout.apps {
            return None;
        }
        let idx = (wid - 1) * self.layout.apps + app;
        let off = self.apps_offset + idx * size_of::<AppSlot>();
        // SAFETY: as in try_worker.
        Some(unsafe { &*(self.mapping.as_ptr().add(off) as *const AppSlot) })
    }

    /// Master, before forking worker `wid`: [`WorkerSlot::prepare_spawn`] plus clearing the
    /// cores' in-flight requests (uWSGI resets them in the new child).
    pub fn prepare_spawn(&self, wid: usize, now_unix_s: u64) {
        self.worker(wid).prepare_spawn(now_unix_s);
        for c in 0..self.layout.cores {
            self.core(wid, c).clear_request();
        }
    }

    /// Master: worker `wid` exited. [`WorkerSlot::on_exit`] plus clearing its cores' requests.
    pub fn on_exit(&self, wid: usize) {
        self.worker(wid).on_exit();
        for c in 0..self.layout.cores {
            self.core(wid, c).clear_request();
        }
    }

    /// Status of worker `wid` as uWSGI would report it.
    pub fn worker_status(&self, wid: usize) -> WorkerStatus {
        let c = self.worker(wid).counters();
        self.status_from(wid, &c)
    }

    pub(crate) fn status_from(&self, wid: usize, c: &WorkerCounters) -> WorkerStatus {
        let busy = c.busy_flag || (0..self.layout.cores).any(|i| self.core(wid, i).in_request());
        WorkerStatus::from_parts(c.cheap, c.paused, c.sig, busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> Scoreboard {
        Scoreboard::new(Layout {
            workers: 2,
            cores: 2,
            apps: 1,
        })
        .unwrap()
    }

    #[test]
    fn layout_errors() {
        assert!(Scoreboard::new(Layout {
            workers: 0,
            cores: 1,
            apps: 1
        })
        .is_err());
        assert!(Scoreboard::new(Layout {
            workers: 1,
            cores: 0,
            apps: 1
        })
        .is_err());
        let s = Scoreboard::new(Layout {
            workers: 1,
            cores: 1,
            apps: 0,
        })
        .unwrap();
        assert!(s.try_app(1, 0).is_none());
    }

    #[test]
    fn header_is_versioned() {
        let s = sb();
        let h = s.header();
        assert_eq!(h.magic, MAGIC);
        assert_eq!(h.version, LAYOUT_VERSION);
        assert_eq!(h.workers, 2);
        assert_eq!(h.core_slot_size as usize, size_of::<CoreSlot>());
        assert!(h.total_size as usize <= s.mapped_size());
        s.verify().unwrap();
    }

    #[test]
    fn slots_are_distinct() {
        let s = sb();
        s.worker(1).request_done(10, 5, false);
        assert_eq!(s.worker(1).requests(), 1);
        assert_eq!(s.worker(2).requests(), 0);
        s.core(2, 1).end_request();
        assert_eq!(s.core(2, 1).requests(), 1);
        assert_eq!(s.core(2, 0).requests(), 0);
        assert_eq!(s.core(1, 1).requests(), 0);
        assert!(s.try_worker(0).is_none());
        assert!(s.try_worker(3).is_none());
        assert!(s.try_core(1, 2).is_none());
    }

    #[test]
    #[should_panic]
    fn worker_zero_panics() {
        sb().worker(0);
    }

    #[test]
    fn avg_rt_matches_uwsgi_formula() {
        let s = sb();
        let w = s.worker(1);
        let mut avg = 0u64;
        let mut total = 0;
        for rt in [100u64, 50, 300, 7, 0, 1000] {
            w.request_done(rt, 11, rt == 7);
            avg = (avg + rt) / 2;
            total += rt;
        }
        let c = w.counters();
        assert_eq!(c.avg_rt, avg);
        assert_eq!(c.running_time, total);
        assert_eq!(c.tx, 66);
        assert_eq!(c.exceptions, 1);
        assert_eq!(c.requests, 6);
        assert_eq!(c.delta_requests, 6);
        assert_eq!(c.last_rt, 1000);
    }

    #[test]
    fn spawn_resets_like_uwsgi() {
        let s = sb();
        s.prepare_spawn(1, 1000);
        s.worker(1).set_pid(42);
        let w = s.worker(1);
        w.set_accepting(true);
        w.request_done(10, 10, true);
        w.set_memory(1, 2);
        w.set_cheap(true);
        w.set_paused(true);
        w.inc_harakiri();
        s.core(1, 0).begin_request(5, [(&b"A"[..], &b"1"[..])]);
        s.on_exit(1);
        assert_eq!(w.pid(), 0);
        assert!(!s.core(1, 0).in_request());
        s.prepare_spawn(1, 2000);
        w.set_pid(43);
        let c = w.counters();
        assert_eq!(c.respawn_count, 2);
        assert_eq!(c.last_spawn, 2000);
        assert_eq!(c.delta_requests, 0);
        assert_eq!(c.requests, 1);
        assert_eq!(c.exceptions, 1);
        assert_eq!(c.harakiri_count, 1);
        assert_eq!((c.rss, c.vsz), (0, 0));
        assert_eq!(c.accepting, 0);
        assert!(!c.cheap);
        assert!(c.paused, "pause is managed by the user, not reset on spawn");
        assert_eq!(c.pid, 43);
    }

    #[test]
    fn status_precedence() {
        use WorkerStatus::*;
        assert_eq!(WorkerStatus::from_parts(false, false, None, false), Idle);
        assert_eq!(WorkerStatus::from_parts(false, false, None, true), Busy);
        assert_eq!(WorkerStatus::from_parts(true, true, Some(3), true), Cheap);
        assert_eq!(WorkerStatus::from_parts(false, true, None, false), Pause);
        assert_eq!(WorkerStatus::from_parts(false, true, None, true), Busy);
        assert_eq!(
            WorkerStatus::from_parts(false, false, Some(17), true),
            Sig(17)
        );
        assert_eq!(
            WorkerStatus::from_parts(false, true, Some(17), false),
            Sig(17)
        );
        assert_eq!(Sig(17).to_string(), "sig17");

        let s = sb();
        assert_eq!(s.worker_status(1), Idle);
        s.core(1, 1).begin_request(1, std::iter::empty());
        assert_eq!(s.worker_status(1), Busy);
        s.worker(1).begin_signal(9);
        assert_eq!(s.worker_status(1), Sig(9));
        s.worker(1).end_signal();
        s.core(1, 1).end_request();
        assert_eq!(s.worker_status(1), Idle);
        s.worker(1).set_busy(true);
        assert_eq!(s.worker_status(1), Busy);
        s.worker(1).set_busy(false);
        s.worker(1).set_paused(true);
        assert_eq!(s.worker_status(1), Pause);
        assert_eq!(s.worker(1).counters().signals, 1);
    }

    #[test]
    fn vars_roundtrip_and_truncation() {
        let s = sb();
        let c = s.core(1, 0);
        let vars: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"REQUEST_METHOD".to_vec(), b"GET".to_vec()),
            (b"PATH_INFO".to_vec(), b"/x\"\\\x00\xff".to_vec()),
            (b"EMPTY".to_vec(), b"".to_vec()),
        ];
        c.begin_request(77, vars.iter().map(|(k, v)| (&k[..], &v[..])));
        let r = c.read_request().unwrap();
        assert!(r.in_request);
        assert_eq!(r.request_start, 77);
        assert!(!r.truncated);
        let got: Vec<_> = r.vars().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(got, vars);

        // Too big: the cookie is cut to fit and later vars are dropped.
        let big = vec![b'x'; 10_000];
        c.begin_request(
            78,
            [
                (&b"A"[..], &b"1"[..]),
                (&b"HTTP_COOKIE"[..], &big[..]),
                (&b"B"[..], &b"2"[..]),
            ],
        );
        let r = c.read_request().unwrap();
        assert!(r.truncated);
        let got: Vec<_> = r.vars().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (&b"A"[..], &b"1"[..]));
        assert_eq!(got[1].0, b"HTTP_COOKIE");
        assert_eq!(4 + 1 + 1 + 4 + 11 + got[1].1.len(), VARS_CAPACITY);

        // A key that alone does not fit.
        c.begin_request(79, [(&big[..], &b"v"[..])]);
        let r = c.read_request().unwrap();
        assert!(r.truncated);
        assert_eq!(r.vars().count(), 0);

        c.end_request();
        let r = c.read_request().unwrap();
        assert!(!r.in_request);
        assert_eq!(r.vars().count(), 0);
        assert_eq!(c.requests(), 1);
    }

    #[test]
    fn core_counters() {
        let s = sb();
        let c = s.core(2, 0);
        c.inc_static_requests();
        c.inc_routed_requests();
        c.inc_routed_requests();
        c.inc_offloaded_requests();
        c.add_write_errors(3);
        c.add_read_errors(4);
        let k = c.counters();
        assert_eq!(
            (
                k.static_requests,
                k.routed_requests,
                k.offloaded_requests,
                k.write_errors,
                k.read_errors
            ),
            (1, 2, 1, 3, 4)
        );
    }

    #[test]
    fn app_counters() {
        let s = sb();
        let a = s.app(1, 0);
        a.request_begin();
        a.request_done(false);
        a.request_begin();
        a.request_done(true);
        assert_eq!(a.counters(), (2, 1));
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Scoreboard>();
        assert_send_sync::<WorkerSlot>();
        assert_send_sync::<CoreSlot>();
        assert_send_sync::<AppSlot>();
    }
}
