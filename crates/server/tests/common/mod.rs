//! Test harness: start the real `rwsgi` binary on free loopback ports, talk to it with plain
//! sockets, stop it by pid.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The rwsgi binary under test.
pub fn rwsgi_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rwsgi")
}

/// Test apps shipped with the tests.
pub fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// The bundled example app's directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The path of program `name` on PATH; panics (no skipping) when it is missing.
pub fn which(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{name} is not on PATH: scripts/test.sh installs it (apt packages, and the Python tools of scripts/test-requirements.txt)");
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A running rwsgi, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub log_path: PathBuf,
}

impl Server {
    /// Starts rwsgi with `args` (stderr and stdout to a log file in a temp dir).
    pub fn start<S: AsRef<str>>(args: &[S]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, args)
    }

    /// Starts rwsgi with `args`, keeping files in `dir`.
    pub fn start_in<S: AsRef<str>>(dir: tempfile::TempDir, args: &[S]) -> Server {
        let log_path = dir.path().join("rwsgi.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(rwsgi_bin())
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn rwsgi");
        Server {
            child,
            dir,
            log_path,
        }
    }

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends `sig` to the master.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling the child we started, by its pid.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits until `cond` holds on the log, or panics with the log after `timeout`.
    pub fn wait_log(&self, timeout: Duration, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if cond(&log) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting on the log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `n` workers were spawned and the HTTP port answers.
    pub fn wait_http_ready(&self, port: u16, workers: usize) {
        self.wait_log(Duration::from_secs(20), |l| {
            l.matches("spawned rwsgi worker").count() >= workers
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = try_http(port, "GET", "/", &[], b"") {
                if r.status > 0 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server not ready on {port}:\n{}", self.log());
    }

    /// Waits for the master to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Stops a child this test started: `sig` by its pid, up to 10 s to exit, then SIGKILL.
pub fn stop_child(child: &mut Child, sig: i32) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // SAFETY: signalling the child we started, by its pid (not yet reaped).
    unsafe { libc::kill(child.id() as i32, sig) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        // The master's children as they are now: if the master has to be killed, its workers
        // (ours too) are ended here rather than left serving on their own.
        let children = children_of(self.child.id() as i32);
        stop_child(&mut self.child, libc::SIGTERM);
        for (pid, started) in children {
            // The same process still (its start time): a pid reused since is not ours.
            if start_time(pid).is_some_and(|s| s == started) {
                // SAFETY: signalling a process this test's server forked, identified above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Pids and start times of `pid`'s children.
pub fn children_of(pid: i32) -> Vec<(i32, u64)> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter_map(|p| Some((p, start_time(p)?)))
        .collect()
}

/// A live process's start time (field 22 of /proc/PID/stat), in clock ticks since boot; `None`
/// once it has exited (a zombie included).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); a zombie has exited already.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// A parsed HTTP response.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses a complete `Connection: close` HTTP response (chunked bodies decoded).
pub fn parse_response(raw: &[u8]) -> Response {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Response::default();
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..i])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[i + 2..(i + 2 + size).min(data.len())]);
        data = &data[(i + 2 + size + 2).min(data.len())..];
    }
    out
}

/// One HTTP/1.1 request on a new connection with `Connection: close`.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(parse_response(&raw))
}

/// `GET path`, panicking on I/O errors.
pub fn get(port: u16, path: &str) -> Response {
    try_http(port, "GET", path, &[], b"").expect("HTTP GET")
}

/// Sends raw bytes, returns everything the server sends back before closing.
pub fn raw_exchange(port: u16, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(bytes)?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// Reads the stats socket (raw TCP) and parses the JSON.
pub fn stats(port: u16) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect stats");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read stats");
    serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("stats JSON: {e}\n{}", String::from_utf8_lossy(&raw)))
}

// ---- WSGI conformance helpers (tests/wsgi*.rs) ----

/// Encodes a uwsgi-protocol request: the 4-byte header (modifier1 0, u16 LE size of the vars
/// block, modifier2 0), then each var as u16 LE key length, key, u16 LE value length, value;
/// then `body`.
pub fn uwsgi_packet(vars: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (k, v) in vars {
        block.extend_from_slice(&(k.len() as u16).to_le_bytes());
        block.extend_from_slice(k);
        block.extend_from_slice(&(v.len() as u16).to_le_bytes());
        block.extend_from_slice(v);
    }
    let mut pkt = Vec::with_capacity(4 + block.len() + body.len());
    pkt.push(0);
    pkt.extend_from_slice(&(block.len() as u16).to_le_bytes());
    pkt.push(0);
    pkt.extend_from_slice(&block);
    pkt.extend_from_slice(body);
    pkt
}

/// Sends one uwsgi-protocol request to `port` and reads the response until the server closes.
pub fn uwsgi_request(port: u16, vars: &[(&[u8], &[u8])], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(&uwsgi_packet(vars, body))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// A uwsgi-protocol request with the usual CGI vars (`method`, `path`, `query`), plus `extra`
/// vars; `CONTENT_LENGTH` is added for a non-empty body. Returns the parsed response.
pub fn uwsgi_call(
    port: u16,
    method: &str,
    path: &str,
    query: &str,
    extra: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let len = body.len().to_string();
    let mut vars: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", method.as_bytes()),
        (b"SCRIPT_NAME", b""),
        (b"PATH_INFO", path.as_bytes()),
        (b"QUERY_STRING", query.as_bytes()),
        (b"REQUEST_URI", uri.as_bytes()),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"SERVER_NAME", b"uwsgi-test-server"),
        (b"SERVER_PORT", b"8080"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
    ];
    if !body.is_empty() {
        vars.push((b"CONTENT_LENGTH", len.as_bytes()));
    }
    for (k, v) in extra {
        vars.push((k.as_bytes(), v));
    }
    let raw = uwsgi_request(port, &vars, body).expect("uwsgi request");
    parse_response(&raw)
}

/// Reads one HTTP response off a connection that may stay open (Content-Length, chunked, or
/// until close). Returns the response and whether the body ended by the server closing.
pub fn read_http_response(s: &mut TcpStream) -> std::io::Result<(Response, bool)> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "closed inside the head: {:?}",
                    String::from_utf8_lossy(&raw)
                ),
            ));
        }
        raw.push(byte[0]);
    }
    let mut resp = parse_response(&raw);
    let no_body = resp.status == 204 || resp.status == 304 || (100..200).contains(&resp.status);
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if no_body {
        return Ok((resp, false));
    }
    if chunked {
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                if s.read(&mut byte)? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed inside a chunked body",
                    ));
                }
                line.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
            let size = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| std::io::Error::other(format!("chunk size {text:?}: {e}")))?;
            let mut chunk = vec![0u8; size + 2];
            s.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        resp.body = body;
        return Ok((resp, false));
    }
    if let Some(n) = resp.header("content-length") {
        let n: usize = n.parse().map_err(std::io::Error::other)?;
        let mut body = vec![0u8; n];
        s.read_exact(&mut body)?;
        resp.body = body;
        return Ok((resp, false));
    }
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    resp.body = body;
    Ok((resp, true))
}

/// Waits until `path` exists and `cond` holds on its text, or panics after `timeout`.
pub fn wait_file(path: &Path, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if path.exists() && cond(&text) {
            return text;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting on {}: {text:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- Stats server helpers (used by stats_*.rs) ----

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

/// Reads a raw stats socket at `addr` and parses the JSON.
pub fn stats_at(addr: &StatsAddr) -> serde_json::Value {
    let raw = stats_exchange(addr, b"").unwrap_or_else(|e| panic!("read stats at {addr:?}: {e}"));
    serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("stats JSON: {e}\n{}", String::from_utf8_lossy(&raw)))
}

/// The sum of `workers[].<key>`.
pub fn sum_workers(v: &serde_json::Value, key: &str) -> u64 {
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
pub fn sum_nested(v: &serde_json::Value, list: &str, key: &str) -> u64 {
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

/// Runs `cmd` to completion with its output captured; kills it (by pid) after `timeout`.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for command"),
        Err(_) => {
            // SAFETY: killing the child we started, by its pid (not yet reaped: its waiter
            // thread is still blocked on it).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("command {cmd:?} did not finish within {timeout:?}");
        }
    }
}
// ---- end of stats server helpers ----

// ---- helpers for tests/server.rs and tests/nginx.rs (in a module: no name clashes) ----

/// Helpers of the core-server tests (`use common::srv::*`).
pub mod srv {
    use super::*;

    /// Reads the stats socket, or `None` when it does not answer with valid JSON.
    pub fn try_stats(port: u16) -> Option<serde_json::Value> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    /// Polls the stats socket until `cond` holds; panics with the last snapshot and the server log
    /// after `timeout`.
    pub fn wait_stats(
        server: &Server,
        port: u16,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(s) = try_stats(port) {
                if cond(&s) {
                    return s;
                }
                last = Some(s);
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for stats: {what}\nlast stats: {}\nlog:\n{}",
                    last.map(|v| v.to_string()).unwrap_or_default(),
                    server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `workers[].pid` of a stats snapshot, in worker order.
    pub fn worker_pids(stats: &serde_json::Value) -> Vec<u64> {
        stats["workers"]
            .as_array()
            .map(|ws| ws.iter().map(|w| w["pid"].as_u64().unwrap_or(0)).collect())
            .unwrap_or_default()
    }

    /// A `workers[]` integer field, in worker order.
    pub fn worker_field(stats: &serde_json::Value, field: &str) -> Vec<u64> {
        stats["workers"]
            .as_array()
            .map(|ws| ws.iter().map(|w| w[field].as_u64().unwrap_or(0)).collect())
            .unwrap_or_default()
    }

    /// The sum of a `workers[].cores[]` integer field over every core of every worker.
    pub fn cores_sum(stats: &serde_json::Value, field: &str) -> u64 {
        stats["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|w| w["cores"].as_array().into_iter().flatten())
            .map(|c| c[field].as_u64().unwrap_or(0))
            .sum()
    }

    /// Waits until the stats list `workers` workers, each with a pid and `accepting` (works
    /// without an HTTP socket, and with `--logto`, where the log is elsewhere).
    pub fn wait_workers_ready(
        server: &Server,
        stats_port: u16,
        workers: usize,
    ) -> serde_json::Value {
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

    /// A uwsgi packet (modifier1 0) carrying `vars`, followed by `body`.
    pub fn uwsgi_str_packet(vars: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let vars: Vec<(&[u8], &[u8])> = vars
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        uwsgi_packet(&vars, body)
    }

    /// The CGI vars a front end would send for `method path?query` (plus CONTENT_LENGTH).
    pub fn uwsgi_vars<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        body_len: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("REQUEST_METHOD", method),
            ("PATH_INFO", path),
            ("QUERY_STRING", query),
            ("REQUEST_URI", path),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("CONTENT_LENGTH", body_len),
        ]
    }

    /// One request over the uwsgi protocol on a TCP port; the response is read to EOF.
    pub fn try_uwsgi(
        port: u16,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<Response> {
        let len = body.len().to_string();
        let vars: Vec<(&[u8], &[u8])> = uwsgi_vars(method, path, "", &len)
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        Ok(parse_response(&uwsgi_request(port, &vars, body)?))
    }

    /// Polls `try_uwsgi(port, "GET", path)` until it answers 200, or panics with the log.
    pub fn wait_uwsgi_ready(server: &Server, port: u16, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = try_uwsgi(port, "GET", path, b"") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("uwsgi socket {port} not ready:\n{}", server.log());
    }

    /// Runs rwsgi to completion with `args` (for start-up errors); returns (exit code, output).
    pub fn run_to_exit<S: AsRef<str>>(args: &[S], timeout: Duration) -> (Option<i32>, String) {
        let mut server = Server::start(args);
        let code = server.wait_exit(timeout);
        (code, server.log())
    }

    /// Whether `pid` names a live process (a zombie, exited but not reaped yet, is not).
    pub fn pid_alive(pid: i32) -> bool {
        super::start_time(pid).is_some()
    }
}

/// An rwsgi started for the WSGI conformance tests: HTTP, uwsgi and stats sockets on free
/// loopback ports, `WSGI_TEST_DIR` (a per-test temp dir) in the app's environment.
pub struct WsgiServer {
    pub server: Server,
    pub http: u16,
    pub uwsgi: u16,
    pub stats: u16,
}

impl WsgiServer {
    /// Starts rwsgi with `args` (the app and process options) and waits for `workers` workers.
    /// A port taken by someone else between `free_port()` and rwsgi's bind is retried with
    /// fresh ports (other test binaries open many loopback connections concurrently).
    pub fn start<S: AsRef<str>>(args: &[S], workers: usize) -> WsgiServer {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::tempdir().expect("tempdir");
            let (http, uwsgi, stats) = (free_port(), free_port(), free_port());
            let mut all: Vec<String> = vec![
                "--http-socket".into(),
                format!("127.0.0.1:{http}"),
                "--socket".into(),
                format!("127.0.0.1:{uwsgi}"),
                "--stats".into(),
                format!("127.0.0.1:{stats}"),
                "--env".into(),
                format!("WSGI_TEST_DIR={}", dir.path().display()),
                "--master".into(),
            ];
            all.extend(args.iter().map(|a| a.as_ref().to_string()));
            let mut server = Server::start_in(dir, &all);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if server.log().matches("spawned rwsgi worker").count() >= workers {
                    break;
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(Some(_)) = server.child.try_wait() {
                if server.log().contains("Address already in use") && attempt < 5 {
                    continue;
                }
            }
            server.wait_http_ready(http, workers);
            return WsgiServer {
                server,
                http,
                uwsgi,
                stats,
            };
        }
    }

    /// The per-test temp dir (also the app's `WSGI_TEST_DIR`).
    pub fn dir(&self) -> &Path {
        self.server.dir.path()
    }

    /// Polls the stats socket until `cond` holds, or panics with the last snapshot and the log.
    pub fn wait_stats(&self, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = stats(self.stats);
            if cond(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("stats never matched:\n{s:#}\nlog:\n{}", self.server.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The arguments that load `tests/apps/wsgi_conformance.py` with `--wsgi-file`.
pub fn conformance_app() -> Vec<String> {
    vec![
        "--wsgi-file".into(),
        apps_dir().join("wsgi_conformance.py").display().to_string(),
    ]
}

/// Splits everything a server sent on one connection into its responses, in order: each head
/// up to its blank line, then a `Content-Length` body (or, without one, the rest).
pub fn split_responses(mut raw: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
        let mut resp = parse_response(&raw[..end + 4]);
        let len = resp
            .header("content-length")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(raw.len() - end - 4)
            .min(raw.len() - end - 4);
        resp.body = raw[end + 4..end + 4 + len].to_vec();
        raw = &raw[end + 4 + len..];
        out.push(resp);
    }
    out
}
