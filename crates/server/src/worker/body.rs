//! Request bodies the event loop reads without the app: `--post-buffering` (the whole body is
//! read before the app is called, so a client that trickles it ties up no core) and lingering
//! (what the app left unread is drained after the response, so the client sees the response
//! rather than a reset, and a kept-alive connection stays in step).

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use rwsgi_os::fdio::{read_append, read_nb, writev_nb};
use rwsgi_wsgi::{Body, Drain, LINGER_MAX_BYTES};

use super::core::{Conn, Core};

/// How long after its response a connection may take to deliver the unread rest of its
/// request body (or, before a close, its last bytes), as nginx's `lingering_time` bounds it.
pub(super) const LINGER_TIME: Duration = Duration::from_secs(2);

/// Most bytes one read adds to a body `--post-buffering` keeps in memory.
const MEMORY_READ: usize = 64 * 1024;

/// A connection whose response went out before its request body was read to the end.
pub(super) struct Linger {
    /// The body, still framed: draining it finds where the next request starts.
    body: Body,
    /// The response kept the connection: drain the body and serve what follows. Otherwise the
    /// write side is shut already and everything the client still sends is discarded.
    keep: bool,
    until: Instant,
    budget: u64,
}

impl Linger {
    /// Starts lingering over `body`. Closing: shuts the write side now, so the client reads the
    /// response and the FIN while its last bytes are discarded here.
    pub(super) fn start(socket: impl AsFd, body: Body, keep: bool) -> Box<Linger> {
        if !keep {
            // A failure (the peer is gone already) leaves nothing to linger for but is harmless.
            let _ = rwsgi_os::net::shutdown_write(socket);
        }
        Box::new(Linger {
            body,
            keep,
            until: Instant::now() + LINGER_TIME,
            budget: LINGER_MAX_BYTES,
        })
    }

    /// Past its time: the connection is closed whatever is left.
    pub(super) fn expired(&self, now: Instant) -> bool {
        now >= self.until
    }
}

/// A request body `--post-buffering` is reading before the app is called.
pub(super) enum Buffering {
    /// Into the connection's buffer, until it holds `total` bytes (head and body).
    Memory { total: usize },
    /// Into an unlinked temporary file; `left` body bytes are still to come.
    File { file: File, left: u64 },
}

/// What a connection's body reading came to.
pub(super) enum Pump {
    /// Nothing of the sort going on, or it just ended: serve the connection's buffer.
    Serve,
    /// Waiting for the client.
    Wait,
    /// Give up on the connection.
    Close,
}

impl Core<'_, '_> {
    /// Starts `--post-buffering` for a request whose head is `head_len` bytes and whose body is
    /// `body_len` bytes, unless the body is already complete. True when the request must wait.
    pub(super) fn start_buffering(
        &mut self,
        conn: &mut Conn,
        head_len: usize,
        body_len: u64,
        expect_continue: bool,
    ) -> bool {
        let buffered = (conn.buf.len() - head_len) as u64;
        if self.w.settings.post_buffering == 0 || conn.spooled.is_some() || buffered >= body_len {
            return false;
        }
        if expect_continue {
            let _ = writev_nb(conn.fd.as_raw_fd(), b"HTTP/1.1 100 Continue\r\n\r\n", &[]);
        }
        if body_len < self.w.settings.post_buffering {
            let total = head_len + body_len as usize;
            conn.buffering = Some(Box::new(Buffering::Memory { total }));
            return true;
        }
        let spooled = temp_file().and_then(|mut file| {
            file.write_all(&conn.buf[head_len..])?;
            Ok(file)
        });
        match spooled {
            Ok(file) => {
                conn.buf.truncate(head_len);
                conn.buffering = Some(Box::new(Buffering::File {
                    file,
                    left: body_len - buffered,
                }));
                true
            }
            Err(e) => {
                // The app still gets the body, read from the socket as without the option.
                eprintln!(
                    "worker {} core {}: --post-buffering: temporary file: {e}",
                    self.w.wid, self.id
                );
                false
            }
        }
    }

    /// Moves a buffering or lingering connection along with what the client sent.
    pub(super) fn pump(&mut self, slot: usize) -> Pump {
        let bufsize = self.w.settings.post_buffering_bufsize;
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Pump::Wait;
        };
        if conn.sending.is_some() {
            return self.pump_transfer(slot);
        }
        if let Some(linger) = conn.linger.take() {
            return match linger_more(conn.fd.as_raw_fd(), linger) {
                LingerStep::Resume(buf) => {
                    conn.buf = buf;
                    conn.last_active = Instant::now();
                    Pump::Serve
                }
                LingerStep::Wait(linger) => {
                    conn.linger = Some(linger);
                    Pump::Wait
                }
                LingerStep::Close => Pump::Close,
            };
        }
        let Some(buffering) = conn.buffering.as_mut() else {
            return Pump::Serve;
        };
        let fd = conn.fd.as_raw_fd();
        let step = match &mut **buffering {
            Buffering::Memory { total } => {
                // The buffer grows with what arrives, not with what the head claims.
                let want = (*total - conn.buf.len()).min(MEMORY_READ);
                match read_append(fd, &mut conn.buf, want) {
                    Ok(Some(0)) | Err(_) => Err(()),
                    Ok(Some(_)) => Ok(conn.buf.len() >= *total),
                    Ok(None) => return Pump::Wait,
                }
            }
            Buffering::File { file, left } => {
                // Everything the socket has now, one --post-buffering-bufsize read at a time.
                let mut progress = false;
                loop {
                    let want = (*left).min(bufsize as u64) as usize;
                    self.spool_buf.resize(want, 0);
                    match read_nb(fd, &mut self.spool_buf) {
                        Ok(Some(0)) | Err(_) => break Err(()),
                        Ok(Some(n)) => {
                            if file.write_all(&self.spool_buf[..n]).is_err() {
                                break Err(());
                            }
                            progress = true;
                            *left -= n as u64;
                            if *left == 0 {
                                break Ok(true);
                            }
                        }
                        Ok(None) if progress => break Ok(false),
                        Ok(None) => return Pump::Wait,
                    }
                }
            }
        };
        conn.last_active = Instant::now();
        match step {
            Err(()) => {
                self.w
                    .scoreboard
                    .core(self.w.wid, self.id)
                    .add_read_errors(1);
                Pump::Close
            }
            Ok(false) => Pump::Wait,
            Ok(true) => {
                if let Some(b) = conn.buffering.take() {
                    if let Buffering::File { mut file, .. } = *b {
                        if file.rewind().is_err() {
                            return Pump::Close;
                        }
                        conn.spooled = Some(file);
                    }
                }
                Pump::Serve
            }
        }
    }
}

enum LingerStep {
    /// The body is drained; the connection goes on with this buffer (the next request).
    Resume(Vec<u8>),
    /// Waiting for more of the client's bytes.
    Wait(Box<Linger>),
    Close,
}

/// Drains (or, closing, discards) what the client sent after its response.
fn linger_more(fd: RawFd, mut linger: Box<Linger>) -> LingerStep {
    if linger.keep {
        return match linger.body.drain(&mut linger.budget) {
            Drain::Complete => {
                let (mut buf, pos) = linger.body.into_buffer();
                buf.drain(..pos.min(buf.len()));
                LingerStep::Resume(buf)
            }
            Drain::Pending => LingerStep::Wait(linger),
            Drain::OverBudget | Drain::Failed => LingerStep::Close,
        };
    }
    let mut scratch = [0u8; 8192];
    loop {
        match read_nb(fd, &mut scratch) {
            Ok(Some(n)) if n > 0 => {
                linger.budget = linger.budget.saturating_sub(n as u64);
                if linger.budget == 0 {
                    return LingerStep::Close;
                }
            }
            Ok(None) => return LingerStep::Wait(linger),
            // The client's FIN (or a failure): nothing is left to lose.
            _ => return LingerStep::Close,
        }
    }
}

/// An unlinked temporary file in `$TMPDIR` (`O_TMPFILE` where the file system has it), as
/// uWSGI spools large bodies.
fn temp_file() -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    let tmpfile = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(&dir);
    if let Ok(f) = tmpfile {
        return Ok(f);
    }
    // No O_TMPFILE: a fresh name, created exclusively and unlinked at once.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!("rwsgi-body-{}-{nanos}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}
