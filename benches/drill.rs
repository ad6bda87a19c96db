//! Drill benchmarks: how good the scheduler's schedule is, and how fast drills run.
//!
//! `cargo bench --bench drill [-- TOPOLOGY]` (default topologies/social-network.yaml).
//! Prints a summary and writes target/bench-drill.json.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blackstart::drill::{
    monte_carlo, monte_carlo_with_costs, uncap, Drill, DrillConfig, FaultRates,
};
use blackstart::load::load_file;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use blackstart::topology::Topology;
use serde_json::json;

#[path = "../tests/support/bound.rs"]
mod bound;
use bound::{lower_bound, lower_bound_of, needed_for_tier};

fn plan_of(topology: &Topology) -> Plan {
    let selection = Scope::default().select(topology).unwrap();
    Plan::build(topology, &selection).unwrap()
}

fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
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
        .unwrap_or_else(|| PathBuf::from("topologies/social-network.yaml"));
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

    // Monte Carlo: 1,000 cold starts with spread and no faults (exactly 1,000 runs), then
    // what `simulate --runs 1000` does with its defaults (the default faults, 1,000 runs,
    // plus the first COST_RUNS again per fault kind for the costs), then the old way of
    // costing faults (all 1,000 runs again per fault kind) as the baseline of this run.
    let spread_only = Drill::new(
        &topology,
        &plan,
        DrillConfig {
            faults: FaultRates::NONE,
            ..DrillConfig::default()
        },
    );
    let began = Instant::now();
    let series = monte_carlo(&spread_only, 1000, 1, threads);
    let thousand = began.elapsed();
    let began = Instant::now();
    let full = monte_carlo(&faulty, 1000, 1, threads);
    let full_time = began.elapsed();
    let full_runs = 1000 + full.cost_runs * full.fault_costs.len();
    let began = Instant::now();
    let every = monte_carlo_with_costs(&faulty, 1000, 1000, 1, threads, &|| {});
    let every_time = began.elapsed();
    let every_runs = 1000 * (1 + every.fault_costs.len());
    let memory = peak_memory_mb();

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
            "runs": 1000,
            "wall_secs": secs(thousand),
            "wall_target_secs": 10.0,
            "runs_per_plan_build": secs(thousand) / secs(plan_build),
            "makespan_p50_secs": series.makespan.p50.map(secs),
            "makespan_p99_secs": series.makespan.p99.map(secs),
            "with_faults_runs": full_runs,
            "with_faults_wall_secs": secs(full_time),
            "with_faults_stall_probability": full.stall_probability,
            "with_faults_over_fault_free": secs(full_time) / secs(thousand),
            "costs_from_every_run_runs": every_runs,
            "costs_from_every_run_wall_secs": secs(every_time),
            "speedup_over_costs_from_every_run": secs(every_time) / secs(full_time),
            "fault_costs": full.fault_costs,
            "fault_costs_from_every_run": every.fault_costs,
            "peak_memory_mb": memory,
            "peak_memory_target_mb": 200.0,
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
        "  monte carlo: 1000 cold starts in {:.2}s (target < 10s; {:.0} plan builds' worth), p50 {:.0}s p99 {:.0}s",
        secs(thousand),
        secs(thousand) / secs(plan_build),
        series.makespan.p50.map_or(f64::NAN, secs),
        series.makespan.p99.map_or(f64::NAN, secs)
    );
    println!(
        "  simulate --runs 1000 (default faults and their costs): {} runs in {:.2}s = {:.2}x the fault-free 1000 (target < 10s), stalls {:.1}%",
        full_runs,
        secs(full_time),
        secs(full_time) / secs(thousand),
        full.stall_probability * 100.0
    );
    println!(
        "  baseline, costs from every run (before): {} runs in {:.2}s = {:.2}x the fault-free 1000; now {:.2}x faster",
        every_runs,
        secs(every_time),
        secs(every_time) / secs(thousand),
        secs(every_time) / secs(full_time)
    );
    for now in &full.fault_costs {
        let Some(before) = every.fault_costs.iter().find(|c| c.fault == now.fault) else {
            continue;
        };
        println!(
            "    {:<14} cost {:+.1}s ±{:.1} from {} pairs; {:+.1}s ±{:.1} from {}",
            now.fault.name(),
            now.cost_secs.unwrap_or(f64::NAN),
            now.cost_stderr_secs.unwrap_or(f64::NAN),
            now.paired_runs,
            before.cost_secs.unwrap_or(f64::NAN),
            before.cost_stderr_secs.unwrap_or(f64::NAN),
            before.paired_runs
        );
    }
    match memory {
        Some(mb) => println!("  peak memory (VmHWM): {mb:.1} MB (target < 200 MB)"),
        None => println!("  peak memory: /proc/self/status unavailable"),
    }
    println!("  written to {}", out.display());
}
