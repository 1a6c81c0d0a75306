//! Where a uWSGI signal goes: `register_signal`'s target string, parsed (pure).

use rwsgi_stats::WorkerId;

/// A signal's receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `""`, `worker`, `worker0`: the first worker free to take it (one queue every worker
    /// reads).
    Pool,
    /// `workerN`: that worker.
    Worker(WorkerId),
    /// `workers`: every worker, each once.
    Workers,
    /// `active-workers`: every running worker that is not cheaped or stopping.
    ActiveWorkers,
}

/// Why a target cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    /// A uWSGI subsystem rwsgi does not have (spooler, mules, farms, subscriptions).
    #[error("signal target {target:?} needs uWSGI's {subsystem}, which rwsgi does not implement")]
    Unsupported {
        /// The target as given.
        target: String,
        /// What it needs.
        subsystem: &'static str,
    },
    /// `workerN` past `--processes`.
    #[error("invalid signal target {target:?}: there are {workers} workers")]
    NoSuchWorker {
        /// The target as given.
        target: String,
        /// `--processes`.
        workers: usize,
    },
    /// Not a target uWSGI knows.
    #[error("unsupported signal target {0:?}")]
    Unknown(String),
}

/// Parses `target` for a server of `workers` workers.
pub(crate) fn parse(target: &str, workers: usize) -> Result<Target, TargetError> {
    let unsupported = |subsystem| {
        Err(TargetError::Unsupported {
            target: target.to_string(),
            subsystem,
        })
    };
    match target {
        "" | "worker" | "worker0" => return Ok(Target::Pool),
        "workers" => return Ok(Target::Workers),
        "active-workers" => return Ok(Target::ActiveWorkers),
        "spooler" => return unsupported("spooler"),
        "subscribed" => return unsupported("subscription system"),
        "mules" | "farms" => return unsupported("mules"),
        _ => {}
    }
    if let Some(n) = target.strip_prefix("worker") {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return match n.parse::<usize>().ok().and_then(WorkerId::new) {
                Some(wid) if wid.get() <= workers => Ok(Target::Worker(wid)),
                _ => Err(TargetError::NoSuchWorker {
                    target: target.to_string(),
                    workers,
                }),
            };
        }
    }
    if target.starts_with("mule") || target.starts_with("farm") {
        return unsupported("mules");
    }
    Err(TargetError::Unknown(target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: usize) -> WorkerId {
        WorkerId::new(n).unwrap()
    }

    #[test]
    fn uwsgi_targets() {
        assert_eq!(parse("", 4), Ok(Target::Pool));
        assert_eq!(parse("worker", 4), Ok(Target::Pool));
        assert_eq!(parse("worker0", 4), Ok(Target::Pool));
        assert_eq!(parse("worker1", 4), Ok(Target::Worker(w(1))));
        assert_eq!(parse("worker4", 4), Ok(Target::Worker(w(4))));
        assert_eq!(parse("workers", 4), Ok(Target::Workers));
        assert_eq!(parse("active-workers", 4), Ok(Target::ActiveWorkers));
    }

    #[test]
    fn missing_subsystems_and_bad_targets_are_refused_by_name() {
        for (t, what) in [
            ("spooler", "spooler"),
            ("mule", "mules"),
            ("mule2", "mules"),
            ("mules", "mules"),
            ("farm_x", "mules"),
            ("farms", "mules"),
            ("subscribed", "subscription system"),
        ] {
            let e = parse(t, 2).unwrap_err();
            assert!(e.to_string().contains(what), "{t}: {e}");
        }
        assert!(matches!(
            parse("worker5", 4),
            Err(TargetError::NoSuchWorker { .. })
        ));
        assert!(matches!(
            parse("worker99999999999999999999", 4),
            Err(TargetError::NoSuchWorker { .. })
        ));
        assert!(matches!(parse("workerx", 4), Err(TargetError::Unknown(_))));
        assert!(matches!(parse("master", 4), Err(TargetError::Unknown(_))));
    }
}
