//! Request log lines in uWSGI's format, one `write(2)` each.
//!
//! `[pid: 123|app: 0|req: 5/9] 127.0.0.1 () {34 vars in 402 bytes} [Wed Nov 25 10:00:00 2026]
//! GET / => generated 11 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on
//! core 0)`, with uWSGI's `{address space usage: …} {rss usage: …}` prefix under
//! `--memory-report`.

use std::io::Write;

/// The parts of one log line.
pub struct LogLine<'a> {
    /// Worker process id.
    pub pid: u32,
    /// App index (-1 when no app matched).
    pub app: i64,
    /// Requests served by this worker, and by the whole server as far as this worker knows.
    pub worker_requests: u64,
    /// REMOTE_ADDR.
    pub remote: &'a [u8],
    /// Number of CGI vars and their size.
    pub vars: (usize, usize),
    /// Method and URI.
    pub method: &'a [u8],
    /// REQUEST_URI.
    pub uri: &'a [u8],
    /// Response bytes.
    pub tx: u64,
    /// Milliseconds.
    pub msecs: u64,
    /// SERVER_PROTOCOL.
    pub protocol: &'a [u8],
    /// Status code.
    pub status: u16,
    /// Core id.
    pub core: usize,
    /// `(vsz, rss)` in bytes under `--memory-report`.
    pub memory: Option<(u64, u64)>,
}

/// Formats the time of day the way uWSGI's log lines do (asctime), cached per second.
#[derive(Default)]
pub struct Clock {
    second: i64,
    text: Vec<u8>,
}

impl Clock {
    fn text(&mut self) -> &[u8] {
        // SAFETY: time(NULL) has no preconditions.
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        if now != self.second || self.text.is_empty() {
            self.second = now;
            self.text.clear();
            // SAFETY: localtime_r writes into tm; strftime writes at most buf.len() bytes.
            unsafe {
                let mut tm: libc::tm = std::mem::zeroed();
                libc::localtime_r(&now, &mut tm);
                let mut buf = [0u8; 64];
                let n = libc::strftime(
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    c"%a %b %e %H:%M:%S %Y".as_ptr(),
                    &tm,
                );
                self.text.extend_from_slice(&buf[..n]);
            }
        }
        &self.text
    }
}

/// Writes `line` to stderr.
pub fn write(line: &LogLine<'_>, clock: &mut Clock, buf: &mut Vec<u8>) {
    buf.clear();
    if let Some((vsz, rss)) = line.memory {
        let _ = write!(
            buf,
            "{{address space usage: {vsz} bytes/{}MB}} {{rss usage: {rss} bytes/{}MB}} ",
            vsz / (1024 * 1024),
            rss / (1024 * 1024)
        );
    }
    let _ = write!(
        buf,
        "[pid: {}|app: {}|req: {}/{}] ",
        line.pid, line.app, line.worker_requests, line.worker_requests
    );
    buf.extend_from_slice(line.remote);
    let _ = write!(
        buf,
        " () {{{} vars in {} bytes}} [",
        line.vars.0, line.vars.1
    );
    buf.extend_from_slice(clock.text());
    buf.extend_from_slice(b"] ");
    buf.extend_from_slice(line.method);
    buf.push(b' ');
    buf.extend_from_slice(line.uri);
    let _ = write!(
        buf,
        " => generated {} bytes in {} msecs (",
        line.tx, line.msecs
    );
    buf.extend_from_slice(line.protocol);
    let _ = writeln!(buf, " {}) (1 switches on core {})", line.status, line.core);
    // SAFETY: writing a byte buffer to fd 2; a short or failed log write is not worth more.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), buf.len());
    }
}
