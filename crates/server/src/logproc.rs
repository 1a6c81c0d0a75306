//! The log process: with `--logger`, `--log-encoder`, `--log-route`, `--log-date` or `--log-master`, every line the server's
//! processes write to stdout/stderr (the master's, the workers', Python's, and request lines
//! without a `--req-logger`) goes through a pipe to one process that dates, encodes and
//! delivers it (to the named loggers whose `--log-route` matches the line, else to the
//! unnamed ones) — uWSGI's log master, kept out of rwsgi's master so the master stays one
//! thread that never blocks on a logger.
//!
//! It is forked (twice, so it is nobody's child to reap) at start-up before anything else
//! runs, reads until every writer has closed the pipe, and ignores the stop signals: the
//! last lines of a shutdown still arrive. A reload re-executes the master with stdout/stderr
//! still on the pipe, so the same log process goes on (its loggers are those of the first
//! start).

use std::ffi::CString;
use std::io::Read;

use rwsgi_config::Config;
use rwsgi_os::process::{close_fds_except, exit_now, fork_plain, redirect_output, wait_for};
use rwsgi_os::time::{local_time, unix_now};

use crate::logsink::{BoundEncoder, LogOutputs, LogSetupError, NamedLogger, RouteSpec};

/// Set in the environment once stdout/stderr go to a log process (a reload keeps it).
const ACTIVE_ENV: &str = "RWSGI_LOG_PROCESS";

/// `--log-date`: what goes before each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DatePrefix {
    /// Bare `--log-date`: `Tue Dec  1 21:33:00 2026 - `, as ctime(3) writes it.
    Ctime,
    /// `--log-date FORMAT`: strftime(3) of FORMAT, then ` - `.
    Strftime(CString),
}

impl DatePrefix {
    /// From `--log-date`'s value (empty: the ctime form).
    pub(crate) fn parse(value: &str) -> DatePrefix {
        match CString::new(value) {
            Ok(f) if !value.is_empty() => DatePrefix::Strftime(f),
            _ => DatePrefix::Ctime,
        }
    }

    /// Appends the prefix for Unix time `now`.
    fn put(&self, now: u64, out: &mut Vec<u8>) {
        match self {
            DatePrefix::Ctime => local_time(now, c"%a %b %e %H:%M:%S %Y", out),
            DatePrefix::Strftime(f) => local_time(now, f, out),
        }
        out.extend_from_slice(b" - ");
    }
}

/// Splits the complete lines off the front of `pending` (each with its newline) and hands
/// each to `line`, keeping an unfinished one for the next read.
fn take_lines(pending: &mut Vec<u8>, mut line: impl FnMut(&[u8])) {
    let mut start = 0;
    while let Some(nl) = pending[start..].iter().position(|&b| b == b'\n') {
        line(&pending[start..=start + nl]);
        start += nl + 1;
    }
    pending.drain(..start);
}

/// Whether this process's stdout and stderr go to a log process already (a reload).
pub(crate) fn active() -> bool {
    std::env::var_os(ACTIVE_ENV).is_some()
}

/// Whether the options ask for the log process.
fn wanted(config: &Config) -> bool {
    config.log_master
        || !config.loggers.is_empty()
        || !config.log_encoders.is_empty()
        || !config.log_route.is_empty()
        || config.log_date.is_some()
}

/// Starts the log process when the options ask for it and none runs yet, and points this
/// process's stdout and stderr at it. Call before any thread or Python exists.
pub(crate) fn start(config: &Config, hostname: &str) -> Result<(), LogSetupError> {
    if !wanted(config) || active() {
        return Ok(());
    }
    let spec_err = |option| move |source| LogSetupError::Spec { option, source };
    let chain = config
        .log_encoders
        .iter()
        .map(|e| BoundEncoder::parse(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--log-encoder"))?;
    let specs = config
        .loggers
        .iter()
        .map(|l| NamedLogger::parse(l, hostname))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--logger"))?;
    let routes = config
        .log_route
        .iter()
        .map(|r| RouteSpec::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err("--log-route"))?;
    // Without a logger, lines go to stderr (LogOutputs adds it when no logger is unnamed).
    let outputs = LogOutputs::open(&specs, &chain, &routes)?;
    let date = config.log_date.as_deref().map(DatePrefix::parse);
    let io = |source| LogSetupError::Open {
        spec: "the log process".into(),
        source,
    };
    let (reader, writer) = std::io::pipe().map_err(io)?;
    let middle = fork_plain().map_err(io)?;
    if middle == 0 {
        // The middle child only forks the log process and leaves, so init adopts it.
        if matches!(fork_plain(), Ok(0)) {
            drop(writer);
            // Not the listening sockets a reloading master or a test harness handed down:
            // this process outlives the master by a moment and must not keep them open.
            let mut keep = outputs.fds();
            keep.push(std::os::fd::AsRawFd::as_raw_fd(&reader));
            let _ = close_fds_except(&keep);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP] {
                let _ = crate::signals::ignore(sig);
            }
            run(reader, &outputs, date.as_ref());
        }
        exit_now(0);
    }
    wait_for(middle).map_err(io)?;
    drop(reader);
    redirect_output(&writer).map_err(io)?;
    // SAFETY: start-up, before any thread exists (the caller's contract); a reload's exec
    // keeps it, so the re-executed master does not start a second log process.
    unsafe { std::env::set_var(ACTIVE_ENV, "1") };
    Ok(())
}

/// The log process's loop: until every writer is gone.
fn run(mut reader: std::io::PipeReader, outputs: &LogOutputs, date: Option<&DatePrefix>) {
    let mut pending = Vec::with_capacity(64 * 1024);
    let (mut framed, mut out, mut tmp) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = vec![0u8; 64 * 1024];
    let mut deliver = |line: &[u8]| {
        framed.clear();
        if let Some(d) = date {
            d.put(unix_now(), &mut framed);
        }
        framed.extend_from_slice(line);
        outputs.emit(&framed, &mut out, &mut tmp);
    };
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                take_lines(&mut pending, &mut deliver);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if !pending.is_empty() {
        pending.push(b'\n');
        take_lines(&mut pending, &mut deliver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_go_out_and_a_partial_one_waits() {
        let mut pending = b"one\ntwo\nthr".to_vec();
        let mut got = Vec::new();
        take_lines(&mut pending, |l| got.push(l.to_vec()));
        assert_eq!(got, [b"one\n".to_vec(), b"two\n".to_vec()]);
        assert_eq!(pending, b"thr");
        pending.extend_from_slice(b"ee\n");
        take_lines(&mut pending, |l| got.push(l.to_vec()));
        assert_eq!(got[2], b"three\n");
        assert!(pending.is_empty());
    }

    #[test]
    fn only_the_options_that_need_it_start_the_log_process() {
        let mut c = Config::default();
        assert!(!wanted(&c), "the default writes straight to stderr");
        c.req_loggers.push("stdio".into());
        assert!(!wanted(&c), "request loggers are the workers' own");
        for set in [
            |c: &mut Config| c.log_master = true,
            |c: &mut Config| c.loggers.push("stdio".into()),
            |c: &mut Config| c.log_encoders.push("nl".into()),
            |c: &mut Config| c.log_route.push("errors 50\\d".into()),
            |c: &mut Config| c.log_date = Some(String::new()),
        ] {
            let mut c = Config::default();
            set(&mut c);
            assert!(wanted(&c), "{c:?}");
        }
    }

    #[test]
    fn date_prefixes_follow_uwsgi() {
        let mut out = Vec::new();
        DatePrefix::parse("%Y").put(1_700_000_000, &mut out);
        assert_eq!(out, b"2023 - ");
        out.clear();
        DatePrefix::parse("").put(1_700_000_000, &mut out);
        let text = String::from_utf8(out).unwrap();
        // ctime's shape: 24 characters, then the separator.
        assert_eq!(text.len(), 27, "{text:?}");
        assert!(text.ends_with(" 2023 - "), "{text:?}");
    }
}
