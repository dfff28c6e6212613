//! The config parser on arbitrary text: it must return a config or an error
//! naming a line, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = clos_config::Config::from_str(text, "fuzz.toml") {
            // Every error names the file; the message is never empty.
            assert_eq!(e.file, "fuzz.toml");
            assert!(!e.message.is_empty());
        }
    }
});
