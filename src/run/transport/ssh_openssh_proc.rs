//! The `ssh` processes of the system-ssh client: every one a child of this process, its
//! output read while it runs (bounded), cut at its limit and killed when dropped; and the
//! private directory of the control sockets.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::ssh_openssh_args::exit_argv;
use super::ssh_session::Bounded;
use super::TransportError;
use crate::topology::Host;

/// The program run: `ssh` on the PATH.
pub(super) const PROGRAM: &str = "ssh";

/// Longest wait for one `ssh -O exit`.
const EXIT_LIMIT: Duration = Duration::from_secs(3);

/// What a call's ssh ended with.
pub(super) struct Ended {
    /// Exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// The tail of its stdout.
    pub stdout: String,
    /// The tail of its stderr.
    pub stderr: String,
}

/// A new directory only this user can enter, for the control sockets (short: a Unix
/// socket's path is limited to about 100 bytes).
pub(super) fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 40 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    let mut last = None;
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!(
            "bs-ssh-{}-{:x}",
            std::process::id(),
            nanos ^ attempt
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no attempt")))
}

/// Asks each master to exit, side by side; each `ssh -O exit` is killed past [`EXIT_LIMIT`].
pub(super) fn close_masters(sockets: &[PathBuf]) {
    let mut children: Vec<std::process::Child> = sockets
        .iter()
        .filter_map(|socket| {
            std::process::Command::new(PROGRAM)
                .args(exit_argv(socket))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .collect();
    let deadline = Instant::now() + EXIT_LIMIT;
    while !children.is_empty() && Instant::now() < deadline {
        children.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
        std::thread::sleep(Duration::from_millis(10));
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs `ssh args` with stdin closed, reading both streams (bounded) until it exits; `None`
/// when `limit` passed first (the child is then killed).
pub(super) async fn run(
    host: &Host,
    args: Vec<OsString>,
    limit: Duration,
) -> Result<Option<Ended>, TransportError> {
    let mut child = tokio::process::Command::new(PROGRAM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TransportError::Config {
            host: host.name.clone(),
            detail: format!("cannot run the system `{PROGRAM}` ({e}); install openssh-client, or use the built-in client"),
        })?;
    let stdout = child.stdout.take().map(read_bounded);
    let stderr = child.stderr.take().map(read_bounded);
    // Read while waiting: a command writing more than a pipe holds would never exit.
    let work = async { tokio::join!(child.wait(), text(stdout), text(stderr)) };
    match tokio::time::timeout(limit, work).await {
        Err(_) => Ok(None),
        Ok((Err(e), _, _)) => Err(TransportError::Other {
            host: host.name.clone(),
            detail: format!("waiting for the system ssh: {e}"),
        }),
        Ok((Ok(status), stdout, stderr)) => Ok(Some(Ended {
            code: status.code(),
            stdout,
            stderr,
        })),
    }
}

/// The text of a stream being read, or nothing without one.
async fn text(reading: Option<impl std::future::Future<Output = String>>) -> String {
    match reading {
        Some(reading) => reading.await,
        None => String::new(),
    }
}

/// Reads a stream to its end, keeping its tail.
async fn read_bounded<R: AsyncRead + Unpin>(mut stream: R) -> String {
    let mut kept = Bounded::default();
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.push(&buf[..n]);
    }
    kept.finish()
}
