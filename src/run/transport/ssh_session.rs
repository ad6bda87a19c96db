//! One command on an authenticated session: the channel, its output read without blocking
//! until it closes or the deadline passes, and the session put back for the next call.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Session};

use super::ssh_jump::open_route;
use super::ssh_login::{is_would_block, millis, quick_ack, remaining, ssh_error, Endpoint};
use super::ssh_pool::{IdleSession, PoolKey, SessionPool};
use super::{tail, CommandOutput, TransportError, OUTPUT_TAIL_BYTES};
use crate::topology::Host;

/// Longest single wait on the socket, so the deadline and keepalives are looked at often.
const POLL_SLICE: Duration = Duration::from_millis(200);

/// A command that did not run to its end, and whether it had been sent to the host.
pub(super) struct ExecFailure {
    pub error: TransportError,
    /// False when the session failed before the command went out (safe to try again).
    pub sent: bool,
}

/// An authenticated session and its socket.
pub(super) struct Connection<'h> {
    host: &'h Host,
    link: IdleSession,
    /// Taken from the pool: it may have died while idle.
    reused: bool,
}

impl<'h> Connection<'h> {
    /// Connect (through the jump hosts, if any), handshake, strict host-key check of every
    /// hop, authenticate — all before `deadline`.
    pub(super) fn open(host: &'h Host, deadline: Instant) -> Result<Self, TransportError> {
        let (session, fd) = open_route(host, deadline)?;
        Ok(Connection {
            host,
            link: IdleSession::new(session, fd),
            reused: false,
        })
    }

    /// A session taken from the pool.
    pub(super) fn reused(host: &'h Host, link: IdleSession) -> Self {
        Connection {
            host,
            link,
            reused: true,
        }
    }

    fn session(&self) -> &Session {
        &self.link.session
    }

    /// Puts the session back for the host's next call.
    pub(super) fn keep(self, idle: &SessionPool, key: PoolKey) {
        idle.put(key, self.link.idle_from_now());
    }

    /// Runs `command`, reading stdout and stderr without blocking until the channel closes or
    /// `deadline` passes.
    pub(super) fn exec(
        &self,
        command: &str,
        deadline: Instant,
        limit: Duration,
        what: &str,
    ) -> Result<CommandOutput, ExecFailure> {
        let sent = |error| ExecFailure { error, sent: true };
        let host = self.host;
        let fail = |stage: &str, e: ssh2::Error| self.fail(stage, e, limit);
        let fd = self.link.fd;
        let session = self.session();
        session.set_blocking(true);
        // A session that died while idle must not eat the call's time: its channel gets at
        // most a connect timeout, and a fresh login the rest.
        let open_limit = if self.reused {
            remaining(deadline).min(host.ssh.login.connect_timeout)
        } else {
            remaining(deadline)
        };
        session.set_timeout(millis(open_limit));
        let began = Instant::now();
        let mut channel = session.channel_session().map_err(|e| ExecFailure {
            error: fail("SSH channel open", e),
            sent: false,
        })?;
        let opened = began.elapsed();
        session.set_timeout(millis(remaining(deadline)));
        quick_ack(fd);
        channel
            .exec(command)
            .map_err(|e| sent(fail("SSH exec", e)))?;
        let executed = began.elapsed();
        let mut stages = Stages::default();
        let output = self
            .run_to_end(channel, deadline, limit, what, &mut stages)
            .map_err(sent)?;
        tracing::debug!(
            host = %host.name,
            reused = self.reused,
            channel_ms = ms(opened),
            exec_ms = ms(executed),
            output_ms = ms(began.elapsed() - stages.left_after_output),
            waits = stages.waits,
            total_ms = ms(began.elapsed()),
            "SSH exec stages (from the channel open)"
        );
        Ok(output)
    }

    /// The error for libssh2's `e` at `stage` of a call limited to `limit`.
    fn fail(&self, stage: &str, e: ssh2::Error, limit: Duration) -> TransportError {
        let end = Endpoint::host(self.host);
        ssh_error(&end, stage, false, e, limit, || {
            end.other(&format!("{stage} failed"))
        })
    }

    /// Sends EOF, then reads stdout and stderr without blocking until the channel closes or
    /// `deadline` passes.
    fn run_to_end(
        &self,
        mut channel: ssh2::Channel,
        deadline: Instant,
        limit: Duration,
        what: &str,
        stages: &mut Stages,
    ) -> Result<CommandOutput, TransportError> {
        let host = self.host;
        let timed_out = || TransportError::Timeout {
            host: host.name.clone(),
            what: what.to_string(),
            after: limit,
            reaching: false,
        };
        let fail = |stage: &str, e: ssh2::Error| self.fail(stage, e, limit);
        quick_ack(self.link.fd);
        channel.send_eof().map_err(|e| fail("SSH send eof", e))?;

        self.session().set_blocking(false);
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
                    Err(e) => return Err(Endpoint::host(host).other(&format!("SSH read: {e}"))),
                }
            }
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            // A read on one stream may have drained the socket into libssh2's queue (other
            // stream's data, EOF): only wait on the socket when nothing is pending there.
            if !progressed && !channel.eof() {
                let _ = self.session().keepalive_send();
                stages.waits += 1;
                self.wait_socket(deadline);
            }
        }
        let output_at = Instant::now();
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
                    stages.waits += 1;
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
        stages.left_after_output = output_at.elapsed();
        Ok(CommandOutput {
            exit_code,
            stdout: stdout.finish(),
            stderr: stderr.finish(),
            bmc: None,
        })
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, at most
    /// [`POLL_SLICE`] and never past `deadline`.
    fn wait_socket(&self, deadline: Instant) {
        let events = match self.session().block_directions() {
            BlockDirections::Outbound => libc::POLLOUT,
            BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
        };
        let mut pollfd = libc::pollfd {
            fd: self.link.fd,
            events,
            revents: 0,
        };
        let wait = remaining(deadline).min(POLL_SLICE);
        quick_ack(self.link.fd);
        // SAFETY: one valid pollfd for a socket the session owns for as long as `self` lives.
        unsafe {
            libc::poll(&mut pollfd, 1, wait.as_millis() as libc::c_int);
        }
    }
}

/// Where an exec's time went, for its debug line.
#[derive(Default)]
struct Stages {
    /// Time from the end of the output to the exit status (channel close).
    left_after_output: Duration,
    /// Waits on the socket.
    waits: u32,
}

/// Milliseconds with a decimal, for timing lines.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Keeps about the last `2 * OUTPUT_TAIL_BYTES` bytes of a stream while it is read.
#[derive(Default)]
pub(super) struct Bounded(Vec<u8>);

impl Bounded {
    /// Appends `bytes`, dropping the oldest past twice the kept tail.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * OUTPUT_TAIL_BYTES {
            let cut = self.0.len() - OUTPUT_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }

    /// The kept tail, as text.
    pub(super) fn finish(self) -> String {
        tail(&String::from_utf8_lossy(&self.0), OUTPUT_TAIL_BYTES)
    }
}
