//! The shared-memory scoreboard.
//!
//! The master creates one `MAP_SHARED | MAP_ANONYMOUS` mapping before it forks any child, so
//! every worker process writes its own slots and the master and the pusher process read all of
//! them. The mapping holds a versioned [`Header`] (with the master's own counters,
//! [`MasterSlot`]) followed by four arrays of fixed-size `#[repr(C)]` slots made only of
//! atomics: one [`SocketSlot`] per listening socket, one [`WorkerSlot`] per worker, one
//! [`CoreSlot`] per (worker, core), one [`AppSlot`] per (worker, app), and for the Prometheus
//! metrics one [`ResponseSlot`] per (worker, core) (status codes, request bytes) and one
//! [`LatencySlot`] per (worker, core, app) (the request-duration histogram), and one
//! [`MetricSlot`] per custom `--metric` (none without them).
//!
//! The arrays are regions of one [`SharedLayout`]: every slot type derives `FromZeros` (the
//! kernel's zero pages are valid slots) and is `Sync` (atomics only), so the scoreboard reads
//! and writes its slots through `&` references from `rwsgi_os::mm`, without `unsafe` of its
//! own. The header's fields are atomics too, stored once in [`Scoreboard::new`] before anyone
//! else sees the mapping; [`Scoreboard::header`] copies them out as a plain [`Header`].
//!
//! Ownership rules (nothing enforces them at run time; they keep every hot-path method a couple
//! of plain atomic operations):
//! * a [`CoreSlot`], and the [`ResponseSlot`] and [`LatencySlot`]s of the same core, are
//!   written by exactly one thread (the worker core that owns it) — its counters
//!   use load+store instead of locked read-modify-write and its request vars are published through
//!   a seqlock with that single writer;
//! * a [`WorkerSlot`] and its [`AppSlot`]s are written by the threads of one worker process
//!   (read-modify-writes are atomic, `fetch_add`), plus the master around spawn/exit;
//! * the [`MasterSlot`] and the [`SocketSlot`]s are written by the master only;
//! * a [`MetricSlot`] is written by any worker thread (`uwsgi.metric_*`) and by the master
//!   (initial value, collectors) with one atomic read-modify-write each, never a lock;
//! * readers use relaxed loads (the JSON they build is a statistic, not a consistent cut),
//!   except for the request vars, which are copied under the seqlock. Reading has no side
//!   effect: [`Scoreboard::snapshot`] only loads.
//!
//! Layout growth: the header records magic, layout version, its own size and the size of each
//! slot type, and every slot type carries reserved words (the worker slot reserves
//! [`WORKER_RESERVED_WORDS`] for per-worker latency-histogram buckets). Adding a field means
//! taking reserved words or bumping [`LAYOUT_VERSION`]; master and workers are the same binary
//! (fork, no exec), so the version is a guard against mixing mappings, not a compatibility
//! protocol.
//!
//! Adding a counter: one line in its list in [`crate::model`] (the slot's atomic, the model's
//! field and the load are generated from it), the method here that writes it, and its key in
//! each renderer.

use std::fmt;
use std::hint::spin_loop;
use std::mem::size_of;
use std::sync::atomic::{fence, AtomicI64, AtomicU32, AtomicU64, Ordering};

use rwsgi_os::mm::{FromZeros, Region, SharedLayout, SharedMapping};

use Ordering::{Acquire, Relaxed, Release};

use crate::metrics::{apply_op, MetricOp};
use crate::model::{
    app_counters, core_counters, worker_counters, AppStats, CoreStats, Latency, MasterInfo,
    SocketStats, StatsSnapshot, StatusCount, WorkerId, WorkerStats, WorkerStatus,
};
use crate::redact::VarsPolicy;

/// `b"RWSGISB\0"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RWSGISB\0");
/// Bumped whenever a slot changes layout incompatibly (2: master counters and socket slots;
/// 3: response and latency slots; 4: metric slots).
pub const LAYOUT_VERSION: u32 = 4;
/// Bytes of request vars kept per core (longer environments are truncated).
pub const VARS_CAPACITY: usize = 4096;
const VARS_WORDS: usize = VARS_CAPACITY / 8;
/// Reserved u64 words at the end of each worker slot (room for latency histogram buckets).
pub const WORKER_RESERVED_WORDS: usize = 36;
/// Reserved u64 words in each core slot.
pub const CORE_RESERVED_WORDS: usize = 2;
/// Reserved u64 words in each app slot.
pub const APP_RESERVED_WORDS: usize = 6;
/// Reserved u64 words in the master slot.
pub const MASTER_RESERVED_WORDS: usize = 4;
/// Reserved u64 words in each socket slot.
pub const SOCKET_RESERVED_WORDS: usize = 7;
pub use crate::model::{LATENCY_BUCKETS_US, LATENCY_SLOTS};
/// The lowest status code counted on its own; codes from here to [`STATUS_MAX`] each have a
/// counter, any other code counts as [`STATUS_OTHER`].
pub const STATUS_MIN: u16 = 100;
/// See [`STATUS_MIN`].
pub const STATUS_MAX: u16 = 599;
/// The code reported for a status outside `STATUS_MIN..=STATUS_MAX`.
pub const STATUS_OTHER: u16 = 0;
/// How the renderers name [`STATUS_OTHER`] (the JSON's key, the Prometheus `code` label).
pub const STATUS_OTHER_NAME: &str = "other";
const STATUS_SLOTS: usize = (STATUS_MAX - STATUS_MIN) as usize + 2;
const STATUS_SEEN_WORDS: usize = STATUS_SLOTS.div_ceil(64);
/// Reserved u64 words in each response slot (pads it to a whole cache line).
pub const RESPONSE_RESERVED_WORDS: usize = 2;
/// Reserved u64 words in each latency slot.
pub const LATENCY_RESERVED_WORDS: usize = 3;
/// How many times a reader retries the seqlock before it gives up on the request vars (the
/// core is then reported in its request with `vars_unavailable`).
pub const SEQLOCK_MAX_RETRIES: usize = 64;
/// Upper bounds that keep the mapping size sane (uWSGI's own limits are in the same range).
pub const MAX_WORKERS: usize = 65_536;
/// See [`MAX_WORKERS`].
pub const MAX_CORES: usize = 65_536;
/// See [`MAX_WORKERS`].
pub const MAX_APPS: usize = 1_024;
/// See [`MAX_WORKERS`].
pub const MAX_SOCKETS: usize = 1_024;
/// See [`MAX_WORKERS`].
pub const MAX_METRICS: usize = 65_536;
/// Reserved u64 words in each metric slot (one metric per cache line: workers updating
/// different metrics do not share a line).
pub const METRIC_RESERVED_WORDS: usize = 7;

/// Shape of a scoreboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of worker processes (ids 1..=workers, like uWSGI).
    pub workers: usize,
    /// Cores (threads / async slots) per worker.
    pub cores: usize,
    /// Maximum number of apps per worker.
    pub apps: usize,
    /// Listening sockets whose queue the master measures.
    pub sockets: usize,
    /// Custom `--metric`s.
    pub metrics: usize,
}

impl Layout {
    /// Worker cores in all (one core slot and one response slot each).
    fn total_cores(&self) -> Option<usize> {
        self.workers.checked_mul(self.cores)
    }
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

macro_rules! header {
    ($($(#[$doc:meta])* $field:ident: $ty:ty as $atomic:ty,)*) => {
        /// The header at offset 0 of the mapping, as [`Scoreboard::header`] reads it. Written
        /// once by the creator before any fork.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Header {
            $($(#[$doc])* pub $field: $ty,)*
        }

        /// The header as stored: the same fields as atomics (a shared slot only changes
        /// through atomics), then the master's own counters.
        #[repr(C, align(64))]
        #[derive(Debug, FromZeros)]
        struct HeaderSlot {
            $($field: $atomic,)*
            master: MasterSlot,
        }

        impl HeaderSlot {
            fn store(&self, h: &Header) {
                $(self.$field.store(h.$field, Relaxed);)*
            }

            fn load(&self) -> Header {
                Header {
                    $($field: self.$field.load(Relaxed),)*
                }
            }
        }
    };
}
header! {
    /// [`MAGIC`].
    magic: u64 as AtomicU64,
    /// [`LAYOUT_VERSION`].
    version: u32 as AtomicU32,
    /// The stored header's size (`size_of` its slot).
    header_size: u32 as AtomicU32,
    /// Number of workers.
    workers: u32 as AtomicU32,
    /// Cores per worker.
    cores: u32 as AtomicU32,
    /// Apps per worker.
    apps: u32 as AtomicU32,
    /// Listening sockets.
    sockets: u32 as AtomicU32,
    /// Custom metrics.
    metrics: u32 as AtomicU32,
    /// `size_of::<MetricSlot>()`.
    metric_slot_size: u32 as AtomicU32,
    /// `size_of::<WorkerSlot>()`.
    worker_slot_size: u32 as AtomicU32,
    /// `size_of::<CoreSlot>()`.
    core_slot_size: u32 as AtomicU32,
    /// `size_of::<AppSlot>()`.
    app_slot_size: u32 as AtomicU32,
    /// `size_of::<SocketSlot>()`.
    socket_slot_size: u32 as AtomicU32,
    /// `size_of::<ResponseSlot>()`.
    response_slot_size: u32 as AtomicU32,
    /// `size_of::<LatencySlot>()`.
    latency_slot_size: u32 as AtomicU32,
    /// Byte offset of the socket array.
    sockets_offset: u64 as AtomicU64,
    /// Byte offset of the worker array.
    workers_offset: u64 as AtomicU64,
    /// Byte offset of the core array.
    cores_offset: u64 as AtomicU64,
    /// Byte offset of the app array.
    apps_offset: u64 as AtomicU64,
    /// Byte offset of the response array.
    responses_offset: u64 as AtomicU64,
    /// Byte offset of the latency array.
    latencies_offset: u64 as AtomicU64,
    /// Byte offset of the metric array.
    metrics_offset: u64 as AtomicU64,
    /// Total mapping size.
    total_size: u64 as AtomicU64,
}

#[inline]
fn bump(a: &AtomicU64) {
    // Single-writer increment: a plain load and store, no locked instruction.
    a.store(a.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Counters only the master writes, read by every stats reader (the stats socket in the
/// master, the pusher process).
#[repr(C, align(64))]
#[derive(Debug, FromZeros)]
pub struct MasterSlot {
    listen_queue_errors: AtomicU64,
    signal_queue: AtomicU64,
    routed_signals: AtomicU64,
    unrouted_signals: AtomicU64,
    reserved: [AtomicU64; MASTER_RESERVED_WORDS],
}

impl MasterSlot {
    /// The master found a listen queue full (uWSGI counts one per socket per check).
    pub fn inc_listen_queue_errors(&self) {
        bump(&self.listen_queue_errors);
    }

    /// Times a listen queue was found full.
    pub fn listen_queue_errors(&self) -> u64 {
        self.listen_queue_errors.load(Relaxed)
    }

    /// Master: signals waiting for the first free worker, as it just measured.
    pub fn set_signal_queue(&self, n: u64) {
        self.signal_queue.store(n, Relaxed);
    }

    /// Signals waiting for the first free worker.
    pub fn signal_queue(&self) -> u64 {
        self.signal_queue.load(Relaxed)
    }

    /// Master: it delivered a signal to a worker's queue (`delivered`) or dropped it.
    pub fn count_signal(&self, delivered: bool) {
        bump(if delivered {
            &self.routed_signals
        } else {
            &self.unrouted_signals
        });
    }
}

/// One listening socket's accept-queue depth, as the master last measured it.
#[repr(C, align(64))]
#[derive(FromZeros)]
pub struct SocketSlot {
    queue: AtomicU64,
    reserved: [AtomicU64; SOCKET_RESERVED_WORDS],
}

impl SocketSlot {
    /// Master: the depth it just read from the kernel.
    pub fn set_queue(&self, depth: u64) {
        self.queue.store(depth, Relaxed);
    }

    /// The last measured depth.
    pub fn queue(&self) -> u64 {
        self.queue.load(Relaxed)
    }
}

macro_rules! worker_slot {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// Per-worker counters: one atomic per entry of `model::worker_counters!`.
        #[repr(C, align(64))]
        #[derive(FromZeros)]
        pub struct WorkerSlot {
            $($counter: AtomicU64,)*
            /// Room for a per-worker latency histogram (fixed buckets, atomic adds) and more.
            reserved: [AtomicU64; WORKER_RESERVED_WORDS],
        }

        impl WorkerSlot {
            /// Worker `id`'s counters (relaxed loads). `status` says idle and `apps`/`cores`
            /// are empty: they come from other slots ([`Scoreboard::snapshot`] fills them).
            pub fn stats(&self, id: u64) -> WorkerStats {
                WorkerStats {
                    id,
                    $($counter: self.$counter.load(Relaxed),)*
                    status: WorkerStatus::Idle,
                    ..Default::default()
                }
            }
        }
    };
}
worker_counters!(worker_slot);

macro_rules! core_slot {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// Per-core counters (one atomic per entry of `model::core_counters!`) and the
        /// in-flight request (start time + vars under a seqlock).
        #[repr(C, align(64))]
        #[derive(FromZeros)]
        pub struct CoreSlot {
            seq: AtomicU64,
            in_request: AtomicU64,
            request_start: AtomicU64,
            vars_len: AtomicU64,
            vars_truncated: AtomicU64,
            $($counter: AtomicU64,)*
            reserved: [AtomicU64; CORE_RESERVED_WORDS],
            /// Records `[klen u16 LE][vlen u16 LE][key][value]`, packed, little-endian words.
            vars: [AtomicU64; VARS_WORDS],
        }

        impl CoreSlot {
            /// Core `id`'s counters; the in-flight request is filled in by
            /// [`CoreSlot::stats`].
            pub fn counters(&self, id: u64) -> CoreStats {
                CoreStats {
                    id,
                    $($counter: self.$counter.load(Relaxed),)*
                    in_request: self.in_request.load(Relaxed),
                    vars: Vec::new(),
                    vars_unavailable: false,
                    request_start: None,
                }
            }
        }
    };
}
core_counters!(core_slot);

macro_rules! app_slot {
    ($($(#[$doc:meta])* $counter:ident,)*) => {
        /// Per-(worker, app) counters: one atomic per entry of `model::app_counters!`.
        #[repr(C, align(64))]
        #[derive(FromZeros)]
        pub struct AppSlot {
            $($counter: AtomicU64,)*
            reserved: [AtomicU64; APP_RESERVED_WORDS],
        }

        impl AppSlot {
            /// App `id`'s counters in this worker.
            pub fn stats(&self, id: u64) -> AppStats {
                AppStats {
                    id,
                    $($counter: self.$counter.load(Relaxed),)*
                    latency: Latency::default(),
                }
            }
        }
    };
}
app_counters!(app_slot);

/// Per-core response counters: one per status code, and the request bytes read. Single writer
/// (the core), so its counters are a load and a store.
#[repr(C, align(64))]
#[derive(FromZeros)]
pub struct ResponseSlot {
    request_bytes: AtomicU64,
    /// One bit per entry of `codes` that was ever counted, so a reader loads these few words
    /// and the counters of the codes seen instead of all of them (4 KB per core).
    seen: [AtomicU64; STATUS_SEEN_WORDS],
    /// Index `code - STATUS_MIN`; the last one counts every other code.
    codes: [AtomicU64; STATUS_SLOTS],
    reserved: [AtomicU64; RESPONSE_RESERVED_WORDS],
}

/// One core's request-duration histogram for one app: per-bucket (not cumulative) counts and
/// the sum of durations. Single writer (the core).
#[repr(C, align(64))]
#[derive(FromZeros)]
pub struct LatencySlot {
    buckets: [AtomicU64; LATENCY_SLOTS],
    sum_us: AtomicU64,
    reserved: [AtomicU64; LATENCY_RESERVED_WORDS],
}

/// One custom metric's value (uWSGI's `int64_t *value` in its shared array).
#[repr(C, align(64))]
#[derive(FromZeros)]
pub struct MetricSlot {
    value: AtomicI64,
    reserved: [AtomicU64; METRIC_RESERVED_WORDS],
}

impl MetricSlot {
    /// The current value.
    #[inline]
    pub fn get(&self) -> i64 {
        self.value.load(Relaxed)
    }

    /// Sets the value (the master's initial value and collectors).
    #[inline]
    pub fn set(&self, v: i64) {
        self.value.store(v, Relaxed);
    }

    /// `uwsgi.metric_*`: applies `op` with `n` atomically (`initial` is the metric's initial
    /// value, which [`MetricOp::SetMin`] compares with). Set, inc, dec and set_max are one
    /// atomic instruction; mul, div and set_min a compare-and-swap loop. `false` when
    /// refused (division by zero); a set_max/set_min that changes nothing is accepted.
    #[inline]
    pub fn update(&self, op: MetricOp, n: i64, initial: i64) -> bool {
        let v = &self.value;
        match op {
            MetricOp::Set => v.store(n, Relaxed),
            MetricOp::Inc => {
                v.fetch_add(n, Relaxed);
            }
            MetricOp::Dec => {
                v.fetch_sub(n, Relaxed);
            }
            MetricOp::SetMax => {
                v.fetch_max(n, Relaxed);
            }
            MetricOp::Div if n == 0 => return false,
            MetricOp::Mul | MetricOp::Div | MetricOp::SetMin => {
                // Err only means "unchanged": the update is done either way.
                let _ = v.fetch_update(Relaxed, Relaxed, |cur| apply_op(op, cur, n, initial));
            }
        }
        true
    }
}

const _: () = {
    assert!(size_of::<MetricSlot>() == 64);
    assert!(size_of::<ResponseSlot>() % 64 == 0);
    assert!(size_of::<LatencySlot>() % 64 == 0);
    assert!(size_of::<WorkerSlot>() % 64 == 0);
    assert!(size_of::<CoreSlot>() % 64 == 0);
    assert!(size_of::<AppSlot>() % 64 == 0);
    assert!(size_of::<SocketSlot>() % 64 == 0);
    assert!(size_of::<Header>() % 64 == 0);
    assert!(VARS_CAPACITY % 8 == 0);
};

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
    }

    // ---- worker side: state ----

    /// Worker is (not) accepting requests (`accepting`).
    pub fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting as u64, Relaxed);
    }

    /// Whether the worker is accepting requests (read by the master's chain reload).
    pub fn accepting(&self) -> bool {
        self.accepting.load(Relaxed) != 0
    }

    /// Current memory usage in bytes (uWSGI updates it after each request with --memory-report).
    pub fn set_memory(&self, rss: u64, vsz: u64) {
        self.rss.store(rss, Relaxed);
        self.vsz.store(vsz, Relaxed);
    }

    // ---- master side ----

    /// Before forking worker: what uWSGI's `uwsgi_respawn_worker` resets. `respawn_count` += 1
    /// (1 after the first spawn), `last_spawn` = now (unix s), accepting = 0, rss = vsz = 0,
    /// `delta_requests` = 0. Kept across respawns: requests, exceptions, tx, running_time,
    /// avg_rt and harakiri_count.
    pub fn prepare_spawn(&self, now_unix_s: u64) {
        self.accepting.store(0, Relaxed);
        self.respawn_count.fetch_add(1, Relaxed);
        self.last_spawn.store(now_unix_s, Relaxed);
        self.rss.store(0, Relaxed);
        self.vsz.store(0, Relaxed);
        self.delta_requests.store(0, Relaxed);
    }

    /// After fork, in the master: the pid of the new process.
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid as u64, Release);
    }

    /// The worker process is gone: pid = 0, not accepting.
    pub fn on_exit(&self) {
        self.pid.store(0, Relaxed);
        self.accepting.store(0, Relaxed);
        self.signal_running.store(0, Relaxed);
    }

    /// Master: the cheaper subsystem stopped (or is stopping) this worker, or spawns it again.
    pub fn set_cheap(&self, cheap: bool) {
        self.cheap.store(cheap as u64, Relaxed);
    }

    /// Worker: it ran a uWSGI signal's handler (any core: an atomic add).
    pub fn add_signal(&self) {
        self.signals.fetch_add(1, Relaxed);
    }

    /// Worker: the handler of signal `sig` starts (`Some`) or ended (`None`); the status
    /// reads `sig<N>` meanwhile.
    pub fn set_signal_running(&self, sig: Option<u8>) {
        self.signal_running
            .store(sig.map_or(0, |s| s as u64 + 1), Relaxed);
    }

    /// Master: signals queued for this worker, as it just measured.
    pub fn set_signal_queue(&self, n: u64) {
        self.signal_queue.store(n, Relaxed);
    }

    /// Master killed the worker for harakiri.
    pub fn inc_harakiri(&self) {
        self.harakiri_count.fetch_add(1, Relaxed);
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
}

/// Packs bytes into consecutive atomic words (little-endian), without a staging buffer.
///
/// Whole words are shifted into place rather than bytes: the vars are copied on every request,
/// and a byte loop for each unaligned key and value cost ~2,000 instructions per request.
struct WordWriter<'a> {
    words: &'a [AtomicU64],
    idx: usize,
    /// The bytes of the word being filled, in its low `fill` bytes.
    cur: u64,
    /// How many bytes of `cur` are filled (0..8).
    fill: usize,
}

impl WordWriter<'_> {
    #[inline]
    fn push(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.put(w, 8);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.put(load_short(rest), rest.len());
        }
    }

    /// Appends the low `n` bytes of `w` (1..=8; the bytes above them are zero).
    #[inline(always)]
    fn put(&mut self, w: u64, n: usize) {
        self.cur |= w << (8 * self.fill);
        let filled = self.fill + n;
        if filled < 8 {
            self.fill = filled;
            return;
        }
        self.words[self.idx].store(self.cur, Relaxed);
        self.idx += 1;
        // What of `w` did not fit in the stored word (nothing when it went in whole).
        self.cur = if self.fill == 0 {
            0
        } else {
            w >> (64 - 8 * self.fill)
        };
        self.fill = filled - 8;
    }

    #[inline]
    fn finish(self) {
        if self.fill != 0 {
            self.words[self.idx].store(self.cur, Relaxed);
        }
    }
}

/// The 1..8 bytes of `b` as a little-endian word, in two overlapping loads instead of a
/// `memcpy` call (a short copy is what every unaligned var ends with).
#[inline(always)]
fn load_short(b: &[u8]) -> u64 {
    let n = b.len();
    match n {
        0 => 0,
        1 => u64::from(b[0]),
        2..=3 => {
            let lo = u64::from(u16::from_le_bytes([b[0], b[1]]));
            let hi = u64::from(u16::from_le_bytes([b[n - 2], b[n - 1]]));
            lo | hi << (8 * (n - 2))
        }
        _ => {
            let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
            lo | hi << (8 * (n - 4))
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
            w.put(k.len() as u64 | (vl as u64) << 16, 4);
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

    /// A static file was served.
    #[inline]
    pub fn add_static_request(&self) {
        bump(&self.static_requests);
    }
    /// A static file's transfer was handed to the event loop.
    #[inline]
    pub fn add_offloaded_request(&self) {
        bump(&self.offloaded_requests);
    }
    /// The routing rules answered a request themselves.
    #[inline]
    pub fn add_routed_request(&self) {
        bump(&self.routed_requests);
    }

    /// The core (or the master, clearing it) sets its `uwsgi.set_user_harakiri` deadline
    /// (Unix seconds, 0: none).
    pub fn set_user_harakiri(&self, deadline: u64) {
        self.user_harakiri.store(deadline, Relaxed);
    }

    /// The core's user harakiri deadline (0: none).
    pub fn user_harakiri(&self) -> u64 {
        self.user_harakiri.load(Relaxed)
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

    /// Core `id`'s counters and, while it is in a request, the request's start and vars
    /// (copied under the seqlock, shown as `vars` allows).
    pub fn stats(&self, id: u64, vars: &VarsPolicy) -> CoreStats {
        let mut cs = self.counters(id);
        if cs.in_request == 0 {
            return cs;
        }
        match self.read_request() {
            Some(r) if r.in_request => {
                cs.in_request = 1;
                cs.request_start = Some(r.request_start);
                cs.vars = r
                    .vars()
                    .filter_map(|(key, val)| vars.line(key, val))
                    .collect();
            }
            // The request ended between the two reads.
            Some(_) => cs.in_request = 0,
            // No stable copy (writer too busy): the request, its vars marked unknown (unless
            // no vars are shown anyway).
            None => {
                cs.request_start = Some(self.request_start());
                cs.vars_unavailable = !matches!(vars, VarsPolicy::Off);
            }
        }
        cs
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
}

/// The slot index of `status`.
#[inline]
fn status_index(status: u16) -> usize {
    if (STATUS_MIN..=STATUS_MAX).contains(&status) {
        (status - STATUS_MIN) as usize
    } else {
        STATUS_SLOTS - 1
    }
}

/// The status code counted at slot index `idx` ([`STATUS_OTHER`] for the last).
fn status_of_index(idx: usize) -> u16 {
    if idx + 1 >= STATUS_SLOTS {
        STATUS_OTHER
    } else {
        STATUS_MIN + idx as u16
    }
}

/// The bucket a request of `rt_us` microseconds falls in (the last one is `+Inf`).
#[inline]
pub fn latency_bucket(rt_us: u64) -> usize {
    LATENCY_BUCKETS_US.partition_point(|&bound| bound < rt_us)
}

impl ResponseSlot {
    /// A response with `status` went out for a request of `request_bytes` bytes. Single writer.
    #[inline]
    pub fn record(&self, status: u16, request_bytes: u64) {
        let idx = status_index(status);
        bump(&self.codes[idx]);
        // Single writer: a bit once set stays set, so a load and a rarely taken store.
        let (word, bit) = (&self.seen[idx / 64], 1u64 << (idx % 64));
        let seen = word.load(Relaxed);
        if seen & bit == 0 {
            word.store(seen | bit, Relaxed);
        }
        let b = &self.request_bytes;
        b.store(b.load(Relaxed).wrapping_add(request_bytes), Relaxed);
    }

    /// Request bytes read on this core.
    pub fn request_bytes(&self) -> u64 {
        self.request_bytes.load(Relaxed)
    }

    /// Responses sent with `status` (any code outside `STATUS_MIN..=STATUS_MAX` reads the
    /// shared "other" counter).
    pub fn count(&self, status: u16) -> u64 {
        self.codes[status_index(status)].load(Relaxed)
    }

    /// Adds the counts of the codes this slot has seen into `into`, which stays ordered like
    /// the slot (codes up, the "other" code last).
    fn add_codes_into(&self, into: &mut Vec<StatusCount>) {
        for (w, word) in self.seen.iter().enumerate() {
            let mut bits = word.load(Relaxed);
            while bits != 0 {
                let idx = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let Some(count) = self.codes.get(idx).map(|c| c.load(Relaxed)) else {
                    continue;
                };
                let code = status_of_index(idx);
                let key = |s: &StatusCount| status_index(s.code);
                match into.binary_search_by_key(&idx, key) {
                    Ok(i) => into[i].count += count,
                    Err(i) => into.insert(i, StatusCount { code, count }),
                }
            }
        }
    }
}

impl LatencySlot {
    /// A request took `rt_us` microseconds. Single writer.
    #[inline]
    pub fn observe(&self, rt_us: u64) {
        bump(&self.buckets[latency_bucket(rt_us)]);
        self.sum_us
            .store(self.sum_us.load(Relaxed).wrapping_add(rt_us), Relaxed);
    }

    /// Adds this slot into `into`.
    fn add_into(&self, into: &mut Latency) {
        for (sum, b) in into.buckets.iter_mut().zip(&self.buckets) {
            *sum += b.load(Relaxed);
        }
        into.sum_us += self.sum_us.load(Relaxed);
    }
}

/// Owns the shared mapping. Create it in the master before forking; children inherit it.
pub struct Scoreboard {
    mapping: SharedMapping,
    layout: Layout,
    header: Region<HeaderSlot>,
    sockets: Region<SocketSlot>,
    workers: Region<WorkerSlot>,
    cores: Region<CoreSlot>,
    apps: Region<AppSlot>,
    responses: Region<ResponseSlot>,
    latencies: Region<LatencySlot>,
    metrics: Region<MetricSlot>,
}

impl fmt::Debug for Scoreboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoreboard")
            .field("layout", &self.layout)
            .field("size", &self.mapping.len())
            .finish()
    }
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
        if layout.sockets > MAX_SOCKETS {
            return Err(bad("too many sockets"));
        }
        if layout.metrics > MAX_METRICS {
            return Err(bad("too many metrics"));
        }
        let too_big = || bad("mapping size overflows");
        let total_cores = layout.total_cores().ok_or_else(too_big)?;
        let mut plan = SharedLayout::new();
        let header = plan.array(1).ok_or_else(too_big)?;
        let sockets = plan.array(layout.sockets).ok_or_else(too_big)?;
        let workers = plan.array(layout.workers).ok_or_else(too_big)?;
        let cores = plan.array(total_cores).ok_or_else(too_big)?;
        let apps = layout
            .workers
            .checked_mul(layout.apps)
            .and_then(|n| plan.array(n))
            .ok_or_else(too_big)?;
        let responses = plan.array(total_cores).ok_or_else(too_big)?;
        let latencies = total_cores
            .checked_mul(layout.apps)
            .and_then(|n| plan.array(n))
            .ok_or_else(too_big)?;
        let metrics = plan.array(layout.metrics).ok_or_else(too_big)?;
        let size = plan.len();
        let mapping = plan
            .map()
            .map_err(|source| ScoreboardError::Mmap { size, source })?;
        let sb = Scoreboard {
            mapping,
            layout,
            header,
            sockets,
            workers,
            cores,
            apps,
            responses,
            latencies,
            metrics,
        };
        // Nobody else sees the mapping yet (no fork since it was made); every slot is zero.
        sb.header_slot().store(&Header {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            header_size: size_of::<HeaderSlot>() as u32,
            workers: layout.workers as u32,
            cores: layout.cores as u32,
            apps: layout.apps as u32,
            sockets: layout.sockets as u32,
            metrics: layout.metrics as u32,
            metric_slot_size: size_of::<MetricSlot>() as u32,
            worker_slot_size: size_of::<WorkerSlot>() as u32,
            core_slot_size: size_of::<CoreSlot>() as u32,
            app_slot_size: size_of::<AppSlot>() as u32,
            socket_slot_size: size_of::<SocketSlot>() as u32,
            response_slot_size: size_of::<ResponseSlot>() as u32,
            latency_slot_size: size_of::<LatencySlot>() as u32,
            sockets_offset: sockets.offset() as u64,
            workers_offset: workers.offset() as u64,
            cores_offset: cores.offset() as u64,
            apps_offset: apps.offset() as u64,
            responses_offset: responses.offset() as u64,
            latencies_offset: latencies.offset() as u64,
            metrics_offset: metrics.offset() as u64,
            total_size: sb.mapping.len() as u64,
        });
        sb.verify()?;
        Ok(sb)
    }

    /// The layout this scoreboard was made for.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The header at the start of the mapping (a copy of its fields).
    pub fn header(&self) -> Header {
        self.header_slot().load()
    }

    #[inline]
    fn header_slot(&self) -> &HeaderSlot {
        &self.mapping.get(&self.header)[0]
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
        if h.header_size as usize != size_of::<HeaderSlot>() {
            return Err(ScoreboardError::BadHeader("header size"));
        }
        if h.worker_slot_size as usize != size_of::<WorkerSlot>()
            || h.core_slot_size as usize != size_of::<CoreSlot>()
            || h.app_slot_size as usize != size_of::<AppSlot>()
            || h.socket_slot_size as usize != size_of::<SocketSlot>()
            || h.response_slot_size as usize != size_of::<ResponseSlot>()
            || h.latency_slot_size as usize != size_of::<LatencySlot>()
            || h.metric_slot_size as usize != size_of::<MetricSlot>()
        {
            return Err(ScoreboardError::BadHeader("slot sizes"));
        }
        if h.workers as usize != self.layout.workers
            || h.cores as usize != self.layout.cores
            || h.apps as usize != self.layout.apps
            || h.sockets as usize != self.layout.sockets
            || h.metrics as usize != self.layout.metrics
        {
            return Err(ScoreboardError::BadHeader("layout"));
        }
        Ok(())
    }

    /// The master's own counters (in the header).
    #[inline]
    pub fn master(&self) -> &MasterSlot {
        &self.header_slot().master
    }

    /// Socket `idx` (0-based, in binding order). Panics when out of range.
    pub fn socket(&self, idx: usize) -> &SocketSlot {
        assert!(
            idx < self.layout.sockets,
            "socket {idx} out of 0..{}",
            self.layout.sockets
        );
        &self.mapping.get(&self.sockets)[idx]
    }

    /// Worker `wid`. Panics if `wid` > workers.
    #[inline]
    pub fn worker(&self, wid: WorkerId) -> &WorkerSlot {
        assert!(
            wid.get() <= self.layout.workers,
            "worker id {wid} out of 1..={}",
            self.layout.workers
        );
        &self.mapping.get(&self.workers)[wid.index()]
    }

    /// Core `core` (0-based) of worker `wid`. Panics when out of range.
    #[inline]
    pub fn core(&self, wid: WorkerId, core: usize) -> &CoreSlot {
        assert!(
            wid.get() <= self.layout.workers && core < self.layout.cores,
            "core ({wid}, {core}) out of (1..={}, 0..{})",
            self.layout.workers,
            self.layout.cores
        );
        let idx = wid.index() * self.layout.cores + core;
        &self.mapping.get(&self.cores)[idx]
    }

    /// App `app` (0-based) of worker `wid`. Panics when out of range.
    #[inline]
    pub fn app(&self, wid: WorkerId, app: usize) -> &AppSlot {
        self.try_app(wid, app).unwrap_or_else(|| {
            panic!(
                "app ({wid}, {app}) out of (1..={}, 0..{})",
                self.layout.workers, self.layout.apps
            )
        })
    }

    /// App or `None` when out of range (a worker may load more apps than the scoreboard
    /// reports).
    #[inline]
    pub fn try_app(&self, wid: WorkerId, app: usize) -> Option<&AppSlot> {
        if wid.get() > self.layout.workers || app >= self.layout.apps {
            return None;
        }
        let idx = wid.index() * self.layout.apps + app;
        self.mapping.get(&self.apps).get(idx)
    }

    /// The response counters of core `core` (0-based) of worker `wid`. Panics when out of
    /// range.
    #[inline]
    pub fn responses(&self, wid: WorkerId, core: usize) -> &ResponseSlot {
        assert!(
            wid.get() <= self.layout.workers && core < self.layout.cores,
            "core ({wid}, {core}) out of (1..={}, 0..{})",
            self.layout.workers,
            self.layout.cores
        );
        let idx = wid.index() * self.layout.cores + core;
        &self.mapping.get(&self.responses)[idx]
    }

    /// The latency histogram of app `app` on core `core` of worker `wid`, or `None` when out
    /// of range (like [`try_app`](Self::try_app)).
    #[inline]
    pub fn try_latency(&self, wid: WorkerId, core: usize, app: usize) -> Option<&LatencySlot> {
        let l = &self.layout;
        if wid.get() > l.workers || core >= l.cores || app >= l.apps {
            return None;
        }
        let idx = (wid.index() * l.cores + core) * l.apps + app;
        self.mapping.get(&self.latencies).get(idx)
    }

    /// Custom metric `idx` (0-based, in `--metric` order), or `None` when out of range.
    #[inline]
    pub fn try_metric(&self, idx: usize) -> Option<&MetricSlot> {
        if idx >= self.layout.metrics {
            return None;
        }
        self.mapping.get(&self.metrics).get(idx)
    }

    /// Master, before forking worker `wid`: [`WorkerSlot::prepare_spawn`] plus clearing the
    /// cores' in-flight requests (uWSGI resets them in the new child).
    pub fn prepare_spawn(&self, wid: WorkerId, now_unix_s: u64) {
        self.worker(wid).prepare_spawn(now_unix_s);
        for c in 0..self.layout.cores {
            self.core(wid, c).clear_request();
            self.core(wid, c).set_user_harakiri(0);
        }
    }

    /// Master: worker `wid` exited. [`WorkerSlot::on_exit`] plus clearing its cores' requests.
    pub fn on_exit(&self, wid: WorkerId) {
        self.worker(wid).on_exit();
        for c in 0..self.layout.cores {
            self.core(wid, c).clear_request();
        }
    }

    /// Status of worker `wid` as uWSGI would report it: cheap while the cheaper subsystem keeps
    /// it stopped (even while it finishes its last requests), else `sig<N>` while it runs
    /// signal N's handler, else busy while any core is in a request.
    pub fn worker_status(&self, wid: WorkerId) -> WorkerStatus {
        let signal = self.worker(wid).signal_running.load(Relaxed);
        if self.worker(wid).cheap.load(Relaxed) != 0 {
            WorkerStatus::Cheap
        } else if signal != 0 {
            WorkerStatus::Sig((signal - 1) as u8)
        } else if (0..self.layout.cores).any(|i| self.core(wid, i).in_request()) {
            WorkerStatus::Busy
        } else {
            WorkerStatus::Idle
        }
    }

    /// Read every slot (relaxed loads; request vars under the seqlock) into a snapshot that
    /// carries `master`'s static facts. Only loads: any number of readers may call it. Leaves
    /// out what only the Prometheus metrics show (see
    /// [`snapshot_with_metrics`](Self::snapshot_with_metrics)): the JSON and the pushers do
    /// not pay for reading it.
    pub fn snapshot(&self, master: &MasterInfo) -> StatsSnapshot {
        self.read_snapshot(master, true, false)
    }

    /// Everything: [`snapshot`](Self::snapshot) plus what
    /// [`snapshot_with_metrics`](Self::snapshot_with_metrics) adds (the stats JSON shows the
    /// latency histogram and status counts under its `rwsgi` key).
    pub fn snapshot_full(&self, master: &MasterInfo) -> StatsSnapshot {
        self.read_snapshot(master, true, true)
    }

    /// [`snapshot`](Self::snapshot) plus the response and latency slots and the busy cores
    /// (`WorkerStats::{busy_cores, request_bytes, responses}`, `AppStats::latency`), less the
    /// cores' request vars and start times (no metric shows them).
    pub fn snapshot_with_metrics(&self, master: &MasterInfo) -> StatsSnapshot {
        self.read_snapshot(master, false, true)
    }

    fn read_snapshot(&self, master: &MasterInfo, vars: bool, metrics: bool) -> StatsSnapshot {
        let layout = self.layout;
        let metric_cores = if metrics { layout.cores } else { 0 };
        let napps = master.apps.len().min(layout.apps);
        let workers = WorkerId::all(layout.workers)
            .map(|wid| {
                let mut w = self.worker(wid).stats(wid.get() as u64);
                w.apps = (0..napps)
                    .map(|j| {
                        let mut app = self.app(wid, j).stats(j as u64);
                        for c in 0..metric_cores {
                            if let Some(l) = self.try_latency(wid, c, j) {
                                l.add_into(&mut app.latency);
                            }
                        }
                        app
                    })
                    .collect();
                for c in 0..metric_cores {
                    let r = self.responses(wid, c);
                    r.add_codes_into(&mut w.responses);
                    w.request_bytes += r.request_bytes();
                    w.busy_cores += self.core(wid, c).in_request() as u64;
                }
                if master.include_cores {
                    w.cores = (0..layout.cores)
                        .map(|i| {
                            let core = self.core(wid, i);
                            // The metrics show no request vars: skip their seqlock copies.
                            if vars {
                                core.stats(i as u64, &master.vars)
                            } else {
                                core.counters(i as u64)
                            }
                        })
                        .collect();
                    w.status = if w.cheap != 0 {
                        WorkerStatus::Cheap
                    } else if w.signal_running != 0 {
                        WorkerStatus::Sig((w.signal_running - 1) as u8)
                    } else if w.cores.iter().any(|c| c.in_request != 0) {
                        WorkerStatus::Busy
                    } else {
                        WorkerStatus::Idle
                    };
                } else {
                    w.status = self.worker_status(wid);
                }
                w
            })
            .collect();
        StatsSnapshot {
            master: master.clone(),
            listen_queue_errors: self.master().listen_queue_errors(),
            signal_queue: self.master().signal_queue(),
            routed_signals: self.master().routed_signals.load(Relaxed),
            unrouted_signals: self.master().unrouted_signals.load(Relaxed),
            lock_holders: Vec::new(),
            sockets: (0..layout.sockets.min(master.sockets.len()))
                .map(|i| SocketStats {
                    queue: self.socket(i).queue(),
                })
                .collect(),
            workers,
            metric_values: (0..layout.metrics)
                .filter_map(|i| self.try_metric(i).map(MetricSlot::get))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worker `n` (1-based).
    fn wid(n: usize) -> WorkerId {
        WorkerId::new(n).expect("worker ids are 1-based")
    }
    use crate::model::AppInfo;

    fn sb() -> Scoreboard {
        Scoreboard::new(Layout {
            workers: 2,
            cores: 2,
            apps: 1,
            sockets: 2,
            metrics: 0,
        })
        .unwrap()
    }

    fn layout(workers: usize, cores: usize, apps: usize) -> Layout {
        Layout {
            workers,
            cores,
            apps,
            sockets: 0,
            metrics: 0,
        }
    }

    #[test]
    fn layout_errors() {
        assert!(Scoreboard::new(layout(0, 1, 1)).is_err());
        assert!(Scoreboard::new(layout(1, 0, 1)).is_err());
        assert!(Scoreboard::new(Layout {
            sockets: MAX_SOCKETS + 1,
            metrics: 0,
            ..layout(1, 1, 1)
        })
        .is_err());
        let s = Scoreboard::new(layout(1, 1, 0)).unwrap();
        assert!(s.try_app(wid(1), 0).is_none());
    }

    #[test]
    fn header_is_versioned() {
        let s = sb();
        let h = s.header();
        assert_eq!(h.magic, MAGIC);
        assert_eq!(h.version, LAYOUT_VERSION);
        assert_eq!(h.header_size as usize, size_of::<HeaderSlot>());
        assert_eq!(h.workers, 2);
        assert_eq!(h.sockets, 2);
        assert_eq!(h.core_slot_size as usize, size_of::<CoreSlot>());
        assert_eq!(h.socket_slot_size as usize, size_of::<SocketSlot>());
        assert!(h.sockets_offset as usize >= size_of::<HeaderSlot>());
        assert!(h.total_size as usize <= s.mapping.len());
        s.verify().unwrap();
    }

    #[test]
    fn slots_are_distinct() {
        let s = sb();
        s.worker(wid(1)).request_done(10, 5, false);
        assert_eq!(s.worker(wid(1)).requests(), 1);
        assert_eq!(s.worker(wid(2)).requests(), 0);
        s.core(wid(2), 1).end_request();
        assert_eq!(s.core(wid(2), 1).requests(), 1);
        assert_eq!(s.core(wid(2), 0).requests(), 0);
        assert_eq!(s.core(wid(1), 1).requests(), 0);
        s.socket(1).set_queue(7);
        assert_eq!((s.socket(0).queue(), s.socket(1).queue()), (0, 7));
        s.master().inc_listen_queue_errors();
        assert_eq!(s.master().listen_queue_errors(), 1);
        // The master slot lives in the header, before every slot array.
        assert_eq!(s.worker(wid(1)).requests(), 1);
        assert_eq!(s.socket(0).queue(), 0);
    }

    #[test]
    fn static_and_offloaded_requests_are_counted_per_core() {
        let s = sb();
        s.core(wid(1), 0).add_static_request();
        s.core(wid(1), 0).add_static_request();
        s.core(wid(1), 0).add_offloaded_request();
        let c = s.core(wid(1), 0).stats(0, &VarsPolicy::Full);
        assert_eq!((c.static_requests, c.offloaded_requests), (2, 1));
        assert_eq!(
            s.core(wid(2), 0)
                .stats(0, &VarsPolicy::Full)
                .static_requests,
            0
        );
    }

    #[test]
    #[should_panic]
    fn worker_zero_panics() {
        sb().worker(wid(0));
    }

    #[test]
    #[should_panic]
    fn worker_past_the_end_panics() {
        sb().worker(wid(3));
    }

    #[test]
    #[should_panic]
    fn core_past_the_end_panics() {
        sb().core(wid(1), 2);
    }

    #[test]
    #[should_panic]
    fn socket_past_the_end_panics() {
        sb().socket(2);
    }

    #[test]
    fn avg_rt_matches_uwsgi_formula() {
        let s = sb();
        let w = s.worker(wid(1));
        let mut avg = 0u64;
        let mut total = 0;
        for rt in [100u64, 50, 300, 7, 0, 1000] {
            w.request_done(rt, 11, rt == 7);
            avg = (avg + rt) / 2;
            total += rt;
        }
        let c = w.stats(1);
        assert_eq!(c.avg_rt, avg);
        assert_eq!(c.running_time, total);
        assert_eq!(c.tx, 66);
        assert_eq!(c.exceptions, 1);
        assert_eq!(c.requests, 6);
        assert_eq!(c.delta_requests, 6);
    }

    #[test]
    fn spawn_resets_like_uwsgi() {
        let s = sb();
        s.prepare_spawn(wid(1), 1000);
        s.worker(wid(1)).set_pid(42);
        let w = s.worker(wid(1));
        w.set_accepting(true);
        w.request_done(10, 10, true);
        w.set_memory(1, 2);
        w.inc_harakiri();
        s.core(wid(1), 0).begin_request(5, [(&b"A"[..], &b"1"[..])]);
        s.on_exit(wid(1));
        assert_eq!(w.pid(), 0);
        assert!(!s.core(wid(1), 0).in_request());
        s.prepare_spawn(wid(1), 2000);
        w.set_pid(43);
        let c = w.stats(1);
        assert_eq!(c.respawn_count, 2);
        assert_eq!(c.last_spawn, 2000);
        assert_eq!(c.delta_requests, 0);
        assert_eq!(c.requests, 1);
        assert_eq!(c.exceptions, 1);
        assert_eq!(c.harakiri_count, 1);
        assert_eq!((c.rss, c.vsz), (0, 0));
        assert_eq!(c.accepting, 0);
        assert_eq!(c.pid, 43);
    }

    #[test]
    fn status_is_busy_while_a_core_is_in_a_request() {
        use WorkerStatus::*;
        let s = sb();
        assert_eq!(s.worker_status(wid(1)), Idle);
        s.core(wid(1), 1).begin_request(1, std::iter::empty());
        assert_eq!(s.worker_status(wid(1)), Busy);
        assert_eq!(s.worker_status(wid(2)), Idle);
        s.core(wid(1), 1).end_request();
        assert_eq!(s.worker_status(wid(1)), Idle);
    }

    #[test]
    fn status_is_sig_n_while_a_signal_handler_runs_and_signals_count() {
        use WorkerStatus::*;
        let s = sb();
        s.core(wid(1), 0).begin_request(1, std::iter::empty());
        s.worker(wid(1)).set_signal_running(Some(17));
        assert_eq!(s.worker_status(wid(1)), Sig(17));
        let info = MasterInfo::default();
        assert_eq!(s.snapshot(&info).workers[0].status, Sig(17));
        s.worker(wid(1)).set_signal_running(None);
        s.worker(wid(1)).add_signal();
        s.worker(wid(2)).set_signal_queue(3);
        s.master().set_signal_queue(2);
        s.master().count_signal(true);
        s.master().count_signal(false);
        assert_eq!(s.worker_status(wid(1)), Busy);
        let snap = s.snapshot(&info);
        assert_eq!(snap.workers[0].signals, 1);
        assert_eq!(snap.workers[1].signal_queue, 3);
        assert_eq!(
            (
                snap.signal_queue,
                snap.routed_signals,
                snap.unrouted_signals
            ),
            (2, 1, 1)
        );
        // A worker that died in a handler does not stay `sig17`.
        s.worker(wid(2)).set_signal_running(Some(17));
        s.on_exit(wid(2));
        assert_eq!(s.worker_status(wid(2)), Idle);
    }

    #[test]
    fn load_short_matches_a_padded_copy() {
        let src = [1u8, 2, 3, 4, 5, 6, 7, 8];
        for n in 0..8 {
            let mut padded = [0u8; 8];
            padded[..n].copy_from_slice(&src[..n]);
            assert_eq!(
                load_short(&src[..n]),
                u64::from_le_bytes(padded),
                "{n} bytes"
            );
        }
    }

    proptest::proptest! {
        /// Any vars, of any lengths and alignments, read back as written (up to the capacity).
        #[test]
        fn vars_roundtrip_any_alignment(
            vars in proptest::collection::vec(
                (proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                0..30,
            )
        ) {
            let s = sb();
            let c = s.core(wid(1), 0);
            // A dirty slot first: leftovers of a longer request must not leak into this one.
            let junk = vec![0xAAu8; VARS_CAPACITY];
            c.begin_request(1, [(&b"J"[..], &junk[..])]);
            c.begin_request(2, vars.iter().map(|(k, v)| (&k[..], &v[..])));
            let r = c.read_request().unwrap();
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                r.vars().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            let total: usize = vars.iter().map(|(k, v)| 4 + k.len() + v.len()).sum();
            if total <= VARS_CAPACITY {
                proptest::prop_assert!(!r.truncated);
                proptest::prop_assert_eq!(got, vars);
            } else {
                proptest::prop_assert!(r.truncated);
                // Every var but the last one read back is whole; the last may be cut.
                let n = got.len();
                for (i, (g, v)) in got.iter().zip(&vars).enumerate() {
                    proptest::prop_assert_eq!(&g.0, &v.0);
                    if i + 1 < n {
                        proptest::prop_assert_eq!(&g.1, &v.1);
                    } else {
                        proptest::prop_assert!(v.1.starts_with(&g.1));
                    }
                }
            }
        }
    }

    #[test]
    fn a_cheap_worker_reads_cheap_with_its_counters_kept() {
        let s = sb();
        s.prepare_spawn(wid(1), 10);
        s.worker(wid(1)).set_pid(42);
        s.worker(wid(1)).request_done(5, 100, false);
        s.worker(wid(1)).set_cheap(true);
        // cheap wins over busy: a cheaped worker finishing its last request is cheap
        s.core(wid(1), 0).begin_request(1, std::iter::empty());
        assert_eq!(s.worker_status(wid(1)), WorkerStatus::Cheap);
        s.on_exit(wid(1));
        for snap in [
            s.snapshot(&MasterInfo::default()),
            s.snapshot(&MasterInfo {
                include_cores: false,
                ..Default::default()
            }),
        ] {
            let w = &snap.workers[0];
            assert_eq!(w.status, WorkerStatus::Cheap);
            assert_eq!((w.pid, w.accepting, w.requests, w.tx), (0, 0, 1, 100));
            assert_eq!(snap.workers[1].status, WorkerStatus::Idle);
        }
        s.worker(wid(1)).set_cheap(false);
        assert_eq!(s.worker_status(wid(1)), WorkerStatus::Idle);
    }

    #[test]
    fn vars_roundtrip_and_truncation() {
        let s = sb();
        let c = s.core(wid(1), 0);
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
        let c = s.core(wid(2), 0);
        c.add_write_errors(3);
        c.add_read_errors(4);
        c.end_request();
        let k = c.stats(0, &VarsPolicy::Full);
        assert_eq!((k.requests, k.write_errors, k.read_errors), (1, 3, 4));
        assert_eq!((k.in_request, k.request_start), (0, None));
    }

    #[test]
    fn app_counters() {
        let s = sb();
        let a = s.app(wid(1), 0);
        a.request_begin();
        a.request_done(false);
        a.request_begin();
        a.request_done(true);
        let st = a.stats(0);
        assert_eq!((st.requests, st.exceptions), (2, 1));
    }

    #[test]
    fn snapshot_reads_slots() {
        let sb = Scoreboard::new(Layout {
            workers: 2,
            cores: 2,
            apps: 2,
            sockets: 1,
            metrics: 0,
        })
        .unwrap();
        for id in WorkerId::all(2) {
            sb.prepare_spawn(id, 100);
            sb.worker(id).set_pid(1000 + id.get() as u32);
        }
        sb.worker(wid(2)).request_done(100, 50, true);
        sb.app(wid(2), 0).request_begin();
        sb.app(wid(2), 0).request_done(true);
        sb.core(wid(2), 1)
            .begin_request(123, [(&b"PATH_INFO"[..], &b"/\xff"[..])]);
        sb.socket(0).set_queue(4);
        sb.master().inc_listen_queue_errors();
        let master = MasterInfo {
            version: "2.0.31".into(),
            apps: vec![AppInfo::default()],
            sockets: vec![Default::default()],
            ..Default::default()
        };
        let s = sb.snapshot(&master);
        assert_eq!(s.master, master, "the master's facts, whole");
        assert_eq!(s.workers.len(), 2);
        assert_eq!(s.master.locks.len(), 8);
        assert_eq!(s.listen_queue_errors, 1);
        assert_eq!(s.listen_queue(), 4);
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
        assert_eq!(s.workers[1].status, WorkerStatus::Busy);
    }

    #[test]
    fn a_core_whose_writer_never_pauses_shows_its_vars_as_unavailable() {
        let sb = sb();
        let c = sb.core(wid(1), 0);
        c.begin_request(42, [(&b"PATH_INFO"[..], &b"/busy"[..])]);
        // The writer is in its next update and never leaves it: no stable copy exists.
        let odd = c.write_begin();
        let cs = c.stats(0, &VarsPolicy::Full);
        assert_eq!(cs.in_request, 1);
        assert_eq!(cs.request_start, Some(42));
        assert!(cs.vars.is_empty());
        assert!(
            cs.vars_unavailable,
            "empty vars must be marked unknown: {cs:?}"
        );
        // With no vars shown at all, there is nothing to mark.
        assert!(!c.stats(0, &VarsPolicy::Off).vars_unavailable);
        let info = MasterInfo {
            apps: vec![AppInfo::default()],
            sockets: vec![Default::default(), Default::default()],
            include_cores: true,
            ..Default::default()
        };
        let json = crate::json::render_uwsgi_vec(&sb.snapshot(&info), Default::default());
        let v: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        let core = &v["workers"][0]["cores"][0];
        assert_eq!(core["in_request"], 1, "{core}");
        assert_eq!(core["vars_unavailable"], 1, "{core}");
        assert_eq!(core["vars"], serde_json::json!([]), "{core}");
        assert!(
            v["workers"][0]["cores"][1]
                .get("vars_unavailable")
                .is_none(),
            "only on the core that could not be read"
        );
        // Once the writer pauses, the vars are back and the mark is gone.
        c.write_end(odd);
        let cs = c.stats(0, &VarsPolicy::Full);
        assert_eq!(cs.vars, vec!["PATH_INFO=/busy".to_string()]);
        assert!(!cs.vars_unavailable);
    }

    #[test]
    fn every_read_under_a_busy_writer_is_coherent() {
        let sb = std::sync::Arc::new(sb());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (sb, stop) = (sb.clone(), stop.clone());
            std::thread::spawn(move || {
                // Back-to-back requests, bounded in count; each carries its own number.
                for i in 0..2_000_000u64 {
                    if stop.load(Relaxed) {
                        break;
                    }
                    let n = i.to_string();
                    sb.core(wid(1), 0).begin_request(
                        i,
                        [(&b"N"[..], n.as_bytes()), (&b"PAD"[..], &[b'p'; 600][..])],
                    );
                    sb.core(wid(1), 0).end_request();
                }
            })
        };
        let c = sb.core(wid(1), 0);
        for _ in 0..20_000 {
            let cs = c.stats(0, &VarsPolicy::Full);
            if cs.in_request == 0 {
                assert!(cs.vars.is_empty() && !cs.vars_unavailable, "{cs:?}");
            } else if cs.vars_unavailable {
                assert!(cs.vars.is_empty(), "{cs:?}");
            } else {
                // A whole copy of one request: its number is its start time.
                let start = cs.request_start.expect("a request has a start");
                assert_eq!(cs.vars.len(), 2, "{cs:?}");
                assert_eq!(cs.vars[0], format!("N={start}"));
            }
        }
        stop.store(true, Relaxed);
        writer.join().unwrap();
    }

    #[test]
    fn latency_buckets_are_upper_bounds() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(5_000), 0, "a bound is inclusive (le)");
        assert_eq!(latency_bucket(5_001), 1);
        assert_eq!(latency_bucket(10_000_000), LATENCY_SLOTS - 2);
        assert_eq!(latency_bucket(10_000_001), LATENCY_SLOTS - 1, "+Inf");
    }

    #[test]
    fn responses_and_latency_reach_the_snapshot_summed_over_cores() {
        let sb = sb();
        sb.responses(wid(1), 0).record(200, 10);
        sb.responses(wid(1), 1).record(200, 5);
        sb.responses(wid(1), 1).record(404, 0);
        sb.responses(wid(1), 1).record(999, 0);
        sb.responses(wid(2), 0).record(500, 1);
        sb.try_latency(wid(1), 0, 0).unwrap().observe(3_000);
        sb.try_latency(wid(1), 1, 0).unwrap().observe(20_000_000);
        assert!(sb.try_latency(wid(1), 2, 0).is_none());
        assert!(sb.try_latency(wid(1), 0, 1).is_none());
        sb.core(wid(1), 1).begin_request(1, std::iter::empty());
        let info = MasterInfo {
            apps: vec![AppInfo::default()],
            include_cores: false,
            ..Default::default()
        };
        assert_eq!(
            sb.snapshot(&info).workers[0].responses,
            vec![],
            "not read for JSON"
        );
        let s = sb.snapshot_with_metrics(&info);
        let w1 = &s.workers[0];
        let codes: Vec<(u16, u64)> = w1.responses.iter().map(|r| (r.code, r.count)).collect();
        assert_eq!(codes, vec![(200, 2), (404, 1), (STATUS_OTHER, 1)]);
        assert_eq!(w1.request_bytes, 15);
        assert_eq!(w1.busy_cores, 1, "counted without include_cores");
        let lat = w1.apps[0].latency;
        assert_eq!((lat.buckets[0], lat.buckets[LATENCY_SLOTS - 1]), (1, 1));
        assert_eq!((lat.count(), lat.sum_us), (2, 20_003_000));
        assert_eq!(
            s.workers[1].responses,
            vec![StatusCount {
                code: 500,
                count: 1
            }]
        );
        assert_eq!(sb.responses(wid(1), 1).count(404), 1);
    }

    #[test]
    fn metric_slots_are_shared_atomics() {
        let sb = Scoreboard::new(Layout {
            metrics: 3,
            ..layout(1, 1, 1)
        })
        .unwrap();
        assert_eq!(sb.header().metrics, 3);
        assert!(sb.try_metric(3).is_none());
        let m = sb.try_metric(1).unwrap();
        m.set(10);
        assert!(m.update(MetricOp::Mul, 3, 0));
        assert!(m.update(MetricOp::Dec, 40, 0));
        assert_eq!(m.get(), -10);
        assert!(
            !m.update(MetricOp::Div, 0, 0),
            "division by zero is refused"
        );
        assert!(m.update(MetricOp::SetMax, 5, 0));
        assert!(m.update(MetricOp::SetMin, 2, 0));
        assert_eq!(m.get(), 2);
        // several threads, no lock: every increment lands
        let inc = sb.try_metric(0).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        inc.update(MetricOp::Inc, 1, 0);
                    }
                });
            }
        });
        let info = MasterInfo {
            apps: vec![AppInfo::default()],
            ..Default::default()
        };
        assert_eq!(sb.snapshot(&info).metric_values, vec![40_000, 2, 0]);
        assert_eq!(sb.snapshot_with_metrics(&info).metric_values.len(), 3);
    }

    #[test]
    fn full_snapshot_has_vars_and_metrics() {
        let sb = sb();
        sb.responses(wid(1), 0).record(200, 1);
        sb.core(wid(1), 0)
            .begin_request(5, [(&b"PATH_INFO"[..], &b"/x"[..])]);
        let info = MasterInfo {
            apps: vec![AppInfo::default()],
            ..Default::default()
        };
        let s = sb.snapshot_full(&info);
        assert_eq!(s.workers[0].cores[0].vars, vec!["PATH_INFO=/x".to_string()]);
        assert_eq!(s.workers[0].responses.len(), 1);
        assert_eq!(s.workers[0].busy_cores, 1);
        let m = sb.snapshot_with_metrics(&info);
        assert!(m.workers[0].cores[0].vars.is_empty());
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Scoreboard>();
        assert_send_sync::<WorkerSlot>();
        assert_send_sync::<CoreSlot>();
        assert_send_sync::<AppSlot>();
        assert_send_sync::<SocketSlot>();
        assert_send_sync::<MasterSlot>();
        assert_send_sync::<MetricSlot>();
    }
}
