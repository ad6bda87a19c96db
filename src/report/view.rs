//! One replayed view of a run, built from its records as they arrive: the scheduler state
//! the records lead to, when each step first became ready, when the run recovered, how long
//! it has been recorded and how its last process ended. `status`, `status --watch`, the
//! report and the live page read this one view, so they quote the same numbers; a live
//! reader applies only the records appended since its last redraw.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::event::state::{NodeState, RunOutcome};
use crate::event::NodeId;
use crate::journal::{self, Entry, FirstReady, JournalError, Record, Tail};
use crate::plan::{Plan, StepId};
use crate::run::scheduler::Scheduler;
use crate::topology::HostId;

/// A run as its records tell it so far.
#[derive(Debug, Clone)]
pub struct RunView {
    scheduler: Scheduler,
    records: Vec<Record>,
    first_ready: FirstReady,
    steps: usize,
    outcome: Option<RunOutcome>,
}

impl RunView {
    /// A view with no records yet over `scheduler` (fresh, set up as the run set it up: a
    /// real drill's power-off first, the BMC cap).
    pub fn new(scheduler: Scheduler, plan: &Plan) -> RunView {
        RunView {
            scheduler,
            records: Vec::new(),
            first_ready: FirstReady::default(),
            steps: plan.steps.len(),
            outcome: None,
        }
    }

    /// Applies records appended after those already applied.
    pub fn apply(&mut self, new: Vec<Record>) {
        for record in new {
            self.records.push(record);
            let index = self.records.len() - 1;
            journal::replay_record(&mut self.scheduler, &self.records, index);
            let record = &self.records[index];
            self.first_ready.observe(record);
            match &record.entry {
                Entry::RunStarted { .. } => self.outcome = None,
                Entry::RunFinished { outcome } => self.outcome = Some(*outcome),
                _ => {}
            }
        }
    }

    /// What the live process is doing per node, from its journal: starts and probes it
    /// launched and has not seen end. The replay takes in events only, so without this a
    /// start in flight reads as queued. Only for a live run: a stopped run's unfinished
    /// starts are not in flight.
    pub fn in_flight(&self) -> std::collections::HashMap<NodeId, NodeState> {
        let unfinished = journal::unfinished(&self.records);
        let starts = unfinished.starts.iter().map(|start| {
            let state = NodeState::Starting {
                attempt: start.attempt,
            };
            (start.node, state)
        });
        let probes = unfinished
            .probes
            .iter()
            .map(|node| (*node, NodeState::Probing));
        probes.chain(starts).collect()
    }

    /// The scheduler the records lead to.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Every record applied, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The time the journal has recorded (its last record's).
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.records.last().map_or(0, |r| r.t_ms))
    }

    /// The time a live run has been going at `now`: its last record's time plus the wall
    /// clock since that record was written (a quiet minute still counts). The recorded time
    /// when the records carry no wall-clock time (a drill's) or the clock went backwards.
    pub fn elapsed_at(&self, now: SystemTime) -> Duration {
        let Some(last) = self.records.last() else {
            return Duration::ZERO;
        };
        let since = last
            .at
            .as_deref()
            .and_then(|at| humantime::parse_rfc3339(at).ok())
            .and_then(|at| now.duration_since(at).ok())
            .unwrap_or_default();
        self.elapsed() + since
    }

    /// When the last step first became ready, once all have: the recovery time.
    pub fn recovered_at(&self) -> Option<Duration> {
        self.first_ready.recovered_at(self.steps)
    }

    /// When step `id` first became ready.
    pub fn first_ready(&self, id: &str) -> Option<Duration> {
        self.first_ready.of(id)
    }

    /// How the last process ended, if it wrote its end.
    pub fn outcome(&self) -> Option<RunOutcome> {
        self.outcome
    }

    /// The scheduler's node ids as (step, host): what the journal's node ids mean.
    pub fn node_map(&self) -> Vec<(StepId, HostId)> {
        self.scheduler
            .nodes()
            .iter()
            .map(|node| (node.step, node.host))
            .collect()
    }
}

/// A [`RunView`] that follows a run directory's journal as it grows.
#[derive(Debug)]
pub struct FollowedRun {
    view: RunView,
    tail: Tail,
}

impl FollowedRun {
    /// Follows the journal of `dir` over `scheduler` (fresh, set up for the run).
    pub fn new(dir: &Path, scheduler: Scheduler, plan: &Plan) -> FollowedRun {
        FollowedRun {
            view: RunView::new(scheduler, plan),
            tail: Tail::new(dir),
        }
    }

    /// Applies what was appended since the last call; true when anything was.
    pub fn refresh(&mut self) -> Result<bool, JournalError> {
        let new = self.tail.read_new()?;
        let grew = !new.is_empty();
        self.view.apply(new);
        Ok(grew)
    }

    /// The view as of the last refresh.
    pub fn view(&self) -> &RunView {
        &self.view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Entry, Record};

    #[test]
    fn a_live_runs_clock_goes_on_between_records_and_a_drills_does_not() {
        let topology = crate::load::load_str(
            "version: 1\nname: t\nhosts:\n  - { name: h1, address: 10.0.0.1 }\nsubsystems:\n  - { name: s, hosts: [h1], start: \"true\" }\n",
            std::path::Path::new("t.yaml"),
        )
        .unwrap()
        .topology;
        let selection = crate::scope::Scope::default().select(&topology).unwrap();
        let plan = Plan::build(&topology, &selection).unwrap();
        let mut view = RunView::new(Scheduler::new(&topology, &plan, 1), &plan);
        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        view.apply(vec![Record {
            at: Some(humantime::format_rfc3339_millis(written).to_string()),
            t_ms: 5_000,
            entry: Entry::StopRequested,
        }]);
        let later = written + Duration::from_secs(60);
        assert_eq!(view.elapsed(), Duration::from_secs(5));
        assert_eq!(view.elapsed_at(later), Duration::from_secs(65));
        assert_eq!(
            view.elapsed_at(written - Duration::from_secs(1)),
            Duration::from_secs(5)
        );
        view.apply(vec![Record {
            at: None,
            t_ms: 7_000,
            entry: Entry::StopRequested,
        }]);
        assert_eq!(
            view.elapsed_at(later),
            Duration::from_secs(7),
            "no wall clock: as recorded"
        );
    }
}
