//! Table-driven tests of the config language as uWSGI reads it: comment-tailed values,
//! magic variables, placeholder arithmetic, `@(...)` includes, config logic and unknown keys,
//! with a fake [`Host`].

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::*;

/// A machine made of tables.
#[derive(Default)]
pub(crate) struct FakeHost {
    files: HashMap<PathBuf, String>,
    dirs: HashSet<PathBuf>,
    env: HashMap<String, String>,
    commands: HashMap<String, String>,
    globs: HashMap<String, Vec<String>>,
    inodes: HashMap<PathBuf, u64>,
    facts: HostFacts,
}

impl FakeHost {
    pub(crate) fn with_files(files: &[(&str, &str)]) -> FakeHost {
        let mut h = FakeHost {
            facts: HostFacts {
                cpus: 4,
                hostname: "web1".into(),
                uid: 1000,
                user: "deploy".into(),
                gid: 1001,
                group: "staff".into(),
                unix_time: 1_700_000_000,
                unix_micros: 1_700_000_000_123_456,
                cwd: "/srv".into(),
                binary: "/usr/bin/rwsgi".into(),
            },
            ..FakeHost::default()
        };
        for (p, c) in files {
            h.files.insert(p.into(), c.to_string());
        }
        h
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }
    fn dir(mut self, p: &str) -> Self {
        self.dirs.insert(p.into());
        self
    }
    fn command(mut self, cmd: &str, out: &str) -> Self {
        self.commands.insert(cmd.into(), out.into());
        self
    }
    fn glob(mut self, pattern: &str, paths: &[&str]) -> Self {
        self.globs.insert(
            pattern.into(),
            paths.iter().map(|p| p.to_string()).collect(),
        );
        self
    }
    fn inode(mut self, p: &str, i: u64) -> Self {
        self.inodes.insert(p.into(), i);
        self
    }
}

impl Host for FakeHost {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&self.facts.cwd.join(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }
    fn exec(&self, command: &str) -> io::Result<String> {
        self.commands
            .get(command)
            .cloned()
            .ok_or_else(|| io::Error::other(format!("sh: {command}: not found")))
    }
    fn path_kind(&self, path: &Path) -> PathKind {
        if self.files.contains_key(path) {
            PathKind::File
        } else if self.dirs.contains(path) {
            PathKind::Dir
        } else {
            PathKind::Missing
        }
    }
    fn inode(&self, path: &Path) -> Option<u64> {
        self.inodes.get(path).copied()
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        self.globs
            .get(pattern)
            .cloned()
            .unwrap_or_else(|| vec![pattern.to_string()])
    }
    fn facts(&self) -> &HostFacts {
        &self.facts
    }
}

pub(crate) fn fake_parse(args: &[&str], host: &FakeHost) -> Result<Parsed, ConfigError> {
    parse(args.iter().map(|s| s.to_string()), std::iter::empty(), host)
}

pub(crate) fn warning_lines(p: &Parsed) -> Vec<String> {
    p.warnings.iter().map(|w| w.to_string()).collect()
}

fn config(p: &Parsed) -> &Config {
    match &p.command {
        Command::Serve(c) => c,
        other => panic!("expected Serve, got {other:?}"),
    }
}

/// Parses `/e.ini` holding `[uwsgi]`, a socket, a module and `body`.
fn ini(body: &str, host: FakeHost) -> Result<Parsed, ConfigError> {
    let text = format!("[uwsgi]\nsocket = :1\nmodule = m\n{body}");
    let mut host = host;
    host.files.insert("/e.ini".into(), text);
    fake_parse(&["/e.ini"], &host)
}

fn ok(body: &str, host: FakeHost) -> Parsed {
    ini(body, host).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn env_of(p: &Parsed) -> Vec<String> {
    config(p)
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[test]
fn numbers_read_atoi_style_strings_verbatim() {
    type Field = fn(&Config) -> String;
    let cases: &[(&str, Field, &str)] = &[
        (
            "max-requests = 1000 ; recycle",
            |c| format!("{:?}", c.max_requests),
            "Some(1000)",
        ),
        (
            "max-requests = 1000;recycle",
            |c| format!("{:?}", c.max_requests),
            "Some(1000)",
        ),
        (
            "buffer-size = 32768  # bytes",
            |c| c.buffer_size.to_string(),
            "32768",
        ),
        (
            "reload-on-rss = 300 # MB",
            |c| format!("{:?}", c.reload_on_rss),
            "Some(300)",
        ),
        ("processes = 4\t; workers", |c| c.processes.to_string(), "4"),
        (
            "harakiri = 0 ; off",
            |c| format!("{:?}", c.harakiri),
            "None",
        ),
        ("listen = 128 #", |c| c.listen.to_string(), "128"),
        (
            "chmod-socket = 660 ; rw for the group",
            |c| format!("{:?}", c.chmod_socket),
            "Some(432)",
        ),
        // uWSGI keeps a comment after a string as part of it
        (
            "module = app ; x",
            |c| format!("{:?}", c.module),
            "Some(\"app ; x\")",
        ),
        (
            "chdir = /srv # dir",
            |c| format!("{:?}", c.chdir),
            "Some(\"/srv # dir\")",
        ),
        ("master = true ; yes", |c| c.master.to_string(), "true"),
    ];
    for (line, field, want) in cases {
        let p = ok(line, FakeHost::with_files(&[]));
        assert_eq!(field(config(&p)), *want, "{line}");
        assert!(p.warnings.is_empty(), "{line}: {:?}", p.warnings);
    }
}

#[test]
fn values_without_a_leading_number_name_file_and_line() {
    for (line, want) in [
        ("processes = many ; x", "/e.ini:4: invalid value 'many ; x' for option 'processes': expected a non-negative integer"),
        ("max-requests = ; 1000", "/e.ini:4: invalid value '; 1000' for option 'max-requests': expected a non-negative integer"),
        ("harakiri = 4s", "/e.ini:4: invalid value '4s' for option 'harakiri': expected a non-negative integer"),
        ("listen = #100", "/e.ini:4: invalid value '#100' for option 'listen': expected a non-negative integer"),
        ("processes = -2 ; x", "/e.ini:4: invalid value '-2 ; x' for option 'processes': expected a non-negative integer"),
        ("chmod-socket = rw ; x", "/e.ini:4: invalid value 'rw ; x' for option 'chmod-socket': expected an octal mode such as 660"),
    ] {
        match ini(line, FakeHost::with_files(&[])) {
            Err(e) => assert_eq!(e.to_string(), want, "{line}"),
            Ok(p) => panic!("{line}: accepted as {:?}", config(&p)),
        }
    }
}

#[test]
fn a_flag_that_looks_false_but_is_true_is_reported() {
    let p = ok("vacuum = false ; keep sockets", FakeHost::with_files(&[]));
    assert!(config(&p).vacuum);
    assert_eq!(
        warning_lines(&p),
        [
            "/e.ini:4: 'vacuum = false ; keep sockets' turns 'vacuum' on: a flag is off only for \
          exactly false, off, no or 0 (as in uWSGI); put the comment on a line of its own"
        ]
    );
    let p = ok("vacuum = false", FakeHost::with_files(&[]));
    assert!(!config(&p).vacuum && p.warnings.is_empty());
}

#[test]
fn every_magic_variable() {
    let site = "[prod]\nsocket = :1\nmodule = m\nini = /etc/uwsgi/base.ini\n\
        env = k=%k\nenv = h=%h\nenv = u=%u\nenv = U=%U\nenv = g=%g\nenv = G=%G\n\
        env = t=%t\nenv = T=%T\nenv = v=%v\nenv = b=%b\nenv = esc=%[\n\
        env = p=%p\nenv = s=%s\nenv = d=%d\nenv = n=%n\nenv = e=%e\nenv = c=%c\n\
        env = x=%x\nenv = o=%o\nenv = i=%i\nenv = j=%j\n\
        env = 0=%0\nenv = 1=%1\nenv = 2=%2\nenv = 3=%3\nenv = pct=100%%\nenv = tail=50%\n";
    let base = "[uwsgi]\nenv = base=%p|%P|%n|%N|%x|%X|%i|%I|%J\n";
    let host = FakeHost::with_files(&[
        ("/etc/uwsgi/apps/site.ini", site),
        ("/etc/uwsgi/base.ini", base),
    ])
    .inode("/etc/uwsgi/apps/site.ini", 4242);
    let p = fake_parse(&["--ini", "/etc/uwsgi/apps/site.ini:prod"], &host).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        env_of(&p),
        [
            "base=/etc/uwsgi/base.ini|/etc/uwsgi/apps/site.ini|base|site||prod||4242|F12AB491",
            "k=4",
            "h=web1",
            "u=1000",
            "U=deploy",
            "g=1001",
            "G=staff",
            "t=1700000000",
            "T=1700000000123456",
            "v=/srv",
            "b=/usr/bin/rwsgi",
            "esc=\x1b",
            "p=/etc/uwsgi/apps/site.ini",
            "s=site.ini",
            "d=/etc/uwsgi/apps/",
            "n=site",
            "e=ini",
            "c=apps",
            "x=prod",
            "o=/etc/uwsgi/apps/site.ini:prod",
            "i=4242",
            "j=F12AB491",
            "0=etc",
            "1=uwsgi",
            "2=apps",
            "3=",
            "pct=100%",
            "tail=50%",
        ]
    );
    // %V: rwsgi's version; relative paths are taken from the current directory
    let host = FakeHost::with_files(&[(
        "/srv/conf/a.ini",
        "[uwsgi]\nsocket = :1\nmodule = m\nenv = V=%V\nenv = p=%p\n",
    )]);
    let p = fake_parse(&["conf/a.ini"], &host).unwrap();
    assert_eq!(
        env_of(&p),
        [format!("V={version}"), "p=/srv/conf/a.ini".into()]
    );
    // a letter uWSGI has no value for
    let e = ini("env = q=%q\n", FakeHost::with_files(&[])).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/e.ini:4: unsupported magic variable '%q'"),
        "{e}"
    );
}

#[test]
fn placeholders_and_arithmetic() {
    for (body, want) in [
        ("processes = %(%k + 1)", "processes=5"),
        ("processes = %((%k * 2) + 1)", "processes=9"),
        ("processes = %(%k * 2 + 1)", "processes=9"),
        ("base = 3\nprocesses = %(base * %k)", "processes=12"),
        ("processes = %(later - 1)\nlater = 8", "processes=7"),
        ("processes = %(%k / 3)", "processes=1"),
        ("processes = %(%k ++)", "processes=5"),
        ("cores = 2\nprocesses = %(cores cores)", "processes=22"),
    ] {
        let p = ok(body, FakeHost::with_files(&[]));
        let c = config(&p);
        let (k, v) = want.split_once('=').unwrap();
        assert_eq!(k, "processes");
        assert_eq!(c.processes.to_string(), v, "{body}");
    }
    // strings
    for (body, want) in [
        ("app = bos\nenv = A=%(app)", "A=bos"),
        (
            "env = A=%(app)-%(processes)\napp = bos\nprocesses = 2",
            "A=bos-2",
        ),
        ("env = A=%(nothing)", "A=%(nothing)"),
        ("env = A=%(asctime)s", "A=%(asctime)s"),
        ("one = 1\ntwo = %(one)%(one)\nenv = A=%(two + 1)", "A=12"),
        ("env = A=%(module).sock", "A=m.sock"),
        ("env = A=$(HOME)/x", "A=/home/d/x"),
        ("env = A=$(NOPE:-fallback)", "A=fallback"),
        ("env = A=$(EMPTY:-fallback)", "A=fallback"),
        ("env = A=$(EMPTY-fallback)", "A="),
        ("env = A=$(NOPE-fallback)", "A=fallback"),
        ("env = A=$(HOME:-fallback)", "A=/home/d"),
        ("dir = $(HOME)\nenv = A=%(dir)/app", "A=/home/d/app"),
    ] {
        let host = FakeHost::with_files(&[])
            .env("HOME", "/home/d")
            .env("EMPTY", "");
        assert_eq!(env_of(&ok(body, host)), [want], "{body}");
    }
}

#[test]
fn value_includes() {
    let host = || {
        FakeHost::with_files(&[("/run/secret", "s3cret\n"), ("/run/two", "a\nb\n")])
            .command("hostname -f", "web1.example.com\n")
            .command("printf x", "x")
    };
    for (body, want) in [
        ("env = S=@(/run/secret)", "S=s3cret"),
        ("env = S=@(file:///run/secret)", "S=s3cret"),
        ("env = S=<@(/run/two)>", "S=<a\nb>"),
        ("env = H=@(exec://hostname -f)", "H=web1.example.com"),
        ("env = H=@(exec://printf x)y", "H=xy"),
    ] {
        assert_eq!(env_of(&ok(body, host())), [want], "{body}");
    }
    for (body, want) in [
        ("env = S=@(/nope)", "/e.ini:4: cannot read '/nope': No such file or directory"),
        ("env = E=user@(example)", "/e.ini:4: cannot read 'example': No such file or directory"),
        ("env = S=@(exec://false)", "/e.ini:4: cannot read 'exec://false': sh: false: not found"),
        ("env = S=@(http://example.com/x)", "/e.ini:4: cannot include '@(http://example.com/x)': rwsgi reads plain paths, file:// and exec:// here"),
    ] {
        assert_eq!(ini(body, host()).unwrap_err().to_string(), want, "{body}");
    }
}

#[test]
fn config_logic() {
    let host = || {
        FakeHost::with_files(&[("/etc/list", "one\ntwo\n\nthree")])
            .env("MODE", "prod")
            .dir("/var/www")
            .glob("/var/www/*.py", &["/var/www/a.py", "/var/www/b.py"])
    };
    let cases: &[(&str, &[&str])] = &[
        ("if-env = MODE\nenv = A=%(_)\nendif", &["A=prod"]),
        ("ifenv = MODE=prod\nenv = A=%(_)\nendif", &["A=prod"]),
        (
            "if-env = MODE=dev\nenv = A=%(_)\nendif\nenv = B=1",
            &["B=1"],
        ),
        ("if-env = NOPE\nenv = A=1\nendif", &[]),
        ("if-not-env = NOPE\nenv = A=%(_)\nendif", &["A=%(_)"]),
        ("if-not-env = MODE\nenv = A=1\nendif", &[]),
        ("if-not-env = MODE=dev\nenv = A=%(_)\nendif", &["A=prod"]),
        (
            "if-exists = /etc/list\nenv = A=%(_)\nendif",
            &["A=/etc/list"],
        ),
        ("if-exists = /var/www\nenv = A=%(_)\nendif", &["A=/var/www"]),
        ("if-exists = /nope\nenv = A=1\nendif", &[]),
        ("if-not-exists = /nope\nenv = A=%(_)\nendif", &["A=/nope"]),
        ("if-file = /etc/list\nenv = A=%(_)\nendif", &["A=/etc/list"]),
        ("if-file = /var/www\nenv = A=1\nendif", &[]),
        (
            "if-not-file = /var/www\nenv = A=%(_)\nendif",
            &["A=/var/www"],
        ),
        ("if-dir = /var/www\nenv = A=%(_)\nend-if", &["A=/var/www"]),
        ("if-dir = /etc/list\nenv = A=1\nendif", &[]),
        (
            "if-not-dir = /etc/list\nenv = A=%(_)\nendif",
            &["A=/etc/list"],
        ),
        (
            "processes = 2\nif-opt = processes\nenv = A=%(_)\nendif",
            &["A=2"],
        ),
        (
            "processes = 2\nif-opt = workers=2\nenv = A=%(_)\nendif",
            &["A=2"],
        ),
        ("processes = 2\nif-opt = processes=3\nenv = A=1\nendif", &[]),
        ("if-opt = processes\nenv = A=1\nendif\nprocesses = 2", &[]),
        ("if-not-opt = threads\nenv = A=%(_)\nendif", &["A=%(_)"]),
        ("app = x\nif-not-opt = app=y\nenv = A=%(_)\nendif", &["A=x"]),
        // checked for every line, as uWSGI does: setting the option inside ends it
        (
            "if-not-opt = threads\nenv = A=1\nthreads = 2\nenv = B=1\nendif",
            &["A=1"],
        ),
        ("if-hostname = web1\nenv = A=%(_)\nendif", &["A=web1"]),
        ("if-not-hostname = web1\nenv = A=1\nendif", &[]),
        ("if-plugin = python3\nenv = A=%(_)\nendif", &["A=python3"]),
        ("if-not-plugin = gevent\nenv = A=%(_)\nendif", &["A=gevent"]),
        ("if-env = NOPE\nenv = A=1\nelse\nenv = B=2\nendif", &["B=2"]),
        ("if-env = MODE\nenv = A=1\nelse\nenv = B=2\nendif", &["A=1"]),
        ("for = a b  c\nenv = X=%(_)\nendfor", &["X=a", "X=b", "X=c"]),
        // line by line, each for every item (uWSGI's order)
        (
            "for = a b\nenv = X=%(_)\nenv = Y=%(_)\nend",
            &["X=a", "X=b", "Y=a", "Y=b"],
        ),
        (
            "for = a\nenv = %(_)=1\nend-for\nenv = after=1",
            &["a=1", "after=1"],
        ),
        (
            "for-glob = /var/www/*.py\nenv = F=%(_)\nendfor",
            &["F=/var/www/a.py", "F=/var/www/b.py"],
        ),
        (
            "for-glob = /none/*.py\nenv = F=%(_)\nendfor",
            &["F=/none/*.py"],
        ),
        (
            "for-readline = /etc/list\nenv = L=%(_)\nendfor",
            &["L=one", "L=two", "L=", "L=three"],
        ),
        (
            "for-times = 3\nenv = N=%(_)\nendfor",
            &["N=1", "N=2", "N=3"],
        ),
        (
            "names = a b\nfor = %(names)\nenv = X=%(_)\nendfor",
            &["X=a", "X=b"],
        ),
        ("if-env = MODE\nendif\nenv = A=1", &["A=1"]),
        ("endif\nenv = A=1", &["A=1"]),
    ];
    for (body, want) in cases {
        assert_eq!(env_of(&ok(body, host())), *want, "{body}");
    }
    // a socket chosen by the environment
    let p = ok(
        "if-env = PORT\nhttp-socket = 127.0.0.1:%(_)\nendif\n",
        host().env("PORT", "8123"),
    );
    assert_eq!(config(&p).sockets.len(), 2);
    assert_eq!(
        config(&p).sockets[1].addr,
        Addr::parse("127.0.0.1:8123").unwrap()
    );
    // on the command line too
    let mut h = host();
    h.files
        .insert("/m.ini".into(), "[uwsgi]\nsocket = :1\nmodule = m\n".into());
    let p = fake_parse(
        &[
            "/m.ini", "--if-env", "MODE", "--env", "A=%(_)", "--endif", "--if-env", "NOPE",
            "--env", "B=1", "--endif",
        ],
        &h,
    )
    .unwrap();
    assert_eq!(env_of(&p), ["A=prod"]);

    // a block nothing closes covers the rest, with a warning
    let p = ok("if-env = NOPE\nenv = A=1\n", host());
    assert!(env_of(&p).is_empty());
    assert_eq!(
        warning_lines(&p),
        ["/e.ini:4: 'if-env' is never closed (endif / endfor): it covers every option after it"]
    );
    let p = ok("if-env = NOPE\nelse\nenv = A=1\n", host());
    assert_eq!(env_of(&p), ["A=1"]);
    assert_eq!(
        warning_lines(&p),
        ["/e.ini:5: 'else' is never closed (endif / endfor): it covers every option after it"]
    );
    for (body, want) in [
        ("for = a b\nif-env = MODE\nendif\nendfor", "/e.ini:5: 'if-env' inside another if-*/for block (config logic blocks do not nest: close the first with endif/endfor)"),
        ("if-env = NOPE\nfor = a\nendfor", "/e.ini:5: 'for' inside another if-*/for block (config logic blocks do not nest: close the first with endif/endfor)"),
        ("if-reload\nenv = A=1\nendif", "/e.ini:4: config logic 'if-reload' is not supported: rwsgi cannot tell a reload from a first start while reading its config"),
        ("for-readline = /nope\nenv = A=%(_)\nendfor", "/e.ini:4: cannot read '/nope': No such file or directory"),
        ("if-env =\nenv = A=1\nendif", "/e.ini:4: option 'if-env' requires a value"),
    ] {
        assert_eq!(ini(body, host()).unwrap_err().to_string(), want, "{body}");
    }
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    for (body, want) in [
        ("vaccum = true", vec!["/e.ini:4: unknown option 'vaccum' (kept as a placeholder; nothing uses it): did you mean 'vacuum'?"]),
        ("procesess = 4", vec!["/e.ini:4: unknown option 'procesess' (kept as a placeholder; nothing uses it): did you mean 'processes'?"]),
        ("harakri = 30", vec!["/e.ini:4: unknown option 'harakri' (kept as a placeholder; nothing uses it): did you mean 'harakiri'?"]),
        ("my_custom_thing = 1", vec!["/e.ini:4: unknown option 'my_custom_thing' (kept as a placeholder; nothing uses it)"]),
        // used as a placeholder (also by the config logic): nothing to report
        ("app = bos\nenv = A=%(app)", vec![]),
        ("app = bos\nif-opt = app\nendif", vec![]),
    ] {
        let p = ok(body, FakeHost::with_files(&[]));
        assert_eq!(warning_lines(&p), want, "{body}");
    }
    // strict refuses them all, used or not
    let e = ini(
        "strict = true\napp = bos\nenv = A=%(app)",
        FakeHost::with_files(&[]),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "/e.ini:5: unknown option 'app'");
    // the command line has no placeholders: still refused
    let e = fake_parse(&["--vaccum"], &FakeHost::with_files(&[])).unwrap_err();
    assert_eq!(e.to_string(), "command line: unknown option 'vaccum'");
}

#[test]
fn a_flag_word_for_a_number_reads_as_zero_with_a_warning() {
    // real configs: kobo-kpi and Runestone `post-buffering = true`, Label Studio `cheaper = true`
    for (line, field, want) in [
        (
            "post-buffering = true",
            (|c: &Config| c.post_buffering.to_string()) as fn(&Config) -> String,
            "0",
        ),
        (
            "max-requests = Off",
            |c| format!("{:?}", c.max_requests),
            "None",
        ),
    ] {
        let p = ok(line, FakeHost::with_files(&[]));
        assert_eq!(field(config(&p)), want, "{line}");
        let (written, name) = line.split_once(" = ").map(|(k, v)| (v, k)).unwrap();
        assert_eq!(
            warning_lines(&p),
            [format!(
                "/e.ini:4: '{name} = {written}' reads as 0, as in uWSGI (a word for a number \
                 is 0): '{name}' gets 0; write the number meant"
            )],
            "{line}"
        );
    }
    // a word where 0 is out of range is still refused, naming the range
    let e = ini("listen = yes", FakeHost::with_files(&[]))
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.starts_with("/e.ini:4: invalid value '0' for option 'listen'")),
        "{e:?}"
    );
    // any other word is an error as before
    let e = ini("post-buffering = lots", FakeHost::with_files(&[]))
        .err()
        .map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("/e.ini:4: invalid value 'lots' for option 'post-buffering': expected a non-negative integer"));
}
