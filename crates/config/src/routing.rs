//! uWSGI's internal routing rules (`route`, `route-uri`, `route-host`, `route-if`, ...), parsed
//! into [`Route`]s: the subset of uWSGI 2.0's routers and conditions rwsgi runs. Parsing is
//! pure; the server evaluates the rules against each request's vars (`server/src/routing.rs`).
//!
//! A rule is `REGEXP ACTION:ARGS` (split at the first space), `CONDITION:ARGS ACTION:ARGS` for
//! `route-if` / `route-if-not`, `ACTION:ARGS` for `route-run`, and a bare name for
//! `route-label`. In the arguments `$1`..`$9` are the regexp's captures and `${VAR}` a request
//! var (`${HTTP_HOST}`, `${REQUEST_URI}`), with uWSGI's `${qs[key]}`, `${cookie[name]}`,
//! `${upper[VAR]}`, `${lower[VAR]}`, `${hex[VAR]}`, `${uwsgi[wid|pid]}`, `${time[unix|micros]}`.

use std::fmt;

use regex::bytes::Regex;

/// What a `route*` option matches its regexp against (a request var).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `route`: `PATH_INFO`.
    PathInfo,
    /// `route-uri`: `REQUEST_URI`.
    RequestUri,
    /// `route-host`: `HTTP_HOST`.
    Host,
    /// `route-qs`: `QUERY_STRING`.
    QueryString,
    /// `route-remote-addr`: `REMOTE_ADDR`.
    RemoteAddr,
    /// `route-user-agent`: `HTTP_USER_AGENT`.
    UserAgent,
    /// `route-referer`: `HTTP_REFERER`.
    Referer,
    /// `route-remote-user`: `REMOTE_USER`.
    RemoteUser,
}

impl Subject {
    /// The request var the regexp is matched against.
    pub fn var(self) -> &'static [u8] {
        match self {
            Subject::PathInfo => b"PATH_INFO",
            Subject::RequestUri => b"REQUEST_URI",
            Subject::Host => b"HTTP_HOST",
            Subject::QueryString => b"QUERY_STRING",
            Subject::RemoteAddr => b"REMOTE_ADDR",
            Subject::UserAgent => b"HTTP_USER_AGENT",
            Subject::Referer => b"HTTP_REFERER",
            Subject::RemoteUser => b"REMOTE_USER",
        }
    }
}

/// Which routing option a value was given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOption {
    /// `route`, `route-uri`, ...: `REGEXP ACTION:ARGS`.
    Match(Subject),
    /// `route-if` (`false`) / `route-if-not` (`true`): `CONDITION:ARGS ACTION:ARGS`.
    If {
        /// `route-if-not`.
        negate: bool,
    },
    /// `route-run`: `ACTION:ARGS`, always.
    Run,
    /// `route-label`: a name `goto:` jumps to.
    Label,
}

/// A compiled regexp (Rust `regex` syntax, which covers the PCRE that routing rules use, PCRE's
/// literal braces read as PCRE does; look-around and back-references are refused at start-up). Compared by its source.
#[derive(Clone)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compiles `source`.
    pub fn new(source: &str) -> Result<Pattern, String> {
        Regex::new(&crate::pcre::literal_braces(source))
            .map(Pattern)
            .map_err(|e| format!("invalid regexp '{source}': {e}"))
    }

    /// The compiled regexp.
    pub fn regex(&self) -> &Regex {
        &self.0
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.0.as_str())
    }
}

/// uWSGI's route var functions: `${NAME[ARG]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarFunc {
    /// `${qs[key]}`: the first `key=` value of `QUERY_STRING` (as written, not decoded).
    Qs,
    /// `${cookie[name]}`: the cookie's value from `HTTP_COOKIE`.
    Cookie,
    /// `${upper[VAR]}`: the var in upper case (ASCII).
    Upper,
    /// `${lower[VAR]}`: the var in lower case (ASCII).
    Lower,
    /// `${hex[VAR]}`: the var's bytes in hexadecimal (upper case, as uWSGI writes it).
    Hex,
    /// `${uwsgi[wid]}` / `${uwsgi[pid]}`: the worker's id or pid.
    Uwsgi,
    /// `${time[unix]}` / `${time[micros]}`: the time now, in seconds or microseconds.
    Time,
}

impl VarFunc {
    fn parse(name: &str) -> Option<VarFunc> {
        Some(match name {
            "qs" => VarFunc::Qs,
            "cookie" => VarFunc::Cookie,
            "upper" => VarFunc::Upper,
            "lower" => VarFunc::Lower,
            "hex" => VarFunc::Hex,
            "uwsgi" => VarFunc::Uwsgi,
            "time" => VarFunc::Time,
            _ => return None,
        })
    }
}

/// uWSGI's route var functions rwsgi does not have (refused rather than read as empty).
const UNSUPPORTED_FUNCS: &[&str] = &["mime", "httptime", "base64"];

/// One piece of an argument: text, a capture, or a var.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// `$0`..`$9`: a capture of the rule's regexp (empty when there is none).
    Capture(usize),
    /// `${VAR}`: a request var (empty when unset).
    Var(String),
    /// `${func[arg]}`.
    Func(VarFunc, String),
}

/// An argument with its `$N` and `${...}` parts, expanded per request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template(pub Vec<Piece>);

impl Template {
    /// Reads `$N` and `${...}` in `text` as uWSGI does: `$` with the character after it (when
    /// that is no digit or `{`), and a `${` never closed, stay as written; a `$` ending the text
    /// is dropped. (uWSGI expands `${...}` again inside what a capture
    /// brought in; rwsgi expands only what the config wrote.)
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            lit.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let next = after.chars().next();
            match next {
                Some(d) if d.is_ascii_digit() => {
                    flush(&mut lit, &mut pieces);
                    pieces.push(Piece::Capture(usize::from(d as u8 - b'0')));
                    rest = &after[1..];
                }
                Some('{') => match after[1..].find('}') {
                    Some(end) => {
                        flush(&mut lit, &mut pieces);
                        pieces.push(var_piece(&after[1..1 + end])?);
                        rest = &after[2 + end..];
                    }
                    None => {
                        lit.push('$');
                        rest = after;
                    }
                },
                // `$` and the character after it stay as written (that one starts nothing).
                Some(other) => {
                    lit.push('$');
                    lit.push(other);
                    rest = &after[other.len_utf8()..];
                }
                // A `$` at the very end is dropped, as uWSGI does.
                None => rest = after,
            }
        }
        lit.push_str(rest);
        flush(&mut lit, &mut pieces);
        Ok(Template(pieces))
    }

    /// The text as written when it has no `$` part.
    pub fn literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }
}

fn flush(lit: &mut String, pieces: &mut Vec<Piece>) {
    if !lit.is_empty() {
        pieces.push(Piece::Text(std::mem::take(lit)));
    }
}

/// `KEY` or `func[arg]` between `${` and `}`.
fn var_piece(key: &str) -> Result<Piece, String> {
    if let (Some(open), true) = (key.find('['), key.ends_with(']')) {
        let (name, arg) = (&key[..open], &key[open + 1..key.len() - 1]);
        if let Some(func) = VarFunc::parse(name) {
            return Ok(Piece::Func(func, arg.to_string()));
        }
        if UNSUPPORTED_FUNCS.contains(&name) {
            return Err(format!(
                "route var '${{{name}[...]}}' is not supported by rwsgi (qs, cookie, upper, \
                 lower, hex, uwsgi, time are)"
            ));
        }
    }
    Ok(Piece::Var(key.to_string()))
}

/// A `route-if` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `equal:A;B` (also `isequal`, `eq`, `==`).
    Equal(Template, Template),
    /// `startswith:A;B`.
    StartsWith(Template, Template),
    /// `endswith:A;B`.
    EndsWith(Template, Template),
    /// `contains:A;B` (also `contain`).
    Contains(Template, Template),
    /// `regexp:A;REGEXP` (also `re`): its captures are `$1`.. in the action.
    Regexp(Template, Pattern),
    /// `empty:A`.
    Empty(Template),
    /// `ishigher:A;B` (`>`), numbers read as `strtol` does.
    Higher(Template, Template),
    /// `ishigherequal:A;B` (`>=`).
    HigherEqual(Template, Template),
    /// `islower:A;B` (`<`).
    Lower(Template, Template),
    /// `islowerequal:A;B` (`<=`).
    LowerEqual(Template, Template),
    /// `exists:PATH`.
    Exists(Template),
    /// `isfile:PATH`.
    IsFile(Template),
    /// `isdir:PATH`.
    IsDir(Template),
    /// `islink:PATH`.
    IsLink(Template),
    /// `ipv4in:ADDR;NET[/PREFIX]` (a missing prefix is /32).
    Ipv4In(Template, Template),
    /// `ipv6in:ADDR;NET[/PREFIX]` (a missing prefix is /128).
    Ipv6In(Template, Template),
}

impl Condition {
    fn parse(name: &str, args: &str) -> Result<Condition, String> {
        let two = |args: &str| -> Result<(Template, Template), String> {
            let (a, b) = args.split_once(';').ok_or_else(|| {
                format!("route condition '{name}' needs two values: '{name}:A;B'")
            })?;
            Ok((Template::parse(a)?, Template::parse(b)?))
        };
        let one = |args: &str| Template::parse(args);
        Ok(match name {
            "equal" | "isequal" | "eq" | "==" => {
                let (a, b) = two(args)?;
                Condition::Equal(a, b)
            }
            "startswith" => {
                let (a, b) = two(args)?;
                Condition::StartsWith(a, b)
            }
            "endswith" => {
                let (a, b) = two(args)?;
                Condition::EndsWith(a, b)
            }
            "contains" | "contain" => {
                let (a, b) = two(args)?;
                Condition::Contains(a, b)
            }
            "regexp" | "re" => {
                let (a, re) = args.split_once(';').ok_or_else(|| {
                    format!(
                        "route condition '{name}' needs a value and a regexp: '{name}:A;REGEXP'"
                    )
                })?;
                Condition::Regexp(Template::parse(a)?, Pattern::new(re)?)
            }
            "empty" => Condition::Empty(one(args)?),
            "ishigher" | ">" => {
                let (a, b) = two(args)?;
                Condition::Higher(a, b)
            }
            "ishigherequal" | ">=" => {
                let (a, b) = two(args)?;
                Condition::HigherEqual(a, b)
            }
            "islower" | "<" => {
                let (a, b) = two(args)?;
                Condition::Lower(a, b)
            }
            "islowerequal" | "<=" => {
                let (a, b) = two(args)?;
                Condition::LowerEqual(a, b)
            }
            "exists" => Condition::Exists(one(args)?),
            "isfile" => Condition::IsFile(one(args)?),
            "isdir" => Condition::IsDir(one(args)?),
            "islink" => Condition::IsLink(one(args)?),
            "ipv4in" => {
                let (a, b) = two(args)?;
                Condition::Ipv4In(a, b)
            }
            "ipv6in" => {
                let (a, b) = two(args)?;
                Condition::Ipv6In(a, b)
            }
            other => {
                return Err(format!(
                    "route condition '{other}' is not supported by rwsgi (equal, startswith, \
                     endswith, contains, regexp, empty, ishigher, islower, ishigherequal, \
                     islowerequal, exists, isfile, isdir, islink, ipv4in, ipv6in are)"
                ))
            }
        })
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// `continue:` / `last:`: stop routing; the request goes on (static files, the app).
    Continue,
    /// `break:[STATUS]`: stop the request; with a status (`404`, `403 Forbidden`), send it
    /// with no body and close the connection; without one, just close.
    Break(Option<String>),
    /// `return:CODE` / `break-with-status:CODE`: send `CODE Reason` with the reason as a
    /// `text/plain` body.
    Return(u16, &'static str),
    /// `redirect:URL` / `redirect-302:URL` (302 Found), `redirect-permanent:URL` /
    /// `redirect-301:URL` (301 Moved Permanently).
    Redirect {
        /// 301 rather than 302.
        permanent: bool,
        /// The `Location`.
        to: Template,
    },
    /// `addheader:Name: value`: add a header to the response (the app's or the router's).
    AddHeader(Template),
    /// `delheader:Name` / `remheader:Name`: drop the app's headers of that name.
    DelHeader(Template),
    /// `setheader:Name: value` (rwsgi's shorthand for `delheader:Name` then `addheader:...`;
    /// uWSGI 2.0 has no such action).
    SetHeader(Template),
    /// `donotlog:`: no request log line for this request.
    DoNotLog,
    /// `log:TEXT`: a log line.
    Log(Template),
    /// `goto:LABEL`: go on at the `route-label` of that name (forward only).
    Goto(Template),
}

/// The actions rwsgi runs, for the error naming one it does not.
const SUPPORTED_ACTIONS: &str = "continue, last, break, return, break-with-status, redirect, \
    redirect-302, redirect-permanent, redirect-301, addheader, delheader, remheader, setheader, \
    donotlog, log, goto";

impl RouteAction {
    /// `ACTION:ARGS`.
    pub fn parse(text: &str) -> Result<RouteAction, String> {
        let Some((name, args)) = text.split_once(':') else {
            return Err(format!(
                "invalid route syntax '{text}': the action must be 'action:args'"
            ));
        };
        Ok(match name {
            "continue" | "last" => RouteAction::Continue,
            "break" => {
                let status = args.trim();
                if status.is_empty() {
                    RouteAction::Break(None)
                } else {
                    let (code, reason) = status_line(status)?;
                    RouteAction::Break(Some(if reason.is_empty() {
                        format!("{code} {}", reason_phrase(code).unwrap_or(""))
                            .trim_end()
                            .to_string()
                    } else {
                        format!("{code} {reason}")
                    }))
                }
            }
            "return" | "break-with-status" => {
                let (code, _) = status_line(args.trim())?;
                let reason = reason_phrase(code).ok_or_else(|| {
                    format!("route action '{name}': {code} is not an HTTP status uWSGI knows")
                })?;
                RouteAction::Return(code, reason)
            }
            "redirect" | "redirect-302" => RouteAction::Redirect {
                permanent: false,
                to: Template::parse(args)?,
            },
            "redirect-permanent" | "redirect-301" => RouteAction::Redirect {
                permanent: true,
                to: Template::parse(args)?,
            },
            "addheader" | "setheader" => {
                let t = Template::parse(args)?;
                if let Some(text) = t.literal() {
                    header_line(text)?;
                }
                if name == "addheader" {
                    RouteAction::AddHeader(t)
                } else {
                    RouteAction::SetHeader(t)
                }
            }
            "delheader" | "remheader" => RouteAction::DelHeader(Template::parse(args.trim())?),
            "donotlog" => RouteAction::DoNotLog,
            "log" => RouteAction::Log(Template::parse(args)?),
            "goto" => RouteAction::Goto(Template::parse(args.trim())?),
            other => {
                return Err(format!(
                "route action '{other}' is not supported by rwsgi (supported: {SUPPORTED_ACTIONS})"
            ))
            }
        })
    }
}

/// `CODE` or `CODE reason`, the code three digits.
fn status_line(text: &str) -> Result<(u16, &str), String> {
    let (code, reason) = text.split_once(' ').unwrap_or((text, ""));
    match code.parse::<u16>() {
        Ok(c) if code.len() == 3 && (100..=999).contains(&c) => Ok((c, reason.trim())),
        _ => Err(format!(
            "'{text}' is not an HTTP status (a three-digit code)"
        )),
    }
}

/// `Name: value`, as a header line must be.
pub fn header_line(text: &str) -> Result<(&str, &str), String> {
    match text.split_once(':') {
        Some((name, value))
            if !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_graphic())
                && !value.bytes().any(|b| b == b'\r' || b == b'\n') =>
        {
            Ok((name, value.trim()))
        }
        _ => Err(format!("'{text}' is not a header ('Name: value')")),
    }
}

/// The reason phrases uWSGI's `return:` knows (`uwsgi_http_status_msg`).
pub fn reason_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// When a rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `route-label`: never runs; `goto:` jumps here.
    Label(String),
    /// `route-run`: always.
    Always,
    /// `route*`: the subject var matches the regexp.
    Match {
        /// The request var matched.
        subject: Subject,
        /// The regexp (unanchored, as PCRE's match).
        pattern: Pattern,
    },
    /// `route-if` / `route-if-not`.
    If {
        /// The condition.
        condition: Condition,
        /// `route-if-not`: the action runs when the condition is false.
        negate: bool,
    },
}

/// One routing rule, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// When it runs.
    pub when: When,
    /// What it does (`Continue` for a label, which never runs).
    pub action: RouteAction,
    /// The rule as written (for the log).
    pub written: String,
    /// The action reads `$N`: a matching regexp's captures must be kept.
    pub uses_captures: bool,
}

impl RouteAction {
    /// The argument expanded per request, if the action has one.
    pub fn template(&self) -> Option<&Template> {
        match self {
            RouteAction::Redirect { to, .. } => Some(to),
            RouteAction::AddHeader(t)
            | RouteAction::DelHeader(t)
            | RouteAction::SetHeader(t)
            | RouteAction::Log(t)
            | RouteAction::Goto(t) => Some(t),
            RouteAction::Continue
            | RouteAction::Break(_)
            | RouteAction::Return(..)
            | RouteAction::DoNotLog => None,
        }
    }
}

impl Route {
    /// One value of a routing option.
    pub fn parse(option: RouteOption, value: &str) -> Result<Route, String> {
        let written = value.to_string();
        let split = || {
            value.split_once(' ').ok_or_else(|| {
                format!("invalid route syntax '{value}': it must be 'MATCH ACTION:ARGS'")
            })
        };
        let (when, action) = match option {
            RouteOption::Label => (When::Label(value.trim().to_string()), RouteAction::Continue),
            RouteOption::Run => (When::Always, RouteAction::parse(value)?),
            RouteOption::Match(subject) => {
                let (re, action) = split()?;
                let when = When::Match {
                    subject,
                    pattern: Pattern::new(re)?,
                };
                (when, RouteAction::parse(action)?)
            }
            RouteOption::If { negate } => {
                let (cond, action) = split()?;
                let (name, args) = cond.split_once(':').ok_or_else(|| {
                    format!("invalid route condition syntax '{cond}': it must be 'condition:args'")
                })?;
                let when = When::If {
                    condition: Condition::parse(name, args)?,
                    negate,
                };
                (when, RouteAction::parse(action)?)
            }
        };
        let uses_captures = action
            .template()
            .is_some_and(|t| t.0.iter().any(|p| matches!(p, Piece::Capture(_))));
        Ok(Route {
            when,
            action,
            written,
            uses_captures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Template {
        Template::parse(s).expect("template")
    }

    #[test]
    fn templates_read_captures_vars_and_funcs() {
        assert_eq!(
            t("https://$1${REQUEST_URI}").0,
            vec![
                Piece::Text("https://".into()),
                Piece::Capture(1),
                Piece::Var("REQUEST_URI".into()),
            ]
        );
        assert_eq!(
            t("${qs[a]}-${cookie[sid]}").0,
            vec![
                Piece::Func(VarFunc::Qs, "a".into()),
                Piece::Text("-".into()),
                Piece::Func(VarFunc::Cookie, "sid".into()),
            ]
        );
        // A `$` before anything else, and an unclosed `${`, stay as written; a last `$` goes.
        assert_eq!(t("a$b$").literal(), Some("a$b"));
        // The character after a `$` starts nothing, as in uWSGI: `$$1` is text.
        assert_eq!(t("$$1").literal(), Some("$$1"));
        assert_eq!(t("$${X}").literal(), Some("$${X}"));
        assert_eq!(t("x${OPEN").literal(), Some("x${OPEN"));
        // An unknown function is a var name (empty at run time), as in uWSGI.
        assert_eq!(t("${foo[x]}").0, vec![Piece::Var("foo[x]".into())]);
        assert!(Template::parse("${mime[PATH_INFO]}")
            .unwrap_err()
            .contains("not supported"));
    }

    #[test]
    fn the_shapes_real_configs_use_parse() {
        let r = Route::parse(RouteOption::Match(Subject::PathInfo), "^/health donotlog:").unwrap();
        assert_eq!(r.action, RouteAction::DoNotLog);
        assert!(matches!(
            r.when,
            When::Match {
                subject: Subject::PathInfo,
                ..
            }
        ));

        let r = Route::parse(
            RouteOption::Match(Subject::Host),
            r"^www\.(.*) redirect-301:https://$1${REQUEST_URI}",
        )
        .unwrap();
        assert_eq!(
            r.action,
            RouteAction::Redirect {
                permanent: true,
                to: t("https://$1${REQUEST_URI}")
            }
        );
        assert!(r.uses_captures);

        let r = Route::parse(
            RouteOption::If { negate: false },
            "equal:${HTTP_X_FORWARDED_PROTO};http redirect-permanent:https://${HTTP_HOST}${REQUEST_URI}",
        )
        .unwrap();
        assert_eq!(
            r.when,
            When::If {
                condition: Condition::Equal(t("${HTTP_X_FORWARDED_PROTO}"), t("http")),
                negate: false
            }
        );

        // Everything after the first space is the action, spaces included.
        let r = Route::parse(
            RouteOption::Match(Subject::PathInfo),
            ".* addheader:X-Frame-Options: DENY",
        )
        .unwrap();
        assert_eq!(r.action, RouteAction::AddHeader(t("X-Frame-Options: DENY")));

        let r = Route::parse(RouteOption::Match(Subject::PathInfo), "^/gone break:410").unwrap();
        assert_eq!(r.action, RouteAction::Break(Some("410 Gone".into())));
        let r = Route::parse(RouteOption::Run, "break:403 Go away").unwrap();
        assert_eq!(r.action, RouteAction::Break(Some("403 Go away".into())));
        let r = Route::parse(RouteOption::Run, "return:404").unwrap();
        assert_eq!(r.action, RouteAction::Return(404, "Not Found"));
        let r = Route::parse(RouteOption::Run, "break:").unwrap();
        assert_eq!(r.action, RouteAction::Break(None));
        let r = Route::parse(RouteOption::Label, "tail").unwrap();
        assert_eq!(r.when, When::Label("tail".into()));
    }

    #[test]
    fn unsupported_actions_and_conditions_are_refused_by_name() {
        let e = Route::parse(RouteOption::Match(Subject::PathInfo), "^/a rewrite:/b").unwrap_err();
        assert!(
            e.starts_with("route action 'rewrite' is not supported by rwsgi"),
            "{e}"
        );
        let e = Route::parse(RouteOption::If { negate: true }, "lord:x last:").unwrap_err();
        assert!(
            e.starts_with("route condition 'lord' is not supported"),
            "{e}"
        );
        assert!(Route::parse(RouteOption::Match(Subject::PathInfo), "^/a").is_err());
        assert!(Route::parse(RouteOption::Match(Subject::PathInfo), "^/a last").is_err());
        assert!(
            Route::parse(RouteOption::Match(Subject::PathInfo), "(?<=a)b last:")
                .unwrap_err()
                .contains("invalid regexp")
        );
        assert!(Route::parse(RouteOption::Run, "return:999").is_err());
        assert!(Route::parse(RouteOption::Run, "break:abc").is_err());
        assert!(Route::parse(RouteOption::Run, "addheader:NoColon").is_err());
        assert!(Route::parse(RouteOption::If { negate: false }, "equal:x last:").is_err());
        assert!(Route::parse(RouteOption::If { negate: false }, "nocolon last:").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(value in "[ -~]{0,40}", which in 0usize..4) {
            let option = match which {
                0 => RouteOption::Match(Subject::RequestUri),
                1 => RouteOption::If { negate: false },
                2 => RouteOption::Run,
                _ => RouteOption::Label,
            };
            let _ = Route::parse(option, &value);
        }

        #[test]
        fn text_without_a_dollar_is_one_literal(s in "[^$]{0,30}") {
            let tpl = t(&s);
            prop_assert_eq!(tpl.literal(), Some(s.as_str()));
        }

        #[test]
        fn templates_keep_every_literal_byte(s in "[a-z${}\\[\\]0-9]{0,30}") {
            if let Ok(tpl) = Template::parse(&s) {
                // Rebuilding the text from the pieces gives the input back.
                let mut back = String::new();
                for p in &tpl.0 {
                    match p {
                        Piece::Text(x) => back.push_str(x),
                        Piece::Capture(n) => back.push_str(&format!("${n}")),
                        Piece::Var(v) => back.push_str(&format!("${{{v}}}")),
                        Piece::Func(f, a) => {
                            let name = format!("{f:?}").to_lowercase();
                            back.push_str(&format!("${{{name}[{a}]}}"));
                        }
                    }
                }
                // ... but for a last `$`, which uWSGI drops.
                let trimmed = s.strip_suffix('$').unwrap_or(&s);
                prop_assert!(back == s || back == trimmed, "{:?} -> {:?}", s, back);
            }
        }
    }
}
