//! Every class of refusal, each asserting the file, the 1-based line, the
//! dotted key and the gist of the message.

use clos_config::{Config, ConfigError, ErrorKind};

/// Line 1 is empty, so `[router]` is on line 2, asn on 3, router-id on 4.
const ROUTER: &str = r#"
[router]
asn = 65000
router-id = "10.0.0.1"
"#;

fn error(text: &str) -> ConfigError {
    match Config::from_str(text, "closd.toml") {
        Ok(config) => panic!("expected an error, parsed {config:?}"),
        Err(error) => error,
    }
}

/// Asserts where the error points and that its message contains `gist`.
#[track_caller]
fn check(text: &str, line: usize, key: &str, gist: &str) -> ConfigError {
    let error = error(text);
    assert_eq!(error.file, "closd.toml", "{error}");
    assert_eq!(error.line, Some(line), "{error}");
    assert_eq!(error.key, key, "{error}");
    assert!(
        error.message.contains(gist),
        "message {:?} lacks {gist:?}",
        error.message
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("closd.toml:{line}: {key}: ")),
        "{shown}"
    );
    error
}

/// `ROUTER` followed by one neighbour (its header on line 6) with `body`.
fn with_neighbor(body: &str) -> String {
    format!("{ROUTER}\n[[neighbor]]\n{body}")
}

// ------------------------------------------------------------ syntax, reading

#[test]
fn toml_syntax_error_has_a_line() {
    let error = error("[router]\nasn = 65000\nrouter-id = 10.0.0.1\n");
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert_eq!(error.line, Some(3));
    let shown = error.to_string();
    assert!(shown.starts_with("closd.toml:3: invalid TOML"), "{shown}");
    assert!(
        shown.ends_with("must be quoted: router-id = \"10.0.0.1\""),
        "{shown}"
    );
}

#[test]
fn duplicate_toml_key_is_a_syntax_error() {
    let error = error(&format!("{ROUTER}asn = 65001\n"));
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert_eq!(error.line, Some(5));
}

#[test]
fn missing_file_names_path_and_os_error() {
    let path = std::path::Path::new("/nonexistent/clos/closd.toml");
    let error = Config::from_file(path).expect_err("no such file");
    assert_eq!(error.file, "/nonexistent/clos/closd.toml");
    assert_eq!(error.line, None);
    assert_eq!(error.kind, ErrorKind::Read(std::io::ErrorKind::NotFound));
    let shown = error.to_string();
    assert!(
        shown.starts_with("/nonexistent/clos/closd.toml: cannot read config file: "),
        "{shown}"
    );
    assert!(shown.contains("No such file or directory"), "{shown}");
}

#[test]
fn file_errors_name_the_path() {
    let dir = std::env::temp_dir().join(format!("clos-config-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("closd.toml");
    std::fs::write(&path, format!("{ROUTER}hold-time = 2\n")).expect("write");
    let error = Config::from_file(&path).expect_err("bad hold time");
    assert_eq!(error.file, path.display().to_string());
    assert_eq!(error.line, Some(5));
    assert_eq!(error.key, "router.hold-time");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

// ------------------------------------------------------------ unknown keys

#[test]
fn unknown_neighbor_key_suggests_spelling() {
    let error = check(
        &with_neighbor("address = \"192.0.2.2\"\nremote_as = 65001\n"),
        8,
        "neighbor[0].remote_as",
        "unknown key `remote_as` in [[neighbor]] (did you mean `remote-as`?)",
    );
    assert_eq!(error.kind, ErrorKind::Invalid);
}

#[test]
fn unknown_top_level_key() {
    check(
        &format!("{ROUTER}\n[neighbour]\n"),
        6,
        "neighbour",
        "unknown key `neighbour` in the top level (did you mean `neighbor`?)",
    );
}

#[test]
fn unknown_keys_in_every_table() {
    check(
        &format!("{ROUTER}holdtime = 9\n"),
        5,
        "router.holdtime",
        "`hold-time`",
    );
    check(
        &format!("{ROUTER}[api]\npath = \"/x\"\n"),
        6,
        "api.path",
        "unknown key `path` in [api]",
    );
    check(
        &format!("{ROUTER}[fib]\ntabel = 5\n"),
        6,
        "fib.tabel",
        "did you mean `table`",
    );
    check(
        &format!("{ROUTER}[[prefix-list]]\nname = \"a\"\nentries = [{{ prefix = \"10.0.0.0/8\", lt = 9 }}]\n"),
        7,
        "prefix-list[0].entries[0].lt",
        "unknown key `lt` in a prefix-list entry",
    );
}

// ------------------------------------------------------------ missing keys

#[test]
fn missing_router_table() {
    let error = error("[fib]\nkernel = true\n");
    assert_eq!(error.line, None);
    assert_eq!(error.key, "router");
    assert_eq!(
        error.to_string(),
        "closd.toml: router: missing required table [router] (it needs at least `asn` and `router-id`)"
    );
}

#[test]
fn missing_router_asn_and_id() {
    check(
        "\n[router]\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "missing required key `asn` in [router]",
    );
    check(
        "\n[router]\nasn = 65000\n",
        2,
        "router.router-id",
        "missing required key `router-id`",
    );
}

#[test]
fn missing_neighbor_address_and_remote_as() {
    check(
        &with_neighbor("remote-as = 65001\n"),
        6,
        "neighbor[0]",
        "needs `address` (numbered) or `interface`",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\n"),
        6,
        "neighbor[0].remote-as",
        "missing required key `remote-as` in [[neighbor]]",
    );
}

#[test]
fn address_and_interface_together() {
    check(
        &with_neighbor("address = \"192.0.2.2\"\ninterface = \"eth1\"\nremote-as = 1\n"),
        8,
        "neighbor[0].interface",
        "mutually exclusive",
    );
}

// ------------------------------------------------------------ types and ranges

#[test]
fn wrong_types() {
    check(
        "[router]\nasn = \"65000\"\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "expected an AS number (1..=4294967295), found \"65000\"",
    );
    check(
        &format!("{ROUTER}multipath-relax = \"yes\"\n"),
        5,
        "router.multipath-relax",
        "expected true or false, found \"yes\"",
    );
    check(
        &format!("{ROUTER}listen = \"127.0.0.1\"\n"),
        5,
        "router.listen",
        "found \"127.0.0.1\"",
    );
    check(
        &format!("{ROUTER}hold-time = 1.5\n"),
        5,
        "router.hold-time",
        "found 1.5",
    );
    check(
        &format!("{ROUTER}[api]\nsocket = 5\n"),
        6,
        "api.socket",
        "found 5",
    );
    check(
        &format!("{ROUTER}router = 5\n"),
        5,
        "router.router",
        "unknown key",
    );
    check(
        "router = 5\n",
        1,
        "router",
        "expected a table [router], found 5",
    );
}

#[test]
fn neighbor_must_be_an_array_of_tables() {
    check(
        &format!("{ROUTER}\n[neighbor]\naddress = \"192.0.2.2\"\n"),
        6,
        "neighbor",
        "expected [[neighbor]] (double brackets",
    );
}

#[test]
fn remote_as_wrong_value() {
    // The example of the API contract, verbatim.
    let text = format!(
        "{ROUTER}\n[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 65001\n\n\
         [[neighbor]]\naddress = \"192.0.2.3\"\nremote-as = \"foo\"\n"
    );
    let error = check(&text, 12, "neighbor[1].remote-as", "");
    assert_eq!(
        error.to_string(),
        "closd.toml:12: neighbor[1].remote-as: expected an AS number or \"external\"/\"internal\", found \"foo\""
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = true\n"),
        8,
        "neighbor[0].remote-as",
        "found true",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 0\n"),
        8,
        "neighbor[0].remote-as",
        "0 is not a valid AS number",
    );
}

#[test]
fn asn_out_of_range_and_as_trans() {
    check(
        "[router]\nasn = 0\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "0 is not a valid AS number: expected 1..=4294967295",
    );
    check(
        "[router]\nasn = 4294967296\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "4294967296 is not a valid AS number",
    );
    check(
        "[router]\nasn = -1\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "-1 is not a valid AS number",
    );
    check(
        "[router]\nasn = 23456\nrouter-id = \"10.0.0.1\"\n",
        2,
        "router.asn",
        "AS_TRANS",
    );
}

#[test]
fn router_id_errors() {
    check(
        "[router]\nasn = 1\nrouter-id = \"0.0.0.0\"\n",
        3,
        "router.router-id",
        "0.0.0.0 cannot be a router ID",
    );
    check(
        "[router]\nasn = 1\nrouter-id = \"::1\"\n",
        3,
        "router.router-id",
        "use an IPv4 address",
    );
    check(
        "[router]\nasn = 1\nrouter-id = \"10.0.0\"\n",
        3,
        "router.router-id",
        "expected an IPv4 address",
    );
}

#[test]
fn numbers_out_of_range() {
    check(
        &format!("{ROUTER}multipath = 0\n"),
        5,
        "router.multipath",
        "0 is out of range for the number of equal-cost paths: expected 1..=64",
    );
    check(
        &format!("{ROUTER}multipath = 65\n"),
        5,
        "router.multipath",
        "expected 1..=64",
    );
    check(
        &format!("{ROUTER}connect-retry = 0\n"),
        5,
        "router.connect-retry",
        "expected 1..=65535",
    );
    check(
        &format!("{ROUTER}hold-time = 65536\n"),
        5,
        "router.hold-time",
        "expected 0..=65535",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nport = 0\n"),
        9,
        "neighbor[0].port",
        "expected 1..=65535",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nebgp-multihop = 256\n"),
        9,
        "neighbor[0].ebgp-multihop",
        "expected 1..=255",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nmax-prefix = 0\n"),
        9,
        "neighbor[0].max-prefix",
        "out of range for a prefix limit",
    );
}

#[test]
fn hold_time_one_or_two_refused() {
    check(
        &format!("{ROUTER}hold-time = 1\n"),
        5,
        "router.hold-time",
        "RFC 4271 §4.2",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nhold-time = 2\n"),
        9,
        "neighbor[0].hold-time",
        "a hold time of 2 s is not allowed: use 0 (no keepalives) or 3..=65535 seconds",
    );
}

#[test]
fn fib_table_zero() {
    check(
        &format!("{ROUTER}[fib]\ntable = 0\n"),
        6,
        "fib.table",
        "0 is not a routing table",
    );
    check(
        &format!("{ROUTER}[fib]\ntable = 4294967296\n"),
        6,
        "fib.table",
        "expected 1..=4294967295",
    );
}

// ------------------------------------------------------------ addresses, prefixes

#[test]
fn bad_listen_address() {
    check(
        &format!("{ROUTER}listen = [\"127.0.0.1:179\", \"localhost:179\"]\n"),
        5,
        "router.listen[1]",
        "\"localhost:179\" is not a listen address",
    );
    check(
        &format!("{ROUTER}listen = [\"127.0.0.1:99999\"]\n"),
        5,
        "router.listen[0]",
        "not a listen address",
    );
    check(
        &format!("{ROUTER}listen = [\"::1\", \"[::1]:179\"]\n"),
        5,
        "router.listen[1]",
        "listed twice",
    );
}

#[test]
fn bad_prefixes() {
    check(
        &format!("{ROUTER}originate = [\"10.1.0.1/24\"]\n"),
        5,
        "router.originate[0]",
        "\"10.1.0.1/24\" has host bits set: the canonical form is \"10.1.0.0/24\"",
    );
    check(
        &format!("{ROUTER}originate = [\"2001:db8:1::1/48\"]\n"),
        5,
        "router.originate[0]",
        "\"2001:db8:1::/48\"",
    );
    check(
        &format!("{ROUTER}originate = [\"10.1.0.1\"]\n"),
        5,
        "router.originate[0]",
        "has no prefix length: write \"10.1.0.1/32\"",
    );
    check(
        &format!("{ROUTER}originate = [\"10.1.0.0/33\"]\n"),
        5,
        "router.originate[0]",
        "must be 0..=32",
    );
    check(
        &format!("{ROUTER}originate = [\"ten/8\"]\n"),
        5,
        "router.originate[0]",
        "\"ten\" is not an IP address",
    );
    check(
        &format!("{ROUTER}originate = [\"10.0.0.0/8\", \"10.0.0.0/8\"]\n"),
        5,
        "router.originate[1]",
        "listed twice",
    );
}

#[test]
fn bad_neighbor_addresses() {
    check(
        &with_neighbor("address = \"192.0.2.256\"\nremote-as = 1\n"),
        7,
        "neighbor[0].address",
        "\"192.0.2.256\" is not an IP address",
    );
    check(
        &with_neighbor("address = \"fe80::1%eth0\"\nremote-as = 1\n"),
        7,
        "neighbor[0].address",
        "write `interface = \"NAME\"`",
    );
    check(
        &with_neighbor("address = \"0.0.0.0\"\nremote-as = 1\n"),
        7,
        "neighbor[0].address",
        "cannot be a neighbor address",
    );
    check(
        &with_neighbor("interface = \"\"\nremote-as = 1\n"),
        7,
        "neighbor[0].interface",
        "empty",
    );
    check(
        &with_neighbor("interface = \"a-very-long-interface\"\nremote-as = 1\n"),
        7,
        "neighbor[0].interface",
        "longer than 15 bytes",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nlocal-address = \"2001:db8::1\"\n"),
        9,
        "neighbor[0].local-address",
        "2001:db8::1 is IPv6 but the neighbor address 192.0.2.2 is IPv4",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nlocal-address = \"me\"\n"),
        9,
        "neighbor[0].local-address",
        "not an IP address",
    );
}

// ------------------------------------------------------------ families, policy

#[test]
fn unknown_family() {
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nfamilies = [\"ipv4-unicast\", \"ipv6-unicst\"]\n"),
        9,
        "neighbor[0].families[1]",
        "unknown address family \"ipv6-unicst\" (did you mean \"ipv6-unicast\"?)",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nfamilies = [\"ipv6\"]\n"),
        9,
        "neighbor[0].families[0]",
        "(did you mean \"ipv6-unicast\"?)",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nfamilies = []\n"),
        9,
        "neighbor[0].families",
        "at least one address family",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nfamilies = [\"ipv4-unicast\", \"ipv4-unicast\"]\n"),
        9,
        "neighbor[0].families[1]",
        "listed twice",
    );
}

#[test]
fn policy_naming_unknown_prefix_list() {
    let text = format!(
        "{ROUTER}\n[[prefix-list]]\nname = \"customers\"\nentries = []\n\n\
         [[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 1\nimport = \"custmers\"\n"
    );
    check(
        &text,
        13,
        "neighbor[0].import",
        "no [[prefix-list]] named \"custmers\" (did you mean \"customers\"?)",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nexport = \"deny\"\n"),
        9,
        "neighbor[0].export",
        "no [[prefix-list]] named \"deny\"",
    );
}

#[test]
fn max_prefix_options() {
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nmax-prefix-restart = 30\n"),
        9,
        "neighbor[0].max-prefix-restart",
        "no effect without `max-prefix`",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nmax-prefix = 5\nmax-prefix-action = \"drop\"\n"),
        10,
        "neighbor[0].max-prefix-action",
        "expected \"teardown\" or \"warning\", found \"drop\"",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 1\nmax-prefix = 5\nmax-prefix-action = \"warning\"\nmax-prefix-restart = 3\n"),
        11,
        "neighbor[0].max-prefix-restart",
        "never tears the session down",
    );
}

// ------------------------------------------------------------ duplicates

#[test]
fn duplicate_neighbors() {
    let text = format!(
        "{ROUTER}\n[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 1\n\n\
         [[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 2\n"
    );
    check(
        &text,
        11,
        "neighbor[1].address",
        "neighbor 192.0.2.2 is already configured as neighbor[0] at line 6",
    );
    // Same address, different spelling.
    let text = format!(
        "{ROUTER}\n[[neighbor]]\naddress = \"2001:db8::2\"\nremote-as = 1\n\n\
         [[neighbor]]\naddress = \"2001:0db8:0::2\"\nremote-as = 2\n"
    );
    check(&text, 11, "neighbor[1].address", "already configured");
    let text = format!(
        "{ROUTER}\n[[neighbor]]\ninterface = \"eth1\"\nremote-as = 1\n\n\
         [[neighbor]]\ninterface = \"eth1\"\nremote-as = 2\n"
    );
    check(
        &text,
        11,
        "neighbor[1].interface",
        "neighbor eth1 is already configured",
    );
}

#[test]
fn duplicate_prefix_list_names() {
    let text = format!(
        "{ROUTER}\n[[prefix-list]]\nname = \"a\"\nentries = []\n\n\
         [[prefix-list]]\nname = \"a\"\nentries = []\n"
    );
    check(
        &text,
        11,
        "prefix-list[1].name",
        "prefix-list \"a\" is already defined at line 7",
    );
}

#[test]
fn prefix_list_name_errors() {
    check(
        &format!("{ROUTER}[[prefix-list]]\nname = \"accept\"\nentries = []\n"),
        6,
        "prefix-list[0].name",
        "policy keyword",
    );
    check(
        &format!("{ROUTER}[[prefix-list]]\nentries = []\n"),
        5,
        "prefix-list[0].name",
        "missing required key `name`",
    );
    check(
        &format!("{ROUTER}[[prefix-list]]\nname = \"a\"\n"),
        5,
        "prefix-list[0].entries",
        "missing required key `entries`",
    );
}

// ------------------------------------------------------------ ge / le

fn entry(fields: &str) -> String {
    // The entry sits on line 7.
    format!("{ROUTER}[[prefix-list]]\nname = \"a\"\nentries = [{{ {fields} }}]\n")
}

#[test]
fn ge_le_bounds() {
    check(
        &entry("prefix = \"10.0.0.0/16\", ge = 8"),
        7,
        "prefix-list[0].entries[0].ge",
        "ge 8 is shorter than the length of 10.0.0.0/16 itself: ge must be 16..=32",
    );
    check(
        &entry("prefix = \"10.0.0.0/16\", le = 33"),
        7,
        "prefix-list[0].entries[0].le",
        "le 33 is longer than 32, the longest IPv4 prefix",
    );
    check(
        &entry("prefix = \"2001:db8::/32\", le = 129"),
        7,
        "prefix-list[0].entries[0].le",
        "expected 0..=128",
    );
    check(
        &entry("prefix = \"10.0.0.0/16\", le = 8"),
        7,
        "prefix-list[0].entries[0].le",
        "le 8 is shorter",
    );
    check(
        &entry("prefix = \"10.0.0.0/16\", ge = 24, le = 20"),
        7,
        "prefix-list[0].entries[0].ge",
        "ge 24 is greater than le 20",
    );
    check(
        &entry("prefix = \"10.0.0.0/16\", ge = -1"),
        7,
        "prefix-list[0].entries[0].ge",
        "out of range",
    );
}

#[test]
fn entry_errors() {
    check(
        &entry("action = \"allow\", prefix = \"10.0.0.0/8\""),
        7,
        "prefix-list[0].entries[0].action",
        "expected \"permit\" or \"deny\", found \"allow\"",
    );
    check(
        &entry("prefix = \"10.0.0.1/8\""),
        7,
        "prefix-list[0].entries[0].prefix",
        "canonical form is \"10.0.0.0/8\"",
    );
    check(
        &entry("action = \"deny\""),
        7,
        "prefix-list[0].entries[0].prefix",
        "missing required key `prefix` in a prefix-list entry",
    );
    check(
        &format!("{ROUTER}[[prefix-list]]\nname = \"a\"\nentries = [\"10.0.0.0/8\"]\n"),
        7,
        "prefix-list[0].entries[0]",
        "expected a table",
    );
}

#[test]
fn fib_protocol_of_the_kernel_is_refused() {
    check(
        &format!("{ROUTER}[fib]\nprotocol = 4\n"),
        6,
        "fib.protocol",
        "kernel's own",
    );
    check(
        &format!("{ROUTER}[fib]\nprotocol = 256\n"),
        6,
        "fib.protocol",
        "5..=255",
    );
}

#[test]
fn fib_stale_time_out_of_range() {
    check(
        &format!("{ROUTER}[fib]\nstale-time = 3601\n"),
        6,
        "fib.stale-time",
        "0..=3600",
    );
}

#[test]
fn fib_initial_hold_out_of_range() {
    check(
        &format!("{ROUTER}[fib]\ninitial-hold = -1\n"),
        6,
        "fib.initial-hold",
        "0..=3600",
    );
}

#[test]
fn bfd_timers_need_bfd_and_sane_values() {
    let neighbor = "[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 65001\n";
    check(
        &format!("{ROUTER}{neighbor}bfd-interval = 50\n"),
        8,
        "neighbor[0].bfd-interval",
        "bfd = true",
    );
    check(
        &format!("{ROUTER}{neighbor}bfd = true\nbfd-interval = 5\n"),
        9,
        "neighbor[0].bfd-interval",
        "10..=10000",
    );
    check(
        &format!("{ROUTER}{neighbor}bfd = true\nbfd-multiplier = 0\n"),
        9,
        "neighbor[0].bfd-multiplier",
        "1..=255",
    );
    check(
        &format!("{ROUTER}{neighbor}bfd = \"yes\"\n"),
        8,
        "neighbor[0].bfd",
        "expected true or false",
    );
}
