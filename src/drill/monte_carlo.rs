//! Many drills: how long recovery takes at the median and in the bad cases, what tends to be
//! on the critical path, what each kind of fault costs, and how often recovery stalls.

use std::time::Duration;

use serde::Serialize;

use super::costs::{fault_costs, stall_share, FaultCost, COST_RUNS};
use super::engine::Drill;
use super::series::{series, Progress};
use super::FaultKind;

/// Nearest-rank percentiles of a duration over runs. `None`: that share of the runs never
/// got there (the recovery stalled).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// 10th percentile.
    #[serde(with = "super::opt_secs")]
    pub p10: Option<Duration>,
    /// Median.
    #[serde(with = "super::opt_secs")]
    pub p50: Option<Duration>,
    /// 90th percentile.
    #[serde(with = "super::opt_secs")]
    pub p90: Option<Duration>,
    /// 99th percentile.
    #[serde(with = "super::opt_secs")]
    pub p99: Option<Duration>,
    /// Mean over the runs that got there.
    #[serde(with = "super::opt_secs")]
    pub mean: Option<Duration>,
}

impl Percentiles {
    /// Percentiles of `values`, where `None` means never (sorted after every time).
    pub fn of(values: impl Iterator<Item = Option<Duration>>) -> Percentiles {
        let mut values: Vec<Option<Duration>> = values.collect();
        values.sort_unstable_by_key(|value| value.unwrap_or(Duration::MAX));
        let at = |p: f64| {
            if values.is_empty() {
                return None;
            }
            let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        };
        let reached: Vec<Duration> = values.iter().flatten().copied().collect();
        let mean = (!reached.is_empty()).then(|| {
            let total: f64 = reached.iter().map(Duration::as_secs_f64).sum();
            super::random::millis(total / reached.len() as f64)
        });
        Percentiles {
            p10: at(0.10),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            mean,
        }
    }
}

/// One tier over all runs.
#[derive(Debug, Clone, Serialize)]
pub struct TierStats {
    /// `S1`, `S2`, ...
    pub tier: String,
    /// When the tier was up.
    pub up_by: Percentiles,
    /// Share of runs in which it never came up.
    pub stalled: f64,
}

/// How often a subsystem was on the actual critical path.
#[derive(Debug, Clone, Serialize)]
pub struct CriticalShare {
    /// The subsystem.
    pub subsystem: String,
    /// Share of runs.
    pub share: f64,
}

/// The result of a Monte Carlo series.
#[derive(Debug, Clone, Serialize)]
pub struct MonteCarlo {
    /// Runs simulated (not counting the runs for fault costs).
    pub runs: usize,
    /// At most this many runs, the first of the series, repeated per enabled fault kind
    /// with that kind off, for the fault costs (0: no costs); each kind's own count is in
    /// its [`FaultCost`].
    pub cost_runs: usize,
    /// The series' seed; run `i` uses [`super::random::run_seed`]`(seed, i)`.
    pub seed: u64,
    /// The plan's ETA.
    #[serde(with = "crate::topology::secs")]
    pub plan_eta: Duration,
    /// Until every step is ready.
    pub makespan: Percentiles,
    /// Share of runs in which some tier never came up.
    pub stall_probability: f64,
    /// Per tier, most severe first.
    pub tiers: Vec<TierStats>,
    /// Subsystems by how often they were on the actual critical path, most often first.
    pub critical: Vec<CriticalShare>,
    /// Per enabled fault kind, costliest first.
    pub fault_costs: Vec<FaultCost>,
    /// Mean start attempts per run.
    pub mean_starts: f64,
    /// Mean retries per run.
    pub mean_retries: f64,
    /// Starts launched on a service already up or coming up, over all runs (a resume after
    /// `--kill-at` must keep this at 0).
    pub double_starts: usize,
    /// Per tier (as in `tiers`), per run: when the tier was up. For distributions (the
    /// HTML study); left out of the JSON, which stays a summary.
    #[serde(skip)]
    pub tier_samples: Vec<Vec<Option<Duration>>>,
    /// Per run: until every step was ready (None: stalled). Left out of the JSON.
    #[serde(skip)]
    pub makespan_samples: Vec<Option<Duration>>,
}

/// Most drills [`monte_carlo`] runs for `runs`: the series, then at most `cost_runs` of it
/// again per enabled fault kind (to measure its cost). A progress bar's length; the costs
/// may stop sooner (see [`super::costs`]).
pub fn total_runs(drill: &Drill, runs: usize, cost_runs: usize) -> usize {
    let kinds = FaultKind::ALL
        .iter()
        .filter(|kind| drill.config.faults.get(**kind) > 0.0)
        .count();
    runs + kinds * cost_runs.min(runs)
}

/// Runs `runs` simulated recoveries, then, per enabled fault kind, up to [`COST_RUNS`] of
/// the first of them again with that kind switched off (see [`super::costs`]), on
/// `threads` threads. The result depends only
/// on the inputs and `seed`, never on the number of threads.
pub fn monte_carlo(drill: &Drill, runs: usize, seed: u64, threads: usize) -> MonteCarlo {
    monte_carlo_with_costs(drill, runs, COST_RUNS, seed, threads, &|| {})
}

/// [`monte_carlo`] with at most `cost_runs` paired runs per fault kind for the costs (at
/// most `runs`; 0 skips the costs), calling `progress` after each drill.
pub fn monte_carlo_with_costs(
    drill: &Drill,
    runs: usize,
    cost_runs: usize,
    seed: u64,
    threads: usize,
    progress: Progress,
) -> MonteCarlo {
    let cost_runs = cost_runs.min(runs);
    let all = series(drill, 0..runs, seed, threads, progress);
    let tier_list = drill.tier_list();
    let tiers = tier_list
        .iter()
        .enumerate()
        .map(|(index, tier)| TierStats {
            tier: format!("S{tier}"),
            up_by: Percentiles::of(all.iter().map(|run| run.tiers[index])),
            stalled: all.iter().filter(|run| run.tiers[index].is_none()).count() as f64
                / runs.max(1) as f64,
        })
        .collect();
    let mut counts = vec![0usize; drill.topology.subsystems.len()];
    for run in &all {
        for subsystem in &run.critical {
            counts[*subsystem] += 1;
        }
    }
    let mut critical: Vec<CriticalShare> = counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(subsystem, count)| CriticalShare {
            subsystem: drill.topology.subsystems[subsystem].name.clone(),
            share: *count as f64 / runs.max(1) as f64,
        })
        .collect();
    critical.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then_with(|| a.subsystem.cmp(&b.subsystem))
    });
    let fault_costs = fault_costs(drill, &all, cost_runs, seed, threads, progress);
    let stalls = stall_share(&all);
    MonteCarlo {
        runs,
        cost_runs,
        seed,
        plan_eta: drill.plan.quoted_eta(),
        makespan: Percentiles::of(all.iter().map(|run| run.succeeded.then_some(run.makespan))),
        stall_probability: stalls,
        tiers,
        critical,
        fault_costs,
        mean_starts: all.iter().map(|run| run.starts).sum::<usize>() as f64 / runs.max(1) as f64,
        mean_retries: all.iter().map(|run| run.retries).sum::<usize>() as f64 / runs.max(1) as f64,
        double_starts: all.iter().map(|run| run.double_starts).sum(),
        tier_samples: (0..tier_list.len())
            .map(|index| all.iter().map(|run| run.tiers[index]).collect())
            .collect(),
        makespan_samples: all
            .iter()
            .map(|run| run.succeeded.then_some(run.makespan))
            .collect(),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_series_is_the_same_on_one_thread_or_three_and_costs_use_the_first_runs() {
        let (topology, plan, config) = crate::drill::flapping_minimal();
        let drill = Drill::new(&topology, &plan, config);
        let one = monte_carlo_with_costs(&drill, 40, 10, 7, 1, &|| {});
        let three = monte_carlo_with_costs(&drill, 40, 10, 7, 3, &|| {});
        assert_eq!(
            serde_json::to_string(&one).unwrap(),
            serde_json::to_string(&three).unwrap()
        );
        assert_eq!(one.cost_runs, 10);
        let flapping = one
            .fault_costs
            .iter()
            .find(|cost| cost.fault == FaultKind::Flapping)
            .expect("flapping is on");
        assert_eq!(flapping.paired_runs, 10);
        assert!(flapping.cost_secs.unwrap() > 0.0, "{flapping:?}");
        assert!(flapping.cost_stderr_secs.unwrap() >= 0.0);
        assert!(monte_carlo_with_costs(&drill, 40, 0, 7, 2, &|| {})
            .fault_costs
            .is_empty());
    }
}
