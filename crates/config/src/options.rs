//! The option table's row type and what is derived from the table: look-ups by name and
//! short letter, the no-op list and `--help`. The rows themselves are in `defs.rs`.

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Boolean switch. No value on the command line (`--master`, or
    /// `--master=false`); in ini files `true|1|yes|on` / `false|0|no|off`,
    /// a bare key means true, and like uWSGI any other value also means true.
    Flag,
    /// Single value; the last occurrence wins.
    Value,
    /// Value that may be omitted (`--chmod-socket` alone means `666`).
    OptionalValue,
    /// Repeatable value; occurrences accumulate in order.
    Multi,
}

/// One row of the option table.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Which option this is.
    pub opt: Opt,
    /// Canonical (uWSGI) name, dash-separated.
    pub name: &'static str,
    /// Alternative long names.
    pub aliases: &'static [&'static str],
    /// getopt-style short letter (`-s`, `-M`, ...), as in uWSGI.
    pub short: Option<char>,
    /// Value shape.
    pub kind: OptKind,
    /// Accepted for compatibility only: rwsgi always behaves this way.
    pub noop: bool,
    /// A uWSGI option rwsgi cannot honour: start-up stops, naming it and saying why.
    pub refused: Option<&'static str>,
    /// Name of the value in `--help` output.
    pub value_name: &'static str,
    /// One-line description for `--help`.
    pub help: &'static str,
}

pub use crate::defs::{Opt, OPTIONS};
use OptKind::{Flag, Multi, OptionalValue, Value};

/// Normalize an option name: `_` and `-` are interchangeable.
pub fn normalize(name: &str) -> String {
    name.replace('_', "-")
}

/// Find an option by long name or alias (`_` and `-` interchangeable).
pub fn lookup(name: &str) -> Option<&'static OptionSpec> {
    let n = normalize(name);
    OPTIONS
        .iter()
        .find(|s| s.name == n || s.aliases.contains(&n.as_str()))
}

/// Find an option by its short letter.
pub fn lookup_short(c: char) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|s| s.short == Some(c))
}

/// Canonical names of uWSGI options rwsgi refuses, with why.
pub fn refused_options() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPTIONS
        .iter()
        .filter_map(|s| s.refused.map(|why| (s.name, why)))
}

/// Canonical names of options accepted only for compatibility (no effect).
pub fn noop_options() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().filter(|s| s.noop).map(|s| s.name)
}

/// `--help` text generated from [`OPTIONS`].
pub fn help_text() -> String {
    let mut rows = Vec::with_capacity(OPTIONS.len());
    for s in OPTIONS {
        let mut left = String::from("  ");
        match s.short {
            Some(c) => left.push_str(&format!("-{c}, ")),
            None => left.push_str("    "),
        }
        left.push_str("--");
        left.push_str(s.name);
        match s.kind {
            Flag => {}
            OptionalValue => left.push_str(&format!("[={}]", s.value_name)),
            Value | Multi => left.push_str(&format!(" {}", s.value_name)),
        }
        let mut right = s.help.to_string();
        if s.kind == Multi {
            right.push_str(" [repeatable]");
        }
        if let Some(why) = s.refused {
            right.push_str(&format!(" [not supported: {why}]"));
        }
        if !s.aliases.is_empty() {
            let a: Vec<String> = s.aliases.iter().map(|a| format!("--{a}")).collect();
            right.push_str(&format!(" (alias: {})", a.join(", ")));
        }
        rows.push((left, right));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut out = String::from(
        "Usage: rwsgi [OPTIONS] [CONFIG.ini[:SECTION]] [APP.py]\n\n\
         A pre-fork WSGI server compatible with uWSGI command lines and ini files.\n\
         Option names accept '-' and '_' interchangeably; every option can also be\n\
         set in an ini file ([uwsgi] section) or as a UWSGI_<NAME> environment variable.\n\n\
         Options:\n",
    );
    for (l, r) in rows {
        out.push_str(&format!("{l:width$}{r}\n"));
    }
    out
}

/// The marker lines the README's options table sits between.
pub const TABLE_START: &str = "<!-- options-table:start -->";
/// See [`TABLE_START`].
pub const TABLE_END: &str = "<!-- options-table:end -->";

/// The command that regenerates the README's options table.
pub const TABLE_COMMAND: &str = "cargo run -p rwsgi-config --example options_table -- README.md";

/// The uWSGI options table for the README, generated from [`OPTIONS`]: each option with its
/// aliases, whether rwsgi implements it, accepts it as a no-op (and why it already behaves
/// so) or refuses it (and why), and what it does.
pub fn options_table() -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("| option | status | what it does in rwsgi |\n|---|---|---|\n");
    for s in OPTIONS {
        let mut names = format!("`{}`", s.name);
        if let Some(c) = s.short {
            names.push_str(&format!(" (`-{c}`)"));
        }
        for a in s.aliases {
            names.push_str(&format!(", `{a}`"));
        }
        let (status, text) = match (s.refused, s.noop) {
            (Some(why), _) => ("refused", format!("{} — not supported: {why}", s.help)),
            (None, true) => ("no-op", s.help.to_string()),
            (None, false) => ("implemented", s.help.to_string()),
        };
        out.push_str(&format!("| {names} | {status} | {} |\n", cell(&text)));
    }
    out
}

/// `readme` with the text between [`TABLE_START`] and [`TABLE_END`] replaced by `table`;
/// `None` when the markers are missing or out of order.
pub fn splice_table(readme: &str, table: &str) -> Option<String> {
    let start = readme.find(TABLE_START)? + TABLE_START.len();
    let end = start + readme[start..].find(TABLE_END)?;
    Some(format!("{}\n{table}{}", &readme[..start], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_names_and_shorts_are_unique() {
        let mut names = HashSet::new();
        let mut shorts = HashSet::new();
        let mut opts = HashSet::new();
        for s in OPTIONS {
            assert!(opts.insert(s.opt), "duplicate {:?}", s.opt);
            for n in std::iter::once(&s.name).chain(s.aliases) {
                assert!(names.insert(*n), "duplicate name {n}");
                assert!(!n.contains('_'), "{n} must be dash-separated");
            }
            if let Some(c) = s.short {
                assert!(shorts.insert(c), "duplicate short -{c}");
            }
            if s.noop {
                // a no-op reads no value, except one naming what rwsgi has no use for
                assert!(s.kind == Flag || s.opt == Opt::PluginsDir, "{}", s.name);
                assert!(s.refused.is_none(), "{} is a no-op and refused", s.name);
            }
        }
    }

    #[test]
    fn refused_options_stop_start_up_wherever_they_are_set_naming_them_and_why() {
        use crate::lang_tests::{fake_parse, FakeHost};
        use crate::parse;
        let refused: Vec<_> = refused_options().collect();
        for must in ["gevent", "emperor", "cache2", "spooler", "mule"] {
            assert!(refused.iter().any(|(n, _)| *n == must), "{must}");
        }
        for s in OPTIONS.iter().filter(|s| s.refused.is_some()) {
            let why = s.refused.unwrap_or_default();
            assert!(!why.is_empty(), "{}", s.name);
            for name in std::iter::once(&s.name).chain(s.aliases) {
                let ini = format!("[uwsgi]\nsocket = :1\nmodule = m\n{name} = 2\n");
                let host = FakeHost::with_files(&[("/e.ini", ini.as_str())]);
                let e = fake_parse(&["/e.ini"], &host).unwrap_err().to_string();
                assert_eq!(
                    e,
                    format!("/e.ini:4: option '{name}' is not supported by rwsgi: {why}")
                );
                let flag = format!("--{name}");
                let mut args = vec!["--socket", ":1", "--module", "m", flag.as_str()];
                if s.kind != Flag {
                    args.push("2");
                }
                let e = fake_parse(&args, &host).unwrap_err().to_string();
                assert!(
                    e.starts_with(&format!("command line: option '{name}'")),
                    "{e}"
                );
                let var = format!("UWSGI_{}", name.to_uppercase().replace('-', "_"));
                let env = vec![(var.clone(), "2".to_string())];
                let e = parse(["--socket=:1".into(), "--module=m".into()], env, &host)
                    .unwrap_err()
                    .to_string();
                assert!(
                    e.starts_with(&format!("environment variable {var}: option")),
                    "{e}"
                );
            }
        }
        // inside a block whose condition fails, a refused option is never read (as in uWSGI)
        let ini = "[uwsgi]\nsocket = :1\nmodule = m\nif-env = NOT_SET\ngevent = 100\nendif\n";
        let host = FakeHost::with_files(&[("/e.ini", ini)]);
        assert!(fake_parse(&["/e.ini"], &host).is_ok());
        assert!(help_text().contains("--gevent N "));
        assert!(help_text().contains("[not supported: rwsgi has no gevent loop"));
    }

    #[test]
    fn readme_options_table_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let want = splice_table(&readme, &options_table())
            .unwrap_or_else(|| panic!("README.md lacks {TABLE_START} ... {TABLE_END}"));
        assert!(
            readme == want,
            "README.md's options table differs from the option table in defs.rs; \
             regenerate it with: {TABLE_COMMAND}"
        );
    }

    #[test]
    fn options_table_rows_say_what_each_option_is() {
        let t = options_table();
        assert_eq!(t.lines().count(), OPTIONS.len() + 2);
        assert!(t.contains("| `socket` (`-s`) | implemented | bind to"));
        assert!(t.contains("| `enable-threads` (`-T`) | no-op | accepted for compatibility: "));
        assert!(t.contains(
            "| `gevent` | refused | run N gevent async cores in each worker — \
             not supported: rwsgi has no gevent loop"
        ));
        assert!(t.contains("`processes` (`-p`), `workers`"));
        // a `|` in a help text does not split its cell
        assert!(
            t.lines().skip(2).all(|l| l.matches(" | ").count() == 2),
            "{t}"
        );
        let readme = format!("a\n{TABLE_START}\nold\n{TABLE_END}\nb\n");
        assert_eq!(
            splice_table(&readme, "new\n").as_deref(),
            Some(format!("a\n{TABLE_START}\nnew\n{TABLE_END}\nb\n").as_str())
        );
        assert_eq!(splice_table("no markers", "x"), None);
        assert_eq!(
            splice_table(&format!("{TABLE_END}{TABLE_START}"), "x"),
            None
        );
    }

    #[test]
    fn lookup_accepts_aliases_and_underscores() {
        assert_eq!(lookup("workers").unwrap().opt, Opt::Processes);
        assert_eq!(lookup("buffer_size").unwrap().opt, Opt::BufferSize);
        assert_eq!(lookup("python_path").unwrap().opt, Opt::Pythonpath);
        assert_eq!(lookup("stats_min").unwrap().opt, Opt::StatsMinified);
        assert!(lookup("xyz").is_none());
        assert_eq!(lookup_short('M').unwrap().opt, Opt::Master);
        assert_eq!(lookup_short('w').unwrap().opt, Opt::Module);
    }

    #[test]
    fn help_mentions_every_option() {
        let h = help_text();
        for s in OPTIONS {
            assert!(
                h.contains(&format!("--{} ", s.name))
                    || h.contains(&format!("--{}[", s.name))
                    || h.contains(&format!("--{}\n", s.name))
                    || h.contains(&format!("--{}  ", s.name)),
                "{}",
                s.name
            );
        }
        assert!(h.contains("-s, --socket ADDR"));
        assert!(h.contains("--chmod-socket[=MODE]"));
        let noops: Vec<_> = noop_options().collect();
        assert_eq!(
            noops,
            [
                "http-auto-chunked",
                "enable-threads",
                "die-on-term",
                "close-on-exec",
                "close-on-exec2",
                "single-interpreter",
                "thunder-lock",
                "plugins-dir",
                "py-call-osafterfork",
                "honour-range",
                "ignore-write-errors",
                "ignore-sigpipe",
                "threaded-logger",
                "log-reopen",
                "log-master-stream",
                "log-master-req-stream",
                "py-call-uwsgi-fork-hooks",
            ]
        );
    }
}
