//! uWSGI-compatible configuration for rwsgi.
//!
//! Users' existing uWSGI command lines, ini files and `UWSGI_*` environment
//! variables are accepted unchanged (for the options rwsgi supports; an unknown
//! command-line option is a clear error naming it, an unknown ini key is a
//! placeholder as in uWSGI, reported as a [`Warning`] when nothing uses it).
//!
//! * [`parse`] turns a command line into a [`Parsed`]: a [`Command`] (usually
//!   [`Command::Serve`] with a validated [`Config`]) and start-up warnings;
//!   [`parse_args`] / [`parse_args_and_env`] do the same with closures for the
//!   environment and files only.
//! * [`options::OPTIONS`] is the single declarative option table used by the
//!   command-line parser, the ini loader, the environment reader and
//!   `--help` ([`options::help_text`]). It, the [`Opt`](options::Opt) enum, the
//!   [`Config`] fields with their defaults and the code that applies each option
//!   are generated from one list in `defs.rs`: an option is added in one place.
//! * [`addr::Addr`] parses uWSGI socket addresses.
//!
//! Options accepted only for compatibility (rwsgi always behaves that way) are
//! marked `noop` in the table and listed by [`options::noop_options`].
//!
//! This crate does no I/O of its own: everything the config language reads from the
//! machine (ini files, the environment, `@(exec://...)`, the CPU count, the host name...)
//! comes through an injected [`Host`]; [`parse`] takes one and also returns start-up
//! [`Warning`]s.

#![warn(missing_docs)]

pub mod addr;
mod config;
mod cron;
mod daemon;
mod defs;
mod error;
mod expr;
mod formats;
pub mod forwarded;
mod hooks;
mod host;
mod logic;
mod magic;
pub mod options;
mod parse;
pub mod pcre;
pub mod routing;

pub use addr::{Addr, AddrError};
pub use config::{
    flag_value, is_builtin_plugin, normalize_plugin, CheaperAlgo, ExportedOptions, FileServeMode,
    Mount, Protocol, SignalAction, SignalHook, SocketSpec, StaticMap, StatsVars, BUILTIN_PLUGINS,
};
pub use cron::{CronSpec, CronTask};
pub use daemon::DaemonSpec;
pub use defs::Config;
pub use error::{ConfigError, Origin, Warning};
pub use forwarded::TrustedPeers;
pub use hooks::{Hook, HookAction, HookPhase, Hooks};
pub use host::{Host, HostFacts, PathKind};
pub use parse::{
    options_from_env, parse, parse_args, parse_args_and_env, Command, EnvOption, Parsed,
    MAX_INI_DEPTH,
};
pub use routing::{Route, RouteAction, RouteOption, Subject};

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod http_router_tests;
#[cfg(test)]
mod lang_tests;
#[cfg(test)]
mod tests;
