//! The driver: one event loop that owns all state. It asks the scheduler for actions, hands
//! them to executor tasks, takes their events back over a channel, journals everything, and
//! shows progress. Workers never touch shared state; they only report.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::event::{Action, Event};
use super::executor::{Executor, Outcome, Target};
use super::narrate::{describe, event_label, label};
use super::requests::{self, Request};
use super::scheduler::Scheduler;
use super::state::StepStatus;
use super::transport::{Power, Probe, Remote};
use crate::journal::{Entry, Journal, JournalError};
use crate::plan::Plan;
use crate::report::{summary, Progress};
use crate::topology::{SubsystemKind, Topology};

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Every step is ready.
    pub succeeded: bool,
    /// Stopped by a signal before finishing.
    pub interrupted: bool,
    /// The final summary for people.
    pub summary: String,
    /// Where every node and step ended.
    pub final_state: Scheduler,
    /// Elapsed time of this process's part of the run.
    pub elapsed: Duration,
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
    // Start from "waiting" so statuses already settled at the start are journaled too.
    let mut statuses = vec![StepStatus::Waiting; plan.steps.len()];
    let mut progress = Progress::new();
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Action, Outcome, Duration)>();
    let mut tasks = JoinSet::new();
    let mut interrupted = false;
    let mut stop = Box::pin(shutdown_signal());
    let mut request_poll = tokio::time::interval(Duration::from_millis(250));
    let mut prompt = prompt_requests();
    // Holds decided before the loop (failed preflight checks) are journaled like any event.
    for step in 0..plan.steps.len() {
        if let Some(reason) = scheduler.holds()[step].clone() {
            let event = Event::Held { step, reason };
            journal.append(
                Duration::ZERO,
                Entry::Event {
                    label: plan.steps[step].id.clone(),
                    event,
                    duration_ms: 0,
                    output: None,
                },
            );
        }
    }
    record_status_changes(
        &topology,
        &plan,
        &scheduler,
        &mut statuses,
        &mut ready_at,
        &mut journal,
        &mut progress,
        run_dir,
        now() - offset,
    );
    loop {
        let at = now();
        // Journal first, act second: an action is on disk before it can touch a host.
        let mut launch = Vec::new();
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
            launch.push((action, target));
        }
        journal.sync()?;
        for (action, target) in launch {
            let executor = executor.clone();
            let sender = sender.clone();
            tasks.spawn(async move {
                let began = Instant::now();
                let outcome = executor.perform(action.clone(), target).await;
                let _ = sender.send((action, outcome, began.elapsed()));
            });
        }
        progress.draw(&topology, &plan, &scheduler, at);
        if scheduler.is_finished() {
            break;
        }
        let wake = scheduler
            .next_wakeup()
            .map(|t| t.saturating_sub(at))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            Some(first) = receiver.recv() => {
                // Take every result already waiting, so one sync covers them all.
                let mut batch = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    batch.push(more);
                }
                let at = now();
                for (_action, outcome, took) in batch {
                    let label = event_label(&topology, &plan, &scheduler, &outcome.event);
                    progress.line(at, &format!("{label}: {}", describe(&outcome.event)));
                    journal.append(at - offset, Entry::Event {
                        label,
                        event: outcome.event.clone(),
                        duration_ms: took.as_millis() as u64,
                        output: outcome.output,
                    });
                    scheduler.handle(at, &outcome.event);
                }
                record_status_changes(&topology, &plan, &scheduler, &mut statuses, &mut ready_at, &mut journal, &mut progress, run_dir, at - offset);
            }
            _ = tokio::time::sleep(wake) => {}
            _ = request_poll.tick() => {
                for request in requests::take(run_dir) {
                    apply_request(&topology, &plan, &mut scheduler, &mut journal, &mut progress, &request, now(), offset);
                }
                record_status_changes(&topology, &plan, &scheduler, &mut statuses, &mut ready_at, &mut journal, &mut progress, run_dir, now() - offset);
            }
            Some(request) = prompt.recv() => {
                apply_request(&topology, &plan, &mut scheduler, &mut journal, &mut progress, &request, now(), offset);
                record_status_changes(&topology, &plan, &scheduler, &mut statuses, &mut ready_at, &mut journal, &mut progress, run_dir, now() - offset);
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
        elapsed: origin.elapsed(),
        final_state: scheduler,
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
        Action::Probe { node } | Action::Start { node, .. } | Action::ReadValue { node } => {
            let node = &scheduler.nodes()[*node];
            Target {
                host: node.host,
                step: Some(plan.steps[node.step].step),
            }
        }
    }
}

/// Journals step status changes, notes ready times, and shows the instructions of manual
/// steps and gates as they become due.
#[allow(clippy::too_many_arguments)]
fn record_status_changes(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    statuses: &mut [StepStatus],
    ready_at: &mut [Option<Duration>],
    journal: &mut Journal,
    progress: &mut Progress,
    run_dir: &Path,
    elapsed: Duration,
) {
    for (id, status) in scheduler.statuses().iter().enumerate() {
        if *status == statuses[id] {
            continue;
        }
        statuses[id] = status.clone();
        if *status == StepStatus::Ready && ready_at[id].is_none() {
            ready_at[id] = Some(elapsed + journal.offset());
        }
        if *status == StepStatus::Active && scheduler.is_human(id) {
            let subsystem = &topology.subsystems[plan.steps[id].step.subsystem];
            let (what, instructions) = match &subsystem.kind {
                SubsystemKind::Gate { instructions } => ("GATE", instructions.as_str()),
                SubsystemKind::Manual { instructions } => ("MANUAL STEP", instructions.as_str()),
                SubsystemKind::Service => ("STEP", ""),
            };
            progress.line(
                elapsed + journal.offset(),
                &format!(
                    "{what} {} waits for a person:\n    {}\n    when done: blackstart ack {} {}",
                    plan.steps[id].id,
                    instructions.replace('\n', "\n    "),
                    crate::template::shell_quote(&run_dir.display().to_string()),
                    crate::template::shell_quote(&plan.steps[id].id),
                ),
            );
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

/// Carries out a person's request: its events are journaled and handed to the scheduler.
#[allow(clippy::too_many_arguments)]
fn apply_request(
    topology: &Topology,
    plan: &Plan,
    scheduler: &mut Scheduler,
    journal: &mut Journal,
    progress: &mut Progress,
    request: &Request,
    at: Duration,
    offset: Duration,
) {
    match requests::events_for(topology, plan, scheduler, request) {
        Ok(events) => {
            for event in events {
                let label = event_label(topology, plan, scheduler, &event);
                progress.line(at, &format!("{label}: {}", describe(&event)));
                journal.append(
                    at - offset,
                    Entry::Event {
                        label,
                        event: event.clone(),
                        duration_ms: 0,
                        output: None,
                    },
                );
                scheduler.handle(at, &event);
            }
        }
        Err(why) => progress.line(at, &format!("request ignored: {why}")),
    }
}

/// Lines typed at the terminal (`ack STEP`, `retry TARGET [HOST]`), when stdin is one.
fn prompt_requests() -> mpsc::UnboundedReceiver<Request> {
    let (sender, receiver) = mpsc::unbounded_channel();
    if std::io::stdin().is_terminal() {
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let request = match words.as_slice() {
                    ["ack", step] => Request::Ack {
                        step: step.to_string(),
                        by: requests::operator(),
                    },
                    ["retry", target] => Request::Retry {
                        target: target.to_string(),
                        host: None,
                    },
                    ["retry", target, host] => Request::Retry {
                        target: target.to_string(),
                        host: Some(host.to_string()),
                    },
                    _ => {
                        eprintln!("type `ack STEP` or `retry SUBSYSTEM [HOST]`");
                        continue;
                    }
                };
                if sender.send(request).is_err() {
                    break;
                }
            }
        });
    }
    receiver
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
