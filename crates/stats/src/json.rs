//! The uWSGI 2.0 stats JSON renderer.
//!
//! Byte-for-byte the layout of uWSGI's `core/stats.c` writer as driven by
//! `uwsgi_master_generate_stats()` (`core/master_utils.c`): tab indentation, `"key":value` with
//! no spaces, one member per line, request vars unindented, `"req_info":` followed by the
//! indentation of the opening brace, no trailing newline; `minified` drops all whitespace.
//! Unlike uWSGI, every string is escaped so the output is always valid JSON (uWSGI only escapes
//! `\t \n \r " \\` in vars and nothing elsewhere).

use crate::metrics::uwsgi_metrics;
use crate::model::WorkerStatus;
use crate::model::{AppInfo, AppStats, CoreStats, SocketInfo, StatsSnapshot, WorkerStats};
use crate::scoreboard::{LATENCY_BUCKETS_US, STATUS_OTHER, STATUS_OTHER_NAME};

/// The top-level key of what rwsgi adds to uWSGI's document (uWSGI's clients ignore keys they
/// do not know): `{"latency": {...}, "responses": {...}}`, the same histogram and status
/// counts `/metrics` shows.
pub const RWSGI_KEY: &str = "rwsgi";
/// Under [`RWSGI_KEY`]: the request-duration histogram of every app on every worker:
/// `count`, `sum_us`, [`P50_KEY`], [`P99_KEY`] (µs, estimated from the buckets; `null`
/// before the first request), `le_us` (the buckets' upper bounds) and `buckets` (requests per
/// bucket, not cumulative, one more than `le_us`: the last is `+Inf`).
pub const LATENCY_KEY: &str = "latency";
/// The median request duration in µs, under [`LATENCY_KEY`].
pub const P50_KEY: &str = "p50";
/// The 99th-percentile request duration in µs, under [`LATENCY_KEY`].
pub const P99_KEY: &str = "p99";
/// Under [`RWSGI_KEY`]: responses by status code (`{"200": n, ...}`; codes outside 100..=599
/// count as `"other"`).
pub const RESPONSES_KEY: &str = "responses";

/// Renderer switches. (Whether cores are reported is a fact of the snapshot,
/// `MasterInfo::include_cores`, so the snapshot and its rendering cannot disagree.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// `--stats-minified`: no whitespace at all.
    pub minified: bool,
    /// Add rwsgi's own top-level key ([`RWSGI_KEY`]) after uWSGI's; without it the document
    /// is exactly uWSGI's. (Its numbers come from the response and latency slots, which only
    /// [`Scoreboard::snapshot_full`](crate::Scoreboard::snapshot_full) reads.)
    pub rwsgi_keys: bool,
}

/// Append the uWSGI stats document for `snap` to `out`. Keys for uWSGI features rwsgi does
/// not have (routing, shared sockets) are written as 0.
pub fn render_uwsgi(snap: &StatsSnapshot, opts: RenderOptions, out: &mut Vec<u8>) {
    let master = &snap.master;
    let cores = master.include_cores;
    out.reserve(2048 + snap.workers.len() * if cores { 2500 } else { 700 });
    let mut w = Writer {
        out,
        min: opts.minified,
        tabs: 1,
    };
    let listen_queue = snap.listen_queue();
    w.out.push(b'{');
    w.nl();
    w.kv_str("version", &master.version);
    w.comma();
    w.kv_u64("listen_queue", listen_queue);
    w.comma();
    w.kv_u64("listen_queue_errors", snap.listen_queue_errors);
    w.comma();
    w.kv_u64("signal_queue", snap.signal_queue);
    w.comma();
    w.kv_u64("load", listen_queue);
    w.comma();
    w.kv_u64("pid", master.pid);
    w.comma();
    w.kv_u64("uid", master.uid);
    w.comma();
    w.kv_u64("gid", master.gid);
    w.comma();
    w.kv_str("cwd", &master.cwd);
    w.comma();

    w.key("locks");
    w.list_open();
    for (i, lock) in master.locks.iter().enumerate() {
        if i > 0 {
            w.comma();
        }
        w.obj_open();
        w.kv_u64(lock, snap.lock_holders.get(i).copied().unwrap_or(0));
        w.obj_close();
    }
    w.list_close();
    w.comma();

    if let Some(info) = &master.metrics {
        if !info.hide_from_stats {
            metrics(&mut w, snap);
            w.comma();
        }
    }

    w.key("sockets");
    w.list_open();
    for (i, (info, queue)) in snap.sockets().enumerate() {
        if i > 0 {
            w.comma();
        }
        socket(&mut w, info, queue);
    }
    w.list_close();
    w.comma();

    w.key("workers");
    w.list_open();
    for (i, wk) in snap.workers.iter().enumerate() {
        if i > 0 {
            w.comma();
        }
        worker(&mut w, snap, wk, cores);
    }
    w.list_close();
    if opts.rwsgi_keys {
        w.comma();
        rwsgi(&mut w, snap);
    }
    w.obj_close();
}

/// uWSGI's `metrics` object: `{"NAME": {"type": T, "oid": "O", "value": V}, ...}`.
fn metrics(w: &mut Writer<'_>, snap: &StatsSnapshot) {
    w.key("metrics");
    w.obj_open();
    for (i, m) in uwsgi_metrics(snap).iter().enumerate() {
        if i > 0 {
            w.comma();
        }
        // Names are [0-9A-Za-z._-] (checked when parsed), so they need no escaping.
        w.key(&m.name);
        w.obj_open();
        w.kv_u64("type", m.kind as u64);
        w.comma();
        w.kv_str("oid", &m.oid);
        w.comma();
        w.key("value");
        w.out
            .extend_from_slice(itoa::Buffer::new().format(m.value).as_bytes());
        w.obj_close();
    }
    w.obj_close();
}

/// rwsgi's own key ([`RWSGI_KEY`]).
fn rwsgi(w: &mut Writer<'_>, snap: &StatsSnapshot) {
    let lat = snap.latency_total();
    w.key(RWSGI_KEY);
    w.obj_open();
    w.key(LATENCY_KEY);
    w.obj_open();
    w.kv_u64("count", lat.count());
    w.comma();
    w.kv_u64("sum_us", lat.sum_us);
    w.comma();
    for (key, q) in [(P50_KEY, 0.5), (P99_KEY, 0.99)] {
        w.key(key);
        match lat.quantile_us(q) {
            Some(us) => w
                .out
                .extend_from_slice(itoa::Buffer::new().format(us).as_bytes()),
            None => w.out.extend_from_slice(b"null"),
        }
        w.comma();
    }
    w.key("le_us");
    w.inline_list(&LATENCY_BUCKETS_US);
    w.comma();
    w.key("buckets");
    w.inline_list(&lat.buckets);
    w.obj_close();
    w.comma();
    w.key(RESPONSES_KEY);
    w.obj_open();
    let mut code_buf = itoa::Buffer::new();
    for (i, (code, count)) in snap.responses_by_code().into_iter().enumerate() {
        if i > 0 {
            w.comma();
        }
        let code = if code == STATUS_OTHER {
            STATUS_OTHER_NAME
        } else {
            code_buf.format(code)
        };
        w.kv_u64(code, count);
    }
    w.obj_close();
    w.obj_close();
}

/// Convenience: render into a new buffer.
pub fn render_uwsgi_vec(snap: &StatsSnapshot, opts: RenderOptions) -> Vec<u8> {
    let mut out = Vec::new();
    render_uwsgi(snap, opts, &mut out);
    out
}

fn socket(w: &mut Writer<'_>, s: &SocketInfo, queue: u64) {
    w.obj_open();
    w.kv_str("name", &s.name);
    w.comma();
    w.kv_str("proto", &s.proto);
    w.comma();
    w.kv_u64("queue", queue);
    w.comma();
    w.kv_u64("max_queue", s.max_queue);
    w.comma();
    w.kv_u64("shared", 0);
    w.comma();
    w.kv_u64("can_offload", 0);
    w.obj_close();
}

fn worker(w: &mut Writer<'_>, snap: &StatsSnapshot, wk: &WorkerStats, cores: bool) {
    w.obj_open();
    w.kv_u64("id", wk.id);
    w.comma();
    w.kv_u64("pid", wk.pid);
    w.comma();
    w.kv_u64("accepting", wk.accepting);
    w.comma();
    w.kv_u64("requests", wk.requests);
    w.comma();
    w.kv_u64("delta_requests", wk.delta_requests);
    w.comma();
    w.kv_u64("exceptions", wk.exceptions);
    w.comma();
    w.kv_u64("harakiri_count", wk.harakiri_count);
    w.comma();
    w.kv_u64("signals", wk.signals);
    w.comma();
    w.kv_u64("signal_queue", wk.signal_queue);
    w.comma();
    w.key("status");
    w.status(wk.status);
    w.comma();
    w.kv_u64("rss", wk.rss);
    w.comma();
    w.kv_u64("vsz", wk.vsz);
    w.comma();
    w.kv_u64("running_time", wk.running_time);
    w.comma();
    w.kv_u64("last_spawn", wk.last_spawn);
    w.comma();
    w.kv_u64("respawn_count", wk.respawn_count);
    w.comma();
    w.kv_u64("tx", wk.tx);
    w.comma();
    w.kv_u64("avg_rt", wk.avg_rt);
    w.comma();

    w.key("apps");
    w.list_open();
    for (i, a) in wk.apps.iter().enumerate() {
        if i > 0 {
            w.comma();
        }
        app(w, a, snap.app_info(a));
    }
    w.list_close();

    if cores {
        w.comma();
        w.key("cores");
        w.list_open();
        for (i, c) in wk.cores.iter().enumerate() {
            if i > 0 {
                w.comma();
            }
            core(w, c);
        }
        w.list_close();
    }
    w.obj_close();
}

fn app(w: &mut Writer<'_>, a: &AppStats, info: &AppInfo) {
    w.obj_open();
    w.kv_u64("id", a.id);
    w.comma();
    w.kv_u64("modifier1", info.modifier1);
    w.comma();
    w.kv_str("mountpoint", &info.mountpoint);
    w.comma();
    w.kv_u64("startup_time", info.startup_time);
    w.comma();
    w.kv_u64("requests", a.requests);
    w.comma();
    w.kv_u64("exceptions", a.exceptions);
    w.comma();
    w.kv_str("chdir", &info.chdir);
    w.obj_close();
}

fn core(w: &mut Writer<'_>, c: &CoreStats) {
    w.obj_open();
    w.kv_u64("id", c.id);
    w.comma();
    w.kv_u64("requests", c.requests);
    w.comma();
    w.kv_u64("static_requests", c.static_requests);
    w.comma();
    w.kv_u64("routed_requests", c.routed_requests);
    w.comma();
    w.kv_u64("offloaded_requests", c.offloaded_requests);
    w.comma();
    w.kv_u64("write_errors", c.write_errors);
    w.comma();
    w.kv_u64("read_errors", c.read_errors);
    w.comma();
    w.kv_u64("in_request", c.in_request);
    w.comma();
    w.key("vars");
    w.list_open();
    if !c.vars.is_empty() {
        // uWSGI: each var followed by a comma, then a closing empty string.
        for v in &c.vars {
            write_json_str(w.out, v);
            w.comma();
        }
        w.out.extend_from_slice(b"\"\"");
    }
    w.list_close();
    w.comma();
    if c.vars_unavailable {
        w.kv_u64("vars_unavailable", 1);
        w.comma();
    }
    w.key("req_info");
    w.obj_open();
    if let Some(start) = c.request_start {
        w.kv_u64("request_start", start);
    }
    w.obj_close();
    w.obj_close();
}

/// Mirrors the primitives of uWSGI's `core/stats.c`.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    min: bool,
    tabs: usize,
}

impl Writer<'_> {
    #[inline]
    fn nl(&mut self) {
        if !self.min {
            self.out.push(b'\n');
        }
    }

    #[inline]
    fn apply_tabs(&mut self) {
        if !self.min {
            self.out.resize(self.out.len() + self.tabs, b'\t');
        }
    }

    #[inline]
    fn comma(&mut self) {
        self.out.push(b',');
        self.nl();
    }

    fn obj_open(&mut self) {
        self.apply_tabs();
        if !self.min {
            self.tabs += 1;
        }
        self.out.push(b'{');
        self.nl();
    }

    fn obj_close(&mut self) {
        if !self.min {
            self.out.push(b'\n');
            self.tabs -= 1;
            self.apply_tabs();
        }
        self.out.push(b'}');
    }

    fn list_open(&mut self) {
        if !self.min {
            self.tabs += 1;
        }
        self.out.push(b'[');
        self.nl();
    }

    fn list_close(&mut self) {
        if !self.min {
            self.out.push(b'\n');
            self.tabs -= 1;
            self.apply_tabs();
        }
        self.out.push(b']');
    }

    /// Keys are the schema's own names (and lock names), plain ASCII that needs no escaping,
    /// so they are copied as they are.
    #[inline]
    fn key(&mut self, k: &str) {
        debug_assert!(k.bytes().all(|c| ESCAPE[c as usize] == 0), "{k}");
        self.apply_tabs();
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline]
    fn kv_u64(&mut self, k: &str, v: u64) {
        self.key(k);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(v).as_bytes());
    }

    /// `[1,2,3]` on one line.
    fn inline_list(&mut self, values: &[u64]) {
        self.out.push(b'[');
        let mut b = itoa::Buffer::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(b.format(*v).as_bytes());
        }
        self.out.push(b']');
    }

    #[inline]
    fn kv_str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_json_str(self.out, v);
    }

    fn status(&mut self, s: WorkerStatus) {
        use WorkerStatus::*;
        let lit: &[u8] = match s {
            Idle => b"\"idle\"",
            Busy => b"\"busy\"",
            Cheap => b"\"cheap\"",
            Pause => b"\"pause\"",
            Sig(n) => {
                self.out.extend_from_slice(b"\"sig");
                let mut b = itoa::Buffer::new();
                self.out.extend_from_slice(b.format(n).as_bytes());
                self.out.push(b'"');
                return;
            }
        };
        self.out.extend_from_slice(lit);
    }
}

/// 0: pass through; b'u': \u00XX; else the char after the backslash.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[0x7f] = b'u';
    t
};

/// Append `s` as a quoted, escaped JSON string.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s.as_bytes());
    out.push(b'"');
}

/// Append arbitrary bytes as a quoted JSON string; invalid UTF-8 becomes U+FFFD.
pub fn write_json_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    for chunk in b.utf8_chunks() {
        write_escaped(out, chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

/// `b` must be valid UTF-8 (only ASCII bytes are ever escaped, so multi-byte sequences pass
/// through whole).
#[inline]
fn write_escaped(out: &mut Vec<u8>, b: &[u8]) {
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let e = ESCAPE[c as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', e]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut o = Vec::new();
        write_json_str(&mut o, "a\"b\\c\n\t\r\x08\x0c\x01\x7fé\u{2028}");
        assert_eq!(
            std::str::from_utf8(&o).unwrap(),
            "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u007fé\u{2028}\""
        );
        let mut o = Vec::new();
        write_json_bytes(&mut o, b"x\xff\xfey\"");
        assert_eq!(
            std::str::from_utf8(&o).unwrap(),
            "\"x\u{fffd}\u{fffd}y\\\"\""
        );
    }
}
