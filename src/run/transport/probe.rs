//! Health probes straight at the service: a TCP connect, an HTTP or https GET (hyper over
//! rustls, the peer verified against the system's CAs or the check's `ca_file`), or a command
//! over the [`Remote`] transport.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::net::TcpStream;

use super::{http, tail, Probe, Remote};
use crate::event::Reason;
use crate::plan::actions::RenderedCheck;
use crate::topology::{Host, TlsTrust};

/// Most bytes of a response body read for the `body` check.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most bytes of output quoted when a probe fails.
const QUOTE: usize = 300;

/// [`Probe`] that runs each check itself: TCP and HTTP from this machine, commands through
/// `R` (usually [`super::ssh::SshRemote`]).
#[derive(Debug, Clone)]
pub struct DirectProbe<R: Remote> {
    remote: Arc<R>,
}

impl<R: Remote> DirectProbe<R> {
    /// Probes that run command checks through `remote` (shared with the executor).
    pub fn new(remote: Arc<R>) -> Self {
        DirectProbe { remote }
    }

    /// The transport command checks go through.
    pub fn remote(&self) -> &R {
        &self.remote
    }
}

impl<R: Remote> Probe for DirectProbe<R> {
    async fn check(
        &self,
        host: &Host,
        check: &RenderedCheck,
        timeout: Duration,
    ) -> Result<(), Reason> {
        let failed = |detail| Reason::CheckFailed { detail };
        match check {
            RenderedCheck::Tcp { address, port } => {
                tcp(address, *port, timeout).await.map_err(failed)
            }
            RenderedCheck::Http(http) => {
                let get = http_get(&http.url, http.status, http.body.as_deref(), &http.tls);
                match tokio::time::timeout(timeout, get).await {
                    Ok(result) => result.map_err(failed),
                    Err(_) => Err(failed(format!(
                        "GET {}: no answer within {timeout:?}",
                        http.url
                    ))),
                }
            }
            RenderedCheck::Command { command, exit_code } => {
                // The transport's own failure keeps its type: a host gone is not a failed
                // check.
                let output = self
                    .remote
                    .exec(host, command, timeout)
                    .await
                    .map_err(|e| e.ssh_reason("health check"))?;
                match output.exit_code {
                    Some(code) if code == *exit_code => Ok(()),
                    got => Err(failed(format!(
                        "`{command}` exited {}, expected {exit_code}{}",
                        got.map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
                        quote(" stderr: ", &output.stderr)
                    ))),
                }
            }
        }
    }
}

/// A TCP connect to `address:port` within `timeout`.
pub async fn tcp(address: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let target = (address.trim_start_matches('[').trim_end_matches(']'), port);
    match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(format!("tcp {address}:{port}: {e}")),
        Err(_) => Err(format!(
            "tcp {address}:{port}: no connection within {timeout:?}"
        )),
    }
}

/// A GET of `url` (`http://` or `https://`, the peer verified as `tls` says) expecting
/// `status` and, when given, `body` within the first [`MAX_BODY_BYTES`] of the response.
/// Not time-limited itself: wrap it in a timeout.
pub async fn http_get(
    url: &str,
    status: u16,
    body: Option<&str>,
    tls: &TlsTrust,
) -> Result<(), String> {
    let response = http::send(Method::GET, url, &[], None, tls)
        .await
        .map_err(|e| e.to_string())?;
    let got = response.status;
    let wanted_body = body.filter(|b| !b.is_empty());
    if got != status {
        let text = response.text(MAX_BODY_BYTES).await.unwrap_or_default();
        return Err(format!(
            "GET {url} answered {got}, expected {status}{}",
            quote(" body: ", &text)
        ));
    }
    if let Some(needle) = wanted_body {
        let text = response
            .text(MAX_BODY_BYTES)
            .await
            .map_err(|e| format!("GET {url}: reading body: {e}"))?;
        if !text.contains(needle) {
            return Err(format!(
                "GET {url} answered {got} but the body lacks {needle:?}{}",
                quote(" body: ", &text)
            ));
        }
    }
    Ok(())
}

fn quote(label: &str, text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("{label}{:?}", tail(text, QUOTE))
    }
}
