//! The push-spec fuzz target's body (`fuzz/bodies.rs`) fed by proptest in the normal suite
//! (CI runs this instead of libFuzzer): arbitrary bytes, and specs built from the pushers'
//! own vocabulary so that accepted ones come up often.

#[path = "../fuzz/bodies.rs"]
mod bodies;

use proptest::prelude::*;

fn spec_text() -> impl Strategy<Value = Vec<u8>> {
    let pick = |v: Vec<&'static str>| prop::sample::select(v);
    // Mostly valid parts, so that accepted specs are common; a few broken ones each.
    let name = pick(vec![
        "statsd:", "statsd:", "socket:", "zabbix:", "file:", "mongodb:", "", "x:",
    ]);
    let host = pick(vec![
        "127.0.0.1",
        "127.0.0.1",
        "::1",
        "[::1]",
        "localhost",
        "",
        "[",
        "a b",
    ]);
    let port = pick(vec![":8125", ":8125", ":65535", ":0", ":65536", ""]);
    let tail = prop::collection::vec(
        pick(vec![
            ",prefix",
            ",",
            "path=",
            "separator=",
            "freq=0",
            "freq=5",
            "addr=",
            "collection=",
            "db.c",
            ".",
            " ",
            "\0",
            "id",
            "\u{e9}",
            "/tmp/x",
        ]),
        0..3,
    );
    (any::<u8>(), name, host, port, tail).prop_map(|(knobs, name, host, port, tail)| {
        let mut out = vec![knobs];
        out.extend_from_slice(format!("{name}{host}{port}{}", tail.concat()).as_bytes());
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn push_specs_never_panic_on_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        bodies::push_spec(&data);
    }

    #[test]
    fn accepted_push_specs_are_coherent(data in spec_text()) {
        bodies::push_spec(&data);
    }
}

/// The coherence checks above run only on accepted specs: the vocabulary must produce some.
#[test]
fn the_vocabulary_reaches_accepted_specs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = spec_text();
    let accepted = (0..500)
        .filter(|_| {
            let data = strategy.new_tree(&mut runner).expect("a value").current();
            let text = String::from_utf8_lossy(&data[1..]).into_owned();
            rwsgi_push::spec::parse_stats_push(&text, rwsgi_push::spec::PushOptions::default())
                .is_ok()
        })
        .count();
    assert!(
        accepted >= 25,
        "only {accepted} of 500 generated specs were accepted"
    );
}
