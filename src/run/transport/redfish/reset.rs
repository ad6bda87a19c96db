//! Which `ResetType` to send: the first of the action's preferences that the BMC allows
//! (`ResetType@Redfish.AllowableValues` on the action, or its `@Redfish.ActionInfo`). BMCs
//! differ: some refuse `On` and take only `ForceOn`, some toggle with `PushPowerButton` only.

use hyper::Method;
use serde_json::Value;

use super::client::request;
use super::Call;
use crate::plan::power::redfish_reset_type;
use crate::run::transport::{PowerAction, TransportError};
use crate::topology::{RedfishOff, RedfishSettings};

/// What a system's `#ComputerSystem.Reset` action says about itself.
pub(super) struct ResetAction {
    /// Its `target`, when the system names one.
    pub target: Option<String>,
    /// `ResetType@Redfish.AllowableValues`, when listed on the action.
    pub allowed: Option<Vec<String>>,
    /// `@Redfish.ActionInfo`, where the allowed values may be listed instead.
    pub action_info: Option<String>,
}

impl ResetAction {
    /// Read from a ComputerSystem resource.
    pub fn of(system: &Value) -> ResetAction {
        let action = system
            .get("Actions")
            .and_then(|a| a.get("#ComputerSystem.Reset"));
        let text = |key: &str| {
            action
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        ResetAction {
            target: text("target"),
            allowed: action
                .and_then(|a| a.get("ResetType@Redfish.AllowableValues"))
                .and_then(strings),
            action_info: text("@Redfish.ActionInfo"),
        }
    }
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|list| {
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// The `ResetType`s that do `action`, best first; the first is the one the plan shows.
pub(super) fn preferences(redfish: &RedfishSettings, action: PowerAction) -> Vec<&'static str> {
    let Some(first) = redfish_reset_type(redfish, action) else {
        return Vec::new();
    };
    let more: &[&str] = match (action, redfish.off) {
        // Only asked of a system read as off, so the button switches it on.
        (PowerAction::On, _) => &["ForceOn", "PushPowerButton"],
        // A graceful shutdown is gentler than asked, never harsher.
        (PowerAction::Off, RedfishOff::ForceOff) => &["GracefulShutdown"],
        // Asked for gently: never forced off behind the operator's back.
        (PowerAction::Off, RedfishOff::GracefulShutdown) => &[],
        (PowerAction::Cycle, _) => &["PowerCycle", "GracefulRestart"],
        (PowerAction::Status, _) => &[],
    };
    std::iter::once(first).chain(more.iter().copied()).collect()
}

/// The allowed values, from the action or its ActionInfo; None when the BMC lists none (or
/// its ActionInfo cannot be read: the standard's name is then sent).
pub(super) async fn allowed_values(
    call: &Call<'_>,
    action: &ResetAction,
) -> Result<Option<Vec<String>>, TransportError> {
    if let Some(allowed) = &action.allowed {
        return Ok(Some(allowed.clone()));
    }
    let Some(info) = &action.action_info else {
        return Ok(None);
    };
    let url = super::client::same_bmc(call, &crate::plan::power::redfish_url(call.bmc, "/"), info)?;
    let answer = request(call, Method::GET, &url, None).await?;
    if answer.status != 200 {
        tracing::debug!(host = %call.host.name, "{url}: {}; sending the standard ResetType", answer.status);
        return Ok(None);
    }
    let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    Ok(value
        .get("Parameters")
        .and_then(Value::as_array)
        .and_then(|params| {
            params
                .iter()
                .find(|p| p.get("Name").and_then(Value::as_str) == Some("ResetType"))
        })
        .and_then(|p| p.get("AllowableValues"))
        .and_then(strings))
}

/// The `ResetType` to send and why it was chosen, or a refusal naming what the BMC allows.
pub(super) fn choose(
    call: &Call<'_>,
    preferences: &[&'static str],
    allowed: Option<&[String]>,
) -> Result<(&'static str, String), TransportError> {
    let Some(allowed) = allowed else {
        return Ok((
            preferences[0],
            "the BMC lists no allowable ResetType; the standard's name was sent".into(),
        ));
    };
    match preferences
        .iter()
        .find(|want| allowed.iter().any(|a| a == *want))
    {
        Some(reset) => Ok((
            reset,
            format!("first of {} the BMC allows ({})", preferences.join(", "), allowed.join(", ")),
        )),
        None => Err(TransportError::Refused {
            host: call.host.name.clone(),
            detail: format!(
                "BMC {} allows ResetType {} only; none of {} does this: check the BMC's firmware or use IPMI for this host",
                call.bmc.address,
                allowed.join(", "),
                preferences.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::TlsTrust;

    #[test]
    fn on_falls_back_to_force_on_and_graceful_off_never_forces() {
        let mut redfish = RedfishSettings {
            system: None,
            tls: TlsTrust::default(),
            off: RedfishOff::GracefulShutdown,
        };
        assert_eq!(
            preferences(&redfish, PowerAction::On),
            ["On", "ForceOn", "PushPowerButton"]
        );
        assert_eq!(
            preferences(&redfish, PowerAction::Off),
            ["GracefulShutdown"]
        );
        redfish.off = RedfishOff::ForceOff;
        assert_eq!(
            preferences(&redfish, PowerAction::Off),
            ["ForceOff", "GracefulShutdown"]
        );
        assert!(preferences(&redfish, PowerAction::Status).is_empty());
    }

    #[test]
    fn reads_the_action_annotations() {
        let system = serde_json::json!({"Actions": {"#ComputerSystem.Reset": {
            "target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset/",
            "ResetType@Redfish.AllowableValues": ["ForceOn", "ForceOff"],
            "@Redfish.ActionInfo": "/redfish/v1/Systems/1/ResetActionInfo"}}});
        let action = ResetAction::of(&system);
        assert_eq!(
            action.target.as_deref(),
            Some("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset/")
        );
        assert_eq!(action.allowed.unwrap(), ["ForceOn", "ForceOff"]);
        assert!(action.action_info.is_some());
        assert!(ResetAction::of(&serde_json::json!({})).target.is_none());
    }
}
