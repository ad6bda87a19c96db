//! The status as text, for `blackstart status`: the run's state, the banner of what
//! blocks it, the tier table, failures grouped by cause, and what to do next.

use std::fmt::Write;
use std::time::Duration;

use super::{RunState, RunStatus};
use crate::event::narrate::{self, failure_lines, spare_lines};
use crate::journal::RunOutcome;
use crate::plan::{human, Plan};
use crate::report::interruptions::{interruption_lines, next_steps};
use crate::report::summary::Verdict;
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// Plans with more steps than this show ready and blocked steps folded.
pub const FOLD_ABOVE: usize = 30;

/// The status as text; `all_failed` lists every failed node instead of grouping.
pub fn render_status(
    status: &RunStatus,
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    run_dir: &str,
    all_failed: bool,
) -> String {
    let mut out = String::new();
    let elapsed = human(Duration::from_millis(status.elapsed_ms));
    let time = match status.recovered_ms {
        Some(ms) => format!(
            "recovered in {} (last record +{elapsed})",
            human(Duration::from_millis(ms))
        ),
        None => format!("elapsed {elapsed}"),
    };
    let _ = writeln!(
        out,
        "RUN {run_dir}  topology {}  {}  {time}",
        status.topology,
        narrate::run_state_text(&status.run, run_dir),
    );
    if let Some(p) = &status.power_off {
        let _ = writeln!(
            out,
            "  drill power-off: {} of {} hosts off, {} refused",
            p.off, p.total, p.refused
        );
    }
    // What is wrong comes first, with what to type next.
    for line in crate::report::triage::banner(topology, plan, scheduler, Some(run_dir)) {
        let _ = writeln!(out, "{line}");
    }
    // A large run reads in one screen: ready steps counted per tier, blocked steps under
    // the failed step they wait for (in the banner), the rest one line each.
    let fold = status.steps.len() > FOLD_ABOVE;
    if fold {
        out.push_str(&crate::report::summary::tier_table(
            topology, plan, scheduler,
        ));
    }
    for step in &status.steps {
        if fold && matches!(step.status, "ready" | "blocked") {
            continue;
        }
        let _ = writeln!(
            out,
            "  [{}] {:<32} {:>5}/{:<5} healthy  {}",
            step.tier, step.id, step.healthy, step.hosts, step.text
        );
    }
    if fold {
        let blocked = crate::report::triage::blocked_lines(plan, scheduler);
        for line in blocked {
            let _ = writeln!(out, "  {line}");
        }
    }
    for line in status.counts.lines() {
        let _ = writeln!(out, "{line}");
    }
    if let Some(text) = &status.degraded {
        let _ = writeln!(out, "{text}");
    }
    for line in failure_lines(topology, plan, scheduler.nodes(), all_failed) {
        let _ = writeln!(out, "  {line}");
    }
    for line in spare_lines(topology, plan, scheduler.nodes()) {
        let _ = writeln!(out, "  {line}");
    }
    for line in interruption_lines(topology, plan, scheduler) {
        let _ = writeln!(out, "  {line}");
    }
    if status.run != RunState::Live {
        let finished = matches!(&status.run, RunState::Finished { outcome } if *outcome != RunOutcome::Interrupted);
        for line in next_steps(plan, scheduler, std::path::Path::new(run_dir), finished) {
            let _ = writeln!(out, "  next: {line}");
        }
    }
    if !all_failed
        && status
            .causes
            .iter()
            .any(|c| c.nodes > narrate::SHOWN_ONE_BY_ONE)
    {
        let _ = writeln!(
            out,
            "  every failed node: blackstart status {run_dir} --failed"
        );
    }
    if !status.cannot_finish.is_empty() {
        let held: Vec<String> = status
            .cannot_finish
            .iter()
            .map(|h| {
                format!(
                    "failed {} ({} blocked)",
                    h.step,
                    crate::units::count(h.blocks, "step", "steps")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "cannot finish: waits for {}; repair, then `blackstart retry {run_dir} STEP`",
            held.join(", ")
        );
    } else if let (true, Some(eta)) = (
        status.run == RunState::Live || status.verdict == Verdict::Unfinished,
        status.remaining_eta_ms,
    ) {
        match status.overdue_ms {
            Some(late) => {
                let _ = writeln!(
                    out,
                    "remaining ETA: OVERDUE by {} against the plan (counted from the latest step ready); see the steps in progress above",
                    human(Duration::from_millis(late))
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "remaining ETA (plan, from the latest step ready): {}",
                    human(Duration::from_millis(eta))
                );
            }
        }
    }
    out
}
