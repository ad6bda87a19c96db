//! How `run` ends: the summary, a drill's report, and the exit code.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use blackstart::event::Event;
use blackstart::journal::Unfinished;
use blackstart::journal::{self, Entry};
use blackstart::playbook::DrillSpec;
use blackstart::rehearsal::{self, Baseline};
use blackstart::report::interruptions::{interruption_lines, next_steps};
use blackstart::report::{summary, verdict, Verdict};
use blackstart::run::driver::Ended;
use blackstart::run::scheduler::Scheduler;
use blackstart::units::count;

use crate::cli::prepare::Prepared;
use crate::cli::Outcome;

/// Prints the summary (and a drill's report) and decides the exit code: 0 recovered,
/// also when nodes failed within quorum (the summary says DEGRADED), unless `strict`, then
/// 3; 1 when a step failed, is blocked, or the run stopped before the end.
pub fn finish(
    prepared: &Prepared,
    run_dir: &Path,
    ended: &Ended,
    drill: Option<(DrillSpec, Baseline)>,
    strict: bool,
) -> anyhow::Result<Outcome> {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    print!(
        "{}",
        summary(
            topology,
            plan,
            &ended.final_state,
            &ended.tally.ready_at,
            journal::recovered_at(&journal::read(run_dir)?, plan.steps.len()),
            ended.tally.ended
        )
    );
    for line in interruption_lines(topology, plan, &ended.final_state) {
        println!("  {line}");
    }
    let finished = !ended.interrupted;
    for line in next_steps(plan, &ended.final_state, run_dir, finished) {
        // A game day goes on in the simulation, never on real hosts.
        if prepared.info.simulated {
            let line = line.replace("blackstart run --resume", "blackstart simulate --resume");
            println!("  {line}");
        } else {
            println!("  {line}");
        }
    }
    if let Some((spec, baseline)) = drill {
        // The cold start begins when the last host is off.
        let cold_start = journal::read(run_dir)?
            .iter()
            .filter(|r| {
                matches!(
                    r.entry,
                    Entry::Event {
                        event: Event::PoweredOff { .. },
                        ..
                    }
                )
            })
            .map(|r| Duration::from_millis(r.t_ms))
            .max()
            .unwrap_or(ended.tally.began);
        let report = rehearsal::report(
            topology,
            plan,
            &baseline,
            &ended.final_state,
            ended.tally.ended.saturating_sub(cold_start),
            spec.simulations as usize,
        );
        print!("{}", report.text());
        let path = run_dir.join(&spec.report);
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write the drill report {}", path.display()))?;
        println!("  report written to {}", path.display());
        if !report.missing.is_empty() || !report.power_off_failures.is_empty() {
            return Ok(Outcome::Failed);
        }
    }
    Ok(match verdict(plan, &ended.final_state) {
        _ if !ended.succeeded => Outcome::Failed,
        Verdict::Degraded if strict => Outcome::Degraded,
        Verdict::Recovered | Verdict::Degraded => Outcome::Success,
        Verdict::Failed | Verdict::Unfinished => Outcome::Failed,
    })
}

/// What a resume takes over from the process before it, said before anything is done:
/// starts in flight are watched, not issued again; unanswered power-ons are read again;
/// failed nodes stay failed until re-armed.
pub fn print_resume(prepared: &Prepared, scheduler: &Scheduler, left: &Unfinished) {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let adopted = scheduler.adoptions();
    if !adopted.is_empty() {
        let names: Vec<String> = adopted
            .iter()
            .map(|adoption| {
                let node = &scheduler.nodes()[adoption.node];
                format!(
                    "{} on {} (launched {} ago)",
                    plan.steps[node.step].id,
                    topology.hosts[node.host].name,
                    blackstart::plan::human(adoption.running_for)
                )
            })
            .collect();
        println!(
            "RESUME  {} in flight when the last process stopped: watched until healthy or their ready timeouts, not started again: {}",
            count(adopted.len(), "start was", "starts were"),
            names.join(", ")
        );
    }
    let hosts = |ids: &[usize]| {
        ids.iter()
            .map(|h| topology.hosts[*h].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !left.power_ons.is_empty() {
        println!(
            "RESUME  {} sent and never answered ({}): power read first, never switched blindly",
            count(left.power_ons.len(), "power-on was", "power-ons were"),
            hosts(&left.power_ons)
        );
    }
    if !left.preparations.is_empty() {
        println!(
            "RESUME  preparation steps were under way on {} ({}): they run again",
            count(left.preparations.len(), "host", "hosts"),
            hosts(&left.preparations)
        );
    }
    let failed: Vec<String> = scheduler
        .nodes()
        .iter()
        .filter(|node| {
            matches!(
                node.state,
                blackstart::event::state::NodeState::Failed { .. }
            )
        })
        .map(|node| {
            format!(
                "{} on {}",
                plan.steps[node.step].id, topology.hosts[node.host].name
            )
        })
        .collect();
    if !failed.is_empty() {
        println!(
            "RESUME  {} failed before and stay failed until re-armed with `blackstart retry DIR STEP`: {}",
            count(failed.len(), "node", "nodes"),
            failed.join(", ")
        );
    }
}
