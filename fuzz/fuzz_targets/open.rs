//! Arbitrary bytes as the optional parameters of an OPEN: reaches the
//! capability parsers without the fuzzer having to find a valid header.
#![no_main]

use clos_wire::fuzzing::{check_roundtrip, codecs, open_with_parameters};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let msg = open_with_parameters(data);
    for codec in codecs() {
        check_roundtrip(&msg, &codec);
    }
});
