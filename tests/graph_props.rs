//! Properties of ordering and cycle detection over random dependency graphs, written as
//! topology YAML and loaded the way a file is: any acyclic graph yields a plan in which every
//! step comes after what it needs and starts no earlier than its dependencies are ready; any
//! graph with a cycle is refused, and every cycle reported is real.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use blackstart::load::load_str;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use proptest::prelude::*;

/// A generated graph: `requires[i]` and `wants[i]` list what subsystem `i` depends on.
#[derive(Debug, Clone)]
struct Graph {
    requires: Vec<BTreeSet<usize>>,
    wants: Vec<BTreeSet<usize>>,
    /// Expected start duration of each subsystem, seconds.
    expect: Vec<u32>,
    /// Order in which subsystems are written to the file.
    order: Vec<usize>,
}

fn name(index: usize) -> String {
    format!("s{index}")
}

fn yaml(graph: &Graph) -> String {
    let count = graph.requires.len();
    let mut text = format!(
        "version: 1\nname: generated\nhosts:\n  - name: \"h[0:{}]\"\n    address: \"10.0.0.[0:{}]\"\n    boot: 1m\nsubsystems:\n",
        count - 1,
        count - 1
    );
    for &index in &graph.order {
        let _ = writeln!(
            text,
            "  - name: {}\n    hosts: [h{index}]\n    start: systemctl start {}\n    expect: {}s",
            name(index),
            name(index),
            graph.expect[index]
        );
        let list =
            |set: &BTreeSet<usize>| set.iter().map(|i| name(*i)).collect::<Vec<_>>().join(", ");
        if !graph.requires[index].is_empty() {
            let _ = writeln!(text, "    requires: [{}]", list(&graph.requires[index]));
        }
        if !graph.wants[index].is_empty() {
            let _ = writeln!(text, "    wants: [{}]", list(&graph.wants[index]));
        }
    }
    text
}

/// Acyclic graphs: subsystem `i` may depend only on subsystems with a smaller index; the file
/// lists them in a shuffled order so the planner cannot lean on it.
fn dag() -> impl Strategy<Value = Graph> {
    (2usize..24).prop_flat_map(|count| {
        let pairs = proptest::collection::vec((0..count, 0..count, any::<bool>()), 0..count * 3);
        let expect = proptest::collection::vec(1u32..600, count);
        let order = Just((0..count).collect::<Vec<_>>()).prop_shuffle();
        (pairs, expect, order).prop_map(move |(pairs, expect, order)| {
            let mut graph = Graph {
                requires: vec![BTreeSet::new(); count],
                wants: vec![BTreeSet::new(); count],
                expect,
                order,
            };
            for (a, b, hard) in pairs {
                let (low, high) = (a.min(b), a.max(b));
                if low == high {
                    continue;
                }
                if hard {
                    graph.requires[high].insert(low);
                } else if !graph.requires[high].contains(&low) {
                    graph.wants[high].insert(low);
                }
            }
            graph
        })
    })
}

/// Graphs with at least one cycle of hard dependencies: a DAG plus a ring over some of its
/// subsystems (each requiring the next, the last the first).
fn cyclic() -> impl Strategy<Value = Graph> {
    dag().prop_flat_map(|graph| {
        let count = graph.requires.len();
        let ring = Just((0..count).collect::<Vec<_>>())
            .prop_shuffle()
            .prop_flat_map(move |shuffled| {
                (2..=count.min(6)).prop_map(move |length| shuffled[..length].to_vec())
            });
        (Just(graph), ring).prop_map(|(mut graph, ring)| {
            for (position, &from) in ring.iter().enumerate() {
                let to = ring[(position + 1) % ring.len()];
                graph.wants[from].remove(&to);
                graph.requires[from].insert(to);
            }
            graph
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn acyclic_graphs_plan_every_step_after_what_it_needs(graph in dag()) {
        let source = yaml(&graph);
        let loaded = load_str(&source, Path::new("generated.yaml"))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}\n{source}"));
        let topology = loaded.topology;
        let selection = Scope::default().select(&topology).unwrap();
        let plan = Plan::build(&topology, &selection).expect("acyclic");
        prop_assert_eq!(plan.steps.len(), graph.requires.len());

        let position: HashMap<String, usize> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(at, step)| (step.id.clone(), at))
            .collect();
        for (index, step) in plan.steps.iter().enumerate() {
            for &dependency in step.requires.iter().chain(&step.wants) {
                prop_assert!(dependency < index, "{} planned before {}", step.id, plan.steps[dependency].id);
                prop_assert!(
                    step.earliest_start >= plan.steps[dependency].ready_at,
                    "{} starts at {:?}, before {} is ready at {:?}",
                    step.id, step.earliest_start, plan.steps[dependency].id, plan.steps[dependency].ready_at
                );
            }
            prop_assert!(step.ready_at >= step.earliest_start + step.duration);
        }
        // Every generated edge made it into the plan, hard ones as hard, soft ones as soft.
        for (dependent, needs) in graph.requires.iter().enumerate() {
            let step = &plan.steps[position[&name(dependent)]];
            let planned: BTreeSet<usize> = step.requires.iter().map(|d| position_of(&plan, *d)).collect();
            prop_assert_eq!(&planned, needs);
            let wanted: BTreeSet<usize> = step.wants.iter().map(|d| position_of(&plan, *d)).collect();
            prop_assert_eq!(&wanted, &graph.wants[dependent]);
        }
        // The ETA is the last readiness, and the critical path is a chain of dependencies.
        let last = plan.steps.iter().map(|step| step.ready_at).max().unwrap();
        prop_assert_eq!(plan.eta, last);
        for pair in plan.critical_path.windows(2) {
            let after = &plan.steps[pair[1]];
            prop_assert!(after.requires.contains(&pair[0]) || after.wants.contains(&pair[0]));
        }
    }

    #[test]
    fn graphs_with_a_cycle_are_refused_and_every_reported_cycle_is_real(graph in cyclic()) {
        let source = yaml(&graph);
        let diagnostics = match load_str(&source, Path::new("generated.yaml")) {
            Ok(_) => panic!("a cyclic graph was accepted:\n{source}"),
            Err(diagnostics) => diagnostics,
        };
        let cycles: Vec<Vec<usize>> = diagnostics
            .errors()
            .filter_map(|item| item.message.strip_prefix("dependency cycle: "))
            .map(|path| {
                path.split(" -> ")
                    .map(|step| step.strip_prefix('s').and_then(|n| n.parse().ok()).expect("a generated name"))
                    .collect()
            })
            .collect();
        prop_assert!(!cycles.is_empty(), "no cycle reported:\n{}", diagnostics);
        for cycle in &cycles {
            prop_assert!(cycle.len() >= 3, "a cycle needs two steps and the way back: {:?}", cycle);
            prop_assert_eq!(cycle.first(), cycle.last());
            for pair in cycle.windows(2) {
                prop_assert!(
                    graph.requires[pair[0]].contains(&pair[1]),
                    "reported edge s{} -> s{} is not a requires edge; cycle {:?}",
                    pair[0], pair[1], cycle
                );
            }
            // Elementary: no step repeats inside the cycle.
            let inner: BTreeSet<usize> = cycle[1..].iter().copied().collect();
            prop_assert_eq!(inner.len(), cycle.len() - 1);
        }
        // Every diagnostic is placed in the file.
        for item in diagnostics.errors() {
            prop_assert!(item.location.is_some(), "{} has no location", item.message);
        }
    }
}

/// The generated index of the subsystem behind plan step `step`.
fn position_of(plan: &Plan, step: usize) -> usize {
    plan.steps[step].id.trim_start_matches('s').parse().unwrap()
}
