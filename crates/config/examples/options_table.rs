//! Prints the README's uWSGI options table, generated from the option table in `defs.rs`;
//! given the README's path, rewrites the table there in place (between its marker comments).
//!
//! `cargo run -p rwsgi-config --example options_table -- README.md`

use rwsgi_config::options::{options_table, splice_table, TABLE_END, TABLE_START};

fn main() {
    let table = options_table();
    let Some(path) = std::env::args().nth(1) else {
        print!("{table}");
        return;
    };
    let result = std::fs::read_to_string(&path).and_then(|readme| {
        let spliced = splice_table(&readme, &table).ok_or_else(|| {
            std::io::Error::other(format!("{path} lacks {TABLE_START} ... {TABLE_END}"))
        })?;
        std::fs::write(&path, spliced)
    });
    if let Err(e) = result {
        eprintln!("options_table: {path}: {e}");
        std::process::exit(1);
    }
}
