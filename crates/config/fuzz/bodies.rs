//! The bodies of the config fuzz targets, shared with the property tests of the normal
//! suite (`crates/config/tests/fuzz_bodies.rs` includes this file): each takes arbitrary
//! bytes and panics only on a broken invariant.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use rwsgi_config::{parse, Command, ConfigError, CronTask, Host, HostFacts, Parsed, PathKind};
use rwsgi_config::{Route, RouteOption, Subject};

/// A machine with a few files, a small environment and no commands.
pub(crate) struct FuzzHost {
    files: HashMap<PathBuf, String>,
    env: HashMap<String, String>,
    facts: HostFacts,
}

impl FuzzHost {
    /// `/fuzz/a.ini` and `/fuzz/b.ini` hold `a` and `b`.
    pub(crate) fn new(a: &str, b: &str) -> FuzzHost {
        let files = [("/fuzz/a.ini", a), ("/fuzz/b.ini", b)]
            .into_iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        let env = [("HOME", "/home/f"), ("EMPTY", ""), ("N", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FuzzHost {
            files,
            env,
            facts: HostFacts {
                cpus: 4,
                hostname: "fuzz".into(),
                user: "f".into(),
                group: "f".into(),
                cwd: PathBuf::from("/fuzz"),
                binary: "/usr/bin/rwsgi".into(),
                ..HostFacts::default()
            },
        }
    }
}

impl Host for FuzzHost {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn exec(&self, _command: &str) -> io::Result<String> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    fn path_kind(&self, path: &Path) -> PathKind {
        if self.files.contains_key(path) {
            PathKind::File
        } else if path == Path::new("/fuzz") {
            PathKind::Dir
        } else {
            PathKind::Missing
        }
    }
    fn inode(&self, path: &Path) -> Option<u64> {
        self.files.contains_key(path).then_some(7)
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        vec![pattern.to_string()]
    }
    fn facts(&self) -> &HostFacts {
        &self.facts
    }
}

/// Parses `args` and `env` on `host` twice: the same answer both times (no hidden state),
/// and an error that says something.
fn parse_checked(
    args: &[String],
    env: &[(String, String)],
    host: &FuzzHost,
) -> Result<Parsed, String> {
    let run = || parse(args.iter().cloned(), env.iter().cloned(), host);
    let first = run();
    let again = run();
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "the same input parsed differently"
    );
    first.map_err(|e: ConfigError| {
        let msg = e.to_string();
        assert!(!msg.trim().is_empty(), "an empty error message: {e:?}");
        msg
    })
}

/// Arbitrary bytes as an ini file (`/fuzz/a.ini`, what follows the first NUL is
/// `/fuzz/b.ini`, which the first can include), loaded as `rwsgi /fuzz/a.ini` would.
pub(crate) fn ini(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\0').unwrap_or((&text, ""));
    let host = FuzzHost::new(a, b);
    let _ = parse_checked(&["/fuzz/a.ini".to_string()], &[], &host);
}

/// Arbitrary bytes as a command line: NUL-separated arguments, those shaped
/// `UWSGI_NAME=VALUE` going to the environment instead.
pub(crate) fn args(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut args = Vec::new();
    let mut env = Vec::new();
    for piece in text.split('\0') {
        match piece.split_once('=') {
            Some((k, v)) if k.starts_with("UWSGI_") => env.push((k.to_string(), v.to_string())),
            _ => args.push(piece.to_string()),
        }
    }
    let host = FuzzHost::new("[uwsgi]\nsocket = :1\n", "");
    let _ = parse_checked(&args, &env, &host);
}

/// Arbitrary bytes as option values full of placeholders, magic variables and references:
/// each line becomes `env = V<i>=LINE` (or stays `key = value` when it is one, other than
/// a logic block) in an ini that defines a few placeholders. A line with nothing the language expands arrives in
/// the environment unchanged.
pub(crate) fn placeholders(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut ini =
        String::from("[uwsgi]\nsocket = :1\nmodule = m\nbase = 5\nname = app\nlist = a b c\n");
    let mut plain = Vec::new();
    for (i, line) in text.split('\n').take(32).enumerate() {
        // (not the logic blocks: an `if-*` or `for` would rightly skip or repeat what follows)
        let is_kv = line.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && !["if", "for", "end"].iter().any(|w| k.starts_with(w))
        });
        if is_kv {
            ini.push_str(line);
        } else {
            ini.push_str(&format!("env = V{i}={line}"));
            if !line.is_empty()
                && line
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./-:,".contains(&b))
            {
                plain.push((format!("V{i}"), line.to_string()));
            }
        }
        ini.push('\n');
    }
    let host = FuzzHost::new(&ini, "");
    if let Ok(Parsed {
        command: Command::Serve(config),
        ..
    }) = parse_checked(&["/fuzz/a.ini".to_string()], &[], &host)
    {
        for (k, v) in &plain {
            assert!(
                config.env.iter().any(|(ck, cv)| ck == k && cv == v),
                "{k}={v} changed on its way: {:?}\n{ini}",
                config.env
            );
        }
    }
}

/// Arbitrary bytes as routing rules: each line a value of one of the `route*` options (picked
/// by its first byte). A rule that parses keeps its text as written; an error says something.
pub(crate) fn routes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let options = [
        RouteOption::Match(Subject::PathInfo),
        RouteOption::Match(Subject::RequestUri),
        RouteOption::Match(Subject::Host),
        RouteOption::If { negate: false },
        RouteOption::If { negate: true },
        RouteOption::Run,
        RouteOption::Label,
    ];
    for line in text.split('\n').take(32) {
        let pick = line.bytes().next().map_or(0, usize::from) % options.len();
        match Route::parse(options[pick], line) {
            Ok(rule) => assert_eq!(rule.written, line),
            Err(e) => assert!(!e.trim().is_empty(), "an empty error for {line:?}"),
        }
    }
}

/// Arbitrary bytes as a `--cron` / `--unique-cron` value and as a `--cron2` one: an error
/// says something; a task has a trimmed command, and written back as `--cron` reads the same.
pub(crate) fn cron(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let unique = data.first().is_some_and(|b| b & 1 == 1);
    for parsed in [CronTask::parse(&text, unique), CronTask::keyval(&text)] {
        match parsed {
            Err(e) => assert!(!e.trim().is_empty(), "an empty error for {text:?}"),
            Ok(t) => {
                assert!(
                    !t.command.is_empty() && t.command.trim() == t.command,
                    "{t:?}"
                );
                let s = t.spec;
                let line = format!(
                    "{} {} {} {} {} {}",
                    s.minute, s.hour, s.day, s.month, s.week, t.command
                );
                let again = CronTask::parse(&line, t.unique).expect("a task written back parses");
                assert_eq!((again.spec, &again.command), (t.spec, &t.command), "{line}");
            }
        }
    }
}
