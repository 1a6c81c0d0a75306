//! Attached daemons: `--attach-daemon` (respawned when killed, stopped with the server),
//! `--attach-daemon2` (control, touch, keys refused by name), `--smart-attach-daemon` and
//! `--smart-attach-daemon2` (the pidfile's process, started again when it dies, left running).
use rwsgi_testkit::prelude::*;

use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The pids a daemon command appended to `file`, one a line.
fn recorded(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until `file` holds `n` pids; returns the last.
fn wait_pids(server: &Server, file: &Path, n: usize) -> i32 {
    eventually(WAIT, &format!("{n} daemon pid(s)"), || {
        let pids = recorded(file);
        if pids.len() >= n {
            Ok(pids[n - 1])
        } else {
            Err(format!("{pids:?}\n{}", server.log()))
        }
    })
}

/// A shell command that records its pid in `file` and becomes a bounded sleep (same pid).
fn recording(file: &Path) -> String {
    format!("echo $$ >> {}; exec sleep 30", file.display())
}

fn start(args: &[&str]) -> Server {
    let server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .args(args)
        .start();
    server.wait_http_ready(server.ports.http, 1);
    server
}

#[test]
fn an_attached_daemon_is_respawned_when_killed_and_stopped_with_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let mut server = start(&["--attach-daemon", &recording(&pids)]);
    let first = wait_pids(&server, &pids, 1);
    assert!(pid_alive(first));
    kill(first, libc::SIGKILL);
    let second = wait_pids(&server, &pids, 2);
    assert_ne!(first, second);
    assert!(pid_alive(second));
    let log = server.log();
    assert!(
        log.contains("annihilated") && log.contains("respawning"),
        "{log}"
    );
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    wait_for(WAIT, "the daemon stopped", || !pid_alive(second));
}

#[test]
fn attach_daemon2_touch_restarts_and_control_daemon_death_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let touched = dir.path().join("touch-me");
    std::fs::write(&touched, "").expect("touch file");
    let spec = format!(
        "cmd={},touch={},control=1",
        recording(&pids),
        touched.display()
    );
    let mut server = start(&["--attach-daemon2", &spec]);
    let first = wait_pids(&server, &pids, 1);
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&touched)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    // A control daemon that dies (here: stopped by its touch) ends the server.
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    assert!(
        server.log().contains("touched: restarting"),
        "{}",
        server.log()
    );
    assert!(server.log().contains("control daemon"), "{}", server.log());
    wait_for(WAIT, "the daemon stopped", || !pid_alive(first));
}

#[test]
fn attach_daemon2_touch_restarts_a_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let touched = dir.path().join("touch-me");
    std::fs::write(&touched, "").expect("touch file");
    let spec = format!("cmd={},touch={}", recording(&pids), touched.display());
    let server = start(&["--attach-daemon2", &spec]);
    let first = wait_pids(&server, &pids, 1);
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&touched)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    let second = wait_pids(&server, &pids, 2);
    assert_ne!(first, second);
    wait_for(WAIT, "the old daemon stopped", || !pid_alive(first));
}

#[test]
fn attach_daemon2_refuses_keys_by_name() {
    for (spec, named) in [
        ("cmd=true,colour=red", "unknown key 'colour'"),
        ("cmd=true,uid=nobody", "'uid' key is not supported"),
        ("freq=3", "'command' key"),
    ] {
        let (code, out) = run_to_exit(
            &["--http-socket", "127.0.0.1:0", "--attach-daemon2", spec],
            WAIT,
        );
        assert_ne!(code, Some(0), "{spec}: {out}");
        assert!(out.contains(named), "{spec}: {out}");
    }
}

/// Waits until the pidfile names a live process other than `not`; returns it.
fn wait_pidfile(server: &Server, pidfile: &Path, not: i32) -> i32 {
    eventually(WAIT, "a live pid in the pidfile", || {
        let text = std::fs::read_to_string(pidfile).unwrap_or_default();
        match text.trim().parse::<i32>() {
            Ok(pid) if pid != not && pid_alive(pid) => Ok(pid),
            _ => Err(format!("{text:?}\n{}", server.log())),
        }
    })
}

#[test]
fn a_smart_daemon_is_started_again_when_its_pidfile_process_dies_and_outlives_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("d.pid");
    // It daemonizes itself: the shell exits, the sleep it left behind is in the pidfile.
    let cmd = format!("sleep 30 & echo $! > {}", pidfile.display());
    let arg = format!("{},1 {cmd}", pidfile.display());
    let mut server = start(&["--smart-attach-daemon", &arg]);
    let first = wait_pidfile(&server, &pidfile, 0);
    kill(first, libc::SIGKILL);
    let second = wait_pidfile(&server, &pidfile, first);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    assert!(pid_alive(second), "a smart daemon survives the server");
    kill(second, libc::SIGKILL);
}

#[test]
fn smart_attach_daemon2_daemonizes_the_command_and_writes_the_pidfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("d.pid");
    let arg = format!("{},1 exec sleep 30", pidfile.display());
    let mut server = start(&["--smart-attach-daemon2", &arg]);
    let first = wait_pidfile(&server, &pidfile, 0);
    kill(first, libc::SIGKILL);
    let second = wait_pidfile(&server, &pidfile, first);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    assert!(pid_alive(second), "a smart daemon survives the server");
    kill(second, libc::SIGKILL);
}
