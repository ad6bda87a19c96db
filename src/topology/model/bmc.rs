//! A host's BMC: its protocol (IPMI or Redfish), settings and password source.

use std::path::PathBuf;

use serde::Serialize;

/// Where a BMC password comes from. The password itself is read only when it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable of the orchestrator.
    Env(String),
    /// The first line of a file.
    File(PathBuf),
}

/// A host's baseboard management controller: how its power is switched remotely.
#[derive(Debug, Clone, Serialize)]
pub struct Bmc {
    /// BMC address.
    pub address: String,
    /// BMC user.
    pub user: String,
    /// Where the password is read from.
    pub password: SecretSource,
    /// How the BMC is spoken to, with that protocol's own settings.
    #[serde(flatten)]
    pub protocol: BmcProtocol,
}

/// A BMC protocol and its settings. A fleet may mix protocols: each host has its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum BmcProtocol {
    /// IPMI over LAN, natively or through `ipmitool`.
    Ipmi(IpmiSettings),
    /// DMTF Redfish over HTTPS.
    Redfish(RedfishSettings),
}

/// Settings of a Redfish BMC. Its address is `host` or `host:port`; requests go to
/// `https://{address}/redfish/v1/...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedfishSettings {
    /// The ComputerSystem: an id under `/redfish/v1/Systems/` or a path starting with `/`.
    /// None: the one member of `/redfish/v1/Systems`.
    pub system: Option<String>,
    /// Whom the BMC's certificate must be signed by.
    pub tls: TlsTrust,
    /// The `ResetType` used to switch off.
    pub off: RedfishOff,
}

/// The `ResetType` a Redfish BMC is asked for to switch a host off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedfishOff {
    /// `ForceOff`: at once, like `ipmitool chassis power off`.
    ForceOff,
    /// `GracefulShutdown`: the operating system is asked to shut down.
    GracefulShutdown,
}

/// How a TLS peer's certificate is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsTrust {
    /// PEM file of the certificate authorities trusted instead of the system's store.
    pub ca_file: Option<PathBuf>,
    /// No verification at all: only when written as `insecure: true`, and shown in the plan.
    pub insecure: bool,
}

/// Settings of IPMI over LAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpmiSettings {
    /// Which client speaks to the BMC.
    pub client: IpmiClient,
    /// ipmitool interface (`lanplus`); the native client speaks `lanplus` only.
    pub interface: String,
    /// IPMI cipher suite.
    pub cipher_suite: u8,
}

/// The program that speaks IPMI to a BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpmiClient {
    /// blackstart's own RMCP+ client (cipher suites 3 and 17): no process per call, and the
    /// password never leaves the process.
    Native,
    /// The `ipmitool` binary, one process per call, the password in its environment.
    Ipmitool,
}

impl IpmiClient {
    /// The name written in topologies and shown in plans.
    pub fn name(self) -> &'static str {
        match self {
            IpmiClient::Native => "native",
            IpmiClient::Ipmitool => "ipmitool",
        }
    }
}
