//! Power through IPMI BMCs: natively ([`NativeIpmi`], the default: RMCP+ over UDP inside the
//! run's runtime) or through the `ipmitool` binary ([`IpmiPower`], `bmc: { client: ipmitool }`).
//!
//! The native client is split by layer: [`packet`] frames (RMCP, RMCP+ sessions, integrity,
//! AES-CBC-128, IPMI messages), [`session`] establishes sessions (Open Session, RAKP 1-4,
//! keys), `commands` holds the chassis commands, `link` the UDP resends, `client` the call.

mod active;
mod client;
mod commands;
mod failure;
mod ipmitool;
mod link;
pub mod packet;
pub mod session;

pub use client::NativeIpmi;
pub use ipmitool::{gives_up_after, parse_status, IpmiPower, DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT};
