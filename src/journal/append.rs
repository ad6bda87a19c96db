//! The append side of a journal: records written one JSON line each and synced, under the
//! run directory's lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{io, Entry, JournalError, Record, Sink, JOURNAL_FILE, LOCK_FILE, REQUESTS_DIR};

/// The append side of a journal, holding the run directory's lock.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    _lock: File,
    pending: Vec<u8>,
    offset: Duration,
}

impl Journal {
    /// Opens (creating) the journal of `dir` for appending, and takes the directory's lock.
    /// `offset` is the elapsed time already recorded (for a resumed run).
    pub fn open(dir: &Path, offset: Duration) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir.join(REQUESTS_DIR)).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(JournalError::Locked(dir.to_path_buf()));
        }
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Journal {
            file,
            path,
            _lock: lock,
            pending: Vec::new(),
            offset,
        })
    }

    /// Time already recorded before this process began (zero for a fresh run).
    pub fn offset(&self) -> Duration {
        self.offset
    }
}

impl Sink for Journal {
    /// Queues a record; [`Sink::sync`] writes and syncs what is queued.
    fn append(&mut self, t: Duration, entry: Entry) {
        let record = Record {
            at: Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
            t_ms: u64::try_from(t.as_millis()).unwrap_or(u64::MAX),
            entry,
        };
        serde_json::to_writer(&mut self.pending, &record).expect("journal records serialize");
        self.pending.push(b'\n');
    }

    /// Writes what is queued and syncs it to disk.
    fn sync(&mut self) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.pending.clear();
        Ok(())
    }
}
