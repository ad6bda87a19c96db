//! What `run` checks before it acts: the machine's prerequisites (one line per missing
//! cause, before anything is journaled) and a playbook's preflight checks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use blackstart::event::narrate::prerequisite_line;
use blackstart::event::{Event, Reason};
use blackstart::journal::{self, Entry, Journal, Sink};
use blackstart::rehearsal;
use blackstart::run::preflight::run_checks;
use blackstart::run::prerequisites::{self};
use blackstart::run::scheduler::Scheduler;
use blackstart::run::transport::ssh::SshRemote;

use crate::cli::prepare::Prepared;
use crate::cli::review::{checklist, covered_hosts};
use crate::cli::Outcome;

/// Checks the prerequisites; prints one line per missing cause and returns exit 2 when
/// one is missing. With `reachability`, also sweeps the SSH ports (informational).
pub fn prerequisites(prepared: &Prepared, reachability: bool) -> Result<(), Outcome> {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let list = checklist(topology, plan, &prepared.procedures);
    if reachability {
        let hosts = covered_hosts(topology, plan, &prepared.procedures);
        let parallel = (topology.policy.parallelism as usize).clamp(1, 256);
        let timeout = hosts
            .iter()
            .map(|h| topology.hosts[*h].ssh.login.connect_timeout)
            .max()
            .unwrap_or(Duration::from_secs(3))
            .min(Duration::from_secs(10));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| Outcome::Failed)?;
        let found = runtime.block_on(prerequisites::sweep_ssh(
            topology.clone(),
            &hosts,
            parallel,
            timeout,
        ));
        eprintln!(
            "reachability: {} of {} hosts answer on their SSH port (hosts that are off do not); BMCs not swept: IPMI is UDP, the first power-status read finds dead BMCs",
            hosts.len() - found.iter().map(|f| f.hosts.len()).sum::<usize>(),
            hosts.len()
        );
        for finding in &found {
            eprintln!("  {}", prerequisite_line(topology, finding));
        }
    }
    if list.passed() {
        return Ok(());
    }
    for finding in &list.findings {
        eprintln!(
            "error: missing prerequisite: {}",
            prerequisite_line(topology, finding)
        );
    }
    eprintln!(
        "nothing was done: fix the above and run again (`blackstart plan FILE --prerequisites` lists every check)"
    );
    Err(Outcome::InvalidInput)
}

/// The baseline a drill recorded before it powered anything off.
pub fn recorded_baseline(run_dir: &Path) -> anyhow::Result<rehearsal::Baseline> {
    journal::read(run_dir)?
        .into_iter()
        .find_map(|record| match record.entry {
            Entry::Drill { phase, detail } if phase == "baseline" => {
                serde_json::from_value(detail).ok()
            }
            _ => None,
        })
        .with_context(|| {
            format!(
                "{}: the drill's baseline is not in the journal; start a new drill",
                run_dir.display()
            )
        })
}

/// Runs the preflight checks, journals each result, holds the subtrees of failed `block`
/// checks, and returns false when a `stop` check failed.
pub async fn preflight(
    prepared: &Prepared,
    remote: Arc<SshRemote>,
    journal: &mut Journal,
    scheduler: &mut Scheduler,
) -> anyhow::Result<bool> {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let checks = &prepared.procedures.preflight;
    let results = run_checks(remote, topology.clone(), checks).await;
    let mut passed = true;
    println!("PREFLIGHT");
    for result in &results {
        let check = &checks[result.check];
        let host = &topology.hosts[result.host].name;
        let (ok, detail) = match &result.result {
            Ok(seen) => (true, seen.clone()),
            Err(why) => (false, why.clone()),
        };
        println!(
            "  {} {} on {host}: {detail}",
            if ok { "ok    " } else { "FAILED" },
            check.name
        );
        journal.append(
            Duration::ZERO,
            Entry::Preflight {
                name: check.name.clone(),
                host: host.clone(),
                ok,
                detail: detail.clone(),
            },
        );
        if ok {
            continue;
        }
        match &check.blocks {
            None => passed = false,
            Some(subsystems) => {
                for (id, step) in plan.steps.iter().enumerate() {
                    if subsystems.contains(&step.step.subsystem) {
                        let reason = Reason::PreflightHeld {
                            check: check.name.clone(),
                            host: host.clone(),
                            detail: detail.clone(),
                        };
                        scheduler.handle(Duration::ZERO, &Event::Held { step: id, reason });
                    }
                }
            }
        }
    }
    journal.sync()?;
    Ok(passed)
}
