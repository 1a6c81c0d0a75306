//! Socket address syntax as understood by uWSGI's `socket`, `http-socket`,
//! `stats`, ... options.
//!
//! Accepted forms (checked in this order):
//!
//! | value                       | result                                    |
//! |-----------------------------|-------------------------------------------|
//! | `@name`                     | [`Addr::Abstract`] (Linux abstract socket)|
//! | contains `/` or ends `.sock`| [`Addr::Unix`]                            |
//! | `[v6addr]:port`             | [`Addr::Tcp`] with an IPv6 host           |
//! | `host:port`, `:port`        | [`Addr::Tcp`] (`:port` = all interfaces)  |
//! | anything else without `:`   | [`Addr::Unix`] (uWSGI treats it as a path)|
//!
//! Host names are kept as strings (`localhost:3031`); resolving them is the
//! server's job.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// Maximum length of a UNIX socket path / abstract name in bytes
/// (`sizeof(sun_path) - 1` on Linux).
pub const MAX_UNIX_PATH: usize = 107;

/// A socket address in uWSGI syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    /// TCP socket. `host` is kept exactly as written, without IPv6 brackets;
    /// an empty host (from `:port`) means all IPv4 interfaces (`0.0.0.0`).
    Tcp {
        /// Host name or IP literal; empty for "all interfaces".
        host: String,
        /// TCP port (0 lets the kernel choose).
        port: u16,
    },
    /// Filesystem UNIX socket.
    Unix(PathBuf),
    /// Linux abstract-namespace UNIX socket (name without the leading `@`).
    Abstract(Vec<u8>),
}

/// Why a socket address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// The value was empty.
    #[error("empty address")]
    Empty,
    /// The port part is not a number in 0..=65535.
    #[error("invalid port '{0}'")]
    BadPort(String),
    /// The host part contains characters that cannot appear in a host name or IP.
    #[error("invalid host '{0}'")]
    BadHost(String),
    /// `[` without matching `]:port`.
    #[error("malformed IPv6 address (expected [addr]:port)")]
    BadIpv6,
    /// A bare IPv6 address without brackets (ambiguous with the port separator).
    #[error("IPv6 addresses must be written in brackets, e.g. [::1]:3031")]
    UnbracketedIpv6,
    /// `@` with nothing after it.
    #[error("empty abstract socket name")]
    EmptyAbstract,
    /// UNIX path or abstract name longer than [`MAX_UNIX_PATH`].
    #[error("UNIX socket path is {0} bytes long; the maximum is 107")]
    PathTooLong(usize),
}

impl Addr {
    /// Parse a socket address in uWSGI syntax (see the module docs).
    pub fn parse(s: &str) -> Result<Addr, AddrError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        if let Some(name) = s.strip_prefix('@') {
            if name.is_empty() {
                return Err(AddrError::EmptyAbstract);
            }
            if name.len() > MAX_UNIX_PATH {
                return Err(AddrError::PathTooLong(name.len()));
            }
            return Ok(Addr::Abstract(name.as_bytes().to_vec()));
        }
        if s.contains('/') || s.ends_with(".sock") || !s.contains(':') {
            if s.len() > MAX_UNIX_PATH {
                return Err(AddrError::PathTooLong(s.len()));
            }
            return Ok(Addr::Unix(PathBuf::from(s)));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or(AddrError::BadIpv6)?;
            host.parse::<Ipv6Addr>()
                .map_err(|_| AddrError::BadHost(host.to_string()))?;
            return Ok(Addr::Tcp {
                host: host.to_string(),
                port: parse_port(port)?,
            });
        }
        let (host, port) = s.rsplit_once(':').expect("contains ':'");
        if host.contains(':') {
            return Err(AddrError::UnbracketedIpv6);
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(AddrError::BadHost(host.to_string()));
        }
        Ok(Addr::Tcp {
            host: host.to_string(),
            port: parse_port(port)?,
        })
    }

    /// For TCP addresses: the host to bind/connect, with the empty host
    /// mapped to `0.0.0.0`. `None` for UNIX and abstract sockets.
    pub fn tcp_host(&self) -> Option<&str> {
        match self {
            Addr::Tcp { host, .. } if host.is_empty() => Some("0.0.0.0"),
            Addr::Tcp { host, .. } => Some(host),
            _ => None,
        }
    }

    /// For TCP addresses whose host is empty or an IP literal: the
    /// corresponding [`SocketAddr`]. `None` for host names (they need DNS
    /// resolution) and for UNIX/abstract sockets.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let Addr::Tcp { port, .. } = self else {
            return None;
        };
        let ip: IpAddr = self.tcp_host()?.parse().ok()?;
        Some(SocketAddr::new(ip, *port))
    }

    /// True for [`Addr::Unix`] and [`Addr::Abstract`].
    pub fn is_unix(&self) -> bool {
        !matches!(self, Addr::Tcp { .. })
    }
}

fn parse_port(p: &str) -> Result<u16, AddrError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::BadPort(p.to_string()));
    }
    p.parse().map_err(|_| AddrError::BadPort(p.to_string()))
}

impl FromStr for Addr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Addr::parse(s)
    }
}

/// uWSGI's socket-name form: `127.0.0.1:9501`, `:3031`, `[::1]:8000`,
/// `/tmp/x.sock`, `@name`.
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "{host}:{port}"),
            Addr::Unix(p) => write!(f, "{}", p.display()),
            Addr::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Addr {
        Addr::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_every_form() {
        let cases: &[(&str, Addr, &str)] = &[
            ("127.0.0.1:9501", tcp("127.0.0.1", 9501), "127.0.0.1:9501"),
            (":3031", tcp("", 3031), ":3031"),
            ("0.0.0.0:80", tcp("0.0.0.0", 80), "0.0.0.0:80"),
            ("localhost:3031", tcp("localhost", 3031), "localhost:3031"),
            (
                "my-host.example.com:1",
                tcp("my-host.example.com", 1),
                "my-host.example.com:1",
            ),
            ("[::1]:8000", tcp("::1", 8000), "[::1]:8000"),
            ("[::]:0", tcp("::", 0), "[::]:0"),
            (
                "/tmp/x.sock",
                Addr::Unix("/tmp/x.sock".into()),
                "/tmp/x.sock",
            ),
            ("run/app", Addr::Unix("run/app".into()), "run/app"),
            ("app.sock", Addr::Unix("app.sock".into()), "app.sock"),
            (
                "weird:name.sock",
                Addr::Unix("weird:name.sock".into()),
                "weird:name.sock",
            ),
            ("mysocket", Addr::Unix("mysocket".into()), "mysocket"),
            ("@name", Addr::Abstract(b"name".to_vec()), "@name"),
            (
                "@with/slash",
                Addr::Abstract(b"with/slash".to_vec()),
                "@with/slash",
            ),
        ];
        for (input, want, display) in cases {
            let got = Addr::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(&got, want, "{input}");
            assert_eq!(got.to_string(), *display, "{input}");
            assert_eq!(Addr::parse(display).unwrap(), got, "roundtrip {input}");
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        let cases: &[(&str, AddrError)] = &[
            ("", AddrError::Empty),
            ("   ", AddrError::Empty),
            ("127.0.0.1:abc", AddrError::BadPort("abc".into())),
            (":70000", AddrError::BadPort("70000".into())),
            (":", AddrError::BadPort("".into())),
            ("host:-1", AddrError::BadPort("-1".into())),
            ("[::1:80", AddrError::BadIpv6),
            ("[nothex]:80", AddrError::BadHost("nothex".into())),
            ("::1:80", AddrError::UnbracketedIpv6),
            ("bad host:80", AddrError::BadHost("bad host".into())),
            ("@", AddrError::EmptyAbstract),
        ];
        for (input, want) in cases {
            assert_eq!(Addr::parse(input).unwrap_err(), *want, "{input}");
        }
        let long = format!("/tmp/{}", "x".repeat(200));
        assert!(matches!(
            Addr::parse(&long),
            Err(AddrError::PathTooLong(205))
        ));
    }

    #[test]
    fn socket_addr_helpers() {
        let a = Addr::parse(":3031").unwrap();
        assert_eq!(a.tcp_host(), Some("0.0.0.0"));
        assert_eq!(a.socket_addr(), Some("0.0.0.0:3031".parse().unwrap()));
        let a = Addr::parse("[::1]:80").unwrap();
        assert_eq!(a.socket_addr(), Some("[::1]:80".parse().unwrap()));
        let a = Addr::parse("localhost:80").unwrap();
        assert_eq!(a.tcp_host(), Some("localhost"));
        assert_eq!(a.socket_addr(), None);
        assert!(Addr::parse("/tmp/a.sock").unwrap().is_unix());
        assert!(Addr::parse("@a").unwrap().is_unix());
        assert_eq!(Addr::parse("/tmp/a.sock").unwrap().socket_addr(), None);
        assert_eq!(":9".parse::<Addr>().unwrap(), Addr::parse(":9").unwrap());
    }
}
