//! Arbitrary bytes into the PROXY protocol header parser: must never panic; a header's length
//! is within the input and its limits; every verdict (absent, header, error) stays the same
//! when more bytes follow; and every strict prefix of an accepted header is "read more".
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_proto::proxy::{self, ProxyHead, V1_MAX, V2_MAX_PAYLOAD};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(split).min(bytes.len());
    let (head, _) = bytes.split_at(cut);
    let whole = proxy::parse(bytes);
    match proxy::parse(head) {
        Ok(None) => {}
        Ok(Some(verdict)) => assert_eq!(whole, Ok(Some(verdict)), "verdict changed"),
        Err(_) => assert!(whole.is_err(), "error became {whole:?}"),
    }
    if let Ok(Some(ProxyHead::Header { len, .. })) = whole {
        assert!(len <= bytes.len());
        assert!(len <= V1_MAX.max(16 + V2_MAX_PAYLOAD));
        for i in 0..len {
            assert_eq!(proxy::parse(&bytes[..i]), Ok(None), "prefix {i} decided early");
        }
    }
});
