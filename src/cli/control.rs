//! `retry` and `ack`: re-arming a node after a person has repaired it, and acknowledging
//! manual steps and gates.

use std::path::Path;
use std::time::Duration;

use blackstart::event::narrate;
use blackstart::journal::{self, Journal, Sink};
use blackstart::run::requests::{self, Request};

use super::prepare::load_run;
use super::Outcome;

/// `blackstart retry RUN_DIR TARGET [--host HOST]`.
pub fn retry(dir: &Path, target: String, host: Option<String>) -> anyhow::Result<Outcome> {
    request(dir, Request::Retry { target, host })
}

/// `blackstart ack RUN_DIR STEP`.
pub fn ack(dir: &Path, step: String, by: Option<String>) -> anyhow::Result<Outcome> {
    request(
        dir,
        Request::Ack {
            step,
            by: by.unwrap_or_else(requests::operator),
        },
    )
}

/// Hands a request to the live run of `dir`, or records it in the journal of a stopped
/// run (carried out by `run --resume`).
fn request(dir: &Path, request: Request) -> anyhow::Result<Outcome> {
    let (prepared, scheduler, records) = match load_run(dir)? {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let events =
        match requests::events_for(&prepared.topology, &prepared.plan, &scheduler, &request) {
            Ok(events) => events,
            Err(why) => {
                eprintln!(
                    "error: {why}; `blackstart status {}` shows the run",
                    dir.display()
                );
                return Ok(Outcome::InvalidInput);
            }
        };
    match Journal::open(dir, Duration::ZERO) {
        Ok(mut journal) => {
            let offset = Duration::from_millis(records.last().map_or(0, |r| r.t_ms));
            for event in events {
                let label = narrate::event_label(
                    &prepared.topology,
                    &prepared.plan,
                    scheduler.nodes(),
                    &event,
                );
                journal.append(
                    offset,
                    journal::Entry::Event {
                        label,
                        event,
                        duration_ms: 0,
                        output: None,
                    },
                );
            }
            journal.sync()?;
            println!(
                "recorded; continue with: blackstart run --resume {}",
                dir.display()
            );
        }
        Err(journal::JournalError::Locked(_)) => {
            requests::submit(dir, &request)?;
            println!("handed to the live run");
        }
        Err(err) => return Err(err.into()),
    }
    Ok(Outcome::Success)
}
