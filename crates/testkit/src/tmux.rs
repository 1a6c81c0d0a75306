//! A program driven in a real terminal: a detached tmux session on a private tmux server.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::run_bounded;
use crate::which;

/// A detached tmux session of a fixed size on a private tmux server (its socket in a temp
/// dir), killed by name when dropped, whatever the test did.
pub struct Tmux {
    socket: PathBuf,
    name: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut c = Command::new(which("tmux"));
        c.arg("-S").arg(&self.socket).env_remove("TMUX");
        c
    }

    /// Runs `tmux ARGS` (bounded); panics if tmux fails. Returns its stdout.
    fn run(&self, args: &[&str]) -> String {
        let mut c = self.tmux();
        c.args(args);
        let out = run_bounded(c, Duration::from_secs(30));
        assert!(
            out.status.success(),
            "tmux {args:?} failed (did the session end?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts session `name` (unique per test) running `shell_command` in a `width`x`height`
    /// terminal.
    pub fn start_sized(name: String, shell_command: &str, width: u16, height: u16) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tmux {
            socket: dir.path().join("tmux.sock"),
            name,
            _dir: dir,
        };
        let (w, h) = (width.to_string(), height.to_string());
        t.run(&[
            "new-session",
            "-d",
            "-s",
            &t.name,
            "-x",
            &w,
            "-y",
            &h,
            shell_command,
        ]);
        t
    }

    /// [`Tmux::start_sized`] at 200x50.
    pub fn start(name: String, shell_command: &str) -> Tmux {
        Self::start_sized(name, shell_command, 200, 50)
    }

    /// The screen as text.
    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.name])
    }

    /// Types `keys` (tmux key names: `q`, `Right`, `Enter`, ...).
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`, ...).
    pub fn display(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", &self.name, format])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let mut c = self.tmux();
        c.args(["kill-session", "-t", &self.name]);
        let _ = run_bounded(c, Duration::from_secs(30));
    }
}
