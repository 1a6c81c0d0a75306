//! `--uid` / `--gid`: drop root privileges after the sockets are bound, as uWSGI does.

use std::io;

use rwsgi_os::user;

/// Switches to `gid` then `uid` (names or numbers); group first, while we still may.
pub(crate) fn drop_to(uid: Option<&str>, gid: Option<&str>) -> io::Result<()> {
    if let Some(g) = gid {
        let gid = match g.parse() {
            Ok(n) => n,
            Err(_) => user::group_id(g)?,
        };
        user::switch_group(gid)?;
        eprintln!("setgid() to {gid}");
    }
    if let Some(u) = uid {
        let uid = match u.parse() {
            Ok(n) => n,
            Err(_) => user::user_id(u)?,
        };
        user::switch_user(uid)?;
        eprintln!("setuid() to {uid}");
    }
    Ok(())
}
