//! The body of the stats-push spec fuzz target, shared with the property tests of the normal
//! suite (`crates/push/tests/fuzz_bodies.rs` includes this file).

use std::time::Duration;

use rwsgi_push::spec::{parse_carbon, parse_stats_push, CarbonOptions, PushOptions};
use rwsgi_push::{HostPort, PusherKind, PusherSpec};

/// An accepted target prints as an address that parses back to itself (what the pusher
/// threads hand to `ToSocketAddrs` and what the logs show).
fn check_addr(addr: &HostPort, spec: &str) {
    assert_ne!(addr.port, 0, "{spec}");
    assert!(!addr.host.is_empty(), "{spec}");
    assert_eq!(
        HostPort::parse(&addr.to_addr_string()).as_ref(),
        Ok(addr),
        "{spec}: {addr:?} does not survive its own address string"
    );
}

fn check(spec: &str, parsed: &PusherSpec) {
    assert!(parsed.freq >= Duration::from_secs(1), "{spec}: {parsed:?}");
    match &parsed.kind {
        PusherKind::File { path, .. } => assert!(!path.as_os_str().is_empty(), "{spec}"),
        PusherKind::Mongo {
            addr,
            database,
            collection,
        } => {
            check_addr(addr, spec);
            assert!(!database.is_empty() && !collection.is_empty(), "{spec}");
        }
        PusherKind::Statsd { addr, .. }
        | PusherKind::Socket { addr, .. }
        | PusherKind::Zabbix { addr, .. } => check_addr(addr, spec),
        PusherKind::Carbon(c) => {
            check_addr(&c.addr, spec);
            assert!(
                !c.id.is_empty() && !c.id.contains(char::is_whitespace),
                "{spec}: {c:?}"
            );
        }
    }
}

/// Arbitrary bytes as a `--stats-push` value and as a `--carbon` one: the first byte picks
/// the options (default frequency, flags, whether a `--carbon-id` is given: what follows
/// the first NUL), the rest is the value.
pub(crate) fn push_spec(data: &[u8]) {
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (value, id) = match text.split_once('\0') {
        Some((v, id)) if knobs & 8 != 0 => (v, Some(id)),
        Some((v, _)) => (v, None),
        None => (&*text, None),
    };
    let opts = PushOptions {
        default_freq: u64::from(knobs & 3),
        statsd_no_workers: knobs & 4 != 0,
        statsd_all_gauges: knobs & 16 != 0,
    };
    match parse_stats_push(value, opts) {
        Ok(p) => {
            assert_eq!(p.label, value);
            check(value, &p);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let carbon = CarbonOptions {
        freq: u64::from(knobs >> 6),
        id,
        root: (knobs & 32 != 0).then_some("prod"),
        no_workers: knobs & 4 != 0,
        memory_report: knobs & 16 != 0,
        use_metrics: knobs & 8 != 0,
        first_socket: Some(value),
    };
    match parse_carbon(value, &carbon) {
        Ok(p) => check(value, &p),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
