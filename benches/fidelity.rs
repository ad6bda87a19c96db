//! Fidelity of the drill's predictions against real cold starts (a lab bench, not in CI).
//!
//! `cargo bench --bench fidelity` starts a 24-host lab on loopback (one sshd and one
//! ipmi_sim BMC per host; needs `bash tests/install-lab-packages.sh` and root), five
//! levels of subsystems whose services open their port 0.5–2 s after start, then: predicts
//! with the drill's defaults, runs the real cold start five times, calibrates a model from
//! the first two journals, predicts again, and compares both predictions with the other
//! three runs. Goal: simulated p50 within ±10 % of the real median, every real run inside
//! the simulated p10–p90. Writes target/bench-fidelity.json.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use blackstart::drill::{monte_carlo_with_costs, Calibration, Drill, Model, Percentiles};
use blackstart::load::load_file;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use blackstart::topology::Topology;
use serde_json::json;
use support::lab::Lab;
use support::lab_fleet::{cold_start, load_average, write_topology, HOSTS};

const RUNS: usize = 5;
const CALIBRATE_FROM: usize = 2;
const SIMULATIONS: usize = 300;

fn predict(topology: &Topology, model: &Model) -> Percentiles {
    let mut topology = topology.clone();
    model.apply(&mut topology);
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    let drill = Drill::new(&topology, &plan, model.config());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    monte_carlo_with_costs(&drill, SIMULATIONS, 0, 1, threads, &|| {}).makespan
}

fn secs(value: Option<Duration>) -> f64 {
    value.map_or(f64::NAN, |d| d.as_secs_f64())
}

/// (p50 within ±10 % of the real median, every real run inside p10–p90, p50 error).
fn verdict(band: &Percentiles, real: &[f64]) -> (bool, bool, f64) {
    let mut sorted = real.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let error = secs(band.p50) / median - 1.0;
    let inside = real
        .iter()
        .all(|r| (secs(band.p10)..=secs(band.p90)).contains(r));
    (error.abs() <= 0.10, inside, error)
}

fn main() {
    println!("load average at start: {}", load_average());
    let lab = Lab::start("fid", (97, 40), HOSTS);
    let file = write_topology(&lab);
    let topology = load_file(&file).unwrap_or_else(|e| panic!("{e}")).topology;
    let before = predict(&topology, &Model::default());
    let mut real = Vec::new();
    let mut lab_speed = Vec::new();
    for run in 0..RUNS {
        let (dir, measured) = cold_start(&lab, &file, &topology, run);
        println!("  real cold start {}: {}", run + 1, measured.line());
        real.push((dir, measured.makespan.as_secs_f64()));
        lab_speed.push(measured.json());
    }
    let mut samples = Calibration::default();
    for (dir, _) in &real[..CALIBRATE_FROM] {
        samples.add_run(dir, "role").unwrap();
    }
    let model = samples.fit(&Model::default());
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fidelity-model.yaml"),
        model.to_yaml(),
    )
    .unwrap();
    let after = predict(&topology, &model);
    // The same calibration with its shared factors switched off: what independent
    // per-node noise alone gives, for comparison.
    let without_run_factor = predict(
        &topology,
        &Model {
            run_spread: 0.0,
            step_spread: 0.0,
            latencies: blackstart::drill::ModelLatencies {
                run_spread: 0.0,
                ..model.latencies.clone()
            },
            ..model.clone()
        },
    );
    let held_out: Vec<f64> = real[CALIBRATE_FROM..].iter().map(|(_, m)| *m).collect();
    let row = |name: &str, band: &Percentiles| {
        let (p50_ok, inside, error) = verdict(band, &held_out);
        println!(
            "  {name}: p10 {:.2}s p50 {:.2}s p90 {:.2}s; p50 vs real median {:+.1}% ({}), real runs inside p10-p90: {}",
            secs(band.p10),
            secs(band.p50),
            secs(band.p90),
            error * 100.0,
            if p50_ok { "within 10%" } else { "OUTSIDE 10%" },
            if inside { "all" } else { "NOT all" }
        );
        json!({"p10_s": secs(band.p10), "p50_s": secs(band.p50), "p90_s": secs(band.p90),
               "p50_error": error, "p50_within_10pct": p50_ok, "all_inside_band": inside})
    };
    println!(
        "fidelity bench: {HOSTS} lab hosts with ipmi_sim BMCs, 8 subsystems on 6 levels; {RUNS} real cold starts, calibrated from {CALIBRATE_FROM}, {SIMULATIONS} simulations each"
    );
    println!("  held-out real makespans: {held_out:.2?}");
    println!(
        "  fitted: spread {} per node, step_spread {} per step and run, run_spread {} per run, latencies.run_spread {} per kind of BMC call and run (load average {})",
        model.spread,
        model.step_spread,
        model.run_spread,
        model.latencies.run_spread,
        load_average()
    );
    let report = json!({
        "hosts": HOSTS,
        "real_makespans_s": real.iter().map(|(_, m)| *m).collect::<Vec<_>>(),
        "held_out_s": held_out,
        "runs_against_bound": lab_speed,
        "before_calibration": row("before calibration (defaults)", &before),
        "after_calibration_without_run_factor": row(
            "after calibration, node noise only",
            &without_run_factor
        ),
        "after_calibration": row("after calibration (2 runs)", &after),
        "fitted_spread": model.spread,
        "fitted_run_spread": model.run_spread,
        "fitted_step_spread": model.step_spread,
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fidelity.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("  written to {}", out.display());
}
