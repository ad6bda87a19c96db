//! The shipped playbooks validate, and their plans show what people must review: preflight,
//! preparation, manual steps, gates and the drill.

mod support;

use support::cli::{blackstart, text};

fn plan(playbook: &str) -> String {
    let output = blackstart(&["plan", playbook]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_shipped_playbook_validates() {
    for playbook in [
        "playbooks/full-outage.yaml",
        "playbooks/datacenter-failover.yaml",
        "playbooks/quarterly-drill.yaml",
        "playbooks/billing-restart.yaml",
        "playbooks/monitoring-restore.yaml",
        "playbooks/call-centre-restore.yaml",
    ] {
        let output = blackstart(&["validate", playbook]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{playbook}: {}",
            text(&output)
        );
    }
}

#[test]
fn the_full_outage_plan_shows_preflight_preparation_manual_steps_and_gates() {
    let shown = plan("playbooks/full-outage.yaml");
    // Read as a person reads it: wrapped lines joined.
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "PREFLIGHT (before any power or start action)",
        "fixed-config-published",
        "if it fails: holds syslog-relay",
        "PREPARE (on each host after it boots, before its services start)",
        "remove-looping-template-line",
        "MANUAL STEP: waits for a person",
        "GATE (approval)",
        "blackstart ack RUN_DIR approve-graph-leaders",
        "order: read `cluster-store-ctl replay-position --local` on every member; the highest value starts first",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in the plan");
    }
    // The gate sits between graph-leader and what graph-leader needs.
    let gate_at = shown.find("] approve-graph-leaders").unwrap();
    let leader_at = shown.find("] graph-leader").unwrap();
    assert!(
        gate_at < leader_at,
        "the gate is planned before the subsystem it holds"
    );
}

#[test]
fn the_failover_plan_lists_every_step_that_does_not_happen_by_itself() {
    let shown = plan("playbooks/datacenter-failover.yaml");
    assert!(shown.contains("replication-caught-up"));
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("prints a value == 0"), "{shown}");
    for step in [
        "reverse-replication",
        "restart-file-sync",
        "reverse-replication-verified",
        "restart-file-sync-verified",
        "traffic-stays-on-reserve",
        "traffic-stays-on-reserve-verified",
    ] {
        assert!(
            shown.contains(&format!("] {step}")),
            "{step} is in the plan"
        );
    }
}

#[test]
fn the_quarterly_drill_covers_only_its_staging_scope() {
    let shown = plan("playbooks/quarterly-drill.yaml");
    assert!(shown.contains("DRILL  baseline of what is healthy, power off through the BMCs"));
    assert!(shown.contains("assumed up (out of scope):"));
    assert!(
        !shown.contains("] edge-proxy-dc1"),
        "production frontends are not in the drill"
    );
    assert!(shown.contains("] hdfs-datanodes"));
}

#[test]
fn the_playbook_format_is_published_as_json_schema() {
    let output = blackstart(&["schema", "--playbook"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for field in [
        "playbook",
        "topology",
        "preflight",
        "prepare",
        "manual",
        "gates",
        "order",
        "drill",
    ] {
        assert!(
            schema["properties"].get(field).is_some(),
            "{field} in the schema"
        );
    }
}

#[test]
fn a_playbook_can_be_rehearsed_in_simulation_with_its_manual_steps() {
    let output = blackstart(&[
        "simulate",
        "playbooks/full-outage.yaml",
        "--no-faults",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["succeeded"], true);
    let steps = report["steps"].as_array().unwrap();
    let manual = steps
        .iter()
        .find(|step| step.to_string().contains("swap-dead-datanode-disks"))
        .expect("the manual step is simulated");
    assert!(manual.to_string().contains("ready"), "{manual}");
}
