//! The Unix-socket transport end to end: a fake daemon served with
//! `clos_api::serve`, reached with `clos_api::connect`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clos_api::pb::{self, clos_server::Clos};
use clos_api::{connect, serve, ApiError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

/// A daemon with canned answers that echo the request, so each RPC's
/// arguments are seen to arrive.
struct FakeClos;

#[tonic::async_trait]
impl Clos for FakeClos {
    async fn get_summary(
        &self,
        _: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        Ok(Response::new(pb::Summary {
            asn: 65000,
            router_id: "10.0.0.1".into(),
            loc_rib_prefixes: 1,
            loc_rib_paths: 2,
            neighbors: vec![pb::NeighborSummary {
                address: "10.0.0.2".into(),
                remote_as: 65001,
                state: "Established".into(),
                ..Default::default()
            }],
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
            summary: Some(pb::NeighborSummary {
                address,
                ..Default::default()
            }),
            hold_time: 90,
            ..Default::default()
        }))
    }

    async fn list_routes(
        &self,
        request: Request<pb::RoutesRequest>,
    ) -> Result<Response<pb::RouteList>, Status> {
        let request = request.into_inner();
        Ok(Response::new(pb::RouteList {
            routes: vec![pb::Route {
                prefix: request.prefix,
                family: request.family,
                best: true,
                ..Default::default()
            }],
        }))
    }

    async fn add_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        Ok(Response::new(pb::OriginateReply {
            changed: request.into_inner().prefix == "10.9.0.0/24",
        }))
    }

    async fn delete_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        Ok(Response::new(pb::OriginateReply {
            changed: request.into_inner().prefix != "10.9.0.0/24",
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
        Ok(Response::new(pb::KernelFib {
            enabled: true,
            table: 254,
            failures: vec![pb::KernelFailure {
                prefix: request.prefix,
                error: "File exists".into(),
            }],
            ..Default::default()
        }))
    }
}

/// A running fake daemon; `stop` shuts it down and returns `serve`'s result.
struct Daemon {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ApiError>>,
}

impl Daemon {
    async fn start(path: &Path) -> Daemon {
        let (stop, stopped) = oneshot::channel::<()>();
        let owned = path.to_path_buf();
        let task = tokio::spawn(async move {
            serve(&owned, FakeClos, async {
                let _ = stopped.await;
            })
            .await
        });
        wait_for_socket(path).await;
        Daemon { stop, task }
    }

    async fn stop(self) -> Result<(), ApiError> {
        let _ = self.stop.send(());
        self.task.await.expect("serve task panicked")
    }
}

async fn wait_for_socket(path: &Path) {
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("daemon never answered on {}", path.display());
}

fn socket_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("run/clos/closd.sock")
}

#[tokio::test]
async fn every_rpc_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let daemon = Daemon::start(&path).await;
    let mut client = connect(&path).await.unwrap();

    let summary = client
        .get_summary(pb::SummaryRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.asn, 65000);
    assert_eq!(summary.neighbors[0].state, "Established");

    let neighbor = client
        .get_neighbor(pb::NeighborRequest {
            address: "10.0.0.2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(neighbor.hold_time, 90);
    assert_eq!(neighbor.summary.unwrap().address, "10.0.0.2");

    let missing = client
        .get_neighbor(pb::NeighborRequest {
            address: "10.0.0.9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(missing.message(), "no neighbor 10.0.0.9");

    let routes = client
        .list_routes(pb::RoutesRequest {
            family: "ipv6".into(),
            prefix: "2001:db8::/32".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(routes.routes.len(), 1);
    assert_eq!(routes.routes[0].prefix, "2001:db8::/32");
    assert_eq!(routes.routes[0].family, "ipv6");

    let prefix = || pb::OriginateRequest {
        prefix: "10.9.0.0/24".into(),
    };
    assert!(
        client
            .add_originate(prefix())
            .await
            .unwrap()
            .into_inner()
            .changed
    );
    assert!(
        !client
            .delete_originate(prefix())
            .await
            .unwrap()
            .into_inner()
            .changed
    );

    let fib = client
        .get_kernel_fib(pb::KernelFibRequest {
            routes: true,
            prefix: "10.9.0.0/24".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(fib.enabled);
    assert_eq!(fib.failures[0].prefix, "10.9.0.0/24");

    drop(client);
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn socket_is_owner_only_in_a_created_directory_and_removed_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let daemon = Daemon::start(&path).await;

    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let parent = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert!(parent.is_dir());
    // Only the temporary name's link is gone; nothing else is left behind.
    let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("closd.sock")]);

    daemon.stop().await.unwrap();
    assert!(!path.exists(), "socket left behind after shutdown");
}

#[tokio::test]
async fn stale_socket_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A socket file whose listener is gone: what a killed daemon leaves.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    assert!(connect(&path).await.is_err());

    let daemon = Daemon::start(&path).await;
    let mut client = connect(&path).await.unwrap();
    assert!(client.get_summary(pb::SummaryRequest {}).await.is_ok());
    drop(client);
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn second_daemon_on_a_live_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let first = Daemon::start(&path).await;

    let second = serve(&path, FakeClos, async {}).await.unwrap_err();
    assert!(matches!(second, ApiError::AlreadyRunning { .. }));
    assert_eq!(
        second.to_string(),
        format!("another closd is running on {}", path.display())
    );

    // The first daemon keeps its socket and keeps answering.
    let mut client = connect(&path).await.unwrap();
    assert!(client.get_summary(pb::SummaryRequest {}).await.is_ok());
    drop(client);
    first.stop().await.unwrap();
}

#[tokio::test]
async fn a_regular_file_at_the_socket_path_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closd.sock");
    std::fs::write(&path, b"not a socket").unwrap();

    let error = serve(&path, FakeClos, async {}).await.unwrap_err();
    assert!(matches!(error, ApiError::NotASocket { .. }), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

#[tokio::test]
async fn connect_without_a_daemon_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closd.sock");
    let error = connect(&path).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot connect to closd at {}: No such file or directory — is closd running? (--socket PATH)",
            path.display()
        )
    );
}
