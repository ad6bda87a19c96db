//! Driving the `blackstart` binary from tests, always bounded in time, and reading its
//! journal.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use blackstart::event::{Action, Event};
use blackstart::journal::{self, Entry, Record};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_blackstart");
/// No run in the tests may take longer than this.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Runs blackstart to completion (bounded), returning its output.
pub fn blackstart(args: &[&str]) -> Output {
    wait_bounded(spawn(args), RUN_LIMIT)
}

/// Starts blackstart with piped output.
pub fn spawn(args: &[&str]) -> Child {
    spawn_with_env(args, &[])
}

/// Starts blackstart with piped output and `envs` added to its environment.
pub fn spawn_with_env(args: &[&str], envs: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("blackstart binary")
}

/// Waits for `child`, killing it (and failing the test) past `limit`. Output is drained
/// while it runs, so a large plan cannot fill the pipe and stall the child.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    use std::io::Read;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let output = Output {
                status: child.wait().unwrap(),
                stdout: stdout.join().unwrap(),
                stderr: stderr.join().unwrap(),
            };
            panic!("blackstart ran longer than {limit:?}:\n{}", text(&output));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `command` to completion under [`RUN_LIMIT`] (killed and failing the test past it),
/// stdin closed and output captured, as `Command::output` would but never unbounded.
pub fn output_bounded(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    wait_bounded(child, RUN_LIMIT)
}

/// stdout and stderr together.
pub fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The journal of a run directory.
pub fn read_journal(dir: &Path) -> Vec<Record> {
    journal::read(dir).expect("journal readable")
}

/// Milliseconds at which each step first reached `status`.
pub fn status_times(records: &[Record], wanted: &str) -> HashMap<String, u64> {
    let mut times = HashMap::new();
    for record in records {
        if let Entry::StepStatus { step, status } = &record.entry {
            if status.name() == wanted {
                times.entry(step.clone()).or_insert(record.t_ms);
            }
        }
    }
    times
}

/// Milliseconds at which each step became ready.
pub fn ready_times(records: &[Record]) -> HashMap<String, u64> {
    status_times(records, "ready")
}

/// (`step on host`, time) of every Start action.
pub fn starts(records: &[Record]) -> Vec<(String, u64)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Action {
                action: Action::Start { .. },
                ..
            } => Some((r.entry.label(), r.t_ms)),
            _ => None,
        })
        .collect()
}

/// Every action the journal records.
pub fn actions(records: &[Record]) -> Vec<&Action> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Action { action, .. } => Some(action),
            _ => None,
        })
        .collect()
}

/// Polls the journal of `dir` until `done` holds (bounded by `limit`).
pub fn wait_for_journal(
    dir: &Path,
    limit: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
) -> bool {
    let began = Instant::now();
    while began.elapsed() < limit {
        if done(&journal::read(dir).unwrap_or_default()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `blackstart run FILE --run-dir DIR`, to completion (bounded).
pub fn run_in(file: &Path, run_dir: &Path) -> Output {
    wait_bounded(spawn_run(file, run_dir), RUN_LIMIT)
}

/// `blackstart run FILE --run-dir DIR`, started in the background.
pub fn spawn_run(file: &Path, run_dir: &Path) -> Child {
    spawn(&[
        "run",
        file.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
    ])
}

/// Unix seconds of a journal record's wall-clock time.
pub fn wall(record: &Record) -> f64 {
    let at = humantime::parse_rfc3339(record.at.as_deref().unwrap()).unwrap();
    at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// (host, attempt) of every Start of `step`, with its record.
pub fn step_starts<'a>(records: &'a [Record], step: &str) -> Vec<(String, u32, &'a Record)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Action {
                action: Action::Start { attempt, .. },
                step: Some(s),
                host: Some(host),
                ..
            } if s == step => Some((host.clone(), *attempt, r)),
            _ => None,
        })
        .collect()
}

/// (host, result as text) of every finished start of `step`, with its record.
pub fn step_results<'a>(
    records: &'a [Record],
    step: &str,
) -> Vec<(String, Result<(), String>, &'a Record)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::StartFinished { result, .. },
                step: Some(s),
                host: Some(host),
                ..
            } if s == step => Some((
                host.clone(),
                result.clone().map_err(|why| why.to_string()),
                r,
            )),
            _ => None,
        })
        .collect()
}
