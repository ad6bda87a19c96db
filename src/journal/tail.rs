//! A journal read as it grows: each call returns only the lines appended since the last,
//! so a live reader (`status --watch`, the status page) applies what is new instead of
//! reading and replaying the whole run on every redraw.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{io, start_format, JournalError, Record, FORMAT, JOURNAL_FILE};

/// Follows the journal of a run directory.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    /// Bytes consumed so far: always the end of a complete line.
    offset: u64,
    /// Complete lines consumed so far, for error messages.
    lines: usize,
}

impl Tail {
    /// A reader of the journal in `dir`, from its beginning.
    pub fn new(dir: &Path) -> Tail {
        Tail {
            path: dir.join(JOURNAL_FILE),
            offset: 0,
            lines: 0,
        }
    }

    /// The records appended since the last call. A line still being written (no newline
    /// yet) is left for the next call; a journal of another format is refused on its
    /// start record, as [`super::read`] refuses it.
    pub fn read_new(&mut self) -> Result<Vec<Record>, JournalError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io(&self.path)(err)),
        };
        file.seek(SeekFrom::Start(self.offset))
            .map_err(io(&self.path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(&self.path))?;
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8_lossy(&bytes[..=end]);
        let mut records = Vec::new();
        for line in text.lines() {
            self.lines += 1;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(found) = start_format(line).filter(|found| *found != FORMAT) {
                return Err(JournalError::Format {
                    path: self.path.clone(),
                    found,
                });
            }
            let record = serde_json::from_str(line).map_err(|err| JournalError::Corrupt {
                path: self.path.clone(),
                line: self.lines,
                detail: err.to_string(),
            })?;
            records.push(record);
        }
        self.offset += end as u64 + 1;
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;
    use crate::journal::{Entry, Journal, RunOutcome, Sink};

    #[test]
    fn each_read_returns_only_what_was_appended_and_waits_for_a_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = Tail::new(dir.path());
        assert!(tail.read_new().unwrap().is_empty(), "no journal yet");
        let mut journal = Journal::open(dir.path(), Duration::ZERO).unwrap();
        journal.append(Duration::from_millis(1), Entry::StopRequested);
        journal.sync().unwrap();
        assert_eq!(tail.read_new().unwrap().len(), 1);
        assert!(tail.read_new().unwrap().is_empty(), "nothing new");
        // Half a line, as a writer mid-append leaves it: not read until it is whole.
        let path = dir.path().join(JOURNAL_FILE);
        let line = serde_json::to_string(&Record {
            at: None,
            t_ms: 9,
            entry: Entry::RunFinished {
                outcome: RunOutcome::Succeeded,
            },
        })
        .unwrap();
        let (first, rest) = line.split_at(10);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(first.as_bytes()).unwrap();
        assert!(tail.read_new().unwrap().is_empty(), "a torn line waits");
        writeln!(file, "{rest}").unwrap();
        let records = tail.read_new().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].t_ms, 9);
    }

    #[test]
    fn a_journal_of_another_format_is_refused_as_it_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(JOURNAL_FILE),
            "{\"t_ms\":0,\"kind\":\"run_started\",\"format\":2,\"plan_digest\":\"x\",\"topology\":\"t\",\"resumed\":false,\"pid\":1}\n",
        )
        .unwrap();
        let err = Tail::new(dir.path()).read_new().unwrap_err();
        assert!(
            matches!(err, JournalError::Format { found: 2, .. }),
            "{err}"
        );
    }
}
