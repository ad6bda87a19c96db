//! Data-aware start order inside one replicated store: every member reports a value (a
//! Galera sequence number, a replica's lag), the most advanced starts first, alone, and the
//! others follow once it is healthy. A guard bound must hold before the first one starts.
//! Restarting a cluster from a stale member is how committed data gets thrown away.

use std::collections::{HashMap, HashSet};

use crate::event::NodeId;
use crate::topology::{Bound, Extreme};

/// What to do with a member whose dependencies are ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Start it.
    Go,
    /// Read its value first.
    Read,
    /// Wait for the first member.
    Wait,
}

/// The choice once values are in.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Start this member first.
    Leader(NodeId),
    /// The chosen member's value breaks the guard: hold the step.
    Refused(String),
    /// Values are still missing.
    NotYet,
}

/// Ordering state of one step.
#[derive(Debug, Clone)]
pub struct MemberOrder {
    first: Extreme,
    guard: Option<Bound>,
    values: HashMap<NodeId, Option<f64>>,
    requested: HashSet<NodeId>,
    /// The member started first.
    pub leader: Option<NodeId>,
    /// Once the first member is healthy, the others go.
    pub leader_healthy: bool,
}

impl MemberOrder {
    /// Ordering by `first`, with an optional guard.
    pub fn new(first: Extreme, guard: Option<Bound>) -> MemberOrder {
        MemberOrder {
            first,
            guard,
            values: HashMap::new(),
            requested: HashSet::new(),
            leader: None,
            leader_healthy: false,
        }
    }

    /// Forgets values and choices (after a resume everything is read again).
    pub fn reset(&mut self) {
        *self = MemberOrder::new(self.first, self.guard);
    }

    /// Decides for a member whose dependencies are ready.
    pub fn admit(&mut self, node: NodeId) -> Admission {
        if self.leader_healthy || self.leader == Some(node) {
            Admission::Go
        } else if self.values.contains_key(&node) || !self.requested.insert(node) {
            Admission::Wait
        } else {
            Admission::Read
        }
    }

    /// Records a member's value (`None` when it could not be read).
    pub fn record(&mut self, node: NodeId, value: Option<f64>) {
        self.values.insert(node, value);
    }

    /// Forgets a member that failed for good; if it was the leader, a new one is chosen.
    pub fn drop_member(&mut self, node: NodeId) {
        self.values.remove(&node);
        if self.leader == Some(node) {
            self.leader = None;
        }
    }

    /// Chooses the first member among `waiting` (members ready to start), once all of
    /// `live` (members not failed) have reported.
    pub fn choose(&mut self, live: &[NodeId], waiting: &[NodeId]) -> Choice {
        if self.leader.is_some() || live.iter().any(|n| !self.values.contains_key(n)) {
            return Choice::NotYet;
        }
        let best = waiting
            .iter()
            .filter_map(|node| {
                self.values
                    .get(node)
                    .copied()
                    .flatten()
                    .map(|value| (*node, value))
            })
            .reduce(|a, b| {
                let better = match self.first {
                    Extreme::Max => b.1 > a.1,
                    Extreme::Min => b.1 < a.1,
                };
                if better {
                    b
                } else {
                    a
                }
            });
        let Some((node, value)) = best else {
            return Choice::Refused(
                "no member reported a value: cannot tell which one is most advanced".into(),
            );
        };
        if let Some(guard) = self.guard {
            if !guard.holds(value) {
                return Choice::Refused(format!(
                    "most advanced member reports {value}, which does not meet {guard}"
                ));
            }
        }
        self.leader = Some(node);
        Choice::Leader(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Comparison;

    #[test]
    fn the_highest_sequence_number_starts_first_and_the_rest_wait() {
        let mut order = MemberOrder::new(Extreme::Max, None);
        for node in [1, 2, 3] {
            assert_eq!(order.admit(node), Admission::Read);
            assert_eq!(order.admit(node), Admission::Wait);
        }
        order.record(1, Some(10.0));
        order.record(2, Some(42.0));
        assert_eq!(order.choose(&[1, 2, 3], &[1, 2, 3]), Choice::NotYet);
        order.record(3, Some(7.0));
        assert_eq!(order.choose(&[1, 2, 3], &[1, 2, 3]), Choice::Leader(2));
        assert_eq!(order.admit(2), Admission::Go);
        assert_eq!(order.admit(1), Admission::Wait);
        order.leader_healthy = true;
        assert_eq!(order.admit(1), Admission::Go);
    }

    #[test]
    fn a_guard_refuses_a_lagging_primary() {
        let guard = Bound {
            op: Comparison::Eq,
            value: 0.0,
        };
        let mut order = MemberOrder::new(Extreme::Min, Some(guard));
        order.record(1, Some(3.0));
        order.record(2, Some(5.0));
        assert!(
            matches!(order.choose(&[1, 2], &[1, 2]), Choice::Refused(why) if why.contains("3"))
        );
    }
}
