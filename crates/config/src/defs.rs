//! Every option rwsgi understands, each in one place: its table row (names, short letter,
//! value shape, `--help` text), the [`Config`] field it sets with that field's default, and
//! how a value is applied. The [`options!`] macro turns the list into the [`Opt`] enum, the
//! [`OPTIONS`] table, the [`Config`] struct with its `Default`, and `Config::apply`, so adding
//! an option is one entry here (rustc's `options!` and ripgrep's `flags/defs.rs` do the same).
//!
//! An entry reads (the parts in brackets are optional, in this order)
//! ```text
//! Variant { name: "name", [aliases: ["a", "b"],] [short: 'x',] kind: Kind, value: "VALUE",
//!     [noop: true,] [refused: "why rwsgi cannot honour it",] help: "help text",
//!     [field: name: Type = default,] [apply: |config, occurrence| expression,] }
//! ```
//! An option without `apply` is handled by the parser (`ini`, `set`, ...) or is a documented
//! no-op (`noop: true`). A `refused` option (a uWSGI subsystem rwsgi does not have) stops
//! start-up wherever it is set, naming it and saying why; it has no field. A field that several options set (`sockets`) is declared on the first.

use std::path::PathBuf;

use crate::addr::Addr;
use crate::config::{
    is_builtin_plugin, normalize_plugin, CheaperAlgo, FileServeMode, Mount, Occurrence, Protocol,
    SignalHook, SocketSpec, StaticMap, StatsVars, BUILTIN_PLUGINS,
};
use crate::error::ConfigError;
use crate::forwarded::TrustedPeers;
use crate::options::OptKind::{Flag, Multi, OptionalValue, Value};
use crate::options::OptionSpec;
use crate::routing::{RouteOption, Subject};

/// `Some(x)` for a given token, `None` for none.
macro_rules! some_or_none {
    () => {
        None
    };
    ($x:expr) => {
        Some($x)
    };
}

/// The given boolean, `false` for none.
macro_rules! or_false {
    () => {
        false
    };
    ($x:literal) => {
        $x
    };
}

/// Generates [`Opt`], [`OPTIONS`], [`Config`] (fields and `Default`) and `Config::apply`
/// from one list of entries (see the module docs for the entry syntax).
macro_rules! options {
    ($(
        $variant:ident {
            name: $name:literal,
            $(aliases: [$($alias:literal),+],)?
            $(short: $short:literal,)?
            kind: $kind:ident,
            value: $value_name:literal,
            $(noop: $noop:literal,)?
            $(refused: $refused:literal,)?
            help: $help:literal,
            $(field: $field:ident : $ty:ty = $default:expr,)?
            $(apply: |$cfg:ident, $occ:ident| $apply:expr,)?
        }
    )*) => {
        /// Identifies an option independently of the spelling used.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Opt {
            $(
                #[doc = concat!("`--", $name, "`: ", $help)]
                $variant,
            )*
        }

        /// Every option rwsgi understands, in `--help` order.
        pub static OPTIONS: &[OptionSpec] = &[$(
            OptionSpec {
                opt: Opt::$variant,
                name: $name,
                aliases: &[$($($alias),+)?],
                short: some_or_none!($($short)?),
                kind: $kind,
                noop: or_false!($($noop)?),
                refused: some_or_none!($($refused)?),
                value_name: $value_name,
                help: $help,
            },
        )*];

        /// The fully parsed, validated configuration: one field per option (some options
        /// share one), each documented by its option's `--help` text. Options marked
        /// accepted-for-compatibility set nothing ([`crate::options::noop_options`]).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Config {
            $($(
                #[doc = concat!("`--", $name, "`: ", $help)]
                pub $field: $ty,
            )?)*
            /// Every option occurrence as written, for `uwsgi.opt`.
            pub exported: crate::config::ExportedOptions,
        }

        impl Default for Config {
            /// uWSGI's defaults (with `need-app` on).
            fn default() -> Self {
                Config { $($($field: $default,)?)* exported: Default::default() }
            }
        }

        impl Config {
            /// Applies one option occurrence. Options the parser handles itself (`ini`,
            /// `set`, `help`, ...) and documented no-ops change nothing here.
            pub(crate) fn apply(&mut self, o: &Occurrence<'_>) -> Result<(), ConfigError> {
                match o.spec.opt {
                    $(Opt::$variant => {
                        $(
                            let $cfg: &mut Config = self;
                            let $occ: &Occurrence<'_> = o;
                            $apply;
                        )?
                    })*
                }
                Ok(())
            }
        }
    };
}

/// `--log-date`'s strftime format: empty for the ctime form (no value, or a true flag value,
/// as uWSGI reads it).
fn log_date_format(value: Option<&str>) -> String {
    match value.map(str::trim) {
        None | Some("") => String::new(),
        Some(v)
            if ["true", "1", "on", "yes"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t)) =>
        {
            String::new()
        }
        Some(v) => v.to_string(),
    }
}

/// `--log-route` / `--log-req-route`: `NAME REGEXP` (the regexp is compiled by the server).
fn log_route(o: &Occurrence<'_>) -> Result<String, ConfigError> {
    let v = o.required()?;
    match v.trim().split_once(' ') {
        Some((name, re)) if !name.is_empty() && !re.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(o.invalid(v, "expected NAME REGEXP")),
    }
}

/// One routing rule from the occurrence's value (`config/src/routing.rs`).
fn route(o: &Occurrence<'_>, option: RouteOption) -> Result<crate::routing::Route, ConfigError> {
    let v = o.required()?;
    crate::routing::Route::parse(option, v).map_err(|e| o.invalid(v, e))
}

/// The error for an option rwsgi refuses, naming why.
fn refused(o: &Occurrence<'_>, why: &str) -> ConfigError {
    o.invalid(o.value.unwrap_or(""), why)
}

/// Pushes a listening socket named by the occurrence's value.
fn socket(cfg: &mut Config, o: &Occurrence<'_>, protocol: Protocol) -> Result<(), ConfigError> {
    cfg.sockets.push(SocketSpec {
        addr: o.addr()?,
        protocol,
        option: o.spec.name,
    });
    Ok(())
}

/// `--mount /PREFIX=APP`.
fn mount(o: &Occurrence<'_>) -> Result<Mount, ConfigError> {
    let v = o.required()?;
    match v.split_once('=') {
        Some((p, a)) if !p.trim().is_empty() && !a.trim().is_empty() => Ok(Mount {
            prefix: p.trim().to_string(),
            app: a.trim().to_string(),
        }),
        _ => Err(o.invalid(v, "expected /PREFIX=APP")),
    }
}

/// `--env KEY=VALUE`.
fn env_pair(o: &Occurrence<'_>) -> Result<(String, String), ConfigError> {
    let v = o.required()?;
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(o.invalid(v, "expected KEY=VALUE")),
    }
}

/// `--chmod-socket[=MODE]`: an octal mode, 666 when the value is omitted.
fn chmod_mode(o: &Occurrence<'_>) -> Result<u32, ConfigError> {
    match o.value.map(str::trim) {
        None | Some("") => Ok(0o666),
        Some(raw) => {
            let v = crate::config::leading_number(raw).unwrap_or(raw);
            if v.len() > 4 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(o.invalid(raw, "expected an octal mode such as 660"));
            }
            u32::from_str_radix(v, 8).map_err(|_| o.invalid(raw, "expected an octal mode"))
        }
    }
}

/// `--plugins a,b`: only names of plugins rwsgi has built in, normalized and deduplicated.
fn plugins(cfg: &mut Config, o: &Occurrence<'_>) -> Result<(), ConfigError> {
    for raw in o.required()?.split(',') {
        if raw.trim().is_empty() {
            continue;
        }
        let name = normalize_plugin(raw);
        if !is_builtin_plugin(&name) {
            return Err(ConfigError::UnknownPlugin {
                name: raw.trim().to_string(),
                builtin: BUILTIN_PLUGINS,
                origin: o.origin.clone(),
            });
        }
        if !cfg.plugins.contains(&name) {
            cfg.plugins.push(name);
        }
    }
    Ok(())
}

/// `--wsgi-env-behavior`: uWSGI's two allocators, nothing else; true for cheat.
fn env_behavior(o: &Occurrence<'_>) -> Result<bool, ConfigError> {
    match o.required()? {
        "holy" => Ok(false),
        "cheat" => Ok(true),
        v => Err(o.invalid(v, "expected holy or cheat")),
    }
}

/// A number where 0 means the default, as uWSGI reads its cheaper options (an unset option is
/// 0 there, and 0 is replaced by the default when the algorithm starts).
fn zero_means(o: &Occurrence<'_>, default: u64) -> Result<u64, ConfigError> {
    Ok(Some(o.number()?).filter(|&n| n > 0).unwrap_or(default))
}

/// `--http-keepalive`: uWSGI's optional number (no value = 1); the flag words an ini writes
/// (`true`, `off`, ...) as 1 and 0. `None` for 0.
fn keepalive_secs(o: &Occurrence<'_>) -> Result<Option<u64>, ConfigError> {
    const WORDS: [&str; 6] = ["true", "on", "yes", "false", "off", "no"];
    match o.value.map(str::trim) {
        Some(v) if WORDS.iter().any(|w| v.eq_ignore_ascii_case(w)) => {
            Ok(crate::config::flag_value(Some(v)).then_some(1))
        }
        None | Some("") => Ok(Some(1)),
        Some(_) => o.nonzero_or_off(),
    }
}

/// A percentage (0 means the default, as in [`zero_means`]).
fn percent(o: &Occurrence<'_>, default: u64) -> Result<u64, ConfigError> {
    let n = zero_means(o, default)?;
    if n > 100 {
        return Err(o.invalid(o.required()?, "a percentage is at most 100"));
    }
    Ok(n)
}

#[rustfmt::skip]
options! {
    // --- sockets
    Socket { name: "socket", short: 's', kind: Multi, value: "ADDR",
        help: "bind to the specified UNIX/TCP socket using the default protocol (uwsgi)",
        field: sockets: Vec<SocketSpec> = Vec::new(),
        apply: |c, o| socket(c, o, Protocol::Uwsgi)?,
    }
    UwsgiSocket { name: "uwsgi-socket", kind: Multi, value: "ADDR",
        help: "bind to the specified UNIX/TCP socket using the uwsgi protocol",
        apply: |c, o| socket(c, o, Protocol::Uwsgi)?,
    }
    HttpSocket { name: "http-socket", kind: Multi, value: "ADDR",
        help: "bind to the specified UNIX/TCP socket using HTTP",
        apply: |c, o| socket(c, o, Protocol::Http)?,
    }
    Http11Socket { name: "http11-socket", kind: Multi, value: "ADDR",
        help: "bind to the specified UNIX/TCP socket using HTTP/1.1 (keep-alive)",
        apply: |c, o| socket(c, o, Protocol::Http11)?,
    }
    Http { name: "http", kind: Multi, value: "ADDR",
        help: "serve HTTP on the specified address (rwsgi has no separate router: same as --http-socket)",
        apply: |c, o| socket(c, o, Protocol::Http)?,
    }
    // validated here, applied to `socket` sockets by the parser once all are known
    Protocol { name: "protocol", aliases: ["socket-protocol"], kind: Value, value: "PROTO",
        help: "force the protocol (uwsgi, http, http11) of sockets added with --socket",
        apply: |_c, o| o.protocol()?,
    }
    Listen { name: "listen", short: 'l', kind: Value, value: "N",
        help: "set the socket listen queue size (default 100)",
        field: listen: u32 = 100,
        apply: |c, o| c.listen = o.ranged(1, u64::from(u32::MAX))? as u32,
    }
    BufferSize { name: "buffer-size", short: 'b', kind: Value, value: "BYTES",
        help: "set the request header buffer size (default 4096, max 65535: a larger value, such \
               as the 65536 real configs use, means 65535)",
        field: buffer_size: usize = 4096,
        apply: |c, o| c.buffer_size = o.ranged(1, u64::MAX)?.min(65535) as usize,
    }
    SocketTimeout { name: "socket-timeout", short: 'z', kind: Value, value: "SECS",
        help: "give up on a client that sends or takes nothing for SECS while a request is read or \
         its response written (default: 10 for a request head, 30 for the body and the response)",
        field: socket_timeout: Option<u64> = None,
        apply: |c, o| c.socket_timeout = o.nonzero_or_off()?,
    }
    PostBuffering { name: "post-buffering", kind: Value, value: "BYTES",
        help: "read each request body (with a Content-Length) before the app is called: under BYTES \
               into memory, a larger one into an unlinked temporary file (0 = off, the default)",
        field: post_buffering: u64 = 0,
        apply: |c, o| c.post_buffering = o.number()?,
    }
    PostBufferingBufsize { name: "post-buffering-bufsize", kind: Value, value: "BYTES",
        help: "the read size while a body is buffered (default 8192, at least --post-buffering)",
        field: post_buffering_bufsize: u64 = 0,
        apply: |c, o| c.post_buffering_bufsize = o.number()?,
    }
    // --- uWSGI's HTTP router (rwsgi's HTTP sockets are the router), limit-post, defer-accept
    HttpTimeout { name: "http-timeout", kind: Value, value: "SECS",
        help: "give up on an HTTP-socket client that sends or takes nothing for SECS: while its \
               request head or body is read, its response written, and between requests on a \
               kept-alive connection (uWSGI's HTTP router timeout; on HTTP sockets it wins over \
               --socket-timeout, which keeps the uwsgi sockets; default: --socket-timeout's \
               10 / 30, and 60 between requests)",
        field: http_timeout: Option<u64> = None,
        apply: |c, o| c.http_timeout = o.nonzero_or_off()?,
    }
    HttpKeepalive { name: "http-keepalive", kind: OptionalValue, value: "SECS",
        help: "HTTP/1.1 keep-alive: rwsgi's HTTP sockets always keep HTTP/1.1 connections (and \
               HTTP/1.0 ones that ask), so a flag, 0 or 1 changes nothing; N > 1 closes a \
               kept-alive connection idle for N seconds (as uWSGI's router; default \
               --http-timeout, else 60)",
        field: http_keepalive: Option<u64> = None,
        apply: |c, o| c.http_keepalive = keepalive_secs(o)?,
    }
    HttpAutoChunked { name: "http-auto-chunked", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: an HTTP/1.1 response without a Content-Length is \
               always sent chunked on a kept-alive connection (uWSGI's router without this \
               option closes the connection instead)",
    }
    HttpEnableProxyProtocol { name: "http-enable-proxy-protocol", kind: OptionalValue, value: "BOOL",
        help: "read a PROXY protocol header (v1 text or v2 binary) at the start of each \
               connection on HTTP sockets: REMOTE_ADDR / REMOTE_PORT (and the request log) \
               name the client it carries; a connection without one is served as it is (as \
               uWSGI does, though the specification says to refuse it), a malformed one gets \
               400 and is closed. Any client that reaches the socket can send one: use it only \
               behind a balancer",
        field: proxy_protocol: bool = false,
        apply: |c, o| c.proxy_protocol = o.flag(),
    }
    EnableProxyProtocol { name: "enable-proxy-protocol", kind: Flag, value: "",
        help: "the same as --http-enable-proxy-protocol (uWSGI's --http-socket spelling)",
        apply: |c, o| c.proxy_protocol = o.flag(),
    }
    NoDeferAccept { name: "no-defer-accept", kind: Flag, value: "",
        help: "accept TCP connections at once instead of when their first bytes arrive \
               (TCP_DEFER_ACCEPT, on by default as in uWSGI)",
        field: no_defer_accept: bool = false,
        apply: |c, o| c.no_defer_accept = o.flag(),
    }
    LimitPost { name: "limit-post", kind: Value, value: "BYTES",
        help: "refuse request bodies over BYTES with 413 before the app runs: a larger \
               Content-Length at once, a chunked body once it passes BYTES (its wsgi.input \
               read raises; uWSGI drops the connection without an answer) (0 = off, the \
               default)",
        field: limit_post: Option<u64> = None,
        apply: |c, o| c.limit_post = o.nonzero_or_off()?,
    }
    ForwardedAllowIps { name: "forwarded-allow-ips", kind: Value, value: "LIST",
        help: "peers (comma list of IPs/CIDRs, * = all) whose X-Forwarded-Proto, X-Forwarded-Ssl and \
               X-Scheme set wsgi.url_scheme (default 127.0.0.1,::1; UNIX-socket peers always)",
        field: forwarded_allow_ips: TrustedPeers = TrustedPeers::default(),
        apply: |c, o| c.forwarded_allow_ips = o.trusted_peers()?,
    }
    ChmodSocket { name: "chmod-socket", aliases: ["chmod"], short: 'C', kind: OptionalValue, value: "MODE",
        help: "chmod UNIX sockets to the given octal mode (default 666)",
        field: chmod_socket: Option<u32> = None,
        apply: |c, o| c.chmod_socket = Some(chmod_mode(o)?),
    }
    Vacuum { name: "vacuum", kind: Flag, value: "",
        help: "remove UNIX sockets and the pidfile on exit",
        field: vacuum: bool = false,
        apply: |c, o| c.vacuum = o.flag(),
    }
    // --- processes
    Master { name: "master", short: 'M', kind: Flag, value: "",
        help: "enable the master process",
        field: master: bool = false,
        apply: |c, o| c.master = o.flag(),
    }
    Processes { name: "processes", aliases: ["workers"], short: 'p', kind: Value, value: "N",
        help: "spawn the specified number of worker processes (default 1)",
        field: processes: u32 = 1,
        apply: |c, o| c.processes = o.ranged(1, 65535)? as u32,
    }
    Threads { name: "threads", kind: Value, value: "N",
        help: "run each worker with the specified number of threads (default 1)",
        field: threads: u32 = 1,
        apply: |c, o| c.threads = o.ranged(1, 65535)? as u32,
    }
    EnableThreads { name: "enable-threads", short: 'T', kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: Python threads are always enabled",
    }
    LazyApps { name: "lazy-apps", kind: Flag, value: "",
        help: "load the application in each worker instead of in the master",
        field: lazy_apps: bool = false,
        apply: |c, o| c.lazy_apps = o.flag(),
    }
    Lazy { name: "lazy", kind: Flag, value: "",
        help: "set lazy mode (load apps in workers instead of master)",
        field: lazy: bool = false,
        apply: |c, o| c.lazy = o.flag(),
    }
    Harakiri { name: "harakiri", short: 't', kind: Value, value: "SECS",
        help: "kill workers whose request takes longer than SECS (0 = off)",
        field: harakiri: Option<u64> = None,
        apply: |c, o| c.harakiri = o.nonzero_or_off()?,
    }
    MaxRequests { name: "max-requests", short: 'R', kind: Value, value: "N",
        help: "recycle a worker after N requests (0 = off)",
        field: max_requests: Option<u64> = None,
        apply: |c, o| c.max_requests = o.nonzero_or_off()?,
    }
    MaxRequestsDelta { name: "max-requests-delta", kind: Value, value: "N",
        help: "add worker id x N to --max-requests, so workers are not all recycled at once",
        field: max_requests_delta: u64 = 0,
        apply: |c, o| c.max_requests_delta = o.number()?,
    }
    LimitAs { name: "limit-as", kind: Value, value: "MB",
        help: "limit the address space (vsz) of the master and every worker to MB megabytes",
        field: limit_as: Option<u64> = None,
        apply: |c, o| c.limit_as = o.nonzero_or_off()?,
    }
    EvilReloadOnRss { name: "evil-reload-on-rss", kind: Value, value: "MB",
        help: "the master kills (SIGKILL) and respawns a worker whose resident memory exceeds MB \
         megabytes, checked every second, even in the middle of a request (0 = off)",
        field: evil_reload_on_rss: Option<u64> = None,
        apply: |c, o| c.evil_reload_on_rss = o.nonzero_or_off()?,
    }
    ReloadOnRss { name: "reload-on-rss", kind: Value, value: "MB",
        help: "recycle a worker whose resident memory exceeds MB megabytes after a request (0 = off)",
        field: reload_on_rss: Option<u64> = None,
        apply: |c, o| c.reload_on_rss = o.nonzero_or_off()?,
    }
    ReloadOnAs { name: "reload-on-as", kind: Value, value: "MB",
        help: "recycle a worker whose address space (vsz) exceeds MB megabytes after a request (0 = off)",
        field: reload_on_as: Option<u64> = None,
        apply: |c, o| c.reload_on_as = o.nonzero_or_off()?,
    }
    ReloadMercy { name: "reload-mercy", kind: Value, value: "SECS",
        help: "maximum time to wait for processes to die on reload/shutdown (default: \
         --worker-reload-mercy; the shorter of the two applies)",
        field: reload_mercy: Option<u64> = None,
        apply: |c, o| c.reload_mercy = Some(o.number()?),
    }
    WorkerReloadMercy { name: "worker-reload-mercy", kind: Value, value: "SECS",
        help: "maximum time a worker can take to reload/shut down (default 60)",
        field: worker_reload_mercy: u64 = 60,
        apply: |c, o| c.worker_reload_mercy = o.number()?,
    }
    // --- the cheaper subsystem (adaptive worker count; `processes` is the maximum)
    Cheaper { name: "cheaper", kind: Value, value: "N",
        help: "cheaper mode: keep at least N workers running and spawn or stop the others as the \
         --cheaper-algo decides (0 = off; must be lower than --processes)",
        field: cheaper: u32 = 0,
        apply: |c, o| c.cheaper = o.ranged(0, 65535)? as u32,
    }
    CheaperInitial { name: "cheaper-initial", kind: Value, value: "N",
        help: "workers to start with in cheaper mode (default: --cheaper)",
        field: cheaper_initial: u32 = 0,
        apply: |c, o| c.cheaper_initial = o.ranged(0, 65535)? as u32,
    }
    CheaperStep { name: "cheaper-step", kind: Value, value: "N",
        help: "workers to spawn at each overload in cheaper mode (default 1)",
        field: cheaper_step: u32 = 1,
        apply: |c, o| c.cheaper_step = zero_means(o, 1)?.min(65535) as u32,
    }
    CheaperOverload { name: "cheaper-overload", kind: Value, value: "N",
        help: "spare: cycles (seconds) all workers must be busy before spawning and between two \
         stops; backlog: the listen-queue depth above which workers are spawned; busyness: the \
         seconds each busyness average covers (default 3)",
        field: cheaper_overload: u64 = 3,
        apply: |c, o| c.cheaper_overload = o.ranged(1, 86400)?,
    }
    CheaperAlgo { name: "cheaper-algo", kind: Value, value: "ALGO",
        help: "how cheaper mode decides: spare (default), spare2, backlog, busyness or manual",
        field: cheaper_algo: CheaperAlgo = CheaperAlgo::Spare,
        apply: |c, o| c.cheaper_algo = o.cheaper_algo()?,
    }
    CheaperAlgoList { name: "cheaper-algo-list", aliases: ["cheaper-algos-list", "cheaper-list"],
        kind: Flag, value: "",
        help: "list the cheaper algorithms at start-up",
        field: cheaper_algo_list: bool = false,
        apply: |c, o| c.cheaper_algo_list = o.flag(),
    }
    CheaperIdle { name: "cheaper-idle", kind: Value, value: "SECS",
        help: "spare2: stop a worker after SECS cycles with more idle workers than --cheaper \
         (default 10; 0 counts as 1)",
        field: cheaper_idle: u64 = 10,
        apply: |c, o| c.cheaper_idle = o.number()?.max(1),
    }
    CheaperRssLimitSoft { name: "cheaper-rss-limit-soft", kind: Value, value: "BYTES",
        help: "cheaper mode spawns no worker while the running workers' resident memory totals \
         BYTES or more (needs --memory-report; 0 = off)",
        field: cheaper_rss_limit_soft: Option<u64> = None,
        apply: |c, o| c.cheaper_rss_limit_soft = o.nonzero_or_off()?,
    }
    CheaperRssLimitHard { name: "cheaper-rss-limit-hard", kind: Value, value: "BYTES",
        help: "cheaper mode stops a worker while the running workers' resident memory totals \
         BYTES or more (above --cheaper-rss-limit-soft; 0 = off)",
        field: cheaper_rss_limit_hard: Option<u64> = None,
        apply: |c, o| c.cheaper_rss_limit_hard = o.nonzero_or_off()?,
    }
    CheaperBusynessMax { name: "cheaper-busyness-max", kind: Value, value: "PERCENT",
        help: "busyness: above this average busyness workers are spawned (default 50)",
        field: cheaper_busyness_max: u64 = 50,
        apply: |c, o| c.cheaper_busyness_max = percent(o, 50)?,
    }
    CheaperBusynessMin { name: "cheaper-busyness-min", kind: Value, value: "PERCENT",
        help: "busyness: below this average busyness a worker is stopped (default 25)",
        field: cheaper_busyness_min: u64 = 25,
        apply: |c, o| c.cheaper_busyness_min = percent(o, 25)?,
    }
    CheaperBusynessMultiplier { name: "cheaper-busyness-multiplier", kind: Value, value: "N",
        help: "busyness: workers must be idle for --cheaper-overload x N seconds to be stopped \
         (default 10)",
        field: cheaper_busyness_multiplier: u64 = 10,
        apply: |c, o| c.cheaper_busyness_multiplier = zero_means(o, 10)?,
    }
    CheaperBusynessPenalty { name: "cheaper-busyness-penalty", kind: Value, value: "N",
        help: "busyness: added to the multiplier when a stopped worker had to be spawned again \
         too soon (default 2)",
        field: cheaper_busyness_penalty: u64 = 2,
        apply: |c, o| c.cheaper_busyness_penalty = zero_means(o, 2)?,
    }
    CheaperBusynessVerbose { name: "cheaper-busyness-verbose", kind: Flag, value: "",
        help: "busyness: log every busyness measurement",
        field: cheaper_busyness_verbose: bool = false,
        apply: |c, o| c.cheaper_busyness_verbose = o.flag(),
    }
    CheaperBusynessBacklogAlert { name: "cheaper-busyness-backlog-alert", kind: Value, value: "N",
        help: "busyness: spawn emergency workers whenever the listen queue is deeper than N \
         (default 33)",
        field: cheaper_busyness_backlog_alert: u64 = 33,
        apply: |c, o| c.cheaper_busyness_backlog_alert = zero_means(o, 33)?,
    }
    CheaperBusynessBacklogMultiplier { name: "cheaper-busyness-backlog-multiplier", kind: Value, value: "N",
        help: "busyness: the multiplier while emergency workers run (default 3)",
        field: cheaper_busyness_backlog_multiplier: u64 = 3,
        apply: |c, o| c.cheaper_busyness_backlog_multiplier = zero_means(o, 3)?,
    }
    CheaperBusynessBacklogStep { name: "cheaper-busyness-backlog-step", kind: Value, value: "N",
        help: "busyness: emergency workers to spawn at a time (default 1)",
        field: cheaper_busyness_backlog_step: u32 = 1,
        apply: |c, o| c.cheaper_busyness_backlog_step = zero_means(o, 1)?.min(65535) as u32,
    }
    CheaperBusynessBacklogNonzero { name: "cheaper-busyness-backlog-nonzero", kind: Value, value: "SECS",
        help: "busyness: spawn emergency workers when the listen queue stayed non-empty for SECS \
         (default 60)",
        field: cheaper_busyness_backlog_nonzero: u64 = 60,
        apply: |c, o| c.cheaper_busyness_backlog_nonzero = zero_means(o, 60)?,
    }
    Idle { name: "idle", kind: Value, value: "SECS",
        help: "cheap mode after SECS without a request: every worker stops, and the first \
         connection on a listening socket spawns them again (0 = off)",
        field: idle: Option<u64> = None,
        apply: |c, o| c.idle = o.nonzero_or_off()?,
    }
    DieOnIdle { name: "die-on-idle", kind: Flag, value: "",
        help: "with --idle: shut the server down instead of entering cheap mode",
        field: die_on_idle: bool = false,
        apply: |c, o| c.die_on_idle = o.flag(),
    }
    Cheap { name: "cheap", kind: Flag, value: "",
        help: "start in cheap mode: no worker runs until the first connection on a listening socket",
        field: cheap: bool = false,
        apply: |c, o| c.cheap = o.flag(),
    }
    DieOnTerm { name: "die-on-term", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi always shuts down on SIGTERM",
    }
    Pidfile { name: "pidfile", kind: Value, value: "PATH",
        help: "write the master pid to PATH",
        field: pidfile: Option<PathBuf> = None,
        apply: |c, o| c.pidfile = Some(o.path()?),
    }
    HookMasterStart { name: "hook-master-start", kind: Multi, value: "HOOK",
        help: "'unix_signal:N gracefully_kill_them_all' (graceful shutdown) or 'unix_signal:N \
         grace_them_all' (graceful reload): what the master does on signal N",
        field: signal_hooks: Vec<SignalHook> = Vec::new(),
        apply: |c, o| c.signal_hooks.push(o.signal_hook()?),
    }
    Locks { name: "locks", kind: Value, value: "N",
        help: "create N user locks (uwsgi.lock(1..N), shared by every worker) beside lock 0",
        field: locks: u32 = 0,
        apply: |c, o| c.locks = o.ranged(0, 1024)? as u32,
    }
    SignalBufsize { name: "signal-bufsize", aliases: ["signals-bufsize"], kind: Value,
        value: "BYTES",
        help: "the send and receive buffer of each uWSGI signal queue (master to worker): a \
         full queue drops the signal and counts it (default: the kernel's, a few hundred signals)",
        field: signal_bufsize: u64 = 0,
        apply: |c, o| c.signal_bufsize = o.ranged(0, 64 << 20)?,
    }
    NoOrphans { name: "no-orphans", kind: Flag, value: "",
        help: "workers (and the pusher process) stop when the master dies instead of living on",
        field: no_orphans: bool = false,
        apply: |c, o| c.no_orphans = o.flag(),
    }
    TouchReload { name: "touch-reload", kind: Multi, value: "PATH",
        help: "gracefully reload (as SIGHUP) when PATH is modified or touched",
        field: touch_reload: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.touch_reload.push(o.path()?),
    }
    MasterFifo { name: "master-fifo", kind: Multi, value: "PATH",
        help: "create a FIFO at PATH the master reads uWSGI's one-letter commands from (r: graceful \
         reload, c: chain reload, w: reload workers, q: graceful shutdown, Q: brutal shutdown, \
         s: print stats, +/-: cheaper workers, 0-9: switch FIFO...); repeatable, the first \
         active (implies --master)",
        field: master_fifo: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.master_fifo.push(o.path()?),
    }
    TouchChainReload { name: "touch-chain-reload", kind: Multi, value: "PATH",
        help: "chain reload (one worker at a time, the next once the new one accepts) when PATH \
         is modified or touched (implies --master)",
        field: touch_chain_reload: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.touch_chain_reload.push(o.path()?),
    }
    MaxWorkerLifetime { name: "max-worker-lifetime", kind: Value, value: "SECS",
        help: "gracefully recycle a worker that has run for more than SECS seconds (0 = off)",
        field: max_worker_lifetime: Option<u64> = None,
        apply: |c, o| c.max_worker_lifetime = o.nonzero_or_off()?,
    }
    MaxWorkerLifetimeDelta { name: "max-worker-lifetime-delta", kind: Value, value: "SECS",
        help: "add (worker id - 1) x SECS to --max-worker-lifetime, so workers are not all \
         recycled at once",
        field: max_worker_lifetime_delta: u64 = 0,
        apply: |c, o| c.max_worker_lifetime_delta = o.number()?,
    }
    AttachDaemon { name: "attach-daemon", kind: Multi, value: "CMD",
        help: "run CMD (through /bin/sh) beside the workers: respawned (throttled) when it dies, \
         stopped with the server; it must not go to the background (implies --master)",
        field: daemons: Vec<crate::DaemonSpec> = Vec::new(),
        apply: |c, o| c.daemons.push(crate::DaemonSpec::plain(o.required()?)),
    }
    AttachControlDaemon { name: "attach-control-daemon", kind: Multi, value: "CMD",
        help: "as --attach-daemon, and the server shuts down when CMD dies",
        apply: |c, o| c.daemons.push(crate::DaemonSpec {
            control: true,
            ..crate::DaemonSpec::plain(o.required()?)
        }),
    }
    SmartAttachDaemon { name: "smart-attach-daemon", kind: Multi, value: "PIDFILE CMD",
        help: "run CMD (which daemonizes itself and writes PIDFILE) unless PIDFILE names a live \
         process; started again when it does not (checked every second, after FREQ checks with \
         'PIDFILE,FREQ'); left running when the server stops",
        apply: |c, o| {
            let v = o.required()?;
            c.daemons.push(crate::DaemonSpec::smart(v, false).map_err(|e| o.invalid(v, e))?)
        },
    }
    SmartAttachDaemon2 { name: "smart-attach-daemon2", kind: Multi, value: "PIDFILE CMD",
        help: "as --smart-attach-daemon, but the master daemonizes CMD and writes PIDFILE",
        apply: |c, o| {
            let v = o.required()?;
            c.daemons.push(crate::DaemonSpec::smart(v, true).map_err(|e| o.invalid(v, e))?)
        },
    }
    AttachDaemon2 { name: "attach-daemon2", kind: Multi, value: "KEY=VAL,...",
        help: "a daemon as key=value pairs: cmd, pidfile, daemonize, freq, control, touch \
         (';'-separated files that restart it), stopsignal, chdir, max_throttle",
        apply: |c, o| {
            let v = o.required()?;
            c.daemons.push(crate::DaemonSpec::keyval(v).map_err(|e| o.invalid(v, e))?)
        },
    }
    HookAsap { name: "hook-asap", kind: Multi, value: "ACTION:ARGS",
        help: "run a hook as soon as the configuration is read (actions: exec, mkdir, print, chdir; a failure stops the server)",
        field: hooks: crate::Hooks = crate::Hooks::default(),
        apply: |c, o| {
            let v = o.required()?;
            let hook = crate::Hook::parse(crate::HookPhase::Asap, v).map_err(|e| o.invalid(v, e))?;
            c.hooks.hooks.push(hook)
        },
    }
    HookPreApp { name: "hook-pre-app", kind: Multi, value: "ACTION:ARGS",
        help: "run a hook before the apps load (actions: exec, mkdir, print, chdir; a failure stops the server)",
        apply: |c, o| {
            let v = o.required()?;
            let hook = crate::Hook::parse(crate::HookPhase::PreApp, v).map_err(|e| o.invalid(v, e))?;
            c.hooks.hooks.push(hook)
        },
    }
    HookPostApp { name: "hook-post-app", kind: Multi, value: "ACTION:ARGS",
        help: "run a hook after the apps loaded (actions: exec, mkdir, print, chdir; a failure stops the server)",
        apply: |c, o| {
            let v = o.required()?;
            let hook = crate::Hook::parse(crate::HookPhase::PostApp, v).map_err(|e| o.invalid(v, e))?;
            c.hooks.hooks.push(hook)
        },
    }
    HookAccepting { name: "hook-accepting", kind: Multi, value: "ACTION:ARGS",
        help: "run a hook in each worker once it accepts requests (actions: exec, mkdir, print, chdir; a failure stops the server)",
        apply: |c, o| {
            let v = o.required()?;
            let hook = crate::Hook::parse(crate::HookPhase::Accepting, v).map_err(|e| o.invalid(v, e))?;
            c.hooks.hooks.push(hook)
        },
    }
    HookAccepting1 { name: "hook-accepting1", kind: Multi, value: "ACTION:ARGS",
        help: "run a hook in the first worker once it accepts requests (actions: exec, mkdir, print, chdir; a failure stops the server)",
        apply: |c, o| {
            let v = o.required()?;
            let hook = crate::Hook::parse(crate::HookPhase::Accepting1, v).map_err(|e| o.invalid(v, e))?;
            c.hooks.hooks.push(hook)
        },
    }
    ExecAsap { name: "exec-asap", kind: Multi, value: "CMD",
        help: "run CMD (through /bin/sh) as soon as the configuration is read; a non-zero exit stops the server",
        apply: |c, o| c.hooks.execs.push(crate::Hook::exec(crate::HookPhase::Asap, o.required()?)),
    }
    ExecPreApp { name: "exec-pre-app", kind: Multi, value: "CMD",
        help: "run CMD (through /bin/sh) before the apps load; a non-zero exit stops the server",
        apply: |c, o| c.hooks.execs.push(crate::Hook::exec(crate::HookPhase::PreApp, o.required()?)),
    }
    ExecPostApp { name: "exec-post-app", kind: Multi, value: "CMD",
        help: "run CMD (through /bin/sh) after the apps loaded; a non-zero exit stops the server",
        apply: |c, o| c.hooks.execs.push(crate::Hook::exec(crate::HookPhase::PostApp, o.required()?)),
    }
    Uid { name: "uid", kind: Value, value: "USER",
        help: "setuid to the specified user/uid",
        field: uid: Option<String> = None,
        apply: |c, o| c.uid = Some(o.string()?),
    }
    Gid { name: "gid", kind: Value, value: "GROUP",
        help: "setgid to the specified group/gid",
        field: gid: Option<String> = None,
        apply: |c, o| c.gid = Some(o.string()?),
    }
    ProcnamePrefix { name: "procname-prefix", kind: Value, value: "PREFIX",
        help: "prefix process titles with PREFIX (implies --auto-procname)",
        field: procname_prefix: Option<String> = None,
        apply: |c, o| c.procname_prefix = Some(o.string()?),
    }
    ProcnamePrefixSpaced { name: "procname-prefix-spaced", kind: Value, value: "PREFIX",
        help: "prefix process titles with PREFIX and a space (implies --auto-procname)",
        apply: |c, o| c.procname_prefix = Some(format!("{} ", o.string()?)),
    }
    AutoProcname { name: "auto-procname", kind: Flag, value: "",
        help: "title processes after their role ('rwsgi master', 'rwsgi worker N'): the command line \
         (ps aux, /proc/PID/cmdline, cut to the original's length) and the kernel's name (ps -e, \
         /proc/PID/comm, 15 bytes)",
        field: auto_procname: bool = false,
        apply: |c, o| c.auto_procname = o.flag(),
    }
    // --- process and socket options: titles, umask, limits, stdin, pidfiles, daemonizing
    ProcnameAppend { name: "procname-append", kind: Value, value: "SUFFIX",
        help: "append SUFFIX to process names (implies --auto-procname)",
        field: procname_append: Option<String> = None,
        apply: |c, o| c.procname_append = Some(o.string()?),
    }
    Procname { name: "procname", kind: Value, value: "NAME",
        help: "name every process NAME instead of after its role (implies --auto-procname)",
        field: procname: Option<String> = None,
        apply: |c, o| c.procname = Some(o.string()?),
    }
    ProcnameMaster { name: "procname-master", kind: Value, value: "NAME",
        help: "name the master NAME (implies --auto-procname)",
        field: procname_master: Option<String> = None,
        apply: |c, o| c.procname_master = Some(o.string()?),
    }
    ChownSocket { name: "chown-socket", kind: Value, value: "USER[:GROUP]",
        help: "chown the UNIX sockets rwsgi binds to USER (and GROUP), names or ids, before \
         privileges are dropped",
        field: chown_socket: Option<String> = None,
        apply: |c, o| c.chown_socket = Some(o.string()?),
    }
    Umask { name: "umask", kind: Value, value: "MODE",
        help: "set the file-creation mask (octal) at start-up, before any file or socket is \
         created (logs, sockets, pidfiles)",
        field: umask: Option<u32> = None,
        apply: |c, o| {
            o.required()?;
            c.umask = Some(chmod_mode(o)?)
        },
    }
    Ksm { name: "ksm", kind: OptionalValue, value: "N",
        help: "let the kernel's KSM merge identical memory pages of the master and every worker \
               (prctl PR_SET_MEMORY_MERGE at start-up, Linux 6.4+; uWSGI re-marks its mappings \
               every N cycles, the process-wide flag covers new ones too, so N > 0 only turns it \
               on; 0: off)",
        field: ksm: bool = false,
        apply: |c, o| c.ksm = o.value.is_none() || o.number()? > 0,
    }
    MaxFd { name: "max-fd", kind: Value, value: "N",
        help: "set the open file descriptor limit (RLIMIT_NOFILE, soft and hard) of the master \
         and every worker to N (raising it needs root)",
        field: max_fd: Option<u64> = None,
        apply: |c, o| c.max_fd = o.nonzero_or_off()?,
    }
    HonourStdin { name: "honour-stdin", kind: Flag, value: "",
        help: "keep stdin as it was given instead of pointing it at /dev/null",
        field: honour_stdin: bool = false,
        apply: |c, o| c.honour_stdin = o.flag(),
    }
    CloseOnExec { name: "close-on-exec", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi accepts every connection close-on-exec already, \
         so processes an app spawns never inherit them",
    }
    CloseOnExec2 { name: "close-on-exec2", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi's listening sockets are close-on-exec already \
         (a reload hands them over explicitly), so processes an app spawns never inherit them",
    }
    Reaper { name: "reaper", short: 'r', kind: Flag, value: "",
        help: "after each request, reap (waitpid) every exited child of the worker, so processes \
         an app spawned and never waited for leave no zombies (as in uWSGI, a child the app \
         waits for itself may then be gone already)",
        field: reaper: bool = false,
        apply: |c, o| c.reaper = o.flag(),
    }
    ExitOnReload { name: "exit-on-reload", kind: Flag, value: "",
        help: "shut down gracefully whenever a graceful reload is asked for (SIGHUP, --touch-reload, \
         --fs-reload, the master FIFO's r)",
        field: exit_on_reload: bool = false,
        apply: |c, o| c.exit_on_reload = o.flag(),
    }
    Pidfile2 { name: "pidfile2", kind: Value, value: "PATH",
        help: "write the master pid to PATH after privileges are dropped (--uid/--gid)",
        field: pidfile2: Option<PathBuf> = None,
        apply: |c, o| c.pidfile2 = Some(o.path()?),
    }
    SafePidfile { name: "safe-pidfile", kind: Value, value: "PATH",
        help: "write the master pid to PATH before privileges are dropped, atomically (a \
         temporary file renamed over PATH, so a reader never sees it empty or half written)",
        field: safe_pidfile: Option<PathBuf> = None,
        apply: |c, o| c.safe_pidfile = Some(o.path()?),
    }
    SafePidfile2 { name: "safe-pidfile2", kind: Value, value: "PATH",
        help: "as --safe-pidfile, after privileges are dropped",
        field: safe_pidfile2: Option<PathBuf> = None,
        apply: |c, o| c.safe_pidfile2 = Some(o.path()?),
    }
    FsReload { name: "fs-reload", kind: Multi, value: "PATH",
        help: "gracefully reload when the file or directory PATH is modified (for a directory: an \
         entry in it created, deleted, renamed or written), checked once a second",
        field: fs_reload: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.fs_reload.push(o.path()?),
    }
    ShowConfig { name: "show-config", kind: Flag, value: "",
        help: "log the configuration at start-up as uWSGI does, reformatted as ini \
         (';uWSGI instance configuration', '[uwsgi]', one 'key = value' line per option)",
        field: show_config: bool = false,
        apply: |c, o| c.show_config = o.flag(),
    }
    Daemonize { name: "daemonize", short: 'd', kind: Value, value: "LOGFILE",
        help: "detach from the terminal (new session, stdin at /dev/null, the file-creation mask \
         0 unless --umask) and log to LOGFILE instead of --logto",
        field: daemonize: Option<String> = None,
        apply: |c, o| c.daemonize = Some(o.string()?),
    }
    Daemonize2 { name: "daemonize2", kind: Value, value: "LOGFILE",
        help: "as --daemonize, but detaching only once the apps are loaded (an app that fails to \
         load still fails the command); logs go to LOGFILE from the start",
        field: daemonize2: Option<String> = None,
        apply: |c, o| c.daemonize2 = Some(o.string()?),
    }
    HarakiriVerbose { name: "harakiri-verbose", kind: Flag, value: "",
        help: "at a harakiri, log the system call (/proc/PID/syscall) and kernel wait channel \
         (/proc/PID/wchan) the worker was stuck in",
        field: harakiri_verbose: bool = false,
        apply: |c, o| c.harakiri_verbose = o.flag(),
    }
    NeedApp { name: "need-app", kind: Flag, value: "",
        help: "exit if no app can be loaded (default true; need-app = false to disable)",
        field: need_app: bool = true,
        apply: |c, o| c.need_app = o.flag(),
    }
    Strict { name: "strict", kind: Flag, value: "",
        help: "strict mode: unknown keys in config files are errors even when used as %(placeholders)",
        field: strict: bool = false,
        apply: |c, o| c.strict = o.flag(),
    }
    SingleInterpreter { name: "single-interpreter", short: 'i', kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi always uses a single interpreter per worker",
    }
    ThunderLock { name: "thunder-lock", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi serializes accept() itself",
    }
    // --- python
    Module { name: "module", aliases: ["wsgi"], short: 'w', kind: Value, value: "MODULE[:CALLABLE]",
        help: "load a WSGI module",
        field: module: Option<String> = None,
        apply: |c, o| c.module = Some(o.string()?),
    }
    WsgiFile { name: "wsgi-file", aliases: ["file"], kind: Value, value: "PATH",
        help: "load a .wsgi/.py file",
        field: wsgi_file: Option<PathBuf> = None,
        apply: |c, o| c.wsgi_file = Some(o.path()?),
    }
    Callable { name: "callable", kind: Value, value: "NAME",
        help: "name of the WSGI callable (default application)",
        field: callable: String = "application".to_string(),
        apply: |c, o| c.callable = o.string()?,
    }
    Chdir { name: "chdir", kind: Value, value: "DIR",
        help: "chdir to DIR before loading apps",
        field: chdir: Option<PathBuf> = None,
        apply: |c, o| c.chdir = Some(o.path()?),
    }
    Chdir2 { name: "chdir2", kind: Value, value: "DIR",
        help: "chdir to DIR after loading apps",
        field: chdir2: Option<PathBuf> = None,
        apply: |c, o| c.chdir2 = Some(o.path()?),
    }
    Pythonpath { name: "pythonpath", aliases: ["python-path", "pp"], kind: Multi, value: "DIR",
        help: "add DIR to sys.path",
        field: pythonpath: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.pythonpath.push(o.path()?),
    }
    Mount { name: "mount", kind: Multi, value: "/PREFIX=APP",
        help: "mount an app (module or file) under a URL prefix",
        field: mounts: Vec<Mount> = Vec::new(),
        apply: |c, o| c.mounts.push(mount(o)?),
    }
    ManageScriptName { name: "manage-script-name", kind: Flag, value: "",
        help: "move the mount prefix from PATH_INFO to SCRIPT_NAME",
        field: manage_script_name: bool = false,
        apply: |c, o| c.manage_script_name = o.flag(),
    }
    Env { name: "env", kind: Multi, value: "KEY=VALUE",
        help: "set an environment variable",
        field: env: Vec<(String, String)> = Vec::new(),
        apply: |c, o| c.env.push(env_pair(o)?),
    }
    Home { name: "home", aliases: ["virtualenv", "venv", "pyhome"], short: 'H', kind: Value, value: "DIR",
        help: "use the Python virtualenv / home DIR",
        field: home: Option<PathBuf> = None,
        apply: |c, o| c.home = Some(o.path()?),
    }
    PyAutoreload { name: "py-autoreload", aliases: ["python-autoreload"], kind: Value, value: "SECS",
        help: "gracefully reload when a loaded Python module's file changes, checking every SECS \
         (0 = off)",
        field: py_autoreload: Option<u64> = None,
        apply: |c, o| c.py_autoreload = o.nonzero_or_off()?,
    }
    Plugins { name: "plugins", aliases: ["plugin"], kind: Multi, value: "LIST",
        help: "load plugins (comma separated): only names of plugins rwsgi has built in (python, \
         http, cheaper_busyness, the stats pushers...), which load nothing; any other is an error",
        field: plugins: Vec<String> = Vec::new(),
        apply: |c, o| plugins(c, o)?,
    }
    PluginsDir { name: "plugins-dir", aliases: ["plugin-dir"], kind: Multi, value: "DIR", noop: true,
        help: "accepted for compatibility: rwsgi's plugins are built in, so there is no plugin \
         directory to search",
    }
    // --- Paste Deploy, the WSGI environ's allocation, fork hooks (uWSGI's python plugin)
    Paste { name: "paste", kind: Value, value: "URI",
        help: "load the app with PasteDeploy's loadapp(URI): config:FILE (a relative FILE is taken \
         from the directory the apps load in), egg:DIST[#NAME] or call:MODULE:FACTORY; \
         PasteDeploy must be importable in the app's Python",
        field: paste: Option<String> = None,
        apply: |c, o| c.paste = Some(o.string()?),
    }
    PasteName { name: "paste-name", kind: Value, value: "NAME",
        help: "the app section --paste loads (default main: [app:main], [pipeline:main], ...)",
        field: paste_name: Option<String> = None,
        apply: |c, o| c.paste_name = Some(o.string()?),
    }
    PasteLogger { name: "paste-logger", kind: Flag, value: "",
        help: "before loading --paste config:FILE, configure Python's logging from FILE \
         (logging.config.fileConfig, with %(here)s and %(__file__)s defined)",
        field: paste_logger: bool = false,
        apply: |c, o| c.paste_logger = o.flag(),
    }
    // handled by the parser: the file's [uwsgi] section, then paste = config:FILE
    IniPaste { name: "ini-paste", kind: Value, value: "FILE",
        help: "load the [uwsgi] section of a PasteDeploy ini FILE and the app with \
         --paste config:FILE (made absolute)",
    }
    IniPasteLogged { name: "ini-paste-logged", kind: Value, value: "FILE",
        help: "as --ini-paste, with --paste-logger",
    }
    WsgiEnvBehavior { name: "wsgi-env-behavior", aliases: ["wsgi-env-behaviour"], kind: Value,
        value: "holy|cheat",
        help: "holy (the default): each request's environ is the app's to keep; cheat: emptied \
         once its request is over, as uWSGI's cheat allocator leaves it (rwsgi still gives each \
         request a dict of its own)",
        field: wsgi_env_cheat: bool = false,
        apply: |c, o| c.wsgi_env_cheat = env_behavior(o)?,
    }
    WsgiDisableFileWrapper { name: "wsgi-disable-file-wrapper", kind: Flag, value: "",
        help: "no wsgi.file_wrapper in the environ (apps then send files their own way)",
        field: wsgi_disable_file_wrapper: bool = false,
        apply: |c, o| c.wsgi_disable_file_wrapper = o.flag(),
    }
    PyCallOsafterfork { name: "py-call-osafterfork", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: every process rwsgi forks already runs \
         PyOS_AfterFork_Child, so Python signal handlers work in workers and \
         os.register_at_fork(after_in_child=...) hooks run there",
    }
    // --- static files
    StaticMap { name: "static-map", kind: Multi, value: "/PREFIX=DIR",
        help: "serve files under DIR (or the file DIR) for paths starting with /PREFIX, before the app \
         (what follows the prefix is appended to DIR; longest prefix first; a missing file goes to the app)",
        field: static_maps: Vec<StaticMap> = Vec::new(),
        apply: |c, o| c.static_maps.push(o.static_map(false)?),
    }
    StaticMap2 { name: "static-map2", kind: Multi, value: "/PREFIX=DIR",
        help: "like --static-map, but the whole path (prefix included) is appended to DIR",
        apply: |c, o| c.static_maps.push(o.static_map(true)?),
    }
    CheckStatic { name: "check-static", aliases: ["static-check"], kind: Multi, value: "DIR",
        help: "serve a file from DIR when the request path names one, before the app",
        field: check_static: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.check_static.push(o.path()?),
    }
    StaticIndex { name: "static-index", kind: Multi, value: "NAME",
        help: "for a request naming a directory, serve its file NAME (repeatable, tried in order)",
        field: static_index: Vec<String> = Vec::new(),
        apply: |c, o| c.static_index.push(o.string()?),
    }
    StaticSafe { name: "static-safe", kind: Multi, value: "DIR",
        help: "a directory outside the mapped ones that symlinks in them may point into",
        field: static_safe: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.static_safe.push(o.path()?),
    }
    StaticSkipExt { name: "static-skip-ext", kind: Multi, value: "EXT",
        help: "never serve files ending with EXT (the request goes to the app)",
        field: static_skip_ext: Vec<String> = Vec::new(),
        apply: |c, o| c.static_skip_ext.push(o.string()?),
    }
    Mimefile { name: "mimefile", aliases: ["mime-file"], kind: Multi, value: "PATH",
        help: "read MIME types from PATH (default /etc/mime.types; a built-in table when it is missing)",
        field: mimefiles: Vec<PathBuf> = Vec::new(),
        apply: |c, o| c.mimefiles.push(o.path()?),
    }
    StaticExpiresType { name: "static-expires-type", kind: Multi, value: "TYPE=SECS",
        help: "an Expires header SECS after the request for static files of MIME type TYPE",
        field: static_expires_type: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires_type.push(o.key_secs()?),
    }
    StaticExpiresTypeMtime { name: "static-expires-type-mtime", kind: Multi, value: "TYPE=SECS",
        help: "an Expires header SECS after the file's mtime for static files of MIME type TYPE",
        field: static_expires_type_mtime: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires_type_mtime.push(o.key_secs()?),
    }
    StaticExpires { name: "static-expires", kind: Multi, value: "REGEX SECS",
        help: "an Expires header SECS after the request for static files whose path matches REGEX",
        field: static_expires: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires.push(o.regex_secs()?),
    }
    StaticExpiresMtime { name: "static-expires-mtime", kind: Multi, value: "REGEX SECS",
        help: "an Expires header SECS after the mtime for static files whose path matches REGEX",
        field: static_expires_mtime: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires_mtime.push(o.regex_secs()?),
    }
    StaticExpiresUri { name: "static-expires-uri", kind: Multi, value: "REGEX SECS",
        help: "an Expires header SECS after the request for static files whose REQUEST_URI matches REGEX",
        field: static_expires_uri: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires_uri.push(o.regex_secs()?),
    }
    StaticExpiresUriMtime { name: "static-expires-uri-mtime", kind: Multi, value: "REGEX SECS",
        help: "an Expires header SECS after the mtime for static files whose REQUEST_URI matches REGEX",
        field: static_expires_uri_mtime: Vec<(String, u64)> = Vec::new(),
        apply: |c, o| c.static_expires_uri_mtime.push(o.regex_secs()?),
    }
    StaticGzipAll { name: "static-gzip-all", kind: Flag, value: "",
        help: "serve FILE.br / FILE.gz instead of FILE when it exists and the client accepts br / gzip",
        field: static_gzip_all: bool = false,
        apply: |c, o| c.static_gzip_all = o.flag(),
    }
    StaticGzipDir { name: "static-gzip-dir", aliases: ["static-gzip-prefix"], kind: Multi, value: "DIR",
        help: "as --static-gzip-all, for files whose path starts with DIR",
        field: static_gzip_dirs: Vec<String> = Vec::new(),
        apply: |c, o| c.static_gzip_dirs.push(o.string()?),
    }
    StaticGzipExt { name: "static-gzip-ext", aliases: ["static-gzip-suffix"], kind: Multi, value: "EXT",
        help: "as --static-gzip-all, for files whose name ends with EXT",
        field: static_gzip_exts: Vec<String> = Vec::new(),
        apply: |c, o| c.static_gzip_exts.push(o.string()?),
    }
    FileServeMode { name: "file-serve-mode", aliases: ["fileserve-mode"], kind: Value, value: "MODE",
        help: "x-accel-redirect (nginx) or x-sendfile (Apache): answer a static file with that header \
         naming it instead of sending it (default: send it)",
        field: file_serve_mode: FileServeMode = FileServeMode::Raw,
        apply: |c, o| c.file_serve_mode = o.file_serve_mode()?,
    }
    OffloadThreads { name: "offload-threads", kind: Value, value: "N",
        help: "accepted for compatibility: static files always go out with sendfile(2) from each \
         core's event loop, never holding a Python thread; a slow client's transfer is offloaded there",
        field: offload_threads: u64 = 0,
        apply: |c, o| c.offload_threads = o.number()?,
    }
    HonourRange { name: "honour-range", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: static files always honour a Range header (206, 416); \
         as in uWSGI, app responses are passed on as the app wrote them",
    }
    StaticOffloadToThread { name: "static-offload-to-thread", kind: Value, value: "N",
        help: "accepted for compatibility (see --offload-threads)",
        apply: |c, o| c.offload_threads = c.offload_threads.max(o.number()?),
    }
    // --- internal routing (config/src/routing.rs; run by server/src/routing.rs)
    Route { name: "route", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "add a routing rule matching PATH_INFO: 'REGEXP ACTION:ARGS' (actions: continue/last, break[:STATUS], \
         return:CODE, redirect[-302|-301|-permanent]:URL, addheader, delheader/remheader, setheader, donotlog, log, \
         goto; $1..$9 and ${VAR} in the args; other actions are refused); rules run in order before static files and the app",
        field: routes: Vec<crate::routing::Route> = Vec::new(),
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::PathInfo))?),
    }
    RouteUri { name: "route-uri", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching REQUEST_URI",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::RequestUri))?),
    }
    RouteHost { name: "route-host", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching HTTP_HOST (the Host header)",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::Host))?),
    }
    RouteQs { name: "route-qs", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching QUERY_STRING",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::QueryString))?),
    }
    RouteRemoteAddr { name: "route-remote-addr", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching REMOTE_ADDR",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::RemoteAddr))?),
    }
    RouteUserAgent { name: "route-user-agent", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching HTTP_USER_AGENT",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::UserAgent))?),
    }
    RouteReferer { name: "route-referer", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching HTTP_REFERER",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::Referer))?),
    }
    RouteRemoteUser { name: "route-remote-user", kind: Multi, value: "REGEXP ACTION:ARGS",
        help: "as --route, matching REMOTE_USER",
        apply: |c, o| c.routes.push(route(o, RouteOption::Match(Subject::RemoteUser))?),
    }
    RouteIf { name: "route-if", kind: Multi, value: "CONDITION:ARGS ACTION:ARGS",
        help: "add a rule run when a condition holds: 'CONDITION:ARGS ACTION:ARGS' (equal, startswith, endswith, contains, \
         regexp, empty, ishigher, islower, ishigherequal, islowerequal, exists, isfile, isdir, islink, ipv4in, ipv6in; 'A;B' for two values)",
        apply: |c, o| c.routes.push(route(o, RouteOption::If { negate: false })?),
    }
    RouteIfNot { name: "route-if-not", kind: Multi, value: "CONDITION:ARGS ACTION:ARGS",
        help: "as --route-if, run when the condition does not hold",
        apply: |c, o| c.routes.push(route(o, RouteOption::If { negate: true })?),
    }
    RouteRun { name: "route-run", kind: Multi, value: "ACTION:ARGS",
        help: "add a rule whose action always runs",
        apply: |c, o| c.routes.push(route(o, RouteOption::Run)?),
    }
    RouteLabel { name: "route-label", kind: Multi, value: "NAME",
        help: "a label in the rules that goto:NAME jumps to (forward only)",
        apply: |c, o| c.routes.push(route(o, RouteOption::Label)?),
    }
    FinalRoute { name: "final-route", aliases: ["final-route-status", "final-route-host", "final-route-uri", "final-route-qs", "final-route-remote-addr", "final-route-user-agent", "final-route-remote-user", "final-route-referer", "final-route-label", "final-route-if", "final-route-if-not", "final-route-run"], kind: Multi, value: "RULE",
        refused: "rwsgi runs only the request routing chain (--route*), not uWSGI's final chain",
        help: "add a rule to uWSGI's final routing chain",
    }
    ErrorRoute { name: "error-route", aliases: ["error-route-status", "error-route-host", "error-route-uri", "error-route-qs", "error-route-remote-addr", "error-route-user-agent", "error-route-remote-user", "error-route-referer", "error-route-label", "error-route-if", "error-route-if-not", "error-route-run"], kind: Multi, value: "RULE",
        refused: "rwsgi runs only the request routing chain (--route*), not uWSGI's error chain",
        help: "add a rule to uWSGI's error routing chain",
    }
    ResponseRoute { name: "response-route", aliases: ["response-route-status", "response-route-host", "response-route-uri", "response-route-qs", "response-route-remote-addr", "response-route-user-agent", "response-route-remote-user", "response-route-referer", "response-route-label", "response-route-if", "response-route-if-not", "response-route-run"], kind: Multi, value: "RULE",
        refused: "rwsgi runs only the request routing chain (--route*), not uWSGI's response chain",
        help: "add a rule to uWSGI's response routing chain",
    }
    // --- logging
    DisableLogging { name: "disable-logging", short: 'L', kind: Flag, value: "",
        help: "disable request logging",
        field: disable_logging: bool = false,
        apply: |c, o| c.disable_logging = o.flag(),
    }
    AddHeader { name: "add-header", kind: Multi, value: "HEADER",
        help: "add 'Name: value' to every response (repeatable; 'Connection: close' closes each \
         connection after its response; 'Connection: keep-alive' is what rwsgi does anyway: it \
         keeps every connection HTTP lets it keep and sends that header itself when needed)",
        field: add_headers: Vec<(String, String)> = Vec::new(),
        apply: |c, o| c.add_headers.push(o.header()?),
    }
    DisableWriteException { name: "disable-write-exception", kind: Flag, value: "",
        help: "a failed write to a client that went away ends the response quietly instead of \
         raising OSError (counted as a write error either way)",
        field: disable_write_exception: bool = false,
        apply: |c, o| c.disable_write_exception = o.flag(),
    }
    IgnoreWriteErrors { name: "ignore-write-errors", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi reports a failed write only as the request's \
         OSError (see --disable-write-exception)",
    }
    IgnoreSigpipe { name: "ignore-sigpipe", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi's workers ignore SIGPIPE, so a client that went \
         away is an error return, never a reported signal",
    }
    LogFormat { name: "log-format", aliases: ["logformat"], kind: Value, value: "FORMAT",
        help: "request log lines in FORMAT: text with uWSGI's %(uri), %(method), %(status), %(msecs), \
         %(addr), %(ltime), ... and %(var.NAME) for any request var",
        field: log_format: Option<String> = None,
        apply: |c, o| c.log_format = Some(o.string()?),
    }
    Logto { name: "logto", kind: Value, value: "PATH",
        help: "log to PATH instead of stderr",
        field: logto: Option<String> = None,
        apply: |c, o| c.logto = Some(o.string()?),
    }
    MemoryReport { name: "memory-report", short: 'm', kind: Flag, value: "",
        help: "report memory usage in request logs",
        field: memory_report: bool = false,
        apply: |c, o| c.memory_report = o.flag(),
    }
    // Which requests are logged (uWSGI's conditional logging: with --disable-logging these
    // name the only requests that are).
    Log4xx { name: "log-4xx", kind: Flag, value: "",
        help: "log requests answered 4xx (even with --disable-logging)",
        field: log_4xx: bool = false,
        apply: |c, o| c.log_4xx = o.flag(),
    }
    Log5xx { name: "log-5xx", kind: Flag, value: "",
        help: "log requests answered 5xx (even with --disable-logging)",
        field: log_5xx: bool = false,
        apply: |c, o| c.log_5xx = o.flag(),
    }
    LogZero { name: "log-zero", kind: Flag, value: "",
        help: "log responses without a body (even with --disable-logging)",
        field: log_zero: bool = false,
        apply: |c, o| c.log_zero = o.flag(),
    }
    LogSlow { name: "log-slow", kind: Value, value: "MSECS",
        help: "log requests that took at least MSECS milliseconds (even with --disable-logging)",
        field: log_slow: u64 = 0,
        apply: |c, o| c.log_slow = o.number()?,
    }
    LogBig { name: "log-big", kind: Value, value: "BYTES",
        help: "log responses whose body is at least BYTES (even with --disable-logging)",
        field: log_big: u64 = 0,
        apply: |c, o| c.log_big = o.number()?,
    }
    // uWSGI declares these two with a required value it reads as a flag.
    LogSendfile { name: "log-sendfile", kind: Value, value: "BOOL",
        help: "log responses sent with sendfile(2): static files and wsgi.file_wrapper over a \
         file (even with --disable-logging)",
        field: log_sendfile: bool = false,
        apply: |c, o| c.log_sendfile = o.flag(),
    }
    LogIoerror { name: "log-ioerror", kind: Value, value: "BOOL",
        help: "log requests whose client failed while the body was read or the response written \
         (even with --disable-logging)",
        field: log_ioerror: bool = false,
        apply: |c, o| c.log_ioerror = o.flag(),
    }
    LogXForwardedFor { name: "log-x-forwarded-for", kind: Flag, value: "",
        help: "the request log shows the X-Forwarded-For header as the client address",
        field: log_x_forwarded_for: bool = false,
        apply: |c, o| c.log_x_forwarded_for = o.flag(),
    }
    LogMicros { name: "log-micros", kind: Flag, value: "",
        help: "the default request line reports the response time in microseconds",
        field: log_micros: bool = false,
        apply: |c, o| c.log_micros = o.flag(),
    }
    LogDate { name: "log-date", aliases: ["logdate", "log-prefix"], kind: OptionalValue, value: "STRFTIME",
        help: "prefix every log line with the date (ctime's form, or strftime of STRFTIME) \
         through rwsgi's log process; also %(ftime)'s format with --logformat-strftime",
        field: log_date: Option<String> = None,
        apply: |c, o| c.log_date = Some(log_date_format(o.value)),
    }
    LogformatStrftime { name: "logformat-strftime", aliases: ["log-format-strftime"], kind: Flag, value: "",
        help: "%(ftime) in --log-format uses the --log-date strftime format",
        field: logformat_strftime: bool = false,
        apply: |c, o| c.logformat_strftime = o.flag(),
    }
    LogMaster { name: "log-master", kind: Flag, value: "",
        help: "every process's output goes through rwsgi's log process (as with --logger), \
         one line at a time",
        field: log_master: bool = false,
        apply: |c, o| c.log_master = o.flag(),
    }
    ThreadedLogger { name: "threaded-logger", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi's log process is a process of its own already, \
         so the master never writes a logger's output itself",
    }
    LogReopen { name: "log-reopen", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi reopens --logto at every reload already",
    }
    Logto2 { name: "logto2", kind: Value, value: "PATH",
        help: "log to PATH, opened after privileges are dropped (--uid/--gid)",
        field: logto2: Option<String> = None,
        apply: |c, o| c.logto2 = Some(o.string()?),
    }
    LogMaxsize { name: "log-maxsize", kind: Value, value: "BYTES",
        help: "rotate the --logto file when it grows past BYTES (checked once a second)",
        field: log_maxsize: u64 = 0,
        apply: |c, o| c.log_maxsize = o.number()?,
    }
    LogBackupname { name: "log-backupname", kind: Value, value: "PATH",
        help: "the rotated --logto file's name (default: the log's name and the Unix time)",
        field: log_backupname: Option<String> = None,
        apply: |c, o| c.log_backupname = Some(o.string()?),
    }
    ReqLogger { name: "req-logger", aliases: ["logger-req"], kind: Multi, value: "[NAME ]LOGGER",
        help: "send request log lines to LOGGER: file:PATH, stdio, syslog[:ADDR[,IDENT]] \
         (repeatable: each unnamed one gets every line no --log-req-route takes; a named one, \
         'NAME LOGGER', only what a route sends it)",
        field: req_loggers: Vec<String> = Vec::new(),
        apply: |c, o| c.req_loggers.push(o.string()?),
    }
    LogReqEncoder { name: "log-req-encoder", kind: Multi, value: "ENCODER",
        help: "pass request log lines through ENCODER, in order: format TEXT, json TEXT (with \
         ${msg}, ${msgnl}, ${unix}, ${micros}, ${millis}, ${strftime:FMT}), prefix TEXT, \
         suffix TEXT, nl",
        field: log_req_encoders: Vec<String> = Vec::new(),
        apply: |c, o| c.log_req_encoders.push(o.string()?),
    }
    // uWSGI's logging options rwsgi does not have: refused by name, never ignored.
    Logger { name: "logger", kind: Multi, value: "[NAME ]LOGGER",
        help: "send every log line (the processes' own and request lines without a \
         --req-logger) to LOGGER through rwsgi's log process: file:PATH, stdio, \
         syslog[:IDENT[,FACILITY]], rsyslog:ADDR[,IDENT[,PRI]] (repeatable); a named one \
         ('NAME LOGGER') gets only the lines a --log-route sends it",
        field: loggers: Vec<String> = Vec::new(),
        apply: |c, o| c.loggers.push(o.string()?),
    }
    LogEncoder { name: "log-encoder", kind: Multi, value: "ENCODER",
        help: "pass every line the log process delivers through ENCODER, in order (the \
         encoders of --log-req-encoder; ENCODER:NAME ARGS encodes only the named logger's lines)",
        field: log_encoders: Vec<String> = Vec::new(),
        apply: |c, o| c.log_encoders.push(o.string()?),
    }
    LogRoute { name: "log-route", kind: Multi, value: "NAME REGEXP",
        help: "send the log lines matching REGEXP (Rust regex syntax) to the --logger named NAME \
         ('NAME PLUGIN:ARGS') instead of the unnamed loggers (every matching route gets the line)",
        field: log_route: Vec<String> = Vec::new(),
        apply: |c, o| c.log_route.push(log_route(o)?),
    }
    LogReqRoute { name: "log-req-route", kind: Multi, value: "NAME REGEXP",
        help: "send the request lines matching REGEXP to the --req-logger (or --logger) named \
         NAME instead of the unnamed request loggers",
        field: log_req_route: Vec<String> = Vec::new(),
        apply: |c, o| c.log_req_route.push(log_route(o)?),
    }
    LogDrain { name: "log-drain", kind: Multi, value: "REGEXP",
        help: "refused: rwsgi filters no log lines by regexp",
        apply: |_c, o| return Err(refused(o, "rwsgi filters no log lines by regexp")),
    }
    LogFilter { name: "log-filter", kind: Multi, value: "REGEXP",
        help: "refused: rwsgi filters no log lines by regexp",
        apply: |_c, o| return Err(refused(o, "rwsgi filters no log lines by regexp")),
    }
    LogAlarm { name: "log-alarm", kind: Multi, value: "ALARM REGEXP",
        help: "refused: rwsgi has no alarm subsystem",
        apply: |_c, o| return Err(refused(o, "rwsgi has no alarm subsystem")),
    }
    LogSyslog { name: "log-syslog", kind: OptionalValue, value: "IDENT",
        help: "the same as --logger syslog[:IDENT]",
        apply: |c, o| c.loggers.push(format!("syslog:{}", o.value.unwrap_or(""))),
    }
    LogSocket { name: "log-socket", kind: Value, value: "ADDR",
        help: "refused: rwsgi sends only request lines to sockets: use --req-logger rsyslog:ADDR",
        apply: |_c, o| return Err(refused(o, "rwsgi's socket loggers speak syslog: use --logger rsyslog:ADDR")),
    }
    LogTruncate { name: "log-truncate", kind: Flag, value: "",
        help: "refused: rwsgi always appends to --logto",
        apply: |_c, o| return Err(refused(o, "rwsgi always appends to --logto")),
    }
    LogMasterBufsize { name: "log-master-bufsize", kind: Value, value: "BYTES",
        help: "accepted for compatibility: rwsgi's log process reads a stream and never \
         truncates a line",
        apply: |_c, o| o.number().map(drop)?,
    }
    LogMasterStream { name: "log-master-stream", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi's log process always reads a stream (a pipe) \
         and splits it into lines",
    }
    LogMasterReqStream { name: "log-master-req-stream", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: request lines reach rwsgi's log process on the same \
         stream as the rest",
    }
    LoggerList { name: "logger-list", aliases: ["loggers-list"], kind: Flag, value: "",
        help: "refused: rwsgi's loggers are file:, stdio, syslog and rsyslog (see --req-logger)",
        apply: |_c, o| return Err(refused(o, "rwsgi's loggers are file:, stdio, syslog and rsyslog (see --req-logger)")),
    }
    // --- stats
    Stats { name: "stats", aliases: ["stats-server"], kind: Value, value: "ADDR",
        help: "enable the stats server on ADDR",
        field: stats: Option<Addr> = None,
        apply: |c, o| c.stats = Some(o.addr()?),
    }
    StatsHttp { name: "stats-http", kind: Flag, value: "",
        help: "prefix stats output with HTTP headers",
        field: stats_http: bool = false,
        apply: |c, o| c.stats_http = o.flag(),
    }
    StatsMinified { name: "stats-minified", aliases: ["stats-min"], kind: Flag, value: "",
        help: "minify the stats JSON",
        field: stats_minified: bool = false,
        apply: |c, o| c.stats_minified = o.flag(),
    }
    StatsNoCores { name: "stats-no-cores", kind: Flag, value: "",
        help: "omit per-core information from stats",
        field: stats_no_cores: bool = false,
        apply: |c, o| c.stats_no_cores = o.flag(),
    }
    StatsChmod { name: "stats-chmod", kind: Value, value: "MODE",
        help: "octal mode of UNIX stats and --metrics sockets (rwsgi; default --chmod-socket, else 600)",
        field: stats_chmod: Option<u32> = None,
        apply: |c, o| c.stats_chmod = Some(chmod_mode(o)?),
    }
    StatsVars { name: "stats-vars", kind: Value, value: "MODE",
        help: "request vars in the stats: redacted (default), full (uWSGI's raw output: leaks cookies and credentials) or off (rwsgi)",
        field: stats_vars: StatsVars = StatsVars::Redacted,
        apply: |c, o| c.stats_vars = o.stats_vars()?,
    }
    StatsRedact { name: "stats-redact", kind: Multi, value: "NAME",
        help: "also redact this header (X-Api-Key) or request var (HTTP_X_API_KEY) in the stats (rwsgi)",
        field: stats_redact: Vec<String> = Vec::new(),
        apply: |c, o| c.stats_redact.push(o.string()?),
    }
    StatsHttpAuth { name: "stats-http-auth", kind: Value, value: "FILE",
        help: "require a bearer token or user:password from FILE on HTTP stats and /metrics (rwsgi)",
        field: stats_http_auth: Option<PathBuf> = None,
        apply: |c, o| c.stats_http_auth = Some(o.path()?),
    }
    StatsMaxClients { name: "stats-max-clients", kind: Value, value: "N",
        help: "stats clients served at once; more wait in the listen queue (rwsgi; default 1024)",
        field: stats_max_clients: usize = 1024,
        apply: |c, o| c.stats_max_clients = o.ranged(1, 1 << 20)? as usize,
    }
    Metrics { name: "metrics", kind: Value, value: "ADDR",
        help: "serve only Prometheus /metrics on ADDR (rwsgi; TCP, UNIX or @abstract)",
        field: metrics: Option<Addr> = None,
        apply: |c, o| c.metrics = Some(o.addr()?),
    }
    MetricsCores { name: "metrics-cores", kind: Flag, value: "",
        help: "add the per-core uwsgi_worker_core_* series to /metrics (rwsgi)",
        field: metrics_cores: bool = false,
        apply: |c, o| c.metrics_cores = o.flag(),
    }
    StatsNoMetrics { name: "stats-no-metrics", kind: Flag, value: "",
        help: "do not include metrics in stats output",
        field: stats_no_metrics: bool = false,
        apply: |c, o| c.stats_no_metrics = o.flag(),
    }
    EnableMetrics { name: "enable-metrics", kind: Flag, value: "",
        help: "enable metrics subsystem",
        field: enable_metrics: bool = false,
        apply: |c, o| c.enable_metrics = o.flag(),
    }
    // raw key=value specs, parsed by rwsgi_stats::metrics (they need the built-in names)
    Metric { name: "metric", kind: Multi, value: "SPEC",
        help: "add a custom metric (name=N,type=counter|gauge|absolute,oid=O,initial_value=V,collector=C,...)",
        field: metric: Vec<String> = Vec::new(),
        apply: |c, o| c.metric.push(o.string()?),
    }
    MetricsDir { name: "metrics-dir", aliases: ["metric-dir"], kind: Value, value: "DIR",
        help: "export metrics as text files to the specified directory",
        field: metrics_dir: Option<PathBuf> = None,
        apply: |c, o| c.metrics_dir = Some(o.path()?),
    }
    MetricsDirRestore { name: "metrics-dir-restore", aliases: ["metric-dir-restore"], kind: Flag, value: "",
        help: "not supported: restoring metrics from --metrics-dir",
        apply: |_c, o| return Err(o.invalid("", "rwsgi does not restore metrics: uWSGI reads a file back only as the base its collectors add to, and rwsgi computes its built-in metrics from the scoreboard instead")),
    }
    MetricsNoCores { name: "metrics-no-cores", kind: Flag, value: "",
        help: "disable generation of cores-related metrics",
        field: metrics_no_cores: bool = false,
        apply: |c, o| c.metrics_no_cores = o.flag(),
    }
    // raw `pusher:args`, parsed by the rwsgi-push crate
    StatsPush { name: "stats-push", kind: Multi, value: "PUSHER:ARGS",
        help: "push stats to the specified pusher",
        field: stats_push: Vec<String> = Vec::new(),
        apply: |c, o| c.stats_push.push(o.string()?),
    }
    StatsPusherDefaultFreq { name: "stats-pusher-default-freq", kind: Value, value: "SECS",
        help: "default stats push frequency (default 3)",
        field: stats_pusher_default_freq: u64 = 3,
        apply: |c, o| c.stats_pusher_default_freq = o.ranged(1, u64::MAX)?,
    }
    Carbon { name: "carbon", kind: Multi, value: "ADDR",
        help: "push stats to a carbon server",
        field: carbon: Vec<String> = Vec::new(),
        apply: |c, o| c.carbon.push(o.string()?),
    }
    CarbonFreq { name: "carbon-freq", kind: Value, value: "SECS",
        help: "carbon push frequency (default 60)",
        field: carbon_freq: u64 = 60,
        apply: |c, o| c.carbon_freq = o.ranged(1, u64::MAX)?,
    }
    CarbonId { name: "carbon-id", kind: Value, value: "ID",
        help: "carbon metric id",
        field: carbon_id: Option<String> = None,
        apply: |c, o| c.carbon_id = Some(o.string()?),
    }
    CarbonRoot { name: "carbon-root", kind: Value, value: "ROOT",
        help: "carbon metric root (default uwsgi)",
        field: carbon_root: Option<String> = None,
        apply: |c, o| c.carbon_root = Some(o.string()?),
    }
    CarbonNoWorkers { name: "carbon-no-workers", kind: Flag, value: "",
        help: "do not push per-worker metrics to carbon",
        field: carbon_no_workers: bool = false,
        apply: |c, o| c.carbon_no_workers = o.flag(),
    }
    CarbonUseMetrics { name: "carbon-use-metrics", kind: Flag, value: "",
        help: "push the metrics subsystem's values to carbon instead of its own lines",
        field: carbon_use_metrics: bool = false,
        apply: |c, o| c.carbon_use_metrics = o.flag(),
    }
    StatsdNoWorkers { name: "statsd-no-workers", kind: Flag, value: "",
        help: "do not push per-worker metrics to statsd",
        field: statsd_no_workers: bool = false,
        apply: |c, o| c.statsd_no_workers = o.flag(),
    }
    StatsdAllGauges { name: "statsd-all-gauges", kind: Flag, value: "",
        help: "push all statsd metrics as gauges",
        field: statsd_all_gauges: bool = false,
        apply: |c, o| c.statsd_all_gauges = o.flag(),
    }
    ConnectAndRead { name: "connect-and-read", kind: Value, value: "ADDR",
        help: "connect to ADDR, print what it sends and exit",
    }
    // --- configuration
    Ini { name: "ini", kind: Multi, value: "FILE[:SECTION]",
        help: "load options from an ini file (section [uwsgi] by default)",
    }
    Yaml { name: "yaml", aliases: ["yml"], short: 'y', kind: Multi, value: "FILE[:SECTION]",
        help: "load options from a YAML file (mapping uwsgi: by default; a list repeats an option)",
    }
    Json { name: "json", aliases: ["js"], short: 'j', kind: Multi, value: "FILE[:SECTION]",
        help: "load options from a JSON file (object \"uwsgi\" by default; an array repeats an option)",
    }
    Set { name: "set", short: 'S', kind: Multi, value: "NAME=VALUE",
        help: "set an option, or a placeholder if NAME is not an option",
    }
    SetPlaceholder { name: "set-placeholder", aliases: ["set-ph"], kind: Multi, value: "NAME=VALUE",
        help: "set a %(placeholder)",
    }
    // --- config logic: the lines up to `endif` / `endfor` apply when the condition holds
    // (once per item for `for*`), with %(_) the variable's value, the path or the item
    IfEnv { name: "if-env", aliases: ["ifenv"], kind: Value, value: "VAR[=VALUE]",
        help: "(logic) if the environment variable is set (and equals VALUE); %(_) is its value",
    }
    IfNotEnv { name: "if-not-env", kind: Value, value: "VAR[=VALUE]",
        help: "(logic) if the environment variable is unset (or differs from VALUE)",
    }
    IfExists { name: "if-exists", aliases: ["ifexists"], kind: Value, value: "PATH",
        help: "(logic) if PATH exists; %(_) is PATH",
    }
    IfNotExists { name: "if-not-exists", kind: Value, value: "PATH",
        help: "(logic) if PATH does not exist",
    }
    IfFile { name: "if-file", kind: Value, value: "PATH",
        help: "(logic) if PATH is a regular file; %(_) is PATH",
    }
    IfNotFile { name: "if-not-file", kind: Value, value: "PATH",
        help: "(logic) if PATH is not a regular file",
    }
    IfDir { name: "if-dir", aliases: ["ifdir", "if-directory"], kind: Value, value: "PATH",
        help: "(logic) if PATH is a directory; %(_) is PATH",
    }
    IfNotDir { name: "if-not-dir", kind: Value, value: "PATH",
        help: "(logic) if PATH is not a directory",
    }
    IfOpt { name: "if-opt", kind: Value, value: "NAME[=VALUE]",
        help: "(logic) if option or placeholder NAME was set before (to VALUE); %(_) is its value",
    }
    IfNotOpt { name: "if-not-opt", kind: Value, value: "NAME[=VALUE]",
        help: "(logic) if option or placeholder NAME was not set before (or not to VALUE)",
    }
    IfHostname { name: "if-hostname", kind: Value, value: "NAME",
        help: "(logic) if the host name is NAME",
    }
    IfNotHostname { name: "if-not-hostname", kind: Value, value: "NAME",
        help: "(logic) if the host name is not NAME",
    }
    IfPlugin { name: "if-plugin", aliases: ["ifplugin"], kind: Value, value: "NAME",
        help: "(logic) if plugin NAME is available (built into rwsgi)",
    }
    IfNotPlugin { name: "if-not-plugin", kind: Value, value: "NAME",
        help: "(logic) if plugin NAME is not available",
    }
    Else { name: "else", kind: Flag, value: "",
        help: "(logic) the following lines apply when the last if-* condition failed",
    }
    Endif { name: "endif", aliases: ["end-if", "end"], kind: Flag, value: "",
        help: "(logic) end an if-* or else block",
    }
    For { name: "for", kind: Value, value: "ITEMS",
        help: "(logic) repeat the lines up to endfor for each space-separated item",
    }
    ForGlob { name: "for-glob", kind: Value, value: "PATTERN",
        help: "(logic) repeat the lines up to endfor for each path matching PATTERN",
    }
    ForReadline { name: "for-readline", kind: Value, value: "FILE",
        help: "(logic) repeat the lines up to endfor for each line of FILE",
    }
    ForTimes { name: "for-times", kind: Value, value: "N",
        help: "(logic) repeat the lines up to endfor for 1..N",
    }
    Endfor { name: "endfor", aliases: ["end-for"], kind: Flag, value: "",
        help: "(logic) end a for* block",
    }
    // --- options the real-config sample uses (scripts/config-sample): each does what
    // uWSGI's does, or is a documented no-op because rwsgi already behaves so
    HarakiriGracefulTimeout { name: "harakiri-graceful-timeout", kind: Value, value: "SECS",
        help: "a worker past --harakiri first gets --harakiri-graceful-signal, and SIGKILL only \
         if it is still stuck SECS later (0 = off: SIGKILL at once)",
        field: harakiri_graceful_timeout: Option<u64> = None,
        apply: |c, o| c.harakiri_graceful_timeout = o.nonzero_or_off()?,
    }
    HarakiriGracefulSignal { name: "harakiri-graceful-signal", kind: Value, value: "N",
        help: "the signal of the graceful harakiri attempt (default 15, SIGTERM)",
        field: harakiri_graceful_signal: i32 = 15,
        apply: |c, o| c.harakiri_graceful_signal = o.catchable_signal()?,
    }
    Queue { name: "queue", kind: Value, value: "N",
        help: "0, uWSGI's default, runs without a shared queue, as rwsgi does; rwsgi has no \
         shared queue (uwsgi.queue_*), so any other size stops start-up",
        apply: |_c, o| o.zero_only("rwsgi has no shared queue (uwsgi.queue_*): use Redis or a \
         task queue")?,
    }
    PyCallUwsgiForkHooks { name: "py-call-uwsgi-fork-hooks", kind: Flag, value: "", noop: true,
        help: "accepted for compatibility: rwsgi always forks through PyOS_BeforeFork and \
         PyOS_AfterFork_Parent / _Child, so Python's state and os.register_at_fork hooks follow \
         every fork",
    }

    Https { name: "https", aliases: ["https2"], kind: Multi, value: "ADDR,CERT,KEY",
        refused: "rwsgi serves no TLS itself: terminate HTTPS in front of it (nginx, a load \
         balancer) and point it at an --http-socket",
        help: "serve HTTPS on ADDR with the certificate and key (uWSGI's HTTPS router)",
    }

    // --- uWSGI subsystems rwsgi does not have: refused by name, never silently ignored
    Gevent { name: "gevent", kind: Value, value: "N",
        refused: "rwsgi has no gevent loop: a worker runs --threads OS threads, each with its own \
         event loop, so use --threads",
        help: "run N gevent async cores in each worker",
    }
    GeventMonkeyPatch { name: "gevent-monkey-patch", aliases: ["gevent-early-monkey-patch"],
        kind: Flag, value: "",
        refused: "rwsgi has no gevent loop to patch the standard library for (see --gevent)",
        help: "monkey-patch the standard library for gevent",
    }
    Async { name: "async", kind: Value, value: "N",
        refused: "rwsgi has no async cores (uWSGI's ugreen, greenlet and gevent loops): use --threads",
        help: "run N async cores in each worker",
    }
    Ugreen { name: "ugreen", kind: Flag, value: "",
        refused: "rwsgi has no async cores to switch between (see --async)",
        help: "the ugreen suspend engine for async cores",
    }
    Greenlet { name: "greenlet", kind: Flag, value: "",
        refused: "rwsgi has no async cores to switch between (see --async)",
        help: "the greenlet suspend engine for async cores",
    }
    Emperor { name: "emperor", kind: Multi, value: "DIR",
        refused: "rwsgi serves one application set per master and has no Emperor to manage \
         vassals: run one rwsgi per app under systemd or a supervisor",
        help: "run the Emperor, managing a vassal instance per config file",
    }
    Cache2 { name: "cache2", kind: Multi, value: "OPTIONS",
        refused: "rwsgi has no shared cache (uwsgi.cache_*): use Redis or memcached",
        help: "create a shared cache",
    }
    Cache { name: "cache", kind: Value, value: "N",
        refused: "rwsgi has no shared cache (uwsgi.cache_*): use Redis or memcached",
        help: "create a shared cache of N items",
    }
    Spooler { name: "spooler", kind: Multi, value: "DIR",
        refused: "rwsgi has no spooler: use a task queue (Celery, RQ)",
        help: "run a spooler on DIR",
    }
    SpoolerProcesses { name: "spooler-processes", kind: Value, value: "N",
        refused: "rwsgi has no spooler: use a task queue (Celery, RQ)",
        help: "processes for each spooler",
    }
    Mule { name: "mule", kind: Multi, value: "SCRIPT",
        refused: "rwsgi has no mules: run background work as a process of its own (a systemd \
         unit, a task queue worker)",
        help: "add a mule process",
    }
    Mules { name: "mules", kind: Value, value: "N",
        refused: "rwsgi has no mules (see --mule)",
        help: "add N mule processes",
    }
    Farm { name: "farm", kind: Multi, value: "NAME:MULES",
        refused: "rwsgi has no mules to group into farms (see --mule)",
        help: "group mules into a farm",
    }
    // --- uWSGI's command cron: commands the master runs on a schedule (`crate::cron`)
    Cron { name: "cron", kind: Multi, value: "MIN HOUR DAY MONTH WEEK CMD",
        help: "run CMD (through /bin/sh, its output in the log) from the master when the local \
         time matches: -1 is any value, -N every N (minute -15: every 15 minutes), week 0 or 7 \
         Sunday; a given day and week match either (implies --master)",
        field: crons: Vec<crate::CronTask> = Vec::new(),
        apply: |c, o| {
            let v = o.required()?;
            c.crons.push(crate::CronTask::parse(v, false).map_err(|e| o.invalid(v, e))?)
        },
    }
    UniqueCron { name: "unique-cron", kind: Multi, value: "MIN HOUR DAY MONTH WEEK CMD",
        help: "as --cron, but CMD is not started again while its previous run is alive",
        apply: |c, o| {
            let v = o.required()?;
            c.crons.push(crate::CronTask::parse(v, true).map_err(|e| o.invalid(v, e))?)
        },
    }
    Cron2 { name: "cron2", kind: Multi, value: "KEY=VAL,... CMD",
        help: "a cron task as key=value pairs before the command: minute, hour, day, month, week \
         (-1 each by default), unique (1: as --unique-cron), harakiri (seconds; 0: none, \
         whatever --cron-harakiri says)",
        apply: |c, o| {
            let v = o.required()?;
            c.crons.push(crate::CronTask::keyval(v).map_err(|e| o.invalid(v, e))?)
        },
    }
    CronHarakiri { name: "cron-harakiri", kind: Value, value: "SECS",
        help: "kill (SIGKILL, its process group) a cron command still running after SECS \
         seconds (0 = never)",
        field: cron_harakiri: u64 = 0,
        apply: |c, o| c.cron_harakiri = o.number()?,
    }
    LegionCron { name: "legion-cron", aliases: ["cron-legion", "unique-legion-cron", "unique-cron-legion"],
        kind: Multi, value: "LEGION SPEC",
        refused: "rwsgi has no Legion clustering, so no instance is a Legion's lord: use --cron \
         on the one instance that should run it",
        help: "a cron task run only by the lord of a Legion",
    }
    Legion { name: "legion", kind: Multi, value: "NAME ADDR VALOR CRYPTO",
        refused: "rwsgi has no Legion clustering",
        help: "join a Legion of instances",
    }
    SubscribeTo { name: "subscribe-to", aliases: ["subscribe"], kind: Multi, value: "ADDR:KEY",
        refused: "rwsgi has no subscription client for a FastRouter or HTTP router: point the \
         proxy at rwsgi's sockets",
        help: "subscribe to a subscription server",
    }
    Zerg { name: "zerg", kind: Multi, value: "ADDR",
        refused: "rwsgi has no zerg mode: use --processes or --cheaper",
        help: "attach to a zerg server",
    }
    Sharedarea { name: "sharedarea", kind: Multi, value: "SPEC",
        refused: "rwsgi has no shared areas (uwsgi.sharedarea_*)",
        help: "create a shared memory area",
    }
    Help { name: "help", aliases: ["usage"], short: 'h', kind: Flag, value: "",
        help: "show this help",
    }
    Version { name: "version", kind: Flag, value: "",
        help: "print the version",
    }
}

impl Config {
    /// Force `protocol` onto sockets added with plain `socket`.
    pub(crate) fn force_protocol(&mut self, value: &str) {
        if let Some(p) = Protocol::parse(value) {
            for s in self.sockets.iter_mut().filter(|s| s.option == "socket") {
                s.protocol = p;
            }
        }
    }

    /// Post-parse checks: a socket exists, an app is configured (unless `need-app = false`),
    /// and `--stats-http-auth` does not meet a raw stats socket. Numeric ranges are enforced while parsing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sockets.is_empty() {
            return Err(ConfigError::NoSocket);
        }
        if self.need_app
            && self.module.is_none()
            && self.wsgi_file.is_none()
            && self.paste.is_none()
            && self.mounts.is_empty()
        {
            return Err(ConfigError::NoApp);
        }
        if self.stats_http_auth.is_some() && self.stats.is_some() && !self.stats_http {
            return Err(ConfigError::RawStatsAuth);
        }
        self.validate_logging()?;
        if self.paste_logger
            && !self
                .paste
                .as_deref()
                .is_some_and(|p| p.starts_with("config:"))
        {
            return Err(ConfigError::Inconsistent(
                "--paste-logger needs --paste config:FILE: it configures logging from that file",
            ));
        }
        self.validate_cheaper()
    }

    /// The logging options that need another: a rotation needs its file, and `--logto2` is
    /// opened too late for the log process.
    fn validate_logging(&self) -> Result<(), ConfigError> {
        let log_process = self.log_master
            || !self.loggers.is_empty()
            || !self.log_encoders.is_empty()
            || !self.log_route.is_empty()
            || self.log_date.is_some();
        if log_process && self.logto2.is_some() {
            return Err(ConfigError::Inconsistent(
                "--logto2 with --logger, --log-encoder, --log-date or --log-master: the log \
                 process opens its outputs at start-up, before privileges are dropped",
            ));
        }
        if self.log_maxsize > 0 && self.logto.is_none() && self.logto2.is_none() {
            return Err(ConfigError::Inconsistent(
                "--log-maxsize needs --logto (or --logto2): it rotates that file",
            ));
        }
        Ok(())
    }

    /// uWSGI's start-up checks of the cheaper options (a `cheaper-initial` out of range is
    /// not an error there: the server clamps it and says so).
    fn validate_cheaper(&self) -> Result<(), ConfigError> {
        if self.cheaper > 0 && self.cheaper >= self.processes {
            return Err(ConfigError::Inconsistent(
                "invalid cheaper value: must be lower than processes",
            ));
        }
        if self.cheaper_rss_limit_soft.is_some() && !self.memory_report {
            return Err(ConfigError::Inconsistent(
                "enabling cheaper-rss-limit-soft requires enabling also memory-report",
            ));
        }
        match (self.cheaper_rss_limit_soft, self.cheaper_rss_limit_hard) {
            (None, Some(_)) => Err(ConfigError::Inconsistent(
                "enabling cheaper-rss-limit-hard requires setting also cheaper-rss-limit-soft",
            )),
            (Some(soft), Some(hard)) if hard <= soft => Err(ConfigError::Inconsistent(
                "cheaper-rss-limit-hard value must be higher than cheaper-rss-limit-soft value",
            )),
            _ => Ok(()),
        }
    }
}
