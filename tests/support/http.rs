//! A bounded HTTP GET for the status page tests: nothing else is needed to read it.

use std::io::{Read, Write};
use std::time::Duration;

/// The whole response (headers and body) to `GET /` on `addr`, or none when nothing
/// answers within a few seconds.
pub fn get(addr: &str) -> Option<String> {
    get_path(addr, "/")
}

/// The whole response to `GET PATH` (a path with its query, e.g. `/?token=T`) on `addr`,
/// or none when nothing answers within a few seconds.
pub fn get_path(addr: &str, path: &str) -> Option<String> {
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}
