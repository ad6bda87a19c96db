//! The failures of a replayed game day, node by node: when each gave up, the `retry` that
//! re-armed it, and the spare the run brought in for it.

use super::{Delay, Failure, SpareIn};
use crate::event::state::NodeState;
use crate::event::Event;
use crate::journal::{Entry, Record};
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// The failed nodes of a replayed run, the `retry` that re-armed each and the spare the
/// run brought in for it; grown as spares join.
pub(super) struct FailureTrail<'a> {
    topology: &'a Topology,
    plan: &'a Plan,
    /// The nodes on each host: a host that fails takes its nodes with it.
    on_host: Vec<Vec<usize>>,
    /// Per node: failed as of the last record.
    failed: Vec<bool>,
    /// Per node: its open failure (not yet retried).
    open: Vec<Option<usize>>,
    /// Per spare node: the failure it stands in for.
    spare_for: Vec<(usize, usize)>,
    /// Each failure, with the index of its record.
    pub(super) failures: Vec<(Failure, usize)>,
}

impl<'a> FailureTrail<'a> {
    pub(super) fn new(topology: &'a Topology, plan: &'a Plan, fresh: &Scheduler) -> Self {
        let mut trail = FailureTrail {
            topology,
            plan,
            on_host: vec![Vec::new(); topology.hosts.len()],
            failed: Vec::new(),
            open: Vec::new(),
            spare_for: Vec::new(),
            failures: Vec::new(),
        };
        trail.take_new(fresh);
        trail
    }

    /// Takes in the nodes the scheduler added since the last call (all of them at first):
    /// returns the spares among them.
    fn take_new(&mut self, scheduler: &Scheduler) -> Vec<usize> {
        let all = scheduler.nodes();
        let mut spares = Vec::new();
        for (id, node) in all.iter().enumerate().skip(self.failed.len()) {
            if let Some(list) = self.on_host.get_mut(node.host) {
                list.push(id);
            }
            if node.spare {
                spares.push(id);
            }
        }
        self.failed.resize(all.len(), false);
        self.open.resize(all.len(), None);
        spares
    }

    /// Follows `records[index]`, already replayed into `fresh`.
    pub(super) fn follow(&mut self, fresh: &Scheduler, records: &[Record], index: usize) {
        let record = &records[index];
        let joined = self.take_new(fresh);
        if let Entry::Event { event, .. } = &record.entry {
            if let Event::Rearmed { node } = event {
                if let Some(Some(at)) = self.open.get_mut(*node).map(Option::take) {
                    let (failure, from) = &mut self.failures[at];
                    failure.retried_ms = Some(record.t_ms);
                    failure.delay = Some(Delay::between(&records[*from], record));
                }
            }
            let mut touched: Vec<usize> = event.node().into_iter().collect();
            if let Some(host) = event.host() {
                touched.extend(self.on_host.get(host).into_iter().flatten());
            }
            let known = self.failed.len();
            for node in touched.into_iter().filter(|n| *n < known) {
                self.node_seen(fresh, node, record, index);
            }
        }
        // The scheduler brings a spare in as a member of its step fails for good (in the
        // same event): it stands in for the latest such failure not yet replaced.
        for spare in joined {
            let n = &fresh.nodes()[spare];
            let step = &self.plan.steps[n.step].id;
            let replaced = self
                .failures
                .iter()
                .rposition(|(f, _)| f.step == *step && f.spare.is_none());
            if let Some(at) = replaced {
                self.failures[at].0.spare = Some(SpareIn {
                    host: self.topology.hosts[n.host].name.clone(),
                    brought_in_ms: record.t_ms,
                    healthy_ms: None,
                });
                self.spare_for.push((spare, at));
            }
        }
    }

    /// A node an event touched: a new failure, or a spare that became healthy.
    fn node_seen(&mut self, fresh: &Scheduler, node: usize, record: &Record, index: usize) {
        let n = &fresh.nodes()[node];
        let cause = match &n.state {
            NodeState::Failed { reason } => Some(reason.cause()),
            _ => None,
        };
        if let (Some(cause), false) = (&cause, self.failed[node]) {
            self.open[node] = Some(self.failures.len());
            self.failures.push((
                Failure {
                    step: self.plan.steps[n.step].id.clone(),
                    host: self.topology.hosts[n.host].name.clone(),
                    failed_ms: record.t_ms,
                    retried_ms: None,
                    delay: None,
                    cause: cause.clone(),
                    spare: None,
                },
                index,
            ));
        }
        self.failed[node] = cause.is_some();
        if matches!(n.state, NodeState::Healthy { .. }) {
            for (_, at) in self.spare_for.iter().filter(|(s, _)| *s == node) {
                if let Some(spare) = &mut self.failures[*at].0.spare {
                    spare.healthy_ms.get_or_insert(record.t_ms);
                }
            }
        }
    }
}
