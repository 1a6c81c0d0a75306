//! uWSGI-compatible configuration for rwsgi.
//!
//! Users' existing uWSGI command lines, ini files and `UWSGI_*` environment
//! variables are accepted unchanged (for the options rwsgi supports; anything
//! else is a clear error naming the option and where it came from).
//!
//! * [`parse_args`] / [`parse_args_and_env`] turn a command line into a
//!   [`Command`] (usually [`Command::Serve`] with a validated [`Config`]).
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
//! This crate does no I/O of its own: ini files are read through the
//! injected `read_file` function and environment variables through `env`.

#![warn(missing_docs)]

pub mod addr;
mod config;
mod defs;
mod error;
pub mod forwarded;
pub mod options;
mod parse;

pub use addr::{Addr, AddrError};
pub use config::{
    flag_value, is_builtin_plugin, normalize_plugin, FileServeMode, Mount, Protocol, SignalAction,
    SignalHook, SocketSpec, StaticMap, BUILTIN_PLUGINS,
};
pub use defs::Config;
pub use error::{ConfigError, Origin};
pub use forwarded::TrustedPeers;
pub use parse::{
    options_from_env, parse_args, parse_args_and_env, Command, EnvOption, MAX_INI_DEPTH,
};

#[cfg(test)]
mod tests;
