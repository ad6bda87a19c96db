//! The run as a library call: a prepared plan carried out against the real fleet, in the
//! order the journal's rule asks — the start record first, then a playbook's preflight, a
//! drill's baseline, and the drive. The command line only parses flags, asks for
//! confirmation, shows progress and maps the end to an exit code; everything a run writes
//! down is written here.
//!
//! Two calls: [`Night::start`] / [`Night::resume`] open the run directory and write the
//! start record (so the status page can be served, and what a resume takes over shown,
//! before anything is touched), then [`Night::carry_out`] acts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::event::{Event, Reason};
use crate::journal::{self, DrillPhase, Entry, Journal, JournalError, Record, RunInfo, Sink};
use crate::journal::{RunOutcome, Unfinished};
use crate::plan::Plan;
use crate::playbook::Procedures;
use crate::rehearsal::{self, Baseline};
use crate::run::driver::{self, real::RealFleet, Ended, Reporter};
use crate::run::executor::Executor;
use crate::run::preflight::run_checks;
use crate::run::scheduler::{InFlightStart, Scheduler};
use crate::run::transport::bmc::BmcPower;
use crate::run::transport::bmc_calls::BmcCalls;
use crate::run::transport::probe::DirectProbe;
use crate::run::transport::ssh::SshRemote;
use crate::topology::{BmcProtocol, IpmiClient, IpmiSettings, Topology};

/// A topology or playbook loaded and planned for a run.
#[derive(Clone)]
pub struct Prepared {
    /// The topology, with the playbook's steps.
    pub topology: Arc<Topology>,
    /// The plan.
    pub plan: Arc<Plan>,
    /// What the run directory records.
    pub info: RunInfo,
    /// The playbook's procedures (empty for a bare topology).
    pub procedures: Procedures,
}

/// Why a run could not begin or go on. Nothing already journaled is lost.
#[derive(Debug, Error)]
pub enum NightError {
    /// The journal could not be opened, read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A new run was pointed at a directory that already holds one.
    #[error("{} already holds a run; use --resume {} or another --run-dir", .0.display(), .0.display())]
    AlreadyHoldsRun(PathBuf),
    /// The run directory could not be created.
    #[error("cannot create the run directory {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A resumed drill has no baseline to compare with.
    #[error("{}: the drill's baseline is not in the journal; start a new drill", .0.display())]
    NoBaseline(PathBuf),
}

/// How [`Night::carry_out`] ended.
#[derive(Debug)]
pub enum NightEnd {
    /// A preflight check that stops the run failed: nothing was powered on or started.
    PreflightFailed,
    /// The drive ran (to the end, a stop, or a failure).
    Drove {
        /// How the loop ended.
        ended: Box<Ended>,
        /// A drill's baseline (taken now, or recorded before a resume).
        baseline: Option<Baseline>,
    },
}

/// A run whose start record is on disk, ready to act.
pub struct Night {
    prepared: Prepared,
    dir: PathBuf,
    resumed: bool,
    journal: Journal,
    scheduler: Scheduler,
    records: Vec<Record>,
    left: Unfinished,
}

impl Night {
    /// Begins a new run in `dir` (created; refused when it already holds a run): writes the
    /// run's metadata and the start record.
    pub fn start(prepared: Prepared, dir: PathBuf) -> Result<Night, NightError> {
        if dir.join(journal::JOURNAL_FILE).exists() {
            return Err(NightError::AlreadyHoldsRun(dir));
        }
        std::fs::create_dir_all(&dir).map_err(|error| NightError::CreateDir {
            path: dir.clone(),
            error,
        })?;
        journal::write_info(&dir, &prepared.info)?;
        Night::open(prepared, dir, Vec::new(), false)
    }

    /// Resumes the run recorded in `dir`: its journal is replayed, starts in flight at the
    /// last stop are adopted, and a new start record (`resumed`) is written.
    pub fn resume(prepared: Prepared, dir: PathBuf) -> Result<Night, NightError> {
        let records = journal::read(&dir)?;
        Night::open(prepared, dir, records, true)
    }

    fn open(
        prepared: Prepared,
        dir: PathBuf,
        records: Vec<Record>,
        resumed: bool,
    ) -> Result<Night, NightError> {
        // A real night's clock ran on while no process did: starts in flight have run for
        // as long as the wall clock says.
        let (journal, scheduler, left) =
            open_journal(&prepared, &dir, &records, resumed, |left| {
                left.starts_by_wall_clock(SystemTime::now())
            })?;
        Ok(Night {
            prepared,
            dir,
            resumed,
            journal,
            scheduler,
            records,
            left,
        })
    }

    /// What is run.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The scheduler as the run begins (after a resume: with what it takes over).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// What the last process left unfinished (empty for a new run).
    pub fn unfinished(&self) -> &Unfinished {
        &self.left
    }

    /// Carries the run out: a playbook's preflight (a new run only), a drill's baseline,
    /// then the drive over the real transports, `reporter` showing each part.
    pub fn carry_out<R: Reporter>(mut self, reporter: &mut R) -> Result<NightEnd, NightError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(NightError::Runtime)?;
        let prepared = self.prepared.clone();
        let (topology, plan) = (&prepared.topology, &prepared.plan);
        let executor = runtime.block_on(async { real_executor(topology, &prepared.procedures) });
        if !self.resumed && !prepared.procedures.preflight.is_empty() {
            let passed = runtime.block_on(self.preflight(reporter))?;
            if !passed {
                self.journal.append(
                    Duration::ZERO,
                    Entry::RunFinished {
                        outcome: RunOutcome::PreflightFailed,
                    },
                );
                self.journal.sync()?;
                return Ok(NightEnd::PreflightFailed);
            }
        }
        let baseline = match &prepared.procedures.drill {
            None => None,
            Some(_) if self.resumed => Some(
                recorded_baseline(&self.records)
                    .ok_or_else(|| NightError::NoBaseline(self.dir.clone()))?,
            ),
            Some(_) => {
                let baseline = runtime.block_on(rehearsal::baseline(&executor, topology, plan));
                reporter.baseline(
                    baseline.healthy.len(),
                    baseline.powered_on.len(),
                    rehearsal::hosts_to_power_off(topology, plan).len(),
                );
                self.journal.append(
                    Duration::ZERO,
                    Entry::Drill {
                        phase: DrillPhase::Baseline,
                        detail: serde_json::to_value(&baseline).expect("a baseline serializes"),
                    },
                );
                self.journal.sync()?;
                Some(baseline)
            }
        };
        let offset = self.journal.offset();
        let Night {
            dir,
            mut journal,
            scheduler,
            ..
        } = self;
        let ended = runtime.block_on(async {
            let mut fleet = RealFleet::new(executor, dir, offset);
            driver::drive(
                topology,
                plan,
                &mut fleet,
                &mut journal,
                reporter,
                scheduler,
                None,
            )
            .await
        })?;
        Ok(NightEnd::Drove {
            ended: Box::new(ended),
            baseline,
        })
    }

    /// Runs the preflight checks, journals each result, holds (and journals the hold of)
    /// the subtrees of failed `block` checks, and returns false when a `stop` check failed.
    async fn preflight<R: Reporter>(&mut self, reporter: &mut R) -> Result<bool, NightError> {
        let prepared = self.prepared.clone();
        let (topology, plan) = (&prepared.topology, &prepared.plan);
        let checks = &prepared.procedures.preflight;
        let remote = Arc::new(SshRemote::new(topology.policy.parallelism as usize));
        let results = run_checks(remote, topology.clone(), checks).await;
        let mut passed = true;
        for result in results {
            let check = &checks[result.check];
            let host = &topology.hosts[result.host].name;
            reporter.preflight(&check.name, host, &result.result);
            self.journal.append(
                Duration::ZERO,
                Entry::Preflight {
                    check: check.name.clone(),
                    host: host.clone(),
                    result: result.result.clone(),
                },
            );
            let Err(why) = result.result else { continue };
            let Some(subsystems) = &check.blocks else {
                passed = false;
                continue;
            };
            for (id, step) in plan.steps.iter().enumerate() {
                if !subsystems.contains(&step.step.subsystem) {
                    continue;
                }
                let event = Event::Held {
                    step: id,
                    reason: Reason::PreflightHeld {
                        check: check.name.clone(),
                        host: host.clone(),
                        detail: why.to_string(),
                    },
                };
                self.scheduler.handle(Duration::ZERO, &event);
                // Journaled once, here: a resume replays it and does not write it again.
                self.journal.append(
                    Duration::ZERO,
                    Entry::Event {
                        event,
                        step: Some(step.id.clone()),
                        host: None,
                        duration_ms: 0,
                        output: None,
                    },
                );
            }
        }
        self.journal.sync()?;
        Ok(passed)
    }
}

/// Opens the journal of `dir`, writes the start record first and replays `records` into the
/// run's scheduler. A resume adopts the starts left in flight, timed by `in_flight` (the
/// wall clock for a real night, the run's own clock for a game day).
pub fn open_journal(
    prepared: &Prepared,
    dir: &Path,
    records: &[Record],
    resumed: bool,
    in_flight: impl FnOnce(&Unfinished) -> Vec<InFlightStart>,
) -> Result<(Journal, Scheduler, Unfinished), JournalError> {
    let offset = Duration::from_millis(records.last().map_or(0, |r| r.t_ms));
    let mut journal = Journal::open(dir, offset)?;
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
    let mut scheduler = scheduler_for(prepared, records);
    let left = journal::unfinished(records);
    if resumed {
        scheduler.prepare_resume(offset, &in_flight(&left));
    }
    if prepared.procedures.stop_on_failure {
        scheduler.stop_on_failure();
    }
    Ok((journal, scheduler, left))
}

/// The baseline a drill recorded before it powered anything off.
pub fn recorded_baseline(records: &[Record]) -> Option<Baseline> {
    records.iter().find_map(|record| match &record.entry {
        Entry::Drill {
            phase: DrillPhase::Baseline,
            detail,
        } => serde_json::from_value(detail.clone()).ok(),
        _ => None,
    })
}

/// The scheduler of a prepared run with its journal replayed: a real drill powers its
/// hosts off first, and its replay must know that to read its events.
pub fn scheduler_for(prepared: &Prepared, records: &[Record]) -> Scheduler {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let mut scheduler = Scheduler::new(topology, plan, prepared.info.seed);
    if prepared.procedures.drill.is_some() {
        scheduler.power_off_first(rehearsal::hosts_to_power_off(topology, plan));
    }
    // Power checks in the order the plan needs the hosts: no more at once than the BMC
    // transport runs, or they reach its queue in any order.
    scheduler.limit_power_checks(bmc_call_cap(topology));
    journal::replay(scheduler, records)
}

/// BMC calls in flight at once over the whole fleet, when a host's BMC is spoken to through
/// `ipmitool`: each call is a process (tens of ms of CPU), so a few dozen at once is what two
/// cores carry.
const PROCESS_BMC_CALLS: usize = 32;

/// BMC calls in flight at once when every BMC is spoken to from inside the process (native
/// IPMI, Redfish): a call in flight is a socket and its state, and a slow BMC (a second or
/// more per session) would otherwise make the cap, not the power-on policy, pace a large
/// fleet's power-ons (5,000 hosts at 32 calls of 1 s is 2.6 minutes).
const IN_PROCESS_BMC_CALLS: usize = 256;

/// BMC calls in flight at once, over the whole fleet: never more than the parallelism.
pub fn bmc_call_cap(topology: &Topology) -> usize {
    let by_process = topology.hosts.iter().any(|host| {
        matches!(
            host.bmc.as_ref().map(|bmc| &bmc.protocol),
            Some(BmcProtocol::Ipmi(IpmiSettings {
                client: IpmiClient::Ipmitool,
                ..
            }))
        )
    });
    let cap = if by_process {
        PROCESS_BMC_CALLS
    } else {
        IN_PROCESS_BMC_CALLS
    };
    (topology.policy.parallelism as usize).min(cap)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(bmc: &str, parallelism: u32) -> Topology {
        let source = format!(
            "version: 1\nname: t\npolicy: {{ parallelism: {parallelism} }}\nhosts:\n  - {{ name: h1, address: 10.0.0.1, bmc: {{ address: 10.0.1.1, password_env: P }} }}\n  - {{ name: h2, address: 10.0.0.2, bmc: {bmc} }}\nsubsystems:\n  - {{ name: s, hosts: [h1, h2], start: \"true\" }}\n"
        );
        crate::load::load_str(&source, Path::new("t.yaml"))
            .unwrap()
            .topology
    }

    #[test]
    fn one_ipmitool_bmc_keeps_the_fleet_to_a_few_dozen_bmc_calls_at_once() {
        let ipmitool = "{ address: 10.0.1.2, password_env: P, client: ipmitool }";
        assert_eq!(bmc_call_cap(&topology(ipmitool, 1000)), PROCESS_BMC_CALLS);
        let native = "{ address: 10.0.1.2, password_env: P }";
        assert_eq!(bmc_call_cap(&topology(native, 1000)), IN_PROCESS_BMC_CALLS);
        let redfish = "{ protocol: redfish, address: 10.0.1.2, password_env: P }";
        assert_eq!(bmc_call_cap(&topology(redfish, 1000)), IN_PROCESS_BMC_CALLS);
        assert_eq!(
            bmc_call_cap(&topology(native, 8)),
            8,
            "never more than the parallelism"
        );
    }
}
