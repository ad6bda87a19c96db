//! How `run` ends: the summary, a drill's report, and the exit code.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use blackstart::event::Event;
use blackstart::journal::{self, Entry};
use blackstart::playbook::DrillSpec;
use blackstart::rehearsal::{self, Baseline};
use blackstart::report::{summary, verdict, Verdict};
use blackstart::run::driver::Ended;
use blackstart::template::shell_quote;

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
            ended.tally.ended
        )
    );
    if ended.interrupted || !ended.succeeded {
        println!(
            "  resume with: blackstart run --resume {}",
            shell_quote(&run_dir.display().to_string())
        );
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
