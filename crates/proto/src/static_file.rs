//! The pure half of serving static files (`--static-map`, `--check-static`): turning a
//! request's decoded path into a path relative to the mapped directory (refusing anything that
//! could leave it), byte ranges, and HTTP dates. No I/O: the server resolves the result on the
//! file system, and checks the resolved path again (symlinks) before it opens anything.
//!
//! Kept here, not in the server, so it is property-tested and fuzzed without Python
//! (`crates/proto/fuzz/fuzz_targets/static_path.rs`).

use thiserror::Error;

/// Why a request path cannot name a file under a mapped directory. The server logs it as a
/// security error and passes the request to the app, as uWSGI does; nothing is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StaticPathError {
    /// A NUL byte (`%00`): C's file APIs would stop at it and name another file.
    #[error("NUL byte in the path")]
    Nul,
    /// A `..` segment that climbs above the mapped directory.
    #[error("the path climbs out of the mapped directory")]
    Escapes,
}

/// Appends to `out` the path `tail` names relative to a mapped directory: segments joined by
/// `/`, with empty (doubled slashes) and `.` segments dropped and `..` resolved lexically.
/// Empty output means the directory itself. The result never starts with `/`, never contains
/// a `.` or `..` segment, a NUL or an empty segment, so joined to the directory it names
/// something lexically inside it (symlinks are the caller's to check).
///
/// `tail` is the percent-decoded request path after the mount prefix, so `%2e%2e` and `..%2f`
/// arrive here as `..` and `../`.
pub fn relative_path(tail: &[u8], out: &mut Vec<u8>) -> Result<(), StaticPathError> {
    if memchr::memchr(0, tail).is_some() {
        return Err(StaticPathError::Nul);
    }
    let base = out.len();
    for segment in tail.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                if out.len() == base {
                    out.truncate(base);
                    return Err(StaticPathError::Escapes);
                }
                let cut = memchr::memrchr(b'/', &out[base..]).map_or(base, |i| base + i);
                out.truncate(cut);
            }
            _ => {
                if out.len() > base {
                    out.push(b'/');
                }
                out.extend_from_slice(segment);
            }
        }
    }
    Ok(())
}

/// What a `Range` request header asks of a file of a given size, as uWSGI answers it: one
/// `bytes=` range is honoured; anything else (several ranges, another unit, bad syntax) is
/// ignored and the whole file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable range: 200 with the whole file.
    Full,
    /// 206 with bytes `start..=end` (`end` < size).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416: the range starts past the end of the file (or asks for a suffix of nothing).
    Unsatisfiable,
}

impl ByteRange {
    /// Bytes of the body this range sends from a file of `size` bytes.
    pub fn len(&self, size: u64) -> u64 {
        match *self {
            ByteRange::Full => size,
            ByteRange::Partial { start, end } => end - start + 1,
            ByteRange::Unsatisfiable => 0,
        }
    }

    /// True when [`ByteRange::len`] is 0.
    pub fn is_empty(&self, size: u64) -> bool {
        self.len(size) == 0
    }

    /// The first byte sent.
    pub fn start(&self) -> u64 {
        match *self {
            ByteRange::Partial { start, .. } => start,
            _ => 0,
        }
    }
}

/// Resolves a `Range` header value against a file of `size` bytes.
pub fn resolve_range(header: &[u8], size: u64) -> ByteRange {
    let header = crate::trim_ows(header);
    let Some(spec) = header.strip_prefix(b"bytes=") else {
        return ByteRange::Full;
    };
    let spec = crate::trim_ows(spec);
    if spec.contains(&b',') {
        return ByteRange::Full;
    }
    let Some(dash) = memchr::memchr(b'-', spec) else {
        return ByteRange::Full;
    };
    let (first, last) = (
        crate::trim_ows(&spec[..dash]),
        crate::trim_ows(&spec[dash + 1..]),
    );
    let number = |s: &[u8]| {
        if s.is_empty() {
            None
        } else {
            crate::parse_content_length(s)
        }
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => ByteRange::Full,
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                start: size - n.min(size),
                end: size - 1,
            },
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return ByteRange::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(e) if e >= start => e,
                    _ => return ByteRange::Full,
                }
            };
            if start >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial {
                    start,
                    end: end.min(size - 1),
                }
            }
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends `unix_secs` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), the format of
/// `Last-Modified` and `Expires`.
pub fn http_date(unix_secs: i64, out: &mut Vec<u8>) {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let text = format!(
        "{weekday}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(text.as_bytes());
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form uWSGI reads in
/// `If-Modified-Since`; `None` for anything else.
pub fn parse_http_date(s: &[u8]) -> Option<i64> {
    let s = crate::trim_ows(s);
    if s.len() != 29 || s[3] != b',' || s[4] != b' ' || &s[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let digits = &s[r];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
        )
    };
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == &s[8..11])? as i64 + 1;
    let year = num(12..16)?;
    if s[7] != b' ' || s[11] != b' ' || s[16] != b' ' || s[19] != b':' || s[22] != b':' {
        return None;
    }
    let (h, min, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rel(p: &str) -> Result<String, StaticPathError> {
        let mut out = Vec::new();
        relative_path(p.as_bytes(), &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn paths_are_normalized_inside_the_directory() {
        assert_eq!(rel("/a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(rel("a//b/./c").unwrap(), "a/b/c");
        assert_eq!(rel("/a/../b").unwrap(), "b");
        assert_eq!(rel("/").unwrap(), "");
        assert_eq!(rel("").unwrap(), "");
        assert_eq!(rel("/a/..").unwrap(), "");
        assert_eq!(rel("/...").unwrap(), "...", "three dots is a name");
        assert_eq!(rel("/..a/b..").unwrap(), "..a/b..");
    }

    #[test]
    fn climbing_out_and_nul_bytes_are_refused() {
        assert_eq!(rel("/.."), Err(StaticPathError::Escapes));
        assert_eq!(
            rel("/../static-private/secret.txt"),
            Err(StaticPathError::Escapes)
        );
        assert_eq!(rel("/a/../../x"), Err(StaticPathError::Escapes));
        assert_eq!(rel("//..//x"), Err(StaticPathError::Escapes));
        assert_eq!(rel("/a.txt\0.png"), Err(StaticPathError::Nul));
    }

    #[test]
    fn ranges_follow_uwsgi() {
        use ByteRange::*;
        assert_eq!(
            resolve_range(b"bytes=0-9", 100),
            Partial { start: 0, end: 9 }
        );
        assert_eq!(
            resolve_range(b"bytes=90-", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            resolve_range(b"bytes=90-1000", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            resolve_range(b"bytes=-10", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            resolve_range(b"bytes=-1000", 100),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(resolve_range(b"bytes=100-", 100), Unsatisfiable);
        assert_eq!(resolve_range(b"bytes=-0", 100), Unsatisfiable);
        assert_eq!(resolve_range(b"bytes=0-", 0), Unsatisfiable);
        assert_eq!(resolve_range(b"bytes=5-2", 100), Full);
        assert_eq!(resolve_range(b"bytes=0-1,5-6", 100), Full);
        assert_eq!(resolve_range(b"items=0-1", 100), Full);
        assert_eq!(resolve_range(b"bytes=x-1", 100), Full);
        assert_eq!(resolve_range(b"bytes=-", 100), Full);
        assert_eq!(Partial { start: 90, end: 99 }.len(100), 10);
    }

    #[test]
    fn http_dates_round_trip() {
        let mut out = Vec::new();
        http_date(784_111_777, &mut out);
        assert_eq!(out, b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(&out), Some(784_111_777));
        out.clear();
        http_date(0, &mut out);
        assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Xyz 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date(b""), None);
    }

    proptest! {
        #[test]
        fn normalized_paths_never_leave_the_directory(p in "[a./\\x00%]{0,24}") {
            let mut out = Vec::new();
            if relative_path(p.as_bytes(), &mut out).is_ok() {
                prop_assert!(!out.starts_with(b"/"));
                prop_assert!(!out.contains(&0));
                if !out.is_empty() {
                    for seg in out.split(|&b| b == b'/') {
                        prop_assert!(!seg.is_empty() && seg != b".." && seg != b".");
                    }
                }
            }
        }

        #[test]
        fn dates_round_trip(t in 0i64..=253_402_300_799) {
            let mut out = Vec::new();
            http_date(t, &mut out);
            prop_assert_eq!(parse_http_date(&out), Some(t));
        }

        #[test]
        fn ranges_stay_inside_the_file(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", size in 0u64..5000) {
            match resolve_range(h.as_bytes(), size) {
                ByteRange::Partial { start, end } => prop_assert!(start <= end && end < size),
                ByteRange::Full | ByteRange::Unsatisfiable => {}
            }
        }
    }
}
