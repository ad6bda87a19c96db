//! A bench for the scheduler's own unit tests: a topology from YAML, the scheduler built
//! over its plan, and a loop that answers each action with an event chosen by the test,
//! advancing the clock to the scheduler's next wake-up when nothing else is due. No driver,
//! no executor, no journal: what the tests see is `handle` and `next_actions` alone.

use std::path::Path;
use std::time::Duration;

use super::Scheduler;
use crate::event::state::StepStatus;
use crate::event::{Action, Event, NodeId, PowerReport, Reason};
use crate::graph::Mode;
use crate::load::load_str;
use crate::plan::{Plan, StepId};
use crate::scope::Scope;
use crate::topology::{HostId, Topology};

/// Turns of the loop before a test is called stuck (every scenario here ends in tens).
const MAX_TURNS: usize = 2_000;

pub(super) struct Sim {
    pub topology: Topology,
    pub plan: Plan,
    pub scheduler: Scheduler,
    pub now: Duration,
    /// Every action handed out, with its time.
    pub log: Vec<(Duration, Action)>,
}

/// A service check that says "down": the node must be started.
pub(super) fn down() -> Reason {
    Reason::CheckFailed {
        detail: "connection refused".into(),
    }
}

/// What a healthy fleet answers: hosts come on and answer SSH, services are down until
/// started, starts work.
pub(super) fn fine(action: &Action) -> Option<Event> {
    Some(match action {
        Action::CheckPower { host } => Event::PowerChecked {
            host: *host,
            result: Ok(PowerReport::Off),
        },
        Action::PowerOn { host } => Event::PoweredOn {
            host: *host,
            result: Ok(()),
        },
        Action::PowerOff { host } => Event::PoweredOff {
            host: *host,
            result: Ok(()),
        },
        Action::WaitSsh { host, .. } => Event::SshReady {
            host: *host,
            result: Ok(()),
        },
        Action::Recheck { host, .. } => Event::Rechecked {
            host: *host,
            result: Ok(PowerReport::On),
        },
        Action::Probe { node } => Event::Probed {
            node: *node,
            result: Err(down()),
        },
        Action::ReadValue { node } => Event::ValueRead {
            node: *node,
            result: Ok(0.0),
        },
        Action::Start { node, attempt } => Event::StartFinished {
            node: *node,
            attempt: *attempt,
            result: Ok(()),
        },
        Action::Adopt { node, attempt, .. } => Event::Adopted {
            node: *node,
            attempt: *attempt,
            result: Ok(()),
        },
    })
}

impl Sim {
    pub fn new(yaml: &str) -> Sim {
        let topology = load_str(yaml, Path::new("sim.yaml")).unwrap().topology;
        let selection = Scope::default().select(&topology).unwrap();
        let plan = Plan::build(&topology, &selection).unwrap();
        let scheduler = Scheduler::new(&topology, &plan, 7);
        Sim {
            topology,
            plan,
            scheduler,
            now: Duration::ZERO,
            log: Vec::new(),
        }
    }

    pub fn host(&self, name: &str) -> HostId {
        let found = self.topology.hosts.iter().position(|h| h.name == name);
        found.unwrap_or_else(|| panic!("no host {name}"))
    }

    /// The normal-mode step of subsystem `name`.
    pub fn step(&self, name: &str) -> StepId {
        let found = self.plan.steps.iter().position(|step| {
            step.step.mode == Mode::Normal
                && self.topology.subsystems[step.step.subsystem].name == name
        });
        found.unwrap_or_else(|| panic!("no step {name}"))
    }

    /// The node of step `step` on host `host`.
    pub fn node(&self, step: &str, host: &str) -> NodeId {
        let (step, host) = (self.step(step), self.host(host));
        let nodes = self.scheduler.nodes();
        let found = nodes.iter().position(|n| n.step == step && n.host == host);
        found.unwrap_or_else(|| panic!("no node on {host}"))
    }

    pub fn status(&self, step: &str) -> StepStatus {
        self.scheduler.statuses()[self.step(step)].clone()
    }

    /// The actions handed out at the current time, logged.
    pub fn turn(&mut self) -> Vec<Action> {
        let actions = self.scheduler.next_actions(self.now);
        self.log
            .extend(actions.iter().map(|action| (self.now, action.clone())));
        actions
    }

    pub fn give(&mut self, event: Event) {
        self.scheduler.handle(self.now, &event);
    }

    /// Answers every action with `outcome` (`None` leaves it in flight) until nothing more
    /// is handed out and no wake-up is due; the clock jumps to each wake-up.
    pub fn run(&mut self, mut outcome: impl FnMut(&Action) -> Option<Event>) {
        for _ in 0..MAX_TURNS {
            let actions = self.turn();
            if actions.is_empty() {
                match self.scheduler.next_wakeup() {
                    Some(at) if at > self.now => self.now = at,
                    _ => return,
                }
                continue;
            }
            for action in &actions {
                if let Some(event) = outcome(action) {
                    self.give(event);
                }
            }
        }
        panic!("the scheduler was still busy after {MAX_TURNS} turns");
    }

    /// Start actions of `node` handed out, with their attempts.
    pub fn starts_of(&self, node: NodeId) -> Vec<u32> {
        self.log
            .iter()
            .filter_map(|(_, action)| match action {
                Action::Start { node: n, attempt } if *n == node => Some(*attempt),
                _ => None,
            })
            .collect()
    }

    /// Index in the log of the first action matching `wanted`.
    pub fn first(&self, wanted: impl Fn(&Action) -> bool) -> Option<usize> {
        self.log.iter().position(|(_, action)| wanted(action))
    }
}
