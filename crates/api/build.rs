//! Generates the gRPC types and stubs for `proto/clos.proto`.
//!
//! The proto file is parsed by `protox`, a pure-Rust protobuf compiler,
//! instead of `protoc`: a fresh machine (or CI) has no `protoc` unless a
//! system package is installed, and `protoc-bin-vendored` executes a
//! prebuilt binary that exists only for some host platforms. `protox` comes
//! from crates.io like every other dependency, builds anywhere `rustc` does,
//! and produces the same `FileDescriptorSet` that `tonic-prost-build` turns
//! into Rust.
//!
//! Every generated message derives `serde::Serialize`: prost names struct
//! fields after the proto fields (snake_case), so the CLI's `--json` output
//! uses the proto field names as keys, with every field present.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/clos.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .type_attribute(".", "#[derive(serde::Serialize)]")
        // A message field is an `Option` in prost; JSON must still show
        // every key of the nested message, so an absent summary prints as
        // a default one rather than `null`.
        .field_attribute(
            ".clos.v1.NeighborDetail.summary",
            "#[serde(serialize_with = \"crate::json::some_or_default\")]",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
