//! The interruptions of a night in words, for the summary, `status` and a resume's opening
//! lines: starts adopted after a kill, hosts that stopped answering, and what to type to
//! bring a failed run back.

use crate::event::narrate::node_label;
use crate::event::state::{NodeState, StepStatus};
use crate::event::PowerReport;
use crate::plan::{human, Plan};
use crate::run::scheduler::{AdoptedAfter, Adoption, HostLoss, Scheduler};
use crate::template::shell_quote;
use crate::topology::Topology;

/// `web on h11: in flight when the run was killed (launched 3.2s before the resume);
/// adopted: came up 2.1s after the resume, not started again`.
pub fn adoption_line(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    adoption: &Adoption,
) -> String {
    let label = node_label(topology, plan, scheduler.nodes(), adoption.node);
    let (taken, after) = match adoption.after {
        AdoptedAfter::Kill => ("in flight when the run was killed", "the resume"),
        AdoptedAfter::HostBack => ("cut off when its host stopped answering", "that"),
    };
    let outcome = match &adoption.ended {
        None => "being watched".to_string(),
        Some((at, Ok(()))) => format!(
            "adopted: came up {} after {after}, not started again",
            human(at.saturating_sub(adoption.since))
        ),
        Some((_, Err(why))) => match scheduler.nodes()[adoption.node].state {
            NodeState::Healthy { .. } => {
                format!("{why}; the probe before its retry found it healthy")
            }
            NodeState::Failed { .. } => format!("{why}; then FAILED"),
            _ => format!("{why}; retried under its retry policy"),
        },
    };
    format!(
        "{label}: {taken} (attempt {}, launched {} before {after}); {outcome}",
        adoption.attempt,
        human(adoption.running_for),
    )
}

/// `h13 stopped answering at +10.4s (SSH: ...); BMC: off, it LOST POWER; powered on again,
/// answers SSH since +25.0s`.
pub fn host_loss_line(topology: &Topology, loss: &HostLoss) -> String {
    let name = &topology.hosts[loss.host].name;
    let found = match &loss.power {
        None => "its BMC is being asked".to_string(),
        Some(Ok(PowerReport::Off)) => "BMC: off, it LOST POWER; powered on again".to_string(),
        Some(Ok(PowerReport::On)) => "BMC: on (rebooting, hung or cut off)".to_string(),
        Some(Ok(PowerReport::NoBmc)) => "no BMC to ask".to_string(),
        Some(Err(why)) => format!("its BMC failed too: {why}"),
    };
    let back = match loss.back_at {
        Some(at) => format!("answers SSH again since +{}", human(at)),
        None => "not answering yet".to_string(),
    };
    format!(
        "{name} stopped answering at +{} ({}); {found}; {back}",
        human(loss.noticed_at),
        loss.why
    )
}

/// Every adoption and host loss of the run, one line each.
pub fn interruption_lines(topology: &Topology, plan: &Plan, scheduler: &Scheduler) -> Vec<String> {
    let adopted = scheduler.adoptions().iter().map(|adoption| {
        format!(
            "ADOPTED  {}",
            adoption_line(topology, plan, scheduler, adoption)
        )
    });
    let lost = scheduler.host_losses().iter().map(|loss| {
        let word = if loss.lost_power() {
            "POWER LOST"
        } else {
            "HOST LOST"
        };
        format!("{word}  {}", host_loss_line(topology, loss))
    });
    adopted.chain(lost).collect()
}

/// What brings a stopped or failed run back, as commands to type: `retry` for each failed
/// step (failed nodes stay failed on resume until re-armed, or the resume would fail them
/// again in a second), then `run --resume`. Empty when the run recovered.
pub fn next_steps(
    plan: &Plan,
    scheduler: &Scheduler,
    run_dir: &std::path::Path,
    finished: bool,
) -> Vec<String> {
    let dir = shell_quote(&run_dir.display().to_string());
    let mut failed_steps: Vec<usize> = Vec::new();
    for node in scheduler.nodes() {
        if matches!(node.state, NodeState::Failed { .. }) && !failed_steps.contains(&node.step) {
            failed_steps.push(node.step);
        }
    }
    let held = scheduler
        .holds()
        .iter()
        .enumerate()
        .filter(|(_, hold)| hold.is_some())
        .map(|(step, _)| step);
    let mut lines = Vec::new();
    for step in failed_steps.iter().copied() {
        let stuck = scheduler.statuses()[step] != StepStatus::Ready;
        let what = if stuck {
            "after repairing"
        } else {
            "to bring back the nodes that failed within quorum, after repairing"
        };
        lines.push(format!(
            "{what} {}: blackstart retry {dir} {}",
            plan.steps[step].id,
            shell_quote(&plan.steps[step].id)
        ));
    }
    for step in held {
        lines.push(format!(
            "{} is held ({}); fix that and start a new run",
            plan.steps[step].id,
            scheduler.holds()[step]
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default()
        ));
    }
    let unfinished = !scheduler.succeeded() || !finished;
    if unfinished || !failed_steps.is_empty() {
        let then = if failed_steps.is_empty() {
            "continue with"
        } else {
            "then continue with"
        };
        lines.push(format!("{then}: blackstart run --resume {dir}"));
    }
    lines
}
