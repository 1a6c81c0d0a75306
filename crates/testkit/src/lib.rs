//! The harness of rwsgi's integration tests (a dev-dependency only).
//!
//! * [`process`]: the real `rwsgi` binary started on loopback ([`Rwsgi`] builds its command
//!   line and hands it pre-bound listening sockets, so no port can be taken between choosing
//!   and binding it), stopped by pid, children ended by pid and start time.
//! * [`http`], [`uwsgi`], [`stats`]: clients for the three kinds of socket. The HTTP parser is
//!   stricter than the server (httparse for heads, a strict dechunker, exact Content-Length), so
//!   a malformed response fails the test instead of parsing as a short one.
//! * [`load::Load`]: a bounded load of client threads, every response counted.
//! * [`receivers`]: the real receivers of the pusher tests (UDP, carbon-cache, a MongoDB wire
//!   server, a Zabbix trapper stand-in).
//! * [`tmux::Tmux`]: a program in a real terminal (capture the screen, send keys).
//! * [`wait::eventually`]: the one "poll until it holds, or fail with what was seen" loop.
//!
//! `use rwsgi_testkit::prelude::*;` brings everything a test file needs.

pub mod http;
pub mod load;
pub mod ports;
pub mod process;
pub mod receivers;
pub mod stats;
pub mod tmux;
pub mod uwsgi;
pub mod wait;
pub mod wsgi_server;

/// Everything a test file needs, in one `use`.
pub mod prelude {
    pub use crate::http::*;
    pub use crate::load::*;
    pub use crate::ports::*;
    pub use crate::process::*;
    pub use crate::stats::*;
    pub use crate::tmux::*;
    pub use crate::uwsgi::*;
    pub use crate::wait::*;
    pub use crate::wsgi_server::*;
    pub use crate::{apps_dir, examples_dir, test_config, which};
}

use std::path::{Path, PathBuf};

/// The workspace's `crates/` directory.
fn crates_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Test apps shipped with the server's tests.
pub fn apps_dir() -> PathBuf {
    crates_dir().join("server/tests/apps")
}

/// The ini corpus written for the server's tests (`crates/server/tests/configs/NAME`).
pub fn test_config(name: &str) -> String {
    crates_dir()
        .join("server/tests/configs")
        .join(name)
        .display()
        .to_string()
}

/// The bundled example app's directory.
pub fn examples_dir() -> PathBuf {
    crates_dir().join("../examples")
}

/// The path of program `name` on PATH; panics (no skipping) when it is missing.
pub fn which(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{name} is not on PATH: scripts/test.sh installs it (apt packages, and the Python \
         tools of scripts/test-requirements.txt)"
    );
}
