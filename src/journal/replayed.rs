//! Reading a run back from its records: the events a resume replays, and when the run
//! recovered.

use std::time::Duration;

use super::{Entry, Record};
use crate::event::Event;

/// The events of a journal, in order, with their elapsed times: what resume replays.
pub fn events(records: &[Record]) -> Vec<(Duration, Event)> {
    records
        .iter()
        .filter_map(|record| match &record.entry {
            Entry::Event { event, .. } => Some((Duration::from_millis(record.t_ms), event.clone())),
            _ => None,
        })
        .collect()
}

/// When the run recovered: the time the last step first became ready, once all `steps`
/// have (none before). The one definition `simulate`, `status`, the report and the summary
/// quote; a resume re-journals the steps already ready, so each step counts from its first.
pub fn recovered_at(records: &[Record], steps: usize) -> Option<Duration> {
    let mut first = FirstReady::default();
    for record in records {
        first.observe(record);
    }
    first.recovered_at(steps)
}

/// When each step first became ready, as records arrive: the incremental form of
/// [`recovered_at`].
#[derive(Debug, Clone, Default)]
pub struct FirstReady {
    first: std::collections::HashMap<String, u64>,
    latest: u64,
}

impl FirstReady {
    /// Takes one record into account.
    pub fn observe(&mut self, record: &Record) {
        if let Entry::StepStatus { step, status } = &record.entry {
            if status.name() == "ready" && !self.first.contains_key(step) {
                self.first.insert(step.clone(), record.t_ms);
                self.latest = self.latest.max(record.t_ms);
            }
        }
    }

    /// When the step with id `step` first became ready.
    pub fn of(&self, step: &str) -> Option<Duration> {
        self.first.get(step).map(|ms| Duration::from_millis(*ms))
    }

    /// When the last of `steps` steps first became ready, once all have.
    pub fn recovered_at(&self, steps: usize) -> Option<Duration> {
        (steps > 0 && self.first.len() >= steps).then(|| Duration::from_millis(self.latest))
    }
}
