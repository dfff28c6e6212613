//! Arbitrary bytes as a receive buffer: frame and decode every message in
//! it, under every codec setting. Must never panic.
#![no_main]

use clos_wire::fuzzing::{codecs, decode_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in codecs() {
        decode_stream(data, &codec);
    }
});
