//! Internal routing on a core: the rules run over the parsed request (`crate::routing`, pure),
//! and their decision is carried out here: the `log:` lines, and the router's own response.
//! Headers to add or drop and `donotlog:` are applied by `Core::dispatch` from `Core::routed`.

use std::io::Write;

use pyo3::prelude::*;
use rwsgi_wsgi::{Body, Outcome, Writer};

use super::core::Core;
use crate::routing::{evaluate, Canned, LiveEnv};

impl Core<'_, '_> {
    /// Runs the routing rules over the parsed request into `self.routed`. True when the rules
    /// answer the request themselves (static files and the app are skipped).
    pub(super) fn apply_routes(&mut self) -> bool {
        let w = self.w;
        let Some(routes) = w.settings.routes.as_deref() else {
            self.routed.clear();
            return false;
        };
        let env = LiveEnv {
            wid: w.wid.get() as u32,
            pid: w.pid,
        };
        evaluate(routes, &self.vars, &env, &mut self.routed);
        if !self.routed.log_lines.is_empty() {
            let mut text = Vec::new();
            for line in &self.routed.log_lines {
                text.extend_from_slice(line);
                text.push(b'\n');
            }
            // One write(2): stderr is unbuffered.
            let _ = std::io::stderr().write_all(&text);
        }
        self.routed.response.is_some()
    }

    /// Sends the router's own response (`break:`, `return:`, the redirects) instead of the
    /// app's; the app id is -1.
    pub(super) fn respond_routed(
        &self,
        py: Python<'_>,
        body: Body,
        mut writer: Writer,
    ) -> (Outcome, Body, Writer, i64) {
        let mut outcome = Outcome::default();
        self.w
            .scoreboard
            .core(self.w.wid, self.id)
            .add_routed_request();
        match &self.routed.response {
            Some(Canned::Respond {
                status,
                headers,
                body: text,
                close,
            }) => {
                if *close {
                    writer.force_close();
                }
                let sent = writer.send_canned(py, status, headers, text);
                outcome.status = writer.status_code();
                outcome.write_error = sent.is_err();
            }
            Some(Canned::Close) | None => writer.force_close(),
        }
        (outcome, body, writer, -1)
    }
}
