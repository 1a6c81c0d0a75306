//! `rwsgi`: a pre-fork WSGI application server that runs uWSGI's command lines and ini files,
//! with uWSGI's stats server.

/// `eprintln!` in one `write(2)` per line ([`rwsgi_os::process::stderr_line`]): std's
/// writes a line in pieces, which interleave with other processes' lines in a shared log.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        rwsgi_os::process::stderr_line(format_args!($($arg)*))
    };
}

mod apps;
mod cheaper;
mod connect;
mod cron;
mod forwarded;
mod host;
mod listen;
mod logproc;
mod logrotate;
mod logsink;
mod master;
mod metrics;
mod privileges;
mod process_opts;
mod procname;
mod reqlog;
mod routing;
mod settings;
mod signals;
mod static_files;
mod stats_auth;
mod stats_server;
mod touch;
mod umod;
mod usignal;
mod worker;

use std::process::ExitCode;

use rwsgi_config::Command;

fn main() -> ExitCode {
    // Before any process title writes over them.
    procname::original_args();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "top") {
        return ExitCode::from(rwsgi_top::main(&args[1..]));
    }
    let env_vars = std::env::vars().filter(|(k, _)| k.starts_with("UWSGI_"));
    let parsed = match rwsgi_config::parse(args, env_vars, &host::OsHost::new()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rwsgi: {e}");
            return ExitCode::FAILURE;
        }
    };
    match parsed.command {
        Command::Help(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::ConnectAndRead(addr) => match connect::run(&addr) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rwsgi: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(mut config) => {
            // --umask first (uWSGI applies it while parsing), then --daemonize, whose file is
            // the log.
            process_opts::apply_umask(&config);
            process_opts::daemon_log(&mut config);
            if process_opts::should_detach(config.daemonize.is_some()) {
                let plain_fork = rwsgi_os::process::fork_plain;
                if let Err(e) = process_opts::detach(config.umask.is_some(), plain_fork) {
                    eprintln!("rwsgi: --daemonize: {e}");
                    return ExitCode::FAILURE;
                }
            }
            // After a reload the log process owns the log already (stdout/stderr go to it).
            if let Some(path) = config.logto.as_ref().filter(|_| !logproc::active()) {
                if let Err(e) = redirect_logs(path) {
                    eprintln!("rwsgi: --logto {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            // Before anything else runs: it forks, and must be single-threaded to.
            if let Err(e) = logproc::start(&config, &rwsgi_os::system::hostname()) {
                eprintln!("rwsgi: {e}");
                return ExitCode::FAILURE;
            }
            for w in &parsed.warnings {
                eprintln!("rwsgi: warning: {w}");
            }
            if config.show_config {
                eprint!("{}", process_opts::show_config(&config.exported.0));
            }
            match master::run(config) {
                Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
                Err(e) => {
                    eprintln!("rwsgi: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `--logto FILE`: stdout and stderr (ours, the workers' and Python's) append to FILE.
fn redirect_logs(path: &str) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    rwsgi_os::process::redirect_output(&file)
}
