//! `Match exec` and `Include` as the topology loader sees them.

use crate::topology::load_str_alone;

fn yaml(extra: &str) -> String {
    format!(
        "version: 1\nname: t\ndefaults:\n  host:\n    ssh:\n      config: ssh_config\n{extra}\
         hosts:\n  - name: db1\n  - name: db2\nsubsystems:\n  - {{ name: s, hosts: [\"db[1:2]\"] }}\n"
    )
}

#[test]
fn match_exec_runs_only_when_the_topology_allows_it_and_is_warned_of_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag-db1");
    std::fs::write(&flag, "").unwrap();
    let config = format!(
        "Match exec \"test -e {}/flag-%h\"\n  User viaexec\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("ssh_config"), config).unwrap();
    let file = dir.path().join("t.yaml");
    let loaded = load_str_alone(&yaml(""), &file).unwrap();
    let text = loaded.warnings.to_string();
    assert!(text.contains("ssh_config:1: `Match exec"), "{text}");
    assert!(text.contains("match_exec: true"), "{text}");
    assert_eq!(
        loaded.topology.hosts[0].ssh.login.user, "root",
        "not run, no block"
    );
    let loaded = load_str_alone(&yaml("      match_exec: true\n"), &file).unwrap();
    assert!(
        loaded.warnings.to_string().is_empty(),
        "{}",
        loaded.warnings
    );
    let hosts = &loaded.topology.hosts;
    assert_eq!(
        hosts[0].ssh.login.user, "viaexec",
        "exit 0: the block applies"
    );
    assert_eq!(hosts[1].ssh.login.user, "root", "exit 1 for db2");
}

#[test]
fn an_included_file_s_settings_and_errors_reach_the_topology_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("fleet.conf"), "Host db*\n  User fromincluded\n").unwrap();
    let config = format!("Include {0}/fleet.conf {0}/nothing-*\n", d.display());
    std::fs::write(d.join("ssh_config"), config).unwrap();
    let file = d.join("t.yaml");
    let loaded = load_str_alone(&yaml(""), &file).unwrap();
    assert_eq!(loaded.topology.hosts[0].ssh.login.user, "fromincluded");
    let text = loaded.warnings.to_string();
    assert!(
        text.contains("ssh_config:1: `Include ") && text.contains("names no file"),
        "{text}"
    );
    std::fs::write(d.join("fleet.conf"), "Host db*\n  Port nope\n").unwrap();
    let err = load_str_alone(&yaml(""), &file).unwrap_err().to_string();
    assert!(err.contains("ssh_config:1: in the included file"), "{err}");
    assert!(err.contains("fleet.conf:2: Port"), "{err}");
}
