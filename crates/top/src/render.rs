//! Drawing the fleet: the terminal screen (ratatui widgets) and the plain text of `--once`.
//! Both take the clock as arguments, so the same state always draws the same.

use std::fmt::Write as _;
use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

use crate::fleet::{age, Fleet, ServerView, Totals};
use crate::model::{CoreStats, ServerStats, WorkerCounts};
use crate::table::{for_how_long, micros, rows, seconds, Column, Sort, WorkerRow};

/// The clock a frame is drawn at.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// For how long a server has not answered.
    pub now: Instant,
    /// Wall clock, Unix seconds: request durations, uptimes, spawn ages.
    pub unix: u64,
}

/// What the user chose on screen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewState {
    /// The table's order.
    pub sort: Sort,
    /// The selected worker: (server index, worker id). `None`: the first row.
    pub selected: Option<(usize, u64)>,
}

/// The keys, as the footer lists them.
pub const FOOTER_KEYS: &str = "q quit  ←/→ or </> sort column  r reverse  ↑/↓ select worker";

/// The line of server `index` (0-based): its totals, or why it is not answering (`live`:
/// the view keeps polling, so it says for how long and that it retries).
pub fn server_line(index: usize, view: &ServerView, clock: Clock, live: bool) -> String {
    let mut line = format!("[{}] {}  ", index + 1, view.label);
    if let Some(f) = &view.failure {
        if live {
            let _ = write!(
                line,
                "NOT ANSWERING for {}: {} (retrying)",
                seconds(age(f.since, clock.now).as_secs()),
                f.message
            );
        } else {
            let _ = write!(line, "NOT ANSWERING: {}", f.message);
        }
        return line;
    }
    let Some((s, _)) = &view.last else {
        line.push_str("waiting for the first answer");
        return line;
    };
    let rps = view.rates.as_ref().map(|r| r.total);
    line.push_str(&totals_text(
        s.requests(),
        rps,
        s.listen_queue,
        s.load,
        s.worker_counts(),
    ));
    let _ = write!(line, "  pid {}", s.pid);
    if !s.version.is_empty() {
        let _ = write!(line, "  v{}", s.version);
    }
    if let Some(up) = s.oldest_spawn() {
        let _ = write!(line, "  up {}", seconds(clock.unix.saturating_sub(up)));
    }
    line.push_str(&latency_text(s));
    line
}

/// The p50/p99 part of a server line: only when the server exports them.
fn latency_text(s: &ServerStats) -> String {
    match s.latency {
        Some(l) => format!("  p50 {}  p99 {}", micros(l.p50_us), micros(l.p99_us)),
        None => String::new(),
    }
}

fn totals_text(requests: u64, rps: Option<f64>, lq: u64, load: u64, w: WorkerCounts) -> String {
    let rps = rps.map_or("-".to_string(), |r| format!("{r:.1}"));
    format!(
        "req {requests}  req/s {rps}  lq {lq}  load {load}  busy {} idle {} cheap {}",
        w.busy, w.idle, w.cheap
    )
}

/// The fleet total line.
pub fn fleet_line(t: &Totals) -> String {
    format!(
        "FLEET {} servers, {} answering  {}",
        t.servers,
        t.answering,
        totals_text(t.requests, t.rps, t.listen_queue, t.load, t.workers)
    )
}

fn sort_mark(sort: Sort, column: Column) -> &'static str {
    match (sort.column == column, sort.descending) {
        (false, _) => "",
        (true, true) => "▼",
        (true, false) => "▲",
    }
}

/// The row of the selected worker (the first row when none is, or it is gone).
fn selected_index(rows: &[WorkerRow<'_>], state: &ViewState) -> Option<usize> {
    if rows.is_empty() {
        return None;
    }
    let i = state.selected.and_then(|(server, id)| {
        rows.iter()
            .position(|r| r.server == server && r.worker.id == id)
    });
    Some(i.unwrap_or(0))
}

/// Moves the selection `delta` rows (clamped to the table).
pub fn move_selection(fleet: &Fleet, state: &mut ViewState, delta: isize) {
    let rows = rows(fleet, state.sort);
    let Some(cur) = selected_index(&rows, state) else {
        return;
    };
    let next = cur.saturating_add_signed(delta).min(rows.len() - 1);
    state.selected = Some((rows[next].server, rows[next].worker.id));
}

fn core_cells(c: &CoreStats, unix: u64) -> [String; 6] {
    match &c.current {
        Some(r) => [
            c.id.to_string(),
            c.requests.to_string(),
            r.method.clone(),
            r.uri.clone(),
            r.remote_addr.clone(),
            for_how_long(r, unix),
        ],
        None => [
            c.id.to_string(),
            c.requests.to_string(),
            String::new(),
            "idle".into(),
            String::new(),
            String::new(),
        ],
    }
}

const CORE_TITLES: [&str; 6] = ["CORE", "REQ", "METHOD", "URI", "REMOTE", "FOR"];

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, fleet: &Fleet, state: &ViewState, interval: f64, clock: Clock) {
    let rows = rows(fleet, state.sort);
    let selected = selected_index(&rows, state);
    let cores: &[CoreStats] = selected.map_or(&[], |i| &rows[i].worker.cores);
    let core_height = if selected.is_some() {
        (cores.len() as u16).clamp(1, 8) + 2
    } else {
        0
    };
    let [title, servers, fleet_area, spark, workers, cores_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(fleet.servers.len() as u16),
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(3),
        Constraint::Length(core_height),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    frame.render_widget(
        Paragraph::new(format!(
            "rwsgi top - {} server(s) - every {interval}s - {} UTC",
            fleet.servers.len(),
            clock_text(clock.unix)
        ))
        .style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );
    let server_lines: Vec<Line<'_>> = fleet
        .servers
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let line = Line::from(server_line(i, v, clock, true));
            if v.failure.is_some() {
                line.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(server_lines), servers);
    frame.render_widget(
        Paragraph::new(fleet_line(&fleet.totals()))
            .style(Style::new().add_modifier(Modifier::BOLD)),
        fleet_area,
    );
    draw_sparkline(frame, fleet, spark);
    draw_workers(frame, &rows, selected, state.sort, clock.unix, workers);
    if let Some(i) = selected {
        let r = &rows[i];
        let title = format!(
            "cores of worker {} of [{}] {}",
            r.worker.id,
            r.server + 1,
            fleet.servers[r.server].label
        );
        let table = Table::new(
            cores
                .iter()
                .map(|c| Row::new(core_cells(c, clock.unix).map(Cell::from))),
            [
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Min(20),
                Constraint::Length(40),
                Constraint::Length(8),
            ],
        )
        .header(Row::new(CORE_TITLES).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(Block::new().borders(Borders::TOP).title(title));
        frame.render_widget(table, cores_area);
    }
    frame.render_widget(
        Paragraph::new(format!(
            "{FOOTER_KEYS}   sorted by {} {}",
            state.sort.column.title(),
            if state.sort.descending {
                "descending"
            } else {
                "ascending"
            }
        ))
        .style(Style::new().add_modifier(Modifier::REVERSED)),
        footer,
    );
}

fn draw_sparkline(frame: &mut Frame<'_>, fleet: &Fleet, area: Rect) {
    // The newest samples that fit, right-aligned.
    let width = usize::from(area.width);
    let skip = fleet.history.len().saturating_sub(width);
    let data: Vec<u64> = fleet.history.iter().skip(skip).copied().collect();
    let peak = data.iter().copied().max().unwrap_or(0);
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(format!("fleet req/s (peak {peak})")),
            )
            .data(&data),
        area,
    );
}

fn draw_workers(
    frame: &mut Frame<'_>,
    rows: &[WorkerRow<'_>],
    selected: Option<usize>,
    sort: Sort,
    unix: u64,
    area: Rect,
) {
    let columns = Column::fitting(area.width);
    let header = Row::new(columns.iter().map(|&c| {
        let title = Line::from(format!("{}{}", c.title(), sort_mark(sort, c)));
        Cell::from(if c.is_text() {
            title
        } else {
            title.right_aligned()
        })
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let body = rows.iter().map(|r| {
        Row::new(columns.iter().map(|&c| {
            let text = r.cell(c, unix);
            if c.is_text() {
                Cell::from(text)
            } else {
                Cell::from(Line::from(text).right_aligned())
            }
        }))
    });
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| Constraint::Length(c.width()))
        .collect();
    // A fresh state each frame: ratatui scrolls just enough to show the selected row.
    let mut table_state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(
        Table::new(body, widths)
            .header(header)
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
        &mut table_state,
    );
}

/// `HH:MM:SS` of a Unix time.
fn clock_text(unix: u64) -> String {
    let s = unix % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// Left- or right-aligned columns separated by two spaces, no trailing blanks.
fn text_table<const N: usize>(titles: [&str; N], right: [bool; N], rows: &[[String; N]]) -> String {
    let mut widths = titles.map(|t| t.chars().count());
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for i in 0..N {
            if i > 0 {
                l.push_str("  ");
            }
            if right[i] {
                let _ = write!(l, "{:>w$}", cells[i], w = widths[i]);
            } else {
                let _ = write!(l, "{:<w$}", cells[i], w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(titles);
    for r in rows {
        line(r.each_ref().map(String::as_str));
    }
    out
}

/// The plain-text snapshot of `--once`: server lines, the fleet line, the workers table, and
/// every request in flight.
pub fn text(fleet: &Fleet, sort: Sort, clock: Clock) -> String {
    let mut out = String::new();
    for (i, v) in fleet.servers.iter().enumerate() {
        out.push_str(&server_line(i, v, clock, false));
        out.push('\n');
    }
    out.push_str(&fleet_line(&fleet.totals()));
    out.push_str("\n\n");
    let rows = rows(fleet, sort);
    let cells: Vec<[String; 18]> = rows
        .iter()
        .map(|r| Column::ALL.map(|c| r.cell(c, clock.unix)))
        .collect();
    out.push_str(&text_table(
        Column::ALL.map(Column::title),
        Column::ALL.map(|c| !c.is_text()),
        &cells,
    ));
    let in_flight: Vec<[String; 7]> = rows
        .iter()
        .flat_map(|r| {
            r.worker
                .cores
                .iter()
                .filter(|c| c.current.is_some())
                .map(move |c| {
                    let [core, _, method, uri, remote, since] = core_cells(c, clock.unix);
                    [
                        (r.server + 1).to_string(),
                        r.worker.id.to_string(),
                        core,
                        method,
                        uri,
                        remote,
                        since,
                    ]
                })
        })
        .collect();
    if !in_flight.is_empty() {
        out.push('\n');
        let table = text_table(
            ["SRV", "WID", "CORE", "METHOD", "URI", "REMOTE", "FOR"],
            [true, true, true, false, false, false, true],
            &in_flight,
        );
        out.push_str(&table);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Update;
    use crate::model::{InFlight, Latency, WorkerStats};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;

    const UNIX: u64 = 1_000_000;

    fn stats(pid: u64, reqs: [u64; 2], busy_uri: Option<&str>) -> ServerStats {
        let worker = |id: u64, requests: u64, busy: bool| WorkerStats {
            id,
            pid: pid + id,
            requests,
            status: if busy { "busy" } else { "idle" }.into(),
            last_spawn: UNIX - 120,
            cores: vec![
                CoreStats {
                    id: 0,
                    requests: requests / 2,
                    current: None,
                },
                CoreStats {
                    id: 1,
                    requests: requests / 2,
                    current: busy_uri.filter(|_| busy).map(|uri| InFlight {
                        method: "GET".into(),
                        uri: uri.into(),
                        remote_addr: "127.0.0.1".into(),
                        started: UNIX - 7,
                    }),
                },
            ],
            ..WorkerStats::default()
        };
        ServerStats {
            version: "2.0.31".into(),
            pid,
            workers: vec![
                worker(1, reqs[0], busy_uri.is_some()),
                worker(2, reqs[1], false),
            ],
            ..ServerStats::default()
        }
    }

    /// Two servers polled twice a second apart; the second then fails.
    fn fleet(t0: Instant) -> Fleet {
        let t1 = t0 + Duration::from_secs(1);
        let mut f = Fleet::new(["127.0.0.1:9001".to_string(), "@other".to_string()]);
        for (server, result, at) in [
            (0, Ok(stats(100, [10, 4], Some("/sleep?20"))), t0),
            (1, Ok(stats(200, [1, 1], None)), t0),
            (0, Ok(stats(100, [20, 6], Some("/sleep?20"))), t1),
            (1, Ok(stats(200, [3, 1], None)), t1),
        ] {
            f.apply(Update { server, result, at });
        }
        f.tick();
        f
    }

    fn clock(now: Instant) -> Clock {
        Clock { now, unix: UNIX }
    }

    #[test]
    fn once_text_shows_servers_fleet_workers_and_requests_in_flight() {
        let t0 = Instant::now();
        let mut f = fleet(t0);
        let text = text(&f, Sort::default(), clock(t0 + Duration::from_secs(1)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "[1] 127.0.0.1:9001  req 26  req/s 12.0  lq 0  load 0  busy 1 idle 1 cheap 0  pid 100  v2.0.31  up 2m00s"
        );
        assert!(
            lines[1].starts_with("[2] @other  req 4  req/s 2.0"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "FLEET 2 servers, 2 answering  req 30  req/s 14.0  lq 0  load 0  busy 1 idle 3 cheap 0"
        );
        assert!(
            lines[4].starts_with("SRV  WID     %  PID  SERVING"),
            "{text}"
        );
        let row: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(
            &row[..7],
            ["1", "1", "76.9", "101", "/sleep?20", "7s", "20"],
            "{text}"
        );
        assert_eq!(lines.len(), 12, "{text}");
        assert_eq!(
            lines[11].split_whitespace().collect::<Vec<_>>(),
            ["1", "1", "1", "GET", "/sleep?20", "127.0.0.1", "7s"]
        );

        f.apply(Update {
            server: 1,
            result: Err("cannot connect: refused".into()),
            at: t0 + Duration::from_secs(2),
        });
        let text = super::text(&f, Sort::default(), clock(t0 + Duration::from_secs(5)));
        assert!(
            text.contains("[2] @other  NOT ANSWERING: cannot connect: refused\n"),
            "{text}"
        );
        assert!(
            text.contains("FLEET 2 servers, 1 answering  req 26"),
            "{text}"
        );
        assert!(
            !text.contains("\n2    1 "),
            "a silent server's workers are not listed: {text}"
        );
    }

    #[test]
    fn latency_is_shown_only_when_exported() {
        let t0 = Instant::now();
        let mut f = fleet(t0);
        assert!(!text(&f, Sort::default(), clock(t0)).contains("p50"));
        let mut s = stats(100, [20, 6], None);
        s.latency = Some(Latency {
            p50_us: 1500,
            p99_us: 250_000,
        });
        f.apply(Update {
            server: 0,
            result: Ok(s),
            at: t0 + Duration::from_secs(2),
        });
        assert!(text(&f, Sort::default(), clock(t0)).contains("  p50 1.5ms  p99 250.0ms"));
    }

    fn screen(f: &Fleet, state: &ViewState, now: Instant) -> String {
        let mut term = Terminal::new(TestBackend::new(200, 30)).unwrap();
        term.draw(|frame| draw(frame, f, state, 1.0, clock(now)))
            .unwrap();
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn row_of(screen: &str, pid: u64) -> Option<(usize, &str)> {
        screen
            .lines()
            .enumerate()
            .find(|(_, l)| l.split_whitespace().nth(3) == Some(pid.to_string().as_str()))
    }

    #[test]
    fn screen_shows_everything_and_sorts() {
        let t0 = Instant::now();
        let f = fleet(t0);
        let mut state = ViewState::default();
        let s = screen(&f, &state, t0);
        assert!(s.contains("[1] 127.0.0.1:9001  req 26  req/s 12.0"), "{s}");
        assert!(s.contains("FLEET 2 servers, 2 answering"), "{s}");
        assert!(s.contains("fleet req/s (peak 14)"), "{s}");
        assert!(s.contains("SRV▲"), "{s}");
        assert!(s.contains(FOOTER_KEYS), "{s}");
        for pid in [101, 102, 201, 202] {
            assert!(row_of(&s, pid).is_some(), "worker {pid} missing:\n{s}");
        }
        let (_, busy) = row_of(&s, 101).unwrap();
        assert!(busy.contains("/sleep?20 7s"), "{s}");
        // The first row is selected: its cores are listed.
        assert!(s.contains("cores of worker 1 of [1] 127.0.0.1:9001"), "{s}");
        assert!(
            s.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["1", "10", "GET", "/sleep?20", "127.0.0.1", "7s"]),
            "{s}"
        );
        // Sorted by pid, descending: 202 above 201 above 102 above 101.
        state.sort = Sort {
            column: Column::Pid,
            descending: true,
        };
        let s = screen(&f, &state, t0);
        let ys: Vec<usize> = [202, 201, 102, 101]
            .iter()
            .map(|&p| row_of(&s, p).unwrap().0)
            .collect();
        assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}\n{s}");
        assert!(s.contains("PID▼"), "{s}");
        // Selecting moves down the sorted rows.
        move_selection(&f, &mut state, 1);
        assert_eq!(state.selected, Some((1, 1)));
        move_selection(&f, &mut state, 10);
        assert_eq!(state.selected, Some((0, 1)));
        move_selection(&f, &mut state, -10);
        assert_eq!(state.selected, Some((1, 2)));
    }

    #[test]
    fn the_selected_row_is_scrolled_into_view() {
        let t0 = Instant::now();
        let mut f = Fleet::new(["big".to_string()]);
        let workers = (1..=60)
            .map(|id| WorkerStats {
                id,
                pid: 1000 + id,
                ..WorkerStats::default()
            })
            .collect();
        f.apply(Update {
            server: 0,
            result: Ok(ServerStats {
                workers,
                ..ServerStats::default()
            }),
            at: t0,
        });
        let mut state = ViewState::default();
        let s = screen(&f, &state, t0);
        assert!(
            row_of(&s, 1001).is_some() && row_of(&s, 1060).is_none(),
            "{s}"
        );
        move_selection(&f, &mut state, 59);
        let s = screen(&f, &state, t0);
        assert!(row_of(&s, 1060).is_some(), "{s}");
        assert!(s.contains("cores of worker 60 of [1] big"), "{s}");
    }

    #[test]
    fn a_silent_server_gets_a_status_line_on_screen() {
        let t0 = Instant::now();
        let mut f = fleet(t0);
        f.apply(Update {
            server: 0,
            result: Err("no complete answer within 3s".into()),
            at: t0,
        });
        let s = screen(&f, &ViewState::default(), t0 + Duration::from_secs(4));
        assert!(
            s.contains("[1] 127.0.0.1:9001  NOT ANSWERING for 4s: no complete answer within 3s"),
            "{s}"
        );
        assert!(row_of(&s, 101).is_none(), "{s}");
        assert!(row_of(&s, 201).is_some(), "{s}");
        // A tiny terminal draws without panicking.
        let mut term = Terminal::new(TestBackend::new(10, 3)).unwrap();
        term.draw(|frame| draw(frame, &f, &ViewState::default(), 1.0, clock(t0)))
            .unwrap();
    }
}
