//! The typed configuration and how each option sets it.

use std::path::PathBuf;

use crate::addr::Addr;
use crate::error::{ConfigError, Origin};
use crate::options::{Opt, OptionSpec};

/// Wire protocol spoken on a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The uwsgi binary protocol (`socket`, `uwsgi-socket`).
    Uwsgi,
    /// HTTP (`http-socket`, `http`).
    Http,
    /// HTTP/1.1 with keep-alive (`http11-socket`).
    Http11,
}

impl Protocol {
    fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uwsgi" => Some(Protocol::Uwsgi),
            "http" => Some(Protocol::Http),
            "http11" => Some(Protocol::Http11),
            _ => None,
        }
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// Where to listen.
    pub addr: Addr,
    /// Protocol spoken on it.
    pub protocol: Protocol,
    /// Canonical name of the option that created it: `socket`,
    /// `uwsgi-socket`, `http-socket`, `http11-socket` or `http`.
    pub option: &'static str,
}

/// A `mount = /prefix=app` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// URL prefix (or, in uWSGI vhost mode, a host name).
    pub prefix: String,
    /// Module (`pkg.mod[:callable]`) or file path, as written.
    pub app: String,
}

impl Mount {
    /// True when `app` names a file rather than a module (uWSGI rule: it
    /// ends with `.py` or `.wsgi`).
    pub fn is_file(&self) -> bool {
        self.app.ends_with(".py") || self.app.ends_with(".wsgi")
    }
}

/// What the master does on a signal (uWSGI's master functions, named in `unix_signal` hooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// `gracefully_kill_them_all`: workers finish their requests, then everything exits.
    GracefulShutdown,
    /// `grace_them_all`: workers finish their requests, then the master re-executes itself.
    GracefulReload,
}

/// A `hook-master-start = unix_signal:N ACTION` line: the master runs ACTION on signal N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalHook {
    /// The signal number.
    pub signal: i32,
    /// What the master does on it.
    pub action: SignalAction,
}

/// The fully parsed, validated configuration.
///
/// Options accepted only for compatibility (no effect in rwsgi):
/// `enable-threads`, `die-on-term`, `single-interpreter`, `thunder-lock`
/// (see [`crate::options::noop_options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    // ---- sockets
    /// Listening sockets in the order given (`socket`, `uwsgi-socket`,
    /// `http-socket`, `http11-socket`, `http`).
    pub sockets: Vec<SocketSpec>,
    /// `listen`: backlog (default 100).
    pub listen: u32,
    /// `buffer-size`: max request header size (default 4096, 1..=65535).
    pub buffer_size: usize,
    /// `socket-timeout` seconds (`None` = the built-in defaults; 0 also means that).
    pub socket_timeout: Option<u64>,
    /// `post-buffering` bytes (0 = off): bodies are read before the app is called.
    pub post_buffering: u64,
    /// `post-buffering-bufsize` bytes (0 = uWSGI's default).
    pub post_buffering_bufsize: u64,
    /// `forwarded-allow-ips`.
    pub forwarded_allow_ips: crate::TrustedPeers,
    /// `chmod-socket`: mode for UNIX sockets (bare flag = 0o666).
    pub chmod_socket: Option<u32>,
    /// `vacuum`: remove UNIX sockets/pidfile on exit.
    pub vacuum: bool,
    // ---- processes
    /// `master`.
    pub master: bool,
    /// `processes` / `workers` (default 1, at least 1).
    pub processes: u32,
    /// `threads` per worker (default 1, at least 1).
    pub threads: u32,
    /// `lazy-apps`.
    pub lazy_apps: bool,
    /// `lazy`.
    pub lazy: bool,
    /// `harakiri` seconds (`None` = off; 0 also means off).
    pub harakiri: Option<u64>,
    /// `max-requests` (`None` = off; 0 also means off).
    pub max_requests: Option<u64>,
    /// `max-requests-delta`: worker id x this is added to `max-requests`.
    pub max_requests_delta: u64,
    /// `evil-reload-on-rss` megabytes (`None` = off; 0 also means off).
    pub evil_reload_on_rss: Option<u64>,
    /// `limit-as` megabytes: RLIMIT_AS of the master, inherited by its children.
    pub limit_as: Option<u64>,
    /// `reload-on-rss` megabytes (`None` = off; 0 also means off).
    pub reload_on_rss: Option<u64>,
    /// `reload-mercy` seconds (default 60).
    pub reload_mercy: u64,
    /// `worker-reload-mercy` seconds (default 60).
    pub worker_reload_mercy: u64,
    /// `pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `hook-master-start = unix_signal:N ACTION` lines, in order (a later one for the same
    /// signal wins).
    pub signal_hooks: Vec<SignalHook>,
    /// `no-orphans`: children stop when the master dies.
    pub no_orphans: bool,
    /// `touch-reload`: files whose modification triggers a graceful reload.
    pub touch_reload: Vec<PathBuf>,
    /// `uid` (name or number, resolved by the server).
    pub uid: Option<String>,
    /// `gid` (name or number, resolved by the server).
    pub gid: Option<String>,
    /// `procname-prefix` (`procname-prefix-spaced` adds a trailing space).
    pub procname_prefix: Option<String>,
    /// `auto-procname`.
    pub auto_procname: bool,
    /// `need-app` (default true).
    pub need_app: bool,
    /// `strict`.
    pub strict: bool,
    // ---- python
    /// `module` / `wsgi` / `-w`, as written (may be `pkg.mod:callable`).
    pub module: Option<String>,
    /// `wsgi-file` / `file`.
    pub wsgi_file: Option<PathBuf>,
    /// `callable` (default `application`).
    pub callable: String,
    /// `chdir` (before loading apps).
    pub chdir: Option<PathBuf>,
    /// `chdir2` (after loading apps).
    pub chdir2: Option<PathBuf>,
    /// `pythonpath` entries in order.
    pub pythonpath: Vec<PathBuf>,
    /// `mount` entries in order.
    pub mounts: Vec<Mount>,
    /// `manage-script-name`.
    pub manage_script_name: bool,
    /// `env` entries (`KEY=VALUE`) in order.
    pub env: Vec<(String, String)>,
    /// `home` / `virtualenv` / `venv` / `pyhome`.
    pub home: Option<PathBuf>,
    /// `py-autoreload` seconds (`None` = off).
    pub py_autoreload: Option<u64>,
    /// `plugins`, normalized (`python3`, `stats_pusher_file`, ...), deduplicated.
    pub plugins: Vec<String>,
    // ---- logging
    /// `disable-logging`.
    pub disable_logging: bool,
    /// `log-format`: the request log line's format (uWSGI's `%(name)` variables).
    pub log_format: Option<String>,
    /// `add-header`: (name, value) pairs added to every response, in order.
    pub add_headers: Vec<(String, String)>,
    /// `disable-write-exception`: a failed write ends the response without raising.
    pub disable_write_exception: bool,
    /// `logto`.
    pub logto: Option<String>,
    /// `memory-report`.
    pub memory_report: bool,
    // ---- stats
    /// `stats` / `stats-server`.
    pub stats: Option<Addr>,
    /// `stats-http`.
    pub stats_http: bool,
    /// `stats-minified` / `stats-min`.
    pub stats_minified: bool,
    /// `stats-no-cores`.
    pub stats_no_cores: bool,
    /// `stats-no-metrics`.
    pub stats_no_metrics: bool,
    /// `stats-push` raw values (`pusher:args`), in order.
    pub stats_push: Vec<String>,
    /// `stats-pusher-default-freq` seconds (default 3).
    pub stats_pusher_default_freq: u64,
    /// `carbon` raw values, in order.
    pub carbon: Vec<String>,
    /// `carbon-freq` seconds (default 60).
    pub carbon_freq: u64,
    /// `carbon-id`.
    pub carbon_id: Option<String>,
    /// `carbon-root`.
    pub carbon_root: Option<String>,
    /// `carbon-no-workers`.
    pub carbon_no_workers: bool,
    /// `statsd-no-workers`.
    pub statsd_no_workers: bool,
    /// `statsd-all-gauges`.
    pub statsd_all_gauges: bool,
}

impl Default for Config {
    /// uWSGI's defaults (with `need-app` on).
    fn default() -> Self {
        Config {
            sockets: Vec::new(),
            listen: 100,
            buffer_size: 4096,
            socket_timeout: None,
            post_buffering: 0,
            post_buffering_bufsize: 0,
            forwarded_allow_ips: crate::TrustedPeers::default(),
            chmod_socket: None,
            vacuum: false,
            master: false,
            processes: 1,
            threads: 1,
            lazy_apps: false,
            lazy: false,
            harakiri: None,
            max_requests: None,
            max_requests_delta: 0,
            reload_on_rss: None,
            limit_as: None,
            evil_reload_on_rss: None,
            reload_mercy: 60,
            worker_reload_mercy: 60,
            pidfile: None,
            touch_reload: Vec::new(),
            no_orphans: false,
            signal_hooks: Vec::new(),
            uid: None,
            gid: None,
            procname_prefix: None,
            auto_procname: false,
            need_app: true,
            strict: false,
            module: None,
            wsgi_file: None,
            callable: "application".to_string(),
            chdir: None,
            chdir2: None,
            pythonpath: Vec::new(),
            mounts: Vec::new(),
            manage_script_name: false,
            env: Vec::new(),
            home: None,
            py_autoreload: None,
            plugins: Vec::new(),
            disable_logging: false,
            disable_write_exception: false,
            add_headers: Vec::new(),
            log_format: None,
            logto: None,
            memory_report: false,
            stats: None,
            stats_http: false,
            stats_minified: false,
            stats_no_cores: false,
            stats_no_metrics: false,
            stats_push: Vec::new(),
            stats_pusher_default_freq: 3,
            carbon: Vec::new(),
            carbon_freq: 60,
            carbon_id: None,
            carbon_root: None,
            carbon_no_workers: false,
            statsd_no_workers: false,
            statsd_all_gauges: false,
        }
    }
}

/// Human-readable list of the plugins rwsgi has built in.
pub const BUILTIN_PLUGINS: &str = "python3 (also python, pythonX, pythonX.Y), stats_pusher_file, \
     stats_pusher_mongodb, stats_pusher_socket, stats_pusher_statsd, stats_pusher_zabbix, carbon";

const BUILTIN_NAMED: &[&str] = &[
    "stats_pusher_file",
    "stats_pusher_mongodb",
    "stats_pusher_socket",
    "stats_pusher_statsd",
    "stats_pusher_zabbix",
    "carbon",
];

/// Reduce a plugin reference to its bare name: strips a `N:` modifier
/// prefix, directories, `.so` and `_plugin` (so
/// `/usr/lib/uwsgi/python3_plugin.so` becomes `python3`).
pub fn normalize_plugin(raw: &str) -> String {
    let mut s = raw.trim();
    if let Some((m, rest)) = s.split_once(':') {
        if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) {
            s = rest;
        }
    }
    if let Some(i) = s.rfind('/') {
        s = &s[i + 1..];
    }
    let s = s.strip_suffix(".so").unwrap_or(s);
    let s = s.strip_suffix("_plugin").unwrap_or(s);
    s.to_string()
}

/// Whether a normalized plugin name is built into rwsgi.
pub fn is_builtin_plugin(name: &str) -> bool {
    if let Some(v) = name.strip_prefix("python") {
        return v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    }
    BUILTIN_NAMED.contains(&name)
}

/// Interpret a flag value the uWSGI way: absent/empty → true;
/// `false|off|no|0` (case-insensitive) → false; anything else → true.
pub fn flag_value(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") => true,
        Some(v) => {
            !(v.eq_ignore_ascii_case("false")
                || v.eq_ignore_ascii_case("off")
                || v.eq_ignore_ascii_case("no")
                || v == "0")
        }
    }
}

/// Context for applying one option occurrence.
pub(crate) struct Occurrence<'a> {
    pub spec: &'static OptionSpec,
    /// The name as the user wrote it (for error messages).
    pub written: &'a str,
    pub value: Option<&'a str>,
    pub origin: &'a Origin,
}

impl Occurrence<'_> {
    fn invalid(&self, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            option: self.written.to_string(),
            value: value.to_string(),
            reason: reason.into(),
            origin: self.origin.clone(),
        }
    }

    fn required(&self) -> Result<&str, ConfigError> {
        match self.value.map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ConfigError::MissingValue {
                option: self.written.to_string(),
                origin: self.origin.clone(),
            }),
        }
    }

    fn string(&self) -> Result<String, ConfigError> {
        self.required().map(str::to_string)
    }

    /// `Name: value` of `add-header`. The server owns the framing headers, so only
    /// `Connection: close` of those may be added (it makes every response close).
    fn header(&self) -> Result<(String, String), ConfigError> {
        let v = self.required()?;
        let Some((name, value)) = v.split_once(':') else {
            return Err(self.invalid(v, "expected 'Name: value'"));
        };
        let (name, value) = (name.trim(), value.trim());
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(self.invalid(v, "the header name must be an HTTP token"));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(self.invalid(v, "the header value must not contain control characters"));
        }
        let framing = ["content-length", "transfer-encoding", "connection"];
        if framing.iter().any(|f| name.eq_ignore_ascii_case(f))
            && !(name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close"))
        {
            return Err(self.invalid(v, "the server sets this header itself"));
        }
        Ok((name.to_string(), value.to_string()))
    }

    /// `unix_signal:N ACTION`, the one kind of master hook rwsgi runs.
    fn signal_hook(&self) -> Result<SignalHook, ConfigError> {
        let v = self.required()?;
        let Some(rest) = v.strip_prefix("unix_signal:") else {
            return Err(self.invalid(v, "rwsgi runs only 'unix_signal:N ACTION' hooks"));
        };
        let (num, action) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let signal: i32 = num
            .trim()
            .parse()
            .map_err(|_| self.invalid(v, "expected a signal number after 'unix_signal:'"))?;
        // SIGKILL and SIGSTOP cannot be caught; SIGCHLD is how the master sees workers exit.
        if !(1..=31).contains(&signal) || [9, 17, 19].contains(&signal) {
            return Err(self.invalid(v, "this signal cannot be hooked"));
        }
        let action = match action.trim() {
            "gracefully_kill_them_all" => SignalAction::GracefulShutdown,
            "grace_them_all" => SignalAction::GracefulReload,
            _ => {
                return Err(self.invalid(
                    v,
                    "supported actions are gracefully_kill_them_all and grace_them_all",
                ))
            }
        };
        Ok(SignalHook { signal, action })
    }

    fn path(&self) -> Result<PathBuf, ConfigError> {
        self.required().map(PathBuf::from)
    }

    fn number(&self) -> Result<u64, ConfigError> {
        let v = self.required()?;
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.invalid(v, "expected a non-negative integer"));
        }
        v.parse()
            .map_err(|_| self.invalid(v, "number is too large"))
    }

    fn ranged(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let n = self.number()?;
        if n < min || n > max {
            let v = self.required()?;
            return Err(self.invalid(v, format!("must be between {min} and {max}")));
        }
        Ok(n)
    }

    fn addr(&self) -> Result<Addr, ConfigError> {
        let v = self.required()?;
        Addr::parse(v).map_err(|e| self.invalid(v, e.to_string()))
    }

    /// A positive number, or `None` for 0 (uWSGI's "off").
    fn nonzero_or_off(&self) -> Result<Option<u64>, ConfigError> {
        Ok(Some(self.number()?).filter(|&n| n > 0))
    }

    fn flag(&self) -> bool {
        flag_value(self.value)
    }
}

impl Config {
    /// Apply one option occurrence. Immediate options (`ini`, `set`, `help`,
    /// ...) are handled by the parser and ignored here.
    pub(crate) fn apply(&mut self, o: &Occurrence<'_>) -> Result<(), ConfigError> {
        let socket = |cfg: &mut Config, protocol| -> Result<(), ConfigError> {
            cfg.sockets.push(SocketSpec {
                addr: o.addr()?,
                protocol,
                option: o.spec.name,
            });
            Ok(())
        };
        match o.spec.opt {
            Opt::Socket | Opt::UwsgiSocket => socket(self, Protocol::Uwsgi)?,
            Opt::HttpSocket | Opt::Http => socket(self, Protocol::Http)?,
            Opt::Http11Socket => socket(self, Protocol::Http11)?,
            Opt::Protocol => {
                // validated here, applied to `socket` sockets by the parser
                let v = o.required()?;
                Protocol::parse(v).ok_or_else(|| o.invalid(v, "expected uwsgi, http or http11"))?;
            }
            Opt::Listen => self.listen = o.ranged(1, u32::MAX as u64)? as u32,
            Opt::BufferSize => self.buffer_size = o.ranged(1, 65535)? as usize,
            Opt::SocketTimeout => self.socket_timeout = o.nonzero_or_off()?,
            Opt::PostBuffering => self.post_buffering = o.number()?,
            Opt::PostBufferingBufsize => self.post_buffering_bufsize = o.number()?,
            Opt::ForwardedAllowIps => {
                let v = o.required()?;
                self.forwarded_allow_ips =
                    crate::TrustedPeers::parse(v).map_err(|why| o.invalid(v, why))?;
            }
            Opt::ChmodSocket => {
                self.chmod_socket = Some(match o.value.map(str::trim) {
                    None | Some("") => 0o666,
                    Some(v) => {
                        if v.len() > 4 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                            return Err(o.invalid(v, "expected an octal mode such as 660"));
                        }
                        u32::from_str_radix(v, 8).expect("octal digits")
                    }
                })
            }
            Opt::Vacuum => self.vacuum = o.flag(),
            Opt::Master => self.master = o.flag(),
            Opt::Processes => self.processes = o.ranged(1, 65535)? as u32,
            Opt::Threads => self.threads = o.ranged(1, 65535)? as u32,
            Opt::LazyApps => self.lazy_apps = o.flag(),
            Opt::Lazy => self.lazy = o.flag(),
            Opt::Harakiri => self.harakiri = o.nonzero_or_off()?,
            Opt::MaxRequests => self.max_requests = o.nonzero_or_off()?,
            Opt::MaxRequestsDelta => self.max_requests_delta = o.number()?,
            Opt::ReloadOnRss => self.reload_on_rss = o.nonzero_or_off()?,
            Opt::LimitAs => self.limit_as = o.nonzero_or_off()?,
            Opt::EvilReloadOnRss => self.evil_reload_on_rss = o.nonzero_or_off()?,
            Opt::ReloadMercy => self.reload_mercy = o.number()?,
            Opt::WorkerReloadMercy => self.worker_reload_mercy = o.number()?,
            Opt::Pidfile => self.pidfile = Some(o.path()?),
            Opt::TouchReload => self.touch_reload.push(o.path()?),
            Opt::NoOrphans => self.no_orphans = o.flag(),
            Opt::HookMasterStart => self.signal_hooks.push(o.signal_hook()?),
            Opt::Uid => self.uid = Some(o.string()?),
            Opt::Gid => self.gid = Some(o.string()?),
            Opt::ProcnamePrefix => self.procname_prefix = Some(o.string()?),
            Opt::ProcnamePrefixSpaced => self.procname_prefix = Some(format!("{} ", o.string()?)),
            Opt::AutoProcname => self.auto_procname = o.flag(),
            Opt::NeedApp => self.need_app = o.flag(),
            Opt::Strict => self.strict = o.flag(),
            Opt::Module => self.module = Some(o.string()?),
            Opt::WsgiFile => self.wsgi_file = Some(o.path()?),
            Opt::Callable => self.callable = o.string()?,
            Opt::Chdir => self.chdir = Some(o.path()?),
            Opt::Chdir2 => self.chdir2 = Some(o.path()?),
            Opt::Pythonpath => self.pythonpath.push(o.path()?),
            Opt::Mount => {
                let v = o.required()?;
                match v.split_once('=') {
                    Some((p, a)) if !p.trim().is_empty() && !a.trim().is_empty() => {
                        self.mounts.push(Mount {
                            prefix: p.trim().to_string(),
                            app: a.trim().to_string(),
                        })
                    }
                    _ => return Err(o.invalid(v, "expected /PREFIX=APP")),
                }
            }
            Opt::ManageScriptName => self.manage_script_name = o.flag(),
            Opt::Env => {
                let v = o.required()?;
                match v.split_once('=') {
                    Some((k, val)) if !k.is_empty() => {
                        self.env.push((k.to_string(), val.to_string()))
                    }
                    _ => return Err(o.invalid(v, "expected KEY=VALUE")),
                }
            }
            Opt::Home => self.home = Some(o.path()?),
            Opt::PyAutoreload => self.py_autoreload = o.nonzero_or_off()?,
            Opt::Plugins => {
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
                    if !self.plugins.contains(&name) {
                        self.plugins.push(name);
                    }
                }
            }
            Opt::DisableLogging => self.disable_logging = o.flag(),
            Opt::DisableWriteException => self.disable_write_exception = o.flag(),
            Opt::AddHeader => self.add_headers.push(o.header()?),
            Opt::LogFormat => self.log_format = Some(o.string()?),
            Opt::Logto => self.logto = Some(o.string()?),
            Opt::MemoryReport => self.memory_report = o.flag(),
            Opt::Stats => self.stats = Some(o.addr()?),
            Opt::StatsHttp => self.stats_http = o.flag(),
            Opt::StatsMinified => self.stats_minified = o.flag(),
            Opt::StatsNoCores => self.stats_no_cores = o.flag(),
            Opt::StatsNoMetrics => self.stats_no_metrics = o.flag(),
            Opt::StatsPush => {
                // raw `pusher:args`; the pusher arguments are parsed by the stats crate
                self.stats_push.push(o.string()?)
            }
            Opt::StatsPusherDefaultFreq => {
                self.stats_pusher_default_freq = o.ranged(1, u64::MAX)?
            }
            Opt::Carbon => self.carbon.push(o.string()?),
            Opt::CarbonFreq => self.carbon_freq = o.ranged(1, u64::MAX)?,
            Opt::CarbonId => self.carbon_id = Some(o.string()?),
            Opt::CarbonRoot => self.carbon_root = Some(o.string()?),
            Opt::CarbonNoWorkers => self.carbon_no_workers = o.flag(),
            Opt::StatsdNoWorkers => self.statsd_no_workers = o.flag(),
            Opt::StatsdAllGauges => self.statsd_all_gauges = o.flag(),
            // accepted for compatibility; rwsgi always behaves this way
            Opt::EnableThreads
            | Opt::DieOnTerm
            | Opt::SingleInterpreter
            | Opt::ThunderLock
            | Opt::IgnoreWriteErrors
            | Opt::IgnoreSigpipe => {}
            // handled by the parser
            Opt::ConnectAndRead
            | Opt::Ini
            | Opt::Set
            | Opt::SetPlaceholder
            | Opt::Help
            | Opt::Version => {}
        }
        Ok(())
    }

    /// Force `protocol` onto sockets added with plain `socket`.
    pub(crate) fn force_protocol(&mut self, value: &str) {
        if let Some(p) = Protocol::parse(value) {
            for s in self.sockets.iter_mut().filter(|s| s.option == "socket") {
                s.protocol = p;
            }
        }
    }

    /// Post-parse checks: a socket exists and an app is configured (unless
    /// `need-app = false`). Numeric ranges are enforced while parsing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sockets.is_empty() {
            return Err(ConfigError::NoSocket);
        }
        if self.need_app
            && self.module.is_none()
            && self.wsgi_file.is_none()
            && self.mounts.is_empty()
        {
            return Err(ConfigError::NoApp);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        for (raw, norm, ok) in [
            ("python3", "python3", true),
            ("python", "python", true),
            ("python311", "python311", true),
            ("python3.11", "python3.11", true),
            (" stats_pusher_mongodb ", "stats_pusher_mongodb", true),
            ("/usr/lib/uwsgi/plugins/python3_plugin.so", "python3", true),
            ("stats_pusher_file_plugin.so", "stats_pusher_file", true),
            ("0:python3", "python3", true),
            ("carbon", "carbon", true),
            ("http", "http", false),
            ("pythonista", "pythonista", false),
            ("router_static", "router_static", false),
        ] {
            assert_eq!(normalize_plugin(raw), norm, "{raw}");
            assert_eq!(is_builtin_plugin(norm), ok, "{raw}");
        }
    }

    #[test]
    fn flags() {
        for (v, want) in [
            (None, true),
            (Some(""), true),
            (Some("true"), true),
            (Some("1"), true),
            (Some("YES"), true),
            (Some("on"), true),
            (Some("false"), false),
            (Some("0"), false),
            (Some("No"), false),
            (Some("OFF"), false),
            (Some(" off "), false),
        ] {
            assert_eq!(flag_value(v), want, "{v:?}");
        }
    }

    #[test]
    fn mount_kind() {
        let m = |a: &str| Mount {
            prefix: "/x".into(),
            app: a.into(),
        };
        assert!(m("app.py").is_file());
        assert!(m("/srv/app.wsgi").is_file());
        assert!(!m("pkg.app:application").is_file());
    }
}
