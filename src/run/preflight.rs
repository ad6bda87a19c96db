//! Preflight: the playbook's checks, run before any power or start action. Each check runs
//! on each of its hosts through the same remote transport as everything else.

use std::sync::Arc;

use super::transport::Remote;
use crate::event::Reason;
use crate::playbook::Preflight;
use crate::topology::{HostId, Topology};

/// One check on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Index of the check in the playbook.
    pub check: usize,
    /// The host.
    pub host: HostId,
    /// What was seen, or why it failed.
    pub result: Result<String, Reason>,
}

/// Runs every check on every one of its hosts, all at once (bounded by the transport).
pub async fn run_checks<R: Remote>(
    remote: Arc<R>,
    topology: Arc<Topology>,
    checks: &[Preflight],
) -> Vec<CheckResult> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut launched = std::collections::HashMap::new();
    for (index, check) in checks.iter().enumerate() {
        for &host in &check.hosts {
            let (remote, topology, check) = (remote.clone(), topology.clone(), check.clone());
            let task = tasks.spawn(async move {
                let command = check.check.remote_command();
                let result = match remote
                    .exec(&topology.hosts[host], &command, check.timeout)
                    .await
                {
                    Ok(output) => check
                        .check
                        .judge(&output)
                        .map_err(|detail| Reason::CheckFailed { detail }),
                    Err(err) => Err(err.ssh_reason("preflight check")),
                };
                CheckResult {
                    check: index,
                    host,
                    result,
                }
            });
            launched.insert(task.id(), (index, host));
        }
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next_with_id().await {
        match done {
            Ok((_, result)) => results.push(result),
            // A check that panicked is a failed check, said as such: never dropped.
            Err(error) => {
                let (check, host) = launched[&error.id()];
                results.push(CheckResult {
                    check,
                    host,
                    result: Err(Reason::Other {
                        detail: format!("the check itself failed inside blackstart: {error}"),
                    }),
                });
            }
        }
    }
    results.sort_by_key(|r| (r.check, r.host));
    results
}
