//! Decode; when a message decodes cleanly (no RFC 7606 issues), encoding
//! it and decoding again must give the same message.
#![no_main]

use clos_wire::fuzzing::{check_roundtrip, codecs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in codecs() {
        check_roundtrip(data, &codec);
    }
});
