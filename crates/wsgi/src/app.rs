//! Loading WSGI apps (`--module`, `--wsgi-file`, `--paste`, `--mount`) and choosing one per
//! request.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What to load, before loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// Mount point: `""` for the default app, `/prefix` for `--mount /prefix=...`.
    pub mountpoint: String,
    /// Where the callable lives.
    pub source: AppSource,
    /// Name of the callable.
    pub callable: String,
}

/// A module path or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSource {
    /// `pkg.module` (imported).
    Module(String),
    /// A Python file executed as a module (`--wsgi-file`).
    File(String),
    /// `--paste URI`: the app PasteDeploy's `loadapp` builds.
    Paste(PasteSpec),
}

/// What `--paste` (or `--ini-paste`) asks PasteDeploy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteSpec {
    /// `config:FILE`, `egg:DIST[#NAME]` or `call:MODULE:FACTORY`, as `loadapp` reads it.
    pub uri: String,
    /// `--paste-name`: the section (`main` when `None`).
    pub name: Option<String>,
    /// `--paste-logger`: `logging.config.fileConfig` the `config:` file first.
    pub logging: bool,
}

impl PasteSpec {
    /// The file of a `config:` URI (the part `fileConfig` reads, without a `#section`),
    /// `None` for the others.
    pub fn config_file(&self) -> Option<&str> {
        let rest = self.uri.strip_prefix("config:")?;
        Some(rest.split_once('#').map_or(rest, |(file, _)| file).trim())
    }
}

impl AppSpec {
    /// Parses uWSGI's `module[:callable]` form.
    pub fn module(mountpoint: &str, spec: &str, default_callable: &str) -> AppSpec {
        let (module, callable) = match spec.split_once(':') {
            Some((m, c)) if !c.is_empty() => (m, c),
            _ => (spec, default_callable),
        };
        AppSpec {
            mountpoint: mountpoint.to_string(),
            source: AppSource::Module(module.to_string()),
            callable: callable.to_string(),
        }
    }

    /// A `--wsgi-file`.
    pub fn file(mountpoint: &str, path: &str, default_callable: &str) -> AppSpec {
        AppSpec {
            mountpoint: mountpoint.to_string(),
            source: AppSource::File(path.to_string()),
            callable: default_callable.to_string(),
        }
    }

    /// A `--paste` app (the default one: PasteDeploy composes its own mounts).
    pub fn paste(spec: PasteSpec) -> AppSpec {
        AppSpec {
            mountpoint: String::new(),
            source: AppSource::Paste(spec),
            callable: String::new(),
        }
    }
}

/// A loaded app.
#[derive(Debug)]
pub struct App {
    /// Its mount point (`""` = default).
    pub mountpoint: String,
    /// The WSGI callable.
    pub callable: Py<PyAny>,
    /// The directory it was loaded in (`--chdir`), as uWSGI reports it (`""` when unset).
    pub chdir: String,
    /// Unix time the load finished.
    pub startup_time: u64,
}

/// Why an app could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Import or execution of the app's code failed.
    #[error("unable to load app {what}: {err}")]
    Load {
        /// Which app.
        what: String,
        /// The Python error, traceback printed separately.
        err: PyErr,
    },
    /// `--paste` needs PasteDeploy, and this Python cannot import it.
    #[error(
        "--paste {uri}: PasteDeploy is not importable in this Python ({err}); install it in \
         the app's environment (pip install PasteDeploy)"
    )]
    NoPasteDeploy {
        /// The URI asked for.
        uri: String,
        /// The import error.
        err: PyErr,
    },
    /// The object PasteDeploy built cannot be called.
    #[error("--paste {uri}: PasteDeploy built {built}, which is not callable")]
    PasteNotCallable {
        /// The URI asked for.
        uri: String,
        /// The object's repr.
        built: String,
    },
    /// The named callable is not there, or not callable.
    #[error("unable to find callable '{callable}' in {what}")]
    NoCallable {
        /// Which app.
        what: String,
        /// The missing name.
        callable: String,
    },
}

fn describe(spec: &AppSpec) -> String {
    let mp = if spec.mountpoint.is_empty() {
        String::new()
    } else {
        format!(" (mountpoint {})", spec.mountpoint)
    };
    match &spec.source {
        AppSource::Module(m) => format!("module '{m}'{mp}"),
        AppSource::File(f) => format!("file '{f}'{mp}"),
        AppSource::Paste(p) => format!("paste '{}'{mp}", p.uri),
    }
}

fn file_module_name(path: &str) -> String {
    // uWSGI names file apps uwsgi_file_<path with non-alnum replaced>.
    let mangled: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("uwsgi_file_{mangled}")
}

/// Loads one app.
pub fn load(py: Python<'_>, spec: &AppSpec, chdir: &str) -> Result<App, AppError> {
    let what = describe(spec);
    let load_err = |err: PyErr| AppError::Load {
        what: what.clone(),
        err,
    };
    let module = match &spec.source {
        AppSource::Paste(paste) => {
            let callable = load_paste(py, paste).map_err(|e| match e {
                PasteFailure::Python(err) => load_err(err),
                other => other.into_app_error(&paste.uri),
            })?;
            return Ok(App {
                mountpoint: spec.mountpoint.clone(),
                callable: callable.unbind(),
                chdir: chdir.to_string(),
                startup_time: rwsgi_os::time::unix_now(),
            });
        }
        AppSource::Module(name) => py.import(name.as_str()).map_err(load_err)?.into_any(),
        AppSource::File(path) => {
            let abs = Path::new(path);
            let util = py.import("importlib.util").map_err(load_err)?;
            let name = file_module_name(path);
            // An explicit source loader: uWSGI compiles any file (`app.wsgi`, mod_wsgi's
            // habit), while importlib guesses the loader from a `.py` suffix only.
            let loader = py
                .import("importlib.machinery")
                .and_then(|m| m.getattr("SourceFileLoader"))
                .and_then(|l| l.call1((name.as_str(), path.as_str())))
                .map_err(load_err)?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("loader", &loader).map_err(load_err)?;
            let spec_obj = util
                .call_method(
                    "spec_from_file_location",
                    (name.as_str(), abs),
                    Some(&kwargs),
                )
                .map_err(load_err)?;
            if spec_obj.is_none() {
                return Err(load_err(pyo3::exceptions::PyFileNotFoundError::new_err(
                    format!("cannot load {path}"),
                )));
            }
            let module = util
                .call_method1("module_from_spec", (&spec_obj,))
                .map_err(load_err)?;
            py.import("sys")
                .and_then(|sys| sys.getattr("modules"))
                .and_then(|m| m.set_item(name.as_str(), &module))
                .map_err(load_err)?;
            spec_obj
                .getattr("loader")
                .and_then(|l| l.call_method1("exec_module", (&module,)))
                .map_err(load_err)?;
            module
        }
    };
    let no_callable = || AppError::NoCallable {
        what: what.clone(),
        callable: spec.callable.clone(),
    };
    // `module = pkg.mod:create_app()` (or `callable = create_app()`): uWSGI's module loader
    // calls the factory without arguments and serves what it returns (not for files, as in
    // uWSGI).
    let factory = match &spec.source {
        AppSource::Module(_) => spec.callable.strip_suffix("()"),
        // Paste apps returned above.
        AppSource::File(_) | AppSource::Paste(_) => None,
    };
    let callable = match factory {
        Some(name) => {
            let f = module
                .getattr(name)
                .ok()
                .filter(|c| c.is_callable())
                .ok_or_else(no_callable)?;
            f.call0().map_err(load_err)?
        }
        None => module
            .getattr(spec.callable.as_str())
            .map_err(|_| no_callable())?,
    };
    if !callable.is_callable() {
        return Err(no_callable());
    }
    Ok(App {
        mountpoint: spec.mountpoint.clone(),
        callable: callable.unbind(),
        chdir: chdir.to_string(),
        startup_time: rwsgi_os::time::unix_now(),
    })
}

/// How a `--paste` load failed before it became an [`AppError`].
enum PasteFailure {
    NoPasteDeploy(PyErr),
    NotCallable(String),
    Python(PyErr),
}

impl PasteFailure {
    fn into_app_error(self, uri: &str) -> AppError {
        let uri = uri.to_string();
        match self {
            PasteFailure::NoPasteDeploy(err) => AppError::NoPasteDeploy { uri, err },
            PasteFailure::NotCallable(built) => AppError::PasteNotCallable { uri, built },
            PasteFailure::Python(err) => AppError::Load {
                what: format!("paste '{uri}'"),
                err,
            },
        }
    }
}

impl From<PyErr> for PasteFailure {
    fn from(err: PyErr) -> Self {
        PasteFailure::Python(err)
    }
}

/// uWSGI's paste loader: `logging.config.fileConfig(FILE)` first with `--paste-logger`, then
/// `paste.deploy.loadapp(URI[, name])`. Three things work here that fail under uWSGI: a
/// relative `config:` file is found from the directory the apps load in (uWSGI hands
/// PasteDeploy no `relative_to`, so it refuses one); a bare `call:MODULE:FACTORY` is an app
/// factory (PasteDeploy has no protocol for it at the top level); and `fileConfig` knows
/// `%(here)s` and `%(__file__)s`, as PasteDeploy's own sections do.
fn load_paste<'py>(py: Python<'py>, spec: &PasteSpec) -> Result<Bound<'py, PyAny>, PasteFailure> {
    eprintln!("Loading paste environment: {}", spec.uri);
    py.import("paste.deploy")
        .map_err(PasteFailure::NoPasteDeploy)?;
    let os_path = py.import("os.path")?;
    // The process is in --chdir by now.
    let base: String = py.import("os")?.call_method0("getcwd")?.extract()?;
    if spec.logging {
        if let Some(file) = spec.config_file() {
            let file: String = os_path.call_method1("join", (&base, file))?.extract()?;
            let defaults = PyDict::new(py);
            defaults.set_item("here", os_path.call_method1("dirname", (&file,))?)?;
            defaults.set_item("__file__", &file)?;
            py.import("logging.config")?
                .call_method1("fileConfig", (&file, defaults))?;
        }
    }
    // loadapp(URI, name, relative_to=...) is loadcontext(APP, ...).create(); a bare
    // `call:MODULE:FACTORY` has no protocol there (PasteDeploy refuses it), so it is taken
    // as an app factory, as `use = call:...` in an [app:...] section is.
    let loadwsgi = py.import("paste.deploy.loadwsgi")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("relative_to", &base)?;
    if let Some(name) = &spec.name {
        kwargs.set_item("name", name)?;
    }
    let context = loadwsgi.call_method(
        "loadcontext",
        (loadwsgi.getattr("APP")?, spec.uri.as_str()),
        Some(&kwargs),
    )?;
    if context.getattr("protocol")?.is_none() {
        context.setattr("protocol", "paste.app_factory")?;
    }
    let app = context.call_method0("create")?;
    if !app.is_callable() {
        let built = app.repr().map(|r| r.to_string()).unwrap_or_default();
        return Err(PasteFailure::NotCallable(built));
    }
    Ok(app)
}

/// The apps of a worker, with the request routing uWSGI applies.
#[derive(Debug, Default)]
pub struct Apps {
    /// In load order; the scoreboard's app ids are these indexes.
    pub list: Vec<App>,
    /// `--manage-script-name`.
    pub manage_script_name: bool,
}

impl Apps {
    /// Picks the app for a request. With a non-empty `SCRIPT_NAME` from the peer, the app mounted
    /// exactly there; with `--manage-script-name`, the longest mount point that prefixes
    /// PATH_INFO on a segment boundary (the caller moves it from PATH_INFO to SCRIPT_NAME).
    /// Falls back to the default app (mount point `""`), then to the first app.
    /// Returns the app's index and, when a prefix was matched, its length.
    pub fn select(&self, script_name: &[u8], path_info: &[u8]) -> Option<(usize, Option<usize>)> {
        if !script_name.is_empty() {
            if let Some(i) = self
                .list
                .iter()
                .position(|a| a.mountpoint.as_bytes() == script_name)
            {
                return Some((i, None));
            }
        }
        if self.manage_script_name {
            let mut best: Option<(usize, usize)> = None;
            for (i, app) in self.list.iter().enumerate() {
                let mp = app.mountpoint.as_bytes();
                if mp.is_empty() || !path_info.starts_with(mp) {
                    continue;
                }
                let boundary = path_info.len() == mp.len() || path_info[mp.len()] == b'/';
                if boundary && best.is_none_or(|(_, len)| mp.len() > len) {
                    best = Some((i, mp.len()));
                }
            }
            if let Some((i, len)) = best {
                return Some((i, Some(len)));
            }
        }
        if let Some(i) = self.list.iter().position(|a| a.mountpoint.is_empty()) {
            return Some((i, None));
        }
        (!self.list.is_empty()).then_some((0, None))
    }
}

/// Sets `os.environ[key] = value` for `--env`.
pub fn set_env(py: Python<'_>, key: &str, value: &str) -> PyResult<()> {
    let environ = py.import("os")?.getattr("environ")?;
    environ.set_item(key, value)?;
    Ok(())
}

/// A dict of the module globals for quick checks in tests.
pub fn eval_str(py: Python<'_>, expr: &str) -> PyResult<String> {
    let globals = PyDict::new(py);
    let code = std::ffi::CString::new(expr).map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("expression contains NUL: {e}"))
    })?;
    py.eval(&code, Some(&globals), None)?.str()?.extract()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logging_file_of_a_paste_uri_is_its_config_file_without_the_section() {
        let spec = |uri: &str| PasteSpec {
            uri: uri.into(),
            name: None,
            logging: true,
        };
        assert_eq!(spec("config:/srv/a.ini").config_file(), Some("/srv/a.ini"));
        assert_eq!(spec("config:site.ini#api").config_file(), Some("site.ini"));
        assert_eq!(spec("egg:Dist#main").config_file(), None);
        assert_eq!(spec("call:m:f").config_file(), None);
    }
}
