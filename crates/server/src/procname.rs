//! Process titles: `--auto-procname`, `--procname`, `--procname-master`, `--procname-prefix`,
//! `--procname-prefix-spaced` and `--procname-append`, with uWSGI's semantics: any of them
//! turns titles on; the master is `--procname-master`, else `--procname`, else `rwsgi master`;
//! a worker is `--procname`, else `rwsgi worker N`; every title is prefix + name + suffix.
//!
//! A title goes where uWSGI puts it, the command line (`/proc/PID/cmdline`: `ps aux`,
//! `top -c`, `pgrep -f`), cut to the length of the original command line; it is also the
//! kernel's process name (`/proc/PID/comm`, its first 15 bytes: `ps -e`, `top`, `pgrep`),
//! which uWSGI leaves as its binary's name. The command line's memory holds the strings
//! `std::env::args` reads, so the arguments are saved first ([`original_args`]): a graceful
//! reload re-executes them.

use std::ffi::OsString;
use std::sync::OnceLock;

static ORIGINAL_ARGS: OnceLock<Vec<OsString>> = OnceLock::new();

/// The arguments this process was started with (binary first), read once before any title
/// replaced them: `main` calls this first thing.
pub(crate) fn original_args() -> &'static [OsString] {
    ORIGINAL_ARGS.get_or_init(|| std::env::args_os().collect())
}

/// How processes name themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcName {
    /// `--procname-prefix` (`--procname-prefix-spaced` ends it with a space).
    pub prefix: String,
    /// `--procname-append`.
    pub append: String,
    /// `--procname`: every process's name instead of its role's.
    pub name: Option<String>,
    /// `--procname-master`: the master's.
    pub master: Option<String>,
    /// `--auto-procname`, or any option above (uWSGI's `UWSGI_OPT_PROCNAME` implies it).
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
    /// From the options (any of them turns titles on).
    pub(crate) fn from_config(config: &rwsgi_config::Config) -> ProcName {
        let prefix = config.procname_prefix.clone().unwrap_or_default();
        let append = config.procname_append.clone().unwrap_or_default();
        let auto = config.auto_procname
            || config.procname_prefix.is_some()
            || config.procname_append.is_some()
            || config.procname.is_some()
            || config.procname_master.is_some();
        ProcName {
            prefix,
            append,
            name: config.procname.clone(),
            master: config.procname_master.clone(),
            auto,
        }
    }

    /// The title for `role`, or `None` when no option is set (the process keeps its command
    /// line and the name of its binary, as without them in uWSGI).
    pub(crate) fn for_role(&self, role: Role) -> Option<String> {
        if !self.auto {
            return None;
        }
        let base = match (role, &self.name) {
            (Role::Master, _) if self.master.is_some() => self.master.clone().unwrap_or_default(),
            (_, Some(name)) => name.clone(),
            (Role::Master, None) => "rwsgi master".to_string(),
            (Role::Worker(id), None) => format!("rwsgi worker {id}"),
            (Role::Pusher, None) => "rwsgi pusher".to_string(),
        };
        Some(format!("{}{base}{}", self.prefix, self.append))
    }

    /// Titles the calling process (its main thread) for `role`; a failure is only logged,
    /// since a title is cosmetic.
    pub(crate) fn apply(&self, role: Role) {
        let Some(title) = self.for_role(role) else {
            return;
        };
        original_args();
        if let Err(e) = rwsgi_os::process::set_title(&title) {
            eprintln!("cannot set the process title: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: impl FnOnce(&mut rwsgi_config::Config)) -> ProcName {
        let mut c = rwsgi_config::Config::default();
        f(&mut c);
        ProcName::from_config(&c)
    }

    #[test]
    fn names_follow_uwsgi_roles_with_the_prefix_first_and_the_suffix_last() {
        let none = names(|_| {});
        assert_eq!(none.for_role(Role::Master), None);
        assert_eq!(none.for_role(Role::Worker(1)), None);
        let auto = names(|c| c.auto_procname = true);
        assert_eq!(auto.for_role(Role::Master).as_deref(), Some("rwsgi master"));
        assert_eq!(
            auto.for_role(Role::Worker(3)).as_deref(),
            Some("rwsgi worker 3")
        );
        // A prefix alone implies --auto-procname, as in uWSGI.
        let prefixed = names(|c| {
            c.procname_prefix = Some("shop ".into());
            c.procname_append = Some(" [eu]".into());
        });
        assert_eq!(
            prefixed.for_role(Role::Worker(1)).as_deref(),
            Some("shop rwsgi worker 1 [eu]")
        );
        assert_eq!(
            prefixed.for_role(Role::Master).as_deref(),
            Some("shop rwsgi master [eu]")
        );
    }

    #[test]
    fn procname_names_every_process_and_procname_master_the_master() {
        let named = names(|c| c.procname = Some("shop".into()));
        assert_eq!(named.for_role(Role::Master).as_deref(), Some("shop"));
        assert_eq!(named.for_role(Role::Worker(2)).as_deref(), Some("shop"));
        let both = names(|c| {
            c.procname = Some("shop".into());
            c.procname_master = Some("shop-master".into());
        });
        assert_eq!(both.for_role(Role::Master).as_deref(), Some("shop-master"));
        assert_eq!(both.for_role(Role::Worker(1)).as_deref(), Some("shop"));
        let master_only = names(|c| c.procname_master = Some("boss".into()));
        assert_eq!(master_only.for_role(Role::Master).as_deref(), Some("boss"));
        assert_eq!(
            master_only.for_role(Role::Worker(1)).as_deref(),
            Some("rwsgi worker 1")
        );
    }
}
