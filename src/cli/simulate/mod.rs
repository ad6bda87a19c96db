//! `simulate`: a drill of the whole recovery against a simulated fleet on a virtual clock.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use blackstart::drill::{
    monte_carlo_with_costs, render_json, render_monte_carlo_json, render_monte_carlo_text,
    render_text, render_timeline, total_runs, ControllerKill, Drill, DrillConfig,
};
use blackstart::graph::cycle_text;
use blackstart::plan::Plan;
use blackstart::report::html::{render_run, render_study, RunPage, Study};

mod shape;

pub(crate) use shape::{shape, Shaped};

use super::load::{load_any, scope_from};
use super::{Outcome, ScopeArgs};
use blackstart::scope::Scope;
use blackstart::topology::Topology;

/// Output formats of `simulate`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimulateFormat {
    /// For people.
    Text,
    /// For machines; byte-identical for the same inputs and seed.
    Json,
}

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Topology or playbook file; the embedded reference topology when omitted.
    pub file: Option<PathBuf>,
    /// Simulated recoveries: 1 prints one run in detail, more print percentiles (Monte Carlo).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Seed: the same seed gives the same drill, line for line.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Spread of boot and start times around their expected values (lognormal shape; 0 =
    /// exactly as expected) [default: the model's, else 0.2].
    #[arg(long, value_parser = non_negative)]
    pub spread: Option<f64>,
    /// The drill's model: boot times per host class, start times per step, latencies,
    /// spread and fault rates (YAML; `blackstart calibrate` writes one from real runs).
    /// Flags given beside it win.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Node actions in flight at once (default: the topology's policy).
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// What goes first when caps bind: `tier` (S1 soonest) or `critical-path` (all soonest).
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Probability that a start attempt fails.
    /// [default: the model's, else 0.01]
    #[arg(long, value_name = "P", value_parser = probability)]
    pub start_failure: Option<f64>,
    /// Probability that a host's disk never comes back after the power cut.
    /// [default: the model's, else 0]
    #[arg(long, value_name = "P", value_parser = probability)]
    pub dead_disk: Option<f64>,
    /// Probability that a host's BMC does not answer.
    /// [default: the model's, else 0]
    #[arg(long, value_name = "P", value_parser = probability)]
    pub dead_bmc: Option<f64>,
    /// Probability that a host's SSH is slow (late after boot, slow per command).
    /// [default: the model's, else 0.01]
    #[arg(long, value_name = "P", value_parser = probability)]
    pub slow_ssh: Option<f64>,
    /// Probability that a node's health check flaps on its first attempt.
    /// [default: the model's, else 0.02]
    #[arg(long, value_name = "P", value_parser = probability)]
    pub flapping: Option<f64>,
    /// No faults at all (not with a fault probability: say one or the other).
    #[arg(long, conflicts_with_all = ["start_failure", "dead_disk", "dead_bmc", "slow_ssh", "flapping"])]
    pub no_faults: bool,
    /// Place a fault on purpose, `KIND=HOST` or `KIND=SUBSYSTEM@HOST` (repeatable), e.g.
    /// `dead-disk=db1.dc1`, `start-failure=app@app1.dc1` (fails every attempt; on a game
    /// day, until someone repairs it and types `blackstart retry DIR app`). A start failure
    /// may strike from a time on (`+40m`) or an event on (`+ready:STEP`, `+started:STEP`).
    #[arg(long, value_name = "FAULT")]
    pub inject: Vec<String>,
    /// With `--runs`: at most N runs repeated per enabled fault kind, with that kind off,
    /// to tell what each fault costs (the first of the series, same seeds; 0 = no fault
    /// costs). Runs are added 50 at a time, from 100 on, until the cost's standard error is
    /// within 10% of the cost or within the mean makespan's own standard error.
    #[arg(long, value_name = "N", default_value_t = blackstart::drill::COST_RUNS)]
    pub cost_runs: usize,
    /// SIGKILL the simulated controller this far into the run, then resume it as `run
    /// --resume` would: rehearses a dying laptop. The summary says which starts in flight
    /// the resume adopted, and counts any service started twice.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub kill_at: Option<Duration>,
    /// With --kill-at: how long the controller stays dead before the resume (the fleet
    /// carries on meanwhile).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration, requires = "kill_at")]
    pub down_for: Duration,
    /// Start from a warm fleet (all on and healthy) instead of a total outage.
    #[arg(long)]
    pub warm: bool,
    /// Write the single run's timeline here, as JSON lines.
    #[arg(long, value_name = "PATH")]
    pub timeline: Option<PathBuf>,
    /// Write an HTML report here: the drill's timeline per subsystem, or, with --runs, the
    /// distribution of recovery times and how often each subsystem is critical.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "text")]
    pub format: SimulateFormat,
    /// Game day: run in (sped-up) real time and write a real run directory here, which
    /// `status`, `serve`, `report`, `retry` and `ack` work on. Manual steps and gates wait
    /// for `blackstart ack`; a placed start failure fails until `blackstart retry`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["runs", "kill_at", "timeline", "report", "resume"])]
    pub run_dir: Option<PathBuf>,
    /// Game day script (YAML): what is rehearsed, seed, pace, placed faults (from the start,
    /// `at:` a time or `after:` an event such as `ready config`) and what the team is
    /// expected to do; with --run-dir.
    #[arg(
        long,
        value_name = "FILE",
        requires = "run_dir",
        conflicts_with = "file"
    )]
    pub scenario: Option<PathBuf>,
    /// Resume the game day recorded in DIR (stopped, killed or failed) with the settings it
    /// began with.
    /// The fleet is made again from the settings the game day began with: flags that shape
    /// it are refused beside --resume, never silently replaced.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "file", "runs", "kill_at", "timeline", "report", "seed", "spread", "model",
        "parallelism", "priority", "start_failure", "dead_disk", "dead_bmc", "slow_ssh",
        "flapping", "no_faults", "inject", "warm", "only", "exclude", "datacenter", "label",
    ])]
    pub resume: Option<PathBuf>,
    /// Game day pace: simulated seconds per real second (60 = a simulated minute a second)
    /// [default: 1, or what the resumed game day ran at].
    #[arg(long, value_name = "N", value_parser = speed, conflicts_with = "as_fast_as_possible")]
    pub speed: Option<f64>,
    /// Game day pace: no waiting between simulated completions (people's `ack` and `retry`
    /// are still waited for).
    #[arg(long)]
    pub as_fast_as_possible: bool,
    /// A game day's live status page (as `run --serve`), marked SIMULATED.
    #[command(flatten)]
    pub serve: super::pictures::ServeArgs,
    /// Scope.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// The fastest pace accepted: past it, the loop's own work is slower than the clock.
const MAX_SPEED: f64 = 100_000.0;

fn speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= MAX_SPEED => Ok(x),
        _ => Err(format!(
            "{text:?} is not a speed: write simulated seconds per real second, above 0 and at most {MAX_SPEED}, e.g. 60"
        )),
    }
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{text:?} is not a probability: write a number from 0 to 1, e.g. 0.01"
        )),
    }
}

/// The widest spread accepted: a lognormal shape of 3 already makes some steps take
/// hundreds of times longer than expected; more only overflows the arithmetic.
const MAX_SPREAD: f64 = 3.0;

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..=MAX_SPREAD).contains(&x) => Ok(x),
        _ => Err(format!(
            "{text:?} is not a spread: write a number from 0 to {MAX_SPREAD}, e.g. 0.2"
        )),
    }
}

/// Whether these arguments ask for a game day in (sped-up) real time (`--run-dir` or
/// `--resume`), which `gameday::game_day` runs, rather than a drill on a virtual clock.
pub fn is_game_day(args: &SimulateArgs) -> bool {
    args.run_dir.is_some() || args.resume.is_some()
}

/// Runs one drill in detail, or a Monte Carlo series (a game day goes to
/// `gameday::game_day`: see [`is_game_day`]).
pub fn simulate(args: SimulateArgs) -> anyhow::Result<Outcome> {
    if args.speed.is_some() || args.as_fast_as_possible || args.serve.serve.is_some() {
        eprintln!(
            "error: --speed, --as-fast-as-possible and --serve are for a game day: add --run-dir DIR (a drill without one runs on a virtual clock, at once)"
        );
        return Ok(Outcome::InvalidInput);
    }
    // A playbook brings its scope, policy and manual steps (acknowledged by a simulated
    // operator after their expected time).
    let loaded = match load_any(args.file.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let mut topology = loaded.topology;
    let shaped = match shape(&args, &mut topology) {
        Ok(shaped) => shaped,
        Err(outcome) => return Ok(outcome),
    };
    let flags = scope_from(&args.scope)?;
    let scope = if flags == Scope::default() {
        loaded.scope
    } else {
        flags
    };
    let selection = scope.select(&topology)?;
    let plan = match Plan::build(&topology, &selection) {
        // Compared with the ETA `plan` quotes: the capped, fault-free schedule.
        Ok(plan) => blackstart::drill::scheduled(&topology, plan),
        Err(cycles) => {
            for cycle in cycles {
                eprintln!("error: dependency cycle: {}", cycle_text(&topology, &cycle));
            }
            return Ok(Outcome::InvalidInput);
        }
    };
    let Shaped { config, injected } = shaped;
    let config = DrillConfig {
        timeline: (args.timeline.is_some() || args.report.is_some()) && args.runs == 1,
        ..config
    };
    let mut drill = Drill::new(&topology, &plan, config).inject(injected);
    if let Some(at) = args.kill_at {
        drill = drill.kill_controller(ControllerKill {
            at,
            down_for: args.down_for,
        });
    }
    let mut stdout = std::io::stdout().lock();
    if args.runs > 1 {
        if args.timeline.is_some() {
            eprintln!("note: --timeline is written for single runs only (without --runs)");
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let runs = args.runs as usize;
        let bar = progress_bar(total_runs(&drill, runs, args.cost_runs) as u64);
        let result =
            monte_carlo_with_costs(&drill, runs, args.cost_runs, args.seed, threads, &|| {
                bar.inc(1)
            });
        bar.finish_and_clear();
        if let Some(path) = &args.report {
            let source = drill_source(&args);
            let page = render_study(&Study {
                topology: &topology.name,
                result: &result,
                source: &source,
            });
            super::pictures::write_page(&page, path.clone())?;
        }
        let rendered = match args.format {
            SimulateFormat::Text => render_monte_carlo_text(&drill, &result),
            SimulateFormat::Json => render_monte_carlo_json(&drill, &result),
        };
        stdout.write_all(rendered.as_bytes())?;
        return Ok(Outcome::Success);
    }
    let outcome = drill.run(args.seed);
    if let Some(path) = &args.report {
        let source = format!("{} (seed {})", drill_source(&args), args.seed);
        let page = render_run(&RunPage {
            topology: &topology,
            plan: &plan,
            nodes: &outcome.nodes,
            records: &outcome.timeline,
            source: &source,
            refresh_secs: None,
            banner: &blackstart::report::triage::banner(
                &topology,
                &plan,
                &outcome.final_state,
                None,
            ),
            extra: "",
        });
        super::pictures::write_page(&page, path.clone())?;
    }
    if let Some(path) = &args.timeline {
        let file = std::fs::File::create(path).map_err(|err| {
            anyhow::anyhow!("cannot write the timeline to {}: {err}", path.display())
        })?;
        let mut writer = std::io::BufWriter::new(file);
        render_timeline(&drill, &outcome, &mut writer)?;
        writer.flush()?;
    }
    let mut rendered = match args.format {
        SimulateFormat::Text => {
            // The same closing table and summary a real run prints, then the drill's own view.
            // Say first what this is: a rehearsal, not a report of the fleet.
            let mut text = format!(
                "SIMULATED cold start of {} on a virtual clock (seed {}{}): nothing was \
                 contacted.\n\nClosing state, as a real run reports it:\n",
                topology.name,
                args.seed,
                if args.no_faults {
                    ", no faults"
                } else {
                    ", random faults"
                },
            );
            text.push_str(&blackstart::report::tier_table(
                &topology,
                &plan,
                &outcome.final_state,
            ));
            text.push_str(&blackstart::report::summary(
                &topology,
                &plan,
                &outcome.final_state,
                &outcome.ready_at,
                outcome
                    .ready_at
                    .iter()
                    .copied()
                    .collect::<Option<Vec<_>>>()
                    .and_then(|all| all.into_iter().max()),
                outcome.settled_at,
            ));
            text.push_str(&interruptions(&topology, &plan, &outcome));
            text.push('\n');
            text.push_str(&render_text(&drill, &outcome));
            text
        }
        SimulateFormat::Json => render_json(&drill, &outcome),
    };
    if let (Some(path), SimulateFormat::Text) = (&args.timeline, args.format) {
        rendered.push_str(&format!(
            "\nTimeline: {} entries in {}\n",
            outcome.timeline.len(),
            path.display()
        ));
    }
    stdout.write_all(rendered.as_bytes())?;
    Ok(if outcome.succeeded {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// What a drill page says it is: simulated, and with which faults.
fn drill_source(args: &SimulateArgs) -> String {
    format!(
        "SIMULATED drill on a virtual clock, {}, spread {}: nothing was contacted",
        if args.no_faults {
            "no faults"
        } else {
            "random faults"
        },
        args.spread
            .map_or_else(|| "from the model".to_string(), |s| s.to_string())
    )
}

/// A bar on stderr when it is a terminal; hidden (and free) otherwise, so logs and pipes
/// stay clean.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "simulating {bar:40} {pos}/{len} drills, {elapsed} elapsed, ~{eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

/// `--priority` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum PriorityArg {
    /// Severity first.
    Tier,
    /// Longest remaining chain first.
    CriticalPath,
}

/// Interruption lines shown at once: a kill of the reference adopts hundreds of starts.
const INTERRUPTIONS_SHOWN: usize = 12;

/// What a simulated kill did, as the real resume's summary says it (adopted starts).
fn interruptions(topology: &Topology, plan: &Plan, outcome: &blackstart::drill::Outcome) -> String {
    let lines =
        blackstart::report::interruptions::interruption_lines(topology, plan, &outcome.final_state);
    let mut text = String::new();
    for line in lines.iter().take(INTERRUPTIONS_SHOWN) {
        text.push_str(&format!("  {line}\n"));
    }
    if lines.len() > INTERRUPTIONS_SHOWN {
        text.push_str(&format!(
            "  ... and {} more (all in --timeline)\n",
            lines.len() - INTERRUPTIONS_SHOWN
        ));
    }
    text
}
