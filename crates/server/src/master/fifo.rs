//! `--master-fifo`: named pipes the master reads uWSGI's one-letter commands from
//! (`echo r > /tmp/fifo`). Several may be given: the first is active, and the digits `0`-`9`
//! choose another; as in uWSGI the switch takes effect when the current writer closes (the
//! master then re-creates the FIFO of the active slot and reads that one).
//!
//! The letters are turned into [`Command`]s by [`parse`] (pure); the master carries them out
//! in [`Master::run_fifo_command`].

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use rwsgi_os::poller::READ;
use rwsgi_os::Signal;

use super::Master;

/// The FIFO's token in the master's epoll set (far from the stats clients' tokens, below
/// the cheap-mode listener tokens).
pub(super) const TOKEN_FIFO: u64 = 1 << 40;

/// What one byte written to the FIFO asks of the master (uWSGI 2.0's table in `core/fifo.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `0`-`9`: make FIFO number N (in `--master-fifo` order) the active one.
    Slot(usize),
    /// `+`: one more worker in cheaper mode.
    CheaperIncrease,
    /// `-`: one worker fewer in cheaper mode.
    CheaperDecrease,
    /// `c`: chain reload (one worker at a time).
    ChainReload,
    /// `l`: reopen the log file.
    ReopenLog,
    /// `L`: rotate the log file (rwsgi: reopen it, as `l`).
    RotateLog,
    /// `q`: graceful shutdown (uWSGI's `gracefully_kill_them_all`).
    GracefulShutdown,
    /// `Q`: brutal shutdown (workers stop at once; uWSGI's `kill_them_all`).
    BrutalShutdown,
    /// `r`: graceful reload of the whole server (as SIGHUP).
    GracefulReload,
    /// `R`: brutal reload (workers stop at once, then the master re-executes).
    BrutalReload,
    /// `s`: print the stats in the log.
    PrintStats,
    /// `w`: graceful reload of the workers only (the master stays).
    ReloadWorkers,
    /// `W`: brutal reload of the workers only.
    BrutallyReloadWorkers,
    /// `P`: write the pidfile again.
    UpdatePidfile,
    /// A letter uWSGI knows whose subsystem rwsgi does not have (the Emperor, subscriptions,
    /// pausing, re-forking the master, going cheap).
    Unsupported(char),
    /// Any other byte: uWSGI has no entry for it and ignores it.
    Unknown(u8),
}

/// The command one byte stands for; `None` for white space (the newline `echo` appends).
pub(crate) fn parse(byte: u8) -> Option<Command> {
    Some(match byte {
        b'0'..=b'9' => Command::Slot(usize::from(byte - b'0')),
        b'+' => Command::CheaperIncrease,
        b'-' => Command::CheaperDecrease,
        b'c' => Command::ChainReload,
        b'l' => Command::ReopenLog,
        b'L' => Command::RotateLog,
        b'q' => Command::GracefulShutdown,
        b'Q' => Command::BrutalShutdown,
        b'r' => Command::GracefulReload,
        b'R' => Command::BrutalReload,
        b's' => Command::PrintStats,
        b'w' => Command::ReloadWorkers,
        b'W' => Command::BrutallyReloadWorkers,
        b'P' => Command::UpdatePidfile,
        b'B' | b'C' | b'E' | b'f' | b'p' | b'S' => Command::Unsupported(char::from(byte)),
        b if b.is_ascii_whitespace() => return None,
        b => Command::Unknown(b),
    })
}

/// The FIFOs and the open reader of the active one.
pub(super) struct MasterFifo {
    paths: Vec<PathBuf>,
    /// Index into `paths` of the FIFO to (re-)create next.
    slot: usize,
    /// The open read end of the current FIFO.
    reader: Option<OwnedFd>,
}

impl MasterFifo {
    /// `None` without `--master-fifo`.
    pub(super) fn new(paths: &[PathBuf]) -> Option<MasterFifo> {
        (!paths.is_empty()).then(|| MasterFifo {
            paths: paths.to_vec(),
            slot: 0,
            reader: None,
        })
    }

    /// The FIFO of the active slot (uWSGI falls back to the first for a slot with none).
    fn active_path(&self) -> &std::path::Path {
        self.paths.get(self.slot).unwrap_or(&self.paths[0])
    }
}

impl Master {
    /// (Re-)creates the active FIFO and watches it. Failing at start-up is fatal in uWSGI;
    /// here the caller decides (start-up refuses, a later re-creation logs).
    pub(super) fn open_fifo(&mut self) -> std::io::Result<()> {
        let Some(fifo) = self.fifo.as_mut() else {
            return Ok(());
        };
        if let Some(old) = fifo.reader.take() {
            let _ = self.poller.delete(&old);
        }
        let path = fifo.active_path().to_path_buf();
        rwsgi_os::fd::make_fifo(&path)?;
        let reader = rwsgi_os::fd::open_fifo_reader(&path)?;
        self.poller.add(&reader, TOKEN_FIFO, READ)?;
        fifo.reader = Some(reader);
        Ok(())
    }

    /// The FIFO is readable: runs every command byte waiting in it; at end of file (the last
    /// writer closed) re-creates the active FIFO, so the next `echo` is read.
    pub(super) fn on_fifo_readable(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            let Some(fd) = self.fifo.as_ref().and_then(|f| f.reader.as_ref()) else {
                return;
            };
            match rwsgi_os::fdio::read_nb(fd.as_raw_fd(), &mut buf) {
                Ok(None) => return,
                Ok(Some(0)) => {
                    if let Err(e) = self.open_fifo() {
                        eprintln!("master fifo: cannot re-create it: {e}");
                        if let Some(f) = self.fifo.as_mut() {
                            f.reader = None;
                        }
                    }
                    return;
                }
                Ok(Some(n)) => {
                    for &byte in &buf[..n] {
                        if let Some(cmd) = parse(byte) {
                            self.run_fifo_command(cmd);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    eprintln!("master fifo: read: {e}");
                    return;
                }
            }
        }
    }

    /// Carries out one command (during a shutdown or reload only stats and slot switches
    /// still mean something; the others wait for the next master, as signals do).
    pub(super) fn run_fifo_command(&mut self, cmd: Command) {
        let running = self.phase == super::Phase::Running;
        match cmd {
            Command::Slot(n) => {
                if let Some(f) = self.fifo.as_mut() {
                    f.slot = n;
                    eprintln!("active master fifo is now {}", f.active_path().display());
                }
            }
            Command::PrintStats => {
                let mut out = Vec::new();
                let snapshot = self.scoreboard.snapshot(&self.master_info);
                rwsgi_stats::json::render_uwsgi(&snapshot, Default::default(), &mut out);
                eprintln!("{}", String::from_utf8_lossy(&out));
            }
            Command::Unsupported(c) => {
                eprintln!("master fifo: command '{c}' is not supported by rwsgi: ignored");
            }
            Command::Unknown(b) => {
                eprintln!("master fifo: unknown command {:?}: ignored", char::from(b));
            }
            _ if !running => {}
            Command::GracefulReload => self.begin_reload_with(Signal::HUP),
            Command::BrutalReload => self.begin_reload_with(Signal::INT),
            Command::GracefulShutdown => self.begin_shutdown_with("master fifo", Signal::TERM),
            Command::BrutalShutdown => self.begin_shutdown_with("master fifo", Signal::INT),
            Command::ChainReload => self.begin_chain_reload(),
            Command::ReloadWorkers => self.reload_workers(Signal::HUP),
            Command::BrutallyReloadWorkers => self.reload_workers(Signal::INT),
            Command::CheaperIncrease => self.cheaper_add_worker(),
            Command::CheaperDecrease => self.cheaper_remove_worker(),
            Command::ReopenLog | Command::RotateLog => self.reopen_log(),
            Command::UpdatePidfile => {
                if let Some(path) = &self.settings.master.pidfile {
                    if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
                        eprintln!("master fifo: cannot write {}: {e}", path.display());
                    }
                }
            }
        }
    }

    /// `w` / `W`: every worker is stopped (`HUP`: after its requests; `INT`: at once) and
    /// respawned; the master and its sockets stay.
    fn reload_workers(&mut self, sig: Signal) {
        eprintln!("...reloading the workers...");
        for wid in rwsgi_stats::WorkerId::all(self.workers.len()) {
            self.stop_worker(wid, sig);
        }
    }

    /// `l` / `L`: the master's output goes to a fresh open of `--logto` (after a rotation
    /// moved the old file away). Workers started from now on inherit it.
    fn reopen_log(&mut self) {
        let Some(path) = self.logto.clone() else {
            eprintln!("master fifo: no --logto file to reopen");
            return;
        };
        let reopened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|f| rwsgi_os::process::redirect_output(&f));
        match reopened {
            Ok(()) => eprintln!("log file {path} reopened"),
            Err(e) => eprintln!("master fifo: cannot reopen {path}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_uwsgi_commands() {
        assert_eq!(parse(b'r'), Some(Command::GracefulReload));
        assert_eq!(parse(b'R'), Some(Command::BrutalReload));
        assert_eq!(parse(b'q'), Some(Command::GracefulShutdown));
        assert_eq!(parse(b'Q'), Some(Command::BrutalShutdown));
        assert_eq!(parse(b'c'), Some(Command::ChainReload));
        assert_eq!(parse(b'w'), Some(Command::ReloadWorkers));
        assert_eq!(parse(b'W'), Some(Command::BrutallyReloadWorkers));
        assert_eq!(parse(b's'), Some(Command::PrintStats));
        assert_eq!(parse(b'+'), Some(Command::CheaperIncrease));
        assert_eq!(parse(b'-'), Some(Command::CheaperDecrease));
        assert_eq!(parse(b'l'), Some(Command::ReopenLog));
        assert_eq!(parse(b'L'), Some(Command::RotateLog));
        assert_eq!(parse(b'P'), Some(Command::UpdatePidfile));
    }

    #[test]
    fn digits_choose_a_slot_and_whitespace_is_nothing() {
        assert_eq!(parse(b'0'), Some(Command::Slot(0)));
        assert_eq!(parse(b'9'), Some(Command::Slot(9)));
        assert_eq!(parse(b'\n'), None);
        assert_eq!(parse(b' '), None);
    }

    #[test]
    fn uwsgi_letters_without_a_subsystem_here_and_other_bytes_are_told_apart() {
        assert_eq!(parse(b'E'), Some(Command::Unsupported('E')));
        assert_eq!(parse(b'f'), Some(Command::Unsupported('f')));
        assert_eq!(parse(b'x'), Some(Command::Unknown(b'x')));
        assert_eq!(parse(0xff), Some(Command::Unknown(0xff)));
    }
}
