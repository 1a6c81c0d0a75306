//! One request on a core: parse the head (HTTP or uwsgi), build the CGI vars, pick the app,
//! call it, account for it in the scoreboard and log it.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use rwsgi_os::fdio::writev_nb;
use rwsgi_os::time::unix_now;
use rwsgi_proto::http;
use rwsgi_proto::proxy::{self, Proxied, ProxyHead};
use rwsgi_proto::{httparse, uwsgi};
use rwsgi_stats::procfs::MemUsage;
use rwsgi_wsgi::vars::HttpConn;
use rwsgi_wsgi::{call_app, Body, BodyFraming, Dialect, Outcome, Writer};

use super::body::Linger;
use super::core::{Conn, Core, Step};
use crate::listen::Protocol;
use crate::reqlog::{self, LogLine, RequestFacts};

/// Most header lines an HTTP request may carry.
const MAX_HEADERS: usize = 100;
/// Unread request body already received that is skipped at once after the response; what is
/// left then is drained by the event loop, within its own bounds ([`Linger`]).
const DRAIN_LIMIT: usize = 256 * 1024;

/// Everything about a parsed head the dispatcher needs besides the vars.
struct Head {
    head_len: usize,
    framing: BodyFraming,
    dialect: Dialect,
    keep_alive: bool,
    head_only: bool,
    expect_continue: bool,
}

impl Head {
    /// What the request put on the wire: its head and the body it declared.
    fn request_bytes(&self) -> u64 {
        self.head_len as u64
            + match self.framing {
                BodyFraming::Length(n) => n,
                BodyFraming::Chunked | BodyFraming::None => 0,
            }
    }
}

impl Core<'_, '_> {
    /// Serves the request at the start of `conn.buf`, if complete.
    pub(super) fn serve(&mut self, py: Python<'_>, conn: &mut Conn) -> Step {
        // One branch when --enable-proxy-protocol is off (and after a connection's start).
        if conn.proxy_pending {
            if let Some(step) = self.take_proxy_header(conn) {
                return step;
            }
        }
        // Internal routing (`--route*`): a flag read once per request, then a predictable
        // branch where it applies. (One copy of the code: a copy with and one without
        // routing made the compiler outline the request path, +2 % instructions.)
        let routed = self.w.settings.routes.is_some();
        let parsed = match self.w.listeners[conn.listener].proto {
            Protocol::Http | Protocol::Http11 => self.parse_http(conn),
            Protocol::Uwsgi => self.parse_uwsgi(conn),
        };
        match parsed {
            Ok(Some(head)) => {
                // The routing rules run before static files, and after --post-buffering read
                // a body, as in uWSGI; they may answer the request themselves.
                if routed && head.framing == BodyFraming::None && self.apply_routes() {
                    return self.dispatch(py, conn, head, true);
                }
                // Static files before the app (one branch when there are none); a request
                // with a body always goes to the app.
                if let Some(statics) = &self.w.settings.static_files {
                    if head.framing == BodyFraming::None {
                        let step = self.serve_static(
                            statics,
                            conn,
                            head.head_len,
                            head.keep_alive,
                            head.dialect,
                            routed,
                        );
                        if let Some(step) = step {
                            return step;
                        }
                    }
                }
                if let BodyFraming::Length(n) = head.framing {
                    // --limit-post (u64::MAX when off: one compare, for bodies only): a
                    // declared length over the limit never reaches the app.
                    if n > self.w.settings.limit_post {
                        return self.refuse_too_large(conn, n);
                    }
                    if self.start_buffering(conn, head.head_len, n, head.expect_continue) {
                        return Step::Pump;
                    }
                }
                if routed && head.framing != BodyFraming::None && self.apply_routes() {
                    return self.dispatch(py, conn, head, true);
                }
                self.dispatch(py, conn, head, routed)
            }
            Ok(None) => Step::NeedMore,
            Err((status, why)) => {
                eprintln!(
                    "worker {} core {}: bad request from {}: {why}",
                    self.w.wid,
                    self.id,
                    conn.peer_for_log()
                );
                self.w
                    .scoreboard
                    .core(self.w.wid, self.id)
                    .add_read_errors(1);
                let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                self.w
                    .scoreboard
                    .responses(self.w.wid, self.id)
                    .record(code, 0);
                send_simple(conn, status);
                Step::Close
            }
        }
    }

    /// Reads the PROXY protocol header a connection may start with (uWSGI's rule: it may be
    /// absent, and then the socket's peer is the client). The client it names becomes
    /// REMOTE_ADDR / REMOTE_PORT for every request of the connection; who may set the scheme
    /// with forwarded headers stays decided by the socket's peer (the balancer), since anyone
    /// can write a header. `None`: go on with the request in `conn.buf`.
    fn take_proxy_header(&mut self, conn: &mut Conn) -> Option<Step> {
        match proxy::parse(&conn.buf) {
            Ok(None) => Some(Step::NeedMore),
            Ok(Some(ProxyHead::Absent)) => {
                conn.proxy_pending = false;
                None
            }
            Ok(Some(ProxyHead::Header { len, proxied })) => {
                conn.proxy_pending = false;
                conn.buf.drain(..len);
                if let Proxied::Addrs { src, .. } = proxied {
                    conn.remote_addr = src.ip().to_string();
                    conn.remote_port = src.port().to_string();
                }
                conn.buf.is_empty().then_some(Step::NeedMore)
            }
            Err(e) => {
                conn.proxy_pending = false;
                eprintln!(
                    "worker {} core {}: bad PROXY header from {}: {e}",
                    self.w.wid, self.id, conn.remote_addr
                );
                self.w
                    .scoreboard
                    .core(self.w.wid, self.id)
                    .add_read_errors(1);
                self.w
                    .scoreboard
                    .responses(self.w.wid, self.id)
                    .record(400, 0);
                send_simple(conn, e.status());
                Some(Step::Close)
            }
        }
    }

    /// `--limit-post`: answers 413 to a request whose Content-Length is over the limit, before
    /// the app (uWSGI logs "Invalid (too big) CONTENT_LENGTH" and drops the connection). The
    /// body the client may already be sending is discarded while the connection lingers, so
    /// the client reads the answer rather than a reset.
    fn refuse_too_large(&mut self, conn: &mut Conn, len: u64) -> Step {
        let limit = self.w.settings.limit_post;
        eprintln!(
            "worker {} core {}: request body of {len} bytes from {} is over limit-post ({limit} \
             bytes): 413",
            self.w.wid,
            self.id,
            conn.peer_for_log()
        );
        self.w
            .scoreboard
            .responses(self.w.wid, self.id)
            .record(413, 0);
        send_simple(conn, "413 Request Entity Too Large");
        conn.buf.clear();
        conn.linger = Some(Linger::start(&conn.fd, Body::default(), false));
        Step::Pump
    }

    fn parse_http(&mut self, conn: &Conn) -> Result<Option<Head>, (&'static str, String)> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let head = match http::parse_head(&conn.buf, &mut headers, self.w.settings.buffer_size) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => return Err((e.status(), e.to_string())),
        };
        let listener = &self.w.listeners[conn.listener];
        let http_conn = HttpConn {
            server_name: self.w.settings.hostname.as_bytes(),
            server_port: listener.port.as_bytes(),
            remote_addr: conn.remote_addr.as_bytes(),
            remote_port: conn.remote_port.as_bytes(),
        };
        self.vars.fill_from_http(&head, &http_conn);
        let framing = head.body;
        Ok(Some(Head {
            head_len: head.head_len,
            framing,
            dialect: Dialect::Http {
                http11: head.minor_version == 1,
            },
            keep_alive: head.keep_alive,
            head_only: head.method == "HEAD",
            expect_continue: head.expect_continue,
        }))
    }

    fn parse_uwsgi(&mut self, conn: &Conn) -> Result<Option<Head>, (&'static str, String)> {
        let head = match uwsgi::parse_head(&conn.buf, self.w.settings.buffer_size) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => return Err((e.status(), e.to_string())),
        };
        if head.modifier1 != 0 {
            return Err((
                "400 Bad Request",
                format!("unavailable modifier requested: {}", head.modifier1),
            ));
        }
        let len = head
            .content_length()
            .map_err(|e| (e.status(), e.to_string()))?;
        self.vars.fill_from_uwsgi(&head);
        let head_only = head.get(b"REQUEST_METHOD") == Some(b"HEAD");
        Ok(Some(Head {
            head_len: head.head_len,
            framing: if len > 0 {
                BodyFraming::Length(len)
            } else {
                BodyFraming::None
            },
            dialect: Dialect::Uwsgi,
            keep_alive: false,
            head_only,
            expect_continue: false,
        }))
    }

    /// Runs one parsed request through its app, in order: route, mark the core busy, set up
    /// the body and the writer, call the app, account, log, and hand the connection back.
    /// `routed`: what the routing rules decided (`self.routed`) applies.
    fn dispatch(&mut self, py: Python<'_>, conn: &mut Conn, head: Head, routed: bool) -> Step {
        let start = Instant::now();
        let w = self.w;
        let fd = conn.fd.as_raw_fd();
        let selected = self.route(conn);

        let core_slot = w.scoreboard.core(w.wid, self.id);
        let started_epoch = unix_now();
        core_slot.begin_request(started_epoch, self.vars.iter());
        rwsgi_wsgi::uwsgi_module::begin_request(fd, core_slot.requests());

        // A body --post-buffering spooled is read from its file; the socket has no more of it.
        let spooled = conn.spooled.take();
        let (body, mut writer) = self.body_and_writer(conn, &head, spooled.as_ref());
        if routed {
            writer.set_route_headers(&self.routed.headers, &self.routed.remove);
        }
        let (outcome, body, writer, app_id) = if routed && self.routed.response.is_some() {
            self.respond_routed(py, body, writer)
        } else {
            self.call(py, selected, body, writer)
        };

        let rt = start.elapsed();
        let usage = self.account(&outcome, &writer, app_id, rt, head.request_bytes());
        let policy = &w.settings.request_log.policy;
        // One branch by default: the facts are only gathered under --disable-logging.
        if routed && self.routed.no_log {
            // `donotlog:`
        } else if policy.all
            || policy.should_log(&RequestFacts {
                status: outcome.status,
                body_bytes: writer.tx.saturating_sub(writer.head_stats().1 as u64),
                micros: rt.as_micros() as u64,
                sendfile: writer.via_sendfile,
                read_error: outcome.read_error,
                write_error: outcome.write_error,
            })
        {
            self.log(&outcome, &writer, app_id, rt, started_epoch, usage);
        }
        rwsgi_wsgi::uwsgi_module::end_request();

        let step = Self::hand_back(conn, body, &writer, spooled.is_some());
        self.writer = writer;
        self.after_request(usage);
        step
    }

    /// Picks the app for the request (splitting `SCRIPT_NAME` off `PATH_INFO` for
    /// `--manage-script-name`), and applies a trusted peer's forwarded headers.
    fn route(&mut self, conn: &Conn) -> Option<(usize, Option<usize>)> {
        let script_name = self.vars.get(b"SCRIPT_NAME").unwrap_or(b"");
        let path_info = self.vars.get(b"PATH_INFO").unwrap_or(b"");
        let selected = self.w.apps.select(script_name, path_info);
        if let Some((_, Some(prefix))) = selected {
            self.scratch.clear();
            self.scratch.extend_from_slice(path_info);
            let (mount, rest) = self.scratch.split_at(prefix);
            let (mount, rest) = (mount.to_vec(), rest.to_vec());
            self.vars.set(b"SCRIPT_NAME", &mount);
            self.vars.set(b"PATH_INFO", &rest);
        }
        // Only a trusted peer's forwarded headers are looked at (--forwarded-allow-ips).
        if conn.trusted_proxy {
            let https = crate::forwarded::claims_https(self.vars.iter());
            self.vars.set_forwarded_https(https);
        }
        selected
    }

    /// The request body (from the bytes read so far, the socket, or the spooled file) and
    /// this core's writer set up for the response; sends `100 Continue` when asked.
    fn body_and_writer(
        &mut self,
        conn: &mut Conn,
        head: &Head,
        spooled: Option<&std::fs::File>,
    ) -> (Body, Writer) {
        let w = self.w;
        let fd = conn.fd.as_raw_fd();
        let buf = std::mem::take(&mut conn.buf);
        let body_buffered = buf.len() - head.head_len;
        let body_fd = spooled.map_or(fd, AsRawFd::as_raw_fd);
        let mut body = Body::new(body_fd, buf, head.head_len, head.framing);
        let needs_body = spooled.is_none()
            && match head.framing {
                BodyFraming::Length(n) => (body_buffered as u64) < n,
                BodyFraming::Chunked => true,
                BodyFraming::None => false,
            };
        let mut writer = std::mem::take(&mut self.writer);
        let policy = &self.policies[conn.listener];
        writer.set_options(&policy.response);
        writer.reset(
            fd,
            head.dialect,
            self.vars.get(b"SERVER_PROTOCOL").unwrap_or(b"HTTP/1.1"),
            head.keep_alive && !w.stopping.load(std::sync::atomic::Ordering::Relaxed),
            // Only over uwsgi, where a response always ends with the close and the client
            // sends nothing after its request, and only with the body already read: close(2)
            // with unread bytes resets the connection, discarding a held-back last segment.
            // (An HTTP client may pipeline past `Connection: close`.)
            head.dialect == Dialect::Uwsgi && !needs_body,
            head.head_only,
        );
        body.set_timeout(policy.response.timeout);
        body.set_limit(w.settings.limit_post);
        if needs_body {
            body.publish_on_wire(self.body_on_wire.clone());
            writer.watch_body(self.body_on_wire.clone());
        }
        if head.expect_continue && needs_body {
            let _ = writev_nb(fd, b"HTTP/1.1 100 Continue\r\n\r\n", &[]);
        }
        (body, writer)
    }

    /// Calls the selected app (counted in its slot), or answers 500 when no app is mounted
    /// there. Hands back the outcome, body, writer and the app's id (-1 for none).
    fn call(
        &self,
        py: Python<'_>,
        selected: Option<(usize, Option<usize>)>,
        body: Body,
        writer: Writer,
    ) -> (Outcome, Body, Writer, i64) {
        let w = self.w;
        match selected {
            Some((app_id, _)) => {
                let app_slot = w.scoreboard.try_app(w.wid, app_id);
                if let Some(a) = app_slot {
                    a.request_begin();
                }
                let (outcome, body, writer) = call_app(
                    py,
                    &w.apps.list[app_id].callable,
                    &self.template,
                    &self.vars,
                    body,
                    writer,
                );
                if let Some(a) = app_slot {
                    a.request_done(outcome.exception);
                }
                (outcome, body, writer, app_id as i64)
            }
            None => {
                let mut writer = writer;
                let _ = writer.send_error(
                    py,
                    b"500 Internal Server Error",
                    b"no python application found",
                );
                let outcome = Outcome {
                    status: 500,
                    ..Default::default()
                };
                (outcome, body, writer, -1)
            }
        }
    }

    /// Counts the finished request in the scoreboard (worker, core, responses, latency) and
    /// marks the core idle. Returns the worker's memory when an option needs it.
    fn account(
        &self,
        outcome: &Outcome,
        writer: &Writer,
        app_id: i64,
        rt: Duration,
        request_bytes: u64,
    ) -> Option<MemUsage> {
        let w = self.w;
        let (wid, micros) = (w.wid, rt.as_micros() as u64);
        let worker_slot = w.scoreboard.worker(wid);
        worker_slot.request_done(micros, writer.tx, outcome.exception);
        // The Prometheus counters: this core's own slots, plain relaxed stores.
        w.scoreboard
            .responses(wid, self.id)
            .record(outcome.status, request_bytes);
        if let Some(latency) = usize::try_from(app_id)
            .ok()
            .and_then(|app| w.scoreboard.try_latency(wid, self.id, app))
        {
            latency.observe(micros);
        }
        let core_slot = w.scoreboard.core(wid, self.id);
        if outcome.read_error {
            core_slot.add_read_errors(1);
        }
        if outcome.write_error {
            core_slot.add_write_errors(1);
        }
        core_slot.end_request();
        // Read only when asked for: /proc/self/statm costs a few µs per request.
        let usage = if w.settings.memory_report
            || w.settings.reload_on_rss > 0
            || w.settings.reload_on_as > 0
        {
            rwsgi_stats::procfs::self_memory_usage().ok()
        } else {
            None
        };
        if w.settings.memory_report {
            if let Some(m) = &usage {
                worker_slot.set_memory(m.rss, m.vsz);
            }
        }
        usage
    }

    /// Writes the request's log line.
    fn log(
        &mut self,
        outcome: &Outcome,
        writer: &Writer,
        app_id: i64,
        rt: Duration,
        started_epoch: u64,
        usage: Option<MemUsage>,
    ) {
        let w = self.w;
        let line = LogLine {
            pid: w.pid,
            wid: w.wid.get(),
            app: app_id,
            worker_requests: w.scoreboard.worker(w.wid).requests(),
            request: &self.vars,
            remote_addr: reqlog::client_addr(&self.vars, w.settings.request_log.x_forwarded_for),
            tx: writer.tx,
            head: writer.head_stats(),
            micros: rt.as_micros() as u64,
            started: started_epoch,
            protocol: writer.protocol(),
            status: outcome.status,
            core: self.id,
            io_errors: (outcome.read_error, outcome.write_error),
            memory: usage
                .filter(|_| w.settings.memory_report)
                .map(|m| (m.vsz, m.rss)),
        };
        reqlog::write(
            &line,
            &w.settings.request_log,
            &mut self.clock,
            &mut self.log_buf,
        );
    }

    /// Hands the buffers back to the connection and says what comes next: skips what the app
    /// left of the body, what has arrived now, and the rest by the event loop after the
    /// response (lingering).
    fn hand_back(conn: &mut Conn, mut body: Body, writer: &Writer, spooled: bool) -> Step {
        let off_the_wire = spooled || body.is_complete() || body.drain_ready(DRAIN_LIMIT);
        let step = if off_the_wire {
            let (mut buf, pos) = body.into_buffer();
            buf.drain(..pos.min(buf.len()));
            conn.buf = buf;
            Step::Served(writer.keep_alive())
        } else if writer.write_error {
            Step::Close
        } else {
            conn.linger = Some(Linger::start(&conn.fd, body, writer.keep_alive()));
            Step::Pump
        };
        conn.served += 1;
        conn.last_active = Instant::now();
        step
    }

    /// The worker's limits after a request: `--max-requests`, `--reload-on-rss`, `--reload-on-as`.
    fn after_request(&self, usage: Option<MemUsage>) {
        let w = self.w;
        if w.settings.reaper {
            // --reaper: children the app started and never waited for leave no zombies.
            while rwsgi_os::process::reap_child().is_some() {}
        }
        if w.count_served() {
            // --max-requests reached: the worker winds down.
        } else if let Some(m) =
            usage.filter(|m| w.settings.reload_on_rss > 0 && m.rss > w.settings.reload_on_rss)
        {
            eprintln!(
                "...The work of process {} is done (reload-on-rss: rss {} MB > {} MB). Seeya!",
                w.pid,
                m.rss >> 20,
                w.settings.reload_on_rss >> 20
            );
            w.request_stop();
        } else if let Some(m) =
            usage.filter(|m| w.settings.reload_on_as > 0 && m.vsz >= w.settings.reload_on_as)
        {
            eprintln!(
                "...The work of process {} is done (reload-on-as: vsz {} MB >= {} MB). Seeya!",
                w.pid,
                m.vsz >> 20,
                w.settings.reload_on_as >> 20
            );
            w.request_stop();
        }
    }
}

/// A canned response with no app involved (bad request, too large, ...). Best effort.
fn send_simple(conn: &Conn, status: &str) {
    let reason = status.split_once(' ').map_or(status, |(_, r)| r);
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}",
        reason.len()
    );
    let _ = writev_nb(conn.fd.as_raw_fd(), msg.as_bytes(), &[]);
}
