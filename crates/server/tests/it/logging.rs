//! uWSGI's logging options: which requests are logged (`--disable-logging` with `--log-4xx`,
//! `--log-5xx`, `--log-slow`, `--log-big`), the client address from X-Forwarded-For, request
//! loggers with encoders (a JSON line per request for containers, syslog over UDP), and the
//! rotation of the `--logto` file.
use std::time::Duration;

use rwsgi_testkit::prelude::*;
use rwsgi_testkit::receivers::UdpReceiver;

const WAIT: Duration = Duration::from_secs(15);

fn start(extra: &[&str]) -> (Server, Ports) {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("log_app")
        .master()
        .processes(1)
        .args(extra)
        .start();
    let ports = server.ports;
    wait_workers_ready(&server, ports.stats, 1);
    (server, ports)
}

#[test]
fn with_disable_logging_only_the_requests_log_options_name_are_logged() {
    let (server, p) = start(&[
        "--disable-logging",
        "--log-4xx",
        "--log-5xx",
        "--log-slow",
        "300",
        "--log-big",
        "5000",
        "--max-requests",
        "7",
    ]);
    let logged = ["/status/404", "/status/503", "/big?6000", "/sleep?0.4"];
    let quiet = ["/plain", "/big?100", "/sleep?0"];
    for path in logged.iter().chain(&quiet) {
        get(p.http, path);
    }
    // The worker says so after the last request's log line would have been written.
    server.wait_log(WAIT, |l| l.contains("max requests reached"));
    let log = server.log();
    for path in logged {
        assert!(log.contains(&format!("GET {path} => ")), "{path}:\n{log}");
    }
    for path in quiet {
        assert!(!log.contains(&format!("GET {path} => ")), "{path}:\n{log}");
    }
}

#[test]
fn log_x_forwarded_for_shows_the_forwarded_client_in_the_line() {
    let (server, p) = start(&["--log-x-forwarded-for"]);
    let r = try_http(
        p.http,
        "GET",
        "/fwd",
        &[("X-Forwarded-For", "203.0.113.7")],
        b"",
    )
    .expect("request");
    assert_eq!(r.status, 200);
    get(p.http, "/direct");
    server.wait_log(WAIT, |l| l.contains("GET /direct "));
    let log = server.log();
    let line = |uri: &str| {
        log.lines()
            .find(|l| l.contains(&format!("GET {uri} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("/fwd").contains("] 203.0.113.7 () {"), "{log}");
    assert!(line("/direct").contains("] 127.0.0.1 () {"), "{log}");
}

#[test]
fn req_logger_file_with_the_json_encoder_writes_one_json_document_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("requests.json");
    let logger = format!("file:{}", file.display());
    let (server, p) = start(&[
        "--log-format",
        "ua=%(uagent) uri=%(uri) status=%(status)",
        "--req-logger",
        &logger,
        "--log-req-encoder",
        r#"json {"time":${unix},"source":"rwsgi-req","message":"${msg}"}"#,
        "--log-req-encoder",
        "nl",
    ]);
    let agent = r#"probe "quoted" \ agent"#;
    for i in 0..3 {
        let r = try_http(
            p.http,
            "GET",
            &format!("/j{i}"),
            &[("User-Agent", agent)],
            b"",
        )
        .expect("request");
        assert_eq!(r.status, 200);
    }
    let text = wait_file(&file, WAIT, |t| t.lines().count() >= 3);
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["source"], "rwsgi-req");
        assert!(
            v["time"].as_u64().is_some_and(|t| t > 1_600_000_000),
            "{line}"
        );
        assert_eq!(
            v["message"],
            format!("ua={agent} uri=/j{i} status=200"),
            "{line}"
        );
    }
    assert!(!server.log().contains("uri=/j0"), "{}", server.log());
}

#[test]
fn req_logger_rsyslog_sends_each_request_line_as_a_syslog_datagram() {
    let receiver = UdpReceiver::start();
    let logger = format!("rsyslog:127.0.0.1:{},myapp", receiver.port);
    let (server, p) = start(&["--req-logger", &logger]);
    assert_eq!(get(p.http, "/sys").status, 200);
    eventually(WAIT, "a syslog datagram", || {
        let got = receiver.datagrams();
        match got.iter().find(|d| d.contains("GET /sys ")) {
            Some(d) => Ok(d.clone()),
            None => Err(format!("{got:?}")),
        }
    });
    let datagram = receiver
        .datagrams()
        .into_iter()
        .find(|d| d.contains("GET /sys "))
        .unwrap_or_default();
    assert!(datagram.starts_with("<29>"), "{datagram}");
    assert!(datagram.contains(" myapp: [pid: "), "{datagram}");
    assert!(!datagram.ends_with('\n'), "{datagram:?}");
    assert!(!server.log().contains("GET /sys "), "{}", server.log());
}

#[test]
fn log_maxsize_rotates_the_logto_file_and_the_new_file_keeps_logging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, old) = (dir.path().join("app.log"), dir.path().join("app.old"));
    let (logto, backup) = (log.display().to_string(), old.display().to_string());
    let (_server, p) = start(&[
        "--logto",
        &logto,
        "--log-maxsize",
        "4000",
        "--log-backupname",
        &backup,
    ]);
    // Each line is ~150 bytes: a few dozen requests pass the limit; the master checks once a
    // second, so keep going (bounded) until the backup appears.
    let mut sent = 0;
    wait_for(WAIT, "the rotated log file", || {
        if sent < 400 {
            get(p.http, &format!("/fill-{sent}"));
            sent += 1;
        }
        old.exists()
    });
    let rotated = wait_file(&old, WAIT, |t| t.contains("triggering rotation to"));
    assert!(rotated.contains("GET /fill-0 "), "{rotated}");
    get(p.http, "/after-rotation");
    let fresh = wait_file(&log, WAIT, |t| t.contains("GET /after-rotation "));
    assert!(!fresh.contains("GET /fill-0 "), "{fresh}");
}

#[test]
fn logging_options_rwsgi_lacks_stop_start_up_naming_them() {
    for (option, value) in [("--log-drain", "x"), ("--log-filter", "x")] {
        let (code, out) = run_to_exit(
            &[
                "--http-socket",
                "127.0.0.1:0",
                "--module",
                "log_app",
                option,
                value,
            ],
            WAIT,
        );
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains(&format!("'{}'", &option[2..])), "{out}");
    }
}

#[test]
fn log_encoder_json_makes_every_line_of_every_process_a_json_document() {
    let (mut server, p) = start(&[
        "--log-encoder",
        r#"json {"source":"rwsgi","message":"${msg}"}"#,
        "--log-encoder",
        "nl",
    ]);
    assert_eq!(get(p.http, "/in-json").status, 200);
    server.wait_log(WAIT, |l| l.contains("GET /in-json "));
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(WAIT).is_some(), "{}", server.log());
    // The log process delivers what the stopping processes wrote after the master is gone.
    server.wait_log(WAIT, |l| l.contains("goodbye to"));
    let log = server.log();
    let mut messages = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}\n{log}"));
        assert_eq!(v["source"], "rwsgi", "{line}");
        messages.push(v["message"].as_str().unwrap_or_default().to_string());
    }
    for want in ["spawned rwsgi worker", "GET /in-json ", "goodbye to"] {
        assert!(messages.iter().any(|m| m.contains(want)), "{want}:\n{log}");
    }
}

#[test]
fn log_date_prefixes_every_line_with_the_strftime_date() {
    let (server, p) = start(&["--log-date=%Y|DATED"]);
    assert_eq!(get(p.http, "/dated").status, 200);
    server.wait_log(WAIT, |l| l.contains("GET /dated "));
    let log = server.log();
    for line in log.lines() {
        let (year, rest) = line
            .split_once("|DATED - ")
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(year.len() == 4 && year.parse::<u32>().is_ok(), "{line:?}");
        assert!(!rest.is_empty(), "{line:?}");
    }
    assert!(
        log.lines().any(|l| l.contains("spawned rwsgi worker")),
        "{log}"
    );
}

#[test]
fn a_reload_keeps_the_one_log_process() {
    let (server, p) = start(&["--log-date=%Y|DATED"]);
    let spawned = |log: &str| log.matches("spawned rwsgi worker").count();
    server.signal(libc::SIGHUP);
    // The re-executed master spawns its worker again, through the same log process.
    server.wait_log(WAIT, |l| spawned(l) >= 2);
    wait_workers_ready(&server, p.stats, 1);
    assert_eq!(get(p.http, "/after-reload").status, 200);
    server.wait_log(WAIT, |l| l.contains("GET /after-reload "));
    let log = server.log();
    for line in log.lines() {
        // A second log process would date the first one's lines again.
        assert_eq!(line.matches("|DATED - ").count(), 1, "{line:?}\n{log}");
        assert!(line.find("|DATED - ") == Some(4), "{line:?}");
    }
}

#[test]
fn logger_rsyslog_sends_the_servers_own_lines_as_syslog_datagrams() {
    let receiver = UdpReceiver::start();
    let logger = format!("rsyslog:127.0.0.1:{},srv", receiver.port);
    let (server, p) = start(&["--logger", &logger]);
    assert_eq!(get(p.http, "/via-logger").status, 200);
    eventually(WAIT, "the request line as a datagram", || {
        let got = receiver.datagrams();
        if got.iter().any(|d| d.contains("GET /via-logger ")) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    let got = receiver.datagrams();
    assert!(
        got.iter().any(|d| d.starts_with("<29>")
            && d.contains(" srv: ")
            && d.contains("spawned rwsgi worker")),
        "{got:?}"
    );
    assert!(
        !server.log().contains("spawned rwsgi worker"),
        "{}",
        server.log()
    );
}

#[test]
fn log_sendfile_logs_static_files_and_file_wrapper_bodies_under_disable_logging() {
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(files.path().join("f.txt"), "file body").expect("write");
    let map = format!("/s={}", files.path().display());
    let (server, p) = start(&[
        "--disable-logging",
        "--log-sendfile",
        "true",
        "--static-map",
        &map,
        "--max-requests",
        "3",
    ]);
    assert_eq!(get(p.http, "/s/f.txt").text(), "file body");
    assert!(get(p.http, "/wrapped").text().contains("file_wrapper"));
    assert_eq!(get(p.http, "/from-the-app").status, 200);
    server.wait_log(WAIT, |l| l.contains("max requests reached"));
    let log = server.log();
    assert!(log.contains("GET /s/f.txt => "), "{log}");
    assert!(log.contains("GET /wrapped => "), "{log}");
    assert!(!log.contains("GET /from-the-app "), "{log}");
}

#[test]
fn req_logger_rsyslog_to_a_unix_datagram_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
    receiver.set_read_timeout(Some(WAIT)).expect("read timeout");
    let logger = format!("rsyslog:{},unixapp,134", path.display());
    let (_server, p) = start(&["--req-logger", &logger]);
    assert_eq!(get(p.http, "/over-unix").status, 200);
    let mut buf = [0u8; 8192];
    let n = receiver.recv(&mut buf).expect("a datagram");
    let datagram = String::from_utf8_lossy(&buf[..n]);
    assert!(datagram.starts_with("<134>"), "{datagram}");
    assert!(datagram.contains(" unixapp: [pid: "), "{datagram}");
    assert!(datagram.contains("GET /over-unix "), "{datagram}");
}

#[test]
fn after_a_reload_the_logto_file_still_gets_its_lines_through_the_log_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.log");
    let logto = file.display().to_string();
    let (server, p) = start(&["--logto", &logto, "--log-date=%Y|DATED"]);
    server.signal(libc::SIGHUP);
    wait_file(&file, WAIT, |t| {
        t.matches("spawned rwsgi worker").count() >= 2
    });
    wait_workers_ready(&server, p.stats, 1);
    assert_eq!(get(p.http, "/reloaded").status, 200);
    let text = wait_file(&file, WAIT, |t| t.contains("GET /reloaded "));
    for line in text.lines() {
        assert_eq!(line.find("|DATED - "), Some(4), "{line:?}\n{text}");
    }
}

#[test]
fn logto2_opens_its_file_after_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("late.log");
    let logto2 = file.display().to_string();
    let (server, p) = start(&["--logto2", &logto2]);
    assert_eq!(get(p.http, "/late").status, 200);
    wait_file(&file, WAIT, |t| t.contains("GET /late "));
    assert!(!server.log().contains("GET /late "), "{}", server.log());
}

#[test]
fn log_route_sends_matching_lines_to_the_named_logger_and_the_rest_to_the_unnamed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (errors, all) = (dir.path().join("errors.log"), dir.path().join("all.log"));
    let (server, p) = start(&[
        "--logger",
        &format!("errors file:{}", errors.display()),
        "--logger",
        &format!("file:{}", all.display()),
        "--log-route",
        r"errors \(HTTP/1\.1 50\d\)",
        // bound to the named logger: only its lines are encoded
        "--log-encoder",
        "format:errors ERR ${msgnl}",
    ]);
    assert_eq!(get(p.http, "/status/503").status, 503);
    assert_eq!(get(p.http, "/status/404").status, 404);
    assert_eq!(get(p.http, "/plain").status, 200);
    let routed = wait_file(&errors, WAIT, |t| t.contains("GET /status/503 "));
    let rest = wait_file(&all, WAIT, |t| t.contains("GET /plain "));
    assert!(
        routed
            .lines()
            .all(|l| l.starts_with("ERR ") && l.contains("(HTTP/1.1 50")),
        "{routed}"
    );
    assert!(
        !rest.contains("GET /status/503 "),
        "a routed line leaves the others: {rest}"
    );
    assert!(rest.contains("GET /status/404 "), "{rest}");
    assert!(
        rest.contains("spawned rwsgi worker"),
        "the server's own lines: {rest}"
    );
    assert!(!rest.contains("ERR "), "{rest}");
    drop(server);

    // A route to a logger nobody named stops start-up, naming both.
    let (code, out) = run_to_exit(
        &[
            "--http-socket",
            "127.0.0.1:0",
            "--module",
            "log_app",
            "--log-route",
            "nobody ^a",
        ],
        WAIT,
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("--log-route: no logger named 'nobody'"),
        "{out}"
    );
}

#[test]
fn log_req_route_sends_request_lines_to_named_request_loggers_or_named_loggers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| dir.path().join(name);
    let (slow, audit, requests) = (file("slow.log"), file("audit.log"), file("requests.log"));
    let (server, p) = start(&[
        "--req-logger",
        &format!("slow file:{}", slow.display()),
        "--req-logger",
        &format!("file:{}", requests.display()),
        // a named --logger, as uWSGI finds a request route's logger among those
        "--logger",
        &format!("audit file:{}", audit.display()),
        "--log-req-route",
        "slow GET /sleep",
        "--log-req-route",
        "audit GET /audit/",
    ]);
    for path in ["/sleep?0.01", "/audit/1", "/plain"] {
        assert_eq!(get(p.http, path).status, 200, "{path}");
    }
    let routed_slow = wait_file(&slow, WAIT, |t| t.contains("GET /sleep?0.01 "));
    let routed_audit = wait_file(&audit, WAIT, |t| t.contains("GET /audit/1 "));
    let rest = wait_file(&requests, WAIT, |t| t.contains("GET /plain "));
    assert_eq!(routed_slow.lines().count(), 1, "{routed_slow}");
    assert_eq!(routed_audit.lines().count(), 1, "{routed_audit}");
    assert_eq!(rest.lines().count(), 1, "{rest}");
    // Every request line went to a request logger, none to the server's log; the named
    // --logger gets no server lines, which go to stderr (no logger is unnamed).
    let log = server.log();
    assert!(!log.contains("GET /"), "{log}");
    assert!(log.contains("spawned rwsgi worker"), "{log}");
}
