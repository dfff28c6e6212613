//! closd: the clos routing daemon.
//!
//! Reads and validates the whole config before starting anything (a bad
//! config exits non-zero naming file, line and key; never half-configured),
//! then starts the BGP speaker and the gRPC API on its Unix socket (and on
//! TCP, token required, with `[api] listen`), and runs until SIGTERM or
//! SIGINT, when it sends Cease to every peer and removes its socket.
#![forbid(unsafe_code)]

mod bfd;
mod convert;
mod kernel;
mod links;
mod privileges;
mod service;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tracing::info;

// The RIB allocates and frees attribute sets and prefix lists at full-table
// rates; mimalloc measured faster than glibc malloc here (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The clos routing daemon.
#[derive(Parser, Debug)]
#[command(name = "closd", version, about)]
struct Args {
    /// Configuration file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Log filter (tracing EnvFilter syntax); default from RUST_LOG, else "info".
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

fn main() -> std::process::ExitCode {
    // No transparent huge pages (with mimalloc's `no_thp`, which stops it
    // madvising its 1 GiB arena MADV_HUGEPAGE): with them every touched
    // 2 MiB of the arena was resident, idle RSS 18.7 MiB instead of 7.4,
    // peak at 1M routes ~20 MiB higher, and purges split huge pages. This
    // covers hosts with THP `always`, for faults from here on.
    let _ = nix::sys::prctl::set_thp_disable(true);
    let args = Args::parse();
    let filter = args
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match clos_config::Config::from_file(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("closd: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (mut speaker_config, links) = match convert::speaker_config(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("closd: {}: {e:#}", args.config.display());
            return std::process::ExitCode::from(2);
        }
    };
    if args.check {
        println!("{}: configuration OK", args.config.display());
        return std::process::ExitCode::SUCCESS;
    }
    // Bind port 179 and drop privileges before the runtime starts its
    // threads: capabilities are per thread, and new threads inherit them.
    let listeners = match clos_bgp::speaker::bind_all(&speaker_config.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("closd: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if config.fib.kernel {
        kernel::name_protocol(config.fib.protocol);
    }
    privileges::drop_all_but(&privileges::needed(&config));
    // After the privilege drop: the FIB threads keep only CAP_NET_ADMIN.
    let fib = if config.fib.kernel {
        match kernel::start(&config.fib) {
            Ok((rib, handle)) => {
                speaker_config.fib = Some(handle);
                Some((rib, config.fib))
            }
            Err(e) => {
                eprintln!("closd: [fib] kernel = true: {e:#}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("closd")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("closd: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, speaker_config, listeners, fib, links)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("closd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(
    config: clos_config::Config,
    speaker_config: clos_bgp::speaker::SpeakerConfig,
    listeners: Vec<std::net::TcpListener>,
    fib: Option<(clos_rib::KernelRib, clos_config::Fib)>,
    links: convert::Links,
) -> anyhow::Result<()> {
    let _discovery = links::start(links)?;
    let speaker = clos_bgp::speaker::Speaker::start_with(speaker_config, listeners)
        .await
        .context("starting the BGP speaker")?;
    let speaker = Arc::new(speaker);
    let bfd = bfd::start(speaker.clone(), &config).await?;
    if config.router.fast_external_failover {
        links::fast_failover(speaker.clone());
    }
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let (stop_api, api_stopped) = tokio::sync::watch::channel(false);
    let stopped = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stop.changed().await;
    };
    let socket = config.api.socket.clone();
    let service = service::ApiService::new(speaker.clone(), fib.clone(), bfd.clone());
    let unix_stopped = stopped(api_stopped.clone());
    let mut api =
        tokio::spawn(async move { clos_api::serve(&socket, service, unix_stopped).await });
    // `[api] listen`: the same API on TCP, for clients with the token.
    let mut api_tcp = match &config.api.tcp {
        Some(tcp) => {
            let token =
                clos_api::ApiToken::new(tcp.token.expose(), &tcp.token_file.display().to_string())?;
            let service = service::ApiService::new(speaker.clone(), fib.clone(), bfd.clone());
            let tcp_stopped = stopped(api_stopped.clone());
            let listen = tcp.listen;
            Some(tokio::spawn(async move {
                let listener = clos_api::bind_tcp(listen).await?;
                clos_api::serve_tcp(listener, token, service, tcp_stopped).await
            }))
        }
        None => None,
    };
    let tcp_ended = async {
        match &mut api_tcp {
            Some(task) => task.await,
            None => std::future::pending().await,
        }
    };
    // The API may fail at once (socket in use by another closd, TCP
    // address taken): exit then.
    let failed = tokio::select! {
        result = &mut api => Some(result),
        result = tcp_ended => Some(result),
        _ = term.recv() => None,
        _ = int.recv() => None,
    };
    if let Some(result) = failed {
        if let Some((rib, _)) = &fib {
            rib.stop();
        }
        speaker.shutdown().await;
        return match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("API")),
            Err(e) => Err(anyhow::anyhow!("API task failed: {e}")),
        };
    }
    info!("shutting down");
    let _ = stop_api.send(true);
    // Stop the FIB writer first: the sessions' withdrawals must not empty
    // the kernel, whose routes keep forwarding until the next closd adopts
    // them.
    if let Some((rib, _)) = &fib {
        rib.stop();
    }
    speaker.shutdown().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), api).await;
    if let Some(api_tcp) = api_tcp {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), api_tcp).await;
    }
    Ok(())
}
