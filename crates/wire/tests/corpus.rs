//! Replays every file of the fuzz seed corpus (fuzz/corpus/*/) through the
//! fuzz properties, so `cargo test` checks the corpus without cargo-fuzz.

use std::path::Path;

use clos_wire::fuzzing::{
    check_packing, check_roundtrip, codecs, decode_stream, open_with_parameters,
};

#[test]
fn replay_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let Ok(targets) = std::fs::read_dir(&root) else {
        panic!("no corpus at {}", root.display());
    };
    let mut files = 0;
    for target in targets.flatten() {
        let name = target.file_name().to_string_lossy().into_owned();
        if name == "config" {
            continue; // config text, replayed by clos-config's tests
        }
        for file in std::fs::read_dir(target.path()).unwrap().flatten() {
            let data = std::fs::read(file.path()).unwrap();
            for codec in codecs() {
                match name.as_str() {
                    "open" => check_roundtrip(&open_with_parameters(&data), &codec),
                    "packing" => check_packing(&data, &codec),
                    _ => {
                        decode_stream(&data, &codec);
                        check_roundtrip(&data, &codec);
                    }
                }
            }
            files += 1;
        }
    }
    assert!(files > 0, "empty corpus");
}
