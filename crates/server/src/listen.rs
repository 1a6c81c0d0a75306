//! Binding the listening sockets (`--socket`, `--http-socket`, `--stats`) from their addresses.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rwsgi_config::Addr;
use socket2::{Domain, SockAddr, Socket, Type};

pub(crate) use rwsgi_config::Protocol;

/// A bound, listening, non-blocking socket.
#[derive(Debug)]
pub(crate) struct Listener {
    /// The socket.
    pub fd: OwnedFd,
    /// Its protocol.
    pub proto: Protocol,
    /// The address as the user wrote it (uWSGI's socket name in stats).
    pub name: String,
    /// SERVER_PORT for requests arriving here (`""` for UNIX sockets).
    pub port: String,
    /// TCP (as opposed to UNIX).
    pub tcp: bool,
    /// The listen backlog.
    pub backlog: u32,
    /// A filesystem socket to remove on exit with `--vacuum`.
    pub path: Option<PathBuf>,
}

impl Listener {
    /// The raw fd.
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Why a socket could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {addr}: {source}")]
pub(crate) struct BindError {
    /// The address.
    pub addr: String,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// Resolves a TCP address (an empty host means all IPv4 interfaces, as uWSGI's `:port`).
pub(crate) fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))
}

/// Environment variable through which a reloading master hands its listening sockets to the
/// master it execs: one `FD KEY` line per socket.
pub(crate) const INHERIT_ENV: &str = "RWSGI_INHERITED_SOCKETS";

/// Listening sockets inherited across a graceful reload (SIGHUP re-executes the master with
/// its sockets still open, so clients queue instead of being refused).
#[derive(Debug, Default)]
pub(crate) struct Inherited {
    fds: Vec<(String, OwnedFd)>,
}

impl Inherited {
    /// Takes over the sockets named in [`INHERIT_ENV`] (and removes the variable, so workers
    /// and later reloads do not see stale numbers).
    pub(crate) fn from_env() -> Inherited {
        let Some(value) = std::env::var_os(INHERIT_ENV) else {
            return Inherited::default();
        };
        // SAFETY: called at start-up, before any thread exists.
        unsafe { std::env::remove_var(INHERIT_ENV) };
        let mut fds = Vec::new();
        for line in value.to_string_lossy().lines() {
            let Some((fd, key)) = line.split_once(' ') else {
                continue;
            };
            let Ok(fd) = fd.parse::<RawFd>() else {
                continue;
            };
            // Only a descriptor that really is a socket is adopted: the previous master passed
            // it to us, and nothing else in this process knows its number.
            if fd <= 2 {
                continue;
            }
            if let Some(owned) = rwsgi_os::fd::adopt_socket(fd) {
                let _ = rwsgi_os::fd::set_cloexec(&owned, true);
                fds.push((key.to_string(), owned));
            }
        }
        Inherited { fds }
    }

    /// The inherited socket for `key`, if any.
    pub(crate) fn take(&mut self, key: &str) -> Option<Socket> {
        let i = self.fds.iter().position(|(k, _)| k == key)?;
        Some(Socket::from(self.fds.swap_remove(i).1))
    }

    /// Builds the [`INHERIT_ENV`] value for `sockets` and makes them survive `exec`.
    pub(crate) fn export<'a, 'fd>(
        sockets: impl Iterator<Item = (&'a str, BorrowedFd<'fd>)>,
    ) -> String {
        let mut out = String::new();
        for (key, fd) in sockets {
            let _ = rwsgi_os::fd::set_cloexec(fd, false);
            out.push_str(&format!("{} {key}\n", fd.as_raw_fd()));
        }
        out
    }
}

/// The key a socket is handed over under: protocol and address.
pub(crate) fn inherit_key(kind: &str, name: &str) -> String {
    format!("{kind}:{name}")
}

/// Binds `addr` (or adopts the socket a reloading master handed over) and listens. `chmod`
/// applies to filesystem UNIX sockets; `defer_accept` (off with `--no-defer-accept`) to TCP
/// ones.
pub(crate) fn bind(
    addr: &Addr,
    proto: Protocol,
    backlog: u32,
    chmod: Option<u32>,
    defer_accept: bool,
    inherited: &mut Inherited,
) -> Result<Listener, BindError> {
    let key = inherit_key(proto.name(), &addr.to_string());
    let listener = bind_as(&key, addr, proto, backlog, chmod, inherited)?;
    if listener.tcp {
        // As uWSGI: a connection becomes acceptable only once its first bytes arrived, so a
        // worker never accepts a client that has nothing to say yet (and never has to park it
        // in epoll). Clients of both protocols always speak first. (Not for the stats socket,
        // whose raw clients never speak.) `--no-defer-accept` sets 0, which also clears what
        // a socket handed over by a reloading master had.
        let secs = if defer_accept { DEFER_ACCEPT_SECS } else { 0 };
        rwsgi_os::net::set_defer_accept(&listener.fd, secs).map_err(|source| BindError {
            addr: listener.name.clone(),
            source,
        })?;
    }
    Ok(listener)
}

/// [`bind`], handing the socket over under `key` on reloads.
pub(crate) fn bind_as(
    key: &str,
    addr: &Addr,
    proto: Protocol,
    backlog: u32,
    chmod: Option<u32>,
    inherited: &mut Inherited,
) -> Result<Listener, BindError> {
    let name = addr.to_string();
    let err = |source: io::Error| BindError {
        addr: name.clone(),
        source,
    };
    let (socket, port, tcp, path) = match inherited.take(key) {
        Some(socket) => {
            let local = socket.local_addr().ok().and_then(|a| a.as_socket());
            let port = local.map(|a| a.port().to_string()).unwrap_or_default();
            let path = match addr {
                Addr::Unix(p) => Some(p.clone()),
                _ => None,
            };
            (socket, port, local.is_some(), path)
        }
        None => bind_new(addr, chmod).map_err(err)?,
    };
    socket
        .listen(backlog.min(i32::MAX as u32) as i32)
        .map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    Ok(Listener {
        fd: socket.into(),
        proto,
        name,
        port,
        tcp,
        backlog,
        path,
    })
}

/// How long the kernel holds a silent connection back from accept (uWSGI's socket timeout).
const DEFER_ACCEPT_SECS: i32 = 4;

/// A new socket bound to `addr`: (socket, SERVER_PORT, is TCP, filesystem path).
fn bind_new(
    addr: &Addr,
    chmod: Option<u32>,
) -> io::Result<(Socket, String, bool, Option<PathBuf>)> {
    let err = |e: io::Error| e;
    Ok(match addr {
        Addr::Tcp { host, port } => {
            let sa = resolve(host, *port).map_err(err)?;
            let socket =
                Socket::new(Domain::for_address(sa), Type::STREAM.cloexec(), None).map_err(err)?;
            socket.set_reuse_address(true).map_err(err)?;
            if sa.is_ipv6() {
                socket.set_only_v6(true).map_err(err)?;
            }
            socket.bind(&sa.into()).map_err(err)?;
            let actual = socket
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map_or(*port, |a| a.port());
            (socket, actual.to_string(), true, None)
        }
        Addr::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_socket() {
                    // A stale socket of an earlier run; a live one would be refused below.
                    let _ = std::fs::remove_file(path);
                }
            }
            let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(err)?;
            let sa = SockAddr::unix(path).map_err(err)?;
            match chmod {
                // Created owner-only, then opened up to `mode`: no moment where the socket has
                // wider permissions than asked for, whatever the umask.
                Some(_) => rwsgi_os::process::with_umask(0o177, || socket.bind(&sa)),
                None => socket.bind(&sa),
            }
            .map_err(err)?;
            if let Some(mode) = chmod {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(err)?;
            }
            (socket, String::new(), false, Some(path.clone()))
        }
        Addr::Abstract(name) => {
            let socket = bind_abstract(name).map_err(err)?;
            (socket, String::new(), false, None)
        }
    })
}

/// A socket bound (and listening) on the Linux abstract name `name` (without the leading NUL).
pub(crate) fn bind_abstract(name: &[u8]) -> io::Result<Socket> {
    use std::os::linux::net::SocketAddrExt;
    let sa = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    let listener = std::os::unix::net::UnixListener::bind_addr(&sa)?;
    Ok(Socket::from(OwnedFd::from(listener)))
}

/// `--chown-socket USER[:GROUP]`: the owner (and group) to give UNIX sockets, names or ids;
/// without `:GROUP` the group is left as it is (as uWSGI's `uwsgi_chown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChownSpec<'a> {
    /// The user, a name or an id.
    pub user: &'a str,
    /// The group, a name or an id.
    pub group: Option<&'a str>,
}

impl<'a> ChownSpec<'a> {
    /// Splits `USER[:GROUP]`; `None` for an empty user or group.
    pub(crate) fn parse(spec: &'a str) -> Option<ChownSpec<'a>> {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) {
            return None;
        }
        Some(ChownSpec { user, group })
    }

    /// The ids (numbers as they are, names from the user and group databases).
    fn ids(&self) -> io::Result<(u32, Option<u32>)> {
        let uid = match self.user.parse() {
            Ok(n) => n,
            Err(_) => rwsgi_os::user::user_id(self.user)?,
        };
        let gid = match self.group {
            Some(g) => Some(match g.parse() {
                Ok(n) => n,
                Err(_) => rwsgi_os::user::group_id(g)?,
            }),
            None => None,
        };
        Ok((uid, gid))
    }
}

/// Gives every filesystem UNIX socket in `listeners` to `spec`'s owner and group (before
/// privileges are dropped: only root may give a file away). Any failure is fatal, as in uWSGI.
pub(crate) fn chown_sockets(listeners: &[Listener], spec: &str) -> Result<(), BindError> {
    let parsed = ChownSpec::parse(spec);
    for l in listeners {
        let Some(path) = &l.path else { continue };
        let err = |source: io::Error| BindError {
            addr: format!("{} (--chown-socket {spec})", l.name),
            source,
        };
        let owner = parsed
            .as_ref()
            .ok_or_else(|| err(io::Error::other("expected USER[:GROUP]")))?;
        let (uid, gid) = owner.ids().map_err(err)?;
        rwsgi_os::user::chown(path, Some(uid), gid).map_err(err)?;
        eprintln!("chown {} to {spec}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod chown_tests {
    use super::*;

    #[test]
    fn chown_specs_are_user_and_optional_group() {
        let p = ChownSpec::parse;
        assert_eq!(
            p("www-data:www-data"),
            Some(ChownSpec {
                user: "www-data",
                group: Some("www-data")
            })
        );
        assert_eq!(
            p("1000"),
            Some(ChownSpec {
                user: "1000",
                group: None
            })
        );
        assert_eq!(p(""), None);
        assert_eq!(p(":g"), None);
        assert_eq!(p("u:"), None);
    }
}
