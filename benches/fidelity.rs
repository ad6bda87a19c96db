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

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackstart::drill::{monte_carlo_with_costs, Calibration, Drill, Model, Percentiles};
use blackstart::event::state::StepStatus;
use blackstart::journal::Entry;
use blackstart::load::load_file;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use blackstart::topology::Topology;
use serde_json::json;
use support::cli::{read_journal, run_in, text};
use support::lab::{Lab, LabSecret};

const HOSTS: usize = 24;
const RUNS: usize = 5;
const CALIBRATE_FROM: usize = 2;
const SIMULATIONS: usize = 300;

/// Five levels: dns and config, the database (3 of 4, two at a time), queue and cache,
/// the application, the web tier, the edge.
fn subsystems(lab: &Lab) -> String {
    let hosts = |range: std::ops::RangeInclusive<usize>| {
        range
            .map(|i| format!("\"{}\"", lab.hosts[i - 1].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut yaml = String::from("subsystems:\n");
    let mut add = |name: &str, port: u16, on, delay: f64, requires: &str, extra: &str| {
        yaml += &format!(
            "  - name: {name}\n    hosts: [{}]\n    requires: [{requires}]\n    start: {}\n    \
             health: {{ tcp: {port} }}\n    expect: {delay}s\n{extra}",
            hosts(on),
            serde_json::to_string(&lab.service_command(port, delay, "")).unwrap()
        );
    };
    add("dns", 7101, 1..=2, 0.5, "", "    tier: S1\n");
    add("config", 7102, 3..=5, 1.0, "", "    min_healthy: 2\n");
    add(
        "db",
        7103,
        6..=9,
        2.0,
        "dns, config",
        "    min_healthy: 3\n    max_parallel: 2\n",
    );
    add("queue", 7104, 10..=12, 0.8, "config", "");
    add("cache", 7105, 13..=15, 1.2, "db", "    min_healthy: 2\n");
    add(
        "app",
        7106,
        16..=19,
        1.5,
        "db, queue",
        "    wants: [cache]\n",
    );
    add("web", 7107, 20..=23, 1.0, "app", "    tier: S1\n");
    add("edge", 7108, 24..=24, 0.5, "web", "    tier: S1\n");
    yaml
}

fn write_topology(lab: &Lab) -> PathBuf {
    let mut yaml = lab.topology_yaml(LabSecret::File, &subsystems(lab));
    yaml = yaml.replacen(
        "policy:\n",
        "policy:\n  bmc_timeout: 3s\n  bmc_attempts: 1\n",
        1,
    );
    yaml = yaml.replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    yaml = yaml.replacen(
        "hosts:\n",
        "  subsystem:\n    health_policy: { interval: 500ms, timeout: 1s, successes: 1 }\n    \
         retry: { attempts: 3, backoff: 500ms, max_backoff: 2s }\n    start_timeout: 10s\n    \
         ready_timeout: 15s\nhosts:\n",
        1,
    );
    let path = lab.dir.join("topology.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// From the first action to the last step ready, as the drill measures a makespan.
fn makespan(run_dir: &Path) -> f64 {
    let records = read_journal(run_dir);
    let first = records
        .iter()
        .find(|r| matches!(r.entry, Entry::Action { .. }))
        .map_or(0, |r| r.t_ms);
    let last = records
        .iter()
        .filter(|r| {
            matches!(
                r.entry,
                Entry::StepStatus {
                    status: StepStatus::Ready,
                    ..
                }
            )
        })
        .map(|r| r.t_ms)
        .max()
        .expect("steps became ready");
    (last - first) as f64 / 1000.0
}

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
    let lab = Lab::start("fid", (97, 40), HOSTS);
    let file = write_topology(&lab);
    let topology = load_file(&file).unwrap_or_else(|e| panic!("{e}")).topology;
    let before = predict(&topology, &Model::default());
    let mut real = Vec::new();
    for run in 0..RUNS {
        for host in 0..HOSTS {
            lab.power_off(host);
        }
        let dir = lab.dir.join(format!("run-{run}"));
        let output = run_in(&file, &dir);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        real.push((dir.clone(), makespan(&dir)));
        println!("  real cold start {}: {:.2}s", run + 1, real[run].1);
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
    let report = json!({
        "hosts": HOSTS,
        "real_makespans_s": real.iter().map(|(_, m)| *m).collect::<Vec<_>>(),
        "held_out_s": held_out,
        "before_calibration": row("before calibration (defaults)", &before),
        "after_calibration": row("after calibration (2 runs)", &after),
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fidelity.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("  written to {}", out.display());
}
