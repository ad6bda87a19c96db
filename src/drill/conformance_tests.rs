//! One set of action semantics: every row of [`TABLE`] is carried out twice, by the real
//! executor over the in-memory fleet (`run/fake.rs`, on the wall clock) and by the drill's
//! world (`drill/fleet.rs`, on its virtual clock), and both must end every action in the same
//! event: the same kind, the same outcome (the power state read, or the reason's variant).
//! Times are compared too, within what each row says and why.
//!
//! The executor side runs for real, so times here are small (a ready timeout of 400 ms);
//! lower bounds are exact, upper ones leave [`SLACK`] for a loaded machine.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod table;

use table::{Fault, Row, Step, Times, INTERVAL, READY_TIMEOUT, TABLE};

use super::fleet::World;
use super::random::Draws;
use super::{DrillConfig, FaultKind, Injected};
use crate::event::{Action, Event, Reason, Target};
use crate::load::load_str;
use crate::plan::Plan;
use crate::playbook::Prepare;
use crate::run::executor::Executor;
use crate::run::fake::FakeFleet;
use crate::scope::Scope;
use crate::topology::{HostId, Topology};

/// What the executor may take beyond the world's time on a loaded machine (its polls, the
/// scheduler of the test's runtime).
const SLACK: Duration = Duration::from_millis(200);

fn topology_of(row: &Row) -> String {
    let progress = if row.progress {
        "\n    progress: { command: progress 9000, interval: 50ms, stall_after: 150ms }"
    } else {
        ""
    };
    format!(
        r#"
name: conformance
policy: {{ parallelism: 8 }}
defaults:
  host:
    boot: 0s
    ssh: {{ connect_timeout: 1s }}
hosts:
  - {{ name: h1, address: 10.9.9.1, bmc: {{ address: 10.8.8.1, password_env: FAKE_BMC }} }}
  - {{ name: h2, address: 10.9.9.2 }}
subsystems:
  - name: svc
    hosts: [{host}]
    start: serve 9000
    health: {{ tcp: 9000 }}
    expect: {expect}ms
    ready_timeout: {ready}ms
    health_policy: {{ interval: {interval}ms, timeout: 100ms, successes: {successes} }}{progress}
"#,
        host = row.host,
        expect = row.expect_ms,
        ready = READY_TIMEOUT.as_millis(),
        interval = INTERVAL.as_millis(),
        successes = row.successes,
    )
}

struct Setup {
    topology: Arc<Topology>,
    plan: Plan,
    target: Target,
    prepare: Vec<Vec<Prepare>>,
}

fn setup(row: &Row) -> Setup {
    let source = topology_of(row);
    let topology = load_str(&source, Path::new("conformance.yaml"))
        .unwrap_or_else(|d| panic!("{}: {d}", row.name))
        .topology;
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    let host = topology.host_id(row.host).unwrap();
    let step = plan.steps.iter().position(|s| s.id == "svc").unwrap();
    assert_eq!(
        plan.steps[step].duration,
        Duration::from_millis(row.expect_ms),
        "{}: the drill's exact start time is the plan's",
        row.name
    );
    let mut prepare = vec![Vec::new(); topology.hosts.len()];
    prepare[host] = (0..row.prepare)
        .map(|n| Prepare {
            name: format!("prep{n}"),
            hosts: vec![host],
            command: format!("prep{n}"),
            timeout: Duration::from_secs(1),
        })
        .collect();
    let target = Target {
        host,
        step: Some((step, plan.steps[step].step)),
    };
    Setup {
        topology: Arc::new(topology),
        plan,
        target,
        prepare,
    }
}

fn action(step: Step, host: HostId) -> Option<Action> {
    let node = 0;
    Some(match step {
        Step::CheckPower => Action::CheckPower { host },
        Step::PowerOn => Action::PowerOn { host },
        Step::PowerOff => Action::PowerOff { host },
        Step::Recheck => Action::Recheck {
            host,
            why: Reason::Unreachable {
                detail: "gone".into(),
            },
        },
        Step::WaitSsh(prepared) => Action::WaitSsh { host, prepared },
        Step::Probe => Action::Probe { node },
        Step::Start(attempt) => Action::Start { node, attempt },
        Step::Wait(_) => return None,
    })
}

/// An event as the table compares it: its kind and outcome (the value read, or the
/// reason's variant), without times or words.
fn shape(event: &Event) -> String {
    fn outcome<T: std::fmt::Debug>(result: &Result<T, Reason>) -> String {
        match result {
            Ok(value) => format!("Ok({value:?})"),
            Err(why) => {
                let words = format!("{why:?}");
                let variant: String = words.chars().take_while(|c| c.is_alphanumeric()).collect();
                format!("Err({variant})")
            }
        }
    }
    match event {
        Event::PowerChecked { result, .. } => format!("PowerChecked {}", outcome(result)),
        Event::Rechecked { result, .. } => format!("Rechecked {}", outcome(result)),
        Event::PoweredOn { result, .. } => format!("PoweredOn {}", outcome(result)),
        Event::PoweredOff { result, .. } => format!("PoweredOff {}", outcome(result)),
        Event::SshReady { result, .. } => format!("SshReady {}", outcome(result)),
        Event::Probed { result, .. } => format!("Probed {}", outcome(result)),
        Event::StartFinished {
            result, attempt, ..
        } => format!("StartFinished#{attempt} {}", outcome(result)),
        other => format!("{other:?}"),
    }
}

/// What one side did: per action, its event's shape and how long it took.
type Trace = Vec<(String, Duration)>;

async fn through_the_executor(row: &Row, setup: &Setup) -> (Trace, Arc<FakeFleet>) {
    let fleet = Arc::new(FakeFleet::default());
    {
        let mut state = fleet.state.lock().unwrap();
        let opens_after = match row.fault {
            Fault::Hangs => Duration::from_secs(3600),
            _ => Duration::from_millis(row.expect_ms),
        };
        state.slow_to_open.insert("serve 9000".into(), opens_after);
        match row.fault {
            Fault::None => {}
            Fault::DeadBmc => {
                state.dead_bmc.insert(row.host.into());
            }
            Fault::Flapping => {
                state.flapping.insert("serve 9000".into());
            }
            Fault::StartFails => {
                state.failing.insert("serve 9000".into());
            }
            Fault::Hangs => {
                state.stalled.insert("serve 9000".into());
            }
        }
    }
    let executor = Executor::new(
        setup.topology.clone(),
        fleet.clone(),
        fleet.clone(),
        fleet.clone(),
    )
    .with_prepare(setup.prepare.clone());
    let mut trace = Vec::new();
    for &step in row.script {
        let Some(action) = action(step, setup.target.host) else {
            if let Step::Wait(pause) = step {
                tokio::time::sleep(pause).await;
            }
            continue;
        };
        let began = Instant::now();
        let outcome = executor.perform(action, setup.target).await;
        trace.push((shape(&outcome.event), began.elapsed()));
    }
    (trace, fleet)
}

fn through_the_drill(row: &Row, setup: &Setup) -> Trace {
    let subsystem = setup.topology.subsystem_id("svc");
    let injected: Vec<Injected> = match row.fault {
        Fault::DeadBmc => vec![FaultKind::DeadBmc],
        Fault::Flapping => vec![FaultKind::Flapping],
        Fault::StartFails => vec![FaultKind::StartFailure],
        Fault::None | Fault::Hangs => vec![],
    }
    .into_iter()
    .map(|kind| Injected {
        kind,
        host: setup.target.host,
        subsystem,
        from: Duration::ZERO,
        after: None,
    })
    .collect();
    let mut world = World::new(
        &setup.topology,
        &setup.plan,
        DrillConfig::exact(),
        &injected,
        Draws::new(7),
    )
    .with_prepare(&setup.prepare);
    if row.fault == Fault::Hangs {
        world.hang(setup.target.host, subsystem.unwrap());
    }
    let mut now = Duration::ZERO;
    let mut trace = Vec::new();
    for &step in row.script {
        let Some(action) = action(step, setup.target.host) else {
            if let Step::Wait(pause) = step {
                now += pause;
            }
            continue;
        };
        let (took, event) = world.perform(now, &action, setup.target);
        now += took;
        trace.push((shape(&event), took));
    }
    trace
}

/// Why the two traces of `row` disagree, if they do.
fn disagreement(row: &Row, executor: &Trace, drill: &Trace) -> Option<String> {
    let kinds = |trace: &Trace| trace.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if kinds(executor) != kinds(drill) {
        return Some(format!(
            "events differ\n  executor: {:?}\n  drill:    {:?}",
            kinds(executor),
            kinds(drill)
        ));
    }
    for ((kind, real), (_, simulated)) in executor.iter().zip(drill) {
        let (longer, shorter) = match row.times {
            Times::Longer(on, by) if kind.contains(on) => (by, Duration::ZERO),
            Times::Shorter(on, by) if kind.contains(on) => (Duration::ZERO, by),
            _ => (Duration::ZERO, Duration::ZERO),
        };
        let earliest = simulated.saturating_sub(shorter);
        let latest = *simulated + longer + SLACK;
        if *real < earliest || *real > latest {
            return Some(format!(
                "{kind}: the executor took {real:?}, the drill {simulated:?} (allowed {earliest:?}..{latest:?})"
            ));
        }
    }
    None
}

#[tokio::test]
async fn the_executor_and_the_drill_end_every_action_of_the_table_in_the_same_event() {
    let mut failures = Vec::new();
    for row in TABLE {
        let setup = setup(row);
        let (executor, fleet) = through_the_executor(row, &setup).await;
        let drill = through_the_drill(row, &setup);
        assert_eq!(executor.len(), drill.len(), "{}", row.name);
        if let Some(why) = disagreement(row, &executor, &drill) {
            failures.push(format!("{} ({}): {why}", row.name, row.note));
        }
        if row.prepare > 0 {
            // Run once: the WaitSsh of a prepared host does not run them again.
            for n in 0..row.prepare {
                assert_eq!(fleet.count(&format!("prep{n}")), 1, "{}", row.name);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The table covers every fault the drill deals at the level of one action, and says which
/// rows needed the drill to learn something.
#[test]
fn the_table_covers_the_drills_action_faults_and_names_its_changes() {
    let faults: Vec<Fault> = TABLE.iter().map(|row| row.fault).collect();
    for fault in [
        Fault::DeadBmc,
        Fault::Flapping,
        Fault::StartFails,
        Fault::Hangs,
    ] {
        assert!(faults.contains(&fault), "{fault:?} has no row");
    }
    let changed = TABLE
        .iter()
        .filter(|row| row.drill_change.is_some())
        .count();
    assert!(changed >= 4, "{changed} rows name a drill change");
}

/// The comparison itself can fail: a drill that ended a start in another event is caught.
#[test]
fn a_disagreement_is_reported() {
    let row = &TABLE[0];
    let executor: Trace = vec![("StartFinished#1 Ok(())".into(), Duration::ZERO)];
    let drill: Trace = vec![(
        "StartFinished#1 Err(NotHealthyWithin)".into(),
        Duration::ZERO,
    )];
    assert!(disagreement(row, &executor, &drill).is_some());
    let late: Trace = vec![("StartFinished#1 Ok(())".into(), Duration::from_secs(5))];
    assert!(disagreement(row, &late, &executor).is_some());
}
