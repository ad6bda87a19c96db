//! What people read: live progress while a run goes, and the summary at the end. Both are
//! built from the scheduler's state and the same events the journal records. [`html`] draws
//! the same records as a page.

pub mod html;
pub mod serve;

use std::fmt::Write;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::narrate::{describe, status_detail, status_word};
use crate::event::state::{NodeState, StepStatus};
use crate::event::Event;
use crate::plan::{human, Plan, StepId};
use crate::run::driver::Reporter;
use crate::run::scheduler::Scheduler;
use crate::template::shell_quote;
use crate::topology::{SubsystemKind, Topology};

/// Live progress: a redrawn per-tier table on a terminal, one line per event otherwise.
#[derive(Debug)]
pub struct Progress {
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    run_dir: PathBuf,
    terminal: bool,
    drawn_lines: usize,
    last_draw: Option<Instant>,
}

impl Reporter for Progress {
    fn event(&mut self, at: Duration, label: &str, event: &Event) {
        self.line(at, &format!("{label}: {}", describe(event)));
    }

    fn line(&mut self, at: Duration, text: &str) {
        Progress::line(self, at, text);
    }

    /// Shows the step's instructions and how to acknowledge it.
    fn person_needed(&mut self, at: Duration, step: StepId) {
        let (topology, plan) = (self.topology.clone(), self.plan.clone());
        let (what, instructions) = match &topology.subsystems[plan.steps[step].step.subsystem].kind
        {
            SubsystemKind::Gate { instructions } => ("GATE", instructions.as_str()),
            SubsystemKind::Manual { instructions } => ("MANUAL STEP", instructions.as_str()),
            SubsystemKind::Service => ("STEP", ""),
        };
        let text = format!(
            "{what} {} waits for a person:\n    {}\n    when done: blackstart ack {} {}",
            plan.steps[step].id,
            instructions.replace('\n', "\n    "),
            shell_quote(&self.run_dir.display().to_string()),
            shell_quote(&plan.steps[step].id),
        );
        Progress::line(self, at, &text);
    }

    fn tick(&mut self, scheduler: &Scheduler, at: Duration) {
        self.draw(scheduler, at);
    }

    fn shows(&self) -> bool {
        true
    }
}

impl Progress {
    /// Progress of the run in `run_dir` on stderr, redrawn when stderr is a terminal.
    pub fn new(topology: Arc<Topology>, plan: Arc<Plan>, run_dir: PathBuf) -> Progress {
        Progress {
            topology,
            plan,
            run_dir,
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
    pub fn draw(&mut self, scheduler: &Scheduler, elapsed: Duration) {
        if !self.terminal
            || self
                .last_draw
                .is_some_and(|at| at.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let table = tier_table(&self.topology, &self.plan, scheduler);
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
    let path = crate::run::critical_path::actual(plan, ready_at);
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
        if matches!(status, StepStatus::Failed | StepStatus::Blocked { .. }) {
            let failure = scheduler.step_failure(id);
            let _ = writeln!(
                out,
                "  {:<7} {} ({})",
                status_word(status),
                if *status == StepStatus::Failed {
                    format!("step {}", plan.steps[id].id)
                } else {
                    plan.steps[id].id.clone()
                },
                status_detail(plan, status, failure.as_ref()).unwrap_or_default()
            );
        }
    }
    out
}
