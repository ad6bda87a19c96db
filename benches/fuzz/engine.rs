//! The fuzz engine shared by `benches/fuzz/fuzz.rs` (as long as wanted) and
//! `tests/fuzz_slice.rs` (a bounded slice in CI).
//!
//! A structure-aware mutator over the shipped topologies and playbooks: lines deleted,
//! duplicated and swapped; characters corrupted; nesting deepened; numbers and durations made
//! extreme; unicode, NUL and byte-order marks inserted; ranges made huge; alias bombs added;
//! inline secrets planted. Each input goes through load, validate and plan (every format) in
//! this process, on a worker thread with a deadline on its CPU time. The input is deterministic in (seed,
//! index), so any failure can be replayed with `--seed S --start INDEX --inputs 1`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::mutate::{input, secret_is_planted, Base, MARKER};
use blackstart::load;
use blackstart::plan::{render_dot, render_json, render_mermaid, render_text, Plan, TextOptions};
use blackstart::playbook;

/// One input may take this long.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// One input may allocate this much at its peak.
pub const MEMORY_LIMIT: usize = 512 << 20;

/// Live and peak heap bytes, kept by the binary's counting allocator (zero without one).
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Peak of [`LIVE`] since the last reset.
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Why an input failed.
#[derive(Debug)]
pub enum Failure {
    /// It panicked, with this message.
    Panic(String),
    /// It used more than the deadline in CPU time (shown).
    Slow(Duration),
    /// It was still running long after the deadline, in wall-clock time: a hang.
    Timeout,
    /// Its peak allocation, in bytes, passed the limit.
    Memory(usize),
    /// The planted secret came out in this output.
    Secret(&'static str),
}

/// The figures of a fuzzing session.
#[derive(Debug, Default)]
pub struct Summary {
    /// Inputs tried.
    pub inputs: u64,
    /// Inputs that loaded (and were planned).
    pub accepted: u64,
    /// Failures, with the file each input was written to.
    pub failures: Vec<(u64, Failure, PathBuf)>,
    /// Highest peak allocation of one input, in bytes.
    pub peak_bytes: usize,
    /// Slowest input, in CPU time of the worker thread.
    pub slowest: Duration,
    /// Slowest input, in wall-clock time (includes waiting for a busy machine).
    pub slowest_wall: Duration,
}

/// Loads, validates and plans `text` in every format, returning every output.
pub fn exercise(base: &Base, text: &str) -> (bool, Vec<(&'static str, String)>) {
    let mut outputs = Vec::new();
    let loaded = if base.playbook {
        playbook::load_playbook(text, &base.path)
    } else {
        load::load_str(text, &base.path).map(|loaded| playbook::LoadedPlaybook {
            topology: loaded.topology,
            scope: Default::default(),
            procedures: Default::default(),
            warnings: vec![loaded.warnings],
        })
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            outputs.push(("diagnostics", diagnostics.to_string()));
            return (false, outputs);
        }
    };
    for warnings in &loaded.warnings {
        outputs.push(("warnings", warnings.to_string()));
    }
    let topology = &loaded.topology;
    let selection = match loaded.scope.select(topology) {
        Ok(selection) => selection,
        Err(err) => {
            outputs.push(("scope", err.to_string()));
            return (true, outputs);
        }
    };
    match Plan::build(topology, &selection) {
        Ok(plan) => {
            // Both shapes of the text plan: the folded review and every node in full.
            let options = |every_node| TextOptions {
                every_node,
                colour: false,
                digest: Some("0".repeat(16)),
                power_off_hosts: Some(plan.hosts().len()),
            };
            let text = playbook::render_text(topology, &loaded.procedures, false)
                + &render_text(topology, &plan, &options(false))
                + &render_text(topology, &plan, &options(true));
            outputs.push(("text", text));
            outputs.push(("json", render_json(topology, &plan)));
            outputs.push(("dot", render_dot(topology, &plan)));
            outputs.push(("mermaid", render_mermaid(topology, &plan)));
        }
        Err(cycles) => outputs.push(("cycles", format!("{}", cycles.len()))),
    }
    (true, outputs)
}

type Job = (usize, String);
type Done = Result<(bool, Option<&'static str>, Duration), String>;

/// A worker thread that exercises inputs one at a time; replaced when one overruns.
struct Worker {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Done>,
}

impl Worker {
    fn start(bases: Vec<Base>) -> Worker {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        std::thread::Builder::new()
            .name("fuzz-worker".into())
            .stack_size(8 << 20)
            .spawn(move || {
                for (base, text) in job_rx {
                    let began = thread_cpu_time();
                    let result = std::panic::catch_unwind(|| {
                        let (accepted, outputs) = exercise(&bases[base], &text);
                        let leaked = secret_is_planted(&text)
                            .then(|| {
                                outputs
                                    .iter()
                                    .find(|(_, output)| output.contains(MARKER))
                                    .map(|(kind, _)| *kind)
                            })
                            .flatten();
                        (accepted, leaked, thread_cpu_time().saturating_sub(began))
                    })
                    .map_err(|payload| {
                        payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "non-text panic".into())
                    });
                    if done_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .expect("worker thread");
        Worker { jobs, done }
    }
}

/// A wall-clock wait this many times the deadline counts as a hang.
const HANG_FACTOR: u32 = 5;

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// How much to try, and the bounds.
pub struct Session<'a> {
    /// Inputs are `start..start + count` of `seed`.
    pub seed: u64,
    /// The first input.
    pub start: u64,
    /// How many inputs.
    pub count: u64,
    /// Stop early after this long.
    pub time_limit: Duration,
    /// One input may take this long ([`DEADLINE`] in a release build).
    pub deadline: Duration,
    /// Where failing inputs are written.
    pub out_dir: &'a Path,
}

/// Runs a session, writing each failing input into its `out_dir`. `progress` is called
/// every thousand inputs.
pub fn run(bases: &[Base], session: &Session<'_>, mut progress: impl FnMut(&Summary)) -> Summary {
    let Session {
        seed,
        start,
        count,
        time_limit,
        deadline,
        out_dir,
    } = *session;
    // Panics are recorded as failures; their default report would only flood the output.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let began = Instant::now();
    let mut summary = Summary::default();
    let mut worker = Worker::start(bases.to_vec());
    let mut abandoned = 0;
    for index in start..start + count {
        if began.elapsed() > time_limit {
            break;
        }
        // A mutator bug is the harness's, not the library's: say so, and go on.
        let Ok((base, text)) = std::panic::catch_unwind(|| input(bases, seed, index)) else {
            // Back to the default hook, so this panic is reported.
            drop(std::panic::take_hook());
            panic!("the mutator itself panicked on input {index} of seed {seed}");
        };
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let baseline = LIVE.load(Ordering::Relaxed);
        let started = Instant::now();
        worker
            .jobs
            .send((base, text.clone()))
            .expect("worker alive");
        // The deadline is on CPU time, which other work on a shared machine cannot inflate;
        // wall time only catches a hang, at several times the deadline.
        let failure = match worker.done.recv_timeout(deadline * HANG_FACTOR) {
            Ok(Ok((accepted, leaked, cpu))) => {
                summary.accepted += u64::from(accepted);
                summary.slowest = summary.slowest.max(cpu);
                leaked
                    .map(Failure::Secret)
                    .or((cpu > deadline).then_some(Failure::Slow(cpu)))
            }
            Ok(Err(message)) => {
                // The worker survives a caught panic, but start afresh all the same.
                Some(Failure::Panic(message))
            }
            Err(_) => {
                // A thread cannot be killed: leave it behind, and stop if many pile up.
                abandoned += 1;
                worker = Worker::start(bases.to_vec());
                Some(Failure::Timeout)
            }
        };
        summary.slowest_wall = summary.slowest_wall.max(started.elapsed());
        let used = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        summary.peak_bytes = summary.peak_bytes.max(used);
        let failure = failure.or((used > MEMORY_LIMIT).then_some(Failure::Memory(used)));
        summary.inputs += 1;
        if let Some(failure) = failure {
            let _ = std::fs::create_dir_all(out_dir);
            let kind = if bases[base].playbook {
                "playbook"
            } else {
                "topology"
            };
            let file = out_dir.join(format!("{kind}-seed{seed}-input{index}.yaml"));
            // The input exactly as tried, ready for a regression test; the note beside it.
            let _ = std::fs::write(&file, &text);
            let note = format!(
                "fuzz failure: {failure:?}\nbase: {}\nreplay: --seed {seed} --start {index} --inputs 1\n",
                bases[base].path.display()
            );
            let _ = std::fs::write(file.with_extension("txt"), note);
            summary.failures.push((index, failure, file));
            if abandoned > 3 {
                break;
            }
        }
        if summary.inputs % 1000 == 0 {
            progress(&summary);
        }
    }
    std::panic::set_hook(previous_hook);
    summary
}
