//! Commands over SSH with libssh2 (`ssh2`): strict host keys, key-file or agent auth, every
//! call cut at its time limit.
//!
//! libssh2 is blocking, so each call runs on tokio's blocking pool, and a semaphore caps how
//! many sessions are busy at once. A login (connect, handshake, host key checked against
//! known_hosts, authenticate) is kept after its call and reused by the next call for the same
//! host (`ssh_pool.rs`): the boot poll's session runs the start command, the start's session
//! the command checks. A reused session that turns out dead before its command was sent is
//! replaced by a fresh login in the same call. A host behind jump hosts is reached through
//! them (`ssh_jump.rs`), each hop logged in by `ssh_login.rs` with the same checks; its
//! session is kept and reused like any other, its bridges open while it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::ssh_login::Endpoint;
pub use super::ssh_login::KEEPALIVE_INTERVAL_SECS;
use super::ssh_openssh::Openssh;
use super::ssh_pool::{PoolKey, SessionPool};
use super::ssh_session::Connection;
use super::{tail, CommandOutput, Remote, TransportError};
use crate::topology::{Host, OpensshClient};

/// Extra time the async side waits for a blocking session beyond its own deadline, before
/// giving up on it (the session itself is bounded by libssh2's timeout and our deadline).
const JOIN_GRACE: Duration = Duration::from_secs(2);

/// [`Remote`] over SSH with libssh2. Cheap to clone; clones share the session cap and the
/// idle sessions.
#[derive(Debug, Clone)]
pub struct SshRemote {
    sessions: Arc<Semaphore>,
    /// Boot polls have their own, smaller pool: thousands of hosts still booting must not
    /// hold every session slot while the hosts already up wait for their start commands.
    boot_polls: Arc<Semaphore>,
    /// Logins kept between calls.
    idle: Arc<SessionPool>,
    /// The ControlMasters of hosts reached by the system ssh (`client: openssh`).
    openssh: Arc<Openssh>,
}

impl SshRemote {
    /// A transport with at most `max_sessions` SSH sessions open at once (at least 1).
    /// Around 20 saturates two cores; more only queues in the kernel.
    pub fn new(max_sessions: usize) -> Self {
        SshRemote {
            sessions: Arc::new(Semaphore::new(max_sessions.max(1))),
            boot_polls: Arc::new(Semaphore::new((max_sessions / 4).max(4))),
            idle: Arc::new(SessionPool::new()),
            openssh: Arc::new(Openssh::new()),
        }
    }

    /// Runs `command` on a host of `client: openssh` through the system ssh, holding a
    /// session permit of `pool` like a built-in session.
    async fn openssh_exec(
        &self,
        host: &Host,
        client: &OpensshClient,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        let _permit = self.permit(&self.sessions, host).await?;
        let what = format!("command `{}`", tail(command, 200));
        let wrapped = remote_time_limit(command, timeout);
        self.openssh
            .exec(host, client, &wrapped, timeout, &what)
            .await
    }

    /// A permit of `pool`.
    async fn permit(
        &self,
        pool: &Arc<Semaphore>,
        host: &Host,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, TransportError> {
        pool.clone()
            .acquire_owned()
            .await
            .map_err(|_| Endpoint::host(host).other("SSH session pool closed"))
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
        let asked = Instant::now();
        let permit = self.permit(pool, host).await?;
        let deadline = Instant::now() + timeout;
        let name = host.name.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Time spent before libssh2 is touched: waiting for a session slot, then for a
            // thread of the blocking pool.
            tracing::debug!(
                host = %name,
                queued_ms = asked.elapsed().as_secs_f64() * 1000.0,
                "SSH call on its thread"
            );
            job(deadline)
        });
        match tokio::time::timeout(timeout + JOIN_GRACE, handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => {
                Err(Endpoint::host(host).other(&format!("SSH session task failed: {join}")))
            }
            Err(_) => Err(TransportError::Timeout {
                host: host.name.clone(),
                what: what.to_string(),
                after: timeout,
                reaching: false,
            }),
        }
    }
}

/// Wraps `command` so the host itself ends it at `timeout`, in the user's own shell.
pub(super) fn remote_time_limit(command: &str, timeout: Duration) -> String {
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
        if let Some(client) = &host.ssh.openssh {
            return self.openssh_exec(host, client, command, timeout).await;
        }
        let host_c = host.clone();
        let command_c = remote_time_limit(command, timeout);
        let what = format!("command `{}`", tail(command, 200));
        let idle = self.idle.clone();
        self.run_blocking(
            &self.sessions,
            host,
            &what.clone(),
            timeout,
            move |deadline| {
                let key = PoolKey::of(&host_c);
                if let Some(link) = idle.take(&key) {
                    let conn = Connection::reused(&host_c, link);
                    match conn.exec(&command_c, deadline, timeout, &what) {
                        Ok(output) => {
                            conn.keep(&idle, key);
                            return Ok(output);
                        }
                        Err(failed) if failed.sent => return Err(failed.error),
                        // Dead before the command went out: log in afresh, below.
                        Err(failed) => tracing::debug!(host = %host_c.name, "idle SSH session unusable, logging in again: {}", failed.error),
                    }
                }
                let conn = Connection::open(&host_c, deadline)?;
                let output = conn
                    .exec(&command_c, deadline, timeout, &what)
                    .map_err(|failed| failed.error)?;
                conn.keep(&idle, key);
                Ok(output)
            },
        )
        .await
    }

    /// Connects, checks the host key and authenticates, without running anything: "does SSH
    /// answer yet" after a power-on. The whole call is cut at `timeout` (and the connect at
    /// the host's `connect_timeout`), not counting the wait for a free session slot.
    ///
    /// The login is kept for the host's next command.
    async fn reachable(&self, host: &Host, timeout: Duration) -> Result<(), TransportError> {
        if let Some(client) = &host.ssh.openssh {
            let _permit = self.permit(&self.boot_polls, host).await?;
            return self.openssh.reachable(host, client, timeout).await;
        }
        let host_c = host.clone();
        let idle = self.idle.clone();
        self.run_blocking(
            &self.boot_polls,
            host,
            "ssh connect",
            timeout,
            move |deadline| {
                let conn = Connection::open(&host_c, deadline)?;
                conn.keep(&idle, PoolKey::of(&host_c));
                Ok(())
            },
        )
        .await
    }

    /// A TCP connect to the host's SSH port when it is reached directly (a SYN, no
    /// handshake: cheap enough to ask of every slow start); through jump hosts, a login.
    /// With `client: openssh`, `true` through the host's master (its route is ssh's business).
    async fn alive(&self, host: &Host, timeout: Duration) -> Result<(), TransportError> {
        if let Some(client) = &host.ssh.openssh {
            let output = self.openssh_exec(host, client, "true", timeout).await?;
            return match output.exit_code {
                Some(0) => Ok(()),
                code => Err(Endpoint::host(host).other(&format!("`true` exited with {code:?}"))),
            };
        }
        if !host.ssh.jumps.is_empty() {
            return self.reachable(host, timeout).await;
        }
        let port = host.ssh.login.port;
        super::probe::tcp(&host.address, port, timeout)
            .await
            .map_err(|detail| TransportError::Unreachable {
                host: host.name.clone(),
                detail,
            })
    }

    /// Closes the host's idle sessions: after a power action they are dead or soon will be.
    fn forget(&self, host: &Host) {
        if let Some(client) = &host.ssh.openssh {
            self.openssh.forget(host, client);
        }
        self.idle.forget(&PoolKey::of(host));
    }
}
