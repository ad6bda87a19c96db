//! The reference topology's graphs stay readable: DOT renders with graphviz in seconds,
//! Mermaid stays under its 500-edge limit, and the reduction keeps every dependency.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blackstart::load::load_file;
use blackstart::plan::reduce::{drawn_edges, edges, Edge};
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use support::cli::{blackstart, text, wait_bounded};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/topologies/social-network.yaml"
);

fn arrows(text: &str, marks: &[&str]) -> usize {
    text.lines()
        .filter(|line| marks.iter().any(|mark| line.contains(mark)))
        .count()
}

#[test]
fn the_reference_dot_renders_with_graphviz_within_ten_seconds() {
    let dot = Path::new("/usr/bin/dot");
    assert!(
        dot.exists(),
        "graphviz is required: run `bash tests/install-lab-packages.sh`"
    );
    let output = blackstart(&["plan", "--format", "dot"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let source = String::from_utf8(output.stdout).unwrap();
    assert!(source.contains("subgraph cluster_"), "clusters by tier");
    assert!(source.contains("rank=same"), "ranks by wave");
    assert!(source.contains("color=red"), "critical path highlighted");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.dot");
    std::fs::write(&file, &source).unwrap();
    let began = Instant::now();
    let child = Command::new(dot)
        .args(["-Tsvg", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rendered = wait_bounded(child, Duration::from_secs(30));
    let took = began.elapsed();
    assert!(rendered.status.success(), "{rendered:?}");
    assert!(String::from_utf8_lossy(&rendered.stdout).contains("<svg"));
    assert!(took < Duration::from_secs(10), "dot took {took:?}");
    let all = blackstart(&["plan", "--format", "dot", "--all-edges"]);
    assert!(
        arrows(&String::from_utf8_lossy(&all.stdout), &["->"]) > arrows(&source, &["->"]),
        "--all-edges keeps the edges the reduction leaves out"
    );
}

#[test]
fn the_reference_mermaid_stays_under_five_hundred_edges_in_subgraphs() {
    let output = blackstart(&["plan", "--format", "mermaid"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let source = String::from_utf8(output.stdout).unwrap();
    let count = arrows(&source, &["-->", "-.->"]);
    assert!(count < 500, "{count} edges");
    assert!(
        source.matches("  subgraph ").count() >= 2,
        "grouped by tier"
    );
}

fn reach(n: usize, edges: &[Edge]) -> Vec<Vec<bool>> {
    (0..n)
        .map(|start| {
            let mut seen = vec![false; n];
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                for edge in edges.iter().filter(|edge| edge.from == node) {
                    if !std::mem::replace(&mut seen[edge.to], true) {
                        stack.push(edge.to);
                    }
                }
            }
            seen
        })
        .collect()
}

#[test]
fn the_reference_reduction_drops_edges_but_no_dependency() {
    let topology = load_file(Path::new(REFERENCE)).unwrap().topology;
    let plan = Plan::build(&topology, &Scope::default().select(&topology).unwrap()).unwrap();
    let all = edges(&plan);
    let reduced = drawn_edges(&plan, false);
    assert!(
        reduced.len() < all.len(),
        "{} of {}",
        reduced.len(),
        all.len()
    );
    let n = plan.steps.len();
    assert_eq!(reach(n, &reduced), reach(n, &all));
}

/// Boxes (node lines) of a DOT graph, the legend's aside.
fn boxes(dot: &str) -> Vec<&str> {
    dot.lines()
        .filter(|line| line.contains(" [label=") && !line.contains("\"legend: "))
        .collect()
}

#[test]
fn the_reference_graphs_fold_alike_steps_as_the_text_plan_does_and_carry_a_legend() {
    let folded = String::from_utf8(blackstart(&["plan", "--format", "dot"]).stdout).unwrap();
    let every =
        String::from_utf8(blackstart(&["plan", "--format", "dot", "--every-node"]).stdout).unwrap();
    // The 66 database shards are five boxes, each saying how many steps it stands for.
    let shard_boxes: Vec<&str> = boxes(&folded)
        .into_iter()
        .filter(|line| line.contains("db-shard"))
        .collect();
    assert_eq!(shard_boxes.len(), 5, "{shard_boxes:#?}");
    assert!(
        shard_boxes
            .iter()
            .any(|line| line.contains("\"user-db-shard-[01:24]\"") && line.contains("24 x 6 hosts")),
        "{shard_boxes:#?}"
    );
    assert!(
        boxes(&every)
            .iter()
            .filter(|l| l.contains("db-shard"))
            .count()
            == 66
    );
    assert!(
        2 * boxes(&folded).len() < boxes(&every).len(),
        "{} boxes folded, {} in full",
        boxes(&folded).len(),
        boxes(&every).len()
    );
    let fan_out = |dot: &str| {
        dot.lines()
            .filter(|l| l.starts_with("  \"config\" ->"))
            .count()
    };
    assert!(
        4 * fan_out(&folded) < fan_out(&every),
        "config fans out to {} boxes folded, {} in full",
        fan_out(&folded),
        fan_out(&every)
    );
    // The critical path stays marked, and a legend says what red and dashed mean.
    assert!(folded.contains("color=red"), "critical path marked");
    assert!(folded.contains("cluster_legend") && folded.contains("on the critical path"));
    assert!(folded.contains("wants (soft)"));
    let mermaid = String::from_utf8(blackstart(&["plan", "--format", "mermaid"]).stdout).unwrap();
    assert!(
        mermaid.contains("user-db-shard-[01:24] (S1, 24 x 6 hosts)"),
        "{mermaid}"
    );
    assert!(mermaid.contains("subgraph legend"), "{mermaid}");
}
