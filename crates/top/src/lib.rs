//! `rwsgi top`: a live terminal view of one stats server or a fleet of them.
//!
//! Pure parts, unit-tested without a terminal or a socket:
//! * [`model`]: what is shown of one stats document (lenient serde_json reading);
//! * [`fleet`]: every server's last snapshot, rates from successive snapshots, failures;
//! * [`table`]: the workers table's columns, cells and sorting;
//! * [`render`]: the screen (ratatui widgets) and the `--once` text.
//!
//! I/O: [`fetch`] reads one document within bounds (connect timeout, one deadline, a size
//! cap); [`app`] runs one poller thread per server and the terminal loop.

pub mod app;
pub mod fetch;
pub mod fleet;
pub mod model;
pub mod render;
pub mod table;

pub use app::main;
