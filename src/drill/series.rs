//! A series of simulated runs on worker threads, in run order, and what it keeps of each:
//! what both the Monte Carlo study and the fault costs are computed from. Its own module so
//! `monte_carlo` and `costs` both import it and neither imports the other's series.

use std::ops::Range;
use std::time::Duration;

use super::engine::{Drill, Outcome};
use super::fleet::FaultTally;
use super::random::run_seed;
use crate::topology::SubsystemId;

/// Called once per simulated run, from any worker thread: a progress bar's tick.
pub type Progress<'a> = &'a (dyn Fn() + Sync);

/// What a series keeps of each run.
pub(super) struct Summary {
    pub(super) succeeded: bool,
    pub(super) makespan: Duration,
    pub(super) tiers: Vec<Option<Duration>>,
    pub(super) critical: Vec<SubsystemId>,
    pub(super) faults: FaultTally,
    pub(super) starts: usize,
    pub(super) retries: usize,
    pub(super) double_starts: usize,
}

fn summarize(drill: &Drill, outcome: Outcome) -> Summary {
    let mut critical: Vec<SubsystemId> = outcome
        .critical_path
        .iter()
        .map(|step| drill.plan.steps[*step].step.subsystem)
        .collect();
    critical.sort_unstable();
    critical.dedup();
    Summary {
        succeeded: outcome.succeeded,
        makespan: outcome.makespan,
        tiers: outcome.tiers.iter().map(|(_, up)| *up).collect(),
        critical,
        faults: outcome.faults,
        starts: outcome.starts,
        retries: outcome.retries,
        double_starts: outcome.double_starts,
    }
}

/// Runs the drills of `indices` (run `i` with [`run_seed`]`(seed, i)`) on up to `threads`
/// threads, in order.
pub(super) fn series(
    drill: &Drill,
    indices: Range<usize>,
    seed: u64,
    threads: usize,
    progress: Progress,
) -> Vec<Summary> {
    let threads = threads.clamp(1, indices.len().max(1));
    let mut results: Vec<(usize, Summary)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                let indices = indices.clone();
                scope.spawn(move || {
                    indices
                        .skip(worker)
                        .step_by(threads)
                        .map(|index| {
                            let summary = summarize(drill, drill.run(run_seed(seed, index as u64)));
                            progress();
                            (index, summary)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a drill thread panicked"))
            .collect()
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, summary)| summary).collect()
}
