//! The plan and the drill agree exactly: over random topologies with quorums
//! (`min_healthy`), rolling starts (`max_parallel`) and hosts that boot at different speeds,
//! a fault-free drill with exact times and no fleet-wide caps makes every step ready when
//! the plan says, and takes exactly the plan's ETA.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use blackstart::drill::{simulate, uncap, DrillConfig};
use blackstart::load::load_str;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use proptest::prelude::*;

/// One generated subsystem: its hosts' boot times (seconds), quorum, rolling cap, start
/// duration and the lower-numbered subsystems it requires or wants.
#[derive(Debug, Clone)]
struct Sub {
    boots: Vec<u32>,
    min_healthy: usize,
    max_parallel: Option<usize>,
    expect: u32,
    requires: BTreeSet<usize>,
    wants: BTreeSet<usize>,
}

fn subsystem(index: usize) -> impl Strategy<Value = Sub> {
    let deps = proptest::collection::vec((0..index.max(1), any::<bool>()), 0..3);
    (1usize..6).prop_flat_map(move |hosts| {
        (
            proptest::collection::vec(1u32..400, hosts),
            1..=hosts,
            proptest::option::of(1..=hosts),
            1u32..300,
            deps.clone(),
        )
            .prop_map(move |(boots, min_healthy, max_parallel, expect, deps)| {
                let (mut requires, mut wants) = (BTreeSet::new(), BTreeSet::new());
                for (dependency, hard) in deps.into_iter().filter(|_| index > 0) {
                    if hard {
                        wants.remove(&dependency);
                        requires.insert(dependency);
                    } else if !requires.contains(&dependency) {
                        wants.insert(dependency);
                    }
                }
                Sub {
                    boots,
                    min_healthy,
                    max_parallel,
                    expect,
                    requires,
                    wants,
                }
            })
    })
}

fn fleet() -> impl Strategy<Value = Vec<Sub>> {
    (1usize..10).prop_flat_map(|count| (0..count).map(subsystem).collect::<Vec<_>>())
}

fn yaml(subs: &[Sub]) -> String {
    let mut hosts = String::new();
    let mut text = String::new();
    for (index, sub) in subs.iter().enumerate() {
        let names: Vec<String> = (0..sub.boots.len())
            .map(|h| format!("h{index}-{h}"))
            .collect();
        for (host, (name, boot)) in names.iter().zip(&sub.boots).enumerate() {
            let _ = writeln!(
                hosts,
                "  - {{ name: {name}, address: 10.0.{index}.{host}, boot: {boot}s }}"
            );
        }
        let _ = writeln!(
            text,
            "  - name: s{index}\n    hosts: [{}]\n    start: \"true\"\n    expect: {}s\n    min_healthy: {}",
            names.join(", "),
            sub.expect,
            sub.min_healthy
        );
        if let Some(cap) = sub.max_parallel {
            let _ = writeln!(text, "    max_parallel: {cap}");
        }
        let list = |set: &BTreeSet<usize>| {
            set.iter()
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !sub.requires.is_empty() {
            let _ = writeln!(text, "    requires: [{}]", list(&sub.requires));
        }
        if !sub.wants.is_empty() {
            let _ = writeln!(text, "    wants: [{}]", list(&sub.wants));
        }
    }
    format!("version: 1\nname: generated\nhosts:\n{hosts}subsystems:\n{text}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn an_exact_uncapped_drill_makes_every_step_ready_when_the_plan_says(subs in fleet()) {
        let source = yaml(&subs);
        let mut topology = load_str(&source, Path::new("generated.yaml"))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}\n{source}"))
            .topology;
        uncap(&mut topology);
        let selection = Scope::default().select(&topology).unwrap();
        let plan = Plan::build(&topology, &selection).expect("acyclic");
        let outcome = simulate(&topology, &plan, DrillConfig::exact(), 5);
        prop_assert!(outcome.succeeded, "{source}");
        for (id, step) in plan.steps.iter().enumerate() {
            prop_assert_eq!(outcome.ready_at[id], Some(step.ready_at), "{}\n{}", step.id, source);
            prop_assert!(step.ready_at <= step.all_healthy_at);
        }
        prop_assert_eq!(outcome.makespan, plan.eta, "{}", source);
        let critical: Vec<usize> = outcome.critical_path.clone();
        prop_assert_eq!(critical.last(), plan.critical_path.last());
    }
}
