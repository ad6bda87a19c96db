//! Hosts reachable only through a jump host, described in an OpenSSH client configuration:
//! real sshd in network namespaces (see `support/netns.rs`), `blackstart exec` run inside the
//! orchestrator's namespace. Every wait is bounded; namespaces are removed on drop.

mod support;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use support::netns::{NetLab, JUMP_INNER, JUMP_OUTER};

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");
const LIMIT: Duration = Duration::from_secs(60);

fn text(output: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// known_hosts naming the jump host on both its addresses with `jump_key`, and every host.
fn write_known_hosts(lab: &NetLab, jump_key: &str) -> PathBuf {
    let mut lines = format!("{JUMP_OUTER} {jump_key}\n{JUMP_INNER} {jump_key}\n");
    for (address, key) in &lab.hosts {
        lines.push_str(&format!("{address} {key}\n"));
    }
    let path = lab.dir.join("known_hosts");
    std::fs::write(&path, lines).unwrap();
    path
}

/// The fleet's OpenSSH configuration: `h1` behind `jump` (one hop), `h2` behind two hops
/// (the jump host, then the jump host again on its inner address), the jump host's own block
/// excluded from the `h*` pattern by negation.
fn write_ssh_config(lab: &NetLab) -> PathBuf {
    let config = format!(
        "# the fleet behind the bastion\n\
         Host jump\n  HostName {JUMP_OUTER}\n  User root\n  ConnectTimeout 3\n\
         Host h2\n  ProxyJump jump,root@{JUMP_INNER}:22\n\
         Host h* !jump\n  ProxyJump jump\n  User root\n\
         Host h1\n  HostName {h1}\n\
         Host h2\n  HostName {h2}\n",
        h1 = lab.hosts[0].0,
        h2 = lab.hosts[1].0,
    );
    let path = lab.dir.join("ssh_config");
    std::fs::write(&path, config).unwrap();
    path
}

/// A topology of hosts `h1`, `h2` using the lab's ssh_config; `extra` goes under
/// `defaults.host.ssh`.
fn write_topology(lab: &NetLab, extra: &str) -> String {
    let yaml = format!(
        "version: 1\nname: jumplab\ndefaults:\n  host:\n    ssh:\n      config: ssh_config\n      \
         key: client_key\n      known_hosts: known_hosts\n      connect_timeout: 3s\n{extra}\
         hosts:\n  - name: h1\n  - name: h2\n\
         subsystems:\n  - name: db\n    hosts: [h1, h2]\n    start: \"true\"\n"
    );
    let path = lab.dir.join("topology.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn hosts_behind_a_jump_host_answer_through_it_and_the_plan_shows_the_route() {
    let lab = NetLab::start('a', 2);
    write_known_hosts(&lab, &lab.jump_key);
    write_ssh_config(&lab);
    let file = write_topology(&lab, "");
    let h1 = &lab.hosts[0].0;

    let (plan, _) = lab.run_in("orch", BIN, &["plan", &file], LIMIT);
    let plan_text = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{plan_text}");
    assert!(
        plan_text.contains(&format!("root@{h1}:22 via root@{JUMP_OUTER}:22")),
        "{plan_text}"
    );

    // The hosts are not reachable directly from the orchestrator's namespace.
    let direct = write_topology(&lab, "      proxy_jump: none\n");
    let (output, _) = lab.run_in(
        "orch",
        BIN,
        &["exec", &direct, "--all", "--", "true"],
        LIMIT,
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("2 hosts: 0 ok, 2 failed"), "{out}");

    // Through the jump host: each host sees the session come from the jump host's inner
    // address, one hop for h1 and two for h2.
    let file = write_topology(&lab, "");
    let (output, via) = lab.run_in(
        "orch",
        BIN,
        &[
            "exec",
            &file,
            "--all",
            "--show-output",
            "--",
            "echo from=${SSH_CONNECTION%% *}",
        ],
        LIMIT,
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("2 hosts: 2 ok, 0 failed"), "{out}");
    assert_eq!(
        out.matches(&format!("out| from={JUMP_INNER}\n")).count(),
        2,
        "{out}"
    );
    for host in ["h1", "h2"] {
        assert!(out.contains(&format!("{host}: exit 0")), "{out}");
    }

    // A run carries out the plan through the jump host as well: the hosts have no BMC, so
    // SSH through the jump host decides that they are up, and each is started once.
    let run_dir = lab.dir.join("run");
    let jump_logins = || {
        std::fs::read_to_string(lab.dir.join("jump/auth.log"))
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    };
    let before = jump_logins();
    let (output, _) = lab.run_in(
        "orch",
        BIN,
        &[
            "run",
            &file,
            "--run-dir",
            run_dir.to_str().unwrap(),
            "--yes",
        ],
        LIMIT,
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"action\":\"start\"").count(),
        2,
        "one start per host: {journal}"
    );
    assert_eq!(
        journal.matches("\"event\":\"ssh_ready\"").count(),
        2,
        "{journal}"
    );
    // The route's login is kept: the session that found a host up runs its start too, so
    // the jump host sees one login per hop through it (h1's route passes it once, h2's
    // twice), not one per command.
    assert!(before > 0, "the jump host logs its logins");
    assert_eq!(jump_logins() - before, 3, "one login per hop: {out}");

    // Figures: one `true` straight to the jump host, and one to h1 through it.
    let jump_only = lab.dir.join("jump.yaml");
    std::fs::write(
        &jump_only,
        format!(
            "version: 1\nname: jumponly\ndefaults:\n  host:\n    ssh:\n      config: none\n      \
             key: client_key\n      known_hosts: known_hosts\nhosts:\n  - name: jump\n    \
             address: {JUMP_OUTER}\nsubsystems:\n  - name: s\n    hosts: [jump]\n    start: \"true\"\n"
        ),
    )
    .unwrap();
    let jump_file = jump_only.to_string_lossy().into_owned();
    let (direct_out, direct) = lab.run_in(
        "orch",
        BIN,
        &["exec", &jump_file, "--all", "--", "true"],
        LIMIT,
    );
    assert_eq!(direct_out.status.code(), Some(0), "{}", text(&direct_out));
    let (one, one_hop) = lab.run_in(
        "orch",
        BIN,
        &["exec", &file, "--host", "h1", "--", "true"],
        LIMIT,
    );
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    eprintln!(
        "figures: exec true direct {direct:?}, one host via 1 hop {one_hop:?}, two hosts (1 and 2 hops) {via:?}"
    );
}

#[test]
fn a_changed_jump_host_key_is_refused_and_the_jump_host_named() {
    let lab = NetLab::start('b', 2);
    // Another machine's key stands in for the jump host's: as if it had been replaced.
    write_known_hosts(&lab, &lab.hosts[0].1.clone());
    write_ssh_config(&lab);
    let file = write_topology(&lab, "");
    let (output, _) = lab.run_in(
        "orch",
        BIN,
        &["exec", &file, "--host", "h1", "--", "true"],
        LIMIT,
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("jump host jump ({JUMP_OUTER}:22)")),
        "{out}"
    );
    assert!(out.contains("DIFFERS"), "{out}");
    assert!(!out.contains("h1: exit 0"), "{out}");
}
