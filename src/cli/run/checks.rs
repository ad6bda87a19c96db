//! What `run` checks before it acts: the machine's prerequisites (one line per missing
//! cause, before anything is journaled). A playbook's preflight checks run in the library
//! ([`blackstart::night`]), journaled after the start record.

use std::time::Duration;

use blackstart::event::narrate::prerequisite_line;
use blackstart::run::prerequisites::{self};

use crate::cli::review::{checklist, covered_hosts};
use crate::cli::Outcome;
use blackstart::night::Prepared;

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
