//! A generic ready queue: groups of work with dependencies and a cost, a priority computed
//! once when the groups are known, and members handed out best first.
//!
//! Modelled on cargo's `dependency_queue.rs`: the queue knows nothing of hosts, power or
//! health. A group (a plan step) has its own cost (the time from its dependencies' quorums
//! to its own), a severity tier and the groups it depends on; [`priorities`] gives each
//! group its rank once, as its own cost plus the longest chain of work that waits for it
//! (the critical path), severity folded in as work still to come. Members (nodes) of a
//! group are pushed when they may start and popped by [`ReadyQueue::dequeue`].
//!
//! Unlike cargo a group is ready at a quorum, not when every member is done: once enough of
//! a group is healthy or starting, its further members hold up no dependent, so they drop
//! to the group's spare rank and yield to work that does. That readiness is a policy
//! ([`Readiness`]): the queue asks it whether a member still wants to start and how many of
//! its group are healthy. A group may also cap how many of its members start at once;
//! members over the cap wait aside until a start of the group ends.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One group as the queue needs it: its cost, severity and dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group's own work, in any unit (the scheduler uses milliseconds).
    pub cost: u64,
    /// Severity: 0 is the most severe. A dependency inherits the most severe tier of what
    /// depends on it.
    pub tier: u8,
    /// Groups this one waits for (indices into the same list).
    pub deps: Vec<usize>,
}

/// A group's priority, computed once by [`priorities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// Own cost plus the longest chain that waits for the group, severity included.
    pub rank: u64,
    /// The most severe tier of the group and everything that depends on it.
    pub tier: u8,
    /// Rank of a member beyond the quorum: no dependent waits for it, so it ranks by its
    /// own cost and (inherited) severity only.
    pub spare_rank: u64,
}

/// Each group's priority. `tier_weight` is what one tier of severity weighs against cost:
/// a weight above any chain's cost orders by tier first, 0 by the critical path alone.
/// Groups caught in a dependency cycle (a plan never has one) keep their own cost.
pub fn priorities(groups: &[GroupSpec], tier_weight: u64) -> Vec<Priority> {
    let count = groups.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (id, group) in groups.iter().enumerate() {
        for &dependency in &group.deps {
            dependents[dependency].push(id);
        }
    }
    let severity = |tier: u8| tier_weight * u64::from(9u8.saturating_sub(tier));
    let mut out: Vec<Priority> = groups
        .iter()
        .map(|group| Priority {
            rank: group.cost + severity(group.tier),
            tier: group.tier,
            spare_rank: group.cost + severity(group.tier),
        })
        .collect();
    // Every dependent before its dependencies (Kahn's order on the reversed edges), so a
    // group's rank is final before anything that it depends on reads it.
    let mut pending: Vec<usize> = dependents.iter().map(Vec::len).collect();
    let mut todo: VecDeque<usize> = (0..count).filter(|id| pending[*id] == 0).collect();
    while let Some(id) = todo.pop_front() {
        let (rank, tier) = dependents[id].iter().fold(
            (severity(groups[id].tier), groups[id].tier),
            |(rank, tier), &dependent| {
                (rank.max(out[dependent].rank), tier.min(out[dependent].tier))
            },
        );
        out[id] = Priority {
            rank: groups[id].cost + rank,
            tier,
            spare_rank: groups[id].cost + severity(tier),
        };
        for &dependency in &groups[id].deps {
            pending[dependency] -= 1;
            if pending[dependency] == 0 {
                todo.push_back(dependency);
            }
        }
    }
    out
}

/// What the queue asks of its owner about members and groups.
pub trait Readiness<N> {
    /// Whether `member`, popped from the queue, still wants to start now. The owner may
    /// note why not (a member whose host stopped answering goes back to waiting for it).
    fn still_ready(&mut self, member: N) -> bool;
    /// Members of `group` healthy now.
    fn healthy(&self, group: usize) -> usize;
}

/// A group's fixed facts and its count of members starting.
#[derive(Debug, Clone)]
struct Group {
    priority: Priority,
    /// Healthy members the group needs before dependents may go.
    quorum: usize,
    /// Members that may start at once.
    max_parallel: usize,
    starting: usize,
}

/// A member in a heap: best rank first, then the most severe tier, then the lowest member.
type Entry<N> = (u64, Reverse<u8>, Reverse<N>, usize);

/// Members ready to start, best first. See the module documentation.
#[derive(Debug, Clone)]
pub struct ReadyQueue<N> {
    groups: Vec<Group>,
    ready: BinaryHeap<Entry<N>>,
    /// Per group: members set aside while the group is at its `max_parallel`; one moves
    /// back to `ready` each time a start of the group ends. Keeping them out of `ready`
    /// stops every call from popping and re-pushing them all (quadratic on big steps).
    capped: Vec<BinaryHeap<Entry<N>>>,
}

impl<N: Ord + Copy> ReadyQueue<N> {
    /// A queue over groups with these priorities, quorums and caps on parallel starts
    /// (`usize::MAX` for none), all three by group index.
    pub fn new(priorities: Vec<Priority>, quorums: &[usize], max_parallel: &[usize]) -> Self {
        let groups: Vec<Group> = priorities
            .into_iter()
            .enumerate()
            .map(|(id, priority)| Group {
                priority,
                quorum: quorums[id],
                max_parallel: max_parallel[id],
                starting: 0,
            })
            .collect();
        ReadyQueue {
            capped: vec![BinaryHeap::new(); groups.len()],
            groups,
            ready: BinaryHeap::new(),
        }
    }

    /// `group`'s priority.
    pub fn priority(&self, group: usize) -> Priority {
        self.groups[group].priority
    }

    /// Members of `group` starting now.
    pub fn starting(&self, group: usize) -> usize {
        self.groups[group].starting
    }

    /// True when no member waits to start (members set aside by a cap count only once
    /// a start of their group ends and brings one back).
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// Queues `member` of `group` at the group's full rank.
    pub fn push(&mut self, group: usize, member: N) {
        let priority = self.groups[group].priority;
        self.ready.push((
            priority.rank,
            Reverse(priority.tier),
            Reverse(member),
            group,
        ));
    }

    /// The best member that may start now, counted as starting; `None` when none may.
    /// A member whose group's quorum is covered (healthy plus starting) is put back at the
    /// spare rank once; a member of a group at its cap is set aside.
    pub fn dequeue(&mut self, policy: &mut impl Readiness<N>) -> Option<(usize, N)> {
        while let Some(entry) = self.ready.pop() {
            let (rank, tier, Reverse(member), group_id) = entry;
            if !policy.still_ready(member) {
                continue;
            }
            let group = &mut self.groups[group_id];
            let covered = policy.healthy(group_id) + group.starting >= group.quorum;
            if covered && rank > group.priority.spare_rank {
                self.ready
                    .push((group.priority.spare_rank, tier, Reverse(member), group_id));
                continue;
            }
            if group.starting >= group.max_parallel {
                self.capped[group_id].push(entry);
                continue;
            }
            group.starting += 1;
            return Some((group_id, member));
        }
        None
    }

    /// Counts a start of `group` handed out outside the queue (a resume's adopted start).
    pub fn count_start(&mut self, group: usize) {
        self.groups[group].starting += 1;
    }

    /// A start of `group` ended: its slot frees, and the best member set aside by the cap
    /// that `still_queued` keeps goes back to the ready members.
    pub fn start_ended(&mut self, group: usize, mut still_queued: impl FnMut(N) -> bool) {
        let slot = &mut self.groups[group].starting;
        *slot = slot.saturating_sub(1);
        while let Some(entry) = self.capped[group].pop() {
            if still_queued(entry.2 .0) {
                self.ready.push(entry);
                break;
            }
        }
    }

    /// Forgets every queued member and every start (a resume rebuilds them).
    pub fn clear(&mut self) {
        self.ready.clear();
        self.capped.iter_mut().for_each(BinaryHeap::clear);
        self.groups.iter_mut().for_each(|group| group.starting = 0);
    }
}

#[cfg(test)]
#[path = "ready_queue_tests.rs"]
mod tests;
