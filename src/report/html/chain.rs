//! The chain the Gantt chart marks: on a run that recovered, the steps that decided when it
//! finished; on one that did not, the steps that led to the failure blocking the most. Each
//! link holds the chain for a stretch only — from when the link before it became ready to
//! when it did — so the chart outlines that stretch, not the whole row.

use std::time::Duration;

use super::segment::StepRow;
use crate::event::state::StepStatus;
use crate::plan::{Plan, StepId};

/// One step of the chain and the stretch (ms since the run began) it held it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The step.
    pub step: StepId,
    /// When the link before it became ready (its own first work, for the first link).
    pub from: u64,
    /// When it became ready; for a failed step, its last recorded work.
    pub to: u64,
}

/// The marked chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// First to last.
    pub links: Vec<Link>,
    /// True when it ends at a failed step: the run did not recover, and this is why.
    pub to_failure: bool,
}

impl Chain {
    /// The chain over `rows` (one per plan step, in plan order).
    pub fn of(plan: &Plan, rows: &[StepRow]) -> Chain {
        let ready: Vec<Option<Duration>> = rows
            .iter()
            .map(|row| row.ready_at.map(Duration::from_millis))
            .collect();
        let blocking = worst_failure(rows);
        let steps = match blocking {
            Some(failed) => crate::run::critical_path::leading_to(plan, &ready, failed),
            None => crate::run::critical_path::actual(plan, &ready),
        };
        let mut links = Vec::with_capacity(steps.len());
        let mut previous_ready: Option<u64> = None;
        for step in steps {
            let row = &rows[step];
            let first_work = row.segments.iter().map(|s| s.from).min().unwrap_or(0);
            let last_work = row
                .segments
                .iter()
                .map(|s| s.to)
                .max()
                .unwrap_or(first_work);
            let from = previous_ready.unwrap_or(first_work);
            let to = row.ready_at.unwrap_or(last_work).max(from);
            links.push(Link { step, from, to });
            previous_ready = Some(to);
        }
        Chain {
            links,
            to_failure: blocking.is_some(),
        }
    }

    /// The link of `step`, when it is on the chain.
    pub fn link(&self, step: StepId) -> Option<&Link> {
        self.links.iter().find(|link| link.step == step)
    }

    /// What the legend calls it.
    pub fn legend(&self) -> &'static str {
        if self.to_failure {
            "chain to the failure"
        } else {
            "critical path"
        }
    }
}

/// The failed step with the most steps blocked behind it (ties: the lower id).
fn worst_failure(rows: &[StepRow]) -> Option<StepId> {
    rows.iter()
        .filter(|row| row.status == StepStatus::Failed)
        .map(|row| {
            let behind = rows
                .iter()
                .filter(|other| other.status == (StepStatus::Blocked { on: row.step }))
                .count();
            (behind, std::cmp::Reverse(row.step))
        })
        .max()
        .map(|(_, std::cmp::Reverse(step))| step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::model::{Kind, Segment};

    fn row(step: StepId, work: (u64, u64), ready_at: Option<u64>, status: StepStatus) -> StepRow {
        StepRow {
            step,
            segments: vec![Segment {
                kind: Kind::Start,
                from: work.0,
                to: work.1,
            }],
            nodes: Vec::new(),
            ready_at,
            status,
        }
    }

    /// Steps s0 <- s1 <- ... each requiring the one before.
    fn plan_of_a_line(steps: usize) -> Plan {
        let mut text = String::from("version: 1\nname: line\nhosts:\n");
        for i in 0..steps {
            text.push_str(&format!(
                "  - {{ name: h{i}, address: 10.0.0.{} }}\n",
                i + 1
            ));
        }
        text.push_str("subsystems:\n");
        for i in 0..steps {
            let requires = if i > 0 {
                format!(", requires: [s{}]", i - 1)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  - {{ name: s{i}, hosts: [h{i}], start: \"true\"{requires} }}\n"
            ));
        }
        let topology = crate::load::load_str(&text, std::path::Path::new("line.yaml"))
            .unwrap()
            .topology;
        let selection = crate::scope::Scope::default().select(&topology).unwrap();
        Plan::build(&topology, &selection).unwrap()
    }

    #[test]
    fn a_recovered_run_marks_each_link_from_the_one_before_it_became_ready() {
        let plan = plan_of_a_line(3);
        let rows = vec![
            row(0, (0, 10), Some(10), StepStatus::Ready),
            row(1, (2, 30), Some(30), StepStatus::Ready),
            row(2, (5, 45), Some(45), StepStatus::Ready),
        ];
        let chain = Chain::of(&plan, &rows);
        assert!(!chain.to_failure);
        let spans: Vec<(StepId, u64, u64)> =
            chain.links.iter().map(|l| (l.step, l.from, l.to)).collect();
        assert_eq!(spans, vec![(0, 0, 10), (1, 10, 30), (2, 30, 45)]);
        assert_eq!(chain.legend(), "critical path");
    }

    #[test]
    fn a_failed_run_marks_the_chain_to_the_failure_that_blocks_most() {
        let plan = plan_of_a_line(3);
        let rows = vec![
            row(0, (0, 10), Some(10), StepStatus::Ready),
            row(1, (12, 70), None, StepStatus::Failed),
            row(2, (0, 0), None, StepStatus::Blocked { on: 1 }),
        ];
        let chain = Chain::of(&plan, &rows);
        assert!(chain.to_failure);
        let spans: Vec<(StepId, u64, u64)> =
            chain.links.iter().map(|l| (l.step, l.from, l.to)).collect();
        assert_eq!(spans, vec![(0, 0, 10), (1, 10, 70)]);
        assert_eq!(chain.legend(), "chain to the failure");
        assert!(
            chain.link(2).is_none(),
            "a blocked step is not on the chain"
        );
    }
}
