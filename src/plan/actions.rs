//! What a node's actions look like once rendered for its host: the exact commands the run
//! sends, shown the same way in the plan. Secrets are never part of them.

use crate::graph::{Mode, Step};
use crate::template::{self, Values};
use crate::topology::{HealthCheck, HostId, HttpCheck, SecretSource, TlsTrust, Topology};

/// A health check with its templates filled in for one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RenderedCheck {
    /// TCP connect to `address:port`.
    Tcp {
        /// Host address.
        address: String,
        /// Port.
        port: u16,
    },
    /// HTTP GET of the rendered URL.
    Http(HttpCheck),
    /// Command over SSH.
    Command {
        /// Rendered command.
        command: String,
        /// Expected exit code.
        exit_code: i32,
    },
}

/// The rendered commands of one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeCommands {
    /// Command that stops the bootstrap mode before a normal start, if any.
    pub leave_bootstrap: Option<String>,
    /// The start command.
    pub start: Option<String>,
    /// The health check.
    pub check: Option<RenderedCheck>,
    /// The progress probe command.
    pub progress: Option<String>,
}

/// The template values of `host` running `subsystem`.
pub fn values<'a>(topology: &'a Topology, subsystem: &'a str, host: HostId) -> Values<'a> {
    let host = &topology.hosts[host];
    Values {
        host: &host.name,
        address: &host.address,
        subsystem,
        datacenter: host.datacenter.as_deref().unwrap_or(""),
        rack: host.rack.as_deref().unwrap_or(""),
        labels: Some(&host.labels),
    }
}

/// Renders the commands of `step` on `host`.
pub fn node_commands(topology: &Topology, step: Step, host: HostId) -> NodeCommands {
    let subsystem = &topology.subsystems[step.subsystem];
    let values = values(topology, &subsystem.name, host);
    let shell = |text: &String| template::render_shell(text, &values);
    let (start, check, leave_bootstrap) = match (step.mode, &subsystem.bootstrap) {
        (Mode::Bootstrap, Some(bootstrap)) => {
            (Some(&bootstrap.start), bootstrap.health.as_ref(), None)
        }
        (_, bootstrap) => (
            subsystem.start.as_ref(),
            subsystem.health.as_ref(),
            bootstrap.as_ref().and_then(|b| b.stop.as_ref()),
        ),
    };
    NodeCommands {
        leave_bootstrap: leave_bootstrap.map(shell),
        start: start.map(shell),
        check: check.map(|check| render_check(check, &values)),
        progress: subsystem
            .progress
            .as_ref()
            .map(|probe| shell(&probe.command)),
    }
}

fn render_check(check: &HealthCheck, values: &Values<'_>) -> RenderedCheck {
    match check {
        HealthCheck::Tcp { port } => RenderedCheck::Tcp {
            address: values.address.to_string(),
            port: *port,
        },
        HealthCheck::Http(http) => RenderedCheck::Http(HttpCheck {
            url: template::render_plain(&http.url, values),
            ..http.clone()
        }),
        HealthCheck::Command { command, exit_code } => RenderedCheck::Command {
            command: template::render_shell(command, values),
            exit_code: *exit_code,
        },
    }
}

impl std::fmt::Display for RenderedCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderedCheck::Tcp { address, port } => write!(f, "tcp {address}:{port} accepts"),
            RenderedCheck::Http(HttpCheck {
                url,
                status,
                body,
                tls,
            }) => {
                write!(f, "GET {url} answers {status}")?;
                if let Some(body) = body {
                    write!(f, " with body containing {body:?}")?;
                }
                match (url.starts_with("https://"), tls) {
                    (false, _) => Ok(()),
                    (true, TlsTrust { insecure: true, .. }) => write!(f, ", TLS NOT VERIFIED"),
                    (
                        true,
                        TlsTrust {
                            ca_file: Some(ca), ..
                        },
                    ) => {
                        write!(f, ", TLS verified against {}", ca.display())
                    }
                    (true, _) => write!(f, ", TLS verified against the system's CAs"),
                }
            }
            RenderedCheck::Command { command, exit_code } => {
                write!(f, "`{command}` exits {exit_code}")
            }
        }
    }
}

/// Where a BMC password comes from, for people: never the password itself.
pub fn secret_origin(source: &SecretSource) -> String {
    match source {
        SecretSource::Env(variable) => format!("password from ${variable}, not shown"),
        SecretSource::File(path) => format!("password from {}, not shown", path.display()),
    }
}
