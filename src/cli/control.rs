//! `status`, `retry` and `ack`: where a run stands, re-arming a node after a person has
//! repaired it, and acknowledging manual steps and gates.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use blackstart::event::narrate;
use blackstart::event::state::{NodeState, StepStatus};
use blackstart::journal::{self, Journal, Sink};
use blackstart::plan::human;
use blackstart::run::requests::{self, Request};
use blackstart::run::scheduler::Scheduler;

use super::run::{prepare, scheduler_for, Prepared};
use super::Outcome;

/// A run directory read back: what ran, the replayed scheduler, the journal.
type LoadedRun = (Prepared, Scheduler, Vec<journal::Record>);

pub(super) fn load_run(dir: &Path) -> anyhow::Result<Result<LoadedRun, Outcome>> {
    let info = journal::read_info(dir)
        .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
        Ok(prepared) => prepared,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let records = journal::read(dir)?;
    let scheduler = scheduler_for(&prepared, &journal::events(&records));
    Ok(Ok((prepared, scheduler, records)))
}

/// `blackstart status RUN_DIR`.
pub fn status(dir: &Path) -> anyhow::Result<Outcome> {
    let (prepared, scheduler, records) = match load_run(dir)? {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let live = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(journal::LOCK_FILE))
        .map(|file| file.try_lock().is_err())
        .unwrap_or(false);
    let finished = records.iter().rev().find_map(|r| match &r.entry {
        journal::Entry::RunFinished { outcome } => Some(outcome.clone()),
        _ => None,
    });
    let elapsed = records.last().map_or(0, |r| r.t_ms);
    println!(
        "RUN {}  topology {}  {}  elapsed {}",
        dir.display(),
        topology.name,
        if live {
            "LIVE (a process holds the lock)".to_string()
        } else {
            format!(
                "not running (last outcome: {})",
                finished.unwrap_or_else(|| "killed before finishing".into())
            )
        },
        human(Duration::from_millis(elapsed))
    );
    let mut remaining = Duration::ZERO;
    let done_at = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, _)| scheduler.statuses()[*id] == StepStatus::Ready)
        .map(|(_, step)| step.ready_at)
        .max()
        .unwrap_or_default();
    for (id, step) in plan.steps.iter().enumerate() {
        let status = &scheduler.statuses()[id];
        let nodes: Vec<_> = scheduler.nodes().iter().filter(|n| n.step == id).collect();
        let in_progress = nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.state,
                    NodeState::Starting { .. } | NodeState::Probing | NodeState::Backoff { .. }
                )
            })
            .count();
        let text = match status {
            StepStatus::Active => format!("in progress ({in_progress} starting)"),
            _ => narrate::status_text(plan, status, scheduler.step_failure(id).as_ref()),
        };
        if *status != StepStatus::Ready {
            remaining = remaining.max(step.ready_at.saturating_sub(done_at));
        }
        println!(
            "  [{}] {:<32} {:>5}/{:<5} healthy  {text}",
            topology.subsystems[step.step.subsystem].tier,
            step.id,
            scheduler.healthy_count(id),
            step.hosts.len()
        );
        for node in nodes {
            if let NodeState::Failed { reason } = &node.state {
                println!(
                    "      failed on {}: {reason}",
                    topology.hosts[node.host].name
                );
            }
        }
    }
    println!(
        "remaining ETA (plan, from what is healthy): {}",
        human(remaining)
    );
    Ok(Outcome::Success)
}

/// `blackstart retry RUN_DIR TARGET [--host HOST]`.
pub fn retry(dir: &Path, target: String, host: Option<String>) -> anyhow::Result<Outcome> {
    request(dir, Request::Retry { target, host })
}

/// `blackstart ack RUN_DIR STEP`.
pub fn ack(dir: &Path, step: String, by: Option<String>) -> anyhow::Result<Outcome> {
    request(
        dir,
        Request::Ack {
            step,
            by: by.unwrap_or_else(requests::operator),
        },
    )
}

/// Hands a request to the live run of `dir`, or records it in the journal of a stopped
/// run (carried out by `run --resume`).
fn request(dir: &Path, request: Request) -> anyhow::Result<Outcome> {
    let (prepared, scheduler, records) = match load_run(dir)? {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let events =
        match requests::events_for(&prepared.topology, &prepared.plan, &scheduler, &request) {
            Ok(events) => events,
            Err(why) => {
                eprintln!(
                    "error: {why}; `blackstart status {}` shows the run",
                    dir.display()
                );
                return Ok(Outcome::InvalidInput);
            }
        };
    match Journal::open(dir, Duration::ZERO) {
        Ok(mut journal) => {
            let offset = Duration::from_millis(records.last().map_or(0, |r| r.t_ms));
            for event in events {
                let label = narrate::event_label(
                    &prepared.topology,
                    &prepared.plan,
                    scheduler.nodes(),
                    &event,
                );
                journal.append(
                    offset,
                    journal::Entry::Event {
                        label,
                        event,
                        duration_ms: 0,
                        output: None,
                    },
                );
            }
            journal.sync()?;
            println!(
                "recorded; continue with: blackstart run --resume {}",
                dir.display()
            );
        }
        Err(journal::JournalError::Locked(_)) => {
            requests::submit(dir, &request)?;
            println!("handed to the live run");
        }
        Err(err) => return Err(err.into()),
    }
    Ok(Outcome::Success)
}
