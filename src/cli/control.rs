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
                // Refused requests are records too: the journal says what people asked for.
                if let Ok(mut journal) = Journal::open(dir, Duration::ZERO) {
                    let offset = Duration::from_millis(records.last().map_or(0, |r| r.t_ms));
                    journal.append(
                        offset,
                        journal::Entry::RequestRefused {
                            request: request.to_string(),
                            why: why.clone(),
                        },
                    );
                    journal.sync()?;
                }
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
                let (step, host) = narrate::event_subject(
                    &prepared.topology,
                    &prepared.plan,
                    scheduler.nodes(),
                    &event,
                );
                journal.append(
                    offset,
                    journal::Entry::Event {
                        step,
                        host,
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
