//! Arbitrary bytes as an attribute field and prefix list: whatever UPDATE
//! packing produces must decode to exactly the prefixes and attributes.
#![no_main]

use clos_wire::fuzzing::{check_packing, codecs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in codecs() {
        check_packing(data, &codec);
    }
});
