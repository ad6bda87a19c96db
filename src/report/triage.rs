//! What is wrong, first: the banner every summary and `status` lead with. For each failed
//! step its cause, how many healthy of how many needed, how many steps wait behind it (by
//! tier) and the command to type after the repair; for each gate or manual step waiting,
//! the `ack` to type. A healthy run has no banner.

use std::collections::BTreeMap;

use crate::event::narrate::failures_by_cause_where;
use crate::event::state::StepStatus;
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;
use crate::template::shell_quote;
use crate::topology::Topology;
use crate::units::count;

/// The banner's lines (empty when nothing is wrong and nobody is waited for). `run_dir`
/// names the directory in the commands to type; a drill without one gets no commands.
pub fn banner(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    run_dir: Option<&str>,
) -> Vec<String> {
    let dir = run_dir.map(shell_quote);
    let statuses = scheduler.statuses();
    let mut lines = Vec::new();
    for (id, status) in statuses.iter().enumerate() {
        if *status != StepStatus::Failed {
            continue;
        }
        let step = &plan.steps[id];
        let causes: Vec<String> =
            failures_by_cause_where(scheduler.nodes(), |node| node.step == id)
                .iter()
                .map(|group| {
                    format!(
                        "{} on {}",
                        group.cause_text(),
                        count(group.hosts.len(), "host", "hosts")
                    )
                })
                .collect();
        let why = match (causes.is_empty(), scheduler.holds()[id].as_ref()) {
            (_, Some(hold)) => format!("held: {hold}"),
            (false, None) => causes.join("; "),
            (true, None) => "failed".to_string(),
        };
        let mut behind: BTreeMap<String, usize> = BTreeMap::new();
        for (blocked, status) in statuses.iter().enumerate() {
            if *status == (StepStatus::Blocked { on: id }) {
                let tier = topology.subsystems[plan.steps[blocked].step.subsystem].tier;
                *behind.entry(tier.to_string()).or_default() += 1;
            }
        }
        let blocks = match behind.values().sum::<usize>() {
            0 => "blocks nothing".to_string(),
            total => format!(
                "blocks {} ({})",
                count(total, "step", "steps"),
                behind
                    .iter()
                    .map(|(tier, n)| format!("{tier} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        lines.push(format!(
            "FAILED  {}: {} of {} healthy, {} needed; {why}; {blocks}",
            step.id,
            scheduler.healthy_count(id),
            step.hosts.len(),
            step.required_healthy
        ));
        let next = match (&dir, scheduler.holds()[id].is_some()) {
            (_, true) => Some("fix what holds it, then start a new run".to_string()),
            (Some(dir), false) => Some(format!(
                "repair, then: blackstart retry {dir} {}",
                shell_quote(&step.id)
            )),
            (None, false) => None,
        };
        if let Some(next) = next {
            lines.push(format!("        next: {next}"));
        }
    }
    for (id, status) in statuses.iter().enumerate() {
        if *status == StepStatus::Active && scheduler.is_human(id) {
            let how = dir.as_ref().map_or_else(String::new, |dir| {
                format!(
                    ": when done, blackstart ack {dir} {} --by NAME",
                    shell_quote(&plan.steps[id].id)
                )
            });
            lines.push(format!("WAITING {} for a person{how}", plan.steps[id].id));
        }
    }
    lines
}

/// Blocked steps, one line per failed step they wait for (`BLOCKED 116 steps wait for
/// failed ldap: a, b, c, d, e and 111 more`): printed once, grouped.
pub fn blocked_lines(plan: &Plan, scheduler: &Scheduler) -> Vec<String> {
    crate::event::narrate::held_back_lines(plan, scheduler.statuses(), |id| {
        scheduler.step_failure(id)
    })
    .into_iter()
    .filter(|line| line.starts_with("BLOCKED"))
    .collect()
}
