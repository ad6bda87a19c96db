use std::collections::HashSet;
use std::path::Path;

use super::*;
use crate::load::load_str;

const TOPOLOGY: &str = r#"
name: checks
defaults:
  host:
    ssh: { key: /keys/id, known_hosts: /kh/fleet }
hosts:
  - { name: "h[1:5]", address: "10.9.9.[1:5]", rack: r1, bmc: { address: "10.8.8.[1:5]", password_env: CHECKS_BMC, client: ipmitool } }
  - { name: nobmc, address: 10.9.9.9, ssh: { key: /keys/other, strict_host_key_checking: false } }
subsystems:
  - { name: a, hosts: ["h[1:5]", nobmc], start: "true", health: { tcp: 1 } }
"#;

/// A machine described by what it has.
#[derive(Default)]
struct Fake {
    variables: HashSet<&'static str>,
    files: HashSet<&'static str>,
    known: HashSet<&'static str>,
    programs: HashSet<&'static str>,
}

impl Machine for Fake {
    fn variable_set(&self, name: &str) -> bool {
        self.variables.contains(name)
    }
    fn unreadable(&self, path: &Path, _first_line: bool) -> Option<String> {
        (!self.files.contains(path.to_str().unwrap())).then(|| "not found".into())
    }
    fn known_host(&self, file: &Path, address: &str, _port: u16) -> Result<bool, String> {
        if !self.files.contains(file.to_str().unwrap()) {
            return Err("not found".into());
        }
        Ok(self.known.contains(address))
    }
    fn program_found(&self, program: &str) -> bool {
        self.programs.contains(program)
    }
}

fn topology() -> Topology {
    load_str(TOPOLOGY, Path::new("checks.yaml"))
        .unwrap()
        .topology
}

fn all_hosts(topology: &Topology) -> Vec<HostId> {
    (0..topology.hosts.len()).collect()
}

#[test]
fn an_unset_password_variable_is_one_finding_for_every_host_it_affects() {
    let topology = topology();
    let machine = Fake {
        files: ["/keys/id", "/keys/other", "/kh/fleet"].into(),
        known: ["10.9.9.1", "10.9.9.2", "10.9.9.3", "10.9.9.4", "10.9.9.5"].into(),
        programs: ["ipmitool"].into(),
        ..Fake::default()
    };
    let list = check(&topology, &all_hosts(&topology), &machine);
    assert_eq!(list.findings.len(), 1, "{:?}", list.findings);
    let finding = &list.findings[0];
    assert_eq!(finding.check, Check::BmcPassword);
    assert_eq!(
        finding.cause,
        "BMC password: environment variable $CHECKS_BMC is not set"
    );
    assert_eq!(
        finding.hosts,
        vec![0, 1, 2, 3, 4],
        "the host without a BMC needs none"
    );
    assert!(
        list.checked.contains(&(Check::KnownHosts, 5)),
        "not checked where strict checking is off"
    );
}

#[test]
fn each_missing_thing_is_its_own_cause() {
    let topology = topology();
    let machine = Fake {
        variables: ["CHECKS_BMC"].into(),
        files: ["/keys/id", "/kh/fleet"].into(),
        known: ["10.9.9.1", "10.9.9.2", "10.9.9.3"].into(),
        ..Fake::default()
    };
    let list = check(&topology, &all_hosts(&topology), &machine);
    let causes: Vec<(Check, usize)> = list
        .findings
        .iter()
        .map(|f| (f.check, f.hosts.len()))
        .collect();
    assert_eq!(
        causes,
        vec![
            (Check::PowerTool, 5),
            (Check::SshKey, 1),
            (Check::KnownHosts, 2)
        ]
    );
    assert!(list.findings[2]
        .cause
        .contains("not in known_hosts /kh/fleet"));
    assert!(!list.passed());
}

/// The native IPMI client runs inside blackstart: no `ipmitool` needed for its BMCs.
#[test]
fn the_native_ipmi_client_needs_no_ipmitool() {
    let source = TOPOLOGY.replace(", client: ipmitool", "");
    let topology = load_str(&source, Path::new("checks.yaml"))
        .unwrap()
        .topology;
    let machine = Fake {
        variables: ["CHECKS_BMC"].into(),
        files: ["/keys/id", "/keys/other", "/kh/fleet"].into(),
        known: ["10.9.9.1", "10.9.9.2", "10.9.9.3", "10.9.9.4", "10.9.9.5"].into(),
        ..Fake::default()
    };
    let list = check(&topology, &all_hosts(&topology), &machine);
    assert!(list.passed(), "{:?}", list.findings);
    assert!(
        list.checked.contains(&(Check::PowerTool, 0)),
        "{:?}",
        list.checked
    );
}

#[test]
fn a_jump_host_missing_from_known_hosts_is_named_for_the_hosts_behind_it() {
    let source = "name: j\ndefaults:\n  host:\n    ssh: { key: /keys/id, known_hosts: /kh/fleet, \
                  config: none, proxy_jump: \"ops@bastion:2222\" }\n\
                  hosts:\n  - { name: \"h[1:2]\", address: \"10.9.9.[1:2]\" }\n\
                  subsystems:\n  - { name: a, hosts: [\"h[1:2]\"], start: \"true\" }\n";
    let topology = load_str(source, Path::new("j.yaml")).unwrap().topology;
    let machine = Fake {
        files: ["/keys/id", "/kh/fleet"].into(),
        known: ["10.9.9.1", "10.9.9.2"].into(),
        ..Fake::default()
    };
    let list = check(&topology, &all_hosts(&topology), &machine);
    let finding = list
        .findings
        .iter()
        .find(|f| f.check == Check::KnownHosts)
        .expect("the jump host is not known");
    assert_eq!(finding.hosts, vec![0, 1]);
    assert!(
        finding.cause.contains("jump host bastion (bastion:2222)"),
        "{}",
        finding.cause
    );
}

/// A host on the system ssh: its known hosts and agent are ssh's business; a written key and
/// the `ssh` program itself are checked.
#[test]
fn a_host_on_the_system_ssh_needs_ssh_on_path_and_its_written_key_only() {
    let yaml = "name: o\nhosts:\n  - { name: o1, address: 10.9.9.1, ssh: { client: openssh, key: /keys/id } }\n\
                subsystems:\n  - { name: a, hosts: [o1], start: \"true\" }\n";
    let topology = load_str(yaml, Path::new("o.yaml")).unwrap().topology;
    let hosts = all_hosts(&topology);
    let machine = Fake {
        files: ["/keys/id"].into(),
        ..Fake::default()
    };
    let list = check(&topology, &hosts, &machine);
    let causes: Vec<&str> = list.findings.iter().map(|f| f.cause.as_str()).collect();
    assert_eq!(
        causes,
        ["`ssh: { client: openssh }` needs the system ssh on PATH"],
        "no known_hosts or agent finding"
    );
    let machine = Fake {
        files: ["/keys/id"].into(),
        programs: ["ssh"].into(),
        ..Fake::default()
    };
    assert!(check(&topology, &hosts, &machine).passed());
}
