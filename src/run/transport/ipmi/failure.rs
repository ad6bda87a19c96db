//! Why a native IPMI call failed, before it is tied to a host: shared by the client (which
//! opens sessions) and the active session (which runs commands in one), so neither imports
//! the other for it.

use super::super::TransportError;
use super::link::{Link, LinkError};
use crate::topology::Host;

/// Why a call failed, before it is tied to a host.
#[derive(Debug)]
pub(super) enum Failure {
    /// The BMC did not answer, or nothing listens: may heal, retried.
    Unreachable(String),
    /// The user or password was refused: never retried.
    Auth(String),
    /// The configuration cannot work with this BMC (cipher suite): never retried.
    Config(String),
    /// Anything else (a busy BMC, a refused command): retried.
    Other(String),
}

impl Failure {
    pub(super) fn into_error(self, host: &Host) -> TransportError {
        let host = host.name.clone();
        match self {
            Failure::Unreachable(detail) => TransportError::Unreachable { host, detail },
            Failure::Auth(detail) => TransportError::Auth { host, detail },
            Failure::Config(detail) => TransportError::Config { host, detail },
            Failure::Other(detail) => TransportError::Other { host, detail },
        }
    }
}

/// A link error as the failure of one step of a call.
pub(super) fn unreachable(link: &Link, step: &str, err: LinkError) -> Failure {
    match err {
        LinkError::Io(_) | LinkError::Refused | LinkError::Silent { .. } => {
            Failure::Unreachable(format!("IPMI BMC {} ({step}): {err}", link.peer))
        }
    }
}

/// `N` random bytes from the system (session ids, nonces).
pub(super) fn random<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::Other(format!("no random numbers from the system: {e}")))?;
    Ok(bytes)
}
