//! Loading WSGI apps (`--module`, `--wsgi-file`, `--mount`) and choosing one per request.

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
        AppSource::File(_) => None,
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
