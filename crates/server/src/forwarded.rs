//! Which scheme a trusted proxy says the original request used: `X-Forwarded-Proto`,
//! `X-Forwarded-Ssl` and `X-Scheme` (Gunicorn's `secure_scheme_headers`), read from the CGI
//! vars, so the same rule holds over HTTP and behind nginx's `uwsgi_pass`. Whether the peer is
//! trusted at all is `--forwarded-allow-ips` ([`rwsgi_config::TrustedPeers`]).

/// True when the forwarded headers say https and none of them says otherwise. A value that is
/// neither a clear yes nor a clear no (`https, http` from two proxies, `maybe`) cancels the
/// claim: guessing the scheme wrong in either direction is worse than the socket's own.
pub(crate) fn claims_https<'a>(vars: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> bool {
    let mut https = false;
    for (key, value) in vars {
        let yes: &[u8] = match key {
            b"HTTP_X_FORWARDED_PROTO" | b"HTTP_X_SCHEME" => b"https",
            b"HTTP_X_FORWARDED_SSL" => b"on",
            _ => continue,
        };
        if !value.trim_ascii().eq_ignore_ascii_case(yes) {
            // `http`, `off` or anything unclear: not https, whatever the others say.
            return false;
        }
        https = true;
    }
    https
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(vars: &[(&str, &str)]) -> bool {
        claims_https(vars.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn each_header_alone() {
        for (vars, want) in [
            (&[("HTTP_X_FORWARDED_PROTO", "https")][..], true),
            (&[("HTTP_X_FORWARDED_PROTO", " HTTPS ")], true),
            (&[("HTTP_X_FORWARDED_PROTO", "http")], false),
            (&[("HTTP_X_SCHEME", "https")], true),
            (&[("HTTP_X_FORWARDED_SSL", "on")], true),
            (&[("HTTP_X_FORWARDED_SSL", "off")], false),
            (&[("HTTP_X_FORWARDED_SSL", "https")], false),
            (&[("HTTPS", "on")], false),
            (&[("HTTP_X_FORWARDED_HOST", "https")], false),
            (&[], false),
        ] {
            assert_eq!(claims(vars), want, "{vars:?}");
        }
    }

    #[test]
    fn conflicting_or_unclear_values_cancel_the_claim() {
        for vars in [
            &[("HTTP_X_FORWARDED_PROTO", "https, http")][..],
            &[
                ("HTTP_X_FORWARDED_PROTO", "https"),
                ("HTTP_X_FORWARDED_PROTO", "http"),
            ],
            &[
                ("HTTP_X_FORWARDED_PROTO", "http"),
                ("HTTP_X_FORWARDED_PROTO", "https"),
            ],
            &[
                ("HTTP_X_FORWARDED_PROTO", "https"),
                ("HTTP_X_FORWARDED_SSL", "off"),
            ],
            &[("HTTP_X_SCHEME", "wss")],
        ] {
            assert!(!claims(vars), "{vars:?}");
        }
        assert!(claims(&[
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_SSL", "on"),
            ("HTTP_X_SCHEME", "https"),
        ]));
    }
}
