//! uWSGI's config logic (`core/config.c`): `if-*` / `for*` open a block, `endif` / `endfor`
//! (or `end`) close it, and each option line inside is applied zero, one or several times with
//! `%(_)` replaced. As in uWSGI the blocks do not nest (the first `end*` closes the block;
//! a second `if-*` inside is refused), conditions are checked again for every line (so an
//! `if-not-opt` stops applying once its option is set inside the block), and `else` applies its
//! lines when the last `if-*` failed.

use std::path::Path;

use crate::options::Opt;

/// The config-logic meaning of an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    /// Opens a block.
    Open(Cond),
    /// `else`.
    Else,
    /// `endif`, `endfor`, `end` (uWSGI treats them alike).
    End,
}

/// What a block's lines depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Env {
        negate: bool,
    },
    Exists {
        negate: bool,
    },
    File {
        negate: bool,
    },
    Dir {
        negate: bool,
    },
    /// `if-opt`: an option or placeholder was set.
    Set {
        negate: bool,
    },
    Hostname {
        negate: bool,
    },
    Plugin {
        negate: bool,
    },
    For,
    ForGlob,
    ForReadline,
    ForTimes,
}

impl Keyword {
    pub(crate) fn of(opt: Opt) -> Option<Keyword> {
        use Cond::{
            Dir, Env, Exists, File, For, ForGlob, ForReadline, ForTimes, Hostname, Plugin, Set,
        };
        Some(match opt {
            Opt::IfEnv => Keyword::Open(Env { negate: false }),
            Opt::IfNotEnv => Keyword::Open(Env { negate: true }),
            Opt::IfExists => Keyword::Open(Exists { negate: false }),
            Opt::IfNotExists => Keyword::Open(Exists { negate: true }),
            Opt::IfFile => Keyword::Open(File { negate: false }),
            Opt::IfNotFile => Keyword::Open(File { negate: true }),
            Opt::IfDir => Keyword::Open(Dir { negate: false }),
            Opt::IfNotDir => Keyword::Open(Dir { negate: true }),
            Opt::IfOpt => Keyword::Open(Set { negate: false }),
            Opt::IfNotOpt => Keyword::Open(Set { negate: true }),
            Opt::IfHostname => Keyword::Open(Hostname { negate: false }),
            Opt::IfNotHostname => Keyword::Open(Hostname { negate: true }),
            Opt::IfPlugin => Keyword::Open(Plugin { negate: false }),
            Opt::IfNotPlugin => Keyword::Open(Plugin { negate: true }),
            Opt::For => Keyword::Open(For),
            Opt::ForGlob => Keyword::Open(ForGlob),
            Opt::ForReadline => Keyword::Open(ForReadline),
            Opt::ForTimes => Keyword::Open(ForTimes),
            Opt::Else => Keyword::Else,
            Opt::Endif | Opt::Endfor => Keyword::End,
            _ => return None,
        })
    }
}

/// uWSGI logic options rwsgi refuses by name rather than read as unknown placeholders (which
/// would apply their lines unconditionally).
pub(crate) const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "if-reload",
        "rwsgi cannot tell a reload from a first start while reading its config",
    ),
    (
        "if-not-reload",
        "rwsgi cannot tell a reload from a first start while reading its config",
    ),
    (
        "if-hostname-match",
        "rwsgi has no regular-expression engine for config logic",
    ),
    (
        "if-not-hostname-match",
        "rwsgi has no regular-expression engine for config logic",
    ),
];

/// An open block: its condition and argument (after placeholder expansion).
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub cond: Cond,
    pub arg: String,
}

/// What a condition is checked against (the parser's view of the machine and the options
/// gathered so far).
pub(crate) trait Facts {
    fn env(&self, name: &str) -> Option<String>;
    fn path_kind(&self, path: &Path) -> crate::host::PathKind;
    /// The first value gathered for option or placeholder `name`.
    fn option(&mut self, name: &str) -> Option<String>;
    fn hostname(&self) -> &str;
}

/// For an `if-*` block: `Some(%(_))` when its lines apply (`%(_)` itself is `None` when it has
/// no value, as for a variable that is not set), `None` when the condition fails.
pub(crate) fn check(block: &Block, facts: &mut dyn Facts) -> Option<Option<String>> {
    use crate::host::PathKind;
    let arg = block.arg.as_str();
    // `NAME=VALUE` compares; plain `NAME` tests presence
    let split = || match arg.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (arg, None),
    };
    let holds = |ok: bool, negate: bool| ok != negate;
    let path = |kind: &dyn Fn(PathKind) -> bool, negate: bool, facts: &mut dyn Facts| {
        holds(kind(facts.path_kind(Path::new(arg))), negate).then(|| Some(arg.to_string()))
    };
    match block.cond {
        Cond::Env { negate } | Cond::Set { negate } => {
            let (name, want) = split();
            let found = match block.cond {
                Cond::Env { .. } => facts.env(name),
                _ => facts.option(name),
            };
            let ok = match (&found, want) {
                (Some(v), Some(w)) => v == w,
                (Some(_), None) => true,
                (None, _) => false,
            };
            holds(ok, negate).then_some(found)
        }
        Cond::Exists { negate } => path(&|k| k != PathKind::Missing, negate, facts),
        Cond::File { negate } => path(&|k| k == PathKind::File, negate, facts),
        Cond::Dir { negate } => path(&|k| k == PathKind::Dir, negate, facts),
        Cond::Hostname { negate } => {
            holds(facts.hostname() == arg, negate).then(|| Some(arg.to_string()))
        }
        Cond::Plugin { negate } => {
            let name = crate::config::normalize_plugin(arg);
            holds(crate::config::is_builtin_plugin(&name), negate).then(|| Some(arg.to_string()))
        }
        Cond::For | Cond::ForGlob | Cond::ForReadline | Cond::ForTimes => None,
    }
}

/// `value` with `%(_)` replaced by `data` (unchanged when there is no data, as in uWSGI).
pub(crate) fn substitute(value: Option<&str>, data: Option<&str>) -> Option<String> {
    match (value, data) {
        (Some(v), Some(d)) => Some(v.replace("%(_)", d)),
        (v, _) => v.map(str::to_string),
    }
}

/// The items of `for = a b c` (space-separated, empty ones skipped).
pub(crate) fn for_items(arg: &str) -> Vec<String> {
    arg.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The items of `for-times = N`: `1`..`N` (C `atoi`, so a tail after the number is ignored).
pub(crate) fn times_items(arg: &str) -> Vec<String> {
    let n = crate::expr::strtoll(arg).clamp(0, i64::from(u16::MAX));
    (1..=n).map(|i| i.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::PathKind;

    struct Fake;
    impl Facts for Fake {
        fn env(&self, name: &str) -> Option<String> {
            (name == "MODE").then(|| "prod".to_string())
        }
        fn path_kind(&self, path: &Path) -> PathKind {
            match path.to_str() {
                Some("/f") => PathKind::File,
                Some("/d") => PathKind::Dir,
                Some("/s") => PathKind::Other,
                _ => PathKind::Missing,
            }
        }
        fn option(&mut self, name: &str) -> Option<String> {
            (name == "workers").then(|| "4".to_string())
        }
        fn hostname(&self) -> &str {
            "web1"
        }
    }

    #[test]
    fn conditions() {
        use Cond::*;
        let some = |s: &str| Some(Some(s.to_string()));
        let cases: Vec<(Cond, &str, Option<Option<String>>)> = vec![
            (Env { negate: false }, "MODE", some("prod")),
            (Env { negate: false }, "MODE=prod", some("prod")),
            (Env { negate: false }, "MODE=dev", None),
            (Env { negate: false }, "NOPE", None),
            (Env { negate: true }, "NOPE", Some(None)),
            (Env { negate: true }, "MODE", None),
            (Env { negate: true }, "MODE=dev", some("prod")),
            (Set { negate: false }, "workers", some("4")),
            (Set { negate: false }, "workers=4", some("4")),
            (Set { negate: false }, "workers=5", None),
            (Set { negate: true }, "workers=5", some("4")),
            (Set { negate: true }, "threads", Some(None)),
            (Exists { negate: false }, "/f", some("/f")),
            (Exists { negate: false }, "/s", some("/s")),
            (Exists { negate: false }, "/x", None),
            (Exists { negate: true }, "/x", some("/x")),
            (File { negate: false }, "/f", some("/f")),
            (File { negate: false }, "/d", None),
            (File { negate: true }, "/d", some("/d")),
            (Dir { negate: false }, "/d", some("/d")),
            (Dir { negate: false }, "/f", None),
            (Dir { negate: true }, "/f", some("/f")),
            (Hostname { negate: false }, "web1", some("web1")),
            (Hostname { negate: true }, "web1", None),
            (Plugin { negate: false }, "python3", some("python3")),
            (Plugin { negate: false }, "gevent", None),
            (Plugin { negate: true }, "gevent", some("gevent")),
        ];
        for (cond, arg, want) in cases {
            let block = Block {
                cond,
                arg: arg.to_string(),
            };
            assert_eq!(check(&block, &mut Fake), want, "{cond:?} {arg}");
        }
    }

    #[test]
    fn items() {
        assert_eq!(for_items(" a b  c "), ["a", "b", "c"]);
        assert!(for_items("").is_empty());
        assert_eq!(times_items("3"), ["1", "2", "3"]);
        assert_eq!(times_items("2 ; two"), ["1", "2"]);
        assert!(times_items("x").is_empty());
        assert_eq!(
            substitute(Some("s/%(_).sock"), Some("a")).as_deref(),
            Some("s/a.sock")
        );
        assert_eq!(substitute(Some("%(_)"), None).as_deref(), Some("%(_)"));
        assert_eq!(substitute(None, Some("a")), None);
    }
}
