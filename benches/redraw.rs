//! What a live reader costs at the reference's size (5,700 hosts): `status` and the live
//! status page of a run directory holding a whole drill of the reference, as a journal.
//!
//! - `blackstart status DIR` as people run it (its defaults), against `blackstart plan`
//!   of the same topology in the same run (loading and planning, which `status` must do
//!   too): wall time (median of 5) and the process's own peak resident set.
//! - The live page while the run grows: the journal is appended in 40 slices and the page
//!   redrawn after each, as `serve` does. Incremental (what `serve` and `status --watch`
//!   do: apply only the appended records to one followed view, then draw) against the
//!   whole-journal baseline (read and replay everything, then draw). Also the share of the
//!   redraw that is the HTML drawing itself.
//!
//! Results go to `target/bench-redraw.json`. Run with `cargo bench --bench redraw`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blackstart::drill::{simulate, DrillConfig};
use blackstart::journal::{self, Record, RunInfo};
use blackstart::load::load_file;
use blackstart::night::{scheduler_for, Prepared};
use blackstart::plan::Plan;
use blackstart::playbook::Procedures;
use blackstart::report::html::{render_run, RunPage};
use blackstart::report::view::FollowedRun;
use blackstart::scope::Scope;

const REFERENCE: &str = "topologies/social-network.yaml";
const SLICES: usize = 40;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Runs the built binary with `args`; its wall time and its own peak resident set (MB).
// wait4 reaps the child (and gives its own usage, which `Child::wait` cannot).
#[allow(clippy::zombie_processes)]
fn timed_cli(args: &[&str]) -> (Duration, f64) {
    let began = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_blackstart"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the built blackstart binary runs");
    let mut status = 0;
    // SAFETY: wait4 only writes the status and the usage it is given, for our own child.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(child.id() as i32, &mut status, 0, &mut usage);
        usage
    };
    let wall = began.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) <= 1,
        "blackstart {args:?} failed"
    );
    // ru_maxrss is in kilobytes on Linux.
    (wall, usage.ru_maxrss as f64 / 1024.0)
}

fn page(prepared: &Prepared, nodes: &[(usize, usize)], records: &[Record]) -> String {
    render_run(&RunPage {
        topology: &prepared.topology,
        plan: &prepared.plan,
        nodes,
        records,
        source: "live run (bench)",
        refresh_secs: Some(5),
        banner: &[],
        extra: "",
    })
}

fn append(dir: &Path, records: &[Record]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(journal::JOURNAL_FILE))
        .unwrap();
    for record in records {
        serde_json::to_writer(&mut file, record).unwrap();
        file.write_all(b"\n").unwrap();
    }
}

fn main() {
    let file = std::fs::canonicalize(REFERENCE).expect("run from the repository root");
    let topology = load_file(&file).unwrap_or_else(|e| panic!("{e}")).topology;
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    let hosts = topology.hosts.len();
    let config = DrillConfig {
        timeline: true,
        ..DrillConfig::default()
    };
    let records = simulate(&topology, &plan, config, 1).timeline;
    let prepared = Prepared {
        topology: Arc::new(topology),
        plan: Arc::new(plan),
        info: RunInfo {
            topology: file.clone(),
            plan_digest: "bench".into(),
            scope: Scope::default(),
            seed: 1,
            simulated: false,
        },
        procedures: Procedures::default(),
    };
    let work = tempfile::tempdir().unwrap();
    let full_dir = work.path().join("full");
    std::fs::create_dir_all(&full_dir).unwrap();
    journal::write_info(&full_dir, &prepared.info).unwrap();
    append(&full_dir, &records);
    let journal_bytes = std::fs::metadata(full_dir.join(journal::JOURNAL_FILE))
        .unwrap()
        .len();

    // `status` as people run it, and `plan` of the same file as the baseline.
    let dir_arg = full_dir.to_str().unwrap();
    let file_arg = file.to_str().unwrap();
    let runs = |args: &[&str]| {
        let samples: Vec<(Duration, f64)> = (0..5).map(|_| timed_cli(args)).collect();
        let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
        (median(samples.into_iter().map(|s| s.0).collect()), peak)
    };
    let (plan_wall, plan_mb) = runs(&["plan", file_arg]);
    let (status_wall, status_mb) = runs(&["status", dir_arg]);

    // The live page while the journal grows.
    let live_dir = work.path().join("live");
    std::fs::create_dir_all(&live_dir).unwrap();
    journal::write_info(&live_dir, &prepared.info).unwrap();
    let mut followed = FollowedRun::new(&live_dir, scheduler_for(&prepared, &[]), &prepared.plan);
    let slice = records.len().div_ceil(SLICES);
    let (mut incremental, mut whole, mut drawing) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in records.chunks(slice) {
        append(&live_dir, chunk);
        let began = Instant::now();
        followed.refresh().unwrap();
        let view = followed.view();
        let drawn_from = Instant::now();
        std::hint::black_box(page(&prepared, &view.node_map(), view.records()));
        drawing.push(drawn_from.elapsed());
        incremental.push(began.elapsed());

        let began = Instant::now();
        let all = journal::read(&live_dir).unwrap();
        let scheduler = scheduler_for(&prepared, &all);
        let nodes: Vec<(usize, usize)> =
            scheduler.nodes().iter().map(|n| (n.step, n.host)).collect();
        std::hint::black_box(page(&prepared, &nodes, &all));
        whole.push(began.elapsed());
    }
    let (incremental, whole, drawing) = (median(incremental), median(whole), median(drawing));
    let page_bytes = {
        let view = followed.view();
        page(&prepared, &view.node_map(), view.records()).len()
    };

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "redraw bench: the reference ({hosts} hosts), one drill journal of {} records, {} KiB",
        records.len(),
        journal_bytes / 1024
    );
    println!(
        "  status:  {:.0} ms, peak {:.0} MB  | baseline plan: {:.0} ms, peak {:.0} MB  | status/plan {:.2}x",
        ms(status_wall),
        status_mb,
        ms(plan_wall),
        plan_mb,
        status_wall.as_secs_f64() / plan_wall.as_secs_f64()
    );
    println!(
        "  live page redraw ({SLICES} slices, median): incremental {:.0} ms (drawing {:.0} ms) | whole journal {:.0} ms | incremental/whole {:.2}x; page {} KiB",
        ms(incremental),
        ms(drawing),
        ms(whole),
        incremental.as_secs_f64() / whole.as_secs_f64(),
        page_bytes / 1024
    );
    let json = serde_json::json!({
        "hosts": hosts,
        "records": records.len(),
        "journal_bytes": journal_bytes,
        "status_ms": ms(status_wall),
        "status_peak_mb": status_mb,
        "plan_ms": ms(plan_wall),
        "plan_peak_mb": plan_mb,
        "status_over_plan": status_wall.as_secs_f64() / plan_wall.as_secs_f64(),
        "redraw_incremental_ms": ms(incremental),
        "redraw_drawing_ms": ms(drawing),
        "redraw_whole_ms": ms(whole),
        "incremental_over_whole": incremental.as_secs_f64() / whole.as_secs_f64(),
        "page_bytes": page_bytes,
    });
    let out = PathBuf::from("target/bench-redraw.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("  written to {}", out.display());
}
