//! uWSGI's command cron: `--cron` runs at start-up and at each matching minute's boundary, a
//! `--unique-cron` is not started again while its run is alive (a plain one is), `--cron2
//! harakiri=` kills a run that lasts too long, every exit is logged as uWSGI logs it, and bad
//! specs stop start-up naming the file and line. The minute logic itself is unit-tested on a
//! fake clock (`server/src/cron.rs`); one test here crosses a real minute boundary.
use rwsgi_testkit::prelude::*;

use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
/// Up to the next minute boundary, with slack for a loaded machine.
const NEXT_MINUTE: Duration = Duration::from_secs(75);

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn pids(file: &Path) -> Vec<i32> {
    lines(file).iter().filter_map(|l| l.parse().ok()).collect()
}

/// Waits until `file` has at least `n` lines; returns them.
fn wait_lines(server: &Server, file: &Path, n: usize, timeout: Duration) -> Vec<String> {
    eventually(
        timeout,
        &format!("{n} line(s) in {}", file.display()),
        || {
            let l = lines(file);
            if l.len() >= n {
                Ok(l)
            } else {
                Err(format!("{l:?}\n{}", server.log()))
            }
        },
    )
}

/// A command that records its pid in `file` and becomes a bounded sleep (the same pid).
fn sleeper(file: &Path) -> String {
    format!("echo $$ >> {}; exec sleep 100", file.display())
}

#[test]
fn cron_runs_at_start_and_each_minute_unique_waits_and_harakiri_kills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (every, plain, unique, killed) = (
        dir.path().join("every"),
        dir.path().join("plain"),
        dir.path().join("unique"),
        dir.path().join("killed"),
    );
    let every_cmd = format!(
        "date +%S >> {}; echo cron-stdout-marker; echo cron-stderr-marker >&2",
        every.display()
    );
    let unique_cmd = sleeper(&unique);
    let killed_cmd = sleeper(&killed);
    let server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .args([
            "--cron".to_string(),
            format!("-1 -1 -1 -1 -1 {every_cmd}"),
            "--cron".to_string(),
            format!("-1 -1 -1 -1 -1 {}", sleeper(&plain)),
            "--unique-cron".to_string(),
            format!("-1 -1 -1 -1 -1 {unique_cmd}"),
            "--cron2".to_string(),
            format!("unique=1,harakiri=2 {killed_cmd}"),
            "--cron-harakiri".to_string(),
            "1000".to_string(),
        ])
        .start();
    server.wait_http_ready(server.ports.http, 1);

    // At start-up: every task runs once (the current minute matches), each registered first.
    wait_lines(&server, &every, 1, WAIT);
    for file in [&plain, &unique, &killed] {
        wait_lines(&server, file, 1, WAIT);
    }
    let log = server.log();
    assert!(
        log.contains(&format!(
            "[uwsgi-cron] command \"{unique_cmd}\" registered as cron task"
        )),
        "{log}"
    );
    let first_unique = pids(&unique)[0];
    assert!(
        log.contains(&format!(
            "[uwsgi-cron] running \"{unique_cmd}\" (pid {first_unique})"
        )),
        "{log}"
    );
    // The quick one's exit is logged as uWSGI logs it (and is no worker's: none respawns).
    server.wait_log(WAIT, |l| {
        l.contains(&format!(
            "[uwsgi-cron] command \"{every_cmd}\" running with pid "
        )) && l.contains("exited after ")
    });
    // Its output is in the server's log.
    let log = server.log();
    assert!(
        log.contains("\ncron-stdout-marker\n") && log.contains("\ncron-stderr-marker\n"),
        "{log}"
    );

    // harakiri=2 (over --cron-harakiri's 1000): killed at the first check past its deadline
    // (uWSGI's: 3 s after its start), its process group with it.
    let victim = pids(&killed)[0];
    server.wait_log(WAIT, |l| {
        l.contains(&format!(
            "*** HARAKIRI ON CRON \"{killed_cmd}\" (pid: {victim}) ***"
        )) && l.contains(&format!("running with pid {victim} exited after "))
    });
    assert!(!pid_alive(victim));
    let log = server.log();
    let secs: u64 = log
        .split(&format!("running with pid {victim} exited after "))
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exit time\n{log}"));
    assert!((3..=6).contains(&secs), "killed after {secs} s\n{log}");

    // The next minute boundary: the quick task runs again, in its first seconds (the master
    // checks once a second; a loaded machine may be a few late); the plain
    // sleeper starts a second copy beside the first; the unique one does not.
    let fired = wait_lines(&server, &every, 2, NEXT_MINUTE);
    assert!(
        fired[1].parse::<u32>().is_ok_and(|s| s <= 5),
        "the second run at the boundary: {fired:?}"
    );
    let plain_pids: Vec<i32> = eventually(WAIT, "a second plain run", || {
        let p = pids(&plain);
        if p.len() >= 2 {
            Ok(p)
        } else {
            Err(format!("{p:?}\n{}", server.log()))
        }
    });
    assert!(pid_alive(plain_pids[0]) && pid_alive(plain_pids[1]));
    assert_eq!(pids(&unique), [first_unique], "{}", server.log());
    assert!(pid_alive(first_unique));
    let log = server.log();
    assert_eq!(
        log.matches(&format!("[uwsgi-cron] running \"{unique_cmd}\""))
            .count(),
        1,
        "{log}"
    );
    // Reaping cron runs confused no worker.
    assert!(!log.contains("DAMN !"), "{log}");
    assert_eq!(log.matches("spawned rwsgi worker").count(), 1, "{log}");
    assert_eq!(get(server.ports.http, "/").status, 200);

    // Runs outlive the server in uWSGI; these are the test's to stop.
    for pid in pids(&plain)
        .into_iter()
        .chain(pids(&unique))
        .chain(pids(&killed))
    {
        kill(pid, libc::SIGKILL);
    }
}

#[test]
fn bad_cron_specs_stop_start_up_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (line, says) in [
        ("cron = 61 -1 -1 -1 -1 true", "minute 61 never comes"),
        ("unique-cron = -1 -1 * -1 -1 true", "'*' is not a number"),
        ("cron = -1 -1 -1 -1 -1", "no command"),
        ("cron2 = legion=web true", "'legion' key is not supported"),
        ("cron2 = minute=5", "no command"),
        (
            "legion-cron = web -1 -1 -1 -1 -1 true",
            "no Legion clustering",
        ),
        (
            "unique-cron-legion = web -1 -1 -1 -1 -1 true",
            "no Legion clustering",
        ),
    ] {
        let ini = dir.path().join("cron.ini");
        std::fs::write(
            &ini,
            format!("[uwsgi]\nhttp-socket = 127.0.0.1:0\n{line}\nmodule = srv_app\n"),
        )
        .expect("write ini");
        let (code, out) = run_to_exit(&["--ini", &ini.display().to_string()], WAIT);
        assert!(code.is_some_and(|c| c != 0), "{line}: exit {code:?}\n{out}");
        assert!(out.contains("cron.ini:3"), "{line}: {out}");
        assert!(out.contains(says), "{line}: {out}");
    }
}
