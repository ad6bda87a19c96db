//! The journal: every action and event of a run, appended one JSON object per line and
//! synced to disk, under a run directory. It is the audit trail and the source of resume.
//! Secrets never enter it: commands are recorded as rendered, and they hold none.
//!
//! A drill records the same [`Record`]s into memory (a [`Timeline`]) on its virtual clock:
//! every view of a run — progress, summary, `status`, the drill's timeline — reads one
//! vocabulary. The format is versioned ([`FORMAT`]); a journal of another format is refused
//! with its version named, never misread.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod append;
mod in_flight;
pub mod record;
mod replayed;
mod tail;

pub use crate::event::state::RunOutcome;
pub use append::Journal;
pub use in_flight::{
    replay, replay_record, unfinished, InFlightStart, Replay, Unfinished, UnfinishedStart,
};
pub use record::{DrillPhase, Entry, Record, FORMAT};
pub use replayed::{events, recovered_at, FirstReady};
pub use tail::Tail;

/// File names inside a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Run metadata: what was run, so `--resume` and `status` can load it again.
pub const RUN_FILE: &str = "run.json";
/// Held (flock) by the process running the directory.
pub const LOCK_FILE: &str = "lock";
/// Where `blackstart retry` leaves requests for a live run.
pub const REQUESTS_DIR: &str = "requests";

/// What a run directory records about its run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunInfo {
    /// The topology file, absolute.
    pub topology: PathBuf,
    /// Digest of the topology text and scope: a resume must match it.
    pub plan_digest: String,
    /// The scope of the run.
    pub scope: crate::scope::Scope,
    /// Seed of the retry jitter.
    pub seed: u64,
    /// A game day (`simulate --run-dir`): a simulated fleet, nothing contacted. Shown
    /// wherever the run is, and a resume goes through `simulate --resume`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

/// Why a journal could not be used.
#[derive(Debug, Error)]
pub enum JournalError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// Another process holds the run directory.
    #[error("{0} is in use by another blackstart process (lock held); wait for it or stop it")]
    Locked(PathBuf),
    /// A line in the middle of the journal is not valid.
    #[error("{path}:{line}: unreadable journal line: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Parser message.
        detail: String,
    },
    /// The journal was written in another format.
    #[error("{path}: journal format {found}, but this release reads format {FORMAT}; finish or inspect that run with the release that started it, or start a new run")]
    Format {
        /// The file.
        path: PathBuf,
        /// The format found.
        found: u32,
    },
}

/// Where a run's records go: the journal on disk, or a drill's timeline in memory.
pub trait Sink {
    /// Queues a record at `t` (time since the run first began).
    fn append(&mut self, t: Duration, entry: Entry);
    /// Makes what is queued durable (a no-op in memory).
    fn sync(&mut self) -> Result<(), JournalError>;
    /// False when nothing is kept: labels need not be built.
    fn keeps(&self) -> bool {
        true
    }
    /// Queues the record `make` builds, building it only when records are kept: a drill's
    /// series keeps nothing, and its labels and step names would be built for nothing.
    fn append_with(&mut self, t: Duration, make: impl FnOnce() -> Entry)
    where
        Self: Sized,
    {
        if self.keeps() {
            self.append(t, make());
        }
    }
}

/// Records in memory, on a virtual clock: a drill's timeline. Disabled, it keeps nothing
/// (a Monte Carlo study).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Whether records are kept.
    pub enabled: bool,
}

impl Sink for Timeline {
    fn append(&mut self, t: Duration, entry: Entry) {
        if self.enabled {
            self.records.push(Record {
                at: None,
                t_ms: u64::try_from(t.as_millis()).unwrap_or(u64::MAX),
                entry,
            });
        }
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        Ok(())
    }

    fn keeps(&self) -> bool {
        self.enabled
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |error| JournalError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Reads every record of a journal. A torn last line (the process died mid-write) is
/// ignored; a bad line anywhere else is an error.
pub fn read(dir: &Path) -> Result<Vec<Record>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io(&path)(err)),
    };
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io(&path))?;
    check_format(&path, &lines)?;
    let mut records = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if index + 1 == lines.len() => {
                tracing::warn!("{}: ignoring a torn last line", path.display());
            }
            Err(err) => {
                return Err(JournalError::Corrupt {
                    path,
                    line: index + 1,
                    detail: err.to_string(),
                })
            }
        }
    }
    Ok(records)
}

/// Writes the run's metadata.
pub fn write_info(dir: &Path, info: &RunInfo) -> Result<(), JournalError> {
    let path = dir.join(RUN_FILE);
    let text = serde_json::to_string_pretty(info).expect("run info serializes");
    std::fs::write(&path, text).map_err(io(&path))
}

/// Reads the run's metadata.
pub fn read_info(dir: &Path) -> Result<RunInfo, JournalError> {
    let path = dir.join(RUN_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|err| JournalError::Corrupt {
        path,
        line: err.line(),
        detail: err.to_string(),
    })
}

/// Refuses a journal of another format, named as such rather than reported as corrupt:
/// checked on its first run-start record (the first line of every journal this release
/// writes; older ones may hold preflight records before it) before anything is parsed as
/// this release's types.
fn check_format(path: &Path, lines: &[String]) -> Result<(), JournalError> {
    match lines.iter().find_map(|line| start_format(line)) {
        Some(found) if found != FORMAT => Err(JournalError::Format {
            path: path.to_path_buf(),
            found,
        }),
        _ => Ok(()),
    }
}

/// The format a run-start line names (1 when it names none); `None` for other lines.
fn start_format(line: &str) -> Option<u32> {
    if !line.contains("run_started") {
        return None;
    }
    let value = serde_json::from_str::<serde_json::Value>(line).ok()?;
    (value["kind"] == "run_started").then(|| value["format"].as_u64().map_or(1, |f| f as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn a_torn_last_line_is_ignored_but_earlier_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut journal = Journal::open(dir.path(), Duration::ZERO).unwrap();
            journal.append(
                Duration::from_millis(5),
                Entry::RunFinished {
                    outcome: RunOutcome::Failed,
                },
            );
            journal.sync().unwrap();
        }
        let path = dir.path().join(JOURNAL_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"at\":\"2026");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn a_journal_of_another_format_is_refused_with_its_version_named() {
        let dir = tempfile::tempdir().unwrap();
        // What the first releases wrote: no `format`, reasons as text.
        let older = concat!(
            r#"{"at":"2026-11-01T00:00:00.000Z","t_ms":0,"kind":"run_started","#,
            r#""plan_digest":"x","topology":"t","resumed":false,"pid":1}"#,
            "\n",
            r#"{"at":"2026-11-01T00:00:01.000Z","t_ms":5,"kind":"event","label":"h1","#,
            r#""event":{"event":"powered_on","host":0,"result":{"Err":"BMC: timeout"}},"#,
            r#""duration_ms":5,"output":null}"#,
            "\n"
        );
        std::fs::write(dir.path().join(JOURNAL_FILE), older).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(
            matches!(err, JournalError::Format { found: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("journal format 1"), "{err}");
        assert!(err.to_string().contains("reads format 3"), "{err}");
        // Format 2 (step and host only inside a label, outcomes as text) is refused too.
        let second = older.replacen(
            r#""kind":"run_started","#,
            r#""kind":"run_started","format":2,"#,
            1,
        );
        std::fs::write(dir.path().join(JOURNAL_FILE), second).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(
            matches!(err, JournalError::Format { found: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn actions_and_events_name_their_step_and_host_as_fields() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut journal = Journal::open(dir.path(), Duration::ZERO).unwrap();
            journal.append(
                Duration::from_millis(7),
                Entry::Event {
                    event: Event::Probed {
                        node: 3,
                        result: Err(crate::event::Reason::NoHealthCheck),
                    },
                    step: Some("db".into()),
                    host: Some("h1".into()),
                    duration_ms: 2,
                    output: None,
                },
            );
            journal.append(Duration::from_millis(8), Entry::StopRequested);
            journal.sync().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["step"], "db");
        assert_eq!(first["host"], "h1");
        assert_eq!(first["event"]["result"]["Err"]["cause"], "no_health_check");
        let records = read(dir.path()).unwrap();
        assert_eq!(records[0].entry.label(), "db on h1");
        assert_eq!(records[1].entry, Entry::StopRequested);
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path(), Duration::ZERO).unwrap();
        assert!(matches!(
            Journal::open(dir.path(), Duration::ZERO),
            Err(JournalError::Locked(_))
        ));
    }
}
