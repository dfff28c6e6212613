//! `closctl bgp ...`: commands that ask a running closd over its API
//! (its Unix socket, or TCP with a token: a [`Target`]).
//!
//! Arguments are validated into a [`Call`] first, so nothing reaches the
//! daemon (or even tries to connect) with input we can reject locally.

use anyhow::{bail, Context};
use clap::Subcommand;
use clos_api::{pb, Target};
use ipnet::IpNet;

use crate::{input, render};

/// `closctl bgp` subcommands.
#[derive(Subcommand, Debug)]
pub enum BgpCommand {
    /// Router identity and one line per neighbor (like `show bgp summary`).
    Summary,
    /// One neighbor in detail (like `show bgp neighbor ADDR`).
    Neighbor {
        /// Neighbor address, or interface name for an unnumbered neighbor.
        address: String,
    },
    /// Loc-RIB routes, best path first per prefix.
    Routes {
        /// Only this address family: ipv4 or ipv6.
        #[arg(long, value_name = "FAMILY")]
        family: Option<String>,
        /// Only this exact prefix, e.g. 10.1.0.0/24.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
    },
    /// Ask a neighbor to resend its routes (ROUTE-REFRESH, like
    /// `clear bgp ADDR soft in`).
    Refresh {
        /// Neighbor address.
        address: String,
    },
    /// Add or remove a prefix this router announces, at run time.
    Originate {
        #[command(subcommand)]
        action: OriginateAction,
    },
}

/// `closctl bgp originate` subcommands.
#[derive(Subcommand, Debug)]
pub enum OriginateAction {
    /// Start announcing PREFIX.
    Add {
        /// Prefix in canonical form, e.g. 10.1.0.0/24.
        prefix: String,
    },
    /// Stop announcing PREFIX.
    #[command(alias = "delete")]
    Del {
        /// Prefix in canonical form, e.g. 10.1.0.0/24.
        prefix: String,
    },
}

/// A validated request, ready to send.
#[derive(Debug, PartialEq, Eq)]
enum Call {
    Summary,
    Neighbor(String),
    Routes(pb::RoutesRequest),
    Originate { add: bool, prefix: IpNet },
    Refresh(String),
}

impl Call {
    fn from_command(command: BgpCommand) -> anyhow::Result<Call> {
        Ok(match command {
            BgpCommand::Summary => Call::Summary,
            BgpCommand::Neighbor { address } => {
                let address = address.trim();
                if address.is_empty() {
                    bail!("neighbor address is empty");
                }
                Call::Neighbor(address.to_string())
            }
            BgpCommand::Routes { family, prefix } => {
                let family = family.as_deref().map(input::family).transpose()?;
                let prefix = prefix.as_deref().map(input::prefix).transpose()?;
                if let (Some(family), Some(prefix)) = (family, prefix) {
                    if input::family_of(&prefix) != family {
                        bail!("prefix {prefix} is not in --family {family}");
                    }
                }
                Call::Routes(pb::RoutesRequest {
                    family: family.unwrap_or_default().to_string(),
                    prefix: prefix.map(|p| p.to_string()).unwrap_or_default(),
                })
            }
            BgpCommand::Refresh { address } => {
                let address = address.trim();
                if address.is_empty() {
                    bail!("neighbor address is empty");
                }
                Call::Refresh(address.to_string())
            }
            BgpCommand::Originate { action } => match action {
                OriginateAction::Add { prefix } => Call::Originate {
                    add: true,
                    prefix: input::prefix(&prefix)?,
                },
                OriginateAction::Del { prefix } => Call::Originate {
                    add: false,
                    prefix: input::prefix(&prefix)?,
                },
            },
        })
    }
}

/// Runs one `closctl bgp` command against the daemon at `target`; returns
/// the text to print.
pub fn run(target: &Target, json: bool, command: BgpCommand) -> anyhow::Result<String> {
    let call = Call::from_command(command)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(execute(target, json, call))
}

/// `closctl fib kernel`: the daemon's kernel FIB state as text or JSON.
pub fn kernel_fib(
    target: &Target,
    json: bool,
    routes: bool,
    prefix: String,
) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut client = clos_api::connect_to(target).await?;
        let reply = client
            .get_kernel_fib(pb::KernelFibRequest { routes, prefix })
            .await
            .map_err(daemon_error)?
            .into_inner();
        Ok(pick(json, &reply, render::kernel_fib))
    })
}

async fn execute(target: &Target, json: bool, call: Call) -> anyhow::Result<String> {
    let mut client = clos_api::connect_to(target).await?;
    let text = match call {
        Call::Summary => {
            let reply = client
                .get_summary(pb::SummaryRequest {})
                .await
                .map_err(daemon_error)?
                .into_inner();
            pick(json, &reply, render::summary)
        }
        Call::Neighbor(address) => {
            let reply = client
                .get_neighbor(pb::NeighborRequest { address })
                .await
                .map_err(daemon_error)?
                .into_inner();
            pick(json, &reply, render::neighbor)
        }
        Call::Routes(request) => {
            let reply = client
                .list_routes(request)
                .await
                .map_err(daemon_error)?
                .into_inner();
            pick(json, &reply, render::routes)
        }
        Call::Refresh(address) => {
            let reply = client
                .refresh_neighbor(pb::NeighborRequest {
                    address: address.clone(),
                })
                .await
                .map_err(daemon_error)?
                .into_inner();
            pick(json, &reply, |r| {
                format!(
                    "asked {address} to resend its routes ({})\n",
                    r.families.join(", ")
                )
            })
        }
        Call::Originate { add, prefix } => {
            let request = pb::OriginateRequest {
                prefix: prefix.to_string(),
            };
            let reply = if add {
                client.add_originate(request).await
            } else {
                client.delete_originate(request).await
            }
            .map_err(daemon_error)?
            .into_inner();
            pick(json, &reply, |reply| originate_message(add, &prefix, reply))
        }
    };
    Ok(text)
}

fn pick<T: serde::Serialize>(json: bool, reply: &T, human: impl Fn(&T) -> String) -> String {
    if json {
        render::json(reply)
    } else {
        human(reply)
    }
}

/// What an originate call did, from its `changed` flag.
fn originate_message(add: bool, prefix: &IpNet, reply: &pb::OriginateReply) -> String {
    match (add, reply.changed) {
        (true, true) => format!("originating {prefix}\n"),
        (true, false) => format!("already originating {prefix}\n"),
        (false, true) => format!("no longer originating {prefix}\n"),
        (false, false) => format!("was not originating {prefix}\n"),
    }
}

/// A gRPC error from closd as one line: its message for the errors a user
/// causes (unknown neighbor, bad argument), with the code otherwise.
fn daemon_error(status: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    let message = status
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match status.code() {
        _ if message.is_empty() => anyhow::anyhow!("closd returned {:?}", status.code()),
        Code::NotFound
        | Code::InvalidArgument
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::OutOfRange => anyhow::anyhow!("{message}"),
        Code::Unauthenticated => anyhow::anyhow!("closd refused the request: {message}"),
        code => anyhow::anyhow!("closd: {message} ({code:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(family: Option<&str>, prefix: Option<&str>) -> anyhow::Result<Call> {
        Call::from_command(BgpCommand::Routes {
            family: family.map(str::to_string),
            prefix: prefix.map(str::to_string),
        })
    }

    #[test]
    fn routes_request_carries_validated_filters() {
        assert_eq!(
            routes(Some("IPv6"), Some("2001:db8::/32")).unwrap(),
            Call::Routes(pb::RoutesRequest {
                family: "ipv6".into(),
                prefix: "2001:db8::/32".into(),
            })
        );
        assert_eq!(
            routes(None, None).unwrap(),
            Call::Routes(pb::RoutesRequest::default())
        );
    }

    #[test]
    fn routes_filters_are_checked_locally() {
        assert!(routes(Some("ipv5"), None).is_err());
        assert!(routes(None, Some("10.0.0.1/8")).is_err());
        assert_eq!(
            routes(Some("ipv6"), Some("10.0.0.0/8"))
                .unwrap_err()
                .to_string(),
            "prefix 10.0.0.0/8 is not in --family ipv6"
        );
    }

    #[test]
    fn originate_messages_follow_changed() {
        let prefix: IpNet = "10.1.0.0/24".parse().unwrap();
        let changed = pb::OriginateReply { changed: true };
        let same = pb::OriginateReply { changed: false };
        assert_eq!(
            originate_message(true, &prefix, &changed),
            "originating 10.1.0.0/24\n"
        );
        assert_eq!(
            originate_message(true, &prefix, &same),
            "already originating 10.1.0.0/24\n"
        );
        assert_eq!(
            originate_message(false, &prefix, &changed),
            "no longer originating 10.1.0.0/24\n"
        );
        assert_eq!(
            originate_message(false, &prefix, &same),
            "was not originating 10.1.0.0/24\n"
        );
    }

    #[test]
    fn daemon_errors_are_one_line() {
        let error = daemon_error(tonic::Status::not_found("no neighbor 10.0.0.9"));
        assert_eq!(error.to_string(), "no neighbor 10.0.0.9");
        let error = daemon_error(tonic::Status::internal("rib\ntask gone"));
        assert_eq!(error.to_string(), "closd: rib task gone (Internal)");
        let error = daemon_error(tonic::Status::unavailable(""));
        assert_eq!(error.to_string(), "closd returned Unavailable");
        let error = daemon_error(tonic::Status::unauthenticated("wrong API token"));
        assert_eq!(
            error.to_string(),
            "closd refused the request: wrong API token"
        );
    }
}
