//! What a killed process left in flight, read from its journal: every action is journaled
//! before it runs and ends in exactly one event, so an action without its event was still
//! running when the process died. Starts matter most: the service may still be coming up,
//! and a resume must watch it, not start it a second time.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::{Entry, Record};
use crate::event::{Action, Event, NodeId};
use crate::topology::HostId;

/// A start journaled and never seen to end, by any process of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedStart {
    /// The node.
    pub node: NodeId,
    /// The attempt.
    pub attempt: u32,
    /// When it was launched, on the run's clock.
    pub t: Duration,
    /// When it was launched, on the wall clock (none on a drill's virtual clock).
    pub at: Option<SystemTime>,
}

/// What the last process of a run left unfinished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// Starts in flight (launched by any process of the run, and never seen to end).
    pub starts: Vec<UnfinishedStart>,
    /// Hosts whose power-on was sent and not answered: their state is read again, never
    /// switched blindly.
    pub power_ons: Vec<HostId>,
    /// Hosts whose boot wait and preparation steps were under way: they run again.
    pub preparations: Vec<HostId>,
    /// Nodes being probed by the last process (only shown: a resume probes afresh).
    pub probes: Vec<NodeId>,
}

/// Which action an event ends: actions and events of one kind on one host or node pair
/// in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Host(u8, HostId),
    Node(u8, NodeId),
    Start(NodeId, u32),
}

fn action_key(action: &Action) -> Key {
    match action {
        Action::CheckPower { host } => Key::Host(0, *host),
        Action::PowerOn { host } => Key::Host(1, *host),
        Action::PowerOff { host } => Key::Host(2, *host),
        Action::WaitSsh { host, .. } => Key::Host(3, *host),
        Action::Recheck { host, .. } => Key::Host(4, *host),
        Action::Probe { node } => Key::Node(0, *node),
        Action::ReadValue { node } => Key::Node(1, *node),
        Action::Adopt { node, .. } => Key::Node(2, *node),
        Action::Start { node, attempt } => Key::Start(*node, *attempt),
    }
}

/// The actions `event` ends (an adopted start's event ends both the watch and the start).
fn event_keys(event: &Event) -> [Option<Key>; 2] {
    let one = |key| [Some(key), None];
    match event {
        Event::PowerChecked { host, .. } => one(Key::Host(0, *host)),
        Event::PoweredOn { host, .. } => one(Key::Host(1, *host)),
        Event::PoweredOff { host, .. } => one(Key::Host(2, *host)),
        Event::SshReady { host, .. } => one(Key::Host(3, *host)),
        Event::Rechecked { host, .. } => one(Key::Host(4, *host)),
        Event::Probed { node, .. } => one(Key::Node(0, *node)),
        Event::ValueRead { node, .. } => one(Key::Node(1, *node)),
        Event::Adopted { node, attempt, .. } => {
            [Some(Key::Node(2, *node)), Some(Key::Start(*node, *attempt))]
        }
        Event::StartFinished { node, attempt, .. } => one(Key::Start(*node, *attempt)),
        Event::Rearmed { .. } | Event::Acknowledged { .. } | Event::Held { .. } => [None, None],
    }
}

/// What the run's journal shows unfinished. A start stays unfinished across processes
/// until an event ends it (a resume killed while it watched one leaves it to the next);
/// anything else belongs to the process that launched it, and a later one re-did it.
pub fn unfinished(records: &[Record]) -> Unfinished {
    let mut open: HashMap<Key, VecDeque<(usize, &Record)>> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        match &record.entry {
            Entry::RunStarted { .. } => open.retain(|key, _| matches!(key, Key::Start(..))),
            Entry::Action { action, .. } => open
                .entry(action_key(action))
                .or_default()
                .push_back((index, record)),
            Entry::Event { event, .. } => {
                for key in event_keys(event).into_iter().flatten() {
                    if let Some(queue) = open.get_mut(&key) {
                        queue.pop_front();
                    }
                }
            }
            _ => {}
        }
    }
    let mut left: Vec<(usize, Key, &Record)> = open
        .into_iter()
        .flat_map(|(key, queue)| queue.into_iter().map(move |(i, r)| (i, key, r)))
        .collect();
    left.sort_by_key(|(index, _, _)| *index);
    let mut unfinished = Unfinished::default();
    for (_, key, record) in left {
        match key {
            Key::Start(node, attempt) => unfinished.starts.push(UnfinishedStart {
                node,
                attempt,
                t: Duration::from_millis(record.t_ms),
                at: record
                    .at
                    .as_deref()
                    .and_then(|at| humantime::parse_rfc3339(at).ok()),
            }),
            Key::Host(1, host) => unfinished.power_ons.push(host),
            Key::Host(3, host) => unfinished.preparations.push(host),
            Key::Node(0, node) => unfinished.probes.push(node),
            _ => {}
        }
    }
    unfinished
}

/// A start that an earlier process journaled and never saw end (it was killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightStart {
    /// The node.
    pub node: NodeId,
    /// The attempt that was in flight.
    pub attempt: u32,
    /// How long ago it was launched, when the resume begins.
    pub running_for: Duration,
}

/// What a replay hands a run's records to: the scheduler, which lives above the journal
/// (`run`), implements it, so the journal reads records without importing the layer that
/// acts on them.
pub trait Replay {
    /// Takes in an event at `t`.
    fn handle(&mut self, t: Duration, event: &Event);
    /// A resumed process began at `t` with these starts unfinished.
    fn prepare_resume(&mut self, t: Duration, in_flight: &[InFlightStart]);
    /// The watch of `node`'s adopted start, handed out at `t` for a start then running for
    /// `running_for`.
    fn adoption_timed(&mut self, node: NodeId, t: Duration, running_for: Duration);
}

/// Hands a run's journaled events to `scheduler` as they happened, with each resume's
/// reset where a resumed process began (and its adoptions, timed as that process timed
/// them): the state every later reader (`status`, the report, the next resume) starts from.
pub fn replay<S: Replay>(mut scheduler: S, records: &[Record]) -> S {
    for index in 0..records.len() {
        replay_record(&mut scheduler, records, index);
    }
    scheduler
}

/// Hands `records[index]` to `scheduler`, the records before it already handed: what a
/// reader that follows a growing journal applies for each new line.
pub fn replay_record(scheduler: &mut impl Replay, records: &[Record], index: usize) {
    let record = &records[index];
    let t = Duration::from_millis(record.t_ms);
    match &record.entry {
        Entry::RunStarted { resumed: true, .. } if index > 0 => {
            let starts = unfinished(&records[..index]).starts_by_run_clock(t);
            scheduler.prepare_resume(t, &starts);
        }
        Entry::Action {
            action:
                Action::Adopt {
                    node,
                    running_for_ms,
                    ..
                },
            ..
        } => scheduler.adoption_timed(*node, t, Duration::from_millis(*running_for_ms)),
        Entry::Event { event, .. } => scheduler.handle(t, event),
        _ => {}
    }
}

impl Unfinished {
    /// The starts, with how long each has been running at `now` on the wall clock (a real
    /// resume: the run's own clock stood still while no process ran).
    pub fn starts_by_wall_clock(&self, now: SystemTime) -> Vec<InFlightStart> {
        self.starts
            .iter()
            .map(|start| InFlightStart {
                node: start.node,
                attempt: start.attempt,
                running_for: start
                    .at
                    .and_then(|at| now.duration_since(at).ok())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The starts, with how long each has been running at `now` on the run's clock (a
    /// drill, whose virtual clock runs on while its controller is down).
    pub fn starts_by_run_clock(&self, now: Duration) -> Vec<InFlightStart> {
        self.starts
            .iter()
            .map(|start| InFlightStart {
                node: start.node,
                attempt: start.attempt,
                running_for: now.saturating_sub(start.t),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(t_ms: u64, action: Action) -> Record {
        Record {
            at: Some("2026-12-02T10:00:00.000Z".into()),
            t_ms,
            entry: Entry::Action {
                action,
                step: None,
                host: None,
                command: None,
            },
        }
    }

    fn event(t_ms: u64, event: Event) -> Record {
        Record {
            at: None,
            t_ms,
            entry: Entry::Event {
                event,
                step: None,
                host: None,
                duration_ms: 0,
                output: None,
            },
        }
    }

    fn started(resumed: bool) -> Record {
        Record {
            at: None,
            t_ms: 0,
            entry: Entry::RunStarted {
                format: super::super::FORMAT,
                plan_digest: String::new(),
                topology: String::new(),
                resumed,
                pid: 1,
            },
        }
    }

    #[test]
    fn a_start_without_its_end_is_unfinished_across_resumes_until_an_adoption_ends_it() {
        let start = Action::Start {
            node: 4,
            attempt: 1,
        };
        let adopt = Action::Adopt {
            node: 4,
            attempt: 1,
            running_for_ms: 900,
        };
        let done = Event::StartFinished {
            node: 2,
            attempt: 1,
            result: Ok(()),
        };
        let mut records = vec![
            started(false),
            action(
                10,
                Action::Start {
                    node: 2,
                    attempt: 1,
                },
            ),
            action(20, start.clone()),
            action(25, Action::PowerOn { host: 7 }),
            event(30, done),
        ];
        let first = unfinished(&records);
        assert_eq!(first.starts.len(), 1, "{first:?}");
        assert_eq!((first.starts[0].node, first.starts[0].attempt), (4, 1));
        assert_eq!(first.starts[0].t, Duration::from_millis(20));
        assert!(first.starts[0].at.is_some(), "the wall-clock time is read");
        assert_eq!(first.power_ons, vec![7]);

        // A resume adopts it and is killed while watching: still unfinished, still the
        // first start's times.
        records.push(started(true));
        records.push(action(40, adopt));
        let second = unfinished(&records);
        assert_eq!(second.starts, first.starts);
        assert!(second.power_ons.is_empty(), "the resume re-read that host");

        records.push(event(
            50,
            Event::Adopted {
                node: 4,
                attempt: 1,
                result: Ok(()),
            },
        ));
        assert!(unfinished(&records).starts.is_empty());
    }

    #[test]
    fn running_time_is_taken_from_the_wall_clock_for_a_real_run_and_the_run_clock_for_a_drill() {
        let records = vec![action(
            1_000,
            Action::Start {
                node: 0,
                attempt: 2,
            },
        )];
        let left = unfinished(&records);
        let at = humantime::parse_rfc3339("2026-12-02T10:00:03.500Z").unwrap();
        let wall = left.starts_by_wall_clock(at);
        assert_eq!(wall[0].running_for, Duration::from_millis(3_500));
        assert_eq!(wall[0].attempt, 2);
        let drill = left.starts_by_run_clock(Duration::from_millis(4_000));
        assert_eq!(drill[0].running_for, Duration::from_millis(3_000));
    }
}
