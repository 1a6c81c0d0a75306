//! The stats socket, served from the master's event loop without ever blocking it.
//!
//! Raw mode writes the JSON and closes, as uWSGI does; `--stats-http` first reads a request
//! head and answers with HTTP/1.0 `200`: the Prometheus metrics for `GET /metrics`, the JSON
//! for any other path; `400` for a malformed request line. A `--metrics` listener serves only
//! `/metrics` (`404` elsewhere), for users who do not want the JSON exposed. Every
//! socket is non-blocking; a client that does not read (or does not send its request) is
//! dropped at its deadline, and the number of clients is bounded, so stats clients cost the
//! master nothing but what they are owed.
//!
//! Exposure: a UNIX socket is created with mode 0600 unless `--stats-chmod` or
//! `--chmod-socket` says otherwise; a TCP socket on every interface logs a warning at
//! start-up; with `--stats-http-auth`, HTTP clients must present a credential
//! ([`Credentials`]) or get `401`. At `--stats-max-clients` clients the listeners leave the
//! poller, so further clients wait in the kernel's listen queue (nothing is refused) until a
//! client is done.
//!
//! The close is a lingering one: once the answer is written, the write side is shut down and
//! whatever the client sent (a raw client that writes something, bytes after an HTTP head) is
//! read and discarded until the client closes (or its deadline). Closing with unread input
//! would make the kernel reset the connection, and a reset can destroy the answer before the
//! client has read it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rwsgi_config::{Addr, Config};
use rwsgi_os::fdio::{read_nb, writev_nb};
use rwsgi_os::poller::{Event, Poller, READ, WRITE};
use rwsgi_proto::httparse;
use rwsgi_stats::prometheus::Format;

use crate::listen::{self, BindError, Inherited, Protocol};
use crate::stats_auth::Credentials;

/// How long a stats client may take to send its request and read the answer.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// Mode of a UNIX stats (or metrics) socket when neither `--stats-chmod` nor
/// `--chmod-socket` is given: the stats show request vars, so only the owner may read them.
const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// How often, at most, reaching `--stats-max-clients` is logged.
const CAP_LOG_EVERY: Duration = Duration::from_secs(60);
/// Largest HTTP request head accepted on the stats socket.
const MAX_REQUEST: usize = 8192;
/// Accept backlog of the stats socket (many monitoring clients may connect at once).
const BACKLOG: u32 = 1024;
/// Tokens below this offset (from the base) are listeners.
const CLIENT_OFFSET: u64 = 16;

const HTTP_HEAD: &[u8] = b"HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n\r\n";

/// How a stats listener answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Write the JSON at once, no request read (uWSGI's stats socket).
    Raw,
    /// Read an HTTP request: `/metrics` gets the metrics, any other path the JSON.
    Http,
    /// Read an HTTP request: `/metrics` gets the metrics, any other path `404`.
    MetricsOnly,
}

/// What a client is sent, rendered by the caller's `render`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// The uWSGI stats JSON.
    Json,
    /// The Prometheus metrics in this format.
    Metrics(Format),
}

/// Writes the current stats as an [`Output`] into the buffer.
pub(crate) type Render<'a> = dyn FnMut(Output, &mut Vec<u8>) + 'a;

/// The value of the request's first header `name`.
fn header<'r>(req: &httparse::Request<'_, 'r>, name: &str) -> Option<&'r [u8]> {
    req.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// What an HTTP client asked for, from its parsed request.
fn route(mode: Mode, req: &httparse::Request<'_, '_>) -> Option<Output> {
    let path = req.path.unwrap_or("/");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if path == "/metrics" {
        let accept = header(req, "accept").unwrap_or(b"");
        return Some(Output::Metrics(Format::from_accept(accept)));
    }
    match mode {
        Mode::MetricsOnly => None,
        Mode::Raw | Mode::Http => Some(Output::Json),
    }
}

struct Client {
    fd: OwnedFd,
    /// The request head read so far (HTTP mode).
    request: Vec<u8>,
    /// What to send: a head (HTTP) and the shared JSON body.
    head: Vec<u8>,
    body: Option<Rc<Vec<u8>>>,
    sent: usize,
    /// The answer is sent and the write side shut down: discarding input until EOF.
    draining: bool,
    deadline: Instant,
}

/// How a stats listener is protected, shared by the stats and the metrics listener.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    /// Mode of a filesystem UNIX socket.
    pub socket_mode: u32,
    /// Credentials HTTP clients must present (`--stats-http-auth`).
    pub credentials: Option<Rc<Credentials>>,
    /// Clients served at once (`--stats-max-clients`).
    pub max_clients: usize,
}

impl Access {
    /// The protection `config` asks for (`--stats-chmod`, `--chmod-socket`,
    /// `--stats-http-auth`, `--stats-max-clients`), the credentials file read.
    pub(crate) fn from_config(config: &Config) -> Result<Access, crate::stats_auth::AuthFileError> {
        let credentials = match &config.stats_http_auth {
            Some(path) => Some(Rc::new(Credentials::load(path)?)),
            None => None,
        };
        Ok(Access {
            socket_mode: config
                .stats_chmod
                .or(config.chmod_socket)
                .unwrap_or(DEFAULT_SOCKET_MODE),
            credentials,
            max_clients: config.stats_max_clients.max(1),
        })
    }
}

/// True if `addr` listens on every interface (`:P`, `0.0.0.0:P`, `[::]:P`).
fn all_interfaces(addr: &Addr) -> bool {
    match addr {
        Addr::Tcp { host, .. } => {
            host.is_empty()
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified())
        }
        Addr::Unix(_) | Addr::Abstract(_) => false,
    }
}

/// The stats socket(s) and their clients.
pub(crate) struct StatsServer {
    listeners: Vec<OwnedFd>,
    mode: Mode,
    access: Access,
    /// At the client cap: the listeners are out of the poller.
    paused: bool,
    /// When reaching the cap was last logged.
    cap_logged: Option<Instant>,
    /// The hand-over key prefix of the listeners (`stats`, `metrics`).
    kind: &'static str,
    clients: Vec<Option<Client>>,
    free: Vec<usize>,
    base: u64,
}

impl StatsServer {
    /// Binds `addr`. An abstract `@name` is bound twice: as `\0name` (what uwsgitop, Python and
    /// socat connect to) and as `\0name\0` (what uWSGI binds, so clients written for it reach
    /// rwsgi too). `kind` names the listener in the reload hand-over.
    pub(crate) fn bind(
        addr: &Addr,
        mode: Mode,
        kind: &'static str,
        access: Access,
        inherited: &mut Inherited,
    ) -> Result<StatsServer, BindError> {
        if all_interfaces(addr) {
            let protection = if access.credentials.is_some() && mode != Mode::Raw {
                "clients must authenticate (--stats-http-auth)"
            } else {
                "anyone who can reach this host reads them: bind 127.0.0.1 or a UNIX socket, or use --stats-http with --stats-http-auth"
            };
            eprintln!(
                "WARNING: the {kind} server on {addr} is reachable from every interface; {protection}"
            );
        }
        let mut listeners = Vec::new();
        match addr {
            Addr::Abstract(name) => {
                let err = |source: io::Error| BindError {
                    addr: addr.to_string(),
                    source,
                };
                let mut with_nul = name.clone();
                with_nul.push(0);
                let mut sockets = Vec::new();
                for (i, n) in [name, &with_nul].into_iter().enumerate() {
                    let key = listen::inherit_key(&format!("{kind}{i}"), &addr.to_string());
                    sockets.push(match inherited.take(&key) {
                        Some(s) => s,
                        None => listen::bind_abstract(n).map_err(err)?,
                    });
                }
                for s in sockets {
                    s.listen(BACKLOG as i32).map_err(err)?;
                    s.set_nonblocking(true).map_err(err)?;
                    listeners.push(OwnedFd::from(s));
                }
            }
            _ => {
                let key = listen::inherit_key(kind, &addr.to_string());
                let chmod = Some(access.socket_mode);
                listeners.push(
                    listen::bind_as(&key, addr, Protocol::Http, BACKLOG, chmod, inherited)?.fd,
                )
            }
        }
        Ok(StatsServer {
            listeners,
            mode,
            access,
            paused: false,
            cap_logged: None,
            kind,
            clients: Vec::new(),
            free: Vec::new(),
            base: 0,
        })
    }

    /// Watches the listeners on `poller`, with tokens from `base` up.
    pub(crate) fn register(&mut self, poller: &Poller, base: u64) -> io::Result<()> {
        self.base = base;
        for (i, l) in self.listeners.iter().enumerate() {
            poller.add(l, base + i as u64, READ)?;
        }
        Ok(())
    }

    /// The listening sockets with their hand-over keys, for a reload.
    pub(crate) fn inheritable(&self, addr: &Addr) -> Vec<(String, BorrowedFd<'_>)> {
        let abstract_addr = matches!(addr, Addr::Abstract(_));
        self.listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let kind = if abstract_addr {
                    format!("{}{i}", self.kind)
                } else {
                    self.kind.to_string()
                };
                (listen::inherit_key(&kind, &addr.to_string()), l.as_fd())
            })
            .collect()
    }

    /// True if `token` belongs to the stats server.
    pub(crate) fn owns(&self, token: u64) -> bool {
        token >= self.base && token < self.base + CLIENT_OFFSET + self.clients.len() as u64
    }

    /// Handles an event. `render` writes the current stats into its argument.
    pub(crate) fn on_event(&mut self, poller: &Poller, ev: Event, render: &mut Render<'_>) {
        let idx = ev.token - self.base;
        if idx < CLIENT_OFFSET {
            self.accept(poller, idx as usize, render);
            return;
        }
        let slot = (idx - CLIENT_OFFSET) as usize;
        let Some(client) = self.clients.get(slot).and_then(Option::as_ref) else {
            return;
        };
        if client.draining {
            self.drain(poller, slot);
        } else if self.mode != Mode::Raw && client.body.is_none() {
            self.read_request(poller, slot, render);
        } else {
            self.write(poller, slot);
        }
    }

    /// Clients being served now.
    fn active(&self) -> usize {
        self.clients.len() - self.free.len()
    }

    fn accept(&mut self, poller: &Poller, listener: usize, render: &mut Render<'_>) {
        // One rendering serves every client accepted in this batch.
        let mut json: Option<Rc<Vec<u8>>> = None;
        for _ in 0..256 {
            if self.active() >= self.access.max_clients {
                // Further clients wait in the listen queue until one is done.
                return self.pause(poller);
            }
            let Ok(fd) = rwsgi_os::net::accept(&self.listeners[listener]) else {
                return;
            };
            let mut client = Client {
                fd,
                request: Vec::new(),
                head: Vec::new(),
                body: None,
                sent: 0,
                draining: false,
                deadline: Instant::now() + CLIENT_DEADLINE,
            };
            let http = self.mode != Mode::Raw;
            if !http {
                let body = json.get_or_insert_with(|| {
                    let mut out = Vec::with_capacity(16 * 1024);
                    render(Output::Json, &mut out);
                    Rc::new(out)
                });
                client.body = Some(Rc::clone(body));
            }
            let slot = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.clients.push(None);
                    self.clients.len() - 1
                }
            };
            let wants = if http { READ } else { WRITE };
            let token = self.base + CLIENT_OFFSET + slot as u64;
            let added = poller.add(&client.fd, token, wants);
            self.clients[slot] = Some(client);
            if added.is_err() {
                self.close(poller, slot);
                continue;
            }
            if http {
                self.read_request(poller, slot, render);
            } else {
                self.write(poller, slot);
            }
        }
    }

    fn read_request(&mut self, poller: &Poller, slot: usize, render: &mut Render<'_>) {
        let Some(client) = self.clients.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let mut buf = [0u8; 2048];
        loop {
            match read_nb(client.fd.as_raw_fd(), &mut buf) {
                Ok(Some(0)) | Err(_) => return self.close(poller, slot),
                Ok(Some(n)) => client.request.extend_from_slice(&buf[..n]),
                Ok(None) => break,
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let status: Result<Output, Vec<u8>> = match req.parse(&client.request) {
            Ok(httparse::Status::Complete(_)) => match &self.access.credentials {
                Some(c) if !c.accepts(header(&req, "authorization")) => Err(format!(
                    "HTTP/1.0 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: {}\r\n\r\n",
                    c.challenge()
                )
                .into_bytes()),
                _ => route(self.mode, &req)
                    .ok_or(b"HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n".to_vec()),
            },
            Ok(httparse::Status::Partial) if client.request.len() < MAX_REQUEST => return,
            Ok(httparse::Status::Partial) => Err(
                b"HTTP/1.0 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n".to_vec(),
            ),
            Err(_) => Err(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n".to_vec()),
        };
        match status {
            Err(error) => {
                client.head = error;
                client.body = Some(Rc::new(Vec::new()));
            }
            Ok(output) => {
                client.head = match output {
                    Output::Json => HTTP_HEAD.to_vec(),
                    Output::Metrics(format) => format!(
                        "HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: {}\r\n\r\n",
                        format.content_type()
                    )
                    .into_bytes(),
                };
                let mut out = Vec::with_capacity(16 * 1024);
                render(output, &mut out);
                client.body = Some(Rc::new(out));
            }
        }
        if poller
            .modify(&client.fd, self.base + CLIENT_OFFSET + slot as u64, WRITE)
            .is_err()
        {
            return self.close(poller, slot);
        }
        self.write(poller, slot);
    }

    fn write(&mut self, poller: &Poller, slot: usize) {
        let Some(client) = self.clients.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(body) = client.body.clone() else {
            return;
        };
        let total = client.head.len() + body.len();
        while client.sent < total {
            let (a, b): (&[u8], &[u8]) = if client.sent < client.head.len() {
                (&client.head[client.sent..], &body[..])
            } else {
                (&body[client.sent - client.head.len()..], &[])
            };
            match writev_nb(client.fd.as_raw_fd(), a, b) {
                Ok(Some(n)) => client.sent += n,
                Ok(None) => return, // wait for writability
                Err(_) => return self.close(poller, slot),
            }
        }
        // Everything is sent: FIN now, then wait for the client's EOF (see the module doc).
        if rwsgi_os::net::shutdown_write(&client.fd).is_err() {
            return self.close(poller, slot);
        }
        client.draining = true;
        if poller
            .modify(&client.fd, self.base + CLIENT_OFFSET + slot as u64, READ)
            .is_err()
        {
            return self.close(poller, slot);
        }
        self.drain(poller, slot);
    }

    /// Discards what the client sends; closes at its EOF (or error).
    fn drain(&mut self, poller: &Poller, slot: usize) {
        let Some(client) = self.clients.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let mut buf = [0u8; 4096];
        // Bounded per event: a client that floods us is served again on the next wake-up
        // (level-triggered) and dropped at its deadline.
        for _ in 0..16 {
            match read_nb(client.fd.as_raw_fd(), &mut buf) {
                Ok(Some(0)) | Err(_) => return self.close(poller, slot),
                Ok(Some(_)) => {}
                Ok(None) => return,
            }
        }
    }

    fn close(&mut self, poller: &Poller, slot: usize) {
        if let Some(client) = self.clients.get_mut(slot).and_then(Option::take) {
            let _ = poller.delete(&client.fd);
            self.free.push(slot);
        }
        if self.paused && self.active() < self.access.max_clients {
            self.resume(poller);
        }
    }

    /// Takes the listeners out of the poller (level-triggered, they would wake the master at
    /// every pass while their queue is not empty).
    fn pause(&mut self, poller: &Poller) {
        if self.paused {
            return;
        }
        for l in &self.listeners {
            let _ = poller.delete(l);
        }
        self.paused = true;
        let now = Instant::now();
        if self
            .cap_logged
            .is_none_or(|t| now.duration_since(t) >= CAP_LOG_EVERY)
        {
            self.cap_logged = Some(now);
            eprintln!(
                "{} server: {} clients at once (--stats-max-clients): more wait in the listen queue",
                self.kind, self.access.max_clients
            );
        }
    }

    /// Watches the listeners again: what queued meanwhile is accepted at the next wake-up.
    fn resume(&mut self, poller: &Poller) {
        self.paused = false;
        for (i, l) in self.listeners.iter().enumerate() {
            if let Err(e) = poller.add(l, self.base + i as u64, READ) {
                eprintln!("{} server: cannot watch its socket again: {e}", self.kind);
            }
        }
    }

    /// Drops clients past their deadline.
    pub(crate) fn expire(&mut self, poller: &Poller) {
        let now = Instant::now();
        for slot in 0..self.clients.len() {
            if self.clients[slot]
                .as_ref()
                .is_some_and(|c| c.deadline <= now)
            {
                self.close(poller, slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(mode: Mode, request: &[u8]) -> Option<Output> {
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(request).expect("a valid request").is_complete());
        route(mode, &req)
    }

    #[test]
    fn all_interface_addresses() {
        for (addr, all) in [
            (":1717", true),
            ("0.0.0.0:1717", true),
            ("[::]:1717", true),
            ("127.0.0.1:1717", false),
            ("[::1]:1717", false),
            ("localhost:1717", false),
            ("/run/stats.sock", false),
            ("@stats", false),
        ] {
            let parsed: Addr = addr.parse().expect(addr);
            assert_eq!(all_interfaces(&parsed), all, "{addr}");
        }
    }

    #[test]
    fn metrics_on_their_path_json_elsewhere_or_404_on_a_metrics_listener() {
        let text = Some(Output::Metrics(Format::Text));
        let om = Some(Output::Metrics(Format::OpenMetrics));
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
        assert_eq!(route_of(Mode::Http, &get("/metrics")), text);
        assert_eq!(route_of(Mode::Http, &get("/metrics?x=1")), text);
        assert_eq!(route_of(Mode::Http, &get("/")), Some(Output::Json));
        assert_eq!(route_of(Mode::Http, &get("/metricsx")), Some(Output::Json));
        assert_eq!(route_of(Mode::MetricsOnly, &get("/metrics")), text);
        assert_eq!(route_of(Mode::MetricsOnly, &get("/")), None);
        let scraper =
            b"GET /metrics HTTP/1.1\r\nACCEPT: application/openmetrics-text;version=1.0.0\r\n\r\n";
        assert_eq!(route_of(Mode::MetricsOnly, scraper), om);
    }
}
