//! The HTTP router family, `limit-post` and `no-defer-accept` as ini files and command lines
//! write them.

use std::io;
use std::path::Path;

use crate::*;

fn ini(body: &str) -> Result<Config, ConfigError> {
    let text = format!("[uwsgi]\nhttp-socket = :8000\nmodule = app\n{body}\n");
    let cmd = parse_args_and_env(
        ["--ini".to_string(), "/app.ini".to_string()],
        Vec::<(String, String)>::new(),
        |_: &str| None,
        move |p: &Path| {
            if p == Path::new("/app.ini") {
                Ok(text.clone())
            } else {
                Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
            }
        },
    )?;
    match cmd {
        Command::Serve(c) => Ok(c),
        other => panic!("expected Serve, got {other:?}"),
    }
}

fn ok(body: &str) -> Config {
    ini(body).unwrap_or_else(|e| panic!("{body:?}: {e}"))
}

#[test]
fn http_options_as_real_configs_write_them() {
    let c = ok(
        "http = :8000\nhttp-timeout = 86400\nhttp-keepalive = 1\nhttp-auto-chunked = true\n\
                http-enable-proxy-protocol = 1\nno-defer-accept = true\nlimit-post = 1048576",
    );
    assert_eq!(c.http_timeout, Some(86400));
    assert_eq!(c.http_keepalive, Some(1));
    assert!(c.proxy_protocol && c.no_defer_accept);
    assert_eq!(c.limit_post, Some(1 << 20));
    let d = Config::default();
    assert_eq!(
        (
            d.http_timeout,
            d.http_keepalive,
            d.proxy_protocol,
            d.no_defer_accept,
            d.limit_post
        ),
        (None, None, false, false, None)
    );
}

#[test]
fn http_keepalive_is_uwsgis_optional_number() {
    let ka = |v: &str| ok(&format!("http-keepalive = {v}")).http_keepalive;
    assert_eq!(ok("http-keepalive =").http_keepalive, Some(1));
    assert_eq!(ka("1"), Some(1));
    assert_eq!(ka("30 ; seconds"), Some(30));
    assert_eq!(ka("true"), Some(1));
    assert_eq!(ka("0"), None);
    assert_eq!(ka("off"), None);
    assert!(ini("http-keepalive = soon").is_err());
}

#[test]
fn both_proxy_protocol_spellings_and_zero_means_off() {
    assert!(ok("enable-proxy-protocol = true").proxy_protocol);
    assert!(!ok("http-enable-proxy-protocol = false").proxy_protocol);
    assert_eq!(ok("http-timeout = 0").http_timeout, None);
    assert_eq!(ok("limit-post = 0").limit_post, None);
    assert!(ini("limit-post = lots").is_err());
}
