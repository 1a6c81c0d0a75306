//! Arbitrary bytes into the uwsgi head parser: must never panic, and any
//! accepted head must be internally consistent and re-encode identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_proto::uwsgi;

fuzz_target!(|data: &[u8]| {
    // First byte picks the size limit so the TooLarge path is exercised too.
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let max = match sel % 4 {
        0 => 4096,
        1 => usize::from(sel) * 4,
        2 => 65_539,
        _ => 0,
    };
    if let Ok(Some(head)) = uwsgi::parse_head(buf, max) {
        assert!(head.head_len <= max && head.head_len <= buf.len());
        assert_eq!(head.vars.len() + 4, head.head_len);
        let vars: Vec<(&[u8], &[u8])> = head.iter().collect();
        let mut re = Vec::new();
        uwsgi::encode_packet(head.modifier1, head.modifier2, &vars, &mut re)
            .expect("a parsed head always re-encodes");
        assert_eq!(&re[..], &buf[..head.head_len]);
        let _ = head.content_length();
        // Every strict prefix is incomplete.
        for cut in [0, 3, head.head_len / 2, head.head_len.saturating_sub(1)] {
            if cut < head.head_len {
                assert_eq!(uwsgi::parse_head(&buf[..cut], max), Ok(None));
            }
        }
    }
    let _ = uwsgi::Vars::new(buf).count();
});
