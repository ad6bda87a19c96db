//! `Match exec` in the built-in client's reading of the SSH configuration: the command runs
//! only where the topology says `ssh: { match_exec: true }` (it runs while the topology is
//! loaded, on the planning machine, as ssh would run it before connecting). Elsewhere the
//! criterion does not hold and `validate` warns, naming the line, so a block is never
//! skipped silently.

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::topology::diagnostic::Collector;
use crate::topology::ssh_config::{ExecRequest, Place};

/// How long one `Match exec` command may run before it is killed (and does not hold).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs (or refuses) the `Match exec` commands of one topology, each command once.
#[derive(Default)]
pub struct ExecRunner {
    results: HashMap<String, bool>,
    /// What to tell about each line, by line (the first reason wins).
    notes: BTreeMap<Place, Note>,
}

enum Note {
    NotAllowed(String),
    NotRun(String),
    Failed(String),
}

impl ExecRunner {
    /// Decides one `Match exec`: runs it when `allowed`, else notes it (false).
    pub fn decide(&mut self, request: ExecRequest, allowed: bool) -> bool {
        let place = request.place.clone();
        let command = match request.command {
            Ok(command) => command,
            Err(why) => {
                self.notes.entry(place).or_insert(Note::NotRun(why));
                return false;
            }
        };
        if !allowed {
            self.notes.entry(place).or_insert(Note::NotAllowed(command));
            return false;
        }
        if let Some(known) = self.results.get(&command) {
            return *known;
        }
        let holds = match run(&command) {
            Ok(holds) => holds,
            Err(why) => {
                self.notes.entry(place).or_insert(Note::Failed(why));
                false
            }
        };
        self.results.insert(command, holds);
        holds
    }

    /// Warns, at `at`, about each line noted since the last report.
    pub fn report(&mut self, at: &str, out: &mut Collector) {
        for (place, note) in std::mem::take(&mut self.notes) {
            match note {
                Note::NotAllowed(command) => out
                    .warning(
                        at,
                        format!(
                            "{place}: `Match exec {command:?}` was not run, so its block does \
                             not apply (blackstart runs no command from an SSH config unless \
                             told to)"
                        ),
                    )
                    .hint(
                        "set `ssh: { match_exec: true }` (on the host or in defaults.host) to \
                         run it as ssh would, or `ssh: { client: openssh }`",
                    ),
                Note::NotRun(why) => out.warning(
                    at,
                    format!("{place}: `Match exec` not run: {why}; its block does not apply"),
                ),
                Note::Failed(why) => out.warning(
                    at,
                    format!("{place}: `Match exec` failed: {why}; its block does not apply"),
                ),
            };
        }
    }
}

/// Runs `command` with the user's shell (as ssh does), nothing on stdin or stdout, killed
/// past [`EXEC_TIMEOUT`]. True when it exits 0.
fn run(command: &str) -> Result<bool, String> {
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let mut child = Command::new(&shell)
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot start {shell}: {err}"))?;
    let deadline = Instant::now() + EXEC_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.success()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "still running after {}s, killed",
                    EXEC_TIMEOUT.as_secs()
                ));
            }
            Err(err) => return Err(format!("cannot wait for it: {err}")),
        }
    }
}
