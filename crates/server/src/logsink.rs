//! Where request log lines go with `--req-logger` / `--logger-req`, and the
//! `--log-req-encoder` chain they pass through first (uWSGI's loggers and log encoders).
//!
//! Parsing and encoding are pure; [`LogOutputs::open`] and [`LogOutputs::emit`] do the I/O.
//! The outputs are opened in the master before any fork: files in append mode and datagram
//! sockets, so every worker's line is one `write(2)` / `send(2)` that never interleaves.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;

use rwsgi_os::fdio::write_stderr;
use rwsgi_os::time::{local_time, unix_now};

/// A logger or encoder spec that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum LogSpecError {
    /// A logger rwsgi has not got.
    #[error("unknown logger '{0}': rwsgi has file:PATH, stdio, syslog[:IDENT[,FACILITY]] and rsyslog:ADDR[,IDENT[,PRI]]")]
    UnknownLogger(String),
    /// An encoder rwsgi has not got.
    #[error("unknown log encoder '{0}': rwsgi has format, json, prefix, suffix and nl (gzip and compress are not built in)")]
    UnknownEncoder(String),
    /// A `--log-route` / `--log-req-route` that is not `NAME REGEXP`.
    #[error("route '{0}': expected NAME REGEXP")]
    BadRoute(String),
    /// A route's regexp does not compile (Rust's regex syntax: no look-around).
    #[error("route '{spec}': {why}")]
    RouteRegex {
        /// The route as written.
        spec: String,
        /// The regex crate's explanation.
        why: String,
    },
    /// An encoder bound (`ENCODER:NAME`) to a logger nobody named.
    #[error("log encoder bound to '{0}': no logger of that name")]
    UnboundEncoder(String),
    /// A route names a logger nobody defined.
    #[error("no logger named '{0}' (name one with 'NAME PLUGIN:ARGS')")]
    UnknownRouteLogger(String),
    /// A logger spec that is missing its argument or has a bad one.
    #[error("logger '{spec}': {why}")]
    BadLogger {
        /// The spec as written.
        spec: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// One logger, parsed from uWSGI's `[NAME ]PLUGIN[:ARGS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoggerSpec {
    /// `file:PATH`: appended to.
    File(PathBuf),
    /// `stdio`: the process's stderr (where `--logto` points).
    Stdio,
    /// `syslog[:IDENT[,FACILITY]]` (the local `/dev/log`), or `rsyslog:ADDR[,IDENT[,PRI]]`
    /// (a UDP `HOST:PORT` or a UNIX datagram path): RFC 3164 datagrams.
    Syslog {
        /// `None`: `/dev/log`.
        addr: Option<String>,
        /// The tag before the message.
        ident: String,
        /// Facility x 8 + severity.
        priority: u32,
    },
}

/// Syslog facility names and numbers (as syslog(3) knows them).
const FACILITIES: &[(&str, u32)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];
/// LOG_INFO, the severity uWSGI's syslog logger uses.
const SEVERITY_INFO: u32 = 6;
/// daemon.notice: uWSGI's rsyslog default.
const RSYSLOG_PRIORITY: u32 = 29;

/// A logger's name in `NAME PLUGIN[:ARGS]`: what comes before the first space when it is all
/// letters and digits (uWSGI's rule); routes and bound encoders refer to it.
pub(crate) fn logger_name(spec: &str) -> Option<&str> {
    let (name, _) = spec.trim().split_once(' ')?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(name)
}

impl LoggerSpec {
    /// Parses `[NAME ]PLUGIN[:ARGS]` (the name is [`logger_name`]'s business).
    pub(crate) fn parse(spec: &str, hostname: &str) -> Result<LoggerSpec, LogSpecError> {
        let spec = spec.trim();
        let body = spec.split_once(' ').map_or(spec, |(_, b)| b.trim());
        let (plugin, args) = body.split_once(':').unwrap_or((body, ""));
        let bad = |why| LogSpecError::BadLogger {
            spec: spec.to_string(),
            why,
        };
        match plugin {
            "file" if !args.is_empty() => Ok(LoggerSpec::File(PathBuf::from(args))),
            "file" => Err(bad("expected file:PATH")),
            "stdio" => Ok(LoggerSpec::Stdio),
            "syslog" => {
                let (ident, facility) = args.split_once(',').unwrap_or((args, ""));
                let facility = match facility {
                    "" => 3,
                    name => FACILITIES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|&(_, f)| f)
                        .ok_or_else(|| bad("unknown syslog facility"))?,
                };
                Ok(LoggerSpec::Syslog {
                    addr: None,
                    ident: if ident.is_empty() { "uwsgi" } else { ident }.to_string(),
                    priority: facility * 8 + SEVERITY_INFO,
                })
            }
            "rsyslog" => {
                let mut parts = args.splitn(3, ',');
                let addr = parts.next().unwrap_or("");
                if addr.is_empty() {
                    return Err(bad("expected rsyslog:ADDR[,IDENT[,PRI]]"));
                }
                let ident = match parts.next() {
                    Some(i) if !i.is_empty() => i.to_string(),
                    _ => format!("{hostname} uwsgi"),
                };
                let priority = match parts.next() {
                    Some(p) => p
                        .parse()
                        .map_err(|_| bad("the priority must be a number"))?,
                    None => RSYSLOG_PRIORITY,
                };
                Ok(LoggerSpec::Syslog {
                    addr: Some(addr.to_string()),
                    ident,
                    priority,
                })
            }
            other => Err(LogSpecError::UnknownLogger(other.to_string())),
        }
    }
}

/// One step of the encoder chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoder {
    /// `format TEXT` / `json TEXT`: the text with its `${...}` filled in (JSON-escaped for
    /// `json`).
    Template {
        pieces: Vec<TemplatePiece>,
        json: bool,
    },
    /// `prefix TEXT`.
    Prefix(String),
    /// `suffix TEXT`.
    Suffix(String),
    /// `nl`: a newline after the line.
    Newline,
}

/// A piece of a `format` / `json` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplatePiece {
    Text(String),
    /// `${msg}`: the line without its newline.
    Msg,
    /// `${msgnl}`: the line as it is.
    MsgNl,
    /// `${unix}`: seconds since the epoch.
    Unix,
    /// `${micros}` / `${millis}`: the time in those units.
    Micros,
    Millis,
    /// `${strftime:FMT}`: the local time.
    Strftime(CString),
    /// Any other `${name}`: uWSGI writes nothing for it.
    Unknown,
}

/// An encoder of a chain and the named logger it is bound to (`ENCODER:NAME ARGS`), if any:
/// a bound encoder encodes only that logger's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundEncoder {
    pub encoder: Encoder,
    pub use_for: Option<String>,
}

impl BoundEncoder {
    /// Parses `NAME[:LOGGER][ ARGS]` as uWSGI's `--log-encoder` reads it.
    pub(crate) fn parse(spec: &str) -> Result<BoundEncoder, LogSpecError> {
        let (head, args) = spec.split_once(' ').unwrap_or((spec, ""));
        let (name, use_for) = match head.trim().split_once(':') {
            Some((n, l)) => (n, Some(l.to_string())),
            None => (head.trim(), None),
        };
        Ok(BoundEncoder {
            encoder: Encoder::parse_named(name, args)?,
            use_for,
        })
    }
}

impl Encoder {
    /// Parses `NAME[ ARGS]` as uWSGI's `--log-encoder` reads it (not bound to a logger).
    #[cfg(test)]
    pub(crate) fn parse(spec: &str) -> Result<Encoder, LogSpecError> {
        let (name, args) = spec.split_once(' ').unwrap_or((spec, ""));
        Encoder::parse_named(name.trim(), args)
    }

    fn parse_named(name: &str, args: &str) -> Result<Encoder, LogSpecError> {
        match name {
            "format" => Ok(Encoder::Template {
                pieces: parse_template(args),
                json: false,
            }),
            "json" => Ok(Encoder::Template {
                pieces: parse_template(args),
                json: true,
            }),
            "prefix" => Ok(Encoder::Prefix(args.to_string())),
            "suffix" => Ok(Encoder::Suffix(args.to_string())),
            "nl" => Ok(Encoder::Newline),
            other => Err(LogSpecError::UnknownEncoder(other.to_string())),
        }
    }

    /// Appends `msg` encoded to `out`.
    pub(crate) fn encode(&self, msg: &[u8], out: &mut Vec<u8>) {
        match self {
            Encoder::Prefix(p) => {
                out.extend_from_slice(p.as_bytes());
                out.extend_from_slice(msg);
            }
            Encoder::Suffix(s) => {
                out.extend_from_slice(msg);
                out.extend_from_slice(s.as_bytes());
            }
            Encoder::Newline => {
                out.extend_from_slice(msg);
                out.push(b'\n');
            }
            Encoder::Template { pieces, json } => {
                let put = |out: &mut Vec<u8>, bytes: &[u8]| {
                    if *json {
                        escape_json(bytes, out);
                    } else {
                        out.extend_from_slice(bytes);
                    }
                };
                for piece in pieces {
                    match piece {
                        TemplatePiece::Text(t) => out.extend_from_slice(t.as_bytes()),
                        TemplatePiece::Msg => put(out, msg.strip_suffix(b"\n").unwrap_or(msg)),
                        TemplatePiece::MsgNl => put(out, msg),
                        TemplatePiece::Unix => {
                            let _ = write!(out, "{}", unix_now());
                        }
                        TemplatePiece::Micros => {
                            let _ = write!(out, "{}", epoch_micros());
                        }
                        TemplatePiece::Millis => {
                            let _ = write!(out, "{}", epoch_micros() / 1000);
                        }
                        TemplatePiece::Strftime(fmt) => {
                            let mut t = Vec::new();
                            local_time(unix_now(), fmt, &mut t);
                            put(out, &t);
                        }
                        TemplatePiece::Unknown => {}
                    }
                }
            }
        }
    }
}

fn epoch_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Splits `text` into literal text and `${name}` variables; a `$` not followed by `{`, or a
/// `${` never closed, stays text.
fn parse_template(text: &str) -> Vec<TemplatePiece> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut literal = String::new();
    while let Some(at) = rest.find("${") {
        let Some(len) = rest[at + 2..].find('}') else {
            break;
        };
        literal.push_str(&rest[..at]);
        if !literal.is_empty() {
            pieces.push(TemplatePiece::Text(std::mem::take(&mut literal)));
        }
        let name = &rest[at + 2..at + 2 + len];
        pieces.push(match name {
            "msg" => TemplatePiece::Msg,
            "msgnl" => TemplatePiece::MsgNl,
            "unix" => TemplatePiece::Unix,
            "micros" => TemplatePiece::Micros,
            "millis" => TemplatePiece::Millis,
            _ => match name.strip_prefix("strftime:").map(CString::new) {
                Some(Ok(fmt)) => TemplatePiece::Strftime(fmt),
                _ => TemplatePiece::Unknown,
            },
        });
        rest = &rest[at + 2 + len + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(TemplatePiece::Text(literal));
    }
    pieces
}

/// Appends `bytes` as the inside of a JSON string (control characters as `\uXXXX`).
pub(crate) fn escape_json(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                let _ = write!(out, "\\u{b:04x}");
            }
            b => out.push(b),
        }
    }
}

/// Runs `msg` through `chain`, leaving the result in `out` (`tmp` is scratch space).
pub(crate) fn encode_chain(chain: &[Encoder], msg: &[u8], out: &mut Vec<u8>, tmp: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(msg);
    for encoder in chain {
        tmp.clear();
        encoder.encode(out, tmp);
        std::mem::swap(out, tmp);
    }
}

/// An opened logger.
#[derive(Debug)]
enum Sink {
    File(File),
    Stdio,
    Syslog {
        socket: SyslogSocket,
        ident: String,
        priority: u32,
    },
}

#[derive(Debug)]
enum SyslogSocket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// `--log-route` / `--log-req-route`: `NAME REGEXP`, parsed.
#[derive(Debug, Clone)]
pub(crate) struct RouteSpec {
    /// The named logger the matching lines go to.
    pub logger: String,
    /// Matched against the whole line (see [`LineRegex::is_match`]).
    pub regex: LineRegex,
}

/// A log route's regexp. uWSGI compiles them with PCRE, and real configs use what Rust
/// `regex` lacks (`^((?!\{).)*$`: look-ahead), so a pattern `regex` refuses is compiled by
/// `fancy-regex` (look-around, back-references); PCRE's literal braces are read as PCRE does.
#[derive(Debug, Clone)]
pub(crate) enum LineRegex {
    /// Most patterns: matched on the line's bytes.
    Plain(regex::bytes::Regex),
    /// Patterns that need backtracking: matched on the line as text (invalid UTF-8 replaced).
    Fancy(fancy_regex::Regex),
}

impl LineRegex {
    fn new(pattern: &str) -> Result<LineRegex, String> {
        let pattern = rwsgi_config::pcre::literal_braces(pattern);
        match regex::bytes::Regex::new(&pattern) {
            Ok(r) => Ok(LineRegex::Plain(r)),
            Err(plain) => fancy_regex::Regex::new(&pattern)
                .map(LineRegex::Fancy)
                .map_err(|_| plain.to_string()),
        }
    }

    /// Whether `line` matches; a fancy pattern that exceeds its backtracking limit does not.
    /// The line's newline is left out, so that `$` matches before it, as PCRE's does.
    fn is_match(&self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        match self {
            LineRegex::Plain(r) => r.is_match(line),
            LineRegex::Fancy(r) => r.is_match(&String::from_utf8_lossy(line)).unwrap_or(false),
        }
    }
}

impl RouteSpec {
    /// Parses `NAME REGEXP` (split at the first space, as uWSGI does).
    pub(crate) fn parse(spec: &str) -> Result<RouteSpec, LogSpecError> {
        let (name, pattern) = spec
            .trim()
            .split_once(' ')
            .filter(|(n, p)| !n.is_empty() && !p.trim().is_empty())
            .ok_or_else(|| LogSpecError::BadRoute(spec.to_string()))?;
        let regex = LineRegex::new(pattern.trim()).map_err(|why| LogSpecError::RouteRegex {
            spec: spec.to_string(),
            why,
        })?;
        Ok(RouteSpec {
            logger: name.to_string(),
            regex,
        })
    }
}

/// One logger as configured: its name (if any) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedLogger {
    pub name: Option<String>,
    pub spec: LoggerSpec,
    /// As written, for errors.
    pub written: String,
}

impl NamedLogger {
    /// Parses `[NAME ]PLUGIN[:ARGS]`.
    pub(crate) fn parse(spec: &str, hostname: &str) -> Result<NamedLogger, LogSpecError> {
        Ok(NamedLogger {
            name: logger_name(spec).map(str::to_string),
            spec: LoggerSpec::parse(spec, hostname)?,
            written: spec.trim().to_string(),
        })
    }
}

/// Which outputs get a line (uWSGI's log routing, pure): every output named by a route whose
/// regexp matches the line; when none matches, every unnamed output.
#[derive(Debug, Default)]
pub(crate) struct Routing {
    /// Each route's regexp and the index of the output it names.
    routes: Vec<(LineRegex, usize)>,
    /// The outputs without a name.
    unnamed: Vec<usize>,
}

impl Routing {
    /// Resolves `routes` against the loggers' names (a route naming no logger is an error).
    /// Without an unnamed logger, the caller adds one (stderr, as uWSGI writes unrouted
    /// lines to its original log).
    fn new(names: &[Option<&str>], routes: &[RouteSpec]) -> Result<Routing, LogSpecError> {
        let mut table = Vec::with_capacity(routes.len());
        for r in routes {
            let i = names
                .iter()
                .position(|n| *n == Some(r.logger.as_str()))
                .ok_or_else(|| LogSpecError::UnknownRouteLogger(r.logger.clone()))?;
            table.push((r.regex.clone(), i));
        }
        let unnamed = (0..names.len()).filter(|&i| names[i].is_none()).collect();
        Ok(Routing {
            routes: table,
            unnamed,
        })
    }

    /// Calls `f` with the index of each output `line` goes to.
    fn targets(&self, line: &[u8], mut f: impl FnMut(usize)) {
        let mut routed = false;
        for (regex, i) in &self.routes {
            if regex.is_match(line) {
                f(*i);
                routed = true;
            }
        }
        if !routed {
            self.unnamed.iter().for_each(|&i| f(i));
        }
    }
}

/// An opened logger and the encoder chain its lines pass through.
#[derive(Debug)]
struct Output {
    sink: Sink,
    /// Index into [`LogOutputs::chains`].
    chain: usize,
}

/// Loggers, their encoder chains and the routes between them, opened once (the request
/// loggers in the master, the others in the log process).
#[derive(Debug)]
pub(crate) struct LogOutputs {
    /// The distinct encoder chains (unbound encoders, plus those bound to the logger).
    chains: Vec<Vec<Encoder>>,
    outputs: Vec<Output>,
    routing: Routing,
}

/// The encoders that apply to the logger named `name`: the unbound ones and those bound to it.
fn chain_for(encoders: &[BoundEncoder], name: Option<&str>) -> Vec<Encoder> {
    encoders
        .iter()
        .filter(|e| e.use_for.is_none() || e.use_for.as_deref() == name)
        .map(|e| e.encoder.clone())
        .collect()
}

impl LogOutputs {
    /// Opens every logger in `loggers` (files created if missing, sockets connected) with the
    /// encoders that apply to it, and resolves `routes` against their names; lines no route
    /// takes go to the unnamed loggers, or to stderr when every logger is named.
    pub(crate) fn open(
        loggers: &[NamedLogger],
        encoders: &[BoundEncoder],
        routes: &[RouteSpec],
    ) -> Result<Self, LogSetupError> {
        let mut all: Vec<NamedLogger> = loggers.to_vec();
        if !all.iter().any(|l| l.name.is_none()) {
            all.push(NamedLogger {
                name: None,
                spec: LoggerSpec::Stdio,
                written: "stdio".into(),
            });
        }
        let names: Vec<Option<&str>> = all.iter().map(|l| l.name.as_deref()).collect();
        let routing = Routing::new(&names, routes).map_err(|source| LogSetupError::Spec {
            option: "--log-route",
            source,
        })?;
        if let Some(name) = encoders
            .iter()
            .filter_map(|e| e.use_for.as_deref())
            .find(|n| !names.contains(&Some(*n)))
        {
            return Err(LogSetupError::Spec {
                option: "--log-encoder",
                source: LogSpecError::UnboundEncoder(name.to_string()),
            });
        }
        let mut chains: Vec<Vec<Encoder>> = Vec::new();
        let mut outputs = Vec::with_capacity(all.len());
        for logger in &all {
            let chain = chain_for(encoders, logger.name.as_deref());
            let chain = match chains.iter().position(|c| *c == chain) {
                Some(i) => i,
                None => {
                    chains.push(chain);
                    chains.len() - 1
                }
            };
            let sink = open_sink(&logger.spec).map_err(|source| LogSetupError::Open {
                spec: format!("logger {}", logger.written),
                source,
            })?;
            outputs.push(Output { sink, chain });
        }
        Ok(LogOutputs {
            chains,
            outputs,
            routing,
        })
    }

    /// The descriptors the loggers hold.
    pub(crate) fn fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.outputs
            .iter()
            .filter_map(|o| match &o.sink {
                Sink::File(f) => Some(f.as_raw_fd()),
                Sink::Stdio => None,
                Sink::Syslog { socket, .. } => Some(match socket {
                    SyslogSocket::Udp(s) => s.as_raw_fd(),
                    SyslogSocket::Unix(s) => s.as_raw_fd(),
                }),
            })
            .collect()
    }

    /// Routes `line`, encodes it and hands it to its loggers; best effort (a lost log line is
    /// not worth failing a request for). `out` and `tmp` are reused buffers.
    pub(crate) fn emit(&self, line: &[u8], out: &mut Vec<u8>, tmp: &mut Vec<u8>) {
        // The chain `out` holds the line encoded by: outputs sharing a chain encode once.
        let mut encoded: Option<usize> = None;
        self.routing.targets(line, |i| {
            let Some(output) = self.outputs.get(i) else {
                return;
            };
            if encoded != Some(output.chain) {
                encode_chain(&self.chains[output.chain], line, out, tmp);
                encoded = Some(output.chain);
            }
            output.sink.write(out, tmp);
        });
    }
}

/// Opens one logger.
fn open_sink(spec: &LoggerSpec) -> std::io::Result<Sink> {
    Ok(match spec {
        LoggerSpec::File(path) => Sink::File(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        LoggerSpec::Stdio => Sink::Stdio,
        LoggerSpec::Syslog {
            addr,
            ident,
            priority,
        } => {
            let socket = match addr.as_deref() {
                None => SyslogSocket::Unix(connect_unix("/dev/log")?),
                Some(path) if path.starts_with('/') => SyslogSocket::Unix(connect_unix(path)?),
                Some(hostport) => {
                    let socket = UdpSocket::bind(("0.0.0.0", 0))?;
                    socket.connect(hostport)?;
                    SyslogSocket::Udp(socket)
                }
            };
            Sink::Syslog {
                socket,
                ident: ident.clone(),
                priority: *priority,
            }
        }
    })
}

impl Sink {
    /// Writes the encoded line `out` (`tmp` is scratch for a syslog datagram).
    fn write(&self, out: &[u8], tmp: &mut Vec<u8>) {
        match self {
            Sink::File(f) => {
                let _ = (&*f).write(out);
            }
            Sink::Stdio => {
                let _ = write_stderr(out);
            }
            Sink::Syslog {
                socket,
                ident,
                priority,
            } => {
                tmp.clear();
                let _ = write!(tmp, "<{priority}>");
                local_time(unix_now(), c"%b %e %H:%M:%S", tmp);
                let _ = write!(tmp, " {ident}: ");
                tmp.extend_from_slice(out.strip_suffix(b"\n").unwrap_or(out));
                let _ = match socket {
                    SyslogSocket::Udp(s) => s.send(tmp),
                    SyslogSocket::Unix(s) => s.send(tmp),
                };
            }
        }
    }
}

/// The request loggers could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogSetupError {
    /// A spec is wrong.
    #[error("{option}: {source}")]
    Spec {
        /// The option.
        option: &'static str,
        /// What is wrong.
        #[source]
        source: LogSpecError,
    },
    /// A logger could not be opened.
    #[error("{spec}: {source}")]
    Open {
        /// The option and its specs as written.
        spec: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Opens `--req-logger`s with the `--log-req-encoder` chain and the `--log-req-route`s;
/// `None` when none is set (the line is then one `write(2)` to stderr). Encoders without a
/// logger encode the line for stderr. A route may name a request logger or, as in uWSGI, a
/// named `--logger` (`loggers`), opened here too for the request lines it takes.
pub(crate) fn open_request_outputs(
    req: &RequestLoggers<'_>,
    hostname: &str,
) -> Result<Option<Arc<LogOutputs>>, LogSetupError> {
    if req.loggers.is_empty() && req.encoders.is_empty() && req.routes.is_empty() {
        return Ok(None);
    }
    let spec_err = |option| move |source| LogSetupError::Spec { option, source };
    let chain = req
        .encoders
        .iter()
        .map(|e| BoundEncoder::parse(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--log-req-encoder"))?;
    let mut specs = req
        .loggers
        .iter()
        .map(|l| NamedLogger::parse(l, hostname))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--req-logger"))?;
    let routes = req
        .routes
        .iter()
        .map(|r| RouteSpec::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--log-req-route"))?;
    for route in &routes {
        if specs
            .iter()
            .any(|s| s.name.as_deref() == Some(&route.logger))
        {
            continue;
        }
        let general = req
            .general
            .iter()
            .find(|l| logger_name(l) == Some(route.logger.as_str()));
        if let Some(general) = general {
            specs.push(NamedLogger::parse(general, hostname).map_err(spec_err("--logger"))?);
        }
    }
    let outputs = LogOutputs::open(&specs, &chain, &routes).map_err(|e| match e {
        LogSetupError::Spec { option, source } => LogSetupError::Spec {
            option: if option == "--log-route" {
                "--log-req-route"
            } else {
                "--log-req-encoder"
            },
            source,
        },
        other => other,
    })?;
    Ok(Some(Arc::new(outputs)))
}

/// The request-log options [`open_request_outputs`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLoggers<'a> {
    /// `--req-logger`.
    pub loggers: &'a [String],
    /// `--log-req-encoder`.
    pub encoders: &'a [String],
    /// `--log-req-route`.
    pub routes: &'a [String],
    /// `--logger`: the named ones a request route may name.
    pub general: &'a [String],
}

fn connect_unix(path: &str) -> std::io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggers_parse_as_uwsgi_writes_them() {
        let p = |s| LoggerSpec::parse(s, "box");
        assert_eq!(
            p("file:/var/log/r.log"),
            Ok(LoggerSpec::File("/var/log/r.log".into()))
        );
        assert_eq!(p("mylog stdio"), Ok(LoggerSpec::Stdio));
        assert_eq!(
            p("syslog:app,local0"),
            Ok(LoggerSpec::Syslog {
                addr: None,
                ident: "app".into(),
                priority: 16 * 8 + 6
            })
        );
        assert_eq!(
            p("rsyslog:127.0.0.1:514"),
            Ok(LoggerSpec::Syslog {
                addr: Some("127.0.0.1:514".into()),
                ident: "box uwsgi".into(),
                priority: 29
            })
        );
        assert_eq!(
            p("redislog:127.0.0.1"),
            Err(LogSpecError::UnknownLogger("redislog".into()))
        );
        assert!(p("file").is_err());
        assert!(p("syslog:x,nofacility").is_err());
    }

    #[test]
    fn json_encoder_escapes_the_line_and_fills_the_variables() {
        let e = Encoder::parse(r#"json {"msg":"${msg}","t":${unix},"x":"${nope}"}"#).unwrap();
        let mut out = Vec::new();
        e.encode(b"GET /a \"q\"\\ \x01\n", &mut out);
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["msg"], "GET /a \"q\"\\ \u{1}");
        assert!(v["t"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(v["x"], "");
    }

    #[test]
    fn chain_applies_encoders_in_order() {
        let chain: Vec<_> = ["format [${msg}]", "prefix >", "suffix <", "nl"]
            .iter()
            .map(|s| Encoder::parse(s).unwrap())
            .collect();
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        encode_chain(&chain, b"hello\n", &mut out, &mut tmp);
        assert_eq!(out, b">[hello]<\n");
        assert_eq!(
            Encoder::parse("gzip"),
            Err(LogSpecError::UnknownEncoder("gzip".into()))
        );
        assert_eq!(
            BoundEncoder::parse("json:mylogger {\"m\":\"${msg}\"}"),
            Ok(BoundEncoder {
                encoder: Encoder::parse("json {\"m\":\"${msg}\"}").unwrap(),
                use_for: Some("mylogger".into()),
            })
        );
        assert_eq!(BoundEncoder::parse("nl").unwrap().use_for, None);
    }

    fn route(spec: &str) -> RouteSpec {
        RouteSpec::parse(spec).unwrap()
    }

    #[test]
    fn loggers_are_named_by_a_leading_alphanumeric_word() {
        assert_eq!(logger_name("errors file:/tmp/e.log"), Some("errors"));
        assert_eq!(logger_name("file:/tmp/e.log"), None);
        assert_eq!(
            logger_name("my-log file:/x"),
            None,
            "uWSGI: letters and digits only"
        );
        let named = NamedLogger::parse("e5 file:/tmp/e.log", "h").unwrap();
        assert_eq!(
            (named.name.as_deref(), named.spec),
            (Some("e5"), LoggerSpec::File("/tmp/e.log".into()))
        );
    }

    #[test]
    fn routes_parse_as_name_and_regexp() {
        let r = route("errors HTTP/1.\\d 50\\d");
        assert_eq!(r.logger, "errors");
        assert!(r.regex.is_match(b"GET / => (HTTP/1.1 503)\n"));
        assert!(matches!(
            RouteSpec::parse("errors"),
            Err(LogSpecError::BadRoute(_))
        ));
        assert!(matches!(
            RouteSpec::parse("x (unclosed"),
            Err(LogSpecError::RouteRegex { .. })
        ));
        // The PCRE real configs use (Label Studio, PhysioNet): a lone brace is a literal, and
        // look-ahead routes every line that has none.
        let json = route("applogger {");
        assert!(json.regex.is_match(b"{\"msg\": 1}\n"));
        assert!(!json.regex.is_match(b"plain line\n"));
        let rest = route("default ^((?!\\{).)*$");
        assert!(matches!(rest.regex, LineRegex::Fancy(_)));
        assert!(rest.regex.is_match(b"plain line\n"));
        assert!(!rest.regex.is_match(b"{\"msg\": 1}\n"));
        assert!(!rest.regex.is_match(b"a line with { inside\n"));
    }

    #[test]
    fn matching_routes_take_a_line_and_the_rest_go_to_the_unnamed_loggers() {
        let names = [Some("errors"), None, Some("slow"), None];
        let routing = Routing::new(
            &names,
            &[
                route("errors \\b50\\d\\b"),
                route("slow msecs=\\d{4}"),
                route("errors panic"),
            ],
        )
        .unwrap();
        let targets = |line: &[u8]| {
            let mut got = Vec::new();
            routing.targets(line, |i| got.push(i));
            got
        };
        assert_eq!(targets(b"status=200 msecs=3\n"), [1, 3]);
        assert_eq!(targets(b"status=503 msecs=3\n"), [0]);
        assert_eq!(
            targets(b"status=503 msecs=2000\n"),
            [0, 2],
            "every matching route"
        );
        assert_eq!(
            targets(b"panic 500\n"),
            [0, 0],
            "one delivery per matching route"
        );
        assert!(matches!(
            Routing::new(&names, &[route("nobody x")]),
            Err(LogSpecError::UnknownRouteLogger(n)) if n == "nobody"
        ));
    }

    #[test]
    fn a_logger_gets_the_unbound_encoders_and_those_bound_to_it() {
        let encoders: Vec<_> = ["prefix [all]", "format:errors E ${msg}", "nl"]
            .iter()
            .map(|e| BoundEncoder::parse(e).unwrap())
            .collect();
        let names = |c: Vec<Encoder>| c.len();
        assert_eq!(names(chain_for(&encoders, Some("errors"))), 3);
        assert_eq!(names(chain_for(&encoders, Some("other"))), 2);
        assert_eq!(names(chain_for(&encoders, None)), 2);
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        encode_chain(
            &chain_for(&encoders, Some("errors")),
            b"boom\n",
            &mut out,
            &mut tmp,
        );
        assert_eq!(out, b"E [all]boom\n");
    }

    #[test]
    fn outputs_write_routed_lines_to_their_files_and_stderr_takes_the_rest_when_all_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let loggers = [
            NamedLogger::parse(&format!("alpha file:{}", a.display()), "h").unwrap(),
            NamedLogger::parse(&format!("beta file:{}", b.display()), "h").unwrap(),
        ];
        let encoders = [BoundEncoder::parse("prefix:beta B:").unwrap()];
        let outputs =
            LogOutputs::open(&loggers, &encoders, &[route("alpha ^A"), route("beta ^B")]).unwrap();
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        for line in [&b"A one\n"[..], b"B two\n", b"C three\n"] {
            outputs.emit(line, &mut out, &mut tmp);
        }
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "A one\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "B:B two\n");
        // "C three" went to the implicit stderr output (the test's stderr).
        assert_eq!(outputs.outputs.len(), 3);
        let unbound = [BoundEncoder::parse("nl:gamma").unwrap()];
        assert!(matches!(
            LogOutputs::open(&loggers, &unbound, &[]),
            Err(LogSetupError::Spec { source: LogSpecError::UnboundEncoder(n), .. }) if n == "gamma"
        ));
    }

    #[test]
    fn templates_keep_unclosed_and_bare_dollars_as_text() {
        let e = Encoder::parse("format $x ${msgnl}${").unwrap();
        let mut out = Vec::new();
        e.encode(b"m\n", &mut out);
        assert_eq!(out, b"$x m\n${");
    }
}
