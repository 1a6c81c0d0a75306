//! The server of the WSGI conformance tests.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::process::{Rwsgi, Server};
use crate::stats::wait_stats;

/// An rwsgi started for the WSGI conformance tests: HTTP, uwsgi and stats sockets on
/// pre-bound loopback ports, `WSGI_TEST_DIR` (a per-test temp dir) in the app's environment.
pub struct WsgiServer {
    /// The server.
    pub server: Server,
    /// Its HTTP port.
    pub http: u16,
    /// Its uwsgi port.
    pub uwsgi: u16,
    /// Its stats port.
    pub stats: u16,
}

impl WsgiServer {
    /// Starts rwsgi with `args` (the app and process options) and waits for `workers` workers
    /// and the HTTP socket answering.
    pub fn start<S: AsRef<str>>(args: &[S], workers: usize) -> WsgiServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = format!("WSGI_TEST_DIR={}", dir.path().display());
        let server = Rwsgi::new()
            .http()
            .uwsgi()
            .stats()
            .args(["--env", &env])
            .master()
            .args(args)
            .dir(dir)
            .start();
        let p = server.ports;
        server.wait_http_ready(p.http, workers);
        WsgiServer {
            server,
            http: p.http,
            uwsgi: p.uwsgi,
            stats: p.stats,
        }
    }

    /// The per-test temp dir (also the app's `WSGI_TEST_DIR`).
    pub fn dir(&self) -> &Path {
        self.server.dir.path()
    }

    /// Polls the stats socket until `cond` holds, or panics with the last snapshot and the log.
    pub fn wait_stats(&self, cond: impl Fn(&Value) -> bool) -> Value {
        wait_stats(
            &self.server,
            self.stats,
            Duration::from_secs(20),
            "the condition of the test",
            cond,
        )
    }
}

/// The arguments that load `tests/apps/wsgi_conformance.py` with `--wsgi-file`.
pub fn conformance_app() -> Vec<String> {
    vec![
        "--wsgi-file".into(),
        crate::apps_dir()
            .join("wsgi_conformance.py")
            .display()
            .to_string(),
    ]
}
