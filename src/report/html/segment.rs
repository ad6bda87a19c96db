//! The pieces of a Gantt row: what a stretch stands for, how a step's many hosts are
//! folded into one row, and the rows themselves (what the model and the chain both read).

use crate::event::state::StepStatus;
use crate::plan::StepId;
use crate::topology::HostId;

/// What a stretch of a Gantt row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Reading the power state and switching the host on.
    Power,
    /// Waiting for SSH after power-on.
    Boot,
    /// Checking whether the node was already healthy, or reading its ordering value.
    Probe,
    /// Probed, not healthy: waiting for dependencies or a free slot.
    Waiting,
    /// The first start attempt, until healthy.
    Start,
    /// A later start attempt.
    Retry,
    /// An attempt (or a power or boot action) that failed.
    Failed,
    /// Waiting before the next attempt.
    Backoff,
    /// A manual step or gate waiting for a person.
    Manual,
    /// Launched but not finished when the journal ends.
    Running,
}

impl Kind {
    /// Every kind, in legend order.
    pub const ALL: [Kind; 10] = [
        Kind::Power,
        Kind::Boot,
        Kind::Probe,
        Kind::Waiting,
        Kind::Start,
        Kind::Retry,
        Kind::Failed,
        Kind::Backoff,
        Kind::Manual,
        Kind::Running,
    ];

    /// CSS class suffix and legend word.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Power => "power",
            Kind::Boot => "boot",
            Kind::Probe => "probe",
            Kind::Waiting => "waiting",
            Kind::Start => "start",
            Kind::Retry => "retry",
            Kind::Failed => "failed",
            Kind::Backoff => "backoff",
            Kind::Manual => "manual",
            Kind::Running => "running",
        }
    }

    /// What the legend says about it.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Power => "power check and power-on (BMC)",
            Kind::Boot => "boot: waiting for SSH",
            Kind::Probe => "probe: already healthy?",
            Kind::Waiting => "waiting on dependencies or a slot",
            Kind::Start => "start, until healthy",
            Kind::Retry => "retry attempt",
            Kind::Failed => "failed action",
            Kind::Backoff => "backoff before a retry",
            Kind::Manual => "manual step or gate: waiting for a person",
            Kind::Running => "in flight when the journal ends",
        }
    }
}

/// One stretch of a row, in milliseconds since the run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// What it stands for.
    pub kind: Kind,
    /// Start.
    pub from: u64,
    /// End (at least `from`).
    pub to: u64,
}

/// Joins overlapping segments of the same kind, and gaps shorter than `slack` (a fraction
/// of a pixel at any sensible width): a row of 1,000 hosts stays a handful of rectangles.
pub fn merge(mut segments: Vec<Segment>, slack: u64) -> Vec<Segment> {
    segments.sort_by_key(|s| (s.kind, s.from, s.to));
    let mut out: Vec<Segment> = Vec::new();
    for segment in segments {
        match out.last_mut() {
            Some(last) if last.kind == segment.kind && segment.from <= last.to + slack => {
                last.to = last.to.max(segment.to);
            }
            _ => out.push(segment),
        }
    }
    out.sort_by_key(|s| (s.from, s.kind));
    out
}

/// One host's part of a step.
#[derive(Debug, Clone)]
pub struct NodeRow {
    /// The host.
    pub host: HostId,
    /// Its segments, in time order.
    pub segments: Vec<Segment>,
}

/// One step: one row of the chart.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// The step.
    pub step: StepId,
    /// Segments merged over its hosts (overlaps of one kind joined).
    pub segments: Vec<Segment>,
    /// Per host, on demand.
    pub nodes: Vec<NodeRow>,
    /// When it first became ready.
    pub ready_at: Option<u64>,
    /// Its last recorded status.
    pub status: StepStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_joins_one_kind_only_and_keeps_time_order() {
        let s = |kind, from, to| Segment { kind, from, to };
        let merged = merge(
            vec![
                s(Kind::Start, 10, 20),
                s(Kind::Boot, 0, 5),
                s(Kind::Start, 15, 30),
                s(Kind::Start, 31, 40),
                s(Kind::Start, 100, 110),
            ],
            1,
        );
        assert_eq!(
            merged,
            vec![
                s(Kind::Boot, 0, 5),
                s(Kind::Start, 10, 40),
                s(Kind::Start, 100, 110)
            ]
        );
    }
}
