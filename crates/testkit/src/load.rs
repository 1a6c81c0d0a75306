//! A bounded load: client threads sending one request per new connection until stopped,
//! every response counted and every failure kept.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http::try_http;
use crate::process::Server;

/// How long a load runs at most, whoever forgets to stop it.
pub const MAX_LOAD: Duration = Duration::from_secs(60);

/// `clients` threads sending `GET path` to `127.0.0.1:port`, each on a new connection per
/// request, until [`Load::finish`], at most `max_per_client` requests each and [`MAX_LOAD`]
/// long. A response is a success when it is a 200 with body `expect`; anything else (another
/// status or body, a connection error) is a failure, kept with what was seen.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the clients.
    pub fn start(
        port: u16,
        clients: usize,
        path: &str,
        expect: &str,
        max_per_client: usize,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + MAX_LOAD;
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
                let (path, expect) = (path.to_string(), expect.to_string());
                std::thread::spawn(move || {
                    for _ in 0..max_per_client {
                        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                            break;
                        }
                        let failure = match try_http(port, "GET", &path, &[], b"") {
                            Ok(r) if r.status == 200 && r.text() == expect => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Ok(r) => format!("{} {}", r.status, r.text()),
                            Err(e) => e.to_string(),
                        };
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(failure);
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failures,
            threads,
        }
    }

    /// Successful responses so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops the clients (each finishes its request in flight) and returns how many
    /// succeeded; fails the test, with `server`'s log, if any request failed.
    pub fn finish(self, server: &Server) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("client thread");
        }
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            failures.is_empty(),
            "{} failed requests: {:?}\n{}",
            failures.len(),
            &failures[..failures.len().min(5)],
            server.log()
        );
        self.ok.load(Ordering::Relaxed)
    }
}
