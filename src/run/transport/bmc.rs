//! Power through each host's own BMC protocol: the fleet may mix them, so the protocol is
//! chosen per host, here, and nowhere else.

use super::ipmi::IpmiPower;
use super::{Power, PowerAction, PowerState, TransportError};
use crate::topology::{BmcProtocol, Host};

/// [`Power`] for a whole fleet: each host's request goes to the transport of its BMC's
/// protocol.
#[derive(Debug, Clone)]
pub struct BmcPower {
    ipmi: IpmiPower,
}

impl BmcPower {
    /// Power over IPMI (ipmitool) for IPMI BMCs.
    pub fn new(ipmi: IpmiPower) -> Self {
        BmcPower { ipmi }
    }
}

impl Power for BmcPower {
    async fn power(&self, host: &Host, action: PowerAction) -> Result<PowerState, TransportError> {
        let Some(bmc) = &host.bmc else {
            return Err(TransportError::Config {
                host: host.name.clone(),
                detail: "no BMC configured".into(),
            });
        };
        match bmc.protocol {
            BmcProtocol::Ipmi(_) => self.ipmi.power(host, action).await,
        }
    }
}
