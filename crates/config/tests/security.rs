//! The keys that harden closd against the wire: `neighbor.ttl-security`
//! (GTSM, RFC 5082), `neighbor.password` (TCP MD5, RFC 2385), and the API
//! on TCP (`api.listen`, `api.token-file`). What parses, and every refusal
//! with its file, line and key. Secrets never appear in errors or `Debug`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use clos_config::{Config, ConfigError, Secret};

/// Line 1 is empty, so `[router]` is on line 2, asn on 3, router-id on 4.
const ROUTER: &str = r#"
[router]
asn = 65000
router-id = "10.0.0.1"
"#;

/// `ROUTER` and one neighbour (its header on line 6, `body` from line 7).
fn with_neighbor(body: &str) -> String {
    format!("{ROUTER}\n[[neighbor]]\n{body}")
}

/// `ROUTER` and an `[api]` table (header on line 6, `body` from line 7).
fn with_api(body: &str) -> String {
    format!("{ROUTER}\n[api]\n{body}")
}

fn parse(text: &str) -> Config {
    match Config::from_str(text, "closd.toml") {
        Ok(config) => config,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

/// Asserts where the error points and that its message contains `gist`.
#[track_caller]
fn check(text: &str, line: usize, key: &str, gist: &str) -> ConfigError {
    let error = match Config::from_str(text, "closd.toml") {
        Ok(config) => panic!("expected an error, parsed {config:?}"),
        Err(error) => error,
    };
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
            .starts_with(&format!("closd.toml:{line}: {key}: ")),
        "{error}"
    );
    error
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "clos-config-security-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// Writes `contents` to `name` with `mode`; returns its path.
    fn file(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TOKEN: &str = "0123456789abcdef-token";

/// An `[api]` body listening on TCP with the token file at `path`.
fn tcp_api(path: &Path) -> String {
    format!(
        "listen = \"127.0.0.1:50051\"\ntoken-file = \"{}\"\n",
        path.display()
    )
}

// ------------------------------------------------------------ ttl-security

#[test]
fn ttl_security_on_directly_connected_ebgp() {
    for body in [
        "address = \"192.0.2.2\"\nremote-as = 65001\nttl-security = true\n",
        "address = \"192.0.2.2\"\nremote-as = \"external\"\nttl-security = true\nebgp-multihop = 1\n",
        "interface = \"swp1\"\nremote-as = \"external\"\nttl-security = true\n",
    ] {
        let config = parse(&with_neighbor(body));
        assert!(config.neighbors[0].ttl_security, "{body}");
    }
    let off = parse(&with_neighbor(
        "address = \"192.0.2.2\"\nremote-as = 65001\nttl-security = false\nebgp-multihop = 5\n",
    ));
    assert!(!off.neighbors[0].ttl_security);
}

#[test]
fn ttl_security_refuses_multihop_naming_both_lines() {
    check(
        &with_neighbor(
            "address = \"192.0.2.2\"\nremote-as = 65001\nebgp-multihop = 2\nttl-security = true\n",
        ),
        10,
        "neighbor[0].ttl-security",
        "cannot be combined with ebgp-multihop = 2 (line 9): remove one of them",
    );
}

#[test]
fn ttl_security_is_ebgp_only() {
    for remote_as in ["65000", "\"internal\""] {
        check(
            &with_neighbor(&format!(
                "address = \"192.0.2.2\"\nremote-as = {remote_as}\nttl-security = true\n"
            )),
            9,
            "neighbor[0].ttl-security",
            "ttl-security is for eBGP sessions only",
        );
    }
}

#[test]
fn ttl_security_is_a_boolean() {
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 65001\nttl-security = \"yes\"\n"),
        9,
        "neighbor[0].ttl-security",
        "expected true or false",
    );
}

// ------------------------------------------------------------ password

#[test]
fn password_of_1_to_80_bytes() {
    for password in [
        "k".to_string(),
        "p".repeat(80),
        "with spaces & ünïcode".into(),
    ] {
        let config = parse(&with_neighbor(&format!(
            "address = \"2001:db8::2\"\nremote-as = 65001\npassword = \"{password}\"\n"
        )));
        assert_eq!(config.neighbors[0].password, Some(Secret::new(&*password)));
    }
}

#[test]
fn passwords_never_show_in_debug_output() {
    let config = parse(&with_neighbor(
        "address = \"192.0.2.2\"\nremote-as = 65001\npassword = \"hunter2-secret\"\n",
    ));
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("Secret(<redacted>)"), "{shown}");
}

#[test]
fn password_length_and_type() {
    let error = check(
        &with_neighbor(&format!(
            "address = \"192.0.2.2\"\nremote-as = 65001\npassword = \"{}\"\n",
            "x".repeat(81)
        )),
        9,
        "neighbor[0].password",
        "the password is 81 bytes long: Linux takes TCP MD5 keys of at most 80 bytes",
    );
    assert!(
        !error.message.contains("xxxx"),
        "the password leaked: {error}"
    );
    // 27 characters, 81 bytes: the limit is on bytes.
    check(
        &with_neighbor(&format!(
            "address = \"192.0.2.2\"\nremote-as = 65001\npassword = \"{}\"\n",
            "€".repeat(27)
        )),
        9,
        "neighbor[0].password",
        "81 bytes long",
    );
    check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 65001\npassword = \"\"\n"),
        9,
        "neighbor[0].password",
        "the password is empty",
    );
    let error = check(
        &with_neighbor("address = \"192.0.2.2\"\nremote-as = 65001\npassword = 1234\n"),
        9,
        "neighbor[0].password",
        "expected a password (1..=80 bytes) as a quoted string",
    );
    assert!(!error.message.contains("1234"), "{error}");
}

#[test]
fn password_is_not_supported_with_interface() {
    let error = check(
        &with_neighbor("interface = \"swp1\"\nremote-as = \"external\"\npassword = \"sesame\"\n"),
        9,
        "neighbor[0].password",
        "password is not supported with interface",
    );
    assert!(!error.message.contains("sesame"), "{error}");
}

// ------------------------------------------------------------ [api] on TCP

#[test]
fn api_on_tcp_reads_the_token_at_load() {
    let scratch = Scratch::new();
    let path = scratch.file("api.token", format!("  {TOKEN}\n").as_bytes(), 0o600);
    let config = parse(&with_api(&tcp_api(&path)));
    let tcp = config.api.tcp.as_ref().expect("tcp");
    assert_eq!(tcp.listen, "127.0.0.1:50051".parse().unwrap());
    assert_eq!(tcp.token_file, path);
    assert_eq!(
        tcp.token.expose(),
        TOKEN,
        "surrounding whitespace is trimmed"
    );
    assert!(!format!("{config:?}").contains(TOKEN));
    // The Unix socket stays.
    assert_eq!(
        config.api.socket,
        PathBuf::from(clos_config::DEFAULT_API_SOCKET)
    );
    // Read-only for the owner is fine too; IPv6 addresses take brackets.
    let path = scratch.file("ro.token", TOKEN.as_bytes(), 0o400);
    let config = parse(&with_api(&format!(
        "listen = \"[::1]:50051\"\ntoken-file = \"{}\"\n",
        path.display()
    )));
    assert_eq!(
        config.api.tcp.unwrap().listen,
        "[::1]:50051".parse().unwrap()
    );
}

#[test]
fn api_listen_needs_token_file_and_the_reverse() {
    check(
        &with_api("listen = \"127.0.0.1:50051\"\n"),
        7,
        "api.listen",
        "the API on TCP needs `token-file` too",
    );
    check(
        &with_api("token-file = \"/etc/clos/api.token\"\n"),
        7,
        "api.token-file",
        "`token-file` has no effect without `listen`",
    );
}

#[test]
fn api_listen_must_be_an_address_and_port() {
    let scratch = Scratch::new();
    let path = scratch.file("api.token", TOKEN.as_bytes(), 0o600);
    let token_file = format!("token-file = \"{}\"\n", path.display());
    for (listen, gist) in [
        ("\"127.0.0.1\"", "is not an address and port"),
        ("\"localhost:50051\"", "is not an address and port"),
        ("\"127.0.0.1:0\"", "port 0 would pick a random port"),
        ("50051", "expected an address and port"),
    ] {
        check(
            &with_api(&format!("listen = {listen}\n{token_file}")),
            7,
            "api.listen",
            gist,
        );
    }
}

#[test]
fn token_file_must_be_private_regular_and_hold_a_real_token() {
    let scratch = Scratch::new();
    let missing = scratch.0.join("missing.token");
    let cases: Vec<(PathBuf, &str)> = vec![
        (missing.clone(), "cannot read"),
        (scratch.0.clone(), "is not a regular file"),
        (PathBuf::from("/dev/zero"), "is not a regular file"),
        (
            scratch.file("group.token", TOKEN.as_bytes(), 0o640),
            "is open to group or others (mode 0640)",
        ),
        (
            scratch.file("world.token", TOKEN.as_bytes(), 0o604),
            "run `chmod 600",
        ),
        (scratch.file("empty.token", b"", 0o600), "is empty"),
        (scratch.file("blank.token", b" \n\n", 0o600), "is empty"),
        (
            scratch.file("short.token", b"tooshort\n", 0o600),
            "is 8 characters long: use at least 16",
        ),
        (
            scratch.file("spaces.token", b"0123456789 abcdef\n", 0o600),
            "has spaces, control or non-ASCII characters",
        ),
        (
            scratch.file("huge.token", &[b'a'; 5000], 0o600),
            "is longer than 4096 bytes",
        ),
    ];
    for (path, gist) in cases {
        let error = check(&with_api(&tcp_api(&path)), 8, "api.token-file", gist);
        assert!(
            error.message.contains(&path.display().to_string()),
            "{error}"
        );
        assert!(!error.message.contains(TOKEN), "the token leaked: {error}");
    }
    check(
        &with_api("listen = \"127.0.0.1:50051\"\ntoken-file = \"\"\n"),
        8,
        "api.token-file",
        "the token file path is empty",
    );
}

#[test]
fn token_file_that_is_a_fifo_is_refused_without_blocking() {
    let scratch = Scratch::new();
    let fifo = scratch.0.join("api.token");
    let made = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(&fifo)
        .status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("SKIP: mkfifo unavailable");
        return;
    }
    check(
        &with_api(&tcp_api(&fifo)),
        8,
        "api.token-file",
        "is not a regular file",
    );
}
