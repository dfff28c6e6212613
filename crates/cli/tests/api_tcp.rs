//! `closctl --api ADDR:PORT --token-file FILE` against a fake closd served
//! with `clos_api::serve_tcp`: the right token works (from the flag or
//! `CLOSCTL_TOKEN_FILE`), a wrong or missing one is refused with one line
//! on stderr, and nothing is sent without a token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use clos_api::pb::{self, clos_server::Clos};
use tonic::{Request, Response, Status};

const TOKEN: &str = "closctl-test-token-0123456789";

struct FakeClos;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this fake"))
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
        Ok(Response::new(pb::KernelFib {
            enabled: true,
            table: 254,
            protocol: 201,
            installed: 7,
            ..Default::default()
        }))
    }
}

/// A fake closd on TCP (loopback, a free port) on its own thread, with
/// the right and a wrong token file next to it; stopped on drop.
struct Daemon {
    address: SocketAddr,
    token_file: PathBuf,
    wrong_token_file: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temporary directory");
        let token_file = dir.path().join("api.token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
        let wrong_token_file = dir.path().join("wrong.token");
        std::fs::write(&wrong_token_file, "not-the-token-at-all-0000\n").expect("token file");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = clos_api::bind_tcp("127.0.0.1:0".parse().unwrap())
                    .await
                    .expect("bind");
                bound
                    .send(listener.local_addr().expect("address"))
                    .expect("send address");
                let token = clos_api::ApiToken::new(TOKEN, "test").expect("token");
                clos_api::serve_tcp(listener, token, FakeClos, async {
                    let _ = stopped.await;
                })
                .await
                .expect("fake closd serves");
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(10))
            .expect("fake closd bound");
        Daemon {
            address,
            token_file,
            wrong_token_file,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
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

fn closctl(args: &[&str], token_env: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_closctl"));
    command
        .args(args)
        .env_remove("CLOSCTL_SOCKET")
        .env_remove("CLOSCTL_TOKEN_FILE");
    if let Some(file) = token_env {
        command.env("CLOSCTL_TOKEN_FILE", file);
    }
    command.output().expect("closctl runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "closctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("valid JSON")
}

/// Exit code 1 and exactly one line on stderr; returns that line.
fn failure(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8 output");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_string()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn the_right_token_file_works_from_the_flag_or_the_environment() {
    let daemon = Daemon::start();
    let api = daemon.address.to_string();
    let flag = closctl(
        &[
            "--api",
            &api,
            "--token-file",
            path(&daemon.token_file),
            "bgp",
            "summary",
            "--json",
        ],
        None,
    );
    assert_eq!(json(&flag)["asn"], 65000);
    // The flags may follow the subcommand too.
    let after = closctl(
        &[
            "bgp",
            "summary",
            "--json",
            "--api",
            &api,
            "--token-file",
            path(&daemon.token_file),
        ],
        None,
    );
    assert_eq!(json(&after)["router_id"], "10.0.0.1");
    let env = closctl(
        &["--api", &api, "bgp", "summary", "--json"],
        Some(&daemon.token_file),
    );
    assert_eq!(json(&env)["asn"], 65000);
}

#[test]
fn a_wrong_token_is_refused() {
    let daemon = Daemon::start();
    let api = daemon.address.to_string();
    let output = closctl(
        &[
            "--api",
            &api,
            "--token-file",
            path(&daemon.wrong_token_file),
            "bgp",
            "summary",
        ],
        None,
    );
    assert_eq!(
        failure(&output),
        "error: closd refused the request: wrong API token: it does not match closd's \
         [api] token-file"
    );
}

#[test]
fn no_token_no_request() {
    let daemon = Daemon::start();
    let api = daemon.address.to_string();
    assert_eq!(
        failure(&closctl(&["--api", &api, "bgp", "summary"], None)),
        format!(
            "error: --api {api} needs the API token: give --token-file FILE (or set \
             CLOSCTL_TOKEN_FILE) with the token of closd's [api] token-file"
        )
    );
    let missing = daemon.token_file.with_file_name("missing.token");
    assert_eq!(
        failure(&closctl(
            &[
                "--api",
                &api,
                "--token-file",
                path(&missing),
                "bgp",
                "summary"
            ],
            None
        )),
        format!(
            "error: {}: cannot read the token file: No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn no_daemon_on_the_address_explains_itself() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();
    let line = failure(&closctl(
        &[
            "--api",
            &free,
            "--token-file",
            path(&token_file),
            "bgp",
            "summary",
        ],
        None,
    ));
    assert!(
        line.starts_with(&format!("error: cannot connect to closd at {free}: ")),
        "{line}"
    );
    assert!(
        line.ends_with("is closd listening there? ([api] listen)"),
        "{line}"
    );
}

#[test]
fn fib_kernel_goes_over_tcp_with_the_token() {
    let daemon = Daemon::start();
    let api = daemon.address.to_string();
    let out = closctl(
        &[
            "--api",
            &api,
            "--token-file",
            path(&daemon.token_file),
            "fib",
            "kernel",
            "--json",
        ],
        None,
    );
    let reply = json(&out);
    assert_eq!(reply["installed"], 7);
    assert_eq!(reply["protocol"], 201);
    let refused = failure(&closctl(
        &[
            "--api",
            &api,
            "--token-file",
            path(&daemon.wrong_token_file),
            "fib",
            "kernel",
        ],
        None,
    ));
    assert!(refused.contains("token"), "{refused}");
    let no_token = failure(&closctl(&["--api", &api, "fib", "kernel"], None));
    assert!(no_token.contains("needs the API token"), "{no_token}");
}
