//! A reset answered `202 Accepted` is not done: the BMC hands a task monitor (`Location`)
//! to poll until the task ends. A failed task is the BMC's error, with the task's own
//! messages, never taken as a power-on that SSH then fails to see.

use std::time::Duration;

use hyper::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::client::{message_of, refused, request};
use super::Call;
use crate::plan::power::BmcExchange;
use crate::run::transport::TransportError;

/// First pause between two polls; grows to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// Most polls of one task, whatever the deadline.
const MAX_POLLS: usize = 600;

/// Polls the task monitor at `monitor` until its task ends or `deadline` passes. Ok when it
/// completed (or its monitor is gone, which some BMCs do once a task ends: the PowerState
/// read next decides).
pub(super) async fn follow(
    call: &Call<'_>,
    monitor: &str,
    deadline: Instant,
    limit: Duration,
    record: &std::sync::Mutex<BmcExchange>,
) -> Result<(), TransportError> {
    let mut pause = FIRST_PAUSE;
    let mut last = "New".to_string();
    let note = |state: &str| {
        let mut record = record.lock().unwrap_or_else(|e| e.into_inner());
        record.task_state = Some(state.to_string());
    };
    for _ in 0..MAX_POLLS {
        let answer = request(call, Method::GET, monitor, None).await?;
        let task: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let state = task.get("TaskState").and_then(Value::as_str);
        match (answer.status, state) {
            (202, state) => {
                last = state.unwrap_or("Running").to_string();
                note(&last);
            }
            (200, Some(state)) if running(state) => {
                last = state.to_string();
                note(&last);
            }
            (200, Some(state)) => {
                note(state);
                let critical = task.get("TaskStatus").and_then(Value::as_str) == Some("Critical");
                if state == "Completed" && !critical {
                    return Ok(());
                }
                let says: Vec<String> = task
                    .get("Messages")
                    .and_then(Value::as_array)
                    .map(|list| list.iter().filter_map(message_of).collect())
                    .unwrap_or_default();
                return Err(TransportError::Refused {
                    host: call.host.name.clone(),
                    detail: format!(
                        "BMC {} task {monitor} ended {state}{}: {}",
                        call.bmc.address,
                        if critical {
                            " (TaskStatus Critical)"
                        } else {
                            ""
                        },
                        if says.is_empty() {
                            "the task gave no message".to_string()
                        } else {
                            says.join("; ")
                        }
                    ),
                });
            }
            // The operation's own answer, or an empty one: done.
            (200 | 204, None) => {
                note("Completed");
                return Ok(());
            }
            (404 | 410, _) => {
                note("gone");
                return Ok(());
            }
            (status, _) => return Err(refused(call, "GET", monitor, status, &answer.body)),
        }
        let now = Instant::now();
        if now + pause >= deadline {
            return Err(TransportError::Timeout {
                host: call.host.name.clone(),
                what: format!(
                    "Redfish task {monitor} at BMC {} (last TaskState {last})",
                    call.bmc.address
                ),
                after: limit,
                reaching: false,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(MAX_PAUSE);
    }
    Err(TransportError::Refused {
        host: call.host.name.clone(),
        detail: format!("BMC task {monitor} still {last} after {MAX_POLLS} polls"),
    })
}

fn running(state: &str) -> bool {
    matches!(
        state,
        "New" | "Starting" | "Running" | "Pending" | "Stopping" | "Suspended" | "Service"
    )
}
