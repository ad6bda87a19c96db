//! Commands over SSH with libssh2 (`ssh2`): strict host keys, key-file or agent auth, every
//! call cut at its time limit.
//!
//! libssh2 is blocking, so each session runs on tokio's blocking pool, and a semaphore caps
//! how many sessions are open at once. One session per call: connect, handshake, check the
//! host key against known_hosts, authenticate, run, close.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, CheckResult, KnownHostFileKind, Session};
use tokio::sync::Semaphore;

use super::{tail, CommandOutput, Remote, TransportError, OUTPUT_TAIL_BYTES};
use crate::topology::Host;

/// Seconds between SSH keepalives on a long-running command.
pub const KEEPALIVE_INTERVAL_SECS: u32 = 15;

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
    /// Connect, handshake, strict host-key check, authenticate — all before `deadline`.
    fn open(host: &'h Host, deadline: Instant) -> Result<Self, TransportError> {
        let ssh = &host.ssh;
        let connect_limit = remaining(deadline).min(ssh.connect_timeout);
        let connect_deadline = Instant::now() + connect_limit;
        let tcp = connect_tcp(host, connect_deadline)?;
        let fd = tcp.as_raw_fd();
        let mut session = Session::new().map_err(|e| other(host, &format!("libssh2: {e}")))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(millis(remaining(connect_deadline)));
        session.handshake().map_err(|e| {
            ssh_error(host, "SSH handshake", e, connect_limit, || {
                TransportError::Unreachable {
                    host: host.name.clone(),
                    detail: "SSH handshake failed".into(),
                }
            })
        })?;
        check_host_key(host, &session)?;

        session.set_timeout(millis(remaining(deadline)));
        let auth = match &ssh.key {
            Some(key) => session
                .userauth_pubkey_file(&ssh.user, None, key, None)
                .map_err(|e| format!("key {}: {}", key.display(), e.message())),
            None => session
                .userauth_agent(&ssh.user)
                .map_err(|e| format!("ssh-agent: {}", e.message())),
        };
        if let Err(detail) = auth {
            return Err(TransportError::Auth {
                host: host.name.clone(),
                detail: format!("user {}: {detail}", ssh.user),
            });
        }
        if !session.authenticated() {
            return Err(TransportError::Auth {
                host: host.name.clone(),
                detail: format!("user {} not accepted", ssh.user),
            });
        }
        session.set_keepalive(false, KEEPALIVE_INTERVAL_SECS);
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
        let fail = |stage: &str, e: ssh2::Error| {
            ssh_error(host, stage, e, limit, || {
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

/// Asks the kernel to acknowledge incoming data at once. sshd does not set TCP_NODELAY on
/// non-interactive sessions, so its small closing packets wait for our ACK (Nagle), which
/// delayed ACK holds back ~40 ms. Linux resets the flag now and then, so it is set before
/// every wait.
fn quick_ack(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a valid socket fd and a c_int option value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn connect_tcp(host: &Host, deadline: Instant) -> Result<TcpStream, TransportError> {
    let port = host.ssh.port;
    let addrs = (host.address.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| TransportError::Unreachable {
            host: host.name.clone(),
            detail: format!("cannot resolve {}: {e}", host.address),
        })?;
    let mut last = format!("{} resolves to no address", host.address);
    for addr in addrs {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(TransportError::Timeout {
                host: host.name.clone(),
                what: format!("SSH connect to {}:{port}", host.address),
                after: host.ssh.connect_timeout,
            });
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => {
                tcp.set_nodelay(true)
                    .map_err(|e| other(host, &format!("TCP_NODELAY: {e}")))?;
                return Ok(tcp);
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                return Err(TransportError::Timeout {
                    host: host.name.clone(),
                    what: format!("SSH connect to {addr}"),
                    after: host.ssh.connect_timeout,
                })
            }
            Err(e) => last = format!("connect to {addr}: {e}"),
        }
    }
    Err(TransportError::Unreachable {
        host: host.name.clone(),
        detail: last,
    })
}

/// Strict checking: unknown and changed keys are refused, naming the host and known_hosts.
/// With strict checking off they are accepted with a loud warning.
fn check_host_key(host: &Host, session: &Session) -> Result<(), TransportError> {
    let ssh = &host.ssh;
    let path = ssh.known_hosts.display().to_string();
    let verdict = (|| -> Result<(), String> {
        let (key, _) = session
            .host_key()
            .ok_or_else(|| "the server sent no host key".to_string())?;
        let mut known = session.known_hosts().map_err(|e| e.to_string())?;
        known
            .read_file(&ssh.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| format!("cannot read known_hosts {path}: {}", e.message()))?;
        match known.check_port(&host.address, ssh.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(format!(
                "the key of {}:{} DIFFERS from the one in {path} (changed key or impostor)",
                host.address, ssh.port
            )),
            CheckResult::NotFound => Err(format!(
                "{}:{} is not in {path} (unknown host; add its key, no trust on first use)",
                host.address, ssh.port
            )),
            CheckResult::Failure => Err(format!("checking against {path} failed")),
        }
    })();
    match verdict {
        Ok(()) => Ok(()),
        Err(detail) if ssh.strict_host_key_checking => Err(TransportError::HostKey {
            host: host.name.clone(),
            detail,
        }),
        Err(detail) => {
            tracing::warn!(
                host = %host.name,
                "ACCEPTING an unverified SSH host key because strict_host_key_checking is off: {detail}"
            );
            Ok(())
        }
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

const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

fn is_would_block(e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

/// Maps a libssh2 error: its timeout becomes [`TransportError::Timeout`], anything else what
/// `otherwise` builds, with libssh2's message appended.
fn ssh_error(
    host: &Host,
    stage: &str,
    e: ssh2::Error,
    after: Duration,
    otherwise: impl FnOnce() -> TransportError,
) -> TransportError {
    if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
        return TransportError::Timeout {
            host: host.name.clone(),
            what: stage.to_string(),
            after,
        };
    }
    match otherwise() {
        TransportError::Unreachable { host, detail } => TransportError::Unreachable {
            host,
            detail: format!("{detail}: {}", e.message()),
        },
        TransportError::Other { host, detail } => TransportError::Other {
            host,
            detail: format!("{detail}: {}", e.message()),
        },
        err => err,
    }
}

fn other(host: &Host, detail: &str) -> TransportError {
    TransportError::Other {
        host: host.name.clone(),
        detail: detail.to_string(),
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// libssh2 timeouts in ms; 0 would mean "no timeout", so at least 1.
fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}
