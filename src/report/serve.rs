//! The live status page: a small read-only HTTP server that answers `GET /` with the
//! report, drawn again from the journal file. It runs on its own thread with its own
//! single-threaded runtime, so it never takes a worker from the run, and it only reads
//! files: it holds no lock the run needs.
//!
//! Loopback only unless asked otherwise; with a token, every request must carry it
//! (`?token=T`, or the header `Authorization: Bearer T`).

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Draws the page, or says why it cannot.
pub type Render = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// How the page is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Required on every request, when set.
    pub token: Option<String>,
    /// Listen on an address other than loopback (the page shows host names and commands).
    pub allow_remote: bool,
}

/// A running server: its address (with the port chosen, for port 0).
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    _thread: std::thread::JoinHandle<()>,
}

/// Refuses a non-loopback address unless `allow_remote`.
pub fn check_addr(addr: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "{addr} is not a loopback address: the status page shows host names and commands; \
             pass --allow-remote to serve it there anyway (and consider --token)"
        ))
    }
}

/// Binds `options.addr` and serves `render` on a thread of its own until the process ends.
pub fn spawn(options: ServeOptions, render: Render) -> Result<Server, String> {
    check_addr(options.addr, options.allow_remote)?;
    // Bound here, not on the thread: a port in use is reported before the run starts.
    let listener = TcpListener::bind(options.addr)
        .map_err(|err| format!("cannot listen on {}: {err}", options.addr))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("cannot read the listening address: {err}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|err| format!("cannot set up {addr}: {err}"))?;
    let token = options.token.map(Arc::new);
    let thread = std::thread::Builder::new()
        .name("status-page".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::error!("status page: no runtime: {err}");
                    return;
                }
            };
            runtime.block_on(accept(listener, token, render));
        })
        .map_err(|err| format!("cannot start the status page thread: {err}"))?;
    Ok(Server {
        addr,
        _thread: thread,
    })
}

async fn accept(listener: TcpListener, token: Option<Arc<String>>, render: Render) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("status page: {err}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (token, render) = (token.clone(), render.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = answer(&request, token.as_deref().map(String::as_str), &render);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-type", content_type);
    set("cache-control", "no-store");
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "no-referrer");
    response
}

/// True when `request` carries `token` in its query or its Authorization header.
pub fn authorized<B>(request: &Request<B>, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let in_query = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .any(|(key, value)| key == "token" && same(value, token))
    });
    let in_header = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|value| same(value.trim(), token));
    in_query || in_header
}

/// Compares without stopping at the first difference, so timing tells nothing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn answer<B>(request: &Request<B>, token: Option<&str>, render: &Render) -> Response<Full<Bytes>> {
    let text = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            "read-only: GET only\n".into(),
        );
    }
    if !authorized(request, token) {
        return respond(
            StatusCode::UNAUTHORIZED,
            text,
            "a token is required: add ?token=... or Authorization: Bearer ...\n".into(),
        );
    }
    if request.uri().path() != "/" {
        return respond(StatusCode::NOT_FOUND, text, "not found: try /\n".into());
    }
    match render() {
        Ok(page) => respond(StatusCode::OK, "text/html; charset=utf-8", page),
        Err(why) => respond(StatusCode::SERVICE_UNAVAILABLE, text, format!("{why}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, header: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = header {
            builder = builder.header("authorization", value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_token_is_taken_from_the_query_or_the_header_and_nothing_else() {
        let token = Some("s3cret");
        assert!(authorized(&request("/?token=s3cret", None), token));
        assert!(authorized(&request("/", Some("Bearer s3cret")), token));
        assert!(!authorized(&request("/?token=s3cre", None), token));
        assert!(!authorized(&request("/", Some("Bearer nope")), token));
        assert!(!authorized(&request("/", None), token));
        assert!(authorized(&request("/", None), None));
    }

    #[test]
    fn only_loopback_unless_asked() {
        assert!(check_addr("127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(check_addr("[::1]:0".parse().unwrap(), false).is_ok());
        assert!(check_addr("0.0.0.0:8080".parse().unwrap(), false).is_err());
        assert!(check_addr("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }

    #[test]
    fn only_get_is_answered() {
        let render: Render = Arc::new(|| Ok("<p>page</p>".to_string()));
        let post = Request::builder().method("POST").uri("/").body(()).unwrap();
        assert_eq!(
            answer(&post, None, &render).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            answer(&request("/", None), None, &render).status(),
            StatusCode::OK
        );
        assert_eq!(
            answer(&request("/x", None), None, &render).status(),
            StatusCode::NOT_FOUND
        );
    }
}
