//! gRPC over TCP, for clients on other hosts or in other namespaces:
//! [`bind_tcp`] and [`serve_tcp`] for closd, [`connect_to`] for clients.
//!
//! Every request must carry the API token ([`crate::auth`]); a request
//! without it, or with a wrong one, is answered `Unauthenticated` before
//! the service sees it. The transport is plain HTTP/2: the token and the
//! replies cross the network in clear, so the listener belongs on loopback
//! or a management network (see SECURITY.md).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Server};

use crate::auth::{ApiToken, RequireToken, SendToken};
use crate::error::describe_chain;
use crate::pb::clos_client::ClosClient;
use crate::pb::clos_server::{Clos, ClosServer};
use crate::ApiError;

/// How long a client waits for the TCP connection to closd.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of either transport: [`connect_to`] returns it.
pub type Client = ClosClient<InterceptedService<Channel, SendToken>>;

/// Where a client finds closd.
#[derive(Clone, Debug)]
pub enum Target {
    /// The daemon's Unix socket (owner-only; no token).
    Unix(PathBuf),
    /// The daemon's TCP listener (`[api] listen`) and its token.
    Tcp {
        /// `ADDR:PORT` of the listener.
        address: SocketAddr,
        /// The token of the daemon's `[api] token-file`.
        token: ApiToken,
    },
}

/// Binds the API's TCP listener; a busy or foreign address is an error
/// naming it, so closd can refuse to start.
pub async fn bind_tcp(address: SocketAddr) -> Result<TcpListener, ApiError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| ApiError::TcpBind { address, error })
}

/// Serve `service` on `listener` until `shutdown` resolves, answering only
/// requests that carry `token`.
pub async fn serve_tcp<S: Clos>(
    listener: TcpListener,
    token: ApiToken,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    let address = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    if !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "the API listens beyond loopback: its token and replies cross the network \
             unencrypted"
        );
    }
    tracing::info!(%address, "API listening on TCP (token required)");
    Server::builder()
        .add_service(InterceptedService::new(
            ClosServer::new(service),
            RequireToken::new(token),
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(|error| ApiError::TcpTransport {
            address,
            error: describe_chain(&error),
        })
}

/// Connect a client to closd at `target`. The first connection is made
/// here, so an unreachable daemon is reported at once.
pub async fn connect_to(target: &Target) -> Result<Client, ApiError> {
    match target {
        Target::Unix(path) => Ok(ClosClient::with_interceptor(
            crate::transport::unix_channel(path).await?,
            SendToken::none(),
        )),
        Target::Tcp { address, token } => {
            let channel = Endpoint::from_shared(format!("http://{address}"))
                .map_err(|error| ApiError::TcpConnect {
                    address: *address,
                    error: describe_chain(&error),
                })?
                .connect_timeout(CONNECT_TIMEOUT)
                .connect()
                .await
                .map_err(|error| ApiError::TcpConnect {
                    address: *address,
                    error: describe_chain(&error),
                })?;
            Ok(ClosClient::with_interceptor(channel, SendToken::new(token)))
        }
    }
}
