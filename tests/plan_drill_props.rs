//! The plan and the drill agree exactly: over random topologies with quorums
//! (`min_healthy`), rolling starts (`max_parallel`) and hosts that boot at different speeds,
//! a fault-free drill with exact times and no fleet-wide caps makes every step ready when
//! the plan says, and takes exactly the plan's ETA. Under fleet-wide caps (parallelism, the
//! power-on rate), the ETA the plan quotes is the capped schedule: never before the bound,
//! step by step, and a cap with room to spare is named with no cost.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use blackstart::drill::{schedule, schedule_config, simulate, uncap, Drill, DrillConfig};
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

/// `yaml` with fleet-wide caps: `parallelism` starts at once, `per_window` power-ons per
/// 10 s per domain.
fn capped_yaml(subs: &[Sub], parallelism: u32, per_window: u32) -> String {
    yaml(subs).replacen(
        "hosts:\n",
        &format!(
            "policy:\n  parallelism: {parallelism}\n  power_on: {{ count: {per_window}, per: 10s }}\nhosts:\n"
        ),
        1,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_capped_schedule_is_the_drill_never_beats_the_bound_and_slack_caps_cost_nothing(
        subs in fleet(),
        parallelism in 1u32..4,
        per_window in 1u32..4,
    ) {
        let source = capped_yaml(&subs, parallelism, per_window);
        let topology = load_str(&source, Path::new("generated.yaml"))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}\n{source}"))
            .topology;
        let selection = Scope::default().select(&topology).unwrap();
        let plan = Plan::build(&topology, &selection).expect("acyclic");
        let scheduled = schedule(&topology, &plan);
        // What `simulate --no-faults --spread 0` runs, built independently of the plan.
        let drilled = Drill::new(&topology, &plan, schedule_config()).run(1);
        prop_assert!(drilled.succeeded, "{source}");
        prop_assert_eq!(scheduled.eta, drilled.makespan, "{}", source);
        for (id, step) in plan.steps.iter().enumerate() {
            prop_assert_eq!(Some(scheduled.ready_at[id]), drilled.ready_at[id], "{}", step.id);
            prop_assert!(
                scheduled.ready_at[id] >= step.ready_at,
                "{} ready at {:?} under caps, before its bound {:?}\n{}",
                step.id, scheduled.ready_at[id], step.ready_at, source
            );
        }
        prop_assert!(scheduled.eta >= plan.eta, "{}", source);
        let nodes: usize = plan.steps.iter().map(|s| s.hosts.len()).sum();
        let open = capped_yaml(&subs, nodes as u32 + 1, topology.hosts.len() as u32 + 1);
        let open_topology = load_str(&open, Path::new("generated.yaml")).unwrap().topology;
        let open_selection = Scope::default().select(&open_topology).unwrap();
        let open_plan = Plan::build(&open_topology, &open_selection).expect("acyclic");
        let unbound = schedule(&open_topology, &open_plan);
        for (cap, cost) in &unbound.cap_costs {
            prop_assert_eq!(*cost, std::time::Duration::ZERO, "{} binds with room to spare", cap);
        }
        prop_assert!(unbound.eta <= scheduled.eta, "{}", source);
    }
}
