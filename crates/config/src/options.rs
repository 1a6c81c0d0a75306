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
                assert_eq!(s.kind, Flag);
            }
        }
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
                "enable-threads",
                "die-on-term",
                "single-interpreter",
                "thunder-lock",
                "ignore-write-errors",
                "ignore-sigpipe",
                "threaded-logger",
                "log-reopen",
                "log-master-stream",
                "log-master-req-stream",
                "stats-no-metrics"
            ]
        );
    }
}
