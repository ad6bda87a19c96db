//! One UDP conversation with a BMC: a request sent, resent while no answer comes (UDP loses
//! packets, and BMCs drop them when busy), answers that are not for it skipped.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// The RMCP port.
pub const IPMI_PORT: u16 = 623;

/// How often a request is sent at most, and the pauses between sends: the first resend
/// soon (a lost packet on a quiet network), then doubling so a busy BMC is not flooded.
/// The call's time limit (`bmc_timeout`) usually ends the wait before the last send.
#[derive(Debug, Clone, Copy)]
pub struct Resend {
    /// Sends at most.
    pub sends: u32,
    /// Wait after the first send.
    pub first: Duration,
    /// Longest wait after a send.
    pub longest: Duration,
}

/// Resends of session setup and commands.
pub const COMMAND: Resend = Resend {
    sends: 8,
    first: Duration::from_millis(400),
    longest: Duration::from_secs(2),
};

/// Resends of Chassis Control: a BMC busy switching (ipmi_sim runs its chassis program
/// before it answers) must not be sent the switch again before it could answer, since a BMC
/// that does not recognise the duplicate would switch twice (a second cycle).
pub const CONTROL: Resend = Resend {
    sends: 4,
    first: Duration::from_secs(1),
    longest: Duration::from_secs(2),
};

/// Resends of what is only nice to have (Close Session, the list of cipher suites): a
/// short try, so it never holds up the call.
pub const COURTESY: Resend = Resend {
    sends: 2,
    first: Duration::from_millis(300),
    longest: Duration::from_millis(300),
};

/// Why an exchange got no usable answer.
#[derive(Debug)]
pub enum LinkError {
    /// No answer after every send.
    Silent {
        /// Packets sent.
        sends: u32,
    },
    /// The BMC's host says nothing listens on the port (ICMP port unreachable).
    Refused,
    /// A socket error.
    Io(std::io::Error),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Silent { sends } => write!(f, "no answer to {sends} packets"),
            LinkError::Refused => {
                f.write_str("nothing listens on its UDP port (ICMP port unreachable)")
            }
            LinkError::Io(err) => write!(f, "UDP error: {err}"),
        }
    }
}

/// A connected UDP socket to one BMC.
#[derive(Debug)]
pub struct Link {
    socket: UdpSocket,
    /// The BMC's address, for messages.
    pub peer: SocketAddr,
}

/// `address`, `address:port`, `[v6]:port` or a name, at port 623 unless one is given.
pub async fn resolve(address: &str) -> std::io::Result<SocketAddr> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, IPMI_PORT));
    }
    let found: Vec<SocketAddr> = match address.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => {
            tokio::net::lookup_host(address).await?.collect()
        }
        _ => tokio::net::lookup_host((address, IPMI_PORT))
            .await?
            .collect(),
    };
    found
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::new(ErrorKind::NotFound, "the name resolves to no address"))
}

impl Link {
    /// A socket on an ephemeral port, connected to `peer` (so only its datagrams arrive,
    /// and an ICMP refusal is seen).
    pub async fn connect(peer: SocketAddr) -> std::io::Result<Link> {
        let local: SocketAddr = if peer.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(peer).await?;
        Ok(Link { socket, peer })
    }

    /// Sends `packet` once without waiting (from a destructor); a full buffer or an error
    /// is only logged.
    pub fn send_now(&self, packet: &[u8]) {
        if let Err(err) = self.socket.try_send(packet) {
            tracing::debug!(bmc = %self.peer, "unanswered IPMI send failed: {err}");
        }
    }

    /// Sends `packet()` (called again for each resend, so a resend may carry a new session
    /// sequence number) until `accept` takes an answer: `None` skips a datagram (a late
    /// answer to an earlier request, a stray packet), `Some` ends the exchange.
    pub async fn exchange<T>(
        &self,
        resend: Resend,
        mut packet: impl FnMut() -> Vec<u8>,
        mut accept: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<T, LinkError> {
        let mut buf = vec![0u8; 1024];
        let mut wait = resend.first;
        for sent in 1..=resend.sends {
            match self.socket.send(&packet()).await {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::ConnectionRefused => {
                    return Err(LinkError::Refused)
                }
                Err(err) => return Err(LinkError::Io(err)),
            }
            let until = tokio::time::Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(until, self.socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Ok(n)) => {
                        if let Some(answer) = accept(&buf[..n]) {
                            return Ok(answer);
                        }
                    }
                    Ok(Err(err)) if err.kind() == ErrorKind::ConnectionRefused => {
                        return Err(LinkError::Refused)
                    }
                    Ok(Err(err)) => return Err(LinkError::Io(err)),
                }
            }
            if sent < resend.sends {
                tracing::debug!(bmc = %self.peer, sent, "no IPMI answer yet, resending");
            }
            wait = (wait * 2).min(resend.longest);
        }
        Err(LinkError::Silent {
            sends: resend.sends,
        })
    }
}
