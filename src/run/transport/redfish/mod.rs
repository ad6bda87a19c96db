//! Power through Redfish BMCs over HTTPS, as real BMCs behave: the ComputerSystem is
//! discovered once per BMC (or configured, and then used exactly as written), its
//! `PowerState` read, and `ComputerSystem.Reset` posted with a `ResetType` the BMC allows. A
//! reset answered `202` is followed through its task monitor, then PowerState is read again.
//! What was done (system, ResetType, status, task) is handed back for the journal.
//!
//! HTTP basic authentication on every request: the password is read at each attempt, sent
//! only in the `Authorization` header (marked sensitive), and scrubbed from any text the BMC
//! sends back before it can reach an error, a log or the journal. A password a BMC refused
//! (401) is not sent to that BMC again, for any of the hosts behind it: a blade enclosure
//! serving a dozen systems would otherwise lock the account out within milliseconds.

mod client;
mod reset;
mod task;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use hyper::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::bmc_calls::BmcCalls;
use super::{PowerAction, PowerState, TransportError};
use crate::plan::power::{
    redfish_reset_body, redfish_reset_path, redfish_reset_type, redfish_system_path, redfish_url,
    BmcExchange, REDFISH_SYSTEMS,
};
use crate::topology::{Bmc, Host, RedfishSettings};
use client::{json, refused, request};

/// Power through Redfish, for the hosts whose BMC speaks it: [`BmcPower`](super::bmc::BmcPower)
/// chooses it per host. Cheap to clone; clones share the caps and what was learnt.
#[derive(Debug, Clone)]
pub struct RedfishPower {
    calls: BmcCalls,
    /// The ComputerSystem path found under each BMC address.
    systems: Arc<Mutex<HashMap<String, String>>>,
    /// Per BMC address: a keyed hash of the user and password it answered 401 to, and the
    /// host that call was for. Never the password itself.
    refused: Arc<Mutex<HashMap<String, (u64, String)>>>,
    hasher: RandomState,
}

/// One request's context: whom it is for and how it authenticates.
pub(super) struct Call<'a> {
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
            refused: Arc::new(Mutex::new(HashMap::new())),
            hasher: RandomState::new(),
        }
    }

    /// [`Power::power`](super::Power::power) for a host whose BMC speaks Redfish, with what
    /// was exchanged (None when no request got an answer).
    pub(super) async fn power_redfish(
        &self,
        host: &Host,
        bmc: &Bmc,
        redfish: &RedfishSettings,
        action: PowerAction,
    ) -> (Result<PowerState, TransportError>, Option<BmcExchange>) {
        let what = match redfish_reset_type(redfish, action) {
            None => format!("Redfish PowerState read at BMC {}", bmc.address),
            Some(reset) => format!("Redfish Reset {reset} at BMC {}", bmc.address),
        };
        let record = Mutex::new(BmcExchange::default());
        let result = self
            .calls
            .run(host, bmc, action, &what, |password| {
                let record = &record;
                async move {
                    let call = Call {
                        host,
                        bmc,
                        redfish,
                        password: password.expose(),
                    };
                    self.call_once(&call, action, record).await
                }
            })
            .await;
        let record = record.into_inner().unwrap_or_else(|e| e.into_inner());
        let record = (!record.system.is_empty() || record.status.is_some()).then_some(record);
        (result, record)
    }

    async fn call_once(
        &self,
        call: &Call<'_>,
        action: PowerAction,
        record: &Mutex<BmcExchange>,
    ) -> Result<PowerState, TransportError> {
        let began = Instant::now();
        self.not_refused_before(call)?;
        let result = self.exchange(call, action, record, began).await;
        if let Err(TransportError::Auth { .. }) = &result {
            self.refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    call.bmc.address.clone(),
                    (self.credentials(call), call.host.name.clone()),
                );
        }
        result
    }

    async fn exchange(
        &self,
        call: &Call<'_>,
        action: PowerAction,
        record: &Mutex<BmcExchange>,
        began: Instant,
    ) -> Result<PowerState, TransportError> {
        let note =
            |f: &dyn Fn(&mut BmcExchange)| f(&mut record.lock().unwrap_or_else(|e| e.into_inner()));
        let system = self.system_path(call).await?;
        let (system_url, value, state) = read_system(call, &system).await?;
        note(&|r| {
            r.system = system_url.clone();
            r.status = Some(200);
            r.power_state = Some(format!("{state:?}"));
        });
        let preferences = reset::preferences(call.redfish, action);
        let wanted = match action {
            PowerAction::Status => return Ok(state),
            PowerAction::Off => PowerState::Off,
            PowerAction::On | PowerAction::Cycle => PowerState::On,
        };
        if action != PowerAction::Cycle && state == wanted {
            // Nothing to switch: some BMCs refuse `On` for a system that is on.
            return Ok(state);
        }
        let action_info = reset::ResetAction::of(&value);
        let allowed = reset::allowed_values(call, &action_info).await?;
        let (reset, why) = reset::choose(call, &preferences, allowed.as_deref())?;
        note(&|r| {
            r.reset_type = Some(reset.to_string());
            r.reset_chosen = Some(why.clone());
        });
        let target = match &action_info.target {
            Some(target) => client::same_bmc(call, &system_url, target)?,
            None => {
                let path = system_url
                    .find("/redfish/")
                    .map_or(system.as_str(), |at| &system_url[at..]);
                redfish_url(call.bmc, &redfish_reset_path(path))
            }
        };
        let answer = request(call, Method::POST, &target, Some(redfish_reset_body(reset))).await?;
        note(&|r| r.status = Some(answer.status));
        match answer.status {
            202 => {
                let monitor = answer
                    .location
                    .clone()
                    .or_else(|| task_in_body(call, &answer));
                let Some(monitor) = monitor else {
                    return Ok(wanted);
                };
                note(&|r| r.task = Some(monitor.clone()));
                let limit = self.calls.timeout();
                // Our own deadline first, so the error names the task, not the whole call.
                let deadline = began + limit.saturating_sub(limit / 10);
                task::follow(call, &monitor, deadline, limit, record).await?;
                let (_, _, state) = read_system(call, &system).await?;
                note(&|r| r.power_state = Some(format!("{state:?}")));
                Ok(state)
            }
            200..=299 => Ok(wanted),
            status => {
                if action != PowerAction::Cycle {
                    if let Ok((_, _, state)) = read_system(call, &system).await {
                        if state == wanted {
                            return Ok(state);
                        }
                    }
                }
                Err(refused(call, "POST", &answer.url, status, &answer.body))
            }
        }
    }

    /// Refuses at once when this BMC already answered 401 to these credentials.
    fn not_refused_before(&self, call: &Call<'_>) -> Result<(), TransportError> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        match refused.get(&call.bmc.address) {
            Some((hash, first)) if *hash == self.credentials(call) => Err(TransportError::Auth {
                host: call.host.name.clone(),
                detail: format!(
                    "not tried: BMC {} already refused user {:?} with this password (401, for host {first}); one attempt per BMC, so its account is not locked out. Fix the password ({}) and run again",
                    call.bmc.address,
                    call.bmc.user,
                    crate::plan::actions::secret_origin(&call.bmc.password)
                ),
            }),
            _ => Ok(()),
        }
    }

    fn credentials(&self, call: &Call<'_>) -> u64 {
        self.hasher
            .hash_one((call.bmc.user.as_str(), call.password))
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
        let (_, collection) = get_json(call, &url).await?;
        let members: Vec<String> = collection
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
        // Kept as the BMC wrote it: a BMC that lists slashed paths answers under them.
        self.systems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call.bmc.address.clone(), path.clone());
        Ok(path.clone())
    }
}

/// A GET of `url` that must answer 200 with JSON: the URL that answered (after redirects)
/// and the document.
async fn get_json(call: &Call<'_>, url: &str) -> Result<(String, Value), TransportError> {
    let answer = request(call, Method::GET, url, None).await?;
    if answer.status != 200 {
        return Err(refused(
            call,
            "GET",
            &answer.url,
            answer.status,
            &answer.body,
        ));
    }
    let value = json(call, &answer.url, &answer.body)?;
    Ok((answer.url, value))
}

/// The system resource at `system`: the URL that answered, its JSON and its PowerState.
async fn read_system(
    call: &Call<'_>,
    system: &str,
) -> Result<(String, Value, PowerState), TransportError> {
    let (answered, value) = get_json(call, &redfish_url(call.bmc, system)).await?;
    let state = match value.get("PowerState").and_then(Value::as_str) {
        Some("On" | "PoweringOn") => PowerState::On,
        Some("Off" | "PoweringOff") => PowerState::Off,
        other => {
            return Err(TransportError::Other {
                host: call.host.name.clone(),
                detail: format!("{answered}: unexpected PowerState {other:?}"),
            })
        }
    };
    Ok((answered, value, state))
}

/// A 202 without `Location` may name its task in the body (a Task resource).
fn task_in_body(call: &Call<'_>, answer: &client::Answer) -> Option<String> {
    let value: Value = serde_json::from_str(&answer.body).ok()?;
    let path = value
        .get("TaskMonitor")
        .or_else(|| value.get("@odata.id"))
        .and_then(Value::as_str)?;
    client::same_bmc(call, &answer.url, path).ok()
}
