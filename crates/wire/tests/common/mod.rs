//! Helpers shared by the integration tests.
#![allow(dead_code)]

use clos_wire::*;

pub const FOUR: SessionCodec = SessionCodec {
    four_octet_as: true,
    extended_message: false,
    extended_next_hop_ipv4: false,
};
pub const TWO: SessionCodec = SessionCodec {
    four_octet_as: false,
    extended_message: false,
    extended_next_hop_ipv4: false,
};

/// A whole message: marker, length computed from `body`, type.
pub fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// An UPDATE from its withdrawn, attribute and NLRI fields.
pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    msg(2, &body)
}

pub fn decode_update(bytes: &[u8], codec: &SessionCodec) -> (Update, Vec<UpdateIssue>) {
    let d = decode_message(bytes, codec).expect("decodes");
    match d.message {
        Message::Update(u) => (u, d.issues),
        other => panic!("not an UPDATE: {other:?}"),
    }
}

pub fn encode(m: &Message, codec: &SessionCodec) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message(m, codec, &mut out).expect("encodes");
    out
}

pub fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn net4(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

/// With `CLOS_WRITE_CORPUS=1`, save `bytes` as a fuzz seed for the
/// decode_message and roundtrip targets (fuzz/corpus/).
pub fn seed(name: &str, bytes: &[u8]) {
    if std::env::var_os("CLOS_WRITE_CORPUS").is_none() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for target in ["decode_message", "roundtrip"] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
