//! Incident 3, the call-centre statistics server, on the lab: the shipped topology and
//! restore playbook against two real hosts (sshd, ipmi_sim), a real SQLite database and a
//! real small filesystem. Nothing is touched until the backup is known good: a full disk, an
//! empty, a stale or a corrupt backup each stops the run before any action, with the check
//! that failed; a good one is restored by a person, checked, approved, and written to again.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use blackstart::journal::{Entry, Record, RunOutcome};
use support::cli::{
    actions, blackstart, read_journal, run_in, spawn_run, starts, status_times, text, wait_bounded,
    wait_for_journal, RUN_LIMIT,
};
use support::lab::Lab;

/// Runs `sqlite3 FILE SQL` (bounded) and returns what it printed.
fn sqlite(file: &Path, sql: &str) -> String {
    let output = support::cli::output_bounded(Command::new("sqlite3").arg(file).arg(sql));
    assert!(
        output.status.success(),
        "sqlite3 {}: {}",
        file.display(),
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A backup of the statistics: a real database of `calls` rows, a few dozen KB.
fn write_backup(file: &Path, calls: u32) {
    let _ = std::fs::remove_file(file);
    sqlite(
        file,
        &format!(
            "CREATE TABLE calls(id INTEGER PRIMARY KEY, agent TEXT, seconds INT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {calls}) \
             INSERT INTO calls(agent, seconds) SELECT 'agent' || (i % 40), i % 600 FROM n;"
        ),
    );
}

/// A small filesystem of its own for the statistics disk, so the test can fill it; unmounted
/// when dropped. Needs root (the lab's sshd runs as root already).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let output = support::cli::output_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(at),
        );
        assert!(
            output.status.success(),
            "the full-disk case needs a small real filesystem (mount -t tmpfs, as root): {}",
            text(&output)
        );
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = support::cli::output_bounded(Command::new("umount").arg("-l").arg(&self.0));
    }
}

/// The shipped topology and playbook, pointed at the lab: its two hosts, its key and
/// password file, the statistics disk and backup directory under the lab's directory, and a
/// `systemctl` that starts the lab's services (the collector first writes one call, as the
/// real one would, so the test sees it wrote to the restored database).
fn shipped_restore(lab: &Lab, stats: &Path, backups: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let q = |path: &Path| serde_json::to_string(&path.to_string_lossy()).unwrap();
    let topology = std::fs::read_to_string(root.join("topologies/call-centre-stats.yaml"))
        .unwrap()
        .replace("10.30.1.10", &lab.hosts[0].address)
        .replace("10.30.1.20", &lab.hosts[1].address)
        .replace("10.130.1.10", &lab.hosts[0].bmc_address)
        .replace("10.130.1.20", &lab.hosts[1].bmc_address)
        .replace("~/.ssh/id_ed25519", &q(&lab.client_key))
        .replace("~/.ssh/known_hosts", &q(&lab.known_hosts))
        .replace(
            "password_env: BMC_PASSWORD",
            &format!("password_file: {}", q(&lab.password_file)),
        )
        .replace("/var/lib/stats", &stats.to_string_lossy());
    let topology_path = lab.dir.join("call-centre-stats.yaml");
    std::fs::write(&topology_path, topology).unwrap();
    let playbook = std::fs::read_to_string(root.join("playbooks/call-centre-restore.yaml"))
        .unwrap()
        .replace(
            "../topologies/call-centre-stats.yaml",
            &topology_path.to_string_lossy(),
        )
        .replace("/var/lib/stats", &stats.to_string_lossy())
        .replace("/srv/backups/stats", &backups.to_string_lossy());
    let playbook_path = lab.dir.join("call-centre-restore.yaml");
    std::fs::write(&playbook_path, playbook).unwrap();
    lab.install_program(
        "systemctl",
        &format!(
            "#!/bin/bash\nset -e\n[ \"$1\" = start ] || exit 1\ncase \"$2\" in\n  \
             stats-collector) sqlite3 {db} \"INSERT INTO calls(agent, seconds) VALUES ('collector', 1)\"\n    \
             exec {collector} ;;\n  stats-reports) exec {reports} ;;\n  *) exit 1 ;;\nesac\n",
            db = q(&stats.join("stats.db")),
            collector = lab.service_command(7301, 0.1, ""),
            reports = lab.service_command(7302, 0.1, ""),
        ),
    );
    playbook_path
}

/// The preflight checks a run journaled, with whether each passed.
fn preflight(records: &[Record]) -> Vec<(String, bool)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Preflight { check, result, .. } => Some((check.clone(), result.is_ok())),
            _ => None,
        })
        .collect()
}

/// Runs the playbook into `run_dir` and asserts it stopped at its preflight on `failing`,
/// before any action, the output naming the check.
fn assert_stopped_by(playbook: &Path, run_dir: &Path, failing: &[&str]) -> String {
    let output = run_in(playbook, run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    for check in failing {
        assert!(shown.contains(&format!("FAILED {check}")), "{shown}");
    }
    let records = read_journal(run_dir);
    let failed: Vec<String> = preflight(&records)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(check, _)| check)
        .collect();
    assert_eq!(failed, failing, "{shown}");
    assert!(
        actions(&records).is_empty(),
        "{failing:?}: no action of any kind"
    );
    assert!(matches!(
        &records.last().unwrap().entry,
        Entry::RunFinished {
            outcome: RunOutcome::PreflightFailed
        }
    ));
    shown
}

#[test]
fn a_full_disk_or_an_empty_stale_or_corrupt_backup_stops_the_restore_before_any_action() {
    let lab = Lab::start_with("cc", (101, 2), 2, &[0, 1]);
    let stats = lab.dir.join("stats01-var-lib-stats");
    let backups = lab.dir.join("backup01-backups");
    std::fs::create_dir_all(&backups).unwrap();
    let _disk = SmallDisk::mount(&stats, "4m");
    let playbook = shipped_restore(&lab, &stats, &backups);
    let latest = backups.join("latest.db");
    write_backup(&latest, 2_000);
    let calls_in_backup: u32 = sqlite(&latest, "SELECT count(*) FROM calls")
        .parse()
        .unwrap();
    // The broken database the reboot left behind.
    std::fs::write(
        stats.join("stats.db"),
        b"SQLite format 3\0 then nothing sensible",
    )
    .unwrap();

    // The disk full of error logs from failed backups.
    let logs = stats.join("backup-errors.log");
    std::fs::write(&logs, vec![b'E'; 3_600 * 1024]).unwrap();
    assert_stopped_by(
        &playbook,
        &lab.dir.join("run-full"),
        &["stats-disk-has-room"],
    );
    std::fs::remove_file(&logs).unwrap();

    // An empty newest backup.
    std::fs::write(&latest, b"").unwrap();
    assert_stopped_by(
        &playbook,
        &lab.dir.join("run-empty"),
        &[
            "newest-backup-is-recent-and-not-empty",
            "newest-backup-restores",
        ],
    );

    // A real backup, three days old.
    write_backup(&latest, 2_000);
    let three_days_ago = SystemTime::now() - Duration::from_secs(3 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&latest)
        .unwrap()
        .set_modified(three_days_ago)
        .unwrap();
    assert_stopped_by(
        &playbook,
        &lab.dir.join("run-stale"),
        &["newest-backup-is-recent-and-not-empty"],
    );

    // A fresh backup of the right size whose pages are garbage: only a restore shows it.
    write_backup(&latest, 2_000);
    let mut bytes = std::fs::read(&latest).unwrap();
    assert!(
        bytes.len() > 16 * 1024,
        "the backup is big enough to pass the size check"
    );
    for byte in &mut bytes[4096..12_288] {
        *byte = 0xA5;
    }
    std::fs::write(&latest, &bytes).unwrap();
    let shown = assert_stopped_by(
        &playbook,
        &lab.dir.join("run-corrupt"),
        &["newest-backup-restores"],
    );
    assert!(
        shown.contains("the restored copy fails its integrity check"),
        "the reason, in the check's own words: {shown}"
    );
    assert!(
        std::fs::read(stats.join("stats.db"))
            .unwrap()
            .starts_with(b"SQLite format 3\0 then"),
        "nothing touched the server's database"
    );

    // A good backup: the person restores it, the database step checks it, the gate holds
    // the collector until approved, and the collector then writes to the restored data.
    write_backup(&latest, 2_000);
    let run_dir = lab.dir.join("run");
    let child = spawn_run(&playbook, &run_dir);
    let waiting = wait_for_journal(&run_dir, RUN_LIMIT, |records| {
        status_times(records, "active").contains_key("restore-from-last-verified-backup")
    });
    assert!(waiting, "the restore is presented to a person");
    assert!(
        starts(&read_journal(&run_dir)).is_empty(),
        "nothing starts before the restore"
    );
    std::fs::copy(&latest, stats.join("stats.db")).unwrap();
    let run = run_dir.to_str().unwrap();
    let ack = |step: &str| {
        let output = blackstart(&["ack", run, step, "--by", "oncall"]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    };
    ack("restore-from-last-verified-backup");
    let gated = wait_for_journal(&run_dir, RUN_LIMIT, |records| {
        status_times(records, "active").contains_key("approve-collector-writes")
    });
    assert!(gated, "the gate is presented once the database is checked");
    let records = read_journal(&run_dir);
    assert!(
        support::cli::ready_times(&records).contains_key("stats-db"),
        "the restored database passed its integrity check"
    );
    assert!(starts(&records).is_empty(), "the gate holds the collector");
    ack("approve-collector-writes");
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let started: Vec<String> = starts(&read_journal(&run_dir))
        .into_iter()
        .map(|(label, _)| label)
        .collect();
    assert_eq!(
        started.len(),
        2,
        "collector and reports, once each: {started:?}"
    );
    let calls: u32 = sqlite(&stats.join("stats.db"), "SELECT count(*) FROM calls")
        .parse()
        .unwrap();
    assert_eq!(
        calls,
        calls_in_backup + 1,
        "the collector wrote to the restored database"
    );
    assert_eq!(
        preflight(&read_journal(&run_dir)),
        vec![
            ("stats-disk-has-room".to_string(), true),
            ("newest-backup-is-recent-and-not-empty".to_string(), true),
            ("newest-backup-restores".to_string(), true),
        ]
    );
}
