//! Running uWSGI's hooks (`hook-*`, `exec-*`; parsed in `rwsgi_config::hooks`): `asap` and,
//! without `--lazy-apps`, `pre-app` / `post-app` in the master; `accepting` and
//! `accepting1` (and the app phases with `--lazy-apps`) in each worker. Every phase is fatal
//! in uWSGI: the first hook that fails stops the server.

use rwsgi_config::{HookAction, HookPhase, Hooks};

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookError {
    /// An `exec` command could not run or exited non-zero.
    #[error("command \"{command}\" exited with non-zero code: {code}")]
    Exit {
        /// The command.
        command: String,
        /// Its exit code (-1: killed by a signal).
        code: i32,
    },
    /// A file-system action failed.
    #[error("hook \"{hook}\" ({phase}) failed: {source}")]
    Io {
        /// The hook as written.
        hook: String,
        /// Its phase.
        phase: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the hooks of `phase` in order, each logged as uWSGI does; stops at the first failure.
pub(crate) fn run(hooks: &Hooks, phase: HookPhase) -> Result<(), HookError> {
    for hook in hooks.of(phase) {
        eprintln!("running \"{}\" ({})...", hook.written, phase.name());
        let io = |source| HookError::Io {
            hook: hook.written.clone(),
            phase: phase.name(),
            source,
        };
        match &hook.action {
            HookAction::Exec(command) => {
                // std's Command (posix_spawn, or fork+exec with only async-signal-safe calls
                // in the child) runs no Python and none of our code after its fork, so it is
                // safe here without `Master::fork_child`.
                let status = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(command)
                    .status()
                    .map_err(io)?;
                if !status.success() {
                    return Err(HookError::Exit {
                        command: command.clone(),
                        code: status.code().unwrap_or(-1),
                    });
                }
            }
            HookAction::Mkdir(path) => std::fs::create_dir(path).map_err(io)?,
            HookAction::Print(text) => eprintln!("{text}"),
            HookAction::Chdir(path) => std::env::set_current_dir(path).map_err(io)?,
        }
    }
    Ok(())
}
