//! What the master and workers need at run time, derived once from the parsed [`Config`].

use std::sync::Arc;
use std::time::Duration;

use rwsgi_config::{Config, TrustedPeers};
use rwsgi_stats::WorkerId;
use rwsgi_wsgi::ResponseOptions;

use crate::reqlog::{LogFormat, LogPolicy, RequestLog};
use rwsgi_wsgi::AppSpec;

/// Run-time settings shared (read-only) by the master and every worker.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The master's own settings (workers never read them).
    pub master: MasterSettings,
    /// Worker processes.
    pub processes: usize,
    /// Cores (threads) per worker.
    pub threads: usize,
    /// Largest request head (`--buffer-size`).
    pub buffer_size: usize,
    /// How long a client that started a request head may send nothing more
    /// (`--socket-timeout`, else 10 s).
    pub head_timeout: Duration,
    /// Apps to load, in order.
    pub apps: Vec<AppSpec>,
    /// `hook-*` / `exec-*`: the worker runs the accepting phases (and the app phases with
    /// `--lazy-apps`).
    pub hooks: rwsgi_config::Hooks,
    /// `--manage-script-name`.
    pub manage_script_name: bool,
    /// `--lazy-apps`: load apps in each worker after fork.
    pub lazy_apps: bool,
    /// Every response's settings (`--socket-timeout`, `--disable-write-exception`,
    /// `--add-header`); their timeout is also the request body's.
    pub response: ResponseOptions,
    /// The request log: which requests, the format, the loggers (`--disable-logging`,
    /// `--log-*`, `--log-format`, `--req-logger`; the loggers are opened by the master).
    pub request_log: RequestLog,
    /// `--memory-report`.
    pub memory_report: bool,
    /// `--max-requests` (0 = unlimited): a worker that served this many is recycled.
    pub max_requests: u64,
    /// `--max-requests-delta`: worker id x this is added to `max_requests`.
    pub max_requests_delta: u64,
    /// `--reload-on-rss` in bytes (0 = off): a worker this large after a request is recycled.
    pub reload_on_rss: u64,
    /// `--reload-on-as` in bytes (0 = off): a worker with this much address space after a
    /// request is recycled.
    pub reload_on_as: u64,
    /// How long a stopping worker may finish in-flight requests: `--worker-reload-mercy`, or
    /// `--reload-mercy` when that is shorter (rwsgi stops every worker at once, so the
    /// master's overall wait and each worker's are the same deadline).
    pub reload_mercy: Duration,
    /// `--chdir2`: the directory to change to once the apps are loaded.
    pub chdir2: Option<std::path::PathBuf>,
    /// `--procname*` / `--auto-procname`: how processes title themselves.
    pub procname: crate::procname::ProcName,
    /// `--reaper`: after each request the worker reaps its exited children.
    pub reaper: bool,
    /// `--py-autoreload`: how often worker 1 checks loaded modules' files for changes.
    pub py_autoreload: Option<Duration>,
    /// `--chdir`, reported in apps[].chdir.
    pub chdir: String,
    /// `wsgi.file_wrapper` in the environ (off with `--wsgi-disable-file-wrapper`).
    pub wsgi_file_wrapper: bool,
    /// `--wsgi-env-behavior cheat`: each environ is emptied once its request is over.
    pub wsgi_env_cheat: bool,
    /// This host's name, for SERVER_NAME on the HTTP socket (as uWSGI sets it).
    pub hostname: String,
    /// `--forwarded-allow-ips`: peers whose forwarded headers set `wsgi.url_scheme`.
    pub forwarded_allow: TrustedPeers,
    /// `--post-buffering`: bodies (with a Content-Length) are read by the event loop before the
    /// app is called, under this many bytes into memory, others into a temporary file. 0 = off.
    pub post_buffering: u64,
    /// `--post-buffering-bufsize`: bytes asked of one `read(2)` while a body is spooled to
    /// its file (uWSGI: 8192 by default, never less than `--post-buffering`).
    pub post_buffering_bufsize: usize,
    /// uWSGI's HTTP-router options on rwsgi's HTTP sockets (`--http-timeout`,
    /// `--http-keepalive`, `--http-enable-proxy-protocol`); [`Settings::conn_policy`] turns
    /// them into each socket's [`ConnPolicy`].
    pub http: HttpRouter,
    /// `--limit-post`: request bodies over this many bytes are refused with 413 (`u64::MAX`
    /// when unset, so the check is one compare that never fires).
    pub limit_post: u64,
    /// `--static-map*` / `--check-static` and their companions; `None` when no file is
    /// mapped. Set by the master at start-up ([`crate::static_files::StaticFiles::from_config`]
    /// resolves the directories and reads the mime file).
    pub static_files: Option<Arc<crate::static_files::StaticFiles>>,
    /// `--route*`: the internal routing rules, in order; `None` when there are none (the
    /// worker then never looks at them).
    pub routes: Option<Arc<[rwsgi_config::Route]>>,
}

/// uWSGI's HTTP-router options, for rwsgi's HTTP sockets.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpRouter {
    /// `--http-timeout`: every wait for an HTTP client (head, idle, body, response).
    pub timeout: Option<Duration>,
    /// `--http-keepalive N` with N > 1: a kept-alive HTTP connection idle this long is closed.
    pub keepalive_idle: Option<Duration>,
    /// `--http-enable-proxy-protocol` / `--enable-proxy-protocol`.
    pub proxy_protocol: bool,
}

/// How a core treats the connections of one listening socket (worked out once per socket
/// when the core starts, so a request only indexes it).
#[derive(Debug, Clone)]
pub(crate) struct ConnPolicy {
    /// A client that connected or started a request head may send nothing more for this long.
    pub head_timeout: Duration,
    /// A kept-alive connection idle this long between requests is closed.
    pub idle_timeout: Duration,
    /// Every response's settings; their timeout is also the request body's.
    pub response: ResponseOptions,
    /// A PROXY protocol header may come first (HTTP sockets with `--enable-proxy-protocol`).
    pub proxy_protocol: bool,
}

/// What only the master reads: lifecycle policy and what it cleans up.
#[derive(Debug, Clone)]
pub(crate) struct MasterSettings {
    /// `--master`: respawn a worker whatever made it exit (without it, only an expected exit).
    pub respawn_always: bool,
    /// `--need-app`: a worker whose lazy app failed to load ends the server.
    pub need_app: bool,
    /// `--no-orphans`: children stop when the master dies.
    pub no_orphans: bool,
    /// `--harakiri` seconds: a worker stuck in one request longer is killed.
    pub harakiri_secs: Option<u64>,
    /// `--harakiri-graceful-timeout` and `--harakiri-graceful-signal`: the signal a stuck
    /// worker gets first, and how long it has before the SIGKILL.
    pub harakiri_graceful: Option<(Duration, rwsgi_os::Signal)>,
    /// `--evil-reload-on-rss` megabytes: the master kills a worker past it.
    pub evil_reload_on_rss_mb: Option<u64>,
    /// `--stats-minified`.
    pub stats_minified: bool,
    /// `--stats`: where the stats socket listens (handed over on reload, removed by vacuum).
    pub stats_addr: Option<rwsgi_config::Addr>,
    /// `--metrics`: where the Prometheus-only listener listens.
    pub metrics_addr: Option<rwsgi_config::Addr>,
    /// `--metrics-cores`: per-core series in `/metrics`.
    pub metrics_cores: bool,
    /// `--vacuum`: remove UNIX sockets and the pidfile on exit.
    pub vacuum: bool,
    /// `--pidfile`.
    pub pidfile: Option<std::path::PathBuf>,
    /// `--max-worker-lifetime` seconds: a worker running longer is gracefully recycled.
    pub max_worker_lifetime: Option<u64>,
    /// `--max-worker-lifetime-delta`: (worker id - 1) x this is added to the lifetime.
    pub max_worker_lifetime_delta: u64,
    /// `--pidfile2`, `--safe-pidfile`, `--safe-pidfile2`: also removed by `--vacuum`.
    pub more_pidfiles: Vec<std::path::PathBuf>,
    /// `--exit-on-reload`: a graceful reload asked for shuts down instead.
    pub exit_on_reload: bool,
    /// `--harakiri-verbose`: log the stuck worker's syscall and wait channel.
    pub harakiri_verbose: bool,
    /// `--signal-bufsize`: each uWSGI signal queue's buffer, bytes (0: the kernel's).
    pub signal_bufsize: usize,
    /// `--cron`, `--unique-cron`, `--cron2`: the commands the master runs on a schedule.
    pub crons: Vec<rwsgi_config::CronTask>,
    /// `--cron-harakiri` seconds (0: none): a cron command running longer is killed.
    pub cron_harakiri: u64,
}

impl Settings {
    /// Derives the settings.
    pub(crate) fn from_config(config: &Config) -> Settings {
        let callable = config.callable.as_str();
        let mut apps = Vec::new();
        if let Some(module) = &config.module {
            apps.push(AppSpec::module("", module, callable));
        }
        if let Some(file) = &config.wsgi_file {
            apps.push(AppSpec::file("", &file.to_string_lossy(), callable));
        }
        if let Some(uri) = &config.paste {
            apps.push(AppSpec::paste(rwsgi_wsgi::PasteSpec {
                uri: uri.clone(),
                name: config.paste_name.clone(),
                logging: config.paste_logger,
            }));
        }
        for mount in &config.mounts {
            let prefix = mount.prefix.trim_end_matches('/');
            apps.push(if mount.is_file() {
                AppSpec::file(prefix, &mount.app, callable)
            } else {
                AppSpec::module(prefix, &mount.app, callable)
            });
        }
        Settings {
            master: MasterSettings {
                // uWSGI's options that need its master imply it.
                respawn_always: config.master
                    || !config.master_fifo.is_empty()
                    || !config.touch_chain_reload.is_empty()
                    || !config.daemons.is_empty()
                    || !config.crons.is_empty(),
                need_app: config.need_app,
                no_orphans: config.no_orphans,
                harakiri_secs: config.harakiri,
                signal_bufsize: config.signal_bufsize as usize,
                harakiri_graceful: config.harakiri_graceful_timeout.map(|secs| {
                    let sig = rwsgi_os::Signal::from_named_raw(config.harakiri_graceful_signal);
                    (
                        Duration::from_secs(secs),
                        sig.unwrap_or(rwsgi_os::Signal::TERM),
                    )
                }),
                evil_reload_on_rss_mb: config.evil_reload_on_rss,
                stats_minified: config.stats_minified,
                stats_addr: config.stats.clone(),
                metrics_addr: config.metrics.clone(),
                metrics_cores: config.metrics_cores,
                vacuum: config.vacuum,
                pidfile: config.pidfile.clone(),
                max_worker_lifetime: config.max_worker_lifetime,
                max_worker_lifetime_delta: config.max_worker_lifetime_delta,
                more_pidfiles: [
                    &config.pidfile2,
                    &config.safe_pidfile,
                    &config.safe_pidfile2,
                ]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
                exit_on_reload: config.exit_on_reload,
                harakiri_verbose: config.harakiri_verbose,
                crons: config.crons.clone(),
                cron_harakiri: config.cron_harakiri,
            },
            processes: config.processes.max(1) as usize,
            threads: config.threads.max(1) as usize,
            buffer_size: config.buffer_size,
            head_timeout: config
                .socket_timeout
                .map_or(HEAD_TIMEOUT, Duration::from_secs),
            apps,
            manage_script_name: config.manage_script_name,
            // uWSGI's --lazy implies --lazy-apps.
            lazy_apps: config.lazy_apps || config.lazy,
            hooks: config.hooks.clone(),
            response: ResponseOptions {
                timeout: config
                    .socket_timeout
                    .map_or(ResponseOptions::default().timeout, Duration::from_secs),
                raise_write_errors: !config.disable_write_exception,
                extra_headers: render_headers(&config.add_headers),
                always_close: config.add_headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
                }),
            },
            request_log: request_log(config),
            memory_report: config.memory_report,
            max_requests: config.max_requests.unwrap_or(0),
            max_requests_delta: config.max_requests_delta,
            reload_on_rss: config
                .reload_on_rss
                .unwrap_or(0)
                .saturating_mul(1024 * 1024),
            reload_on_as: config.reload_on_as.unwrap_or(0).saturating_mul(1024 * 1024),
            reload_mercy: Duration::from_secs(
                config.reload_mercy.map_or(config.worker_reload_mercy, |m| {
                    m.min(config.worker_reload_mercy)
                }),
            ),
            chdir2: config.chdir2.clone(),
            procname: crate::procname::ProcName::from_config(config),
            reaper: config.reaper,
            py_autoreload: config.py_autoreload.map(Duration::from_secs),
            chdir: config
                .chdir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            wsgi_file_wrapper: !config.wsgi_disable_file_wrapper,
            wsgi_env_cheat: config.wsgi_env_cheat,
            hostname: rwsgi_os::system::hostname(),
            forwarded_allow: config.forwarded_allow_ips.clone(),
            post_buffering: config.post_buffering,
            post_buffering_bufsize: post_buffering_bufsize(config),
            http: HttpRouter {
                timeout: config.http_timeout.map(Duration::from_secs),
                keepalive_idle: config
                    .http_keepalive
                    .filter(|&n| n > 1)
                    .map(Duration::from_secs),
                proxy_protocol: config.proxy_protocol,
            },
            limit_post: config.limit_post.unwrap_or(u64::MAX),
            static_files: None,
            routes: (!config.routes.is_empty()).then(|| config.routes.as_slice().into()),
        }
    }

    /// The policy for the connections of a socket speaking `proto`: on HTTP sockets
    /// `--http-timeout` bounds every wait (winning over `--socket-timeout`, as uWSGI's router
    /// timeout is the one its HTTP clients meet) and `--http-keepalive N` the idle time
    /// between requests; uwsgi sockets keep `--socket-timeout` and never read a PROXY header.
    pub(crate) fn conn_policy(&self, proto: rwsgi_config::Protocol) -> ConnPolicy {
        let mut policy = ConnPolicy {
            head_timeout: self.head_timeout,
            idle_timeout: KEEPALIVE_IDLE,
            response: self.response.clone(),
            proxy_protocol: false,
        };
        if proto.is_http() {
            if let Some(t) = self.http.timeout {
                policy.head_timeout = t;
                policy.idle_timeout = t;
                policy.response.timeout = t;
            }
            if let Some(idle) = self.http.keepalive_idle {
                policy.idle_timeout = idle;
            }
            policy.proxy_protocol = self.http.proxy_protocol;
        }
        policy
    }

    /// The request count after which worker `wid` (1-based) is recycled; 0 = never.
    pub(crate) fn max_requests_for(&self, wid: WorkerId) -> u64 {
        if self.max_requests == 0 {
            return 0;
        }
        let delta = (wid.get() as u64).saturating_mul(self.max_requests_delta);
        self.max_requests.saturating_add(delta)
    }
}

/// The request log's settings, the loggers not yet opened.
fn request_log(config: &Config) -> RequestLog {
    // --log-date's format is %(ftime)'s only with --logformat-strftime (as in uWSGI).
    let ftime = config
        .log_date
        .as_deref()
        .filter(|f| config.logformat_strftime && !f.is_empty());
    RequestLog {
        policy: LogPolicy {
            all: !config.disable_logging,
            zero: config.log_zero,
            slow_ms: config.log_slow,
            status_4xx: config.log_4xx,
            status_5xx: config.log_5xx,
            big: config.log_big,
            sendfile: config.log_sendfile,
            ioerror: config.log_ioerror,
        },
        format: config
            .log_format
            .as_deref()
            .map(|f| LogFormat::parse(f, ftime)),
        x_forwarded_for: config.log_x_forwarded_for,
        micros: config.log_micros,
        outputs: None,
    }
}

impl MasterSettings {
    /// How many seconds worker `wid` (1-based) may run before it is recycled (uWSGI adds
    /// (id - 1) x delta); `None` = forever.
    pub(crate) fn lifetime_for(&self, wid: usize) -> Option<u64> {
        let delta = (wid.saturating_sub(1) as u64).saturating_mul(self.max_worker_lifetime_delta);
        self.max_worker_lifetime.map(|l| l.saturating_add(delta))
    }
}

/// uWSGI's rule: 8192 unless set, and at least `--post-buffering` (capped here at 1 MiB: it
/// is one read's buffer, not the body's).
fn post_buffering_bufsize(config: &Config) -> usize {
    const DEFAULT: u64 = 8192;
    const MAX: u64 = 1 << 20;
    let size = match config.post_buffering_bufsize {
        0 => DEFAULT,
        n => n,
    };
    size.max(config.post_buffering).min(MAX) as usize
}

/// A client that started a request head but sent nothing more for this long is dropped,
/// unless `--socket-timeout` says otherwise.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A kept-alive connection idle this long between requests is closed, unless
/// `--http-timeout` or `--http-keepalive` says otherwise (uWSGI's router default).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// `Name: value\r\n` for each `--add-header` except `Connection` (the config lets only
/// `Connection: close` through, which the writer emits itself when it closes).
fn render_headers(headers: &[(String, String)]) -> Option<Arc<[u8]>> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("connection") {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    (!out.is_empty()).then(|| out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worker `n` (1-based).
    fn wid(n: usize) -> WorkerId {
        WorkerId::new(n).expect("worker ids are 1-based")
    }

    #[test]
    fn add_headers_render_once_and_connection_close_becomes_a_flag() {
        let mut config = Config::default();
        assert_eq!(Settings::from_config(&config).response.extra_headers, None);
        config.add_headers = vec![
            ("X-Frame-Options".into(), "DENY".into()),
            ("Connection".into(), "close".into()),
            ("X-A".into(), "1".into()),
        ];
        let s = Settings::from_config(&config);
        assert_eq!(
            s.response.extra_headers.as_deref(),
            Some(&b"X-Frame-Options: DENY\r\nX-A: 1\r\n"[..])
        );
        assert!(s.response.always_close);
        // Open edX's `add-header = Connection: Keep-Alive`: what the server does anyway, so
        // neither rendered nor a reason to close
        config.add_headers = vec![("Connection".into(), "Keep-Alive".into())];
        let s = Settings::from_config(&config);
        assert_eq!(s.response.extra_headers, None);
        assert!(!s.response.always_close);
    }

    #[test]
    fn http_timeout_wins_on_http_sockets_and_socket_timeout_keeps_uwsgi_ones() {
        use rwsgi_config::Protocol;
        let secs = |p: &ConnPolicy| {
            (
                p.head_timeout.as_secs(),
                p.idle_timeout.as_secs(),
                p.response.timeout.as_secs(),
                p.proxy_protocol,
            )
        };
        let mut config = Config::default();
        let s = Settings::from_config(&config);
        assert_eq!(secs(&s.conn_policy(Protocol::Http)), (10, 60, 30, false));
        assert_eq!(secs(&s.conn_policy(Protocol::Uwsgi)), (10, 60, 30, false));
        config.socket_timeout = Some(5);
        config.http_timeout = Some(86400);
        config.proxy_protocol = true;
        let s = Settings::from_config(&config);
        assert_eq!(
            secs(&s.conn_policy(Protocol::Http)),
            (86400, 86400, 86400, true)
        );
        assert_eq!(
            secs(&s.conn_policy(Protocol::Http11)),
            (86400, 86400, 86400, true)
        );
        assert_eq!(secs(&s.conn_policy(Protocol::Uwsgi)), (5, 60, 5, false));
        // --http-keepalive 1 is a flag; N > 1 is the idle time between requests.
        config.http_keepalive = Some(1);
        let s = Settings::from_config(&config);
        assert_eq!(s.conn_policy(Protocol::Http).idle_timeout.as_secs(), 86400);
        config.http_keepalive = Some(15);
        config.http_timeout = None;
        let s = Settings::from_config(&config);
        assert_eq!(secs(&s.conn_policy(Protocol::Http)), (5, 15, 5, true));
        assert_eq!(s.conn_policy(Protocol::Uwsgi).idle_timeout.as_secs(), 60);
    }

    #[test]
    fn the_shorter_of_reload_mercy_and_worker_reload_mercy_applies() {
        let mut config = Config::default();
        let mercy = |c: &Config| Settings::from_config(c).reload_mercy.as_secs();
        assert_eq!(mercy(&config), 60);
        config.reload_mercy = Some(5);
        assert_eq!(mercy(&config), 5);
        config.worker_reload_mercy = 3;
        assert_eq!(mercy(&config), 3);
        config.reload_mercy = None;
        assert_eq!(mercy(&config), 3);
    }

    #[test]
    fn post_buffering_bufsize_follows_uwsgi() {
        let mut config = Config::default();
        let s = Settings::from_config(&config);
        assert_eq!((s.post_buffering, s.post_buffering_bufsize), (0, 8192));
        config.post_buffering = 65536;
        assert_eq!(Settings::from_config(&config).post_buffering_bufsize, 65536);
        config.post_buffering = 1024;
        config.post_buffering_bufsize = 4096;
        assert_eq!(Settings::from_config(&config).post_buffering_bufsize, 4096);
        config.post_buffering = 1 << 30;
        assert_eq!(
            Settings::from_config(&config).post_buffering_bufsize,
            1 << 20,
            "one read's buffer, not the body's"
        );
    }

    #[test]
    fn max_requests_delta_staggers_workers_and_never_enables_recycling_alone() {
        let mut s = Settings::from_config(&Config::default());
        s.max_requests_delta = 10;
        assert_eq!(s.max_requests_for(wid(1)), 0, "no --max-requests: never");
        s.max_requests = 100;
        assert_eq!(
            (s.max_requests_for(wid(1)), s.max_requests_for(wid(3))),
            (110, 130)
        );
        s.max_requests_delta = 0;
        assert_eq!(s.max_requests_for(wid(3)), 100);
    }

    #[test]
    fn worker_lifetime_adds_the_delta_from_the_second_worker_on() {
        let mut s = Settings::from_config(&Config::default()).master;
        s.max_worker_lifetime_delta = 5;
        assert_eq!(s.lifetime_for(2), None, "no --max-worker-lifetime: forever");
        s.max_worker_lifetime = Some(60);
        assert_eq!((s.lifetime_for(1), s.lifetime_for(3)), (Some(60), Some(70)));
    }
}
