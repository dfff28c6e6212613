//! The `closctl fib` tools through the library entry points.

use std::io::Write;

use clos_fib::tools::{bench, lookup, BenchOptions};
use clos_fib::Family;

fn table_file(text: &str) -> tempdir_lite::TempFile {
    tempdir_lite::TempFile::new(text)
}

/// A tiny temp-file helper (no extra dependency).
mod tempdir_lite {
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn new(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "clos-fib-test-{}-{}.txt",
                std::process::id(),
                text.len() ^ (text.as_ptr() as usize)
            ));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

const TABLE: &str = "10.0.0.0/8 1\n10.1.0.0/16 2\n2001:db8::/32 7\n0.0.0.0/0 0\n";

#[test]
fn lookup_prints_address_and_nexthop() {
    let f = table_file(TABLE);
    let mut out = Vec::new();
    let n = lookup(
        &f.0,
        None,
        &b"10.1.2.3\n10.2.0.1\n\n2001:db8::1\n2001:db9::1\n8.8.8.8\n"[..],
        &mut out,
    )
    .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "10.1.2.3 2\n10.2.0.1 1\n2001:db8::1 7\n2001:db9::1 -\n8.8.8.8 0\n"
    );
}

#[test]
fn lookup_reports_bad_lines_with_numbers() {
    let f = table_file(TABLE);
    let err = lookup(&f.0, None, &b"10.1.2.3\nnot-an-address\n"[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains("stdin:2"), "{err}");
    let err = lookup(&f.0, Some(Family::Ipv4), &b"2001:db8::1\n"[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains("not an ipv4"), "{err}");
    let bad = table_file("10.0.0.0/8 1\n10.0.0.0/40 1\n");
    let err = lookup(&bad.0, None, &b""[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains(":2:"), "{err}");
}

#[test]
fn bench_report_has_the_json_keys() {
    let mut text = String::new();
    for i in 0..2000u32 {
        text += &format!(
            "{}.{}.{}.0/24 {}\n",
            1 + i % 200,
            i % 256,
            i / 7 % 256,
            i % 16
        );
    }
    let f = table_file(&text);
    let mut opts = BenchOptions::new(f.0.clone());
    opts.lookups = 4096;
    opts.runs = 1;
    opts.updates = 500;
    opts.packets = 8192;
    let report = bench(&opts).unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for key in [
        "build_s",
        "memory_bytes",
        "random_mlps",
        "table_mlps",
        "reference_random_mlps",
    ] {
        assert!(
            json.get(key).is_some_and(|v| v.is_number()),
            "missing {key}"
        );
    }
    assert!(report.pipeline_mpps > 0.0 && report.updates_per_s > 0.0);
    let mut sink = Vec::new();
    writeln!(sink, "{}", report.to_text()).unwrap();
}
