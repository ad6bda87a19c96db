//! `ssh: { client: openssh }` against real sshd: the system `ssh` runs the fleet with one
//! ControlMaster per host (the boot poll's login carries the start and the command checks),
//! reaches an sshd that allows only post-quantum key exchange (which the built-in client
//! refuses, naming `client: openssh`), and follows a `ProxyCommand` bastion (in network
//! namespaces, as the jump lab does). Every wait is bounded.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use support::cli::{blackstart, read_journal, ready_times, run_in, text, BIN};
use support::lab::{wait_until, Lab, LabSecret};
use support::netns::{NetLab, JUMP_OUTER};

const LIMIT: Duration = Duration::from_secs(60);

/// The lab's topology with every host on the system ssh.
fn openssh_yaml(lab: &Lab, subsystems: &str) -> String {
    lab.topology_yaml(LabSecret::File, subsystems)
        .replacen(
            "      connect_timeout: 3s\n",
            "      connect_timeout: 3s\n      client: openssh\n",
            1,
        )
        .replacen("    boot: 10s\n", "    boot: 2s\n", 1)
}

/// Shell text appending `$SSH_CONNECTION` and `word` to the host's own log in the lab: which
/// TCP connection (client port included) carried each command.
fn log_connection(lab: &Lab, word: &str) -> String {
    format!(
        "echo \"$SSH_CONNECTION {word}\" >> {}/run/conn-$LAB_HOST.log",
        lab.dir.display()
    )
}

/// Per host: `(distinct client ports, start lines, check lines)` from the connection logs.
fn connections(lab: &Lab) -> BTreeMap<String, (BTreeSet<String>, usize, usize)> {
    let mut seen = BTreeMap::new();
    for host in &lab.hosts {
        let log = lab.dir.join(format!("run/conn-{}.log", host.name));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let entry = seen
            .entry(host.name.clone())
            .or_insert_with(|| (BTreeSet::new(), 0, 0));
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let [_, port, _, _, word] = fields[..] {
                entry.0.insert(port.to_string());
                match word {
                    "start" => entry.1 += 1,
                    _ => entry.2 += 1,
                }
            }
        }
    }
    seen
}

/// ssh processes still running as a ControlMaster for one of the lab's hosts.
fn masters_left(lab: &Lab) -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("ControlMaster=yes")
            && lab.hosts.iter().any(|h| cmdline.contains(&h.address))
        {
            left.push(cmdline);
        }
    }
    left
}

#[test]
fn a_fleet_over_the_system_ssh_starts_once_and_checks_through_one_master_per_host() {
    let lab = Lab::start("oa", (88, 10), 3);
    let names: Vec<String> = lab.hosts.iter().map(|h| h.name.clone()).collect();
    let start = format!(
        "{}; touch {}/run/up-$LAB_HOST",
        log_connection(&lab, "start"),
        lab.dir.display()
    );
    let check = format!(
        "{}; test -e {}/run/up-$LAB_HOST",
        log_connection(&lab, "check"),
        lab.dir.display()
    );
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let subsystems = format!(
        "subsystems:\n  - name: base\n    hosts: [\"{}\"]\n    start: {start}\n    \
         health: {{ command: {check} }}\n    health_policy: {{ interval: 100ms, timeout: 3s, successes: 2 }}\n  \
         - name: app\n    hosts: [\"{}\", \"{}\"]\n    requires: [base]\n    start: {start}\n    \
         health: {{ command: {check} }}\n    health_policy: {{ interval: 100ms, timeout: 3s, successes: 2 }}\n",
        names[0],
        names[1],
        names[2],
        start = q(&start),
        check = q(&check),
    );
    let file = lab.write_topology_text(&openssh_yaml(&lab, &subsystems));

    let plan = blackstart(&["plan", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let document: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let first = &document["nodes"][0];
    assert_eq!(first["ssh_client"], "openssh", "{first}");
    assert_eq!(
        first["ssh_route"],
        format!("root@{}:22 (system ssh)", lab.hosts[0].address),
        "the route as `ssh -G` resolves it"
    );
    let validated = blackstart(&["validate", file.to_str().unwrap()]);
    assert!(
        text(&validated).contains("3 system ssh (client: openssh)"),
        "{}",
        text(&validated)
    );

    let run_dir = lab.dir.join("run-fleet");
    let began = Instant::now();
    let output = run_in(&file, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    eprintln!(
        "figure: cold start of 3 hosts over the system ssh in {:?}",
        began.elapsed()
    );
    let ready = ready_times(&read_journal(&run_dir));
    assert!(
        ready.contains_key("base") && ready.contains_key("app"),
        "{shown}"
    );
    for (host, (ports, starts, checks)) in connections(&lab) {
        assert_eq!(starts, 1, "{host}: started once; {shown}");
        assert!(checks >= 2, "{host}: its checks ran over SSH ({checks})");
        assert_eq!(
            ports.len(),
            1,
            "{host}: the start and every check came over one connection (the master): {ports:?}"
        );
    }
    let closed = wait_until(Duration::from_secs(5), || masters_left(&lab).is_empty());
    assert!(
        closed,
        "every master closed at the end: {:?}",
        masters_left(&lab)
    );

    // The figure of the issue: one login and `true` per host, each client, the hosts up.
    let (over_openssh, openssh_time) = exec_time(&file);
    assert_eq!(
        over_openssh.status.code(),
        Some(0),
        "{}",
        text(&over_openssh)
    );
    let builtin = lab.dir.join("builtin.yaml");
    let yaml = std::fs::read_to_string(&file)
        .unwrap()
        .replace("      client: openssh\n", "");
    std::fs::write(&builtin, yaml).unwrap();
    let (over_builtin, builtin_time) = exec_time(&builtin);
    assert_eq!(
        over_builtin.status.code(),
        Some(0),
        "{}",
        text(&over_builtin)
    );
    eprintln!(
        "figures: exec true on 3 hosts (login + command), built-in {builtin_time:?}, system ssh {openssh_time:?}"
    );
}

/// Wall time of `blackstart exec FILE --all -- true` (one login per host, one command).
fn exec_time(file: &std::path::Path) -> (std::process::Output, Duration) {
    let began = Instant::now();
    let output = blackstart(&["exec", file.to_str().unwrap(), "--all", "--", "true"]);
    (output, began.elapsed())
}

#[test]
fn an_sshd_allowing_only_post_quantum_kex_is_reached_by_openssh_and_refused_by_the_builtin_client()
{
    let lab = Lab::start("ob", (88, 12), 2);
    let config = lab.hosts[0].dir.join("sshd_config");
    let mut text_config = std::fs::read_to_string(&config).unwrap();
    text_config.push_str("KexAlgorithms sntrup761x25519-sha512@openssh.com\n");
    std::fs::write(&config, text_config).unwrap();
    lab.power_on(0);
    lab.power_on(1);

    let stub = format!(
        "subsystems:\n  - {{ name: s, hosts: [\"{}\"], start: \"true\" }}\n",
        lab.hosts[0].name
    );
    let builtin = lab.write_topology_text(&lab.topology_yaml(LabSecret::File, &stub).replacen(
        "    boot: 10s\n",
        "    boot: 2s\n",
        1,
    ));
    let builtin_file = lab.dir.join("builtin.yaml");
    std::fs::rename(&builtin, &builtin_file).unwrap();
    let (refused, builtin_time) = exec_time(&builtin_file);
    let refused_text = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{refused_text}");
    assert!(
        refused_text.contains("client: openssh") && refused_text.contains(&lab.hosts[0].name),
        "the built-in client names the way out: {refused_text}"
    );

    let openssh = lab.write_topology_text(&openssh_yaml(&lab, &stub));
    let (reached, openssh_time) = exec_time(&openssh);
    assert_eq!(reached.status.code(), Some(0), "{}", text(&reached));
    // The figure of the issue: a login and `true` on two hosts, one command each way (the
    // built-in side includes its refusal of host 1, which ends at the handshake).
    eprintln!(
        "figures: exec true on 2 hosts, built-in {builtin_time:?}, system ssh {openssh_time:?}"
    );
}

#[test]
fn a_host_behind_a_proxycommand_bastion_is_reached_through_it_with_client_openssh() {
    let lab = NetLab::start('o', 1);
    let key = lab.client_key.display().to_string();
    let known = lab.dir.join("known_hosts");
    let mut lines = format!("{JUMP_OUTER} {}\n", lab.jump_key);
    for (address, host_key) in &lab.hosts {
        lines.push_str(&format!("{address} {host_key}\n"));
    }
    std::fs::write(&known, lines).unwrap();
    let config = format!(
        "Host h1\n  HostName {h1}\n  User root\n  ProxyCommand ssh -F none -i {key} \
         -o UserKnownHostsFile={kh} -o BatchMode=yes -W %h:%p root@{JUMP_OUTER}\n",
        h1 = lab.hosts[0].0,
        kh = known.display(),
    );
    std::fs::write(lab.dir.join("ssh_config"), config).unwrap();
    let topology = |client: &str| {
        let yaml = format!(
            "version: 1\nname: proxylab\ndefaults:\n  host:\n    ssh:\n      config: ssh_config\n      \
             key: client_key\n      known_hosts: known_hosts\n      connect_timeout: 5s\n{client}\
             hosts:\n  - name: h1\nsubsystems:\n  - name: db\n    hosts: [h1]\n    start: \"true\"\n"
        );
        let path = lab.dir.join(format!("topology{}.yaml", client.len()));
        std::fs::write(&path, yaml).unwrap();
        path.to_string_lossy().into_owned()
    };
    let builtin = topology("");
    let (refused, _) = lab.run_in("orch", BIN, &["validate", &builtin], LIMIT);
    let refused_text = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{refused_text}");
    assert!(
        refused_text.contains("ProxyCommand") && refused_text.contains("client: openssh"),
        "{refused_text}"
    );

    let file = topology("      client: openssh\n");
    let (output, took) = lab.run_in(
        "orch",
        BIN,
        &[
            "exec",
            &file,
            "--all",
            "--show-output",
            "--",
            "ip -o -4 addr",
        ],
        LIMIT,
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains(&lab.hosts[0].0),
        "the command ran on h1: {shown}"
    );
    let jump_log = std::fs::read_to_string(lab.dir.join("jump/auth.log")).unwrap_or_default();
    assert!(
        jump_log.contains("Accepted publickey"),
        "the route went through the bastion: {jump_log}"
    );
    eprintln!("figure: exec through a ProxyCommand bastion with the system ssh in {took:?}");
}
