//! Power commands, rendered in one place for the plan people review and for the run that
//! carries them out: what the plan shows is what the transport runs.

use serde::{Deserialize, Serialize};

use crate::template::shell_quote;
use crate::topology::{
    Bmc, BmcProtocol, IpmiClient, IpmiSettings, RedfishOff, RedfishSettings, TlsTrust,
};

/// The Redfish collection of ComputerSystems.
pub const REDFISH_SYSTEMS: &str = "/redfish/v1/Systems";
/// Stands for the discovered system in the plan, when none is configured.
pub const REDFISH_DISCOVERED: &str = "/redfish/v1/Systems/{only member}";

/// A chassis power command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerAction {
    /// Read the state.
    Status,
    /// Switch on.
    On,
    /// Switch off.
    Off,
    /// Power cycle.
    Cycle,
}

impl PowerAction {
    /// The word the power tools use: `status`, `on`, `off`, `cycle`.
    pub fn verb(self) -> &'static str {
        match self {
            PowerAction::Status => "status",
            PowerAction::On => "on",
            PowerAction::Off => "off",
            PowerAction::Cycle => "cycle",
        }
    }
}

/// Whether a host's power is read before it is switched on, in a fresh run. IPMI's Chassis
/// Control power up of a host already on does nothing, so the read is skipped: one BMC call
/// per host instead of two (2,000 calls for 1,000 hosts held the last power-on back by
/// seconds). Redfish BMCs often refuse `ResetType: On` for a system already on, so theirs
/// is read. A resume, and a host re-armed after a failure, read every host's power: some
/// are on and serving by then.
pub fn reads_power_before_on(bmc: &Bmc) -> bool {
    match bmc.protocol {
        BmcProtocol::Ipmi(_) => false,
        BmcProtocol::Redfish(_) => true,
    }
}

/// The program and arguments of `action` on an IPMI BMC. The password travels in the
/// environment (`-E`, `IPMI_PASSWORD`): never in argv, where `/proc/*/cmdline` shows it.
pub fn ipmitool_args(bmc: &Bmc, ipmi: &IpmiSettings, action: PowerAction) -> Vec<String> {
    [
        "-I",
        &ipmi.interface,
        "-H",
        &bmc.address,
        "-U",
        &bmc.user,
        "-E",
        "-C",
        &ipmi.cipher_suite.to_string(),
        "chassis",
        "power",
        action.verb(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect()
}

/// The command line of `action` on `bmc`, as people read it in the plan and the journal.
/// It holds no secret.
pub fn command_line(bmc: &Bmc, action: PowerAction) -> String {
    match &bmc.protocol {
        BmcProtocol::Ipmi(ipmi) if ipmi.client == IpmiClient::Native => {
            let command = match action {
                PowerAction::Status => "Get Chassis Status".to_string(),
                action => format!("Chassis Control power {}", action.verb()),
            };
            format!(
                "native IPMI lanplus {} as {}, cipher suite {}: {command}",
                shell_quote(&bmc.address),
                shell_quote(&bmc.user),
                ipmi.cipher_suite
            )
        }
        BmcProtocol::Ipmi(ipmi) => {
            let args: Vec<String> = ipmitool_args(bmc, ipmi, action)
                .iter()
                .map(|arg| shell_quote(arg))
                .collect();
            format!("ipmitool {}", args.join(" "))
        }
        BmcProtocol::Redfish(redfish) => {
            let system = redfish_system_path(redfish);
            let system = system.as_deref().unwrap_or(REDFISH_DISCOVERED);
            let request = match redfish_reset_type(redfish, action) {
                None => format!("GET {} (PowerState)", redfish_url(bmc, system)),
                Some(reset) => format!(
                    "POST {} {}",
                    redfish_url(bmc, &redfish_reset_path(system)),
                    redfish_reset_body(reset)
                ),
            };
            format!(
                "redfish {request} as {}, {}",
                shell_quote(&bmc.user),
                tls_shown(&redfish.tls)
            )
        }
    }
}

/// The `ResetType` of `action`; None for a status read.
pub fn redfish_reset_type(redfish: &RedfishSettings, action: PowerAction) -> Option<&'static str> {
    match action {
        PowerAction::Status => None,
        PowerAction::On => Some("On"),
        PowerAction::Off => Some(match redfish.off {
            RedfishOff::ForceOff => "ForceOff",
            RedfishOff::GracefulShutdown => "GracefulShutdown",
        }),
        PowerAction::Cycle => Some("ForceRestart"),
    }
}

/// The configured ComputerSystem's path; None when it is to be discovered. A path is kept
/// exactly as written, trailing slash included: some BMCs (HPE iLO 4, iLO 5 before 1.40)
/// answer only under the slashed form.
pub fn redfish_system_path(redfish: &RedfishSettings) -> Option<String> {
    redfish.system.as_ref().map(|system| {
        if system.starts_with('/') {
            system.clone()
        } else {
            format!("{REDFISH_SYSTEMS}/{system}")
        }
    })
}

/// The Reset action of the system at `system`, by the standard's naming (used when the
/// system does not say its own `target`). A slashed system path gives a slashed action path.
pub fn redfish_reset_path(system: &str) -> String {
    match system.strip_suffix('/') {
        Some(bare) => format!("{bare}/Actions/ComputerSystem.Reset/"),
        None => format!("{system}/Actions/ComputerSystem.Reset"),
    }
}

/// What one Redfish power call did, for the journal: which system, which `ResetType` was
/// sent, the BMC's HTTP status and the task it was followed through. Never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BmcExchange {
    /// URL of the ComputerSystem (after redirects).
    pub system: String,
    /// The `ResetType` sent; None for a status read or when none was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_type: Option<String>,
    /// Where the `ResetType` came from: the BMC's allowable values, or the standard's name
    /// when the BMC lists none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_chosen: Option<String>,
    /// HTTP status of the last request that mattered (the reset, or the read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// URL of the task monitor the reset was followed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The task's final `TaskState` (`Completed`, `Exception`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_state: Option<String>,
    /// The `PowerState` read last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
}

/// The JSON body of a Reset.
pub fn redfish_reset_body(reset_type: &str) -> String {
    serde_json::json!({ "ResetType": reset_type }).to_string()
}

/// `https://{address}{path}`.
pub fn redfish_url(bmc: &Bmc, path: &str) -> String {
    format!("https://{}{path}", bmc.address)
}

/// How a TLS peer is verified, as the plan says it.
pub fn tls_shown(tls: &TlsTrust) -> String {
    match (&tls.ca_file, tls.insecure) {
        (_, true) => "TLS NOT VERIFIED (insecure: true)".into(),
        (Some(ca), false) => format!(
            "TLS verified against {}",
            shell_quote(&ca.display().to_string())
        ),
        (None, false) => "TLS verified against the system store".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::SecretSource;

    #[test]
    fn the_shown_line_is_the_run_argv_quoted() {
        let mut bmc = Bmc {
            address: "10.1.0.7".into(),
            user: "ops team".into(),
            password: SecretSource::Env("PW".into()),
            protocol: BmcProtocol::Ipmi(IpmiSettings {
                client: IpmiClient::Ipmitool,
                interface: "lanplus".into(),
                cipher_suite: 3,
            }),
        };
        assert_eq!(
            command_line(&bmc, PowerAction::On),
            "ipmitool -I lanplus -H 10.1.0.7 -U 'ops team' -E -C 3 chassis power on"
        );
        bmc.protocol = BmcProtocol::Ipmi(IpmiSettings {
            client: IpmiClient::Native,
            interface: "lanplus".into(),
            cipher_suite: 17,
        });
        assert_eq!(
            command_line(&bmc, PowerAction::On),
            "native IPMI lanplus 10.1.0.7 as 'ops team', cipher suite 17: Chassis Control power on"
        );
        assert_eq!(
            command_line(&bmc, PowerAction::Status),
            "native IPMI lanplus 10.1.0.7 as 'ops team', cipher suite 17: Get Chassis Status"
        );
    }

    #[test]
    fn the_plan_shows_the_redfish_request_and_how_tls_is_checked() {
        let mut bmc = Bmc {
            address: "10.1.0.7:8443".into(),
            user: "admin".into(),
            password: SecretSource::Env("PW".into()),
            protocol: BmcProtocol::Redfish(RedfishSettings {
                system: Some("1".into()),
                tls: TlsTrust {
                    ca_file: Some("/etc/bmc-ca.pem".into()),
                    insecure: false,
                },
                off: RedfishOff::GracefulShutdown,
            }),
        };
        assert_eq!(
            command_line(&bmc, PowerAction::Off),
            r#"redfish POST https://10.1.0.7:8443/redfish/v1/Systems/1/Actions/ComputerSystem.Reset {"ResetType":"GracefulShutdown"} as admin, TLS verified against /etc/bmc-ca.pem"#
        );
        bmc.protocol = BmcProtocol::Redfish(RedfishSettings {
            system: None,
            tls: TlsTrust {
                ca_file: None,
                insecure: true,
            },
            off: RedfishOff::ForceOff,
        });
        assert_eq!(
            command_line(&bmc, PowerAction::Status),
            "redfish GET https://10.1.0.7:8443/redfish/v1/Systems/{only member} (PowerState) as admin, TLS NOT VERIFIED (insecure: true)"
        );
    }
}
