//! The workers table: its columns, how each cell reads, and sorting. Both the terminal view
//! and `--once` render cells from here, so a column reads the same in both.

use std::cmp::Ordering;

use crate::fleet::Fleet;
use crate::model::{InFlight, WorkerStats};

/// A column of the workers table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// Which server (1-based, in command-line order).
    Server,
    /// Worker id.
    Id,
    /// Share of its server's requests.
    Share,
    /// Worker pid.
    Pid,
    /// The URI of its longest-running request, and for how long.
    Serving,
    /// Requests served.
    Requests,
    /// Requests per second.
    Rps,
    /// Exceptions.
    Exceptions,
    /// Signals handled.
    Signals,
    /// Status.
    Status,
    /// Average response time.
    AvgRt,
    /// Resident memory.
    Rss,
    /// Virtual memory.
    Vsz,
    /// Bytes sent.
    Tx,
    /// Respawns.
    Respawns,
    /// Harakiris.
    Harakiris,
    /// Time spent in requests.
    RunningTime,
    /// Time since the last spawn.
    LastSpawn,
}

impl Column {
    /// Every column, in display order.
    pub const ALL: [Column; 18] = [
        Column::Server,
        Column::Id,
        Column::Share,
        Column::Pid,
        Column::Serving,
        Column::Requests,
        Column::Rps,
        Column::Exceptions,
        Column::Signals,
        Column::Status,
        Column::AvgRt,
        Column::Rss,
        Column::Vsz,
        Column::Tx,
        Column::Respawns,
        Column::Harakiris,
        Column::RunningTime,
        Column::LastSpawn,
    ];

    /// The header.
    pub fn title(self) -> &'static str {
        match self {
            Column::Server => "SRV",
            Column::Id => "WID",
            Column::Share => "%",
            Column::Pid => "PID",
            Column::Serving => "SERVING",
            Column::Requests => "REQ",
            Column::Rps => "REQ/S",
            Column::Exceptions => "EXC",
            Column::Signals => "SIG",
            Column::Status => "STATUS",
            Column::AvgRt => "AVG",
            Column::Rss => "RSS",
            Column::Vsz => "VSZ",
            Column::Tx => "TX",
            Column::Respawns => "RS",
            Column::Harakiris => "HR",
            Column::RunningTime => "RT",
            Column::LastSpawn => "SPAWNED",
        }
    }

    /// The widest a cell is drawn in the terminal view.
    pub fn width(self) -> u16 {
        match self {
            Column::Serving => 28,
            Column::Server | Column::Id | Column::Signals | Column::Respawns => 4,
            Column::Harakiris | Column::Exceptions => 4,
            Column::Share => 6,
            Column::Status => 6,
            Column::Pid | Column::Rps | Column::Rss | Column::Vsz | Column::Tx => 8,
            Column::Requests | Column::AvgRt | Column::RunningTime | Column::LastSpawn => 9,
        }
    }

    /// The columns a narrow terminal keeps, most wanted first.
    const PRIORITY: [Column; 18] = [
        Column::Server,
        Column::Id,
        Column::Pid,
        Column::Serving,
        Column::Requests,
        Column::Rps,
        Column::Status,
        Column::Share,
        Column::AvgRt,
        Column::Exceptions,
        Column::Rss,
        Column::Tx,
        Column::Respawns,
        Column::Harakiris,
        Column::LastSpawn,
        Column::Signals,
        Column::Vsz,
        Column::RunningTime,
    ];

    /// The columns that fit in `width` cells (each followed by one blank), by
    /// [`Column::PRIORITY`], in display order: a narrow terminal drops columns rather than
    /// squeezing every one unreadable.
    pub fn fitting(width: u16) -> Vec<Column> {
        let mut used = 0u16;
        let mut keep = Vec::new();
        for c in Column::PRIORITY {
            let w = c.width().saturating_add(1);
            if used.saturating_add(w) <= width.saturating_add(1) {
                used += w;
                keep.push(c);
            }
        }
        Column::ALL
            .into_iter()
            .filter(|c| keep.contains(c))
            .collect()
    }

    /// Text (left-aligned) rather than a number (right-aligned).
    pub fn is_text(self) -> bool {
        matches!(self, Column::Serving | Column::Status)
    }

    /// The next column (wrapping), for the sort keys.
    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|&c| c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }

    /// The previous column (wrapping).
    pub fn prev(self) -> Column {
        let i = Column::ALL.iter().position(|&c| c == self).unwrap_or(0);
        Column::ALL[(i + Column::ALL.len() - 1) % Column::ALL.len()]
    }
}

/// The sort order of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    /// The column sorted by.
    pub column: Column,
    /// Largest first.
    pub descending: bool,
}

impl Default for Sort {
    /// Server, then worker id, in order.
    fn default() -> Sort {
        Sort {
            column: Column::Server,
            descending: false,
        }
    }
}

/// One row: a worker of an answering server, with what its cells need.
#[derive(Clone, Debug)]
pub struct WorkerRow<'a> {
    /// Index of its server in the fleet.
    pub server: usize,
    /// The worker.
    pub worker: &'a WorkerStats,
    /// Its share of its server's requests, in percent.
    pub share: f64,
    /// Its req/s, once known.
    pub rps: Option<f64>,
}

impl WorkerRow<'_> {
    /// The cell of `column`; `now` is the wall clock in Unix seconds.
    pub fn cell(&self, column: Column, now: u64) -> String {
        let w = self.worker;
        match column {
            Column::Server => (self.server + 1).to_string(),
            Column::Id => w.id.to_string(),
            Column::Share => format!("{:.1}", self.share),
            Column::Pid => w.pid.to_string(),
            Column::Serving => w
                .longest_running()
                .map(|r| format!("{} {}", r.uri, for_how_long(r, now)))
                .unwrap_or_default(),
            Column::Requests => w.requests.to_string(),
            Column::Rps => self.rps.map_or("-".into(), |r| format!("{r:.1}")),
            Column::Exceptions => w.exceptions.to_string(),
            Column::Signals => w.signals.to_string(),
            Column::Status => w.status.clone(),
            Column::AvgRt => micros(w.avg_rt),
            Column::Rss => bytes(w.rss),
            Column::Vsz => bytes(w.vsz),
            Column::Tx => bytes(w.tx),
            Column::Respawns => w.respawns.to_string(),
            Column::Harakiris => w.harakiris.to_string(),
            Column::RunningTime => micros(w.running_time),
            Column::LastSpawn if w.last_spawn == 0 => "-".into(),
            Column::LastSpawn => format!("{} ago", seconds(now.saturating_sub(w.last_spawn))),
        }
    }

    /// Orders two rows by `column` (ascending).
    fn compare(&self, other: &WorkerRow<'_>, column: Column) -> Ordering {
        let (a, b) = (self.worker, other.worker);
        let by_f64 = |x: f64, y: f64| x.total_cmp(&y);
        match column {
            Column::Server => self.server.cmp(&other.server),
            Column::Id => a.id.cmp(&b.id),
            Column::Share => by_f64(self.share, other.share),
            Column::Pid => a.pid.cmp(&b.pid),
            // Longest-running first when ascending: the earliest start.
            Column::Serving => serving_key(a).cmp(&serving_key(b)),
            Column::Requests => a.requests.cmp(&b.requests),
            Column::Rps => by_f64(self.rps.unwrap_or(-1.0), other.rps.unwrap_or(-1.0)),
            Column::Exceptions => a.exceptions.cmp(&b.exceptions),
            Column::Signals => a.signals.cmp(&b.signals),
            Column::Status => a.status.cmp(&b.status),
            Column::AvgRt => a.avg_rt.cmp(&b.avg_rt),
            Column::Rss => a.rss.cmp(&b.rss),
            Column::Vsz => a.vsz.cmp(&b.vsz),
            Column::Tx => a.tx.cmp(&b.tx),
            Column::Respawns => a.respawns.cmp(&b.respawns),
            Column::Harakiris => a.harakiris.cmp(&b.harakiris),
            Column::RunningTime => a.running_time.cmp(&b.running_time),
            Column::LastSpawn => a.last_spawn.cmp(&b.last_spawn),
        }
    }
}

/// Workers in a request sort before idle ones, earliest start first.
fn serving_key(w: &WorkerStats) -> (bool, u64) {
    match w.longest_running() {
        Some(r) => (false, r.started),
        None => (true, 0),
    }
}

/// The rows of every answering server, sorted (ties in server, then worker order).
pub fn rows(fleet: &Fleet, sort: Sort) -> Vec<WorkerRow<'_>> {
    let mut rows = Vec::new();
    for (server, view) in fleet.servers.iter().enumerate() {
        let Some(stats) = view.live() else { continue };
        let total = stats.requests();
        for worker in &stats.workers {
            rows.push(WorkerRow {
                server,
                worker,
                share: if total == 0 {
                    0.0
                } else {
                    worker.requests as f64 * 100.0 / total as f64
                },
                rps: view.worker_rate(worker.id),
            });
        }
    }
    rows.sort_by(|a, b| {
        let by = a.compare(b, sort.column);
        let by = if sort.descending { by.reverse() } else { by };
        by.then(a.server.cmp(&b.server))
            .then(a.worker.id.cmp(&b.worker.id))
    });
    rows
}

/// How long the request has run, seen at `now` (`?` when the server gave no start).
pub fn for_how_long(r: &InFlight, now: u64) -> String {
    if r.started == 0 {
        return "?".into();
    }
    seconds(now.saturating_sub(r.started))
}

/// `950B`, `12.3K`, `4.0M`, `1.2G` (powers of 1024).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1}{}", UNITS[unit])
}

/// Microseconds as `850us`, `12.5ms`, `3.20s`, or longer as [`seconds`].
pub fn micros(us: u64) -> String {
    match us {
        0..=999 => format!("{us}us"),
        1_000..=999_999 => format!("{:.1}ms", us as f64 / 1e3),
        1_000_000..=59_999_999 => format!("{:.2}s", us as f64 / 1e6),
        _ => seconds(us / 1_000_000),
    }
}

/// Seconds as `42s`, `5m07s`, `3h04m`, `2d05h`.
pub fn seconds(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h{:02}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Update;
    use crate::model::{CoreStats, ServerStats};
    use std::time::{Duration, Instant};

    fn worker(id: u64, pid: u64, requests: u64, serving: Option<(&str, u64)>) -> WorkerStats {
        WorkerStats {
            id,
            pid,
            requests,
            status: if serving.is_some() { "busy" } else { "idle" }.into(),
            cores: serving
                .map(|(uri, started)| CoreStats {
                    id: 0,
                    requests: 0,
                    current: Some(InFlight {
                        method: "GET".into(),
                        uri: uri.into(),
                        remote_addr: "127.0.0.1".into(),
                        started,
                    }),
                })
                .into_iter()
                .collect(),
            ..WorkerStats::default()
        }
    }

    fn fleet() -> Fleet {
        let mut f = Fleet::new(["a".to_string(), "b".to_string()]);
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let a = |reqs: [u64; 2]| ServerStats {
            workers: vec![
                worker(1, 50, reqs[0], Some(("/slow", 100))),
                worker(2, 20, reqs[1], None),
            ],
            ..ServerStats::default()
        };
        let b = |reqs: u64| ServerStats {
            workers: vec![worker(1, 30, reqs, Some(("/slower", 90)))],
            ..ServerStats::default()
        };
        for (server, result, at) in [
            (0, a([10, 20]), t0),
            (1, b(5), t0),
            (0, a([15, 45]), t1),
            (1, b(6), t1),
        ] {
            f.apply(Update {
                server,
                result: Ok(result),
                at,
            });
        }
        f
    }

    fn order(f: &Fleet, column: Column, descending: bool) -> Vec<(usize, u64)> {
        rows(f, Sort { column, descending })
            .iter()
            .map(|r| (r.server, r.worker.id))
            .collect()
    }

    #[test]
    fn sorts_by_any_column_both_ways() {
        let f = fleet();
        assert_eq!(order(&f, Column::Server, false), [(0, 1), (0, 2), (1, 1)]);
        assert_eq!(order(&f, Column::Pid, false), [(0, 2), (1, 1), (0, 1)]);
        assert_eq!(order(&f, Column::Pid, true), [(0, 1), (1, 1), (0, 2)]);
        assert_eq!(order(&f, Column::Rps, true), [(0, 2), (0, 1), (1, 1)]);
        assert_eq!(order(&f, Column::Requests, true), [(0, 2), (0, 1), (1, 1)]);
        // Longest-running request first; idle workers last.
        assert_eq!(order(&f, Column::Serving, false), [(1, 1), (0, 1), (0, 2)]);
        // Equal keys keep server/worker order.
        assert_eq!(
            order(&f, Column::Exceptions, true),
            [(0, 1), (0, 2), (1, 1)]
        );
        // Every column sorts without panicking.
        for c in Column::ALL {
            assert_eq!(
                rows(
                    &f,
                    Sort {
                        column: c,
                        descending: true
                    }
                )
                .len(),
                3
            );
        }
    }

    #[test]
    fn cells_read_as_shown() {
        let f = fleet();
        let rows = rows(&f, Sort::default());
        let r = &rows[0];
        assert_eq!(r.cell(Column::Server, 130), "1");
        assert_eq!(r.cell(Column::Share, 130), "25.0");
        assert_eq!(r.cell(Column::Rps, 130), "5.0");
        assert_eq!(r.cell(Column::Serving, 130), "/slow 30s");
        assert_eq!(rows[1].cell(Column::Serving, 130), "");
        assert_eq!(rows[1].cell(Column::Share, 130), "75.0");
        assert_eq!(r.cell(Column::LastSpawn, 130), "-");
    }

    #[test]
    fn next_and_prev_visit_every_column() {
        let mut c = Column::Server;
        for _ in 0..Column::ALL.len() {
            c = c.next();
            assert_eq!(c.prev().next(), c);
        }
        assert_eq!(c, Column::Server);
        assert_eq!(Column::Server.prev(), Column::LastSpawn);
    }

    #[test]
    fn narrow_terminals_keep_the_most_wanted_columns() {
        assert_eq!(Column::fitting(400), Column::ALL.to_vec());
        let narrow = Column::fitting(80);
        assert!(
            narrow.starts_with(&[Column::Server, Column::Id]),
            "{narrow:?}"
        );
        for c in [Column::Pid, Column::Serving, Column::Requests, Column::Rps] {
            assert!(narrow.contains(&c), "{c:?} in {narrow:?}");
        }
        assert!(!narrow.contains(&Column::RunningTime), "{narrow:?}");
        let used: u16 = narrow.iter().map(|c| c.width() + 1).sum();
        assert!(used <= 81, "{used}");
        assert!(Column::fitting(0).is_empty());
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(2048), "2.0K");
        assert_eq!(bytes(5 * 1024 * 1024 + 512 * 1024), "5.5M");
        assert_eq!(micros(850), "850us");
        assert_eq!(micros(12_500), "12.5ms");
        assert_eq!(micros(3_200_000), "3.20s");
        assert_eq!(micros(3_600_000_000), "1h00m");
        assert_eq!(seconds(307), "5m07s");
        assert_eq!(seconds(2 * 86_400 + 5 * 3_600), "2d05h");
        let r = InFlight::default();
        assert_eq!(for_how_long(&r, 100), "?");
    }
}
