//! The stats socket on every address form uWSGI accepts (`127.0.0.1:P`, `:P`, a UNIX path,
//! `@name`), raw and with `--stats-http`, and `rwsgi --connect-and-read` on each form.
use rwsgi_testkit::prelude::*;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Form {
    /// `127.0.0.1:P`
    Loopback,
    /// `:P` (all interfaces; reached through 127.0.0.1)
    AllInterfaces,
    /// a filesystem path
    Unix,
    /// `@name`
    Abstract,
}

/// `rwsgi` with its stats socket on `form`, the `--stats` argument, and the addresses a client
/// reaches it at.
fn stats_addr(mut rwsgi: Rwsgi, form: Form, dir: &Path) -> (Rwsgi, String, Vec<StatsAddr>) {
    let (arg, addrs) = match form {
        Form::Loopback => {
            // Pre-bound by the harness: the one form here that cannot race.
            let p = rwsgi.prebind(SocketKind::Stats);
            (format!("127.0.0.1:{p}"), vec![StatsAddr::Tcp(p)])
        }
        Form::AllInterfaces => {
            // rwsgi binds `:P` itself (the harness pre-binds loopback only): racy.
            let p = free_port();
            (format!(":{p}"), vec![StatsAddr::Tcp(p)])
        }
        Form::Unix => {
            let path = dir.join("stats.sock");
            (path.display().to_string(), vec![StatsAddr::Unix(path)])
        }
        Form::Abstract => {
            let name = unique_name("rwsgi-stats-test");
            let plain = name.as_bytes().to_vec();
            let mut with_nul = plain.clone();
            with_nul.push(0);
            // Both the plain name (uwsgitop, Python, socat) and uWSGI's own form with a
            // trailing NUL must answer.
            (
                format!("@{name}"),
                vec![StatsAddr::Abstract(plain), StatsAddr::Abstract(with_nul)],
            )
        }
    };
    (rwsgi.args(["--stats", &arg]), arg, addrs)
}

/// Starts a one-worker server with its stats socket on `form`.
fn start(form: Form, http: bool) -> (Server, String, Vec<StatsAddr>, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rwsgi, arg, addrs) = stats_addr(Rwsgi::new().http(), form, dir.path());
    let mut rwsgi = rwsgi.args([
        "--pythonpath",
        &apps_dir().display().to_string(),
        "--module",
        "stats_app",
        "--master",
        "--processes",
        "1",
    ]);
    if http {
        rwsgi = rwsgi.arg("--stats-http");
    }
    let server = rwsgi.dir(dir).start();
    let http_port = server.ports.http;
    server.wait_http_ready(http_port, 1);
    (server, arg, addrs, http_port)
}

fn assert_is_our_stats(server: &Server, v: &serde_json::Value) {
    assert_eq!(v["pid"].as_i64(), Some(i64::from(server.pid())), "{v}");
    assert_eq!(v["workers"].as_array().map(Vec::len), Some(1), "{v}");
}

/// `rwsgi --connect-and-read ADDR`: (exit code, stdout, stderr).
fn connect_and_read(addr: &str) -> (Option<i32>, Vec<u8>, String) {
    let mut cmd = Command::new(rwsgi_bin());
    cmd.args(["--connect-and-read", addr]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_raw(form: Form) {
    let (server, arg, addrs, _) = start(form, false);
    for addr in &addrs {
        let v = stats_at(addr);
        assert_is_our_stats(&server, &v);
        // Sending something first (a curious client) changes nothing on a raw socket.
        let raw = stats_exchange(addr, b"hello\n").expect("raw stats after a write");
        let v: serde_json::Value = serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("{addr:?}: {e}\n{}", String::from_utf8_lossy(&raw)));
        assert_is_our_stats(&server, &v);
    }
    let (code, stdout, stderr) = connect_and_read(&arg);
    assert_eq!(code, Some(0), "--connect-and-read {arg}: stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "--connect-and-read {arg} stdout is not JSON: {e}\n{}\nstderr: {stderr}",
            String::from_utf8_lossy(&stdout)
        )
    });
    assert_is_our_stats(&server, &v);
}

fn check_http(form: Form) {
    let (server, _arg, addrs, _) = start(form, true);
    for addr in &addrs {
        for req in [
            &b"GET /anything HTTP/1.0\r\n\r\n"[..],
            &b"GET /some/other/path?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"[..],
            // Bytes after the head (a body the stats server does not want) must not cost the
            // client its answer.
            &b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"[..],
        ] {
            let raw = stats_exchange(addr, req)
                .unwrap_or_else(|e| panic!("{addr:?}: no HTTP stats answer: {e}"));
            assert!(
                raw.starts_with(b"HTTP/1.0 200"),
                "{addr:?}: {}",
                String::from_utf8_lossy(&raw)
            );
            let r = parse_response(&raw);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            let v: serde_json::Value = serde_json::from_slice(&r.body)
                .unwrap_or_else(|e| panic!("{addr:?}: body is not JSON: {e}\n{}", r.text()));
            assert_is_our_stats(&server, &v);
        }
        // A garbage request line gets an error status (not a hang, not the JSON); so does a
        // head that never ends.
        let endless = {
            let mut v = b"GET / HTTP/1.1\r\n".to_vec();
            while v.len() < 64 * 1024 {
                v.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            }
            v
        };
        for garbage in [
            &b"\x01\x02 garbage line \xff\r\n\r\n"[..],
            &b"garbage\r\n\r\n"[..],
            &b"GET / HTTP/9.9\r\n\r\n"[..],
            &endless[..],
        ] {
            let raw = stats_exchange(addr, garbage).unwrap_or_else(|e| {
                panic!(
                    "{addr:?}: no answer to malformed request {:?}: {e}",
                    String::from_utf8_lossy(&garbage[..garbage.len().min(40)])
                )
            });
            assert!(
                raw.starts_with(b"HTTP/1.0 4") && (400..500).contains(&parse_response(&raw).status),
                "{addr:?}: malformed request {:?} answered with {:?}",
                String::from_utf8_lossy(&garbage[..garbage.len().min(40)]),
                String::from_utf8_lossy(&raw)
            );
        }
    }
    // The server still answers after the bad client.
    let raw = stats_exchange(&addrs[0], b"GET / HTTP/1.0\r\n\r\n").expect("stats after garbage");
    assert_eq!(parse_response(&raw).status, 200);
}

#[test]
fn stats_raw_on_loopback_address() {
    check_raw(Form::Loopback);
}

#[test]
fn stats_raw_on_all_interfaces_port() {
    check_raw(Form::AllInterfaces);
}

#[test]
fn stats_raw_on_unix_path() {
    check_raw(Form::Unix);
}

#[test]
fn stats_raw_on_abstract_name_both_forms() {
    check_raw(Form::Abstract);
}

#[test]
fn stats_http_on_loopback_address() {
    check_http(Form::Loopback);
}

#[test]
fn stats_http_on_all_interfaces_port() {
    check_http(Form::AllInterfaces);
}

#[test]
fn stats_http_on_unix_path() {
    check_http(Form::Unix);
}

#[test]
fn stats_http_on_abstract_name_both_forms() {
    check_http(Form::Abstract);
}

#[test]
fn connect_and_read_dead_address_fails_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port nobody listens on (racy only in that something could bind it meanwhile).
    let dead_port = free_port();
    let dead = [
        format!("127.0.0.1:{dead_port}"),
        format!(":{dead_port}"),
        dir.path().join("nobody-here.sock").display().to_string(),
        format!("@rwsgi-stats-dead-{}-{dead_port}", std::process::id()),
    ];
    for addr in &dead {
        let (code, stdout, stderr) = connect_and_read(addr);
        assert!(
            matches!(code, Some(c) if c != 0),
            "--connect-and-read {addr} exited {code:?}"
        );
        assert!(stdout.is_empty(), "{addr}: stdout {stdout:?}");
        assert!(
            stderr.contains("cannot connect") && stderr.contains(addr.as_str()),
            "--connect-and-read {addr}: unclear message on stderr: {stderr:?}"
        );
    }
}
