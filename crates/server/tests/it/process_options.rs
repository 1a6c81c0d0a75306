//! uWSGI's process and socket options (issue 11), each checked by its effect: the socket's
//! owner and mode, /proc/PID/limits, /proc/PID/cmdline and comm, the pidfiles' content and
//! inodes, the reload an fs-reload path triggers, the show-config lines, a daemonized server
//! (its parent gone, a session of its own, its log in the file), stdin, exit-on-reload, the
//! harakiri details, reaped zombies, and the stats without metrics.
use rwsgi_testkit::prelude::*;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// rwsgi on corpus config `name` ([`Rwsgi::corpus_ini`]), `extra` arguments first; the run's
/// temp dir too.
fn start_ini(name: &str, extra: &[&str]) -> (Server, PathBuf) {
    start_ini_in(tempfile::tempdir().expect("tempdir"), name, extra)
}

/// [`start_ini`] in `dir`.
fn start_ini_in(dir: tempfile::TempDir, name: &str, extra: &[&str]) -> (Server, PathBuf) {
    let tmp = dir.path().to_path_buf();
    let server = Rwsgi::new().dir(dir).args(extra).corpus_ini(name).start();
    (server, tmp)
}

/// The command line of `pid` as `ps` shows it (NULs as spaces, trailing blanks cut).
fn cmdline(pid: u64) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text: String = String::from_utf8_lossy(&raw).replace('\0', " ");
    text.trim_end().to_string()
}

fn comm(pid: u64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// The worker pids the master has now (its children).
fn children(master: i32) -> Vec<u64> {
    children_of(master)
        .into_iter()
        .map(|(pid, _)| pid as u64)
        .collect()
}

#[test]
fn umask_chown_socket_and_max_fd_shape_the_socket_the_pidfile_and_the_limits() {
    // As root the socket goes to nobody:nogroup (what real configs do with www-data);
    // otherwise to our own ids, which is all a user may give.
    let (uid, gid) = rwsgi_os::process::real_ids();
    let (owner, want_uid, want_gid) = if uid == 0 {
        let nobody = rwsgi_os::user::user_id("nobody").expect("user nobody");
        let group = rwsgi_os::user::group_id("nogroup")
            .or_else(|_| rwsgi_os::user::group_id("nobody"))
            .expect("group nogroup");
        (format!("nobody:{group}"), nobody, group)
    } else {
        (format!("{uid}:{gid}"), uid, gid)
    };
    let (server, tmp) = start_ini(
        "process_sockets.ini",
        &["--set-placeholder", &format!("sock_owner={owner}")],
    );
    server.wait_http_ready(server.ports.http, 2);
    let sock = std::fs::metadata(tmp.join("app.sock")).expect("the UNIX socket");
    assert_eq!(
        (sock.uid(), sock.gid()),
        (want_uid, want_gid),
        "{}",
        server.log()
    );
    // umask 027 on a socket created 0777: 0750.
    assert_eq!(sock.permissions().mode() & 0o777, 0o750);
    let pidfile = std::fs::metadata(tmp.join("master.pid")).expect("the pidfile");
    assert_eq!(
        pidfile.permissions().mode() & 0o777,
        0o640,
        "umask 027 on 0666"
    );

    // max-fd = 777, soft and hard, in the master and (inherited) every worker.
    let master = server.pid();
    let workers = children(master);
    assert_eq!(workers.len(), 2, "{}", server.log());
    for pid in std::iter::once(master as u64).chain(workers) {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .expect("the open files line");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&fields[3..5], ["777", "777"], "pid {pid}: {line}");
    }
    assert!(server
        .log()
        .contains("detected max file descriptor number: 777"));
}

#[test]
fn process_titles_show_in_cmdline_and_comm_and_survive_a_reload() {
    let (server, _tmp) = start_ini("process_titles.ini", &[]);
    let p = server.ports;
    let s = wait_workers_ready(&server, p.stats, 2);
    let master = server.pid() as u64;
    assert_eq!(cmdline(master), "shop rwsgi master-eu", "{}", server.log());
    // The kernel's name keeps 15 bytes.
    assert_eq!(comm(master), "shop rwsgi mast");
    let mut titles: Vec<String> = worker_pids(&s).into_iter().map(cmdline).collect();
    titles.sort();
    assert_eq!(titles, ["shop rwsgi worker 1-eu", "shop rwsgi worker 2-eu"]);

    // show-config printed the resolved configuration, uWSGI's way.
    let log = server.log();
    let start = log
        .find(";uWSGI instance configuration\n[uwsgi]\n")
        .unwrap_or_else(|| panic!("no show-config block\n{log}"));
    let block = &log[start..];
    let block = &block[..block.find(";end of configuration").expect("its end")];
    for line in [
        "master = true",
        &format!("http-socket = 127.0.0.1:{}", p.http),
        "procname-prefix-spaced = shop",
        "processes = 2",
        "show-config = true",
    ] {
        assert!(block.lines().any(|l| l == line), "{line:?} in\n{block}");
    }

    // A graceful reload re-executes the original arguments, not the title.
    let old = worker_pids(&s);
    server.signal(libc::SIGHUP);
    let s = wait_stats(&server, p.stats, WAIT, "new workers after SIGHUP", |s| {
        let pids = worker_pids(s);
        pids.len() == 2 && pids.iter().all(|p| *p > 0 && !old.contains(p))
    });
    assert_eq!(cmdline(master), "shop rwsgi master-eu", "{}", server.log());
    // A worker titles itself as it starts, just after the fork.
    eventually(WAIT, "the new workers' titles", || {
        let mut titles: Vec<String> = worker_pids(&s).into_iter().map(cmdline).collect();
        titles.sort();
        if titles == ["shop rwsgi worker 1-eu", "shop rwsgi worker 2-eu"] {
            Ok(())
        } else {
            Err(format!("{titles:?}"))
        }
    });
}

#[test]
fn procname_names_the_workers_and_procname_master_the_master() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--procname", "shop-app", "--procname-master", "shop-boss"])
        .start();
    let s = wait_workers_ready(&server, server.ports.stats, 1);
    assert_eq!(cmdline(server.pid() as u64), "shop-boss");
    assert_eq!(comm(server.pid() as u64), "shop-boss");
    let worker = worker_pids(&s)[0];
    assert_eq!(cmdline(worker), "shop-app");
    assert_eq!(comm(worker), "shop-app");

    // Without any of the options, the command line is left as it was started.
    let plain = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .processes(1)
        .start();
    let s = wait_workers_ready(&plain, plain.ports.stats, 1);
    assert!(cmdline(worker_pids(&s)[0]).contains("--module srv_app"));
}

#[test]
fn safe_pidfiles_are_renamed_into_place_and_pidfile2_is_written_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |n: &str| dir.path().join(n);
    // Pidfiles left by an earlier run: a safe one is replaced (a new inode, through a
    // rename), a plain one is rewritten in place (the same inode).
    for n in ["plain.pid", "safe.pid"] {
        std::fs::write(path(n), "1\n").expect("old pidfile");
    }
    let inode = |n: &str| std::fs::metadata(path(n)).map(|m| m.ino()).unwrap_or(0);
    let (plain_before, safe_before) = (inode("plain.pid"), inode("safe.pid"));
    let arg = |n: &str| path(n).display().to_string();
    let mut server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--vacuum", "--pidfile", &arg("plain.pid")])
        .args(["--safe-pidfile", &arg("safe.pid")])
        .args([
            "--pidfile2",
            &arg("two.pid"),
            "--safe-pidfile2",
            &arg("safe2.pid"),
        ])
        .start();
    server.wait_http_ready(server.ports.http, 1);
    let want = format!("{}\n", server.pid());
    for n in ["plain.pid", "safe.pid", "two.pid", "safe2.pid"] {
        let got = std::fs::read_to_string(path(n)).unwrap_or_default();
        assert_eq!(got, want, "{n}\n{}", server.log());
    }
    assert_eq!(inode("plain.pid"), plain_before);
    assert_ne!(
        inode("safe.pid"),
        safe_before,
        "a safe pidfile is renamed over"
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["plain.pid", "safe.pid", "safe2.pid", "two.pid"],
        "no temporary file left"
    );
    // --vacuum removes every one of them.
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    for n in ["plain.pid", "safe.pid", "two.pid", "safe2.pid"] {
        assert!(!path(n).exists(), "{n} left after --vacuum");
    }
}

#[test]
fn fs_reload_reloads_when_a_file_in_the_watched_directory_is_written() {
    let watched = tempfile::tempdir().expect("tempdir");
    let file = watched.path().join("settings.py");
    std::fs::write(&file, "A = 1\n").expect("write");
    let dir_arg = watched.path().display().to_string();
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--fs-reload", &dir_arg])
        .start();
    let p = server.ports;
    let old = worker_pids(&wait_workers_ready(&server, p.stats, 1))[0];
    assert!(server.log().contains(&format!(
        "[uwsgi-fsmon] registered monitor for \"{dir_arg}\""
    )));
    // Written in place: the directory's own mtime does not change, inotify still sees it.
    std::fs::write(&file, "A = 2\n").expect("rewrite");
    wait_stats(
        &server,
        p.stats,
        WAIT,
        "a new worker after the write",
        |s| {
            worker_pids(s)
                .first()
                .is_some_and(|&pid| pid > 0 && pid != old)
        },
    );
    let log = server.log();
    assert!(
        log.contains(&format!("[uwsgi-fsmon] detected event on \"{dir_arg}\"")),
        "{log}"
    );
    assert!(log.contains("binary reloading rwsgi"), "{log}");
    assert_eq!(get(p.http, "/").status, 200);
}

#[test]
fn exit_on_reload_shuts_down_when_a_reload_is_asked_for() {
    let mut server = Rwsgi::new()
        .http()
        .test_app("srv_app")
        .master()
        .processes(1)
        .arg("--exit-on-reload")
        .start();
    server.wait_http_ready(server.ports.http, 1);
    server.signal(libc::SIGHUP);
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    let log = server.log();
    assert!(log.contains("GAME OVER (insert coin)"), "{log}");
    assert!(!log.contains("binary reloading"), "{log}");
}

/// Stops a daemonized server (found through its pidfile) when the test ends, however it ends.
struct Daemon(i32);

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.0;
        let workers = children_of(pid);
        kill(pid, libc::SIGTERM);
        let deadline = std::time::Instant::now() + WAIT;
        while pid_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if pid_alive(pid) {
            kill(pid, libc::SIGKILL);
        }
        for (w, started) in workers {
            if start_time(w).is_some_and(|s| s == started) {
                kill(w, libc::SIGKILL);
            }
        }
    }
}

/// Field `n` (1-based, as proc(5) numbers them) of /proc/PID/stat.
fn stat_field(pid: u32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

fn stdin_of(pid: u64) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap_or_default()
}

fn daemonized(option: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_arg = dir.path().join("daemon.log").display().to_string();
    let (mut server, tmp) = start_ini_in(dir, "process_daemon.ini", &[option, &log_arg]);
    // The command returns at once, successfully: the server lives on in the background.
    assert_eq!(server.wait_exit(WAIT), Some(0), "{}", server.log());
    let pidfile = tmp.join("daemon.pid");
    let pid: i32 = eventually(WAIT, "the daemon's pidfile", || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&p: &i32| p != server.pid() && pid_alive(p))
            .ok_or_else(|| server.log())
    });
    let _stop = Daemon(pid);
    // Forked twice around setsid (as uWSGI): in a new session it does not lead, so it can
    // never acquire a terminal again; no controlling terminal.
    let (session, own) = (stat_field(pid as u32, 6), stat_field(std::process::id(), 6));
    assert!(
        session > 0 && session != own && session != pid as i64,
        "session {session}"
    );
    assert_eq!(stat_field(pid as u32, 7), 0, "no controlling terminal");
    assert_eq!(stdin_of(pid as u64), Path::new("/dev/null"));
    let p = server.ports;
    let log_file = tmp.join("daemon.log");
    let log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let s = wait_stats(&server, p.stats, WAIT, "the daemon's worker", |s| {
        worker_pids(s).first().is_some_and(|&w| w > 0)
    });
    assert_eq!(get(p.http, "/").text(), "srv ok");
    assert!(log().contains("spawned rwsgi worker 1"), "{}", log());
    if option == "--daemonize" {
        // Detached before anything was created: with the daemon's file-creation mask 0.
        let mode = std::fs::metadata(&pidfile).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o666), "umask 0 unless --umask");
    }
    if option == "--daemonize2" {
        // Detached only once the app was loaded, by the process that loaded it.
        let text = log();
        let loaded = text.find("WSGI app 0").expect("the app-loaded line");
        let detached = text
            .find("*** daemonizing rwsgi ***")
            .expect("the daemonizing line");
        assert!(loaded < detached, "{text}");
    }

    // A graceful reload re-executes the daemon in place: same pid, no second detach.
    let old = worker_pids(&s)[0];
    kill(pid, libc::SIGHUP);
    wait_stats(&server, p.stats, WAIT, "a new worker after SIGHUP", |s| {
        worker_pids(s).first().is_some_and(|&w| w > 0 && w != old)
    });
    assert!(pid_alive(pid), "{}", log());
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap_or_default().trim(),
        pid.to_string()
    );
    assert_eq!(get(p.http, "/").text(), "srv ok");
}

#[test]
fn daemonize_detaches_and_logs_to_its_file() {
    daemonized("--daemonize");
}

#[test]
fn daemonize2_detaches_after_the_apps_are_loaded() {
    daemonized("--daemonize2");
}

/// rwsgi on a UNIX socket only, with stdin from `stdin` (stopped when dropped).
fn with_stdin(stdin: Stdio, extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("s.sock").display().to_string();
    Rwsgi::new()
        .args(["--socket", &sock, "--processes", "1", "--master"])
        .test_app("srv_app")
        .args(extra)
        .stdin(stdin)
        .dir(dir)
        .start()
}

#[test]
fn stdin_is_dev_null_unless_honour_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "typed\n").expect("input");
    for honour in [false, true] {
        let file = std::fs::File::open(&input).expect("open input");
        let extra: &[&str] = if honour { &["--honour-stdin"] } else { &[] };
        let server = with_stdin(Stdio::from(file), extra);
        let master = server.pid();
        let worker = eventually(WAIT, "a worker", || match children(master).first() {
            Some(&w) if server.log().contains("spawned rwsgi worker 1") => Ok(w),
            _ => Err(server.log()),
        });
        let want = if honour {
            input.clone()
        } else {
            PathBuf::from("/dev/null")
        };
        assert_eq!(stdin_of(master as u64), want, "master, honour={honour}");
        assert_eq!(stdin_of(worker), want, "worker, honour={honour}");
    }
}

#[test]
fn harakiri_verbose_logs_the_stuck_worker_s_wait_channel() {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("srv_app")
        .master()
        .processes(1)
        .args(["--harakiri", "1", "--harakiri-verbose"])
        .start();
    let p = server.ports;
    wait_workers_ready(&server, p.stats, 1);
    let port = p.http;
    // Cut by harakiri long before the 30 s: the connection ends without a response.
    let stuck = std::thread::spawn(move || try_http(port, "GET", "/sleep?30", &[], b""));
    server.wait_log(WAIT, |l| l.contains("HARAKIRI ON WORKER 1"));
    server.wait_log(WAIT, |l| l.contains("HARAKIRI: -- wchan> "));
    let log = server.log();
    let at = log.find("HARAKIRI ON WORKER 1").expect("the harakiri line");
    assert!(log[at..].contains("HARAKIRI: -- syscall> "), "{log}");
    let _ = stuck.join();
}

#[test]
fn reaper_reaps_the_children_an_app_left_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("spawner.py");
    // /spawn starts a short process and never waits for it; /pid answers anything.
    std::fs::write(
        &app,
        "import os\n\
         def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
             if environ['PATH_INFO'] == '/spawn':\n        \
                 return [str(os.spawnv(os.P_NOWAIT, '/bin/true', ['true'])).encode()]\n    \
             return [b'ok']\n",
    )
    .expect("write the app");
    let app_arg = app.display().to_string();
    let zombie = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = &s[s.rfind(')')? + 1..];
                rest.split_whitespace().next().map(|st| st == "Z")
            })
    };
    for reaper in [false, true] {
        let extra: &[&str] = if reaper { &["--reaper"] } else { &[] };
        let server = Rwsgi::new()
            .http()
            .master()
            .processes(1)
            .args(["--wsgi-file", &app_arg])
            .args(extra)
            .start();
        server.wait_http_ready(server.ports.http, 1);
        let child = get(server.ports.http, "/spawn").text();
        // It exits at once; nobody has waited for it yet (the reaper ran as the request
        // ended, before it exited, or found it already gone).
        eventually(WAIT, "the spawned process exited", || {
            match zombie(&child) {
                Some(true) | None => Ok(()),
                Some(false) => Err(format!("{child} still running")),
            }
        });
        assert_eq!(get(server.ports.http, "/").text(), "ok");
        if reaper {
            eventually(WAIT, "the zombie reaped after a request", || {
                match zombie(&child) {
                    None => Ok(()),
                    Some(z) => Err(format!("{child}: zombie={z}")),
                }
            });
        } else {
            assert_eq!(
                zombie(&child),
                Some(true),
                "without --reaper it stays a zombie"
            );
        }
    }
}

#[test]
fn a_process_an_app_spawns_inherits_no_socket_so_close_on_exec_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("fds.py");
    let listing = dir.path().join("fds.txt");
    // os.system keeps every descriptor that is not close-on-exec (subprocess would close
    // them itself): the shell lists what it inherited, during a request.
    std::fs::write(
        &app,
        format!(
            "import os\n\
             def application(environ, start_response):\n    \
                 os.system('ls -l /proc/self/fd/ > {}')\n    \
                 start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
                 return [b'listed']\n",
            listing.display()
        ),
    )
    .expect("write the app");
    let app_arg = app.display().to_string();
    let server = Rwsgi::new()
        .http()
        .stats()
        .master()
        .processes(1)
        .args([
            "--wsgi-file",
            &app_arg,
            "--close-on-exec",
            "--close-on-exec2",
        ])
        .start();
    server.wait_http_ready(server.ports.http, 1);
    assert_eq!(get(server.ports.http, "/").text(), "listed");
    let fds = std::fs::read_to_string(&listing).expect("the listing");
    assert!(fds.contains("/proc/"), "ls lists its own directory: {fds}");
    assert!(
        !fds.contains("socket:"),
        "a socket leaked into the child:\n{fds}"
    );
}

#[test]
fn stats_no_metrics_leaves_the_metrics_out_of_the_stats_json() {
    for hide in [false, true] {
        let extra: &[&str] = if hide { &["--stats-no-metrics"] } else { &[] };
        let server = Rwsgi::new()
            .http()
            .stats()
            .test_app("srv_app")
            .master()
            .processes(1)
            .arg("--enable-metrics")
            .args(extra)
            .start();
        let s = wait_workers_ready(&server, server.ports.stats, 1);
        assert_eq!(
            s.get("metrics").is_some(),
            !hide,
            "stats-no-metrics={hide}: {s}"
        );
        // The metrics subsystem itself still runs: the workers are counted either way.
        assert_eq!(worker_pids(&s).len(), 1);
    }
}

/// `ksm_merge_any` of `/proc/PID/ksm_stat`: whether the kernel's KSM may merge the process's
/// pages (`None` on a kernel without the file).
fn ksm_merge_any(pid: u64) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/ksm_stat")).ok()?;
    let line = stat.lines().find(|l| l.starts_with("ksm_merge_any:"))?;
    Some(line.ends_with("yes"))
}

#[test]
fn ksm_lets_the_kernel_merge_the_master_s_and_every_worker_s_pages() {
    let with = |extra: &[&str]| {
        let server = Rwsgi::new()
            .http()
            .stats()
            .test_app("srv_app")
            .master()
            .processes(2)
            .args(extra.iter().copied())
            .start();
        wait_workers_ready(&server, server.ports.stats, 2);
        let master = server.child.id() as u64;
        let mut pids = vec![master];
        pids.extend(children(master as i32));
        let merged: Vec<Option<bool>> = pids.iter().map(|&p| ksm_merge_any(p)).collect();
        (merged, server.log())
    };
    let (off, _) = with(&[]);
    assert!(off.iter().all(|m| *m == Some(false)), "{off:?}");
    // As a real config writes it (uWSGI's `ksm = N`: every N cycles).
    let (on, log) = with(&["--ksm", "10"]);
    assert_eq!(on.len(), 3, "the master and both workers: {on:?}");
    assert!(on.iter().all(|m| *m == Some(true)), "{on:?}\n{log}");
}
