//! A bounded slice of the fuzz harness (`benches/fuzz/`), run by every `cargo test`: mutated
//! shipped topologies and playbooks through load, validate and plan in-process. None may
//! panic, overrun its deadline, allocate more than 512 MB or let a planted secret out.
//! The long run is `cargo run --release --example fuzz -- --inputs 1000000`.

#[path = "../benches/fuzz/alloc.rs"]
mod alloc;
#[path = "../benches/fuzz/engine.rs"]
#[allow(dead_code)]
mod engine;
#[path = "../benches/fuzz/mutate.rs"]
#[allow(dead_code)]
mod mutate;

use std::path::Path;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// The seeds every run of the slice tries, the same ones every day and on every machine: a
/// failure here is a change in the code, never in the inputs. `BLACKSTART_FUZZ_SEED=N` tries
/// seed N instead, to explore (the long run of `--example fuzz` covers far more).
const SEEDS: [u64; 2] = [1, 2];
const SEED_VAR: &str = "BLACKSTART_FUZZ_SEED";
/// Inputs per seed: every one of them runs, on any machine. An accepted mutation of the
/// 5,733-host reference topology takes about half a second to load and plan in every format
/// in a debug build; both seeds' 400 inputs took 14 s on two busy cores (load 1.7).
const INPUTS_PER_SEED: u64 = 200;
/// Only a runaway harness comes near this; it is no time box (every input must run).
const TIME_LIMIT: Duration = Duration::from_secs(600);
/// A debug build is about five times slower than the release build the 2 s deadline is set
/// for.
const DEBUG_SLOWDOWN: u32 = if cfg!(debug_assertions) { 5 } else { 1 };

/// The fixed seeds, or the one named by [`SEED_VAR`].
fn seeds() -> Vec<u64> {
    match std::env::var(SEED_VAR) {
        Ok(seed) => vec![seed
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={seed:?} is not a number"))],
        Err(_) => SEEDS.to_vec(),
    }
}

#[test]
fn a_slice_of_fuzzed_inputs_never_panics_hangs_bloats_or_leaks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bases = mutate::bases(root);
    assert!(bases.len() >= 5, "shipped files: {}", bases.len());
    for seed in seeds() {
        fuzz_one_seed(&bases, seed, &root.join("target/fuzz-failures"));
    }
}

/// Runs all [`INPUTS_PER_SEED`] inputs of `seed`; any failure names the seed and its input.
fn fuzz_one_seed(bases: &[mutate::Base], seed: u64, out: &Path) {
    let began = Instant::now();
    let summary = engine::run(
        bases,
        &engine::Session {
            seed,
            start: 0,
            count: INPUTS_PER_SEED,
            time_limit: TIME_LIMIT,
            deadline: engine::DEADLINE * DEBUG_SLOWDOWN,
            out_dir: out,
        },
        |_| {},
    );
    let failures: Vec<String> = summary
        .failures
        .iter()
        .map(|(index, failure, file)| format!("input {index}: {failure:?} -> {}", file.display()))
        .collect();
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The slice did all its work (a loaded machine takes longer, never tests less), some
    // inputs were accepted and planned, and the allocator counted.
    assert_eq!(
        summary.inputs,
        INPUTS_PER_SEED,
        "seed {seed}: only {} inputs in {:?}",
        summary.inputs,
        began.elapsed()
    );
    assert!(summary.accepted > 0, "seed {seed}: no input was accepted");
    assert!(summary.peak_bytes > 0, "the counting allocator saw nothing");
    assert!(
        summary.peak_bytes < engine::MEMORY_LIMIT,
        "seed {seed}: peak {}",
        summary.peak_bytes
    );
}

/// Inputs the fuzzer wrote out when they failed, kept in `tests/fuzz-regressions/` exactly
/// as tried (`playbook-*` or `topology-*`): none may panic or let its planted secret out.
#[test]
fn inputs_written_out_by_the_fuzzer_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fuzz-regressions"))
        .expect("tests/fuzz-regressions")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let playbook = name.starts_with("playbook-");
        // Placed among the shipped files, so a playbook finds its topology as it did.
        let base = mutate::Base {
            path: root
                .join(if playbook { "playbooks" } else { "topologies" })
                .join(&name),
            text: String::new(),
            playbook,
        };
        let result = std::panic::catch_unwind(|| engine::exercise(&base, &text));
        let (_, outputs) = result.unwrap_or_else(|_| panic!("{name} panicked"));
        if mutate::secret_is_planted(&text) {
            for (kind, output) in &outputs {
                assert!(
                    !output.contains(mutate::MARKER),
                    "{name}: secret in {kind}:\n{output}"
                );
            }
        }
    }
}

/// Inputs the fuzzer once failed on, kept as regressions.
#[test]
fn inputs_found_by_the_fuzzer_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bases = mutate::bases(root);
    let topology = bases.iter().find(|b| !b.playbook).expect("a topology");
    // Multi-byte characters right before a key broke the secret redaction (a panic).
    for text in [
        "name: x\nsubsystems:\n  - name\u{fffd}: a\n",
        "s\u{feff}cope:\n",
        "version: 1\nname: t\nsubsystems:\n  - { ma\u{202e}x_parallel: 3, name: a }\n",
    ] {
        let (accepted, outputs) = engine::exercise(topology, text);
        assert!(!accepted, "{text:?}");
        assert!(
            outputs.iter().any(|(kind, _)| *kind == "diagnostics"),
            "{outputs:?}"
        );
    }
}
