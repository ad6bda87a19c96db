//! What people read: live progress while a run goes, and the summary at the end. Both are
//! built from the scheduler's state and the same events the journal records.

mod eta;
pub mod fleet;
pub mod fleet_status;
pub mod html;
pub mod interruptions;
pub mod live;
pub mod scorecard;
pub mod serve;
pub mod status;
mod summary;
pub mod triage;
pub mod view;

pub use status::{run_status, Counts, RunStatus};
pub use summary::{degraded, summary, tier_table, verdict, Verdict};

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::narrate::{describe, SHOWN_ONE_BY_ONE};
use crate::event::{Action, Event, NodeId, Reason};
use crate::plan::{human, Plan, StepId};
use crate::run::driver::Reporter;
use crate::run::scheduler::Scheduler;
use crate::template::shell_quote;
use crate::topology::{SubsystemKind, Topology};
use live::{live_line, live_view};

/// Live progress. On a terminal, an indicatif status area under the lines: steps ready,
/// what is in flight and the oldest of it, overdue steps and how far behind plan, the tier
/// table. Otherwise one line per event and a heartbeat line every `heartbeat`. Failures
/// that share a cause are printed one by one up to [`SHOWN_ONE_BY_ONE`], then counted and
/// reported as one line at most every [`GROUPED_EVERY`].
#[derive(Debug)]
pub struct Progress {
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    run_dir: PathBuf,
    bar: Option<ProgressBar>,
    heartbeat: Duration,
    next_beat: Duration,
    last_tick: Duration,
    /// When each node's current start was launched.
    started: HashMap<NodeId, Duration>,
    /// Per cause: failures seen, and those not yet shown.
    causes: HashMap<String, (usize, usize)>,
    next_grouped: Duration,
    stopping_since: Option<Duration>,
    preflight_shown: bool,
}

/// Grouped failure lines are printed at most this often.
pub const GROUPED_EVERY: Duration = Duration::from_secs(5);

/// The heartbeat's default interval when stderr is not a terminal.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

impl Reporter for Progress {
    fn action(&mut self, at: Duration, action: &Action) {
        match action {
            Action::Start { node, .. } => {
                self.started.insert(*node, at);
            }
            // The adopted start was launched by the killed process, before this one began.
            Action::Adopt {
                node,
                running_for_ms,
                ..
            } => {
                let launched = at.saturating_sub(Duration::from_millis(*running_for_ms));
                self.started.insert(*node, launched);
            }
            Action::Recheck { host, why } => {
                let name = self.topology.hosts[*host].name.clone();
                let text = format!("{name} stopped answering ({why}): asking its BMC");
                Progress::line(self, at, &text);
            }
            _ => {}
        }
    }

    fn event(&mut self, at: Duration, label: &str, event: &Event) {
        if let Some(reason) = event.failure() {
            let seen = self.causes.entry(reason.cause()).or_default();
            seen.0 += 1;
            if seen.0 > SHOWN_ONE_BY_ONE {
                seen.1 += 1;
                return;
            }
        }
        self.line(at, &format!("{label}: {}", describe(event)));
    }

    fn line(&mut self, at: Duration, text: &str) {
        Progress::line(self, at, text);
    }

    /// One line per check and host, under a `PREFLIGHT` heading before the first.
    fn preflight(&mut self, check: &str, host: &str, result: &Result<String, Reason>) {
        if !std::mem::replace(&mut self.preflight_shown, true) {
            println!("PREFLIGHT");
        }
        match result {
            Ok(seen) => println!("  ok     {check} on {host}: {seen}"),
            Err(why) => println!("  FAILED {check} on {host}: {why}"),
        }
    }

    fn baseline(&mut self, healthy: usize, powered: usize, powering_off: usize) {
        println!(
            "DRILL  baseline: {healthy} nodes healthy on {powered} powered hosts; powering off {powering_off} hosts"
        );
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

    fn stopping(&mut self, at: Duration) {
        self.stopping_since = Some(at);
        self.next_beat = at;
    }

    fn tick(&mut self, scheduler: &Scheduler, at: Duration) {
        self.last_tick = at;
        self.grouped(at, false);
        let view = live_view(&self.topology, &self.plan, scheduler, &self.started, at);
        let mut text = live_line(&view);
        if let Some(since) = self.stopping_since {
            text = format!(
                "STOPPING for {}: no new work; {} in flight finishing or timing out · {text}",
                human(at.saturating_sub(since)),
                view.in_flight
            );
        }
        match &self.bar {
            Some(bar) => {
                let table = tier_table(&self.topology, &self.plan, scheduler);
                bar.set_message(format!("── {} ── {text}\n{}", human(at), table.trim_end()));
            }
            None if at >= self.next_beat => {
                let every = if self.stopping_since.is_some() {
                    self.heartbeat.min(GROUPED_EVERY)
                } else {
                    self.heartbeat
                };
                self.next_beat = at + every;
                Progress::line(self, at, &format!("heartbeat: {text}"));
            }
            None => {}
        }
    }

    fn next_tick(&self) -> Option<Duration> {
        let pending = self.causes.values().any(|(_, hidden)| *hidden > 0);
        let grouped = pending.then_some(self.next_grouped);
        let redraw = match &self.bar {
            Some(_) => self.last_tick + Duration::from_secs(1),
            None => self.next_beat,
        };
        Some(grouped.map_or(redraw, |g| g.min(redraw)))
    }

    fn shows(&self) -> bool {
        true
    }
}

impl Progress {
    /// Progress of the run in `run_dir` on stderr: a status area when stderr is a terminal,
    /// a heartbeat every `heartbeat` otherwise.
    pub fn new(
        topology: Arc<Topology>,
        plan: Arc<Plan>,
        run_dir: PathBuf,
        heartbeat: Duration,
    ) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a fixed template"));
            bar
        });
        let heartbeat = heartbeat.max(Duration::from_secs(1));
        Progress {
            topology,
            plan,
            run_dir,
            bar,
            heartbeat,
            next_beat: heartbeat,
            last_tick: Duration::ZERO,
            started: HashMap::new(),
            causes: HashMap::new(),
            next_grouped: Duration::ZERO,
            stopping_since: None,
            preflight_shown: false,
        }
    }

    /// Reports one finished action, above the status area when there is one.
    pub fn line(&mut self, elapsed: Duration, text: &str) {
        let line = format!("[{:>8}] {text}", human(elapsed));
        match &self.bar {
            Some(bar) => bar.println(line),
            // eprintln, not a raw handle: test harnesses capture it like any other output.
            None => eprintln!("{line}"),
        }
    }

    /// One line per cause with failures not shown one by one (at most every
    /// [`GROUPED_EVERY`], or now with `all`).
    fn grouped(&mut self, at: Duration, all: bool) {
        if !all && at < self.next_grouped {
            return;
        }
        let mut lines = Vec::new();
        for (cause, (seen, hidden)) in &mut self.causes {
            if *hidden > 0 {
                lines.push(format!(
                    "FAILED  {cause}: {seen} so far ({hidden} more since the last line; `blackstart status {} --failed` lists every node)",
                    shell_quote(&self.run_dir.display().to_string())
                ));
                *hidden = 0;
            }
        }
        lines.sort();
        if !lines.is_empty() {
            self.next_grouped = at + GROUPED_EVERY;
        }
        for line in lines {
            Progress::line(self, at, &line);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let at = self.last_tick;
        self.grouped(at, true);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
