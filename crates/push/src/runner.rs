//! The pusher process's scheduler: one thread per pusher fed through a bounded mailbox, so a
//! slow or dead target only ever delays itself; retries with exponential backoff; one log
//! line at the first failure and one at recovery.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rwsgi_os::time::unix_now;
use rwsgi_stats::model::StatsSnapshot;

use crate::job::Job;
use crate::memory::PushMemory;
use crate::sinks::{self, Sink};
use crate::spec::PusherKind;
use crate::{PushConfig, MAX_BACKOFF, MONGO_BUFFER, NET_TIMEOUT};

struct Mail {
    jobs: VecDeque<Arc<Job>>,
    closed: bool,
}

/// A bounded queue of jobs for one pusher; when it is full the oldest job is dropped.
struct Mailbox {
    mail: Mutex<Mail>,
    cv: Condvar,
    cap: usize,
}

impl Mailbox {
    fn new(cap: usize) -> Mailbox {
        Mailbox {
            mail: Mutex::new(Mail {
                jobs: VecDeque::new(),
                closed: false,
            }),
            cv: Condvar::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mail> {
        self.mail.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn offer(&self, job: Arc<Job>) {
        let mut m = self.lock();
        m.jobs.push_back(job);
        while m.jobs.len() > self.cap {
            m.jobs.pop_front();
        }
        drop(m);
        self.cv.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.cv.notify_one();
    }
}

/// The wait before retry number `failures` (1 s, 2 s, 4 s, ... up to [`MAX_BACKOFF`]).
pub(crate) fn backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(16);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// The state of one pusher thread between attempts, and its log lines.
pub(crate) struct Health {
    label: String,
    failures: u32,
    dropped: u64,
}

impl Health {
    pub(crate) fn new(label: &str) -> Health {
        Health {
            label: label.to_string(),
            failures: 0,
            dropped: 0,
        }
    }

    /// Records a failed attempt; the message to log, if this one is to be logged.
    pub(crate) fn failed(&mut self, why: impl std::fmt::Display) -> Option<String> {
        self.failures += 1;
        (self.failures == 1).then(|| {
            format!(
                "[push] {}: push failed: {why} (retrying with backoff up to {}s; next log line on recovery)",
                self.label,
                MAX_BACKOFF.as_secs()
            )
        })
    }

    /// Records a successful attempt; the message to log if it ends a failure streak.
    pub(crate) fn succeeded(&mut self) -> Option<String> {
        let msg = (self.failures > 0).then(|| {
            let mut m = format!(
                "[push] {}: recovered, pushing again (after {} failed attempt{})",
                self.label,
                self.failures,
                if self.failures == 1 { "" } else { "s" }
            );
            if self.dropped > 0 {
                m.push_str(&format!(
                    "; {} unsent document{} dropped meanwhile (buffer of {MONGO_BUFFER})",
                    self.dropped,
                    if self.dropped == 1 { "" } else { "s" }
                ));
            }
            m
        });
        self.failures = 0;
        self.dropped = 0;
        msg
    }
}

fn pusher_thread(mailbox: Arc<Mailbox>, mut sink: Box<dyn Sink>, label: String) {
    let mut pending: VecDeque<Arc<Job>> = VecDeque::new();
    let mut health = Health::new(&label);
    let mut retry_at: Option<Instant> = None;
    loop {
        let closed = {
            let mut m = mailbox.lock();
            loop {
                pending.extend(m.jobs.drain(..));
                while pending.len() > mailbox.cap {
                    pending.pop_front();
                    health.dropped += 1;
                }
                let now = Instant::now();
                let ready = !pending.is_empty() && retry_at.is_none_or(|t| now >= t);
                if ready || m.closed {
                    break m.closed;
                }
                m = match retry_at {
                    Some(t) if !pending.is_empty() => {
                        mailbox
                            .cv
                            .wait_timeout(m, t.saturating_duration_since(now))
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    _ => mailbox.cv.wait(m).unwrap_or_else(|e| e.into_inner()),
                };
            }
        };
        if closed {
            // Only the final push (carbon's, made while stopping) is still attempted.
            if pending.back().is_some_and(|j| j.final_push) {
                if let Err(e) = sink.push(&mut pending) {
                    eprintln!("[push] {label}: final push failed: {e}");
                }
            }
            return;
        }
        match sink.push(&mut pending) {
            Ok(()) => {
                retry_at = None;
                if let Some(msg) = health.succeeded() {
                    eprintln!("{msg}");
                }
            }
            Err(e) => {
                if let Some(msg) = health.failed(&e) {
                    eprintln!("{msg}");
                }
                retry_at = Some(Instant::now() + backoff(health.failures));
            }
        }
    }
}

struct Running {
    label: String,
    freq: Duration,
    next_due: Instant,
    mailbox: Arc<Mailbox>,
    handle: Option<thread::JoinHandle<()>>,
    carbon: bool,
}

pub(crate) fn run(
    config: PushConfig,
    memory: &PushMemory,
    snapshot: &mut dyn FnMut() -> StatsSnapshot,
    stop: &AtomicBool,
) {
    let t0 = Instant::now();
    let mut running: Vec<Running> = Vec::new();
    for (index, p) in config.pushers.iter().enumerate() {
        let cap = if matches!(p.kind, PusherKind::Mongo { .. }) {
            MONGO_BUFFER
        } else {
            1
        };
        let mailbox = Arc::new(Mailbox::new(cap));
        let sink = sinks::make(p, &config.hostname, memory.slot(index));
        let (mb, label) = (mailbox.clone(), p.label.clone());
        let handle = thread::Builder::new()
            .name(format!("push {}", p.label.split(':').next().unwrap_or("")))
            .spawn(move || pusher_thread(mb, sink, label));
        match handle {
            Ok(h) => {
                eprintln!("[push] {}: pushing every {}s", p.label, p.freq.as_secs());
                running.push(Running {
                    label: p.label.clone(),
                    freq: p.freq,
                    next_due: t0,
                    mailbox,
                    handle: Some(h),
                    carbon: matches!(p.kind, PusherKind::Carbon(_)),
                });
            }
            Err(e) => eprintln!("[push] {}: cannot start its thread: {e}", p.label),
        }
    }
    if running.is_empty() {
        return;
    }
    let make_job = |snap: StatsSnapshot, final_push: bool| {
        Arc::new(Job {
            snap,
            unix: unix_now(),
            mono_us: t0.elapsed().as_micros() as u64,
            final_push,
        })
    };

    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if running.iter().any(|r| r.next_due <= now) {
            let job = make_job(snapshot(), false);
            for r in running.iter_mut().filter(|r| r.next_due <= now) {
                r.mailbox.offer(job.clone());
                r.next_due += r.freq;
                if r.next_due <= now {
                    // fell behind (the machine was suspended, the snapshot was slow): no burst
                    r.next_due = now + r.freq;
                }
            }
        }
        let next = running
            .iter()
            .map(|r| r.next_due)
            .min()
            .unwrap_or(now + Duration::from_millis(100));
        let nap = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        if !nap.is_zero() {
            thread::sleep(nap);
        }
    }

    // Stopping: carbon pushes once more (uWSGI's carbon master_cleanup), the others stop.
    if running.iter().any(|r| r.carbon) {
        let job = make_job(snapshot(), true);
        for r in running.iter().filter(|r| r.carbon) {
            r.mailbox.offer(job.clone());
        }
    }
    for r in &running {
        r.mailbox.close();
    }
    // Wait for the final pushes (bounded: a dead carbon server costs at most its timeouts);
    // other threads busy with a slow target are left behind, the process exits anyway.
    let deadline = Instant::now() + NET_TIMEOUT * 2 + Duration::from_millis(500);
    for r in running.iter_mut() {
        let Some(h) = r.handle.take() else { continue };
        let limit = if r.carbon {
            deadline
        } else {
            Instant::now() + Duration::from_millis(200)
        };
        while !h.is_finished() && Instant::now() < limit {
            thread::sleep(Duration::from_millis(10));
        }
        if h.is_finished() {
            let _ = h.join();
        } else if r.carbon {
            eprintln!("[push] {}: final push did not finish in time", r.label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::SinkError;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let b: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(b, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(1000), MAX_BACKOFF);
    }

    #[test]
    fn health_logs_first_failure_and_recovery_only() {
        let mut h = Health::new("statsd:127.0.0.1:1");
        assert_eq!(h.succeeded(), None);
        let first = h.failed("connection refused").unwrap();
        assert!(first.contains("statsd:127.0.0.1:1") && first.contains("connection refused"));
        assert_eq!(h.failed("connection refused"), None);
        assert_eq!(h.failed("timed out"), None);
        h.dropped = 2;
        let rec = h.succeeded().unwrap();
        assert!(rec.contains("recovered") && rec.contains("after 3 failed attempts"));
        assert!(rec.contains("2 unsent documents dropped"));
        assert_eq!(h.succeeded(), None);
        assert!(h.failed("x").is_some(), "a new outage is logged again");
    }

    #[test]
    fn mailbox_keeps_the_newest() {
        let mb = Mailbox::new(2);
        for i in 0..5 {
            mb.offer(Arc::new(Job {
                snap: StatsSnapshot::default(),
                unix: i,
                mono_us: 0,
                final_push: false,
            }));
        }
        let m = mb.lock();
        let kept: Vec<u64> = m.jobs.iter().map(|j| j.unix).collect();
        assert_eq!(kept, vec![3, 4]);
    }

    struct Flaky {
        calls: Arc<AtomicUsize>,
        fail_first: usize,
    }

    impl Sink for Flaky {
        fn push(&mut self, pending: &mut VecDeque<Arc<Job>>) -> Result<(), SinkError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.fail_first {
                return Err(SinkError::NoAnswer);
            }
            pending.clear();
            Ok(())
        }
    }

    #[test]
    fn a_failing_pusher_retries_with_backoff_without_new_jobs() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mb = Arc::new(Mailbox::new(1));
        let sink = Box::new(Flaky {
            calls: calls.clone(),
            fail_first: 1,
        });
        let m2 = mb.clone();
        let h = thread::spawn(move || pusher_thread(m2, sink, "t".into()));
        mb.offer(Arc::new(Job {
            snap: StatsSnapshot::default(),
            unix: 0,
            mono_us: 0,
            final_push: false,
        }));
        // first attempt fails at once, the retry comes ~1 s later by itself
        let t = Instant::now();
        while calls.load(Ordering::SeqCst) < 2 && t.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(t.elapsed() >= Duration::from_millis(900));
        mb.close();
        h.join().unwrap();
    }
}
