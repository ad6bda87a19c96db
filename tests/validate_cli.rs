//! `validate`, `plan` and `schema` driven through the binary, the way an operator uses them:
//! every shipped topology validates, every broken one is refused with its place in the file
//! (exit 2, no panic), and the plans keep their promises (order, scope, critical path).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::cli::output_bounded;
use support::snapshot::assert_snapshot;

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the repository root.
fn blackstart(args: &[&str]) -> Output {
    output_bounded(Command::new(BIN).args(args).current_dir(root()))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn all_output(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// The 1-based line of the first line of `source` containing `marker`.
fn line_of(source: &str, marker: &str) -> usize {
    source
        .lines()
        .position(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("marker {marker:?} not in source"))
        + 1
}

/// Writes `source` to a temporary file and validates it.
fn validate_text(source: &str) -> (Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topology.yaml");
    std::fs::write(&path, source).unwrap();
    let output = blackstart(&["validate", path.to_str().unwrap()]);
    (output, path, dir)
}

/// Validates a broken topology and checks: exit 2, no panic, `file:LINE:` of `marker`'s line,
/// and every `expected` fragment in the message. Returns everything printed.
fn refused(source: &str, marker: &str, expected: &[&str]) -> String {
    let (output, path, _dir) = validate_text(source);
    let text = all_output(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code 2 expected:\n{text}"
    );
    assert!(!text.contains("panicked"), "panicked:\n{text}");
    let place = format!("{}:{}:", path.display(), line_of(source, marker));
    assert!(text.contains(&place), "expected {place} in:\n{text}");
    for fragment in expected {
        assert!(text.contains(fragment), "expected {fragment:?} in:\n{text}");
    }
    text
}

/// A small valid topology; the broken cases are edits of it.
const BASE: &str = r#"version: 1
name: broken
defaults:
  host:
    bmc: { user: admin, password_env: BMC_PASSWORD }
hosts:
  - name: node[1:4].dc1
    address: 10.0.0.[1:4]
    bmc: { address: "10.1.0.[1:4]" }
    datacenter: dc1
subsystems:
  - name: database
    hosts: ["node[1:2].dc1"]
    start: systemctl start postgresql
    health: { tcp: 5432 }
  - name: app
    hosts: [node3.dc1]
    requires: [database]
    start: systemctl start app
    health: { tcp: 8080 }
"#;

#[test]
fn every_shipped_topology_validates() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("topologies"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "topologies/ holds {files:?}");
    for file in &files {
        let output = blackstart(&["validate", file]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{file}:\n{}",
            all_output(&output)
        );
        assert!(stdout(&output).contains(": ok ("), "{}", stdout(&output));
    }
}

#[test]
fn the_base_of_the_broken_cases_is_itself_valid() {
    let (output, _, _dir) = validate_text(BASE);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
}

#[test]
fn yaml_syntax_error_points_at_its_line() {
    let source = BASE.replace(
        "requires: [database]",
        "requires: [database\n    start_timeout: 1m",
    );
    let (output, path, _dir) = validate_text(&source);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // The parser notices the unclosed list where it stops making sense: on the next lines.
    let opened = line_of(&source, "requires: [database");
    let reported = text
        .split(&format!("{}:", path.display()))
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|line| line.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no file:line in:\n{text}"));
    assert!(
        (opened..=opened + 3).contains(&reported),
        "line {reported}:\n{text}"
    );
}

#[test]
fn unknown_dependency_says_did_you_mean() {
    let source = BASE.replace("requires: [database]", "requires: [databse]");
    refused(
        &source,
        "requires: [databse]",
        &[
            "unknown dependency \"databse\"",
            "did you mean \"database\"?",
        ],
    );
}

#[test]
fn duplicate_subsystem_is_refused_at_the_second_declaration() {
    let source =
        format!("{BASE}  - name: app\n    hosts: [node4.dc1]\n    start: systemctl start app2\n");
    let lines: Vec<&str> = source.lines().collect();
    let marker_line = lines.iter().rposition(|l| *l == "  - name: app").unwrap() + 1;
    let (output, path, _dir) = validate_text(&source);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("duplicate subsystem \"app\""), "{text}");
    assert!(
        text.contains(&format!("{}:{marker_line}:", path.display())),
        "{text}"
    );
}

const THREE_CYCLE: &str = r#"version: 1
name: cycle
hosts:
  - name: h[1:3]
    address: 10.0.0.[1:3]
subsystems:
  - name: a
    hosts: [h1]
    requires: [b]
    start: systemctl start a
  - name: b
    hosts: [h2]
    requires: [c]
    start: systemctl start b
  - name: c
    hosts: [h3]
    requires: [a]
    start: systemctl start c
"#;

#[test]
fn three_subsystem_cycle_shows_the_whole_path() {
    let text = refused(
        THREE_CYCLE,
        "requires: [b]",
        &["dependency cycle: a -> b -> c -> a"],
    );
    assert!(
        text.contains("bootstrap"),
        "the hint names the way out:\n{text}"
    );
}

#[test]
fn two_independent_cycles_are_both_reported() {
    let source = format!(
        "{THREE_CYCLE}  - name: x\n    hosts: [h1]\n    requires: [y]\n    start: systemctl start x\n  - name: y\n    hosts: [h2]\n    requires: [x]\n    start: systemctl start y\n"
    );
    let text = refused(
        &source,
        "requires: [b]",
        &[
            "dependency cycle: a -> b -> c -> a",
            "dependency cycle: x -> y -> x",
        ],
    );
    let second = format!(":{}:", line_of(&source, "requires: [y]"));
    assert!(text.contains(&second), "second cycle at {second}:\n{text}");
    assert_eq!(text.matches("dependency cycle").count(), 2, "{text}");
}

#[test]
fn cycle_broken_by_a_bootstrap_mode_is_valid() {
    let source = THREE_CYCLE.replace("requires: [a]", "requires: [{ name: a, bootstrap: true }]").replace(
        "    start: systemctl start a\n",
        "    start: systemctl start a\n    bootstrap:\n      start: systemctl start a-snapshot\n      health: { tcp: 7001 }\n",
    );
    let (output, path, _dir) = validate_text(&source);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    let plan = blackstart(&["plan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", all_output(&plan));
    let document: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let order: Vec<&str> = document["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a@bootstrap", "c", "b", "a"]);
}

#[test]
fn inline_bmc_password_is_refused_and_never_echoed() {
    let secret = "Tr0ub4dor-and-3";
    let source = BASE.replace(
        r#"bmc: { address: "10.1.0.[1:4]" }"#,
        &format!("bmc: {{ address: \"10.1.0.[1:4]\", password: \"{secret}\" }}"),
    );
    let text = refused(
        &source,
        secret,
        &["BMC password written inline", "password_env"],
    );
    assert!(!text.contains(secret), "the password leaked:\n{text}");

    // Also when it is the only thing on its line, and in the defaults.
    let source = BASE.replace(
        "    bmc: { user: admin, password_env: BMC_PASSWORD }",
        &format!("    bmc:\n      user: admin\n      password: {secret}"),
    );
    let text = refused(&source, secret, &["BMC password written inline"]);
    assert!(!text.contains(secret), "the password leaked:\n{text}");
}

#[test]
fn negative_duration_is_refused_on_its_line() {
    let source = BASE.replace(
        "    start: systemctl start app\n",
        "    start: systemctl start app\n    expect: -30s\n",
    );
    refused(&source, "expect: -30s", &["negative"]);
}

#[test]
fn unparseable_duration_is_refused_on_its_line() {
    let source = BASE.replace(
        "    start: systemctl start app\n",
        "    start: systemctl start app\n    ready_timeout: soonish\n",
    );
    refused(
        &source,
        "ready_timeout: soonish",
        &["invalid duration \"soonish\"", "30s"],
    );
}

#[test]
fn unknown_host_is_refused_with_a_suggestion() {
    let source = BASE.replace("hosts: [node3.dc1]", "hosts: [node3.dc2]");
    refused(
        &source,
        "node3.dc2",
        &["unknown host \"node3.dc2\"", "did you mean \"node3.dc1\"?"],
    );
}

#[test]
fn subsystem_without_hosts_is_refused() {
    let source = BASE.replace("hosts: [node3.dc1]", "hosts: []");
    refused(
        &source,
        "  - name: app",
        &["subsystem \"app\" has no hosts"],
    );
}

#[test]
fn garbage_never_panics() {
    for source in [
        "",
        "[]",
        "name: [",
        "name: x\nhosts: 5\n",
        "\u{0}\u{1}",
        "name: x\nsubsystems:\n  - {}\n",
    ] {
        let (output, _, _dir) = validate_text(source);
        let text = all_output(&output);
        assert_eq!(output.status.code(), Some(2), "{source:?}:\n{text}");
        assert!(!text.contains("panicked"), "{source:?}:\n{text}");
    }
}

// ---------------------------------------------------------------- plan

fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let output = blackstart(&all);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    serde_json::from_slice(&output.stdout).expect("plan JSON")
}

fn step_subsystems(plan: &Value) -> BTreeSet<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["subsystem"].as_str().unwrap().to_string())
        .collect()
}

const SOCIAL: &str = "topologies/social-network.yaml";

#[test]
fn social_network_plan_has_the_2013_scale_and_respects_every_dependency() {
    let plan = plan_json(&[SOCIAL]);
    let nodes = plan["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 5000, "{} nodes", nodes.len());
    assert!(plan["node_count"].as_u64().unwrap() >= 5000);
    assert!(plan["subsystem_count"].as_u64().unwrap() >= 140);
    assert!(step_subsystems(&plan).len() >= 140);
    let eta = plan["eta_s"].as_f64().unwrap();
    assert!((600.0..=4.0 * 3600.0).contains(&eta), "ETA {eta}s");

    // Every step id its dependencies name exists; bootstrap steps are `name@bootstrap`.
    let step_ids: BTreeSet<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert!(step_ids.contains("config@bootstrap"), "{step_ids:?}");
    let mut by_step: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for node in nodes {
        by_step
            .entry(node["step"].as_str().unwrap())
            .or_default()
            .push((
                node["earliest_start_s"].as_f64().unwrap(),
                node["duration_s"].as_f64().unwrap(),
            ));
    }
    // A dependency is ready at its quorum (`min_healthy`): its first members to finish.
    let required: HashMap<&str, usize> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            let id = step["id"].as_str().unwrap();
            (id, step["required_healthy"].as_u64().unwrap() as usize)
        })
        .collect();
    for (step, members) in by_step.iter_mut() {
        members.sort_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1)));
        members.truncate(required[step].max(1));
    }
    let mut checked = 0;
    for node in nodes {
        let start = node["earliest_start_s"].as_f64().unwrap();
        for dependency in node["depends_on"].as_array().unwrap() {
            let dependency = dependency.as_str().unwrap();
            assert!(step_ids.contains(dependency), "unknown step {dependency}");
            for (dep_start, dep_duration) in &by_step[dependency] {
                assert!(
                    start + 1e-6 >= dep_start + dep_duration,
                    "{} on {} starts at {start} before {dependency} is done ({dep_start} + {dep_duration})",
                    node["step"],
                    node["host"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} dependency pairs checked");
}

#[test]
fn social_network_critical_path_is_a_chain_ending_at_the_eta() {
    let plan = plan_json(&[SOCIAL]);
    let steps: HashMap<&str, &Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| (step["id"].as_str().unwrap(), step))
        .collect();
    let path: Vec<&str> = plan["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert!(!path.is_empty());
    let last = steps[path.last().unwrap()];
    assert_eq!(last["ready_s"], plan["eta_s"], "{path:?}");
    assert!(last["critical"].as_bool().unwrap());
    for pair in path.windows(2) {
        let after = steps[pair[1]];
        let needs = |key: &str| after[key].as_array().unwrap().iter().any(|d| d == pair[0]);
        assert!(
            needs("depends_on") || needs("wants"),
            "{} -> {} is no dependency",
            pair[0],
            pair[1]
        );
    }
    let critical = steps
        .values()
        .filter(|step| step["critical"] == true)
        .count();
    assert_eq!(critical, path.len());
}

#[test]
fn dot_and_mermaid_mark_the_critical_path() {
    let plan = plan_json(&["topologies/minimal.yaml"]);
    let critical: Vec<String> = plan["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    assert!(!critical.is_empty(), "{critical:?}");

    let dot = stdout(&blackstart(&[
        "plan",
        "topologies/minimal.yaml",
        "--format",
        "dot",
    ]));
    assert!(dot.starts_with("digraph"), "{dot}");
    for id in &critical {
        let node = dot
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("\"{id}\" [")))
            .unwrap_or_else(|| panic!("no node {id} in:\n{dot}"));
        assert!(node.contains("color=red"), "{node}");
    }
    for pair in critical.windows(2) {
        let edge = format!("\"{}\" -> \"{}\" [color=red", pair[0], pair[1]);
        assert!(dot.contains(&edge), "missing {edge} in:\n{dot}");
    }
    assert!(
        dot.contains("style=dashed"),
        "soft dependency drawn dashed:\n{dot}"
    );

    let mermaid = stdout(&blackstart(&[
        "plan",
        "topologies/minimal.yaml",
        "--format",
        "mermaid",
    ]));
    assert!(mermaid.starts_with("flowchart"), "{mermaid}");
    assert!(mermaid.contains("classDef critical"), "{mermaid}");
    let class_line = mermaid
        .lines()
        .find(|line| line.trim_start().starts_with("class "))
        .expect("critical nodes get a class");
    assert_eq!(
        class_line
            .trim()
            .trim_start_matches("class ")
            .trim_end_matches(" critical")
            .split(',')
            .count(),
        critical.len()
    );
    assert_eq!(
        mermaid.matches("linkStyle").count(),
        critical.len() - 1,
        "{mermaid}"
    );
}

/// Subsystem names that `name` transitively requires (itself included), from a full plan.
fn requirement_closure(plan: &Value, name: &str) -> BTreeSet<String> {
    let steps = plan["steps"].as_array().unwrap();
    let subsystem_of: HashMap<&str, &str> = steps
        .iter()
        .map(|step| {
            (
                step["id"].as_str().unwrap(),
                step["subsystem"].as_str().unwrap(),
            )
        })
        .collect();
    let mut closure = BTreeSet::new();
    let mut queue = vec![name.to_string()];
    while let Some(current) = queue.pop() {
        if !closure.insert(current.clone()) {
            continue;
        }
        for step in steps
            .iter()
            .filter(|step| step["subsystem"] == current.as_str())
        {
            for dependency in step["depends_on"].as_array().unwrap() {
                queue.push(subsystem_of[dependency.as_str().unwrap()].to_string());
            }
        }
    }
    closure
}

#[test]
fn only_covers_the_transitive_requirements_and_nothing_else() {
    let full = plan_json(&[SOCIAL]);
    for target in [
        "feed-svc",
        "graph-leader",
        "cluster-store",
        "edge-proxy-dc1",
    ] {
        let expected = requirement_closure(&full, target);
        let scoped = plan_json(&[SOCIAL, "--only", target]);
        assert_eq!(step_subsystems(&scoped), expected, "--only {target}");
        // Soft dependencies do not pull anything in.
        assert!(scoped["assumed_up"].as_array().unwrap().is_empty());
    }
    let scoped = plan_json(&[SOCIAL, "--only", "feed-svc"]);
    let subsystems = step_subsystems(&scoped);
    assert!(subsystems.contains("config") && subsystems.contains("user-db-shard-01"));
    assert!(!subsystems.contains("web-dc1") && !subsystems.contains("notification-svc"));
}

#[test]
fn exclude_leaves_a_subsystem_out_and_assumes_it_up() {
    let plan = plan_json(&[SOCIAL, "--exclude", "memcache-user-dc1"]);
    let subsystems = step_subsystems(&plan);
    assert!(!subsystems.contains("memcache-user-dc1"));
    assert!(subsystems.contains("memcache-user-dc2"));
    let assumed: Vec<&str> = plan["assumed_up"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(assumed, ["memcache-user-dc1"]);
    for node in plan["nodes"].as_array().unwrap() {
        assert!(!node["depends_on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "memcache-user-dc1"));
    }
}

#[test]
fn datacenter_keeps_only_its_hosts() {
    let plan = plan_json(&[SOCIAL, "--datacenter", "dc2"]);
    let nodes = plan["nodes"].as_array().unwrap();
    assert!(nodes.len() > 2000, "{}", nodes.len());
    assert!(nodes
        .iter()
        .all(|node| node["host"].as_str().unwrap().ends_with(".dc2")));
    let subsystems = step_subsystems(&plan);
    assert!(subsystems.contains("web-dc2") && !subsystems.contains("web-dc1"));
    assert!(
        !subsystems.contains("hdfs-namenode"),
        "dc1-only analytics drop out"
    );
}

#[test]
fn label_keeps_only_matching_hosts() {
    let plan = plan_json(&[SOCIAL, "--label", "role=web"]);
    assert_eq!(
        step_subsystems(&plan),
        BTreeSet::from(["web-dc1".to_string(), "web-dc2".to_string()])
    );
    let nodes = plan["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), plan["node_count"].as_u64().unwrap() as usize);
    assert!(nodes
        .iter()
        .all(|node| node["host"].as_str().unwrap().starts_with("web")));

    let both = plan_json(&[SOCIAL, "--label", "role=web", "--datacenter", "dc1"]);
    assert_eq!(
        step_subsystems(&both),
        BTreeSet::from(["web-dc1".to_string()])
    );
}

#[test]
fn unknown_scope_names_are_input_errors() {
    let output = blackstart(&["plan", SOCIAL, "--only", "feed-svcc"]);
    assert_ne!(output.status.code(), Some(0));
    let text = all_output(&output);
    assert!(text.contains("feed-svc"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn minimal_text_plan_shows_waves_hosts_commands_critical_path_and_eta() {
    let output = blackstart(&["plan", "topologies/minimal.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    let text = stdout(&output);
    for fragment in [
        "WAVE 0",
        "WAVE 4",
        "db[1:3].dc1",
        "ssh root@10.0.2.1:22 -- systemctl start postgresql",
        "systemctl stop configd-snapshot",
        "critical path: ",
        "ETA ",
        "[critical path]",
        "password from $BMC_PASSWORD, not shown",
    ] {
        assert!(text.contains(fragment), "missing {fragment:?} in:\n{text}");
    }
    assert_snapshot("minimal-plan.txt", &text);
}

#[test]
fn schema_is_json_and_describes_subsystems() {
    let output = blackstart(&["schema"]);
    assert_eq!(output.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&output.stdout).expect("schema is JSON");
    assert!(schema["properties"]["subsystems"].is_object(), "{schema}");
    assert!(stdout(&output).contains("subsystems"));
    assert!(
        !stdout(&output).contains("\"password\""),
        "inline passwords are not part of the format"
    );
}

#[test]
fn the_embedded_topology_plans_without_a_file() {
    let output = blackstart(&["plan", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["topology"], "social-network");
}
