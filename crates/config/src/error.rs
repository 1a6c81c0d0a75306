//! Configuration errors. Every variant says where the problem came from.

use std::fmt;
use std::path::PathBuf;

/// Where an option (or a problem) came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The process command line.
    CommandLine,
    /// A `UWSGI_*` environment variable (its full name).
    Env(String),
    /// A line of a config file: ini, YAML or JSON (1-based line number).
    Ini {
        /// The file as it was named (`--ini` / `--yaml` / `--json` value without `:section`).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("command line"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Ini { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An option name that rwsgi does not know.
    #[error("{origin}: unknown option '{name}'")]
    UnknownOption {
        /// The name as written (`-x` for unknown short options).
        name: String,
        /// Where it appeared.
        origin: Origin,
    },
    /// An option that needs a value was given none (or an empty one).
    #[error("{origin}: option '{option}' requires a value")]
    MissingValue {
        /// The option as written.
        option: String,
        /// Where it appeared.
        origin: Origin,
    },
    /// A uWSGI option rwsgi cannot honour (a subsystem it does not have).
    #[error("{origin}: option '{option}' is not supported by rwsgi: {reason}")]
    Refused {
        /// The option as written.
        option: String,
        /// Why rwsgi cannot honour it (from the option table).
        reason: &'static str,
        /// Where it appeared.
        origin: Origin,
    },
    /// A value that does not fit the option.
    #[error("{origin}: invalid value '{value}' for option '{option}': {reason}")]
    InvalidValue {
        /// The option as written.
        option: String,
        /// The offending value (after placeholder expansion).
        value: String,
        /// What is wrong with it.
        reason: String,
        /// Where it appeared.
        origin: Origin,
    },
    /// A `plugins` entry that is not built into rwsgi.
    #[error("{origin}: unknown plugin '{name}': rwsgi has these built in: {builtin}")]
    UnknownPlugin {
        /// The plugin name as written.
        name: String,
        /// Human-readable list of built-in plugins.
        builtin: &'static str,
        /// Where it appeared.
        origin: Origin,
    },
    /// An ini file could not be read.
    #[error("{origin}: cannot read {format} file '{}': {source}", path.display())]
    ReadIni {
        /// The file's language (`ini`, `YAML`, `JSON`).
        format: &'static str,
        /// The file that could not be read.
        path: PathBuf,
        /// Where the `ini` option appeared.
        origin: Origin,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A YAML or JSON config file that is malformed or not shaped as sections of options.
    #[error("{origin}: cannot read config file: {reason}")]
    BadConfigFile {
        /// File and line of the problem.
        origin: Origin,
        /// What is wrong.
        reason: String,
    },
    /// The requested `[section]` does not exist in an ini file.
    #[error("{origin}: {format} file '{}' has no [{section}] section", path.display())]
    SectionNotFound {
        /// The file's language (`ini`, `YAML`, `JSON`).
        format: &'static str,
        /// The ini file.
        path: PathBuf,
        /// The section that was asked for.
        section: String,
        /// Where the `ini` option appeared.
        origin: Origin,
    },
    /// A `[section` header without the closing bracket.
    #[error("{origin}: malformed section header '{text}'")]
    BadSectionHeader {
        /// The line text.
        text: String,
        /// File and line.
        origin: Origin,
    },
    /// A `%x` magic variable rwsgi does not implement.
    #[error(
        "{origin}: unsupported magic variable '%{var}' (supported: {}, $(ENV))",
        crate::magic::MAGIC_LETTERS
    )]
    UnsupportedMagic {
        /// The letter after `%`.
        var: char,
        /// File and line.
        origin: Origin,
    },
    /// `ini` files include each other too deeply (probably a cycle).
    #[error("{origin}: ini files nested more than {limit} levels deep while loading '{path}' (include cycle?)")]
    IniTooDeep {
        /// The file that would exceed the limit.
        path: String,
        /// The nesting limit.
        limit: usize,
        /// Where the `ini` option appeared.
        origin: Origin,
    },
    /// An `if-*` / `for*` inside another block (uWSGI's config logic does not nest).
    #[error("{origin}: '{option}' inside another if-*/for block (config logic blocks do not nest: close the first with endif/endfor)")]
    NestedLogic {
        /// The option as written.
        option: String,
        /// File and line.
        origin: Origin,
    },
    /// A uWSGI config-logic option rwsgi does not implement.
    #[error("{origin}: config logic '{option}' is not supported: {reason}")]
    UnsupportedLogic {
        /// The option as written.
        option: String,
        /// Why not.
        reason: &'static str,
        /// File and line.
        origin: Origin,
    },
    /// An `@(...)` value include or a `for-readline` file that could not be read.
    #[error("{origin}: cannot read '{reference}': {source}")]
    Include {
        /// What was to be read, as written.
        reference: String,
        /// Where it was referenced.
        origin: Origin,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `@(scheme://...)` include of a kind rwsgi does not read.
    #[error("{origin}: cannot include '@({reference})': rwsgi reads plain paths, file:// and exec:// here")]
    IncludeScheme {
        /// The reference as written.
        reference: String,
        /// Where it was referenced.
        origin: Origin,
    },
    /// A command-line argument that is neither an option nor a config/app file.
    #[error("command line: unexpected argument '{0}' (expected an option, a .ini file or a .py/.wsgi file)")]
    UnexpectedArgument(String),
    /// No `socket` / `http-socket` / `http11-socket` / `http` was configured.
    #[error("no socket configured: use --socket, --http-socket or --http11-socket")]
    NoSocket,
    /// Options that do not fit together (uWSGI refuses to start on them too).
    #[error("{0}")]
    Inconsistent(&'static str),
    /// No application and `need-app` is on.
    #[error(
        "no application configured: use --module, --wsgi-file, --paste or --mount (or need-app = false)"
    )]
    NoApp,
    /// `--stats-http-auth` with a raw `--stats` socket, which reads no request and so cannot
    /// check credentials.
    #[error(
        "--stats-http-auth needs --stats-http: a raw stats socket reads no request, so it cannot check credentials"
    )]
    RawStatsAuth,
}

/// Something start-up should report without refusing the configuration (uWSGI starts in
/// these cases too): an unknown ini key, a flag value that reads differently than it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where it came from.
    pub origin: Origin,
    /// What is worth knowing.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}
