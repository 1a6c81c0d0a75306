//! Property tests of the PROXY protocol header parser (`rwsgi_proto::proxy`): headers encoded
//! from arbitrary addresses read back exactly, with whatever follows them left alone; every
//! strict prefix of a header is "read more"; arbitrary bytes never panic, and a verdict never
//! changes when more bytes arrive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use rwsgi_proto::proxy::{self, Proxied, ProxyHead, V1_MAX, V2_MAX_PAYLOAD, V2_SIGNATURE};

fn ip_strategy() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<u32>(), any::<u32>())
            .prop_map(|(a, b)| (Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into())),
        (any::<u128>(), any::<u128>())
            .prop_map(|(a, b)| (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())),
    ]
}

fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let proto = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {proto} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

fn v2(src: SocketAddr, dst: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    let fam = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            payload.extend_from_slice(&s.octets());
            payload.extend_from_slice(&d.octets());
            0x11
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            payload.extend_from_slice(&s.octets());
            payload.extend_from_slice(&d.octets());
            0x21
        }
        _ => unreachable!("one family"),
    };
    payload.extend_from_slice(&src.port().to_be_bytes());
    payload.extend_from_slice(&dst.port().to_be_bytes());
    payload.extend_from_slice(tlvs);
    let mut out = V2_SIGNATURE.to_vec();
    out.extend_from_slice(&[0x21, fam]);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn headers_read_back_and_leave_the_rest(
        (a, b) in ip_strategy(), sp in any::<u16>(), dp in any::<u16>(), binary in any::<bool>(),
        tlvs in prop::collection::vec(any::<u8>(), 0..300),
        rest in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let (src, dst) = (SocketAddr::new(a, sp), SocketAddr::new(b, dp));
        let head = if binary { v2(src, dst, &tlvs) } else { v1(src, dst) };
        let limit = if binary { 16 + V2_MAX_PAYLOAD } else { V1_MAX };
        prop_assert!(head.len() <= limit);
        let mut buf = head.clone();
        buf.extend_from_slice(&rest);
        let want = ProxyHead::Header { len: head.len(), proxied: Proxied::Addrs { src, dst } };
        prop_assert_eq!(proxy::parse(&buf), Ok(Some(want)));
        for cut in 0..head.len() {
            prop_assert_eq!(proxy::parse(&head[..cut]), Ok(None), "prefix of {}", cut);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_verdicts_are_stable(
        start in prop_oneof![
            Just(b"PROXY ".to_vec()), Just(V2_SIGNATURE.to_vec()), Just(Vec::new()),
            Just(b"PROXY TCP4 ".to_vec()), Just([&V2_SIGNATURE[..], &[0x21, 0x11]].concat()),
        ],
        tail in prop::collection::vec(any::<u8>(), 0..300),
        more in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let buf = [start, tail].concat();
        let first = proxy::parse(&buf);
        let longer = [buf.clone(), more].concat();
        if let Ok(Some(verdict)) = first {
            if let ProxyHead::Header { len, .. } = verdict {
                prop_assert!(len <= buf.len());
            }
            prop_assert_eq!(proxy::parse(&longer), Ok(Some(verdict)));
        }
        if first.is_err() {
            prop_assert!(proxy::parse(&longer).is_err());
        }
    }
}
