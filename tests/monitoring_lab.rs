//! Incident 4 (a monitoring provider after a datacenter fire, INCIDENTS.md) on the lab: a
//! copy-shaped `playbooks/monitoring-restore.yaml` over real sshd hosts. The stack comes back
//! S1, then S2, then S3; between severities a person pushes that severity's replacement
//! checks with `blackstart exec` over the Ansible inventory's group and acknowledges; the
//! live page is served from the run directory to a reader other than the operator.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use blackstart::event::Event;
use blackstart::journal::{Entry, Record};
use support::cli::{
    blackstart, read_journal, ready_times, spawn, spawn_run, starts, status_times, text,
    wait_bounded, wait_for_journal, RUN_LIMIT,
};
use support::lab::{wait_until, Lab, LabSecret};

/// The stack's subsystems by severity, as in the shipped topology.
const TIERS: [&[&str]; 3] = [
    &["alert-router", "dead-mans-switch", "tsdb-s1"],
    &["tsdb-s2", "status-page"],
    &["long-term-store", "dashboards"],
];
/// Each severity's push step, its inventory group, its check's name and who pushes it.
const PUSHES: [(&str, &str, &str, &str); 3] = [
    (
        "push-s1-checks",
        "s1_targets",
        "s1-reachability",
        "oncall-anna",
    ),
    ("push-s2-checks", "s2_targets", "s2-health", "oncall-ben"),
    ("push-s3-checks", "s3_targets", "s3-capacity", "oncall-chen"),
];

/// A served page, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Nine lab hosts: mf1..mf3 run the stack (core, tsdb, web); mf4..mf9 are watched hosts,
/// known only from the inventory, two per severity group.
fn write_files(lab: &Lab) -> (PathBuf, PathBuf) {
    let q = |text: &str| serde_json::to_string(text).unwrap();
    let name = |i: usize| lab.hosts[i].name.clone();
    let mut inventory = String::from("# watched hosts, as configuration management knows them\n");
    for (group, (_, ansible_group, _, _)) in PUSHES.iter().enumerate() {
        inventory += &format!("[{ansible_group}]\n");
        for host in &lab.hosts[3 + 2 * group..5 + 2 * group] {
            inventory += &format!("{} ansible_host={}\n", host.name, host.address);
        }
    }
    let inventory_path = lab.dir.join("targets.ini");
    std::fs::write(&inventory_path, inventory).unwrap();

    let service = |port: u16| q(&lab.service_command(port, 0.1, ""));
    let subsystems = format!(
        "hosts_from:
  - ansible: {inventory}
subsystems:
  - {{ name: alert-router, tier: S1, hosts: [{core}], start: {a}, health: {{ tcp: 9093 }} }}
  - {{ name: dead-mans-switch, tier: S1, hosts: [{core}], requires: [alert-router], start: {b}, health: {{ tcp: 9094 }} }}
  - {{ name: tsdb-s1, tier: S1, hosts: [{tsdb}], requires: [alert-router], start: {c}, health: {{ tcp: 9090 }} }}
  - {{ name: tsdb-s2, tier: S2, hosts: [{tsdb}], requires: [alert-router], start: {d}, health: {{ tcp: 9091 }} }}
  - {{ name: status-page, tier: S2, hosts: [{web}], requires: [alert-router], start: {e}, health: {{ tcp: 8443 }} }}
  - {{ name: long-term-store, tier: S3, hosts: [{tsdb}], requires: [tsdb-s2], start: {f}, health: {{ tcp: 10901 }} }}
  - {{ name: dashboards, tier: S3, hosts: [{web}], requires: [long-term-store], start: {g}, health: {{ tcp: 3000 }} }}
",
        inventory = q(&inventory_path.to_string_lossy()),
        core = name(0),
        tsdb = name(1),
        web = name(2),
        a = service(9093),
        b = service(9094),
        c = service(9090),
        d = service(9091),
        e = service(8443),
        f = service(10901),
        g = service(3000),
    );
    // The watched hosts come from the inventory, not from `hosts:`.
    let mut yaml = lab.topology_yaml(LabSecret::File, &subsystems);
    for host in &lab.hosts[3..] {
        let entry = format!(
            "  - name: {}\n    address: {}\n    rack: {}\n",
            host.name, host.address, host.rack
        );
        assert!(yaml.contains(&entry), "{entry} in {yaml}");
        yaml = yaml.replacen(&entry, "", 1);
    }
    let topology = lab.write_topology_text(&yaml);

    let befores = ["[tsdb-s2, status-page]", "[long-term-store]", "[]"];
    let afters = [
        "[dead-mans-switch, tsdb-s1]",
        "[tsdb-s2, status-page]",
        "[dashboards]",
    ];
    let mut playbook = format!(
        "playbook: monitoring-restore\ntopology: {}\npolicy:\n  on_failure: continue\nmanual:\n",
        q(&topology.to_string_lossy())
    );
    for (i, (step, group, check, _)) in PUSHES.iter().enumerate() {
        playbook += &format!(
            "  - name: {step}\n    after: {}\n    before: {}\n    instructions: Push the checks to the {group} group with blackstart exec.\n    verify:\n      host: {}\n      command: {}\n",
            afters[i],
            befores[i],
            name(3 + 2 * i),
            q(&format!("test -x \"$LAB_DIR/checks/$LAB_ADDRESS/{check}\"")),
        );
    }
    let playbook_path = lab.dir.join("monitoring-restore.yaml");
    std::fs::write(&playbook_path, playbook).unwrap();
    (topology, playbook_path)
}

/// The shell command that installs check `check` on the host it runs on.
fn install_check(check: &str) -> String {
    format!(
        "mkdir -p \"$LAB_DIR/checks/$LAB_ADDRESS\" && printf '#!/bin/sh\\necho ok\\n' > \"$LAB_DIR/checks/$LAB_ADDRESS/{check}\" && chmod +x \"$LAB_DIR/checks/$LAB_ADDRESS/{check}\""
    )
}

/// The hosts (by address) that hold check `check`.
fn holding(lab: &Lab, check: &str) -> Vec<String> {
    lab.hosts
        .iter()
        .filter(|h| lab.dir.join("checks").join(&h.address).join(check).exists())
        .map(|h| h.name.clone())
        .collect()
}

/// The token readers of the live page are given (made up per run, never a real secret).
fn reader_token() -> String {
    format!("reader-{}", std::process::id())
}

/// The page served at `addr` to a reader with the token, once it is whole and `wanted`
/// holds (bounded).
fn page_where(addr: &str, wanted: impl Fn(&str) -> bool) -> String {
    let mut page = String::new();
    let path = format!("/?token={}", reader_token());
    let served = wait_until(Duration::from_secs(20), || {
        page = support::http::get_path(addr, &path).unwrap_or_default();
        page.contains("</html>") && wanted(&page)
    });
    assert!(served, "the page on {addr}:\n{page}");
    page
}

fn acknowledged(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::Acknowledged { by, .. },
                step: Some(step),
                ..
            } => Some((step.clone(), by.clone())),
            _ => None,
        })
        .collect()
}

fn step_of(label: &str) -> &str {
    label.split(" on ").next().unwrap()
}

#[test]
fn monitoring_comes_back_s1_then_s2_then_s3_with_checks_pushed_over_the_inventory() {
    let lab = Lab::start_fleet("mf", (103, 13), 9, 0);
    let (topology, playbook) = write_files(&lab);
    let run_dir = lab.dir.join("run");
    let child = spawn_run(&playbook, &run_dir);
    // Someone other than the operator follows the run from its directory.
    assert!(
        wait_until(Duration::from_secs(20), || run_dir
            .join("journal.jsonl")
            .exists()),
        "the run began"
    );
    let addr = "127.103.14.250:18026";
    let token = reader_token();
    let _served = Served(spawn(&[
        "serve",
        run_dir.to_str().unwrap(),
        "--addr",
        addr,
        "--token",
        &token,
    ]));
    let refused = wait_until(Duration::from_secs(20), || {
        support::http::get(addr).is_some_and(|answer| answer.starts_with("HTTP/1.1 401"))
    });
    assert!(refused, "without the token the page is refused");

    for (tier, (step, group, check, by)) in PUSHES.iter().enumerate() {
        let shown = wait_for_journal(&run_dir, RUN_LIMIT, |r| {
            status_times(r, "active").contains_key(*step)
        });
        assert!(shown, "{step} was presented");
        let records = read_journal(&run_dir);
        let ready = ready_times(&records);
        for done in TIERS[..=tier].iter().flat_map(|t| t.iter()) {
            assert!(ready.contains_key(*done), "{done} ready before {step}");
        }
        let later: Vec<String> = starts(&records)
            .into_iter()
            .map(|(label, _)| label)
            .filter(|label| {
                TIERS[tier + 1..]
                    .iter()
                    .any(|t| t.contains(&step_of(label)))
            })
            .collect();
        assert!(later.is_empty(), "started before {step}: {later:?}");
        let waiting = format!("WAITING {step} for a person");
        let page = page_where(addr, |page| page.contains(&waiting));
        assert!(
            TIERS[tier].iter().all(|s| page.contains(s)),
            "the live page shows the severity: {page}"
        );

        // The push: one command over the inventory's group, as the instructions say.
        let label = format!("group.{group}=true");
        let pushed = blackstart(&[
            "exec",
            topology.to_str().unwrap(),
            "--label",
            &label,
            "--timeout",
            "20s",
            "--",
            &install_check(check),
        ]);
        assert_eq!(pushed.status.code(), Some(0), "{}", text(&pushed));
        let expected: Vec<String> = lab.hosts[3 + 2 * tier..5 + 2 * tier]
            .iter()
            .map(|h| h.name.clone())
            .collect();
        assert_eq!(holding(&lab, check), expected, "{check} on its group only");
        let ack = blackstart(&["ack", run_dir.to_str().unwrap(), step, "--by", by]);
        assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    }
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let records = read_journal(&run_dir);
    let ready = ready_times(&records);
    let first_start: HashMap<String, u64> =
        starts(&records)
            .into_iter()
            .fold(HashMap::new(), |mut first, (label, at)| {
                first.entry(step_of(&label).to_string()).or_insert(at);
                first
            });
    for tier in 1..TIERS.len() {
        let before = TIERS[tier - 1].iter().map(|s| ready[*s]).max().unwrap();
        let after = TIERS[tier].iter().map(|s| first_start[*s]).min().unwrap();
        assert!(
            before <= after,
            "S{} all ready at {before} ms, S{} first started at {after} ms",
            tier,
            tier + 1
        );
    }
    let expected: Vec<(String, String)> = PUSHES
        .iter()
        .map(|(step, _, _, by)| (step.to_string(), by.to_string()))
        .collect();
    assert_eq!(
        acknowledged(&records),
        expected,
        "who pushed what, in order"
    );
    // The reader's page ends with every step ready: the stack, each push and its check.
    let steps = TIERS.iter().map(|t| t.len()).sum::<usize>() + 2 * PUSHES.len();
    let all_ready = format!("<b>{steps}/{steps}</b> steps ready");
    let page = page_where(addr, |page| page.contains(&all_ready));
    assert!(!page.contains("WAITING"), "{page}");
}

#[test]
fn the_shipped_monitoring_files_validate_cleanly_and_plan_s1_before_s2_before_s3() {
    // The shipped files carry example addresses: validated and planned, never run.
    for file in [
        "topologies/monitoring-fire.yaml",
        "playbooks/monitoring-restore.yaml",
    ] {
        let output = blackstart(&["validate", file]);
        assert_eq!(output.status.code(), Some(0), "{file}: {}", text(&output));
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("warning"),
            "{file} validates without warnings: {}",
            text(&output)
        );
    }
    let output = blackstart(&["plan", "playbooks/monitoring-restore.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let shown = String::from_utf8(output.stdout).unwrap();
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("3 manual steps (push-s1-checks, push-s2-checks, push-s3-checks)"),
        "{shown}"
    );
    assert!(
        flat.contains("--label group.s1_targets=true"),
        "the push command is in the plan: {shown}"
    );
    // The plan's ETA per severity, in order.
    let ready_line = flat
        .split("ready S1 ")
        .nth(1)
        .expect("ready times per tier");
    let s2 = ready_line.find(", S2 ").expect("S2 after S1");
    let s3 = ready_line.find(", S3 ").expect("S3 after S2");
    assert!(s2 < s3, "{ready_line}");
    // The watched hosts come from the inventory: 300 + 1200 + 1500 beside the 9 of the stack.
    let output = blackstart(&["validate", "topologies/monitoring-fire.yaml"]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("(7 subsystems, 3009 hosts)"),
        "{}",
        text(&output)
    );
}
