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
