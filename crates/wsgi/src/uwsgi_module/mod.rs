//! The built-in `uwsgi` Python module (uWSGI 2.0's API, as apps and libraries use it) and
//! rwsgi's `uwsgidecorators`, both put in `sys.modules` before any app is imported, so
//! `import uwsgi` and `from uwsgidecorators import postfork` work with nothing installed (and
//! win over a `uwsgidecorators` left in site-packages). Outside rwsgi `import uwsgi` still
//! fails, which is how apps detect the server.
//!
//! The module keeps no state of its own: the server hands it a [`ServerContext`] once (in the
//! master, before the app loads), tells it which worker a process is ([`enter_worker`]), and
//! per request which connection a core serves ([`begin_request`] / [`end_request`]). Request
//! state (`set_logvar`, `request_id`, `connection_fd`) is per core: cores are threads, so it
//! lives in thread-locals, and nothing is allocated unless the app asks.
//!
//! uWSGI's signals (`register_signal`, `signal`, the timers, `add_cron`, `add_file_monitor`,
//! `signal_wait`, `set_user_harakiri`) go through the context's [`SignalBackend`]: the server
//! routes them; this module keeps the process's handler table and runs a handler when the
//! server's event loop hands it a signal ([`run_signal_handler`]).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rwsgi_os::shlock::SharedLocks;

/// The uWSGI release whose Python API this module implements (libraries compare
/// `uwsgi.version_info` against it).
pub const UWSGI_API_VERSION: (u8, u8, u8, u8) = (2, 0, 31, 0);

/// One worker as `uwsgi.workers()` shows it (uWSGI's keys).
#[derive(Debug, Clone, Default)]
pub struct WorkerInfo {
    /// 1-based worker id.
    pub id: u64,
    /// Its pid (0 before its first spawn).
    pub pid: u64,
    /// Requests since the first spawn.
    pub requests: u64,
    /// Requests since the current process was spawned.
    pub delta_requests: u64,
    /// Requests whose app raised.
    pub exceptions: u64,
    /// `idle`, `busy`, ...
    pub status: String,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Virtual memory, bytes.
    pub vsz: u64,
    /// Microseconds spent in requests.
    pub running_time: u64,
    /// Unix seconds of the last spawn.
    pub last_spawn: u64,
    /// Spawns of this id.
    pub respawn_count: u64,
    /// Bytes sent.
    pub tx: u64,
    /// Average response time, microseconds.
    pub avg_rt: u64,
    /// uWSGI signals it handled.
    pub signals: u64,
    /// Its apps, in load order.
    pub apps: Vec<WorkerAppInfo>,
}

/// One app of one worker, as `uwsgi.workers()[i]["apps"]` shows it (uWSGI's keys).
#[derive(Debug, Clone, Default)]
pub struct WorkerAppInfo {
    /// The app's index.
    pub id: u64,
    /// Its mount point (`""` for the default app).
    pub mountpoint: String,
    /// Unix seconds it was loaded (0 when the master does not know).
    pub startup_time: u64,
    /// Requests it served in this worker.
    pub requests: u64,
    /// Requests whose call raised.
    pub exceptions: u64,
    /// The directory it was loaded in (`""` when unset).
    pub chdir: String,
}

/// What a `uwsgi.metric_*` call does to a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUpdate {
    /// `metric_set`
    Set,
    /// `metric_inc`
    Inc,
    /// `metric_dec`
    Dec,
    /// `metric_mul`
    Mul,
    /// `metric_div`
    Div,
    /// `metric_set_max`
    SetMax,
    /// `metric_set_min`
    SetMin,
}

/// What the module reads from the server while the app runs.
pub trait ServerView: Send + Sync {
    /// Requests served by every worker (`uwsgi.total_requests()`).
    fn total_requests(&self) -> u64;
    /// Every worker (`uwsgi.workers()`).
    fn workers(&self) -> Vec<WorkerInfo>;
    /// `uwsgi.metric_get`: a metric's value (0 for an unknown one, as uWSGI).
    fn metric_get(&self, name: &str) -> i64;
    /// `uwsgi.metric_set/inc/...`: `false` when the server refused (metrics off, an unknown,
    /// read-only or collected metric, a division by zero).
    fn metric_update(&self, name: &str, update: MetricUpdate, n: i64) -> bool;
}

/// What `uwsgi.*` asks of the signal framework; the master carries it out (a worker's request
/// travels over its signal channel, one registered in the master at app load is kept until
/// the master's loop starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalRequest {
    /// `uwsgi.signal(sig)`: route `sig` to its target.
    Raise(u8),
    /// `add_timer(sig, secs)`, `add_ms_timer(sig, msecs)` (`iterations` 0) and
    /// `add_rb_timer(sig, secs, iterations)`.
    Timer {
        /// The signal raised.
        sig: u8,
        /// The period, milliseconds (at least 1).
        millis: u32,
        /// Firings before it stops; 0 for ever.
        iterations: u32,
    },
    /// `add_cron(sig, minute, hour, day, month, weekday)`.
    Cron {
        /// The signal raised.
        sig: u8,
        /// minute, hour, day, month, weekday (-1 any, -N every N).
        spec: [i32; 5],
    },
    /// `add_file_monitor(sig, path)`.
    FileMonitor {
        /// The signal raised.
        sig: u8,
        /// The file or directory watched (absolute).
        path: std::path::PathBuf,
    },
}

/// The server's side of uWSGI's signal framework.
pub trait SignalBackend: Send + Sync {
    /// `register_signal` in process `wid` (0: the master): checks `target` and tells the
    /// master where `sig` goes. `Err` is the message of the `ValueError` raised.
    fn register(&self, wid: usize, sig: u8, target: &str) -> Result<(), String>;
    /// Hands `req` to the master. `Err` is the message of the `ValueError` raised.
    fn request(&self, wid: usize, req: SignalRequest) -> Result<(), String>;
    /// Waits (the GIL released by the caller) for the next signal to worker `wid`; `None` when
    /// none can come.
    fn wait(&self, wid: usize) -> Option<u8>;
    /// Worker `wid` ran a signal's handler inside `signal_wait` (counted in its `signals`).
    fn handled(&self, wid: usize);
    /// `uwsgi.set_user_harakiri`: core `core` of worker `wid` is killed by the master once
    /// Unix second `deadline` passes (0: no deadline).
    fn set_user_harakiri(&self, wid: usize, core: usize, deadline: u64);
}

/// The server's facts the module shows, handed over once by [`install`].
pub struct ServerContext {
    /// Every option occurrence as written (`uwsgi.opt`).
    pub opt: Vec<(String, Option<String>)>,
    /// `--processes` (`uwsgi.numproc`).
    pub numproc: usize,
    /// Cores per worker, `--threads` (`uwsgi.cores`).
    pub cores: usize,
    /// The master's pid.
    pub masterpid: u32,
    /// The machine's host name.
    pub hostname: String,
    /// Unix seconds the server started.
    pub started_on: u64,
    /// rwsgi's own version (`uwsgi.rwsgi_version`).
    pub server_version: String,
    /// The user locks: lock 0 and `--locks N` more, shared by every worker.
    pub locks: std::sync::Arc<SharedLocks>,
    /// Live counters.
    pub view: Box<dyn ServerView>,
    /// uWSGI's signals, timers, cron and file monitors.
    pub signals: Box<dyn SignalBackend>,
}

static CONTEXT: OnceLock<ServerContext> = OnceLock::new();
/// 0 in the master; set once in each worker after the fork.
static WORKER_ID: AtomicUsize = AtomicUsize::new(0);
/// True once this process serves requests (`uwsgi.ready()`).
static READY: AtomicBool = AtomicBool::new(false);

/// The Python signal handlers this process registered (or inherited from the master), by
/// signal number.
static HANDLERS: std::sync::Mutex<Vec<(u8, Py<PyAny>)>> = std::sync::Mutex::new(Vec::new());

thread_local! {
    /// The core this thread runs (`None` in app threads and the master).
    static CORE: Cell<Option<usize>> = const { Cell::new(None) };
    /// `set_user_harakiri` set a deadline during this core's request.
    static USER_HARAKIRI: Cell<bool> = const { Cell::new(false) };
    /// The last signal `signal_wait` returned on this thread.
    static SIGNAL_RECEIVED: Cell<u8> = const { Cell::new(0) };
    /// The connection fd and `request_id()` of the request this core is serving.
    static REQUEST: Cell<(i32, u64)> = const { Cell::new((-1, 0)) };
    /// `set_logvar()` pairs of this core's current request.
    static LOGVARS: RefCell<Vec<(Vec<u8>, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// Why the module could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// Installed twice in one process.
    #[error("the uwsgi module is already installed")]
    AlreadyInstalled,
    /// Building the module failed.
    #[error("cannot build the uwsgi module: {0}")]
    Python(#[from] PyErr),
}

const DECORATORS_SOURCE: &std::ffi::CStr = {
    match std::ffi::CStr::from_bytes_with_nul(
        concat!(include_str!("uwsgidecorators.py"), "\0").as_bytes(),
    ) {
        Ok(s) => s,
        Err(_) => panic!("uwsgidecorators.py contains a NUL"),
    }
};

/// Builds `uwsgi` and `uwsgidecorators` and puts them in `sys.modules` (the master, before the
/// apps load; workers inherit them across the fork).
pub fn install(py: Python<'_>, ctx: ServerContext) -> Result<(), ModuleError> {
    let ctx = {
        let mut slot = Some(ctx);
        let stored = CONTEXT.get_or_init(|| slot.take().expect("taken once"));
        if slot.is_some() {
            return Err(ModuleError::AlreadyInstalled);
        }
        stored
    };
    let m = PyModule::new(py, "uwsgi")?;
    m.add_function(wrap_pyfunction!(worker_id, &m)?)?;
    m.add_function(wrap_pyfunction!(masterpid, &m)?)?;
    m.add_function(wrap_pyfunction!(mule_id, &m)?)?;
    m.add_function(wrap_pyfunction!(total_requests, &m)?)?;
    m.add_function(wrap_pyfunction!(workers, &m)?)?;
    m.add_function(wrap_pyfunction!(reload, &m)?)?;
    m.add_function(wrap_pyfunction!(stop, &m)?)?;
    m.add_function(wrap_pyfunction!(log, &m)?)?;
    m.add_function(wrap_pyfunction!(set_logvar, &m)?)?;
    m.add_function(wrap_pyfunction!(get_logvar, &m)?)?;
    m.add_function(wrap_pyfunction!(request_id, &m)?)?;
    m.add_function(wrap_pyfunction!(connection_fd, &m)?)?;
    m.add_function(wrap_pyfunction!(ready, &m)?)?;
    m.add_function(wrap_pyfunction!(lock, &m)?)?;
    m.add_function(wrap_pyfunction!(unlock, &m)?)?;
    m.add_function(wrap_pyfunction!(is_locked, &m)?)?;
    m.add_function(wrap_pyfunction!(setprocname, &m)?)?;
    m.add_function(wrap_pyfunction!(i_am_the_spooler, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_get, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_set, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_inc, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_dec, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_mul, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_div, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_set_max, &m)?)?;
    m.add_function(wrap_pyfunction!(metric_set_min, &m)?)?;
    m.add_function(wrap_pyfunction!(register_signal, &m)?)?;
    m.add_function(wrap_pyfunction!(signal_registered, &m)?)?;
    m.add_function(wrap_pyfunction!(signal, &m)?)?;
    m.add_function(wrap_pyfunction!(add_timer, &m)?)?;
    m.add_function(wrap_pyfunction!(add_rb_timer, &m)?)?;
    m.add_function(wrap_pyfunction!(add_ms_timer, &m)?)?;
    m.add_function(wrap_pyfunction!(add_cron, &m)?)?;
    m.add_function(wrap_pyfunction!(add_file_monitor, &m)?)?;
    m.add_function(wrap_pyfunction!(signal_wait, &m)?)?;
    m.add_function(wrap_pyfunction!(signal_received, &m)?)?;
    m.add_function(wrap_pyfunction!(set_user_harakiri, &m)?)?;
    m.add("opt", opt_dict(py, &ctx.opt)?)?;
    m.add("numproc", ctx.numproc)?;
    m.add("cores", ctx.cores)?;
    m.add("hostname", PyBytes::new(py, ctx.hostname.as_bytes()))?;
    m.add("started_on", ctx.started_on)?;
    let (major, minor, rev, sub) = UWSGI_API_VERSION;
    let version = format!("{major}.{minor}.{rev}");
    m.add("version", PyBytes::new(py, version.as_bytes()))?;
    m.add("version_info", (major, minor, rev, sub, ""))?;
    m.add("rwsgi_version", ctx.server_version.as_str())?;
    // uWSGI's spooler return codes, which uwsgidecorators refers to.
    m.add("SPOOL_RETRY", -1)?;
    m.add("SPOOL_OK", -2)?;
    m.add("SPOOL_IGNORE", 0)?;
    // Python threads always run under rwsgi (the GIL is released whenever a core waits), as
    // under uWSGI with --enable-threads.
    m.add("has_threads", 1)?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("uwsgi", &m)?;
    let decorators = PyModule::from_code(
        py,
        DECORATORS_SOURCE,
        c"uwsgidecorators.py",
        c"uwsgidecorators",
    )?;
    modules.set_item("uwsgidecorators", decorators)?;
    Ok(())
}

/// `uwsgi.opt`: a repeated option becomes a list, a bare flag `True`, a value bytes.
fn opt_dict<'py>(
    py: Python<'py>,
    opt: &[(String, Option<String>)],
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in opt {
        let value: Bound<'py, PyAny> = match value {
            Some(v) => PyBytes::new(py, v.as_bytes()).into_any(),
            None => pyo3::types::PyBool::new(py, true).to_owned().into_any(),
        };
        match dict.get_item(key)? {
            None => dict.set_item(key, value)?,
            Some(old) => match old.cast::<PyList>() {
                Ok(list) => list.append(value)?,
                Err(_) => dict.set_item(key, PyList::new(py, [old, value])?)?,
            },
        }
    }
    Ok(dict)
}

/// Marks this process as worker `wid` (after the fork).
pub fn enter_worker(wid: usize) {
    WORKER_ID.store(wid, Relaxed);
}

/// Marks this thread as core `core` of its worker (for `set_user_harakiri`).
pub fn enter_core(core: usize) {
    CORE.with(|c| c.set(Some(core)));
}

/// Runs this process's handler of signal `sig` (the caller holds the GIL, in its event loop,
/// between requests); an exception is printed. False when this process has no handler for it.
pub fn run_signal_handler(py: Python<'_>, sig: u8) -> bool {
    let handler = match HANDLERS.lock() {
        Ok(h) => h
            .iter()
            .find(|(s, _)| *s == sig)
            .map(|(_, f)| f.clone_ref(py)),
        Err(_) => None,
    };
    let Some(handler) = handler else {
        return false;
    };
    if let Err(e) = handler.call1(py, (sig,)) {
        e.print(py);
    }
    true
}

/// Marks this process as serving (`uwsgi.ready()` turns true).
pub fn set_ready() {
    READY.store(true, Relaxed);
}

/// Calls `uwsgi.post_fork_hook` when the app (or a `uwsgidecorators`) set one: each worker
/// once, after the fork and its apps' loading, before it serves. An exception is printed.
pub fn run_post_fork_hook(py: Python<'_>) {
    let hook = py
        .import("sys")
        .and_then(|s| s.getattr("modules"))
        .and_then(|m| m.get_item("uwsgi"))
        .and_then(|u| u.getattr("post_fork_hook"));
    if let Ok(hook) = hook {
        if let Err(e) = hook.call0() {
            e.print(py);
        }
    }
}

/// The core on this thread starts serving a request on `fd`, the core's `request_id`-th.
#[inline]
pub fn begin_request(fd: i32, request_id: u64) {
    REQUEST.with(|r| r.set((fd, request_id)));
}

/// The core on this thread is done with its request (after it was logged): its log vars go.
#[inline]
pub fn end_request() {
    REQUEST.with(|r| r.set((-1, r.get().1)));
    // uWSGI ends a user harakiri with the request that set it.
    if USER_HARAKIRI.with(Cell::get) {
        clear_user_harakiri();
    }
    LOGVARS.with(|l| {
        // try_borrow: an app thread cannot hold it here, but a panic must not come from it.
        if let Ok(mut l) = l.try_borrow_mut() {
            if !l.is_empty() {
                l.clear();
            }
        }
    });
}

/// Calls `f` with the value the current request's app gave log var `name`, if any.
pub fn with_logvar<R>(name: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
    LOGVARS.with(|l| match l.try_borrow() {
        Ok(l) => f(l
            .iter()
            .find(|(k, _)| k.as_slice() == name)
            .map(|(_, v)| v.as_slice())),
        Err(_) => f(None),
    })
}

fn context() -> PyResult<&'static ServerContext> {
    CONTEXT
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("the uwsgi module has no server"))
}

/// The 1-based id of this worker, 0 in the master.
#[pyfunction]
fn worker_id() -> usize {
    WORKER_ID.load(Relaxed)
}

/// The master's pid.
#[pyfunction]
fn masterpid() -> PyResult<u32> {
    Ok(context()?.masterpid)
}

/// 0: rwsgi has no mules.
#[pyfunction]
fn mule_id() -> u32 {
    0
}

/// Requests served by every worker.
#[pyfunction]
fn total_requests() -> PyResult<u64> {
    Ok(context()?.view.total_requests())
}

/// The workers as dicts (uWSGI's keys), in a tuple.
#[pyfunction]
fn workers(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let rows = context()?.view.workers();
    let mut dicts = Vec::with_capacity(rows.len());
    for w in rows {
        let d = PyDict::new(py);
        d.set_item("id", w.id)?;
        d.set_item("pid", w.pid)?;
        d.set_item("requests", w.requests)?;
        d.set_item("delta_requests", w.delta_requests)?;
        d.set_item("signals", w.signals)?;
        d.set_item("exceptions", w.exceptions)?;
        d.set_item("status", PyBytes::new(py, w.status.as_bytes()))?;
        d.set_item("rss", w.rss)?;
        d.set_item("vsz", w.vsz)?;
        d.set_item("running_time", w.running_time)?;
        d.set_item("last_spawn", w.last_spawn)?;
        d.set_item("respawn_count", w.respawn_count)?;
        d.set_item("tx", w.tx)?;
        d.set_item("avg_rt", w.avg_rt)?;
        let mut apps = Vec::with_capacity(w.apps.len());
        for a in &w.apps {
            let ad = PyDict::new(py);
            ad.set_item("id", a.id)?;
            ad.set_item("modifier1", 0)?;
            ad.set_item("mountpoint", PyBytes::new(py, a.mountpoint.as_bytes()))?;
            ad.set_item("startup_time", a.startup_time)?;
            ad.set_item("requests", a.requests)?;
            ad.set_item("exceptions", a.exceptions)?;
            ad.set_item("chdir", PyBytes::new(py, a.chdir.as_bytes()))?;
            apps.push(ad);
        }
        d.set_item("apps", PyTuple::new(py, apps)?)?;
        dicts.push(d);
    }
    PyTuple::new(py, dicts)
}

/// uWSGI's answer for a yes/no: `True`, or `None` (not `False`).
fn true_or_none(py: Python<'_>, yes: bool) -> Py<PyAny> {
    if yes {
        pyo3::types::PyBool::new(py, true)
            .to_owned()
            .into_any()
            .unbind()
    } else {
        py.None()
    }
}

/// Signals the master: `True` when it was told, `None` when it could not be.
fn signal_master(py: Python<'_>, sig: rwsgi_os::Signal) -> PyResult<Py<PyAny>> {
    let pid = context()?.masterpid;
    Ok(match rwsgi_os::process::kill(pid as i32, sig) {
        Ok(()) => true_or_none(py, true),
        Err(e) => {
            eprintln!("uwsgi: signalling the master: {e}");
            py.None()
        }
    })
}

/// Gracefully reloads the server (SIGHUP to the master).
#[pyfunction]
fn reload(py: Python<'_>) -> PyResult<Py<PyAny>> {
    signal_master(py, rwsgi_os::Signal::HUP)
}

/// Gracefully stops the server (SIGQUIT to the master, as uWSGI sends).
#[pyfunction]
fn stop(py: Python<'_>) -> PyResult<Py<PyAny>> {
    signal_master(py, rwsgi_os::Signal::QUIT)
}

/// Writes `msg` and a newline to the server's log.
#[pyfunction]
fn log(msg: &str) -> bool {
    use std::io::Write;
    let mut line = Vec::with_capacity(msg.len() + 1);
    line.extend_from_slice(msg.as_bytes());
    line.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&line);
    true
}

/// Sets log var `key` of the request this core serves (what `uwsgi.set_logvar()` does).
pub fn store_logvar(key: &[u8], value: &[u8]) {
    LOGVARS.with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            match l.iter_mut().find(|(k, _)| k.as_slice() == key) {
                Some((_, v)) => *v = value.to_vec(),
                None => l.push((key.to_vec(), value.to_vec())),
            }
        }
    });
}

/// Sets a log var of the current request, shown by `%(key)` in `--log-format`.
#[pyfunction]
fn set_logvar(key: &str, value: &str) {
    store_logvar(key.as_bytes(), value.as_bytes());
}

/// A log var of the current request (bytes), `None` when unset.
#[pyfunction]
fn get_logvar<'py>(py: Python<'py>, key: &str) -> Option<Bound<'py, PyBytes>> {
    with_logvar(key.as_bytes(), |v| v.map(|v| PyBytes::new(py, v)))
}

/// The number of requests this core finished before the current one (uWSGI's request id).
#[pyfunction]
fn request_id() -> u64 {
    REQUEST.with(|r| r.get().1)
}

/// The socket of the current request (-1 outside one).
#[pyfunction]
fn connection_fd() -> i32 {
    REQUEST.with(|r| r.get().0)
}

/// `True` once this process serves requests, else `None`.
#[pyfunction]
fn ready(py: Python<'_>) -> Py<PyAny> {
    true_or_none(py, READY.load(Relaxed))
}

fn lock_index(n: i64) -> PyResult<(usize, &'static SharedLocks)> {
    let locks: &'static SharedLocks = &context()?.locks;
    usize::try_from(n)
        .ok()
        .filter(|&n| n < locks.count())
        .map(|n| (n, locks))
        .ok_or_else(|| PyValueError::new_err("Invalid lock number"))
}

/// Takes user lock `n` (0 by default), shared by every worker, waiting without the GIL.
#[pyfunction]
#[pyo3(signature = (n = 0))]
fn lock(py: Python<'_>, n: i64) -> PyResult<()> {
    let (n, locks) = lock_index(n)?;
    py.detach(|| locks.lock(n));
    Ok(())
}

/// Releases user lock `n` (0 by default).
#[pyfunction]
#[pyo3(signature = (n = 0))]
fn unlock(n: i64) -> PyResult<()> {
    let (n, locks) = lock_index(n)?;
    locks.unlock(n);
    Ok(())
}

/// `True` when user lock `n` is held, else `None`.
#[pyfunction]
#[pyo3(signature = (n = 0))]
fn is_locked(py: Python<'_>, n: i64) -> PyResult<Py<PyAny>> {
    let (n, locks) = lock_index(n)?;
    Ok(true_or_none(py, locks.is_locked(n)))
}

/// Titles the process as `ps` shows it, as uWSGI's does: the command line, and the name the
/// kernel keeps (15 bytes; the calling thread's, the process's from its main thread).
#[pyfunction]
fn setprocname(name: &str) {
    if let Err(e) = rwsgi_os::process::set_title(name) {
        eprintln!("uwsgi.setprocname: {e}");
    }
}

/// `None`: rwsgi has no spooler.
#[pyfunction]
fn i_am_the_spooler() -> Option<bool> {
    None
}

/// The value of metric `key` (custom or built-in, like `worker.1.requests`); 0 when there is
/// no such metric or metrics are off, as uWSGI answers.
#[pyfunction]
fn metric_get(key: &str) -> PyResult<i64> {
    Ok(context()?.view.metric_get(key))
}

/// `True` when the server applied `update`, `None` when it refused (uWSGI's answers).
fn metric_call(py: Python<'_>, key: &str, update: MetricUpdate, n: i64) -> PyResult<Py<PyAny>> {
    Ok(true_or_none(
        py,
        context()?.view.metric_update(key, update, n),
    ))
}

/// uWSGI's `metric_*` writers: each is one call of [`metric_call`] with its update, `value`
/// 1 by default (pyo3 needs one function per Python name).
macro_rules! metric_functions {
    ($($(#[doc = $doc:literal])* $name:ident => $update:ident;)*) => {$(
        $(#[doc = $doc])*
        #[pyfunction]
        #[pyo3(signature = (key, value = 1))]
        fn $name(py: Python<'_>, key: &str, value: i64) -> PyResult<Py<PyAny>> {
            metric_call(py, key, MetricUpdate::$update, value)
        }
    )*};
}

metric_functions! {
    /// Sets metric `key` to `value`.
    metric_set => Set;
    /// Adds `value` to metric `key`: one atomic add, shared by every worker.
    metric_inc => Inc;
    /// Subtracts `value` from metric `key`.
    metric_dec => Dec;
    /// Multiplies metric `key` by `value`.
    metric_mul => Mul;
    /// Divides metric `key` by `value` (0 is refused).
    metric_div => Div;
    /// Raises metric `key` to `value` when that is larger.
    metric_set_max => SetMax;
    /// Lowers metric `key` to `value` when that is smaller (and above the metric's initial
    /// value, uWSGI's rule).
    metric_set_min => SetMin;
}

// ---- uWSGI signals ----

fn signal_number(n: i64) -> PyResult<u8> {
    u8::try_from(n).map_err(|_| PyValueError::new_err(format!("invalid signal number {n}: 0-255")))
}

fn signal_request(req: SignalRequest) -> PyResult<()> {
    context()?
        .signals
        .request(worker_id(), req)
        .map_err(PyValueError::new_err)
}

/// Registers `handler` (called with the signal number) for uWSGI signal `signum`, delivered
/// to `who`: `""`/`worker` (the first free worker), `workerN`, `workers`, `active-workers`.
#[pyfunction]
fn register_signal(signum: i64, who: &str, handler: Bound<'_, PyAny>) -> PyResult<()> {
    let sig = signal_number(signum)?;
    if !handler.is_callable() {
        return Err(PyValueError::new_err("the signal handler must be callable"));
    }
    let wid = worker_id();
    let mut handlers = HANDLERS
        .lock()
        .map_err(|_| PyRuntimeError::new_err("the signal table is poisoned"))?;
    if wid == 0 && handlers.iter().any(|(s, _)| *s == sig) {
        return Err(PyValueError::new_err(format!(
            "signal {sig} is already registered: you cannot re-register a signal as the master"
        )));
    }
    context()?
        .signals
        .register(wid, sig, who)
        .map_err(PyValueError::new_err)?;
    handlers.retain(|(s, _)| *s != sig);
    handlers.push((sig, handler.unbind()));
    drop(handlers);
    let shown = if who.is_empty() {
        "default, any worker"
    } else {
        who
    };
    eprintln!("[uwsgi-signal] signum {sig} registered (wid: {wid} modifier1: 0 target: {shown})");
    Ok(())
}

/// `True` when this process has a handler for `signum`, else `None`.
#[pyfunction]
fn signal_registered(py: Python<'_>, signum: i64) -> PyResult<Py<PyAny>> {
    let sig = signal_number(signum)?;
    let known = HANDLERS
        .lock()
        .map(|h| h.iter().any(|(s, _)| *s == sig))
        .unwrap_or(false);
    Ok(true_or_none(py, known))
}

/// Raises uWSGI signal `signum`: the master routes it to the target it was registered for.
/// (`remote`, uWSGI's other server, is refused.)
#[pyfunction]
#[pyo3(signature = (signum, remote = None))]
fn signal(signum: i64, remote: Option<&str>) -> PyResult<()> {
    if remote.is_some() {
        return Err(PyValueError::new_err(
            "uwsgi.signal to a remote server needs uWSGI's signal socket, which rwsgi does not implement",
        ));
    }
    signal_request(SignalRequest::Raise(signal_number(signum)?))
}

/// A timer's period in milliseconds: `n` units of `unit_ms`, at least one unit, at most
/// `u32::MAX` ms (49 days).
fn timer_period(n: i64, unit_ms: i64) -> PyResult<u32> {
    n.checked_mul(unit_ms)
        .and_then(|ms| u32::try_from(ms).ok())
        .filter(|&ms| ms > 0)
        .ok_or_else(|| PyValueError::new_err(format!("invalid timer period {n}")))
}

/// Raises `signum` every `msecs` milliseconds (uWSGI's high-resolution timer).
#[pyfunction]
fn add_ms_timer(signum: i64, msecs: i64) -> PyResult<()> {
    signal_request(SignalRequest::Timer {
        sig: signal_number(signum)?,
        millis: timer_period(msecs, 1)?,
        iterations: 0,
    })
}

/// Raises `signum` every `seconds` (the master's timer).
#[pyfunction]
fn add_timer(signum: i64, seconds: i64) -> PyResult<()> {
    signal_request(SignalRequest::Timer {
        sig: signal_number(signum)?,
        millis: timer_period(seconds, 1000)?,
        iterations: 0,
    })
}

/// Raises `signum` every `seconds`, `iterations` times (0: for ever).
#[pyfunction]
#[pyo3(signature = (signum, seconds, iterations = 0))]
fn add_rb_timer(signum: i64, seconds: i64, iterations: i64) -> PyResult<()> {
    signal_request(SignalRequest::Timer {
        sig: signal_number(signum)?,
        millis: timer_period(seconds, 1000)?,
        iterations: u32::try_from(iterations)
            .map_err(|_| PyValueError::new_err(format!("invalid iterations {iterations}")))?,
    })
}

/// Raises `signum` when the local time matches (-1: any value, -N: every N), checked each
/// minute by the master, as uWSGI's signal cron.
#[pyfunction]
fn add_cron(
    signum: i64,
    minute: i32,
    hour: i32,
    day: i32,
    month: i32,
    weekday: i32,
) -> PyResult<()> {
    signal_request(SignalRequest::Cron {
        sig: signal_number(signum)?,
        spec: [minute, hour, day, month, weekday],
    })
}

/// Raises `signum` whenever `filename` (a file or a directory) changes (inotify, in the
/// master).
#[pyfunction]
fn add_file_monitor(signum: i64, filename: std::path::PathBuf) -> PyResult<()> {
    let sig = signal_number(signum)?;
    let path = if filename.is_absolute() {
        filename
    } else {
        std::env::current_dir()
            .map_err(|e| PyValueError::new_err(format!("add_file_monitor: {e}")))?
            .join(filename)
    };
    signal_request(SignalRequest::FileMonitor { sig, path })
}

/// In a worker: waits (without the GIL) for a signal to this worker (or, with `signum`, for
/// that one), runs its handler, and returns `b""`; `signal_received()` then tells which.
#[pyfunction]
#[pyo3(signature = (signum = None))]
fn signal_wait(py: Python<'_>, signum: Option<i64>) -> PyResult<Bound<'_, PyBytes>> {
    let wanted = signum.map(signal_number).transpose()?;
    let wid = worker_id();
    if wid == 0 {
        return Err(PyRuntimeError::new_err(
            "signal_wait works only in a worker",
        ));
    }
    let backend = &context()?.signals;
    loop {
        let Some(sig) = py.detach(|| backend.wait(wid)) else {
            return Err(PyRuntimeError::new_err("unable to call signal_wait()"));
        };
        if run_signal_handler(py, sig) {
            backend.handled(wid);
        }
        if wanted.is_none_or(|w| w == sig) {
            SIGNAL_RECEIVED.with(|r| r.set(sig));
            return Ok(PyBytes::new(py, b""));
        }
    }
}

/// The signal the last `signal_wait()` on this thread returned (0 before any).
#[pyfunction]
fn signal_received() -> u8 {
    SIGNAL_RECEIVED.with(Cell::get)
}

fn clear_user_harakiri() {
    USER_HARAKIRI.with(|u| u.set(false));
    if let (Some(core), Some(ctx)) = (CORE.with(Cell::get), CONTEXT.get()) {
        ctx.signals.set_user_harakiri(worker_id(), core, 0);
    }
}

/// The master kills this worker if the current request (or the `@harakiri` call) is still
/// running `seconds` from now; 0 clears it. Only in a worker's request thread, as in uWSGI.
#[pyfunction]
fn set_user_harakiri(seconds: i64) -> PyResult<()> {
    let (Some(core), wid) = (CORE.with(Cell::get), worker_id()) else {
        return Ok(());
    };
    if seconds <= 0 {
        clear_user_harakiri();
        return Ok(());
    }
    let deadline = rwsgi_os::time::unix_now().saturating_add(seconds as u64);
    USER_HARAKIRI.with(|u| u.set(true));
    context()?.signals.set_user_harakiri(wid, core, deadline);
    Ok(())
}
