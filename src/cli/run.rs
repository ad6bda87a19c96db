//! `run`, `status` and `retry`: the night itself, where it stands, and re-arming a node
//! after a person has repaired it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use blackstart::journal::{self, Journal, RunInfo, REQUESTS_DIR};
use blackstart::plan::{human, Plan};
use blackstart::run::driver::{self, matching_failed_nodes, RetryRequest};
use blackstart::run::event::Event;
use blackstart::run::executor::Executor;
use blackstart::run::scheduler::Scheduler;
use blackstart::run::state::{NodeState, StepStatus};
use blackstart::run::transport::ipmi::IpmiPower;
use blackstart::run::transport::probe::DirectProbe;
use blackstart::run::transport::ssh::SshRemote;
use blackstart::scope::Scope;
use blackstart::topology::Topology;

use super::plan::scope_from;
use super::{Outcome, ScopeArgs};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Topology file (not needed with --resume).
    pub file: Option<PathBuf>,
    /// Run directory for the journal; default `runs/<topology>-<time>`.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Resume the run recorded in this directory.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "run_dir")]
    pub resume: Option<PathBuf>,
    /// Seed of the retry jitter (recorded in the run directory).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scope.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

struct Prepared {
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    info: RunInfo,
}

fn prepare(file: &Path, scope: Scope, seed: u64) -> anyhow::Result<Result<Prepared, Outcome>> {
    let source = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let loaded = match super::plan::load(Some(file)) {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let selection = scope.select(&loaded.topology)?;
    let plan = Plan::build(&loaded.topology, &selection).map_err(|_| {
        anyhow::anyhow!("the topology has dependency cycles; run `blackstart validate`")
    })?;
    let scope_text = serde_json::to_vec(&scope)?;
    let info = RunInfo {
        topology: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()),
        plan_digest: journal::digest(&[&source, &scope_text]),
        scope,
        seed,
    };
    Ok(Ok(Prepared {
        topology: Arc::new(loaded.topology),
        plan: Arc::new(plan),
        info,
    }))
}

fn real_executor(
    topology: &Arc<Topology>,
) -> Executor<IpmiPower, SshRemote, DirectProbe<SshRemote>> {
    let parallelism = topology.policy.parallelism as usize;
    let remote = Arc::new(SshRemote::new(parallelism));
    let power = Arc::new(
        IpmiPower::new(parallelism.min(32))
            .with_timeout(topology.policy.bmc_timeout)
            .with_attempts(topology.policy.bmc_attempts),
    );
    let probe = Arc::new(DirectProbe::new(remote.clone()));
    Executor::new(topology.clone(), power, remote, probe)
}

/// `blackstart run`.
pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let (prepared, run_dir, replayed) = match &args.resume {
        Some(dir) => {
            let info = journal::read_info(dir)
                .with_context(|| format!("{} is not a run directory", dir.display()))?;
            let prepared = match prepare(&info.topology, info.scope.clone(), info.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
            if prepared.info.plan_digest != info.plan_digest {
                bail!(
                    "{} changed since the run began (digest {} != {}); resuming would not carry out the plan that was reviewed. Start a new run instead",
                    info.topology.display(), prepared.info.plan_digest, info.plan_digest
                );
            }
            let records = journal::read(dir)?;
            (prepared, dir.clone(), journal::events(&records))
        }
        None => {
            let Some(file) = &args.file else {
                bail!("give a topology file, or --resume RUN_DIR");
            };
            let prepared = match prepare(file, scope_from(&args.scope)?, args.seed)? {
                Ok(prepared) => prepared,
                Err(outcome) => return Ok(outcome),
            };
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
    let offset = replayed.last().map_or(Duration::ZERO, |(at, _)| *at);
    let journal = Journal::open(&run_dir, offset)?;
    eprintln!("run directory: {}", run_dir.display());
    let mut scheduler = driver::replay(
        &prepared.topology,
        &prepared.plan,
        prepared.info.seed,
        &replayed,
    );
    let resumed = args.resume.is_some();
    if resumed {
        scheduler.prepare_resume();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let executor = runtime.block_on(async { real_executor(&prepared.topology) });
    let result = runtime.block_on(driver::drive(
        prepared.topology.clone(),
        prepared.plan.clone(),
        executor,
        journal,
        &run_dir,
        scheduler,
        resumed,
        &prepared.info.plan_digest,
    ))?;
    print!("{}", result.summary);
    Ok(if result.succeeded {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn default_run_dir(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    PathBuf::from("runs").join(format!("{name}-{}", stamp.trim_end_matches('Z')))
}

/// A run directory read back: what ran, the replayed scheduler, the journal.
type LoadedRun = (Prepared, Scheduler, Vec<journal::Record>);

fn load_run(dir: &Path) -> anyhow::Result<Result<LoadedRun, Outcome>> {
    let info = journal::read_info(dir)
        .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let prepared = match prepare(&info.topology, info.scope.clone(), info.seed)? {
        Ok(prepared) => prepared,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let records = journal::read(dir)?;
    let scheduler = driver::replay(
        &prepared.topology,
        &prepared.plan,
        info.seed,
        &journal::events(&records),
    );
    Ok(Ok((prepared, scheduler, records)))
}

/// `blackstart status RUN_DIR`.
pub fn status(dir: &Path) -> anyhow::Result<Outcome> {
    let (prepared, scheduler, records) = match load_run(dir)? {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let live = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(journal::LOCK_FILE))
        .map(|file| file.try_lock().is_err())
        .unwrap_or(false);
    let finished = records.iter().rev().find_map(|r| match &r.entry {
        journal::Entry::RunFinished { outcome } => Some(outcome.clone()),
        _ => None,
    });
    let elapsed = records.last().map_or(0, |r| r.t_ms);
    println!(
        "RUN {}  topology {}  {}  elapsed {}",
        dir.display(),
        topology.name,
        if live {
            "LIVE (a process holds the lock)".to_string()
        } else {
            format!(
                "not running (last outcome: {})",
                finished.unwrap_or_else(|| "killed before finishing".into())
            )
        },
        human(Duration::from_millis(elapsed))
    );
    let mut remaining = Duration::ZERO;
    let done_at = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, _)| scheduler.statuses()[*id] == StepStatus::Ready)
        .map(|(_, step)| step.ready_at)
        .max()
        .unwrap_or_default();
    for (id, step) in plan.steps.iter().enumerate() {
        let status = &scheduler.statuses()[id];
        let nodes: Vec<_> = scheduler.nodes().iter().filter(|n| n.step == id).collect();
        let in_progress = nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.state,
                    NodeState::Starting { .. } | NodeState::Probing | NodeState::Backoff { .. }
                )
            })
            .count();
        let text = match status {
            StepStatus::Ready => "healthy".to_string(),
            StepStatus::Active => format!("in progress ({in_progress} starting)"),
            StepStatus::Waiting => "waiting for dependencies".to_string(),
            StepStatus::Failed => "FAILED".to_string(),
            StepStatus::Blocked { on } => format!("BLOCKED on {}", plan.steps[*on].id),
        };
        if *status != StepStatus::Ready {
            remaining = remaining.max(step.ready_at.saturating_sub(done_at));
        }
        println!(
            "  [{}] {:<32} {:>5}/{:<5} healthy  {text}",
            topology.subsystems[step.step.subsystem].tier,
            step.id,
            scheduler.healthy_count(id),
            step.hosts.len()
        );
        for node in nodes {
            if let NodeState::Failed { reason } = &node.state {
                println!(
                    "      failed on {}: {reason}",
                    topology.hosts[node.host].name
                );
            }
        }
    }
    println!(
        "remaining ETA (plan, from what is healthy): {}",
        human(remaining)
    );
    Ok(Outcome::Success)
}

/// `blackstart retry RUN_DIR TARGET [--host HOST]`.
pub fn retry(dir: &Path, target: String, host: Option<String>) -> anyhow::Result<Outcome> {
    let (prepared, scheduler, _) = match load_run(dir)? {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let request = RetryRequest { target, host };
    let nodes = matching_failed_nodes(&prepared.topology, &prepared.plan, &scheduler, &request);
    if nodes.is_empty() {
        eprintln!(
            "no failed node matches {:?}{}; `blackstart status {}` lists them",
            request.target,
            request
                .host
                .as_ref()
                .map(|h| format!(" on {h}"))
                .unwrap_or_default(),
            dir.display()
        );
        return Ok(Outcome::InvalidInput);
    }
    match Journal::open(dir, Duration::ZERO) {
        // Nobody runs this directory: record the re-arm; `run --resume` carries it out.
        Ok(mut journal) => {
            let offset = journal::read(dir)?.last().map_or(0, |r| r.t_ms);
            for node in &nodes {
                let event = Event::Rearmed { node: *node };
                let label = driver::label(
                    &prepared.topology,
                    &prepared.plan,
                    &scheduler,
                    &blackstart::run::event::Action::Probe { node: *node },
                );
                journal.append(
                    Duration::from_millis(offset),
                    journal::Entry::Event {
                        label,
                        event,
                        duration_ms: 0,
                        output: None,
                    },
                );
            }
            journal.sync()?;
            println!(
                "re-armed {} node(s); continue with: blackstart run --resume {}",
                nodes.len(),
                dir.display()
            );
        }
        // A live run picks the request up within a second.
        Err(journal::JournalError::Locked(_)) => {
            let path =
                dir.join(REQUESTS_DIR)
                    .join(format!("{}-{}.json", std::process::id(), nodes[0]));
            std::fs::write(&path, serde_json::to_string(&request)?)?;
            println!("asked the live run to re-arm {} node(s)", nodes.len());
        }
        Err(err) => return Err(err.into()),
    }
    Ok(Outcome::Success)
}
