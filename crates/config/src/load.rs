//! From a parsed TOML document to a validated [`Config`]: one function per
//! table, each refusing unknown keys, reading its values with their types
//! and ranges, filling defaults and checking what depends on other tables
//! (policies naming prefix lists, duplicate neighbours).
//!
//! Checks run in file-independent order (`[router]`, `[api]`, `[fib]`,
//! `[[prefix-list]]`, `[[neighbor]]`) and the first failure is returned.
//!
//! One key reads another file: `api.token-file`, whose token is read (and
//! its permissions checked) here, at load, so a bad token file is an error
//! with a line like any other and the daemon never starts without it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clos_wire::Family;
use ipnet::IpNet;

use crate::error::ConfigError;
use crate::model::*;
use crate::source::{did_you_mean, Field, Source, Table};

const TOP_KEYS: &[&str] = &["router", "api", "neighbor", "prefix-list", "fib"];
const ROUTER_KEYS: &[&str] = &[
    "asn",
    "router-id",
    "listen",
    "originate",
    "hold-time",
    "connect-retry",
    "multipath",
    "multipath-relax",
    "fast-external-failover",
];
const API_KEYS: &[&str] = &["socket", "listen", "token-file"];
const FIB_KEYS: &[&str] = &["kernel", "table", "protocol", "stale-time", "initial-hold"];
const NEIGHBOR_KEYS: &[&str] = &[
    "address",
    "bfd",
    "bfd-interval",
    "bfd-multiplier",
    "interface",
    "remote-as",
    "description",
    "port",
    "local-address",
    "passive",
    "families",
    "import",
    "export",
    "hold-time",
    "max-prefix",
    "max-prefix-action",
    "max-prefix-restart",
    "next-hop-self",
    "ebgp-multihop",
    "ttl-security",
    "password",
];
const PREFIX_LIST_KEYS: &[&str] = &["name", "entries"];
const ENTRY_KEYS: &[&str] = &["action", "prefix", "ge", "le"];

/// Longest Linux interface name (`IFNAMSIZ` less the terminating NUL).
const MAX_INTERFACE_NAME: usize = 15;
/// Largest API token file read, in bytes (a token is a line, not a blob).
const MAX_TOKEN_FILE: u64 = 4096;

/// Parses and validates `text`; errors name `origin` as the file.
pub(crate) fn load(origin: &str, text: &str) -> Result<Config, ConfigError> {
    let src = Source::new(origin, text);
    let document = src.parse()?;
    let root = Table::root(&src, &document);
    root.check_keys(TOP_KEYS)?;

    let router = match root.get("router") {
        Some(field) => router(&field.table("[router]")?)?,
        None => {
            return Err(src.error(
                None,
                "router",
                "missing required table [router] (it needs at least `asn` and `router-id`)",
            ))
        }
    };
    let api = match root.get("api") {
        Some(field) => api(&field.table("[api]")?)?,
        None => Api::default(),
    };
    let fib = match root.get("fib") {
        Some(field) => fib(&field.table("[fib]")?)?,
        None => Fib::default(),
    };

    let mut prefix_lists: Vec<PrefixList> = Vec::new();
    let mut list_lines: HashMap<String, usize> = HashMap::new();
    for table in table_array(root.get("prefix-list"), "[[prefix-list]]")? {
        let (list, name_field) = prefix_list(&table)?;
        if let Some(line) = list_lines.get(&list.name) {
            return Err(name_field.error(format!(
                "prefix-list {:?} is already defined at line {line}",
                list.name
            )));
        }
        list_lines.insert(list.name.clone(), name_field.line());
        prefix_lists.push(list);
    }
    let list_names: Vec<&str> = prefix_lists.iter().map(|l| l.name.as_str()).collect();

    let mut neighbors: Vec<Neighbor> = Vec::new();
    let mut peer_lines: HashMap<PeerAddress, (String, usize)> = HashMap::new();
    for table in table_array(root.get("neighbor"), "[[neighbor]]")? {
        let (neighbor, peer_field) = neighbor(&table, router.asn, &list_names)?;
        if let Some((path, line)) = peer_lines.get(&neighbor.peer) {
            return Err(peer_field.error(format!(
                "neighbor {} is already configured as {path} at line {line}",
                neighbor.peer
            )));
        }
        peer_lines.insert(
            neighbor.peer.clone(),
            (table.path().to_string(), table.line()),
        );
        neighbors.push(neighbor);
    }

    Ok(Config {
        router,
        api,
        neighbors,
        prefix_lists,
        fib,
        source: None,
    })
}

/// The tables of an array of tables (`[[neighbor]]`), empty when absent.
fn table_array<'a>(
    field: Option<Field<'a>>,
    header: &'static str,
) -> Result<Vec<Table<'a>>, ConfigError> {
    let Some(field) = field else {
        return Ok(Vec::new());
    };
    if field.is_table() {
        return Err(field.error(format!(
            "expected {header} (double brackets, one table per entry), found a single table"
        )));
    }
    field
        .array(&format!("{header} tables"))?
        .iter()
        .map(|item| item.table(header))
        .collect()
}

/// Applies `read` to `key` when present.
fn optional<'a, T>(
    table: &Table<'a>,
    key: &str,
    read: impl FnOnce(&Field<'a>) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    table.get(key).map(|field| read(&field)).transpose()
}

// ---------------------------------------------------------------- [router]

fn router(table: &Table<'_>) -> Result<Router, ConfigError> {
    table.check_keys(ROUTER_KEYS)?;
    let asn = asn(&table.require("asn")?)?;
    let router_id = router_id(&table.require("router-id")?)?;
    let listen = optional(table, "listen", listen)?.unwrap_or_else(default_listen);
    let originate = optional(table, "originate", originate)?.unwrap_or_default();
    let hold_time = optional(table, "hold-time", hold_time)?.unwrap_or(DEFAULT_HOLD_TIME);
    let connect_retry = optional(table, "connect-retry", |f| {
        f.int_in("a connect-retry interval in seconds", 1, 65535)
    })?
    .unwrap_or(DEFAULT_CONNECT_RETRY);
    let multipath = optional(table, "multipath", |f| {
        f.int_in(
            "the number of equal-cost paths",
            1,
            i128::from(MAX_MULTIPATH),
        )
    })?
    .unwrap_or(1);
    let multipath_relax = optional(table, "multipath-relax", Field::bool)?.unwrap_or(false);
    let fast_external_failover =
        optional(table, "fast-external-failover", Field::bool)?.unwrap_or(true);
    Ok(Router {
        asn,
        router_id,
        listen,
        originate,
        hold_time,
        connect_retry,
        multipath,
        multipath_relax,
        fast_external_failover,
    })
}

/// An AS number: 1..=4294967295 except `AS_TRANS` (RFC 6793 §9). 0 is
/// reserved (RFC 7607).
fn asn(field: &Field<'_>) -> Result<u32, ConfigError> {
    if !field.is_int() {
        return Err(field.expected("an AS number (1..=4294967295)"));
    }
    let asn = field
        .as_int()
        .filter(|value| (1..=i128::from(u32::MAX)).contains(value))
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| {
            field.error(format!(
                "{} is not a valid AS number: expected 1..=4294967295",
                field.describe()
            ))
        })?;
    if asn == AS_TRANS {
        return Err(field.error(
            "23456 is AS_TRANS (RFC 6793), a stand-in for 4-byte AS numbers on the wire, \
             and cannot be configured",
        ));
    }
    Ok(asn)
}

fn router_id(field: &Field<'_>) -> Result<Ipv4Addr, ConfigError> {
    let text = field.str("an IPv4 address such as \"10.0.0.1\"")?;
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(id)) if id.is_unspecified() => Err(field
            .error("0.0.0.0 cannot be a router ID (RFC 6286 §2.1): use a non-zero IPv4 address")),
        Ok(IpAddr::V4(id)) => Ok(id),
        Ok(IpAddr::V6(_)) => Err(field.error(format!(
            "{text:?} is IPv6, but a router ID is 32 bits: use an IPv4 address, \
             even on an IPv6-only router"
        ))),
        Err(_) => Err(field.expected("an IPv4 address such as \"10.0.0.1\"")),
    }
}

fn listen(field: &Field<'_>) -> Result<Vec<SocketAddr>, ConfigError> {
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for item in field.array("a list of addresses such as [\"127.0.0.1:179\"]")? {
        let address = listen_address(&item)?;
        if addresses.contains(&address) {
            return Err(item.error(format!("{address} is listed twice")));
        }
        addresses.push(address);
    }
    Ok(addresses)
}

/// `ADDR:PORT`, `[V6]:PORT`, or a bare `ADDR`/`[V6]` meaning port 179.
fn listen_address(field: &Field<'_>) -> Result<SocketAddr, ConfigError> {
    const FORMS: &str = "\"ADDR:PORT\", \"[IPV6]:PORT\" or a bare \"ADDR\" (port 179)";
    let text = field.str(&format!("a listen address: {FORMS}"))?;
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, BGP_PORT));
    }
    if let Ok(ip) = bare.parse::<Ipv6Addr>() {
        return Ok(SocketAddr::new(IpAddr::V6(ip), BGP_PORT));
    }
    Err(field.error(format!("{text:?} is not a listen address: write {FORMS}")))
}

fn originate(field: &Field<'_>) -> Result<Vec<IpNet>, ConfigError> {
    let mut prefixes: Vec<IpNet> = Vec::new();
    for item in field.array("a list of prefixes such as [\"10.1.0.0/24\"]")? {
        let prefix = prefix(&item)?;
        if prefixes.contains(&prefix) {
            return Err(item.error(format!("{prefix} is listed twice")));
        }
        prefixes.push(prefix);
    }
    Ok(prefixes)
}

/// A canonical prefix: `ADDR/LEN` with every host bit zero.
fn prefix(field: &Field<'_>) -> Result<IpNet, ConfigError> {
    let text = field.str("a prefix such as \"10.1.0.0/24\"")?;
    let prefix: IpNet = match text.parse() {
        Ok(prefix) => prefix,
        Err(_) => {
            let message = match text.split_once('/') {
                None => match text.parse::<IpAddr>() {
                    Ok(ip) => format!(
                        "{text:?} has no prefix length: write \"{}\" for a single address",
                        IpNet::from(ip)
                    ),
                    Err(_) => format!(
                        "{text:?} is not a prefix: expected ADDR/LEN such as \
                         \"10.1.0.0/24\" or \"2001:db8::/32\""
                    ),
                },
                Some((address, _)) => match address.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => {
                        format!("{text:?}: the prefix length of an IPv4 prefix must be 0..=32")
                    }
                    Ok(IpAddr::V6(_)) => {
                        format!("{text:?}: the prefix length of an IPv6 prefix must be 0..=128")
                    }
                    Err(_) => format!("{text:?} is not a prefix: {address:?} is not an IP address"),
                },
            };
            return Err(field.error(message));
        }
    };
    let canonical = prefix.trunc();
    if canonical != prefix {
        return Err(field.error(format!(
            "{text:?} has host bits set: the canonical form is \"{canonical}\""
        )));
    }
    Ok(prefix)
}

/// RFC 4271 §4.2: the hold time is zero or at least three seconds.
fn hold_time(field: &Field<'_>) -> Result<u16, ConfigError> {
    let seconds: u16 = field.int_in("a hold time in seconds", 0, 65535)?;
    if seconds == 1 || seconds == 2 {
        return Err(field.error(format!(
            "a hold time of {seconds} s is not allowed: use 0 (no keepalives) or \
             3..=65535 seconds (RFC 4271 §4.2)"
        )));
    }
    Ok(seconds)
}

// ---------------------------------------------------------------- [api], [fib]

fn api(table: &Table<'_>) -> Result<Api, ConfigError> {
    table.check_keys(API_KEYS)?;
    let socket = match table.get("socket") {
        None => PathBuf::from(DEFAULT_API_SOCKET),
        Some(field) => {
            let path = field.str("a socket path such as \"/run/clos/closd.sock\"")?;
            if path.is_empty() {
                return Err(field.error("the socket path is empty"));
            }
            PathBuf::from(path)
        }
    };
    let tcp = match (table.get("listen"), table.get("token-file")) {
        (None, None) => None,
        (None, Some(token_file)) => {
            return Err(token_file.error(
                "`token-file` has no effect without `listen`: the Unix socket needs no \
                 token (only its owner can open it)",
            ))
        }
        (Some(listen), None) => {
            return Err(listen.error(
                "the API on TCP needs `token-file` too: clients must present the token \
                 it holds (gRPC metadata `authorization: Bearer TOKEN`)",
            ))
        }
        (Some(listen), Some(token_file)) => {
            let listen = api_listen(&listen)?;
            let (token_file, token) = api_token(&token_file)?;
            Some(ApiTcp {
                listen,
                token_file,
                token,
            })
        }
    };
    Ok(Api { socket, tcp })
}

/// `ADDR:PORT` or `[IPV6]:PORT`, port required (there is no standard one).
fn api_listen(field: &Field<'_>) -> Result<SocketAddr, ConfigError> {
    const FORMS: &str = "\"ADDR:PORT\" such as \"127.0.0.1:50051\" or \"[::1]:50051\"";
    let text = field.str(&format!("an address and port: {FORMS}"))?;
    let address: SocketAddr = text.parse().map_err(|_| {
        field.error(format!(
            "{text:?} is not an address and port: write {FORMS}"
        ))
    })?;
    if address.port() == 0 {
        return Err(field.error(format!(
            "port 0 would pick a random port clients cannot know: write {FORMS}"
        )));
    }
    Ok(address)
}

/// Reads the API token from the file `field` names, now: the file must be
/// a regular file only its owner can read or write, holding one line of
/// at least `MIN_API_TOKEN_LEN` printable ASCII characters. Never a
/// FIFO or device (reading could block or never end).
fn api_token(field: &Field<'_>) -> Result<(PathBuf, Secret), ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    let text = field.str("a file path such as \"/etc/clos/api.token\"")?;
    if text.is_empty() {
        return Err(field.error("the token file path is empty"));
    }
    let path = PathBuf::from(text);
    let shown = path.display();
    let cannot_read = |e: std::io::Error| field.error(format!("cannot read {shown}: {e}"));
    let regular = |meta: &std::fs::Metadata| -> Result<(), ConfigError> {
        if meta.is_file() {
            Ok(())
        } else {
            Err(field.error(format!("{shown} is not a regular file")))
        }
    };
    regular(&std::fs::metadata(&path).map_err(cannot_read)?)?;
    let file = std::fs::File::open(&path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    regular(&meta)?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(field.error(format!(
            "{shown} is open to group or others (mode {mode:04o}); whoever reads the token \
             controls closd: run `chmod 600 {shown}`"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(field.error(format!(
            "{shown} is longer than {MAX_TOKEN_FILE} bytes: it must hold just the token"
        )));
    }
    let token = String::from_utf8_lossy(&bytes);
    let token = token.trim();
    let hint = "e.g. `head -c 32 /dev/urandom | base64 > FILE`";
    if token.is_empty() {
        return Err(field.error(format!(
            "{shown} is empty: write a random token to it, {hint}"
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field.error(format!(
            "the token in {shown} has spaces, control or non-ASCII characters: it travels \
             in an HTTP header, so use printable ASCII ({hint})"
        )));
    }
    if token.len() < MIN_API_TOKEN_LEN {
        return Err(field.error(format!(
            "the token in {shown} is {} characters long: use at least {MIN_API_TOKEN_LEN} \
             so it cannot be guessed ({hint})",
            token.len()
        )));
    }
    Ok((path, Secret::new(token)))
}

fn fib(table: &Table<'_>) -> Result<Fib, ConfigError> {
    table.check_keys(FIB_KEYS)?;
    let kernel = optional(table, "kernel", Field::bool)?.unwrap_or(false);
    let kernel_table = optional(table, "table", |field| {
        if field.as_int() == Some(0) {
            return Err(field.error(
                "0 is not a routing table (the kernel reads it as \"unspecified\"): \
                 use 1..=4294967295; the main table is 254",
            ));
        }
        field.int_in("a kernel routing table", 1, i128::from(u32::MAX))
    })?
    .unwrap_or(DEFAULT_FIB_TABLE);
    let protocol = optional(table, "protocol", |field| {
        if matches!(field.as_int(), Some(0..=4)) {
            return Err(field.error(
                "route protocols 0..=4 are the kernel's own (unspec, redirect, kernel, boot, \
                 static): use 5..=255; clos's is 201",
            ));
        }
        field.int_in("a route protocol number", 5, 255)
    })?
    .unwrap_or(DEFAULT_FIB_PROTOCOL);
    let stale_time = optional(table, "stale-time", |field| {
        field.int_in("seconds (0..=3600)", 0, 3600)
    })?
    .unwrap_or(DEFAULT_STALE_TIME);
    let initial_hold = optional(table, "initial-hold", |field| {
        field.int_in("seconds (0..=3600)", 0, 3600)
    })?
    .unwrap_or(DEFAULT_INITIAL_HOLD);
    Ok(Fib {
        kernel,
        table: kernel_table,
        protocol,
        stale_time,
        initial_hold,
    })
}

// ---------------------------------------------------------------- [[neighbor]]

/// One neighbour, and the field naming its peer (for duplicate errors).
fn neighbor<'a>(
    table: &Table<'a>,
    local_asn: u32,
    prefix_lists: &[&str],
) -> Result<(Neighbor, Field<'a>), ConfigError> {
    table.check_keys(NEIGHBOR_KEYS)?;
    let (peer, peer_field) = match (table.get("address"), table.get("interface")) {
        (Some(_), Some(interface)) => {
            return Err(interface.error(
                "`address` and `interface` are mutually exclusive: a neighbor is either \
                 numbered (address) or unnumbered (interface)",
            ))
        }
        (Some(address), None) => (PeerAddress::Address(peer_address(&address)?), address),
        (None, Some(interface)) => (
            PeerAddress::Interface(interface_name(&interface)?),
            interface,
        ),
        (None, None) => {
            return Err(
                table.error("a neighbor needs `address` (numbered) or `interface` (unnumbered)")
            )
        }
    };
    let remote_as = remote_as(&table.require("remote-as")?)?;
    let description = optional(table, "description", |f| {
        f.str("a string").map(str::to_string)
    })?;
    let port = optional(table, "port", |f| f.int_in("a TCP port", 1, 65535))?.unwrap_or(BGP_PORT);
    let local_address = optional(table, "local-address", |f| local_address(f, &peer))?;
    let passive = optional(table, "passive", Field::bool)?.unwrap_or(false);
    let families = match table.get("families") {
        Some(field) => families(&field)?,
        None => match &peer {
            PeerAddress::Address(IpAddr::V4(_)) => vec![Family::Ipv4Unicast],
            PeerAddress::Address(IpAddr::V6(_)) => vec![Family::Ipv6Unicast],
            PeerAddress::Interface(_) => Family::ALL.to_vec(),
        },
    };

    // RFC 8212: with no policy configured an eBGP session carries nothing.
    let default_policy = if remote_as.is_ebgp(local_asn) {
        Policy::Reject
    } else {
        Policy::Accept
    };
    let import = optional(table, "import", |f| policy(f, prefix_lists))?
        .unwrap_or_else(|| default_policy.clone());
    let export = optional(table, "export", |f| policy(f, prefix_lists))?.unwrap_or(default_policy);

    let hold_time = optional(table, "hold-time", hold_time)?;
    let max_prefix = max_prefix(table)?;
    let next_hop_self = optional(table, "next-hop-self", Field::bool)?.unwrap_or(false);
    let ebgp_multihop = optional(table, "ebgp-multihop", |f| {
        f.int_in("a TTL (1 = directly connected)", 1, 255)
    })?
    .unwrap_or(1);
    let bfd = bfd(table)?;
    let ttl_security = ttl_security(table, remote_as, local_asn, ebgp_multihop)?;
    let password = password(table, &peer)?;

    let neighbor = Neighbor {
        peer,
        remote_as,
        description,
        port,
        local_address,
        passive,
        families,
        import,
        export,
        hold_time,
        max_prefix,
        next_hop_self,
        ebgp_multihop,
        ttl_security,
        password,
        bfd,
    };
    Ok((neighbor, peer_field))
}

/// `ttl-security`: GTSM (RFC 5082) protects directly connected eBGP
/// sessions only: it accepts nothing that arrives with a TTL below 255.
fn ttl_security(
    table: &Table<'_>,
    remote_as: RemoteAs,
    local_asn: u32,
    ebgp_multihop: u8,
) -> Result<bool, ConfigError> {
    let Some(field) = table.get("ttl-security") else {
        return Ok(false);
    };
    if !field.bool()? {
        return Ok(false);
    }
    if !remote_as.is_ebgp(local_asn) {
        return Err(field.error(format!(
            "ttl-security is for eBGP sessions only, and remote-as = {remote_as} makes this \
             one iBGP: GTSM (RFC 5082) needs a directly connected peer"
        )));
    }
    if ebgp_multihop > 1 {
        let line = table.get("ebgp-multihop").map(|f| f.line()).unwrap_or(0);
        return Err(field.error(format!(
            "ttl-security accepts only packets that arrive with TTL 255, i.e. from a directly \
             connected peer, so it cannot be combined with ebgp-multihop = {ebgp_multihop} \
             (line {line}): remove one of them"
        )));
    }
    Ok(true)
}

/// `password`: the TCP MD5 signature key (RFC 2385) of the session.
fn password(table: &Table<'_>, peer: &PeerAddress) -> Result<Option<Secret>, ConfigError> {
    let Some(field) = table.get("password") else {
        return Ok(None);
    };
    // The messages never repeat the password, not even a mistyped one.
    let Some(text) = field.as_str() else {
        return Err(field.error("expected a password (1..=80 bytes) as a quoted string"));
    };
    if text.is_empty() {
        return Err(field.error(
            "the password is empty: a TCP MD5 key (RFC 2385) is 1..=80 bytes; remove \
             `password` for a session without signatures",
        ));
    }
    if text.len() > MAX_PASSWORD_LEN {
        return Err(field.error(format!(
            "the password is {} bytes long: Linux takes TCP MD5 keys of at most \
             {MAX_PASSWORD_LEN} bytes",
            text.len()
        )));
    }
    if let PeerAddress::Interface(name) = peer {
        return Err(field.error(format!(
            "password is not supported with interface (BGP unnumbered on {name:?}): the \
             key is bound to the peer's address, which is only discovered at run time; \
             configure the neighbor by `address` to use a password"
        )));
    }
    Ok(Some(Secret::new(text)))
}

/// `bfd`, `bfd-interval`, `bfd-multiplier`: BFD (RFC 5880) for the session.
fn bfd(table: &Table<'_>) -> Result<Option<Bfd>, ConfigError> {
    let enabled = optional(table, "bfd", Field::bool)?;
    let interval = optional(table, "bfd-interval", |f| {
        f.int_in("milliseconds (10..=10000)", 10, 10_000)
    })?;
    let multiplier = optional(table, "bfd-multiplier", |f| {
        f.int_in("a count (1..=255)", 1, 255)
    })?;
    if enabled != Some(true) {
        for (key, set) in [
            ("bfd-interval", interval.is_some()),
            ("bfd-multiplier", multiplier.is_some()),
        ] {
            if set {
                if let Some(field) = table.get(key) {
                    return Err(field.error("set `bfd = true` too, or remove this key"));
                }
            }
        }
        return Ok(None);
    }
    Ok(Some(Bfd {
        interval_ms: interval.unwrap_or(DEFAULT_BFD_INTERVAL_MS),
        multiplier: multiplier.unwrap_or(DEFAULT_BFD_MULTIPLIER),
    }))
}

fn peer_address(field: &Field<'_>) -> Result<IpAddr, ConfigError> {
    let text = field.str("an IP address such as \"192.0.2.1\" or \"2001:db8::1\"")?;
    let Ok(address) = text.parse::<IpAddr>() else {
        let hint = if text.contains('%') {
            ": zone indexes are not supported; for a link-local peer write \
             `interface = \"NAME\"` instead"
        } else if text.contains('/') {
            ": write the address without a prefix length"
        } else {
            ""
        };
        return Err(field.error(format!("{text:?} is not an IP address{hint}")));
    };
    if address.is_unspecified() || address.is_multicast() || address == Ipv4Addr::BROADCAST {
        return Err(field.error(format!(
            "{address} cannot be a neighbor address: use the peer's unicast address"
        )));
    }
    Ok(address)
}

fn interface_name(field: &Field<'_>) -> Result<String, ConfigError> {
    let name = field.str("an interface name such as \"eth1\"")?;
    if name.is_empty() {
        return Err(field.error("the interface name is empty"));
    }
    if name.len() > MAX_INTERFACE_NAME {
        return Err(field.error(format!(
            "{name:?} is longer than {MAX_INTERFACE_NAME} bytes, the longest Linux interface name"
        )));
    }
    if name.chars().any(|c| c == '/' || c.is_whitespace()) || name == "." || name == ".." {
        return Err(field.error(format!(
            "{name:?} is not a valid interface name (no '/', no spaces)"
        )));
    }
    Ok(name.to_string())
}

fn remote_as(field: &Field<'_>) -> Result<RemoteAs, ConfigError> {
    match field.as_str() {
        Some("external") => Ok(RemoteAs::External),
        Some("internal") => Ok(RemoteAs::Internal),
        Some(_) => Err(field.expected("an AS number or \"external\"/\"internal\"")),
        None if field.is_int() => asn(field).map(RemoteAs::Asn),
        None => Err(field.expected("an AS number or \"external\"/\"internal\"")),
    }
}

fn local_address(field: &Field<'_>, peer: &PeerAddress) -> Result<IpAddr, ConfigError> {
    let text = field.str("an IP address of this router")?;
    let address: IpAddr = text
        .parse()
        .map_err(|_| field.error(format!("{text:?} is not an IP address")))?;
    if let PeerAddress::Address(remote) = peer {
        if remote.is_ipv4() != address.is_ipv4() {
            let family = |ip: &IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" };
            return Err(field.error(format!(
                "{address} is {} but the neighbor address {remote} is {}: \
                 a session has one address family",
                family(&address),
                family(remote)
            )));
        }
    }
    Ok(address)
}

fn families(field: &Field<'_>) -> Result<Vec<Family>, ConfigError> {
    let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
    let expected = names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let items = field.array(&format!("a list of address families ({expected})"))?;
    if items.is_empty() {
        return Err(field.error(format!(
            "the session must carry at least one address family: {expected}"
        )));
    }
    let mut families: Vec<Family> = Vec::new();
    for item in items {
        let name = item.str(&format!("an address family ({expected})"))?;
        let Some(family) = Family::ALL.into_iter().find(|f| f.name() == name) else {
            let hint = match did_you_mean(name, &names) {
                Some(candidate) => format!(" (did you mean {candidate:?}?)"),
                None => String::new(),
            };
            return Err(item.error(format!(
                "unknown address family {name:?}{hint}; expected one of {expected}"
            )));
        };
        if families.contains(&family) {
            return Err(item.error(format!("{name:?} is listed twice")));
        }
        families.push(family);
    }
    Ok(families)
}

fn policy(field: &Field<'_>, prefix_lists: &[&str]) -> Result<Policy, ConfigError> {
    let name = field.str("\"accept\", \"reject\" or the name of a [[prefix-list]]")?;
    match name {
        "accept" => return Ok(Policy::Accept),
        "reject" => return Ok(Policy::Reject),
        _ => {}
    }
    if prefix_lists.contains(&name) {
        return Ok(Policy::PrefixList(name.to_string()));
    }
    let mut candidates = vec!["accept", "reject"];
    candidates.extend_from_slice(prefix_lists);
    let hint = match did_you_mean(name, &candidates) {
        Some(candidate) => format!(" (did you mean {candidate:?}?)"),
        None => String::new(),
    };
    Err(field.error(format!(
        "no [[prefix-list]] named {name:?}{hint}; expected \"accept\", \"reject\" \
         or the name of a [[prefix-list]]"
    )))
}

/// `max-prefix` and the two keys that only mean something with it.
fn max_prefix(table: &Table<'_>) -> Result<Option<MaxPrefix>, ConfigError> {
    let limit = optional(table, "max-prefix", |f| {
        f.int_in("a prefix limit", 1, i128::from(u64::MAX))
    })?;
    let action = optional(table, "max-prefix-action", |f| {
        match f.str("\"teardown\" or \"warning\"")? {
            "teardown" => Ok(MaxPrefixAction::Teardown),
            "warning" => Ok(MaxPrefixAction::Warning),
            _ => Err(f.expected("\"teardown\" or \"warning\"")),
        }
    })?;
    let restart = optional(table, "max-prefix-restart", |f| {
        f.int_in("a restart delay in seconds", 1, 65535)
    })?;
    let Some(limit) = limit else {
        for key in ["max-prefix-action", "max-prefix-restart"] {
            if let Some(field) = table.get(key) {
                return Err(field.error(format!("`{key}` has no effect without `max-prefix`")));
            }
        }
        return Ok(None);
    };
    let action = action.unwrap_or(MaxPrefixAction::Teardown);
    if action == MaxPrefixAction::Warning && restart.is_some() {
        if let Some(field) = table.get("max-prefix-restart") {
            return Err(field.error(
                "`max-prefix-restart` has no effect with max-prefix-action = \"warning\", \
                 which never tears the session down",
            ));
        }
    }
    Ok(Some(MaxPrefix {
        limit,
        action,
        restart,
    }))
}

// ---------------------------------------------------------------- [[prefix-list]]

/// One prefix list, and the field holding its name (for duplicate errors).
fn prefix_list<'a>(table: &Table<'a>) -> Result<(PrefixList, Field<'a>), ConfigError> {
    table.check_keys(PREFIX_LIST_KEYS)?;
    let name_field = table.require("name")?;
    let name = name_field.str("a name such as \"customers\"")?;
    if name.is_empty() {
        return Err(name_field.error("the prefix-list name is empty"));
    }
    if name == "accept" || name == "reject" {
        return Err(name_field.error(format!(
            "{name:?} is a policy keyword and cannot name a prefix-list"
        )));
    }
    let entries_field = table.require("entries")?;
    let mut entries = Vec::new();
    let items = entries_field.array(
        "a list of entries such as [{ action = \"permit\", prefix = \"10.0.0.0/8\", le = 24 }]",
    )?;
    for item in items {
        entries.push(prefix_list_entry(&item.table("a prefix-list entry")?)?);
    }
    let list = PrefixList {
        name: name.to_string(),
        entries,
    };
    Ok((list, name_field))
}

fn prefix_list_entry(table: &Table<'_>) -> Result<PrefixListEntry, ConfigError> {
    table.check_keys(ENTRY_KEYS)?;
    let action = optional(table, "action", |f| {
        match f.str("\"permit\" or \"deny\"")? {
            "permit" => Ok(Action::Permit),
            "deny" => Ok(Action::Deny),
            _ => Err(f.expected("\"permit\" or \"deny\"")),
        }
    })?
    .unwrap_or(Action::Permit);
    let prefix = prefix(&table.require("prefix")?)?;
    let own = prefix.prefix_len();
    let longest = prefix.max_prefix_len();
    let family = if longest == 32 { "IPv4" } else { "IPv6" };

    // Each bound alone: within own..=longest.
    let bound = |key: &str| -> Result<Option<(u8, Field<'_>)>, ConfigError> {
        let Some(field) = table.get(key) else {
            return Ok(None);
        };
        let length: u8 = field.int_in("a prefix length", 0, 128)?;
        if length > longest {
            return Err(field.error(format!(
                "{key} {length} is longer than {longest}, the longest {family} prefix"
            )));
        }
        if length < own {
            return Err(field.error(format!(
                "{key} {length} is shorter than the length of {prefix} itself: \
                 {key} must be {own}..={longest}"
            )));
        }
        Ok(Some((length, field)))
    };
    let ge = bound("ge")?;
    let le = bound("le")?;
    if let (Some((ge, ge_field)), Some((le, _))) = (&ge, &le) {
        if ge > le {
            return Err(ge_field.error(format!(
                "ge {ge} is greater than le {le}: no prefix length can match; \
                 ge must be {own}..={le}"
            )));
        }
    }
    Ok(PrefixListEntry {
        action,
        prefix,
        ge: ge.map(|(length, _)| length),
        le: le.map(|(length, _)| length),
    })
}
