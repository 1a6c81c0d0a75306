//! The typed configuration and how each option sets it.

use std::path::PathBuf;

use crate::addr::Addr;
use crate::error::{ConfigError, Origin};
use crate::options::OptionSpec;

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
    /// The name uWSGI's stats give it (`http11-socket` is HTTP too).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Uwsgi => "uwsgi",
            Protocol::Http | Protocol::Http11 => "http",
        }
    }

    /// Whether clients speak HTTP/1.x on it.
    pub fn is_http(self) -> bool {
        self != Protocol::Uwsgi
    }

    pub(crate) fn parse(s: &str) -> Option<Protocol> {
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

/// A `static-map /prefix=target` (or `static-map2`) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMap {
    /// The URL prefix (matched as a plain string prefix of PATH_INFO, as uWSGI does).
    pub prefix: String,
    /// The directory (or single file) it maps to, as written.
    pub target: PathBuf,
    /// `static-map2`: the whole PATH_INFO is appended to `target`, not just what follows
    /// the prefix.
    pub whole_uri: bool,
}

/// `--file-serve-mode`: who sends a static file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileServeMode {
    /// rwsgi sends the file itself (sendfile).
    #[default]
    Raw,
    /// An `X-Accel-Redirect: PATH` header for nginx to send it.
    XAccelRedirect,
    /// An `X-Sendfile: PATH` header for Apache / lighttpd to send it.
    XSendfile,
}

impl FileServeMode {
    /// uWSGI's spellings.
    pub fn parse(s: &str) -> Option<FileServeMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-sendfile" | "xsendfile" | "apache" | "apache2" | "lighttpd" => {
                Some(FileServeMode::XSendfile)
            }
            "x-accel-redirect" | "xaccelredirect" | "nginx" => Some(FileServeMode::XAccelRedirect),
            "raw" | "default" => Some(FileServeMode::Raw),
            _ => None,
        }
    }
}

/// `--stats-vars`: what the stats show of a busy core's request vars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsVars {
    /// Every var, values of credentials and cookies replaced (rwsgi's default).
    #[default]
    Redacted,
    /// Every var as the request carried it (uWSGI's output: unsafe to expose).
    Full,
    /// No vars (empty lists).
    Off,
}

impl StatsVars {
    /// `full`, `redacted` or `off`.
    pub fn parse(s: &str) -> Option<StatsVars> {
        match s.trim().to_ascii_lowercase().as_str() {
            "redacted" => Some(StatsVars::Redacted),
            "full" => Some(StatsVars::Full),
            "off" => Some(StatsVars::Off),
            _ => None,
        }
    }
}

/// `--cheaper-algo`: how cheaper mode decides to spawn or stop workers (uWSGI's algorithms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheaperAlgo {
    /// Spawn when every worker has been busy for `cheaper-overload` cycles; stop one every
    /// `cheaper-overload` idle cycles while more than one worker is free.
    #[default]
    Spare,
    /// Keep `cheaper` idle workers: spawn before the workers are all busy, stop slowly
    /// (`cheaper-idle`).
    Spare2,
    /// Follow the listen queue: spawn while it is deeper than `cheaper-overload`, stop while
    /// it is shallower.
    Backlog,
    /// Follow the share of time workers spend in requests (the `cheaper-busyness-*` options).
    Busyness,
    /// Never decide: workers are added and removed by hand only.
    Manual,
}

impl CheaperAlgo {
    /// Every algorithm with its uWSGI name, in uWSGI's registration order.
    pub const ALL: [(&'static str, CheaperAlgo); 5] = [
        ("spare", CheaperAlgo::Spare),
        ("spare2", CheaperAlgo::Spare2),
        ("backlog", CheaperAlgo::Backlog),
        ("manual", CheaperAlgo::Manual),
        ("busyness", CheaperAlgo::Busyness),
    ];

    /// The algorithm uWSGI calls `name`.
    pub fn parse(name: &str) -> Option<CheaperAlgo> {
        let name = name.trim();
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, a)| a)
    }

    /// uWSGI's name of the algorithm.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|&&(_, a)| a == self)
            .map_or("spare", |&(n, _)| n)
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

/// Human-readable list of the plugins rwsgi has built in (each of [`BUILTIN_NAMED`] appears).
pub const BUILTIN_PLUGINS: &str = "python3 (also python, pythonX, pythonX.Y), http, corerouter, \
     cheaper_busyness, stats_pusher_file, stats_pusher_mongodb, stats_pusher_socket, \
     stats_pusher_statsd, stats_pusher_zabbix, carbon, escape_json";

/// uWSGI plugins whose function rwsgi has built in, so naming one in `plugins` loads nothing:
/// `http` (and `corerouter`, its base: `--http` is rwsgi's own HTTP server), the busyness
/// cheaper algorithm, the stats pushers, and escape_json (the third-party plugin real configs
/// load as `escape_json_plugin.so` for the `%(json_uri)`-style request log vars).
const BUILTIN_NAMED: &[&str] = &[
    "http",
    "corerouter",
    "cheaper_busyness",
    "stats_pusher_file",
    "stats_pusher_mongodb",
    "stats_pusher_socket",
    "stats_pusher_statsd",
    "stats_pusher_zabbix",
    "carbon",
    "escape_json",
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

/// The digits a numeric value starts with, read the way uWSGI's `atoi` reads them as far as
/// real configs go: a tail after a blank or a comment mark is ignored (`1000 ; recycle`,
/// `300 # MB`). `None` when there are no leading digits, or when letters are glued to them
/// (`4s`, `10MB`: uWSGI would silently read the bare number, which is not what they mean).
pub(crate) fn leading_number(value: &str) -> Option<&str> {
    let end = value
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, tail) = value.split_at(end);
    let tail_ok = tail.is_empty() || tail.starts_with([' ', '\t', ';', '#']);
    (!digits.is_empty() && tail_ok).then_some(digits)
}

/// Why a numeric option refused its value ([`Occurrence::number`]).
pub(crate) const NOT_A_NUMBER: &str = "expected a non-negative integer";

/// A flag word (`true`, `yes`, `on`, `false`, `no`, `off`, any case) written for a numeric
/// option, as real configs do (`post-buffering = true`, `cheaper = true`). uWSGI reads it with
/// `strtol`, as 0 (its 2.1 also warns "non-numeric value ... using 0"), and starts; rwsgi
/// does the same and warns, while any other value without a leading number stays an error.
pub(crate) fn is_flag_word(value: &str) -> bool {
    ["true", "yes", "on", "false", "no", "off"]
        .iter()
        .any(|w| value.trim().eq_ignore_ascii_case(w))
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
    pub(crate) fn invalid(&self, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            option: self.written.to_string(),
            value: value.to_string(),
            reason: reason.into(),
            origin: self.origin.clone(),
        }
    }

    pub(crate) fn required(&self) -> Result<&str, ConfigError> {
        match self.value.map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ConfigError::MissingValue {
                option: self.written.to_string(),
                origin: self.origin.clone(),
            }),
        }
    }

    pub(crate) fn string(&self) -> Result<String, ConfigError> {
        self.required().map(str::to_string)
    }

    /// `Name: value` of `add-header`. The server owns the framing headers, so only
    /// `Connection: close` of those may be added (it makes every response close), and
    /// `Connection: keep-alive` (what the server already does: it keeps each connection the
    /// protocol lets it keep and says so itself; the header is not added twice).
    pub(crate) fn header(&self) -> Result<(String, String), ConfigError> {
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
            && !(name.eq_ignore_ascii_case("connection")
                && (value.eq_ignore_ascii_case("close")
                    || value.eq_ignore_ascii_case("keep-alive")))
        {
            return Err(self.invalid(v, "the server sets this header itself"));
        }
        Ok((name.to_string(), value.to_string()))
    }

    /// `unix_signal:N ACTION`, the one kind of master hook rwsgi runs.
    pub(crate) fn signal_hook(&self) -> Result<SignalHook, ConfigError> {
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

    /// `--forwarded-allow-ips LIST`.
    pub(crate) fn trusted_peers(&self) -> Result<crate::TrustedPeers, ConfigError> {
        let v = self.required()?;
        crate::TrustedPeers::parse(v).map_err(|why| self.invalid(v, why))
    }

    /// `--protocol`: validated when read, applied by the parser once every socket is known.
    pub(crate) fn protocol(&self) -> Result<Protocol, ConfigError> {
        let v = self.required()?;
        Protocol::parse(v).ok_or_else(|| self.invalid(v, "expected uwsgi, http or http11"))
    }

    /// `/PREFIX=TARGET` of `static-map` / `static-map2`.
    pub(crate) fn static_map(&self, whole_uri: bool) -> Result<StaticMap, ConfigError> {
        let v = self.required()?;
        match v.split_once('=') {
            Some((p, t)) if !p.trim().is_empty() && !t.trim().is_empty() => Ok(StaticMap {
                prefix: p.trim().to_string(),
                target: PathBuf::from(t.trim()),
                whole_uri,
            }),
            _ => Err(self.invalid(v, "expected /PREFIX=DIR")),
        }
    }

    /// `KEY=SECS` of the `static-expires*` options (the key is a MIME type or a regex).
    pub(crate) fn key_secs(&self) -> Result<(String, u64), ConfigError> {
        let v = self.required()?;
        match v.rsplit_once('=') {
            Some((k, n)) if !k.trim().is_empty() => match n.trim().parse() {
                Ok(secs) => Ok((k.trim().to_string(), secs)),
                Err(_) => Err(self.invalid(v, "expected KEY=SECONDS")),
            },
            _ => Err(self.invalid(v, "expected KEY=SECONDS")),
        }
    }

    /// `REGEX SECS` of the regex `static-expires*` options, split at the first space as uWSGI
    /// splits it (`static-expires = /* 31557600`, SearXNG's); `REGEX=SECS` is read too when
    /// there is no space.
    pub(crate) fn regex_secs(&self) -> Result<(String, u64), ConfigError> {
        let v = self.required()?;
        let Some((re, n)) = v.split_once(' ') else {
            return self.key_secs();
        };
        match n.trim().parse() {
            Ok(secs) if !re.is_empty() => Ok((re.to_string(), secs)),
            _ => Err(self.invalid(v, "expected REGEX SECONDS")),
        }
    }

    /// A signal a process can catch (1..=31, not SIGKILL, SIGSTOP or SIGCHLD), by number.
    pub(crate) fn catchable_signal(&self) -> Result<i32, ConfigError> {
        let v = self.required()?;
        match self.number()? {
            n @ 1..=31 if ![9, 17, 19].contains(&n) => Ok(n as i32),
            _ => Err(self.invalid(v, "expected a signal number a process can catch")),
        }
    }

    /// A number that must be 0 (an off switch for a subsystem rwsgi does not have).
    pub(crate) fn zero_only(&self, why: &str) -> Result<(), ConfigError> {
        match self.number()? {
            0 => Ok(()),
            _ => Err(self.invalid(self.required()?, why)),
        }
    }

    /// `--cheaper-algo`: one of uWSGI's algorithm names (uWSGI falls back to spare on an
    /// unknown one; a typo there silently changes how the server scales, so it is refused).
    pub(crate) fn cheaper_algo(&self) -> Result<CheaperAlgo, ConfigError> {
        let v = self.required()?;
        CheaperAlgo::parse(v)
            .ok_or_else(|| self.invalid(v, "expected spare, spare2, backlog, busyness or manual"))
    }

    /// `--file-serve-mode`.
    pub(crate) fn file_serve_mode(&self) -> Result<FileServeMode, ConfigError> {
        let v = self.required()?;
        FileServeMode::parse(v)
            .ok_or_else(|| self.invalid(v, "expected x-sendfile, x-accel-redirect or raw"))
    }

    /// `--stats-vars`.
    pub(crate) fn stats_vars(&self) -> Result<StatsVars, ConfigError> {
        let v = self.required()?;
        StatsVars::parse(v).ok_or_else(|| self.invalid(v, "expected redacted, full or off"))
    }

    pub(crate) fn path(&self) -> Result<PathBuf, ConfigError> {
        self.required().map(PathBuf::from)
    }

    pub(crate) fn number(&self) -> Result<u64, ConfigError> {
        let v = self.required()?;
        let Some(digits) = leading_number(v) else {
            return Err(self.invalid(v, NOT_A_NUMBER));
        };
        digits
            .parse()
            .map_err(|_| self.invalid(v, "number is too large"))
    }

    pub(crate) fn ranged(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let n = self.number()?;
        if n < min || n > max {
            let v = self.required()?;
            let why = if max == u64::MAX {
                format!("must be at least {min}")
            } else {
                format!("must be between {min} and {max}")
            };
            return Err(self.invalid(v, why));
        }
        Ok(n)
    }

    pub(crate) fn addr(&self) -> Result<Addr, ConfigError> {
        let v = self.required()?;
        Addr::parse(v).map_err(|e| self.invalid(v, e.to_string()))
    }

    /// A positive number, or `None` for 0 (uWSGI's "off").
    pub(crate) fn nonzero_or_off(&self) -> Result<Option<u64>, ConfigError> {
        Ok(Some(self.number()?).filter(|&n| n > 0))
    }

    pub(crate) fn flag(&self) -> bool {
        flag_value(self.value)
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
            ("http", "http", true),
            ("/usr/lib/uwsgi/plugins/http_plugin.so", "http", true),
            ("corerouter", "corerouter", true),
            ("cheaper_busyness", "cheaper_busyness", true),
            // PhysioNet's and City of Helsinki's configs
            (
                "/code/docker/uwsgi-json-logging-plugin/escape_json_plugin.so",
                "escape_json",
                true,
            ),
            ("escape_json", "escape_json", true),
            ("gevent", "gevent", false),
            ("pythonista", "pythonista", false),
            ("router_static", "router_static", false),
        ] {
            assert_eq!(normalize_plugin(raw), norm, "{raw}");
            assert_eq!(is_builtin_plugin(norm), ok, "{raw}");
        }
        for name in BUILTIN_NAMED {
            assert!(
                BUILTIN_PLUGINS.contains(name),
                "{name} missing from BUILTIN_PLUGINS"
            );
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

/// Every option occurrence in order, as written: (name, value after placeholders; `None` for
/// a bare command-line flag), unknown ones (placeholders) included. uWSGI's "exported
/// options", which its Python module shows as `uwsgi.opt`.
///
/// How options were spelled is not part of what a configuration means: two configurations
/// that differ only here compare equal (an ini file and the same command line are the same
/// configuration).
#[derive(Debug, Clone, Default)]
pub struct ExportedOptions(pub Vec<(String, Option<String>)>);

impl PartialEq for ExportedOptions {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for ExportedOptions {}
