//! The PROXY protocol header (HAProxy's, versions 1 and 2) that a load balancer puts at the
//! start of a connection to say whom it carries: `--enable-proxy-protocol` /
//! `--http-enable-proxy-protocol` on HTTP sockets.
//!
//! * v1 is one text line, at most [`V1_MAX`] bytes: `PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\n`
//!   (`TCP6` with IPv6 addresses; `PROXY UNKNOWN ...\r\n` names no addresses).
//! * v2 is binary: the 12-byte [`V2_SIGNATURE`], a version/command byte, a family/transport
//!   byte, a big-endian length and that many bytes of addresses and TLVs. Lengths above
//!   [`V2_MAX_PAYLOAD`] are refused as soon as the length is read, so a header never holds
//!   more than `16 + V2_MAX_PAYLOAD` bytes of the connection's buffer.
//!
//! [`parse`] is given the first bytes of a connection and says whether they are a complete
//! header (and its length), not a header at all (uWSGI's rule: the header is optional, a
//! connection without one is served as it is), not decided yet (`Ok(None)`: read more), or a
//! malformed header ([`ProxyError`]: answer 400 and close). v1 `UNKNOWN`, v2 `LOCAL` and v2's
//! `UNSPEC` and `UNIX` families carry no usable client address: [`Proxied::Local`], the socket's
//! own peer stays the client.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The longest v1 header, its `\r\n` included (the specification's limit).
pub const V1_MAX: usize = 107;
/// What every v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The most address and TLV bytes a v2 header may carry here (the specification allows
/// 65535; real balancers send the addresses and a few short TLVs).
pub const V2_MAX_PAYLOAD: usize = 2048;
/// The fixed part of a v2 header: signature, version/command, family, length.
const V2_FIXED: usize = 16;
const V1_PREFIX: &[u8] = b"PROXY ";

/// What a PROXY header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxied {
    /// The client's (source) and the balancer's listening (destination) address.
    Addrs {
        /// The original client.
        src: SocketAddr,
        /// The address the client connected to.
        dst: SocketAddr,
    },
    /// No usable address (v1 `UNKNOWN`, v2 `LOCAL`, v2 `UNSPEC` / `UNIX` families): the
    /// socket's own peer is the client.
    Local,
}

/// The verdict on a connection's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHead {
    /// The bytes do not start with a PROXY header: the request starts at byte 0.
    Absent,
    /// A complete header of `len` bytes; the request starts after it.
    Header {
        /// The header's length in bytes.
        len: usize,
        /// What it says.
        proxied: Proxied,
    },
}

/// A malformed PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// A v1 line with no `\r\n` within [`V1_MAX`] bytes.
    #[error("PROXY v1 header longer than 107 bytes")]
    V1TooLong,
    /// A v1 line that breaks the grammar.
    #[error("malformed PROXY v1 header: {0}")]
    V1Malformed(&'static str),
    /// A v2 header with a version other than 2.
    #[error("PROXY v2 header with version {0}")]
    V2Version(u8),
    /// A v2 command other than LOCAL (0) and PROXY (1).
    #[error("PROXY v2 header with unknown command {0}")]
    V2Command(u8),
    /// A v2 family or transport outside the specification.
    #[error("PROXY v2 header with unknown family/transport byte {0:#04x}")]
    V2Family(u8),
    /// A v2 length above [`V2_MAX_PAYLOAD`].
    #[error("PROXY v2 header of {0} bytes is over the 2048-byte limit")]
    V2TooLong(usize),
    /// A v2 length too short for the addresses of its family.
    #[error("PROXY v2 header of {0} bytes is too short for its addresses")]
    V2Short(usize),
}

impl ProxyError {
    /// The HTTP status a client with this header gets before its connection is closed.
    pub fn status(&self) -> &'static str {
        "400 Bad Request"
    }
}

/// Reads the PROXY header at the start of `buf` (a connection's first bytes). `Ok(None)`: too
/// few bytes to decide (read more; never more than `16 + V2_MAX_PAYLOAD` are needed).
pub fn parse(buf: &[u8]) -> Result<Option<ProxyHead>, ProxyError> {
    if buf.starts_with(V1_PREFIX) {
        return parse_v1(buf);
    }
    if buf.starts_with(&V2_SIGNATURE) {
        return parse_v2(buf);
    }
    let undecided = V1_PREFIX.starts_with(buf) || V2_SIGNATURE.starts_with(buf);
    Ok(if undecided {
        None
    } else {
        Some(ProxyHead::Absent)
    })
}

fn parse_v1(buf: &[u8]) -> Result<Option<ProxyHead>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = memchr::memchr(b'\n', window) else {
        return if buf.len() >= V1_MAX {
            Err(ProxyError::V1TooLong)
        } else {
            Ok(None)
        };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(ProxyError::V1Malformed("line not ended by CRLF"));
    }
    let line = &window[V1_PREFIX.len()..lf - 1];
    let len = lf + 1;
    let mut fields = line.split(|&b| b == b' ');
    let proto = fields.next().unwrap_or_default();
    let v6 = match proto {
        b"UNKNOWN" => {
            // Whatever follows is to be ignored (the specification).
            return Ok(Some(ProxyHead::Header {
                len,
                proxied: Proxied::Local,
            }));
        }
        b"TCP4" => false,
        b"TCP6" => true,
        _ => {
            return Err(ProxyError::V1Malformed(
                "protocol is not TCP4, TCP6 or UNKNOWN",
            ))
        }
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(ProxyError::V1Malformed(
            "not four single-space-separated fields",
        ));
    };
    let src = v1_addr(src, v6)?;
    let dst = v1_addr(dst, v6)?;
    let sport = v1_port(sport)?;
    let dport = v1_port(dport)?;
    Ok(Some(ProxyHead::Header {
        len,
        proxied: Proxied::Addrs {
            src: SocketAddr::new(src, sport),
            dst: SocketAddr::new(dst, dport),
        },
    }))
}

fn v1_addr(field: &[u8], v6: bool) -> Result<IpAddr, ProxyError> {
    let text = std::str::from_utf8(field).map_err(|_| ProxyError::V1Malformed("bad address"))?;
    let addr = if v6 {
        text.parse::<Ipv6Addr>().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().map(IpAddr::V4)
    };
    addr.map_err(|_| ProxyError::V1Malformed("bad address for the protocol"))
}

fn v1_port(field: &[u8]) -> Result<u16, ProxyError> {
    let bad = ProxyError::V1Malformed("bad port");
    if field.is_empty()
        || field.len() > 5
        || !field.iter().all(u8::is_ascii_digit)
        || (field.len() > 1 && field[0] == b'0')
    {
        return Err(bad);
    }
    let n = field
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).map_err(|_| bad)
}

fn parse_v2(buf: &[u8]) -> Result<Option<ProxyHead>, ProxyError> {
    let Some(fixed) = buf.get(..V2_FIXED) else {
        return Ok(None);
    };
    let (ver_cmd, fam, payload) = (
        fixed[12],
        fixed[13],
        usize::from(u16::from_be_bytes([fixed[14], fixed[15]])),
    );
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::V2Version(ver_cmd >> 4));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        c => return Err(ProxyError::V2Command(c)),
    };
    let (family, transport) = (fam >> 4, fam & 0x0f);
    if family > 3 || transport > 2 {
        return Err(ProxyError::V2Family(fam));
    }
    if payload > V2_MAX_PAYLOAD {
        return Err(ProxyError::V2TooLong(payload));
    }
    let len = V2_FIXED + payload;
    let Some(body) = buf.get(V2_FIXED..len) else {
        return Ok(None);
    };
    let local_head = Ok(Some(ProxyHead::Header {
        len,
        proxied: Proxied::Local,
    }));
    // LOCAL: the balancer's own connection (a health check); its addresses are ignored.
    if local {
        return local_head;
    }
    let proxied = match family {
        1 => {
            let a = body.get(..12).ok_or(ProxyError::V2Short(payload))?;
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Proxied::Addrs {
                src: SocketAddr::new(ip(0), port(8)),
                dst: SocketAddr::new(ip(4), port(10)),
            }
        }
        2 => {
            let a = body.get(..36).ok_or(ProxyError::V2Short(payload))?;
            let ip = |i: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Proxied::Addrs {
                src: SocketAddr::new(ip(0), port(32)),
                dst: SocketAddr::new(ip(16), port(34)),
            }
        }
        // UNSPEC and UNIX: nothing an IP REMOTE_ADDR could say.
        _ => return local_head,
    };
    Ok(Some(ProxyHead::Header { len, proxied }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(src: &str, dst: &str) -> Proxied {
        Proxied::Addrs {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        }
    }

    fn v2(cmd: u8, fam: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | cmd);
        out.push(fam);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn v1_tcp4_and_tcp6_give_the_client_and_leave_the_request() {
        let buf = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(buf),
            Ok(Some(ProxyHead::Header {
                len: 44,
                proxied: addrs("203.0.113.7:56324", "192.0.2.1:443"),
            }))
        );
        assert!(buf[44..].starts_with(b"GET "));
        let buf = b"PROXY TCP6 2001:db8::1 ::1 65535 8080\r\n";
        assert_eq!(
            parse(buf),
            Ok(Some(ProxyHead::Header {
                len: buf.len(),
                proxied: addrs("[2001:db8::1]:65535", "[::1]:8080"),
            }))
        );
    }

    #[test]
    fn v1_unknown_keeps_the_socket_peer() {
        for buf in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
        ] {
            assert_eq!(
                parse(buf),
                Ok(Some(ProxyHead::Header {
                    len: buf.len(),
                    proxied: Proxied::Local
                }))
            );
        }
    }

    #[test]
    fn v1_malformed_lines_are_errors() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY \r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ProxyError::V1Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse(bad)
            );
        }
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 100]].concat();
        assert_eq!(parse(&long), Err(ProxyError::V1TooLong));
        assert_eq!(parse(&long[..V1_MAX - 1]), Ok(None), "not yet too long");
    }

    #[test]
    fn no_header_means_the_request_starts_at_once() {
        for buf in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"POST",
            b"\r\n\r\nX",
            b"PROXYX",
            b"\x00",
        ] {
            assert_eq!(parse(buf), Ok(Some(ProxyHead::Absent)), "{buf:?}");
        }
        for buf in [&b""[..], b"P", b"PROX", b"PROXY", b"\r\n\r\n\0\r\nQUI"] {
            assert_eq!(parse(buf), Ok(None), "{buf:?}");
        }
    }

    #[test]
    fn v2_inet_and_inet6() {
        let mut p = vec![198, 51, 100, 2, 127, 0, 0, 1];
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&8000u16.to_be_bytes());
        let mut buf = v2(1, 0x11, &p);
        let len = buf.len();
        buf.extend_from_slice(b"GET /");
        assert_eq!(
            parse(&buf),
            Ok(Some(ProxyHead::Header {
                len,
                proxied: addrs("198.51.100.2:40000", "127.0.0.1:8000"),
            }))
        );
        let mut p = Vec::new();
        p.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&[0x12, 0x34, 0x00, 0x50]);
        p.extend_from_slice(&[0x04, 0x00, 0x01, 0xff]); // a TLV after the addresses
        let buf = v2(1, 0x21, &p);
        assert_eq!(
            parse(&buf),
            Ok(Some(ProxyHead::Header {
                len: buf.len(),
                proxied: addrs("[2001:db8::5]:4660", "[::1]:80"),
            }))
        );
    }

    #[test]
    fn v2_local_unspec_and_unix_keep_the_socket_peer() {
        let inet = [1u8; 12];
        for buf in [
            v2(0, 0x11, &inet),
            v2(0, 0x00, &[]),
            v2(1, 0x00, &[]),
            v2(1, 0x31, &[0u8; 216]),
        ] {
            assert_eq!(
                parse(&buf),
                Ok(Some(ProxyHead::Header {
                    len: buf.len(),
                    proxied: Proxied::Local
                }))
            );
        }
    }

    #[test]
    fn v2_errors_and_bounds() {
        let mut bad_version = v2(1, 0x11, &[0; 12]);
        bad_version[12] = 0x11;
        assert_eq!(parse(&bad_version), Err(ProxyError::V2Version(1)));
        assert_eq!(parse(&v2(2, 0x11, &[0; 12])), Err(ProxyError::V2Command(2)));
        assert_eq!(
            parse(&v2(1, 0x41, &[0; 12])),
            Err(ProxyError::V2Family(0x41))
        );
        assert_eq!(
            parse(&v2(1, 0x13, &[0; 12])),
            Err(ProxyError::V2Family(0x13))
        );
        assert_eq!(parse(&v2(1, 0x11, &[0; 11])), Err(ProxyError::V2Short(11)));
        assert_eq!(parse(&v2(1, 0x21, &[0; 35])), Err(ProxyError::V2Short(35)));
        // An oversized length is refused from the fixed part alone, before its bytes arrive.
        let mut big = v2(1, 0x11, &[]);
        big[14..16].copy_from_slice(&((V2_MAX_PAYLOAD + 1) as u16).to_be_bytes());
        assert_eq!(parse(&big), Err(ProxyError::V2TooLong(V2_MAX_PAYLOAD + 1)));
        let full = v2(1, 0x11, &[7; V2_MAX_PAYLOAD]);
        assert_eq!(parse(&full[..full.len() - 1]), Ok(None));
        assert!(matches!(parse(&full), Ok(Some(ProxyHead::Header { .. }))));
    }
}
