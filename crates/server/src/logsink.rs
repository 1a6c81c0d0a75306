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
    /// An encoder bound to a named logger (`ENCODER:NAME`): rwsgi names no loggers.
    #[error(
        "log encoder '{0}' is bound to a named logger; rwsgi applies every encoder to every line"
    )]
    NamedEncoder(String),
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

impl LoggerSpec {
    /// Parses `[NAME ]PLUGIN[:ARGS]` (the name, which only uWSGI's log routing uses, is
    /// dropped).
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

impl Encoder {
    /// Parses `NAME[ ARGS]` as uWSGI's `--log-encoder` reads it.
    pub(crate) fn parse(spec: &str) -> Result<Encoder, LogSpecError> {
        let (name, args) = spec.split_once(' ').unwrap_or((spec, ""));
        let name = name.trim();
        if name.contains(':') {
            return Err(LogSpecError::NamedEncoder(name.to_string()));
        }
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

/// The request loggers and their encoder chain, opened once in the master.
#[derive(Debug)]
pub(crate) struct LogOutputs {
    encoders: Vec<Encoder>,
    sinks: Vec<Sink>,
}

impl LogOutputs {
    /// Opens every logger in `specs` (files created if missing, sockets connected).
    pub(crate) fn open(specs: &[LoggerSpec], encoders: Vec<Encoder>) -> std::io::Result<Self> {
        let mut sinks = Vec::with_capacity(specs.len());
        for spec in specs {
            sinks.push(match spec {
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
                        Some(path) if path.starts_with('/') => {
                            SyslogSocket::Unix(connect_unix(path)?)
                        }
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
            });
        }
        Ok(LogOutputs { encoders, sinks })
    }

    /// The descriptors the loggers hold.
    pub(crate) fn fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.sinks
            .iter()
            .filter_map(|sink| match sink {
                Sink::File(f) => Some(f.as_raw_fd()),
                Sink::Stdio => None,
                Sink::Syslog { socket, .. } => Some(match socket {
                    SyslogSocket::Udp(s) => s.as_raw_fd(),
                    SyslogSocket::Unix(s) => s.as_raw_fd(),
                }),
            })
            .collect()
    }

    /// Encodes `line` and hands it to every logger; best effort (a lost log line is not worth
    /// failing a request for). `out` and `tmp` are reused buffers.
    pub(crate) fn emit(&self, line: &[u8], out: &mut Vec<u8>, tmp: &mut Vec<u8>) {
        encode_chain(&self.encoders, line, out, tmp);
        for sink in &self.sinks {
            match sink {
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

/// Opens `--req-logger`s with the `--log-req-encoder` chain; `None` when neither is set
/// (the line is then one `write(2)` to stderr). Encoders without a logger encode the line
/// for stderr.
pub(crate) fn open_request_outputs(
    loggers: &[String],
    encoders: &[String],
    hostname: &str,
) -> Result<Option<Arc<LogOutputs>>, LogSetupError> {
    if loggers.is_empty() && encoders.is_empty() {
        return Ok(None);
    }
    let chain = encoders
        .iter()
        .map(|e| Encoder::parse(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| LogSetupError::Spec {
            option: "--log-req-encoder",
            source,
        })?;
    let mut specs = Vec::with_capacity(loggers.len().max(1));
    for l in loggers {
        specs.push(
            LoggerSpec::parse(l, hostname).map_err(|source| LogSetupError::Spec {
                option: "--req-logger",
                source,
            })?,
        );
    }
    if specs.is_empty() {
        specs.push(LoggerSpec::Stdio);
    }
    let outputs = LogOutputs::open(&specs, chain).map_err(|source| LogSetupError::Open {
        spec: format!("--req-logger {}", loggers.join(", ")),
        source,
    })?;
    Ok(Some(Arc::new(outputs)))
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
        assert!(matches!(
            Encoder::parse("json:mylogger {}"),
            Err(LogSpecError::NamedEncoder(_))
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
