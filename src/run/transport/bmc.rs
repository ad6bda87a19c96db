//! Power through each host's own BMC protocol: the fleet may mix them, so the protocol is
//! chosen per host, here, and nowhere else.

use super::bmc_calls::BmcCalls;
use super::ipmi::{IpmiPower, NativeIpmi};
use super::redfish::RedfishPower;
use super::{configured_bmc, Power, PowerAction, PowerState, TransportError};
use crate::plan::power::BmcExchange;
use crate::topology::{BmcProtocol, Host, IpmiClient};

/// [`Power`] for a whole fleet: each host's request goes to the transport of its BMC's
/// protocol.
#[derive(Debug, Clone)]
pub struct BmcPower {
    native: NativeIpmi,
    ipmi: IpmiPower,
    redfish: RedfishPower,
}

impl BmcPower {
    /// Both protocols under `calls`: one fleet-wide cap, one call at a time per BMC, the same
    /// time limit and retries.
    pub fn shared(calls: BmcCalls) -> Self {
        BmcPower {
            native: NativeIpmi::with_calls(calls.clone()),
            ipmi: IpmiPower::with_calls(calls.clone()),
            redfish: RedfishPower::new(calls),
        }
    }

    /// Uses another ipmitool binary for BMCs with `client: ipmitool` (tests, wrappers).
    pub fn with_ipmitool(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        self.ipmi = self.ipmi.with_program(program);
        self
    }
}

impl Power for BmcPower {
    async fn power(&self, host: &Host, action: PowerAction) -> Result<PowerState, TransportError> {
        self.power_recorded(host, action).await.0
    }

    async fn power_recorded(
        &self,
        host: &Host,
        action: PowerAction,
    ) -> (Result<PowerState, TransportError>, Option<BmcExchange>) {
        let bmc = match configured_bmc(host) {
            Ok(bmc) => bmc,
            Err(err) => return (Err(err), None),
        };
        match &bmc.protocol {
            BmcProtocol::Ipmi(ipmi) => match ipmi.client {
                IpmiClient::Native => (
                    self.native.power_native(host, bmc, ipmi, action).await,
                    None,
                ),
                IpmiClient::Ipmitool => (self.ipmi.power_ipmi(host, bmc, ipmi, action).await, None),
            },
            BmcProtocol::Redfish(redfish) => {
                self.redfish.power_redfish(host, bmc, redfish, action).await
            }
        }
    }
}
