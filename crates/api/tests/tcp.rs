//! The TCP transport end to end: a fake daemon served with
//! `clos_api::serve_tcp`, reached with `clos_api::connect_to` or a bare
//! gRPC client. The right token works; a missing, malformed or wrong one is
//! `Unauthenticated` before the service runs; the Unix socket needs none.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clos_api::pb::{self, clos_client::ClosClient, clos_server::Clos};
use clos_api::{bind_tcp, connect_to, serve, serve_tcp, ApiError, ApiToken, Target};
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status};

const TOKEN: &str = "a-token-of-24-characters";

/// Answers `get_summary` and counts the calls that reached it.
#[derive(Clone, Default)]
struct FakeClos {
    calls: Arc<AtomicUsize>,
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this fake"))
}

#[tonic::async_trait]
impl Clos for FakeClos {
    async fn get_summary(
        &self,
        _: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(pb::Summary {
            asn: 65000,
            router_id: "10.0.0.1".into(),
            ..Default::default()
        }))
    }

    async fn get_neighbor(
        &self,
        _: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::NeighborDetail>, Status> {
        unimplemented()
    }

    async fn list_routes(
        &self,
        _: Request<pb::RoutesRequest>,
    ) -> Result<Response<pb::RouteList>, Status> {
        unimplemented()
    }

    async fn add_originate(
        &self,
        _: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        unimplemented()
    }

    async fn delete_originate(
        &self,
        _: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        unimplemented()
    }

    async fn refresh_neighbor(
        &self,
        _: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::RefreshReply>, Status> {
        unimplemented()
    }

    async fn get_kernel_fib(
        &self,
        _: Request<pb::KernelFibRequest>,
    ) -> Result<Response<pb::KernelFib>, Status> {
        unimplemented()
    }
}

/// A fake daemon on TCP (loopback, a free port); stopped on drop.
struct Daemon {
    address: SocketAddr,
    service: FakeClos,
    _stop: oneshot::Sender<()>,
}

async fn daemon() -> Daemon {
    let listener = bind_tcp("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = FakeClos::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let token = ApiToken::new(TOKEN, "test").unwrap();
    tokio::spawn(serve_tcp(listener, token, service.clone(), async {
        let _ = stopped.await;
    }));
    Daemon {
        address,
        service,
        _stop: stop,
    }
}

fn target(daemon: &Daemon, token: &str) -> Target {
    Target::Tcp {
        address: daemon.address,
        token: ApiToken::new(token, "test").unwrap(),
    }
}

#[tokio::test]
async fn the_right_token_is_served() {
    let daemon = daemon().await;
    let mut client = connect_to(&target(&daemon, TOKEN)).await.unwrap();
    let summary = client
        .get_summary(pb::SummaryRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.asn, 65000);
    assert_eq!(daemon.service.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_wrong_token_is_unauthenticated() {
    let daemon = daemon().await;
    for wrong in [
        "a-token-of-24-characterZ",
        "a-token-of-24-characters-and-more",
        "a",
    ] {
        let mut client = connect_to(&target(&daemon, wrong)).await.unwrap();
        let status = client.get_summary(pb::SummaryRequest {}).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{wrong}");
        assert_eq!(
            status.message(),
            "wrong API token: it does not match closd's [api] token-file"
        );
    }
    assert_eq!(
        daemon.service.calls.load(Ordering::SeqCst),
        0,
        "the service never ran"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_token_is_unauthenticated() {
    let daemon = daemon().await;
    let url = format!("http://{}", daemon.address);
    let mut bare = ClosClient::connect(url.clone()).await.unwrap();
    let status = bare.get_summary(pb::SummaryRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().starts_with(
            "this API endpoint needs a token: send the metadata `authorization: Bearer TOKEN`"
        ),
        "{}",
        status.message()
    );

    for header in [TOKEN.to_string(), format!("Basic {TOKEN}")] {
        let mut request = Request::new(pb::SummaryRequest {});
        request
            .metadata_mut()
            .insert("authorization", header.parse().unwrap());
        let status = bare.get_summary(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status.message(),
            "the authorization metadata must be `Bearer TOKEN`"
        );
    }
    // The bearer scheme is case-insensitive (RFC 7235 §2.1).
    let mut request = Request::new(pb::SummaryRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("bearer {TOKEN}").parse().unwrap());
    assert!(bare.get_summary(request).await.is_ok());
    assert_eq!(daemon.service.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_unix_socket_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closd.sock");
    let (stop, stopped) = oneshot::channel::<()>();
    let owned = path.clone();
    let task = tokio::spawn(async move {
        serve(&owned, FakeClos::default(), async {
            let _ = stopped.await;
        })
        .await
    });
    let mut client = None;
    for _ in 0..200 {
        match connect_to(&Target::Unix(path.clone())).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    let mut client = client.expect("the Unix socket answers");
    assert!(client.get_summary(pb::SummaryRequest {}).await.is_ok());
    drop(client);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_busy_address_and_an_absent_daemon_explain_themselves() {
    let daemon = daemon().await;
    let error = bind_tcp(daemon.address).await.unwrap_err();
    assert!(matches!(error, ApiError::TcpBind { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "cannot listen on {}: Address already in use ([api] listen)",
            daemon.address
        )
    );

    // A port nobody listens on: bind one, note it, close it.
    let free = bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let error = connect_to(&Target::Tcp {
        address: free,
        token: ApiToken::new(TOKEN, "test").unwrap(),
    })
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to closd at {free}: ")),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    assert!(
        text.ends_with("is closd listening there? ([api] listen)"),
        "{text}"
    );
}

#[test]
fn token_files_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.token");
    std::fs::write(&good, format!("{TOKEN}\n")).unwrap();
    let token = ApiToken::from_file(&good).unwrap();
    assert_eq!(token, ApiToken::new(TOKEN, "x").unwrap());
    assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");

    let missing = dir.path().join("missing.token");
    assert_eq!(
        ApiToken::from_file(&missing).unwrap_err().to_string(),
        format!(
            "{}: cannot read the token file: No such file or directory",
            missing.display()
        )
    );
    let empty = dir.path().join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    assert_eq!(
        ApiToken::from_file(&empty).unwrap_err().to_string(),
        format!("{}: the token is empty", empty.display())
    );
    assert!(ApiToken::from_file(dir.path())
        .unwrap_err()
        .to_string()
        .ends_with("not a regular file"));
}
