//! `run`: the night itself. Loads a topology or a playbook, asks for confirmation, checks
//! the prerequisites, then hands the run to the library ([`Night`]) and maps its end to an
//! exit code.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use blackstart::journal;
use blackstart::night::{Night, NightEnd, Prepared};
use blackstart::report::Progress;
use blackstart::scope::Scope;

use super::load::plan_scope;
use super::prepare::prepare;
use super::{Outcome, PlanScopeArgs};

mod checks;
pub(super) mod finish;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Topology or playbook file (not needed with --resume).
    pub file: Option<PathBuf>,
    /// Run directory for the journal; default `runs/<name>-<time>`.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Resume the run recorded in this directory (its file and scope are recorded there).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["run_dir", "file"])]
    pub resume: Option<PathBuf>,
    /// Seed of the retry jitter (recorded in the run directory).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scope (replaces a playbook's own scope when given).
    #[command(flatten)]
    pub scope: PlanScopeArgs,
    /// Confirmation.
    #[command(flatten)]
    pub approval: super::confirm::ApprovalArgs,
    /// Exit 3 instead of 0 when every step is ready but nodes failed within quorum.
    #[arg(long)]
    pub strict: bool,
    /// Before acting, also sweep every host's SSH port (bounded, parallel; informational).
    #[arg(long)]
    pub check_reachability: bool,
    /// When stderr is not a terminal, a progress line this often (`30s`, `1m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// The live status page.
    #[command(flatten)]
    pub serve: super::pictures::ServeArgs,
}

/// `blackstart run`: flags, confirmation and checks here; the run itself is
/// [`Night::carry_out`].
pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let night = match &args.resume {
        Some(dir) => {
            let info = journal::read_info(dir)
                .with_context(|| format!("{} is not a run directory", dir.display()))?;
            if info.simulated {
                let dir = dir.clone();
                return resume_game_day(&dir, &info, args);
            }
            let prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
            if prepared.info.plan_digest != info.plan_digest {
                bail!(
                    "{} changed since the run began (digest {} != {}); resuming would not carry out the plan that was reviewed. Start a new run instead",
                    info.topology.display(),
                    prepared.info.plan_digest,
                    info.plan_digest
                );
            }
            if let Err(outcome) = ready_to_act(&prepared, &args) {
                return Ok(outcome);
            }
            let night = Night::resume(prepared.clone(), dir.clone())?;
            finish::print_resume(&prepared, night.scheduler(), night.unfinished());
            night
        }
        None => {
            let Some(file) = &args.file else {
                bail!("give a topology or playbook file, or --resume RUN_DIR");
            };
            let scope = plan_scope(&args.scope)?;
            let scope = (scope != Scope::default()).then_some(scope);
            let prepared = match prepare(file, scope, args.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
            if let Err(outcome) = ready_to_act(&prepared, &args) {
                return Ok(outcome);
            }
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(&prepared.topology.name));
            Night::start(prepared, dir)?
        }
    };
    let prepared = night.prepared().clone();
    let run_dir = night.dir().to_path_buf();
    eprintln!("run directory: {}", run_dir.display());
    let _status_page = super::pictures::serve_run(&args.serve, &prepared, &run_dir)?;
    let mut progress = Progress::new(
        prepared.topology.clone(),
        prepared.plan.clone(),
        run_dir.clone(),
        args.heartbeat,
    );
    match night.carry_out(&mut progress)? {
        NightEnd::PreflightFailed => {
            drop(progress);
            println!(
                "preflight failed: nothing was powered on or started (journal: {})",
                run_dir.display()
            );
            Ok(Outcome::Failed)
        }
        NightEnd::Drove { ended, baseline } => {
            drop(progress);
            let drill = prepared.procedures.drill.clone().zip(baseline);
            finish::finish(&prepared, &run_dir, &ended, drill, args.strict)
        }
    }
}

/// `run --resume` on a game day: said loudly, then the game day's own resume over its
/// simulated fleet (`simulate --resume`), so the team rehearses the command of the night
/// while nothing real is contacted. Flags that would reach real hosts are refused or said.
fn resume_game_day(
    dir: &std::path::Path,
    info: &journal::RunInfo,
    args: RunArgs,
) -> anyhow::Result<Outcome> {
    let banner = format!(
        "GAME DAY: {} is a SIMULATED game day: `run --resume` carries it on over its simulated \
         fleet, as `blackstart simulate --resume {}` does. NOTHING real is contacted: no BMC, \
         no SSH, no health check",
        dir.display(),
        dir.display()
    );
    println!("{banner}");
    eprintln!("{banner}");
    if let Some(expected) = &args.approval.expect_digest {
        if expected.trim() != info.plan_digest {
            eprintln!(
                "error: the game day's plan digest is {}, not the expected {}; nothing was done",
                info.plan_digest,
                expected.trim()
            );
            return Ok(Outcome::InvalidInput);
        }
    }
    if args.check_reachability {
        eprintln!(
            "note: --check-reachability sweeps no port on a game day: its hosts are simulated"
        );
    }
    super::gameday::resume_from_run(
        dir,
        super::gameday::Handover {
            serve: args.serve,
            strict: args.strict,
            heartbeat: args.heartbeat,
        },
    )
}

/// Approval and prerequisites, before anything is journaled.
fn ready_to_act(prepared: &Prepared, args: &RunArgs) -> Result<(), Outcome> {
    super::confirm::approve(prepared, &args.approval)?;
    checks::prerequisites(prepared, args.check_reachability)
}

fn default_run_dir(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    PathBuf::from("runs").join(format!("{name}-{}", stamp.trim_end_matches('Z')))
}
