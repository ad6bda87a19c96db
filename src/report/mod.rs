//! What people read: live progress while a run goes, and the summary at the end. Both are
//! built from the scheduler's state and the same events the journal records.

pub mod status;
mod summary;

pub use status::{run_status, Counts, RunStatus};
pub use summary::{degraded, summary, tier_table, verdict, Verdict};

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::narrate::describe;
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
