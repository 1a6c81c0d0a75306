//! The clock and local time.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Appends `t` (seconds since the epoch) as local time in strftime's `format` (at most 63
/// bytes of output). libc's: time zones live in libc.
pub fn local_time(t: u64, format: &CStr, out: &mut Vec<u8>) {
    let t = t as libc::time_t;
    let mut buf = [0u8; 64];
    // SAFETY: all-zero is a valid tm (integers and a null zone pointer); localtime_r writes
    // into it; strftime reads it and writes at most buf.len() bytes, returning how many.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm)
    };
    out.extend_from_slice(&buf[..n]);
}

/// The fields of a local time that cron schedules look at (as `struct tm` has them, but the
/// month 1-based, as uWSGI's cron uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalTm {
    /// 0-59.
    pub minute: i32,
    /// 0-23.
    pub hour: i32,
    /// Day of the month, 1-31.
    pub mday: i32,
    /// 1-12.
    pub month: i32,
    /// Day of the week, 0 (Sunday) - 6.
    pub wday: i32,
}

/// `t` (seconds since the epoch) broken down in local time. libc's: time zones live in libc.
pub fn local_tm(t: u64) -> LocalTm {
    let t = t as libc::time_t;
    // SAFETY: all-zero is a valid tm (integers and a null zone pointer); localtime_r only
    // writes into it.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    LocalTm {
        minute: tm.tm_min,
        hour: tm.tm_hour,
        mday: tm.tm_mday,
        month: tm.tm_mon + 1,
        wday: tm.tm_wday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2024_and_local_time_formats_the_year() {
        assert!(unix_now() > 1_704_067_200);
        let mut out = b"at ".to_vec();
        // Mid-1990: the same year in every time zone.
        local_time(646_747_200, c"%Y", &mut out);
        assert_eq!(out, b"at 1990");
    }

    #[test]
    fn local_tm_is_in_range() {
        let tm = local_tm(646_747_200);
        assert!((6..=7).contains(&tm.month));
        assert!((0..60).contains(&tm.minute) && (0..7).contains(&tm.wday));
    }
}
