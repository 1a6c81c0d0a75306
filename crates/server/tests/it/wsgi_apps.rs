//! Loading apps: `--wsgi-file`, `--module mod:callable`, `--callable`, `--pythonpath`,
//! `--mount` with `--manage-script-name`, `--env`.
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::Value;

fn json(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("JSON: {e}: {}", r.text()))
}

fn apps() -> String {
    apps_dir().display().to_string()
}

#[test]
fn wsgi_file_and_callable() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let v = json(&get(srv.http, "/whoami"));
    assert_eq!(v["callable"], "application");

    let srv = WsgiServer::start(
        &[
            conformance_app(),
            vec!["--callable".into(), "other_callable".into()],
        ]
        .concat(),
        1,
    );
    let v = json(&get(srv.http, "/whoami"));
    assert_eq!(v["callable"], "other_callable");
}

#[test]
fn module_with_callable() {
    // module:callable form.
    let srv = WsgiServer::start(&["--chdir", &apps(), "--module", "wsgi_app_b:named_app"], 1);
    assert_eq!(json(&get(srv.http, "/x"))["app"], "b.named_app");

    // module plus --callable.
    let srv = WsgiServer::start(
        &[
            "--chdir",
            &apps(),
            "--module",
            "wsgi_app_b",
            "--callable",
            "named_app",
        ],
        1,
    );
    assert_eq!(json(&get(srv.http, "/x"))["app"], "b.named_app");

    // Plain module: the default callable `application`.
    let srv = WsgiServer::start(&["--chdir", &apps(), "--module", "wsgi_app_b"], 1);
    assert_eq!(json(&get(srv.http, "/x"))["app"], "b");
}

#[test]
fn pythonpath_makes_a_module_importable() {
    let pp = apps_dir().join("wsgi_pythonpath").display().to_string();
    let srv = WsgiServer::start(&["--pythonpath", &pp, "--module", "wsgi_pp_only"], 1);
    let v = json(&get(srv.http, "/"));
    assert_eq!(v["app"], "pythonpath");
    assert!(
        v["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("wsgi_pythonpath/wsgi_pp_only.py"),
        "{v}"
    );
    assert_eq!(
        v["sys_path0"],
        pp.as_str(),
        "--pythonpath goes first on sys.path"
    );

    // Without --pythonpath the module cannot be imported.
    // (A unix socket in the temp dir: no port to race for.)
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("http.sock").display().to_string();
    let mut srv = Rwsgi::new()
        .args([
            "--http-socket",
            &sock,
            "--module",
            "wsgi_pp_only",
            "--master",
        ])
        .dir(dir)
        .start();
    srv.wait_log(Duration::from_secs(20), |l| {
        l.contains("No module named 'wsgi_pp_only'")
    });
    // uWSGI's "no app loaded" outcome: either the server gave up or it answers without the app.
    if srv.wait_exit(Duration::from_secs(5)).is_none() {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        assert_ne!(parse_response(&raw).status, 200);
    }
}

#[test]
fn mounts_with_manage_script_name() {
    let srv = WsgiServer::start(
        &[
            "--chdir",
            &apps(),
            "--mount",
            "/a=wsgi_app_a.py",
            "--mount",
            "/b=wsgi_app_b:application",
            "--mount",
            "/a/deep=wsgi_app_b:named_app",
            "--manage-script-name",
        ],
        1,
    );
    for (path, app, script_name, path_info) in [
        ("/a/x/y", "a", "/a", "/x/y"),
        ("/a", "a", "/a", ""),
        ("/a/", "a", "/a", "/"),
        ("/b/z", "b", "/b", "/z"),
        // Longest prefix wins.
        ("/a/deep/q", "b.named_app", "/a/deep", "/q"),
        ("/a/deep", "b.named_app", "/a/deep", ""),
        // Only on a path-segment boundary.
        ("/a/deeper", "a", "/a", "/deeper"),
    ] {
        let v = json(&get(srv.http, path));
        assert_eq!(
            (
                v["app"].as_str(),
                v["script_name"].as_str(),
                v["path_info"].as_str()
            ),
            (Some(app), Some(script_name), Some(path_info)),
            "GET {path}: {v}"
        );
    }
    // Over the uwsgi protocol, a peer's SCRIPT_NAME selects the app mounted there.
    let raw = uwsgi_request(
        srv.uwsgi,
        &[
            (b"REQUEST_METHOD", b"GET"),
            (b"SCRIPT_NAME", b"/b"),
            (b"PATH_INFO", b"/from-nginx"),
            (b"QUERY_STRING", b""),
            (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        ],
        b"",
    )
    .expect("uwsgi");
    let v = json(&parse_response(&raw));
    assert_eq!(v["app"], "b");
    assert_eq!(v["script_name"], "/b");
    assert_eq!(v["path_info"], "/from-nginx");
    // With --manage-script-name, the mount point in PATH_INFO is split off for uwsgi peers too.
    let r = uwsgi_call(srv.uwsgi, "GET", "/a/deep/via-uwsgi", "", &[], b"");
    let v = json(&r);
    assert_eq!(v["app"], "b.named_app");
    assert_eq!(v["script_name"], "/a/deep");
    assert_eq!(v["path_info"], "/via-uwsgi");
}

#[test]
fn env_option_sets_os_environ() {
    let srv = WsgiServer::start(
        &[
            conformance_app(),
            vec![
                "--env".into(),
                "WSGI_TEST_FOO=bar baz=qux".into(),
                "--env".into(),
                "WSGI_TEST_EMPTY=".into(),
            ],
        ]
        .concat(),
        1,
    );
    let v = json(&get(srv.http, "/env"));
    let os_env = &v["_os_environ"];
    assert_eq!(os_env["WSGI_TEST_FOO"], "bar baz=qux", "{os_env}");
    assert_eq!(os_env["WSGI_TEST_EMPTY"], "", "{os_env}");
    assert_eq!(
        os_env["WSGI_TEST_DIR"],
        srv.dir().display().to_string().as_str()
    );
    // --env sets the process environment, not the request's environ.
    assert!(v.get("WSGI_TEST_FOO").is_none());
}
