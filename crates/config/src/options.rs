//! The single declarative option table shared by the command-line parser,
//! the ini loader, the `UWSGI_*` environment reader and `--help`.

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Boolean switch. No value on the command line (`--master`, or
    /// `--master=false`); in ini files `true|1|yes|on` / `false|0|no|off`,
    /// a bare key means true, and like uWSGI any other value also means true.
    Flag,
    /// Single value; the last occurrence wins.
    Value,
    /// Value that may be omitted (`--chmod-socket` alone means `666`).
    OptionalValue,
    /// Repeatable value; occurrences accumulate in order.
    Multi,
}

/// Identifies an option independently of the spelling used.
#[allow(missing_docs)] // names mirror the uWSGI option names in OPTIONS
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opt {
    Socket,
    UwsgiSocket,
    HttpSocket,
    Http11Socket,
    Http,
    Protocol,
    Listen,
    BufferSize,
    SocketTimeout,
    PostBuffering,
    PostBufferingBufsize,
    ForwardedAllowIps,
    ChmodSocket,
    Vacuum,
    Master,
    Processes,
    Threads,
    EnableThreads,
    LazyApps,
    Lazy,
    Harakiri,
    MaxRequests,
    MaxRequestsDelta,
    ReloadOnRss,
    EvilReloadOnRss,
    LimitAs,
    ReloadMercy,
    WorkerReloadMercy,
    DieOnTerm,
    Pidfile,
    TouchReload,
    NoOrphans,
    HookMasterStart,
    Uid,
    Gid,
    ProcnamePrefix,
    ProcnamePrefixSpaced,
    AutoProcname,
    NeedApp,
    Strict,
    SingleInterpreter,
    ThunderLock,
    Module,
    WsgiFile,
    Callable,
    Chdir,
    Chdir2,
    Pythonpath,
    Mount,
    ManageScriptName,
    Env,
    Home,
    PyAutoreload,
    Plugins,
    DisableLogging,
    DisableWriteException,
    AddHeader,
    LogFormat,
    IgnoreWriteErrors,
    IgnoreSigpipe,
    Logto,
    MemoryReport,
    Stats,
    StatsHttp,
    StatsMinified,
    StatsNoCores,
    StatsNoMetrics,
    StatsPush,
    StatsPusherDefaultFreq,
    Carbon,
    CarbonFreq,
    CarbonId,
    CarbonRoot,
    CarbonNoWorkers,
    StatsdNoWorkers,
    StatsdAllGauges,
    ConnectAndRead,
    Ini,
    Set,
    SetPlaceholder,
    Help,
    Version,
}

/// One row of the option table.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Which option this is.
    pub opt: Opt,
    /// Canonical (uWSGI) name, dash-separated.
    pub name: &'static str,
    /// Alternative long names.
    pub aliases: &'static [&'static str],
    /// getopt-style short letter (`-s`, `-M`, ...), as in uWSGI.
    pub short: Option<char>,
    /// Value shape.
    pub kind: OptKind,
    /// Accepted for compatibility only: rwsgi always behaves this way.
    pub noop: bool,
    /// Name of the value in `--help` output.
    pub value_name: &'static str,
    /// One-line description for `--help`.
    pub help: &'static str,
}

const fn o(
    opt: Opt,
    name: &'static str,
    aliases: &'static [&'static str],
    short: Option<char>,
    kind: OptKind,
    value_name: &'static str,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        opt,
        name,
        aliases,
        short,
        kind,
        noop: false,
        value_name,
        help,
    }
}

const fn noop(opt: Opt, name: &'static str, short: Option<char>, help: &'static str) -> OptionSpec {
    OptionSpec {
        opt,
        name,
        aliases: &[],
        short,
        kind: OptKind::Flag,
        noop: true,
        value_name: "",
        help,
    }
}

use OptKind::{Flag, Multi, OptionalValue, Value};

/// Every option rwsgi understands, in `--help` order.
#[rustfmt::skip]
pub static OPTIONS: &[OptionSpec] = &[
    // --- sockets
    o(Opt::Socket, "socket", &[], Some('s'), Multi, "ADDR",
      "bind to the specified UNIX/TCP socket using the default protocol (uwsgi)"),
    o(Opt::UwsgiSocket, "uwsgi-socket", &[], None, Multi, "ADDR",
      "bind to the specified UNIX/TCP socket using the uwsgi protocol"),
    o(Opt::HttpSocket, "http-socket", &[], None, Multi, "ADDR",
      "bind to the specified UNIX/TCP socket using HTTP"),
    o(Opt::Http11Socket, "http11-socket", &[], None, Multi, "ADDR",
      "bind to the specified UNIX/TCP socket using HTTP/1.1 (keep-alive)"),
    o(Opt::Http, "http", &[], None, Multi, "ADDR",
      "serve HTTP on the specified address (rwsgi has no separate router: same as --http-socket)"),
    o(Opt::Protocol, "protocol", &["socket-protocol"], None, Value, "PROTO",
      "force the protocol (uwsgi, http, http11) of sockets added with --socket"),
    o(Opt::Listen, "listen", &[], Some('l'), Value, "N",
      "set the socket listen queue size (default 100)"),
    o(Opt::BufferSize, "buffer-size", &[], Some('b'), Value, "BYTES",
      "set the request header buffer size (default 4096, max 65535)"),
    o(Opt::SocketTimeout, "socket-timeout", &[], Some('z'), Value, "SECS",
      "give up on a client that sends or takes nothing for SECS while a request is read or \
       its response written (default: 10 for a request head, 30 for the body and the response)"),
    o(Opt::PostBuffering, "post-buffering", &[], None, Value, "BYTES",
      "read each request body (with a Content-Length) before the app is called: under BYTES \
       into memory, a larger one into an unlinked temporary file (0 = off, the default)"),
    o(Opt::PostBufferingBufsize, "post-buffering-bufsize", &[], None, Value, "BYTES",
      "the read size while a body is buffered (default 8192, at least --post-buffering)"),
    o(Opt::ForwardedAllowIps, "forwarded-allow-ips", &[], None, Value, "LIST",
      "peers (comma list of IPs/CIDRs, * = all) whose X-Forwarded-Proto, X-Forwarded-Ssl and \
       X-Scheme set wsgi.url_scheme (default 127.0.0.1,::1; UNIX-socket peers always)"),
    o(Opt::ChmodSocket, "chmod-socket", &["chmod"], Some('C'), OptionalValue, "MODE",
      "chmod UNIX sockets to the given octal mode (default 666)"),
    o(Opt::Vacuum, "vacuum", &[], None, Flag, "",
      "remove UNIX sockets and the pidfile on exit"),
    // --- processes
    o(Opt::Master, "master", &[], Some('M'), Flag, "", "enable the master process"),
    o(Opt::Processes, "processes", &["workers"], Some('p'), Value, "N",
      "spawn the specified number of worker processes (default 1)"),
    o(Opt::Threads, "threads", &[], None, Value, "N",
      "run each worker with the specified number of threads (default 1)"),
    noop(Opt::EnableThreads, "enable-threads", Some('T'),
      "accepted for compatibility: Python threads are always enabled"),
    o(Opt::LazyApps, "lazy-apps", &[], None, Flag, "",
      "load the application in each worker instead of in the master"),
    o(Opt::Lazy, "lazy", &[], None, Flag, "",
      "set lazy mode (load apps in workers instead of master)"),
    o(Opt::Harakiri, "harakiri", &[], Some('t'), Value, "SECS",
      "kill workers whose request takes longer than SECS (0 = off)"),
    o(Opt::MaxRequests, "max-requests", &[], Some('R'), Value, "N",
      "recycle a worker after N requests (0 = off)"),
    o(Opt::MaxRequestsDelta, "max-requests-delta", &[], None, Value, "N",
      "add worker id x N to --max-requests, so workers are not all recycled at once"),
    o(Opt::LimitAs, "limit-as", &[], None, Value, "MB",
      "limit the address space (vsz) of the master and every worker to MB megabytes"),
    o(Opt::EvilReloadOnRss, "evil-reload-on-rss", &[], None, Value, "MB",
      "the master kills (SIGKILL) and respawns a worker whose resident memory exceeds MB \
       megabytes, checked every second, even in the middle of a request (0 = off)"),
    o(Opt::ReloadOnRss, "reload-on-rss", &[], None, Value, "MB",
      "recycle a worker whose resident memory exceeds MB megabytes after a request (0 = off)"),
    o(Opt::ReloadMercy, "reload-mercy", &[], None, Value, "SECS",
      "maximum time to wait for processes to die on reload/shutdown (default 60)"),
    o(Opt::WorkerReloadMercy, "worker-reload-mercy", &[], None, Value, "SECS",
      "maximum time a worker can take to reload/shut down (default 60)"),
    noop(Opt::DieOnTerm, "die-on-term", None,
      "accepted for compatibility: rwsgi always shuts down on SIGTERM"),
    o(Opt::Pidfile, "pidfile", &[], None, Value, "PATH", "write the master pid to PATH"),
    o(Opt::HookMasterStart, "hook-master-start", &[], None, Multi, "HOOK",
      "'unix_signal:N gracefully_kill_them_all' (graceful shutdown) or 'unix_signal:N \
       grace_them_all' (graceful reload): what the master does on signal N"),
    o(Opt::NoOrphans, "no-orphans", &[], None, Flag, "",
      "workers (and the pusher process) stop when the master dies instead of living on"),
    o(Opt::TouchReload, "touch-reload", &[], None, Multi, "PATH",
      "gracefully reload (as SIGHUP) when PATH is modified or touched"),
    o(Opt::Uid, "uid", &[], None, Value, "USER", "setuid to the specified user/uid"),
    o(Opt::Gid, "gid", &[], None, Value, "GROUP", "setgid to the specified group/gid"),
    o(Opt::ProcnamePrefix, "procname-prefix", &[], None, Value, "PREFIX",
      "prefix process names with PREFIX"),
    o(Opt::ProcnamePrefixSpaced, "procname-prefix-spaced", &[], None, Value, "PREFIX",
      "prefix process names with PREFIX and a space"),
    o(Opt::AutoProcname, "auto-procname", &[], None, Flag, "",
      "give processes meaningful names"),
    o(Opt::NeedApp, "need-app", &[], None, Flag, "",
      "exit if no app can be loaded (default true; need-app = false to disable)"),
    o(Opt::Strict, "strict", &[], None, Flag, "",
      "strict mode: unknown keys in config files are errors even when used as %(placeholders)"),
    noop(Opt::SingleInterpreter, "single-interpreter", Some('i'),
      "accepted for compatibility: rwsgi always uses a single interpreter per worker"),
    noop(Opt::ThunderLock, "thunder-lock", None,
      "accepted for compatibility: rwsgi serializes accept() itself"),
    // --- python
    o(Opt::Module, "module", &["wsgi"], Some('w'), Value, "MODULE[:CALLABLE]",
      "load a WSGI module"),
    o(Opt::WsgiFile, "wsgi-file", &["file"], None, Value, "PATH", "load a .wsgi/.py file"),
    o(Opt::Callable, "callable", &[], None, Value, "NAME",
      "name of the WSGI callable (default application)"),
    o(Opt::Chdir, "chdir", &[], None, Value, "DIR", "chdir to DIR before loading apps"),
    o(Opt::Chdir2, "chdir2", &[], None, Value, "DIR", "chdir to DIR after loading apps"),
    o(Opt::Pythonpath, "pythonpath", &["python-path", "pp"], None, Multi, "DIR",
      "add DIR to sys.path"),
    o(Opt::Mount, "mount", &[], None, Multi, "/PREFIX=APP",
      "mount an app (module or file) under a URL prefix"),
    o(Opt::ManageScriptName, "manage-script-name", &[], None, Flag, "",
      "move the mount prefix from PATH_INFO to SCRIPT_NAME"),
    o(Opt::Env, "env", &[], None, Multi, "KEY=VALUE", "set an environment variable"),
    o(Opt::Home, "home", &["virtualenv", "venv", "pyhome"], Some('H'), Value, "DIR",
      "use the Python virtualenv / home DIR"),
    o(Opt::PyAutoreload, "py-autoreload", &["python-autoreload"], None, Value, "SECS",
      "reload when Python modules change, checking every SECS (0 = off)"),
    o(Opt::Plugins, "plugins", &["plugin"], None, Multi, "LIST",
      "load plugins (comma separated); rwsgi has python and the stats pushers built in"),
    // --- logging
    o(Opt::DisableLogging, "disable-logging", &[], Some('L'), Flag, "",
      "disable request logging"),
    o(Opt::AddHeader, "add-header", &[], None, Multi, "HEADER",
      "add 'Name: value' to every response (repeatable; 'Connection: close' closes each \
       connection after its response)"),
    o(Opt::DisableWriteException, "disable-write-exception", &[], None, Flag, "",
      "a failed write to a client that went away ends the response quietly instead of \
       raising OSError (counted as a write error either way)"),
    noop(Opt::IgnoreWriteErrors, "ignore-write-errors", None,
      "accepted for compatibility: rwsgi reports a failed write only as the request's \
       OSError (see --disable-write-exception)"),
    noop(Opt::IgnoreSigpipe, "ignore-sigpipe", None,
      "accepted for compatibility: rwsgi's workers ignore SIGPIPE, so a client that went \
       away is an error return, never a reported signal"),
    o(Opt::LogFormat, "log-format", &["logformat"], None, Value, "FORMAT",
      "request log lines in FORMAT: text with uWSGI's %(uri), %(method), %(status), %(msecs), \
       %(addr), %(ltime), ... and %(var.NAME) for any request var"),
    o(Opt::Logto, "logto", &[], None, Value, "PATH", "log to PATH instead of stderr"),
    o(Opt::MemoryReport, "memory-report", &[], Some('m'), Flag, "",
      "report memory usage in request logs"),
    // --- stats
    o(Opt::Stats, "stats", &["stats-server"], None, Value, "ADDR",
      "enable the stats server on ADDR"),
    o(Opt::StatsHttp, "stats-http", &[], None, Flag, "", "prefix stats output with HTTP headers"),
    o(Opt::StatsMinified, "stats-minified", &["stats-min"], None, Flag, "",
      "minify the stats JSON"),
    o(Opt::StatsNoCores, "stats-no-cores", &[], None, Flag, "",
      "omit per-core information from stats"),
    o(Opt::StatsNoMetrics, "stats-no-metrics", &[], None, Flag, "",
      "omit metrics from stats"),
    o(Opt::StatsPush, "stats-push", &[], None, Multi, "PUSHER:ARGS",
      "push stats to the specified pusher"),
    o(Opt::StatsPusherDefaultFreq, "stats-pusher-default-freq", &[], None, Value, "SECS",
      "default stats push frequency (default 3)"),
    o(Opt::Carbon, "carbon", &[], None, Multi, "ADDR", "push stats to a carbon server"),
    o(Opt::CarbonFreq, "carbon-freq", &[], None, Value, "SECS",
      "carbon push frequency (default 60)"),
    o(Opt::CarbonId, "carbon-id", &[], None, Value, "ID", "carbon metric id"),
    o(Opt::CarbonRoot, "carbon-root", &[], None, Value, "ROOT",
      "carbon metric root (default uwsgi)"),
    o(Opt::CarbonNoWorkers, "carbon-no-workers", &[], None, Flag, "",
      "do not push per-worker metrics to carbon"),
    o(Opt::StatsdNoWorkers, "statsd-no-workers", &[], None, Flag, "",
      "do not push per-worker metrics to statsd"),
    o(Opt::StatsdAllGauges, "statsd-all-gauges", &[], None, Flag, "",
      "push all statsd metrics as gauges"),
    o(Opt::ConnectAndRead, "connect-and-read", &[], None, Value, "ADDR",
      "connect to ADDR, print what it sends and exit"),
    // --- configuration
    o(Opt::Ini, "ini", &[], None, Multi, "FILE[:SECTION]",
      "load options from an ini file (section [uwsgi] by default)"),
    o(Opt::Set, "set", &[], Some('S'), Multi, "NAME=VALUE",
      "set an option, or a placeholder if NAME is not an option"),
    o(Opt::SetPlaceholder, "set-placeholder", &["set-ph"], None, Multi, "NAME=VALUE",
      "set a %(placeholder)"),
    o(Opt::Help, "help", &["usage"], Some('h'), Flag, "", "show this help"),
    o(Opt::Version, "version", &[], None, Flag, "", "print the version"),
];

/// Normalize an option name: `_` and `-` are interchangeable.
pub fn normalize(name: &str) -> String {
    name.replace('_', "-")
}

/// Find an option by long name or alias (`_` and `-` interchangeable).
pub fn lookup(name: &str) -> Option<&'static OptionSpec> {
    let n = normalize(name);
    OPTIONS
        .iter()
        .find(|s| s.name == n || s.aliases.contains(&n.as_str()))
}

/// Find an option by its short letter.
pub fn lookup_short(c: char) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|s| s.short == Some(c))
}

/// Canonical names of options accepted only for compatibility (no effect).
pub fn noop_options() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().filter(|s| s.noop).map(|s| s.name)
}

/// `--help` text generated from [`OPTIONS`].
pub fn help_text() -> String {
    let mut rows = Vec::with_capacity(OPTIONS.len());
    for s in OPTIONS {
        let mut left = String::from("  ");
        match s.short {
            Some(c) => left.push_str(&format!("-{c}, ")),
            None => left.push_str("    "),
        }
        left.push_str("--");
        left.push_str(s.name);
        match s.kind {
            Flag => {}
            OptionalValue => left.push_str(&format!("[={}]", s.value_name)),
            Value | Multi => left.push_str(&format!(" {}", s.value_name)),
        }
        let mut right = s.help.to_string();
        if s.kind == Multi {
            right.push_str(" [repeatable]");
        }
        if !s.aliases.is_empty() {
            let a: Vec<String> = s.aliases.iter().map(|a| format!("--{a}")).collect();
            right.push_str(&format!(" (alias: {})", a.join(", ")));
        }
        rows.push((left, right));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut out = String::from(
        "Usage: rwsgi [OPTIONS] [CONFIG.ini[:SECTION]] [APP.py]\n\n\
         A pre-fork WSGI server compatible with uWSGI command lines and ini files.\n\
         Option names accept '-' and '_' interchangeably; every option can also be\n\
         set in an ini file ([uwsgi] section) or as a UWSGI_<NAME> environment variable.\n\n\
         Options:\n",
    );
    for (l, r) in rows {
        out.push_str(&format!("{l:width$}{r}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_names_and_shorts_are_unique() {
        let mut names = HashSet::new();
        let mut shorts = HashSet::new();
        let mut opts = HashSet::new();
        for s in OPTIONS {
            assert!(opts.insert(s.opt), "duplicate {:?}", s.opt);
            for n in std::iter::once(&s.name).chain(s.aliases) {
                assert!(names.insert(*n), "duplicate name {n}");
                assert!(!n.contains('_'), "{n} must be dash-separated");
            }
            if let Some(c) = s.short {
                assert!(shorts.insert(c), "duplicate short -{c}");
            }
            if s.noop {
                assert_eq!(s.kind, Flag);
            }
        }
    }

    #[test]
    fn lookup_accepts_aliases_and_underscores() {
        assert_eq!(lookup("workers").unwrap().opt, Opt::Processes);
        assert_eq!(lookup("buffer_size").unwrap().opt, Opt::BufferSize);
        assert_eq!(lookup("python_path").unwrap().opt, Opt::Pythonpath);
        assert_eq!(lookup("stats_min").unwrap().opt, Opt::StatsMinified);
        assert!(lookup("xyz").is_none());
        assert_eq!(lookup_short('M').unwrap().opt, Opt::Master);
        assert_eq!(lookup_short('w').unwrap().opt, Opt::Module);
    }

    #[test]
    fn help_mentions_every_option() {
        let h = help_text();
        for s in OPTIONS {
            assert!(
                h.contains(&format!("--{} ", s.name))
                    || h.contains(&format!("--{}[", s.name))
                    || h.contains(&format!("--{}\n", s.name))
                    || h.contains(&format!("--{}  ", s.name)),
                "{}",
                s.name
            );
        }
        assert!(h.contains("-s, --socket ADDR"));
        assert!(h.contains("--chmod-socket[=MODE]"));
        let noops: Vec<_> = noop_options().collect();
        assert_eq!(
            noops,
            [
                "enable-threads",
                "die-on-term",
                "single-interpreter",
                "thunder-lock",
                "ignore-write-errors",
                "ignore-sigpipe"
            ]
        );
    }
}
