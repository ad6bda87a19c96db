//! A game day: the driver over the simulated fleet, paced to the wall clock, writing a real
//! run directory (run metadata, the journal under its lock, `requests/`). People rehearse
//! the night with the real tools — `status`, `serve`, `report`, `ack`, `retry` — while
//! nothing is contacted.
//!
//! The simulated fleet stays pure (it never waits); [`PacedFleet`] wraps it and waits on
//! the wall clock until the next simulated completion or wake-up is due, picking up
//! requests and Ctrl-C meanwhile as the real fleet does. Manual steps and gates wait for a
//! real `ack` (no simulated operator), and a `retry` repairs the placed start failures and
//! dead disks of what it names before the scheduler re-arms the nodes. A dead disk on a step
//! with spares needs nobody: the scheduler brings a spare in, as on the night.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use thiserror::Error;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::drill::{DrillConfig, Injected, SimulatedFleet};
use crate::event::state::StepStatus;
use crate::event::{Action, Event, Target};
use crate::journal::{self, Entry, Journal, JournalError, Record, Unfinished};
use crate::night::{open_journal, Prepared};
use crate::plan::{Plan, StepId};
use crate::run::driver::{self, target_of, Ended, Fleet, Next, Reporter};
use crate::run::requests::{self, Request};
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// How often `requests/` is read while the game day waits (as the real fleet does).
const REQUEST_POLL: Duration = Duration::from_millis(250);

/// How fast a game day runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Simulated seconds per wall-clock second (1 = real time, 60 = a minute a second).
    Speed(f64),
    /// No waiting between completions; people's requests and gates are still waited for.
    AsFastAsPossible,
}

/// Why a game day could not begin or go on.
#[derive(Debug, Error)]
pub enum GameDayError {
    /// The journal could not be opened, read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A new game day was pointed at a directory that already holds a run.
    #[error("{} already holds a run; use `simulate --resume {}` or another --run-dir", .0.display(), .0.display())]
    AlreadyHoldsRun(PathBuf),
    /// The run directory could not be created.
    #[error("cannot create the run directory {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// A game day whose start record is on disk, ready to drive.
pub struct GameDay {
    prepared: Prepared,
    dir: PathBuf,
    journal: Journal,
    scheduler: Scheduler,
    records: Vec<Record>,
    left: Unfinished,
}

impl GameDay {
    /// Begins a game day in `dir` (created; refused when it already holds a run): writes
    /// the run's metadata (marked simulated) and the start record.
    pub fn start(mut prepared: Prepared, dir: PathBuf) -> Result<GameDay, GameDayError> {
        if dir.join(journal::JOURNAL_FILE).exists() {
            return Err(GameDayError::AlreadyHoldsRun(dir));
        }
        std::fs::create_dir_all(&dir).map_err(|error| GameDayError::CreateDir {
            path: dir.clone(),
            error,
        })?;
        prepared.info.simulated = true;
        journal::write_info(&dir, &prepared.info)?;
        GameDay::open(prepared, dir, Vec::new(), false)
    }

    /// Resumes the game day recorded in `dir`: the journal is replayed, into the scheduler
    /// and into the simulated world, and the clock goes on where it stood.
    pub fn resume(prepared: Prepared, dir: PathBuf) -> Result<GameDay, GameDayError> {
        let records = journal::read(&dir)?;
        GameDay::open(prepared, dir, records, true)
    }

    fn open(
        prepared: Prepared,
        dir: PathBuf,
        records: Vec<Record>,
        resumed: bool,
    ) -> Result<GameDay, GameDayError> {
        // The simulated world stood still while no process ran: starts in flight have
        // run for as long as the run's own clock says.
        let offset = Duration::from_millis(records.last().map_or(0, |r| r.t_ms));
        let (journal, scheduler, left) =
            open_journal(&prepared, &dir, &records, resumed, |left| {
                left.starts_by_run_clock(offset)
            })?;
        Ok(GameDay {
            prepared,
            dir,
            journal,
            scheduler,
            records,
            left,
        })
    }

    /// What the last process left unfinished (empty for a new game day).
    pub fn unfinished(&self) -> &Unfinished {
        &self.left
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The scheduler as the game day begins (after a resume: with what it takes over).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Drives the game day to its end, a stop (Ctrl-C) or a failure, over the simulated
    /// fleet of `topology` (the prepared one with the drill's model applied) with `config`,
    /// the placed faults and `seed`, paced by `pace`.
    pub fn carry_out<R: Reporter>(
        self,
        topology: &Topology,
        config: DrillConfig,
        injected: &[Injected],
        pace: Pace,
        reporter: &mut R,
    ) -> Result<Ended, GameDayError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(GameDayError::Runtime)?;
        let GameDay {
            prepared,
            dir,
            mut journal,
            scheduler,
            records,
            ..
        } = self;
        let plan = &prepared.plan;
        let seed = prepared.info.seed;
        let offset = journal.offset();
        // The people are real on a game day: no simulated one acknowledges or retries.
        let config = DrillConfig {
            people: crate::drill::People::default(),
            ..config
        };
        let ended = runtime.block_on(async {
            let mut inner = SimulatedFleet::new(topology, plan, config, injected, seed);
            rebuild(&mut inner, plan, &scheduler, &records);
            inner.advance_to(offset);
            let mut fleet = PacedFleet::new(inner, topology, plan, dir, pace);
            driver::drive(
                topology,
                plan,
                &mut fleet,
                &mut journal,
                reporter,
                scheduler,
                None,
            )
            .await
        })?;
        Ok(ended)
    }
}

/// Replays what a killed or stopped game day did into a fresh simulated world: every
/// action it launched, in order at its time, and every repair (`retry`) it recorded.
fn rebuild(fleet: &mut SimulatedFleet, plan: &Plan, scheduler: &Scheduler, records: &[Record]) {
    let nodes = scheduler.nodes();
    for record in records {
        let at = Duration::from_millis(record.t_ms);
        match &record.entry {
            Entry::Action { action, .. } => {
                if action.node().is_some_and(|node| node >= nodes.len()) {
                    continue;
                }
                let target = target_of(plan, nodes, action);
                fleet.replay_action(at, action, target);
            }
            // Faults placed on an event are armed when it happened, not at the resume.
            Entry::StepStatus { step, status } => {
                if let Some(id) = plan.steps.iter().position(|planned| planned.id == *step) {
                    fleet.step_status(id, status, at);
                }
            }
            Entry::Event {
                event: Event::Rearmed { node },
                ..
            } => {
                if let Some(node) = nodes.get(*node) {
                    fleet.repair(node.host, plan.steps[node.step].step.subsystem);
                }
            }
            _ => {}
        }
    }
}

/// The simulated fleet paced to the wall clock, with a real run's requests and Ctrl-C.
pub(crate) struct PacedFleet<'a> {
    inner: SimulatedFleet<'a>,
    topology: &'a Topology,
    plan: &'a Plan,
    pace: Pace,
    /// The wall-clock instant at which the virtual clock stood at `virtual_origin`.
    wall_origin: Instant,
    virtual_origin: Duration,
    run_dir: PathBuf,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    stopping: bool,
    request_poll: Interval,
}

impl<'a> PacedFleet<'a> {
    /// Paces `inner` from its current time; create it inside a tokio runtime.
    pub(crate) fn new(
        inner: SimulatedFleet<'a>,
        topology: &'a Topology,
        plan: &'a Plan,
        run_dir: PathBuf,
        pace: Pace,
    ) -> Self {
        let mut request_poll = tokio::time::interval(REQUEST_POLL);
        request_poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        PacedFleet {
            virtual_origin: inner.now(),
            inner,
            topology,
            plan,
            pace,
            wall_origin: Instant::now(),
            run_dir,
            stop: Box::pin(driver::real::shutdown_signal()),
            stopping: false,
            request_poll,
        }
    }

    /// The wall-clock instant at which the virtual clock reaches `at`.
    fn wall_at(&self, at: Duration, speed: f64) -> Instant {
        self.wall_origin + at.saturating_sub(self.virtual_origin).div_f64(speed)
    }

    /// Brings the virtual clock up to the wall clock (never past the next completion, which
    /// is then delivered at once): a request or a stop happens now.
    fn catch_up(&mut self) {
        if let Pace::Speed(speed) = self.pace {
            let now = self.virtual_origin + self.wall_origin.elapsed().mul_f64(speed);
            let now = self.inner.next_due().map_or(now, |due| now.min(due));
            self.inner.advance_to(now);
        }
    }

    /// A `retry` stands for a repair done by the person who typed it: the placed start
    /// failures of what it names stop failing, and a dead disk of a host running it was
    /// replaced.
    fn repair(&mut self, batch: &[Request]) {
        for request in batch {
            let Request::Retry { target, host } = request else {
                continue;
            };
            let subsystems: Vec<_> = self
                .plan
                .steps
                .iter()
                .filter(|step| {
                    step.id == *target
                        || self.topology.subsystems[step.step.subsystem].name == *target
                })
                .map(|step| step.step.subsystem)
                .collect();
            for (id, candidate) in self.topology.hosts.iter().enumerate() {
                if host.as_ref().is_some_and(|host| *host != candidate.name) {
                    continue;
                }
                for subsystem in &subsystems {
                    self.inner.repair(id, *subsystem);
                }
            }
        }
    }
}

impl Fleet for PacedFleet<'_> {
    fn now(&self) -> Duration {
        self.inner.now()
    }

    fn describe(&self, action: &Action, target: Target) -> Option<String> {
        self.inner.describe(action, target)
    }

    fn launch(&mut self, action: Action, target: Target) {
        self.inner.launch(action, target);
    }

    /// People are called by the reporter and answer with `blackstart ack`: no simulated
    /// operator acknowledges on a game day.
    fn person_needed(&mut self, _step: StepId, _at: Duration) {}

    fn step_status(&mut self, step: StepId, status: &StepStatus, at: Duration) {
        self.inner.step_status(step, status, at);
    }

    async fn next(&mut self, wake_at: Option<Duration>) -> Next {
        let due = match (self.inner.next_due(), wake_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Nothing due: only people (a request) or a stop can move the game day on.
        let deadline = due.map(|at| match self.pace {
            Pace::Speed(speed) => self.wall_at(at, speed),
            Pace::AsFastAsPossible => Instant::now(),
        });
        // Already due (as fast as possible, or behind the pace): no round trip through the
        // timer, whose millisecond ticks would cost a millisecond a turn; people and a stop
        // are still looked at first.
        let overdue = deadline.is_some_and(|at| at <= Instant::now());
        tokio::select! {
            biased;
            _ = &mut self.stop, if !self.stopping => {
                self.stopping = true;
                self.catch_up();
                Next::Stop
            }
            _ = self.request_poll.tick() => {
                let batch = requests::take(&self.run_dir);
                if batch.is_empty() {
                    Next::Wake
                } else {
                    self.catch_up();
                    self.repair(&batch);
                    Next::Requests(batch)
                }
            }
            _ = std::future::ready(()), if overdue => {
                // A turn that never waits would keep the runtime from its timer and signal
                // drivers: as fast as possible, a game day waiting on people (only
                // heartbeats due) never saw their `ack` or Ctrl-C. Yielding lets them turn.
                tokio::task::yield_now().await;
                self.inner.next(wake_at).await
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && !overdue => {
                self.inner.next(wake_at).await
            }
        }
    }
}
