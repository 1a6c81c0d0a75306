//! Building the WSGI environ dict (PEP 3333) from a request's CGI variables.

use std::cell::RefCell;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use rustc_hash::FxHashMap;

use crate::filewrapper::FileWrapper;
use crate::vars::RequestVars;

/// Per-core template: the keys that never change between requests are built once and the dict
/// is copied for each request (PyDict_Copy is one allocation and a memcpy).
pub struct EnvironTemplate {
    base: Py<PyDict>,
    /// Interned CGI key strings seen so far: a request's keys are almost always the same
    /// few dozen, and an interned key skips the allocation and the hashing of a new string.
    keys: RefCell<FxHashMap<Box<[u8]>, Py<PyString>>>,
    key_input: Py<PyString>,
    key_scheme: Py<PyString>,
    http: Py<PyString>,
    https: Py<PyString>,
    /// [`ServerFlags::clear_environ`].
    pub(crate) clear_environ: bool,
}

/// What the template needs to know about the server.
#[derive(Debug, Clone, Copy)]
pub struct ServerFlags {
    /// More than one core per worker.
    pub multithread: bool,
    /// More than one worker.
    pub multiprocess: bool,
    /// The worker id (uwsgi.worker_id style, for apps that look).
    pub worker_id: usize,
    /// The core id.
    pub core_id: usize,
    /// `wsgi.file_wrapper` in the environ (off with `--wsgi-disable-file-wrapper`).
    pub file_wrapper: bool,
    /// `--wsgi-env-behavior cheat`: each environ is emptied once its request is over.
    pub clear_environ: bool,
}

impl EnvironTemplate {
    /// Builds the template.
    pub fn new(py: Python<'_>, flags: ServerFlags) -> PyResult<EnvironTemplate> {
        let base = PyDict::new(py);
        base.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
        base.set_item("wsgi.errors", py.import("sys")?.getattr("stderr")?)?;
        base.set_item("wsgi.multithread", flags.multithread)?;
        base.set_item("wsgi.multiprocess", flags.multiprocess)?;
        base.set_item("wsgi.run_once", false)?;
        if flags.file_wrapper {
            base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        }
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("uwsgi.version", env!("CARGO_PKG_VERSION").as_bytes())?;
        // CGI's SERVER_SOFTWARE (RFC 3875 §4.1.17) costs nothing per request here; a
        // SERVER_SOFTWARE var from nginx overrides it, as uWSGI passes nginx's through.
        base.set_item("SERVER_SOFTWARE", SERVER_SOFTWARE)?;
        base.set_item("uwsgi.core", flags.core_id)?;
        base.set_item("rwsgi.worker_id", flags.worker_id)?;
        Ok(EnvironTemplate {
            base: base.unbind(),
            keys: RefCell::new(FxHashMap::default()),
            key_input: PyString::intern(py, "wsgi.input").unbind(),
            key_scheme: PyString::intern(py, "wsgi.url_scheme").unbind(),
            http: PyString::intern(py, "http").unbind(),
            https: PyString::intern(py, "https").unbind(),
            clear_environ: flags.clear_environ,
        })
    }

    /// A fresh environ for one request: the template, the CGI vars (decoded as latin-1, as PEP
    /// 3333 demands of "bytes as str"), `wsgi.input` and `wsgi.url_scheme`.
    pub fn build<'py>(
        &self,
        py: Python<'py>,
        vars: &RequestVars,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let base = self.base.bind(py);
        let env = base.copy()?;
        // A trusted proxy's X-Forwarded-Proto (decided by the server) counts as HTTPS=on.
        let mut https = vars.forwarded_https();
        let mut uwsgi_scheme: Option<&[u8]> = None;
        let mut scheme: Option<&[u8]> = None;
        for (k, v) in vars.iter() {
            env.set_item(self.key(py, k)?, latin1(py, v)?)?;
            match k {
                b"HTTPS" => https |= v.eq_ignore_ascii_case(b"on") || v == b"1",
                b"UWSGI_SCHEME" => uwsgi_scheme = Some(v),
                b"REQUEST_SCHEME" => scheme = Some(v),
                _ => {}
            }
        }
        env.set_item(self.key_input.bind(py), input)?;
        // As uWSGI: an explicit UWSGI_SCHEME wins, then HTTPS, then REQUEST_SCHEME.
        match uwsgi_scheme.or(scheme.filter(|_| !https)) {
            Some(s) if !s.is_empty() => env.set_item(self.key_scheme.bind(py), latin1(py, s)?)?,
            _ => env.set_item(
                self.key_scheme.bind(py),
                if https { &self.https } else { &self.http }.bind(py),
            )?,
        }
        Ok(env)
    }
}

impl EnvironTemplate {
    /// The str for CGI key `k`, from the cache when possible.
    fn key<'py>(&self, py: Python<'py>, k: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let mut keys = self.keys.borrow_mut();
        if let Some(s) = keys.get(k) {
            return Ok(s.bind(py).clone().into_any());
        }
        // Bounded: clients choose header names, and must not grow this without limit.
        if keys.len() < MAX_CACHED_KEYS && k.is_ascii() {
            if let Ok(text) = std::str::from_utf8(k) {
                let interned = PyString::intern(py, text);
                keys.insert(k.into(), interned.clone().unbind());
                return Ok(interned.into_any());
            }
        }
        latin1(py, k)
    }
}

/// The `SERVER_SOFTWARE` every environ carries unless the front server sent its own.
pub const SERVER_SOFTWARE: &str = concat!("rwsgi/", env!("CARGO_PKG_VERSION"));

/// Most distinct CGI keys a core remembers.
const MAX_CACHED_KEYS: usize = 256;

/// Bytes → str, one code point per byte.
pub fn latin1<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: PyUnicode_DecodeLatin1 reads b.len() bytes from a valid slice; a NULL result sets
    // a Python error, which from_owned_ptr_or_err turns into Err.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeLatin1(
            b.as_ptr().cast(),
            b.len() as ffi::Py_ssize_t,
            std::ptr::null(),
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}
