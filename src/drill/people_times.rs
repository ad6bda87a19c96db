//! How soon people acted, read from a journal: a gate's or manual step's wait to its
//! `ack`, a node's last failed attempt to the `retry` that re-armed it. On the wall clock
//! when the records carry it: a game day's run clock is sped up, its people are not.

use std::collections::BTreeMap;

use crate::event::Event;
use crate::journal::{Entry, Record};

/// The wall-clock seconds from `from` to `to` when both carry their wall time, else the
/// run clock's (a game day's run clock is sped up; people live the wall clock).
fn lived(from: &Record, to: &Record) -> f64 {
    let wall = |r: &Record| {
        r.at.as_deref()
            .and_then(|at| humantime::parse_rfc3339(at).ok())
    };
    match (wall(from), wall(to)) {
        (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default().as_secs_f64(),
        _ => to.t_ms.saturating_sub(from.t_ms) as f64 / 1000.0,
    }
}

/// People's response times in one journal: (acks, retries), seconds.
pub(super) fn people_times(records: &[Record]) -> (Vec<f64>, Vec<f64>) {
    let (mut acks, mut retries) = (Vec::new(), Vec::new());
    let mut waiting: BTreeMap<&str, &Record> = BTreeMap::new();
    let mut failed: BTreeMap<(Option<&str>, &str), &Record> = BTreeMap::new();
    for record in records {
        match &record.entry {
            Entry::StepStatus { step, status } if status.name() == "active" => {
                waiting.entry(step.as_str()).or_insert(record);
            }
            Entry::Event {
                event, step, host, ..
            } => {
                let (step, host) = (step.as_deref(), host.as_deref());
                match event {
                    Event::Acknowledged { .. } => {
                        if let Some(since) = step.and_then(|step| waiting.remove(step)) {
                            acks.push(lived(since, record));
                        }
                    }
                    Event::StartFinished { result: Err(_), .. } => {
                        if let Some(host) = host {
                            failed.insert((step, host), record);
                        }
                    }
                    // A host that never came up fails every node on it.
                    Event::SshReady { result: Err(_), .. }
                    | Event::PoweredOn { result: Err(_), .. } => {
                        if let Some(host) = host {
                            failed.insert((None, host), record);
                        }
                    }
                    Event::Rearmed { .. } => {
                        let Some(host) = host else { continue };
                        let since = failed
                            .remove(&(step, host))
                            .into_iter()
                            .chain(failed.get(&(None, host)).copied())
                            .max_by_key(|r| r.t_ms);
                        if let Some(since) = since {
                            retries.push(lived(since, record));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (acks, retries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::state::StepStatus;
    use crate::event::Reason;

    fn at(t_ms: u64, wall_s: Option<u64>, entry: Entry) -> Record {
        Record {
            at: wall_s.map(|s| {
                humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + s),
                )
                .to_string()
            }),
            t_ms,
            entry,
        }
    }

    fn event(event: Event, step: &str, host: Option<&str>) -> Entry {
        Entry::Event {
            event,
            step: Some(step.into()),
            host: host.map(Into::into),
            duration_ms: 0,
            output: None,
        }
    }

    /// A gate's wait to its ack, a failure's to its retry: on the wall clock when the
    /// records carry it (a game day's run clock runs 60 times faster here), else the run's.
    #[test]
    fn people_are_timed_from_what_called_for_them_to_their_answer() {
        let failed = Event::StartFinished {
            node: 0,
            attempt: 2,
            result: Err(Reason::Other { detail: "x".into() }),
        };
        let records = vec![
            at(
                0,
                Some(0),
                Entry::StepStatus {
                    step: "gate".into(),
                    status: StepStatus::Active,
                },
            ),
            at(
                60_000,
                Some(1),
                event(failed.clone(), "ldap", Some("ldap1")),
            ),
            at(
                1_800_000,
                Some(30),
                event(
                    Event::Acknowledged {
                        step: 1,
                        by: "ana".into(),
                    },
                    "gate",
                    None,
                ),
            ),
            at(
                3_600_000,
                Some(60),
                event(Event::Rearmed { node: 0 }, "ldap", Some("ldap1")),
            ),
            // A re-arm with nothing failed before it, and an ack of a step never waiting:
            // nothing to time.
            at(
                3_700_000,
                Some(61),
                event(Event::Rearmed { node: 1 }, "app", Some("app1")),
            ),
            at(
                3_800_000,
                Some(62),
                event(
                    Event::Acknowledged {
                        step: 2,
                        by: "bo".into(),
                    },
                    "other",
                    None,
                ),
            ),
            // Without wall times, the run clock.
            at(4_000_000, None, event(failed, "ldap", Some("ldap2"))),
            at(
                4_090_000,
                None,
                event(Event::Rearmed { node: 2 }, "ldap", Some("ldap2")),
            ),
        ];
        let (acks, retries) = people_times(&records);
        assert_eq!(acks, vec![30.0]);
        assert_eq!(retries, vec![59.0, 90.0]);
    }
}
