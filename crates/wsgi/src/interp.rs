//! Starting the embedded interpreter, and keeping it sane across `fork()`.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use pyo3::ffi;
use pyo3::prelude::*;

/// Why the interpreter could not start.
#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    /// Py_InitializeFromConfig failed.
    #[error("cannot initialise Python: {0}")]
    Init(String),
    /// The libpython loaded at run time is not the one rwsgi was built against.
    #[error("libpython mismatch: rwsgi was built for Python {built} but loaded {loaded}; rebuild rwsgi with the python3 you run it with")]
    Mismatch {
        /// Version at build time.
        built: String,
        /// Version loaded.
        loaded: String,
    },
    /// A Python error while setting up paths.
    #[error("{0}")]
    Python(#[from] PyErr),
}

/// Interpreter settings that must be known before it starts.
#[derive(Debug, Default, Clone)]
pub struct PythonOptions {
    /// `--home` / `--virtualenv`: a virtualenv (PEP 405 `pyvenv.cfg`) or a Python prefix.
    pub home: Option<PathBuf>,
    /// `--pythonpath` entries, prepended to `sys.path` in order.
    pub pythonpath: Vec<String>,
}

/// The Python version (sys.version's first word) of the build-time interpreter.
pub const BUILT_VERSION: &str = env!("RWSGI_PY_VERSION");
/// `sys.prefix` of the build-time interpreter.
pub const BUILT_PREFIX: &str = env!("RWSGI_PY_PREFIX");

fn status_ok(status: &ffi::PyStatus) -> Result<(), InterpError> {
    // SAFETY: reading a PyStatus returned by the C API.
    if unsafe { ffi::PyStatus_Exception(*status) } != 0 {
        let msg = if status.err_msg.is_null() {
            "unknown error".to_string()
        } else {
            // SAFETY: err_msg is a NUL-terminated static string when set.
            unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(InterpError::Init(msg));
    }
    Ok(())
}

fn set_config_string(
    config: *mut ffi::PyConfig,
    field: *mut *mut libc::wchar_t,
    value: &Path,
) -> Result<(), InterpError> {
    let c = CString::new(value.as_os_str().as_encoded_bytes())
        .map_err(|_| InterpError::Init(format!("path contains NUL: {}", value.display())))?;
    // SAFETY: config is initialised; field points into it; c is NUL-terminated.
    let st = unsafe { ffi::PyConfig_SetBytesString(config, field as *mut _, c.as_ptr()) };
    status_ok(&st)
}

/// Starts the interpreter (once per process), as uWSGI does: a PEP 405 virtualenv given as
/// `home` is activated by pretending the interpreter runs as `home/bin/python` (so `pyvenv.cfg`
/// is honoured), any other `home` becomes `PYTHONHOME`. Then checks that the loaded libpython is
/// the build's, and releases the GIL so any thread can take it.
pub fn initialize(opts: &PythonOptions) -> Result<(), InterpError> {
    // SAFETY: plain C API calls in the documented order, on the main thread, before any other
    // Python use in this process.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        // Signals belong to the server, not to Python.
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        let setup = (|| -> Result<(), InterpError> {
            if let Some(home) = &opts.home {
                if home.join("pyvenv.cfg").exists() {
                    let exe = home.join("bin").join("python");
                    let cfg: *mut ffi::PyConfig = &mut config;
                    set_config_string(cfg, &raw mut (*cfg).program_name, &exe)?;
                } else {
                    let cfg: *mut ffi::PyConfig = &mut config;
                    set_config_string(cfg, &raw mut (*cfg).home, home)?;
                }
            }
            let st = ffi::Py_InitializeFromConfig(&config);
            status_ok(&st)
        })();
        ffi::PyConfig_Clear(&mut config);
        setup?;
        // Leave the GIL free; every user takes it with Python::attach.
        ffi::PyEval_SaveThread();
    }
    Python::attach(|py| -> Result<(), InterpError> {
        let sys = py.import("sys")?;
        let version: String = sys.getattr("version")?.extract()?;
        let loaded = version.split_whitespace().next().unwrap_or("").to_string();
        if loaded != BUILT_VERSION {
            return Err(InterpError::Mismatch {
                built: BUILT_VERSION.to_string(),
                loaded,
            });
        }
        let path = sys.getattr("path")?;
        for (i, p) in opts.pythonpath.iter().enumerate() {
            path.call_method1("insert", (i, p))?;
        }
        // As uWSGI: the working directory (after --chdir) is importable, so `--module app`
        // finds app.py there.
        path.call_method1("insert", (opts.pythonpath.len(), "."))?;
        Ok(())
    })
}

/// Forks the process the way `os.fork()` does (PyOS_BeforeFork / AfterFork), so the child's
/// interpreter is usable. Returns the child's pid in the parent and 0 in the child.
pub fn fork() -> std::io::Result<libc::pid_t> {
    Python::attach(|_py| {
        // SAFETY: the GIL is held, as the PyOS_*Fork functions require; the caller is the
        // process's only thread with Python state (the master never starts Python threads).
        unsafe {
            ffi::PyOS_BeforeFork();
            let pid = libc::fork();
            if pid == 0 {
                ffi::PyOS_AfterFork_Child();
            } else {
                ffi::PyOS_AfterFork_Parent();
            }
            if pid < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(pid)
            }
        }
    })
}

/// True when the interpreter has been started in this process.
pub fn is_initialized() -> bool {
    // SAFETY: a read-only query valid at any time.
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// Prints the current Python exception with its traceback to stderr (Python's own format).
pub fn print_exception(py: Python<'_>, err: PyErr) {
    err.print(py);
}
