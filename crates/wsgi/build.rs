//! Link against the interpreter `python3` names at build time and make sure the same libpython
//! loads at run time (an rpath to its LIBDIR), instead of whichever libpython the system linker
//! finds first. Also records that interpreter's version and prefix so the binary can refuse a
//! libpython that is not the one it was built for.
use std::process::Command;

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    let exe = config
        .executable()
        .map(str::to_string)
        .unwrap_or_else(|| "python3".to_string());
    let out = Command::new(&exe)
        .args([
            "-c",
            "import sys; print(sys.version.split()[0]); print(sys.prefix)",
        ])
        .output()
        .expect("run the build interpreter");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("unknown").trim().to_string();
    let prefix = lines.next().unwrap_or("").trim().to_string();
    println!("cargo:rustc-env=RWSGI_PY_VERSION={version}");
    println!("cargo:rustc-env=RWSGI_PY_PREFIX={prefix}");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    pyo3_build_config::use_pyo3_cfgs();
}
