//! `rwsgi top [-i SECS] [--once] ADDR...`: the command line, the pollers (one thread per
//! server, so a slow or garbage-sending socket never holds up the screen) and the terminal
//! loop.

use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::fetch::{poll, Limits, Target, TargetError};
use crate::fleet::{Fleet, Update};
use crate::render::{self, Clock, ViewState};

/// The usage text.
pub const USAGE: &str = "\
usage: rwsgi top [-i SECS] [--once] ADDR...

A live view of one or more stats servers (--stats).
ADDR: host:port, :port, /path/to/unix.sock, @abstract, or http://host:port[/path]
for a server run with --stats-http.

  -i, --interval SECS  refresh every SECS seconds (default 1; fractions allowed)
      --once           print one plain-text snapshot and exit (1 if a server did not answer)
  -h, --help           this text

keys: q quit, ←/→ (or < >) sort column, r reverse the order, ↑/↓ (or k j) select a worker
";

/// The shortest refresh interval (a stats server is not meant to be hammered).
const MIN_INTERVAL: f64 = 0.1;

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seconds between polls.
    pub interval: f64,
    /// Print once and exit.
    pub once: bool,
    /// The addresses as written, and their parsed form.
    pub targets: Vec<(String, Target)>,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Print [`USAGE`].
    Help,
    /// Watch these servers.
    Run(Options),
}

/// Why the command line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// `-i` without a value.
    #[error("{0} needs a value (seconds)")]
    MissingValue(String),
    /// An interval that is not a number of seconds of at least 0.1.
    #[error("invalid interval '{0}': a number of seconds, at least 0.1")]
    BadInterval(String),
    /// An option `top` does not know.
    #[error("unknown option '{0}'")]
    UnknownOption(String),
    /// No address.
    #[error("no address given")]
    NoAddress,
    /// An address that does not parse.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// Parses the arguments after `top`.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Command, ArgsError> {
    let mut opts = Options {
        interval: 1.0,
        once: false,
        targets: Vec::new(),
    };
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(arg) = it.next() {
        let interval = match arg {
            "-h" | "--help" => return Ok(Command::Help),
            "--once" => {
                opts.once = true;
                continue;
            }
            "-i" | "--interval" => it
                .next()
                .ok_or_else(|| ArgsError::MissingValue(arg.to_string()))?,
            _ => match arg.strip_prefix("--interval=") {
                Some(v) => v,
                None if arg.starts_with('-') && arg.len() > 1 => {
                    return Err(ArgsError::UnknownOption(arg.to_string()))
                }
                None => {
                    opts.targets.push((arg.to_string(), Target::parse(arg)?));
                    continue;
                }
            },
        };
        opts.interval = interval
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= MIN_INTERVAL)
            .ok_or_else(|| ArgsError::BadInterval(interval.to_string()))?;
    }
    if opts.targets.is_empty() {
        return Err(ArgsError::NoAddress);
    }
    Ok(Command::Run(opts))
}

/// Bounds on one poll: the deadline grows with the interval but stays in 1..=5 s.
fn limits(interval: f64) -> Limits {
    let deadline = Duration::from_secs_f64(interval.clamp(1.0, 5.0));
    Limits {
        connect: deadline,
        deadline,
        ..Limits::default()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Polls server `server` every `interval` until the receiver is gone.
fn spawn_poller(server: usize, target: Target, interval: Duration, tx: mpsc::Sender<Update>) {
    let limits = limits(interval.as_secs_f64());
    thread::spawn(move || loop {
        let started = Instant::now();
        let result = poll(&target, limits).map_err(|e| e.to_string());
        let update = Update {
            server,
            result,
            at: Instant::now(),
        };
        if tx.send(update).is_err() {
            return;
        }
        thread::sleep(interval.saturating_sub(started.elapsed()));
    });
}

/// `rwsgi top ARGS`: runs and returns the process exit code.
pub fn main<S: AsRef<str>>(args: &[S]) -> u8 {
    let opts = match parse_args(args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Ok(Command::Run(o)) => o,
        Err(e) => {
            eprintln!("rwsgi top: {e}\n\n{USAGE}");
            return 2;
        }
    };
    if opts.once {
        return once(&opts);
    }
    match interactive(&opts) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rwsgi top: {e}");
            1
        }
    }
}

/// `--once`: every server polled in parallel, one text snapshot; 1 if any did not answer.
fn once(opts: &Options) -> u8 {
    let mut fleet = Fleet::new(opts.targets.iter().map(|(label, _)| label.clone()));
    let limits = limits(opts.interval);
    let updates: Vec<Update> = thread::scope(|s| {
        let handles: Vec<_> = opts
            .targets
            .iter()
            .enumerate()
            .map(|(server, (_, target))| {
                s.spawn(move || Update {
                    server,
                    result: poll(target, limits).map_err(|e| e.to_string()),
                    at: Instant::now(),
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for u in updates {
        fleet.apply(u);
    }
    let clock = Clock {
        now: Instant::now(),
        unix: unix_now(),
    };
    let text = render::text(&fleet, ViewState::default().sort, clock);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    if fleet.servers.iter().all(|v| v.live().is_some()) {
        0
    } else {
        1
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Quit,
    SortNext,
    SortPrev,
    Reverse,
    Select(isize),
}

fn action(code: KeyCode, modifiers: KeyModifiers) -> Option<Action> {
    Some(match code {
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        // Raw mode delivers Ctrl-C as a key.
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Right | KeyCode::Char('>') => Action::SortNext,
        KeyCode::Left | KeyCode::Char('<') => Action::SortPrev,
        KeyCode::Char('r') => Action::Reverse,
        KeyCode::Down | KeyCode::Char('j') => Action::Select(1),
        KeyCode::Up | KeyCode::Char('k') => Action::Select(-1),
        KeyCode::PageDown => Action::Select(10),
        KeyCode::PageUp => Action::Select(-10),
        _ => return None,
    })
}

/// Applies `a` to the view; false to quit.
fn apply_action(a: Action, fleet: &Fleet, state: &mut ViewState) -> bool {
    match a {
        Action::Quit => return false,
        Action::SortNext => state.sort.column = state.sort.column.next(),
        Action::SortPrev => state.sort.column = state.sort.column.prev(),
        Action::Reverse => state.sort.descending = !state.sort.descending,
        Action::Select(d) => render::move_selection(fleet, state, d),
    }
    true
}

/// The terminal view, until `q`. The terminal is restored on every way out (ratatui's panic
/// hook covers a panic).
fn interactive(opts: &Options) -> std::io::Result<()> {
    let interval = Duration::from_secs_f64(opts.interval);
    let mut fleet = Fleet::new(opts.targets.iter().map(|(label, _)| label.clone()));
    let (tx, rx) = mpsc::channel();
    for (server, (_, target)) in opts.targets.iter().enumerate() {
        spawn_poller(server, target.clone(), interval, tx.clone());
    }
    drop(tx);
    let mut terminal = ratatui::try_init()?;
    let result = (|| -> std::io::Result<()> {
        let mut state = ViewState::default();
        let mut next_tick = Instant::now() + interval;
        loop {
            let clock = Clock {
                now: Instant::now(),
                unix: unix_now(),
            };
            terminal.draw(|f| render::draw(f, &fleet, &state, opts.interval, clock))?;
            // Wait for a key, but never past the next poll result or tick.
            if event::poll(Duration::from_millis(100))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Release {
                        if let Some(a) = action(k.code, k.modifiers) {
                            if !apply_action(a, &fleet, &mut state) {
                                return Ok(());
                            }
                        }
                    }
                }
            }
            while let Ok(u) = rx.try_recv() {
                fleet.apply(u);
            }
            if Instant::now() >= next_tick {
                fleet.tick();
                next_tick += interval;
                // After a stall (a suspended terminal), do not catch up tick by tick.
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + interval;
                }
            }
        }
    })();
    ratatui::try_restore()?;
    drop(terminal);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;

    #[test]
    fn parses_the_command_line() {
        let Command::Run(o) = parse_args(&["-i", "0.5", "--once", ":9191", "@s"]).unwrap() else {
            panic!("not a run");
        };
        assert_eq!(o.interval, 0.5);
        assert!(o.once);
        assert_eq!(o.targets.len(), 2);
        assert_eq!(o.targets[1].0, "@s");
        let Command::Run(o) = parse_args(&["--interval=2", "http://127.0.0.1:1"]).unwrap() else {
            panic!("not a run");
        };
        assert_eq!((o.interval, o.once), (2.0, false));
        assert_eq!(parse_args(&["-h"]).unwrap(), Command::Help);
        for (args, want) in [
            (&["-i"][..], ArgsError::MissingValue("-i".into())),
            (&["-i", "0", ":1"], ArgsError::BadInterval("0".into())),
            (&["-i", "NaN", ":1"], ArgsError::BadInterval("NaN".into())),
            (&["-x", ":1"], ArgsError::UnknownOption("-x".into())),
            (&["--once"], ArgsError::NoAddress),
        ] {
            assert_eq!(parse_args(args).unwrap_err(), want, "{args:?}");
        }
        assert!(matches!(parse_args(&["host:x"]), Err(ArgsError::Target(_))));
    }

    #[test]
    fn keys_sort_and_select() {
        let fleet = Fleet::new(["a".to_string()]);
        let mut state = ViewState::default();
        let press = |c, state: &mut ViewState| {
            let a = action(c, KeyModifiers::NONE).expect("a bound key");
            apply_action(a, &fleet, state)
        };
        assert!(press(KeyCode::Right, &mut state));
        assert_eq!(state.sort.column, Column::Id);
        assert!(press(KeyCode::Char('<'), &mut state));
        assert!(press(KeyCode::Char('<'), &mut state));
        assert_eq!(state.sort.column, Column::LastSpawn);
        assert!(press(KeyCode::Char('r'), &mut state));
        assert!(state.sort.descending);
        assert!(
            press(KeyCode::Down, &mut state),
            "no rows: nothing to select"
        );
        assert!(!press(KeyCode::Char('q'), &mut state));
        assert_eq!(
            action(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Action::Quit)
        );
        assert_eq!(action(KeyCode::Char('z'), KeyModifiers::NONE), None);
    }
}
