//! Loading the configured apps in this process (the master before forking, or each worker with
//! `--lazy-apps`).

use pyo3::prelude::*;
use rwsgi_wsgi::{app, Apps};

use crate::settings::Settings;

/// Loads every app; the first failure (traceback already printed) stops the load.
pub(crate) fn load_all(settings: &Settings) -> Result<Apps, String> {
    Python::attach(|py| {
        let mut apps = Apps {
            list: Vec::new(),
            manage_script_name: settings.manage_script_name,
        };
        for spec in &settings.apps {
            match app::load(py, spec, &settings.chdir) {
                Ok(loaded) => {
                    eprintln!(
                        "WSGI app {} (mountpoint='{}') ready in process {}",
                        apps.list.len(),
                        loaded.mountpoint,
                        std::process::id()
                    );
                    apps.list.push(loaded);
                }
                Err(e) => {
                    if let app::AppError::Load { err, .. } = &e {
                        err.print(py);
                    }
                    return Err(e.to_string());
                }
            }
        }
        Ok(apps)
    })
}
