//! uWSGI's hooks: `hook-PHASE = action:args` and `exec-PHASE = command`, run at fixed points
//! of start-up (`asap`, `pre-app`, `post-app`) and in each worker (`accepting`, `accepting1`).

use std::path::PathBuf;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPhase {
    /// Right after the configuration is read, before anything else.
    Asap,
    /// Before the apps load (in the master, or in each worker with `--lazy-apps`).
    PreApp,
    /// After the apps loaded.
    PostApp,
    /// In each worker, once it accepts requests.
    Accepting,
    /// In the first worker only, once it accepts requests.
    Accepting1,
}

impl HookPhase {
    /// uWSGI's name of the phase in its log lines.
    pub fn name(self) -> &'static str {
        match self {
            HookPhase::Asap => "asap",
            HookPhase::PreApp => "pre app",
            HookPhase::PostApp => "post app",
            HookPhase::Accepting => "accepting",
            HookPhase::Accepting1 => "accepting1",
        }
    }
}

/// What a hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAction {
    /// `exec:CMD`: run CMD through `/bin/sh -c` and wait; a non-zero exit fails the hook.
    Exec(String),
    /// `mkdir:PATH`: create one directory (failing if it exists, as uWSGI's).
    Mkdir(PathBuf),
    /// `print:TEXT`: a log line.
    Print(String),
    /// `chdir:PATH`: change the working directory.
    Chdir(PathBuf),
}

/// One hook, with its text as written (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// When it runs.
    pub phase: HookPhase,
    /// What it does.
    pub action: HookAction,
    /// `action:args` as written (or the command of an `exec-*` option).
    pub written: String,
}

impl Hook {
    /// `action:args` of a `hook-*` option; an action rwsgi does not run is refused by name.
    pub fn parse(phase: HookPhase, value: &str) -> Result<Hook, String> {
        let value = value.trim();
        let Some((action, args)) = value.split_once(':') else {
            return Err("invalid hook syntax, must be hook:args".into());
        };
        let action = match action.trim() {
            "exec" => HookAction::Exec(args.to_string()),
            "mkdir" => HookAction::Mkdir(PathBuf::from(args)),
            "print" => HookAction::Print(args.to_string()),
            "chdir" => HookAction::Chdir(PathBuf::from(args)),
            other => {
                return Err(format!(
                    "hook action '{other}' is not supported by rwsgi (exec, mkdir, print, chdir)"
                ))
            }
        };
        Ok(Hook {
            phase,
            action,
            written: value.to_string(),
        })
    }

    /// The command of an `exec-*` option.
    pub fn exec(phase: HookPhase, command: &str) -> Hook {
        Hook {
            phase,
            action: HookAction::Exec(command.trim().to_string()),
            written: command.trim().to_string(),
        }
    }
}

/// Every hook, `hook-*` and `exec-*` apart: in each phase uWSGI runs the first, then the second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// `hook-*`.
    pub hooks: Vec<Hook>,
    /// `exec-*`.
    pub execs: Vec<Hook>,
}

impl Hooks {
    /// The hooks of `phase` in the order they run.
    pub fn of(&self, phase: HookPhase) -> impl Iterator<Item = &Hook> {
        self.hooks
            .iter()
            .chain(&self.execs)
            .filter(move |h| h.phase == phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_parse_the_four_actions_and_refuse_others_by_name() {
        let h = Hook::parse(HookPhase::Asap, "mkdir:/tmp/x:y").expect("valid");
        assert_eq!(h.action, HookAction::Mkdir(PathBuf::from("/tmp/x:y")));
        assert_eq!(
            Hook::parse(HookPhase::Asap, "exec:echo hi").map(|h| h.action),
            Ok(HookAction::Exec("echo hi".into()))
        );
        assert!(matches!(
            Hook::parse(HookPhase::Asap, "print:hello").map(|h| h.action),
            Ok(HookAction::Print(t)) if t == "hello"
        ));
        let e = Hook::parse(HookPhase::Asap, "mount:proc none /proc").expect_err("refused");
        assert!(e.contains("'mount'"), "{e}");
        assert!(Hook::parse(HookPhase::Asap, "no colon").is_err());
    }

    #[test]
    fn a_phase_runs_hook_options_before_exec_options() {
        let hooks = Hooks {
            hooks: vec![
                Hook::parse(HookPhase::PreApp, "print:a").expect("valid"),
                Hook::parse(HookPhase::PostApp, "print:b").expect("valid"),
            ],
            execs: vec![Hook::exec(HookPhase::PreApp, "true")],
        };
        let pre: Vec<&str> = hooks
            .of(HookPhase::PreApp)
            .map(|h| h.written.as_str())
            .collect();
        assert_eq!(pre, ["print:a", "true"]);
    }
}
