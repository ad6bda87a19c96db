//! The driver: one event loop that owns all state. It asks the scheduler for actions, hands
//! them to executor tasks, takes their events back over a channel, journals everything, and
//! shows progress. Workers never touch shared state; they only report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::event::{Action, Event, NodeId};
use super::executor::{Executor, Outcome, Target};
use super::scheduler::Scheduler;
use super::state::NodeState;
use super::transport::{Power, Probe, Remote};
use crate::journal::{Entry, Journal, JournalError, REQUESTS_DIR};
use crate::plan::Plan;
use crate::report::{summary, Progress};
use crate::topology::Topology;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Every step is ready.
    pub succeeded: bool,
    /// Stopped by a signal before finishing.
    pub interrupted: bool,
    /// The final summary for people.
    pub summary: String,
}

/// A request, left in the run directory by `blackstart retry`, to re-arm failed nodes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RetryRequest {
    /// A subsystem name or step id (`name@bootstrap`).
    pub target: String,
    /// Only the node on this host.
    pub host: Option<String>,
}

/// The failed nodes a retry request names.
pub fn matching_failed_nodes(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    request: &RetryRequest,
) -> Vec<NodeId> {
    scheduler
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.state, NodeState::Failed { .. }))
        .filter(|(_, node)| {
            let step = &plan.steps[node.step];
            let subsystem = &topology.subsystems[step.step.subsystem].name;
            (step.id == request.target || *subsystem == request.target)
                && request
                    .host
                    .as_ref()
                    .is_none_or(|host| topology.hosts[node.host].name == *host)
        })
        .map(|(id, _)| id)
        .collect()
}

/// Rebuilds a scheduler from journaled events and makes it ready to continue.
pub fn replay(
    topology: &Topology,
    plan: &Plan,
    seed: u64,
    events: &[(Duration, Event)],
) -> Scheduler {
    let mut scheduler = Scheduler::new(topology, plan, seed);
    for (at, event) in events {
        scheduler.handle(*at, event);
    }
    scheduler
}

/// `step on host` for nodes, the host name for host actions.
pub fn label(topology: &Topology, plan: &Plan, scheduler: &Scheduler, action: &Action) -> String {
    match action {
        Action::CheckPower { host } | Action::PowerOn { host } | Action::WaitSsh { host } => {
            topology.hosts[*host].name.clone()
        }
        Action::Probe { node } | Action::Start { node, .. } => {
            node_label(topology, plan, scheduler, *node)
        }
    }
}

fn node_label(topology: &Topology, plan: &Plan, scheduler: &Scheduler, node: NodeId) -> String {
    let node = &scheduler.nodes()[node];
    format!(
        "{} on {}",
        plan.steps[node.step].id, topology.hosts[node.host].name
    )
}

fn event_label(topology: &Topology, plan: &Plan, scheduler: &Scheduler, event: &Event) -> String {
    match event {
        Event::PowerChecked { host, .. }
        | Event::PoweredOn { host, .. }
        | Event::SshReady { host, .. } => topology.hosts[*host].name.clone(),
        Event::Probed { node, .. }
        | Event::StartFinished { node, .. }
        | Event::Rearmed { node } => node_label(topology, plan, scheduler, *node),
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::PowerChecked {
            result: Ok(state), ..
        } => format!("power is {state:?}").to_lowercase(),
        Event::PowerChecked {
            result: Err(why), ..
        } => format!("BMC FAILED: {why}"),
        Event::PoweredOn { result: Ok(()), .. } => "powered on".into(),
        Event::PoweredOn {
            result: Err(why), ..
        } => format!("power on FAILED: {why}"),
        Event::SshReady { result: Ok(()), .. } => "answers SSH".into(),
        Event::SshReady {
            result: Err(why), ..
        } => format!("SSH FAILED: {why}"),
        Event::Probed { healthy: true, .. } => "already healthy: left alone".into(),
        Event::Probed {
            healthy: false,
            detail,
            ..
        } => format!("not healthy yet ({detail})"),
        Event::StartFinished {
            attempt,
            result: Ok(()),
            ..
        } => format!("healthy (attempt {attempt})"),
        Event::StartFinished {
            attempt,
            result: Err(why),
            ..
        } => format!("attempt {attempt} FAILED: {why}"),
        Event::Rearmed { .. } => "re-armed by an operator".into(),
    }
}

/// Runs (or resumes) the plan until everything is settled or a signal stops it.
#[allow(clippy::too_many_arguments)]
pub async fn drive<P: Power, R: Remote, Q: Probe>(
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    executor: Executor<P, R, Q>,
    mut journal: Journal,
    run_dir: &Path,
    mut scheduler: Scheduler,
    resumed: bool,
    plan_digest: &str,
) -> Result<RunResult, JournalError> {
    let origin = Instant::now();
    let offset = journal.offset();
    let now = || offset + origin.elapsed();
    journal.append(
        Duration::ZERO,
        Entry::RunStarted {
            plan_digest: plan_digest.to_string(),
            topology: topology.name.clone(),
            resumed,
            pid: std::process::id(),
        },
    );
    let mut ready_at: Vec<Option<Duration>> = vec![None; plan.steps.len()];
    let mut statuses = scheduler.statuses().to_vec();
    let mut progress = Progress::new();
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Action, Outcome, Duration)>();
    let mut tasks = JoinSet::new();
    let mut interrupted = false;
    let mut stop = Box::pin(shutdown_signal());
    let mut request_poll = tokio::time::interval(Duration::from_millis(250));
    loop {
        let at = now();
        for action in scheduler.next_actions(at) {
            let target = target_of(&plan, &scheduler, &action);
            journal.append(
                at - offset,
                Entry::Action {
                    label: label(&topology, &plan, &scheduler, &action),
                    command: executor.describe(&action, target),
                    action: action.clone(),
                },
            );
            let executor = executor.clone();
            let sender = sender.clone();
            tasks.spawn(async move {
                let began = Instant::now();
                let outcome = executor.perform(action.clone(), target).await;
                let _ = sender.send((action, outcome, began.elapsed()));
            });
        }
        journal.sync()?;
        progress.draw(&topology, &plan, &scheduler, at);
        if scheduler.is_finished() {
            break;
        }
        let wake = scheduler
            .next_wakeup()
            .map(|t| t.saturating_sub(at))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            Some((_action, outcome, took)) = receiver.recv() => {
                let at = now();
                let label = event_label(&topology, &plan, &scheduler, &outcome.event);
                progress.line(at, &format!("{label}: {}", describe(&outcome.event)));
                journal.append(at - offset, Entry::Event {
                    label,
                    event: outcome.event.clone(),
                    duration_ms: took.as_millis() as u64,
                    output: outcome.output,
                });
                scheduler.handle(at, &outcome.event);
                record_status_changes(&plan, &scheduler, &mut statuses, &mut ready_at, &mut journal, at - offset);
            }
            _ = tokio::time::sleep(wake) => {}
            _ = request_poll.tick() => {
                for request in take_requests(run_dir) {
                    for node in matching_failed_nodes(&topology, &plan, &scheduler, &request) {
                        let event = Event::Rearmed { node };
                        let label = event_label(&topology, &plan, &scheduler, &event);
                        progress.line(now(), &format!("{label}: {}", describe(&event)));
                        journal.append(now() - offset, Entry::Event { label, event: event.clone(), duration_ms: 0, output: None });
                        scheduler.handle(now(), &event);
                    }
                }
                record_status_changes(&plan, &scheduler, &mut statuses, &mut ready_at, &mut journal, now() - offset);
            }
            _ = &mut stop, if !interrupted => {
                interrupted = true;
                progress.line(now(), "stop requested: no new work; waiting for running steps to finish or time out");
                scheduler.stop();
            }
        }
    }
    let succeeded = scheduler.succeeded();
    let outcome = if succeeded {
        "succeeded"
    } else if interrupted {
        "interrupted"
    } else {
        "failed"
    };
    journal.append(
        now() - offset,
        Entry::RunFinished {
            outcome: outcome.into(),
        },
    );
    journal.sync()?;
    let mut text = summary(&topology, &plan, &scheduler, &ready_at, now());
    if interrupted || !succeeded {
        text.push_str(&format!(
            "  resume with: blackstart run --resume {}\n",
            crate::template::shell_quote(&run_dir.display().to_string())
        ));
    }
    Ok(RunResult {
        succeeded,
        interrupted,
        summary: text,
    })
}

fn target_of(plan: &Plan, scheduler: &Scheduler, action: &Action) -> Target {
    match action {
        Action::CheckPower { host } | Action::PowerOn { host } | Action::WaitSsh { host } => {
            Target {
                host: *host,
                step: None,
            }
        }
        Action::Probe { node } | Action::Start { node, .. } => {
            let node = &scheduler.nodes()[*node];
            Target {
                host: node.host,
                step: Some(plan.steps[node.step].step),
            }
        }
    }
}

fn record_status_changes(
    plan: &Plan,
    scheduler: &Scheduler,
    statuses: &mut [crate::run::state::StepStatus],
    ready_at: &mut [Option<Duration>],
    journal: &mut Journal,
    elapsed: Duration,
) {
    for (id, status) in scheduler.statuses().iter().enumerate() {
        if *status != statuses[id] {
            statuses[id] = status.clone();
            if *status == crate::run::state::StepStatus::Ready && ready_at[id].is_none() {
                ready_at[id] = Some(elapsed + journal.offset());
            }
            let text = serde_json::to_value(status)
                .ok()
                .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            journal.append(
                elapsed,
                Entry::StepStatus {
                    step: plan.steps[id].id.clone(),
                    status: text,
                },
            );
        }
    }
}

/// Reads and removes pending retry requests.
fn take_requests(run_dir: &Path) -> Vec<RetryRequest> {
    let dir: PathBuf = run_dir.join(REQUESTS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let _ = std::fs::remove_file(&path);
            serde_json::from_str(&text).ok()
        })
        .collect()
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
