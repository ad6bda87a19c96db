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
use super::transport::{CommandOutput, Power, Probe, Remote};
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

/// Where a run lives and what it carries out.
#[derive(Debug, Clone, Copy)]
pub struct RunSetup<'a> {
    /// The run directory (journal, lock, requests).
    pub run_dir: &'a Path,
    /// True for `--resume`.
    pub resumed: bool,
    /// Digest of the topology and scope, recorded in the journal.
    pub plan_digest: &'a str,
}

/// Runs (or resumes) the plan until everything is settled or a signal stops it.
pub async fn drive<P: Power, R: Remote, Q: Probe>(
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    executor: Executor<P, R, Q>,
    journal: Journal,
    mut scheduler: Scheduler,
    setup: RunSetup<'_>,
) -> Result<RunResult, JournalError> {
    let origin = Instant::now();
    let offset = journal.offset();
    let now = || offset + origin.elapsed();
    let mut ledger = Ledger {
        topology: &topology,
        plan: &plan,
        run_dir: setup.run_dir,
        journal,
        progress: Progress::new(),
        statuses: vec![StepStatus::Waiting; plan.steps.len()],
        ready_at: vec![None; plan.steps.len()],
    };
    ledger.journal.append(
        Duration::ZERO,
        Entry::RunStarted {
            plan_digest: setup.plan_digest.to_string(),
            topology: topology.name.clone(),
            resumed: setup.resumed,
            pid: std::process::id(),
        },
    );
    // Holds decided before the loop (failed preflight checks) are journaled like any event.
    for step in 0..plan.steps.len() {
        if let Some(reason) = scheduler.holds()[step].clone() {
            let event = Event::Held { step, reason };
            let label = plan.steps[step].id.clone();
            ledger.journal.append(
                Duration::ZERO,
                Entry::Event {
                    label,
                    event,
                    duration_ms: 0,
                    output: None,
                },
            );
        }
    }
    ledger.statuses(&scheduler, now());
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Outcome, Duration)>();
    let mut tasks = JoinSet::new();
    let mut interrupted = false;
    let mut stop = Box::pin(shutdown_signal());
    let mut request_poll = tokio::time::interval(Duration::from_millis(250));
    let mut prompt = prompt_requests();
    loop {
        let at = now();
        // Journal first, act second: an action is on disk before it can touch a host.
        let mut launch = Vec::new();
        for action in scheduler.next_actions(at) {
            let target = target_of(&plan, &scheduler, &action);
            ledger.journal.append(
                at - offset,
                Entry::Action {
                    label: label(&topology, &plan, &scheduler, &action),
                    command: executor.describe(&action, target),
                    action: action.clone(),
                },
            );
            launch.push((action, target));
        }
        ledger.journal.sync()?;
        for (action, target) in launch {
            let executor = executor.clone();
            let sender = sender.clone();
            tasks.spawn(async move {
                let began = Instant::now();
                let outcome = executor.perform(action, target).await;
                let _ = sender.send((outcome, began.elapsed()));
            });
        }
        ledger.progress.draw(&topology, &plan, &scheduler, at);
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
                let at = now();
                let mut next = Some(first);
                while let Some((outcome, took)) = next {
                    ledger.event(&mut scheduler, at, outcome.event, took, outcome.output);
                    next = receiver.try_recv().ok();
                }
                ledger.statuses(&scheduler, at);
            }
            _ = tokio::time::sleep(wake) => {}
            _ = request_poll.tick() => {
                for request in requests::take(setup.run_dir) {
                    ledger.request(&mut scheduler, &request, now());
                }
                ledger.statuses(&scheduler, now());
            }
            Some(request) = prompt.recv() => {
                ledger.request(&mut scheduler, &request, now());
                ledger.statuses(&scheduler, now());
            }
            _ = &mut stop, if !interrupted => {
                interrupted = true;
                ledger.progress.line(now(), "stop requested: no new work; waiting for running steps to finish or time out");
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
    ledger.journal.append(
        now() - offset,
        Entry::RunFinished {
            outcome: outcome.into(),
        },
    );
    ledger.journal.sync()?;
    let mut text = summary(&topology, &plan, &scheduler, &ledger.ready_at, now());
    if interrupted || !succeeded {
        text.push_str(&format!(
            "  resume with: blackstart run --resume {}\n",
            crate::template::shell_quote(&setup.run_dir.display().to_string())
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

/// What the loop writes down: the journal, the progress lines, and what it has noted of
/// each step. Everything people read and the journal records passes through here.
struct Ledger<'a> {
    topology: &'a Topology,
    plan: &'a Plan,
    run_dir: &'a Path,
    journal: Journal,
    progress: Progress,
    /// Last status journaled per step; starts at "waiting" so statuses already settled at
    /// the start are journaled too.
    statuses: Vec<StepStatus>,
    /// When each step first became ready, from the start of the run.
    ready_at: Vec<Option<Duration>>,
}

impl Ledger<'_> {
    /// Journals and shows an event, then hands it to the scheduler.
    fn event(
        &mut self,
        scheduler: &mut Scheduler,
        at: Duration,
        event: Event,
        took: Duration,
        output: Option<CommandOutput>,
    ) {
        let label = event_label(self.topology, self.plan, scheduler, &event);
        self.progress
            .line(at, &format!("{label}: {}", describe(&event)));
        scheduler.handle(at, &event);
        let elapsed = at.saturating_sub(self.journal.offset());
        self.journal.append(
            elapsed,
            Entry::Event {
                label,
                event,
                duration_ms: took.as_millis() as u64,
                output,
            },
        );
    }

    /// Carries out a person's request: its events are journaled and handed to the scheduler.
    fn request(&mut self, scheduler: &mut Scheduler, request: &Request, at: Duration) {
        match requests::events_for(self.topology, self.plan, scheduler, request) {
            Ok(events) => {
                for event in events {
                    self.event(scheduler, at, event, Duration::ZERO, None);
                }
            }
            Err(why) => self.progress.line(at, &format!("request ignored: {why}")),
        }
    }

    /// Journals step status changes, notes ready times, and shows the instructions of
    /// manual steps and gates as they become due.
    fn statuses(&mut self, scheduler: &Scheduler, at: Duration) {
        let (topology, plan) = (self.topology, self.plan);
        for (id, status) in scheduler.statuses().iter().enumerate() {
            if *status == self.statuses[id] {
                continue;
            }
            self.statuses[id] = status.clone();
            if *status == StepStatus::Ready && self.ready_at[id].is_none() {
                self.ready_at[id] = Some(at);
            }
            if *status == StepStatus::Active && scheduler.is_human(id) {
                let (what, instructions) =
                    match &topology.subsystems[plan.steps[id].step.subsystem].kind {
                        SubsystemKind::Gate { instructions } => ("GATE", instructions.as_str()),
                        SubsystemKind::Manual { instructions } => {
                            ("MANUAL STEP", instructions.as_str())
                        }
                        SubsystemKind::Service => ("STEP", ""),
                    };
                self.progress.line(
                    at,
                    &format!(
                        "{what} {} waits for a person:\n    {}\n    when done: blackstart ack {} {}",
                        plan.steps[id].id,
                        instructions.replace('\n', "\n    "),
                        crate::template::shell_quote(&self.run_dir.display().to_string()),
                        crate::template::shell_quote(&plan.steps[id].id),
                    ),
                );
            }
            let text = serde_json::to_value(status)
                .ok()
                .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            let elapsed = at.saturating_sub(self.journal.offset());
            self.journal.append(
                elapsed,
                Entry::StepStatus {
                    step: plan.steps[id].id.clone(),
                    status: text,
                },
            );
        }
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
