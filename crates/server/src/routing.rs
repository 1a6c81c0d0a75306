//! uWSGI's internal routing, evaluated: the rules (`--route*`, parsed by
//! `rwsgi_config::routing`) run in order over one request's vars and say what happens to it,
//! as pure code. The worker (`worker/routing.rs`) runs them once per request, only when there
//! are rules, before static files and the app, and carries the [`Routed`] result out: response
//! headers to add or drop, no log line, or a response of the router's own instead of the app's.
//!
//! As in uWSGI: a rule whose match fails goes on to the next; `continue:`/`last:` ends the
//! rules and the request goes on; `break:`, `return:` and the redirects end the request with
//! their response; `addheader:`, `delheader:`, `donotlog:`, `log:` and `goto:` go on to the next
//! rule. `goto:` only jumps forward (backwards, the request is closed, as uWSGI does).

use regex::bytes::CaptureLocations;
use rwsgi_config::routing::{Condition, Piece, Template, VarFunc, When};
use rwsgi_config::{Route, RouteAction};

/// What the rules read from the request.
pub(crate) trait RequestView {
    /// A request var (`PATH_INFO`, `HTTP_HOST`, ...).
    fn var(&self, name: &[u8]) -> Option<&[u8]>;
}

impl RequestView for rwsgi_wsgi::RequestVars {
    fn var(&self, name: &[u8]) -> Option<&[u8]> {
        self.get(name)
    }
}

/// What a path names, for `exists:`, `isfile:`, `isdir:`, `islink:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathType {
    /// Nothing.
    Missing,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Something else (a socket, a device).
    Other,
}

/// The machine facts the rules may read: the file system, the process, the time.
pub(crate) trait RouteEnv {
    /// What `path` names, following symlinks; and whether `path` itself is a symlink.
    fn path_type(&self, path: &[u8]) -> (PathType, bool);
    /// The worker's id.
    fn wid(&self) -> u32;
    /// The process id.
    fn pid(&self) -> u32;
    /// Microseconds since the epoch.
    fn now_micros(&self) -> u64;
}

/// A response of the router's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Canned {
    /// `break:` without a status: close the connection, send nothing.
    Close,
    /// A response: status line (`302 Found`), header lines (`Name: value\r\n`...), body.
    Respond {
        status: Vec<u8>,
        headers: Vec<u8>,
        body: &'static [u8],
        /// `Connection: close` (`break:STATUS`, as uWSGI sends it).
        close: bool,
    },
}

/// What the rules decided for one request. Reused by a core from request to request.
#[derive(Debug, Default)]
pub(crate) struct Routed {
    /// Header lines the response gets (`addheader:`), rendered `Name: value\r\n`.
    pub headers: Vec<u8>,
    /// Names of the app's headers to drop (`delheader:`), as written.
    pub remove: Vec<Vec<u8>>,
    /// `donotlog:` ran.
    pub no_log: bool,
    /// The router answers the request itself.
    pub response: Option<Canned>,
    /// `log:` lines, in order (without the newline).
    pub log_lines: Vec<Vec<u8>>,
}

impl Routed {
    /// Forgets the previous request's result (keeping the allocations).
    pub(crate) fn clear(&mut self) {
        self.headers.clear();
        self.remove.clear();
        self.no_log = false;
        self.response = None;
        self.log_lines.clear();
    }
}

/// The text and capture positions a rule's action reads `$N` from.
struct Captures<'s> {
    subject: &'s [u8],
    locs: Option<CaptureLocations>,
}

impl Captures<'_> {
    fn none() -> Captures<'static> {
        Captures {
            subject: b"",
            locs: None,
        }
    }

    fn get(&self, n: usize) -> &[u8] {
        match &self.locs {
            Some(l) => l
                .get(n)
                .and_then(|(a, b)| self.subject.get(a..b))
                .unwrap_or(b""),
            None => b"",
        }
    }
}

/// The type of `break:` and `return:` responses (a redirect has none, as in uWSGI).
const TEXT_PLAIN: &[u8] = b"Content-Type: text/plain\r\n";

/// Runs `rules` over the request; the result is in `out` (cleared first).
pub(crate) fn evaluate(
    rules: &[Route],
    req: &impl RequestView,
    env: &impl RouteEnv,
    out: &mut Routed,
) {
    out.clear();
    let mut pc = 0;
    let mut cond_subject = Vec::new();
    while pc < rules.len() {
        let rule = &rules[pc];
        let caps = match &rule.when {
            When::Label(_) => {
                pc += 1;
                continue;
            }
            When::Always => Some(Captures::none()),
            When::Match { subject, pattern } => {
                let hay = req.var(subject.var()).unwrap_or(b"");
                if rule.uses_captures {
                    let mut locs = pattern.regex().capture_locations();
                    pattern
                        .regex()
                        .captures_read(&mut locs, hay)
                        .map(|_| Captures {
                            subject: hay,
                            locs: Some(locs),
                        })
                } else {
                    // No `$N` in the action: a match is all it takes (no capture slots).
                    pattern.regex().is_match(hay).then(Captures::none)
                }
            }
            When::If { condition, negate } => {
                cond_subject.clear();
                check(condition, *negate, req, env, &mut cond_subject).map(|locs| Captures {
                    subject: &cond_subject,
                    locs,
                })
            }
        };
        let Some(caps) = caps else {
            pc += 1;
            continue;
        };
        match &rule.action {
            RouteAction::Continue => return,
            RouteAction::Break(None) => {
                out.response = Some(Canned::Close);
                return;
            }
            RouteAction::Break(Some(status)) => {
                out.response = Some(Canned::Respond {
                    status: status.as_bytes().to_vec(),
                    headers: TEXT_PLAIN.to_vec(),
                    body: b"",
                    close: true,
                });
                return;
            }
            RouteAction::Return(code, reason) => {
                out.response = Some(Canned::Respond {
                    status: format!("{code} {reason}").into_bytes(),
                    headers: TEXT_PLAIN.to_vec(),
                    body: reason.as_bytes(),
                    close: false,
                });
                return;
            }
            RouteAction::Redirect { permanent, to } => {
                let mut headers = b"Location: ".to_vec();
                expand_header_value(to, &caps, req, env, &mut headers);
                headers.extend_from_slice(b"\r\n");
                let (status, body): (&[u8], &'static [u8]) = if *permanent {
                    (b"301 Moved Permanently", b"Moved Permanently")
                } else {
                    (b"302 Found", b"Moved")
                };
                out.response = Some(Canned::Respond {
                    status: status.to_vec(),
                    headers,
                    body,
                    close: false,
                });
                return;
            }
            RouteAction::AddHeader(t) => add_header(t, &caps, req, env, out, false),
            RouteAction::SetHeader(t) => add_header(t, &caps, req, env, out, true),
            RouteAction::DelHeader(t) => {
                let mut name = Vec::new();
                expand_header_value(t, &caps, req, env, &mut name);
                out.remove.push(name);
            }
            RouteAction::DoNotLog => out.no_log = true,
            RouteAction::Log(t) => {
                let mut line = Vec::new();
                expand_header_value(t, &caps, req, env, &mut line);
                out.log_lines.push(line);
            }
            RouteAction::Goto(t) => {
                let mut label = Vec::new();
                expand(t, &caps, req, env, &mut label);
                match goto_target(rules, &label) {
                    Some(target) if target > pc => {
                        pc = target;
                        continue;
                    }
                    _ => {
                        out.log_lines.push(
                            b"[uwsgi-route] ERROR \"goto\" instruction can only jump forward \
                              (check your label !!!)"
                                .to_vec(),
                        );
                        out.response = Some(Canned::Close);
                        return;
                    }
                }
            }
        }
        pc += 1;
    }
}

/// The position of the label named `label`, or, as uWSGI reads a `goto:` naming no label,
/// the rule at that number.
fn goto_target(rules: &[Route], label: &[u8]) -> Option<usize> {
    rules
        .iter()
        .position(|r| matches!(&r.when, When::Label(l) if l.as_bytes() == label))
        .or_else(|| std::str::from_utf8(label).ok()?.trim().parse().ok())
}

/// Adds `Name: value` (dropping the app's `Name` headers first for `setheader:`); a value
/// that is no header line is skipped.
fn add_header(
    t: &Template,
    caps: &Captures<'_>,
    req: &impl RequestView,
    env: &impl RouteEnv,
    out: &mut Routed,
    replace: bool,
) {
    let start = out.headers.len();
    expand_header_value(t, caps, req, env, &mut out.headers);
    let line = &out.headers[start..];
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        out.headers.truncate(start);
        return;
    };
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(u8::is_ascii_graphic) {
        out.headers.truncate(start);
        return;
    }
    if replace {
        out.remove.push(name.to_vec());
    }
    out.headers.extend_from_slice(b"\r\n");
}

/// [`expand`], dropping CR and LF (a request var must not end a header line early).
fn expand_header_value(
    t: &Template,
    caps: &Captures<'_>,
    req: &impl RequestView,
    env: &impl RouteEnv,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    expand(t, caps, req, env, out);
    let mut kept = start;
    for i in start..out.len() {
        let b = out[i];
        if b != b'\r' && b != b'\n' {
            out[kept] = b;
            kept += 1;
        }
    }
    out.truncate(kept);
}

/// Appends `t` with its captures and vars filled in.
fn expand(
    t: &Template,
    caps: &Captures<'_>,
    req: &impl RequestView,
    env: &impl RouteEnv,
    out: &mut Vec<u8>,
) {
    for piece in &t.0 {
        match piece {
            Piece::Text(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Capture(n) => out.extend_from_slice(caps.get(*n)),
            Piece::Var(name) => out.extend_from_slice(req.var(name.as_bytes()).unwrap_or(b"")),
            Piece::Func(func, arg) => func_value(*func, arg, req, env, out),
        }
    }
}

/// `${func[arg]}`.
fn func_value(
    func: VarFunc,
    arg: &str,
    req: &impl RequestView,
    env: &impl RouteEnv,
    out: &mut Vec<u8>,
) {
    let var = |name: &[u8]| req.var(name).unwrap_or(b"");
    match func {
        VarFunc::Qs => {
            let qs = var(b"QUERY_STRING");
            if let Some(v) = pair_value(qs.split(|&b| b == b'&'), arg.as_bytes()) {
                out.extend_from_slice(v);
            }
        }
        VarFunc::Cookie => {
            let cookies = var(b"HTTP_COOKIE");
            let items = cookies.split(|&b| b == b';').map(|c| c.trim_ascii_start());
            if let Some(v) = pair_value(items, arg.as_bytes()) {
                out.extend_from_slice(v);
            }
        }
        VarFunc::Upper => out.extend(var(arg.as_bytes()).iter().map(u8::to_ascii_uppercase)),
        VarFunc::Lower => out.extend(var(arg.as_bytes()).iter().map(u8::to_ascii_lowercase)),
        VarFunc::Hex => {
            for b in var(arg.as_bytes()) {
                out.extend_from_slice(format!("{b:02X}").as_bytes());
            }
        }
        VarFunc::Uwsgi => match arg {
            "wid" => out.extend_from_slice(env.wid().to_string().as_bytes()),
            "pid" => out.extend_from_slice(env.pid().to_string().as_bytes()),
            _ => {}
        },
        VarFunc::Time => match arg {
            "unix" => out.extend_from_slice((env.now_micros() / 1_000_000).to_string().as_bytes()),
            "micros" => out.extend_from_slice(env.now_micros().to_string().as_bytes()),
            _ => {}
        },
    }
}

/// The value of the first `key=value` item whose key is `key`.
fn pair_value<'a>(items: impl Iterator<Item = &'a [u8]>, key: &[u8]) -> Option<&'a [u8]> {
    items
        .filter_map(|item| {
            let eq = item.iter().position(|&b| b == b'=')?;
            (&item[..eq] == key).then(|| &item[eq + 1..])
        })
        .next()
}

/// Whether a condition selects the rule (`Some`); a `regexp:` condition's captures come with
/// it (their subject is left in `subject`).
fn check(
    condition: &Condition,
    negate: bool,
    req: &impl RequestView,
    env: &impl RouteEnv,
    subject: &mut Vec<u8>,
) -> Option<Option<CaptureLocations>> {
    let none = Captures::none();
    let val = |t: &Template| {
        let mut v = Vec::new();
        expand(t, &none, req, env, &mut v);
        v
    };
    let num = |t: &Template| strtol(&val(t));
    let path = |t: &Template| env.path_type(&val(t));
    let mut locs = None;
    let holds = match condition {
        Condition::Equal(a, b) => val(a) == val(b),
        Condition::StartsWith(a, b) => val(a).starts_with(&val(b)),
        Condition::EndsWith(a, b) => val(a).ends_with(&val(b)),
        Condition::Contains(a, b) => {
            let (a, b) = (val(a), val(b));
            b.is_empty() || a.windows(b.len()).any(|w| w == b.as_slice())
        }
        Condition::Regexp(a, pattern) => {
            expand(a, &none, req, env, subject);
            let mut l = pattern.regex().capture_locations();
            let found = pattern.regex().captures_read(&mut l, subject).is_some();
            if found && !negate {
                locs = Some(l);
            }
            found
        }
        Condition::Empty(a) => val(a).is_empty(),
        Condition::Higher(a, b) => num(a) > num(b),
        Condition::HigherEqual(a, b) => num(a) >= num(b),
        Condition::Lower(a, b) => num(a) < num(b),
        Condition::LowerEqual(a, b) => num(a) <= num(b),
        Condition::Exists(a) => path(a).0 != PathType::Missing,
        Condition::IsFile(a) => path(a).0 == PathType::File,
        Condition::IsDir(a) => path(a).0 == PathType::Dir,
        Condition::IsLink(a) => path(a).1,
        Condition::Ipv4In(a, b) => in_network::<4>(&val(a), &val(b)),
        Condition::Ipv6In(a, b) => in_network::<16>(&val(a), &val(b)),
    };
    (holds != negate).then_some(locs)
}

/// `ipv4in:` (`N` = 4) / `ipv6in:` (16): whether address `addr` is in `net[/prefix]` (no
/// prefix: the whole address). Anything that does not parse is not in.
fn in_network<const N: usize>(addr: &[u8], net: &[u8]) -> bool {
    fn octets<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
        let ip: std::net::IpAddr = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
        match ip {
            std::net::IpAddr::V4(v4) if N == 4 => v4.octets().as_slice().try_into().ok(),
            std::net::IpAddr::V6(v6) if N == 16 => v6.octets().as_slice().try_into().ok(),
            _ => None,
        }
    }
    let (net, prefix) = match net.iter().position(|&b| b == b'/') {
        Some(slash) => (&net[..slash], strtol(&net[slash + 1..])),
        None => (net, N as i64 * 8),
    };
    let (Some(addr), Some(net)) = (octets::<N>(addr), octets::<N>(net)) else {
        return false;
    };
    if !(0..=N as i64 * 8).contains(&prefix) {
        return false;
    }
    let mut bits = prefix as usize;
    for (a, n) in addr.iter().zip(net.iter()) {
        let take = bits.min(8);
        let mask = if take == 0 { 0 } else { 0xffu8 << (8 - take) };
        if a & mask != n & mask {
            return false;
        }
        bits -= take;
    }
    true
}

/// The number at the start of `text`, as C's `strtol(text, NULL, 10)` reads it (0 for none).
fn strtol(text: &[u8]) -> i64 {
    let s = text.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// The real machine: the file system through `stat(2)`, this process, the clock.
pub(crate) struct LiveEnv {
    pub wid: u32,
    pub pid: u32,
}

impl RouteEnv for LiveEnv {
    fn path_type(&self, path: &[u8]) -> (PathType, bool) {
        use std::os::unix::ffi::OsStrExt;
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let kind = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => PathType::File,
            Ok(m) if m.is_dir() => PathType::Dir,
            Ok(_) => PathType::Other,
            Err(_) => PathType::Missing,
        };
        (kind, link)
    }
    fn wid(&self) -> u32 {
        self.wid
    }
    fn pid(&self) -> u32 {
        self.pid
    }
    fn now_micros(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_config::{RouteOption, Subject};
    use std::collections::HashMap;

    struct Req(HashMap<&'static str, &'static str>);

    impl RequestView for Req {
        fn var(&self, name: &[u8]) -> Option<&[u8]> {
            self.0
                .get(std::str::from_utf8(name).ok()?)
                .map(|v| v.as_bytes())
        }
    }

    struct Env;

    impl RouteEnv for Env {
        fn path_type(&self, path: &[u8]) -> (PathType, bool) {
            match path {
                b"/srv/file" => (PathType::File, false),
                b"/srv/dir" => (PathType::Dir, false),
                b"/srv/link" => (PathType::File, true),
                _ => (PathType::Missing, false),
            }
        }
        fn wid(&self) -> u32 {
            3
        }
        fn pid(&self) -> u32 {
            42
        }
        fn now_micros(&self) -> u64 {
            1_700_000_000_123_456
        }
    }

    fn req(pairs: &[(&'static str, &'static str)]) -> Req {
        Req(pairs.iter().copied().collect())
    }

    /// Rules as an ini would give them: `(option, value)`.
    fn rules(lines: &[(&str, &str)]) -> Vec<Route> {
        lines
            .iter()
            .map(|(opt, v)| {
                let option = match *opt {
                    "route" => RouteOption::Match(Subject::PathInfo),
                    "route-uri" => RouteOption::Match(Subject::RequestUri),
                    "route-host" => RouteOption::Match(Subject::Host),
                    "route-qs" => RouteOption::Match(Subject::QueryString),
                    "route-remote-addr" => RouteOption::Match(Subject::RemoteAddr),
                    "route-user-agent" => RouteOption::Match(Subject::UserAgent),
                    "route-if" => RouteOption::If { negate: false },
                    "route-if-not" => RouteOption::If { negate: true },
                    "route-run" => RouteOption::Run,
                    "route-label" => RouteOption::Label,
                    other => panic!("{other}"),
                };
                Route::parse(option, v).expect("rule")
            })
            .collect()
    }

    fn run(lines: &[(&str, &str)], r: &Req) -> Routed {
        let mut out = Routed::default();
        evaluate(&rules(lines), r, &Env, &mut out);
        out
    }

    fn respond(out: &Routed) -> (String, String, &'static [u8]) {
        match &out.response {
            Some(Canned::Respond {
                status,
                headers,
                body,
                ..
            }) => (
                String::from_utf8_lossy(status).into_owned(),
                String::from_utf8_lossy(headers).into_owned(),
                body,
            ),
            other => panic!("no response: {other:?}"),
        }
    }

    #[test]
    fn host_redirect_uses_the_capture_and_request_vars() {
        let r = req(&[
            ("HTTP_HOST", "www.example.com"),
            ("REQUEST_URI", "/a?b=1"),
            ("PATH_INFO", "/a"),
        ]);
        let out = run(
            &[(
                "route-host",
                r"^www\.(.*) redirect-301:https://$1${REQUEST_URI}",
            )],
            &r,
        );
        let (status, headers, body) = respond(&out);
        assert_eq!(status, "301 Moved Permanently");
        assert_eq!(headers, "Location: https://example.com/a?b=1\r\n");
        assert_eq!(body, b"Moved Permanently");
        // Another host does not match: the request goes on untouched.
        let r = req(&[("HTTP_HOST", "example.com"), ("REQUEST_URI", "/a")]);
        assert_eq!(
            run(&[("route-host", r"^www\.(.*) redirect-301:x")], &r).response,
            None
        );
    }

    #[test]
    fn route_if_equal_redirects_plain_http_only() {
        let rule = [(
            "route-if",
            "equal:${HTTP_X_FORWARDED_PROTO};http redirect-permanent:https://${HTTP_HOST}${REQUEST_URI}",
        )];
        let r = req(&[
            ("HTTP_X_FORWARDED_PROTO", "http"),
            ("HTTP_HOST", "h"),
            ("REQUEST_URI", "/x"),
        ]);
        assert_eq!(respond(&run(&rule, &r)).1, "Location: https://h/x\r\n");
        let r = req(&[("HTTP_X_FORWARDED_PROTO", "https"), ("HTTP_HOST", "h")]);
        assert_eq!(run(&rule, &r).response, None);
        // route-if-not inverts it.
        let not = [(
            "route-if-not",
            "equal:${HTTP_X_FORWARDED_PROTO};https redirect:/s",
        )];
        assert_eq!(respond(&run(&not, &req(&[]))).0, "302 Found");
        assert_eq!(run(&not, &r).response, None);
    }

    #[test]
    fn headers_and_donotlog_accumulate_and_last_stops_the_chain() {
        let lines = [
            ("route", "^/health donotlog:"),
            ("route", ".* addheader:X-Frame-Options: DENY"),
            ("route", "^/health last:"),
            ("route", ".* addheader:X-After: 1"),
            ("route", ".* return:404"),
        ];
        let out = run(&lines, &req(&[("PATH_INFO", "/health")]));
        assert!(out.no_log);
        assert_eq!(out.headers, b"X-Frame-Options: DENY\r\n");
        assert_eq!(out.response, None, "last: ends the rules before return:");
        let out = run(&lines, &req(&[("PATH_INFO", "/other")]));
        assert!(!out.no_log);
        assert_eq!(out.headers, b"X-Frame-Options: DENY\r\nX-After: 1\r\n");
        assert_eq!(
            respond(&out),
            (
                "404 Not Found".into(),
                "Content-Type: text/plain\r\n".into(),
                &b"Not Found"[..]
            )
        );
    }

    #[test]
    fn break_with_and_without_a_status() {
        let out = run(
            &[("route", "^/gone break:410")],
            &req(&[("PATH_INFO", "/gone")]),
        );
        assert!(matches!(
            out.response,
            Some(Canned::Respond { ref status, close: true, .. }) if status == b"410 Gone"
        ));
        let out = run(&[("route-run", "break:")], &req(&[]));
        assert_eq!(out.response, Some(Canned::Close));
    }

    #[test]
    fn conditions() {
        let r = req(&[
            ("PATH_INFO", "/static/app.css"),
            ("HTTP_USER_AGENT", "curl/8.0"),
            ("CONTENT_LENGTH", "1500"),
            ("DOCUMENT_ROOT", "/srv"),
            ("EMPTY", ""),
        ]);
        let holds = |cond: &str| {
            let rule = format!("{cond} addheader:X-Yes: 1");
            !run(&[("route-if", rule.as_str())], &r).headers.is_empty()
        };
        assert!(holds("startswith:${PATH_INFO};/static/"));
        assert!(!holds("startswith:${PATH_INFO};/media/"));
        assert!(holds("endswith:${PATH_INFO};.css"));
        assert!(holds("contains:${HTTP_USER_AGENT};curl"));
        assert!(!holds("contains:${HTTP_USER_AGENT};bot"));
        assert!(holds("empty:${EMPTY}"));
        assert!(holds("empty:${UNSET}"));
        assert!(!holds("empty:${PATH_INFO}"));
        assert!(holds("ishigher:${CONTENT_LENGTH};1000"));
        assert!(holds("islower:${CONTENT_LENGTH};2000"));
        assert!(holds("<=:1500;${CONTENT_LENGTH}"));
        assert!(holds("isfile:${DOCUMENT_ROOT}/file"));
        assert!(!holds("isfile:${DOCUMENT_ROOT}/dir"));
        assert!(holds("isdir:${DOCUMENT_ROOT}/dir"));
        assert!(holds("exists:/srv/link"));
        assert!(holds("islink:/srv/link"));
        assert!(!holds("exists:/srv/nope"));
        assert!(holds("regexp:${PATH_INFO};\\.(css|js)$"));
        assert!(holds("ipv4in:10.1.2.3;10.0.0.0/8"));
        assert!(!holds("ipv4in:11.1.2.3;10.0.0.0/8"));
        assert!(holds("ipv4in:192.168.1.77;192.168.1.64/26"));
        assert!(!holds("ipv4in:192.168.1.130;192.168.1.64/26"));
        assert!(holds("ipv4in:1.2.3.4;1.2.3.4"));
        assert!(holds("ipv4in:1.2.3.4;0.0.0.0/0"));
        assert!(!holds("ipv4in:1.2.3.4;1.2.3.0/33"));
        assert!(!holds("ipv4in:nope;1.2.3.0/24"));
        assert!(!holds("ipv4in:::1;::/0"));
        assert!(holds("ipv6in:2001:db8::1;2001:db8::/32"));
        assert!(!holds("ipv6in:2001:db9::1;2001:db8::/32"));
        assert!(holds("ipv6in:::1;::1"));
    }

    #[test]
    fn regexp_condition_captures_feed_the_action() {
        let out = run(
            &[(
                "route-if",
                "regexp:${PATH_INFO};^/user/(\\d+)$ addheader:X-User: $1",
            )],
            &req(&[("PATH_INFO", "/user/77")]),
        );
        assert_eq!(out.headers, b"X-User: 77\r\n");
    }

    #[test]
    fn route_var_functions() {
        let r = req(&[
            ("QUERY_STRING", "a=1&lang=it&b"),
            ("HTTP_COOKIE", "sid=abc; theme=dark"),
            ("PATH_INFO", "/Mixed"),
        ]);
        let out = run(
            &[(
                "route-run",
                "addheader:X-V: ${qs[lang]} ${cookie[theme]} ${upper[PATH_INFO]} ${lower[PATH_INFO]} \
                 ${hex[PATH_INFO]} ${uwsgi[wid]} ${uwsgi[pid]} ${time[unix]} ${qs[nope]}|",
            )],
            &r,
        );
        assert_eq!(
            String::from_utf8(out.headers).unwrap(),
            "X-V: it dark /MIXED /mixed 2F4D69786564 3 42 1700000000 |\r\n"
        );
    }

    #[test]
    fn goto_jumps_forward_to_a_label_and_refuses_backwards() {
        let lines = [
            ("route", "^/admin goto:admin"),
            ("route-run", "addheader:X-Public: 1"),
            ("route-run", "last:"),
            ("route-label", "admin"),
            ("route-run", "addheader:X-Admin: 1"),
        ];
        let out = run(&lines, &req(&[("PATH_INFO", "/admin/x")]));
        assert_eq!(out.headers, b"X-Admin: 1\r\n");
        let out = run(&lines, &req(&[("PATH_INFO", "/")]));
        assert_eq!(out.headers, b"X-Public: 1\r\n");
        let back = [("route-label", "top"), ("route-run", "goto:top")];
        let out = run(&back, &req(&[]));
        assert_eq!(out.response, Some(Canned::Close));
        assert!(String::from_utf8_lossy(&out.log_lines[0]).contains("only jump forward"));
    }

    #[test]
    fn delheader_setheader_and_log() {
        let out = run(
            &[
                ("route-run", "delheader:Server"),
                ("route-run", "setheader:X-Powered-By: rwsgi"),
                ("route-uri", "^/(.*)$ log:saw $1 from ${REMOTE_ADDR}"),
            ],
            &req(&[("REQUEST_URI", "/p?q"), ("REMOTE_ADDR", "127.0.0.1")]),
        );
        assert_eq!(
            out.remove,
            vec![b"Server".to_vec(), b"X-Powered-By".to_vec()]
        );
        assert_eq!(out.headers, b"X-Powered-By: rwsgi\r\n");
        assert_eq!(out.log_lines, vec![b"saw p?q from 127.0.0.1".to_vec()]);
    }

    #[test]
    fn expanded_values_cannot_split_a_header() {
        let out = run(
            &[
                ("route-run", "addheader:X-A: ${EVIL}"),
                ("route-run", "redirect:/${EVIL}"),
            ],
            &req(&[("EVIL", "a\r\nSet-Cookie: x=1")]),
        );
        assert_eq!(out.headers, b"X-A: aSet-Cookie: x=1\r\n");
        assert_eq!(respond(&out).1, "Location: /aSet-Cookie: x=1\r\n");
    }

    #[test]
    fn other_subjects() {
        let r = req(&[
            ("QUERY_STRING", "debug=1"),
            ("REMOTE_ADDR", "10.0.0.5"),
            ("HTTP_USER_AGENT", "BadBot/1.0"),
        ]);
        assert!(run(&[("route-qs", "debug=1 return:403")], &r)
            .response
            .is_some());
        assert!(run(&[("route-remote-addr", r"^10\. return:403")], &r)
            .response
            .is_some());
        assert!(run(&[("route-user-agent", "BadBot return:403")], &r)
            .response
            .is_some());
        assert!(run(&[("route-user-agent", "GoodBot return:403")], &r)
            .response
            .is_none());
    }

    /// Request vars a client controls, owned (the proptest's request).
    struct Owned(Vec<(&'static str, Vec<u8>)>);

    impl RequestView for Owned {
        fn var(&self, name: &[u8]) -> Option<&[u8]> {
            self.0
                .iter()
                .find(|(k, _)| k.as_bytes() == name)
                .map(|(_, v)| v.as_slice())
        }
    }

    proptest::proptest! {
        /// Whatever the client sends, the rules never panic, and what they render stays
        /// well-formed: header lines `Name: value\r\n` with no other CR or LF.
        #[test]
        fn any_request_gives_well_formed_headers(
            path in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            host in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
            qs in "[a-z=&\r\n%;]{0,20}",
            cookie in "[a-z=; \r\n]{0,20}",
        ) {
            let lines = [
                ("route", "^/(.*)/(.*)$ addheader:X-Parts: $1 $2 $9"),
                ("route-host", "^(.*)$ addheader:X-Host: $1"),
                ("route-run", "addheader:${qs[a]}: ${cookie[b]}"),
                ("route-run", "setheader:X-Q: ${QUERY_STRING}${hex[HTTP_HOST]}"),
                ("route-if", "regexp:${QUERY_STRING};^(\\w+)=(.*) log:$1 $2"),
                ("route-if", "contains:${PATH_INFO};z goto:end"),
                ("route-if-not", "empty:${HTTP_COOKIE} delheader:${cookie[c]}"),
                ("route-if", "startswith:${PATH_INFO};/r redirect:${REQUEST_URI}$1"),
                ("route-label", "end"),
                ("route", "^/x return:404"),
            ];
            let uri = [path.as_slice(), b"?", qs.as_bytes()].concat();
            let r = Owned(vec![
                ("PATH_INFO", path),
                ("HTTP_HOST", host),
                ("QUERY_STRING", qs.into_bytes()),
                ("HTTP_COOKIE", cookie.into_bytes()),
                ("REQUEST_URI", uri),
            ]);
            let mut out = Routed::default();
            evaluate(&rules(&lines), &r, &Env, &mut out);
            let well_formed = |block: &[u8]| {
                block.split(|&b| b == b'\n').filter(|l| !l.is_empty()).all(|l| {
                    l.ends_with(b"\r")
                        && !l[..l.len() - 1].contains(&b'\r')
                        && l.iter().position(|&b| b == b':').is_some_and(|c| c > 0)
                })
            };
            proptest::prop_assert!(well_formed(&out.headers), "{:?}", String::from_utf8_lossy(&out.headers));
            if let Some(Canned::Respond { headers, .. }) = &out.response {
                proptest::prop_assert!(well_formed(headers));
            }
            for line in &out.log_lines {
                proptest::prop_assert!(!line.contains(&b'\n'));
            }
        }
    }

    #[test]
    fn strtol_reads_like_c() {
        assert_eq!(strtol(b"  42abc"), 42);
        assert_eq!(strtol(b"-7"), -7);
        assert_eq!(strtol(b"x"), 0);
        assert_eq!(strtol(b""), 0);
    }
}
