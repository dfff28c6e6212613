//! The management API on TCP end to end, real closd and real closctl: with
//! `[api] listen` and `token-file`, `closctl --api ADDR:PORT --token-file F`
//! works with the right token and is refused with a wrong or missing one,
//! while the Unix socket stays owner-only and needs no token; closd refuses
//! to start without a token file, with a group-readable one, or when the
//! address is taken. Runs closd outside any namespace (it listens on
//! loopback only and speaks no BGP). Needs `cargo build --workspace --bins`.

use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use clos_interop::closd::binary;
use clos_interop::{wait_until, Lab};

const TOKEN: &str = "interop-api-token-0123456789abcdef";

/// A loopback port nobody listens on (bound, noted, released).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Files of one closd: config, token, socket, log.
struct Setup {
    dir: PathBuf,
    port: u16,
}

impl Setup {
    fn new(lab: &Lab, port: u16) -> Result<Setup> {
        let dir = lab.subdir("closd")?;
        let setup = Setup { dir, port };
        setup.write_token(TOKEN, 0o600)?;
        Ok(setup)
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("closd.sock")
    }

    fn token_file(&self) -> PathBuf {
        self.dir.join("api.token")
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("closd.toml")
    }

    fn write_token(&self, token: &str, mode: u32) -> Result<()> {
        std::fs::write(self.token_file(), format!("{token}\n"))?;
        std::fs::set_permissions(self.token_file(), std::fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    /// Writes the config with `api` as the `[api]` table's extra lines.
    fn write_config(&self, api: &str) -> Result<PathBuf> {
        let config = format!(
            "[router]\nasn = 65000\nrouter-id = \"10.0.0.1\"\nlisten = []\n\n\
             [api]\nsocket = \"{}\"\n{api}",
            self.socket().display()
        );
        std::fs::write(self.config_file(), config)?;
        Ok(self.config_file())
    }

    fn tcp_api(&self) -> String {
        format!(
            "listen = \"127.0.0.1:{}\"\ntoken-file = \"{}\"\n",
            self.port,
            self.token_file().display()
        )
    }

    fn closd(&self, args: &[&str]) -> Result<Command> {
        let mut command = Command::new(binary("closd")?);
        command.arg("-c").arg(self.config_file()).args(args);
        Ok(command)
    }

    /// Starts closd with its log in the lab directory.
    fn start(&self) -> Result<Daemon> {
        let log = std::fs::File::create(self.dir.join("closd.log"))?;
        let child = self
            .closd(&[])?
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start closd")?;
        Ok(Daemon { child })
    }
}

/// A closd started by this test, killed on drop.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn closctl(args: &[&str]) -> Result<Output> {
    Ok(Command::new(binary("closctl")?)
        .args(args)
        .env_remove("CLOSCTL_SOCKET")
        .env_remove("CLOSCTL_TOKEN_FILE")
        .output()?)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string()
}

#[test]
fn closctl_reaches_closd_over_tcp_with_the_token_only() {
    Lab::run("api_tcp_token", |lab| {
        let setup = Setup::new(lab, free_port()?)?;
        setup.write_config(&setup.tcp_api())?;
        let mut daemon = setup.start()?;
        let api = format!("127.0.0.1:{}", setup.port);
        let token_file = setup.token_file().display().to_string();
        let summary = wait_until("closd's API on TCP", Duration::from_secs(30), || {
            ensure!(daemon.child.try_wait()?.is_none(), "closd exited");
            let output = closctl(&[
                "--api",
                &api,
                "--token-file",
                &token_file,
                "bgp",
                "summary",
                "--json",
            ])?;
            ensure!(output.status.success(), "{}", stderr(&output));
            Ok(Some(serde_json::from_slice::<serde_json::Value>(
                &output.stdout,
            )?))
        })?;
        ensure!(summary["asn"] == 65000, "{summary}");

        let wrong = lab.dir().join("wrong.token");
        std::fs::write(&wrong, "interop-api-token-0123456789abcdeF\n")?;
        let output = closctl(&[
            "--api",
            &api,
            "--token-file",
            &wrong.display().to_string(),
            "bgp",
            "summary",
        ])?;
        ensure!(
            output.status.code() == Some(1)
                && stderr(&output)
                    == "error: closd refused the request: wrong API token: it does not \
                        match closd's [api] token-file",
            "a wrong token must be refused: {output:?}"
        );
        let output = closctl(&["--api", &api, "bgp", "summary"])?;
        ensure!(
            output.status.code() == Some(1)
                && stderr(&output).starts_with(&format!("error: --api {api} needs the API token")),
            "no token, no request: {output:?}"
        );

        // The Unix socket: owner-only, no token.
        let meta = std::fs::symlink_metadata(setup.socket())?;
        ensure!(meta.file_type().is_socket(), "no API socket");
        ensure!(
            meta.permissions().mode() & 0o777 == 0o600,
            "socket mode {:o}",
            meta.permissions().mode()
        );
        let output = closctl(&[
            "--socket",
            &setup.socket().display().to_string(),
            "bgp",
            "summary",
            "--json",
        ])?;
        ensure!(output.status.success(), "{}", stderr(&output));
        Ok(())
    });
}

/// `closd --check` exits 2 naming file, line and key.
fn refused(setup: &Setup, api: &str) -> Result<String> {
    let path = setup.write_config(api)?;
    let output = setup.closd(&["--check"])?.output()?;
    ensure!(
        output.status.code() == Some(2),
        "closd --check should refuse {api:?}: {output:?}"
    );
    let message = stderr(&output);
    ensure!(
        message.starts_with(&format!("closd: {}:", path.display())),
        "{message}"
    );
    Ok(message)
}

#[test]
fn closd_refuses_a_tcp_api_without_a_private_token_file() {
    Lab::run("api_tcp_config", |lab| {
        let setup = Setup::new(lab, 50051)?;
        let message = refused(&setup, "listen = \"127.0.0.1:50051\"\n")?;
        ensure!(
            message.ends_with(
                ":8: api.listen: the API on TCP needs `token-file` too: clients must present \
                 the token it holds (gRPC metadata `authorization: Bearer TOKEN`)"
            ),
            "{message}"
        );
        setup.write_token(TOKEN, 0o640)?;
        let message = refused(&setup, &setup.tcp_api())?;
        ensure!(
            message.contains(":9: api.token-file: ")
                && message.contains("is open to group or others (mode 0640)"),
            "{message}"
        );
        ensure!(!message.contains(TOKEN), "the token leaked: {message}");
        setup.write_token(TOKEN, 0o600)?;
        setup.write_config(&setup.tcp_api())?;
        let output = setup.closd(&["--check"])?.output()?;
        ensure!(output.status.success(), "{output:?}");
        Ok(())
    });
}

#[test]
fn closd_exits_when_the_api_address_is_taken() {
    Lab::run("api_tcp_taken", |lab| {
        let taken = TcpListener::bind("127.0.0.1:0")?;
        let setup = Setup::new(lab, taken.local_addr()?.port())?;
        setup.write_config(&setup.tcp_api())?;
        let mut daemon = setup.start()?;
        let status = wait_until("closd to exit", Duration::from_secs(30), || {
            Ok(daemon.child.try_wait()?)
        })?;
        ensure!(!status.success(), "closd should fail: {status}");
        let log = std::fs::read_to_string(setup.dir.join("closd.log"))?;
        let expected = format!(
            "closd: API: cannot listen on 127.0.0.1:{}: Address already in use ([api] listen)",
            setup.port
        );
        ensure!(
            log.contains(&expected),
            "closd.log lacks {expected:?}:\n{log}"
        );
        ensure!(
            !Path::new(&setup.socket()).exists(),
            "closd left its socket behind"
        );
        Ok(())
    });
}
