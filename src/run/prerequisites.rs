//! What this machine needs before a run may touch any host: every BMC password source
//! present, SSH keys readable, every host in its known_hosts file (strict checking refuses
//! the rest), the power tool installed. Found one node at a time, a missing variable costs
//! a FAILED line per node; found here, it costs one line per cause before any action.
//!
//! The decisions are pure over a [`Machine`] (what the environment, files and PATH hold);
//! [`ThisMachine`] is the real one. Secrets are checked for presence, never kept or shown.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::run::transport::known_hosts::KnownHostsFile;
use crate::topology::{Bmc, HostId, SecretSource, SshLogin, Topology};

pub use crate::event::checklist::{Check, Checklist, Finding};

/// What the checks ask of the machine they run on.
pub trait Machine {
    /// True when the environment variable is set and not empty (its value is not kept).
    fn variable_set(&self, name: &str) -> bool;
    /// Why `path` cannot be read (with `first_line`: or its first line is empty).
    fn unreadable(&self, path: &Path, first_line: bool) -> Option<String>;
    /// Whether `known_hosts` lists `address` on `port`, or why the file cannot be read.
    fn known_host(&self, known_hosts: &Path, address: &str, port: u16) -> Result<bool, String>;
    /// True when `program` is found on PATH (or is an executable path).
    fn program_found(&self, program: &str) -> bool;
}

/// The password source of a BMC. (The BMC model may grow other protocols; this is the one
/// place the checks read it.)
pub fn bmc_secret(bmc: &Bmc) -> Option<&SecretSource> {
    Some(&bmc.password)
}

/// The program that drives a BMC: `ipmitool` for IPMI BMCs with `client: ipmitool`; none
/// for the native IPMI client and Redfish, which run inside blackstart.
pub fn power_tool(bmc: &Bmc) -> Option<&'static str> {
    match &bmc.protocol {
        crate::topology::BmcProtocol::Ipmi(ipmi)
            if ipmi.client == crate::topology::IpmiClient::Ipmitool =>
        {
            Some("ipmitool")
        }
        _ => None,
    }
}

/// Runs every local check for `hosts` of `topology`.
pub fn check(topology: &Topology, hosts: &[HostId], machine: &impl Machine) -> Checklist {
    let mut found: HashMap<(Check, String), Vec<HostId>> = HashMap::new();
    let mut checked: HashMap<Check, usize> = HashMap::new();
    let mut note = |check: Check, cause: Option<String>, host: HostId| {
        *checked.entry(check).or_default() += 1;
        if let Some(cause) = cause {
            found.entry((check, cause)).or_default().push(host);
        }
    };
    for &host in hosts {
        let h = &topology.hosts[host];
        if let Some(bmc) = &h.bmc {
            if let Some(source) = bmc_secret(bmc) {
                let cause = match source {
                    SecretSource::Env(name) => (!machine.variable_set(name))
                        .then(|| format!("BMC password: environment variable ${name} is not set")),
                    SecretSource::File(path) => machine
                        .unreadable(path, true)
                        .map(|why| format!("BMC password file {}: {why}", path.display())),
                };
                note(Check::BmcPassword, cause, host);
            }
            if let Some(tool) = power_tool(bmc) {
                let cause = (!machine.program_found(tool))
                    .then(|| format!("power tool {tool} not found on PATH"));
                note(Check::PowerTool, cause, host);
            }
        }
        let ssh = &h.ssh;
        if let Some(client) = &ssh.openssh {
            // The system ssh finds its own keys, agent, certificates and known hosts (via
            // its configuration): only a key file the topology names is checked here.
            if let Some(key) = &client.key {
                note(Check::SshKey, key_problem(machine, key, None), host);
            }
            let cause = (!machine.program_found("ssh"))
                .then(|| "`ssh: { client: openssh }` needs the system ssh on PATH".to_string());
            note(Check::SshKey, cause, host);
            continue;
        }
        let cause = match &ssh.login.key {
            Some(key) => key_problem(machine, key, None),
            None => (!machine.variable_set("SSH_AUTH_SOCK"))
                .then(|| "no SSH key given and no agent ($SSH_AUTH_SOCK is not set)".into()),
        };
        note(Check::SshKey, cause, host);
        if let Some(cert) = &ssh.login.certificate {
            let cause = machine.unreadable(cert, true).map(|why| {
                format!(
                    "SSH certificate {} (`CertificateFile`): {why}",
                    cert.display()
                )
            });
            note(Check::SshKey, cause, host);
        }
        if ssh.login.strict_host_key_checking {
            let cause = known_host_problem(machine, &ssh.login, &h.address, None);
            note(Check::KnownHosts, cause, host);
        }
        // Every jump host's key is checked as strictly as the host's own, so it must be
        // known too; the finding names the jump host.
        for jump in &ssh.jumps {
            let name = Some(jump.name.as_str());
            let own_key = jump.login.key.as_ref();
            if let Some(key) = own_key.filter(|key| Some(*key) != ssh.login.key.as_ref()) {
                note(Check::SshKey, key_problem(machine, key, name), host);
            }
            if jump.login.strict_host_key_checking {
                let cause = known_host_problem(machine, &jump.login, &jump.address, name);
                note(Check::KnownHosts, cause, host);
            }
        }
    }
    let mut findings: Vec<Finding> = found
        .into_iter()
        .map(|((check, cause), hosts)| Finding {
            check,
            cause,
            hosts,
        })
        .collect();
    findings.sort_by(|a, b| (a.check, &a.cause).cmp(&(b.check, &b.cause)));
    Checklist {
        checked: Check::LOCAL
            .iter()
            .map(|c| (*c, checked.get(c).copied().unwrap_or(0)))
            .collect(),
        findings,
    }
}

/// Why the SSH key at `key` cannot be used, if it cannot; `jump` names the jump host it is for.
fn key_problem(machine: &impl Machine, key: &Path, jump: Option<&str>) -> Option<String> {
    let why = machine.unreadable(key, false)?;
    let key = key.display();
    Some(match jump {
        None => format!("SSH key {key}: {why}"),
        Some(name) => format!("SSH key {key} of jump host {name}: {why}"),
    })
}

/// Why strict host-key checking would refuse `address` for `login`, if it would: the
/// address is missing from its known_hosts file, or the file cannot be read. `jump` names
/// the jump host at `address`; `None` is the host itself.
fn known_host_problem(
    machine: &impl Machine,
    login: &SshLogin,
    address: &str,
    jump: Option<&str>,
) -> Option<String> {
    let file = login.known_hosts.display();
    match machine.known_host(&login.known_hosts, address, login.port) {
        Ok(true) => None,
        Ok(false) => Some(match jump {
            None => format!("not in known_hosts {file} (strict host-key checking refuses them)"),
            Some(name) => format!(
                "jump host {name} ({address}:{}) not in known_hosts {file} (strict host-key checking refuses it)",
                login.port
            ),
        }),
        Err(why) => Some(format!("known_hosts {file}: {why}")),
    }
}

/// The machine this process runs on. known_hosts files are read once each.
#[derive(Default)]
pub struct ThisMachine {
    known: RefCell<HashMap<PathBuf, Result<KnownHostsFile, String>>>,
}

impl Machine for ThisMachine {
    fn variable_set(&self, name: &str) -> bool {
        std::env::var_os(name).is_some_and(|value| !value.is_empty())
    }

    fn unreadable(&self, path: &Path, first_line: bool) -> Option<String> {
        use std::io::BufRead;
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(err) => return Some(io_why(&err)),
        };
        if !first_line {
            return None;
        }
        let mut line = String::new();
        match std::io::BufReader::new(file).read_line(&mut line) {
            Err(err) => Some(io_why(&err)),
            Ok(_) if line.trim_end_matches(['\r', '\n']).is_empty() => {
                Some("first line is empty".into())
            }
            Ok(_) => None,
        }
    }

    fn known_host(&self, known_hosts: &Path, address: &str, port: u16) -> Result<bool, String> {
        let mut cache = self.known.borrow_mut();
        let known = cache
            .entry(known_hosts.to_path_buf())
            .or_insert_with(|| KnownHostsFile::read(known_hosts));
        let known = known.as_ref().map_err(Clone::clone)?;
        Ok(known.lists(address, port))
    }

    fn program_found(&self, program: &str) -> bool {
        let executable = |path: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if program.contains('/') {
            return executable(Path::new(program));
        }
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
        })
    }
}

/// Why a file could not be read, in plain words.
fn io_why(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        kind => kind.to_string(),
    }
}

/// A bounded parallel sweep of the hosts' SSH ports: at most `parallel` connections at
/// once, each cut at `timeout`. BMCs are not swept: IPMI answers over UDP, which a connect
/// cannot confirm; the run's first power-status read finds dead BMCs within `bmc_timeout`.
/// Hosts that are off do not answer either, so the findings inform and do not stop a run.
pub async fn sweep_ssh(
    topology: Arc<Topology>,
    hosts: &[HostId],
    parallel: usize,
    timeout: Duration,
) -> Vec<Finding> {
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for &host in hosts {
        let (gate, topology) = (gate.clone(), topology.clone());
        tasks.spawn(async move {
            let _slot = gate.acquire_owned().await.ok()?;
            let h = &topology.hosts[host];
            // A host behind jump hosts is only reachable through them: sweep the first hop.
            let target = match h.ssh.jumps.first() {
                Some(jump) => (jump.address.as_str(), jump.login.port),
                None => (h.address.as_str(), h.ssh.login.port),
            };
            let cause =
                match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target)).await {
                    Ok(Ok(_)) => return None,
                    Ok(Err(err)) => format!("SSH port not answering ({})", err.kind()),
                    Err(_) => format!(
                        "SSH port not answering within {}",
                        crate::plan::human(timeout)
                    ),
                };
            Some((cause, host))
        });
    }
    let mut found: HashMap<String, Vec<HostId>> = HashMap::new();
    while let Some(result) = tasks.join_next().await {
        if let Ok(Some((cause, host))) = result {
            found.entry(cause).or_default().push(host);
        }
    }
    let mut findings: Vec<Finding> = found
        .into_iter()
        .map(|(cause, mut hosts)| {
            hosts.sort_unstable();
            Finding {
                check: Check::Reachability,
                cause,
                hosts,
            }
        })
        .collect();
    findings.sort_by(|a, b| a.cause.cmp(&b.cause));
    findings
}

#[cfg(test)]
mod tests;
