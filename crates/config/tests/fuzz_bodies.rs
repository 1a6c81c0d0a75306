//! The config fuzz targets' bodies (`fuzz/bodies.rs`) fed by proptest in the normal suite:
//! CI runs these instead of libFuzzer (cargo-fuzz would have to be built first). Inputs are
//! arbitrary bytes, and text drawn from the config language's own characters so that
//! sections, includes, placeholders and logic blocks come up often.

#[path = "../fuzz/bodies.rs"]
mod bodies;

use proptest::prelude::*;

/// Text made of what the config language reacts to.
fn config_text() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        "[uwsgi]",
        "[other]",
        "\n",
        " = ",
        "=",
        " ",
        "%(",
        "$(",
        "@(",
        ")",
        "%d",
        "%k",
        "%p",
        "%%",
        "%[",
        "%(base + 1)",
        "%(name)",
        "$(HOME)",
        "$(NOPE:-x)",
        "@(/fuzz/b.ini)",
        "ini = /fuzz/b.ini",
        "ini = /fuzz/a.ini",
        "if-env = HOME",
        "if-exists = /fuzz",
        "if-not-file = /x",
        "for = a b",
        "for-times = 3",
        "endfor =",
        "endif =",
        "%(_)",
        "socket = :1",
        "module = m",
        "processes = ",
        "env = A=",
        "set-placeholder = x=1",
        "\0",
        ":",
        ";",
        "#",
        "--",
        "-p",
        "--ini",
        "UWSGI_PROCESSES=2",
        "0",
        "7",
        "-1",
        "a",
        "+",
        "*",
        "/",
        "++",
        "--",
        "\u{e9}",
        "\\",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat().into_bytes())
}

/// Text made of what routing rules are written with.
fn route_text() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        "\n",
        " ",
        "^/",
        ".*",
        "(.*)",
        "$1",
        "$9",
        "$",
        "${",
        "}",
        "${HTTP_HOST}",
        "${qs[a]}",
        "${mime[x]}",
        "[",
        "]",
        ":",
        ";",
        "equal:",
        "regexp:",
        "empty:",
        "isfile:",
        "last:",
        "break:",
        "break:404",
        "return:403",
        "return:999",
        "redirect-301:",
        "addheader:",
        "X-A: b",
        "delheader:",
        "donotlog:",
        "goto:",
        "log:",
        "rewrite:",
        "\\",
        "(?<=a)",
        "\u{e9}",
    ]);
    prop::collection::vec(atoms, 0..30).prop_map(|v| v.concat().into_bytes())
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn ini_never_panics_on_bytes(data in any_bytes()) {
        bodies::ini(&data);
    }

    #[test]
    fn ini_never_panics_on_config_text(data in config_text()) {
        bodies::ini(&data);
    }

    #[test]
    fn args_never_panic_on_bytes(data in any_bytes()) {
        bodies::args(&data);
    }

    #[test]
    fn args_never_panic_on_config_text(data in config_text()) {
        bodies::args(&data);
    }

    #[test]
    fn routes_never_panic_on_bytes(data in any_bytes()) {
        bodies::routes(&data);
    }

    #[test]
    fn routes_parse_or_say_why_on_route_text(data in route_text()) {
        bodies::routes(&data);
    }

    #[test]
    fn placeholders_never_panic_on_bytes(data in any_bytes()) {
        bodies::placeholders(&data);
    }

    #[test]
    fn placeholders_keep_plain_values_on_config_text(data in config_text()) {
        bodies::placeholders(&data);
    }

    #[test]
    fn cron_specs_never_panic_on_bytes(data in any_bytes()) {
        bodies::cron(&data);
    }

    #[test]
    fn cron_specs_never_panic_on_config_text(data in config_text()) {
        bodies::cron(&data);
    }
}
