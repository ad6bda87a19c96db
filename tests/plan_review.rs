//! The plan as people review it and the contract it makes with the run: scope by host and
//! tier, the digest, the folded text plan of the reference topology.

mod support;

use serde_json::Value;
use support::cli::{blackstart, text};
use support::snapshot::assert_snapshot;

fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan", "--format", "json"];
    all.extend_from_slice(args);
    let output = blackstart(&all);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn host_names(plan: &Value) -> Vec<String> {
    let mut names: Vec<String> = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["host"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn limit_to_a_host_range_plans_only_those_hosts_and_assumes_the_rest_up() {
    let plan = plan_json(&["--limit", "pdb0[1:3].dc1"]);
    assert_eq!(host_names(&plan), ["pdb01.dc1", "pdb02.dc1", "pdb03.dc1"]);
    let assumed = plan["assumed_up"].to_string();
    assert!(assumed.contains("config"), "{assumed}");
}

#[test]
fn host_accepts_globs_and_refuses_a_pattern_that_matches_nothing() {
    let plan = plan_json(&["--host", "ntp*.dc2"]);
    assert_eq!(host_names(&plan), ["ntp01.dc2", "ntp02.dc2", "ntp03.dc2"]);
    let output = blackstart(&["plan", "--host", "ntpp01.dc2"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output)
            .contains("error: --host \"ntpp01.dc2\" matches no host (did you mean \"ntp01.dc2\"?)"),
        "{}",
        text(&output)
    );
}

#[test]
fn tier_keeps_its_subsystems_and_what_they_need() {
    let plan = plan_json(&["--tier", "S3", "--only", "dns"]);
    let steps = plan["steps"].to_string();
    assert!(
        steps.contains("\"monitoring-tsdb\""),
        "an S3 subsystem is in"
    );
    assert!(steps.contains("\"dns\""), "what S3 needs is in");
    let everything = plan_json(&[]);
    assert!(
        plan["steps"].as_array().unwrap().len() < everything["steps"].as_array().unwrap().len()
    );
    let bad = blackstart(&["plan", "--tier", "S0"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("write S1..S9"), "{}", text(&bad));
}

/// Every command whole on one line (an even number of backticks on each), and lines of at
/// most 100 columns unless a command longer than 80 columns is what makes them longer.
fn assert_lines_reviewable(plan: &str) {
    for line in plan.lines() {
        assert!(
            line.matches('`').count() % 2 == 0,
            "a command is split across lines: {line}"
        );
        let columns = line.chars().count();
        let longest_command = line
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|command| command.chars().count())
            .max()
            .unwrap_or(0);
        assert!(
            columns <= 100 || longest_command > 80,
            "{columns} columns: {line}"
        );
    }
}

fn reference_plan(args: &[&str]) -> String {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let output = blackstart(&all);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_reference_plan_fits_300_lines_of_100_columns_without_colour_when_piped() {
    let plan = reference_plan(&[]);
    let lines = plan.lines().count();
    assert!(lines <= 300, "{lines} lines");
    assert_lines_reviewable(&plan);
    assert!(
        !plan.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    // What a reviewer needs is still there: every subsystem, by name or in a folded range.
    for name in [
        "post-db-shard-[01:16]",
        "user-db-shard-[01:24]",
        "web-dc[1:2]",
        "ntp",
        "dns",
    ] {
        assert!(plan.contains(&format!("] {name}")), "{name} has a block");
    }
    assert!(plan.contains("ssh recovery@10.1.12.1:22 -- systemctl start mysql@post-01"));
    // The blocks mark the critical path the summary names (the capped schedule's).
    let path = plan
        .lines()
        .find_map(|line| line.split_once("critical path: "))
        .expect("the summary names the critical path")
        .1;
    let first = path.split(" (").next().unwrap();
    assert!(
        plan.lines()
            .any(|line| line.contains(&format!("] {first} ")) && line.contains("[critical path")),
        "{first} is marked critical in its block"
    );
    let every = reference_plan(&["--every-node"]);
    assert!(every.contains("] post-db-shard-07"), "--every-node unfolds");
    assert!(every.lines().count() > 5 * lines);
}

#[test]
fn the_plan_ends_with_its_summary_and_the_eta_the_header_gives() {
    let plan = reference_plan(&[]);
    let eta = |line: &str, after: &str| {
        let rest = line.split_once(after).unwrap().1;
        rest.split(" with no failures")
            .next()
            .unwrap()
            .split(" if nothing fails")
            .next()
            .unwrap()
            .to_string()
    };
    let header = plan
        .lines()
        .find(|line| line.starts_with("  ETA "))
        .expect("the header has an ETA");
    let tail: Vec<&str> = plan.lines().rev().take(3).collect();
    let closing = tail
        .iter()
        .find(|line| line.starts_with("SUMMARY "))
        .unwrap_or_else(|| panic!("the plan ends with its summary: {tail:?}"));
    assert_eq!(eta(closing, "; ETA "), eta(header, "ETA").trim());
    let digest = plan
        .lines()
        .find_map(|line| line.trim().strip_prefix("digest "))
        .and_then(|rest| rest.split(':').next())
        .expect("the header has the digest");
    assert!(
        tail.iter()
            .any(|line| line.contains(&format!("`run --expect-digest {digest}`"))),
        "the closing lines repeat the digest to run: {tail:?}"
    );
}

#[test]
fn playbook_plans_keep_commands_whole_and_fold_long_host_lists() {
    for playbook in [
        "playbooks/full-outage.yaml",
        "playbooks/datacenter-failover.yaml",
        "playbooks/quarterly-drill.yaml",
        "playbooks/billing-restart.yaml",
        "playbooks/monitoring-restore.yaml",
        "playbooks/call-centre-restore.yaml",
    ] {
        let plan = reference_plan(&[playbook]);
        assert_lines_reviewable(&plan);
    }
    let plan = reference_plan(&["playbooks/full-outage.yaml"]);
    let prepare = plan
        .split("PREPARE")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("the full outage prepares hosts");
    assert!(prepare.lines().count() <= 8, "{prepare}");
    assert!(prepare.contains("5,705 hosts in "), "{prepare}");
    let every = reference_plan(&["playbooks/full-outage.yaml", "--every-node"]);
    assert!(
        every.contains("edge[01:24].dc2"),
        "--every-node lists every range"
    );
}

#[test]
fn the_reference_plan_summary_counts_hosts_spares_people_and_tiers() {
    let plan = reference_plan(&[]);
    let summary = &plan[..plan
        .find("\nBlocks:")
        .expect("the summary ends before the blocks")];
    for expected in [
        "5,705 hosts if they are off: dc1 2,997, dc2 2,708",
        "22 hosts more, only to replace a failed member",
        "150 subsystems, 1 with a bootstrap step",
        "no gate and no manual step",
        "under the fleet-wide caps",
        "each cap alone: parallelism 256 adds 24m 20s, power-on 8 per 10s per domain adds 0s",
        "digest ",
    ] {
        assert!(
            summary.contains(expected),
            "missing {expected:?} in:\n{summary}"
        );
    }
    assert_snapshot("social-network-plan-summary.txt", summary);
}

#[test]
fn the_digest_printed_by_plan_changes_with_the_scope() {
    let digest = |args: &[&str]| {
        let plan = reference_plan(args);
        let at = plan.find("digest ").unwrap() + "digest ".len();
        plan[at..at + 16].to_string()
    };
    let all = digest(&[]);
    assert_eq!(all.len(), 16);
    assert!(all.chars().all(|c| c.is_ascii_hexdigit()), "{all}");
    assert_eq!(all, digest(&[]), "the same plan, the same digest");
    assert_ne!(all, digest(&["--tier", "S1"]));
}

#[test]
fn a_newline_in_a_command_cannot_forge_a_plan_line() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string("topologies/minimal.yaml")
        .unwrap()
        .replace(
            "start: systemctl start postgresql",
            "start: \"systemctl start postgresql\\n  [S1] forged  GATE approved\"",
        );
    let file = dir.path().join("forged.yaml");
    std::fs::write(&file, source).unwrap();
    let plan = reference_plan(&[file.to_str().unwrap()]);
    assert!(
        plan.contains("systemctl start postgresql\\n  [S1] forged"),
        "{plan}"
    );
    assert!(!plan.lines().any(|line| line.starts_with("  [S1] forged")));
}

/// The minimal topology moved onto loopback addresses, so even a mistaken run stays local.
fn loopback_topology(dir: &std::path::Path) -> std::path::PathBuf {
    let source = std::fs::read_to_string("topologies/minimal.yaml")
        .unwrap()
        .replace("10.0.", "127.0.")
        .replace("10.100.", "127.100.");
    assert!(!source.contains(" 10."), "every address is on loopback");
    let file = dir.join("loopback.yaml");
    std::fs::write(&file, source).unwrap();
    file
}

#[test]
fn run_refuses_a_plan_whose_digest_is_not_the_reviewed_one_before_any_action() {
    let dir = tempfile::tempdir().unwrap();
    let file = loopback_topology(dir.path());
    let planned = reference_plan(&[file.to_str().unwrap()]);
    let at = planned.find("digest ").unwrap() + "digest ".len();
    let digest = &planned[at..at + 16];
    let run_dir = dir.path().join("run");
    let output = blackstart(&[
        "run",
        file.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--expect-digest",
        "0000000000000000",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains(&format!(
            "error: the plan's digest is {digest}, not the expected"
        )),
        "run computes the digest plan printed: {shown}"
    );
    assert!(
        shown.contains("power on"),
        "run shows the plan's summary first"
    );
    assert!(
        !run_dir.exists(),
        "nothing was done, not even the run directory"
    );
}

/// Deleting a snapshot must fail the suite, not quietly write a new one and pass.
#[test]
fn a_missing_snapshot_fails_unless_blessed() {
    if support::snapshot::blessing() {
        return; // Blessing would write the file this test needs to be absent.
    }
    let missing = std::panic::catch_unwind(|| {
        assert_snapshot("never-written-by-any-test.txt", "output\n");
    });
    assert!(missing.is_err(), "a missing snapshot passed");
    let never_written = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/never-written-by-any-test.txt");
    assert!(!never_written.exists(), "a missing snapshot was written");
}

/// A difference is shown as the lines around it, the snapshot's with `-`, the output's with `+`.
#[test]
fn a_differing_snapshot_shows_the_lines_that_differ() {
    let diff = support::snapshot::first_difference("a\nb\nc\n", "a\nB\nc\n");
    assert_eq!(diff, "@@ line 2 @@\n a\n-b\n-c\n+B\n+c\n");
    let endings = support::snapshot::first_difference("a\n", "a");
    assert!(endings.contains("final newline"), "{endings}");
}
