//! Commands over SSH with libssh2 (`ssh2`): strict host keys, key-file or agent auth, every
//! call cut at its time limit.
//!
//! libssh2 is blocking, so each session runs on tokio's blocking pool, and a semaphore caps
//! how many sessions are open at once. One session per call: connect, handshake, check the
//! host key against known_hosts, authenticate, run, close. A host behind jump hosts is reached
//! through them (`ssh_jump.rs`), each hop logged in by `ssh_login.rs` with the same checks.

use std::io::{ErrorKind, Read};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Session};
use tokio::sync::Semaphore;

use super::ssh_jump::open_route;
pub use super::ssh_login::KEEPALIVE_INTERVAL_SECS;
use super::ssh_login::{is_would_block, millis, quick_ack, remaining, ssh_error, Endpoint};
use super::{tail, CommandOutput, Remote, TransportError, OUTPUT_TAIL_BYTES};
use crate::topology::Host;

/// Extra time the async side waits for a blocking session beyond its own deadline, before
/// giving up on it (the session itself is bounded by libssh2's timeout and our deadline).
const JOIN_GRACE: Duration = Duration::from_secs(2);

/// Longest single wait on the socket, so the deadline and keepalives are looked at often.
const POLL_SLICE: Duration = Duration::from_millis(200);

/// [`Remote`] over SSH with libssh2. Cheap to clone; clones share the session cap.
#[derive(Debug, Clone)]
pub struct SshRemote {
    sessions: Arc<Semaphore>,
    /// Boot polls have their own, smaller pool: thousands of hosts still booting must not
    /// hold every session slot while the hosts already up wait for their start commands.
    boot_polls: Arc<Semaphore>,
}

impl SshRemote {
    /// A transport with at most `max_sessions` SSH sessions open at once (at least 1).
    /// Around 20 saturates two cores; more only queues in the kernel.
    pub fn new(max_sessions: usize) -> Self {
        SshRemote {
            sessions: Arc::new(Semaphore::new(max_sessions.max(1))),
            boot_polls: Arc::new(Semaphore::new((max_sessions / 4).max(4))),
        }
    }

    /// Runs `job` on the blocking pool while holding a session permit, bounded in time.
    async fn run_blocking<T, F>(
        &self,
        pool: &Arc<Semaphore>,
        host: &Host,
        what: &str,
        timeout: Duration,
        job: F,
    ) -> Result<T, TransportError>
    where
        T: Send + 'static,
        F: FnOnce(Instant) -> Result<T, TransportError> + Send + 'static,
    {
        let permit = pool
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| other(host, "SSH session pool closed"))?;
        let deadline = Instant::now() + timeout;
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job(deadline)
        });
        match tokio::time::timeout(timeout + JOIN_GRACE, handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(other(host, &format!("SSH session task failed: {join}"))),
            Err(_) => Err(TransportError::Timeout {
                host: host.name.clone(),
                what: what.to_string(),
                after: timeout,
            }),
        }
    }
}

/// Wraps `command` so the host itself ends it at `timeout`, in the user's own shell.
fn remote_time_limit(command: &str, timeout: Duration) -> String {
    let seconds = timeout.as_secs_f64().ceil().max(1.0) as u64;
    format!(
        "timeout -k 5 {seconds} \"${{SHELL:-/bin/sh}}\" -c {}",
        crate::template::shell_quote(command)
    )
}

impl Remote for SshRemote {
    /// Runs `command` through the remote user's shell. Stdin is closed at once. The call is cut
    /// at `timeout` from the moment a session slot is free (connect included): the session is
    /// then dropped, which closes the connection. The host enforces the same limit itself
    /// (coreutils `timeout`, then KILL 5 s later), so a hung command does not linger there
    /// while its retry runs. A command that leaves a daemon holding its stdout or stderr open
    /// only ends at the timeout, so daemons must redirect their output.
    async fn exec(
        &self,
        host: &Host,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        let host_c = host.clone();
        let command_c = remote_time_limit(command, timeout);
        let what = format!("command `{}`", tail(command, 200));
        self.run_blocking(
            &self.sessions,
            host,
            &what.clone(),
            timeout,
            move |deadline| {
                let conn = Connection::open(&host_c, deadline)?;
                let output = conn.exec(&command_c, deadline, timeout, &what)?;
                conn.close();
                Ok(output)
            },
        )
        .await
    }

    /// Connects, checks the host key and authenticates, without running anything: "does SSH
    /// answer yet" after a power-on. The whole call is cut at `timeout` (and the connect at
    /// the host's `connect_timeout`), not counting the wait for a free session slot.
    async fn reachable(&self, host: &Host, timeout: Duration) -> Result<(), TransportError> {
        let host_c = host.clone();
        self.run_blocking(
            &self.boot_polls,
            host,
            "ssh connect",
            timeout,
            move |deadline| {
                let conn = Connection::open(&host_c, deadline)?;
                conn.close();
                Ok(())
            },
        )
        .await
    }
}

/// An authenticated session and its socket.
struct Connection<'h> {
    host: &'h Host,
    session: Session,
    fd: RawFd,
}

impl<'h> Connection<'h> {
    /// Connect (through the jump hosts, if any), handshake, strict host-key check of every
    /// hop, authenticate — all before `deadline`.
    fn open(host: &'h Host, deadline: Instant) -> Result<Self, TransportError> {
        let (session, fd) = open_route(host, deadline)?;
        Ok(Connection { host, session, fd })
    }

    /// Runs `command`, reading stdout and stderr without blocking until the channel closes or
    /// `deadline` passes.
    fn exec(
        &self,
        command: &str,
        deadline: Instant,
        limit: Duration,
        what: &str,
    ) -> Result<CommandOutput, TransportError> {
        let host = self.host;
        let timed_out = || TransportError::Timeout {
            host: host.name.clone(),
            what: what.to_string(),
            after: limit,
        };
        self.session.set_timeout(millis(remaining(deadline)));
        let end = Endpoint::host(host);
        let fail = |stage: &str, e: ssh2::Error| {
            ssh_error(&end, stage, e, limit, || {
                other(host, &format!("{stage} failed"))
            })
        };
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| fail("SSH channel open", e))?;
        quick_ack(self.fd);
        channel.exec(command).map_err(|e| fail("SSH exec", e))?;
        quick_ack(self.fd);
        channel.send_eof().map_err(|e| fail("SSH send eof", e))?;

        self.session.set_blocking(false);
        let mut stdout = Bounded::default();
        let mut stderr = Bounded::default();
        let mut buf = vec![0u8; 16 * 1024];
        let mut open = [true, true];
        while open[0] || open[1] {
            let mut progressed = false;
            for (index, sink) in [&mut stdout, &mut stderr].into_iter().enumerate() {
                if !open[index] {
                    continue;
                }
                let read = if index == 0 {
                    channel.read(&mut buf)
                } else {
                    channel.stderr().read(&mut buf)
                };
                match read {
                    // 0 is end of this stream (EOF, close, or a dead socket).
                    Ok(0) => open[index] = false,
                    Ok(n) => {
                        sink.push(&buf[..n]);
                        progressed = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(other(host, &format!("SSH read: {e}"))),
                }
            }
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            // A read on one stream may have drained the socket into libssh2's queue (other
            // stream's data, EOF): only wait on the socket when nothing is pending there.
            if !progressed && !channel.eof() {
                let _ = self.session.keepalive_send();
                self.wait_socket(deadline);
            }
        }
        // Closing our side at once carries the ACK sshd's last packets wait for (it does not
        // set TCP_NODELAY on non-interactive sessions), saving ~40 ms per command.
        let mut closed = false;
        loop {
            let step = if closed {
                channel.wait_close()
            } else {
                channel.close()
            };
            match step {
                Ok(()) if closed => break,
                Ok(()) => closed = true,
                Err(e) if is_would_block(&e) => {
                    if Instant::now() >= deadline {
                        return Err(timed_out());
                    }
                    self.wait_socket(deadline);
                }
                Err(e) => return Err(fail("SSH channel close", e)),
            }
        }
        let exit_code = match channel.exit_signal() {
            Ok(signal) if signal.exit_signal.is_some() => None,
            _ => Some(
                channel
                    .exit_status()
                    .map_err(|e| fail("SSH exit status", e))?,
            ),
        };
        Ok(CommandOutput {
            exit_code,
            stdout: stdout.finish(),
            stderr: stderr.finish(),
        })
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, at most
    /// [`POLL_SLICE`] and never past `deadline`.
    fn wait_socket(&self, deadline: Instant) {
        let events = match self.session.block_directions() {
            BlockDirections::Outbound => libc::POLLOUT,
            BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
        };
        let mut pollfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        let wait = remaining(deadline).min(POLL_SLICE);
        quick_ack(self.fd);
        // SAFETY: one valid pollfd for a socket the session owns for as long as `self` lives.
        unsafe {
            libc::poll(&mut pollfd, 1, wait.as_millis() as libc::c_int);
        }
    }

    /// Says goodbye; bounded by a short timeout, failures ignored.
    fn close(self) {
        self.session.set_blocking(true);
        self.session.set_timeout(500);
        let _ = self.session.disconnect(None, "done", None);
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        // Never block in libssh2's free functions on a session cut mid-command.
        self.session.set_blocking(false);
    }
}

/// Keeps about the last `2 * OUTPUT_TAIL_BYTES` bytes of a stream while it is read.
#[derive(Default)]
struct Bounded(Vec<u8>);

impl Bounded {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * OUTPUT_TAIL_BYTES {
            let cut = self.0.len() - OUTPUT_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }

    fn finish(self) -> String {
        tail(&String::from_utf8_lossy(&self.0), OUTPUT_TAIL_BYTES)
    }
}

fn other(host: &Host, detail: &str) -> TransportError {
    TransportError::Other {
        host: host.name.clone(),
        detail: detail.to_string(),
    }
}
