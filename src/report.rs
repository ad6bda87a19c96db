//! What people read: live progress while a run goes, and the summary at the end. Both are
//! built from the scheduler's state and the same events the journal records.

use std::fmt::Write;
use std::io::{IsTerminal, Write as _};
use std::time::{Duration, Instant};

use crate::plan::{human, Plan};
use crate::run::scheduler::Scheduler;
use crate::run::state::{NodeState, StepStatus};
use crate::topology::Topology;

/// Live progress: a redrawn per-tier table on a terminal, one line per event otherwise.
#[derive(Debug)]
pub struct Progress {
    terminal: bool,
    drawn_lines: usize,
    last_draw: Option<Instant>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Progress on stderr, redrawn when stderr is a terminal.
    pub fn new() -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            drawn_lines: 0,
            last_draw: None,
        }
    }

    /// Reports one finished action.
    pub fn line(&mut self, elapsed: Duration, text: &str) {
        self.clear(&mut std::io::stderr().lock());
        // eprintln, not a raw handle: test harnesses capture it like any other output.
        eprintln!("[{:>8}] {text}", human(elapsed));
    }

    fn clear(&mut self, err: &mut impl std::io::Write) {
        if self.terminal && self.drawn_lines > 0 {
            let _ = write!(err, "\x1b[{}A\x1b[J", self.drawn_lines);
            self.drawn_lines = 0;
        }
    }

    /// Redraws the per-tier table (terminal only, at most every 200 ms).
    pub fn draw(
        &mut self,
        topology: &Topology,
        plan: &Plan,
        scheduler: &Scheduler,
        elapsed: Duration,
    ) {
        if !self.terminal
            || self
                .last_draw
                .is_some_and(|at| at.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let table = tier_table(topology, plan, scheduler);
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
        let _ = writeln!(err, "── {} elapsed ──", human(elapsed));
        let _ = write!(err, "{table}");
        self.drawn_lines = table.lines().count() + 1;
    }
}

/// Per tier: healthy nodes / total, and steps ready / total.
pub fn tier_table(topology: &Topology, plan: &Plan, scheduler: &Scheduler) -> String {
    let mut tiers: std::collections::BTreeMap<u8, (usize, usize, usize, usize)> =
        Default::default();
    for (id, step) in plan.steps.iter().enumerate() {
        let tier = topology.subsystems[step.step.subsystem].tier.0;
        let entry = tiers.entry(tier).or_default();
        entry.0 += scheduler.healthy_count(id);
        entry.1 += step.hosts.len();
        entry.2 += usize::from(scheduler.statuses()[id] == StepStatus::Ready);
        entry.3 += 1;
    }
    let mut out = String::new();
    for (tier, (healthy, nodes, ready, steps)) in tiers {
        let _ = writeln!(
            out,
            "  S{tier}: {ready}/{steps} steps ready, {healthy}/{nodes} nodes healthy"
        );
    }
    out
}

/// The end-of-run summary.
pub fn summary(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    ready_at: &[Option<Duration>],
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let statuses = scheduler.statuses();
    let count = |wanted: fn(&StepStatus) -> bool| statuses.iter().filter(|s| wanted(s)).count();
    let nodes = scheduler.nodes();
    let started = nodes
        .iter()
        .filter(|n| n.state == NodeState::Healthy { already: false })
        .count();
    let already = nodes
        .iter()
        .filter(|n| n.state == NodeState::Healthy { already: true })
        .count();
    let _ = writeln!(
        out,
        "\nSUMMARY  {}  after {}",
        topology.name,
        human(elapsed)
    );
    let _ = writeln!(
        out,
        "  steps: {} ready, {} failed, {} blocked, {} not finished (of {})",
        count(|s| *s == StepStatus::Ready),
        count(|s| *s == StepStatus::Failed),
        count(|s| matches!(s, StepStatus::Blocked { .. })),
        count(|s| matches!(s, StepStatus::Waiting | StepStatus::Active)),
        statuses.len()
    );
    let _ = writeln!(
        out,
        "  nodes: {started} started, {already} already healthy (left alone), {} failed, of {}",
        nodes
            .iter()
            .filter(|n| matches!(n.state, NodeState::Failed { .. }))
            .count(),
        nodes.len()
    );
    let path = actual_critical_path(plan, ready_at);
    if !path.is_empty() {
        let text: Vec<String> = path
            .iter()
            .map(|id| {
                format!(
                    "{} (+{})",
                    plan.steps[*id].id,
                    human(ready_at[*id].unwrap_or_default())
                )
            })
            .collect();
        let _ = writeln!(out, "  critical path: {}", text.join(" -> "));
    }
    for node in nodes {
        if let NodeState::Failed { reason } = &node.state {
            let _ = writeln!(
                out,
                "  FAILED  {} on {}: {reason}",
                plan.steps[node.step].id, topology.hosts[node.host].name
            );
        }
    }
    for (id, status) in statuses.iter().enumerate() {
        match status {
            StepStatus::Failed => {
                let _ = writeln!(
                    out,
                    "  FAILED  step {}: fewer than {} hosts healthy",
                    plan.steps[id].id, plan.steps[id].required_healthy
                );
            }
            StepStatus::Blocked { on } => {
                let _ = writeln!(
                    out,
                    "  BLOCKED {} (waits for failed {})",
                    plan.steps[id].id, plan.steps[*on].id
                );
            }
            _ => {}
        }
    }
    out
}

/// The chain that decided when the run finished: from the last step to become ready, back
/// through the dependency that became ready last (ties go to the lower step id, so the
/// same run always reads the same way).
pub fn actual_critical_path(plan: &Plan, ready_at: &[Option<Duration>]) -> Vec<usize> {
    let latest = |ids: &mut dyn Iterator<Item = usize>| {
        ids.filter_map(|id| ready_at[id].map(|at| (at, std::cmp::Reverse(id))))
            .max()
            .map(|(_, std::cmp::Reverse(id))| id)
    };
    let mut path = Vec::new();
    let mut cursor = latest(&mut (0..plan.steps.len()));
    while let Some(id) = cursor {
        path.push(id);
        let step = &plan.steps[id];
        cursor = latest(&mut step.requires.iter().chain(&step.wants).copied());
    }
    path.reverse();
    path
}
