//! `wsgi.file_wrapper`: an iterable over a file-like object, read in blocks.

use std::os::fd::RawFd;

use pyo3::prelude::*;

impl FileWrapper {
    /// `(fd, position, bytes left)` when the wrapped object is a regular file (it has a
    /// `fileno()`, and `tell()` says where the app left it), so the server can send it with
    /// `sendfile(2)`; `None` for anything else (`BytesIO`, a pipe), which is read in blocks.
    pub(crate) fn regular_file(&self, py: Python<'_>) -> Option<(RawFd, u64, u64)> {
        let f = self.filelike.bind(py);
        let fd: RawFd = f.call_method0("fileno").ok()?.extract().ok()?;
        let size = rwsgi_os::fdio::regular_file_size(fd).ok()??;
        let pos: u64 = f.call_method0("tell").ok()?.extract().ok()?;
        Some((fd, pos, size.saturating_sub(pos)))
    }
}

/// `wsgi.file_wrapper(filelike, blksize=8192)`.
#[pyclass(module = "rwsgi", name = "FileWrapper")]
pub struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> Self {
        FileWrapper {
            filelike,
            blksize: blksize.max(1),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self
            .filelike
            .bind(py)
            .call_method1("read", (self.blksize,))?;
        Ok((block.len()? > 0).then_some(block))
    }

    /// Closes the wrapped file, as PEP 3333 requires of the iterable's `close()`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let f = self.filelike.bind(py);
        if f.hasattr("close")? {
            f.call_method0("close")?;
        }
        Ok(())
    }
}
