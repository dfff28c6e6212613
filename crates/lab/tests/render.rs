//! What the lab writes for other programs: per-switch closd configs that
//! closd's own parser (clos-config) loads, the `render` command's output
//! directory, and a containerlab topology that a YAML parser reads back
//! with the expected nodes and links. No root needed.

use std::collections::BTreeSet;
use std::path::Path;

use clos_config::{Config, PeerAddress, RemoteAs};
use clos_lab::containerlab::{self, Images};
use clos_lab::intent::Intent;
use clos_lab::plan::Fabric;
use clos_lab::render::closd_config;

fn load_all(intent: &Intent) -> Vec<(String, Config)> {
    let fabric = Fabric::new(intent);
    fabric
        .switches()
        .map(|switch| {
            let socket = format!("/run/clos-lab/clos/{}/closd.sock", switch.name);
            let text = closd_config(&fabric, switch, Path::new(&socket));
            let origin = format!("{}.toml", switch.name);
            match Config::from_str(&text, &origin) {
                Ok(config) => (switch.name.clone(), config),
                Err(error) => panic!("clos-config refuses the rendered {origin}: {error}\n{text}"),
            }
        })
        .collect()
}

#[test]
fn rendered_configs_load_with_clos_config() {
    let intent = Intent::from_str(
        "[addressing]\nhosts-v6 = \"2001:db8:1::/48\"\n[bfd]\nenabled = false\n",
        "dc1.toml",
    )
    .unwrap();
    let configs = load_all(&intent);
    assert_eq!(configs.len(), 6);
    for (name, config) in &configs {
        let spine = name.starts_with("spine");
        assert_eq!(
            config.router.asn,
            if spine {
                65000
            } else {
                65001 + name[4..].parse::<u32>().unwrap() - 1
            }
        );
        assert_eq!(config.router.hold_time, 9);
        assert_eq!(config.router.multipath, 8);
        assert!(config.router.multipath_relax);
        assert!(config.fib.kernel);
        assert_eq!(config.fib.table, 254);
        assert_eq!(
            config.api.socket,
            Path::new(&format!("/run/clos-lab/clos/{name}/closd.sock"))
        );
        assert_eq!(config.neighbors.len(), if spine { 4 } else { 2 });
        for (i, neighbor) in config.neighbors.iter().enumerate() {
            assert_eq!(
                neighbor.peer,
                PeerAddress::Interface(format!("eth{}", i + 1))
            );
            assert_eq!(neighbor.remote_as, RemoteAs::External);
            assert_eq!(neighbor.families.len(), 2);
            assert!(neighbor.bfd.is_none());
        }
    }
    let leaf2 = &configs.iter().find(|(n, _)| n == "leaf2").unwrap().1;
    let originate: BTreeSet<String> = leaf2
        .router
        .originate
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        originate,
        ["10.1.2.0/24", "10.255.0.4/32", "2001:db8:1:2::/64"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(leaf2.router.router_id.to_string(), "10.255.0.4");
}

/// The BFD keys (`bfd`, `bfd-interval`, `bfd-multiplier`) are rendered for
/// closd's neighbors; this passes only when clos-config accepts them.
#[test]
fn rendered_bfd_keys_load_with_clos_config() {
    let intent =
        Intent::from_str("[bfd]\ninterval-ms = 100\nmultiplier = 5\n", "dc1.toml").unwrap();
    for (name, config) in load_all(&intent) {
        for neighbor in &config.neighbors {
            let bfd = neighbor
                .bfd
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: BFD not enabled on {:?}", neighbor.peer));
            assert_eq!(u32::from(bfd.interval_ms), 100);
            assert_eq!(u32::from(bfd.multiplier), 5);
        }
    }
}

#[test]
fn render_writes_one_config_per_switch_and_nothing_else() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("configs");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_clos-lab"))
        .args(["--prefix", "rq", "render", "--out"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "leaf1.toml",
            "leaf2.toml",
            "leaf3.toml",
            "leaf4.toml",
            "spine1.toml",
            "spine2.toml"
        ]
    );
    let config = Config::from_file(&dir.join("leaf4.toml")).unwrap();
    assert_eq!(
        config.api.socket,
        Path::new("/run/clos-lab/rq/leaf4/closd.sock")
    );

    // A bad intent file: exit 1 with file:line:key on stderr.
    let intent = out.path().join("bad.toml");
    std::fs::write(&intent, "[fabric]\nspines = 99\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clos-lab"))
        .args(["render", "--out"])
        .arg(out.path().join("never"))
        .arg(&intent)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:2: fabric.spines: ", intent.display())),
        "{stderr}"
    );
    assert!(!out.path().join("never").exists());
}

#[test]
fn containerlab_export_is_yaml_with_every_node_and_link() {
    let fabric = Fabric::new(&Intent::default_fabric());
    let images = Images {
        switch: "clos:test".into(),
        host: "alpine:3".into(),
    };
    let text = containerlab::topology(&fabric, &images, "dc1-configs");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("valid YAML");
    assert_eq!(yaml["name"].as_str(), Some("dc1"));
    let nodes = yaml["topology"]["nodes"].as_mapping().expect("nodes");
    let names: BTreeSet<&str> = nodes.keys().filter_map(|k| k.as_str()).collect();
    let expected: BTreeSet<&str> = [
        "spine1", "spine2", "leaf1", "leaf2", "leaf3", "leaf4", "host1-1", "host2-1", "host3-1",
        "host4-1",
    ]
    .into_iter()
    .collect();
    assert_eq!(names, expected);
    for (name, node) in nodes {
        let name = name.as_str().unwrap();
        assert_eq!(node["kind"].as_str(), Some("linux"), "{name}");
        if name.starts_with("host") {
            assert_eq!(node["image"].as_str(), Some("alpine:3"));
            let exec: Vec<&str> = node["exec"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert!(
                exec.iter().any(|c| c.starts_with("ip address add 10.1.")),
                "{exec:?}"
            );
        } else {
            assert_eq!(node["image"].as_str(), Some("clos:test"));
            assert_eq!(
                node["binds"][0].as_str(),
                Some(format!("dc1-configs/{name}.toml:/etc/clos/closd.toml:ro").as_str())
            );
            assert_eq!(node["cmd"].as_str(), Some("closd -c /etc/clos/closd.toml"));
        }
    }
    let links: Vec<(String, String)> = yaml["topology"]["links"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| {
            let e = l["endpoints"].as_sequence().unwrap();
            (
                e[0].as_str().unwrap().to_string(),
                e[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(links.len(), 8 + 4);
    assert!(links.contains(&("spine1:eth1".into(), "leaf1:eth1".into())));
    assert!(links.contains(&("spine2:eth3".into(), "leaf3:eth2".into())));
    assert!(links.contains(&("leaf4:host1".into(), "host4-1:eth1".into())));
}

#[test]
fn export_writes_the_topology_and_configs_beside_it() {
    let out = tempfile::tempdir().unwrap();
    let topology = out.path().join("dc1.clab.yml");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_clos-lab"))
        .args(["export", "--containerlab"])
        .arg(&topology)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&topology).unwrap();
    let _: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let config = Config::from_file(&out.path().join("dc1-configs/spine1.toml")).unwrap();
    assert_eq!(config.api.socket, Path::new(containerlab::SOCKET_PATH));
    assert_eq!(config.neighbors.len(), 4);
}
