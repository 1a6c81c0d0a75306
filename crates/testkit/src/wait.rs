//! Waiting for a condition: every harness wait goes through [`eventually`].

use std::path::Path;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Ok(value)`, and returns that value; after `timeout`, panics
/// with `what` and the last `Err` it returned (what was seen instead).
pub fn eventually<T, E: std::fmt::Display>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// [`eventually`] for a plain condition.
pub fn wait_for(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    eventually(timeout, what, || if cond() { Ok(()) } else { Err("false") })
}

/// Waits until `path` exists and `cond` holds on its text; returns the text.
pub fn wait_file(path: &Path, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
    eventually(
        timeout,
        &format!("{}", path.display()),
        || match std::fs::read_to_string(path) {
            Ok(text) if cond(&text) => Ok(text),
            Ok(text) => Err(format!("{text:?}")),
            Err(e) => Err(e.to_string()),
        },
    )
}
