//! One HTTP/1.1 request over a fresh connection, plain or TLS (hyper over tokio-rustls):
//! shared by health checks and Redfish BMCs. Not time-limited itself: callers wrap it.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpStream;

use super::tls;
use crate::topology::TlsTrust;

/// Why a request got no answer.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum HttpError {
    /// The URL cannot be requested.
    #[error("bad URL {url:?}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No TCP connection.
    #[error("{method} {url}: connect: {detail}")]
    Connect {
        /// Method.
        method: Method,
        /// The URL.
        url: String,
        /// The OS's error.
        detail: String,
    },
    /// The TLS handshake failed: most often the peer's certificate was refused.
    #[error("{method} {url}: TLS: {detail} (trusting {trust})")]
    Tls {
        /// Method.
        method: Method,
        /// The URL.
        url: String,
        /// rustls's error.
        detail: String,
        /// Which CAs were trusted.
        trust: String,
    },
    /// The exchange broke off.
    #[error("{method} {url}: {detail}")]
    Protocol {
        /// Method.
        method: Method,
        /// The URL.
        url: String,
        /// hyper's error.
        detail: String,
    },
}

/// An answer whose body is still to be read. Dropping it closes the connection.
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    body: Incoming,
    _driver: AbortOnDrop,
}

impl HttpResponse {
    /// The body as text (lossy UTF-8), at most `limit` bytes.
    pub async fn text(self, limit: usize) -> Result<String, String> {
        let collected = Limited::new(self.body, limit)
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&collected.to_bytes()).into_owned())
    }
}

/// Sends one request to `url` (`http://` or `https://`); TLS peers verified per `trust`.
/// `Connection: close` is sent: every request has its own connection.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: Option<String>,
    trust: &TlsTrust,
) -> Result<HttpResponse, HttpError> {
    let bad = |why: String| HttpError::BadUrl {
        url: url.to_string(),
        why,
    };
    let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    let secure = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => return Err(bad(format!("scheme {other} is not supported"))),
        None => return Err(bad("no scheme".into())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| bad("no host".into()))?
        .clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority
        .port_u16()
        .unwrap_or(if secure { 443 } else { 80 });
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| HttpError::Connect {
            method: method.clone(),
            url: url.to_string(),
            detail: e.to_string(),
        })?;
    let _ = stream.set_nodelay(true);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::USER_AGENT, "blackstart")
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let protocol = |e: &dyn std::fmt::Display| HttpError::Protocol {
        method: method.clone(),
        url: url.to_string(),
        detail: e.to_string(),
    };
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| protocol(&e))?;
    let tls_error = |detail: String| HttpError::Tls {
        method: method.clone(),
        url: url.to_string(),
        detail,
        trust: if trust.insecure {
            "anything (insecure: true)".into()
        } else {
            tls::trust_origin(trust)
        },
    };
    let response = if secure {
        let connector = tls::connector(trust).map_err(tls_error)?;
        let name = tls::server_name(host).map_err(tls_error)?;
        let stream = connector.connect(name, stream).await.map_err(|e| {
            // rustls's own error (an unknown issuer, a name mismatch) is inside the io::Error.
            let detail = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map_or_else(|| e.to_string(), tls::explain);
            tls_error(detail)
        })?;
        exchange(TokioIo::new(stream), request).await
    } else {
        exchange(TokioIo::new(stream), request).await
    };
    response.map_err(|e| protocol(&e))
}

async fn exchange<IO>(io: IO, request: Request<Full<Bytes>>) -> Result<HttpResponse, hyper::Error>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        _driver: driver,
    })
}

/// Stops the connection task when the response is dropped, whichever way.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
