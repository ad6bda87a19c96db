//! What is in flight and how the run stands against the plan's timeline, computed from the
//! scheduler's state: the live display and the heartbeat both print it.

use std::collections::HashMap;
use std::time::Duration;

use crate::event::narrate::node_label;
use crate::event::state::{HostState, NodeState, StepStatus};
use crate::event::NodeId;
use crate::plan::{human, Plan};
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// How many of the oldest in-flight starts are named.
pub const OLDEST_NAMED: usize = 3;

/// The run at one moment, against its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveView {
    /// Steps ready, of all.
    pub ready: (usize, usize),
    /// Actions in flight: starts and probes of nodes, power and boot of hosts.
    pub in_flight: usize,
    /// The oldest starts in flight, `step on host`, with how long they have run.
    pub oldest: Vec<(String, Duration)>,
    /// Steps in progress past their planned ready time, with by how much.
    pub overdue: Vec<(String, Duration)>,
    /// How far behind plan: now minus the planned ready time of the earliest step not yet
    /// ready (waiting or in progress); zero when on time.
    pub behind: Duration,
}

/// The live view at `now`; `started` holds when each node's current start was launched.
pub fn live_view(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    started: &HashMap<NodeId, Duration>,
    now: Duration,
) -> LiveView {
    let statuses = scheduler.statuses();
    let nodes = scheduler.nodes();
    let node_work = nodes
        .iter()
        .filter(|n| matches!(n.state, NodeState::Starting { .. } | NodeState::Probing))
        .count();
    let host_work = scheduler
        .hosts()
        .iter()
        .filter(|h| {
            matches!(
                h,
                HostState::CheckingPower | HostState::PoweringOn | HostState::Booting
            )
        })
        .count();
    let mut oldest: Vec<(String, Duration)> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.state, NodeState::Starting { .. }))
        .filter_map(|(id, _)| {
            let at = started.get(&id)?;
            Some((
                node_label(topology, plan, nodes, id),
                now.saturating_sub(*at),
            ))
        })
        .collect();
    oldest.sort_by_key(|(_, age)| std::cmp::Reverse(*age));
    oldest.truncate(OLDEST_NAMED);
    let overdue = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, step)| statuses[*id] == StepStatus::Active && now > step.ready_at)
        .map(|(_, step)| (step.id.clone(), now - step.ready_at))
        .collect();
    let behind = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, _)| matches!(statuses[*id], StepStatus::Waiting | StepStatus::Active))
        .map(|(_, step)| step.ready_at)
        .min()
        .map_or(Duration::ZERO, |due| now.saturating_sub(due));
    LiveView {
        ready: (
            statuses.iter().filter(|s| **s == StepStatus::Ready).count(),
            statuses.len(),
        ),
        in_flight: node_work + host_work,
        oldest,
        overdue,
        behind,
    }
}

/// The view in one line: `5/8 steps ready · 3 in flight (oldest: db on h4 12s) · OVERDUE
/// db +4s · 4s behind plan`.
pub fn live_line(view: &LiveView) -> String {
    let mut parts = vec![
        format!("{}/{} steps ready", view.ready.0, view.ready.1),
        format!("{} in flight", view.in_flight),
    ];
    if !view.oldest.is_empty() {
        let named: Vec<String> = view
            .oldest
            .iter()
            .map(|(label, age)| format!("{label} {}", human(*age)))
            .collect();
        parts[1].push_str(&format!(" (oldest: {})", named.join(", ")));
    }
    if !view.overdue.is_empty() {
        let named: Vec<String> = view
            .overdue
            .iter()
            .take(OLDEST_NAMED)
            .map(|(id, by)| format!("{id} +{}", human(*by)))
            .collect();
        let more = view.overdue.len().saturating_sub(OLDEST_NAMED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("OVERDUE {}{more}", named.join(", ")));
    }
    parts.push(if view.behind.is_zero() {
        "on plan".into()
    } else {
        format!("{} behind plan", human(view.behind))
    });
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_oldest_starts_the_overdue_steps_and_the_delay() {
        let view = LiveView {
            ready: (5, 8),
            in_flight: 3,
            oldest: vec![("db on h4".into(), Duration::from_secs(12))],
            overdue: vec![("db".into(), Duration::from_secs(4))],
            behind: Duration::from_secs(4),
        };
        assert_eq!(
            live_line(&view),
            "5/8 steps ready · 3 in flight (oldest: db on h4 12s) · OVERDUE db +4s · 4s behind plan"
        );
        let on_time = LiveView {
            ready: (1, 1),
            ..LiveView::default()
        };
        assert_eq!(
            live_line(&on_time),
            "1/1 steps ready · 0 in flight · on plan"
        );
    }
}
