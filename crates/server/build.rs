//! The rwsgi binary must load the libpython of the interpreter it was built with: an rpath to
//! that interpreter's LIBDIR (see the wsgi crate for the version check).
fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
