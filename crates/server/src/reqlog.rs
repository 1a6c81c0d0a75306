//! Request log lines, one `write(2)` each: uWSGI's default format, or a `--log-format`.
//!
//! Default: `[pid: 123|app: 0|req: 5/9] 127.0.0.1 () {34 vars in 402 bytes} [Wed Nov 25
//! 10:00:00 2026] GET / => generated 11 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 79 bytes
//! (1 switches on core 0)`, with uWSGI's `{address space usage: …} {rss usage: …}` prefix
//! under `--memory-report`.

use std::ffi::CString;
use std::io::Write;
use std::sync::Arc;

use rwsgi_os::fdio::write_stderr;
use rwsgi_os::time::{local_time, unix_now};
use rwsgi_wsgi::{uwsgi_module, RequestVars};

use crate::logsink::LogOutputs;

/// How requests are logged: which ones, in what format, to where. Read by every core.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog {
    /// Which requests get a line.
    pub policy: LogPolicy,
    /// `--log-format`, parsed (`None`: uWSGI's default line).
    pub format: Option<LogFormat>,
    /// `--log-x-forwarded-for`: the client address is the X-Forwarded-For header.
    pub x_forwarded_for: bool,
    /// `--log-micros`: the default line's time in microseconds.
    pub micros: bool,
    /// `--req-logger`s with their `--log-req-encoder`s (`None`: one `write(2)` to stderr).
    pub outputs: Option<Arc<LogOutputs>>,
}

/// uWSGI's conditional logging: every request unless `--disable-logging`, and then only
/// those a `--log-*` option names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogPolicy {
    /// Every request (no `--disable-logging`).
    pub all: bool,
    /// `--log-zero`: responses without a body.
    pub zero: bool,
    /// `--log-slow` milliseconds (0 = off).
    pub slow_ms: u64,
    /// `--log-4xx`.
    pub status_4xx: bool,
    /// `--log-5xx`.
    pub status_5xx: bool,
    /// `--log-big` body bytes (0 = off).
    pub big: u64,
    /// `--log-sendfile`.
    pub sendfile: bool,
    /// `--log-ioerror`.
    pub ioerror: bool,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            all: true,
            zero: false,
            slow_ms: 0,
            status_4xx: false,
            status_5xx: false,
            big: 0,
            sendfile: false,
            ioerror: false,
        }
    }
}

/// What the policy looks at in a finished request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestFacts {
    /// Status code sent.
    pub status: u16,
    /// Response body bytes (the head not counted, as uWSGI's `response_size`).
    pub body_bytes: u64,
    /// Response time.
    pub micros: u64,
    /// The body went out with sendfile(2).
    pub sendfile: bool,
    /// The client failed while the body was read / the response written.
    pub read_error: bool,
    pub write_error: bool,
}

impl LogPolicy {
    /// Whether the request gets a log line. Callers test `all` first (`policy.all ||
    /// policy.should_log(..)`), so the default costs one branch and builds no facts.
    pub(crate) fn should_log(&self, f: &RequestFacts) -> bool {
        self.all
            || (self.zero && f.body_bytes == 0)
            || (self.slow_ms > 0 && f.micros / 1000 >= self.slow_ms)
            || (self.status_4xx && (400..500).contains(&f.status))
            || (self.status_5xx && (500..600).contains(&f.status))
            || (self.big > 0 && f.body_bytes >= self.big)
            || (self.sendfile && f.sendfile)
            // uWSGI's source asks for a read *and* a write error, which a request almost
            // never has; its documented meaning ("requests with io errors") is either.
            || (self.ioerror && (f.read_error || f.write_error))
    }
}

/// The client address a log line shows: REMOTE_ADDR, or with `--log-x-forwarded-for` the
/// X-Forwarded-For header when the request has one (the whole value, as uWSGI logs it).
pub(crate) fn client_addr(vars: &RequestVars, x_forwarded_for: bool) -> &[u8] {
    let forwarded = x_forwarded_for
        .then(|| vars.get(b"HTTP_X_FORWARDED_FOR"))
        .flatten();
    forwarded
        .or_else(|| vars.get(b"REMOTE_ADDR"))
        .unwrap_or(b"")
}

/// The parts of one log line.
pub(crate) struct LogLine<'a> {
    /// Worker process id.
    pub pid: u32,
    /// Worker id (1-based).
    pub wid: usize,
    /// App index (-1 when no app matched).
    pub app: i64,
    /// Requests served by this worker, and by the whole server as far as this worker knows.
    pub worker_requests: u64,
    /// The request's CGI vars.
    pub request: &'a RequestVars,
    /// The client address shown ([`client_addr`]).
    pub remote_addr: &'a [u8],
    /// Response bytes, head included.
    pub tx: u64,
    /// Header lines and bytes of the response head.
    pub head: (usize, usize),
    /// Response time in microseconds.
    pub micros: u64,
    /// When the request started (seconds since the epoch).
    pub started: u64,
    /// SERVER_PROTOCOL of the response.
    pub protocol: &'a [u8],
    /// Status code.
    pub status: u16,
    /// Core id.
    pub core: usize,
    /// The client failed while the body was read / while the response was written.
    pub io_errors: (bool, bool),
    /// `(vsz, rss)` in bytes under `--memory-report`.
    pub memory: Option<(u64, u64)>,
}

impl LogLine<'_> {
    fn var(&self, key: &[u8]) -> &[u8] {
        self.request.get(key).unwrap_or(b"")
    }

    /// Number of CGI vars and their size, as uWSGI's "{N vars in M bytes}" counts them.
    fn vars_size(&self) -> (usize, usize) {
        self.request
            .iter()
            .fold((0, 0), |(n, b), (k, v)| (n + 1, b + k.len() + v.len()))
    }
}

/// Formats the time of day the way uWSGI's log lines do (asctime), cached per second.
#[derive(Default)]
pub(crate) struct Clock {
    second: u64,
    text: Vec<u8>,
}

impl Clock {
    fn text(&mut self) -> &[u8] {
        let now = unix_now();
        if now != self.second || self.text.is_empty() {
            self.second = now;
            self.text.clear();
            local_time(now, c"%a %b %e %H:%M:%S %Y", &mut self.text);
        }
        &self.text
    }
}

/// A core's reused buffers for log lines.
#[derive(Default)]
pub(crate) struct LogBuffers {
    /// The rendered line.
    pub line: Vec<u8>,
    /// The encoded line and the encoders' scratch space (`--req-logger` only).
    pub encoded: Vec<u8>,
    pub scratch: Vec<u8>,
}

/// Writes `line` in uWSGI's default format, or in `--log-format` when one is set: to stderr,
/// or through the `--req-logger`s.
pub(crate) fn write(
    line: &LogLine<'_>,
    log: &RequestLog,
    clock: &mut Clock,
    bufs: &mut LogBuffers,
) {
    let buf = &mut bufs.line;
    buf.clear();
    match &log.format {
        Some(f) => f.render(line, buf),
        None => render_default(line, log.micros, clock, buf),
    }
    match &log.outputs {
        Some(outputs) => outputs.emit(buf, &mut bufs.encoded, &mut bufs.scratch),
        None => {
            // One write(2): a short or failed log write is not worth more.
            let _ = write_stderr(buf);
        }
    }
}

fn render_default(line: &LogLine<'_>, micros: bool, clock: &mut Clock, buf: &mut Vec<u8>) {
    if let Some((vsz, rss)) = line.memory {
        let _ = write!(
            buf,
            "{{address space usage: {vsz} bytes/{}MB}} {{rss usage: {rss} bytes/{}MB}} ",
            vsz / (1024 * 1024),
            rss / (1024 * 1024)
        );
    }
    let _ = write!(
        buf,
        "[pid: {}|app: {}|req: {}/{}] ",
        line.pid, line.app, line.worker_requests, line.worker_requests
    );
    buf.extend_from_slice(line.remote_addr);
    let (nvars, vbytes) = line.vars_size();
    let _ = write!(buf, " () {{{nvars} vars in {vbytes} bytes}} [");
    buf.extend_from_slice(clock.text());
    buf.extend_from_slice(b"] ");
    buf.extend_from_slice(line.var(b"REQUEST_METHOD"));
    buf.push(b' ');
    buf.extend_from_slice(line.var(b"REQUEST_URI"));
    let (took, unit) = if micros {
        (line.micros, "micros")
    } else {
        (line.micros / 1000, "msecs")
    };
    let _ = write!(
        buf,
        " => generated {} bytes in {took} {unit} (",
        line.tx.saturating_sub(line.head.1 as u64),
    );
    buf.extend_from_slice(line.protocol);
    let _ = writeln!(
        buf,
        " {}) {} headers in {} bytes (1 switches on core {})",
        line.status, line.head.0, line.head.1, line.core
    );
}

/// A `--log-format` string, parsed once: literal text and `%(name)` variables, with uWSGI's
/// names (uri, method, user, addr, host, proto, uagent, referer, status, micros, msecs, secs,
/// time, ctime, ltime, epoch, size, hsize, rsize, cl, headers, pid, wid, core, vars, pktsize,
/// switches, rerr, werr, ioerr, rss, vsz, rssM, vszM) plus `var.NAME` for any request var.
/// Any other name is a log var the app sets with `uwsgi.set_logvar()`, `-` when it set none
/// (as uWSGI prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFormat {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    /// A CGI var of the request.
    Var(Vec<u8>),
    /// A CGI var, JSON-escaped: `%(json_uri)`, `%(json_host)`, `%(json_referer)`,
    /// `%(json_uagent)`, the log vars of the escape_json plugin real configs load
    /// (velebit-ai/uwsgi-json-logging-plugin), built in.
    JsonVar(Vec<u8>),
    /// The client address ([`LogLine::remote_addr`]).
    Addr,
    Proto,
    Status,
    Micros,
    Msecs,
    Secs,
    Time,
    Ctime,
    Ltime,
    /// `%(ftime)`: the start time in `--log-date`'s format under `--logformat-strftime`.
    Ftime(CString),
    Epoch,
    Size,
    Hsize,
    Rsize,
    Cl,
    Headers,
    Pid,
    Wid,
    Core,
    Vars,
    Pktsize,
    Switches,
    ReadErrors,
    WriteErrors,
    IoErrors,
    Rss,
    Vsz,
    RssMb,
    VszMb,
    /// A `uwsgi.set_logvar()` name.
    LogVar(Vec<u8>),
}

impl LogFormat {
    /// Parses `format`; a `%(` without its `)` is kept as text. A newline ends each line.
    /// `ftime` is `%(ftime)`'s strftime format (`None`: as `%(ltime)`).
    pub(crate) fn parse(format: &str, ftime: Option<&str>) -> LogFormat {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let mut rest = format;
        while let Some(at) = rest.find("%(") {
            let Some(len) = rest[at + 2..].find(')') else {
                break;
            };
            text.extend_from_slice(&rest.as_bytes()[..at]);
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::named(&rest[at + 2..at + 2 + len], ftime));
            rest = &rest[at + 2 + len + 1..];
        }
        text.extend_from_slice(rest.as_bytes());
        text.push(b'\n');
        pieces.push(Piece::Text(text));
        LogFormat { pieces }
    }

    /// Appends one log line for `line`.
    pub(crate) fn render(&self, line: &LogLine<'_>, buf: &mut Vec<u8>) {
        let (rerr, werr) = (line.io_errors.0 as u8, line.io_errors.1 as u8);
        let (vsz, rss) = line.memory.unwrap_or((0, 0));
        for piece in &self.pieces {
            let _ = match piece {
                Piece::Text(t) => buf.write_all(t),
                Piece::Var(k) => buf.write_all(line.var(k)),
                Piece::JsonVar(k) => {
                    crate::logsink::escape_json(line.var(k), buf);
                    Ok(())
                }
                Piece::Addr => buf.write_all(line.remote_addr),
                Piece::Proto => buf.write_all(line.protocol),
                Piece::Status => write!(buf, "{}", line.status),
                Piece::Micros => write!(buf, "{}", line.micros),
                Piece::Msecs => write!(buf, "{}", line.micros / 1000),
                Piece::Secs => write!(buf, "{:.6}", line.micros as f64 / 1e6),
                Piece::Time => write!(buf, "{}", line.started),
                Piece::Ctime => {
                    local_time(line.started, c"%a %b %e %H:%M:%S %Y", buf);
                    Ok(())
                }
                Piece::Ltime => {
                    local_time(line.started, c"%d/%b/%Y:%H:%M:%S %z", buf);
                    Ok(())
                }
                Piece::Ftime(f) => {
                    local_time(line.started, f, buf);
                    Ok(())
                }
                Piece::Epoch => write!(buf, "{}", unix_now()),
                Piece::Size => write!(buf, "{}", line.tx),
                Piece::Hsize => write!(buf, "{}", line.head.1),
                Piece::Rsize => write!(buf, "{}", line.tx.saturating_sub(line.head.1 as u64)),
                Piece::Cl => {
                    let cl = line.var(b"CONTENT_LENGTH");
                    buf.write_all(if cl.is_empty() { b"0" } else { cl })
                }
                Piece::Headers => write!(buf, "{}", line.head.0),
                Piece::Pid => write!(buf, "{}", line.pid),
                Piece::Wid => write!(buf, "{}", line.wid),
                Piece::Core => write!(buf, "{}", line.core),
                Piece::Vars => write!(buf, "{}", line.vars_size().0),
                Piece::Pktsize => write!(buf, "{}", line.vars_size().1),
                Piece::Switches => buf.write_all(b"1"),
                Piece::ReadErrors => write!(buf, "{rerr}"),
                Piece::WriteErrors => write!(buf, "{werr}"),
                Piece::IoErrors => write!(buf, "{}", rerr + werr),
                Piece::Rss => write!(buf, "{rss}"),
                Piece::Vsz => write!(buf, "{vsz}"),
                Piece::RssMb => write!(buf, "{}", rss >> 20),
                Piece::VszMb => write!(buf, "{}", vsz >> 20),
                Piece::LogVar(name) => {
                    uwsgi_module::with_logvar(name, |v| buf.write_all(v.unwrap_or(b"-")))
                }
            };
        }
    }
}

impl Piece {
    fn named(name: &str, ftime: Option<&str>) -> Piece {
        if let Some(var) = name.strip_prefix("var.") {
            return Piece::Var(var.as_bytes().to_vec());
        }
        match name {
            "uri" => Piece::Var(b"REQUEST_URI".to_vec()),
            "method" => Piece::Var(b"REQUEST_METHOD".to_vec()),
            "user" => Piece::Var(b"REMOTE_USER".to_vec()),
            "addr" => Piece::Addr,
            "host" => Piece::Var(b"HTTP_HOST".to_vec()),
            "proto" => Piece::Proto,
            "uagent" => Piece::Var(b"HTTP_USER_AGENT".to_vec()),
            "referer" => Piece::Var(b"HTTP_REFERER".to_vec()),
            "json_uri" => Piece::JsonVar(b"REQUEST_URI".to_vec()),
            "json_host" => Piece::JsonVar(b"HTTP_HOST".to_vec()),
            "json_referer" => Piece::JsonVar(b"HTTP_REFERER".to_vec()),
            "json_uagent" => Piece::JsonVar(b"HTTP_USER_AGENT".to_vec()),
            "status" => Piece::Status,
            "micros" => Piece::Micros,
            "msecs" => Piece::Msecs,
            "secs" => Piece::Secs,
            "time" => Piece::Time,
            "ctime" => Piece::Ctime,
            "ltime" => Piece::Ltime,
            "ftime" => match ftime.map(CString::new) {
                Some(Ok(f)) => Piece::Ftime(f),
                _ => Piece::Ltime,
            },

            "epoch" => Piece::Epoch,
            "size" => Piece::Size,
            "hsize" => Piece::Hsize,
            "rsize" => Piece::Rsize,
            "cl" => Piece::Cl,
            "headers" => Piece::Headers,
            "pid" => Piece::Pid,
            "wid" => Piece::Wid,
            "core" => Piece::Core,
            "vars" => Piece::Vars,
            "pktsize" => Piece::Pktsize,
            "switches" => Piece::Switches,
            "rerr" => Piece::ReadErrors,
            "werr" => Piece::WriteErrors,
            "ioerr" => Piece::IoErrors,
            "rss" => Piece::Rss,
            "vsz" => Piece::Vsz,
            "rssM" => Piece::RssMb,
            "vszM" => Piece::VszMb,
            other => Piece::LogVar(other.as_bytes().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> RequestVars {
        let mut v = RequestVars::new();
        for (k, val) in [
            (&b"REQUEST_METHOD"[..], &b"POST"[..]),
            (b"REQUEST_URI", b"/a?b=1"),
            (b"REMOTE_ADDR", b"127.0.0.1"),
            (b"HTTP_HOST", b"example.test"),
            (b"HTTP_USER_AGENT", b"curl/8"),
            (b"CONTENT_LENGTH", b"42"),
            (b"HTTP_X_REQUEST_ID", b"abc"),
        ] {
            v.set(k, val);
        }
        v
    }

    fn line(request: &RequestVars) -> LogLine<'_> {
        LogLine {
            pid: 77,
            wid: 2,
            app: 0,
            worker_requests: 5,
            request,
            remote_addr: client_addr(request, false),
            tx: 150,
            head: (3, 100),
            micros: 2500,
            started: 1_700_000_000,
            protocol: b"HTTP/1.1",
            status: 201,
            core: 1,
            io_errors: (false, true),
            memory: None,
        }
    }

    #[test]
    fn json_log_vars_are_json_escaped_as_the_escape_json_plugin_makes_them() {
        // PhysioNet's log-format: "uri":"%(json_uri)", "host":"%(json_host)"
        let f = LogFormat::parse(
            "{\"uri\":\"%(json_uri)\", \"host\":\"%(json_host)\", \"ua\":\"%(json_uagent)\", \
             \"ref\":\"%(json_referer)\"}",
            None,
        );
        let mut v = vars();
        v.set(b"REQUEST_URI", b"/q?s=\"a\\b\"\t\x01");
        v.set(b"HTTP_USER_AGENT", b"x\ny");
        let mut buf = Vec::new();
        f.render(&line(&v), &mut buf);
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "{\"uri\":\"/q?s=\\\"a\\\\b\\\"\\t\\u0001\", \"host\":\"example.test\", \
             \"ua\":\"x\\ny\", \"ref\":\"\"}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(text.trim_end()).expect("valid JSON");
        assert_eq!(parsed["uri"], "/q?s=\"a\\b\"\t\u{1}");
    }

    #[test]
    fn log_format_renders_uwsgi_variables_request_vars_and_unset_logvars_as_a_dash() {
        let f = LogFormat::parse(
            "%(addr) %(method) %(uri) %(proto) %(status) %(host) \"%(uagent)\" [%(var.HTTP_X_REQUEST_ID)] \
             %(msecs)/%(micros) size=%(size) hsize=%(hsize) rsize=%(rsize) headers=%(headers) cl=%(cl) \
             pid=%(pid) wid=%(wid) core=%(core) ioerr=%(ioerr) werr=%(werr) time=%(time) x=%(nope)| %(",
            None,
        );
        let v = vars();
        let mut buf = Vec::new();
        f.render(&line(&v), &mut buf);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "127.0.0.1 POST /a?b=1 HTTP/1.1 201 example.test \"curl/8\" [abc] 2/2500 size=150 \
             hsize=100 rsize=50 headers=3 cl=42 pid=77 wid=2 core=1 ioerr=1 werr=1 \
             time=1700000000 x=-| %(\n"
        );
    }

    #[test]
    fn default_policy_logs_everything_and_disable_logging_keeps_only_what_log_options_name() {
        let facts = RequestFacts {
            status: 200,
            body_bytes: 10,
            micros: 5_000,
            ..Default::default()
        };
        assert!(LogPolicy::default().should_log(&facts));
        let none = LogPolicy {
            all: false,
            ..Default::default()
        };
        assert!(!none.should_log(&facts));
        let with = |f: fn(&mut LogPolicy)| {
            let mut p = none.clone();
            f(&mut p);
            p
        };
        let p4 = with(|p| p.status_4xx = true);
        assert!(p4.should_log(&RequestFacts {
            status: 404,
            ..facts
        }));
        assert!(!p4.should_log(&RequestFacts {
            status: 500,
            ..facts
        }));
        let p5 = with(|p| p.status_5xx = true);
        assert!(p5.should_log(&RequestFacts {
            status: 503,
            ..facts
        }));
        assert!(!p5.should_log(&RequestFacts {
            status: 499,
            ..facts
        }));
        let slow = with(|p| p.slow_ms = 5);
        assert!(slow.should_log(&facts), "5 ms is at least 5 ms");
        assert!(!slow.should_log(&RequestFacts {
            micros: 4_999,
            ..facts
        }));
        let big = with(|p| p.big = 10);
        assert!(big.should_log(&facts));
        assert!(!big.should_log(&RequestFacts {
            body_bytes: 9,
            ..facts
        }));
        let zero = with(|p| p.zero = true);
        assert!(!zero.should_log(&facts));
        assert!(zero.should_log(&RequestFacts {
            body_bytes: 0,
            ..facts
        }));
        let sendfile = with(|p| p.sendfile = true);
        assert!(!sendfile.should_log(&facts));
        assert!(sendfile.should_log(&RequestFacts {
            sendfile: true,
            ..facts
        }));
        let io = with(|p| p.ioerror = true);
        assert!(!io.should_log(&facts));
        assert!(io.should_log(&RequestFacts {
            write_error: true,
            ..facts
        }));
        assert!(io.should_log(&RequestFacts {
            read_error: true,
            ..facts
        }));
    }

    #[test]
    fn x_forwarded_for_replaces_the_address_only_when_asked_and_present() {
        let mut v = vars();
        assert_eq!(client_addr(&v, true), b"127.0.0.1");
        v.set(b"HTTP_X_FORWARDED_FOR", b"203.0.113.9, 10.0.0.1");
        assert_eq!(client_addr(&v, false), b"127.0.0.1");
        assert_eq!(client_addr(&v, true), b"203.0.113.9, 10.0.0.1");
        let mut l = line(&v);
        l.remote_addr = client_addr(&v, true);
        let mut buf = Vec::new();
        LogFormat::parse("%(addr)", None).render(&l, &mut buf);
        assert_eq!(buf, b"203.0.113.9, 10.0.0.1\n");
    }

    #[test]
    fn ftime_uses_the_log_date_format_else_ltime() {
        let v = vars();
        let mut with_format = Vec::new();
        LogFormat::parse("%(ftime)", Some("%Y!")).render(&line(&v), &mut with_format);
        assert!(
            with_format == b"2023!\n" || with_format == b"2024!\n",
            "{with_format:?}"
        );
        let (mut ftime, mut ltime) = (Vec::new(), Vec::new());
        LogFormat::parse("%(ftime)", None).render(&line(&v), &mut ftime);
        LogFormat::parse("%(ltime)", None).render(&line(&v), &mut ltime);
        assert_eq!(ftime, ltime);
    }

    #[test]
    fn default_line_has_uwsgis_shape() {
        let v = vars();
        let mut buf = Vec::new();
        render_default(&line(&v), false, &mut Clock::default(), &mut buf);
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.starts_with("[pid: 77|app: 0|req: 5/5] 127.0.0.1 () {7 vars in 133 bytes} ["),
            "{text}"
        );
        assert!(
            text.ends_with(
                "] POST /a?b=1 => generated 50 bytes in 2 msecs (HTTP/1.1 201) 3 headers in 100 \
                 bytes (1 switches on core 1)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn log_format_shows_the_logvars_the_app_set_until_the_request_ends() {
        let f = LogFormat::parse("tenant=%(tenant) other=%(other)", None);
        let v = vars();
        uwsgi_module::store_logvar(b"tenant", b"bob");
        let mut buf = Vec::new();
        f.render(&line(&v), &mut buf);
        assert_eq!(buf, b"tenant=bob other=-\n");
        uwsgi_module::end_request();
        buf.clear();
        f.render(&line(&v), &mut buf);
        assert_eq!(buf, b"tenant=- other=-\n");
    }
}
