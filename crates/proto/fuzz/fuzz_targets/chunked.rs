//! Arbitrary bytes into the chunked decoder, fed in pieces whose sizes come
//! from the input itself: must never panic, and feeding in pieces must give
//! exactly the same result as feeding everything at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_proto::http::ChunkedDecoder;

fn run(pieces: &[&[u8]]) -> (Vec<u8>, Option<usize>, bool) {
    let mut dec = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    for p in pieces {
        match dec.decode(p, &mut out) {
            Ok((n, fin)) => {
                assert!(n <= p.len());
                consumed += n;
                if fin {
                    return (out, Some(consumed), false);
                }
                assert_eq!(n, p.len());
            }
            Err(_) => return (out, None, true),
        }
    }
    (out, None, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let whole = run(&[body]);
    let pieces: Vec<&[u8]> = body.chunks(step).collect();
    let split = run(&pieces);
    assert_eq!(whole.1, split.1, "finish offset differs");
    assert_eq!(whole.2, split.2, "error-ness differs");
    if !whole.2 {
        assert_eq!(whole.0, split.0, "decoded bytes differ");
    }
    assert!(whole.0.len() <= body.len());
});
