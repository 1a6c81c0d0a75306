//! `--py-autoreload N`: a daemon thread that checks, every N seconds, the files of every loaded
//! Python module, and asks the master for a graceful reload (SIGHUP) when one changes, as
//! uWSGI's python reloader does. It runs in one worker only, so one change is one reload.
//!
//! The loop is Python because it walks `sys.modules`; it holds the GIL only while it looks
//! (one `stat` per module every N seconds) and sleeps with it released.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The reloader: remembers each module file's first-seen modification time and signals the
/// master on the first difference (modules imported later are seen when they appear).
const RELOADER: &std::ffi::CStr = c"
import os, signal, sys, threading, time

def _rwsgi_reloader(interval, master):
    seen = {}
    while True:
        for mod in list(sys.modules.values()):
            path = getattr(mod, '__file__', None)
            if not path:
                continue
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            if seen.setdefault(path, mtime) != mtime:
                print('[rwsgi-python-reloader] module/file %s has been modified' % path,
                      file=sys.stderr, flush=True)
                os.kill(master, signal.SIGHUP)
                return
        time.sleep(interval)

threading.Thread(target=_rwsgi_reloader, args=(interval, master),
                 name='rwsgi-python-reloader', daemon=True).start()
";

/// Starts the reloader thread in this process: every `interval_s` seconds it compares the
/// loaded modules' files and sends SIGHUP to `master` when one has changed.
pub fn start(interval_s: u64, master: u32) -> PyResult<()> {
    Python::attach(|py| {
        let globals = PyDict::new(py);
        globals.set_item("interval", interval_s)?;
        globals.set_item("master", master)?;
        py.run(RELOADER, Some(&globals), None)
    })
}
