//! What an active step's nodes are doing right now, for the live `status` line: starts in
//! flight and their attempt, probes, backoffs, nodes queued, and the attempts that failed so
//! far — so a retry under way is seen while it happens, not only after it fails.

use super::state::{Node, NodeState};
use super::NodeId;
use crate::plan::StepId;
use crate::units::count;

/// What a step's nodes are doing right now, for the live `status` line of an active step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepWork {
    /// Nodes whose start command runs, and the highest attempt among them.
    pub starting: usize,
    /// The highest attempt number in flight.
    pub attempt: u32,
    /// Nodes waiting out a backoff before their next attempt.
    pub backing_off: usize,
    /// Nodes being probed (before a start, or before a retry).
    pub probing: usize,
    /// Nodes ready to start, waiting for a slot.
    pub queued: usize,
    /// Attempts that failed so far, over all the step's nodes.
    pub failed_attempts: u32,
}

impl StepWork {
    /// The work of `step`'s nodes.
    pub fn of(nodes: &[Node], step: StepId) -> StepWork {
        StepWork::of_with(nodes, step, |_| None)
    }

    /// The work of `step`'s nodes, where `in_flight` may say what a node is doing better
    /// than its state: a reader of another process's journal replays events only, so a
    /// start or probe that process launched shows only as an action without its event.
    pub fn of_with(
        nodes: &[Node],
        step: StepId,
        in_flight: impl Fn(NodeId) -> Option<NodeState>,
    ) -> StepWork {
        let mut work = StepWork::default();
        for (id, node) in nodes.iter().enumerate().filter(|(_, n)| n.step == step) {
            // `attempts` counts attempts that ended; a healthy node's last one succeeded.
            let succeeded = u32::from(matches!(node.state, NodeState::Healthy { .. }));
            work.failed_attempts += node.attempts.saturating_sub(succeeded);
            let state = match in_flight(id) {
                Some(state) if !node.state.is_settled() => state,
                _ => node.state.clone(),
            };
            match state {
                NodeState::Starting { attempt } => {
                    work.starting += 1;
                    work.attempt = work.attempt.max(attempt);
                }
                NodeState::Backoff { .. } => work.backing_off += 1,
                NodeState::Probing => work.probing += 1,
                NodeState::Queued => work.queued += 1,
                _ => {}
            }
        }
        work
    }

    /// `1 starting (attempt 2), 1 backing off; 3 failed attempts so far`, or `waiting for
    /// hosts` when nothing is under way.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.starting > 0 {
            parts.push(match self.attempt {
                0 | 1 => format!("{} starting", self.starting),
                n => format!("{} starting (attempt {n})", self.starting),
            });
        }
        if self.probing > 0 {
            parts.push(format!("{} probing", self.probing));
        }
        if self.backing_off > 0 {
            parts.push(format!("{} backing off to retry", self.backing_off));
        }
        if self.queued > 0 {
            parts.push(format!("{} queued", self.queued));
        }
        let mut text = match parts.is_empty() {
            true => "nothing in flight: waiting for hosts".to_string(),
            false => parts.join(", "),
        };
        if self.failed_attempts > 0 {
            text.push_str(&format!(
                "; {} so far",
                count(
                    self.failed_attempts as usize,
                    "failed attempt",
                    "failed attempts"
                )
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(step: StepId, state: NodeState, attempts: u32) -> Node {
        Node {
            step,
            host: 0,
            spare: false,
            state,
            attempts,
            interrupted: 0,
            probe_before_retry: false,
        }
    }

    #[test]
    fn a_retry_under_way_is_seen_with_the_attempts_that_failed() {
        use std::time::Duration;
        let nodes = [
            node(0, NodeState::Healthy { already: false }, 2),
            node(0, NodeState::Starting { attempt: 2 }, 1),
            node(
                0,
                NodeState::Backoff {
                    until: Duration::from_secs(9),
                },
                1,
            ),
            node(1, NodeState::Starting { attempt: 1 }, 0),
        ];
        let work = StepWork::of(&nodes, 0);
        assert_eq!(
            work.text(),
            "1 starting (attempt 2), 1 backing off to retry; 3 failed attempts so far"
        );
        assert_eq!(StepWork::of(&nodes, 1).text(), "1 starting");
        assert_eq!(
            StepWork::of(&[node(2, NodeState::Pending, 0)], 2).text(),
            "nothing in flight: waiting for hosts"
        );
        // Read from another process's journal: the queued node's start is in flight.
        let queued = [
            node(3, NodeState::Queued, 1),
            node(3, NodeState::Healthy { already: false }, 1),
        ];
        let live = StepWork::of_with(&queued, 3, |_| Some(NodeState::Starting { attempt: 2 }));
        assert_eq!(
            live.text(),
            "1 starting (attempt 2); 1 failed attempt so far"
        );
    }
}
