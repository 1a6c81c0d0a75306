//! The master process: binds sockets, loads the app (unless `--lazy-apps`), forks and watches
//! the workers, serves the stats socket and handles signals. Single-threaded, so forking is
//! always safe, and it never runs a request.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rwsgi_config::StatsVars;
use rwsgi_config::{Config, SignalAction, SignalHook};
use rwsgi_os::poller::{Poller, READ};
use rwsgi_os::process::{self, RawPid};
use rwsgi_os::time::unix_now;
use rwsgi_os::Signal;
use rwsgi_stats::json::{render_uwsgi, RenderOptions};
use rwsgi_stats::model::{uwsgi_default_locks, AppInfo, MasterInfo, MetricsInfo, SocketInfo};
use rwsgi_stats::prometheus::{render_prometheus, MetricsOptions};
use rwsgi_stats::scoreboard::{Layout, Scoreboard};
use rwsgi_stats::{VarsPolicy, WorkerId};
use rwsgi_wsgi::interp::{self, PythonOptions};
use rwsgi_wsgi::Apps;

use crate::listen::{self, Listener};
use crate::metrics::{MetricsAccess, MetricsCollector};
use crate::process_opts::PidfileTime;
use crate::settings::Settings;
use crate::signals::{ForkGuard, SignalPipe};
use crate::stats_server::{Mode, Output, StatsServer};
use crate::touch::TouchWatch;
use crate::usignal::{Bridge, Channels, Hub, Workers};
use rwsgi_os::net::UnixQueueProbe;
use rwsgi_os::shlock::SharedLocks;

mod chain;
mod cheaper_mode;
mod crons;
mod daemons;
mod fifo;
pub(crate) mod hooks;
use chain::Chain;
use cheaper_mode::{CheaperMode, TOKEN_WAKE};
use crons::Crons;
use daemons::Daemon;
use fifo::{MasterFifo, TOKEN_FIFO};

/// Most apps a worker can report in the scoreboard.
const MAX_APPS: usize = 64;
/// A worker that dies sooner than this after its spawn is respawned only after this delay,
/// so a crashing app does not turn the master into a fork loop.
const RESPAWN_THROTTLE: Duration = Duration::from_secs(1);
/// Exit code of a worker whose lazy app failed to load (uWSGI's "no app loaded" code).
const EXIT_NO_APP: i32 = 22;

const TOKEN_SIGNALS: u64 = 0;
const TOKEN_STATS: u64 = 1;
/// Far above the stats server's client tokens (at most a few thousand from `TOKEN_STATS`).
const TOKEN_METRICS: u64 = 1 << 32;

/// A fatal start-up problem, reported by `main` with its message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// A socket could not be bound.
    #[error(transparent)]
    Bind(#[from] listen::BindError),
    /// The interpreter could not start.
    #[error(transparent)]
    Python(#[from] interp::InterpError),
    /// The app could not be loaded.
    #[error("{0}\n*** no app loaded. GAME OVER ***")]
    App(String),
    /// Anything else from the OS.
    #[error("{what}: {source}")]
    Os {
        /// What we were doing.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The scoreboard could not be created.
    #[error(transparent)]
    Scoreboard(#[from] rwsgi_stats::scoreboard::ScoreboardError),
    /// A static-file option is wrong.
    #[error(transparent)]
    Static(#[from] crate::static_files::StaticConfigError),
    /// A `--req-logger` / `--log-req-encoder` cannot be used.
    #[error(transparent)]
    Logging(#[from] crate::logsink::LogSetupError),
    /// A `--stats-push` / `--carbon` option is wrong.
    #[error(transparent)]
    Push(#[from] rwsgi_push::PushError),
    /// The `uwsgi` Python module could not be set up.
    #[error(transparent)]
    UwsgiModule(#[from] crate::umod::UmodError),
    /// The `--stats-http-auth` file cannot be used.
    #[error(transparent)]
    StatsAuth(#[from] crate::stats_auth::AuthFileError),
    /// A metrics option (`--metric`, `--metrics-dir`) is wrong.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// A `hook-*` / `exec-*` failed (every phase is fatal, as in uWSGI).
    #[error("{0}\nFATAL hook failed, destroying instance")]
    Hook(#[from] hooks::HookError),
}

/// `--limit-as`: caps this process's address space, and so every worker's (children inherit
/// the limit), as uWSGI does at start-up.
fn limit_address_space(mb: u64) -> std::io::Result<()> {
    let bytes = mb.saturating_mul(1024 * 1024);
    process::limit_address_space(bytes)?;
    eprintln!("your process address space limit is {bytes} bytes ({mb} MB)");
    Ok(())
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> StartError {
    move |source| StartError::Os { what, source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// SIGTERM/SIGINT: waiting for workers to finish, then exit.
    ShuttingDown(Instant),
    /// SIGHUP: waiting for workers to finish, then re-execute the master with its sockets.
    Reloading(Instant),
}

#[derive(Debug, Default, Clone, Copy)]
struct WorkerProc {
    pid: RawPid,
    spawned: Option<Instant>,
    /// Asked to stop (reload or max-requests): its exit is expected; respawn at once.
    stopping_since: Option<Instant>,
    /// SIGKILL sent (harakiri, evil reload): nothing left to do but reap it.
    killed: bool,
    /// `--harakiri-graceful-timeout`: when the graceful harakiri signal was sent.
    graceful_harakiri_at: Option<Instant>,
    /// Respawn no earlier than this.
    respawn_at: Option<Instant>,
    /// Cheaped: the cheaper subsystem stopped it (or is stopping it); not respawned.
    cheap: bool,
}

struct Master {
    settings: Settings,
    listeners: Vec<Listener>,
    scoreboard: Arc<Scoreboard>,
    apps: Option<Arc<Apps>>,
    workers: Vec<WorkerProc>,
    stats: Option<StatsServer>,
    /// The `--metrics` listener (only `/metrics`).
    metrics: Option<StatsServer>,
    /// Reads the UNIX listeners' queue depths (`None` without UNIX listeners, or when the
    /// kernel has no sock_diag: their depth then reads 0, as in uWSGI).
    unix_probe: Option<UnixQueueProbe>,
    poller: Poller,
    signals: SignalPipe,
    phase: Phase,
    /// The master's static facts in every stats snapshot (its counters are in the scoreboard).
    master_info: MasterInfo,
    /// The server is stopping because of an error (exit code 1).
    fatal: bool,
    /// When the once-a-second checks (listen queues, RSS limit, touched files) last ran.
    last_periodic_check: Instant,
    /// The working directory at start-up.
    start_dir: Option<std::path::PathBuf>,
    /// The stats pushers' process, when any pusher is configured.
    pusher: Option<PusherProc>,
    /// `--touch-reload` files.
    touch_reload: TouchWatch,
    /// What each handled signal (other than SIGCHLD) makes the master do.
    signal_actions: Vec<(libc::c_int, SignalAction)>,
    /// The cheaper subsystem, `--idle` and cheap mode.
    cheaper: CheaperMode,
    /// Metric collectors and `--metrics-dir` files, when there are any.
    metric_collector: Option<MetricsCollector>,
    /// `--log-maxsize`: the log file's rotation.
    log_rotation: Option<crate::logrotate::LogRotation>,
    /// `--master-fifo`, when given.
    fifo: Option<MasterFifo>,
    /// The chain reload in progress, if any.
    chain: Chain,
    /// `--touch-chain-reload` files.
    touch_chain_reload: TouchWatch,
    /// `--logto`: the file the master FIFO's `l` reopens.
    logto: Option<String>,
    /// `--attach-daemon` and its kin.
    daemons: Vec<Daemon>,
    /// `--cron` and its kin: commands run on a schedule.
    crons: Crons,
    /// `--fs-reload` paths, watched through inotify.
    fs_reload: crate::process_opts::FsReload,
    /// uWSGI's signals: routing, timers, cron, file monitors.
    signal_hub: Hub,
    /// `uwsgi.lock(n)`'s locks: the stats JSON shows each holder's pid.
    user_locks: Arc<SharedLocks>,
}

/// uWSGI-compatible defaults (TERM, INT, QUIT: graceful shutdown; HUP: graceful reload),
/// then each `hook-master-start = unix_signal:N ACTION`, a later entry replacing an earlier one.
fn signal_actions(hooks: &[SignalHook]) -> Vec<(libc::c_int, SignalAction)> {
    let mut table = vec![
        (libc::SIGTERM, SignalAction::GracefulShutdown),
        (libc::SIGINT, SignalAction::GracefulShutdown),
        (libc::SIGQUIT, SignalAction::GracefulShutdown),
        (libc::SIGHUP, SignalAction::GracefulReload),
    ];
    for hook in hooks {
        table.retain(|&(s, _)| s != hook.signal);
        table.push((hook.signal, hook.action));
    }
    table
}

/// The process that runs the stats pushers (never the master itself: pushers may block and
/// run threads, and the master must stay single-threaded to fork safely).
struct PusherProc {
    config: rwsgi_push::PushConfig,
    /// Mapped before the first pusher process is forked: each respawn inherits what the
    /// previous one delivered (statsd deltas).
    memory: rwsgi_push::PushMemory,
    pid: RawPid,
    spawned: Option<Instant>,
    respawn_at: Option<Instant>,
}

/// The stats' `locks` names as uWSGI lists them: a user lock per `uwsgi.lock(n)` number
/// (`user 0` and one more per `--locks`), then its internal locks.
fn lock_names(user_locks: u32) -> Vec<String> {
    let mut names: Vec<String> = (0..=user_locks).map(|i| format!("user {i}")).collect();
    names.extend(
        uwsgi_default_locks()
            .into_iter()
            .filter(|n| !n.starts_with("user ")),
    );
    names
}

/// Runs the server until it is told to stop; returns the exit code.
pub(crate) fn run(config: Config) -> Result<i32, StartError> {
    hooks::run(&config.hooks, rwsgi_config::HookPhase::Asap)?;
    if let Some(mb) = config.limit_as {
        limit_address_space(mb).map_err(os("setrlimit(RLIMIT_AS) for --limit-as"))?;
    }
    crate::process_opts::apply_max_fd(&config);
    crate::process_opts::apply_ksm(&config);
    let mut settings = Settings::from_config(&config);
    // uWSGI's cheaper options imply its master: a stopped worker is someone's to start again.
    settings.master.respawn_always |= CheaperMode::enabled(&config);
    settings.static_files = crate::static_files::StaticFiles::from_config(&config)?.map(Arc::new);
    settings.procname.apply(crate::procname::Role::Master);
    settings.request_log.outputs = crate::logsink::open_request_outputs(
        &crate::logsink::RequestLoggers {
            loggers: &config.req_loggers,
            encoders: &config.log_req_encoders,
            routes: &config.log_req_route,
            general: &config.loggers,
        },
        &settings.hostname,
    )?;
    let push_config = rwsgi_push::parse_config(&config)?;
    for (k, v) in &config.env {
        // SAFETY: single-threaded at this point (no worker threads, Python not started).
        unsafe { std::env::set_var(k, v) };
    }
    // Where we were started: a reload re-executes from here, so relative paths in the
    // arguments (ini files, --chdir) mean the same again.
    let start_dir = std::env::current_dir().ok();
    if let Some(dir) = &config.chdir {
        std::env::set_current_dir(dir).map_err(os("chdir"))?;
    }
    let sockets = bind_sockets(&config)?;
    // --honour-stdin, --pidfile / --safe-pidfile (before the drop, as uWSGI), --pidfile2 /
    // --safe-pidfile2 (after it).
    crate::process_opts::remap_stdin(&config, sockets.listeners.iter().map(Listener::raw));
    crate::process_opts::write_pidfiles(&config, PidfileTime::BeforeDrop).map_err(os("pidfile"))?;
    crate::privileges::drop_to(config.uid.as_deref(), config.gid.as_deref())
        .map_err(os("uid/gid"))?;
    if let Some(path) = &config.logto2 {
        crate::redirect_logs(path).map_err(os("--logto2"))?;
    }
    crate::process_opts::write_pidfiles(&config, PidfileTime::AfterDrop).map_err(os("pidfile2"))?;
    start_python(&config)?;
    let nsockets = sockets.listeners.len();
    let metrics_info =
        crate::metrics::metrics_info(&config, settings.processes, settings.threads, nsockets)?;
    // Before the apps load: the uwsgi module they may import reads it.
    let scoreboard = Arc::new(Scoreboard::new(Layout {
        workers: settings.processes,
        cores: settings.threads,
        apps: settings.apps.len().clamp(1, MAX_APPS),
        sockets: nsockets,
        metrics: metrics_info.as_ref().map_or(0, |m| m.custom.len()),
    })?);
    if let Some(info) = &metrics_info {
        crate::metrics::init_slots(info, &scoreboard);
    }
    let metrics_access = MetricsAccess::new(metrics_info.clone(), nsockets);
    // Before the app loads (it may register signals) and before any fork.
    let channels = Arc::new(
        Channels::new(settings.processes, settings.master.signal_bufsize)
            .map_err(os("the uWSGI signal channels"))?,
    );
    let (bridge, pending_signals) = Bridge::new(channels.clone(), scoreboard.clone());
    let user_locks = crate::umod::install(
        &config,
        &settings,
        scoreboard.clone(),
        metrics_access,
        Box::new(bridge),
    )?;
    let apps = load_apps(&config, &settings)?;
    if crate::process_opts::should_detach(config.daemonize2.is_some()) {
        // --daemonize2: once the apps are loaded; the pid changes, so the pidfiles again.
        eprintln!("*** daemonizing rwsgi ***");
        crate::process_opts::detach(config.umask.is_some(), interp::fork)
            .map_err(os("--daemonize2"))?;
        for when in [PidfileTime::BeforeDrop, PidfileTime::AfterDrop] {
            crate::process_opts::write_pidfiles(&config, when).map_err(os("pidfile"))?;
        }
    }
    let signal_actions = signal_actions(&config.signal_hooks);
    let (poller, signals) = event_sources(&signal_actions)?;
    let signal_hub = Hub::new(channels, pending_signals);
    signal_hub.register(&poller).map_err(os("epoll"))?;
    let Sockets {
        listeners,
        mut stats,
        mut metrics,
        unix_probe,
    } = sockets;
    if let Some(s) = &mut stats {
        s.register(&poller, TOKEN_STATS).map_err(os("epoll"))?;
    }
    if let Some(s) = &mut metrics {
        s.register(&poller, TOKEN_METRICS).map_err(os("epoll"))?;
    }
    let master_info = master_info(&settings, &listeners, &config, metrics_info);
    let metric_collector = match &master_info.metrics {
        Some(info) => MetricsCollector::new(
            info,
            config.metrics_dir.as_deref(),
            &scoreboard,
            &master_info,
        )?,
        None => None,
    };
    // After the chdir above: relative paths name files under --chdir, as in uWSGI.
    let touch_reload = TouchWatch::new(&config.touch_reload);
    let fs_reload = crate::process_opts::FsReload::new(&config.fs_reload);
    let (cheaper, cheaper_log) = CheaperMode::new(&config);
    for line in cheaper_log {
        eprintln!("{line}");
    }
    let push_memory = (!push_config.is_empty())
        .then(|| rwsgi_push::PushMemory::new(push_config.pushers.len()))
        .transpose()
        .map_err(os("the pushers' shared memory"))?;
    let crons = Crons::new(&settings.master.crons, settings.master.cron_harakiri);
    let mut master = Master {
        workers: vec![WorkerProc::default(); settings.processes],
        settings,
        listeners,
        scoreboard,
        apps,
        stats,
        metrics,
        unix_probe,
        poller,
        signals,
        phase: Phase::Running,
        master_info,
        fatal: false,
        last_periodic_check: Instant::now(),
        start_dir,
        touch_reload,
        signal_actions,
        cheaper,
        metric_collector,
        log_rotation: log_rotation(&config),
        fifo: MasterFifo::new(&config.master_fifo),
        chain: Chain::default(),
        touch_chain_reload: TouchWatch::new(&config.touch_chain_reload),
        logto: config.logto.clone(),
        daemons: Daemon::all(&config.daemons),
        crons,
        fs_reload,
        signal_hub,
        user_locks,
        pusher: push_memory.map(|memory| PusherProc {
            config: push_config,
            memory,
            pid: 0,
            spawned: None,
            respawn_at: Some(Instant::now()),
        }),
    };
    master.open_fifo().map_err(os("--master-fifo"))?;
    // What the app registered while it loaded in the master (signals queue until the workers
    // read them).
    master.with_signal_hub(|hub, poller, w| hub.take_pending(poller, w));
    master.spawn_initial()?;
    // After the workers, as uWSGI's master does.
    master.spawn_daemons();
    Ok(master.event_loop())
}

/// `--log-maxsize` over the `--logto2` (else `--logto`) file (the config requires one).
fn log_rotation(config: &Config) -> Option<crate::logrotate::LogRotation> {
    let path = config.logto2.as_ref().or(config.logto.as_ref())?;
    (config.log_maxsize > 0).then(|| crate::logrotate::LogRotation {
        path: path.into(),
        max_size: config.log_maxsize,
        backup_name: config.log_backupname.as_ref().map(Into::into),
    })
}

/// Every socket the master listens on, bound (or adopted from a reloading master).
struct Sockets {
    listeners: Vec<Listener>,
    stats: Option<StatsServer>,
    metrics: Option<StatsServer>,
    /// Reads UNIX listen-queue depths, when any listener is a UNIX socket.
    unix_probe: Option<UnixQueueProbe>,
}

/// Binds the app sockets, the stats socket and the metrics socket. Sockets a reloading master
/// handed over that this configuration no longer names are closed.
fn bind_sockets(config: &Config) -> Result<Sockets, StartError> {
    let mut inherited = listen::Inherited::from_env();
    let mut listeners = Vec::new();
    for spec in &config.sockets {
        let proto = spec.protocol;
        let l = listen::bind(
            &spec.addr,
            proto,
            config.listen,
            config.chmod_socket,
            !config.no_defer_accept,
            &mut inherited,
        )?;
        eprintln!(
            "{} socket {} bound to {} fd {}",
            proto.name(),
            listeners.len(),
            l.name,
            l.raw()
        );
        listeners.push(l);
    }
    if let Some(spec) = &config.chown_socket {
        listen::chown_sockets(&listeners, spec)?;
    }
    let access = if config.stats.is_some() || config.metrics.is_some() {
        Some(crate::stats_server::Access::from_config(config)?)
    } else {
        None
    };
    let stats = match (&config.stats, &access) {
        (Some(addr), Some(access)) => {
            let mode = if config.stats_http {
                Mode::Http
            } else {
                Mode::Raw
            };
            let s = StatsServer::bind(addr, mode, "stats", access.clone(), &mut inherited)?;
            eprintln!("stats server enabled on {addr}");
            Some(s)
        }
        _ => None,
    };
    let unix_probe = if listeners.iter().any(|l| !l.tcp) {
        UnixQueueProbe::new()
            .map_err(|e| eprintln!("cannot read UNIX listen queues (sock_diag): {e}"))
            .ok()
    } else {
        None
    };
    let metrics = match (&config.metrics, access) {
        (Some(addr), Some(access)) => {
            let s = StatsServer::bind(addr, Mode::MetricsOnly, "metrics", access, &mut inherited)?;
            eprintln!("prometheus metrics enabled on {addr} (GET /metrics)");
            Some(s)
        }
        _ => None,
    };
    Ok(Sockets {
        listeners,
        stats,
        metrics,
        unix_probe,
    })
}

/// Starts the embedded interpreter (`--home`, `--pythonpath`).
fn start_python(config: &Config) -> Result<(), StartError> {
    interp::initialize(&PythonOptions {
        home: config.home.clone(),
        pythonpath: config
            .pythonpath
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
    })?;
    Ok(())
}

/// Unless `--lazy-apps`, loads the apps here, before any fork (then `--chdir2`, which workers
/// inherit).
fn load_apps(config: &Config, settings: &Settings) -> Result<Option<Arc<Apps>>, StartError> {
    if settings.lazy_apps {
        return Ok(None);
    }
    hooks::run(&config.hooks, rwsgi_config::HookPhase::PreApp)?;
    let apps = crate::apps::load_all(settings).map_err(StartError::App)?;
    hooks::run(&config.hooks, rwsgi_config::HookPhase::PostApp)?;
    if apps.list.is_empty() && config.need_app {
        return Err(StartError::App("no app configured".into()));
    }
    if let Some(dir) = &settings.chdir2 {
        // After loading, so the apps were found relative to --chdir; workers inherit it.
        std::env::set_current_dir(dir).map_err(os("chdir2"))?;
    }
    Ok(Some(Arc::new(apps)))
}

/// The master's epoll instance with its signal pipe registered (SIGCHLD and every signal of
/// `actions`; SIGPIPE ignored).
fn event_sources(
    actions: &[(libc::c_int, SignalAction)],
) -> Result<(Poller, SignalPipe), StartError> {
    let poller = Poller::new().map_err(os("epoll"))?;
    let mut handled: Vec<libc::c_int> = actions.iter().map(|&(s, _)| s).collect();
    handled.push(libc::SIGCHLD);
    let signals = SignalPipe::install(&handled).map_err(os("signals"))?;
    crate::signals::ignore(libc::SIGPIPE).map_err(os("signals"))?;
    poller
        .add(signals.fd(), TOKEN_SIGNALS, READ)
        .map_err(os("epoll"))?;
    Ok((poller, signals))
}

/// What the stats report about the master itself, fixed at start-up.
fn master_info(
    settings: &Settings,
    listeners: &[Listener],
    config: &Config,
    metrics: Option<MetricsInfo>,
) -> MasterInfo {
    let mut locks = lock_names(config.locks);
    if metrics.is_some() {
        // uWSGI's metrics rwlock, listed last
        locks.push("metrics".into());
    }
    MasterInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: u64::from(std::process::id()),
        uid: u64::from(process::real_ids().0),
        gid: u64::from(process::real_ids().1),
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        locks,
        sockets: listeners
            .iter()
            .map(|l| SocketInfo {
                name: l.name.clone(),
                proto: l.proto.name().to_string(),
                max_queue: u64::from(l.backlog),
            })
            .collect(),
        apps: settings
            .apps
            .iter()
            .map(|a| AppInfo {
                modifier1: 0,
                mountpoint: a.mountpoint.clone(),
                startup_time: 0,
                chdir: settings.chdir.clone(),
            })
            .collect(),
        include_cores: !config.stats_no_cores,
        vars: match config.stats_vars {
            StatsVars::Redacted => VarsPolicy::redacted(&config.stats_redact),
            StatsVars::Full => VarsPolicy::Full,
            StatsVars::Off => VarsPolicy::Off,
        },
        metrics,
    }
}

impl Master {
    /// Forks a child that runs `child` and exits with its code; returns the child's pid. Stop
    /// signals stay blocked across the fork ([`ForkGuard`]); the child drops what only the
    /// master uses and, with `--no-orphans`, stops when the master dies.
    fn fork_child(&mut self, child: impl FnOnce(&mut Master) -> i32) -> Result<RawPid, StartError> {
        let master = process::current_pid();
        let _blocked = ForkGuard::new();
        let pid = interp::fork().map_err(os("fork"))?;
        if pid == 0 {
            if self.settings.master.no_orphans {
                crate::signals::stop_with_parent(master);
            }
            self.stats = None;
            self.metrics = None;
            self.fifo = None;
            self.unix_probe = None;
            let code = child(self);
            // Without running the master's destructors or atexit hooks, inherited across fork.
            process::exit_now(code);
        }
        Ok(pid)
    }

    fn spawn(&mut self, wid: WorkerId) -> Result<(), StartError> {
        self.scoreboard.prepare_spawn(wid, unix_now());
        let pid = self.fork_child(|m| {
            crate::worker::run(
                wid,
                &m.listeners,
                &m.scoreboard,
                &m.settings,
                m.apps.clone(),
                m.signal_hub.channels(),
            )
        })?;
        self.scoreboard.worker(wid).set_pid(pid as u32);
        self.scoreboard.worker(wid).set_cheap(false);
        self.workers[wid.index()] = WorkerProc {
            pid,
            spawned: Some(Instant::now()),
            stopping_since: None,
            killed: false,
            graceful_harakiri_at: None,
            respawn_at: None,
            cheap: false,
        };
        eprintln!(
            "spawned rwsgi worker {wid} (pid: {pid}, cores: {})",
            self.settings.threads
        );
        Ok(())
    }

    fn spawn_pusher(&mut self) -> Result<(), StartError> {
        let Some((config, memory)) = self
            .pusher
            .as_ref()
            .map(|p| (p.config.clone(), p.memory.clone()))
        else {
            return Ok(());
        };
        let pid = self.fork_child(|m| {
            m.settings.procname.apply(crate::procname::Role::Pusher);
            run_pusher(config, &memory, &m.master_info, &m.scoreboard)
        })?;
        if let Some(p) = self.pusher.as_mut() {
            p.pid = pid;
            p.spawned = Some(Instant::now());
            p.respawn_at = None;
        }
        eprintln!("spawned the stats pusher process (pid: {pid})");
        Ok(())
    }

    fn event_loop(&mut self) -> i32 {
        let mut signals = Vec::new();
        loop {
            if let Some(code) = self.check_done() {
                return code;
            }
            // A signal timer due sooner shortens the wait.
            let mut timeout = Duration::from_millis(200);
            if let Some(next) = self.signal_hub.next_timer() {
                timeout = timeout.min(next.saturating_duration_since(Instant::now()));
            }
            let n = match self.poller.wait(Some(timeout)) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("master: epoll_wait: {e}");
                    return 1;
                }
            };
            for i in 0..n {
                let ev = self.poller.event(i);
                if ev.token >= TOKEN_WAKE {
                    self.wake_from_cheap_mode();
                } else if ev.token == TOKEN_FIFO {
                    self.on_fifo_readable();
                } else if self.signal_hub.owns(ev.token) {
                    let token = ev.token;
                    self.with_signal_hub(|hub, poller, w| hub.on_event(token, poller, w));
                } else if ev.token == TOKEN_SIGNALS {
                    signals.clear();
                    self.signals.drain(&mut signals);
                    for &sig in &signals {
                        self.on_signal(sig);
                    }
                } else {
                    let info = &self.master_info;
                    let scoreboard = &self.scoreboard;
                    let user_locks = &self.user_locks;
                    let opts = RenderOptions {
                        minified: self.settings.master.stats_minified,
                        rwsgi_keys: true,
                    };
                    let cores = self.settings.master.metrics_cores;
                    let mut render = |what: Output, out: &mut Vec<u8>| match what {
                        Output::Json => {
                            let mut snap = scoreboard.snapshot_full(info);
                            snap.lock_holders = (0..user_locks.count())
                                .map(|n| u64::from(user_locks.holder(n)))
                                .collect();
                            render_uwsgi(&snap, opts, out)
                        }
                        Output::Metrics(format) => render_prometheus(
                            &scoreboard.snapshot_with_metrics(info),
                            MetricsOptions { format, cores },
                            out,
                        ),
                    };
                    for server in [self.stats.as_mut(), self.metrics.as_mut()]
                        .into_iter()
                        .flatten()
                    {
                        if server.owns(ev.token) {
                            server.on_event(&self.poller, ev, &mut render);
                            break;
                        }
                    }
                }
            }
            self.reap();
            self.tick();
        }
    }

    /// Runs `f` on the signal hub with what routing needs: the poller and which workers are
    /// active (running, not cheaped, not stopping).
    fn with_signal_hub(&mut self, f: impl FnOnce(&mut Hub, &Poller, &Workers<'_>)) {
        let active: Vec<bool> = self
            .workers
            .iter()
            .map(|w| w.pid > 0 && !w.cheap && w.stopping_since.is_none())
            .collect();
        let w = Workers {
            scoreboard: &self.scoreboard,
            active: &active,
        };
        f(&mut self.signal_hub, &self.poller, &w);
    }

    /// `uwsgi.set_user_harakiri`: a core past the deadline its app set gets its worker killed
    /// (and respawned), with or without `--harakiri`, as uWSGI's master does.
    fn check_user_harakiri(&mut self) {
        let now = unix_now();
        for idx in 0..self.workers.len() {
            let wid = WorkerId::from_index(idx);
            let w = self.workers[idx];
            if w.pid <= 0 || w.killed {
                continue;
            }
            let late = (0..self.settings.threads).find(|&core| {
                let deadline = self.scoreboard.core(wid, core).user_harakiri();
                deadline > 0 && now > deadline
            });
            if let Some(core) = late {
                eprintln!("HARAKIRI (user) triggered by worker {wid} core {core} !!!");
                eprintln!("*** HARAKIRI ON WORKER {wid} (pid: {}, try: 1) ***", w.pid);
                self.scoreboard.core(wid, core).set_user_harakiri(0);
                self.scoreboard.worker(wid).inc_harakiri();
                self.kill_worker(idx);
            }
        }
    }

    fn on_signal(&mut self, sig: libc::c_int) {
        if self.phase != Phase::Running {
            return;
        }
        let action = self
            .signal_actions
            .iter()
            .find(|&&(s, _)| s == sig)
            .map(|&(_, a)| a);
        match action {
            Some(SignalAction::GracefulReload) => self.begin_reload(),
            Some(SignalAction::GracefulShutdown) => self.begin_shutdown(&format!("signal {sig}")),
            None => {} // SIGCHLD: reaped after the batch
        }
    }

    /// Graceful shutdown: workers finish their requests, then everything exits.
    fn begin_shutdown(&mut self, why: &str) {
        self.begin_shutdown_with(why, Signal::TERM);
    }

    /// Shutdown, the workers told with `sig` (`TERM`: finish the requests; `INT`: stop now).
    fn begin_shutdown_with(&mut self, why: &str, sig: Signal) {
        eprintln!("...shutting down ({why}): waiting for the workers to finish...");
        self.phase = Phase::ShuttingDown(Instant::now() + self.settings.reload_mercy);
        for wid in WorkerId::all(self.workers.len()) {
            self.stop_worker(wid, sig);
        }
        self.stop_pusher();
        self.stop_daemons();
    }

    /// uWSGI's graceful reload: workers finish what they are doing, then the master
    /// re-executes itself (new code, same sockets: clients queue, none is refused).
    fn begin_reload(&mut self) {
        self.begin_reload_with(Signal::HUP);
    }

    /// Reload, the workers told with `sig` (`HUP`: finish the requests; `INT`: stop now).
    fn begin_reload_with(&mut self, sig: Signal) {
        eprintln!("...gracefully killing workers...");
        self.phase = Phase::Reloading(Instant::now() + self.settings.reload_mercy);
        for wid in WorkerId::all(self.workers.len()) {
            self.stop_worker(wid, sig);
        }
        self.stop_pusher();
        self.stop_daemons();
    }

    /// The pid of worker `idx` (0-based) if it is alive and not already being stopped.
    fn serving(&self, idx: usize) -> Option<RawPid> {
        let w = &self.workers[idx];
        (w.pid > 0 && w.stopping_since.is_none()).then_some(w.pid)
    }

    /// Kills worker `idx` (0-based) now; its exit is expected, so it is respawned at once.
    fn kill_worker(&mut self, idx: usize) {
        self.workers[idx].stopping_since = Some(Instant::now());
        self.workers[idx].killed = true;
        let _ = process::kill(self.workers[idx].pid, Signal::KILL);
    }

    /// `--evil-reload-on-rss`: a worker whose resident memory is past `mb` megabytes is
    /// killed now, whatever it is doing, and respawned (uWSGI's "evil" reload).
    fn check_evil_rss(&mut self, mb: u64) {
        let limit = mb.saturating_mul(1024 * 1024);
        for idx in 0..self.workers.len() {
            let Some(pid) = self.serving(idx) else {
                continue;
            };
            let Ok(usage) = rwsgi_stats::procfs::memory_usage(pid as u32) else {
                continue; // exiting as we look: reaped on its own
            };
            if usage.rss > limit {
                eprintln!(
                    "*** EVIL reload of worker {} (pid: {pid}): rss {} MB > {mb} MB ***",
                    idx + 1,
                    usage.rss >> 20
                );
                self.kill_worker(idx);
            }
        }
    }

    /// `--harakiri`: a worker with a core inside one request for longer than `limit` seconds
    /// is killed (and respawned), as uWSGI's master does. Stopping workers too: during a
    /// graceful reload nothing accepts until every old worker is gone, so a stuck one must not
    /// hold the reload for the whole --worker-reload-mercy (uWSGI checks every worker).
    fn check_harakiri(&mut self, limit: u64) {
        let now = unix_now();
        for idx in 0..self.workers.len() {
            let wid = WorkerId::from_index(idx);
            let w = self.workers[idx];
            if w.pid <= 0 || w.killed {
                continue;
            }
            let pid = w.pid;
            let stuck = (0..self.settings.threads).any(|core| {
                let c = self.scoreboard.core(wid, core);
                c.in_request() && now.saturating_sub(c.request_start()) > limit
            });
            if !stuck {
                continue;
            }
            // uWSGI's graceful harakiri: the first attempt is a signal, a SIGKILL follows if
            // the worker is still stuck after the timeout
            match (
                self.settings.master.harakiri_graceful,
                w.graceful_harakiri_at,
            ) {
                (Some((_, sig)), None) => {
                    eprintln!(
                        "*** HARAKIRI ON WORKER {wid} (pid: {pid}, try: 1): graceful \
                         termination attempt with signal {} ***",
                        sig.as_raw()
                    );
                    if self.settings.master.harakiri_verbose {
                        for line in crate::process_opts::read_harakiri_details(pid) {
                            eprintln!("{line}");
                        }
                    }
                    self.scoreboard.worker(wid).inc_harakiri();
                    self.workers[idx].graceful_harakiri_at = Some(Instant::now());
                    let _ = process::kill(pid, sig);
                }
                (Some((timeout, _)), Some(at)) if at.elapsed() < timeout => {}
                (Some(_), Some(_)) => {
                    eprintln!("*** HARAKIRI ON WORKER {wid} (pid: {pid}, try: 2) ***");
                    self.kill_worker(idx);
                }
                (None, _) => {
                    eprintln!("*** HARAKIRI ON WORKER {wid} (pid: {pid}, try: 1) ***");
                    if self.settings.master.harakiri_verbose {
                        for line in crate::process_opts::read_harakiri_details(pid) {
                            eprintln!("{line}");
                        }
                    }
                    self.scoreboard.worker(wid).inc_harakiri();
                    self.kill_worker(idx);
                }
            }
        }
    }

    fn stop_pusher(&mut self) {
        if let Some(p) = self.pusher.as_mut() {
            p.respawn_at = None;
            if p.pid > 0 {
                let _ = process::kill(p.pid, Signal::TERM);
            }
        }
    }

    fn stop_worker(&mut self, wid: WorkerId, sig: Signal) {
        let w = &mut self.workers[wid.index()];
        if w.pid > 0 {
            w.stopping_since.get_or_insert_with(Instant::now);
            let _ = process::kill(w.pid, sig);
        }
    }

    fn reap(&mut self) {
        while let Some((pid, status)) = process::reap_child() {
            if self.on_daemon_exit(pid) || self.on_cron_exit(pid) {
                continue;
            }
            if let Some(p) = self.pusher.as_mut().filter(|p| p.pid == pid) {
                p.pid = 0;
                if self.phase == Phase::Running {
                    let lived = p.spawned.map_or(Duration::ZERO, |t| t.elapsed());
                    eprintln!("the stats pusher process (pid: {pid}) died: respawning it");
                    let delay = if lived < RESPAWN_THROTTLE {
                        RESPAWN_THROTTLE
                    } else {
                        Duration::ZERO
                    };
                    p.respawn_at = Some(Instant::now() + delay);
                }
                continue;
            }
            let Some(idx) = self.workers.iter().position(|w| w.pid == pid) else {
                continue;
            };
            let wid = WorkerId::from_index(idx);
            self.scoreboard.on_exit(wid);
            self.chain_on_exit(wid);
            let w = &mut self.workers[idx];
            // Asked to stop, or stopped by itself after a graceful wind-down (--max-requests):
            // a worker exits 0 only then.
            let exited_cleanly = status.exit_status() == Some(0);
            let expected = w.stopping_since.is_some() || exited_cleanly;
            let lived = w.spawned.map_or(Duration::ZERO, |t| t.elapsed());
            w.pid = 0;
            w.stopping_since = None;
            w.killed = false;
            let code = status.exit_status().unwrap_or(-1);
            if let Some(sig) = status.terminating_signal() {
                eprintln!("DAMN ! worker {wid} (pid: {pid}) died, killed by signal {sig} :( trying respawn ...");
            } else if !expected {
                eprintln!("DAMN ! worker {wid} (pid: {pid}) died with exit code {code} :( trying respawn ...");
            } else {
                eprintln!("worker {wid} (pid: {pid}) stopped");
            }
            if code == EXIT_NO_APP && self.settings.master.need_app {
                eprintln!("*** no app loaded in worker {wid}. GAME OVER ***");
                self.begin_fatal_shutdown();
                continue;
            }
            if self.workers[idx].cheap {
                eprintln!("rwsgi worker {wid} cheaped.");
                continue;
            }
            if matches!(self.phase, Phase::Running)
                && (self.settings.master.respawn_always || expected)
            {
                let delay = if !expected && lived < RESPAWN_THROTTLE {
                    RESPAWN_THROTTLE
                } else {
                    Duration::ZERO
                };
                self.workers[idx].respawn_at = Some(Instant::now() + delay);
            }
        }
    }

    fn begin_fatal_shutdown(&mut self) {
        if self.phase == Phase::Running {
            self.phase = Phase::ShuttingDown(Instant::now() + self.settings.reload_mercy);
            for wid in WorkerId::all(self.workers.len()) {
                self.stop_worker(wid, Signal::TERM);
            }
            self.stop_pusher();
            self.stop_daemons();
        }
        self.fatal = true;
    }

    /// Respawns due workers, kills workers past their mercy, expires stats clients.
    fn tick(&mut self) {
        let now = Instant::now();
        // Every pass, so stats readers see queue depths at most one poll timeout old.
        refresh_listen_queues(&self.scoreboard, &self.listeners, self.unix_probe.as_mut());
        if now.duration_since(self.last_periodic_check) >= Duration::from_secs(1) {
            self.last_periodic_check = now;
            check_listen_queues(&self.scoreboard, &self.master_info, &self.listeners);
            if let Some(c) = &mut self.metric_collector {
                c.tick(now, &self.scoreboard, &self.master_info);
            }
            if let Some(rotation) = &self.log_rotation {
                if let Err(e) = rotation.check() {
                    eprintln!("unable to rotate log {}: {e}", rotation.path.display());
                }
            }
            if let Some(mb) = self.settings.master.evil_reload_on_rss_mb {
                self.check_evil_rss(mb);
            }
            self.check_user_harakiri();
            self.signal_hub.refresh_queues(&self.scoreboard);
            if self.phase == Phase::Running {
                self.cheaper_cycle();
            }
            if self.phase == Phase::Running {
                if let Some(path) = self.touch_reload.touched() {
                    eprintln!(
                        "*** {} has been touched... grace them all !!! ***",
                        path.display()
                    );
                    self.begin_reload();
                }
            }
            if self.phase == Phase::Running {
                if let Some(path) = self.fs_reload.changed() {
                    eprintln!("[uwsgi-fsmon] detected event on \"{}\"", path.display());
                    self.begin_reload();
                }
            }
            if self.phase == Phase::Running {
                if let Some(path) = self.touch_chain_reload.touched() {
                    eprintln!(
                        "*** {} has been touched... chain reload !!! ***",
                        path.display()
                    );
                    self.begin_chain_reload();
                }
                self.check_worker_lifetime();
                self.check_daemons();
            }
        }
        for server in [self.stats.as_mut(), self.metrics.as_mut()]
            .into_iter()
            .flatten()
        {
            server.expire(&self.poller);
        }
        if self.phase == Phase::Running
            && self
                .pusher
                .as_ref()
                .is_some_and(|p| p.pid == 0 && p.respawn_at.is_some_and(|t| t <= now))
        {
            if let Err(e) = self.spawn_pusher() {
                eprintln!("cannot spawn the stats pusher process: {e}");
                if let Some(p) = self.pusher.as_mut() {
                    p.respawn_at = Some(now + RESPAWN_THROTTLE);
                }
            }
        }
        if let Some(limit) = self.settings.master.harakiri_secs {
            self.check_harakiri(limit);
        }
        if self.phase == Phase::Running {
            let unix = unix_now();
            self.with_signal_hub(|hub, _, w| hub.tick(now, unix, w));
        }
        self.check_crons();
        let mercy = self.settings.reload_mercy;
        for idx in 0..self.workers.len() {
            let w = self.workers[idx];
            if w.pid > 0 {
                if let Some(since) = w.stopping_since {
                    if now.duration_since(since) > mercy {
                        eprintln!(
                            "worker {} (pid: {}) did not stop within {}s: killing it",
                            idx + 1,
                            w.pid,
                            mercy.as_secs()
                        );
                        let _ = process::kill(w.pid, Signal::KILL);
                    }
                }
            } else if let Some(at) = w.respawn_at {
                if at <= now && self.phase == Phase::Running {
                    self.workers[idx].respawn_at = None;
                    let wid = WorkerId::from_index(idx);
                    if let Err(e) = self.spawn(wid) {
                        eprintln!("cannot respawn worker {wid}: {e}");
                        self.workers[idx].respawn_at = Some(now + RESPAWN_THROTTLE);
                    }
                }
            }
        }
        self.respawn_daemons();
        // After the respawns: a replacement just forked counts as not yet accepting.
        self.check_chain();
    }

    /// During shutdown: the exit code once every worker is gone (or killed at the deadline).
    fn check_done(&mut self) -> Option<i32> {
        let alive = self.workers.iter().any(|w| w.pid > 0)
            || self.pusher.as_ref().is_some_and(|p| p.pid > 0)
            || self.daemon_pids().next().is_some();
        let pending = self.workers.iter().any(|w| w.respawn_at.is_some());
        match self.phase {
            Phase::ShuttingDown(deadline) | Phase::Reloading(deadline) => {
                if alive && Instant::now() > deadline {
                    self.kill_daemons();
                    let pusher = self.pusher.as_ref().map(|p| p.pid);
                    for pid in self.workers.iter().map(|w| w.pid).chain(pusher) {
                        if pid > 0 {
                            let _ = process::kill(pid, Signal::KILL);
                        }
                    }
                }
                if alive {
                    return None;
                }
                if let Phase::Reloading(_) = self.phase {
                    if self.settings.master.exit_on_reload {
                        // --exit-on-reload: the workers went as for a reload; the master too.
                        eprintln!("rwsgi: GAME OVER (insert coin)");
                        self.vacuum();
                        return Some(0);
                    }
                    let err = self.exec_self();
                    eprintln!("!!! graceful reload failed: {err}; respawning the workers instead");
                    self.phase = Phase::Running;
                    for w in &mut self.workers {
                        w.respawn_at = Some(Instant::now());
                    }
                    return None;
                }
            }
            Phase::Running => {
                // Without --master, the server ends when its last worker does.
                let workers_alive = self.workers.iter().any(|w| w.pid > 0);
                if self.settings.master.respawn_always || workers_alive || pending {
                    return None;
                }
            }
        }
        self.vacuum();
        eprintln!("goodbye to rwsgi.");
        Some(if self.fatal { 1 } else { 0 })
    }

    /// Re-executes this binary with the same arguments, handing over the listening sockets.
    /// Returns only on failure.
    fn exec_self(&self) -> std::io::Error {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        eprintln!("binary reloading rwsgi...");
        if let Some(dir) = &self.start_dir {
            let _ = std::env::set_current_dir(dir);
        }
        let mut sockets: Vec<(String, std::os::fd::BorrowedFd<'_>)> = self
            .listeners
            .iter()
            .map(|l| (listen::inherit_key(l.proto.name(), &l.name), l.fd.as_fd()))
            .collect();
        if let (Some(stats), Some(addr)) = (&self.stats, &self.settings.master.stats_addr) {
            sockets.extend(stats.inheritable(addr));
        }
        if let (Some(metrics), Some(addr)) = (&self.metrics, &self.settings.master.metrics_addr) {
            sockets.extend(metrics.inheritable(addr));
        }
        let value = listen::Inherited::export(sockets.iter().map(|(k, fd)| (k.as_str(), *fd)));
        // SAFETY: the master is single-threaded.
        unsafe { std::env::set_var(listen::INHERIT_ENV, value) };
        // As started: process titles have written over the strings `std::env::args` reads.
        let args: Vec<CString> = crate::procname::original_args()
            .iter()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
        process::exec(c"/proc/self/exe", &args)
    }

    fn vacuum(&self) {
        if !self.settings.master.vacuum {
            return;
        }
        for l in &self.listeners {
            if let Some(path) = &l.path {
                let _ = std::fs::remove_file(path);
            }
        }
        for addr in [
            &self.settings.master.stats_addr,
            &self.settings.master.metrics_addr,
        ] {
            if let Some(rwsgi_config::Addr::Unix(path)) = addr {
                let _ = std::fs::remove_file(path);
            }
        }
        if let Some(path) = &self.settings.master.pidfile {
            let _ = std::fs::remove_file(path);
        }
        for path in &self.settings.master.more_pidfiles {
            let _ = std::fs::remove_file(path);
        }
    }
}

static PUSHER_STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_pusher_stop(_: libc::c_int) {
    PUSHER_STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The body of the pusher process: pushes snapshots of the shared scoreboard (which holds
/// the master's counters too) until SIGTERM.
fn run_pusher(
    config: rwsgi_push::PushConfig,
    memory: &rwsgi_push::PushMemory,
    info: &MasterInfo,
    scoreboard: &Scoreboard,
) -> i32 {
    let _ = crate::signals::install(&crate::signals::STOP_SIGNALS, on_pusher_stop);
    crate::signals::child_defaults();
    rwsgi_push::run(
        config,
        memory,
        &mut || scoreboard.snapshot_full(info),
        &PUSHER_STOP,
    );
    0
}

/// Reads each listening socket's accept-queue depth from the kernel into its scoreboard slot
/// (`sockets[].queue`; `listen_queue` and `load` are their sum).
fn refresh_listen_queues(
    scoreboard: &Scoreboard,
    listeners: &[Listener],
    unix_probe: Option<&mut UnixQueueProbe>,
) {
    let mut unix_probe = unix_probe;
    for (i, l) in listeners.iter().enumerate() {
        let depth = if l.tcp {
            rwsgi_os::net::tcp_queue_depth(&l.fd)
        } else {
            unix_probe
                .as_deref_mut()
                .and_then(|p| p.queue_depth(&l.fd).ok())
        };
        scoreboard.socket(i).set_queue(depth.unwrap_or(0));
    }
}

/// The master's once-a-second check, as uWSGI's: a full queue counts one
/// `listen_queue_errors` (in the scoreboard, where the pusher process sees it too) with
/// uWSGI's log line.
fn check_listen_queues(scoreboard: &Scoreboard, info: &MasterInfo, listeners: &[Listener]) {
    for (i, (s, l)) in info.sockets.iter().zip(listeners).enumerate() {
        let queue = scoreboard.socket(i).queue();
        if queue > 0 && queue >= s.max_queue {
            eprintln!(
                "*** rwsgi listen queue of socket \"{}\" (fd: {}) full !!! ({}/{}) ***",
                s.name,
                l.raw(),
                queue,
                s.max_queue
            );
            scoreboard.master().inc_listen_queue_errors();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_replace_the_default_action_of_their_signal_and_add_new_ones() {
        let defaults = signal_actions(&[]);
        assert!(defaults.contains(&(libc::SIGHUP, SignalAction::GracefulReload)));
        assert!(defaults.contains(&(libc::SIGTERM, SignalAction::GracefulShutdown)));
        let hooked = signal_actions(&[
            SignalHook {
                signal: libc::SIGHUP,
                action: SignalAction::GracefulShutdown,
            },
            SignalHook {
                signal: libc::SIGUSR1,
                action: SignalAction::GracefulReload,
            },
        ]);
        assert!(hooked.contains(&(libc::SIGHUP, SignalAction::GracefulShutdown)));
        assert!(!hooked.contains(&(libc::SIGHUP, SignalAction::GracefulReload)));
        assert!(hooked.contains(&(libc::SIGUSR1, SignalAction::GracefulReload)));
        assert_eq!(hooked.len(), 5);
    }
}
