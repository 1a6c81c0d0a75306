//! Against real uWSGI (pip `uwsgi`, pinned in scripts/test-requirements.txt): rwsgi's
//! `--connect-and-read @name` reaches uWSGI's abstract stats socket, whose address carries a
//! trailing NUL byte that plain clients miss.
use rwsgi_testkit::prelude::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A real uWSGI, stopped with SIGINT (uWSGI 2.0 reloads on SIGTERM) by pid when dropped.
struct Uwsgi {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Uwsgi {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGINT);
    }
}

fn connect_and_read(addr: &str) -> std::process::Output {
    Command::new(rwsgi_bin())
        .args(["--connect-and-read", addr])
        .output()
        .expect("run rwsgi --connect-and-read")
}

#[test]
fn connect_and_read_reaches_real_uwsgi_on_an_abstract_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("rwsgi-compat-{}", std::process::id());
    let http = free_port();
    let log = std::fs::File::create(dir.path().join("uwsgi.log")).expect("log");
    let child = Command::new(which("uwsgi"))
        .args([
            "--http-socket",
            &format!("127.0.0.1:{http}"),
            "--stats",
            &format!("@{name}"),
            "--module",
            "welcome",
            "--chdir",
            &examples_dir().display().to_string(),
            "--master",
            "--processes",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn uwsgi");
    let uwsgi = Uwsgi { child, _dir: dir };

    let addr = format!("@{name}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = connect_and_read(&addr);
        if out.status.success() {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "uWSGI's stats never answered: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(uwsgi._dir.path().join("uwsgi.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        json["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.0")),
        "this is uWSGI's JSON: {json}"
    );
    assert_eq!(json["pid"].as_u64(), Some(u64::from(uwsgi.child.id())));

    // The quirk rwsgi works around: the plain abstract name is not where uWSGI listens.
    use std::os::linux::net::SocketAddrExt;
    let plain = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
    assert!(
        std::os::unix::net::UnixStream::connect_addr(&plain).is_err(),
        "uWSGI binds @name with a trailing NUL; the plain name should be refused"
    );
}
