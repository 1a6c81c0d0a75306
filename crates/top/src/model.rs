//! What `top` shows of one stats document, read from uWSGI's stats JSON with serde_json.
//!
//! The reader is lenient field by field: a missing, negative, fractional or mistyped number is
//! read as 0, a missing list as empty, a missing string as empty. Only a document that is not
//! JSON, or not a JSON object, is refused ([`ModelError`]). Nothing here can panic on input.

use rwsgi_stats::json::{LATENCY_KEY, P50_KEY, P99_KEY, RWSGI_KEY};
use serde_json::Value;

/// Why a document could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not JSON (garbage, or a document cut off half-way).
    #[error("invalid stats JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object (uWSGI's document is one).
    #[error("not a stats document (a JSON {0}, not an object)")]
    NotAnObject(&'static str),
}

/// One server's snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerStats {
    /// `version`.
    pub version: String,
    /// The master's pid (`pid`).
    pub pid: u64,
    /// `listen_queue`: connections waiting in the accept queues.
    pub listen_queue: u64,
    /// `listen_queue_errors`.
    pub listen_queue_errors: u64,
    /// `load`: connections being handled.
    pub load: u64,
    /// `workers`, in document order.
    pub workers: Vec<WorkerStats>,
    /// Request latency quantiles, when the server exports them (see [`Latency::from_document`]).
    pub latency: Option<Latency>,
}

/// One worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerStats {
    /// `id` (1-based in uWSGI).
    pub id: u64,
    /// `pid`.
    pub pid: u64,
    /// `requests` served since it started.
    pub requests: u64,
    /// `exceptions`.
    pub exceptions: u64,
    /// `signals`.
    pub signals: u64,
    /// `status`: `idle`, `busy`, `cheap`, `pause`, `sigN`, ...
    pub status: String,
    /// `avg_rt`, microseconds.
    pub avg_rt: u64,
    /// `rss`, bytes.
    pub rss: u64,
    /// `vsz`, bytes.
    pub vsz: u64,
    /// `tx`, bytes sent.
    pub tx: u64,
    /// `respawn_count`.
    pub respawns: u64,
    /// `harakiri_count`.
    pub harakiris: u64,
    /// `running_time`, microseconds spent in requests.
    pub running_time: u64,
    /// `last_spawn`, Unix seconds.
    pub last_spawn: u64,
    /// `cores`, in document order (empty with `--stats-no-cores`).
    pub cores: Vec<CoreStats>,
}

/// One core (thread) of a worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoreStats {
    /// `id`.
    pub id: u64,
    /// `requests`.
    pub requests: u64,
    /// The request in flight, if any.
    pub current: Option<InFlight>,
}

/// The request a core is serving, from its `vars` and `req_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// `REQUEST_METHOD`.
    pub method: String,
    /// `REQUEST_URI`, or `PATH_INFO` with `?QUERY_STRING`.
    pub uri: String,
    /// `REMOTE_ADDR`.
    pub remote_addr: String,
    /// `req_info.request_start`, Unix seconds (0 when the server did not say).
    pub started: u64,
}

/// Request latency quantiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
}

impl Latency {
    /// The quantiles rwsgi's stats JSON carries (`"rwsgi": {"latency": {"p50": US, "p99": US,
    /// ...}}`, the keys named once in [`rwsgi_stats::json`]), in microseconds. uWSGI exports
    /// none, and rwsgi has none before the first request (`null`): the header then shows no
    /// latency (it never makes one up).
    pub fn from_document(doc: &Value) -> Option<Latency> {
        let l = doc.get(RWSGI_KEY)?.get(LATENCY_KEY)?;
        Some(Latency {
            p50_us: l.get(P50_KEY).and_then(number)?,
            p99_us: l.get(P99_KEY).and_then(number)?,
        })
    }
}

impl WorkerStats {
    /// The request of this worker that has run longest (the earliest start), if any core is
    /// in one: what the worker is "serving now".
    pub fn longest_running(&self) -> Option<&InFlight> {
        self.cores
            .iter()
            .filter_map(|c| c.current.as_ref())
            .min_by_key(|r| r.started)
    }
}

impl ServerStats {
    /// Reads a stats document.
    pub fn parse(bytes: &[u8]) -> Result<ServerStats, ModelError> {
        let doc: Value = serde_json::from_slice(bytes)?;
        Self::from_value(&doc)
    }

    /// Reads an already-parsed stats document.
    pub fn from_value(doc: &Value) -> Result<ServerStats, ModelError> {
        if !doc.is_object() {
            return Err(ModelError::NotAnObject(json_kind(doc)));
        }
        Ok(ServerStats {
            version: text(doc, "version"),
            pid: num(doc, "pid"),
            listen_queue: num(doc, "listen_queue"),
            listen_queue_errors: num(doc, "listen_queue_errors"),
            load: num(doc, "load"),
            workers: list(doc, "workers").map(worker).collect(),
            latency: Latency::from_document(doc),
        })
    }

    /// Total `requests` over the workers.
    pub fn requests(&self) -> u64 {
        self.workers
            .iter()
            .fold(0u64, |a, w| a.saturating_add(w.requests))
    }

    /// How many workers have each status: (busy, idle, cheap); other statuses (pause, sigN)
    /// count in none of the three.
    pub fn worker_counts(&self) -> WorkerCounts {
        let mut c = WorkerCounts::default();
        for w in &self.workers {
            match w.status.as_str() {
                "busy" => c.busy += 1,
                "idle" => c.idle += 1,
                "cheap" => c.cheap += 1,
                _ => c.other += 1,
            }
        }
        c
    }

    /// The earliest `last_spawn` of a worker (0 when none says): the JSON has no start time of
    /// the master, so uptime is counted from the oldest worker.
    pub fn oldest_spawn(&self) -> Option<u64> {
        self.workers
            .iter()
            .map(|w| w.last_spawn)
            .filter(|&t| t > 0)
            .min()
    }
}

/// Workers by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// `busy`.
    pub busy: usize,
    /// `idle`.
    pub idle: usize,
    /// `cheap`.
    pub cheap: usize,
    /// Anything else (`pause`, `sigN`, unknown).
    pub other: usize,
}

impl std::ops::AddAssign for WorkerCounts {
    fn add_assign(&mut self, o: WorkerCounts) {
        self.busy += o.busy;
        self.idle += o.idle;
        self.cheap += o.cheap;
        self.other += o.other;
    }
}

fn worker(w: &Value) -> WorkerStats {
    WorkerStats {
        id: num(w, "id"),
        pid: num(w, "pid"),
        requests: num(w, "requests"),
        exceptions: num(w, "exceptions"),
        signals: num(w, "signals"),
        status: text(w, "status"),
        avg_rt: num(w, "avg_rt"),
        rss: num(w, "rss"),
        vsz: num(w, "vsz"),
        tx: num(w, "tx"),
        respawns: num(w, "respawn_count"),
        harakiris: num(w, "harakiri_count"),
        running_time: num(w, "running_time"),
        last_spawn: num(w, "last_spawn"),
        cores: list(w, "cores").map(core).collect(),
    }
}

fn core(c: &Value) -> CoreStats {
    let in_request = num(c, "in_request") != 0;
    let current = in_request.then(|| {
        let mut r = InFlight {
            started: c
                .get("req_info")
                .map(|i| num(i, "request_start"))
                .unwrap_or(0),
            ..InFlight::default()
        };
        let (mut path, mut query) = (String::new(), String::new());
        for var in list(c, "vars").filter_map(Value::as_str) {
            let Some((k, v)) = var.split_once('=') else {
                continue;
            };
            match k {
                "REQUEST_METHOD" => r.method = printable(v),
                "REQUEST_URI" => r.uri = printable(v),
                "PATH_INFO" => path = printable(v),
                "QUERY_STRING" => query = printable(v),
                "REMOTE_ADDR" => r.remote_addr = printable(v),
                _ => {}
            }
        }
        if r.uri.is_empty() {
            r.uri = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
        }
        r
    });
    CoreStats {
        id: num(c, "id"),
        requests: num(c, "requests"),
        current,
    }
}

/// A non-negative integer however it is written (u64, negative → 0, float truncated,
/// a numeric string); `None` for anything else.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|_| 0))
            .or_else(|| n.as_f64().map(|f| if f > 0.0 { f as u64 } else { 0 })),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `s` with every control character (ESC, CSI, newlines, ...) replaced by `?`: whatever a
/// server puts in a string, it reaches the terminal as text, never as a terminal command.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn num(obj: &Value, key: &str) -> u64 {
    obj.get(key).and_then(number).unwrap_or(0)
}

fn text(obj: &Value, key: &str) -> String {
    match obj.get(key) {
        Some(Value::String(s)) => printable(s),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn list<'a>(obj: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    obj.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "version":"2.0.31","listen_queue":3,"listen_queue_errors":1,"load":2,"pid":100,
        "workers":[
          {"id":1,"pid":101,"requests":10,"exceptions":1,"signals":2,"status":"busy",
           "avg_rt":1500,"rss":4096,"vsz":8192,"tx":999,"respawn_count":1,"harakiri_count":0,
           "running_time":7000,"last_spawn":1000,
           "cores":[
             {"id":0,"requests":6,"in_request":1,
              "vars":["REQUEST_METHOD=GET","REQUEST_URI=/late","REMOTE_ADDR=127.0.0.1",""],
              "req_info":{"request_start":1500}},
             {"id":1,"requests":4,"in_request":1,
              "vars":["REQUEST_METHOD=POST","PATH_INFO=/early","QUERY_STRING=a=1","REMOTE_ADDR=::1",""],
              "req_info":{"request_start":1400}}
           ]},
          {"id":2,"pid":102,"requests":30,"status":"idle","last_spawn":900,
           "cores":[{"id":0,"requests":30,"in_request":0,"vars":[],"req_info":{}}]},
          {"id":3,"pid":0,"status":"cheap"}
        ]}"#;

    #[test]
    fn reads_a_uwsgi_document() {
        let s = ServerStats::parse(DOC.as_bytes()).unwrap();
        assert_eq!(s.version, "2.0.31");
        assert_eq!(
            (s.pid, s.listen_queue, s.listen_queue_errors, s.load),
            (100, 3, 1, 2)
        );
        assert_eq!(s.workers.len(), 3);
        let w = &s.workers[0];
        assert_eq!(
            (w.id, w.pid, w.requests, w.exceptions, w.signals),
            (1, 101, 10, 1, 2)
        );
        assert_eq!((w.avg_rt, w.rss, w.vsz, w.tx), (1500, 4096, 8192, 999));
        assert_eq!(
            (w.respawns, w.harakiris, w.running_time, w.last_spawn),
            (1, 0, 7000, 1000)
        );
        assert_eq!(w.cores[0].current.as_ref().unwrap().uri, "/late");
        assert_eq!(
            w.cores[1].current,
            Some(InFlight {
                method: "POST".into(),
                uri: "/early?a=1".into(),
                remote_addr: "::1".into(),
                started: 1400,
            })
        );
        assert_eq!(s.workers[1].cores[0].current, None);
        assert_eq!(s.requests(), 40);
        assert_eq!(
            s.worker_counts(),
            WorkerCounts {
                busy: 1,
                idle: 1,
                cheap: 1,
                other: 0
            }
        );
        assert_eq!(s.oldest_spawn(), Some(900));
        assert_eq!(s.latency, None, "no latency keys, no latency");
    }

    #[test]
    fn longest_running_is_the_earliest_start() {
        let s = ServerStats::parse(DOC.as_bytes()).unwrap();
        assert_eq!(s.workers[0].longest_running().unwrap().uri, "/early?a=1");
        assert_eq!(s.workers[1].longest_running(), None);
    }

    #[test]
    fn odd_fields_are_tolerated() {
        let doc = r#"{"pid":-5,"load":2.7,"listen_queue":"4","version":31,
            "workers":[{"id":"x","requests":null,"status":7,"cores":{"not":"a list"}},
                       "not an object",
                       {"cores":[{"in_request":1,"vars":[1,"noequals","REQUEST_URI=/u"]}]}]}"#;
        let s = ServerStats::parse(doc.as_bytes()).unwrap();
        assert_eq!((s.pid, s.load, s.listen_queue), (0, 2, 4));
        assert_eq!(s.version, "31");
        assert_eq!(s.workers.len(), 3);
        assert_eq!(s.workers[0].status, "7");
        assert!(s.workers[0].cores.is_empty());
        assert_eq!(s.workers[1], WorkerStats::default());
        let r = s.workers[2].cores[0].current.as_ref().unwrap();
        assert_eq!((r.uri.as_str(), r.started), ("/u", 0));
        // Terminal escapes in strings reach the screen as text.
        let doc = r#"{"version":"\u001b[2J","workers":[{"status":"busy\u009b31m","cores":[
            {"in_request":1,"vars":["REQUEST_URI=/\u001b]0;owned\u0007x","REMOTE_ADDR=\r\n1"]}]}]}"#;
        let s = ServerStats::parse(doc.as_bytes()).unwrap();
        assert_eq!(s.version, "?[2J");
        assert_eq!(s.workers[0].status, "busy?31m");
        let r = s.workers[0].cores[0].current.as_ref().unwrap();
        assert_eq!(
            (r.uri.as_str(), r.remote_addr.as_str()),
            ("/?]0;owned?x", "??1")
        );
        // No workers at all is a document too.
        assert!(ServerStats::parse(b"{}").unwrap().workers.is_empty());
    }

    #[test]
    fn garbage_and_half_documents_are_errors() {
        assert!(matches!(
            ServerStats::parse(b"\x00\xffgarbage"),
            Err(ModelError::Json(_))
        ));
        let half = &DOC.as_bytes()[..DOC.len() / 2];
        assert!(matches!(ServerStats::parse(half), Err(ModelError::Json(_))));
        assert!(matches!(
            ServerStats::parse(b"[1,2]"),
            Err(ModelError::NotAnObject("array"))
        ));
        assert!(matches!(ServerStats::parse(b""), Err(ModelError::Json(_))));
    }

    #[test]
    fn latency_only_when_exported() {
        let doc = r#"{"rwsgi":{"latency":{"p50":1200,"p99":98000}},"workers":[]}"#;
        let s = ServerStats::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            s.latency,
            Some(Latency {
                p50_us: 1200,
                p99_us: 98000
            })
        );
        let partial = r#"{"rwsgi":{"latency":{"p50":1200}}}"#;
        assert_eq!(
            ServerStats::parse(partial.as_bytes()).unwrap().latency,
            None
        );
        let before_any_request = r#"{"rwsgi":{"latency":{"p50":null,"p99":null}}}"#;
        assert_eq!(
            ServerStats::parse(before_any_request.as_bytes())
                .unwrap()
                .latency,
            None
        );
        let top_level = r#"{"latency":{"p50":1200,"p99":98000}}"#;
        assert_eq!(
            ServerStats::parse(top_level.as_bytes()).unwrap().latency,
            None,
            "only rwsgi's key"
        );
    }
}
