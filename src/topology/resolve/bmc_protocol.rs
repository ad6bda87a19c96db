//! A BMC's protocol and that protocol's own settings, merged field by field over
//! `defaults.host.bmc`. Settings of one protocol written for a BMC of the other are refused
//! (they would be silently ignored otherwise), each at its own line.

use std::path::Path;

use super::absolute;
use crate::topology::defaults;
use crate::topology::diagnostic::Collector;
use crate::topology::model::*;
use crate::topology::raw::*;

/// One field as merged: its value and the path it was written at (for messages).
struct Picked<T> {
    value: T,
    at: String,
}

/// Where the host's own settings and the defaults are written, and what they say.
pub(super) struct Sources<'a> {
    /// `defaults.host.bmc`.
    pub defaults: Option<&'a RawBmc>,
    /// The host entry's own `bmc:`.
    pub own: Option<&'a RawBmc>,
    /// `hosts[i]`.
    pub path: &'a str,
}

impl<'a> Sources<'a> {
    fn pick<T: Clone>(
        &self,
        field: &str,
        get: fn(&'a RawBmc) -> Option<&'a T>,
    ) -> Option<Picked<T>> {
        if let Some(value) = self.own.and_then(get) {
            return Some(Picked {
                value: value.clone(),
                at: format!("{}.bmc.{field}", self.path),
            });
        }
        self.defaults.and_then(get).map(|value| Picked {
            value: value.clone(),
            at: format!("defaults.host.bmc.{field}"),
        })
    }
}

/// The protocol of a BMC, with its settings; problems recorded in `out`.
pub(super) fn resolve_protocol(
    sources: &Sources<'_>,
    base_dir: &Path,
    out: &mut Collector,
) -> BmcProtocol {
    let protocol = sources
        .pick("protocol", |bmc| bmc.protocol.as_ref())
        .map_or(RawBmcProtocol::Ipmi, |p| p.value);
    let interface = sources.pick("interface", |bmc| bmc.interface.as_ref());
    let cipher_suite = sources.pick("cipher_suite", |bmc| bmc.cipher_suite.as_ref());
    let system = sources.pick("system", |bmc| bmc.system.as_ref());
    let ca_file = sources.pick("ca_file", |bmc| bmc.ca_file.as_ref());
    let insecure = sources.pick("insecure", |bmc| bmc.insecure.as_ref());
    let off = sources.pick("off", |bmc| bmc.off.as_ref());
    let client = sources.pick("client", |bmc| bmc.client.as_ref());
    match protocol {
        RawBmcProtocol::Ipmi => {
            let foreign = [
                ("system", system.map(|p| p.at)),
                ("ca_file", ca_file.map(|p| p.at)),
                ("insecure", insecure.map(|p| p.at)),
                ("off", off.map(|p| p.at)),
            ];
            refuse_foreign(&foreign, "Redfish", "protocol: redfish", out);
            let settings = IpmiSettings {
                client: match client.as_ref().map(|p| p.value) {
                    Some(RawIpmiClient::Ipmitool) => IpmiClient::Ipmitool,
                    Some(RawIpmiClient::Native) | None => IpmiClient::Native,
                },
                interface: interface
                    .as_ref()
                    .map_or_else(|| defaults::BMC_INTERFACE.into(), |p| p.value.clone()),
                cipher_suite: cipher_suite
                    .as_ref()
                    .map_or(defaults::BMC_CIPHER_SUITE, |p| p.value),
            };
            check_native(&settings, client, interface, cipher_suite, out);
            BmcProtocol::Ipmi(settings)
        }
        RawBmcProtocol::Redfish => {
            let foreign = [
                ("interface", interface.map(|p| p.at)),
                ("cipher_suite", cipher_suite.map(|p| p.at)),
                ("client", client.map(|p| p.at)),
            ];
            refuse_foreign(&foreign, "IPMI", "protocol: ipmi", out);
            if let Some(address) = sources.pick("address", |bmc| bmc.address.as_ref()) {
                if address.value.contains("://") || address.value.contains('/') {
                    out.error(
                        address.at,
                        format!("Redfish BMC address {:?} holds a scheme or a path", address.value),
                    )
                    .hint("write the host (and port) only, like `10.1.0.7` or `bmc7:8443`; requests always go to https://ADDRESS/redfish/v1");
                }
            }
            let system = system.and_then(|p| check_system(p, out));
            let insecure = insecure.filter(|p| p.value);
            let ca_file = ca_file.and_then(|p| check_ca_file(p, base_dir, out));
            if let (Some(insecure), true) = (&insecure, ca_file.is_some()) {
                out.error(
                    insecure.at.clone(),
                    "`insecure: true` beside a `ca_file`: the CA would never be checked",
                )
                .hint("keep `ca_file` and remove `insecure`");
            } else if let Some(insecure) = &insecure {
                out.warning(
                    insecure.at.clone(),
                    "TLS verification of this Redfish BMC is off: anyone on the path can read its password",
                )
                .hint("give the BMC's CA with `ca_file: PATH` instead");
            }
            BmcProtocol::Redfish(RedfishSettings {
                system,
                tls: TlsTrust {
                    ca_file,
                    insecure: insecure.is_some(),
                },
                off: match off.map(|p| p.value) {
                    Some(RawRedfishOff::GracefulShutdown) => RedfishOff::GracefulShutdown,
                    Some(RawRedfishOff::ForceOff) | None => RedfishOff::ForceOff,
                },
            })
        }
    }
}

/// The native client speaks RMCP+ (`lanplus`) with cipher suites 3 and 17 only: anything
/// else is refused at validation, not at the first power-on of an outage.
fn check_native(
    settings: &IpmiSettings,
    client: Option<Picked<RawIpmiClient>>,
    interface: Option<Picked<String>>,
    cipher_suite: Option<Picked<u8>>,
    out: &mut Collector,
) {
    if settings.client != IpmiClient::Native {
        return;
    }
    let hint = "the native IPMI client speaks `interface: lanplus` with cipher suites 3 and 17; set `client: ipmitool` for anything else";
    let why = client.map_or_else(
        || " (the default client)".to_string(),
        |p| format!(" (client set at {})", p.at),
    );
    if let Some(interface) = interface.filter(|p| p.value != defaults::BMC_INTERFACE) {
        out.error(
            interface.at,
            format!(
                "interface {:?} is not spoken by the native IPMI client{why}",
                interface.value
            ),
        )
        .hint(hint);
    }
    if let Some(suite) = cipher_suite.filter(|p| p.value <= 17 && !matches!(p.value, 3 | 17)) {
        out.error(
            suite.at,
            format!(
                "cipher suite {} is not spoken by the native IPMI client{why}",
                suite.value
            ),
        )
        .hint(hint);
    }
}

fn refuse_foreign(fields: &[(&str, Option<String>)], other: &str, fix: &str, out: &mut Collector) {
    for (field, at) in fields {
        if let Some(at) = at {
            out.error(
                at.clone(),
                format!("`{field}` applies to {other} BMCs only"),
            )
            .hint(format!("remove it, or set `{fix}` on this BMC"));
        }
    }
}

fn check_system(picked: Picked<String>, out: &mut Collector) -> Option<String> {
    let value = picked.value.trim();
    let bad = value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '%'));
    if bad {
        out.error(picked.at, format!("Redfish system {:?} is not an id or a path", picked.value))
            .hint("write the ComputerSystem's id (`1`, `System.Embedded.1`) or its path (`/redfish/v1/Systems/1`), or leave it out to use the only system");
        return None;
    }
    Some(value.to_string())
}

/// The CA file must be there and hold a PEM certificate now: found at validation, not at
/// the first power-on of an outage.
fn check_ca_file(
    picked: Picked<String>,
    base_dir: &Path,
    out: &mut Collector,
) -> Option<std::path::PathBuf> {
    let path = absolute(&picked.value, base_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => Some(path),
        Ok(_) => {
            out.error(
                picked.at,
                format!("{} holds no PEM certificate", path.display()),
            )
            .hint("give the CA certificate in PEM (`-----BEGIN CERTIFICATE-----`)");
            None
        }
        Err(e) => {
            out.error(
                picked.at,
                format!("cannot read CA file {}: {}", path.display(), e.kind()),
            )
            .hint("a relative path is read from the topology file's directory");
            None
        }
    }
}
