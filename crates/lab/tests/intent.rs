//! The intent file: every class of refusal names the file, the 1-based
//! line and the dotted key; and the plans (AS numbers, addresses) that
//! valid files produce.

use clos_lab::intent::{Intent, IntentError};
use clos_lab::plan::Fabric;

fn error(text: &str) -> IntentError {
    match Intent::from_str(text, "dc1.toml") {
        Ok(intent) => panic!("expected an error, got {intent:?}"),
        Err(error) => error,
    }
}

/// Asserts where the error points and that its message contains `gist`.
#[track_caller]
fn check(text: &str, line: usize, key: &str, gist: &str) {
    let error = error(text);
    assert_eq!(error.file, "dc1.toml", "{error}");
    assert_eq!(error.line, Some(line), "{error}");
    assert_eq!(error.key, key, "{error}");
    assert!(
        error.message.contains(gist),
        "message {:?} lacks {gist:?}",
        error.message
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("dc1.toml:{line}: {key}: ")),
        "{error}"
    );
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let error = error("[fabric]\nspines = 2\nname = dc1\n");
    assert_eq!(error.line, Some(3));
    assert!(
        error.to_string().starts_with("dc1.toml:3: invalid TOML"),
        "{error}"
    );
}

#[test]
fn unknown_keys_are_refused_with_a_suggestion() {
    check(
        "[fabric]\nspine = 2\n",
        2,
        "fabric.spine",
        "did you mean `spines`?",
    );
    check(
        "[fabric]\nhosts_per_leaf = 2\n",
        2,
        "fabric.hosts_per_leaf",
        "did you mean `hosts-per-leaf`?",
    );
    check(
        "\n[fabrik]\nspines = 2\n",
        2,
        "fabrik",
        "did you mean `fabric`?",
    );
    check(
        "[bgp]\ncolour = 1\n",
        2,
        "bgp.colour",
        "expected one of `multipath`",
    );
    check(
        "[bfd]\ninterval = 50\n",
        2,
        "bfd.interval",
        "did you mean `interval-ms`?",
    );
}

#[test]
fn counts_have_limits() {
    check(
        "[fabric]\nspines = 0\n",
        2,
        "fabric.spines",
        "expected 1..=16",
    );
    check(
        "[fabric]\nspines = 17\n",
        2,
        "fabric.spines",
        "expected 1..=16",
    );
    check(
        "[fabric]\n\nleaves = 65\n",
        3,
        "fabric.leaves",
        "expected 1..=64",
    );
    check(
        "[fabric]\nhosts-per-leaf = 0\n",
        2,
        "fabric.hosts-per-leaf",
        "expected 1..=32",
    );
    check(
        "[fabric]\nspines = \"2\"\n",
        2,
        "fabric.spines",
        "expected a number of spines",
    );
    check(
        "[fabric]\nname = \"DC 1\"\n",
        2,
        "fabric.name",
        "is not a fabric name",
    );
    check("fabric = 3\n", 1, "fabric", "expected a table [fabric]");
}

#[test]
fn a_leaf_asn_equal_to_the_spine_asn_is_refused() {
    // leaf-base collides with the spines on leaf 1.
    check(
        "[asn]\nspine = 65000\nleaf-base = 65000\n",
        3,
        "asn.leaf-base",
        "leaf1 would get AS 65000, the spines' AS (asn.spine, line 2)",
    );
    // ... or further up the range.
    check(
        "[fabric]\nleaves = 4\n[asn]\nspine = 65003\nleaf-base = 65001\n",
        5,
        "asn.leaf-base",
        "leaf3 would get AS 65003",
    );
    // A plan entry.
    check(
        "[asn]\nspine = 65000\nplan = { leaf1 = 65101, leaf2 = 65000, leaf3 = 65103, leaf4 = 65104 }\n",
        3,
        "asn.plan.leaf2",
        "the spines' AS",
    );
    // The default leaf-base against a spine AS written in the file.
    check(
        "[asn]\nspine = 65002\n",
        2,
        "asn.spine",
        "from the default leaf-base 65001",
    );
}

#[test]
fn two_leaves_with_one_asn_are_refused() {
    check(
        "[asn]\nspine = 65000\nplan = { leaf1 = 65101, leaf2 = 65102, leaf3 = 65101, leaf4 = 65104 }\n",
        3,
        "asn.plan.leaf3",
        "leaf3 would get AS 65101, which leaf1 already has (asn.plan.leaf1, line 3)",
    );
    check(
        "[asn]\nleaf-base = 65001\nplan = { leaf1 = 65003 }\n",
        2,
        "asn.leaf-base",
        "leaf3 would get AS 65003, which leaf1 already has",
    );
}

#[test]
fn asn_plans_are_checked() {
    check(
        "[asn]\nplan = { leaf1 = 65101, leaf9 = 65109 }\n",
        2,
        "asn.plan.leaf9",
        "not a leaf of this fabric",
    );
    check(
        "[asn]\nplan = { leaf1 = 65101 }\n",
        2,
        "asn.plan",
        "leaf2 has no AS",
    );
    check(
        "[asn]\nplan = { leaf1 = 0 }\n",
        2,
        "asn.plan.leaf1",
        "out of range for an AS number",
    );
    check("[asn]\nspine = 23456\n", 2, "asn.spine", "AS_TRANS");
    check(
        "[asn]\nleaf-base = 4294967295\n",
        2,
        "asn.leaf-base",
        "runs past the largest AS number",
    );
    check("[asn]\nplan = 5\n", 2, "asn.plan", "expected a table");
}

#[test]
fn asn_plan_and_leaf_base_combine() {
    let intent = Intent::from_str(
        "[asn]\nspine = 64512\nleaf-base = 64601\nplan = { leaf2 = 4200000002 }\n",
        "dc1.toml",
    )
    .unwrap();
    assert_eq!(intent.spine_asn, 64512);
    assert_eq!(intent.leaf_asns, vec![64601, 4_200_000_002, 64603, 64604]);
    let full = Intent::from_str(
        "[fabric]\nleaves = 2\n[asn]\nplan = { leaf1 = 65101, leaf2 = 65102 }\n",
        "dc1.toml",
    )
    .unwrap();
    assert_eq!(full.leaf_asns, vec![65101, 65102]);
}

#[test]
fn subnets_must_be_large_enough() {
    check(
        "[addressing]\nloopbacks = \"10.255.0.0/30\"\n",
        2,
        "addressing.loopbacks",
        "has room for 3 loopback /32s",
    );
    check(
        "[addressing]\nhosts = \"10.1.0.0/23\"\n",
        2,
        "addressing.hosts",
        "holds 1 usable /24s",
    );
    check(
        "[addressing]\nhosts = \"10.1.0.0/25\"\n",
        2,
        "addressing.hosts",
        "must be a /24 or shorter",
    );
    check(
        "[addressing]\nhosts-v6 = \"2001:db8::/63\"\n",
        2,
        "addressing.hosts-v6",
        "holds 1 usable /64s",
    );
    check(
        "[addressing]\nhosts-v6 = \"2001:db8::/96\"\n",
        2,
        "addressing.hosts-v6",
        "must be a /64 or shorter",
    );
}

#[test]
fn prefixes_are_checked() {
    check(
        "[addressing]\nhosts = \"10.1.0.1/16\"\n",
        2,
        "addressing.hosts",
        "the canonical form is \"10.1.0.0/16\"",
    );
    check(
        "[addressing]\nloopbacks = \"2001:db8::/64\"\n",
        2,
        "addressing.loopbacks",
        "expected an IPv4 prefix",
    );
    check(
        "[addressing]\nhosts-v6 = \"10.0.0.0/8\"\n",
        2,
        "addressing.hosts-v6",
        "expected an IPv6 prefix",
    );
    check(
        "[addressing]\nhosts = \"10.1.0.0\"\n",
        2,
        "addressing.hosts",
        "no prefix length",
    );
    check(
        "[addressing]\nhosts = \"ten\"\n",
        2,
        "addressing.hosts",
        "is not a prefix",
    );
    check(
        "[addressing]\nloopbacks = \"10.0.0.0/24\"\nhosts = \"10.0.0.0/16\"\n",
        3,
        "addressing.hosts",
        "overlaps the loopbacks",
    );
}

#[test]
fn bfd_and_bgp_ranges() {
    check(
        "[bfd]\ninterval-ms = 9\n",
        2,
        "bfd.interval-ms",
        "expected 10..=10000",
    );
    check(
        "[bfd]\ninterval-ms = 10001\n",
        2,
        "bfd.interval-ms",
        "expected 10..=10000",
    );
    check(
        "[bfd]\nmultiplier = 0\n",
        2,
        "bfd.multiplier",
        "expected 1..=255",
    );
    check(
        "[bfd]\nmultiplier = 256\n",
        2,
        "bfd.multiplier",
        "expected 1..=255",
    );
    check(
        "[bfd]\nenabled = \"yes\"\n",
        2,
        "bfd.enabled",
        "expected true or false",
    );
    check(
        "[bgp]\nmultipath = 0\n",
        2,
        "bgp.multipath",
        "expected 1..=64",
    );
    check("[bgp]\nhold-time = 2\n", 2, "bgp.hold-time", "RFC 4271");
    check(
        "[bgp]\nhold-time = 9\nkeepalive = 9\n",
        3,
        "bgp.keepalive",
        "shorter than the hold time",
    );
    check(
        "[bgp]\nhold-time = 0\nkeepalive = 3\n",
        3,
        "bgp.keepalive",
        "hold-time = 0",
    );
    let intent = Intent::from_str("[bfd]\nenabled = false\n", "dc1.toml").unwrap();
    assert_eq!(intent.bfd, None);
}

#[test]
fn an_unreadable_file_names_itself() {
    let error = Intent::from_file(std::path::Path::new("/nonexistent/dc9.toml")).unwrap_err();
    assert_eq!(error.file, "/nonexistent/dc9.toml");
    assert_eq!(error.line, None);
    assert!(
        error.to_string().contains("cannot read the intent file"),
        "{error}"
    );
}

#[test]
fn address_plan() {
    let intent = Intent::from_str(
        "[fabric]\nspines = 4\nleaves = 3\nhosts-per-leaf = 3\n\
         [addressing]\nloopbacks = \"192.0.2.0/28\"\nhosts = \"172.16.0.0/22\"\nhosts-v6 = \"fd00:1::/60\"\n",
        "dc1.toml",
    )
    .unwrap();
    let fabric = Fabric::new(&intent);
    let loopbacks: Vec<String> = fabric.switches().map(|s| s.loopback.to_string()).collect();
    assert_eq!(
        loopbacks,
        [
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.4",
            "192.0.2.5",
            "192.0.2.6",
            "192.0.2.7"
        ]
    );
    let leaf3 = fabric.switch("leaf3").unwrap();
    assert_eq!(leaf3.hosts.unwrap().to_string(), "172.16.3.0/24");
    assert_eq!(leaf3.hosts_v6.unwrap().to_string(), "fd00:1:0:3::/64");
    let host = fabric.host("host3-3").unwrap();
    assert_eq!(host.address.to_string(), "172.16.3.4/24");
    assert_eq!(host.address_v6.unwrap().to_string(), "fd00:1:0:3::4/64");
    assert_eq!(fabric.ecmp_width(), 4);
    assert_eq!(fabric.links().len(), 12);
}
