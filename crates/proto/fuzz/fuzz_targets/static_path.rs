//! Arbitrary bytes as a decoded request path under a static mapping: the relative path must
//! never climb out (no `..`/`.`/empty segment, no leading `/`, no NUL), and normalizing it
//! again must give itself. Also: a Range header never reaches past the file's end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_proto::static_file::{relative_path, resolve_range, ByteRange};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if relative_path(data, &mut out).is_ok() {
        assert!(!out.starts_with(b"/"));
        assert!(!out.contains(&0));
        if !out.is_empty() {
            for seg in out.split(|&b| b == b'/') {
                assert!(!seg.is_empty() && seg != b"." && seg != b"..");
            }
        }
        let mut again = Vec::new();
        assert!(relative_path(&out, &mut again).is_ok());
        assert_eq!(again, out, "normalizing is idempotent");
    }
    let size = data.len() as u64 * 7;
    if let ByteRange::Partial { start, end } = resolve_range(data, size) {
        assert!(start <= end && end < size);
    }
});
