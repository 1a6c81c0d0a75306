//! Gathering options from the command line, `UWSGI_*` environment variables
//! and ini files, then resolving references and building [`Config`].
//!
//! Processing follows uWSGI (`core/uwsgi.c` `uwsgi_setup`, `core/config.c`):
//! 1. `UWSGI_*` environment variables first, then the command line, in order.
//!    `ini` (and `set`, `help`, `version`, `connect-and-read`) are *immediate*:
//!    an ini file's options are inserted exactly where the `ini` option appears.
//!    Ini values get their `%x` magic variables ([`crate::magic`]) as they are read,
//!    and every occurrence goes through the config logic ([`crate::logic`]).
//! 2. Then, over every gathered value, in three passes: `$(VAR)` environment
//!    references, `@(file)` / `@(exec://cmd)` includes, and `%(name)` placeholders
//!    with their arithmetic ([`crate::expr`]; the first occurrence of a name wins,
//!    forward references work, unresolvable ones are left untouched).
//! 3. Options are applied in order (single-value options: last wins;
//!    repeatable ones accumulate), then the result is validated. An ini key that is
//!    no option is a placeholder; one that nothing references is reported as a
//!    [`Warning`] (with the option it probably meant), or refused under `strict`.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::ExportedOptions;
use crate::config::{flag_value, is_flag_word, Occurrence, NOT_A_NUMBER};
use crate::defs::Config;
use crate::error::{ConfigError, Origin, Warning};
use crate::expr;
use crate::formats::{self, Format};
use crate::host::{ClosureHost, Host, HostFacts, PathKind};
use crate::logic::{self, Block, Cond, Keyword};
use crate::magic::{FileMagic, Magic};
use crate::options::{self, lookup, lookup_short, normalize, Opt, OptKind, OptionSpec, OPTIONS};

/// What the command line asks for.
#[allow(clippy::large_enum_variant)] // built once per process
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server.
    Serve(Config),
    /// `--connect-and-read ADDR`: connect, print what the peer sends, exit.
    ConnectAndRead(String),
    /// `--help`: print this text and exit.
    Help(String),
    /// `--version`: print the version and exit.
    Version,
}

/// A parsed command line and what start-up should report about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What to do.
    pub command: Command,
    /// Problems that do not stop start-up (uWSGI starts in these cases too).
    pub warnings: Vec<Warning>,
}

/// Nesting limit for `ini` files including each other.
pub const MAX_INI_DEPTH: usize = 16;

/// Nesting limit for placeholders referring to placeholders.
const MAX_PLACEHOLDER_DEPTH: usize = 8;

/// `UWSGI_*` variables that uWSGI uses internally and never treats as options.
const INTERNAL_ENV: &[&str] = &[
    "RELOADS",
    "VASSALS_DIR",
    "EMPEROR_FD",
    "BROODLORD_NUM",
    "EMPEROR_FD_CONFIG",
    "EMPEROR_PROXY",
    "JAIL_PID",
    "ORIGINAL_PROC_NAME",
];

/// An option set through the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOption {
    /// Full variable name, e.g. `UWSGI_SOCKET`.
    pub var: String,
    /// Option name derived from it, e.g. `socket` (`UWSGI_BUFFER_SIZE` →
    /// `buffer-size`).
    pub option: String,
    /// The variable's value.
    pub value: String,
}

/// Pick the `UWSGI_*` variables out of an environment, the way uWSGI does:
/// strip the prefix, lowercase, `_` → `-`; uWSGI's internal variables
/// (`UWSGI_RELOADS`, `UWSGI_ORIGINAL_PROC_NAME`, ...) are skipped.
pub fn options_from_env<V>(vars: V) -> Vec<EnvOption>
where
    V: IntoIterator<Item = (String, String)>,
{
    vars.into_iter()
        .filter_map(|(var, value)| {
            let rest = var.strip_prefix("UWSGI_")?;
            if rest.is_empty() || INTERNAL_ENV.contains(&rest) {
                return None;
            }
            let option = rest.to_ascii_lowercase().replace('_', "-");
            Some(EnvOption { var, option, value })
        })
        .collect()
}

/// Parse a uWSGI-style command line (without the program name) into a
/// [`Command`].
///
/// * `env` looks up environment variables for `$(VAR)` in ini files.
/// * `read_file` reads ini files (the binary passes `std::fs::read_to_string`).
///
/// Relative ini paths are relative to the current directory (as in uWSGI);
/// `%d`/`%p` use `std::env::current_dir()` to make them absolute.
/// As a convenience, if the first argument's file name is exactly `rwsgi`
/// or `uwsgi` it is taken to be the program name and skipped.
/// Nothing else of the machine is visible (see [`parse`] for that).
pub fn parse_args<I: IntoIterator<Item = String>>(
    args: I,
    env: impl Fn(&str) -> Option<String>,
    read_file: impl Fn(&Path) -> io::Result<String>,
) -> Result<Command, ConfigError> {
    parse_args_and_env(args, std::iter::empty(), env, read_file)
}

/// Like [`parse_args`], but first applies `UWSGI_*` options found in
/// `env_vars` (e.g. `std::env::vars()`), as uWSGI does before reading its
/// command line. Unknown `UWSGI_*` variables are ignored (usable as
/// `%(placeholders)`), unless `strict` is set, in which case they are errors.
pub fn parse_args_and_env<I, V>(
    args: I,
    env_vars: V,
    env: impl Fn(&str) -> Option<String>,
    read_file: impl Fn(&Path) -> io::Result<String>,
) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = String>,
    V: IntoIterator<Item = (String, String)>,
{
    let host = ClosureHost {
        env: &env,
        read_file: &read_file,
        facts: HostFacts {
            cwd: std::env::current_dir().unwrap_or_default(),
            ..HostFacts::default()
        },
    };
    parse(args, env_vars, &host).map(|p| p.command)
}

/// Parse a command line, after the `UWSGI_*` options in `env_vars`, with everything the
/// configuration language reads from the machine (environment, files, commands, CPU count,
/// host name, user...) coming from `host`.
pub fn parse<I, V>(args: I, env_vars: V, host: &dyn Host) -> Result<Parsed, ConfigError>
where
    I: IntoIterator<Item = String>,
    V: IntoIterator<Item = (String, String)>,
{
    let mut p = Parser {
        entries: Vec::new(),
        host,
        last_ini: None,
        depth: 0,
        referenced: HashSet::new(),
        first_magic: None,
        open: None,
        opened_at: None,
        if_failed: false,
        in_block: false,
        warnings: Vec::new(),
    };
    let args: Vec<String> = args.into_iter().collect();
    let gathered = p.gather_env(env_vars).and_then(|()| p.gather_cli(&args));
    match gathered {
        Ok(()) => {}
        Err(Flow::Stop(cmd)) => {
            return Ok(Parsed {
                command: *cmd,
                warnings: p.warnings,
            })
        }
        Err(Flow::Error(e)) => return Err(e),
    }
    if let Some((option, origin)) = p.opened_at.take() {
        // uWSGI says nothing; the lines after it were conditional all the way down
        p.warnings.push(Warning {
            origin,
            message: format!(
                "'{option}' is never closed (endif / endfor): it covers every option after it"
            ),
        });
    }
    let (config, warnings) = p.build()?;
    Ok(Parsed {
        command: Command::Serve(config),
        warnings,
    })
}

/// Early exit from gathering.
enum Flow {
    Stop(Box<Command>),
    Error(ConfigError),
}

impl From<ConfigError> for Flow {
    fn from(e: ConfigError) -> Self {
        Flow::Error(e)
    }
}

type Step = Result<(), Flow>;

/// An open config-logic block.
#[derive(Clone)]
enum Open {
    /// `if-*` or `for*`.
    Block(Block),
    /// `else`: its lines apply when the last `if-*` failed.
    Else,
}

/// One gathered option occurrence.
struct Entry {
    /// Canonical name for known options, normalized name otherwise.
    key: String,
    /// The name as written.
    written: String,
    spec: Option<&'static OptionSpec>,
    value: Option<String>,
    origin: Origin,
    /// Defined via `set-placeholder` / `set` (never an "unknown option").
    placeholder: bool,
}

struct Parser<'a> {
    entries: Vec<Entry>,
    host: &'a dyn Host,
    last_ini: Option<String>,
    depth: usize,
    referenced: HashSet<String>,
    /// The first config file's magic table (the upper-case `%X` letters).
    first_magic: Option<FileMagic>,
    /// The open config-logic block.
    open: Option<Open>,
    /// Its option as written and where, for the warning when nothing closes it.
    opened_at: Option<(String, Origin)>,
    /// Whether the last `if-*` condition failed (for `else`).
    if_failed: bool,
    /// Applying a block's line: what it adds bypasses the logic (as uWSGI's
    /// `logic_opt_running`).
    in_block: bool,
    warnings: Vec<Warning>,
}

fn canonical_key(name: &str) -> String {
    lookup(name).map_or_else(|| normalize(name), |s| s.name.to_string())
}

/// Split `file.ini:section` (the part after the last `:` is a section only
/// if it contains no `/`).
fn split_section(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once(':') {
        Some((file, section)) if !section.contains('/') => {
            (file, Some(section).filter(|s| !s.is_empty()))
        }
        _ => (spec, None),
    }
}

/// `$(VAR)`, `$(VAR:-DEFAULT)` (unset or empty: DEFAULT), `$(VAR-DEFAULT)` (unset: DEFAULT);
/// an unset variable without a default is empty.
fn env_reference(host: &dyn Host, inner: &str) -> String {
    if let Some((name, default)) = inner.split_once(":-") {
        return host
            .env(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string());
    }
    if let Some((name, default)) = inner.split_once('-') {
        return host.env(name).unwrap_or_else(|| default.to_string());
    }
    host.env(inner).unwrap_or_default()
}

/// `@(path)`, `@(file://path)` (a file's text) or `@(exec://command)` (its output), without
/// one trailing newline, as uWSGI's `uwsgi_at_file_read`.
fn include(host: &dyn Host, reference: &str, origin: &Origin) -> Result<String, ConfigError> {
    let read = |r: io::Result<String>| {
        r.map_err(|source| ConfigError::Include {
            reference: reference.to_string(),
            origin: origin.clone(),
            source,
        })
    };
    let mut text = if let Some(command) = reference.strip_prefix("exec://") {
        read(host.exec(command))?
    } else if let Some(path) = reference.strip_prefix("file://") {
        read(host.read_file(Path::new(path)))?
    } else if reference.contains("://") {
        return Err(ConfigError::IncludeScheme {
            reference: reference.to_string(),
            origin: origin.clone(),
        });
    } else {
        read(host.read_file(Path::new(reference)))?
    };
    if text.ends_with('\n') || text.ends_with('\r') {
        text.pop();
    }
    Ok(text)
}

/// The option (name or alias) closest to an unknown `name`, when it is close enough to be a
/// typo (`vaccum` → `vacuum`).
fn suggestion(name: &str) -> Option<&'static str> {
    let name = normalize(name);
    let limit = if name.len() <= 5 { 1 } else { 2 };
    OPTIONS
        .iter()
        .flat_map(|s| std::iter::once(&s.name).chain(s.aliases))
        .map(|candidate| (strsim::osa_distance(&name, candidate), *candidate))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// A flag whose value looks false but reads as true, because uWSGI (and so rwsgi) reads any
/// value other than exactly false/off/no/0 as true: `vacuum = false ; comment`.
fn misleading_flag(value: &str) -> bool {
    let v = value.trim();
    let first = v.split([' ', '\t', ';', '#']).next().unwrap_or_default();
    first.len() < v.len()
        && ["false", "off", "no", "0"]
            .iter()
            .any(|f| first.eq_ignore_ascii_case(f))
}

impl Parser<'_> {
    fn gather_env<V: IntoIterator<Item = (String, String)>>(&mut self, vars: V) -> Step {
        for e in options_from_env(vars) {
            self.add(
                &e.option,
                lookup(&e.option),
                Some(e.value),
                Origin::Env(e.var),
            )?;
        }
        Ok(())
    }

    fn gather_cli(&mut self, args: &[String]) -> Step {
        let mut args = args;
        if let Some(first) = args.first() {
            let base = Path::new(first).file_name().and_then(|f| f.to_str());
            if matches!(base, Some("rwsgi" | "uwsgi")) {
                args = &args[1..];
            }
        }
        let mut i = 0;
        let mut only_positional = false;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if only_positional || arg == "-" || !arg.starts_with('-') {
                self.positional(arg)?;
                continue;
            }
            if arg == "--" {
                only_positional = true;
                continue;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let spec = lookup(name).ok_or_else(|| ConfigError::UnknownOption {
                    name: name.to_string(),
                    origin: Origin::CommandLine,
                })?;
                let value = match spec.kind {
                    OptKind::Flag => inline,
                    OptKind::OptionalValue => inline.or_else(|| {
                        // `--chmod-socket 660`: take a following octal mode
                        let next = args.get(i)?;
                        if !next.is_empty() && next.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                            i += 1;
                            Some(next.clone())
                        } else {
                            None
                        }
                    }),
                    OptKind::Value | OptKind::Multi => match inline {
                        Some(v) => Some(v),
                        None => {
                            let v =
                                args.get(i)
                                    .cloned()
                                    .ok_or_else(|| ConfigError::MissingValue {
                                        option: name.to_string(),
                                        origin: Origin::CommandLine,
                                    })?;
                            i += 1;
                            Some(v)
                        }
                    },
                };
                self.add(name, Some(spec), value, Origin::CommandLine)?;
                continue;
            }
            // getopt-style short options, possibly clustered: -M -p4 -Mp 4
            let cluster: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < cluster.len() {
                let c = cluster[j];
                j += 1;
                let written = format!("-{c}");
                let spec = lookup_short(c).ok_or_else(|| ConfigError::UnknownOption {
                    name: written.clone(),
                    origin: Origin::CommandLine,
                })?;
                let rest: String = cluster[j..].iter().collect();
                let value = match spec.kind {
                    OptKind::Flag => None,
                    OptKind::OptionalValue => {
                        j = cluster.len();
                        Some(rest).filter(|r| !r.is_empty())
                    }
                    OptKind::Value | OptKind::Multi => {
                        j = cluster.len();
                        if !rest.is_empty() {
                            Some(rest)
                        } else {
                            let v =
                                args.get(i)
                                    .cloned()
                                    .ok_or_else(|| ConfigError::MissingValue {
                                        option: written.clone(),
                                        origin: Origin::CommandLine,
                                    })?;
                            i += 1;
                            Some(v)
                        }
                    }
                };
                self.add(&written, Some(spec), value, Origin::CommandLine)?;
            }
        }
        Ok(())
    }

    /// Bare arguments: `app.ini[:section]` (or `.yaml`, `.yml`, `.json`) loads a config file, `app.py` /
    /// `app.wsgi` sets `wsgi-file` (as uWSGI's python plugin does).
    fn positional(&mut self, arg: &str) -> Step {
        let (file, _) = split_section(arg);
        if let Some(format) = Format::of_file(file) {
            self.load_file(arg, &Origin::CommandLine, format)
        } else if arg.ends_with(".py") || arg.ends_with(".wsgi") {
            let spec = lookup("wsgi-file").expect("in table");
            self.push_known(
                spec,
                "wsgi-file",
                Some(arg.to_string()),
                Origin::CommandLine,
            )
        } else {
            Err(ConfigError::UnexpectedArgument(arg.to_string()).into())
        }
    }

    /// Every option occurrence comes through here (uWSGI's `add_exported_option`): the config
    /// logic decides whether (and how many times, with which `%(_)`) it is gathered.
    fn add(
        &mut self,
        written: &str,
        spec: Option<&'static OptionSpec>,
        value: Option<String>,
        origin: Origin,
    ) -> Step {
        let keyword = spec.and_then(|s| Keyword::of(s.opt));
        if !self.in_block {
            match keyword {
                Some(Keyword::End) => {
                    self.open = None;
                    self.opened_at = None;
                    self.if_failed = false;
                    return Ok(());
                }
                Some(Keyword::Else) => {
                    // like uWSGI: `else` replaces the block, keeping whether the `if` failed
                    self.open = Some(Open::Else);
                    self.opened_at = Some((written.to_string(), origin));
                    return Ok(());
                }
                _ => {}
            }
            if let Some(open) = self.open.clone() {
                if keyword.is_some() {
                    return Err(ConfigError::NestedLogic {
                        option: written.to_string(),
                        origin,
                    }
                    .into());
                }
                let values = self.block_values(&open, value.as_deref(), &origin)?;
                self.in_block = true;
                let mut result = Ok(());
                for v in values {
                    result = self.add(written, spec, v, origin.clone());
                    if result.is_err() {
                        break;
                    }
                }
                self.in_block = false;
                return result;
            }
        }
        match keyword {
            Some(Keyword::Open(cond)) if !self.in_block => {
                let arg = self.required(written, value.as_deref(), &origin)?;
                let arg = self.expand_now(&arg, &origin)?;
                let block = Block { cond, arg };
                // checked once up front too: `else` needs it even for an empty block, and a
                // `for-readline` file that cannot be read is reported at its own line
                self.if_failed = self.lines_of(&block, None, &origin)?.is_empty();
                self.open = Some(Open::Block(block));
                self.opened_at = Some((written.to_string(), origin));
                return Ok(());
            }
            Some(Keyword::End) => return Ok(()),
            Some(_) => {
                return Err(ConfigError::NestedLogic {
                    option: written.to_string(),
                    origin,
                }
                .into())
            }
            None => {}
        }
        if let Some(spec) = spec {
            return self.push_known(spec, written, value, origin);
        }
        if origin == Origin::CommandLine {
            return Err(ConfigError::UnknownOption {
                name: written.to_string(),
                origin,
            }
            .into());
        }
        let key = normalize(written);
        if let Some((_, reason)) = logic::UNSUPPORTED.iter().find(|(n, _)| *n == key) {
            return Err(ConfigError::UnsupportedLogic {
                option: written.to_string(),
                reason,
                origin,
            }
            .into());
        }
        self.entries.push(Entry {
            key,
            written: written.to_string(),
            spec: None,
            value,
            origin,
            placeholder: false,
        });
        Ok(())
    }

    fn required(
        &self,
        written: &str,
        value: Option<&str>,
        origin: &Origin,
    ) -> Result<String, ConfigError> {
        match value.map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(ConfigError::MissingValue {
                option: written.to_string(),
                origin: origin.clone(),
            }),
        }
    }

    /// The values a line inside the open block is gathered with (none, one, or one per item).
    fn block_values(
        &mut self,
        open: &Open,
        value: Option<&str>,
        origin: &Origin,
    ) -> Result<Vec<Option<String>>, ConfigError> {
        let block = match open {
            Open::Else if self.if_failed => return Ok(vec![value.map(str::to_string)]),
            Open::Else => return Ok(Vec::new()),
            Open::Block(block) => block,
        };
        let values = self.lines_of(block, value, origin)?;
        if !matches!(
            block.cond,
            Cond::For | Cond::ForGlob | Cond::ForReadline | Cond::ForTimes
        ) {
            self.if_failed = values.is_empty();
        }
        Ok(values)
    }

    /// `value` once per item of a `for*` block, or once (or not at all) for an `if-*` one,
    /// with `%(_)` replaced.
    fn lines_of(
        &mut self,
        block: &Block,
        value: Option<&str>,
        origin: &Origin,
    ) -> Result<Vec<Option<String>>, ConfigError> {
        let items = match block.cond {
            Cond::For => logic::for_items(&block.arg),
            Cond::ForTimes => logic::times_items(&block.arg),
            Cond::ForGlob => self.host.glob(&block.arg),
            Cond::ForReadline => self.read_lines(&block.arg, origin)?,
            _ => {
                let mut facts = GatheredFacts { parser: self };
                return Ok(match logic::check(block, &mut facts) {
                    Some(data) => vec![logic::substitute(value, data.as_deref())],
                    None => Vec::new(),
                });
            }
        };
        Ok(items
            .iter()
            .map(|item| logic::substitute(value, Some(item)))
            .collect())
    }

    /// The lines of a `for-readline` file (without line ends, empty ones included).
    fn read_lines(&self, path: &str, origin: &Origin) -> Result<Vec<String>, ConfigError> {
        let text = self
            .host
            .read_file(Path::new(path))
            .map_err(|source| ConfigError::Include {
                reference: path.to_string(),
                origin: origin.clone(),
                source,
            })?;
        Ok(text.lines().map(str::to_string).collect())
    }

    /// The first gathered value of option or placeholder `name` (under any of its spellings),
    /// marking it as used.
    fn gathered(&mut self, name: &str) -> Option<String> {
        let key = canonical_key(name.trim());
        let found = self
            .entries
            .iter()
            .find(|e| e.key == key && e.value.is_some())
            .and_then(|e| e.value.clone())?;
        self.referenced.insert(key);
        Some(found)
    }

    /// Resolves a value that is used while gathering (`ini`, `set`, logic arguments):
    /// `$(VAR)`, `@(...)` and `%(name)` against what was gathered so far.
    fn expand_now(&mut self, value: &str, origin: &Origin) -> Result<String, ConfigError> {
        let v = self.env_pass(value);
        let v = self.include_pass(&v, origin)?;
        Ok(self.resolve(&v, 0))
    }

    fn env_pass(&self, value: &str) -> String {
        let host = self.host;
        let r: Result<String, std::convert::Infallible> =
            expr::substitute(value, '$', |inner| Ok(Some(env_reference(host, inner))));
        r.unwrap_or_else(|never| match never {})
    }

    fn include_pass(&self, value: &str, origin: &Origin) -> Result<String, ConfigError> {
        let host = self.host;
        expr::substitute(value, '@', |inner| include(host, inner, origin).map(Some))
    }

    fn push_known(
        &mut self,
        spec: &'static OptionSpec,
        written: &str,
        value: Option<String>,
        origin: Origin,
    ) -> Step {
        if let Some(reason) = spec.refused {
            return Err(ConfigError::Refused {
                option: written.to_string(),
                reason,
                origin,
            }
            .into());
        }
        match spec.opt {
            Opt::Help if flag_value(value.as_deref()) => {
                return Err(Flow::Stop(Box::new(Command::Help(options::help_text()))))
            }
            Opt::Version if flag_value(value.as_deref()) => {
                return Err(Flow::Stop(Box::new(Command::Version)))
            }
            Opt::ConnectAndRead => {
                let v = self.required(written, value.as_deref(), &origin)?;
                let v = self.expand_now(&v, &origin)?;
                return Err(Flow::Stop(Box::new(Command::ConnectAndRead(v))));
            }
            Opt::Set | Opt::SetPlaceholder => {
                let v = self.required(written, value.as_deref(), &origin)?;
                let v = self.expand_now(&v, &origin)?;
                let Some((name, val)) = v.split_once('=') else {
                    return Err(ConfigError::InvalidValue {
                        option: written.to_string(),
                        value: v.clone(),
                        reason: "expected NAME=VALUE".into(),
                        origin,
                    }
                    .into());
                };
                let (name, val) = (name.trim(), val.trim().to_string());
                if spec.opt == Opt::Set {
                    if let Some(target) = lookup(name) {
                        return self.push_known(target, name, Some(val), origin);
                    }
                }
                self.entries.push(Entry {
                    key: canonical_key(name),
                    written: name.to_string(),
                    spec: None,
                    value: Some(val),
                    origin,
                    placeholder: true,
                });
                return Ok(());
            }
            Opt::Ini | Opt::Yaml | Opt::Json => {
                let format = match spec.opt {
                    Opt::Yaml => Format::Yaml,
                    Opt::Json => Format::Json,
                    _ => Format::Ini,
                };
                let v = self.required(written, value.as_deref(), &origin)?;
                let v = self.expand_now(&v, &origin)?;
                self.entries.push(Entry {
                    key: spec.name.to_string(),
                    written: written.to_string(),
                    spec: Some(spec),
                    value: Some(v.clone()),
                    origin: origin.clone(),
                    placeholder: false,
                });
                return self.load_file(&v, &origin, format);
            }
            Opt::IniPaste | Opt::IniPasteLogged => {
                let v = self.required(written, value.as_deref(), &origin)?;
                let v = self.expand_now(&v, &origin)?;
                return self.ini_paste(&v, spec.opt == Opt::IniPasteLogged, origin);
            }
            _ => {}
        }
        self.entries.push(Entry {
            key: spec.name.to_string(),
            written: written.to_string(),
            spec: Some(spec),
            value,
            origin,
            placeholder: false,
        });
        Ok(())
    }

    /// `--ini-paste FILE` / `--ini-paste-logged FILE` (uWSGI's python plugin): the file's
    /// `[uwsgi]` section, then `paste = config:FILE` with FILE made absolute from the current
    /// directory (and `paste-logger` for the logged form), so they win over the section's.
    fn ini_paste(&mut self, spec: &str, logged: bool, origin: Origin) -> Step {
        match self.load_file(spec, &origin, Format::Ini) {
            // uWSGI warns and goes on: the file still holds the app (the sockets may come
            // from the command line).
            Err(Flow::Error(e @ ConfigError::SectionNotFound { .. })) => {
                self.warnings.push(Warning {
                    origin: origin.clone(),
                    message: format!("{e}: only the app is loaded from it"),
                });
            }
            other => other?,
        }
        let file = self.last_ini.clone().unwrap_or_else(|| spec.to_string());
        let path = self.host.facts().cwd.join(&file);
        let mut derived = vec![("paste", Some(format!("config:{}", path.display())))];
        if logged {
            derived.push(("paste-logger", None));
        }
        for (name, value) in derived {
            if let Some(target) = lookup(name) {
                self.push_known(target, name, value, origin.clone())?;
            }
        }
        Ok(())
    }

    /// Loads a config file's section (`file[:section]`) in `format`, its options gathered
    /// where the loading option stands.
    fn load_file(&mut self, spec: &str, origin: &Origin, format: Format) -> Step {
        if self.depth >= MAX_INI_DEPTH {
            return Err(ConfigError::IniTooDeep {
                path: spec.to_string(),
                limit: MAX_INI_DEPTH,
                origin: origin.clone(),
            }
            .into());
        }
        let (file, asked) = split_section(spec);
        let section = asked.unwrap_or("uwsgi");
        let file = if file.is_empty() {
            // `--ini :section` reuses the last ini file (uWSGI)
            self.last_ini
                .clone()
                .ok_or_else(|| ConfigError::InvalidValue {
                    option: "ini".into(),
                    value: spec.to_string(),
                    reason: "no previous ini file to take the section from".into(),
                    origin: origin.clone(),
                })?
        } else {
            file.to_string()
        };
        let path = PathBuf::from(&file);
        let content = self
            .host
            .read_file(&path)
            .map_err(|source| ConfigError::ReadIni {
                format: format.name(),
                path: path.clone(),
                origin: origin.clone(),
                source,
            })?;
        self.last_ini = Some(file.clone());
        let file_magic = FileMagic::new(spec, &file, asked, self.host);
        let first_magic = self
            .first_magic
            .get_or_insert_with(|| file_magic.clone())
            .clone();

        self.depth += 1;
        let found = if format == Format::Ini {
            self.ini_section(&content, &path, section, &file_magic, &first_magic)
        } else {
            self.structured_section(format, &content, &path, section, &file_magic, &first_magic)
        };
        self.depth -= 1;
        if !found? {
            return Err(ConfigError::SectionNotFound {
                format: format.name(),
                path,
                section: section.to_string(),
                origin: origin.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Gathers the options of a YAML or JSON file's `section`; false when it has none.
    fn structured_section(
        &mut self,
        format: Format,
        content: &str,
        path: &Path,
        section: &str,
        file_magic: &FileMagic,
        first_magic: &FileMagic,
    ) -> Result<bool, Flow> {
        let items = formats::section_items(format, content, section).map_err(|e| {
            ConfigError::BadConfigFile {
                origin: Origin::Ini {
                    path: path.to_path_buf(),
                    line: e.line,
                },
                reason: e.reason,
            }
        })?;
        let Some(items) = items else {
            return Ok(false);
        };
        for item in items {
            let here = Origin::Ini {
                path: path.to_path_buf(),
                line: item.line,
            };
            let magic = Magic {
                file: file_magic,
                first: first_magic,
                facts: self.host.facts(),
            };
            let value = magic.expand(&item.value, &here)?;
            self.add(&item.key, lookup(&item.key), Some(value), here)?;
        }
        Ok(true)
    }

    /// Gathers the options of an ini file's `[section]`; false when it has none.
    fn ini_section(
        &mut self,
        content: &str,
        path: &Path,
        section: &str,
        file_magic: &FileMagic,
        first_magic: &FileMagic,
    ) -> Result<bool, Flow> {
        let mut current: Option<&str> = None;
        let mut found = false;
        for (idx, raw) in content.split('\n').enumerate() {
            let here = Origin::Ini {
                path: path.to_path_buf(),
                line: idx + 1,
            };
            let line = raw.trim_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(header) = line.strip_prefix('[') {
                let name =
                    header
                        .strip_suffix(']')
                        .ok_or_else(|| ConfigError::BadSectionHeader {
                            text: line.to_string(),
                            origin: here.clone(),
                        })?;
                current = Some(name);
                found |= name == section;
                continue;
            }
            if current != Some(section) {
                continue;
            }
            // like uWSGI, no inline comments: `key = v ; note` has the value `v ; note`
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let key = key.trim_end_matches([' ', '\t']);
            let value = value.trim_matches([' ', '\t']);
            let magic = Magic {
                file: file_magic,
                first: first_magic,
                facts: self.host.facts(),
            };
            let value = magic.expand(value, &here)?;
            self.add(key, lookup(key), Some(value), here)?;
        }
        Ok(found)
    }

    /// Replaces `%(name)` with the first gathered value of `name` (an option under any of its
    /// spellings, or a placeholder), and `%(a + 1)` by its arithmetic. Unresolvable
    /// references stay as they are.
    fn resolve(&mut self, value: &str, depth: usize) -> String {
        if depth > MAX_PLACEHOLDER_DEPTH || !value.contains("%(") {
            return value.to_string();
        }
        let r: Result<String, std::convert::Infallible> = expr::substitute(value, '%', |inner| {
            let mut lookup = |name: &str| {
                let found = self.gathered(name)?;
                Some(self.resolve(&found, depth + 1))
            };
            Ok(expr::placeholder(inner, &mut lookup))
        });
        r.unwrap_or_else(|never| match never {})
    }

    fn build(mut self) -> Result<(Config, Vec<Warning>), ConfigError> {
        // uWSGI's passes over every value: environment, includes, then placeholders (whose
        // forward references see the other values after the first two passes)
        for i in 0..self.entries.len() {
            if let Some(v) = self.entries[i].value.take() {
                let v = self.env_pass(&v);
                let v = self.include_pass(&v, &self.entries[i].origin)?;
                self.entries[i].value = Some(v);
            }
        }
        let mut resolved = Vec::with_capacity(self.entries.len());
        for i in 0..self.entries.len() {
            let v = self.entries[i].value.clone().map(|v| self.resolve(&v, 0));
            resolved.push(v);
        }
        let strict = self
            .entries
            .iter()
            .zip(&resolved)
            .rfind(|(e, _)| e.spec.is_some_and(|s| s.opt == Opt::Strict))
            .is_some_and(|(_, v)| flag_value(v.as_deref()));
        let mut warnings = std::mem::take(&mut self.warnings);
        for e in &self.entries {
            if e.spec.is_some() || e.placeholder {
                continue;
            }
            if strict {
                return Err(ConfigError::UnknownOption {
                    name: e.written.clone(),
                    origin: e.origin.clone(),
                });
            }
            // an unknown environment variable is someone else's; a used key is a placeholder
            if matches!(e.origin, Origin::Env(_)) || self.referenced.contains(&e.key) {
                continue;
            }
            let mut message = format!(
                "unknown option '{}' (kept as a placeholder; nothing uses it)",
                e.written
            );
            if let Some(s) = suggestion(&e.written) {
                message.push_str(&format!(": did you mean '{s}'?"));
            }
            warnings.push(Warning {
                origin: e.origin.clone(),
                message,
            });
        }
        let mut cfg = Config {
            exported: ExportedOptions(
                self.entries
                    .iter()
                    .zip(&resolved)
                    .map(|(e, v)| (exported_name(e).to_string(), v.clone()))
                    .collect(),
            ),
            ..Config::default()
        };
        cfg.exported = ExportedOptions(
            self.entries
                .iter()
                .zip(&resolved)
                .map(|(e, v)| (exported_name(e).to_string(), v.clone()))
                .collect(),
        );
        let mut protocol = None;
        for (e, v) in self.entries.iter().zip(&resolved) {
            let Some(spec) = e.spec else { continue };
            if spec.kind == OptKind::Flag && v.as_deref().is_some_and(misleading_flag) {
                warnings.push(Warning {
                    origin: e.origin.clone(),
                    message: format!(
                        "'{} = {}' turns '{}' on: a flag is off only for exactly false, off, \
                         no or 0 (as in uWSGI); put the comment on a line of its own",
                        e.written,
                        v.as_deref().unwrap_or_default(),
                        spec.name
                    ),
                });
            }
            let occurrence = |value| Occurrence {
                spec,
                written: &e.written,
                value,
                origin: &e.origin,
            };
            match cfg.apply(&occurrence(v.as_deref())) {
                Err(ConfigError::InvalidValue { reason, value, .. })
                    if reason == NOT_A_NUMBER && is_flag_word(&value) =>
                {
                    cfg.apply(&occurrence(Some("0")))?;
                    warnings.push(Warning {
                        origin: e.origin.clone(),
                        message: format!(
                            "'{} = {value}' reads as 0, as in uWSGI (a word for a number is 0): \
                             '{}' gets 0; write the number meant",
                            e.written, spec.name
                        ),
                    });
                }
                r => r?,
            }
            if spec.opt == Opt::Protocol {
                protocol = v.clone();
            }
        }
        if let Some(p) = protocol {
            cfg.force_protocol(&p);
        }
        cfg.validate()?;
        Ok((cfg, warnings))
    }
}

/// The parser as the config logic sees it.
struct GatheredFacts<'p, 'a> {
    parser: &'p mut Parser<'a>,
}

impl logic::Facts for GatheredFacts<'_, '_> {
    fn env(&self, name: &str) -> Option<String> {
        self.parser.host.env(name)
    }
    fn path_kind(&self, path: &Path) -> PathKind {
        self.parser.host.path_kind(path)
    }
    fn option(&mut self, name: &str) -> Option<String> {
        self.parser.gathered(name)
    }
    fn hostname(&self) -> &str {
        &self.parser.host.facts().hostname
    }
}

/// The name `uwsgi.opt` shows an occurrence under: as written in a file or as a long option,
/// the long name for a short option or an environment variable (as uWSGI's getopt does).
fn exported_name(e: &Entry) -> &str {
    match e.spec {
        Some(spec) if e.written.starts_with('-') || matches!(e.origin, Origin::Env(_)) => spec.name,
        _ if matches!(e.origin, Origin::Env(_)) => &e.key,
        _ => e.written.trim_start_matches('-'),
    }
}
