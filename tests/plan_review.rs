//! The plan as people review it and the contract it makes with the run: scope by host and
//! tier, the digest, the folded text plan of the reference topology.

mod support;

use serde_json::Value;
use support::cli::{blackstart, text};

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
