//! The real `rwsgi` binary (and other servers) as child processes of a test.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::ports::Prebound;
use crate::wait::eventually;

/// The rwsgi binary under test: `target/<profile>/rwsgi`, beside the directory of the test
/// executable (`target/<profile>/deps/`), where cargo builds it for integration tests.
pub fn rwsgi_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let bin = profile_dir.join("rwsgi");
    assert!(
        bin.is_file(),
        "{} is missing: run the server's tests through cargo test -p rwsgi",
        bin.display()
    );
    bin
}

/// The ports a server started by [`Rwsgi`] listens on (0 where it has no such socket).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ports {
    /// `--http-socket`.
    pub http: u16,
    /// `--socket` (uwsgi protocol).
    pub uwsgi: u16,
    /// `--stats`.
    pub stats: u16,
    /// `--metrics` (the Prometheus listener).
    pub metrics: u16,
}

/// A listening socket the harness can pre-bind for rwsgi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `--http-socket`.
    Http,
    /// `--socket` (uwsgi protocol).
    Uwsgi,
    /// `--stats`.
    Stats,
    /// `--metrics` (the Prometheus listener).
    Metrics,
}

impl SocketKind {
    /// The command-line option naming this socket.
    fn option(self) -> &'static str {
        match self {
            SocketKind::Http => "--http-socket",
            SocketKind::Uwsgi => "--socket",
            SocketKind::Stats => "--stats",
            SocketKind::Metrics => "--metrics",
        }
    }

    /// The kind rwsgi files the socket under in `RWSGI_INHERITED_SOCKETS` (`KIND:ADDRESS`).
    fn kind(self) -> &'static str {
        match self {
            SocketKind::Http => "http",
            SocketKind::Uwsgi => "uwsgi",
            SocketKind::Stats => "stats",
            SocketKind::Metrics => "metrics",
        }
    }
}

/// A command line for rwsgi, built option by option. Sockets asked for with [`Rwsgi::http`],
/// [`Rwsgi::uwsgi`], [`Rwsgi::stats`] (or [`Rwsgi::prebind`] for an address in a config file)
/// are bound by the harness on 127.0.0.1 and inherited, so no port can be taken between
/// choosing and binding it. Other address forms (UNIX paths, `@abstract`, `:PORT`) go in as
/// plain [`Rwsgi::args`], and rwsgi binds them itself.
#[derive(Debug, Default)]
pub struct Rwsgi {
    args: Vec<String>,
    prebound: Vec<(String, Prebound)>,
    ports: Ports,
    dir: Option<tempfile::TempDir>,
    umask: Option<u32>,
    stdin: Option<Stdio>,
}

impl Rwsgi {
    /// An empty command line.
    pub fn new() -> Rwsgi {
        Rwsgi::default()
    }

    /// Pre-binds a loopback socket for `socket` and records its port, adding no option: for an
    /// address the test writes into a config file (rwsgi finds the inherited socket by its
    /// kind and address, wherever the address came from). Returns the port.
    pub fn prebind(&mut self, socket: SocketKind) -> u16 {
        let bound = Prebound::new();
        let port = bound.port;
        self.prebound
            .push((format!("{}:{}", socket.kind(), bound.addr()), bound));
        match socket {
            SocketKind::Http => self.ports.http = port,
            SocketKind::Uwsgi => self.ports.uwsgi = port,
            SocketKind::Stats => self.ports.stats = port,
            SocketKind::Metrics => self.ports.metrics = port,
        }
        port
    }

    /// `socket`'s option with a pre-bound loopback address.
    fn listen(mut self, socket: SocketKind) -> Rwsgi {
        let port = self.prebind(socket);
        self.args([socket.option(), &format!("127.0.0.1:{port}")])
    }

    /// An HTTP socket (`--http-socket`) on a pre-bound loopback port.
    pub fn http(self) -> Rwsgi {
        self.listen(SocketKind::Http)
    }

    /// A uwsgi-protocol socket (`--socket`) on a pre-bound loopback port.
    pub fn uwsgi(self) -> Rwsgi {
        self.listen(SocketKind::Uwsgi)
    }

    /// A stats socket (`--stats`) on a pre-bound loopback port.
    pub fn stats(self) -> Rwsgi {
        self.listen(SocketKind::Stats)
    }

    /// A Prometheus listener (`--metrics`) on a pre-bound loopback port.
    pub fn metrics(self) -> Rwsgi {
        self.listen(SocketKind::Metrics)
    }

    /// `--master`.
    pub fn master(self) -> Rwsgi {
        self.arg("--master")
    }

    /// `--module NAME --chdir tests/apps`: one of the shipped test apps.
    pub fn test_app(self, module: &str) -> Rwsgi {
        let dir = crate::apps_dir().display().to_string();
        self.args(["--module", module, "--chdir", &dir])
    }

    /// Corpus config `name` ([`crate::test_config`]) with pre-bound HTTP and stats sockets,
    /// which it names through the `%(http_port)` / `%(stats_port)` placeholders, and `%(tmp)`
    /// for the server's temp dir (made now if [`Rwsgi::dir`] gave none). Placeholders must be
    /// set before the file is read, so arguments given earlier come first.
    pub fn corpus_ini(mut self, name: &str) -> Rwsgi {
        let http = self.prebind(SocketKind::Http);
        let stats = self.prebind(SocketKind::Stats);
        let tmp = self
            .dir
            .get_or_insert_with(|| tempfile::tempdir().expect("tempdir"))
            .path()
            .display()
            .to_string();
        self.args([
            "--set-placeholder".to_string(),
            format!("http_port={http}"),
            "--set-placeholder".to_string(),
            format!("stats_port={stats}"),
            "--set-placeholder".to_string(),
            format!("tmp={tmp}"),
            crate::test_config(name),
        ])
    }

    /// `--processes N`.
    pub fn processes(self, n: usize) -> Rwsgi {
        self.args(["--processes", &n.to_string()])
    }

    /// One argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Rwsgi {
        self.args.push(arg.into());
        self
    }

    /// Several arguments.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Rwsgi {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Runs in `dir` (kept for the server's lifetime) instead of a fresh temp dir.
    pub fn dir(mut self, dir: tempfile::TempDir) -> Rwsgi {
        self.dir = Some(dir);
        self
    }

    /// Starts the server with this file-creation mask (the default is the test's own).
    pub fn umask(mut self, mask: u32) -> Rwsgi {
        self.umask = Some(mask);
        self
    }

    /// Starts the server with this stdin (the default is `/dev/null`).
    pub fn stdin(mut self, stdin: Stdio) -> Rwsgi {
        self.stdin = Some(stdin);
        self
    }

    /// The ports chosen so far.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Runs rwsgi to completion (for start-up errors); returns (exit code, output). `None`:
    /// still running after `timeout` (it is stopped then).
    pub fn run_to_exit(self, timeout: Duration) -> (Option<i32>, String) {
        let mut server = self.start();
        let code = server.wait_exit(timeout);
        (code, server.log())
    }

    /// Starts rwsgi (output to a log file in the temp dir); does not wait for anything.
    pub fn start(self) -> Server {
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().expect("tempdir"),
        };
        let inherited: String = self
            .prebound
            .iter()
            .map(|(key, s)| format!("{} {key}\n", s.raw()))
            .collect();
        let fds: Vec<RawFd> = self.prebound.iter().map(|(_, s)| s.raw()).collect();
        let mut cmd = Command::new(rwsgi_bin());
        cmd.args(&self.args);
        if !fds.is_empty() {
            cmd.env("RWSGI_INHERITED_SOCKETS", inherited);
        }
        let umask = self.umask;
        if !fds.is_empty() || umask.is_some() {
            // SAFETY: between fork and exec only fcntl and umask run (async-signal-safe), on
            // descriptors this process owns (the pre-bound sockets, alive until `spawn`
            // returns).
            unsafe {
                cmd.pre_exec(move || {
                    for &fd in &fds {
                        if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    if let Some(mask) = umask {
                        libc::umask(mask as libc::mode_t);
                    }
                    Ok(())
                });
            }
        }
        cmd.stdin(self.stdin.unwrap_or_else(Stdio::null));
        let mut server = Server::spawn(cmd, dir);
        server.ports = self.ports;
        // The parent's copies close here; the child holds the sockets now.
        drop(self.prebound);
        server
    }
}

/// A running rwsgi, stopped (SIGTERM, then SIGKILL, and any leftover children by pid and
/// start time) when dropped.
pub struct Server {
    /// The master process.
    pub child: Child,
    /// The temp dir the server runs with (its log is there).
    pub dir: tempfile::TempDir,
    /// The log file (stdout and stderr).
    pub log_path: PathBuf,
    /// The ports of the sockets [`Rwsgi`] bound for it.
    pub ports: Ports,
}

impl Server {
    fn spawn(mut cmd: Command, dir: tempfile::TempDir) -> Server {
        let log_path = dir.path().join("rwsgi.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = cmd
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn rwsgi");
        Server {
            child,
            dir,
            log_path,
            ports: Ports::default(),
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
        kill(self.pid(), sig);
    }

    /// Waits until `cond` holds on the log, or panics with the log after `timeout`.
    pub fn wait_log(&self, timeout: Duration, cond: impl Fn(&str) -> bool) {
        eventually(timeout, "a log line", || {
            let log = self.log();
            if cond(&log) {
                Ok(())
            } else {
                Err(log)
            }
        });
    }

    /// Waits until `n` workers were spawned and the HTTP port answers.
    pub fn wait_http_ready(&self, port: u16, workers: usize) {
        self.wait_log(Duration::from_secs(20), |l| {
            l.matches("spawned rwsgi worker").count() >= workers
        });
        eventually(Duration::from_secs(20), "the HTTP socket answering", || {
            match crate::http::try_http(port, "GET", "/", &[], b"") {
                Ok(r) if r.status > 0 => Ok(()),
                Ok(_) => Err(format!("no response\n{}", self.log())),
                Err(e) => Err(format!("{e}\n{}", self.log())),
            }
        });
    }

    /// Waits for the master to exit; returns its exit code (`None`: still running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
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
                kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Sends `sig` to `pid`: only ever a process this test started, or one its server forked.
pub fn kill(pid: i32, sig: i32) {
    if let Some(sig) = rwsgi_os::Signal::from_named_raw(sig) {
        let _ = rwsgi_os::process::kill(pid, sig);
    }
}

/// Stops a child this test started: `sig` by its pid, up to 10 s to exit, then SIGKILL.
pub fn stop_child(child: &mut Child, sig: i32) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    kill(child.id() as i32, sig);
    let mut exited = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
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

/// Whether `pid` names a live process (a zombie, exited but not reaped yet, is not).
pub fn pid_alive(pid: i32) -> bool {
    start_time(pid).is_some()
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
            // Not reaped yet (its waiter thread is still blocked on it): the pid is still ours.
            kill(pid, libc::SIGKILL);
            panic!("command {cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// Runs rwsgi to completion with exactly `args` (for start-up errors); returns (exit code,
/// output). [`Rwsgi::run_to_exit`] is the same with pre-bound sockets.
pub fn run_to_exit<S: AsRef<str>>(args: &[S], timeout: Duration) -> (Option<i32>, String) {
    Rwsgi::new().args(args).run_to_exit(timeout)
}
