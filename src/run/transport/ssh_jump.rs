//! The route to a host: directly, or through its jump hosts (OpenSSH `ProxyJump`).
//!
//! Through a jump host, the next login runs inside a `direct-tcpip` channel of the jump
//! host's session. libssh2 (ssh2 0.9) only runs a session over a file descriptor
//! (`Session::set_tcp_stream` wants `AsRawFd`), so each hop gets a Unix socket pair: the next
//! session runs over one end, and a bridge thread copies bytes between the other end and the
//! channel. A socket pair rather than a loopback listener: nothing else on the machine can
//! connect to it, it needs no port, and it is gone with the two descriptors.
//!
//! A bridge lives exactly as long as the session over it: it owns its jump session and stops
//! as soon as either side closes. Dropping the host's session (after a failed call, or when
//! the pool lets an idle one go) tears down the whole chain, hop by hop; a jump host that
//! goes away closes the socket under the host's session, which is then found dead and
//! replaced. At most one thread per hop per open session, and open sessions are capped by
//! the fleet's session limits and the pool's.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel, Session};

use super::ssh_login::{connect_tcp, login, millis, quick_ack, remaining, ssh_error, Endpoint};
use super::TransportError;
use crate::topology::Host;

/// Longest single wait of a bridge while bytes are moving.
const BRIDGE_SLICE: Duration = Duration::from_millis(100);

/// Longest single wait of a bridge that has moved nothing for [`BRIDGE_IDLE_AFTER`]: an idle
/// pooled session's bridge wakes rarely, and any byte still wakes it at once.
const BRIDGE_IDLE_SLICE: Duration = Duration::from_secs(1);

/// How long without a byte before a bridge counts as idle.
const BRIDGE_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Logs in to `host` before `deadline`, through its jump hosts when it has any, each one's
/// host key checked strictly. Returns the host's session and the descriptor to poll.
pub(super) fn open_route(
    host: &Host,
    deadline: Instant,
) -> Result<(Session, RawFd), TransportError> {
    let target = Endpoint::host(host);
    let Some(first) = host.ssh.jumps.first() else {
        let limit = Instant::now() + remaining(deadline).min(target.login.connect_timeout);
        let tcp = connect_tcp(&target, limit)?;
        return login(&target, tcp, deadline);
    };
    let first = Endpoint::jump(host, first);
    let limit = Instant::now() + remaining(deadline).min(first.login.connect_timeout);
    let tcp = connect_tcp(&first, limit)?;
    let (mut session, mut fd) = login(&first, tcp, deadline)?;
    let mut current = first;
    for position in 0..host.ssh.jumps.len() {
        let next = match host.ssh.jumps.get(position + 1) {
            Some(jump) => Endpoint::jump(host, jump),
            None => Endpoint::host(host),
        };
        let stream = tunnel(&current, session, fd, &next, deadline)?;
        (session, fd) = login(&next, stream, deadline)?;
        current = next;
    }
    Ok((session, fd))
}

/// Opens a channel from `through` (logged in as `session`) to `next`, and returns the end of
/// a socket pair that a bridge thread joins to it.
fn tunnel(
    through: &Endpoint,
    session: Session,
    fd: RawFd,
    next: &Endpoint,
    deadline: Instant,
) -> Result<UnixStream, TransportError> {
    let limit = remaining(deadline).min(next.login.connect_timeout);
    session.set_timeout(millis(limit));
    let channel = session
        .channel_direct_tcpip(next.address, next.login.port, None)
        .map_err(|e| {
            ssh_error(through, "opening a tunnel", true, e, limit, || {
                TransportError::Unreachable {
                    host: through.host.name.clone(),
                    detail: format!(
                        "{}cannot reach {}:{}",
                        through.prefix(),
                        next.address,
                        next.login.port
                    ),
                }
            })
        })?;
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| through.other(&format!("socket pair: {e}")))?;
    theirs
        .set_nonblocking(true)
        .map_err(|e| through.other(&format!("socket pair: {e}")))?;
    let bridge = Bridge {
        session,
        channel,
        remote_fd: fd,
        local: theirs,
    };
    std::thread::Builder::new()
        .name("ssh-jump".into())
        .spawn(move || bridge.run())
        .map_err(|e| through.other(&format!("cannot start a bridge thread: {e}")))?;
    Ok(ours)
}

/// One direction of the bridge: bytes read from its source that the other side has not
/// taken yet, and whether the source has ended.
#[derive(Default)]
struct Flow {
    pending: Vec<u8>,
    ended: bool,
}

impl Flow {
    /// Moves what it can without blocking: reads from `from` once all read before was
    /// handed over, then writes to `to`. Whether any bytes moved; an error ends the bridge.
    fn pump(
        &mut self,
        from: &mut impl Read,
        to: &mut impl Write,
        buf: &mut [u8],
    ) -> std::io::Result<bool> {
        let mut moved = false;
        if !self.ended && self.pending.is_empty() {
            match from.read(buf) {
                Ok(0) => self.ended = true,
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !self.pending.is_empty() {
            match to.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                    moved |= n > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(moved)
    }

    /// The source has ended and all it sent was handed over: nothing more can pass.
    fn done(&self) -> bool {
        self.ended && self.pending.is_empty()
    }
}

/// Copies bytes both ways between a jump host's channel and a local socket.
struct Bridge {
    session: Session,
    channel: Channel,
    remote_fd: RawFd,
    local: UnixStream,
}

impl Bridge {
    fn run(mut self) {
        self.session.set_blocking(false);
        let mut buf = vec![0u8; 32 * 1024];
        // Remote to local, and local to remote.
        let (mut down, mut up) = (Flow::default(), Flow::default());
        let mut last_moved = Instant::now();
        loop {
            let was_open = !down.ended;
            let Ok(moved_down) = down.pump(&mut self.channel, &mut self.local, &mut buf) else {
                break;
            };
            if was_open && down.ended {
                let _ = self.local.shutdown(std::net::Shutdown::Write);
            }
            let Ok(moved_up) = up.pump(&mut self.local, &mut self.channel, &mut buf) else {
                break;
            };
            // The session over our socket is gone, or the far end is and all it sent was
            // handed over: nothing more can pass.
            if up.done() || down.done() {
                break;
            }
            if moved_down || moved_up {
                last_moved = Instant::now();
            } else {
                let _ = self.session.keepalive_send();
                let slice = if last_moved.elapsed() < BRIDGE_IDLE_AFTER {
                    BRIDGE_SLICE
                } else {
                    BRIDGE_IDLE_SLICE
                };
                self.wait(!down.pending.is_empty(), slice);
            }
        }
        // Goodbye without blocking for long; the descriptors close when `self` drops.
        let _ = self.channel.close();
        self.session.set_blocking(true);
        self.session.set_timeout(200);
        let _ = self.session.disconnect(None, "done", None);
    }

    /// Waits for either side, at most `slice`.
    fn wait(&self, local_writable: bool, slice: Duration) {
        let remote_events = match self.session.block_directions() {
            BlockDirections::Outbound => libc::POLLIN | libc::POLLOUT,
            BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
        };
        let local_events = if local_writable {
            libc::POLLIN | libc::POLLOUT
        } else {
            libc::POLLIN
        };
        let mut fds = [
            libc::pollfd {
                fd: self.remote_fd,
                events: remote_events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.local.as_raw_fd(),
                events: local_events,
                revents: 0,
            },
        ];
        quick_ack(self.remote_fd);
        // SAFETY: two valid pollfds for sockets this bridge owns while it runs.
        unsafe {
            libc::poll(fds.as_mut_ptr(), 2, slice.as_millis() as libc::c_int);
        }
    }
}
