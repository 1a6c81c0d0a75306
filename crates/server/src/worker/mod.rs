//! A worker process: N cores (threads), each running its own event loop over the shared
//! listening sockets, calling the WSGI app for each request.
//!
//! Stop protocol (sent by the master): SIGTERM or SIGHUP = graceful (stop accepting, finish the
//! requests in flight within `--worker-reload-mercy`, exit), SIGINT / SIGQUIT = immediate exit.

mod body;
mod core;
mod request;
mod routing;
mod static_send;

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use rwsgi_config::HookPhase;
use rwsgi_os::fd::WakeFd;
use rwsgi_os::mm::{set_malloc_option, MallocOption};
use rwsgi_stats::scoreboard::Scoreboard;
use rwsgi_stats::WorkerId;
use rwsgi_wsgi::Apps;

use crate::listen::Listener;
use crate::settings::Settings;

/// What every core of a worker shares.
pub(crate) struct WorkerShared<'a> {
    /// This worker's id.
    pub wid: WorkerId,
    /// This process's pid.
    pub pid: u32,
    /// The listening sockets.
    pub listeners: &'a [Listener],
    /// The scoreboard.
    pub scoreboard: &'a Scoreboard,
    /// Settings.
    pub settings: &'a Settings,
    /// The apps.
    pub apps: Arc<Apps>,
    /// Set when the worker must stop accepting and wind down.
    pub stopping: AtomicBool,
    /// An eventfd that becomes readable when `stopping` is set, to wake every core's loop.
    pub wake_fd: &'a WakeFd,
    /// Requests served by this process (for `--max-requests`).
    pub served: AtomicU64,
    /// uWSGI signals reach this worker here: its own channel, then the pool's.
    pub signal_fds: [BorrowedFd<'a>; 2],
}

/// This worker's wake-up eventfd, for the stop handler (set once per worker process: the
/// master, whose memory a worker starts with, never sets it).
static WAKE_FD: OnceLock<WakeFd> = OnceLock::new();

extern "C" fn on_stop_signal(sig: libc::c_int) {
    if sig == libc::SIGINT || sig == libc::SIGQUIT {
        rwsgi_os::process::exit_now(0);
    }
    // An atomic load and one write(2): async-signal-safe.
    if let Some(wake) = WAKE_FD.get() {
        wake.wake();
    }
}

fn install_stop_handlers() {
    let _ = crate::signals::install(&crate::signals::STOP_SIGNALS, on_stop_signal);
    crate::signals::child_defaults();
}

/// Runs the worker's hooks of `phase`; on a failure (fatal in uWSGI) the master is asked to
/// shut the server down, and false is returned.
fn run_hooks(wid: WorkerId, settings: &Settings, phase: HookPhase) -> bool {
    match crate::master::hooks::run(&settings.hooks, phase) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("worker {wid}: {e}\nFATAL hook failed, destroying instance");
            let _ = rwsgi_os::process::kill(rwsgi_os::process::parent_pid(), rwsgi_os::Signal::INT);
            false
        }
    }
}

/// Runs worker `wid` in this (freshly forked) process; returns its exit code.
pub(crate) fn run(
    wid: WorkerId,
    listeners: &[Listener],
    scoreboard: &Scoreboard,
    settings: &Settings,
    preloaded: Option<Arc<Apps>>,
    channels: &crate::usignal::Channels,
) -> i32 {
    let wake = match WakeFd::new() {
        Ok(wake) => wake,
        Err(e) => {
            eprintln!("worker {wid}: eventfd: {e}");
            return 1;
        }
    };
    let wake = WAKE_FD.get_or_init(|| wake);
    install_stop_handlers();
    tune_malloc();
    // Before a lazy app loads: it may ask uwsgi.worker_id().
    rwsgi_wsgi::uwsgi_module::enter_worker(wid.get());

    let apps = match preloaded {
        Some(apps) => apps,
        None => {
            if !run_hooks(wid, settings, HookPhase::PreApp) {
                return 1;
            }
            let apps = match crate::apps::load_all(settings) {
                Ok(apps) => Arc::new(apps),
                Err(e) => {
                    eprintln!("worker {wid}: {e}");
                    return 22;
                }
            };
            if !run_hooks(wid, settings, HookPhase::PostApp) {
                return 1;
            }
            apps
        }
    };
    after_apps_loaded(wid, settings);
    // uWSGI's post-fork hook (where @postfork functions run): once per worker, after the fork
    // and the apps, before the first request.
    Python::attach(rwsgi_wsgi::uwsgi_module::run_post_fork_hook);
    rwsgi_wsgi::uwsgi_module::set_ready();
    let shared = WorkerShared {
        wid,
        pid: std::process::id(),
        listeners,
        scoreboard,
        settings,
        apps,
        stopping: AtomicBool::new(false),
        wake_fd: wake,
        served: AtomicU64::new(0),
        signal_fds: [channels.worker_end(wid), channels.pool_end()],
    };
    scoreboard.worker(wid).set_accepting(true);
    if !run_hooks(wid, settings, HookPhase::Accepting)
        || (wid.get() == 1 && !run_hooks(wid, settings, HookPhase::Accepting1))
    {
        scoreboard.worker(wid).set_accepting(false);
        return 1;
    }
    let code = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for core_id in 1..settings.threads {
            let shared = &shared;
            handles.push(scope.spawn(move || core::run(shared, core_id)));
        }
        let mut code = core::run(&shared, 0);
        for h in handles {
            code = code.max(h.join().unwrap_or(1));
        }
        code
    });
    scoreboard.worker(wid).set_accepting(false);
    // Python finalisation at exit could run app atexit hooks against half-torn state after a
    // fork; uWSGI's workers skip it too.
    Python::attach(|py| {
        let _ = py
            .import("sys")
            .and_then(|s| s.getattr("stdout"))
            .and_then(|o| o.call_method0("flush"));
        let _ = py
            .import("sys")
            .and_then(|s| s.getattr("stderr"))
            .and_then(|o| o.call_method0("flush"));
    });
    code
}

/// What a worker does once its apps are loaded, before it serves: its process name,
/// `--chdir2` (lazy apps only: the master did it before the fork otherwise) and, in worker 1,
/// the `--py-autoreload` thread.
fn after_apps_loaded(wid: WorkerId, settings: &Settings) {
    settings
        .procname
        .apply(crate::procname::Role::Worker(wid.get()));
    if settings.lazy_apps {
        if let Some(dir) = &settings.chdir2 {
            if let Err(e) = std::env::set_current_dir(dir) {
                eprintln!("worker {wid}: chdir2 {}: {e}", dir.display());
            }
        }
    }
    if let (1, Some(every)) = (wid.get(), settings.py_autoreload) {
        let master = std::os::unix::process::parent_id();
        if let Err(e) = rwsgi_wsgi::autoreload::start(every.as_secs().max(1), master) {
            eprintln!("worker {wid}: py-autoreload: {e}");
        }
    }
}

/// Request bodies and responses of a few hundred KiB to a few MiB are allocated and freed on
/// every request. glibc's defaults hand such blocks back to the kernel at each free (mmap
/// chunks, and heap trimming past 128 KiB), so every request pays for hundreds of fresh page
/// faults (measured: 400 per 1 MiB echo, 1.56x slower). A worker keeps them instead: blocks
/// under 4 MiB come from the heap, and up to 32 MiB of free heap is kept for reuse. The
/// `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` environment variables still win.
fn tune_malloc() {
    const MMAP_THRESHOLD: i32 = 4 << 20;
    const TRIM_THRESHOLD: i32 = 32 << 20;
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        set_malloc_option(MallocOption::MmapThreshold, MMAP_THRESHOLD);
    }
    if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
        set_malloc_option(MallocOption::TrimThreshold, TRIM_THRESHOLD);
    }
}

impl WorkerShared<'_> {
    /// Counts a served request (app or static file); true when that reached `--max-requests`
    /// and the worker now winds down.
    pub(crate) fn count_served(&self) -> bool {
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        let max_requests = self.settings.max_requests_for(self.wid);
        if max_requests > 0 && served >= max_requests {
            eprintln!(
                "...The work of process {} is done (max requests reached: {served}). Seeya!",
                self.pid
            );
            self.request_stop();
            return true;
        }
        false
    }

    /// Runs the handler of the uWSGI signal waiting on `fd` (one of `signal_fds`), if this
    /// core is the one that reads it, and counts it.
    pub(crate) fn on_signal(&self, py: Python<'_>, fd: BorrowedFd<'_>) {
        let Some(sig) = crate::usignal::read_signal(fd) else {
            return;
        };
        let slot = self.scoreboard.worker(self.wid);
        slot.set_signal_running(Some(sig));
        let ran = rwsgi_wsgi::uwsgi_module::run_signal_handler(py, sig);
        slot.set_signal_running(None);
        if ran {
            slot.add_signal();
        } else {
            eprintln!(
                "[uwsgi-signal] worker {} has no handler for signal {sig}",
                self.wid
            );
        }
    }

    /// Asks every core to wind down.
    pub(crate) fn request_stop(&self) {
        if !self.stopping.swap(true, Ordering::Relaxed) {
            self.wake_fd.wake();
        }
    }
}
