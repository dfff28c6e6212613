//! Runs the real `closctl` binary against a fake closd: a canned `Clos`
//! service served with `clos_api::serve` on a temporary socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use clos_api::pb::{self, clos_server::Clos};
use tonic::{Request, Response, Status};

/// A daemon with one neighbor, two prefixes and a record of what was
/// originated, so add/del answer `changed` like closd would.
#[derive(Default)]
struct FakeClos {
    originated: Mutex<Vec<String>>,
}

fn spine1() -> pb::NeighborSummary {
    pb::NeighborSummary {
        address: "10.0.0.2".into(),
        remote_as: 65001,
        state: "Established".into(),
        uptime_seconds: 192,
        prefixes_received: 2,
        prefixes_accepted: 2,
        prefixes_advertised: 1,
        messages_received: 40,
        messages_sent: 38,
        description: "spine1".into(),
        last_error: String::new(),
    }
}

fn all_routes() -> Vec<pb::Route> {
    vec![
        pb::Route {
            prefix: "10.1.0.0/24".into(),
            best: true,
            next_hop: "10.0.0.2".into(),
            peer: "10.0.0.2".into(),
            peer_asn: 65001,
            as_path: "65001".into(),
            origin: "igp".into(),
            family: "ipv4-unicast".into(),
            ..Default::default()
        },
        pb::Route {
            prefix: "10.1.0.0/24".into(),
            next_hop: "10.0.0.3".into(),
            peer: "10.0.0.3".into(),
            peer_asn: 65002,
            as_path: "65002 65003".into(),
            origin: "igp".into(),
            reason: "as-path length".into(),
            family: "ipv4-unicast".into(),
            ..Default::default()
        },
        pb::Route {
            prefix: "2001:db8:1::/48".into(),
            best: true,
            next_hop: "::".into(),
            peer: "local".into(),
            origin: "igp".into(),
            family: "ipv6-unicast".into(),
            ..Default::default()
        },
    ]
}

#[tonic::async_trait]
impl Clos for FakeClos {
    async fn get_summary(
        &self,
        _: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        Ok(Response::new(pb::Summary {
            asn: 65000,
            router_id: "10.0.0.1".into(),
            loc_rib_prefixes: 2,
            loc_rib_paths: 3,
            neighbors: vec![spine1()],
        }))
    }

    async fn get_neighbor(
        &self,
        request: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::NeighborDetail>, Status> {
        let address = request.into_inner().address;
        if address != "10.0.0.2" {
            return Err(Status::not_found(format!("no neighbor {address}")));
        }
        Ok(Response::new(pb::NeighborDetail {
            summary: Some(spine1()),
            local_address: "10.0.0.1".into(),
            local_port: 179,
            remote_port: 40312,
            remote_router_id: "10.0.0.2".into(),
            hold_time: 90,
            keepalive_time: 30,
            configured_hold_time: 90,
            families: vec!["ipv4-unicast".into()],
            peer_type: "external".into(),
            import_policy: "accept".into(),
            export_policy: "accept".into(),
            ..Default::default()
        }))
    }

    async fn list_routes(
        &self,
        request: Request<pb::RoutesRequest>,
    ) -> Result<Response<pb::RouteList>, Status> {
        let request = request.into_inner();
        let routes = all_routes()
            .into_iter()
            .filter(|route| request.family.is_empty() || route.family.starts_with(&request.family))
            .filter(|route| request.prefix.is_empty() || route.prefix == request.prefix)
            .collect();
        Ok(Response::new(pb::RouteList { routes }))
    }

    async fn add_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        let prefix = request.into_inner().prefix;
        let mut originated = self
            .originated
            .lock()
            .map_err(|_| Status::internal("poisoned"))?;
        let changed = !originated.contains(&prefix);
        if changed {
            originated.push(prefix);
        }
        Ok(Response::new(pb::OriginateReply { changed }))
    }

    async fn delete_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        let prefix = request.into_inner().prefix;
        let mut originated = self
            .originated
            .lock()
            .map_err(|_| Status::internal("poisoned"))?;
        let before = originated.len();
        originated.retain(|p| *p != prefix);
        Ok(Response::new(pb::OriginateReply {
            changed: originated.len() != before,
        }))
    }

    async fn refresh_neighbor(
        &self,
        request: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::RefreshReply>, Status> {
        match request.into_inner().address.as_str() {
            "10.0.0.2" => Ok(Response::new(pb::RefreshReply {
                families: vec!["ipv4-unicast".into()],
            })),
            other => Err(Status::not_found(format!("no neighbor {other}"))),
        }
    }

    async fn get_kernel_fib(
        &self,
        request: Request<pb::KernelFibRequest>,
    ) -> Result<Response<pb::KernelFib>, Status> {
        let request = request.into_inner();
        let routes = if request.routes {
            vec![pb::KernelRoute {
                prefix: "10.1.0.0/24".into(),
                paths: vec![
                    pb::KernelPath {
                        gateway: "fe80::1".into(),
                        interface: "eth1".into(),
                    },
                    pb::KernelPath {
                        gateway: "fe80::2".into(),
                        interface: "eth2".into(),
                    },
                ],
            }]
        } else {
            vec![]
        };
        Ok(Response::new(pb::KernelFib {
            enabled: true,
            table: 254,
            protocol: 201,
            installed: 1,
            nexthop_objects: 2,
            nexthop_groups: 1,
            wanted: 2,
            unresolved: 0,
            failed: 1,
            memory_bytes: 4096,
            next_hops: vec![pb::KernelNextHop {
                address: "fe80::1".into(),
                interface: "eth1".into(),
                resolved: true,
                via: "fe80::1".into(),
                via_interface: "eth1".into(),
                routes: 1,
            }],
            failures: vec![pb::KernelFailure {
                prefix: "10.9.0.0/24".into(),
                error: "kernel refused route add: File exists (os error 17)".into(),
            }],
            routes,
            ..Default::default()
        }))
    }
}

/// A fake closd on its own thread and runtime, stopped on drop.
struct Daemon {
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("closd.sock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = socket.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime
                .block_on(clos_api::serve(&path, FakeClos::default(), async {
                    let _ = stopped.await;
                }))
                .expect("fake closd serves");
        });
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon {
            socket,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn closctl(&self, args: &[&str]) -> Output {
        closctl_at(&self.socket, args)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn closctl_at(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_closctl"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env_remove("CLOSCTL_SOCKET")
        .output()
        .expect("closctl runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "closctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Exit code 1 and exactly one line on stderr; returns that line.
fn failure(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8 output");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_string()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).expect("valid JSON")
}

#[test]
fn bgp_summary() {
    let daemon = Daemon::start();
    let text = stdout(&daemon.closctl(&["bgp", "summary"]));
    assert_eq!(
        text,
        "\
BGP router identifier 10.0.0.1, local AS number 65000
Loc-RIB: 2 prefixes, 3 paths

Neighbor     AS  State         Up/Down  PfxRcd  PfxAcc  PfxSnt  MsgRcvd  MsgSent  Description
10.0.0.2  65001  Established  00:03:12       2       2       1       40       38  spine1

Total number of neighbors 1
"
    );

    let value = json(&daemon.closctl(&["bgp", "summary", "--json"]));
    assert_eq!(value["asn"], 65000);
    assert_eq!(value["neighbors"][0]["prefixes_received"], 2);
    assert_eq!(value["neighbors"][0]["last_error"], "");
    // --json is also accepted before the command.
    let value = json(&daemon.closctl(&["--json", "bgp", "summary"]));
    assert_eq!(value["router_id"], "10.0.0.1");
}

#[test]
fn bgp_neighbor() {
    let daemon = Daemon::start();
    let text = stdout(&daemon.closctl(&["bgp", "neighbor", "10.0.0.2"]));
    assert!(
        text.starts_with("BGP neighbor is 10.0.0.2, remote AS 65001, external link\n"),
        "{text}"
    );
    assert!(
        text.contains("  BGP state = Established, for 00:03:12\n"),
        "{text}"
    );
    assert!(
        text.contains("  Hold time 90 s (configured 90 s)"),
        "{text}"
    );

    let value = json(&daemon.closctl(&["bgp", "neighbor", "10.0.0.2", "--json"]));
    assert_eq!(value["summary"]["address"], "10.0.0.2");
    assert_eq!(value["hold_time"], 90);
    assert_eq!(value["max_prefix"], 0);

    let missing = failure(&daemon.closctl(&["bgp", "neighbor", "10.0.0.9"]));
    assert_eq!(missing, "error: no neighbor 10.0.0.9");
}

#[test]
fn bgp_routes() {
    let daemon = Daemon::start();
    let text = stdout(&daemon.closctl(&["bgp", "routes"]));
    assert_eq!(
        text,
        "\
Status codes: * valid, > best, = multipath
Origin codes: i - IGP, e - EGP, ? - incomplete

    Network          Next Hop  MED  LocPrf  Path           Peer
*>  10.1.0.0/24      10.0.0.2               65001 i        10.0.0.2
*                    10.0.0.3               65002 65003 i  10.0.0.3
*>  2001:db8:1::/48  ::                     i              local

Displayed 2 prefixes, 3 paths
"
    );

    let value = json(&daemon.closctl(&["bgp", "routes", "--family", "ipv6", "--json"]));
    let routes = value["routes"].as_array().expect("routes array");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["prefix"], "2001:db8:1::/48");
    assert_eq!(routes[0]["communities"], serde_json::json!([]));

    let one = stdout(&daemon.closctl(&["bgp", "routes", "--prefix", "10.1.0.0/24"]));
    assert!(one.contains("Displayed 1 prefixes, 2 paths"), "{one}");
}

#[test]
fn bad_arguments_are_rejected_before_connecting() {
    // No daemon at this socket: the errors below must come from local checks.
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("none.sock");
    assert_eq!(
        failure(&closctl_at(&socket, &["bgp", "routes", "--family", "ipv5"])),
        "error: invalid --family 'ipv5': expected ipv4 or ipv6"
    );
    assert_eq!(
        failure(&closctl_at(
            &socket,
            &["bgp", "originate", "add", "10.1.0.1/24"]
        )),
        "error: invalid prefix 10.1.0.1/24: host bits are set; the canonical form is 10.1.0.0/24"
    );
    let garbage = failure(&closctl_at(&socket, &["bgp", "originate", "del", "10.1/x"]));
    assert!(
        garbage.starts_with("error: invalid prefix '10.1/x'"),
        "{garbage}"
    );
}

#[test]
fn bgp_originate() {
    let daemon = Daemon::start();
    let run = |args: &[&str]| stdout(&daemon.closctl(args));
    assert_eq!(
        run(&["bgp", "originate", "add", "10.9.0.0/24"]),
        "originating 10.9.0.0/24\n"
    );
    assert_eq!(
        run(&["bgp", "originate", "add", "10.9.0.0/24"]),
        "already originating 10.9.0.0/24\n"
    );
    assert_eq!(
        run(&["bgp", "originate", "del", "10.9.0.0/24"]),
        "no longer originating 10.9.0.0/24\n"
    );
    assert_eq!(
        run(&["bgp", "originate", "del", "10.9.0.0/24"]),
        "was not originating 10.9.0.0/24\n"
    );
    let value = json(&daemon.closctl(&["bgp", "originate", "add", "2001:DB8:9::/48", "--json"]));
    assert_eq!(value, serde_json::json!({ "changed": true }));
    // The canonical (lower-case) form reached the daemon.
    assert_eq!(
        run(&["bgp", "originate", "add", "2001:db8:9::/48"]),
        "already originating 2001:db8:9::/48\n"
    );
}

#[test]
fn fib_kernel() {
    let daemon = Daemon::start();
    let text = stdout(&daemon.closctl(&["fib", "kernel"]));
    assert!(
        text.starts_with("Kernel FIB: table 254, protocol 201 (clos)\n"),
        "{text}"
    );
    assert!(
        text.contains("1 installed, 2 wanted, 0 unresolved, 1 refused"),
        "{text}"
    );
    assert!(
        text.contains("10.9.0.0/24  kernel refused route add: File exists (os error 17)"),
        "{text}"
    );
    assert!(
        text.contains("10.1.0.0/24  fe80::1 dev eth1, fe80::2 dev eth2"),
        "{text}"
    );
    // --summary leaves the route list out (the daemon is not asked for it).
    let text = stdout(&daemon.closctl(&["fib", "kernel", "--summary"]));
    assert!(!text.contains("Installed routes"), "{text}");
    assert!(text.contains("Refused by the kernel"), "{text}");
    let value = json(&daemon.closctl(&["fib", "kernel", "--json"]));
    assert_eq!(value["failures"][0]["prefix"], "10.9.0.0/24");
    assert_eq!(value["routes"][0]["paths"][1]["interface"], "eth2");
    assert_eq!(value["nexthop_groups"], 1);
    assert!(
        failure(&daemon.closctl(&["fib", "kernel", "--prefix", "10.1.0.0/33"]))
            .starts_with("error: invalid prefix '10.1.0.0/33'")
    );
}

#[test]
fn bgp_refresh() {
    let daemon = Daemon::start();
    assert_eq!(
        stdout(&daemon.closctl(&["bgp", "refresh", "10.0.0.2"])),
        "asked 10.0.0.2 to resend its routes (ipv4-unicast)\n"
    );
    let value = json(&daemon.closctl(&["bgp", "refresh", "10.0.0.2", "--json"]));
    assert_eq!(value, serde_json::json!({ "families": ["ipv4-unicast"] }));
    assert_eq!(
        failure(&daemon.closctl(&["bgp", "refresh", "10.0.0.9"])),
        "error: no neighbor 10.0.0.9"
    );
}

#[test]
fn no_daemon_gives_the_connect_hint() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("closd.sock");
    assert_eq!(
        failure(&closctl_at(&socket, &["bgp", "summary"])),
        format!(
            "error: cannot connect to closd at {}: No such file or directory — is closd running? (--socket PATH)",
            socket.display()
        )
    );
}

#[test]
fn socket_comes_from_the_environment() {
    let daemon = Daemon::start();
    let output = Command::new(env!("CARGO_BIN_EXE_closctl"))
        .args(["bgp", "summary", "--json"])
        .env("CLOSCTL_SOCKET", &daemon.socket)
        .output()
        .expect("closctl runs");
    assert_eq!(json(&output)["asn"], 65000);
}
