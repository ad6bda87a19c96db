//! Playbooks against the real lab: preflight before any action, gates and manual steps
//! acknowledged by people, data-aware start order, and the shipped failover playbook.

mod support;

use std::path::{Path, PathBuf};

use blackstart::event::{Action, Event};
use blackstart::journal::{Entry, RunOutcome};
use support::cli::{
    actions, blackstart, read_journal, ready_times, run_in, spawn, spawn_run, starts, status_times,
    text, wait_bounded, wait_for_journal, RUN_LIMIT,
};
use support::lab::{Lab, LabSecret};

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn state(lab: &Lab, host: usize, name: &str) -> PathBuf {
    let dir = lab.dir.join("state").join(&lab.hosts[host].address);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Brings `topology` up (a drill needs something healthy to take down), then writes a drill
/// playbook over it that powers the hosts off, with `simulations` simulated runs.
fn warmed_drill_playbook(lab: &Lab, topology: &Path, simulations: u32) -> PathBuf {
    let output = run_in(topology, &lab.dir.join("run-warm"));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    write(
        &lab.dir.join("drill.yaml"),
        &format!(
            "playbook: drill\ntopology: {}\ndrill:\n  power_off: true\n  simulations: {simulations}\n",
            topology.display()
        ),
    )
}

#[test]
fn a_failing_preflight_stops_the_run_before_any_power_or_start_action() {
    let lab = Lab::start_with("pa", (95, 2), 3, &[0]);
    let subsystems = format!(
        "subsystems:\n  - name: svc\n    hosts: [pa2, pa3]\n    start: {}\n    health: {{ tcp: 7101 }}\n",
        serde_json::to_string(&lab.service_command(7101, 0.1, "")).unwrap()
    );
    let topology = lab.write_topology(LabSecret::File, &subsystems);
    // The newest backup exists but is empty: the call-centre server of incident 3.
    let backup = lab.dir.join("backup-latest.tar");
    std::fs::write(&backup, "").unwrap();
    let playbook = write(
        &lab.dir.join("playbook.yaml"),
        &format!(
            "playbook: backups-first\ntopology: {}\npreflight:\n  - name: backup-is-real\n    on: {{ hosts: [pa1] }}\n    file: {{ path: {}, max_age: 1d, min_size: 1 }}\n  - name: disk-not-full\n    on: {{ hosts: [pa1] }}\n    disk_free: {{ path: /, min: 1% }}\n",
            topology.display(),
            backup.display()
        ),
    );
    let run_dir = lab.dir.join("run");
    let output = run_in(&playbook, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("FAILED backup-is-real"), "{shown}");
    assert!(shown.contains("smaller than 1 bytes"), "{shown}");
    let records = read_journal(&run_dir);
    let checks: Vec<(String, bool)> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Preflight { check, result, .. } => Some((check.clone(), result.is_ok())),
            _ => None,
        })
        .collect();
    assert_eq!(
        checks,
        vec![
            ("backup-is-real".to_string(), false),
            ("disk-not-full".to_string(), true)
        ]
    );
    assert!(
        actions(&records).is_empty(),
        "no action of any kind after a failed preflight"
    );
    assert!(!lab.is_on(1) && !lab.is_on(2), "nothing was powered on");
    assert!(
        matches!(records[0].entry, Entry::RunStarted { .. }),
        "the journal begins with the start record, before the preflight: {:?}",
        records[0].entry
    );
    assert!(
        matches!(
            &records.last().unwrap().entry,
            Entry::RunFinished {
                outcome: RunOutcome::PreflightFailed
            }
        ),
        "and ends with the failed preflight"
    );
    // A journal of another format is refused by name, even with preflight records first
    // (as older releases wrote them).
    let journal_file = run_dir.join("journal.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&journal_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let (start, rest): (Vec<&String>, Vec<&String>) = lines
        .iter()
        .partition(|line| line.contains("\"run_started\""));
    let old_start = start[0].replace(
        &format!("\"format\":{}", blackstart::journal::FORMAT),
        "\"format\":1",
    );
    assert_ne!(&old_start, start[0], "the start record names its format");
    let reordered: Vec<String> = rest
        .iter()
        .take(2)
        .map(|line| line.to_string())
        .chain([old_start])
        .chain(rest.iter().skip(2).map(|line| line.to_string()))
        .collect();
    std::fs::write(&journal_file, reordered.join("\n") + "\n").unwrap();
    let status = blackstart(&["status", run_dir.to_str().unwrap()]);
    let said = text(&status);
    assert_eq!(status.status.code(), Some(2), "{said}");
    assert!(said.contains("journal format 1"), "{said}");

    // A check that only blocks `svc` holds it once: the hold is journaled when the check
    // fails, and a resume replays it without writing it again.
    let blocking = write(
        &lab.dir.join("blocking.yaml"),
        &format!(
            "playbook: backups-block\ntopology: {}\npreflight:\n  - name: backup-is-real\n    on: {{ hosts: [pa1] }}\n    file: {{ path: {}, max_age: 1d, min_size: 1 }}\n    on_failure: block\n    blocks: [svc]\n",
            topology.display(),
            backup.display()
        ),
    );
    let run_dir = lab.dir.join("run-blocked");
    let output = run_in(&blocking, &run_dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let holds = |records: &[blackstart::journal::Record]| {
        records
            .iter()
            .filter(|r| {
                matches!(
                    &r.entry,
                    Entry::Event {
                        event: Event::Held { .. },
                        step: Some(step),
                        ..
                    } if step == "svc"
                )
            })
            .count()
    };
    assert_eq!(holds(&read_journal(&run_dir)), 1, "held once");
    let resumed = wait_bounded(
        spawn(&["run", "--resume", run_dir.to_str().unwrap()]),
        RUN_LIMIT,
    );
    assert_eq!(resumed.status.code(), Some(1), "{}", text(&resumed));
    let records = read_journal(&run_dir);
    assert_eq!(
        records
            .iter()
            .filter(|r| matches!(r.entry, Entry::RunStarted { .. }))
            .count(),
        2,
        "the resume ran"
    );
    assert_eq!(
        holds(&records),
        1,
        "a resume does not journal the hold again"
    );

    // A real backup lets the same playbook through.
    std::fs::write(&backup, "tables\n").unwrap();
    let run_dir = lab.dir.join("run-2");
    let output = run_in(&playbook, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn a_gate_holds_its_subtree_while_the_rest_completes_and_an_ack_releases_it() {
    let lab = Lab::start("pb", (95, 4), 4);
    let service = |port: u16| serde_json::to_string(&lab.service_command(port, 0.1, "")).unwrap();
    let subsystems = format!(
        "subsystems:\n\
         \x20 - {{ name: db, hosts: [pb1], start: {a}, health: {{ tcp: 7201 }} }}\n\
         \x20 - {{ name: promote, hosts: [pb2], requires: [db], start: {b}, health: {{ tcp: 7202 }} }}\n\
         \x20 - {{ name: app, hosts: [pb3], requires: [promote], start: {c}, health: {{ tcp: 7203 }} }}\n\
         \x20 - {{ name: cache, hosts: [pb4], start: {d}, health: {{ tcp: 7204 }} }}\n",
        a = service(7201),
        b = service(7202),
        c = service(7203),
        d = service(7204),
    );
    let topology = lab.write_topology(LabSecret::File, &subsystems);
    let playbook = write(
        &lab.dir.join("playbook.yaml"),
        &format!(
            "playbook: gated\ntopology: {}\nprepare:\n  - name: mark-prepared\n    on: {{ all: true }}\n    run: touch $LAB_DIR/prepared-{{host}}\ngates:\n  - name: approve-promotion\n    before: promote\n    instructions: Check that the db primary has zero replication lag.\n",
            topology.display()
        ),
    );
    let run_dir = lab.dir.join("run");
    let child = spawn_run(&playbook, &run_dir);
    let held = wait_for_journal(&run_dir, RUN_LIMIT, |records| {
        let ready = ready_times(records);
        ready.contains_key("db") && ready.contains_key("cache")
    });
    assert!(held, "the branches without the gate completed");
    let records = read_journal(&run_dir);
    assert!(
        status_times(&records, "active").contains_key("approve-promotion"),
        "the gate is shown"
    );
    assert!(
        !starts(&records)
            .iter()
            .any(|(label, _)| label.starts_with("promote") || label.starts_with("app")),
        "nothing behind the gate started"
    );
    for host in 1..=4 {
        assert!(
            lab.dir.join(format!("prepared-pb{host}")).exists(),
            "preparation ran on pb{host}"
        );
    }

    let ack = blackstart(&[
        "ack",
        run_dir.to_str().unwrap(),
        "approve-promotion",
        "--by",
        "alice",
    ]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    let acked_by: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::Acknowledged { by, .. },
                ..
            } => Some(by.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        acked_by,
        vec!["alice".to_string()],
        "the journal records who approved"
    );
    let ready = ready_times(&records);
    assert!(ready["promote"] >= ready["approve-promotion"]);
    assert!(ready.contains_key("app"));
}

#[test]
fn a_replicated_store_starts_from_its_most_advanced_member() {
    let lab = Lab::start("pc", (95, 6), 3);
    let subsystems = format!(
        "subsystems:\n  - name: galera\n    hosts: [\"pc[1:3]\"]\n    start: {}\n    health: {{ tcp: 7301 }}\n",
        serde_json::to_string(&lab.service_command(7301, 0.3, "")).unwrap()
    );
    let topology = lab.write_topology(LabSecret::File, &subsystems);
    for (host, seqno) in [(0, "5"), (1, "42"), (2, "7")] {
        std::fs::write(state(&lab, host, "seqno"), format!("{seqno}\n")).unwrap();
    }
    let playbook = write(
        &lab.dir.join("playbook.yaml"),
        &format!(
            "playbook: galera\ntopology: {}\norder:\n  - subsystem: galera\n    probe: cat $LAB_DIR/state/$LAB_ADDRESS/seqno\n    first: max\n    guard: {{ op: \">=\", value: 0 }}\n",
            topology.display()
        ),
    );
    let run_dir = lab.dir.join("run");
    let output = run_in(&playbook, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    let started = starts(&records);
    assert_eq!(started.len(), 3, "{started:?}");
    assert_eq!(
        started[0].0, "galera on pc2",
        "the member with seqno 42 goes first: {started:?}"
    );
    let leader_healthy = records
        .iter()
        .find_map(|r| match &r.entry {
            Entry::Event {
                event: Event::StartFinished { result: Ok(()), .. },
                ..
            } if r.entry.label() == "galera on pc2" => Some(r.t_ms),
            _ => None,
        })
        .expect("leader healthy");
    for (label, at) in &started[1..] {
        assert!(
            *at >= leader_healthy,
            "{label} started at {at} ms, before the leader was healthy at {leader_healthy} ms"
        );
    }
    let reads = actions(&records)
        .iter()
        .filter(|a| matches!(a, Action::ReadValue { .. }))
        .count();
    assert_eq!(reads, 3, "every member reported its sequence number");
}

/// Stand-ins for mysql, keepalived's systemctl and ip, keeping per-host state in the lab.
fn install_failover_programs(lab: &Lab) {
    lab.install_program(
        "mysql",
        r#"#!/bin/bash
st="$LAB_DIR/state/$LAB_ADDRESS"; mkdir -p "$st"
case "$*" in
  *"SHOW SLAVE STATUS"*)
    echo "*************************** 1. row ***************************"
    echo "Slave_IO_Running: $(cat "$st/slave_io" 2>/dev/null || echo No)"
    echo "Seconds_Behind_Master: $(cat "$st/lag" 2>/dev/null || echo NULL)" ;;
  *"@@read_only"*)
    if [ "$(cat "$LAB_DIR/state/vip_owner")" = "$LAB_ADDRESS" ]; then echo 0; else echo 1; fi ;;
  *) echo "mysql stand-in: unsupported: $*" >&2; exit 1 ;;
esac
"#,
    );
    lab.install_program(
        "systemctl",
        r#"#!/bin/bash
st="$LAB_DIR/state/$LAB_ADDRESS"; mkdir -p "$st"
case "$1" in
  restart) [ "$2" = keepalived ] || exit 1
    cat "$st/peer" > "$LAB_DIR/state/vip_owner"; echo "$LAB_ADDRESS" >> "$LAB_DIR/state/keepalived-restarts" ;;
  is-active) test -e "$st/active-$3" ;;
  start) touch "$st/active-$2" ;;
  *) echo "systemctl stand-in: unsupported: $*" >&2; exit 1 ;;
esac
"#,
    );
    lab.install_program(
        "ip",
        r#"#!/bin/bash
echo "1: lo    inet 127.0.0.1/8 scope host lo"
if [ "$(cat "$LAB_DIR/state/vip_owner")" = "$LAB_ADDRESS" ]; then
  echo "2: eth0    inet 10.20.0.100/32 scope global eth0"
fi
"#,
    );
}

/// The shipped failover topology and playbook, pointed at the lab's two hosts.
fn shipped_failover(lab: &Lab) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let q = |path: &Path| serde_json::to_string(&path.to_string_lossy()).unwrap();
    let topology = std::fs::read_to_string(root.join("topologies/failover-pair.yaml"))
        .unwrap()
        .replace("10.20.1.10", &lab.hosts[0].address)
        .replace("10.20.2.10", &lab.hosts[1].address)
        .replace("10.120.1.10", &lab.hosts[0].bmc_address)
        .replace("10.120.2.10", &lab.hosts[1].bmc_address)
        .replace("~/.ssh/id_ed25519", &q(&lab.client_key))
        .replace("~/.ssh/known_hosts", &q(&lab.known_hosts))
        .replace(
            "password_env: BMC_PASSWORD",
            &format!("password_file: {}", q(&lab.password_file)),
        );
    let topology_path = write(&lab.dir.join("failover-pair.yaml"), &topology);
    let playbook = std::fs::read_to_string(root.join("playbooks/datacenter-failover.yaml"))
        .unwrap()
        .replace(
            "../topologies/failover-pair.yaml",
            &topology_path.to_string_lossy(),
        );
    write(&lab.dir.join("datacenter-failover.yaml"), &playbook)
}

/// What does not happen by itself after a failover (incident 5), as the shipped playbook's
/// manual steps, and who acknowledges each in the test.
const NOT_BY_ITSELF: [(&str, &str); 3] = [
    ("reverse-replication", "dba-maria"),
    ("restart-file-sync", "sysadmin-li"),
    ("traffic-stays-on-reserve", "lead-oncall"),
];

#[test]
fn the_failover_switches_only_at_zero_lag_and_waits_for_each_ack_of_what_does_not_happen_by_itself()
{
    let lab = Lab::start_with("fo", (103, 11), 2, &[0, 1]);
    install_failover_programs(&lab);
    let (primary, reserve) = (&lab.hosts[0].address, &lab.hosts[1].address);
    std::fs::create_dir_all(lab.dir.join("state")).unwrap();
    std::fs::write(lab.dir.join("state/vip_owner"), primary).unwrap();
    std::fs::write(state(&lab, 0, "peer"), reserve).unwrap();
    std::fs::write(state(&lab, 1, "peer"), primary).unwrap();
    std::fs::write(state(&lab, 1, "active-lsyncd"), "").unwrap();
    std::fs::write(state(&lab, 1, "lag"), "17").unwrap();
    let playbook = shipped_failover(&lab);
    let vip_owner = || std::fs::read_to_string(lab.dir.join("state/vip_owner")).unwrap();

    let refused = lab.dir.join("run-lagging");
    let output = run_in(&playbook, &refused);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("value 17 does not meet == 0"), "{shown}");
    assert!(
        actions(&read_journal(&refused)).is_empty(),
        "nothing acted while lag was 17"
    );
    assert_eq!(vip_owner(), *primary, "the VIP did not move");

    std::fs::write(state(&lab, 1, "lag"), "0").unwrap();
    let run_dir = lab.dir.join("run");
    let mut child = spawn_run(&playbook, &run_dir);
    assert!(wait_for_journal(&run_dir, RUN_LIMIT, |r| status_times(
        r, "active"
    )
    .contains_key("approve-switch")));
    assert_eq!(vip_owner(), *primary, "the gate holds the switch");
    let ack = blackstart(&[
        "ack",
        run_dir.to_str().unwrap(),
        "approve-switch",
        "--by",
        "oncall",
    ]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let shown_manual = wait_for_journal(&run_dir, RUN_LIMIT, |r| {
        let active = status_times(r, "active");
        NOT_BY_ITSELF
            .iter()
            .all(|(step, _)| active.contains_key(*step))
    });
    assert!(
        shown_manual,
        "the manual steps are presented after the switch"
    );
    assert_eq!(vip_owner(), *reserve, "the VIP moved to the reserve");
    assert!(
        ready_times(&read_journal(&run_dir)).contains_key("reserve-is-master"),
        "verified: the reserve accepts writes"
    );

    // The operator does what nothing does automatically, then acknowledges; each is verified.
    std::fs::write(state(&lab, 0, "slave_io"), "Yes").unwrap();
    std::fs::write(state(&lab, 0, "active-lsyncd"), "").unwrap();
    for (done, (step, by)) in NOT_BY_ITSELF.iter().enumerate() {
        // The run waits for this step: still running, the step not done, what follows it
        // unverified.
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run waits for {step}"
        );
        let records = read_journal(&run_dir);
        assert!(
            !ready_times(&records).contains_key(&format!("{step}-verified")),
            "{step} verified before anyone acknowledged it"
        );
        let ack = blackstart(&["ack", run_dir.to_str().unwrap(), step, "--by", by]);
        assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
        let verified = format!("{step}-verified");
        assert!(
            wait_for_journal(&run_dir, RUN_LIMIT, |r| ready_times(r)
                .contains_key(&verified)),
            "{step} verified after its ack"
        );
        let pending: Vec<&str> = NOT_BY_ITSELF[done + 1..].iter().map(|(s, _)| *s).collect();
        let ready = ready_times(&read_journal(&run_dir));
        assert!(
            pending.iter().all(|s| !ready.contains_key(*s)),
            "one ack releases one step: {pending:?} still wait"
        );
    }
    let output = wait_bounded(child, RUN_LIMIT);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    for (step, _) in NOT_BY_ITSELF {
        assert!(
            shown.contains(&format!("MANUAL STEP {step} waits for a person")),
            "the run presented {step}: {shown}"
        );
    }
    assert!(
        shown.contains("Traffic does not switch back by itself"),
        "with its instructions: {shown}"
    );
    let records = read_journal(&run_dir);
    let acked: Vec<(String, String)> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::Acknowledged { by, .. },
                step: Some(step),
                ..
            } => Some((step.clone(), by.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, String)> = [("approve-switch", "oncall")]
        .iter()
        .chain(NOT_BY_ITSELF.iter())
        .map(|(step, by)| (step.to_string(), by.to_string()))
        .collect();
    assert_eq!(acked, expected, "the journal records who acknowledged what");
    let restarts = std::fs::read_to_string(lab.dir.join("state/keepalived-restarts")).unwrap();
    assert_eq!(
        restarts.lines().count(),
        1,
        "keepalived restarted once, on the primary"
    );
}

#[test]
fn a_quarterly_drill_records_a_baseline_powers_off_cold_starts_and_reports() {
    let lab = Lab::start("pd", (95, 10), 4);
    let service = |port: u16| serde_json::to_string(&lab.service_command(port, 0.2, "")).unwrap();
    let subsystems = format!(
        "subsystems:\n\
         \x20 - {{ name: store, hosts: [\"pd[1:2]\"], start: {a}, health: {{ tcp: 7401 }} }}\n\
         \x20 - {{ name: api, hosts: [pd3], requires: [store], start: {b}, health: {{ tcp: 7402 }} }}\n\
         \x20 - {{ name: web, hosts: [pd4], requires: [api], start: {c}, health: {{ tcp: 7403 }} }}\n",
        a = service(7401),
        b = service(7402),
        c = service(7403),
    );
    let topology = lab.write_topology(LabSecret::File, &subsystems);
    let playbook = warmed_drill_playbook(&lab, &topology, 50);
    let run_dir = lab.dir.join("run-drill");
    let output = run_in(&playbook, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("came back: 4/4"), "{shown}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("drill-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["baseline_healthy"], 4);
    assert_eq!(report["came_back"], 4);
    assert!(
        report["predicted_p50_s"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(report["measured_recovery_s"].as_f64().unwrap() > 0.0);
    let records = read_journal(&run_dir);
    let powered_on = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::PoweredOn { result: Ok(()), .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        powered_on, 4,
        "every host was really off and powered on again"
    );
    assert_eq!(starts(&records).len(), 4, "every service was cold started");
}

#[test]
fn a_drill_killed_during_power_off_resumes_without_switching_any_host_off_twice() {
    // Two power commands per 3 s in the lab's one power domain: six hosts take about 6 s to
    // switch off, long enough to kill blackstart in the middle of it.
    let lab = Lab::start("pe", (95, 14), 6);
    let service = |port: u16| serde_json::to_string(&lab.service_command(port, 0.2, "")).unwrap();
    let subsystems = format!(
        "subsystems:\n\
         \x20 - {{ name: store, hosts: [\"pe[1:2]\"], start: {a}, health: {{ tcp: 7411 }} }}\n\
         \x20 - {{ name: api, hosts: [\"pe[3:4]\"], requires: [store], start: {b}, health: {{ tcp: 7412 }} }}\n\
         \x20 - {{ name: web, hosts: [\"pe[5:6]\"], requires: [api], start: {c}, health: {{ tcp: 7413 }} }}\n",
        a = service(7411),
        b = service(7412),
        c = service(7413),
    );
    let yaml = lab.topology_yaml(LabSecret::File, &subsystems).replacen(
        "power_on: { count: 50, per: 1s }",
        "power_on: { count: 2, per: 3s }",
        1,
    );
    assert!(
        yaml.contains("count: 2, per: 3s"),
        "the rate limit is in place"
    );
    let topology = write(&lab.dir.join("topology.yaml"), &yaml);
    let playbook = warmed_drill_playbook(&lab, &topology, 20);
    let run_dir = lab.dir.join("run-drill");
    let powered_off = |records: &[blackstart::journal::Record]| {
        records
            .iter()
            .filter(|r| {
                matches!(
                    &r.entry,
                    Entry::Event {
                        event: Event::PoweredOff { .. },
                        ..
                    }
                )
            })
            .count()
    };
    let mut child = spawn_run(&playbook, &run_dir);
    let killed_after = wait_for_journal(&run_dir, RUN_LIMIT, |records| powered_off(records) >= 2);
    child.kill().unwrap(); // SIGKILL, in the middle of the power-off
    let _ = child.wait();
    let off_at_kill = powered_off(&read_journal(&run_dir));
    assert!(killed_after, "the power-off began before the kill");
    assert!(
        (2..6).contains(&off_at_kill),
        "the kill landed during the power-off: {off_at_kill} of 6 hosts off"
    );

    let output = blackstart(&["run", "--resume", run_dir.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("came back: 6/6"), "{shown}");

    let records = read_journal(&run_dir);
    let resumed_at = records
        .iter()
        .rposition(|r| matches!(r.entry, Entry::RunStarted { .. }))
        .unwrap();
    let about = |r: &blackstart::journal::Record, name: &str| match &r.entry {
        Entry::Action { .. } | Entry::Event { .. } => r.entry.label() == name,
        _ => false,
    };
    for host in 1..=6 {
        let name = format!("pe{host}");
        let mine: Vec<(usize, &Entry)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| about(r, &name))
            .map(|(index, r)| (index, &r.entry))
            .collect();
        let commands: Vec<usize> = mine
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Entry::Action {
                        action: Action::PowerOff { .. },
                        ..
                    }
                )
            })
            .map(|(index, _)| *index)
            .collect();
        let switched_off: Vec<usize> = mine
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Entry::Event {
                        event: Event::PoweredOff { result: Ok(()), .. },
                        ..
                    }
                )
            })
            .map(|(index, _)| *index)
            .collect();
        let found_off_on_resume = mine.iter().any(|(index, e)| {
            *index > resumed_at
                && matches!(
                    e,
                    Entry::Event {
                        event: Event::PowerChecked {
                            result: Ok(blackstart::event::PowerReport::Off),
                            ..
                        },
                        ..
                    }
                )
        });
        assert!(
            switched_off.len() <= 1,
            "{name} was switched off more than once: {mine:?}"
        );
        assert!(
            switched_off.len() == 1 || found_off_on_resume,
            "{name} is off before the cold start: {mine:?}"
        );
        if let Some(off) = switched_off.first() {
            assert!(
                commands.iter().any(|command| command < off),
                "{name}: the power-off is journaled before it happened"
            );
        }
        if commands.len() > 1 {
            // Sent again only when the resumed run read the host still on.
            let still_on = mine.iter().any(|(index, e)| {
                *index > commands[0]
                    && *index < commands[1]
                    && matches!(
                        e,
                        Entry::Event {
                            event: Event::PowerChecked {
                                result: Ok(blackstart::event::PowerReport::On),
                                ..
                            },
                            ..
                        }
                    )
            });
            assert!(
                still_on,
                "{name}: a second power-off without cause: {mine:?}"
            );
        }
    }
    // Rate-limited and parallel within each process: no three power-offs within one 3 s
    // window, and the first two went out together, not one BMC call after another.
    let times = |part: &[blackstart::journal::Record]| -> Vec<u64> {
        part.iter()
            .filter(|r| {
                matches!(
                    r.entry,
                    Entry::Action {
                        action: Action::PowerOff { .. },
                        ..
                    }
                )
            })
            .map(|r| r.t_ms)
            .collect()
    };
    let before = times(&records[..resumed_at]);
    assert!(before.len() >= 2, "{before:?}");
    assert!(
        before[1] - before[0] < 500,
        "paired within a window: {before:?}"
    );
    for part in [before, times(&records[resumed_at..])] {
        assert!(
            part.windows(3).all(|w| w[2] - w[0] >= 2900),
            "at most two per 3 s: {part:?}"
        );
    }
}
