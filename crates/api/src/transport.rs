//! gRPC over a Unix domain socket: [`serve`] for closd, [`connect`] for
//! clients. (The TCP transport, with its token, is `tcp.rs`.)
//!
//! The socket is the API's only access control, so it is created owner-only
//! (0600) before it becomes visible at its path: we bind under a temporary
//! name in the same directory, set the mode, then hard-link it into place.
//! `link(2)` fails if the path exists, so two daemons racing for one path
//! cannot replace each other's socket, and no client ever sees the socket
//! with the process umask's permissions.

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint, Server, Uri};

use crate::pb::clos_client::ClosClient;
use crate::pb::clos_server::{Clos, ClosServer};
use crate::ApiError;

/// Mode of the API socket: only the daemon's user may talk to it.
const SOCKET_MODE: u32 = 0o600;
/// Mode of directories we create on the way to the socket.
const DIRECTORY_MODE: u32 = 0o755;

/// Serve `service` on a Unix socket at `path` until `shutdown` resolves.
///
/// Creates the parent directory (0755) if missing. A socket file left at
/// `path` by a daemon that died is removed, but only if it is a socket and
/// nobody answers on it; if a live daemon answers, this returns
/// [`ApiError::AlreadyRunning`]. The socket is created with mode 0600 and
/// removed again when serving ends (also when this future is dropped).
pub async fn serve<S: Clos>(
    path: &Path,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    let (listener, socket) = bind(path).await?;
    tracing::info!(socket = %path.display(), "API listening");
    let result = Server::builder()
        .add_service(ClosServer::new(service))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await;
    drop(socket);
    result.map_err(|error| ApiError::Transport {
        path: path.to_path_buf(),
        error,
    })
}

/// Connect a client to the daemon's socket at `path`.
///
/// The first connection is made here, so a missing socket or a dead daemon
/// is reported at once as [`ApiError::Connect`], with the path and a hint.
/// Later reconnections (after the daemon restarts) dial the same path.
pub async fn connect(path: &Path) -> Result<ClosClient<Channel>, ApiError> {
    Ok(ClosClient::new(unix_channel(path).await?))
}

/// The HTTP/2 channel behind [`connect`], shared with [`crate::connect_to`].
pub(crate) async fn unix_channel(path: &Path) -> Result<Channel, ApiError> {
    let first = UnixStream::connect(path)
        .await
        .map_err(|error| ApiError::Connect {
            path: path.to_path_buf(),
            error,
        })?;
    let first = Arc::new(Mutex::new(Some(first)));
    let dial_path = path.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let first = first.clone();
        let path = dial_path.clone();
        async move {
            let ready = first.lock().ok().and_then(|mut slot| slot.take());
            let stream = match ready {
                Some(stream) => stream,
                None => UnixStream::connect(&path).await?,
            };
            Ok::<_, io::Error>(TokioIo::new(stream))
        }
    });
    // The URI is required by HTTP/2 but never resolved: the connector above
    // decides where bytes go.
    let channel = Endpoint::from_static("http://closd.local")
        .connect_with_connector(connector)
        .await
        .map_err(|error| ApiError::Transport {
            path: path.to_path_buf(),
            error,
        })?;
    Ok(channel)
}

/// The socket file we created; removes it when dropped, unless another
/// process has since put its own file at the path.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|meta| (meta.dev(), meta.ino()) == self.identity)
            .unwrap_or(false);
        if ours {
            if let Err(error) = std::fs::remove_file(&self.path) {
                tracing::warn!(socket = %self.path.display(), %error, "cannot remove API socket");
            }
        }
    }
}

/// Binds the listening socket at `path` with the housekeeping described on
/// [`serve`].
async fn bind(path: &Path) -> Result<(UnixListener, SocketFile), ApiError> {
    let io_error = |action: &'static str, at: &Path| {
        let path = at.to_path_buf();
        move |error| ApiError::Io {
            action,
            path,
            error,
        }
    };

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIRECTORY_MODE)
            .create(parent)
            .map_err(io_error("cannot create directory", parent))?;
    }
    remove_stale_socket(path).await?;

    let temporary = temporary_path(path);
    // A leftover from a crashed daemon that had our pid; never ours to keep.
    if is_socket(&temporary) {
        let _ = std::fs::remove_file(&temporary);
    }
    let listener =
        UnixListener::bind(&temporary).map_err(io_error("cannot bind API socket", &temporary))?;
    let published = publish(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    let identity = published?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            identity,
        },
    ))
}

/// Makes the freshly bound socket at `temporary` owner-only and links it
/// to `path`; returns the (device, inode) of the published socket.
fn publish(temporary: &Path, path: &Path) -> Result<(u64, u64), ApiError> {
    std::fs::set_permissions(temporary, std::fs::Permissions::from_mode(SOCKET_MODE)).map_err(
        |error| ApiError::Io {
            action: "cannot set mode of API socket",
            path: temporary.to_path_buf(),
            error,
        },
    )?;
    std::fs::hard_link(temporary, path).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            // Someone created the path after our stale check: treat it as
            // the daemon that won the race.
            ApiError::AlreadyRunning {
                path: path.to_path_buf(),
            }
        } else {
            ApiError::Io {
                action: "cannot create API socket",
                path: path.to_path_buf(),
                error,
            }
        }
    })?;
    let meta = std::fs::symlink_metadata(path).map_err(|error| ApiError::Io {
        action: "cannot inspect API socket",
        path: path.to_path_buf(),
        error,
    })?;
    Ok((meta.dev(), meta.ino()))
}

/// Removes a socket at `path` that nobody answers on. Fails if a daemon
/// answers, or if the path is something other than a socket.
async fn remove_stale_socket(path: &Path) -> Result<(), ApiError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(ApiError::Io {
                action: "cannot inspect",
                path: path.to_path_buf(),
                error,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ApiError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path).await {
        // Someone accepted (or has a full backlog, which is just as alive).
        Ok(_) => Err(ApiError::AlreadyRunning {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Err(ApiError::AlreadyRunning {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing stale API socket");
            std::fs::remove_file(path).map_err(|error| ApiError::Io {
                action: "cannot remove stale socket",
                path: path.to_path_buf(),
                error,
            })
        }
        Err(error) => Err(ApiError::Io {
            action: "cannot probe existing socket",
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// A name next to `path` to bind under before publishing.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "closd.sock".to_string());
    path.with_file_name(format!(".{name}.{}", std::process::id()))
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|meta| meta.file_type().is_socket())
        .unwrap_or(false)
}
