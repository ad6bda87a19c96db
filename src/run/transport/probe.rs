//! Health probes straight at the service: a TCP connect, a plain-HTTP GET (hyper, HTTP/1.1),
//! or a command over the [`Remote`] transport.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{tail, Probe, Remote};
use crate::plan::actions::RenderedCheck;
use crate::topology::Host;

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
    ) -> Result<(), String> {
        match check {
            RenderedCheck::Tcp { address, port } => tcp(address, *port, timeout).await,
            RenderedCheck::Http { url, status, body } => {
                match tokio::time::timeout(timeout, http_get(url, *status, body.as_deref())).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("GET {url}: no answer within {timeout:?}")),
                }
            }
            RenderedCheck::Command { command, exit_code } => {
                let output = self
                    .remote
                    .exec(host, command, timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                match output.exit_code {
                    Some(code) if code == *exit_code => Ok(()),
                    got => Err(format!(
                        "`{command}` exited {}, expected {exit_code}{}",
                        got.map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
                        quote(" stderr: ", &output.stderr)
                    )),
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

/// A plain-HTTP GET of `url` expecting `status` and, when given, `body` within the first
/// [`MAX_BODY_BYTES`] of the response. Not time-limited itself: wrap it in a timeout.
pub async fn http_get(url: &str, status: u16, body: Option<&str>) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "GET {url}: scheme {other} is not supported (http only)"
            ))
        }
        None => return Err(format!("bad URL {url:?}: no scheme")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("bad URL {url:?}: no host"))?
        .clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("GET {url}: connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let driver = AbortOnDrop(tokio::spawn(connection));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::USER_AGENT, "blackstart-probe")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let got = response.status().as_u16();
    let wanted_body = body.filter(|b| !b.is_empty());
    if got != status {
        let text = read_body(response.into_body()).await.unwrap_or_default();
        return Err(format!(
            "GET {url} answered {got}, expected {status}{}",
            quote(" body: ", &text)
        ));
    }
    if let Some(needle) = wanted_body {
        let text = read_body(response.into_body())
            .await
            .map_err(|e| format!("GET {url}: reading body: {e}"))?;
        if !text.contains(needle) {
            return Err(format!(
                "GET {url} answered {got} but the body lacks {needle:?}{}",
                quote(" body: ", &text)
            ));
        }
    }
    drop(driver);
    Ok(())
}

async fn read_body(body: hyper::body::Incoming) -> Result<String, String> {
    let collected = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&collected.to_bytes()).into_owned())
}

fn quote(label: &str, text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("{label}{:?}", tail(text, QUOTE))
    }
}

/// Stops the connection task when the probe ends, whichever way.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
