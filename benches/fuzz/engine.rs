//! The fuzz engine shared by `benches/fuzz/fuzz.rs` (as long as wanted) and
//! `tests/fuzz_slice.rs` (a bounded slice in CI).
//!
//! A structure-aware mutator over the shipped topologies and playbooks: lines deleted,
//! duplicated and swapped; characters corrupted; nesting deepened; numbers and durations made
//! extreme; unicode, NUL and byte-order marks inserted; ranges made huge; alias bombs added;
//! inline secrets planted. Each input goes through load, validate and plan (every format) in
//! this process, on a worker thread with a deadline. The input is deterministic in (seed,
//! index), so any failure can be replayed with `--seed S --start INDEX --inputs 1`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blackstart::plan::{render_dot, render_json, render_mermaid, render_text, Plan, TextOptions};
use blackstart::playbook;
use blackstart::topology;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Planted as an inline secret; it must never come out.
pub const MARKER: &str = "FzSecret9q7";
/// One input may take this long.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// One input may allocate this much at its peak.
pub const MEMORY_LIMIT: usize = 512 << 20;

/// Live and peak heap bytes, kept by the binary's counting allocator (zero without one).
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Peak of [`LIVE`] since the last reset.
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

/// One shipped file to mutate.
#[derive(Clone)]
pub struct Base {
    /// Where it lives; playbooks find their topology relative to it.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// A playbook rather than a topology.
    pub playbook: bool,
}

/// Every shipped topology and playbook under `root`.
pub fn bases(root: &Path) -> Vec<Base> {
    let mut bases = Vec::new();
    for (dir, playbook) in [("topologies", false), ("playbooks", true)] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("shipped directory")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("shipped file");
            bases.push(Base {
                path,
                text,
                playbook,
            });
        }
    }
    bases
}

/// Why an input failed.
#[derive(Debug)]
pub enum Failure {
    /// It panicked, with this message.
    Panic(String),
    /// It was still running at the deadline.
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
    /// Slowest input.
    pub slowest: Duration,
}

/// Builds input `index` of `seed`: one base, one to four mutations.
pub fn input(bases: &[Base], seed: u64, index: u64) -> (usize, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let base = rng.random_range(0..bases.len());
    let mut lines: Vec<String> = bases[base].text.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..=4) {
        mutate(&mut lines, &mut rng);
    }
    // A secret is planted last, so no later mutation moves it out of its key.
    if rng.random_bool(0.25) {
        plant_secret(&mut lines, &mut rng);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if rng.random_bool(0.03) {
        text.insert(0, '\u{feff}');
    }
    (base, text)
}

const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "1e308",
    ".nan",
    ".inf",
    "-.inf",
];
const DURATIONS: [&str; 9] = [
    "0s",
    "1ns",
    "30d",
    "31d",
    "999999h",
    "18446744073709551615s",
    "292471208678y",
    "-5s",
    "1h 1h 1h 1h",
];
const CHARS: [&str; 24] = [
    "[", "]", "{", "}", ":", ",", "\"", "'", "&", "*", "!", "%", "@", "-", "|", ">", "#", "\t",
    "\r", "\0", "\u{202e}", "\u{200b}", "é", "🔥",
];
const RANGES: [&str; 5] = [
    "[1:1000000]",
    "[1:100000]",
    "[1:1000][1:1000][1:100]",
    "[0:18446744073709551615]",
    "[1:99999]",
];

fn mutate(lines: &mut Vec<String>, rng: &mut ChaCha8Rng) {
    if lines.is_empty() {
        lines.push(String::new());
    }
    let at = rng.random_range(0..lines.len());
    match rng.random_range(0..13) {
        0 => {
            lines.remove(at);
        }
        1 => {
            let copy = lines[at].clone();
            lines.insert(at, copy);
        }
        2 => {
            let other = rng.random_range(0..lines.len());
            lines.swap(at, other);
        }
        3 => {
            let c = CHARS[rng.random_range(0..CHARS.len())];
            let position = char_boundary(&lines[at], rng);
            if rng.random_bool(0.5) && position < lines[at].len() {
                let next = lines[at][position..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8);
                lines[at].replace_range(position..position + next, c);
            } else {
                lines[at].insert_str(position, c);
            }
        }
        4 => deepen(&mut lines[at], rng),
        5 => replace_token(&mut lines[at], rng, |t| t.parse::<f64>().is_ok(), &NUMBERS),
        6 => replace_token(&mut lines[at], rng, is_duration, &DURATIONS),
        7 => {
            // A range made huge, or one added to a name.
            let line = &mut lines[at];
            let range = RANGES[rng.random_range(0..RANGES.len())];
            match (line.find('['), line.find(']')) {
                (Some(open), Some(close)) if open < close => {
                    line.replace_range(open..=close, range)
                }
                _ => {
                    if let Some(quote) = line.rfind('"') {
                        line.insert_str(quote, range);
                    }
                }
            }
        }
        8 => alias_bomb(lines, rng),
        9 => {
            // A long line of repeated structure.
            let count = rng.random_range(1..2000);
            let piece = ["a: b, ", "- ", "x", "[1], "][rng.random_range(0..4)];
            lines[at].push_str(&piece.repeat(count));
        }
        10 => {
            // Indentation shifted: a block moves under another key.
            let shift = rng.random_range(1..8);
            if rng.random_bool(0.5) {
                lines[at].insert_str(0, &" ".repeat(shift));
            } else {
                let cut = lines[at].len() - lines[at].trim_start().len();
                lines[at].replace_range(..cut.min(shift), "");
            }
        }
        11 => {
            // A line from the other end of the file, or a known key with a hostile value.
            let keys = [
                "name",
                "address",
                "password_env",
                "min_healthy",
                "tier",
                "status",
            ];
            let key = keys[rng.random_range(0..keys.len())];
            let value = [
                "\"\"",
                "\"a\\nb\"",
                "\"x@bootstrap\"",
                "0",
                "\"-1.2.3.4\"",
                "\"a;b\"",
            ][rng.random_range(0..6)];
            let indent = lines[at].len() - lines[at].trim_start().len();
            lines.insert(at, format!("{}{key}: {value}", " ".repeat(indent)));
        }
        _ => {
            let c = ["\0", "\u{feff}", "\u{202e}", "\u{fffd}", "ǅ", "\u{10ffff}"]
                [rng.random_range(0..6)];
            let position = char_boundary(&lines[at], rng);
            lines[at].insert_str(position, c);
        }
    }
}

fn char_boundary(line: &str, rng: &mut ChaCha8Rng) -> usize {
    let mut position = rng.random_range(0..=line.len());
    while !line.is_char_boundary(position) {
        position -= 1;
    }
    position
}

fn is_duration(token: &str) -> bool {
    token.len() > 1
        && token.ends_with(['s', 'm', 'h', 'd'])
        && token[..token.len() - 1].chars().all(|c| c.is_ascii_digit())
}

/// Replaces one token of `line` that `wanted` accepts with one of `choices`.
fn replace_token(
    line: &mut String,
    rng: &mut ChaCha8Rng,
    wanted: impl Fn(&str) -> bool,
    choices: &[&str],
) {
    // Runs of letters, digits and dots, by byte range (a separator may be multi-byte).
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (at, c) in line.char_indices().chain([(line.len(), ' ')]) {
        let inside = c.is_alphanumeric() || c == '.';
        match (inside, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                if wanted(&line[from..at]) {
                    tokens.push((from, at));
                }
                start = None;
            }
            _ => {}
        }
    }
    if tokens.is_empty() {
        return;
    }
    let (start, end) = tokens[rng.random_range(0..tokens.len())];
    line.replace_range(start..end, choices[rng.random_range(0..choices.len())]);
}

/// Wraps the value of a `key: value` line in many levels of flow collections.
fn deepen(line: &mut String, rng: &mut ChaCha8Rng) {
    let depth = [2, 10, 63, 65, 200, 5000, 50_000][rng.random_range(0..7)];
    let Some(colon) = line.find(": ") else {
        line.insert_str(0, &"- ".repeat(depth.min(5000)));
        return;
    };
    let (open, close) = if rng.random_bool(0.5) {
        ("[", "]")
    } else {
        ("{a: ", "}")
    };
    let value = line[colon + 2..].to_string();
    let closing = if rng.random_bool(0.8) {
        close.repeat(depth)
    } else {
        String::new()
    };
    line.replace_range(
        colon + 2..,
        &format!("{}{value}{closing}", open.repeat(depth)),
    );
}

/// Adds a billion-laughs chain of anchors and aliases, used somewhere in the file.
fn alias_bomb(lines: &mut Vec<String>, rng: &mut ChaCha8Rng) {
    let levels = rng.random_range(2..10);
    let mut bomb = vec!["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]".to_string()];
    for level in 1..levels {
        let previous = format!("*x{}", level - 1);
        bomb.push(format!(
            "x{level}: &x{level} [{}]",
            vec![previous; 9].join(", ")
        ));
    }
    let at = rng.random_range(0..=lines.len());
    for (offset, line) in bomb.into_iter().enumerate() {
        lines.insert((at + offset).min(lines.len()), line);
    }
    let target = rng.random_range(0..lines.len());
    if let Some(colon) = lines[target].find(": ") {
        let alias = format!("*x{}", levels - 1);
        lines[target].replace_range(colon + 2.., &alias);
    }
}

/// Settings blocks written as flow mappings: a secret planted in one is refused (inline
/// password, misspelt field), and any finding that quotes the line must redact it.
const SECRET_HOMES: [&str; 8] = [
    "bmc",
    "ssh",
    "health",
    "retry",
    "health_policy",
    "progress",
    "http",
    "power_on",
];

fn plant_secret(lines: &mut [String], rng: &mut ChaCha8Rng) {
    let homes: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let line = lines[i].trim_start().trim_start_matches("- ");
            SECRET_HOMES
                .iter()
                .any(|home| line.starts_with(&format!("{home}: {{")))
        })
        .collect();
    if homes.is_empty() {
        return;
    }
    let at = homes[rng.random_range(0..homes.len())];
    let key = [
        "password",
        "passwd",
        "pass",
        "secret",
        "token",
        "password_env",
    ][rng.random_range(0..6)];
    let value = match key {
        // Pasted where a variable name belongs: not a name, so refused, and never echoed.
        "password_env" => format!("\"{MARKER}!x\""),
        _ if rng.random_bool(0.3) => format!("\"{MARKER}, }}\""),
        _ => MARKER.to_string(),
    };
    let open = lines[at].find(": {").expect("home") + 3;
    lines[at].insert_str(open, &format!(" {key}: {value},"));
}

/// True when every occurrence of the marker in `text` sits as the value of a secret key, so
/// that seeing it in any output is a leak (a mutation may have moved it elsewhere).
pub fn secret_is_planted(text: &str) -> bool {
    text.contains(MARKER)
        && text
            .lines()
            .filter(|line| line.contains(MARKER))
            .all(|line| {
                line.split(MARKER).count() == 2
                    && [
                        "password: ",
                        "passwd: ",
                        "pass: ",
                        "secret: ",
                        "token: ",
                        "password_env: ",
                    ]
                    .iter()
                    .any(|key| {
                        line.contains(&format!("{key}{MARKER}"))
                            || line.contains(&format!("{key}\"{MARKER}"))
                    })
                    && line
                        .trim_start()
                        .trim_start_matches("- ")
                        .split(": {")
                        .count()
                        == 2
            })
}

/// Loads, validates and plans `text` in every format, returning every output.
pub fn exercise(base: &Base, text: &str) -> (bool, Vec<(&'static str, String)>) {
    let mut outputs = Vec::new();
    let loaded = if base.playbook {
        playbook::load_playbook(text, &base.path)
    } else {
        topology::load_str(text, &base.path).map(|loaded| playbook::LoadedPlaybook {
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
            let text = playbook::render_text(topology, &loaded.procedures)
                + &render_text(topology, &plan, TextOptions { every_node: false });
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
type Done = Result<(bool, Option<&'static str>), String>;

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
                        (accepted, leaked)
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
        let failure = match worker.done.recv_timeout(deadline) {
            Ok(Ok((accepted, leaked))) => {
                summary.accepted += u64::from(accepted);
                leaked.map(Failure::Secret)
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
        let elapsed = started.elapsed();
        summary.slowest = summary.slowest.max(elapsed);
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
