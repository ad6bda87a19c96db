//! Drill benchmarks: how good the scheduler's schedule is, and how fast drills run.
//!
//! `cargo bench --bench drill [-- TOPOLOGY]` (default topologies/social-network.yaml).
//! Prints a summary and writes target/bench-drill.json.
//!
//! The Monte Carlo figures time what users run: the built binary's `simulate --runs 1000`
//! with its defaults (default faults and their costs, every core; on the reference it uses
//! the embedded copy), against `simulate --runs 1000 --no-faults` in the same run, with the
//! ratio and the verdict against the 10 s target.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blackstart::drill::{monte_carlo_with_costs, uncap, Drill, DrillConfig, FaultRates};
use blackstart::load::load_file;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use blackstart::topology::Topology;
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;
use support::bound::{lower_bound, lower_bound_of, needed_for_tier};
use support::lab_fleet::load_average;
use support::procs::peak_rss_kb;

/// The reference topology: the default, and run from the binary's embedded copy.
const REFERENCE: &str = "topologies/social-network.yaml";

fn plan_of(topology: &Topology) -> Plan {
    let selection = Scope::default().select(topology).unwrap();
    Plan::build(topology, &selection).unwrap()
}

/// One `blackstart simulate --runs 1000` of the built binary, as a user runs it.
struct CliRun {
    wall: Duration,
    /// User and system time of the process.
    cpu_secs: f64,
    /// The largest peak resident set of the children this process waited for so far, this
    /// run included (ru_maxrss of RUSAGE_CHILDREN), in MB.
    children_peak_mb: f64,
    stdout: String,
}

fn children_usage() -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    }
}

fn cpu_of(usage: &libc::rusage) -> f64 {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs the binary's `simulate --runs 1000` with `extra` flags on `file` (the embedded
/// reference when `file` is the reference itself: what a user without a file runs).
fn simulate_cli(file: &Path, extra: &[&str]) -> CliRun {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_blackstart"));
    command.arg("simulate");
    if file != Path::new(REFERENCE) {
        command.arg(file);
    }
    command.args(["--runs", "1000"]).args(extra);
    let before = children_usage();
    let began = Instant::now();
    let output = command
        .stderr(std::process::Stdio::null())
        .output()
        .expect("the built blackstart binary runs");
    let wall = began.elapsed();
    let after = children_usage();
    assert!(output.status.success(), "simulate failed: {command:?}");
    CliRun {
        wall,
        cpu_secs: cpu_of(&after) - cpu_of(&before),
        // ru_maxrss is in kilobytes on Linux.
        children_peak_mb: after.ru_maxrss as f64 / 1024.0,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    let file = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(REFERENCE));
    let topology = load_file(&file)
        .unwrap_or_else(|err| panic!("{err}"))
        .topology;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);

    // Baselines, so the other numbers read as ratios.
    let plan_build = median(
        (0..20)
            .map(|_| {
                let began = Instant::now();
                std::hint::black_box(plan_of(&topology));
                began.elapsed()
            })
            .collect(),
    );
    let plan = plan_of(&topology);
    let exact = Drill::new(&topology, &plan, DrillConfig::exact());
    let one_run = median(
        (0..10)
            .map(|seed| {
                let began = Instant::now();
                std::hint::black_box(exact.run(seed));
                began.elapsed()
            })
            .collect(),
    );

    // Scheduler quality: the caps of the topology, no faults, exact times.
    let (bound, by_work) = lower_bound(&topology, &plan);
    let clean = exact.run(1);
    let clean_ratio = clean.makespan.as_secs_f64() / bound.as_secs_f64();
    // The same run when everything, not S1 first, is to come back soonest.
    let mut flat_topology = topology.clone();
    flat_topology.policy.priority = blackstart::topology::Priority::CriticalPath;
    let flat = Drill::new(&flat_topology, &plan, DrillConfig::exact()).run(1);
    let flat_ratio = flat.makespan.as_secs_f64() / bound.as_secs_f64();
    let s1 = |outcome: &blackstart::drill::Outcome| {
        outcome
            .tiers
            .first()
            .and_then(|(_, up)| *up)
            .map_or(f64::NAN, |up| up.as_secs_f64())
    };
    let (s1_tier_first, s1_flat) = (s1(&clean), s1(&flat));
    let (s1_bound, _) = lower_bound_of(&topology, &plan, &needed_for_tier(&topology, &plan, 1));
    let s1_ratio = s1_tier_first / s1_bound.as_secs_f64();
    // The same without caps must match the plan's arithmetic exactly.
    let mut uncapped_topology = topology.clone();
    uncap(&mut uncapped_topology);
    let uncapped_plan = plan_of(&uncapped_topology);
    let uncapped = Drill::new(&uncapped_topology, &uncapped_plan, DrillConfig::exact()).run(1);
    let uncapped_ratio = uncapped.makespan.as_secs_f64() / uncapped_plan.eta.as_secs_f64();
    // With the default faults and spread: mean over a few runs.
    let faulty = Drill::new(&topology, &plan, DrillConfig::default());
    let samples: Vec<_> = (0..20).map(|seed| faulty.run(seed)).collect();
    let recovered: Vec<f64> = samples
        .iter()
        .filter(|run| run.succeeded)
        .map(|run| run.makespan.as_secs_f64())
        .collect();
    let faulty_ratio =
        recovered.iter().sum::<f64>() / recovered.len().max(1) as f64 / bound.as_secs_f64();

    // Monte Carlo, as users meet it: the built binary's `simulate --runs 1000` on this
    // topology, with every default (the default faults and their costs, every core), beside
    // the same command with `--no-faults` (1,000 drills, no costs) as this run's baseline.
    // Other processes take cores from these runs: say how busy the machine was.
    let load_before = Some(load_average()).filter(|load| !load.is_empty());
    let fault_free = simulate_cli(&file, &["--no-faults"]);
    let defaults = simulate_cli(&file, &[]);
    let cost_lines: Vec<&str> = defaults
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("What faults cost"))
        .take_while(|line| !line.is_empty())
        .collect();
    // Narrower: the series alone, in this process (no process start, no topology load,
    // no costs): 1,000 fault-free drills with spread.
    let spread_only = Drill::new(
        &topology,
        &plan,
        DrillConfig {
            faults: FaultRates::NONE,
            ..DrillConfig::default()
        },
    );
    let began = Instant::now();
    let series = monte_carlo_with_costs(&spread_only, 1000, 0, 1, threads, &|| {});
    let thousand = began.elapsed();
    // This process's peak: the series alone (and the figures before it), not what users run.
    let series_memory = peak_rss_kb(std::process::id() as i32).map(|kb| kb as f64 / 1024.0);
    // What users run: the largest `simulate --runs 1000` process, the defaults run last.
    let memory = defaults.children_peak_mb;

    let secs = |d: Duration| d.as_secs_f64();
    let report = json!({
        "topology": file.display().to_string(),
        "subsystems": topology.subsystems.len(),
        "hosts": topology.hosts.len(),
        "nodes": plan.node_count(),
        "parallelism": topology.policy.parallelism,
        "threads": threads,
        "baseline": {
            "plan_build_secs": secs(plan_build),
            "one_run_secs": secs(one_run),
        },
        "quality": {
            "plan_eta_secs": secs(plan.eta),
            "work_over_parallelism_secs": secs(by_work),
            "lower_bound_secs": secs(bound),
            "critical_path_priority_makespan_secs": secs(flat.makespan),
            "critical_path_priority_ratio": flat_ratio,
            "s1_up_secs_tier_priority": s1_tier_first,
            "s1_lower_bound_secs": secs(s1_bound),
            "s1_ratio_tier_priority": s1_ratio,
            "s1_up_secs_critical_path_priority": s1_flat,
            "no_faults_makespan_secs": secs(clean.makespan),
            "no_faults_ratio": clean_ratio,
            "no_faults_target": 1.01,
            "uncapped_ratio_to_eta": uncapped_ratio,
            "with_faults_mean_ratio": faulty_ratio,
            "with_faults_recovered": recovered.len(),
            "with_faults_runs": samples.len(),
        },
        "monte_carlo": {
            "simulate_runs_1000_wall_secs": secs(defaults.wall),
            "simulate_runs_1000_cpu_secs": defaults.cpu_secs,
            "simulate_runs_1000_cpu_over_threads_secs": defaults.cpu_secs / threads as f64,
            "load_average_before": load_before,
            "simulate_runs_1000_target_secs": 10.0,
            "simulate_runs_1000_no_faults_wall_secs": secs(fault_free.wall),
            "simulate_runs_1000_no_faults_cpu_secs": fault_free.cpu_secs,
            "defaults_over_no_faults": secs(defaults.wall) / secs(fault_free.wall),
            "fault_cost_lines": cost_lines,
            "series_only_1000_fault_free_wall_secs": secs(thousand),
            "series_only_runs_per_plan_build": secs(thousand) / secs(plan_build),
            "makespan_p50_secs": series.makespan.p50.map(secs),
            "makespan_p99_secs": series.makespan.p99.map(secs),
            "peak_memory_mb": memory,
            "peak_memory_target_mb": 200.0,
            "series_only_peak_memory_mb": series_memory,
        },
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-drill.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();

    println!(
        "drill bench on {} ({} subsystems, {} hosts, {} nodes, parallelism {}, {} threads)",
        file.display(),
        topology.subsystems.len(),
        topology.hosts.len(),
        plan.node_count(),
        topology.policy.parallelism,
        threads
    );
    println!(
        "  baseline: Plan::build {:.2} ms, one exact drill {:.2} ms ({:.1}x a plan)",
        secs(plan_build) * 1e3,
        secs(one_run) * 1e3,
        secs(one_run) / secs(plan_build)
    );
    println!(
        "  quality, no faults, tier priority (default), whole fleet: makespan {:.0}s / lower bound {:.0}s (ETA {:.0}s, work/parallelism {:.0}s) = {:.4}",
        secs(clean.makespan),
        secs(bound),
        secs(plan.eta),
        secs(by_work),
        clean_ratio
    );
    println!(
        "  quality, no faults, critical-path priority: makespan {:.0}s / lower bound = {flat_ratio:.4} (target <= 1.01); S1 up at {s1_flat:.0}s (tier priority: S1 up at {s1_tier_first:.0}s)",
        secs(flat.makespan)
    );
    println!(
        "  quality, no faults, tier priority, S1: up at {s1_tier_first:.0}s / S1 lower bound {:.0}s = {s1_ratio:.4}",
        secs(s1_bound)
    );
    println!("  quality, no caps: makespan / plan ETA = {uncapped_ratio:.4} (must be 1)");
    println!(
        "  quality, default faults and spread: mean makespan / lower bound = {faulty_ratio:.4} ({} of {} recovered)",
        recovered.len(),
        samples.len()
    );
    println!(
        "  simulate --runs 1000 --no-faults (baseline: 1000 drills, no costs): {:.2}s wall, {:.2}s CPU",
        secs(fault_free.wall),
        fault_free.cpu_secs
    );
    let verdict = if secs(defaults.wall) < 10.0 {
        "meets"
    } else {
        "MISSES"
    };
    println!(
        "  simulate --runs 1000 (as users run it: default faults and their costs, {threads} threads): {:.2}s wall, {:.2}s CPU = {:.2}x the baseline; {verdict} the < 10s target (CPU / threads {:.2}s ≈ the wall on {threads} idle cores; load average before: {})",
        secs(defaults.wall),
        defaults.cpu_secs,
        secs(defaults.wall) / secs(fault_free.wall),
        defaults.cpu_secs / threads as f64,
        load_before.as_deref().unwrap_or("unknown")
    );
    for line in &cost_lines {
        println!("    {line}");
    }
    println!(
        "  series only, in process (1000 fault-free drills; no process start, topology load or costs): {:.2}s ({:.0} plan builds' worth), p50 {:.0}s p99 {:.0}s",
        secs(thousand),
        secs(thousand) / secs(plan_build),
        series.makespan.p50.map_or(f64::NAN, secs),
        series.makespan.p99.map_or(f64::NAN, secs)
    );
    println!(
        "  peak memory of simulate --runs 1000 (largest ru_maxrss of its processes): {memory:.1} MB ({} the < 200 MB target)",
        if memory < 200.0 { "meets" } else { "MISSES" }
    );
    match series_memory {
        Some(mb) => println!("  series only, in process: peak memory (VmHWM) {mb:.1} MB"),
        None => println!("  series only, in process: peak memory unavailable"),
    }
    println!("  written to {}", out.display());
}
