//! The pushers' I/O: each one turns a [`Job`] into bytes (with the pure functions of
//! [`crate::metrics`]) and delivers them.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rwsgi_stats::json::{render_uwsgi, RenderOptions};

use crate::job::Job;
use crate::memory::Slot;
use crate::metrics::{self, CarbonFormat, CarbonState, StatsdState};
use crate::spec::{CarbonSpec, HostPort, PusherKind, PusherSpec};
use crate::NET_TIMEOUT;

/// Why a push failed (logged once per outage by the runner; the push is retried).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    /// The target's host name does not resolve.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The target's host name resolves to nothing.
    #[error("{addr} resolves to no address")]
    NoAddress { addr: String },
    /// A TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// No local UDP socket.
    #[error("udp socket: {0}")]
    UdpSocket(#[source] io::Error),
    /// A UDP target is unreachable.
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// A datagram could not be sent.
    #[error("send to {addr}: {source}")]
    Send {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The `file` pusher's file cannot be opened.
    #[error("cannot open {}: {source}", path.display())]
    OpenFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The `file` pusher's file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Writing to a TCP target failed.
    #[error("write: {0}")]
    Write(#[source] io::Error),
    /// Reading a TCP target's answer failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// The target did not answer completely within its timeout.
    #[error("no complete answer in time")]
    NoAnswer,
    /// The target closed the connection before answering.
    #[error("connection closed without an answer")]
    ClosedWithoutAnswer,
    /// The target answered, refusing the data (the Zabbix server's reason).
    #[error("{0}")]
    Refused(String),
    /// The `mongodb` pusher's runtime, client, document or insert failed.
    #[error("{0}")]
    Mongo(String),
}

type PushResult = Result<(), SinkError>;

/// A pusher's delivery end.
pub(crate) trait Sink: Send {
    /// Delivers `pending` (oldest first), removing what was delivered; on error, what is left
    /// is retried later (single-document pushers keep only the newest job).
    fn push(&mut self, pending: &mut VecDeque<Arc<Job>>) -> PushResult;
}

/// A pusher that only ever sends the newest stats.
trait Latest: Send {
    fn push_one(&mut self, job: &Job) -> PushResult;
}

impl<T: Latest> Sink for T {
    fn push(&mut self, pending: &mut VecDeque<Arc<Job>>) -> PushResult {
        let Some(job) = pending.back().cloned() else {
            return Ok(());
        };
        let res = self.push_one(&job);
        pending.clear();
        if res.is_err() {
            pending.push_back(job);
        }
        res
    }
}

/// The sink of `spec`; `slot` is its part of the memory that outlives the pusher process.
pub(crate) fn make(spec: &PusherSpec, hostname: &str, slot: Option<Slot>) -> Box<dyn Sink> {
    match &spec.kind {
        PusherKind::File { path, separator } => Box::new(FileSink {
            path: path.clone(),
            separator: separator.clone(),
        }),
        PusherKind::Mongo {
            addr,
            database,
            collection,
        } => Box::new(mongo::MongoSink::new(
            addr.clone(),
            database.clone(),
            collection.clone(),
        )),
        PusherKind::Statsd {
            addr,
            prefix,
            no_workers,
            all_gauges,
        } => Box::new(StatsdSink {
            addr: addr.clone(),
            prefix: prefix.clone(),
            no_workers: *no_workers,
            all_gauges: *all_gauges,
            // a respawned pusher process goes on from what its predecessor delivered
            state: slot
                .as_ref()
                .and_then(Slot::load)
                .and_then(|b| StatsdState::from_bytes(&b))
                .unwrap_or_default(),
            slot,
        }),
        PusherKind::Socket { addr, prefix } => Box::new(SocketSink {
            addr: addr.clone(),
            prefix: prefix.clone(),
        }),
        PusherKind::Zabbix { addr, prefix } => Box::new(ZabbixSink {
            addr: addr.clone(),
            prefix: prefix.clone(),
            hostname: hostname.to_string(),
        }),
        PusherKind::Carbon(c) => Box::new(CarbonSink {
            spec: c.clone(),
            hostname: hostname.to_string(),
            freq_us: spec.freq.as_micros() as u64,
            state: CarbonState::default(),
        }),
    }
}

/// The stats JSON as one line.
pub(crate) fn render_minified(job: &Job) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    render_uwsgi(
        &job.snap,
        RenderOptions {
            minified: true,
            rwsgi_keys: true,
        },
        &mut out,
    );
    out
}

fn resolve(addr: &HostPort) -> Result<Vec<SocketAddr>, SinkError> {
    let s = addr.to_addr_string();
    let v: Vec<SocketAddr> = match s.to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(source) => return Err(SinkError::Resolve { addr: s, source }),
    };
    if v.is_empty() {
        return Err(SinkError::NoAddress { addr: s });
    }
    Ok(v)
}

fn connect_tcp(addr: &HostPort) -> Result<TcpStream, SinkError> {
    let mut last = None;
    for sa in resolve(addr)? {
        match TcpStream::connect_timeout(&sa, NET_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(NET_TIMEOUT));
                let _ = s.set_read_timeout(Some(NET_TIMEOUT));
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(source) => last = Some(SinkError::Connect { addr: sa, source }),
        }
    }
    Err(last.unwrap_or_else(|| SinkError::NoAddress {
        addr: addr.to_addr_string(),
    }))
}

/// A UDP socket connected to `addr`, so the kernel reports a refused port (ICMP) as an error.
fn connect_udp(addr: &HostPort) -> Result<UdpSocket, SinkError> {
    let sa = resolve(addr)?[0];
    let local: SocketAddr = if sa.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let s = UdpSocket::bind(local).map_err(SinkError::UdpSocket)?;
    s.connect(sa)
        .map_err(|source| SinkError::Unreachable { addr: sa, source })?;
    Ok(s)
}

struct FileSink {
    path: PathBuf,
    separator: String,
}

impl Latest for FileSink {
    fn push_one(&mut self, job: &Job) -> PushResult {
        let mut buf = render_minified(job);
        buf.extend_from_slice(self.separator.as_bytes());
        // opened at every push (as uWSGI does), so a rotated file is picked up
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(&self.path)
            .map_err(|source| SinkError::OpenFile {
                path: self.path.clone(),
                source,
            })?;
        // one write: the document and its separator land together (O_APPEND)
        f.write_all(&buf).map_err(|source| SinkError::WriteFile {
            path: self.path.clone(),
            source,
        })
    }
}

struct StatsdSink {
    addr: HostPort,
    prefix: String,
    no_workers: bool,
    all_gauges: bool,
    state: StatsdState,
    /// Where `state` is saved after each push, for the next pusher process.
    slot: Option<Slot>,
}

impl Latest for StatsdSink {
    fn push_one(&mut self, job: &Job) -> PushResult {
        let sock = connect_udp(&self.addr)?;
        let ms = metrics::uwsgi_metrics(&job.snap);
        let grams = metrics::statsd_datagrams(
            &ms,
            &self.prefix,
            self.no_workers,
            self.all_gauges,
            &self.state,
        );
        let mut sent = Ok(());
        for g in grams {
            if let Err(source) = sock.send(g.payload.as_bytes()) {
                sent = Err(SinkError::Send {
                    addr: self.addr.to_addr_string(),
                    source,
                });
                break;
            }
            // only what was handed to the network counts as delivered: an increment that
            // could not be sent is carried by the next push's delta
            if let Some((name, value)) = g.commit {
                self.state.commit(name, value);
            }
        }
        // what was sent, even by a push cut short, is what a respawned pusher goes on from
        self.save_state();
        sent
    }
}

impl StatsdSink {
    fn save_state(&self) {
        if let Some(slot) = &self.slot {
            // too large to save: a respawn re-sends the totals once, as without a slot
            let _ = slot.save(&self.state.to_bytes());
        }
    }
}

struct SocketSink {
    addr: HostPort,
    prefix: String,
}

impl Latest for SocketSink {
    fn push_one(&mut self, job: &Job) -> PushResult {
        let sock = connect_udp(&self.addr)?;
        for m in metrics::uwsgi_metrics(&job.snap) {
            sock.send(metrics::socket_datagram(&self.prefix, &m).as_bytes())
                .map_err(|source| SinkError::Send {
                    addr: self.addr.to_addr_string(),
                    source,
                })?;
        }
        Ok(())
    }
}

struct ZabbixSink {
    addr: HostPort,
    prefix: String,
    hostname: String,
}

impl Latest for ZabbixSink {
    fn push_one(&mut self, job: &Job) -> PushResult {
        let ms = metrics::uwsgi_metrics(&job.snap);
        let packet = metrics::zabbix_packet(&self.hostname, &self.prefix, &ms);
        let mut s = connect_tcp(&self.addr)?;
        s.write_all(&packet).map_err(SinkError::Write)?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + NET_TIMEOUT;
        loop {
            if let Some(res) = metrics::zabbix_response(&buf) {
                return res.map(|_| ()).map_err(SinkError::Refused);
            }
            if Instant::now() > deadline {
                return Err(SinkError::NoAnswer);
            }
            match s.read(&mut chunk) {
                Ok(0) => return Err(SinkError::ClosedWithoutAnswer),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SinkError::Read(e)),
            }
        }
    }
}

struct CarbonSink {
    spec: CarbonSpec,
    hostname: String,
    freq_us: u64,
    state: CarbonState,
}

impl Latest for CarbonSink {
    fn push_one(&mut self, job: &Job) -> PushResult {
        let fmt = CarbonFormat {
            root: &self.spec.root,
            hostname: &self.hostname,
            id: &self.spec.id,
            no_workers: self.spec.no_workers,
            memory_report: self.spec.memory_report,
            use_metrics: self.spec.use_metrics,
            freq_us: self.freq_us,
        };
        let (text, next) =
            metrics::carbon_lines(&job.snap, &fmt, &self.state, job.unix, job.mono_us);
        let mut s = connect_tcp(&self.spec.addr)?;
        s.write_all(text.as_bytes()).map_err(SinkError::Write)?;
        let _ = s.shutdown(Shutdown::Write);
        self.state = next;
        Ok(())
    }
}

pub(crate) mod mongo {
    //! The `mongodb` pusher: the official driver on a current-thread tokio runtime that lives
    //! in this pusher's thread only.

    use std::collections::VecDeque;
    use std::sync::Arc;

    use mongodb::bson::Document;

    use super::{render_minified, PushResult, Sink, SinkError};
    use crate::job::Job;
    use crate::spec::HostPort;
    use crate::NET_TIMEOUT;

    pub(crate) struct MongoSink {
        addr: HostPort,
        database: String,
        collection: String,
        rt: Option<tokio::runtime::Runtime>,
        client: Option<mongodb::Client>,
    }

    /// The stats JSON as a BSON document (what uWSGI's plugin inserts: `mongo::fromjson`).
    pub(crate) fn to_document(json: &[u8]) -> Result<Document, SinkError> {
        let v: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| SinkError::Mongo(format!("stats JSON: {e}")))?;
        mongodb::bson::to_document(&v)
            .map_err(|e| SinkError::Mongo(format!("stats JSON to BSON: {e}")))
    }

    impl MongoSink {
        pub(crate) fn new(addr: HostPort, database: String, collection: String) -> MongoSink {
            MongoSink {
                addr,
                database,
                collection,
                rt: None,
                client: None,
            }
        }

        fn uri(&self) -> String {
            let t = NET_TIMEOUT.as_millis();
            format!(
                "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS={t}&connectTimeoutMS={t}",
                self.addr.to_addr_string()
            )
        }
    }

    impl Sink for MongoSink {
        fn push(&mut self, pending: &mut VecDeque<Arc<Job>>) -> PushResult {
            if self.rt.is_none() {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| SinkError::Mongo(format!("tokio runtime: {e}")))?;
                self.rt = Some(rt);
            }
            let rt = self.rt.as_ref().expect("set above");
            if self.client.is_none() {
                let uri = self.uri();
                let client = rt
                    .block_on(mongodb::Client::with_uri_str(&uri))
                    .map_err(|e| SinkError::Mongo(format!("client for {uri}: {e}")))?;
                self.client = Some(client);
            }
            let coll = self
                .client
                .as_ref()
                .expect("set above")
                .database(&self.database)
                .collection::<Document>(&self.collection);
            while let Some(job) = pending.front() {
                let doc = to_document(&render_minified(job))?;
                let res = rt.block_on(async {
                    tokio::time::timeout(NET_TIMEOUT * 2, coll.insert_one(doc)).await
                });
                match res {
                    Ok(Ok(_)) => {
                        pending.pop_front();
                    }
                    Ok(Err(e)) => {
                        return Err(SinkError::Mongo(format!(
                            "insert into {}.{} at {}: {e}",
                            self.database,
                            self.collection,
                            self.addr.to_addr_string()
                        )))
                    }
                    Err(_) => {
                        return Err(SinkError::Mongo(format!(
                            "insert into {}.{} at {}: timed out",
                            self.database,
                            self.collection,
                            self.addr.to_addr_string()
                        )))
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_stats::model::{MasterInfo, StatsSnapshot, WorkerStats};
    use std::os::unix::fs::PermissionsExt;

    fn job(requests: u64) -> Job {
        Job {
            snap: StatsSnapshot {
                master: MasterInfo {
                    version: "2.0.21".into(),
                    locks: vec!["user 0".into()],
                    ..Default::default()
                },
                workers: vec![WorkerStats {
                    id: 1,
                    pid: 10,
                    accepting: 1,
                    requests,
                    respawn_count: 1,
                    cores: vec![Default::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            unix: 1,
            mono_us: 1,
            final_push: false,
        }
    }

    #[test]
    fn file_sink_appends_standalone_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.json");
        let mut s = FileSink {
            path: path.clone(),
            separator: "\n\n".into(),
        };
        s.push_one(&job(1)).unwrap();
        s.push_one(&job(2)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<&str> = text.split("\n\n").filter(|d| !d.is_empty()).collect();
        assert_eq!(docs.len(), 2);
        for (i, d) in docs.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            assert_eq!(v["workers"][0]["requests"], i as u64 + 1);
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "at most 0640, got {mode:o}");
        let mut bad = FileSink {
            path: dir.path().join("missing/dir/x"),
            separator: "\n".into(),
        };
        let e = bad.push_one(&job(1)).unwrap_err().to_string();
        assert!(
            e.contains("cannot open") && e.contains("missing/dir/x"),
            "{e}"
        );
    }

    #[test]
    fn latest_sink_keeps_only_the_newest_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileSink {
            path: dir.path().join("no/such/dir"),
            separator: "\n".into(),
        };
        let mut pending: VecDeque<Arc<Job>> = (1..=3).map(|i| Arc::new(job(i))).collect();
        assert!(Sink::push(&mut s, &mut pending).is_err());
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].snap.workers[0].requests, 3);
    }

    #[test]
    fn no_cores_snapshots_are_pushed_without_the_cores_key() {
        // The one --stats-no-cores switch rides in the snapshot: pushed documents follow the
        // stats socket (and uWSGI, whose pushers render the same document).
        let mut j = job(1);
        j.snap.master.include_cores = false;
        let v: serde_json::Value = serde_json::from_slice(&render_minified(&j)).unwrap();
        assert!(v["workers"][0].get("cores").is_none(), "{v}");
        let v: serde_json::Value = serde_json::from_slice(&render_minified(&job(1))).unwrap();
        assert!(v["workers"][0]["cores"].is_array(), "{v}");
    }

    #[test]
    fn mongo_document_is_the_stats_object() {
        let d = mongo::to_document(&render_minified(&job(5))).unwrap();
        assert_eq!(d.get_str("version").unwrap(), "2.0.21");
        let w = d.get_array("workers").unwrap();
        let w0 = w[0].as_document().unwrap();
        assert_eq!(w0.get_i64("requests").unwrap(), 5);
        assert!(d.get_array("locks").is_ok());
    }

    #[test]
    fn statsd_sink_reports_a_refused_port() {
        // a bound-then-closed loopback UDP port: the kernel answers ICMP port unreachable
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let mut s = StatsdSink {
            addr: HostPort {
                host: "127.0.0.1".into(),
                port,
            },
            prefix: "uwsgi".into(),
            no_workers: false,
            all_gauges: false,
            state: StatsdState::default(),
            slot: None,
        };
        let e = s.push_one(&job(1)).unwrap_err().to_string();
        assert!(e.contains("refused"), "{e}");
    }
}
