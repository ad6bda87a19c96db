//! What people and machines read after a drill: the summary, the JSON document and the
//! timeline as JSON lines.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::engine::{Drill, Outcome};
use super::monte_carlo::{MonteCarlo, Percentiles};
use super::FaultKind;
use crate::event::narrate::held_back_lines;
use crate::event::state::StepStatus;
use crate::journal::{Entry, Record};
use crate::plan::human;

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The outcome of one drill as a JSON document (stable field order; no timeline).
pub fn render_json(drill: &Drill, outcome: &Outcome) -> String {
    let plan = drill.plan;
    let topology = drill.topology;
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(id, step)| {
            let status = &outcome.statuses[id];
            json!({
                "step": step.id,
                "tier": format!("S{}", drill.tiers()[id]),
                "status": status.name(),
                "blocked_on": match status {
                    StepStatus::Blocked { on } => Some(plan.steps[*on].id.as_str()),
                    _ => None,
                },
                "ready_at": outcome.ready_at[id].map(secs),
                "plan_ready_at": secs(plan.quoted_ready_at(id)),
                "bound_ready_at": secs(step.ready_at),
            })
        })
        .collect();
    let document = json!({
        "topology": topology.name,
        "seed": outcome.seed,
        "config": drill.config,
        "parallelism": topology.policy.parallelism,
        "succeeded": outcome.succeeded,
        "makespan": secs(outcome.makespan),
        "plan_eta": secs(plan.quoted_eta()),
        "settled_at": secs(outcome.settled_at),
        "tiers": outcome.tiers.iter().map(|(tier, up)| json!({
            "tier": format!("S{tier}"),
            "up_by": up.map(secs),
        })).collect::<Vec<_>>(),
        "critical_path": outcome.critical_path.iter().map(|step| json!({
            "step": plan.steps[*step].id,
            "ready_at": outcome.ready_at[*step].map(secs),
        })).collect::<Vec<_>>(),
        "failures": outcome.failures.iter().map(|failure| json!({
            "step": plan.steps[failure.step].id,
            "host": topology.hosts[failure.host].name,
            "spare": failure.spare,
            "reason": failure.reason,
        })).collect::<Vec<_>>(),
        "counts": {
            "starts": outcome.starts,
            "retries": outcome.retries,
            "power_ons": outcome.power_ons,
            "already_healthy": outcome.already_healthy,
            "spares_used": outcome.spares_used,
            "double_starts": outcome.double_starts,
        },
        "controller_killed": outcome.interruption,
        "faults": outcome.faults,
        "steps": steps,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The timeline as JSON lines in the journal's own format, so `journal::read` loads it: a
/// start record first (this release's journal format, a drill's pid 0), then the records a
/// real run would journal on the virtual clock (`t_ms`), each with the time in seconds
/// (`at_s`) and, for step changes, `step_status`, for people reading it with `jq`.
pub fn render_timeline(
    drill: &Drill,
    outcome: &Outcome,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let opening = Record {
        at: None,
        t_ms: 0,
        entry: Entry::RunStarted {
            format: crate::journal::FORMAT,
            plan_digest: String::new(),
            topology: drill.topology.name.clone(),
            resumed: false,
            pid: 0,
        },
    };
    for record in std::iter::once(&opening).chain(&outcome.timeline) {
        let mut line = serde_json::to_value(record).map_err(std::io::Error::other)?;
        if let Entry::StepStatus { status, .. } = &record.entry {
            line["step_status"] = json!(status.name());
        }
        line["at_s"] = json!(Duration::from_millis(record.t_ms).as_secs_f64());
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn percent_over(actual: Duration, reference: Duration) -> String {
    if reference.is_zero() {
        return String::new();
    }
    let delta = (actual.as_secs_f64() / reference.as_secs_f64() - 1.0) * 100.0;
    format!(" ({delta:+.1}% vs plan ETA {})", human(reference))
}

fn fault_line(drill: &Drill) -> String {
    let rates = drill.config.faults;
    let enabled: Vec<String> = FaultKind::ALL
        .iter()
        .filter(|kind| rates.get(**kind) > 0.0)
        .map(|kind| format!("{} {}%", kind.name(), rates.get(*kind) * 100.0))
        .collect();
    if enabled.is_empty() {
        "none".into()
    } else {
        enabled.join(", ")
    }
}

/// The summary of one drill for people.
pub fn render_text(drill: &Drill, outcome: &Outcome) -> String {
    let plan = drill.plan;
    let topology = drill.topology;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Simulated {} start of {}: {} subsystems, {} hosts, parallelism {} (seed {}, spread {})",
        match drill.config.start {
            super::FleetStart::Cold => "cold",
            super::FleetStart::Warm => "warm",
        },
        topology.name,
        plan.subsystem_count(),
        plan.host_count(),
        topology.policy.parallelism,
        outcome.seed,
        drill.config.spread,
    );
    let _ = writeln!(out, "Faults: {}", fault_line(drill));
    let _ = writeln!(out);
    if outcome.succeeded {
        let _ = writeln!(
            out,
            "Recovered in {}{}",
            human(outcome.makespan),
            percent_over(outcome.makespan, plan.quoted_eta())
        );
    } else {
        let ready = outcome
            .statuses
            .iter()
            .filter(|s| **s == StepStatus::Ready)
            .count();
        let _ = writeln!(
            out,
            "NOT RECOVERED: {ready} of {} steps ready when the run settled at {} (plan ETA {})",
            plan.steps.len(),
            human(outcome.settled_at),
            human(plan.quoted_eta())
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Tiers up by:");
    for (tier, up) in &outcome.tiers {
        let count = drill.tiers().iter().filter(|t| **t == *tier).count();
        let shown = up.map_or_else(|| "never".to_string(), human);
        let _ = writeln!(out, "  S{tier}  {shown:>12}  ({count} steps)");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        if outcome.succeeded {
            "Critical path (actual):"
        } else {
            "Critical path so far (the run did not recover):"
        }
    );
    for step in &outcome.critical_path {
        let ready = outcome.ready_at[*step].map_or_else(|| "never".to_string(), human);
        let _ = writeln!(
            out,
            "  {ready:>12}  {} (plan {})",
            plan.steps[*step].id,
            human(plan.steps[*step].ready_at)
        );
    }
    let _ = writeln!(out);
    let faults = outcome.faults;
    let _ = writeln!(
        out,
        "Work: {} power-ons, {} start attempts ({} retries), {} already healthy, {} spares used",
        outcome.power_ons,
        outcome.starts,
        outcome.retries,
        outcome.already_healthy,
        outcome.spares_used
    );
    if let Some(killed) = &outcome.interruption {
        let _ = writeln!(
            out,
            "Controller killed at +{}, resumed at +{}: {} starts in flight adopted, {} services started twice",
            human(killed.killed_at),
            human(killed.resumed_at),
            killed.adopted,
            outcome.double_starts
        );
    }
    let _ = writeln!(
        out,
        "Faults struck: {} failed starts, {} flapping, {} slow SSH, {} dead disks, {} dead BMCs",
        faults.start_failure, faults.flapping, faults.slow_ssh, faults.dead_disk, faults.dead_bmc
    );
    if !outcome.failures.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Gave up on {} nodes:", outcome.failures.len());
        for failure in outcome.failures.iter().take(20) {
            let _ = writeln!(
                out,
                "  {} on {}{}: {}",
                plan.steps[failure.step].id,
                topology.hosts[failure.host].name,
                if failure.spare { " (spare)" } else { "" },
                failure.reason
            );
        }
        if outcome.failures.len() > 20 {
            let _ = writeln!(out, "  ... and {} more", outcome.failures.len() - 20);
        }
    }
    // The same words as a real run's summary: each failed step, then what waits for it.
    for line in held_back_lines(plan, &outcome.statuses, |_| None) {
        let _ = writeln!(out, "{line}");
    }
    let pending: Vec<&str> = outcome
        .statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, StepStatus::Waiting | StepStatus::Active))
        .map(|(id, _)| plan.steps[id].id.as_str())
        .collect();
    if !pending.is_empty() {
        let _ = writeln!(out, "Never finished: {}", pending.join(", "));
    }
    out
}

/// A Monte Carlo series as a JSON document.
pub fn render_monte_carlo_json(drill: &Drill, result: &MonteCarlo) -> String {
    let document = json!({
        "topology": drill.topology.name,
        "config": drill.config,
        "parallelism": drill.topology.policy.parallelism,
        "result": result,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialize");
    text.push('\n');
    text
}

fn shown(value: Option<Duration>) -> String {
    value.map_or_else(|| "stalled".to_string(), human)
}

fn percentile_row(label: &str, p: &Percentiles) -> String {
    format!(
        "  {label:<8} {:>12} {:>12} {:>12} {:>12}",
        shown(p.p50),
        shown(p.p90),
        shown(p.p99),
        shown(p.mean)
    )
}

/// A Monte Carlo series for people.
pub fn render_monte_carlo_text(drill: &Drill, result: &MonteCarlo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} simulated cold starts of {} (seed {}, spread {}, parallelism {})",
        result.runs,
        drill.topology.name,
        result.seed,
        drill.config.spread,
        drill.topology.policy.parallelism
    );
    let _ = writeln!(out, "Faults: {}", fault_line(drill));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<8} {:>12} {:>12} {:>12} {:>12}",
        "", "p50", "p90", "p99", "mean"
    );
    let _ = writeln!(out, "{}", percentile_row("fleet", &result.makespan));
    for tier in &result.tiers {
        let _ = writeln!(out, "{}", percentile_row(&tier.tier, &tier.up_by));
    }
    let _ = writeln!(out, "  plan ETA {}", human(result.plan_eta));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Recovery stalls (a tier never comes up) in {:.1}% of runs",
        result.stall_probability * 100.0
    );
    for tier in result.tiers.iter().filter(|tier| tier.stalled > 0.0) {
        let _ = writeln!(
            out,
            "  {} never up in {:.1}%",
            tier.tier,
            tier.stalled * 100.0
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Most often on the critical path:");
    for share in result.critical.iter().take(10) {
        let _ = writeln!(out, "  {:>5.1}%  {}", share.share * 100.0, share.subsystem);
    }
    if !result.fault_costs.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "What faults cost (the first runs again, each fault switched off in turn, {} more at a \
             time until the ± is within {:.0}% of the cost or the mean makespan's own ±, at \
             most {}):",
            super::costs::COST_BATCH,
            super::costs::COST_RELATIVE * 100.0,
            result.cost_runs
        );
        for fault in &result.fault_costs {
            let cost = fault.added_text();
            let _ = writeln!(
                out,
                "  {:<14} {:>6.2}%  struck {:>7.1}/run  {:>14} mean makespan ({:>4} runs)  stalls {:.1}% -> {:.1}%",
                fault.fault.name(),
                fault.rate * 100.0,
                fault.struck_per_run,
                cost,
                fault.runs,
                fault.stall_with * 100.0,
                fault.stall_without * 100.0
            );
        }
    }
    let _ = writeln!(
        out,
        "\nPer run: {:.0} start attempts, {:.1} retries on average; {} started twice in all runs",
        result.mean_starts, result.mean_retries, result.double_starts
    );
    out
}
