//! What the stats show of a busy core's request vars: [`VarsPolicy`] (`--stats-vars`,
//! `--stats-redact`).
//!
//! The rule is applied once, where a snapshot is read from the scoreboard
//! ([`Scoreboard::snapshot`](crate::Scoreboard::snapshot)), so everything built from a
//! snapshot (the stats JSON, the pushers, and `rwsgi top`, which reads the JSON) shows the same
//! vars. Workers always copy every var into the scoreboard: the request path does no
//! redaction work.

/// What a redacted var's value reads in the stats (`HTTP_COOKIE=[redacted]`).
pub const REDACTED: &str = "[redacted]";

/// Vars redacted by default: cookies and credentials.
pub const ALWAYS_REDACTED: [&str; 3] = [
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_PROXY_AUTHORIZATION",
];

/// How a core's request vars appear in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarsPolicy {
    /// Every var as the request carried it (uWSGI's output: leaks cookies and credentials to
    /// whoever reads the stats).
    Full,
    /// Every key; the values of these names replaced by [`REDACTED`]. Each name matches the
    /// var of that name and the `HTTP_` var of that name (so a header name matches its CGI
    /// var), ignoring ASCII case; see [`VarsPolicy::redacted`].
    Redacted(Vec<String>),
    /// No vars at all (the core still shows `in_request` and its start).
    Off,
}

impl Default for VarsPolicy {
    /// [`ALWAYS_REDACTED`] redacted.
    fn default() -> Self {
        VarsPolicy::redacted(std::iter::empty::<&str>())
    }
}

impl VarsPolicy {
    /// [`ALWAYS_REDACTED`] and `extra` redacted. An extra name is a header name (`X-Api-Key`)
    /// or a var name (`HTTP_X_API_KEY`, `QUERY_STRING`): `-` becomes `_`, case is ignored.
    pub fn redacted<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> VarsPolicy {
        let mut names: Vec<String> = ALWAYS_REDACTED.iter().map(|n| n.to_string()).collect();
        for name in extra {
            let name = var_name(name.as_ref());
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        VarsPolicy::Redacted(names)
    }

    /// The `KEY=VALUE` line of one var (invalid UTF-8 replaced), `None` when vars are off.
    pub fn line(&self, key: &[u8], value: &[u8]) -> Option<String> {
        let value = match self {
            VarsPolicy::Off => return None,
            VarsPolicy::Redacted(names) if names.iter().any(|n| matches(n, key)) => {
                REDACTED.as_bytes()
            }
            VarsPolicy::Full | VarsPolicy::Redacted(_) => value,
        };
        let mut s = String::with_capacity(key.len() + value.len() + 1);
        s.push_str(&String::from_utf8_lossy(key));
        s.push('=');
        s.push_str(&String::from_utf8_lossy(value));
        Some(s)
    }
}

/// A header or var name in the form [`VarsPolicy::Redacted`] keeps: `X-Api-Key` → `X_API_KEY`.
fn var_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// `key` is `name` or `HTTP_` + `name`, ignoring ASCII case.
fn matches(name: &str, key: &[u8]) -> bool {
    let name = name.as_bytes();
    key.eq_ignore_ascii_case(name)
        || (key.len() == 5 + name.len()
            && key[..5].eq_ignore_ascii_case(b"HTTP_")
            && key[5..].eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(p: &VarsPolicy, key: &str, value: &str) -> Option<String> {
        p.line(key.as_bytes(), value.as_bytes())
    }

    #[test]
    fn cookies_and_credentials_are_redacted_by_default() {
        let p = VarsPolicy::default();
        for key in ALWAYS_REDACTED {
            assert_eq!(
                line(&p, key, "session=SECRET"),
                Some(format!("{key}={REDACTED}"))
            );
        }
        // Lower-case keys (a uwsgi-protocol frontend may send them) too.
        assert_eq!(
            line(&p, "http_cookie", "x"),
            Some(format!("http_cookie={REDACTED}"))
        );
        assert_eq!(line(&p, "PATH_INFO", "/a"), Some("PATH_INFO=/a".into()));
        assert_eq!(
            line(&p, "HTTP_COOKIES", "x"),
            Some("HTTP_COOKIES=x".into()),
            "only the exact name"
        );
    }

    #[test]
    fn extra_names_as_headers_or_vars() {
        let p = VarsPolicy::redacted(["X-Api-Key", "HTTP_X_TOKEN", "query_string", " "]);
        for key in ["HTTP_X_API_KEY", "HTTP_X_TOKEN", "QUERY_STRING"] {
            assert_eq!(
                line(&p, key, "v"),
                Some(format!("{key}={REDACTED}")),
                "{key}"
            );
        }
        assert_eq!(line(&p, "HTTP_X_API", "v"), Some("HTTP_X_API=v".into()));
        assert_eq!(
            p,
            VarsPolicy::redacted(["x-api-key", "X_API_KEY", "HTTP_X_TOKEN", "QUERY_STRING"]),
            "duplicates and blanks are dropped"
        );
    }

    #[test]
    fn full_and_off() {
        assert_eq!(
            line(&VarsPolicy::Full, "HTTP_COOKIE", "s=1"),
            Some("HTTP_COOKIE=s=1".into())
        );
        assert_eq!(line(&VarsPolicy::Off, "PATH_INFO", "/"), None);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let p = VarsPolicy::Full;
        assert_eq!(
            p.line(b"K\xff", b"v\xfe"),
            Some("K\u{fffd}=v\u{fffd}".into())
        );
    }
}
