//! Preflight: the playbook's checks, run before any power or start action. Each check runs
//! on each of its hosts through the same remote transport as everything else.

use std::sync::Arc;

use super::transport::Remote;
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
    pub result: Result<String, String>,
}

/// Runs every check on every one of its hosts, all at once (bounded by the transport).
pub async fn run_checks<R: Remote>(
    remote: Arc<R>,
    topology: Arc<Topology>,
    checks: &[Preflight],
) -> Vec<CheckResult> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, check) in checks.iter().enumerate() {
        for &host in &check.hosts {
            let (remote, topology, check) = (remote.clone(), topology.clone(), check.clone());
            tasks.spawn(async move {
                let command = check.check.remote_command();
                let result = match remote
                    .exec(&topology.hosts[host], &command, check.timeout)
                    .await
                {
                    Ok(output) => check.check.judge(&output),
                    Err(err) => Err(format!("cannot run the check: {err}")),
                };
                CheckResult {
                    check: index,
                    host,
                    result,
                }
            });
        }
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(result) = done {
            results.push(result);
        }
    }
    results.sort_by_key(|r| (r.check, r.host));
    results
}
