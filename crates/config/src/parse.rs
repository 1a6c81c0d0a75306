//! Gathering options from the command line, `UWSGI_*` environment variables
//! and ini files, then resolving placeholders and building [`Config`].
//!
//! Processing follows uWSGI:
//! 1. `UWSGI_*` environment variables first, then the command line, in order.
//!    `ini` (and `set`, `help`, `version`, `connect-and-read`) are *immediate*:
//!    an ini file's options are inserted exactly where the `ini` option appears.
//! 2. `%(name)` placeholders are resolved against all gathered options (the
//!    first occurrence wins, forward references work, unresolvable ones are
//!    left untouched). Unknown keys in ini files are allowed only as
//!    placeholders that something references (and never with `strict`).
//! 3. Options are applied in order (single-value options: last wins;
//!    repeatable ones accumulate), then the result is validated.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::{flag_value, Occurrence};
use crate::defs::Config;
use crate::error::{ConfigError, Origin};
use crate::options::{self, lookup, lookup_short, normalize, Opt, OptKind, OptionSpec};

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

/// Nesting limit for `ini` files including each other.
pub const MAX_INI_DEPTH: usize = 16;

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
    let mut p = Parser {
        entries: Vec::new(),
        env: &env,
        read_file: &read_file,
        last_ini: None,
        depth: 0,
        referenced: HashSet::new(),
    };
    let args: Vec<String> = args.into_iter().collect();
    let gathered = p.gather_env(env_vars).and_then(|()| p.gather_cli(&args));
    match gathered {
        Ok(()) => {}
        Err(Flow::Stop(cmd)) => return Ok(*cmd),
        Err(Flow::Error(e)) => return Err(e),
    }
    p.build().map(Command::Serve)
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
    env: &'a dyn Fn(&str) -> Option<String>,
    read_file: &'a dyn Fn(&Path) -> io::Result<String>,
    last_ini: Option<String>,
    depth: usize,
    referenced: HashSet<String>,
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

impl Parser<'_> {
    fn gather_env<V: IntoIterator<Item = (String, String)>>(&mut self, vars: V) -> Step {
        for e in options_from_env(vars) {
            self.push_named(&e.option, Some(e.value), Origin::Env(e.var))?;
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
                self.push_known(spec, name, value, Origin::CommandLine)?;
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
                self.push_known(spec, &written, value, Origin::CommandLine)?;
            }
        }
        Ok(())
    }

    /// Bare arguments: `app.ini[:section]` loads an ini file, `app.py` /
    /// `app.wsgi` sets `wsgi-file` (as uWSGI's python plugin does).
    fn positional(&mut self, arg: &str) -> Step {
        let (file, _) = split_section(arg);
        if file.ends_with(".ini") {
            self.load_ini(arg, &Origin::CommandLine)
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

    fn push_named(&mut self, name: &str, value: Option<String>, origin: Origin) -> Step {
        match lookup(name) {
            Some(spec) => self.push_known(spec, name, value, origin),
            None => {
                if origin == Origin::CommandLine {
                    return Err(ConfigError::UnknownOption {
                        name: name.to_string(),
                        origin,
                    }
                    .into());
                }
                self.entries.push(Entry {
                    key: normalize(name),
                    written: name.to_string(),
                    spec: None,
                    value,
                    origin,
                    placeholder: false,
                });
                Ok(())
            }
        }
    }

    fn push_known(
        &mut self,
        spec: &'static OptionSpec,
        written: &str,
        value: Option<String>,
        origin: Origin,
    ) -> Step {
        let required = |value: &Option<String>| -> Result<String, ConfigError> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_string()),
                _ => Err(ConfigError::MissingValue {
                    option: written.to_string(),
                    origin: origin.clone(),
                }),
            }
        };
        match spec.opt {
            Opt::Help if flag_value(value.as_deref()) => {
                return Err(Flow::Stop(Box::new(Command::Help(options::help_text()))))
            }
            Opt::Version if flag_value(value.as_deref()) => {
                return Err(Flow::Stop(Box::new(Command::Version)))
            }
            Opt::ConnectAndRead => {
                let v = required(&value)?;
                return Err(Flow::Stop(Box::new(Command::ConnectAndRead(
                    self.resolve(&v, 0),
                ))));
            }
            Opt::Set | Opt::SetPlaceholder => {
                let v = required(&value)?;
                let v = self.resolve(&v, 0);
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
            Opt::Ini => {
                let v = self.resolve(&required(&value)?, 0);
                self.entries.push(Entry {
                    key: spec.name.to_string(),
                    written: written.to_string(),
                    spec: Some(spec),
                    value: Some(v.clone()),
                    origin: origin.clone(),
                    placeholder: false,
                });
                return self.load_ini(&v, &origin);
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

    fn load_ini(&mut self, spec: &str, origin: &Origin) -> Step {
        if self.depth >= MAX_INI_DEPTH {
            return Err(ConfigError::IniTooDeep {
                path: spec.to_string(),
                limit: MAX_INI_DEPTH,
                origin: origin.clone(),
            }
            .into());
        }
        let (file, section) = split_section(spec);
        let section = section.unwrap_or("uwsgi");
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
        let content = (self.read_file)(&path).map_err(|source| ConfigError::ReadIni {
            path: path.clone(),
            origin: origin.clone(),
            source,
        })?;
        self.last_ini = Some(file.clone());
        let magic = Magic::new(&file);

        self.depth += 1;
        let mut current: Option<&str> = None;
        let mut found = false;
        for (idx, raw) in content.split('\n').enumerate() {
            let here = Origin::Ini {
                path: path.clone(),
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
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let key = key.trim_end_matches([' ', '\t']);
            let value = value.trim_matches([' ', '\t']);
            let value = magic.expand(value, self.env, &here)?;
            self.push_named(key, Some(value), here)?;
        }
        self.depth -= 1;
        if !found {
            return Err(ConfigError::SectionNotFound {
                path,
                section: section.to_string(),
                origin: origin.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Replace `%(name)` with the first gathered value of `name` (an option
    /// under any of its spellings, or a placeholder). Unresolvable
    /// references stay as they are.
    fn resolve(&mut self, value: &str, depth: usize) -> String {
        if depth > 8 || !value.contains("%(") {
            return value.to_string();
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("%(") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            let key = canonical_key(name.trim());
            let found = self
                .entries
                .iter()
                .find(|e| e.key == key && e.value.is_some())
                .and_then(|e| e.value.clone());
            match found {
                Some(v) => {
                    self.referenced.insert(key);
                    let v = self.resolve(&v, depth + 1);
                    out.push_str(&v);
                }
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn build(mut self) -> Result<Config, ConfigError> {
        // resolve placeholders everywhere first (forward references work)
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
        for e in &self.entries {
            if e.spec.is_some() || e.placeholder {
                continue;
            }
            let allowed = match e.origin {
                Origin::Env(_) => !strict,
                _ => !strict && self.referenced.contains(&e.key),
            };
            if !allowed {
                return Err(ConfigError::UnknownOption {
                    name: e.written.clone(),
                    origin: e.origin.clone(),
                });
            }
        }
        let mut cfg = Config::default();
        let mut protocol = None;
        for (e, v) in self.entries.iter().zip(&resolved) {
            let Some(spec) = e.spec else { continue };
            cfg.apply(&Occurrence {
                spec,
                written: &e.written,
                value: v.as_deref(),
                origin: &e.origin,
            })?;
            if spec.opt == Opt::Protocol {
                protocol = v.clone();
            }
        }
        if let Some(p) = protocol {
            cfg.force_protocol(&p);
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// uWSGI "magic variables" of one config file.
struct Magic {
    /// `%o`: the path as given.
    original: String,
    /// `%p`: absolute path.
    absolute: String,
    /// `%s`: file name.
    filename: String,
    /// `%d`: absolute directory with trailing slash.
    dir: String,
    /// `%n`: file name without extension.
    name: String,
    /// `%e`: extension.
    ext: String,
    /// `%c`: name of the containing directory.
    dirname: String,
    /// `%v`: current directory.
    cwd: String,
    /// `%0`..`%9`: components of the directory path.
    components: Vec<String>,
}

impl Magic {
    fn new(file: &str) -> Magic {
        let cwd = std::env::current_dir().unwrap_or_default();
        let abs = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            cwd.join(file)
        };
        let absolute = abs.to_string_lossy().into_owned();
        let (dir, filename) = match absolute.rfind('/') {
            Some(i) => (absolute[..=i].to_string(), absolute[i + 1..].to_string()),
            None => (String::new(), absolute.clone()),
        };
        let (name, ext) = match filename.rfind('.') {
            Some(i) => (filename[..i].to_string(), filename[i + 1..].to_string()),
            None => (filename.clone(), String::new()),
        };
        let components: Vec<String> = dir
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        Magic {
            original: file.to_string(),
            dirname: components.last().cloned().unwrap_or_default(),
            absolute,
            filename,
            dir,
            name,
            ext,
            cwd: cwd.to_string_lossy().into_owned(),
            components,
        }
    }

    /// Expand `%x` magic variables and `$(ENV)` in one pass (expansions
    /// are not re-scanned). `%(` is kept for placeholder resolution;
    /// missing environment variables expand to the empty string.
    fn expand(
        &self,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
        origin: &Origin,
    ) -> Result<String, ConfigError> {
        let mut out = String::with_capacity(value.len());
        let mut chars = value.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '%' => {
                    let Some(&(_, m)) = chars.peek() else {
                        out.push('%');
                        continue;
                    };
                    chars.next();
                    let s: &str = match m {
                        'd' => &self.dir,
                        'p' => &self.absolute,
                        's' => &self.filename,
                        'n' => &self.name,
                        'e' => &self.ext,
                        'c' => &self.dirname,
                        'o' => &self.original,
                        'v' => &self.cwd,
                        '%' => "%",
                        '(' => "%(",
                        '0'..='9' => {
                            let n = m as usize - '0' as usize;
                            self.components.get(n).map_or("", String::as_str)
                        }
                        other => {
                            return Err(ConfigError::UnsupportedMagic {
                                var: other,
                                origin: origin.clone(),
                            })
                        }
                    };
                    out.push_str(s);
                }
                '$' if value[i + 1..].starts_with('(') => {
                    let inner = &value[i + 2..];
                    match inner.find(')') {
                        Some(end) => {
                            out.push_str(&env(&inner[..end]).unwrap_or_default());
                            // skip "(NAME)"
                            let skip = inner[..=end].chars().count() + 1;
                            for _ in 0..skip {
                                chars.next();
                            }
                        }
                        None => out.push('$'),
                    }
                }
                c => out.push(c),
            }
        }
        Ok(out)
    }
}
