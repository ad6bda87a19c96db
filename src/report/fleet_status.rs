//! The fleet view as text: what is wrong first (each shard's banner, its retry naming its
//! own directory), each shard's share, the merged steps, the counts, the latest shard's
//! clock and ETA.

use std::fmt::Write;
use std::time::Duration;

use super::fleet::{FleetStatus, Shard};
use super::interruptions::next_steps;
use super::summary::Verdict;
use crate::event::narrate::{self, failure_lines};
use crate::event::state::RunState;
use crate::journal::RunOutcome;
use crate::plan::human;

/// A game day's shard: its next steps go through `simulate --resume`, never `run`.
fn for_shard(shard: &Shard, line: String) -> String {
    if shard.simulated {
        line.replace("blackstart run --resume", "blackstart simulate --resume")
    } else {
        line
    }
}

/// The fleet as text; `all_failed` lists every failed node instead of grouping.
pub fn render_fleet(status: &FleetStatus, shards: &[Shard], all_failed: bool) -> String {
    let mut out = String::new();
    if shards.iter().any(|s| s.simulated) {
        out.push_str("SIMULATED game day: a simulated fleet, nothing is contacted\n");
    }
    let elapsed = human(Duration::from_millis(status.elapsed_ms));
    let time = match status.recovered_ms {
        Some(ms) => format!(
            "recovered in {} (the latest shard; last record +{elapsed})",
            human(Duration::from_millis(ms))
        ),
        None => format!("elapsed {elapsed} (the latest shard)"),
    };
    let _ = writeln!(
        out,
        "FLEET of {} run directories  topology {}  {} live  {time}",
        shards.len(),
        status.topology,
        status.live,
    );
    // What is wrong comes first, with what to type next in the shard it concerns.
    for shard in shards {
        let lines = super::triage::banner(
            shard.topology,
            shard.plan,
            shard.view.scheduler(),
            Some(shard.dir),
        );
        if !lines.is_empty() {
            let _ = writeln!(out, "in {}:", shard.dir);
        }
        for line in lines {
            let _ = writeln!(out, "{}", for_shard(shard, line));
        }
    }
    shares(&mut out, status);
    for step in &status.steps {
        let parts: Vec<String> = step
            .shards
            .iter()
            .map(|s| format!("{} {}/{} {}", s.dir, s.healthy, s.hosts, s.status))
            .collect();
        let _ = writeln!(
            out,
            "  [{}] {:<32} {:>5}/{:<5} healthy ({} needed)  {}  ({})",
            step.tier,
            step.id,
            step.healthy,
            step.hosts,
            step.needed,
            step.status,
            parts.join("; ")
        );
    }
    for line in status.counts.lines() {
        let _ = writeln!(out, "{line}");
    }
    what_next(&mut out, status, shards, all_failed);
    out
}

/// Each shard's share: directory, scope, outcome, clock, last record's age, progress.
fn shares(out: &mut String, status: &FleetStatus) {
    out.push_str("shards:\n");
    for share in &status.shards {
        let shard_status = &share.status;
        let age = share
            .last_record_age_ms
            .map(|ms| format!("  last record {} ago", human(Duration::from_millis(ms))))
            .unwrap_or_default();
        let clock = match shard_status.recovered_ms {
            Some(ms) => format!("recovered in {}", human(Duration::from_millis(ms))),
            None => format!(
                "elapsed {}",
                human(Duration::from_millis(shard_status.elapsed_ms))
            ),
        };
        let state = narrate::run_state_text(&shard_status.run, &share.dir);
        let state = match share.simulated {
            true => state.replace("blackstart run --resume", "blackstart simulate --resume"),
            false => state,
        };
        let _ = writeln!(
            out,
            "  {}  scope {}  {state}  {clock}{age}  ({} of {} steps ready, {} failed nodes)",
            share.dir,
            share.scope,
            shard_status.counts.ready,
            shard_status.counts.steps,
            shard_status.counts.failed_nodes,
        );
    }
}

/// Failures shard by shard, then what cannot finish (with each retry naming its shard's
/// directory) or the latest shard's ETA, then each stopped shard's next steps.
fn what_next(out: &mut String, status: &FleetStatus, shards: &[Shard], all_failed: bool) {
    for shard in shards {
        let nodes = shard.view.scheduler().nodes();
        for line in failure_lines(shard.topology, shard.plan, nodes, all_failed) {
            let _ = writeln!(out, "  {}: {line}", shard.dir);
        }
    }
    if status.verdict == Verdict::Failed {
        let mut held: Vec<&str> = Vec::new();
        for f in &status.failed {
            if !held.contains(&f.retry.as_str()) {
                held.push(&f.retry);
            }
        }
        if !held.is_empty() {
            let _ = writeln!(out, "cannot finish: repair, then {}", held.join("; "));
        }
    } else if let (true, Some(eta)) = (
        status.live > 0 || status.verdict == Verdict::Unfinished,
        status.remaining_eta_ms,
    ) {
        let _ = writeln!(
            out,
            "remaining ETA (plan, the latest shard): {}",
            human(Duration::from_millis(eta))
        );
    }
    // Each stopped shard's next steps, naming its own directory.
    for (shard, share) in shards.iter().zip(&status.shards) {
        if share.status.run == RunState::Live {
            continue;
        }
        let finished = matches!(&share.status.run, RunState::Finished { outcome } if *outcome != RunOutcome::Interrupted);
        let dir = std::path::Path::new(shard.dir);
        for line in next_steps(shard.plan, shard.view.scheduler(), dir, finished) {
            let _ = writeln!(out, "  next in {}: {}", shard.dir, for_shard(shard, line));
        }
    }
}
