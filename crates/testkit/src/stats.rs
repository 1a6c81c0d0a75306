//! Reading rwsgi's (or uWSGI's) stats socket in tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::process::Server;
use crate::wait::eventually;

/// A stats socket address as a test client reaches it.
#[derive(Clone, Debug)]
pub enum StatsAddr {
    /// `127.0.0.1:port`.
    Tcp(u16),
    /// A filesystem UNIX socket.
    Unix(PathBuf),
    /// A Linux abstract socket: the bytes after the leading NUL (include a trailing `\0` to
    /// reach uWSGI's form of `@name`).
    Abstract(Vec<u8>),
}

/// A connected stream of any family.
pub trait StatsStream: Read + Write + Send {}
impl<T: Read + Write + Send> StatsStream for T {}

/// Connects to `addr` with `timeout` as its read and write timeout.
pub fn stats_connect(addr: &StatsAddr, timeout: Duration) -> std::io::Result<Box<dyn StatsStream>> {
    use std::os::unix::net::UnixStream;
    match addr {
        StatsAddr::Tcp(port) => {
            let s = TcpStream::connect(("127.0.0.1", *port))?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        StatsAddr::Unix(path) => {
            let s = UnixStream::connect(path)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        StatsAddr::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let sa = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            let s = UnixStream::connect_addr(&sa)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
    }
}

/// Connects to `addr`, sends `request` (nothing if empty), reads until the server closes
/// (10 s read timeout: a server that never answers is an error, not a hang).
pub fn stats_exchange(addr: &StatsAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = stats_connect(addr, Duration::from_secs(10))?;
    if !request.is_empty() {
        s.write_all(request)?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// Reads a raw stats socket at `addr` and parses the JSON (panics if it is not JSON).
pub fn stats_at(addr: &StatsAddr) -> Value {
    let raw = stats_exchange(addr, b"").unwrap_or_else(|e| panic!("read stats at {addr:?}: {e}"));
    serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("stats JSON: {e}\n{}", String::from_utf8_lossy(&raw)))
}

/// Reads the raw TCP stats socket on `port` and parses the JSON (panics if it cannot).
pub fn stats(port: u16) -> Value {
    stats_at(&StatsAddr::Tcp(port))
}

/// Reads the stats socket: the JSON, or why not.
pub fn try_stats(port: u16) -> Result<Value, String> {
    let raw = stats_exchange(&StatsAddr::Tcp(port), b"").map_err(|e| e.to_string())?;
    serde_json::from_slice(&raw).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&raw)))
}

/// Polls the stats socket until `cond` holds and returns that snapshot; panics with the last
/// snapshot and the server log after `timeout`.
pub fn wait_stats(
    server: &Server,
    port: u16,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    eventually(timeout, &format!("stats: {what}"), || {
        match try_stats(port) {
            Ok(s) if cond(&s) => Ok(s),
            Ok(s) => Err(format!("last stats: {s}\nlog:\n{}", server.log())),
            Err(e) => Err(format!("{e}\nlog:\n{}", server.log())),
        }
    })
}

/// Waits until the stats list `workers` workers, each with a pid and `accepting` (works
/// without an HTTP socket, and with `--logto`, where the log is elsewhere).
pub fn wait_workers_ready(server: &Server, stats_port: u16, workers: usize) -> Value {
    wait_stats(
        server,
        stats_port,
        Duration::from_secs(20),
        "every worker accepting",
        |s| {
            let acc = worker_field(s, "accepting");
            acc.len() == workers
                && acc.iter().all(|&a| a == 1)
                && worker_pids(s).iter().all(|&p| p > 0)
        },
    )
}

/// `workers[].pid` of a stats snapshot, in worker order.
pub fn worker_pids(stats: &Value) -> Vec<u64> {
    worker_field(stats, "pid")
}

/// A `workers[]` integer field, in worker order.
pub fn worker_field(stats: &Value, field: &str) -> Vec<u64> {
    stats["workers"]
        .as_array()
        .map(|ws| ws.iter().map(|w| w[field].as_u64().unwrap_or(0)).collect())
        .unwrap_or_default()
}

/// The sum of a `workers[].cores[]` integer field over every core of every worker.
pub fn cores_sum(stats: &Value, field: &str) -> u64 {
    stats["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|w| w["cores"].as_array().into_iter().flatten())
        .map(|c| c[field].as_u64().unwrap_or(0))
        .sum()
}

/// The sum of `workers[].<key>` (panics if a worker lacks it).
pub fn sum_workers(v: &Value, key: &str) -> u64 {
    v["workers"]
        .as_array()
        .expect("workers list")
        .iter()
        .map(|w| {
            w[key]
                .as_u64()
                .unwrap_or_else(|| panic!("workers[].{key}: {w}"))
        })
        .sum()
}

/// The sum of `workers[].<list>[].<key>` (`list` is `apps` or `cores`).
pub fn sum_nested(v: &Value, list: &str, key: &str) -> u64 {
    v["workers"]
        .as_array()
        .expect("workers list")
        .iter()
        .flat_map(|w| w[list].as_array().expect("nested list").iter())
        .map(|x| {
            x[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{list}[].{key}: {x}"))
        })
        .sum()
}
