//! Fuzzes load, validate and plan with mutated shipped topologies and playbooks, as long as
//! wanted:
//!
//! ```text
//! cargo run --release --example fuzz -- --inputs 1000000 [--seed 1] [--start 0]
//!     [--minutes 600] [--out target/fuzz-failures]
//! ```
//!
//! A panic, an input over 2 s of CPU time (or still running after 10 s: a hang), one allocating more than 512 MB at its peak, or a planted
//! secret in any output fails; each failing input is written to `--out` (with a `.txt` note
//! saying why and how to replay it). Exit code 1 when anything failed.

#[path = "alloc.rs"]
mod alloc;
#[path = "engine.rs"]
#[allow(dead_code)]
mod engine;
#[path = "mutate.rs"]
#[allow(dead_code)]
mod mutate;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

fn main() {
    let mut inputs: u64 = 100_000;
    let mut seed: u64 = 1;
    let mut start: u64 = 0;
    let mut minutes: u64 = 24 * 60;
    let mut out = PathBuf::from("target/fuzz-failures");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let number = |text: String| {
            text.parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: {text:?} is not a number")))
        };
        match flag.as_str() {
            "--inputs" => inputs = number(value()),
            "--seed" => seed = number(value()),
            "--start" => start = number(value()),
            "--minutes" => minutes = number(value()),
            "--out" => out = PathBuf::from(value()),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bases = mutate::bases(root);
    let began = Instant::now();
    println!(
        "fuzzing {inputs} inputs from {} shipped files, seed {seed}, start {start}",
        bases.len()
    );
    let session = engine::Session {
        seed,
        start,
        count: inputs,
        time_limit: Duration::from_secs(minutes * 60),
        deadline: engine::DEADLINE,
        out_dir: &out,
    };
    let summary = engine::run(&bases, &session, |summary| {
        if summary.inputs % 50_000 == 0 {
            let rate = summary.inputs as f64 / began.elapsed().as_secs_f64();
            println!(
                "  {} inputs, {} accepted, {} failures, peak {:.1} MB, slowest {:?}, {rate:.0}/s",
                summary.inputs,
                summary.accepted,
                summary.failures.len(),
                summary.peak_bytes as f64 / 1e6,
                summary.slowest
            );
        }
    });
    let elapsed = began.elapsed();
    let count = |wanted: fn(&engine::Failure) -> bool| {
        summary
            .failures
            .iter()
            .filter(|(_, f, _)| wanted(f))
            .count()
    };
    println!(
        "done: {} inputs in {:.1?} ({:.0}/s), {} accepted",
        summary.inputs,
        elapsed,
        summary.inputs as f64 / elapsed.as_secs_f64(),
        summary.accepted
    );
    println!(
        "panics {}, over 2 s CPU {}, hangs {}, over 512 MB {}, secrets {}; peak per input {:.1} MB; slowest {:?} CPU, {:?} wall",
        count(|f| matches!(f, engine::Failure::Panic(_))),
        count(|f| matches!(f, engine::Failure::Slow(_))),
        count(|f| matches!(f, engine::Failure::Timeout)),
        count(|f| matches!(f, engine::Failure::Memory(_))),
        count(|f| matches!(f, engine::Failure::Secret(_))),
        summary.peak_bytes as f64 / 1e6,
        summary.slowest,
        summary.slowest_wall
    );
    for (index, failure, file) in summary.failures.iter().take(20) {
        println!("  input {index}: {failure:?} -> {}", file.display());
    }
    if !summary.failures.is_empty() {
        std::process::exit(1);
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("error: {problem}");
    eprintln!("usage: fuzz [--inputs N] [--seed S] [--start INDEX] [--minutes M] [--out DIR]");
    std::process::exit(2);
}
