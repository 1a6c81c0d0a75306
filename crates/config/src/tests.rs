//! Table-driven tests of the whole parsing pipeline.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::lang_tests::{fake_parse, warning_lines, FakeHost};
use crate::*;

/// Parse with in-memory files and environment.
fn run(
    args: &[&str],
    files: &[(&str, &str)],
    env_vars: &[(&str, &str)],
) -> Result<Command, ConfigError> {
    let files: HashMap<PathBuf, String> = files
        .iter()
        .map(|(p, c)| (PathBuf::from(p), c.to_string()))
        .collect();
    let envs: HashMap<String, String> = env_vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env_clone = envs.clone();
    parse_args_and_env(
        args.iter().map(|s| s.to_string()),
        envs,
        move |k: &str| env_clone.get(k).cloned(),
        move |p: &Path| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
        },
    )
}

fn serve(args: &[&str], files: &[(&str, &str)]) -> Config {
    match run(args, files, &[]) {
        Ok(Command::Serve(c)) => c,
        other => panic!("{args:?}: expected Serve, got {other:?}"),
    }
}

fn err(args: &[&str], files: &[(&str, &str)]) -> String {
    match run(args, files, &[]) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
    }
}

fn tcp(host: &str, port: u16) -> Addr {
    Addr::Tcp {
        host: host.into(),
        port,
    }
}

fn sock(addr: &str, protocol: Protocol, option: &'static str) -> SocketSpec {
    SocketSpec {
        addr: Addr::parse(addr).unwrap(),
        protocol,
        option,
    }
}

const SEED: &[&str] = &[
    "--socket",
    ":3031",
    "--stats",
    ":1717",
    "--module",
    "welcome",
    "--master",
    "--processes",
    "8",
];

fn seed_config() -> Config {
    Config {
        sockets: vec![sock(":3031", Protocol::Uwsgi, "socket")],
        stats: Some(tcp("", 1717)),
        module: Some("welcome".into()),
        master: true,
        processes: 8,
        ..Config::default()
    }
}

#[test]
fn seed_command_line() {
    assert_eq!(serve(SEED, &[]), seed_config());
}

#[test]
fn seed_equivalents() {
    let ini =
        "[uwsgi]\nsocket = :3031\nstats = :1717\nmodule = welcome\nmaster = true\nprocesses = 8\n";
    let files = [
        ("/etc/app.ini", ini),
        (
            "/etc/sections.ini",
            "[other]\nsocket = :9999\n\n[prod]\n; comment\n# another\n  socket=:3031  \nstats-server = :1717\nwsgi = welcome\nmaster\nworkers = 8\n",
        ),
        ("/etc/crlf.ini", "[uwsgi]\r\nsocket = :3031\r\nstats = :1717\r\nmodule = welcome\r\nmaster = 1\r\nprocesses = 8"),
    ];
    let cases: &[&[&str]] = &[
        &["--ini", "/etc/app.ini"],
        &["--ini=/etc/app.ini"],
        &["/etc/app.ini"],
        &["rwsgi", "/etc/app.ini"],
        &["/usr/local/bin/uwsgi", "--ini", "/etc/app.ini"],
        &["--ini", "/etc/sections.ini:prod"],
        &["/etc/sections.ini:prod"],
        &["--ini", "/etc/crlf.ini"],
        &[
            "--socket=:3031",
            "--stats=:1717",
            "--module=welcome",
            "--master",
            "--processes=8",
        ],
        &[
            "--socket",
            ":3031",
            "--stats_server",
            ":1717",
            "--wsgi",
            "welcome",
            "--master=true",
            "--workers",
            "8",
        ],
        &[
            "-s", ":3031", "--stats", ":1717", "-w", "welcome", "-M", "-p", "8",
        ],
        &["-s:3031", "--stats", ":1717", "-wwelcome", "-Mp8"],
        &[
            "-Mp", "8", "-s", ":3031", "--stats", ":1717", "-w", "welcome",
        ],
        &[
            "--buffer_size",
            "4096",
            "--socket",
            ":3031",
            "--stats",
            ":1717",
            "--module",
            "welcome",
            "--master",
            "--processes",
            "8",
        ],
    ];
    for args in cases {
        assert_eq!(serve(args, &files), seed_config(), "{args:?}");
    }
    // environment variables
    let envs = [
        ("UWSGI_SOCKET", ":3031"),
        ("UWSGI_STATS", ":1717"),
        ("UWSGI_MODULE", "welcome"),
        ("UWSGI_MASTER", "1"),
        ("UWSGI_PROCESSES", "8"),
        ("UWSGI_RELOADS", "3"),
        ("PATH", "/bin"),
    ];
    assert_eq!(run(&[], &[], &envs).unwrap(), Command::Serve(seed_config()));
    let envs = [("UWSGI_INI", "/etc/app.ini")];
    assert_eq!(
        run(&[], &files, &envs).unwrap(),
        Command::Serve(seed_config())
    );
    // command line comes after the environment: last value wins
    let envs = [("UWSGI_PROCESSES", "2")];
    assert_eq!(
        run(SEED, &[], &envs).unwrap(),
        Command::Serve(seed_config())
    );
}

#[test]
fn options_from_env_mapping() {
    let got = options_from_env(vec![
        ("UWSGI_BUFFER_SIZE".to_string(), "8192".to_string()),
        ("UWSGI_ORIGINAL_PROC_NAME".to_string(), "x".to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ]);
    assert_eq!(
        got,
        vec![EnvOption {
            var: "UWSGI_BUFFER_SIZE".into(),
            option: "buffer-size".into(),
            value: "8192".into()
        }]
    );
}

#[test]
fn flags_and_values_in_ini() {
    let ini = "[uwsgi]\n\
        http-socket = 127.0.0.1:8080\n\
        master = false\n\
        vacuum = yes\n\
        lazy_apps = on\n\
        lazy-apps = off\n\
        need-app = no\n\
        manage-script-name\n\
        disable-logging = 0\n\
        enable-threads = true\n\
        thunder-lock\n\
        single-interpreter = true\n\
        die-on-term = true\n\
        stats-min = true\n\
        memory-report = maybe\n";
    let c = serve(&["--master", "--ini", "/a.ini"], &[("/a.ini", ini)]);
    assert!(!c.master, "ini after CLI turns master off");
    assert!(c.vacuum);
    assert!(!c.lazy_apps);
    assert!(!c.need_app);
    assert!(c.manage_script_name);
    assert!(!c.disable_logging);
    assert!(c.stats_minified);
    assert!(c.memory_report, "uWSGI: any other value means true");
    assert_eq!(
        c.sockets,
        vec![sock("127.0.0.1:8080", Protocol::Http, "http-socket")]
    );
}

#[test]
fn every_option_field() {
    let ini = r#"
[uwsgi]
socket = /tmp/app.sock
uwsgi-socket = @abstract
http-socket = [::1]:8000
http11-socket = localhost:8001
http = :8002
listen = 1024
buffer-size = 32768
add-header = X-Frame-Options: DENY
add-header = Connection: close
socket-timeout = 7
chmod-socket = 660
threads = 4
lazy = true
harakiri = 30
max-requests = 5000
max-requests-delta = 50
reload-on-rss = 512
limit-as = 4096
evil-reload-on-rss = 1024
reload-mercy = 10
worker-reload-mercy = 20
pidfile = /run/app.pid
hook-master-start = unix_signal:15 gracefully_kill_them_all
hook-master-start = unix_signal:10 grace_them_all
touch-reload = /etc/app/reload
touch-reload = app.py
uid = www-data
gid = 33
procname-prefix-spaced = myapp
auto-procname = true
strict = true
wsgi-file = app/wsgi.py
callable = app
chdir = /srv/app
chdir2 = /srv
pythonpath = /srv/lib
python-path = /srv/lib2
pp = ..
mount = /api=api.wsgi:app
mount = /admin=admin.py
env = DJANGO_SETTINGS_MODULE=site.settings
env = EMPTY=
env = WITH_EQ=a=b
home = /srv/venv
py-autoreload = 2
plugins = python3, stats_pusher_file
plugin = python3
logto = /var/log/app.log
stats-http = true
stats-no-cores = true
stats-no-metrics = true
stats-pusher-default-freq = 7
carbon = 127.0.0.1:2003
carbon = 127.0.0.1:2004
carbon-freq = 10
carbon-id = myid
carbon-root = root
carbon-no-workers = true
statsd-no-workers = true
statsd-all-gauges = true
"#;
    let c = serve(&["/x.ini"], &[("/x.ini", ini)]);
    assert_eq!(
        c.sockets,
        vec![
            sock("/tmp/app.sock", Protocol::Uwsgi, "socket"),
            sock("@abstract", Protocol::Uwsgi, "uwsgi-socket"),
            sock("[::1]:8000", Protocol::Http, "http-socket"),
            sock("localhost:8001", Protocol::Http11, "http11-socket"),
            sock(":8002", Protocol::Http, "http"),
        ]
    );
    let want = Config {
        sockets: c.sockets.clone(),
        listen: 1024,
        buffer_size: 32768,
        add_headers: vec![
            ("X-Frame-Options".into(), "DENY".into()),
            ("Connection".into(), "close".into()),
        ],
        socket_timeout: Some(7),
        chmod_socket: Some(0o660),
        threads: 4,
        lazy: true,
        harakiri: Some(30),
        max_requests: Some(5000),
        max_requests_delta: 50,
        reload_on_rss: Some(512),
        limit_as: Some(4096),
        evil_reload_on_rss: Some(1024),
        reload_mercy: Some(10),
        worker_reload_mercy: 20,
        pidfile: Some("/run/app.pid".into()),
        signal_hooks: vec![
            SignalHook {
                signal: 15,
                action: SignalAction::GracefulShutdown,
            },
            SignalHook {
                signal: 10,
                action: SignalAction::GracefulReload,
            },
        ],
        touch_reload: vec!["/etc/app/reload".into(), "app.py".into()],
        uid: Some("www-data".into()),
        gid: Some("33".into()),
        procname_prefix: Some("myapp ".into()),
        auto_procname: true,
        strict: true,
        wsgi_file: Some("app/wsgi.py".into()),
        callable: "app".into(),
        chdir: Some("/srv/app".into()),
        chdir2: Some("/srv".into()),
        pythonpath: vec!["/srv/lib".into(), "/srv/lib2".into(), "..".into()],
        mounts: vec![
            Mount {
                prefix: "/api".into(),
                app: "api.wsgi:app".into(),
            },
            Mount {
                prefix: "/admin".into(),
                app: "admin.py".into(),
            },
        ],
        env: vec![
            ("DJANGO_SETTINGS_MODULE".into(), "site.settings".into()),
            ("EMPTY".into(), "".into()),
            ("WITH_EQ".into(), "a=b".into()),
        ],
        home: Some("/srv/venv".into()),
        py_autoreload: Some(2),
        plugins: vec!["python3".into(), "stats_pusher_file".into()],
        logto: Some("/var/log/app.log".into()),
        stats_http: true,
        stats_no_cores: true,
        stats_no_metrics: true,
        stats_pusher_default_freq: 7,
        carbon: vec!["127.0.0.1:2003".into(), "127.0.0.1:2004".into()],
        carbon_freq: 10,
        carbon_id: Some("myid".into()),
        carbon_root: Some("root".into()),
        carbon_no_workers: true,
        statsd_no_workers: true,
        statsd_all_gauges: true,
        ..Config::default()
    };
    assert_eq!(c, want);
}

#[test]
fn seed_stats_pusher_inis() {
    let files = [
        (
            "/p.ini",
            "[uwsgi]\nplugins = stats_pusher_mongodb\nstats-push = mongodb:addr=127.0.0.1:5151,collection=uwsgi.mystats,freq=4\n",
        ),
        ("/f.ini", "[uwsgi]\nstats-push = file:path=/tmp/foobar,freq=10\n"),
    ];
    let c = serve(
        SEED.iter()
            .copied()
            .chain(["--ini", "/p.ini", "--ini", "/f.ini"])
            .collect::<Vec<_>>()
            .as_slice(),
        &files,
    );
    assert_eq!(c.plugins, ["stats_pusher_mongodb"]);
    assert_eq!(
        c.stats_push,
        [
            "mongodb:addr=127.0.0.1:5151,collection=uwsgi.mystats,freq=4",
            "file:path=/tmp/foobar,freq=10"
        ]
    );
}

#[test]
fn nested_ini_is_processed_in_place() {
    let files = [
        (
            "/etc/main.ini",
            "[uwsgi]\nprocesses = 2\nini = /etc/base.ini\nsocket = :2\n",
        ),
        (
            "/etc/base.ini",
            "[uwsgi]\nprocesses = 4\nsocket = :1\nini = /etc/leaf.ini:extra\n",
        ),
        (
            "/etc/leaf.ini",
            "[extra]\nmodule = leaf\n[uwsgi]\nmodule = wrong\n",
        ),
    ];
    let c = serve(
        &[
            "--socket",
            ":0",
            "--ini",
            "/etc/main.ini",
            "--processes",
            "3",
        ],
        &files,
    );
    assert_eq!(c.processes, 3);
    assert_eq!(c.module.as_deref(), Some("leaf"));
    let ports: Vec<String> = c.sockets.iter().map(|s| s.addr.to_string()).collect();
    assert_eq!(ports, [":0", ":1", ":2"]);

    let c = serve(&["/etc/main.ini", "--processes", "3"], &files);
    assert_eq!(c.processes, 3);

    // ":section" reuses the last ini file
    let files = [("/a.ini", "[uwsgi]\nsocket = :1\n[app]\nmodule = a\n")];
    let c = serve(&["--ini", "/a.ini", "--ini", ":app"], &files);
    assert_eq!(c.module.as_deref(), Some("a"));
}

#[test]
fn magic_variables() {
    let ini = "[uwsgi]\n\
        socket = %dsock/%n.sock\n\
        module = %n\n\
        chdir = %d\n\
        pidfile = /run/%c/%s.pid\n\
        logto = %p|%e|%o|%0|%1|100%%|50%\n\
        env = HOME_IS=$(HOME)\n\
        env = MISSING=$(NOPE)x\n\
        env = DOLLAR=$5 and $(unterminated\n\
        env = PLACE=%(module)-%(processes)\n\
        env = FWD=%(later)\n\
        env = UNRESOLVED=%(asctime)s\n\
        processes = 2\n\
        set-placeholder = later=forward\n";
    let files = [("/srv/myapp/conf/app.ini", ini)];
    let envs = [("HOME", "/home/u")];
    let Command::Serve(c) = run(&["--ini", "/srv/myapp/conf/app.ini"], &files, &envs).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        c.sockets[0].addr,
        Addr::Unix("/srv/myapp/conf/sock/app.sock".into())
    );
    assert_eq!(c.module.as_deref(), Some("app"));
    assert_eq!(c.chdir, Some("/srv/myapp/conf/".into()));
    assert_eq!(c.pidfile, Some("/run/conf/app.ini.pid".into()));
    assert_eq!(
        c.logto.as_deref(),
        Some("/srv/myapp/conf/app.ini|ini|/srv/myapp/conf/app.ini|srv|myapp|100%|50%")
    );
    assert_eq!(
        c.env,
        [
            ("HOME_IS".to_string(), "/home/u".to_string()),
            ("MISSING".into(), "x".into()),
            ("DOLLAR".into(), "$5 and $(unterminated".into()),
            ("PLACE".into(), "app-2".into()),
            ("FWD".into(), "forward".into()),
            ("UNRESOLVED".into(), "%(asctime)s".into()),
        ]
    );

    let e = err(
        &["/x.ini"],
        &[(
            "/x.ini",
            "[uwsgi]\n; 100% ok in comments\nsocket = :1\nmodule = %q\n",
        )],
    );
    assert!(e.contains("/x.ini:4") && e.contains("'%q'"), "{e}");
}

#[test]
fn placeholders_and_unknown_keys() {
    // custom keys are fine when used as placeholders (uWSGI docs pattern)
    let ini = "[uwsgi]\nmy_domain = example.com\nsocket = /tmp/%(my-domain).sock\nmodule = m\n";
    let c = serve(&["/p.ini"], &[("/p.ini", ini)]);
    assert_eq!(
        c.sockets[0].addr,
        Addr::Unix("/tmp/example.com.sock".into())
    );
    // ... but not in strict mode
    let e = err(&["--strict", "/p.ini"], &[("/p.ini", ini)]);
    assert_eq!(e, "/p.ini:2: unknown option 'my_domain'");
    // unreferenced unknown key: kept, with a warning naming file and line (uWSGI starts too);
    // refused under strict
    let ini = "[uwsgi]\nsocket = :1\n\nmodule = m\nxyz = 1\n";
    let p = fake_parse(&["/u.ini"], &FakeHost::with_files(&[("/u.ini", ini)])).unwrap();
    assert_eq!(
        warning_lines(&p),
        ["/u.ini:5: unknown option 'xyz' (kept as a placeholder; nothing uses it)"]
    );
    let e = err(&["--strict", "/u.ini"], &[("/u.ini", ini)]);
    assert_eq!(e, "/u.ini:5: unknown option 'xyz'");
    // `set` sets real options, or placeholders otherwise
    let c = serve(
        &[
            "-S",
            "processes=3",
            "--set",
            "base=/srv",
            "--chdir",
            "%(base)/app",
            "-s",
            ":1",
            "-w",
            "m",
        ],
        &[],
    );
    assert_eq!(c.processes, 3);
    assert_eq!(c.chdir, Some("/srv/app".into()));
    // options are usable as placeholders under any spelling, first value wins
    let c = serve(
        &["-s", ":1", "-p", "2", "-p", "5", "--module", "w%(workers)"],
        &[],
    );
    assert_eq!(c.module.as_deref(), Some("w2"));
    assert_eq!(c.processes, 5);
    // ini paths may use placeholders
    let c = serve(
        &["--set-ph", "dir=/cfg", "--ini", "%(dir)/a.ini"],
        &[("/cfg/a.ini", "[uwsgi]\nsocket = :1\nmodule = m\n")],
    );
    assert_eq!(c.module.as_deref(), Some("m"));
}

#[test]
fn unknown_env_vars_are_ignored_unless_strict() {
    let envs = [
        ("UWSGI_SOCKET", ":1"),
        ("UWSGI_MODULE", "m"),
        ("UWSGI_FANCY_THING", "1"),
    ];
    assert!(matches!(run(&[], &[], &envs), Ok(Command::Serve(_))));
    let e = run(&["--strict"], &[], &envs).unwrap_err().to_string();
    assert_eq!(
        e,
        "environment variable UWSGI_FANCY_THING: unknown option 'fancy-thing'"
    );
    let e = run(
        &[],
        &[],
        &[("UWSGI_PROCESSES", "lots"), ("UWSGI_SOCKET", ":1")],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "environment variable UWSGI_PROCESSES: invalid value 'lots' for option 'processes': expected a non-negative integer"
    );
}

#[test]
fn error_cases_name_the_option() {
    let ok = ["--socket", ":1", "--module", "m"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        ok.iter().copied().chain(extra.iter().copied()).collect()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with(&["--xyz"]), "command line: unknown option 'xyz'"),
        (with(&["--xyz=1"]), "command line: unknown option 'xyz'"),
        (with(&["-Q"]), "command line: unknown option '-Q'"),
        (with(&["--processes", "abc"]), "command line: invalid value 'abc' for option 'processes': expected a non-negative integer"),
        (with(&["--socket-timeout", "4s"]), "command line: invalid value '4s' for option 'socket-timeout': expected a non-negative integer"),
        (with(&["--hook-master-start", "exec:true"]), "command line: invalid value 'exec:true' for option 'hook-master-start': rwsgi runs only 'unix_signal:N ACTION' hooks"),
        (with(&["--hook-master-start", "unix_signal:9 gracefully_kill_them_all"]), "command line: invalid value 'unix_signal:9 gracefully_kill_them_all' for option 'hook-master-start': this signal cannot be hooked"),
        (with(&["--hook-master-start", "unix_signal:15 kill_them_all"]), "command line: invalid value 'unix_signal:15 kill_them_all' for option 'hook-master-start': supported actions are gracefully_kill_them_all and grace_them_all"),
        (with(&["--add-header", "X-Frame-Options"]), "command line: invalid value 'X-Frame-Options' for option 'add-header': expected 'Name: value'"),
        (with(&["--add-header", "Bad Name: 1"]), "command line: invalid value 'Bad Name: 1' for option 'add-header': the header name must be an HTTP token"),
        (with(&["--add-header", "Content-Length: 5"]), "command line: invalid value 'Content-Length: 5' for option 'add-header': the server sets this header itself"),
        (with(&["--queue", "8"]), "command line: invalid value '8' for option 'queue': rwsgi has no shared queue (uwsgi.queue_*): use Redis or a task queue"),
        (with(&["--harakiri-graceful-signal", "9"]), "command line: invalid value '9' for option 'harakiri-graceful-signal': expected a signal number a process can catch"),
        (with(&["--add-header", "Connection: upgrade"]), "command line: invalid value 'Connection: upgrade' for option 'add-header': the server sets this header itself"),
        (with(&["-p", "0"]), "command line: invalid value '0' for option '-p': must be between 1 and 65535"),
        (with(&["--workers=-3"]), "command line: invalid value '-3' for option 'workers': expected a non-negative integer"),
        (with(&["--threads", "0"]), "command line: invalid value '0' for option 'threads': must be between 1 and 65535"),
        (with(&["--buffer-size", "0"]), "command line: invalid value '0' for option 'buffer-size': must be at least 1"),
        (with(&["--socket", "127.0.0.1:http"]), "command line: invalid value '127.0.0.1:http' for option 'socket': invalid port 'http'"),
        (with(&["--stats", "::1:80"]), "command line: invalid value '::1:80' for option 'stats': IPv6 addresses must be written in brackets, e.g. [::1]:3031"),
        (with(&["--chmod-socket=rw"]), "command line: invalid value 'rw' for option 'chmod-socket': expected an octal mode such as 660"),
        (with(&["--static-map", "/static"]), "command line: invalid value '/static' for option 'static-map': expected /PREFIX=DIR"),
        (with(&["--static-map2", "=dir"]), "command line: invalid value '=dir' for option 'static-map2': expected /PREFIX=DIR"),
        (with(&["--static-expires-type", "text/css=soon"]), "command line: invalid value 'text/css=soon' for option 'static-expires-type': expected KEY=SECONDS"),
        (with(&["--static-expires", "/* soon"]), "command line: invalid value '/* soon' for option 'static-expires': expected REGEX SECONDS"),
        (with(&["--file-serve-mode", "ftp"]), "command line: invalid value 'ftp' for option 'file-serve-mode': expected x-sendfile, x-accel-redirect or raw"),
        (with(&["--processes"]), "command line: option 'processes' requires a value"),
        (with(&["-p"]), "command line: option '-p' requires a value"),
        (with(&["--mount", "/x"]), "command line: invalid value '/x' for option 'mount': expected /PREFIX=APP"),
        (with(&["--env", "NOEQ"]), "command line: invalid value 'NOEQ' for option 'env': expected KEY=VALUE"),
        (with(&["--protocol", "fastcgi"]), "command line: invalid value 'fastcgi' for option 'protocol': expected uwsgi, http or http11"),
        (with(&["--plugins", "python3,router_static"]), "command line: unknown plugin 'router_static': rwsgi has these built in: python3 (also python, pythonX, pythonX.Y), http, corerouter, cheaper_busyness, stats_pusher_file, stats_pusher_mongodb, stats_pusher_socket, stats_pusher_statsd, stats_pusher_zabbix, carbon, escape_json"),
        (with(&["stray"]), "command line: unexpected argument 'stray' (expected an option, a .ini file or a .py/.wsgi file)"),
        (with(&["--ini", "/missing.ini"]), "command line: cannot read ini file '/missing.ini': No such file or directory"),
        (vec!["--module", "m"], "no socket configured: use --socket, --http-socket or --http11-socket"),
        (vec!["--socket", ":1"], "no application configured: use --module, --wsgi-file, --paste or --mount (or need-app = false)"),
    ];
    for (args, want) in cases {
        assert_eq!(err(&args, &[]), want, "{args:?}");
    }
}

#[test]
fn ini_error_cases_name_file_and_line() {
    let cases: &[(&str, &str)] = &[
        ("[uwsgi]\nsocket = :1\nmodule = m\nprocesses = many\n", "/e.ini:4: invalid value 'many' for option 'processes': expected a non-negative integer"),
        ("[uwsgi]\nsocket = :1\nmodule = m\nworkers = 0\n", "/e.ini:4: invalid value '0' for option 'workers': must be between 1 and 65535"),
        ("[uwsgi]\nsocket = bad host:1\n", "/e.ini:2: invalid value 'bad host:1' for option 'socket': invalid host 'bad host'"),
        ("[uwsgi]\nsocket\n", "/e.ini:2: option 'socket' requires a value"),
        ("[uwsgi]\nmodule =\n", "/e.ini:2: option 'module' requires a value"),
        ("[uwsgi\nsocket = :1\n", "/e.ini:1: malformed section header '[uwsgi'"),
        ("[other]\nsocket = :1\n", "command line: ini file '/e.ini' has no [uwsgi] section"),
        ("[uwsgi]\nplugins = python3,http,lua\n", "/e.ini:2: unknown plugin 'lua': rwsgi has these built in: python3 (also python, pythonX, pythonX.Y), http, corerouter, cheaper_busyness, stats_pusher_file, stats_pusher_mongodb, stats_pusher_socket, stats_pusher_statsd, stats_pusher_zabbix, carbon, escape_json"),
        ("[uwsgi]\nini = /missing.ini\n", "/e.ini:2: cannot read ini file '/missing.ini': No such file or directory"),
        ("[uwsgi]\nini = /e.ini\n", "/e.ini:2: ini files nested more than 16 levels deep while loading '/e.ini' (include cycle?)"),
    ];
    for (content, want) in cases {
        assert_eq!(
            err(&["--ini", "/e.ini"], &[("/e.ini", content)]),
            *want,
            "{content}"
        );
    }
}

#[test]
fn buffer_size_past_16_bits_means_the_largest_buffer_as_in_uwsgi() {
    let c = serve(
        &["--socket", ":1", "--module", "m", "--buffer-size", "65536"],
        &[],
    );
    assert_eq!(c.buffer_size, 65535);
}

#[test]
fn defaults() {
    let c = serve(&["--socket", ":1", "--module", "m"], &[]);
    assert_eq!(c.listen, 100);
    assert_eq!(c.buffer_size, 4096);
    assert_eq!(c.processes, 1);
    assert_eq!(c.threads, 1);
    assert_eq!(c.callable, "application");
    assert_eq!(c.reload_mercy, None);
    assert_eq!(c.worker_reload_mercy, 60);
    assert_eq!(c.stats_pusher_default_freq, 3);
    assert_eq!(c.carbon_freq, 60);
    assert!(c.need_app);
    assert!(!c.master);
    assert_eq!(c.harakiri, None);
    assert_eq!(c.chmod_socket, None);
}

#[test]
fn need_app_false_allows_no_app() {
    let c = serve(&["--http-socket", ":8080", "--need-app=false"], &[]);
    assert!(!c.need_app);
    let c = serve(&["--http-socket", ":8080", "--mount", "/=app.py"], &[]);
    assert!(c.mounts[0].is_file());
    let c = serve(&["--http-socket", ":8080", "app.wsgi"], &[]);
    assert_eq!(c.wsgi_file, Some("app.wsgi".into()));
}

#[test]
fn chmod_socket_forms() {
    let base = ["--socket", "/tmp/s.sock", "--module", "m"];
    for (extra, want) in [
        (&["--chmod-socket"][..], Some(0o666)),
        (&["--chmod-socket=660"][..], Some(0o660)),
        (&["--chmod-socket", "644"][..], Some(0o644)),
        (&["-C"][..], Some(0o666)),
        (&["-C664"][..], Some(0o664)),
        (&["--chmod", "--master"][..], Some(0o666)),
        (&[][..], None),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        assert_eq!(serve(&args, &[]).chmod_socket, want, "{extra:?}");
    }
    let c = serve(
        &["/c.ini"],
        &[(
            "/c.ini",
            "[uwsgi]\nsocket = a.sock\nmodule = m\nchmod-socket\n",
        )],
    );
    assert_eq!(c.chmod_socket, Some(0o666));
}

#[test]
fn stats_safety_options() {
    let base = [
        "--socket",
        "/tmp/s.sock",
        "--module",
        "m",
        "--stats",
        "/tmp/st.sock",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    let c = serve(&with(&[]), &[]);
    assert_eq!(
        (c.stats_vars, c.stats_chmod, c.stats_max_clients),
        (crate::StatsVars::Redacted, None, 1024)
    );
    let c = serve(
        &with(&[
            "--stats-vars=FULL",
            "--stats-chmod",
            "640",
            "--stats-redact",
            "X-Api-Key",
            "--stats-redact=HTTP_X_B",
            "--stats-max-clients",
            "5",
        ]),
        &[],
    );
    assert_eq!(c.stats_vars, crate::StatsVars::Full);
    assert_eq!(c.stats_chmod, Some(0o640));
    assert_eq!(c.stats_redact, vec!["X-Api-Key", "HTTP_X_B"]);
    assert_eq!(c.stats_max_clients, 5);
    assert_eq!(
        serve(&with(&["--stats-vars", "off"]), &[]).stats_vars,
        crate::StatsVars::Off
    );
    assert!(err(&with(&["--stats-vars", "some"]), &[]).contains("expected redacted, full or off"));
    assert!(err(&with(&["--stats-max-clients", "0"]), &[]).contains("stats-max-clients"));
    // Credentials need a request to travel in: a raw stats socket has none.
    let auth = ["--stats-http-auth", "/etc/auth"];
    assert!(err(&with(&auth), &[]).contains("--stats-http-auth needs --stats-http"));
    let c = serve(
        &with(&["--stats-http-auth", "/etc/auth", "--stats-http"]),
        &[],
    );
    assert_eq!(c.stats_http_auth, Some("/etc/auth".into()));
}

#[test]
fn protocol_forces_plain_sockets_only() {
    let c = serve(
        &[
            "--socket",
            ":1",
            "--uwsgi-socket",
            ":2",
            "--protocol",
            "http",
            "--socket",
            ":3",
            "-w",
            "m",
        ],
        &[],
    );
    let protos: Vec<Protocol> = c.sockets.iter().map(|s| s.protocol).collect();
    assert_eq!(protos, [Protocol::Http, Protocol::Uwsgi, Protocol::Http]);
}

#[test]
fn immediate_commands() {
    let Command::Help(h) = run(&["--socket", ":1", "--help", "--bogus"], &[], &[]).unwrap() else {
        panic!()
    };
    assert!(h.contains("--socket"));
    assert!(matches!(run(&["-h"], &[], &[]), Ok(Command::Help(_))));
    assert!(matches!(run(&["--usage"], &[], &[]), Ok(Command::Help(_))));
    assert_eq!(run(&["--version"], &[], &[]).unwrap(), Command::Version);
    assert_eq!(
        run(&["--connect-and-read", "127.0.0.1:1717"], &[], &[]).unwrap(),
        Command::ConnectAndRead("127.0.0.1:1717".into())
    );
    assert_eq!(
        run(
            &["/s.ini"],
            &[("/s.ini", "[uwsgi]\nconnect-and-read = /tmp/stats.sock\n")],
            &[]
        )
        .unwrap(),
        Command::ConnectAndRead("/tmp/stats.sock".into())
    );
    // errors before an immediate option still win, like uWSGI
    assert!(run(&["--bogus", "--help"], &[], &[]).is_err());
}

#[test]
fn double_dash_and_positionals() {
    let c = serve(&["--socket", ":1", "--", "app.py"], &[]);
    assert_eq!(c.wsgi_file, Some("app.py".into()));
    assert_eq!(
        err(&["--socket", ":1", "--", "--module"], &[]),
        "command line: unexpected argument '--module' (expected an option, a .ini file or a .py/.wsgi file)"
    );
}

#[test]
fn repeatable_and_last_wins() {
    let c = serve(
        &[
            "--socket",
            ":1",
            "--http-socket",
            ":2",
            "--pythonpath",
            "a",
            "--pp",
            "b",
            "--module",
            "first",
            "--module",
            "second",
            "--plugins",
            "python3,carbon",
            "--plugin",
            "stats_pusher_statsd",
            "--stats-push",
            "statsd:127.0.0.1:8125",
            "--stats-push",
            "file:path=/tmp/x",
        ],
        &[],
    );
    assert_eq!(c.sockets.len(), 2);
    assert_eq!(c.pythonpath, [PathBuf::from("a"), PathBuf::from("b")]);
    assert_eq!(c.module.as_deref(), Some("second"));
    assert_eq!(c.plugins, ["python3", "carbon", "stats_pusher_statsd"]);
    assert_eq!(c.stats_push.len(), 2);
}

#[test]
fn zero_disables_timers() {
    let c = serve(
        &[
            "-s",
            ":1",
            "-w",
            "m",
            "--harakiri",
            "0",
            "--max-requests",
            "0",
            "--py-autoreload",
            "0",
            "--socket-timeout",
            "0",
        ],
        &[],
    );
    assert_eq!(
        (
            c.harakiri,
            c.max_requests,
            c.py_autoreload,
            c.socket_timeout
        ),
        (None, None, None, None)
    );
    let c = serve(
        &["-s", ":1", "-w", "m", "-t", "20", "-R", "100", "-z", "3"],
        &[],
    );
    assert_eq!(
        (c.harakiri, c.max_requests, c.socket_timeout),
        (Some(20), Some(100), Some(3))
    );
}

#[test]
fn post_buffering_and_forwarded_allow_ips() {
    let c = serve(&["-s", ":1", "-w", "m"], &[]);
    assert_eq!((c.post_buffering, c.post_buffering_bufsize), (0, 0));
    assert_eq!(c.forwarded_allow_ips, TrustedPeers::default());
    let ini = "[uwsgi]\nsocket = :1\nmodule = m\npost-buffering = 4096\n\
               post-buffering-bufsize = 65536\nforwarded-allow-ips = 10.0.0.0/8, 192.0.2.1\n";
    let c = serve(&["--ini", "/x.ini"], &[("/x.ini", ini)]);
    assert_eq!((c.post_buffering, c.post_buffering_bufsize), (4096, 65536));
    assert_eq!(
        c.forwarded_allow_ips,
        TrustedPeers::parse("10.0.0.0/8,192.0.2.1").unwrap()
    );
    let c = serve(&["-s", ":1", "-w", "m", "--forwarded-allow-ips", "*"], &[]);
    assert_eq!(c.forwarded_allow_ips, TrustedPeers::Everyone);
    let e = err(
        &[
            "-s",
            ":1",
            "-w",
            "m",
            "--forwarded-allow-ips",
            "10.0.0.0/40",
        ],
        &[],
    );
    assert!(
        e.contains("forwarded-allow-ips") && e.contains("prefix"),
        "{e}"
    );
    let e = err(&["-s", ":1", "-w", "m", "--post-buffering", "lots"], &[]);
    assert!(e.contains("post-buffering"), "{e}");
}

#[test]
fn static_file_options_accumulate_in_order() {
    let c = serve(
        &[
            "--socket",
            ":1",
            "--module",
            "m",
            "--static-map",
            "/static=/srv/static",
            "--static-map2",
            "/media=/srv",
            "--static-check",
            "/var/www",
            "--static-index",
            "index.html",
            "--static-expires-uri",
            r"\.css$=3600",
            "--file-serve-mode",
            "nginx",
            "--offload-threads",
            "4",
            "--static-gzip-all",
        ],
        &[],
    );
    let maps: Vec<(&str, &str, bool)> = c
        .static_maps
        .iter()
        .map(|m| (m.prefix.as_str(), m.target.to_str().unwrap(), m.whole_uri))
        .collect();
    assert_eq!(
        maps,
        [("/static", "/srv/static", false), ("/media", "/srv", true)]
    );
    assert_eq!(c.check_static, [PathBuf::from("/var/www")]);
    assert_eq!(c.static_index, ["index.html"]);
    assert_eq!(c.static_expires_uri, [(r"\.css$".to_string(), 3600)]);
    assert_eq!(c.file_serve_mode, FileServeMode::XAccelRedirect);
    assert_eq!(c.offload_threads, 4);
    assert!(c.static_gzip_all);
    // uWSGI's own form for the regex options: REGEX, a space, SECS (SearXNG's config)
    let c = serve(
        &[
            "--socket",
            ":1",
            "--module",
            "m",
            "--static-expires",
            "/* 31557600",
            "--static-expires-mtime",
            r"\.js$  60",
        ],
        &[],
    );
    assert_eq!(c.static_expires, [("/*".to_string(), 31557600)]);
    assert_eq!(c.static_expires_mtime, [(r"\.js$".to_string(), 60)]);
}

#[test]
fn exported_options_keep_every_occurrence_as_written_for_uwsgi_opt() {
    let c = serve(
        &[
            "-M",
            "--workers",
            "2",
            "--ini",
            "app.ini",
            "--locks=3",
            "-s",
            ":3031",
            "--module",
            "app",
        ],
        &[(
            "app.ini",
            "[uwsgi]\nenv = A=1\nenv = B=%(myvar)\nmyvar = two\nenable-threads = true\n",
        )],
    );
    let got: Vec<(&str, Option<&str>)> = c
        .exported
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("master", None),
            ("workers", Some("2")),
            ("ini", Some("app.ini")),
            ("env", Some("A=1")),
            ("env", Some("B=two")),
            ("myvar", Some("two")),
            ("enable-threads", Some("true")),
            ("locks", Some("3")),
            ("socket", Some(":3031")),
            ("module", Some("app")),
        ]
    );
    assert_eq!(c.locks, 3);
}

#[test]
fn exported_options_from_the_environment_use_the_option_s_name() {
    let envs = [
        ("UWSGI_SOCKET", ":3031"),
        ("UWSGI_MODULE", "welcome"),
        ("UWSGI_MASTER", "1"),
        ("PATH", "/bin"),
    ];
    let Ok(Command::Serve(c)) = run(&["-p", "3"], &[], &envs) else {
        panic!("expected Serve");
    };
    let mut got: Vec<(&str, Option<&str>)> = c
        .exported
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("master", Some("1")),
            ("module", Some("welcome")),
            ("processes", Some("3")),
            ("socket", Some(":3031")),
        ]
    );
}

#[test]
fn cheaper_options_read_as_uwsgi_reads_them() {
    let ini = "[uwsgi]\nsocket = :1\nmodule = m\nmaster = true\nprocesses = 500\ncheaper = 8\n\
               cheaper-initial = 16\ncheaper-step = 4\ncheaper-overload = 5\ncheaper-algo = busyness\n\
               cheaper-busyness-max = 60\ncheaper-busyness-min = 0\ncheaper-busyness-multiplier = 0\n\
               cheaper-busyness-backlog-alert = 16\ncheaper-busyness-backlog-step = 2\n\
               cheaper-busyness-verbose = true\nidle = 300\n";
    let c = serve(&["--ini", "/etc/c.ini"], &[("/etc/c.ini", ini)]);
    assert_eq!((c.processes, c.cheaper, c.cheaper_initial), (500, 8, 16));
    assert_eq!((c.cheaper_step, c.cheaper_overload), (4, 5));
    assert_eq!(c.cheaper_algo, CheaperAlgo::Busyness);
    assert_eq!(c.cheaper_busyness_max, 60);
    // 0 means the default there, as in uWSGI
    assert_eq!(c.cheaper_busyness_min, 25);
    assert_eq!(c.cheaper_busyness_multiplier, 10);
    assert_eq!(c.cheaper_busyness_backlog_alert, 16);
    assert_eq!(c.cheaper_busyness_backlog_step, 2);
    assert!(c.cheaper_busyness_verbose);
    assert_eq!(c.idle, Some(300));
    assert!(!c.die_on_idle);
    let d = serve(SEED, &[]);
    assert_eq!(
        (
            d.cheaper,
            d.cheaper_step,
            d.cheaper_overload,
            d.cheaper_idle
        ),
        (0, 1, 3, 10)
    );
    assert_eq!(d.cheaper_algo, CheaperAlgo::Spare);
    for (name, algo) in CheaperAlgo::ALL {
        assert_eq!(CheaperAlgo::parse(name), Some(algo));
        assert_eq!(algo.name(), name);
    }
}

#[test]
fn cheaper_options_that_cannot_work_are_refused_naming_the_problem() {
    let ok = ["--socket", ":1", "--module", "m", "--processes", "4"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        ok.iter().copied().chain(extra.iter().copied()).collect()
    };
    for (args, want) in [
        (with(&["--cheaper-algo", "sparse"]), "command line: invalid value 'sparse' for option 'cheaper-algo': expected spare, spare2, backlog, busyness or manual"),
        (with(&["--cheaper", "4"]), "invalid cheaper value: must be lower than processes"),
        (with(&["--cheaper", "9"]), "invalid cheaper value: must be lower than processes"),
        (with(&["--cheaper-overload", "0"]), "command line: invalid value '0' for option 'cheaper-overload': must be between 1 and 86400"),
        (with(&["--cheaper-busyness-max", "101"]), "command line: invalid value '101' for option 'cheaper-busyness-max': a percentage is at most 100"),
        (with(&["--cheaper", "1", "--cheaper-rss-limit-soft", "1000"]), "enabling cheaper-rss-limit-soft requires enabling also memory-report"),
        (with(&["--cheaper", "1", "--cheaper-rss-limit-hard", "1000"]), "enabling cheaper-rss-limit-hard requires setting also cheaper-rss-limit-soft"),
        (with(&["--cheaper", "1", "--memory-report", "--cheaper-rss-limit-soft", "1000", "--cheaper-rss-limit-hard", "1000"]), "cheaper-rss-limit-hard value must be higher than cheaper-rss-limit-soft value"),
    ] {
        assert_eq!(err(&args, &[]), want, "{args:?}");
    }
    // cheaper 0 is off, whatever the worker count
    assert_eq!(
        serve(&with(&["--cheaper", "0", "--processes", "1"]), &[]).cheaper,
        0
    );
    let c = serve(
        &with(&[
            "--cheaper",
            "1",
            "--memory-report",
            "--cheaper-rss-limit-soft",
            "1000",
            "--cheaper-rss-limit-hard",
            "2000",
        ]),
        &[],
    );
    assert_eq!(
        (c.cheaper_rss_limit_soft, c.cheaper_rss_limit_hard),
        (Some(1000), Some(2000))
    );
}

#[test]
fn plugins_dir_http_plugin_and_env_behavior_are_accepted_as_uwsgi_configs_write_them() {
    // the Debian/Alpine package layout
    let ini = "[uwsgi]\nplugins-dir = /usr/lib/uwsgi/plugins\nplugin-dir = /opt/p\n\
               plugins = python3,http\nplugin = corerouter\nplugin = cheaper_busyness\n\
               wsgi-env-behavior = holy\nwsgi-env-behaviour = cheat\n\
               http = 127.0.0.1:8000\nmodule = m\n";
    let c = serve(&["--ini", "/e.ini"], &[("/e.ini", ini)]);
    assert_eq!(
        c.plugins,
        ["python3", "http", "corerouter", "cheaper_busyness"]
    );
    assert!(c.wsgi_env_cheat, "the last one, cheat, applies");
    // no-ops change nothing else
    let plain = serve(
        &[
            "--http",
            "127.0.0.1:8000",
            "--module",
            "m",
            "--plugins",
            "python3,http,corerouter,cheaper_busyness",
        ],
        &[],
    );
    assert_eq!(
        Config {
            exported: plain.exported.clone(),
            wsgi_env_cheat: false,
            ..c
        },
        plain
    );
    assert_eq!(
        err(
            &[
                "--http",
                ":1",
                "--module",
                "m",
                "--wsgi-env-behavior",
                "lazy"
            ],
            &[]
        ),
        "command line: invalid value 'lazy' for option 'wsgi-env-behavior': expected holy or cheat"
    );
}

#[test]
fn logging_options_parse_and_the_ones_rwsgi_lacks_are_refused_by_name() {
    let base = ["--http-socket", ":0", "--module", "m"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra).copied().collect()
    };
    let ini = "[uwsgi]\nhttp-socket = :0\nmodule = m\ndisable-logging = true\nlog-4xx = true\n\
               log-5xx = true\nlog-slow = 200\nlog-big = 4096\nlog-ioerror = true\n\
               log-sendfile = true\nlog-x-forwarded-for = true\nlogger-req = stdio\n\
               req-logger = file:/tmp/r.log\nlog-req-encoder = json {\"msg\":\"${msg}\"}\n\
               log-req-encoder = nl\nlog-master = true\nthreaded-logger = true\n\
               logto = /tmp/x.log\nlog-maxsize = 1000\nlog-backupname = /tmp/x.old\n\
               logdate = %%Y\nlogformat-strftime = true\n";
    let c = serve(&["--ini", "/u.ini"], &[("/u.ini", ini)]);
    assert!(c.disable_logging && c.log_4xx && c.log_5xx && c.log_ioerror && c.log_sendfile);
    assert!(c.log_x_forwarded_for && c.logformat_strftime);
    assert_eq!((c.log_slow, c.log_big, c.log_maxsize), (200, 4096, 1000));
    assert_eq!(c.req_loggers, ["stdio", "file:/tmp/r.log"]);
    assert_eq!(c.log_req_encoders, ["json {\"msg\":\"${msg}\"}", "nl"]);
    assert_eq!(c.log_date.as_deref(), Some("%Y"));
    assert_eq!(c.log_backupname.as_deref(), Some("/tmp/x.old"));
    for (extra, why) in [
        (&["--log-route", "x"][..], "expected NAME REGEXP"),
        (&["--log-drain", "x"], "filters no log lines"),
        (
            &["--log-socket", "127.0.0.1:9"],
            "use --logger rsyslog:ADDR",
        ),
        (&["--log-maxsize", "10"], "needs --logto"),
        (
            &["--logto2", "/l", "--logger", "stdio"],
            "opens its outputs at start-up",
        ),
    ] {
        let e = err(&with(extra), &[]);
        assert!(e.contains(why), "{extra:?}: {e}");
    }
    assert!(err(&with(&["--log-req-route", "x"]), &[]).contains("'log-req-route'"));
    let c = serve(
        &with(&[
            "--log-route",
            "errors  50\\d ",
            "--log-req-route",
            "s /slow",
        ]),
        &[],
    );
    assert_eq!(
        (c.log_route, c.log_req_route),
        (
            vec!["errors  50\\d".to_string()],
            vec!["s /slow".to_string()]
        )
    );
    let c = serve(
        &with(&[
            "--logger",
            "stdio",
            "--log-encoder",
            "nl",
            "--log-syslog",
            "--log-date=true",
        ]),
        &[],
    );
    assert_eq!(c.loggers, ["stdio", "syslog:"]);
    assert_eq!(c.log_encoders, ["nl"]);
    assert_eq!(
        c.log_date.as_deref(),
        Some(""),
        "a true flag value: ctime's form"
    );
    let c = serve(&with(&["--log-prefix=[app]"]), &[]);
    assert_eq!(c.log_date.as_deref(), Some("[app]"));
}

#[test]
fn ini_paste_loads_the_uwsgi_section_and_the_same_file_for_paste_deploy() {
    let ini = "[uwsgi]\nhttp-socket = :8000\nprocesses = 3\npaste = call:ignored:f\n\
               [app:main]\nuse = call:app:factory\n";
    let c = serve(&["--ini-paste", "/srv/app.ini"], &[("/srv/app.ini", ini)]);
    assert_eq!(c.processes, 3);
    assert_eq!(c.paste.as_deref(), Some("config:/srv/app.ini"));
    assert!(!c.paste_logger);

    // A relative file is made absolute from the current directory, as uWSGI does.
    let c = serve(&["--ini-paste-logged", "app.ini"], &[("app.ini", ini)]);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        c.paste,
        Some(format!("config:{}", cwd.join("app.ini").display()))
    );
    assert!(c.paste_logger);

    // paste alone counts as an app; paste-name and paste-logger are read as written.
    let c = serve(
        &[
            "--http-socket",
            ":1",
            "--paste",
            "config:%d/x.ini",
            "--paste-name",
            "api",
            "--paste-logger",
        ],
        &[],
    );
    assert_eq!(
        (c.paste.as_deref(), c.paste_name.as_deref(), c.paste_logger),
        (Some("config:%d/x.ini"), Some("api"), true)
    );
    assert!(err(&["--ini-paste", "/none.ini"], &[]).contains("/none.ini"));
    // A PasteDeploy file without [uwsgi]: a warning, as in uWSGI, and the app still loads.
    let host = FakeHost::with_files(&[("/srv/only.ini", "[app:main]\nuse = call:m:f\n")]);
    let parsed = fake_parse(
        &["--http-socket", ":1", "--ini-paste", "/srv/only.ini"],
        &host,
    )
    .expect("parses");
    let warnings = warning_lines(&parsed);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("has no [uwsgi] section")),
        "{warnings:?}"
    );
    let e = err(
        &[
            "--http-socket",
            ":1",
            "--paste",
            "call:m:f",
            "--paste-logger",
        ],
        &[],
    );
    assert!(
        e.contains("--paste-logger needs --paste config:FILE"),
        "{e}"
    );
}

#[test]
fn wsgi_options_of_the_python_plugin_parse() {
    let base = ["--http-socket", ":1", "--module", "m"];
    let with = |extra: &[&str]| serve(&[&base[..], extra].concat(), &[]);
    assert!(!with(&[]).wsgi_disable_file_wrapper);
    assert!(with(&["--wsgi-disable-file-wrapper"]).wsgi_disable_file_wrapper);
    assert!(!with(&["--wsgi-env-behavior", "holy"]).wsgi_env_cheat);
    assert!(with(&["--wsgi-env-behaviour", "cheat"]).wsgi_env_cheat);
    // a documented no-op: rwsgi already runs the after-fork hooks in every child
    assert_eq!(
        Config {
            exported: Default::default(),
            ..with(&["--py-call-osafterfork"])
        },
        Config {
            exported: Default::default(),
            ..with(&[])
        }
    );
}
