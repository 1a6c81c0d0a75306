//! `--forwarded-allow-ips` (Gunicorn's option): the peers whose `X-Forwarded-Proto`,
//! `X-Forwarded-Ssl` and `X-Scheme` headers are believed.
//!
//! The peer is the other end of the socket rwsgi accepted, never an address a header or a
//! uwsgi var names: over `--http-socket` that is the client or the proxy in front, over the
//! uwsgi protocol it is the web server (nginx) whose `REMOTE_ADDR` var names the client. A
//! UNIX-socket peer is always trusted: who may connect is decided by the socket's file mode.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which TCP peers are trusted to say the original request's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedPeers {
    /// `*`: every peer (uWSGI's behaviour, which honours `X-Forwarded-Proto` from anyone).
    Everyone,
    /// Only peers inside one of these networks.
    Networks(Vec<IpNetwork>),
}

/// An address and a prefix length (`10.0.0.0/8`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl Default for TrustedPeers {
    /// Loopback only (Gunicorn's default `127.0.0.1,::1`).
    fn default() -> Self {
        TrustedPeers::Networks(vec![
            IpNetwork {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                prefix: 32,
            },
            IpNetwork {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ])
    }
}

impl TrustedPeers {
    /// Parses a comma-separated list of addresses and networks, or `*`.
    pub fn parse(list: &str) -> Result<TrustedPeers, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                return Ok(TrustedPeers::Everyone);
            }
            networks.push(IpNetwork::parse(item)?);
        }
        Ok(TrustedPeers::Networks(networks))
    }

    /// Whether a peer is trusted; `None` is a UNIX-socket peer.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        match (self, peer) {
            (TrustedPeers::Everyone, _) | (_, None) => true,
            (TrustedPeers::Networks(nets), Some(ip)) => {
                let ip = ip.to_canonical();
                nets.iter().any(|n| n.contains(ip))
            }
        }
    }
}

impl IpNetwork {
    fn parse(item: &str) -> Result<IpNetwork, String> {
        let (addr, prefix) = match item.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (item, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{item:?} is not an IP address or network"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{item:?}: the prefix length must be 0..={max}"))?,
        };
        Ok(IpNetwork { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(net.to_bits().into(), ip.to_bits().into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(net.to_bits(), ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The first `prefix` of `width` bits of `a` and `b` are equal.
fn same_prefix(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let host_bits = width - u32::from(prefix);
    host_bits >= width || (a >> host_bits) == (b >> host_bits)
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn default_trusts_loopback_and_unix_peers_only() {
        let t = TrustedPeers::default();
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(t.trusts(ip("::1")));
        assert!(t.trusts(ip("::ffff:127.0.0.1")), "v4-mapped loopback");
        assert!(t.trusts(None), "a UNIX-socket peer");
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(!t.trusts(ip("10.1.2.3")));
        assert!(!t.trusts(ip("2001:db8::1")));
    }

    #[test]
    fn networks_addresses_and_star() {
        let t = TrustedPeers::parse(" 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32").unwrap();
        assert!(t.trusts(ip("10.255.0.1")));
        assert!(!t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("192.168.1.7")));
        assert!(!t.trusts(ip("192.168.1.8")));
        assert!(t.trusts(ip("2001:db8:ffff::1")));
        assert!(!t.trusts(ip("2001:db9::1")));
        assert!(
            !t.trusts(ip("127.0.0.1")),
            "an explicit list replaces the default"
        );
        assert!(t.trusts(None));
        assert_eq!(
            TrustedPeers::parse("10.0.0.1,*"),
            Ok(TrustedPeers::Everyone)
        );
        assert!(TrustedPeers::parse("*").unwrap().trusts(ip("203.0.113.9")));
        let all = TrustedPeers::parse("0.0.0.0/0").unwrap();
        assert!(all.trusts(ip("203.0.113.9")) && !all.trusts(ip("::2")));
        assert_eq!(TrustedPeers::parse(""), Ok(TrustedPeers::Networks(vec![])));
        assert!(!TrustedPeers::parse("").unwrap().trusts(ip("127.0.0.1")));
    }

    #[test]
    fn bad_items_are_errors() {
        for bad in ["localhost", "10.0.0.0/33", "::/129", "1.2.3.4/x", "1.2.3"] {
            assert!(TrustedPeers::parse(bad).is_err(), "{bad}");
        }
    }
}
