//! Which Python runs the app: the `python3` of the test machine, or a virtualenv with
//! `--home` / `--virtualenv`.
use rwsgi_testkit::prelude::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn python3(args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn pyinfo(port: u16) -> Value {
    let r = get(port, "/pyinfo");
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("JSON: {e}: {}", r.text()))
}

/// A virtualenv made with the test machine's python3 (no pip: nothing is downloaded), with a
/// module dropped into its site-packages.
fn make_venv(root: &Path, marker: &str) -> PathBuf {
    let venv = root.join("venv");
    python3(&["-m", "venv", "--without-pip", &venv.display().to_string()]);
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .expect("venv python");
    assert!(out.status.success());
    let site = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("wsgi_venv_probe.py"),
        format!("MARKER = {marker:?}\n"),
    )
    .unwrap();
    venv
}

#[test]
fn worker_runs_the_test_machines_python3() {
    let prefix = python3(&["-c", "import sys; print(sys.prefix)"]);
    let version = python3(&["-c", "import sys; print(sys.version)"]);
    let srv = WsgiServer::start(
        &[conformance_app(), vec!["--processes".into(), "2".into()]].concat(),
        2,
    );
    let v = pyinfo(srv.http);
    assert_eq!(v["prefix"], prefix.trim_end_matches('\n'));
    assert_eq!(v["version"], version.trim_end_matches('\n'));
    // Not installed in the base interpreter: only a virtualenv provides it.
    assert_eq!(v["probe"], Value::Null, "{v}");
}

#[test]
fn home_and_virtualenv_activate_a_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = "from-the-test-venv";
    let venv = make_venv(tmp.path(), marker);
    let venv_s = venv.display().to_string();
    let version = python3(&["-c", "import sys; print(sys.version)"]);

    for opt in ["--home", "--virtualenv"] {
        let srv = WsgiServer::start(
            &[conformance_app(), vec![opt.into(), venv_s.clone()]].concat(),
            1,
        );
        let v = pyinfo(srv.http);
        assert_eq!(v["probe"], marker, "{opt}: {v}");
        let prefix = PathBuf::from(v["prefix"].as_str().unwrap_or(""));
        assert_eq!(
            prefix.canonicalize().ok(),
            venv.canonicalize().ok(),
            "{opt}: sys.prefix"
        );
        assert_eq!(v["version"], version.trim_end_matches('\n'), "{opt}");
    }

    // The same venv is invisible without the option.
    let srv = WsgiServer::start(&conformance_app(), 1);
    assert_eq!(pyinfo(srv.http)["probe"], Value::Null);
}
