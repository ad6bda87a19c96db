//! `run`: the night itself. Loads a topology or a playbook, runs the preflight checks,
//! then drives the plan through the real transports, journaling every step.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use blackstart::journal::{self, Entry, Journal, Sink};
use blackstart::playbook::Procedures;
use blackstart::rehearsal;
use blackstart::report::Progress;
use blackstart::run::driver::{self, real::RealFleet};
use blackstart::run::executor::Executor;
use blackstart::run::transport::bmc::BmcPower;
use blackstart::run::transport::bmc_calls::BmcCalls;
use blackstart::run::transport::probe::DirectProbe;
use blackstart::run::transport::ssh::SshRemote;
use blackstart::scope::Scope;
use blackstart::topology::Topology;

use super::load::plan_scope;
use super::prepare::{bmc_call_cap, prepare, scheduler_for};
use super::{Outcome, PlanScopeArgs};

mod checks;
mod finish;

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

/// The real transports, sized by the topology's policy.
pub fn real_executor(
    topology: &Arc<Topology>,
    procedures: &Procedures,
) -> Executor<BmcPower, SshRemote, DirectProbe<SshRemote>> {
    let parallelism = topology.policy.parallelism as usize;
    let remote = Arc::new(SshRemote::new(parallelism));
    let power = Arc::new(BmcPower::shared(
        BmcCalls::new(bmc_call_cap(topology))
            .with_timeout(topology.policy.bmc_timeout)
            .with_attempts(topology.policy.bmc_attempts),
    ));
    let probe = Arc::new(DirectProbe::new(remote.clone()));
    Executor::new(topology.clone(), power, remote, probe)
        .with_prepare(procedures.prepare_by_host(topology.hosts.len()))
}

/// `blackstart run`.
pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let resumed = args.resume.is_some();
    let (prepared, run_dir, records) = match &args.resume {
        Some(dir) => {
            let info = journal::read_info(dir)
                .with_context(|| format!("{} is not a run directory", dir.display()))?;
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
            if let Err(outcome) = super::confirm::approve(&prepared, &args.approval) {
                return Ok(outcome);
            }
            if let Err(outcome) = checks::prerequisites(&prepared, args.check_reachability) {
                return Ok(outcome);
            }
            let records = journal::read(dir)?;
            (prepared, dir.clone(), records)
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
            if let Err(outcome) = super::confirm::approve(&prepared, &args.approval) {
                return Ok(outcome);
            }
            if let Err(outcome) = checks::prerequisites(&prepared, args.check_reachability) {
                return Ok(outcome);
            }
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(&prepared.topology.name));
            if dir.join(journal::JOURNAL_FILE).exists() {
                bail!(
                    "{} already holds a run; use --resume {} or another --run-dir",
                    dir.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            journal::write_info(&dir, &prepared.info)?;
            (prepared, dir, Vec::new())
        }
    };
    let replayed = journal::events(&records);
    let offset = replayed.last().map_or(Duration::ZERO, |(at, _)| *at);
    let mut journal = Journal::open(&run_dir, offset)?;
    // The start record comes first, before preflight and a drill's baseline: every reader
    // checks the journal's format on it, and a failed preflight ends a run that began.
    journal.append(
        offset,
        Entry::RunStarted {
            format: journal::FORMAT,
            plan_digest: prepared.info.plan_digest.clone(),
            topology: prepared.topology.name.clone(),
            resumed,
            pid: std::process::id(),
        },
    );
    journal.sync()?;
    eprintln!("run directory: {}", run_dir.display());
    let _status_page = super::pictures::serve_run(&args.serve, &prepared, &run_dir)?;
    let mut scheduler = scheduler_for(&prepared, &records);
    if resumed {
        let left = journal::unfinished(&records);
        let starts = left.starts_by_wall_clock(std::time::SystemTime::now());
        scheduler.prepare_resume(offset, &starts);
        finish::print_resume(&prepared, &scheduler, &left);
    }
    if prepared.procedures.stop_on_failure {
        scheduler.stop_on_failure();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let executor =
        runtime.block_on(async { real_executor(&prepared.topology, &prepared.procedures) });
    if !resumed && !prepared.procedures.preflight.is_empty() {
        let remote = Arc::new(SshRemote::new(
            prepared.topology.policy.parallelism as usize,
        ));
        let passed = runtime.block_on(checks::preflight(
            &prepared,
            remote,
            &mut journal,
            &mut scheduler,
        ))?;
        if !passed {
            journal.append(
                Duration::ZERO,
                Entry::RunFinished {
                    outcome: "preflight failed".into(),
                },
            );
            journal.sync()?;
            println!(
                "preflight failed: nothing was powered on or started (journal: {})",
                run_dir.display()
            );
            return Ok(Outcome::Failed);
        }
    }
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let drill = prepared.procedures.drill.clone();
    let baseline = match &drill {
        None => None,
        Some(_) if resumed => Some(checks::recorded_baseline(&run_dir)?),
        Some(_) => {
            let baseline = runtime.block_on(rehearsal::baseline(&executor, topology, plan));
            println!(
                "DRILL  baseline: {} nodes healthy on {} powered hosts; powering off {} hosts",
                baseline.healthy.len(),
                baseline.powered_on.len(),
                rehearsal::hosts_to_power_off(topology, plan).len(),
            );
            journal.append(
                Duration::ZERO,
                Entry::Drill {
                    phase: "baseline".into(),
                    detail: serde_json::to_value(&baseline)?,
                },
            );
            journal.sync()?;
            Some(baseline)
        }
    };
    let ended = runtime.block_on(async {
        let mut fleet = RealFleet::new(executor, run_dir.clone(), offset);
        let mut progress = Progress::new(
            topology.clone(),
            plan.clone(),
            run_dir.clone(),
            args.heartbeat,
        );
        driver::drive(
            topology,
            plan,
            &mut fleet,
            &mut journal,
            &mut progress,
            scheduler,
            None,
        )
        .await
    })?;
    finish::finish(
        &prepared,
        &run_dir,
        &ended,
        drill.zip(baseline),
        args.strict,
    )
}

fn default_run_dir(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    PathBuf::from("runs").join(format!("{name}-{}", stamp.trim_end_matches('Z')))
}
