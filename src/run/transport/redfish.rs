//! Power through Redfish BMCs over HTTPS: the ComputerSystem is discovered once per BMC
//! (or configured), `PowerState` is read from it, and `ComputerSystem.Reset` switches it.
//! The requests are the ones the plan shows ([`crate::plan::power`]).
//!
//! HTTP basic authentication on every request: the password is read at each attempt, sent
//! only in the `Authorization` header (marked sensitive), and scrubbed from any text the BMC
//! sends back before it can reach an error, a log or the journal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::Method;
use serde_json::Value;

use super::bmc_calls::{scrub, BmcCalls};
use super::http::{self, HttpError};
use super::{tail, PowerAction, PowerState, TransportError};
use crate::plan::power::{
    redfish_reset_body, redfish_reset_path, redfish_reset_type, redfish_system_path, redfish_url,
    REDFISH_SYSTEMS,
};
use crate::topology::{Bmc, Host, RedfishSettings};

/// Most bytes of a Redfish response read.
const MAX_BODY: usize = 256 * 1024;
/// Most bytes of a BMC's answer quoted in an error.
const ERROR_TAIL: usize = 300;

/// Power through Redfish, for the hosts whose BMC speaks it: [`BmcPower`](super::bmc::BmcPower)
/// chooses it per host. Cheap to clone; clones share the caps and what was discovered.
#[derive(Debug, Clone)]
pub struct RedfishPower {
    calls: BmcCalls,
    /// The ComputerSystem path found under each BMC address.
    systems: Arc<Mutex<HashMap<String, String>>>,
}

/// One request's context: whom it is for and how it authenticates.
struct Call<'a> {
    host: &'a Host,
    bmc: &'a Bmc,
    redfish: &'a RedfishSettings,
    password: &'a str,
}

impl RedfishPower {
    /// Calls under `calls`' caps, time limit and retries (shared with IPMI in a mixed fleet).
    pub fn new(calls: BmcCalls) -> Self {
        RedfishPower {
            calls,
            systems: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// [`Power::power`](super::Power::power) for a host whose BMC speaks Redfish.
    pub(super) async fn power_redfish(
        &self,
        host: &Host,
        bmc: &Bmc,
        redfish: &RedfishSettings,
        action: PowerAction,
    ) -> Result<PowerState, TransportError> {
        let what = match redfish_reset_type(redfish, action) {
            None => format!("Redfish PowerState read at BMC {}", bmc.address),
            Some(reset) => format!("Redfish Reset {reset} at BMC {}", bmc.address),
        };
        self.calls
            .run(host, bmc, action, &what, |password| async move {
                let call = Call {
                    host,
                    bmc,
                    redfish,
                    password: password.expose(),
                };
                self.call_once(&call, action).await
            })
            .await
    }

    async fn call_once(
        &self,
        call: &Call<'_>,
        action: PowerAction,
    ) -> Result<PowerState, TransportError> {
        let system = self.system_path(call).await?;
        let Some(reset) = redfish_reset_type(call.redfish, action) else {
            return read_state(call, &system).await;
        };
        let wanted = match action {
            PowerAction::Off => PowerState::Off,
            _ => PowerState::On,
        };
        let url = redfish_url(call.bmc, &redfish_reset_path(&system));
        let (status, body) =
            request(call, Method::POST, &url, Some(redfish_reset_body(reset))).await?;
        if (200..300).contains(&status) {
            return Ok(wanted);
        }
        // Some BMCs refuse `On` for a system that is on: the state asked for is what counts.
        if action != PowerAction::Cycle && read_state(call, &system).await.ok() == Some(wanted) {
            return Ok(wanted);
        }
        Err(refused(call, "POST", &url, status, &body))
    }

    /// The configured system, or the one member of the Systems collection (found once).
    async fn system_path(&self, call: &Call<'_>) -> Result<String, TransportError> {
        if let Some(path) = redfish_system_path(call.redfish) {
            return Ok(path);
        }
        let known = self
            .systems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&call.bmc.address)
            .cloned();
        if let Some(path) = known {
            return Ok(path);
        }
        let url = redfish_url(call.bmc, REDFISH_SYSTEMS);
        let (status, body) = request(call, Method::GET, &url, None).await?;
        if status != 200 {
            return Err(refused(call, "GET", &url, status, &body));
        }
        let members: Vec<String> = json(call, &url, &body)?
            .get("Members")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|m| m.get("@odata.id").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let [path] = members.as_slice() else {
            return Err(TransportError::Config {
                host: call.host.name.clone(),
                detail: format!(
                    "{url} lists {} systems ({}); say which with `system:` on the BMC",
                    members.len(),
                    members.join(", ")
                ),
            });
        };
        let path = path.trim_end_matches('/').to_string();
        self.systems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call.bmc.address.clone(), path.clone());
        Ok(path)
    }
}

async fn read_state(call: &Call<'_>, system: &str) -> Result<PowerState, TransportError> {
    let url = redfish_url(call.bmc, system);
    let (status, body) = request(call, Method::GET, &url, None).await?;
    if status != 200 {
        return Err(refused(call, "GET", &url, status, &body));
    }
    let value = json(call, &url, &body)?;
    match value.get("PowerState").and_then(Value::as_str) {
        Some("On" | "PoweringOn") => Ok(PowerState::On),
        Some("Off" | "PoweringOff") => Ok(PowerState::Off),
        other => Err(TransportError::Other {
            host: call.host.name.clone(),
            detail: format!("{url}: unexpected PowerState {other:?}"),
        }),
    }
}

/// One authenticated request; its status and body (scrubbed of the password).
async fn request(
    call: &Call<'_>,
    method: Method,
    url: &str,
    body: Option<String>,
) -> Result<(u16, String), TransportError> {
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", call.bmc.user, call.password));
    let mut authorization =
        HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| TransportError::Config {
            host: call.host.name.clone(),
            detail: "BMC user or password holds characters an HTTP header cannot carry".into(),
        })?;
    authorization.set_sensitive(true);
    let mut headers: Vec<(HeaderName, HeaderValue)> = vec![
        (AUTHORIZATION, authorization),
        (
            hyper::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        ),
    ];
    if body.is_some() {
        headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    }
    let response = http::send(method, url, &headers, body, &call.redfish.tls)
        .await
        .map_err(|e| transport_error(call.host, e))?;
    let status = response.status;
    let text = response
        .text(MAX_BODY)
        .await
        .map_err(|e| TransportError::Unreachable {
            host: call.host.name.clone(),
            detail: format!("{url}: reading the answer: {e}"),
        })?;
    if status == 401 || status == 403 {
        return Err(TransportError::Auth {
            host: call.host.name.clone(),
            detail: format!(
                "BMC {} answered {status} to user {:?} ({})",
                call.bmc.address,
                call.bmc.user,
                crate::plan::actions::secret_origin(&call.bmc.password)
            ),
        });
    }
    Ok((status, scrub(&text, call.password)))
}

fn json(call: &Call<'_>, url: &str, body: &str) -> Result<Value, TransportError> {
    serde_json::from_str(body).map_err(|e| TransportError::Other {
        host: call.host.name.clone(),
        detail: format!(
            "{url}: answer is not JSON ({e}): {:?}",
            tail(body.trim(), ERROR_TAIL)
        ),
    })
}

fn refused(call: &Call<'_>, method: &str, url: &str, status: u16, body: &str) -> TransportError {
    TransportError::Other {
        host: call.host.name.clone(),
        detail: format!(
            "{method} {url} answered {status}: {:?}",
            tail(body.trim(), ERROR_TAIL)
        ),
    }
}

fn transport_error(host: &Host, error: HttpError) -> TransportError {
    let host = host.name.clone();
    match error {
        HttpError::BadUrl { .. } => TransportError::Config {
            host,
            detail: error.to_string(),
        },
        HttpError::Tls { .. } => TransportError::Tls {
            host,
            detail: error.to_string(),
        },
        HttpError::Connect { .. } | HttpError::Protocol { .. } => TransportError::Unreachable {
            host,
            detail: error.to_string(),
        },
    }
}
