//! Real receivers for the pusher tests, on loopback ports chosen per test:
//! a UDP listener (statsd / socket pushers), Graphite's `carbon-cache` (Debian's
//! graphite-carbon) read back with `whisper-fetch`, `nx-27017` (a MongoDB wire-protocol
//! server, PyPI) read back with pymongo, and a Zabbix trapper stand-in.
//!
//! Used by `crates/push/tests` and the server's pusher tests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::ports::free_port as free_tcp_port;
pub use crate::wait::wait_for;

/// A UDP listener on loopback collecting datagrams in a background thread.
pub struct UdpReceiver {
    /// Its loopback port.
    pub port: u16,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl UdpReceiver {
    /// Starts it on loopback (a port of its own) and waits until it listens.
    pub fn start() -> UdpReceiver {
        Self::start_on(0)
    }

    /// Binds `port` (0: any free port).
    pub fn start_on(port: u16) -> UdpReceiver {
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind udp");
        let port = sock.local_addr().unwrap().port();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::downgrade(&got);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                let Some(g) = g.upgrade() else { return };
                if let Ok(n) = sock.recv(&mut buf) {
                    let s = String::from_utf8_lossy(&buf[..n]).into_owned();
                    g.lock().unwrap().push((Instant::now(), s));
                }
            }
        });
        UdpReceiver { port, got }
    }

    /// Every datagram received so far.
    pub fn datagrams(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Datagrams grouped into pushes: a gap of more than `gap` starts a new push.
    pub fn pushes(&self, gap: Duration) -> Vec<Vec<String>> {
        let got = self.got.lock().unwrap();
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut last: Option<Instant> = None;
        for (t, s) in got.iter() {
            if last.is_none_or(|l| t.duration_since(l) > gap) {
                out.push(Vec::new());
            }
            out.last_mut().unwrap().push(s.clone());
            last = Some(*t);
        }
        out
    }
}

/// `name:value|type` statsd datagrams of one push as name → (value, type).
pub fn statsd_map(push: &[String]) -> HashMap<String, (i64, String)> {
    push.iter()
        .filter_map(|d| {
            let (name, rest) = d.split_once(':')?;
            let (v, t) = rest.split_once('|')?;
            Some((name.to_string(), (v.parse().ok()?, t.to_string())))
        })
        .collect()
}

/// Graphite's carbon-cache (twistd in the foreground) with its own config and whisper
/// directory in a temp dir.
pub struct CarbonCache {
    /// Its loopback port.
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
    child: Child,
}

impl CarbonCache {
    /// Starts it on loopback (a port of its own) and waits until it listens.
    pub fn start(dir: &Path) -> CarbonCache {
        let port = free_tcp_port();
        Self::start_on(dir, port)
    }

    /// Starts (or restarts) it on `port`, keeping the whisper files of `dir`.
    pub fn start_on(dir: &Path, port: u16) -> CarbonCache {
        let (pickle, query) = (free_tcp_port(), free_tcp_port());
        let d = dir.display();
        std::fs::create_dir_all(dir.join("log")).unwrap();
        let conf = format!(
            "[cache]\nSTORAGE_DIR = {d}/storage\nLOCAL_DATA_DIR = {d}/storage/whisper\n\
             WHITELISTS_DIR = {d}/storage/lists\nLOG_DIR = {d}/log\nPID_DIR = {d}\n\
             ENABLE_LOGROTATION = False\nUSER =\nMAX_CACHE_SIZE = inf\n\
             MAX_UPDATES_PER_SECOND = inf\nMAX_CREATES_PER_MINUTE = inf\n\
             LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {port}\n\
             ENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
             PICKLE_RECEIVER_PORT = {pickle}\nCACHE_QUERY_INTERFACE = 127.0.0.1\n\
             CACHE_QUERY_PORT = {query}\nLOG_LISTENER_CONN_SUCCESS = False\n\
             LOG_UPDATES = False\nLOG_CREATES = True\nWHISPER_AUTOFLUSH = True\n"
        );
        std::fs::write(dir.join("carbon.conf"), conf).unwrap();
        std::fs::write(
            dir.join("storage-schemas.conf"),
            "[all]\npattern = .*\nretentions = 1s:1h\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("storage-aggregation.conf"),
            "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n",
        )
        .unwrap();
        let _ = std::fs::remove_file(dir.join("carbon-cache-a.pid"));
        let log = std::fs::File::create(dir.join("carbon-cache.out")).unwrap();
        let child = Command::new("carbon-cache")
            .arg(format!("--config={d}/carbon.conf"))
            .args(["--nodaemon", "start"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("carbon-cache (apt install graphite-carbon)");
        let c = CarbonCache {
            port,
            dir: dir.to_path_buf(),
            child,
        };
        wait_for(Duration::from_secs(30), "carbon-cache to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        c
    }

    /// The .wsp file of a dotted metric name.
    pub fn wsp(&self, metric: &str) -> PathBuf {
        let mut p = self.dir.join("storage/whisper");
        for part in metric.split('.') {
            p.push(part);
        }
        p.set_extension("wsp");
        p
    }

    /// The non-empty points of `metric` (timestamp, value), read with `whisper-fetch`.
    pub fn fetch(&self, metric: &str) -> Vec<(u64, f64)> {
        let wsp = self.wsp(metric);
        if !wsp.exists() {
            return Vec::new();
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let out = Command::new("whisper-fetch")
            .arg(format!("--from={}", now - 3000))
            .arg(format!("--until={}", now + 5))
            .arg(&wsp)
            .output()
            .expect("whisper-fetch (apt install python3-whisper)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (t, v) = l.split_once('\t')?;
                Some((t.trim().parse().ok()?, v.trim().parse().ok()?))
            })
            .collect()
    }

    /// Every metric name (dotted) carbon-cache created so far.
    pub fn metrics(&self) -> Vec<String> {
        let root = self.dir.join("storage/whisper");
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "wsp") {
                    let rel = p.strip_prefix(&root).unwrap().with_extension("");
                    let parts: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    out.push(parts.join("."));
                }
            }
        }
        out.sort();
        out
    }

    /// Stops it (by pid) and waits for it to exit.
    pub fn stop(&mut self) {
        crate::process::kill(self.child.id() as i32, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("carbon-cache.out")).unwrap_or_default()
    }
}

impl Drop for CarbonCache {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// nx-27017: a MongoDB wire-protocol server storing in SQLite (`pip install nx-27017`),
/// run in the foreground on a loopback port with its database file in `dir`.
pub struct MongoServer {
    /// Its loopback port.
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
    child: Child,
}

const NX_MAIN: &str =
    "import sys; from nx_27017.nx_27017 import main; sys.argv[0] = 'nx-27017'; main()";

impl MongoServer {
    /// Starts it on loopback (a port of its own) and waits until it listens.
    pub fn start(dir: &Path) -> MongoServer {
        Self::start_on(dir, free_tcp_port())
    }

    /// Starts (or restarts) it on `port`, with the data of `dir`.
    pub fn start_on(dir: &Path, port: u16) -> MongoServer {
        let d = dir.display();
        let log = std::fs::File::create(dir.join(format!("nx-{port}.out"))).unwrap();
        let child = Command::new("python3")
            .args(["-c", NX_MAIN])
            .args(["--host", "127.0.0.1", "-p", &port.to_string()])
            .arg(format!("--db={d}/mongo.db"))
            .arg(format!("--log-file={d}/nx.log"))
            .arg(format!("--pid-file={d}/nx.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("python3 with nx-27017");
        let m = MongoServer {
            port,
            dir: dir.to_path_buf(),
            child,
        };
        wait_for(Duration::from_secs(30), "nx-27017 to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        m
    }

    /// The documents of `db.coll` (without `_id`), read with pymongo.
    pub fn find(&self, db: &str, coll: &str) -> Vec<serde_json::Value> {
        let script = format!(
            "import json, pymongo\n\
             c = pymongo.MongoClient('127.0.0.1', {port}, serverSelectionTimeoutMS=5000)\n\
             docs = [{{k: v for k, v in d.items() if k != '_id'}} for d in c['{db}']['{coll}'].find()]\n\
             print(json.dumps(docs))\n",
            port = self.port
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .expect("python3 with pymongo");
        assert!(
            out.status.success(),
            "pymongo find failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json from pymongo")
    }

    /// Stops it (by pid) and waits for it to exit.
    pub fn stop(&mut self) {
        crate::process::kill(self.child.id() as i32, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// A Zabbix trapper stand-in: parses sender requests (`ZBXD\x01`, u64 LE length, JSON),
/// records them and answers `success` as a Zabbix server does.
pub struct ZabbixReceiver {
    /// Its loopback port.
    pub port: u16,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl ZabbixReceiver {
    /// Starts it on loopback (a port of its own) and waits until it listens.
    pub fn start() -> ZabbixReceiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = [0u8; 13];
                if s.read_exact(&mut head).is_err() || &head[..5] != b"ZBXD\x01" {
                    continue;
                }
                let len = u64::from_le_bytes(head[5..13].try_into().unwrap()) as usize;
                let mut body = vec![0u8; len];
                if s.read_exact(&mut body).is_err() {
                    continue;
                }
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    continue;
                };
                let n = v["data"].as_array().map_or(0, |a| a.len());
                g.lock().unwrap().push(v);
                let ans = format!(
                    "{{\"response\":\"success\",\"info\":\"processed: {n}; failed: 0; total: {n}; seconds spent: 0.000100\"}}"
                );
                let mut out = b"ZBXD\x01".to_vec();
                out.extend_from_slice(&(ans.len() as u64).to_le_bytes());
                out.extend_from_slice(ans.as_bytes());
                let _ = s.write_all(&out);
            }
        });
        ZabbixReceiver { port, got }
    }

    /// The requests it received, parsed.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.got.lock().unwrap().clone()
    }
}
