//! uWSGI's hooks: `hook-*` (exec, mkdir, print, chdir) and `exec-*` in each phase, in
//! uWSGI's order (asap, pre-app, app loading, post-app, accepting per worker, accepting1 in
//! the first), in the worker with `--lazy-apps`; a failing hook stops the server; other
//! actions are refused by name.
use rwsgi_testkit::prelude::*;

use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The hook options that each append their name to `file`.
fn recording_hooks(file: &Path) -> Vec<String> {
    let f = file.display();
    let mut args = Vec::new();
    for phase in ["asap", "pre-app", "post-app", "accepting", "accepting1"] {
        args.push(format!("--hook-{phase}"));
        args.push(format!("exec:echo hook-{phase} >> {f}"));
    }
    for phase in ["asap", "pre-app", "post-app"] {
        args.push(format!("--exec-{phase}"));
        args.push(format!("echo exec-{phase} >> {f}"));
    }
    args
}

#[test]
fn phases_run_in_uwsgi_order_around_the_app_and_in_each_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("order");
    let server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .processes(2)
        .args(recording_hooks(&file))
        .args([
            "--hook-pre-app",
            "print:PRE-APP MARK",
            "--hook-post-app",
            "print:POST-APP MARK",
        ])
        .start();
    server.wait_http_ready(server.ports.http, 2);
    let seen = eventually(WAIT, "the accepting hooks", || {
        let l = lines(&file);
        if l.len() >= 9 {
            Ok(l)
        } else {
            Err(format!("{l:?}"))
        }
    });
    assert_eq!(
        seen[..6],
        [
            "hook-asap",
            "exec-asap",
            "hook-pre-app",
            "exec-pre-app",
            "hook-post-app",
            "exec-post-app"
        ]
    );
    let mut accepting = seen[6..].to_vec();
    accepting.sort();
    assert_eq!(
        accepting,
        ["hook-accepting", "hook-accepting", "hook-accepting1"]
    );
    let log = server.log();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle}\n{log}"))
    };
    assert!(at("PRE-APP MARK") < at("WSGI app 0"), "{log}");
    assert!(at("WSGI app 0") < at("POST-APP MARK"), "{log}");
    assert!(
        log.contains("running \"exec:echo hook-asap"),
        "uWSGI's log line: {log}"
    );
}

#[test]
fn with_lazy_apps_the_app_phases_run_in_each_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("order");
    let server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .processes(2)
        .arg("--lazy-apps")
        .args(recording_hooks(&file))
        .start();
    server.wait_http_ready(server.ports.http, 2);
    let count = |name: &str| lines(&file).iter().filter(|l| *l == name).count();
    wait_for(WAIT, "both workers' hooks", || {
        // accepting1 runs after the accepting hooks, so wait for it too.
        count("exec-post-app") == 2 && count("hook-accepting") == 2 && count("hook-accepting1") == 1
    });
    let seen = lines(&file);
    assert_eq!((count("hook-asap"), count("exec-asap")), (1, 1), "{seen:?}");
    assert_eq!(
        (count("hook-pre-app"), count("exec-post-app")),
        (2, 2),
        "{seen:?}"
    );
    assert_eq!(count("hook-accepting1"), 1, "{seen:?}");
}

#[test]
fn mkdir_and_chdir_hooks_set_where_the_workers_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = dir.path().join("made");
    let made_s = made.display().to_string();
    let server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .args(["--hook-post-app", &format!("mkdir:{made_s}")])
        .args(["--hook-post-app", &format!("chdir:{made_s}")])
        .start();
    server.wait_http_ready(server.ports.http, 1);
    assert!(made.is_dir());
    assert_eq!(get(server.ports.http, "/cwd").text(), made_s);
}

#[test]
fn a_failing_hook_stops_the_server_and_unknown_actions_are_refused_by_name() {
    let apps = apps_dir().display().to_string();
    let app = ["--module", "srv_app", "--chdir", apps.as_str()];
    let (code, log) = run_to_exit(
        &[
            &["--http-socket", "127.0.0.1:0", "--exec-asap", "false"],
            &app[..],
        ]
        .concat(),
        WAIT,
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("command \"false\" exited with non-zero code: 1"),
        "{log}"
    );
    assert!(log.contains("FATAL hook failed"), "{log}");
    let (code, log) = run_to_exit(
        &[
            &[
                "--http-socket",
                "127.0.0.1:0",
                "--hook-pre-app",
                "mount:proc none /proc",
            ],
            &app[..],
        ]
        .concat(),
        WAIT,
    );
    assert_ne!(code, Some(0), "{log}");
    assert!(
        log.contains("hook action 'mount' is not supported"),
        "{log}"
    );
}

#[test]
fn a_failing_accepting_hook_shuts_the_server_down() {
    let mut server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .args(["--hook-accepting", "exec:exit 3"])
        .start();
    assert!(server.wait_exit(WAIT).is_some(), "{}", server.log());
    let log = server.log();
    assert!(
        log.contains("command \"exit 3\" exited with non-zero code: 3"),
        "{log}"
    );
}
