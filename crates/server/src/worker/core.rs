//! One core: an event loop over the listening sockets and this core's client connections.
//!
//! The core holds the GIL while it works and releases it only to wait (in `epoll_wait`, or in
//! `poll` when a client is slow), so a single-threaded worker never pays for GIL hand-offs and
//! a multi-threaded one lets its other cores run whenever this one waits.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use rwsgi_os::fdio::read_append;
use rwsgi_os::poller::{Poller, EXCLUSIVE, READ, WRITE};
use rwsgi_wsgi::{BodyOnWire, EnvironTemplate, RequestVars, ServerFlags, Writer};

use super::body::{Buffering, Linger, Pump};
use super::static_send::Transfer;
use super::WorkerShared;
use crate::reqlog::{Clock, LogBuffers};
use crate::settings::ConnPolicy;

/// A client connection owned by this core.
pub(super) struct Conn {
    pub fd: OwnedFd,
    pub listener: usize,
    pub buf: Vec<u8>,
    pub remote_addr: String,
    pub remote_port: String,
    pub served: u32,
    pub accepted: Instant,
    /// The last time the client sent bytes (or got a response).
    pub last_active: Instant,
    /// Watched by this core's epoll (a connection answered at once on accept never is).
    pub registered: bool,
    /// The peer may set `wsgi.url_scheme` with forwarded headers (`--forwarded-allow-ips`).
    pub trusted_proxy: bool,
    /// `--post-buffering` is reading the request body.
    pub buffering: Option<Box<Buffering>>,
    /// `--post-buffering` read the request body into this file (rewound).
    pub spooled: Option<std::fs::File>,
    /// The response is out; the rest of the request body is being drained or discarded.
    pub linger: Option<Box<Linger>>,
    /// A static file's response is going out (`--static-map`); the connection is watched
    /// for writability meanwhile.
    pub sending: Option<Box<Transfer>>,
    /// A PROXY protocol header may still come first (`--enable-proxy-protocol`, HTTP sockets,
    /// until the connection's first bytes have been looked at).
    pub proxy_pending: bool,
}

impl Conn {
    /// Who the client is, for a log line (a UNIX socket's peer has no address).
    pub(super) fn peer_for_log(&self) -> &str {
        if self.remote_addr.is_empty() {
            "unix socket"
        } else {
            &self.remote_addr
        }
    }
}

/// What happened to a connection after some of its bytes were handled.
pub(super) enum Step {
    /// The request head is not complete yet.
    NeedMore,
    /// A response was sent; keep the connection if `true`.
    Served(bool),
    /// Close now (error answered, or peer gone).
    Close,
    /// The request is waiting: its body is being read (`--post-buffering`) or drained
    /// after the response ([`Linger`]), by [`Core::pump`].
    Pump,
}

pub(super) struct Core<'w, 'a> {
    pub w: &'w WorkerShared<'a>,
    pub id: usize,
    pub poller: Poller,
    pub conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    pub vars: RequestVars,
    /// The response writer, reused (with its buffers) by every request of this core.
    pub writer: Writer,
    pub log_buf: LogBuffers,
    pub clock: Clock,
    pub template: EnvironTemplate,
    pub scratch: Vec<u8>,
    /// One read's buffer while `--post-buffering` spools a body to its file.
    pub spool_buf: Vec<u8>,
    /// Where the body being read publishes how much of it is still to come (for the writer).
    pub body_on_wire: BodyOnWire,
    /// Each listening socket's connection policy (timeouts, PROXY header), by listener index.
    pub policies: Vec<ConnPolicy>,
    /// What the routing rules (`--route*`) decided for the current request.
    pub routed: crate::routing::Routed,
}

/// Token of the wake-up eventfd; listeners are 0..L, connections L+1+slot.
const WAKE: u64 = u64::MAX;
/// Tokens of the uWSGI signal channels: this worker's, then the pool's (`signal_fds`).
const SIGNAL_OWN: u64 = u64::MAX - 2;
/// A connection that never sent a complete request gets this long once the worker stops.
const FRESH_CONN_GRACE: Duration = Duration::from_secs(2);
/// Most connections accepted back to back (each answered and closed) before the core looks at
/// its other connections again.
const ACCEPT_BATCH: u32 = 16;
/// How often idle connections are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Bytes asked of `read(2)` at a time.
const READ_SIZE: usize = 16 * 1024;

pub(super) fn run(w: &WorkerShared<'_>, core_id: usize) -> i32 {
    Python::attach(|py| {
        let core = Core::new(py, w, core_id);
        match core {
            Ok(mut core) => core.event_loop(py),
            Err(e) => {
                eprintln!("worker {} core {core_id}: {e}", w.wid);
                1
            }
        }
    })
}

impl<'w, 'a> Core<'w, 'a> {
    fn new(py: Python<'_>, w: &'w WorkerShared<'a>, id: usize) -> io::Result<Self> {
        let poller = Poller::new()?;
        for (i, l) in w.listeners.iter().enumerate() {
            poller.add(&l.fd, i as u64, READ | EXCLUSIVE)?;
        }
        poller.add(w.wake_fd, WAKE, READ)?;
        // Watched, never polled: a signal costs a request nothing. Exclusive, so one core (of
        // one worker, for the pool) wakes per signal.
        for (i, fd) in w.signal_fds.iter().enumerate() {
            poller.add(fd, SIGNAL_OWN + i as u64, READ | EXCLUSIVE)?;
        }
        rwsgi_wsgi::uwsgi_module::enter_core(id);
        let template = EnvironTemplate::new(
            py,
            ServerFlags {
                multithread: w.settings.threads > 1,
                multiprocess: w.settings.processes > 1,
                worker_id: w.wid.get(),
                core_id: id,
                file_wrapper: w.settings.wsgi_file_wrapper,
                clear_environ: w.settings.wsgi_env_cheat,
            },
        )
        .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Core {
            w,
            id,
            poller,
            conns: Vec::new(),
            free: Vec::new(),
            vars: RequestVars::new(),
            writer: Writer::default(),
            log_buf: LogBuffers {
                line: Vec::with_capacity(512),
                ..Default::default()
            },
            clock: Clock::default(),
            template,
            scratch: Vec::new(),
            spool_buf: Vec::new(),
            body_on_wire: BodyOnWire::default(),
            policies: w
                .listeners
                .iter()
                .map(|l| w.settings.conn_policy(l.proto))
                .collect(),
            routed: crate::routing::Routed::default(),
        })
    }

    pub(super) fn conn_base(&self) -> u64 {
        self.w.listeners.len() as u64 + 1
    }

    fn event_loop(&mut self, py: Python<'_>) -> i32 {
        let mut stop_deadline: Option<Instant> = None;
        let mut last_sweep = Instant::now();
        loop {
            if stop_deadline.is_none() && self.w.stopping.load(Ordering::Relaxed) {
                stop_deadline = Some(self.begin_stop());
            }
            let timeout = if stop_deadline.is_some() {
                Some(Duration::from_millis(50))
            } else if self.free.len() < self.conns.len() {
                Some(SWEEP_EVERY)
            } else {
                None
            };
            let n = {
                let poller = &mut self.poller;
                match py.detach(|| poller.wait(timeout)) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("worker {} core {}: epoll_wait: {e}", self.w.wid, self.id);
                        return 1;
                    }
                }
            };
            for i in 0..n {
                let ev = self.poller.event(i);
                if ev.token == WAKE {
                    self.w.stopping.store(true, Ordering::Relaxed);
                } else if ev.token < self.w.listeners.len() as u64 {
                    // A connection answered and closed at once (a uwsgi request from nginx)
                    // leaves the core free: take the next pending one straight away, saving a
                    // trip through epoll per request under load.
                    let mut budget = ACCEPT_BATCH;
                    while stop_deadline.is_none()
                        && budget > 0
                        && self.accept(py, ev.token as usize)
                        && !self.w.stopping.load(Ordering::Relaxed)
                    {
                        budget -= 1;
                    }
                } else if ev.token >= SIGNAL_OWN {
                    let fd = self.w.signal_fds[(ev.token - SIGNAL_OWN) as usize];
                    self.w.on_signal(py, fd);
                } else {
                    let slot = (ev.token - self.conn_base()) as usize;
                    self.on_readable(py, slot);
                }
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.close_stale();
            }
            if let Some(deadline) = stop_deadline {
                self.close_idle();
                if self.conns.iter().all(Option::is_none) || Instant::now() >= deadline {
                    return 0;
                }
            }
        }
    }

    /// Stops accepting; returns the time by which in-flight work must be done.
    fn begin_stop(&mut self) -> Instant {
        for l in self.w.listeners {
            let _ = self.poller.delete(&l.fd);
        }
        let _ = self.poller.delete(self.w.wake_fd);
        Instant::now() + self.w.settings.reload_mercy
    }

    /// While stopping: closes connections with nothing left to do. A connection that has not
    /// sent its first request yet gets a short grace period, so a request already on its way
    /// when the reload began is still answered.
    fn close_idle(&mut self) {
        let now = Instant::now();
        for slot in 0..self.conns.len() {
            let idle = match &self.conns[slot] {
                Some(c) => {
                    c.buf.is_empty()
                        && c.linger.is_none()
                        && c.sending.is_none()
                        && (c.served > 0 || now.duration_since(c.accepted) > FRESH_CONN_GRACE)
                }
                None => false,
            };
            if idle {
                self.close(slot);
            }
        }
    }

    /// Closes keep-alive connections idle for too long and clients stuck mid-head (slowloris),
    /// or silent since they connected (`--no-defer-accept` lets those in).
    fn close_stale(&mut self) {
        let now = Instant::now();
        for slot in 0..self.conns.len() {
            let stale = self.conns[slot].as_ref().is_some_and(|c| {
                if let Some(linger) = &c.linger {
                    return linger.expired(now);
                }
                let policy = &self.policies[c.listener];
                if c.sending.is_some() {
                    // A reader that takes nothing for the response timeout is given up on.
                    return now.duration_since(c.last_active) > policy.response.timeout;
                }
                let limit = if c.buf.is_empty() && c.served > 0 {
                    policy.idle_timeout
                } else {
                    policy.head_timeout
                };
                now.duration_since(c.last_active) > limit
            });
            if stale {
                self.close(slot);
            }
        }
    }

    /// Accepts one connection and serves what it sent. True when a connection was accepted and
    /// is already finished (answered and closed).
    fn accept(&mut self, py: Python<'_>, listener: usize) -> bool {
        let Ok((fd, peer_addr)) = rwsgi_os::net::accept_from(&self.w.listeners[listener].fd) else {
            // EAGAIN: a sibling took it. Others (EMFILE, ECONNABORTED) are transient here.
            return false;
        };
        let (ip, remote_addr, remote_port) = peer(peer_addr);
        // HTTP clients may stream small writes on a kept-alive connection; a uwsgi peer gets
        // one response and a close, which Nagle cannot delay (uWSGI leaves it on there too).
        if self.w.listeners[listener].tcp && self.w.listeners[listener].proto.is_http() {
            let _ = rwsgi_os::net::set_nodelay(&fd);
        }
        let conn = Conn {
            fd,
            listener,
            buf: Vec::new(),
            remote_addr,
            remote_port,
            served: 0,
            accepted: Instant::now(),
            last_active: Instant::now(),
            registered: false,
            trusted_proxy: self.w.settings.forwarded_allow.trusts(ip),
            buffering: None,
            spooled: None,
            linger: None,
            sending: None,
            proxy_pending: self.policies[listener].proxy_protocol,
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        self.conns[slot] = Some(conn);
        // The request usually arrives with the connection: serve it now, and watch the
        // connection only if it has to wait (a uwsgi request from nginx, answered and closed
        // here, never costs an epoll_ctl).
        self.on_readable(py, slot);
        let token = self.conn_base() + slot as u64;
        match self.conns[slot].as_mut() {
            None => true,
            Some(conn) => {
                conn.registered = true;
                // A static transfer the socket could not take at once waits for writability.
                let interest = match conn.sending.as_mut() {
                    Some(t) => {
                        t.mark_watching_write();
                        WRITE
                    }
                    None => READ,
                };
                if self.poller.add(&conn.fd, token, interest).is_err() {
                    self.close(slot);
                }
                false
            }
        }
    }

    pub(super) fn close(&mut self, slot: usize) {
        if let Some(conn) = self.conns.get_mut(slot).and_then(Option::take) {
            if conn.registered {
                let _ = self.poller.delete(&conn.fd);
            }
            drop(conn);
            self.free.push(slot);
        }
    }

    fn on_readable(&mut self, py: Python<'_>, slot: usize) {
        loop {
            match self.pump(slot) {
                Pump::Serve => {}
                Pump::Wait => return,
                Pump::Close => {
                    self.close(slot);
                    return;
                }
            }
            let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            let step = if conn.buf.is_empty() {
                Step::NeedMore
            } else {
                let mut conn = match self.conns[slot].take() {
                    Some(c) => c,
                    None => return,
                };
                let step = self.serve(py, &mut conn);
                self.conns[slot] = Some(conn);
                step
            };
            match step {
                Step::NeedMore => {
                    let Some(conn) = self.conns[slot].as_mut() else {
                        return;
                    };
                    match read_more(conn.fd.as_raw_fd(), &mut conn.buf) {
                        Ok(Some(0)) | Err(_) => {
                            self.close(slot);
                            return;
                        }
                        Ok(Some(_)) => {
                            conn.last_active = Instant::now();
                            continue;
                        }
                        Ok(None) => return,
                    }
                }
                Step::Served(true) => {
                    // Pipelined bytes (even while stopping) are served at once; otherwise
                    // wait for the client's next request.
                    let empty = self.conns[slot].as_ref().is_none_or(|c| c.buf.is_empty());
                    if empty {
                        return;
                    }
                }
                Step::Pump => {}
                Step::Served(false) | Step::Close => {
                    self.close(slot);
                    return;
                }
            }
        }
    }
}

fn read_more(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    read_append(fd, buf, READ_SIZE)
}

/// The peer's address (`None` for a UNIX-domain one), and as text for REMOTE_ADDR and
/// REMOTE_PORT (empty for a UNIX-domain one).
fn peer(addr: Option<SocketAddr>) -> (Option<IpAddr>, String, String) {
    match addr {
        Some(a) => (Some(a.ip()), a.ip().to_string(), a.port().to_string()),
        None => (None, String::new(), String::new()),
    }
}
