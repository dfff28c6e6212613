//! Replays the config fuzz target's seed corpus (fuzz/corpus/config/) so
//! `cargo test` checks it without cargo-fuzz: every file parses or fails
//! with an error naming the file, never a panic.

use std::path::Path;

#[test]
fn replay_config_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
    let mut files = 0;
    for file in std::fs::read_dir(&root)
        .expect("fuzz/corpus/config")
        .flatten()
    {
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        match clos_config::Config::from_str(&text, "fuzz.toml") {
            Ok(config) => assert!(config.router.asn != 0),
            Err(e) => {
                assert_eq!(e.file, "fuzz.toml");
                assert!(!e.message.is_empty());
            }
        }
        files += 1;
    }
    assert!(files >= 3, "seed corpus missing");
}
