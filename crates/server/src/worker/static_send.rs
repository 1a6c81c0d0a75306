//! Static files from the core's event loop: a request a `--static-map` / `--check-static`
//! names is answered before Python is involved, the head with one `send(MSG_MORE)` and the
//! body with `sendfile(2)`. What does not go out at once (a large file, a slow client) is left
//! to the loop, which goes on when the socket is writable, so no core waits for a reader.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use rwsgi_os::fdio::{send_more_nb, sendfile_nb};
use rwsgi_os::poller::{READ, WRITE};
use rwsgi_os::time::unix_now;
use rwsgi_wsgi::Dialect;

use super::body::Pump;
use super::core::{Conn, Core, Step};
use crate::reqlog::{self, LogLine, RequestFacts};
use crate::static_files::{StaticFiles, StaticRequest};

/// Most file bytes one connection sends per wake-up, so a fast reader of a large file does
/// not starve the core's other connections.
const SEND_PER_WAKE: u64 = 4 << 20;

/// A static response being sent.
pub(super) struct Transfer {
    head: Vec<u8>,
    head_sent: usize,
    file: Option<File>,
    offset: u64,
    left: u64,
    /// Keep the connection after the response.
    keep: bool,
    /// The connection is watched for writability (rather than readability).
    watching_write: bool,
}

enum Progress {
    Done,
    Wait,
    Failed,
}

impl Transfer {
    /// Sends what the socket takes now, at most [`SEND_PER_WAKE`] bytes of the file.
    fn advance(&mut self, fd: RawFd) -> Progress {
        while self.head_sent < self.head.len() {
            let rest = &self.head[self.head_sent..];
            // MSG_MORE: the head waits for the file's first bytes, one segment for both.
            let sent = if self.left > 0 {
                send_more_nb(fd, rest, &[])
            } else {
                rwsgi_os::fdio::writev_nb(fd, rest, &[])
            };
            match sent {
                Ok(Some(n)) => self.head_sent += n,
                Ok(None) => return Progress::Wait,
                Err(_) => return Progress::Failed,
            }
        }
        let Some(file) = &self.file else {
            return Progress::Done;
        };
        let mut budget = SEND_PER_WAKE;
        while self.left > 0 {
            if budget == 0 {
                return Progress::Wait;
            }
            let count = self.left.min(budget) as usize;
            match sendfile_nb(fd, file.as_raw_fd(), &mut self.offset, count) {
                // The file shrank under us: the promised length can no longer be kept.
                Ok(Some(0)) => return Progress::Failed,
                Ok(Some(n)) => {
                    self.left -= n as u64;
                    budget -= n as u64;
                }
                Ok(None) => return Progress::Wait,
                Err(_) => return Progress::Failed,
            }
        }
        Progress::Done
    }

    /// Watch the connection for writability from now on (it is not yet registered).
    pub(super) fn mark_watching_write(&mut self) {
        self.watching_write = true;
    }
}

impl Core<'_, '_> {
    /// Serves the parsed request in `conn` from the static maps, if one names a file;
    /// `None` sends it on to the app. `routed`: the routing rules' `addheader:` and
    /// `donotlog:` apply (`self.routed`).
    pub(super) fn serve_static(
        &mut self,
        statics: &StaticFiles,
        conn: &mut Conn,
        head_len: usize,
        keep_alive: bool,
        dialect: Dialect,
        routed: bool,
    ) -> Option<Step> {
        let start = Instant::now();
        let w = self.w;
        let vars = &self.vars;
        let req = StaticRequest {
            method: vars.get(b"REQUEST_METHOD").unwrap_or(b""),
            path_info: vars.get(b"PATH_INFO").unwrap_or(b""),
            uri: vars.get(b"REQUEST_URI").unwrap_or(b""),
            if_modified_since: vars.get(b"HTTP_IF_MODIFIED_SINCE"),
            range: vars.get(b"HTTP_RANGE"),
            accept_encoding: vars.get(b"HTTP_ACCEPT_ENCODING"),
        };
        let found = statics.find(&req)?;
        let started_epoch = unix_now();

        let protocol = match vars.get(b"SERVER_PROTOCOL") {
            Some(p) if p.starts_with(b"HTTP/") && p.len() <= 16 => p,
            _ => b"HTTP/1.1",
        };
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(protocol);
        head.push(b' ');
        let plan = statics.render_head(&found, &req, started_epoch as i64, &mut head);
        let file = (plan.len > 0).then_some(found.file);
        if let Some(extra) = &w.settings.response.extra_headers {
            head.extend_from_slice(extra);
        }
        if routed {
            head.extend_from_slice(&self.routed.headers);
        }
        let keep = keep_alive
            && matches!(dialect, Dialect::Http { .. })
            && !w.settings.response.always_close
            && !w.stopping.load(std::sync::atomic::Ordering::Relaxed);
        if let Dialect::Http { http11 } = dialect {
            if !keep {
                head.extend_from_slice(b"Connection: close\r\n");
            } else if !http11 {
                head.extend_from_slice(b"Connection: keep-alive\r\n");
            }
        }
        head.extend_from_slice(b"\r\n");
        // Header lines: every line but the status line and the blank one.
        let head_stats = (
            head.iter()
                .filter(|&&b| b == b'\n')
                .count()
                .saturating_sub(2),
            head.len(),
        );
        let tx = head.len() as u64 + plan.len;

        let core_slot = w.scoreboard.core(w.wid, self.id);
        core_slot.begin_request(started_epoch, vars.iter());
        conn.buf.drain(..head_len.min(conn.buf.len()));
        let mut transfer = Box::new(Transfer {
            head,
            head_sent: 0,
            file,
            offset: plan.offset,
            left: plan.len,
            keep,
            watching_write: false,
        });
        let progress = transfer.advance(conn.fd.as_raw_fd());
        core_slot.add_static_request();
        let write_error = matches!(progress, Progress::Failed);
        if write_error {
            core_slot.add_write_errors(1);
        }
        let rt = start.elapsed();
        // tx counts the response as planned: a transfer the loop finishes later is not
        // revisited (a failed one counts as a write error).
        let worker_slot = w.scoreboard.worker(w.wid);
        worker_slot.request_done(rt.as_micros() as u64, tx, false);
        core_slot.end_request();
        let policy = &w.settings.request_log.policy;
        if routed && self.routed.no_log {
            // `donotlog:`
        } else if policy.all
            || policy.should_log(&RequestFacts {
                status: plan.status,
                body_bytes: tx.saturating_sub(head_stats.1 as u64),
                micros: rt.as_micros() as u64,
                // A file's body always goes out with sendfile(2).
                sendfile: true,
                read_error: false,
                write_error,
            })
        {
            let line = LogLine {
                pid: w.pid,
                wid: w.wid.get(),
                app: -1,
                worker_requests: worker_slot.requests(),
                request: vars,
                remote_addr: reqlog::client_addr(vars, w.settings.request_log.x_forwarded_for),
                tx,
                head: head_stats,
                micros: rt.as_micros() as u64,
                started: started_epoch,
                protocol,
                status: plan.status,
                core: self.id,
                io_errors: (false, write_error),
                memory: None,
            };
            reqlog::write(
                &line,
                &w.settings.request_log,
                &mut self.clock,
                &mut self.log_buf,
            );
        }
        conn.served += 1;
        conn.last_active = Instant::now();
        w.count_served();
        Some(match progress {
            Progress::Done => Step::Served(keep),
            Progress::Failed => Step::Close,
            Progress::Wait => {
                core_slot.add_offloaded_request();
                conn.sending = Some(transfer);
                Step::Pump
            }
        })
    }

    /// Moves a connection's static transfer along; its interest goes back to reading when
    /// the response is out and the connection is kept.
    pub(super) fn pump_transfer(&mut self, slot: usize) -> Pump {
        let token = self.conn_base() + slot as u64;
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Pump::Wait;
        };
        let Some(mut transfer) = conn.sending.take() else {
            return Pump::Serve;
        };
        match transfer.advance(conn.fd.as_raw_fd()) {
            Progress::Wait => {
                conn.last_active = Instant::now();
                if conn.registered && !transfer.watching_write {
                    if self.poller.modify(&conn.fd, token, WRITE).is_err() {
                        return Pump::Close;
                    }
                    transfer.watching_write = true;
                }
                conn.sending = Some(transfer);
                Pump::Wait
            }
            Progress::Failed => {
                self.w
                    .scoreboard
                    .core(self.w.wid, self.id)
                    .add_write_errors(1);
                Pump::Close
            }
            Progress::Done if !transfer.keep => Pump::Close,
            Progress::Done => {
                conn.last_active = Instant::now();
                if transfer.watching_write && self.poller.modify(&conn.fd, token, READ).is_err() {
                    return Pump::Close;
                }
                Pump::Serve
            }
        }
    }
}
