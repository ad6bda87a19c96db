//! What each kind of fault costs: the first runs of a series again with that fault switched
//! off (same seeds, same draws: common random numbers), in batches, until the cost is known
//! to a stated precision.
//!
//! The precision rule, looked at after every [`COST_BATCH`] pairs from [`COST_MIN_RUNS`]
//! on: a cost's standard error must be at most the larger of
//! [`COST_RELATIVE`] of the cost itself and the standard error of the series' own mean
//! makespan. Knowing a cost more precisely than the headline mean it is read against, or
//! to better than a tenth of itself, buys nothing a reader can use. On the reference
//! (1,000 runs, default faults) the paired difference of slow SSH is so steady that 100
//! pairs reach ±1.7 s against a mean known to ±2.8 s, where a fixed count ran 200;
//! flapping reaches a tenth of its +83 s at 100 pairs; start failures need the 200 of the
//! cap (±2.8 s). 400 drills instead of 600.

use std::time::Duration;

use serde::Serialize;

use super::engine::Drill;
use super::series::{series, Progress, Summary};
use super::FaultKind;

/// Most paired runs per fault kind that `simulate` spends on fault costs unless told
/// otherwise: the cap of the precision rule, which bounds the study's time (three kinds
/// by default, so at most 600 more drills on top of the series).
pub const COST_RUNS: usize = 200;

/// Paired runs added per fault kind between two looks at the precision rule. The rule
/// looks only at batch ends, so the result never depends on the number of threads.
pub const COST_BATCH: usize = 50;

/// Paired runs before the precision rule is first looked at: fewer underestimate the
/// spread of a heavy-tailed cost (flapping on the reference: a standard deviation of 47 s
/// from 50 pairs, against 64 to 72 s from 100, 200 and 400), and would stop too soon.
pub const COST_MIN_RUNS: usize = 2 * COST_BATCH;

/// A cost known to within this share of itself (one standard error) is precise enough.
pub const COST_RELATIVE: f64 = 0.10;

/// What one kind of fault costs: the same runs (same seeds, same draws) with it switched
/// off, compared to all faults on.
#[derive(Debug, Clone, Serialize)]
pub struct FaultCost {
    /// The fault.
    pub fault: FaultKind,
    /// Its probability.
    pub rate: f64,
    /// How often it struck per run, on average.
    pub struck_per_run: f64,
    /// Runs repeated without it: the first of the series, in batches of [`COST_BATCH`],
    /// until the precision rule held or the cap was reached.
    pub runs: usize,
    /// Runs that recovered both with and without it: what the cost is measured on.
    pub paired_runs: usize,
    /// Mean makespan of those runs without it.
    #[serde(with = "super::opt_secs")]
    pub mean_without: Option<Duration>,
    /// Mean time it adds to those runs: with all faults minus without this one.
    pub cost_secs: Option<f64>,
    /// Standard error of `cost_secs` over the pairs (about a third of the 95 % interval's
    /// width).
    pub cost_stderr_secs: Option<f64>,
    /// The standard error the precision rule asked for: the larger of [`COST_RELATIVE`]
    /// of the cost and the standard error of the series' mean makespan.
    pub target_stderr_secs: Option<f64>,
    /// Share of those paired runs that stall with every fault on.
    pub stall_with: f64,
    /// Share of those paired runs that stall without it.
    pub stall_without: f64,
}

impl FaultCost {
    /// What the fault adds to the mean makespan with its standard error, as people read it:
    /// `+12.3s ±1.4`, or `n/a` when no pair of runs recovered both with and without it.
    pub fn added_text(&self) -> String {
        match (self.cost_secs, self.cost_stderr_secs) {
            (Some(secs), Some(stderr)) => format!("{secs:+.1}s ±{stderr:.1}"),
            _ => "n/a".to_string(),
        }
    }
}

/// Mean makespans (with, without) over the runs that recovered in both series, and the
/// standard error of their difference.
fn paired_means(with: &[Summary], without: &[Summary]) -> (usize, f64, f64, f64) {
    let pairs: Vec<(f64, f64)> = with
        .iter()
        .zip(without)
        .filter(|(a, b)| a.succeeded && b.succeeded)
        .map(|(a, b)| (a.makespan.as_secs_f64(), b.makespan.as_secs_f64()))
        .collect();
    let n = pairs.len().max(1) as f64;
    let (mean_with, mean_without) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cost = mean_with - mean_without;
    let variance = pairs
        .iter()
        .map(|p| (p.0 - p.1 - cost).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    (pairs.len(), mean_with, mean_without, (variance / n).sqrt())
}

/// Standard error of the mean makespan over the runs that recovered (0 with fewer than two).
fn mean_stderr(runs: &[Summary]) -> f64 {
    let times: Vec<f64> = runs
        .iter()
        .filter(|run| run.succeeded)
        .map(|run| run.makespan.as_secs_f64())
        .collect();
    if times.len() < 2 {
        return 0.0;
    }
    let n = times.len() as f64;
    let mean = times.iter().sum::<f64>() / n;
    let variance = times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (variance / n).sqrt()
}

/// Share of `runs` that stalled.
pub(super) fn stall_share(runs: &[Summary]) -> f64 {
    runs.iter().filter(|run| !run.succeeded).count() as f64 / runs.len().max(1) as f64
}

/// The cost of every enabled fault kind, measured on at most `max_runs` of the first runs
/// of `all` (the series, with every fault on), costliest first.
pub(super) fn fault_costs(
    drill: &Drill,
    all: &[Summary],
    max_runs: usize,
    seed: u64,
    threads: usize,
    progress: Progress,
) -> Vec<FaultCost> {
    let max_runs = max_runs.min(all.len());
    let floor = mean_stderr(all);
    let mut costs: Vec<FaultCost> = FaultKind::ALL
        .iter()
        .filter(|kind| max_runs > 0 && drill.config.faults.get(**kind) > 0.0)
        .map(|&kind| {
            let mut config = drill.config;
            config.faults = config.faults.without(kind);
            config.timeline = false;
            let off = drill.with_config(config);
            let mut without = Vec::new();
            let (paired_runs, mean_with, mean_without, stderr, target) = loop {
                let end = (without.len() + COST_BATCH).min(max_runs);
                without.extend(series(&off, without.len()..end, seed, threads, progress));
                let (pairs, with, wo, stderr) = paired_means(&all[..end], &without);
                let target = floor.max(COST_RELATIVE * (with - wo).abs());
                let settled = end >= COST_MIN_RUNS && pairs > 1 && stderr <= target;
                if settled || end == max_runs {
                    break (pairs, with, wo, stderr, target);
                }
            };
            let runs = without.len();
            let paired = paired_runs > 0;
            let round = |secs: f64| (secs * 1000.0).round() / 1000.0;
            FaultCost {
                fault: kind,
                rate: drill.config.faults.get(kind),
                struck_per_run: all.iter().map(|run| run.faults.get(kind)).sum::<usize>() as f64
                    / all.len().max(1) as f64,
                runs,
                paired_runs,
                mean_without: paired.then(|| super::random::millis(mean_without)),
                cost_secs: paired.then(|| round(mean_with - mean_without)),
                cost_stderr_secs: paired.then(|| round(stderr)),
                target_stderr_secs: paired.then(|| round(target)),
                stall_with: stall_share(&all[..runs]),
                stall_without: stall_share(&without),
            }
        })
        .collect();
    // Costliest first: stalls caused, then time added.
    costs.sort_by(|a, b| {
        (b.stall_with - b.stall_without)
            .total_cmp(&(a.stall_with - a.stall_without))
            .then_with(|| {
                b.cost_secs
                    .unwrap_or(0.0)
                    .total_cmp(&a.cost_secs.unwrap_or(0.0))
            })
    });
    costs
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::drill::monte_carlo_with_costs;

    #[test]
    fn costs_stop_at_a_batch_end_once_precise_and_match_a_fixed_count_there() {
        let (topology, plan, mut config) = crate::drill::flapping_minimal();
        config.faults.start_failure = 0.1;
        let drill = Drill::new(&topology, &plan, config);
        let max = 600;
        let adaptive = monte_carlo_with_costs(&drill, max, max, 5, 2, &|| {});
        assert_eq!(adaptive.fault_costs.len(), 3, "{:?}", adaptive.fault_costs);
        for cost in &adaptive.fault_costs {
            assert!(
                cost.runs >= COST_MIN_RUNS && cost.runs % COST_BATCH == 0,
                "{cost:?}"
            );
            let (stderr, target) = (cost.cost_stderr_secs.unwrap(), cost.target_stderr_secs);
            if cost.runs < max {
                assert!(
                    stderr <= target.unwrap(),
                    "stopped before precise: {cost:?}"
                );
            }
            // Stopping by the rule measures exactly what a fixed count of that many does.
            let fixed = monte_carlo_with_costs(&drill, max, cost.runs, 5, 1, &|| {});
            let same = fixed
                .fault_costs
                .iter()
                .find(|other| other.fault == cost.fault)
                .unwrap();
            assert_eq!(same.runs, cost.runs);
            assert_eq!(same.cost_secs, cost.cost_secs);
            assert_eq!(same.cost_stderr_secs, cost.cost_stderr_secs);
        }
        assert!(
            adaptive.fault_costs.iter().any(|cost| cost.runs < max),
            "some cost settles before the cap: {:?}",
            adaptive.fault_costs
        );
    }
}
