//! One SSH login, to a host or to a jump host on its way: TCP connect, handshake, strict
//! host-key check against known_hosts, authentication — every step cut at a deadline, every
//! failure naming the host (and the jump host, when it was one).

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};

use std::time::{Duration, Instant};

use ssh2::Session;

use super::known_hosts::{KnownHostsFile, Refusal};
use super::TransportError;
use crate::topology::{Host, JumpHost, SshLogin};

/// Seconds between SSH keepalives on a long-running command (and on a jump host's link).
pub const KEEPALIVE_INTERVAL_SECS: u32 = 15;

/// Where to log in and how: the host itself or one of its jump hosts.
pub(super) struct Endpoint<'a> {
    /// The host the call is for: every error is about it.
    pub host: &'a Host,
    /// The jump host, when this login is one; named in every error.
    pub jump: Option<&'a JumpHost>,
    /// Address dialled (or asked of the previous jump host).
    pub address: &'a str,
    /// How to log in there.
    pub login: &'a SshLogin,
}

impl<'a> Endpoint<'a> {
    /// The host's own login.
    pub fn host(host: &'a Host) -> Self {
        Endpoint {
            host,
            jump: None,
            address: &host.address,
            login: &host.ssh.login,
        }
    }

    /// The login to one of the host's jump hosts.
    pub fn jump(host: &'a Host, jump: &'a JumpHost) -> Self {
        Endpoint {
            host,
            jump: Some(jump),
            address: &jump.address,
            login: &jump.login,
        }
    }

    /// `"jump host bastion (10.0.0.1:22): "` for a jump host, nothing for the host itself.
    pub fn prefix(&self) -> String {
        match self.jump {
            Some(jump) => format!(
                "jump host {} ({}:{}): ",
                jump.name, jump.address, jump.login.port
            ),
            None => String::new(),
        }
    }

    /// An error of kind `Other` about this endpoint.
    pub fn other(&self, detail: &str) -> TransportError {
        TransportError::Other {
            host: self.host.name.clone(),
            detail: format!("{}{detail}", self.prefix()),
        }
    }
}

/// Dials `end` directly, with TCP_NODELAY set, before `deadline`.
pub(super) fn connect_tcp(end: &Endpoint, deadline: Instant) -> Result<TcpStream, TransportError> {
    let (address, port) = (end.address, end.login.port);
    let host = &end.host.name;
    let prefix = end.prefix();
    let addrs = (address, port)
        .to_socket_addrs()
        .map_err(|e| TransportError::Unreachable {
            host: host.clone(),
            detail: format!("{prefix}cannot resolve {address}: {e}"),
        })?;
    let timed_out = |at: String| TransportError::Timeout {
        host: host.clone(),
        what: format!("{}SSH connect to {at}", prefix),
        after: end.login.connect_timeout,
        reaching: true,
    };
    let mut last = format!("{prefix}{address} resolves to no address");
    for addr in addrs {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(timed_out(format!("{address}:{port}")));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => {
                tcp.set_nodelay(true)
                    .map_err(|e| end.other(&format!("TCP_NODELAY: {e}")))?;
                return Ok(tcp);
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => return Err(timed_out(addr.to_string())),
            Err(e) => last = format!("{prefix}connect to {addr}: {e}"),
        }
    }
    Err(TransportError::Unreachable {
        host: host.clone(),
        detail: last,
    })
}

/// Handshake, strict host-key check and authentication over `stream` (a TCP socket, or one
/// end of a socket pair bridged to a jump host's channel). Returns the session and the
/// socket's descriptor, for polling.
pub(super) fn login<S: AsRawFd + 'static>(
    end: &Endpoint,
    stream: S,
    deadline: Instant,
) -> Result<(Session, RawFd), TransportError> {
    let fd = stream.as_raw_fd();
    let connect_limit = remaining(deadline).min(end.login.connect_timeout);
    let connect_deadline = Instant::now() + connect_limit;
    let mut session = Session::new().map_err(|e| end.other(&format!("libssh2: {e}")))?;
    session.set_tcp_stream(stream);
    session.set_timeout(millis(remaining(connect_deadline)));
    session.handshake().map_err(|e| {
        if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_KEX_FAILURE) {
            return no_common_kex(end, &e);
        }
        ssh_error(end, "SSH handshake", true, e, connect_limit, || {
            TransportError::Unreachable {
                host: end.host.name.clone(),
                detail: format!("{}SSH handshake failed", end.prefix()),
            }
        })
    })?;
    check_host_key(end, &session)?;

    session.set_timeout(millis(remaining(deadline)));
    let certificate = end.login.certificate.as_deref();
    let auth = match (end.login.key.as_deref(), certificate) {
        // libssh2 offers a user certificate as the public half of the key it goes with.
        (Some(key), Some(cert)) => session
            .userauth_pubkey_file(&end.login.user, Some(cert), key, None)
            .map_err(|e| {
                format!(
                    "key {} with certificate {}: {}",
                    key.display(),
                    cert.display(),
                    e.message()
                )
            }),
        (Some(key), None) => session
            .userauth_pubkey_file(&end.login.user, None, key, None)
            .map_err(|e| format!("key {}: {}", key.display(), e.message())),
        (None, Some(cert)) => Err(format!(
            "certificate {} (`CertificateFile`) needs its private key as a file \
             (`IdentityFile` or `ssh.key`): blackstart's built-in client cannot offer a \
             certificate with a key held by ssh-agent; name the key, or use \
             `ssh: {{ client: openssh }}`",
            cert.display()
        )),
        (None, None) => session
            .userauth_agent(&end.login.user)
            .map_err(|e| format!("ssh-agent: {}", e.message())),
    };
    let refused = |detail: String| TransportError::Auth {
        host: end.host.name.clone(),
        detail: format!("{}user {}: {detail}", end.prefix(), end.login.user),
    };
    auth.map_err(refused)?;
    if !session.authenticated() {
        return Err(refused("not accepted".into()));
    }
    session.set_keepalive(false, KEEPALIVE_INTERVAL_SECS);
    Ok((session, fd))
}

/// Strict checking: unknown and changed keys are refused, naming the host (or the jump host)
/// and known_hosts; a host certificate is verified against the file's `@cert-authority`
/// lines. With strict checking off they are accepted with a loud warning — but a key the
/// file revokes never is.
fn check_host_key(end: &Endpoint, session: &Session) -> Result<(), TransportError> {
    let path = end.login.known_hosts.display().to_string();
    let (address, port) = (end.address, end.login.port);
    let refused = |detail: String| TransportError::HostKey {
        host: end.host.name.clone(),
        detail: format!("{}{detail}", end.prefix()),
    };
    let verdict = (|| -> Result<(), Refusal> {
        let plain = |detail: String| Refusal {
            detail,
            revoked: false,
        };
        let (key, _) = session
            .host_key()
            .ok_or_else(|| plain("the server sent no host key".to_string()))?;
        let known = KnownHostsFile::read(&end.login.known_hosts)
            .map_err(|why| plain(format!("cannot read known_hosts {path}: {why}")))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        known.check(address, port, key, now)
    })();
    match verdict {
        Ok(()) => Ok(()),
        Err(refusal) if refusal.revoked || end.login.strict_host_key_checking => {
            Err(refused(refusal.detail))
        }
        Err(refusal) => {
            tracing::warn!(
                host = %end.host.name,
                "ACCEPTING an unverified SSH host key because strict_host_key_checking is off: {}{}",
                end.prefix(),
                refusal.detail
            );
            Ok(())
        }
    }
}

/// Asks the kernel to acknowledge incoming data at once. sshd does not set TCP_NODELAY on
/// non-interactive sessions, so its small closing packets wait for our ACK (Nagle), which
/// delayed ACK holds back ~40 ms. Linux resets the flag now and then, so it is set before
/// every wait. On a socket pair (behind a jump host) the call fails harmlessly.
pub(super) fn quick_ack(fd: RawFd) {
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

/// The server and libssh2 share no key exchange, host key or cipher algorithm.
const LIBSSH2_ERROR_KEX_FAILURE: i32 = -5;
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// A handshake that failed for want of a common algorithm: waiting will not fix it, and the
/// operator's own OpenSSH likely knows the algorithm (post-quantum key exchange).
fn no_common_kex(end: &Endpoint, e: &ssh2::Error) -> TransportError {
    TransportError::Config {
        host: end.host.name.clone(),
        detail: format!(
            "{}SSH handshake with {}:{} failed: {} — the server allows no key exchange or \
             cipher that blackstart's built-in client (libssh2) knows (an sshd limited to \
             sntrup761x25519-sha512 or mlkem768x25519-sha256 is one); use \
             `ssh: {{ client: openssh }}` for this host so the system ssh reaches it",
            end.prefix(),
            end.address,
            end.login.port,
            e.message()
        ),
    }
}
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

/// libssh2 said "would block" (non-blocking mode).
pub(super) fn is_would_block(e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

/// Maps a libssh2 error: its timeout becomes [`TransportError::Timeout`], anything else what
/// `otherwise` builds, with libssh2's message appended. `reaching`: the stage is part of
/// reaching the host (handshake, login, tunnel), not of running a command on it.
pub(super) fn ssh_error(
    end: &Endpoint,
    stage: &str,
    reaching: bool,
    e: ssh2::Error,
    after: Duration,
    otherwise: impl FnOnce() -> TransportError,
) -> TransportError {
    if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
        return TransportError::Timeout {
            host: end.host.name.clone(),
            what: format!("{}{stage}", end.prefix()),
            after,
            reaching,
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

/// Time left before `deadline`.
pub(super) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// libssh2 timeouts in ms; 0 would mean "no timeout", so at least 1.
pub(super) fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}
