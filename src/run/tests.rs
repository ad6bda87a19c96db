//! The driver and scheduler together against an in-memory fleet.

use std::path::Path;
use std::sync::Arc;

use super::driver::real::RealFleet;
use super::driver::{drive, replay, Ended};
use super::executor::Executor;
use super::fake::FakeFleet;
use crate::event::Event;
use crate::journal::{self, Journal};
use crate::load::load_str;
use crate::plan::Plan;
use crate::scope::Scope;
use crate::topology::Topology;

const TOPOLOGY: &str = r#"
name: fake
policy: { parallelism: 8, power_on: { count: 100, per: 1s } }
defaults:
  host:
    boot: 0s
    bmc: { password_env: FAKE_BMC }
    ssh: { connect_timeout: 1s }
  subsystem:
    health_policy: { interval: 1ms, timeout: 1s, successes: 1 }
    retry: { attempts: 2, backoff: 1ms, max_backoff: 1ms }
hosts:
  - { name: "h[1:6]", address: "10.9.9.[1:6]", bmc: { address: "10.8.8.[1:6]" } }
subsystems:
  - name: config
    hosts: ["h[1:2]"]
    requires: [db]
    start: serve 7000
    health: { tcp: 7000 }
    bootstrap: { start: serve 7001, stop: unserve 7001, health: { tcp: 7001 } }
  - name: db
    hosts: ["h[3:4]"]
    requires: [{ name: config, bootstrap: true }]
    start: serve 5432
    health: { tcp: 5432 }
    min_healthy: 1
  - name: app
    hosts: ["h[5:6]"]
    requires: [config]
    start: serve 8080
    health: { tcp: 8080 }
"#;

fn setup() -> (Arc<Topology>, Arc<Plan>) {
    let topology = load_str(TOPOLOGY, Path::new("fake.yaml")).unwrap().topology;
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    (Arc::new(topology), Arc::new(plan))
}

async fn run_once(fleet: &Arc<FakeFleet>, dir: &Path, resume: bool) -> bool {
    let (topology, plan) = setup();
    let records = journal::read(dir).unwrap();
    let events = journal::events(&records);
    let offset = events.last().map(|(at, _)| *at).unwrap_or_default();
    let mut scheduler = replay(&topology, &plan, 7, &events);
    if resume {
        let starts =
            journal::unfinished(&records).starts_by_wall_clock(std::time::SystemTime::now());
        scheduler.prepare_resume(offset, &starts);
    }
    let executor = Executor::new(
        topology.clone(),
        fleet.clone(),
        fleet.clone(),
        fleet.clone(),
    );
    let journal = Journal::open(dir, offset).unwrap();
    drive_fake(&topology, &plan, executor, journal, scheduler, dir, offset)
        .await
        .succeeded
}

async fn drive_fake(
    topology: &Topology,
    plan: &Plan,
    executor: Executor<FakeFleet, FakeFleet, FakeFleet>,
    mut journal: Journal,
    scheduler: super::scheduler::Scheduler,
    dir: &Path,
    offset: std::time::Duration,
) -> Ended {
    let mut fleet = RealFleet::new(executor, dir.to_path_buf(), offset);
    let opening = journal::Entry::RunStarted {
        format: journal::FORMAT,
        plan_digest: "digest".into(),
        topology: topology.name.clone(),
        resumed: offset > std::time::Duration::ZERO,
        pid: std::process::id(),
    };
    drive(
        topology,
        plan,
        &mut fleet,
        &mut journal,
        &mut (),
        scheduler,
        Some(opening),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn cold_start_brings_everything_up_through_bootstrap_then_a_rerun_starts_nothing() {
    let fleet = Arc::new(FakeFleet::default());
    let dir = tempfile::tempdir().unwrap();
    assert!(run_once(&fleet, dir.path(), false).await);
    assert_eq!(
        fleet.count("serve 7001"),
        2,
        "bootstrap mode started on both config hosts"
    );
    assert_eq!(
        fleet.count("unserve 7001"),
        2,
        "bootstrap mode left before the normal start"
    );
    assert_eq!(fleet.count("serve 7000"), 2);
    assert_eq!(fleet.count("serve 8080"), 2);
    let starts = |fleet: &FakeFleet| {
        let state = fleet.state.lock().unwrap();
        state.commands.iter().filter(|(_, c)| c != "true").count()
    };
    let before = starts(&fleet);

    let second = tempfile::tempdir().unwrap();
    assert!(run_once(&fleet, second.path(), false).await);
    let after = starts(&fleet);
    assert_eq!(before, after, "a healthy fleet is probed, never started");
}

#[tokio::test]
async fn a_dead_bmc_blocks_only_what_needs_that_host() {
    let fleet = Arc::new(FakeFleet::default());
    fleet.state.lock().unwrap().dead_bmc.insert("h5".into());
    let dir = tempfile::tempdir().unwrap();
    assert!(!run_once(&fleet, dir.path(), false).await);
    assert_eq!(fleet.count("serve 8080"), 1, "app still started on h6");
    assert_eq!(fleet.count("serve 7000"), 2);
}

#[tokio::test]
async fn a_resume_reprobes_and_restarts_nothing_healthy() {
    let fleet = Arc::new(FakeFleet::default());
    fleet
        .state
        .lock()
        .unwrap()
        .failing
        .insert("serve 8080".into());
    let dir = tempfile::tempdir().unwrap();
    assert!(!run_once(&fleet, dir.path(), false).await);
    let db_starts = fleet.count("serve 5432");
    fleet.state.lock().unwrap().failing.clear();
    // Failed nodes stay failed on resume until re-armed.
    assert!(!run_once(&fleet, dir.path(), true).await);
    assert_eq!(
        fleet.count("serve 5432"),
        db_starts,
        "healthy db not restarted"
    );
    let records = journal::read(dir.path()).unwrap();
    assert!(
        records
            .iter()
            .filter(|r| matches!(r.entry, journal::Entry::RunStarted { resumed: true, .. }))
            .count()
            == 1
    );
}

#[tokio::test]
async fn a_service_healthy_just_after_its_ready_timeout_is_started_exactly_once() {
    // Incident 1: restarting half-recovered servers lost their progress. The first attempt
    // times out waiting for health; the service comes up during the backoff, and the probe
    // before the retry must find it and leave it alone.
    let text = TOPOLOGY.replace(
        "    start: serve 8080\n",
        "    start: serve 8080\n    ready_timeout: 100ms\n    retry: { attempts: 3, backoff: 2s, max_backoff: 2s }\n",
    );
    assert_ne!(text, TOPOLOGY, "the app subsystem was given its timeouts");
    let topology = Arc::new(load_str(&text, Path::new("fake.yaml")).unwrap().topology);
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Arc::new(Plan::build(&topology, &selection).unwrap());
    let fleet = Arc::new(FakeFleet::default());
    fleet
        .state
        .lock()
        .unwrap()
        .slow_to_open
        .insert("serve 8080".into(), std::time::Duration::from_millis(600));
    let dir = tempfile::tempdir().unwrap();
    let executor = Executor::new(
        topology.clone(),
        fleet.clone(),
        fleet.clone(),
        fleet.clone(),
    );
    let journal = Journal::open(dir.path(), Default::default()).unwrap();
    let scheduler = replay(&topology, &plan, 7, &[]);
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        drive_fake(
            &topology,
            &plan,
            executor,
            journal,
            scheduler,
            dir.path(),
            Default::default(),
        ),
    )
    .await
    .expect("the run ends");
    assert!(result.succeeded, "{:?}", result.final_state.statuses());
    assert_eq!(
        fleet.count("serve 8080"),
        2,
        "once on each app host, never twice"
    );
    let records = journal::read(dir.path()).unwrap();
    let app_events = |wanted: fn(&Event) -> bool| {
        records
            .iter()
            .filter(|r| match &r.entry {
                journal::Entry::Event { event, step, .. } => {
                    step.as_deref().is_some_and(|s| s.starts_with("app")) && wanted(event)
                }
                _ => false,
            })
            .count()
    };
    let failed_attempts = app_events(|e| matches!(e, Event::StartFinished { result: Err(_), .. }));
    assert_eq!(
        failed_attempts, 2,
        "each app node's first attempt timed out"
    );
    let healthy_probes = app_events(|e| e.found_healthy());
    assert_eq!(
        healthy_probes, 2,
        "the probe before each retry found it healthy"
    );
}

/// A window on power checks hands them out in dependency order, a few at a time, and the
/// next one as each is answered; without one, every host is checked at once.
#[test]
fn power_checks_are_handed_out_within_their_window() {
    use super::scheduler::Scheduler;
    use crate::event::{Action, PowerReport};
    use std::time::Duration;

    let (topology, plan) = setup();
    let mut topology = (*topology).clone();
    // Power is read first only where the answer matters: Redfish BMCs (IPMI hosts are
    // switched on without a read).
    for host in &mut topology.hosts {
        host.bmc.as_mut().unwrap().protocol =
            crate::topology::BmcProtocol::Redfish(crate::topology::RedfishSettings {
                system: None,
                tls: crate::topology::TlsTrust::default(),
                off: crate::topology::RedfishOff::ForceOff,
            });
    }
    let checks = |actions: &[Action]| -> Vec<usize> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::CheckPower { host } => Some(*host),
                _ => None,
            })
            .collect()
    };
    let mut unlimited = Scheduler::new(&topology, &plan, 1);
    assert_eq!(checks(&unlimited.next_actions(Duration::ZERO)).len(), 6);

    let mut scheduler = Scheduler::new(&topology, &plan, 1);
    scheduler.limit_power_checks(2);
    let first = checks(&scheduler.next_actions(Duration::ZERO));
    assert_eq!(first.len(), 2, "two checks in the window: {first:?}");
    assert!(checks(&scheduler.next_actions(Duration::ZERO)).is_empty());
    scheduler.handle(
        Duration::from_millis(10),
        &Event::PowerChecked {
            host: first[0],
            result: Ok(PowerReport::Off),
        },
    );
    let next = checks(&scheduler.next_actions(Duration::from_millis(10)));
    assert_eq!(next.len(), 1, "one answer, one more check: {next:?}");
    assert!(!first.contains(&next[0]));
}
