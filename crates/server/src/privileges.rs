//! `--uid` / `--gid`: drop root privileges after the sockets are bound, as uWSGI does.

use std::ffi::CString;
use std::io;

fn lookup_gid(name: &str) -> io::Result<libc::gid_t> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    let c = CString::new(name).map_err(|_| io::Error::other("group name contains NUL"))?;
    // SAFETY: getgrnam returns NULL or a pointer to static storage, read at once.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        return Err(io::Error::other(format!("unknown group '{name}'")));
    }
    // SAFETY: non-null result of getgrnam.
    Ok(unsafe { (*gr).gr_gid })
}

fn lookup_uid(name: &str) -> io::Result<libc::uid_t> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    let c = CString::new(name).map_err(|_| io::Error::other("user name contains NUL"))?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage, read at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::other(format!("unknown user '{name}'")));
    }
    // SAFETY: non-null result of getpwnam.
    Ok(unsafe { (*pw).pw_uid })
}

/// Switches to `gid` then `uid` (names or numbers); group first, while we still may.
pub fn drop_to(uid: Option<&str>, gid: Option<&str>) -> io::Result<()> {
    if let Some(g) = gid {
        let gid = lookup_gid(g)?;
        // SAFETY: plain syscalls; failures are reported.
        unsafe {
            if libc::setgroups(1, &gid) != 0 && libc::getuid() == 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::setgid(gid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        eprintln!("setgid() to {gid}");
    }
    if let Some(u) = uid {
        let uid = lookup_uid(u)?;
        // SAFETY: plain syscall; failure is reported.
        if unsafe { libc::setuid(uid) } != 0 {
            return Err(io::Error::last_os_error());
        }
        eprintln!("setuid() to {uid}");
    }
    Ok(())
}
