//! `simulate --run-dir DIR` and `simulate --resume DIR`: a game day. The simulated fleet in
//! (sped-up) real time, writing a real run directory that `status`, `serve`, `report`,
//! `retry` and `ack` work on, marked simulated wherever it is shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use blackstart::drill::scenario::Scenario;
use blackstart::gameday::{GameDay, Pace};
use blackstart::journal;
use blackstart::plan::Plan;
use blackstart::report::Progress;
use blackstart::scope::Scope;
use serde::{Deserialize, Serialize};

use super::load::{scope_from, EMBEDDED};
use super::prepare::{prepare, Prepared, SETTINGS_FILE};
use super::run::finish;
use super::simulate::{shape, PriorityArg, SimulateArgs};
use super::Outcome;

/// The file the embedded reference topology is written to in a game day's directory:
/// `run.json` must name a file that exists.
const EMBEDDED_COPY: &str = "topology.yaml";

/// The flags that shape the simulated fleet and its pace.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    spread: Option<f64>,
    model: Option<PathBuf>,
    parallelism: Option<u32>,
    priority: Option<PriorityArg>,
    start_failure: Option<f64>,
    dead_disk: Option<f64>,
    dead_bmc: Option<f64>,
    slow_ssh: Option<f64>,
    flapping: Option<f64>,
    no_faults: bool,
    inject: Vec<String>,
    warm: bool,
    speed: Option<f64>,
    as_fast_as_possible: bool,
    /// What the scenario expects of the team, in words (for the scorecard).
    #[serde(default)]
    expect: Vec<String>,
    /// What the scorecard is measured against (plan ETA, Monte Carlo band, expectations),
    /// fixed when the game day began.
    #[serde(default)]
    scorecard: Option<blackstart::report::scorecard::Basis>,
}

impl Settings {
    fn of(args: &SimulateArgs) -> Settings {
        Settings {
            spread: args.spread,
            // A resume may run from another directory: the model is found again by its
            // absolute path.
            model: args
                .model
                .as_ref()
                .map(|path| std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())),
            parallelism: args.parallelism,
            priority: args.priority,
            start_failure: args.start_failure,
            dead_disk: args.dead_disk,
            dead_bmc: args.dead_bmc,
            slow_ssh: args.slow_ssh,
            flapping: args.flapping,
            no_faults: args.no_faults,
            inject: args.inject.clone(),
            warm: args.warm,
            speed: args.speed,
            as_fast_as_possible: args.as_fast_as_possible,
            expect: Vec::new(),
            scorecard: None,
        }
    }

    /// The resumed game day's arguments: these settings, with a pace given now winning.
    fn onto(self, args: &mut SimulateArgs) {
        args.spread = self.spread;
        args.model = self.model;
        args.parallelism = self.parallelism;
        args.priority = self.priority;
        args.start_failure = self.start_failure;
        args.dead_disk = self.dead_disk;
        args.dead_bmc = self.dead_bmc;
        args.slow_ssh = self.slow_ssh;
        args.flapping = self.flapping;
        args.no_faults = self.no_faults;
        args.inject = self.inject;
        args.warm = self.warm;
        if args.speed.is_none() && !args.as_fast_as_possible {
            args.speed = self.speed;
            args.as_fast_as_possible = self.as_fast_as_possible;
        }
    }
}

fn pace(args: &SimulateArgs) -> Pace {
    if args.as_fast_as_possible {
        Pace::AsFastAsPossible
    } else {
        Pace::Speed(args.speed.unwrap_or(1.0))
    }
}

/// What `run --resume` hands over to a game day's resume: the flags of `run` that mean
/// the same on a simulated fleet.
pub struct Handover {
    /// The live status page.
    pub serve: super::pictures::ServeArgs,
    /// Exit 3 instead of 0 when every step is ready but nodes failed within quorum.
    pub strict: bool,
    /// A progress line this often when stderr is not a terminal.
    pub heartbeat: Duration,
}

/// `simulate --resume DIR`, parsed as clap would: every other flag at its default, so the
/// settings the game day began with are the ones it goes on with.
#[derive(clap::Parser)]
struct ResumeOnly {
    #[command(flatten)]
    args: SimulateArgs,
}

/// `run --resume DIR` on a game day: the same resume as `simulate --resume DIR` (the
/// simulated fleet made again from the game day's settings, at the pace it began with),
/// never the real transports.
pub fn resume_from_run(dir: &Path, handover: Handover) -> anyhow::Result<Outcome> {
    let mut argv: Vec<std::ffi::OsString> = vec!["simulate".into(), "--resume".into()];
    argv.push(dir.as_os_str().to_owned());
    let mut args = <ResumeOnly as clap::Parser>::try_parse_from(argv)
        .context("cannot hand the game day to its resume")?
        .args;
    args.serve = handover.serve;
    game_day_with(args, handover.strict, handover.heartbeat)
}

/// A new game day (`--run-dir`) or a resumed one (`--resume`).
pub fn game_day(args: SimulateArgs) -> anyhow::Result<Outcome> {
    game_day_with(args, false, Duration::from_secs(30))
}

fn game_day_with(
    mut args: SimulateArgs,
    strict: bool,
    heartbeat: Duration,
) -> anyhow::Result<Outcome> {
    let mut scripted: Option<Scenario> = None;
    let (prepared, dir, resumed) = match args.resume.clone() {
        Some(dir) => {
            let info = journal::read_info(&dir)
                .with_context(|| format!("{} is not a run directory", dir.display()))?;
            if !info.simulated {
                bail!(
                    "{} is a real run, not a game day: resume it with `blackstart run --resume {}`",
                    dir.display(),
                    dir.display()
                );
            }
            let path = dir.join(SETTINGS_FILE);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the game day's settings {}", path.display())
            })?;
            let settings: Settings = serde_json::from_str(&text)
                .with_context(|| format!("{}: unreadable game day settings", path.display()))?;
            settings.onto(&mut args);
            let prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
            if prepared.info.plan_digest != info.plan_digest {
                bail!(
                    "{} changed since the game day began (digest {} != {}); start a new game day",
                    info.topology.display(),
                    prepared.info.plan_digest,
                    info.plan_digest
                );
            }
            (prepared, dir, true)
        }
        None => {
            let dir = args
                .run_dir
                .clone()
                .expect("game_day is called with a run dir");
            if dir.join(journal::JOURNAL_FILE).exists() {
                bail!(
                    "{} already holds a run; use `blackstart simulate --resume {}` or another --run-dir",
                    dir.display(),
                    dir.display()
                );
            }
            if let Some(path) = args.scenario.clone() {
                match Scenario::load(&path) {
                    Ok(scenario) => scripted = Some(scenario),
                    Err(message) => {
                        eprintln!("{message}");
                        return Ok(Outcome::InvalidInput);
                    }
                }
            }
            if let Some(scenario) = &scripted {
                scenario.onto(&mut args);
            }
            let file = match &args.file {
                Some(file) => file.clone(),
                None => write_embedded(&dir)?,
            };
            let scope = scope_from(&args.scope)?;
            let scope = (scope != Scope::default()).then_some(scope);
            let prepared = match prepare(&file, scope, args.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
            (prepared, dir, false)
        }
    };
    let mut expect = Vec::new();
    let mut expectations = Vec::new();
    if let Some(scenario) = &scripted {
        // Names in the scenario are checked against what it rehearses, with file:line.
        if let Err(message) = scenario.resolve(&prepared.topology, &prepared.plan) {
            eprintln!("{message}");
            return Ok(Outcome::InvalidInput);
        }
        println!(
            "SCENARIO {}{}",
            scenario.name,
            scenario
                .description
                .as_ref()
                .map(|d| format!(": {}", d.trim()))
                .unwrap_or_default()
        );
        for expectation in &scenario.expect {
            println!("  expected of the team: {expectation}");
        }
        expect = scenario.expect.iter().map(ToString::to_string).collect();
        expectations = scenario.expect.clone();
    }
    let (mut prepared, shaped) = match shaped(prepared, &args) {
        Ok(both) => both,
        Err(outcome) => return Ok(outcome),
    };
    prepared.info.simulated = true;
    let day = if resumed {
        let day = GameDay::resume(prepared.clone(), dir.clone())?;
        finish::print_resume(&prepared, day.scheduler(), day.unfinished());
        day
    } else {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
        let basis = super::scorecard::basis(&prepared, &shaped.config, expectations);
        let settings = Settings {
            expect,
            scorecard: Some(basis),
            ..Settings::of(&args)
        };
        let settings = serde_json::to_string_pretty(&settings)?;
        let path = dir.join(SETTINGS_FILE);
        std::fs::write(&path, settings)
            .with_context(|| format!("cannot write {}", path.display()))?;
        GameDay::start(prepared.clone(), dir.clone())?
    };
    let pace = pace(&args);
    let _status_page = super::pictures::serve_run(&args.serve, &prepared, &dir)?;
    println!(
        "SIMULATED game day of {} (seed {}, {}): nothing is contacted. Run directory: {}\n  \
         follow it with `blackstart status --watch 2 {dir}`; act with `blackstart ack {dir} STEP` and `blackstart retry {dir} SUBSYSTEM`",
        prepared.topology.name,
        prepared.info.seed,
        match pace {
            Pace::Speed(speed) => format!("speed {speed}"),
            Pace::AsFastAsPossible => "as fast as possible".to_string(),
        },
        dir.display(),
        dir = dir.display(),
    );
    let mut progress = Progress::new(
        prepared.topology.clone(),
        prepared.plan.clone(),
        dir.clone(),
        heartbeat,
    );
    let ended = day.carry_out(
        &prepared.topology,
        shaped.config,
        &shaped.injected,
        pace,
        &mut progress,
    )?;
    drop(progress);
    println!(
        "SIMULATED game day: the closing state of the simulated fleet, as a real run reports it"
    );
    let outcome = finish::finish(&prepared, &dir, &ended, None, strict)?;
    let records = journal::read(&dir)?;
    let card = super::scorecard::card(&prepared, &dir, &records)?;
    print!("\n{}", blackstart::report::scorecard::render_text(&card));
    Ok(outcome)
}

/// The prepared run with the model, priority and parallelism flags applied, planned again
/// (the model's start times are the plan's), and the fleet's configuration.
fn shaped(
    prepared: Prepared,
    args: &SimulateArgs,
) -> Result<(Prepared, super::simulate::Shaped), Outcome> {
    let mut topology = (*prepared.topology).clone();
    let shaped = shape(args, &mut topology)?;
    let selection = match prepared.info.scope.select(&topology) {
        Ok(selection) => selection,
        Err(err) => {
            eprintln!("error: {err}");
            return Err(Outcome::InvalidInput);
        }
    };
    let Ok(plan) = Plan::build(&topology, &selection) else {
        eprintln!("error: the topology has dependency cycles; run `blackstart validate`");
        return Err(Outcome::InvalidInput);
    };
    let prepared = Prepared {
        topology: Arc::new(topology),
        plan: Arc::new(plan),
        ..prepared
    };
    Ok((prepared, shaped))
}

/// Writes the embedded reference topology into the game day's directory and returns its
/// path: the run directory names a file that exists, as a real run's does.
fn write_embedded(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
    let path = dir.join(EMBEDDED_COPY);
    std::fs::write(&path, EMBEDDED).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A scenario's settings onto the game day's flags: the file, seed and faults are the
/// scenario's; a pace or fault rate given on the command line wins.
trait Onto {
    fn onto(&self, args: &mut SimulateArgs);
}

impl Onto for Scenario {
    fn onto(&self, args: &mut SimulateArgs) {
        args.file = self.file.clone();
        args.seed = self.seed;
        if args.speed.is_none() && !args.as_fast_as_possible {
            args.speed = self.speed;
        }
        let rates_given = [
            args.start_failure,
            args.dead_disk,
            args.dead_bmc,
            args.slow_ssh,
            args.flapping,
        ]
        .iter()
        .any(Option::is_some);
        if !self.random_faults && !rates_given {
            args.no_faults = true;
        }
        args.inject.extend(self.faults.iter().cloned());
    }
}
