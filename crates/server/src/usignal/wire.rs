//! What a worker tells the master over its signal channel (pure): one message per request.
//!
//! ```text
//! [1, sig]                                  raise sig (uwsgi.signal)
//! [2, sig, kind, id u32 LE]                 register sig for a target (kind 0 pool, 1 worker
//!                                           id, 2 workers, 3 active-workers)
//! [3, sig, ms u32 LE, iterations u32 LE]    a timer (period in ms; iterations 0: forever)
//! [4, sig, 5 x i32 LE]                      a cron entry: minute hour day month weekday
//! [5, sig, path...]                         a file monitor on path (absolute, non-empty)
//! ```
//! The master answers nothing: what it cannot do it logs, as uWSGI's does.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rwsgi_stats::WorkerId;
use rwsgi_wsgi::uwsgi_module::SignalRequest;

use super::target::Target;

/// The longest message (a file monitor's path is at most [`MAX_PATH`] bytes).
pub(crate) const MAX_MESSAGE: usize = 2 + MAX_PATH;
/// The longest file monitor path (uWSGI's limit is 254).
pub(crate) const MAX_PATH: usize = 1024;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Msg {
    /// A `uwsgi.*` request.
    Request(SignalRequest),
    /// `register_signal(sig, target)` in a worker: the master routes `sig` to `target`.
    Register(u8, Target),
}

/// A message the master cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// Shorter than its kind needs, or longer.
    #[error("signal message of {0} bytes has the wrong length")]
    Length(usize),
    /// An unknown kind or target kind.
    #[error("unknown signal message kind {0}")]
    Kind(u8),
    /// A worker id past `--processes`.
    #[error("signal target worker {0} does not exist")]
    Worker(u32),
}

/// Appends `msg` to `out`.
pub(crate) fn encode(msg: &Msg, out: &mut Vec<u8>) {
    match msg {
        Msg::Request(SignalRequest::Raise(sig)) => out.extend_from_slice(&[1, *sig]),
        Msg::Register(sig, target) => {
            let (kind, id) = match target {
                Target::Pool => (0u8, 0u32),
                Target::Worker(w) => (1, w.get() as u32),
                Target::Workers => (2, 0),
                Target::ActiveWorkers => (3, 0),
            };
            out.extend_from_slice(&[2, *sig, kind]);
            out.extend_from_slice(&id.to_le_bytes());
        }
        Msg::Request(SignalRequest::Timer {
            sig,
            millis,
            iterations,
        }) => {
            out.extend_from_slice(&[3, *sig]);
            out.extend_from_slice(&millis.to_le_bytes());
            out.extend_from_slice(&iterations.to_le_bytes());
        }
        Msg::Request(SignalRequest::Cron { sig, spec }) => {
            out.extend_from_slice(&[4, *sig]);
            for v in spec {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Msg::Request(SignalRequest::FileMonitor { sig, path }) => {
            out.extend_from_slice(&[5, *sig]);
            out.extend_from_slice(path.as_os_str().as_bytes());
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Reads one message from a server of `workers` workers.
pub(crate) fn decode(b: &[u8], workers: usize) -> Result<Msg, WireError> {
    let len = |want: usize| {
        if b.len() == want {
            Ok(())
        } else {
            Err(WireError::Length(b.len()))
        }
    };
    let (&kind, &sig) = match b {
        [k, s, ..] => (k, s),
        _ => return Err(WireError::Length(b.len())),
    };
    Ok(match kind {
        1 => {
            len(2)?;
            Msg::Request(SignalRequest::Raise(sig))
        }
        2 => {
            len(7)?;
            let id = u32_at(b, 3);
            let target = match b[2] {
                0 => Target::Pool,
                1 => Target::Worker(
                    WorkerId::new(id as usize)
                        .filter(|w| w.get() <= workers)
                        .ok_or(WireError::Worker(id))?,
                ),
                2 => Target::Workers,
                3 => Target::ActiveWorkers,
                k => return Err(WireError::Kind(k)),
            };
            Msg::Register(sig, target)
        }
        3 => {
            len(10)?;
            Msg::Request(SignalRequest::Timer {
                sig,
                millis: u32_at(b, 2),
                iterations: u32_at(b, 6),
            })
        }
        4 => {
            len(22)?;
            let mut spec = [0i32; 5];
            for (i, v) in spec.iter_mut().enumerate() {
                *v = u32_at(b, 2 + 4 * i) as i32;
            }
            Msg::Request(SignalRequest::Cron { sig, spec })
        }
        5 => {
            if b.len() < 3 || b.len() > MAX_MESSAGE {
                return Err(WireError::Length(b.len()));
            }
            Msg::Request(SignalRequest::FileMonitor {
                sig,
                path: PathBuf::from(OsStr::from_bytes(&b[2..])),
            })
        }
        k => return Err(WireError::Kind(k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(msg: Msg) {
        let mut out = Vec::new();
        encode(&msg, &mut out);
        assert!(out.len() <= MAX_MESSAGE);
        assert_eq!(decode(&out, 4), Ok(msg));
    }

    #[test]
    fn every_message_reads_back() {
        roundtrip(Msg::Request(SignalRequest::Raise(0)));
        roundtrip(Msg::Request(SignalRequest::Raise(255)));
        roundtrip(Msg::Register(7, Target::Pool));
        roundtrip(Msg::Register(7, Target::Worker(WorkerId::new(4).unwrap())));
        roundtrip(Msg::Register(7, Target::Workers));
        roundtrip(Msg::Register(7, Target::ActiveWorkers));
        roundtrip(Msg::Request(SignalRequest::Timer {
            sig: 1,
            millis: 3,
            iterations: 0,
        }));
        roundtrip(Msg::Request(SignalRequest::Timer {
            sig: 1,
            millis: u32::MAX,
            iterations: 9,
        }));
        roundtrip(Msg::Request(SignalRequest::Cron {
            sig: 2,
            spec: [-1, -5, 3, 12, 7],
        }));
        roundtrip(Msg::Request(SignalRequest::FileMonitor {
            sig: 9,
            path: PathBuf::from("/tmp/some file"),
        }));
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert_eq!(decode(&[], 4), Err(WireError::Length(0)));
        assert_eq!(decode(&[1], 4), Err(WireError::Length(1)));
        assert_eq!(decode(&[1, 2, 3], 4), Err(WireError::Length(3)));
        assert_eq!(decode(&[9, 2], 4), Err(WireError::Kind(9)));
        assert_eq!(decode(&[2, 1, 1, 5, 0, 0, 0], 4), Err(WireError::Worker(5)));
        assert_eq!(decode(&[2, 1, 1, 0, 0, 0, 0], 4), Err(WireError::Worker(0)));
        assert_eq!(decode(&[2, 1, 8, 0, 0, 0, 0], 4), Err(WireError::Kind(8)));
        assert_eq!(decode(&[5, 1], 4), Err(WireError::Length(2)));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(msg) = decode(&b, 4) {
                // What decodes encodes back to the same bytes.
                let mut out = Vec::new();
                encode(&msg, &mut out);
                prop_assert_eq!(out, b);
            }
        }
    }
}
