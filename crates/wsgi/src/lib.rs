//! The PyO3 bridge of rwsgi: the embedded CPython, app loading, and one WSGI call per request
//! (PEP 3333): environ, `wsgi.input`, `start_response`, `write()`, iterating and closing the
//! response. Socket I/O during a request happens here, through [`rwsgi_os::fdio`], with the GIL
//! released whenever the client makes us wait.

/// `eprintln!` in one `write(2)` per line ([`rwsgi_os::process::stderr_line`]): std's
/// writes a line in pieces, which interleave with other processes' lines in a shared log.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        rwsgi_os::process::stderr_line(format_args!($($arg)*))
    };
}

pub mod app;
pub mod autoreload;
pub mod environ;
pub mod filewrapper;
pub mod input;
pub mod interp;
pub mod response;
pub mod uwsgi_module;
pub mod vars;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

pub use app::{App, AppError, AppSource, AppSpec, Apps, PasteSpec};
pub use environ::{EnvironTemplate, ServerFlags};
pub use input::{Body, BodyFailure, BodyFraming, BodyOnWire, Drain, Input, LINGER_MAX_BYTES};
pub use response::{Dialect, ResponseOptions, StartResponse, Writer};
pub use vars::RequestVars;

/// What happened to one request, for the scoreboard and the request log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// The status code sent (500 for an exception before the headers went out).
    pub status: u16,
    /// The app raised (counted against worker, core and app). Not when the request body
    /// failed under it: that is the client's fault ([`Outcome::read_error`]).
    pub exception: bool,
    /// The client failed while the body was read.
    pub read_error: bool,
    /// The client failed while the response was written.
    pub write_error: bool,
}

const ERROR_500: &[u8] = b"Internal Server Error";

/// Runs `app` for one request whose CGI vars are `vars`, reading the body through `body` and
/// writing the response through `writer`. Both are handed back for the connection to reuse.
pub fn call_app(
    py: Python<'_>,
    app: &Py<PyAny>,
    template: &EnvironTemplate,
    vars: &RequestVars,
    body: Body,
    writer: Writer,
) -> (Outcome, Body, Writer) {
    let mut outcome = Outcome::default();
    let input = match Bound::new(py, Input::new(body)) {
        Ok(i) => i,
        Err(e) => {
            e.print(py);
            return (outcome, Body::default(), writer);
        }
    };
    let sr = match Bound::new(py, StartResponse::new(writer)) {
        Ok(s) => s,
        Err(e) => {
            e.print(py);
            let body = input.borrow().take_body();
            return (outcome, body, Writer::default());
        }
    };
    let result = template.build(py, vars, input.as_any()).and_then(|env| {
        let done = app
            .bind(py)
            .call1((&env, &sr))
            .and_then(|iterable| respond(py, &sr, &iterable));
        if template.clear_environ {
            // uWSGI's cheat allocator: the request is over (close() was called), and an app
            // that kept its environ finds it empty.
            env.clear();
        }
        done
    });
    let sr_ref = sr.borrow();
    let body = input.borrow().take_body();
    if let (Err(err), Some(failure)) = (&result, body.failure()) {
        // The app raised because wsgi.input did: the client sent a broken, stalled or cut-off
        // body. Answered for the client's fault (if it still can be), not counted against the
        // app. The connection cannot carry another request either way.
        eprintln!("request body from the client failed: {err}");
        sr_ref.with_writer(|w| {
            w.force_close();
            if let (Some(status), false) = (failure.status(), w.headers_sent() || w.write_error) {
                let reason = status.splitn(2, |&b| b == b' ').nth(1).unwrap_or(status);
                let _ = w.send_error(py, status, reason);
            }
        });
    } else if let Err(err) = result {
        outcome.exception = true;
        err.print(py);
        sr_ref.with_writer(|w| {
            if !w.write_error {
                if w.headers_sent() {
                    // Too late for a 500: cut the response short so the client notices.
                    w.force_close();
                } else {
                    let _ = w.send_error(py, b"500 Internal Server Error", ERROR_500);
                }
            }
        });
    }
    let writer = sr_ref.take_writer();
    outcome.status = writer.status_code();
    outcome.read_error = body.read_error();
    outcome.write_error = writer.write_error;
    (outcome, body, writer)
}

/// Sends the iterable the app returned, then always calls its `close()`.
fn respond(
    py: Python<'_>,
    sr: &Bound<'_, StartResponse>,
    iterable: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let sent = send_iterable(py, sr, iterable);
    // Lists, tuples and bytes have no close(); asking would cost an AttributeError per request.
    let plain = iterable.is_exact_instance_of::<PyList>()
        || iterable.is_exact_instance_of::<pyo3::types::PyTuple>()
        || iterable.is_exact_instance_of::<PyBytes>();
    let closed = if !plain && iterable.hasattr("close")? {
        iterable.call_method0("close").map(drop)
    } else {
        Ok(())
    };
    sent?;
    let sr = sr.borrow();
    sr.with_writer(|w| {
        if !w.headers_set() {
            return Err(closed.err().unwrap_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err(
                    "the app returned without calling start_response()",
                )
            }));
        }
        // The whole body was produced: end the response properly (the last chunk, the
        // Content-Length check) even when close() raised, which is then reported.
        if let Err(e) = w.finish(py) {
            w.write_failed(e)?;
        }
        closed
    })
}

fn not_bytes(item: &Bound<'_, PyAny>) -> PyErr {
    let tname = item
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    pyo3::exceptions::PyTypeError::new_err(format!(
        "the response iterable must yield bytes, not {tname}"
    ))
}

fn send_iterable(
    py: Python<'_>,
    sr: &Bound<'_, StartResponse>,
    iterable: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let srr = sr.borrow();
    if let Ok(bytes) = iterable.cast::<PyBytes>() {
        // Not WSGI, but uWSGI sends a bare bytes object as the body, and apps rely on it.
        let data = bytes.as_bytes();
        return srr.with_writer(|w| {
            if !w.headers_set() {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the app returned without calling start_response()",
                ));
            }
            match w.send_body(py, data, false, Some(data.len() as u64)) {
                Ok(()) => Ok(()),
                Err(e) => w.write_failed(e),
            }
        });
    }
    if let Ok(list) = iterable.cast_exact::<PyList>() {
        // A list is complete already: its length is known (no chunked coding needed) and its
        // items may be coalesced into as few writes as possible.
        let mut total = 0u64;
        for item in list.iter() {
            let b = item.cast::<PyBytes>().map_err(|_| not_bytes(&item))?;
            total += b.as_bytes().len() as u64;
        }
        return srr.with_writer(|w| {
            if !w.headers_set() {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the app returned without calling start_response()",
                ));
            }
            for item in list.iter() {
                let b = item
                    .cast_into::<PyBytes>()
                    .map_err(|e| not_bytes(e.into_inner().as_any()))?;
                if let Err(e) = w.send_body(py, b.as_bytes(), false, Some(total)) {
                    // Raised, or (--disable-write-exception) the response ends here.
                    return w.write_failed(e);
                }
            }
            Ok(())
        });
    }
    if let Ok(wrapper) = iterable.cast::<crate::filewrapper::FileWrapper>() {
        // A regular file goes out with sendfile(2), never copied through Python.
        if let Some((fd, offset, len)) = wrapper.borrow().regular_file(py) {
            let sent = srr.with_writer(|w| {
                if !w.headers_set() {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the app returned without calling start_response()",
                    ));
                }
                match w.send_file(py, fd, offset, len) {
                    Ok(sent) => Ok(sent),
                    Err(e) => w.write_failed(e).map(|()| true),
                }
            })?;
            if sent {
                return Ok(());
            }
        }
    }
    for item in iterable.try_iter()? {
        let item = item?;
        let b = item.cast::<PyBytes>().map_err(|_| not_bytes(&item))?;
        if b.as_bytes().is_empty() {
            continue;
        }
        let sent = srr.with_writer(|w| {
            if !w.headers_set() {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "response body yielded before start_response()",
                ));
            }
            // PEP 3333: a block from an iterator must not be held back.
            match w.send_body(py, b.as_bytes(), true, None) {
                Ok(()) => Ok(true),
                Err(e) => w.write_failed(e).map(|()| false),
            }
        })?;
        if !sent {
            // --disable-write-exception: the client is gone, so the rest is not asked for.
            break;
        }
    }
    Ok(())
}
