//! How close a real run comes to its bound (a lab bench, not in CI).
//!
//! `cargo bench --bench lab_speed [-- RUNS]` starts the fidelity bench's 24-host lab on
//! loopback (one sshd and one ipmi_sim BMC per host; needs `bash tests/install-lab-packages.sh`
//! and root), runs the real cold start RUNS times (default 3), and prints for each run its
//! makespan, the bound for that run (the plan of the topology with every start taking exactly
//! its service's delay and every host up when it came up in the journal: at its power-on, or
//! at its first SSH answer) and their ratio. Goal: within 1.08x of the bound from power-on. Writes target/bench-lab-speed.json,
//! and each run's journal as target/bench-lab-speed-run-N.jsonl (the lab's directory goes with
//! it), to see where a run lost its time; target/bench-lab-speed-starts.log has the unix time
//! each service process began (to compare with the journal's start actions: launch latency).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;

use blackstart::load::load_file;
use support::lab::Lab;
use support::lab_fleet::{cold_start, load_average, write_topology, HOSTS};

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(3);
    let lab = Lab::start("lsp", (97, 50), HOSTS);
    let file = write_topology(&lab);
    let topology = load_file(&file).unwrap_or_else(|e| panic!("{e}")).topology;
    println!("lab speed bench: {HOSTS} lab hosts with ipmi_sim BMCs, five levels; {runs} real cold starts");
    let mut measured = Vec::new();
    for run in 0..runs {
        let (dir, figures) = cold_start(&lab, &file, &topology, run);
        keep_journal(&dir, run);
        keep_file(&lab.dir.join("run/starts.log"), "starts.log");
        println!(
            "  cold start {}: {} (load average {})",
            run + 1,
            figures.line(),
            load_average()
        );
        measured.push(figures);
    }
    let mut ratios: Vec<f64> = measured.iter().map(|m| m.ratio_powered_on()).collect();
    ratios.sort_by(f64::total_cmp);
    let mut ssh_ratios: Vec<f64> = measured.iter().map(|m| m.ratio_ssh_ready()).collect();
    ssh_ratios.sort_by(f64::total_cmp);
    println!(
        "  median ratio: {:.3} against the bound from power-on, {:.3} from first SSH answer (goal <= 1.08 from power-on)",
        ratios[runs / 2],
        ssh_ratios[runs / 2]
    );
    let report = serde_json::json!({
        "hosts": HOSTS,
        "runs": measured.iter().map(|m| m.json()).collect::<Vec<_>>(),
        "median_ratio_powered_on": ratios[runs / 2],
        "median_ratio_ssh_ready": ssh_ratios[runs / 2],
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-lab-speed.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("  written to {}", out.display());
}

/// Copies run `run`'s journal out of the lab directory, which is removed at the end.
fn keep_journal(dir: &Path, run: usize) {
    let from = dir.join(blackstart::journal::JOURNAL_FILE);
    keep_file(&from, &format!("run-{}.jsonl", run + 1));
}

/// Copies `from` to `target/bench-lab-speed-<name>`.
fn keep_file(from: &Path, name: &str) {
    let to = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-lab-speed-{name}"));
    if let Err(e) = std::fs::copy(from, &to) {
        panic!(
            "lab speed bench: copying {} to {}: {e}",
            from.display(),
            to.display()
        );
    }
}
