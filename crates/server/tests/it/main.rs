//! The server's integration tests, in one binary (one link step instead of one per file):
//! every test runs the real `rwsgi` binary on loopback, through `rwsgi_testkit`.
//! (`tests/stats_load.rs` stays a binary of its own: its load tests run one at a time and
//! should not share the machine with the rest.)

mod cheaper;
mod config_corpus;
mod cron;
mod daemons;
mod faults;
mod hooks;
mod http_bodies;
mod http_conformance;
mod http_router;
mod logging;
mod master_fifo;
mod metrics;
mod nginx;
mod paste;
mod process_options;
mod prometheus;
mod push;
mod python_plugin;
mod routing;
mod server;
mod smoke;
mod static_files;
mod stats_addr;
mod stats_json;
mod stats_safety;
mod stats_uwsgitop;
mod top;
mod uwsgi_compat;
mod uwsgi_module;
mod uwsgi_signals;
mod wsgi_apps;
mod wsgi_environ;
mod wsgi_errors;
mod wsgi_input;
mod wsgi_python;
mod wsgi_response;
