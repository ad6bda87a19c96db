//! Planner speed and memory on a synthetic fleet far larger than the 2013 incident's:
//! 10,000 subsystems (one host each, so 10,000 steps and nodes) with 50,000 hard
//! dependencies, acyclic because every edge runs from a lower to a higher index.
//!
//! Timed, each as the median of several runs: loading (YAML parse, validation, cycle check),
//! `Plan::build`, and, as a same-run baseline, petgraph's bare toposort of the same edge list.
//! Memory: the peak of live heap bytes during each phase (a counting allocator), and the
//! process's peak resident set (VmHWM from /proc/self/status).
//! Results go to `target/bench-plan.json`. Run with `cargo bench --bench plan`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use blackstart::load;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use petgraph::graph::DiGraph;

// Only its VmHWM reader is used here.
#[allow(dead_code)]
#[path = "../tests/support/procs.rs"]
mod procs;
use procs::peak_rss_kb;

const STEPS: usize = 10_000;
const EDGES: usize = 50_000;
const ITERATIONS: usize = 7;
/// Targets from the brief: the planner must stay interactive on any real fleet.
const PLAN_TARGET: Duration = Duration::from_millis(100);
const MEMORY_TARGET_KB: u64 = 50 * 1024;

/// Counts live heap bytes and their peak, so each phase's own memory is measured exactly,
/// whatever the allocator keeps resident from earlier phases.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc(layout);
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(pointer, layout, new_size);
        if !moved.is_null() {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` once and returns the peak of heap bytes it added above what was live before.
fn heap_peak<T>(work: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let value = work();
    (PEAK.load(Ordering::Relaxed) - before, value)
}

/// A small deterministic generator (xorshift64*), so every run plans the same graph.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % bound
    }
}

/// `EDGES` distinct pairs (dependency, dependent) with dependency < dependent.
fn edges() -> Vec<(usize, usize)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen = HashSet::with_capacity(EDGES);
    let mut list = Vec::with_capacity(EDGES);
    while list.len() < EDGES {
        let dependent = 1 + rng.below(STEPS - 1);
        // Mostly near neighbours (long chains, a deep critical path), some far jumps.
        let span = if rng.below(4) == 0 {
            dependent
        } else {
            dependent.min(50)
        };
        let dependency = dependent - 1 - rng.below(span);
        if seen.insert((dependency, dependent)) {
            list.push((dependency, dependent));
        }
    }
    list
}

fn topology_yaml(edges: &[(usize, usize)]) -> String {
    let mut requires: Vec<Vec<usize>> = vec![Vec::new(); STEPS];
    for &(dependency, dependent) in edges {
        requires[dependent].push(dependency);
    }
    let mut text = String::with_capacity(STEPS * 120);
    text.push_str("version: 1\nname: bench\ndefaults:\n  subsystem:\n    expect: 30s\n");
    let _ = writeln!(
        text,
        "hosts:\n  - name: \"n[0:{}]\"\n    address: \"10.[0:{}].[0:99]\"\n    boot: 1m",
        STEPS - 1,
        STEPS / 100 - 1
    );
    text.push_str("subsystems:\n");
    for (index, needs) in requires.iter().enumerate() {
        let _ = writeln!(text, "  - name: s{index}\n    hosts: [n{index}]");
        if !needs.is_empty() {
            let names: Vec<String> = needs.iter().map(|n| format!("s{n}")).collect();
            let _ = writeln!(text, "    requires: [{}]", names.join(", "));
        }
        let _ = writeln!(
            text,
            "    start: systemctl start s{index}\n    health: {{ tcp: {} }}\n    expect: {}s",
            8000 + index % 1000,
            5 + index % 50
        );
    }
    text
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut samples = Vec::with_capacity(ITERATIONS);
    let mut last = None;
    for _ in 0..ITERATIONS {
        let began = Instant::now();
        let value = work();
        samples.push(began.elapsed());
        last = Some(value);
    }
    (median(samples), last.expect("at least one iteration"))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn main() {
    let edges = edges();
    let yaml = topology_yaml(&edges);
    let file = Path::new("bench.yaml");

    let (baseline, order) = time(|| {
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(STEPS, EDGES);
        let nodes: Vec<_> = (0..STEPS).map(|_| graph.add_node(())).collect();
        for &(from, to) in &edges {
            graph.add_edge(nodes[from], nodes[to], ());
        }
        petgraph::algo::toposort(&graph, None).expect("acyclic")
    });
    assert_eq!(order.len(), STEPS);

    let (load, _) = time(|| load::load_str(&yaml, file).expect("bench topology valid"));
    let (load_heap, loaded) =
        heap_peak(|| load::load_str(&yaml, file).expect("bench topology valid"));
    let topology = loaded.topology;
    assert_eq!(topology.subsystems.len(), STEPS);

    let selection = Scope::default()
        .select(&topology)
        .expect("everything in scope");
    let (plan_time, _) = time(|| Plan::build(&topology, &selection).expect("acyclic"));
    let (plan_heap, plan) = heap_peak(|| Plan::build(&topology, &selection).expect("acyclic"));
    assert_eq!(plan.steps.len(), STEPS);
    assert_eq!(plan.node_count(), STEPS);
    let edge_count: usize = plan.steps.iter().map(|step| step.requires.len()).sum();
    assert_eq!(edge_count, EDGES);
    // This process's peak resident set so far, in KiB.
    let resident_peak = peak_rss_kb(std::process::id() as i32).unwrap_or(0);

    let plan_ratio = plan_time.as_secs_f64() / baseline.as_secs_f64();
    let load_ratio = load.as_secs_f64() / baseline.as_secs_f64();
    let plan_heap_kb = (plan_heap / 1024) as u64;
    let load_heap_kb = (load_heap / 1024) as u64;
    let met = plan_time <= PLAN_TARGET && plan_heap_kb <= MEMORY_TARGET_KB;
    let document = serde_json::json!({
        "steps": STEPS,
        "edges": EDGES,
        "iterations": ITERATIONS,
        "yaml_bytes": yaml.len(),
        "median_ms": {
            "baseline_toposort": ms(baseline),
            "load_validate": ms(load),
            "plan_build": ms(plan_time),
        },
        "ratio_to_baseline": { "plan_build": plan_ratio, "load_validate": load_ratio },
        "memory_kb": {
            "plan_build_heap_peak": plan_heap_kb,
            "load_validate_heap_peak": load_heap_kb,
            "process_peak_rss_vmhwm": resident_peak,
        },
        "plan": {
            "eta_s": plan.eta.as_secs_f64(),
            "critical_path_steps": plan.critical_path.len(),
            "waves": plan.wave_count,
        },
        "targets": {
            "plan_ms": ms(PLAN_TARGET),
            "plan_memory_kb": MEMORY_TARGET_KB,
            "met": met,
        },
    });
    let path = target_dir().join("bench-plan.json");
    let _ = std::fs::create_dir_all(target_dir());
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&document).unwrap() + "\n",
    ) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(err) => eprintln!("cannot write {}: {err}", path.display()),
    }
    println!("plan bench: {STEPS} steps, {EDGES} hard edges, median of {ITERATIONS} runs");
    println!("  baseline toposort  {:>9.2} ms", ms(baseline));
    println!(
        "  Plan::build        {:>9.2} ms  {plan_ratio:>6.1}x baseline  heap peak {:>6} KiB",
        ms(plan_time),
        plan_heap_kb
    );
    println!(
        "  load + validate    {:>9.2} ms  {load_ratio:>6.1}x baseline  heap peak {:>6} KiB  ({} KiB of YAML)",
        ms(load),
        load_heap_kb,
        yaml.len() / 1024
    );
    println!("  process peak RSS (VmHWM) {resident_peak} KiB");
    println!(
        "  plan: {} waves, critical path {} steps, ETA {}",
        plan.wave_count,
        plan.critical_path.len(),
        blackstart::plan::human(plan.eta)
    );
    println!(
        "  target (Plan::build < {} ms and < {} MiB): {}",
        ms(PLAN_TARGET),
        MEMORY_TARGET_KB / 1024,
        if met { "met" } else { "MISSED" }
    );
}
