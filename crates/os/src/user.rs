//! `--uid` / `--gid`: user and group lookups and the switch to them; the names of ids (the
//! config language's `%U` / `%G`).
//!
//! All libc's: the name lookups go through NSS, which lives in libc, and rustix's
//! set-uid/gid calls change only the calling thread, where libc's change the whole process.

use std::ffi::{CStr, CString};
use std::io;

fn c_name(name: &str, kind: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::other(format!("{kind} name contains NUL")))
}

/// The id of group `name` (from the group database).
pub fn group_id(name: &str) -> io::Result<u32> {
    let c = c_name(name, "group")?;
    // SAFETY: getgrnam returns NULL or a pointer to static storage, read at once (the caller
    // is single-threaded, as getgrnam requires).
    let gid = unsafe {
        let gr = libc::getgrnam(c.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    };
    gid.ok_or_else(|| io::Error::other(format!("unknown group '{name}'")))
}

/// The id of user `name` (from the password database).
pub fn user_id(name: &str) -> io::Result<u32> {
    let c = c_name(name, "user")?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage, read at once (the caller
    // is single-threaded, as getpwnam requires).
    let uid = unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        (!pw.is_null()).then(|| (*pw).pw_uid)
    };
    uid.ok_or_else(|| io::Error::other(format!("unknown user '{name}'")))
}

/// The name of user `uid` (from the password database), `None` when it has none.
pub fn user_name(uid: u32) -> Option<String> {
    // SAFETY: getpwuid returns NULL or a pointer to static storage whose pw_name is a
    // NUL-terminated string, copied at once (the caller is single-threaded, as getpwuid
    // requires).
    unsafe {
        let pw = libc::getpwuid(uid);
        (!pw.is_null()).then(|| CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned())
    }
}

/// The name of group `gid` (from the group database), `None` when it has none.
pub fn group_name(gid: u32) -> Option<String> {
    // SAFETY: getgrgid returns NULL or a pointer to static storage whose gr_name is a
    // NUL-terminated string, copied at once (the caller is single-threaded, as getgrgid
    // requires).
    unsafe {
        let gr = libc::getgrgid(gid);
        (!gr.is_null()).then(|| CStr::from_ptr((*gr).gr_name).to_string_lossy().into_owned())
    }
}

/// Makes `gid` this process's group and only supplementary group. Dropping the supplementary
/// groups may fail when not root, which is then not an error.
pub fn switch_group(gid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls reading a live stack value; failures are reported.
    unsafe {
        if libc::setgroups(1, &gid) != 0 && rustix::process::getuid().is_root() {
            return Err(io::Error::last_os_error());
        }
        if libc::setgid(gid) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes `uid` this process's user.
pub fn switch_user(uid: u32) -> io::Result<()> {
    // SAFETY: a plain syscall; failure is reported.
    if unsafe { libc::setuid(uid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Changes the owner and group of the file at `path` (`chown(2)`; `None` leaves one as is),
/// for `--chown-socket`.
pub fn chown(path: &std::path::Path, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let uid = uid.map(rustix::process::Uid::from_raw);
    let gid = gid.map(rustix::process::Gid::from_raw);
    Ok(rustix::fs::chown(path, uid, gid)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_and_unknown_or_bad_names_are_errors() {
        assert_eq!(user_id("root").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        assert!(user_id("no-such-user-rwsgi").is_err());
        assert!(group_id("no-such-group-rwsgi").is_err());
        assert!(user_id("a\0b").is_err());
    }
}
