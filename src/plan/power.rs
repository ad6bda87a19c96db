//! Power commands, rendered in one place for the plan people review and for the run that
//! carries them out: what the plan shows is what the transport runs.

use serde::{Deserialize, Serialize};

use crate::template::shell_quote;
use crate::topology::{Bmc, BmcProtocol, IpmiSettings};

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
        BmcProtocol::Ipmi(ipmi) => {
            let args: Vec<String> = ipmitool_args(bmc, ipmi, action)
                .iter()
                .map(|arg| shell_quote(arg))
                .collect();
            format!("ipmitool {}", args.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::SecretSource;

    #[test]
    fn the_shown_line_is_the_run_argv_quoted() {
        let bmc = Bmc {
            address: "10.1.0.7".into(),
            user: "ops team".into(),
            password: SecretSource::Env("PW".into()),
            protocol: BmcProtocol::Ipmi(IpmiSettings {
                interface: "lanplus".into(),
                cipher_suite: 3,
            }),
        };
        assert_eq!(
            command_line(&bmc, PowerAction::On),
            "ipmitool -I lanplus -H 10.1.0.7 -U 'ops team' -E -C 3 chassis power on"
        );
    }
}
