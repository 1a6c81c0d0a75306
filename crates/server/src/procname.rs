//! `--auto-procname` and `--procname-prefix`: each process names itself after its role.
//!
//! The name set is the kernel's process name (`/proc/PID/comm`, at most 15 bytes), which
//! `top`, `ps -e`, `pgrep` and `pkill` show and match; the command line (`ps aux`) keeps the
//! arguments rwsgi was started with, because a graceful reload re-executes them.

use std::ffi::CString;

/// How processes name themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcName {
    /// `--procname-prefix` (`--procname-prefix-spaced` ends it with a space).
    pub prefix: String,
    /// `--auto-procname`: name each process after its role.
    pub auto: bool,
}

/// What a process does, for its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The master.
    Master,
    /// Worker N (1-based).
    Worker(usize),
    /// The stats pushers' process.
    Pusher,
}

impl ProcName {
    /// The name for `role`, or `None` when neither option is set (the process keeps the name
    /// of its binary, as without them in uWSGI).
    pub(crate) fn for_role(&self, role: Role) -> Option<String> {
        if !self.auto && self.prefix.is_empty() {
            return None;
        }
        let base = match (self.auto, role) {
            (false, _) => "rwsgi".to_string(),
            (true, Role::Master) => "rwsgi master".to_string(),
            (true, Role::Worker(id)) => format!("rwsgi worker {id}"),
            (true, Role::Pusher) => "rwsgi pusher".to_string(),
        };
        Some(format!("{}{base}", self.prefix))
    }

    /// Names the calling process (its main thread) for `role`; a failure is only logged,
    /// since a name is cosmetic.
    pub(crate) fn apply(&self, role: Role) {
        let Some(name) = self.for_role(role) else {
            return;
        };
        // The kernel keeps 15 bytes and a NUL; a NUL inside the name cannot come from an
        // option value that parsed, but is dropped rather than trusted.
        let name: Vec<u8> = name.bytes().filter(|&b| b != 0).take(15).collect();
        let Ok(name) = CString::new(name) else {
            return;
        };
        if let Err(e) = rwsgi_os::process::set_name(&name) {
            eprintln!("cannot set the process name: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_uwsgi_roles_with_the_prefix_first() {
        let none = ProcName::default();
        assert_eq!(none.for_role(Role::Master), None);
        let auto = ProcName {
            prefix: String::new(),
            auto: true,
        };
        assert_eq!(auto.for_role(Role::Master).as_deref(), Some("rwsgi master"));
        assert_eq!(
            auto.for_role(Role::Worker(3)).as_deref(),
            Some("rwsgi worker 3")
        );
        let prefixed = ProcName {
            prefix: "shop ".into(),
            auto: false,
        };
        assert_eq!(
            prefixed.for_role(Role::Worker(1)).as_deref(),
            Some("shop rwsgi")
        );
    }
}
