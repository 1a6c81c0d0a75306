//! Options of uWSGI's python plugin about the environ and forking: `--wsgi-disable-file-wrapper`,
//! `--wsgi-env-behavior cheat` (an environ kept past its request is emptied) and
//! `--py-call-osafterfork` (a documented no-op: the after-fork hooks run in workers anyway).
use rwsgi_testkit::prelude::*;
use serde_json::Value;

fn start(extra: &[&str]) -> Server {
    let server = Rwsgi::new()
        .http()
        .stats()
        .test_app("pyplugin_app")
        .master()
        .processes(1)
        .args(extra)
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    server
}

fn json(server: &Server, path: &str) -> Value {
    let r = get(server.ports.http, path);
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("JSON: {e}: {}", r.text()))
}

#[test]
fn wsgi_disable_file_wrapper_leaves_it_out_of_the_environ() {
    assert_eq!(json(&start(&[]), "/")["file_wrapper"], true);
    let v = json(&start(&["--wsgi-disable-file-wrapper"]), "/");
    assert_eq!(v["file_wrapper"], false, "{v}");
}

#[test]
fn wsgi_env_behavior_cheat_empties_an_environ_kept_past_its_request() {
    for (behavior, emptied) in [("holy", false), ("cheat", true)] {
        let server = start(&["--wsgi-env-behavior", behavior]);
        let during = json(&server, "/keep");
        let keys = during["keys"].as_u64().unwrap_or(0);
        assert!(keys > 10, "{during}");
        // Seen during its own request the kept environ is whole in both modes.
        assert_eq!(
            during["kept"],
            serde_json::json!([keys]),
            "{behavior}: {during}"
        );
        let after = json(&server, "/later");
        let kept = if emptied { 0 } else { keys };
        assert_eq!(
            after["kept"],
            serde_json::json!([kept]),
            "{behavior}: {after}"
        );
        assert!(
            after["keys"].as_u64() > Some(10),
            "the next request's is whole: {after}"
        );
    }
}

#[test]
fn after_fork_hooks_run_in_every_worker_with_or_without_py_call_osafterfork() {
    for extra in [&[][..], &["--py-call-osafterfork"][..]] {
        let v = json(&start(extra), "/");
        let pid = v["pid"].as_u64().expect("pid");
        assert_ne!(
            v["loaded_in"].as_u64(),
            Some(pid),
            "loaded in the master: {v}"
        );
        // os.register_at_fork(after_in_child=...) ran once, in this worker.
        assert_eq!(v["after_fork"], serde_json::json!([pid]), "{extra:?}: {v}");
    }
}
