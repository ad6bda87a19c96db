//! Drills of whole recoveries: the real scheduler against a simulated fleet.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use blackstart::drill::{
    monte_carlo, render_json, render_timeline, simulate, uncap, Drill, DrillConfig, FaultKind,
    FaultRates, FleetStart, Injected, Outcome,
};
use blackstart::event::state::StepStatus;
use blackstart::event::{Action, Event};
use blackstart::journal::Entry;
use blackstart::load::{load_file, load_str};
use blackstart::plan::{Plan, StepId};
use blackstart::scope::Scope;
use blackstart::topology::Topology;
use support::cli::output_bounded;

/// Network, a database that needs two of three, an application, a frontend, monitoring that
/// only wants the application, and a payments service with one spare.
const FLEET: &str = r#"
name: drill
policy: { parallelism: 64, power_on: { count: 100, per: 1s } }
defaults:
  host: { boot: 1m, bmc: { password_env: DRILL_BMC } }
  subsystem:
    expect: 30s
    retry: { attempts: 3, backoff: 20s, max_backoff: 1m }
hosts:
  - { name: "net[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.1.0.[1:2]" }, boot: 30s }
  - { name: "db[1:3]", address: "10.0.1.[1:3]", bmc: { address: "10.1.1.[1:3]" }, boot: 3m }
  - { name: "app[1:2]", address: "10.0.2.[1:2]", bmc: { address: "10.1.2.[1:2]" } }
  - { name: "web[1:2]", address: "10.0.3.[1:2]", bmc: { address: "10.1.3.[1:2]" } }
  - { name: mon1, address: 10.0.4.1, bmc: { address: 10.1.4.1 } }
  - { name: "pay[1:2]", address: "10.0.5.[1:2]", bmc: { address: "10.1.5.[1:2]" } }
  - { name: spare1, address: 10.0.6.1, bmc: { address: 10.1.6.1 } }
subsystems:
  - { name: network, tier: S1, hosts: ["net[1:2]"], start: "true", expect: 10s }
  - name: database
    tier: S1
    hosts: ["db[1:3]"]
    requires: [network]
    start: "true"
    expect: 2m
    min_healthy: 2
  - { name: app, tier: S2, hosts: ["app[1:2]"], requires: [database], start: "true", expect: 45s }
  - { name: web, tier: S1, hosts: ["web[1:2]"], requires: [app], start: "true" }
  - { name: monitoring, tier: S3, hosts: [mon1], requires: [network], wants: [app], start: "true", expect: 5m }
  - { name: payments, tier: S2, hosts: ["pay[1:2]"], spares: [spare1], requires: [database], start: "true" }
"#;

fn load(source: &str) -> Topology {
    load_str(source, Path::new("drill.yaml"))
        .unwrap_or_else(|err| panic!("{err}"))
        .topology
}

fn plan_of(topology: &Topology) -> Plan {
    let selection = Scope::default().select(topology).unwrap();
    Plan::build(topology, &selection).unwrap()
}

fn step(plan: &Plan, id: &str) -> StepId {
    plan.steps.iter().position(|s| s.id == id).unwrap()
}

fn inject(topology: &Topology, specs: &[&str]) -> Vec<Injected> {
    specs
        .iter()
        .map(|spec| Injected::parse(topology, spec).unwrap())
        .collect()
}

fn run_with(topology: &Topology, plan: &Plan, config: DrillConfig, faults: &[&str]) -> Outcome {
    Drill::new(topology, plan, config)
        .inject(inject(topology, faults))
        .run(11)
}

fn with_timeline() -> DrillConfig {
    DrillConfig {
        timeline: true,
        ..DrillConfig::exact()
    }
}

#[test]
fn without_faults_spread_or_caps_the_drill_takes_exactly_the_plan_eta() {
    for file in ["topologies/minimal.yaml", "topologies/social-network.yaml"] {
        let mut topology = load_file(Path::new(file)).unwrap().topology;
        uncap(&mut topology);
        let plan = plan_of(&topology);
        let outcome = simulate(&topology, &plan, DrillConfig::exact(), 3);
        assert!(outcome.succeeded, "{file}");
        assert_eq!(outcome.makespan, plan.eta, "{file}");
        let critical: Vec<&str> = outcome
            .critical_path
            .iter()
            .map(|s| plan.steps[*s].id.as_str())
            .collect();
        let planned: Vec<&str> = plan
            .critical_path
            .iter()
            .map(|s| plan.steps[*s].id.as_str())
            .collect();
        assert_eq!(critical.last(), planned.last(), "{file}");
    }
    // Hosts that boot at different speeds: every step is ready exactly when planned.
    let mut topology = load(FLEET);
    uncap(&mut topology);
    let plan = plan_of(&topology);
    let outcome = simulate(&topology, &plan, DrillConfig::exact(), 3);
    assert!(outcome.succeeded);
    assert_eq!(outcome.makespan, plan.eta);
    for (id, planned) in plan.steps.iter().enumerate() {
        assert_eq!(
            outcome.ready_at[id],
            Some(planned.ready_at),
            "{}",
            planned.id
        );
    }
}

#[test]
fn a_start_failure_placed_on_an_event_strikes_only_starts_launched_after_it() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    // web starts once app is ready: armed by app's readiness, its start fails.
    let struck = run_with(
        &topology,
        &plan,
        with_timeline(),
        &["start-failure=web@web1+ready:app"],
    );
    assert!(!struck.succeeded);
    let web = step(&plan, "web");
    assert!(
        struck.failures.iter().all(|f| f.step == web) && !struck.failures.is_empty(),
        "{:?}",
        struck.failures
    );
    // Monitoring needs only the network and runs 5 minutes: web's starts (behind the
    // database and app) are all launched before it is ready, so nothing strikes.
    let spared = run_with(
        &topology,
        &plan,
        with_timeline(),
        &["start-failure=web@web1+ready:monitoring"],
    );
    assert!(spared.succeeded, "{:?}", spared.failures);
    assert_eq!(spared.makespan, plan.eta);
    // `started:` arms it as the step's nodes begin: app starts before web.
    let started = run_with(
        &topology,
        &plan,
        with_timeline(),
        &["start-failure=web@web1+started:app"],
    );
    assert!(!started.succeeded);
    let unknown = Injected::parse(&topology, "start-failure=web@web1+ready:ap").unwrap_err();
    assert!(unknown.contains("did you mean \"app\""), "{unknown}");
}

#[test]
fn calibrated_people_repair_and_retry_a_failed_step_after_their_time_in_drills_and_monte_carlo() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let with_people = |retry| DrillConfig {
        people: blackstart::drill::People { ack: None, retry },
        ..with_timeline()
    };
    let alone = run_with(
        &topology,
        &plan,
        with_people(None),
        &["start-failure=web@web1"],
    );
    assert!(!alone.succeeded, "nobody retries a drill without people");
    let ten_minutes = Duration::from_secs(600);
    let helped = run_with(
        &topology,
        &plan,
        with_people(Some(ten_minutes)),
        &["start-failure=web@web1"],
    );
    assert!(helped.succeeded, "{:?}", helped.statuses);
    let web_failed = helped
        .timeline
        .iter()
        .find(|r| matches!(&r.entry, Entry::StepStatus { step, status: StepStatus::Failed } if step == "web"))
        .expect("web failed first")
        .t_ms;
    let rearmed = helped
        .timeline
        .iter()
        .find(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::Rearmed { .. },
                    ..
                }
            )
        })
        .expect("the simulated person retried")
        .t_ms;
    assert_eq!(rearmed - web_failed, 600_000);
    assert!(
        helped.makespan > Duration::from_millis(rearmed) && helped.makespan > plan.eta,
        "{:?}",
        helped.makespan
    );
    // In a Monte Carlo study with random failures, people who retry turn stalled nights
    // into late ones.
    let faulty = |retry| DrillConfig {
        faults: FaultRates {
            start_failure: 0.4,
            ..FaultRates::NONE
        },
        timeline: false,
        ..with_people(retry)
    };
    let study = |retry| monte_carlo(&Drill::new(&topology, &plan, faulty(retry)), 40, 5, 1);
    let (without, with) = (study(None), study(Some(ten_minutes)));
    assert!(
        without.stall_probability > 0.2,
        "{}",
        without.stall_probability
    );
    assert_eq!(with.stall_probability, 0.0);
    assert!(with.makespan.p50.unwrap() > plan.eta, "{:?}", with.makespan);
}

#[test]
fn a_dead_disk_within_min_healthy_lets_dependents_start_and_the_run_succeed() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let outcome = run_with(&topology, &plan, DrillConfig::exact(), &["dead-disk=db2"]);
    assert!(outcome.succeeded, "{:?}", outcome.statuses);
    assert_eq!(outcome.faults.dead_disk, 1);
    assert_eq!(outcome.failures.len(), 1);
    assert!(
        outcome.failures[0].reason.contains("SSH"),
        "{:?}",
        outcome.failures
    );
    let app = step(&plan, "app");
    assert!(outcome.first_start[app].is_some(), "app started");
}

#[test]
fn a_dead_disk_that_breaks_min_healthy_blocks_exactly_its_subtree() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let outcome = run_with(
        &topology,
        &plan,
        DrillConfig::exact(),
        &["dead-disk=db1", "dead-disk=db3"],
    );
    assert!(!outcome.succeeded);
    let database = step(&plan, "database");
    // The subtree: every step that reaches the database through hard dependencies.
    let mut subtree = vec![false; plan.steps.len()];
    for (id, planned) in plan.steps.iter().enumerate() {
        subtree[id] = planned
            .requires
            .iter()
            .any(|d| *d == database || subtree[*d]);
    }
    for (id, planned) in plan.steps.iter().enumerate() {
        let expected = if id == database {
            StepStatus::Failed
        } else if subtree[id] {
            StepStatus::Blocked { on: database }
        } else {
            StepStatus::Ready
        };
        assert_eq!(outcome.statuses[id], expected, "{}", planned.id);
    }
    assert!(subtree[step(&plan, "web")] && subtree[step(&plan, "payments")]);
    assert!(
        !subtree[step(&plan, "monitoring")],
        "monitoring only wants app"
    );
    for blocked in ["app", "web", "payments"] {
        assert_eq!(outcome.first_start[step(&plan, blocked)], None, "{blocked}");
    }
    let text = blackstart::drill::render_text(
        &Drill::new(&topology, &plan, DrillConfig::exact()),
        &outcome,
    );
    assert!(
        text.lines().any(|line| line.starts_with("BLOCKED ")
            && line.contains("wait for failed database: ")
            && line.contains("app")),
        "{text}"
    );
}

#[test]
fn a_spare_replaces_a_host_whose_disk_never_came_back() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let outcome = run_with(&topology, &plan, with_timeline(), &["dead-disk=pay1"]);
    assert!(outcome.succeeded, "{:?}", outcome.statuses);
    assert_eq!(outcome.spares_used, 1);
    let spare = topology.host_id("spare1").unwrap();
    let started_on_spare = outcome.timeline.iter().any(|record| match &record.entry {
        Entry::Event {
            event:
                Event::StartFinished {
                    node,
                    result: Ok(()),
                    ..
                },
            ..
        } => outcome.nodes[*node].1 == spare,
        _ => false,
    });
    assert!(started_on_spare, "payments came up on spare1");
}

/// (time, attempt) of every start of `subsystem` on `host`, and of every finish.
fn attempts(
    topology: &Topology,
    plan: &Plan,
    outcome: &Outcome,
    node_of: (&str, &str),
) -> Vec<(Duration, u32, Option<bool>)> {
    let target = (step(plan, node_of.0), topology.host_id(node_of.1).unwrap());
    outcome
        .timeline
        .iter()
        .filter_map(|record| {
            let at = Duration::from_millis(record.t_ms);
            match &record.entry {
                Entry::Action {
                    action: Action::Start { node, attempt },
                    ..
                } if outcome.nodes[*node] == target => Some((at, *attempt, None)),
                Entry::Event {
                    event:
                        Event::StartFinished {
                            node,
                            attempt,
                            result,
                        },
                    ..
                } if outcome.nodes[*node] == target => Some((at, *attempt, Some(result.is_ok()))),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn a_flapping_node_is_retried_after_a_jittered_backoff_and_comes_up() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let outcome = run_with(&topology, &plan, with_timeline(), &["flapping=app@app1"]);
    assert!(outcome.succeeded);
    assert_eq!(outcome.retries, 1);
    let seen = attempts(&topology, &plan, &outcome, ("app", "app1"));
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!((seen[1].1, seen[1].2), (1, Some(false)));
    assert_eq!((seen[2].1, seen[3].2), (2, Some(true)));
    let waited = seen[2].0 - seen[1].0;
    // Backoff 20s with jitter between half and all of it.
    assert!(
        waited >= Duration::from_secs(10) && waited <= Duration::from_secs(20),
        "{waited:?}"
    );
}

#[test]
fn a_node_that_never_starts_gives_up_after_its_attempts_with_growing_backoff() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let outcome = run_with(
        &topology,
        &plan,
        with_timeline(),
        &["start-failure=monitoring@mon1"],
    );
    assert!(!outcome.succeeded);
    let monitoring = step(&plan, "monitoring");
    assert_eq!(outcome.statuses[monitoring], StepStatus::Failed);
    let seen = attempts(&topology, &plan, &outcome, ("monitoring", "mon1"));
    let starts: Vec<Duration> = seen.iter().filter(|s| s.2.is_none()).map(|s| s.0).collect();
    let ends: Vec<Duration> = seen.iter().filter(|s| s.2.is_some()).map(|s| s.0).collect();
    assert_eq!(starts.len(), 3, "retry.attempts = 3");
    let first_wait = starts[1] - ends[0];
    let second_wait = starts[2] - ends[1];
    assert!(first_wait >= Duration::from_secs(10) && first_wait <= Duration::from_secs(20));
    assert!(second_wait >= Duration::from_secs(20) && second_wait <= Duration::from_secs(40));
    // Everything else came up: a failed leaf blocks nobody.
    let ready = outcome
        .statuses
        .iter()
        .filter(|s| **s == StepStatus::Ready)
        .count();
    assert_eq!(ready, plan.steps.len() - 1);
}

#[test]
fn the_same_seed_gives_the_same_drill_line_for_line_and_seeds_differ() {
    let topology = load_file(Path::new("topologies/minimal.yaml"))
        .unwrap()
        .topology;
    let plan = plan_of(&topology);
    let config = DrillConfig {
        timeline: true,
        faults: FaultRates {
            dead_disk: 0.05,
            dead_bmc: 0.05,
            ..FaultRates::DEFAULT
        },
        ..DrillConfig::default()
    };
    let drill = Drill::new(&topology, &plan, config);
    let render = |seed| {
        let outcome = drill.run(seed);
        let mut timeline = Vec::new();
        render_timeline(&drill, &outcome, &mut timeline).unwrap();
        (render_json(&drill, &outcome), timeline, outcome.makespan)
    };
    let (json, timeline, _) = render(5);
    assert_eq!(render(5).0, json);
    assert_eq!(render(5).1, timeline);
    assert!(timeline.len() > 1000);
    let makespans: std::collections::BTreeSet<Duration> =
        (0..8).map(|seed| render(seed).2).collect();
    assert!(makespans.len() >= 6, "{makespans:?}");
}

#[test]
fn a_warm_fleet_is_probed_and_never_started() {
    let topology = load_file(Path::new("topologies/minimal.yaml"))
        .unwrap()
        .topology;
    let plan = plan_of(&topology);
    let config = DrillConfig {
        start: FleetStart::Warm,
        ..DrillConfig::default()
    };
    let outcome = simulate(&topology, &plan, config, 9);
    assert!(outcome.succeeded);
    assert_eq!(outcome.starts, 0);
    // One BMC call per host, as on a cold night: IPMI hosts are switched on without a read
    // first, which changes nothing on a host already on.
    assert_eq!(outcome.power_ons, plan.host_count());
    // Bootstrap nodes are settled by their healthy normal twins, without a probe of their own.
    let bootstrap_nodes: usize = plan
        .steps
        .iter()
        .filter(|s| s.id.ends_with("@bootstrap"))
        .map(|s| s.hosts.len())
        .sum();
    assert_eq!(outcome.already_healthy, plan.node_count() - bootstrap_nodes);
}

#[test]
fn with_one_slot_a_severe_tier_starts_before_a_longer_chain_of_a_lesser_one() {
    let topology = load(
        r#"
name: priority
policy: { parallelism: 1 }
defaults:
  host: { boot: 1m, bmc: { password_env: X } }
  # Ten-minute starts need a ready timeout longer than ten minutes, in a drill as in a run.
  subsystem: { ready_timeout: 15m }
hosts:
  - { name: h1, address: 10.0.0.1, bmc: { address: 10.1.0.1 } }
subsystems:
  - { name: reports, tier: S3, hosts: [h1], start: "true", expect: 10m }
  - { name: reports-ui, tier: S3, hosts: [h1], requires: [reports], start: "true", expect: 10m }
  - { name: login, tier: S1, hosts: [h1], start: "true", expect: 1m }
"#,
    );
    let plan = plan_of(&topology);
    let outcome = simulate(&topology, &plan, DrillConfig::exact(), 1);
    assert!(outcome.succeeded);
    let (login, reports) = (step(&plan, "login"), step(&plan, "reports"));
    assert!(
        outcome.first_start[login] < outcome.first_start[reports],
        "login {:?}, reports {:?}",
        outcome.first_start[login],
        outcome.first_start[reports]
    );
    // One slot: everything runs back to back after the boot.
    assert_eq!(outcome.makespan, Duration::from_secs(60 + 60 + 600 + 600));
}

#[test]
fn switching_a_fault_off_never_changes_the_other_draws() {
    let topology = load_file(Path::new("topologies/minimal.yaml"))
        .unwrap()
        .topology;
    let plan = plan_of(&topology);
    let all = DrillConfig {
        faults: FaultRates {
            slow_ssh: 0.5,
            flapping: 0.5,
            ..FaultRates::NONE
        },
        ..DrillConfig::default()
    };
    let without = DrillConfig {
        faults: all.faults.without(FaultKind::Flapping),
        ..all
    };
    for seed in 0..5 {
        let a = simulate(&topology, &plan, all, seed);
        let b = simulate(&topology, &plan, without, seed);
        assert_eq!(a.faults.slow_ssh, b.faults.slow_ssh, "seed {seed}");
        assert_eq!(b.faults.flapping, 0);
    }
}

fn blackstart(args: &[&str]) -> std::process::Output {
    output_bounded(Command::new(env!("CARGO_BIN_EXE_blackstart")).args(args))
}

#[test]
fn simulate_json_is_byte_identical_for_a_seed_and_exit_codes_tell_the_outcome() {
    let args = [
        "simulate",
        "topologies/minimal.yaml",
        "--format",
        "json",
        "--seed",
        "4",
    ];
    let first = blackstart(&args);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(first.stdout, blackstart(&args).stdout);
    let json: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(json["succeeded"], true);

    let monte_carlo = [
        "simulate",
        "topologies/minimal.yaml",
        "--runs",
        "50",
        "--format",
        "json",
    ];
    let series = blackstart(&monte_carlo);
    assert_eq!(series.status.code(), Some(0));
    assert_eq!(series.stdout, blackstart(&monte_carlo).stdout);
    let json: serde_json::Value = serde_json::from_slice(&series.stdout).unwrap();
    assert!(json["result"]["makespan"]["p50"].as_f64().unwrap() > 200.0);

    let broken = blackstart(&[
        "simulate",
        "topologies/minimal.yaml",
        "--inject",
        "dead-disk=db1.dc1",
        "--inject",
        "dead-disk=db2.dc1",
    ]);
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(
        text.contains("NOT RECOVERED") && text.contains("wait for failed"),
        "{text}"
    );

    let unknown = blackstart(&[
        "simulate",
        "topologies/minimal.yaml",
        "--inject",
        "dead-disk=nope",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    let missing = blackstart(&["simulate", "no/such/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn the_timeline_file_has_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline.jsonl");
    let output = blackstart(&[
        "simulate",
        "topologies/minimal.yaml",
        "--timeline",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut last = 0.0;
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let at = value["at_s"].as_f64().unwrap();
        assert!(at >= last, "timeline in time order");
        last = at;
    }
    assert!(text.contains("\"step_status\":\"ready\""));
    // The journal reader loads it as it loads a run's journal, format checked.
    std::fs::rename(&path, dir.path().join(blackstart::journal::JOURNAL_FILE)).unwrap();
    let records = blackstart::journal::read(dir.path()).expect("a timeline is a journal");
    assert_eq!(records.len(), text.lines().count());
    assert!(matches!(records[0].entry, Entry::RunStarted { .. }));
}

#[test]
fn a_service_slower_than_its_ready_timeout_fails_after_its_attempts_in_the_drill_as_in_a_run() {
    // The real executor gives up on each attempt at the ready timeout: a ten-minute start
    // with a one-minute limit and two attempts never becomes ready, and the drill says so.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.yaml");
    std::fs::write(
        &path,
        r#"
name: slow
defaults: { host: { boot: 10s, bmc: { password_env: X } } }
hosts:
  - { name: "h[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.1.0.[1:2]" } }
subsystems:
  - name: db
    hosts: [h1]
    start: "true"
    health: { tcp: 5432 }
    expect: 10m
    ready_timeout: 1m
    retry: { attempts: 2, backoff: 5s }
  - { name: app, hosts: [h2], requires: [db], start: "true", health: { tcp: 80 } }
"#,
    )
    .unwrap();
    let output = blackstart(&[
        "simulate",
        path.to_str().unwrap(),
        "--no-faults",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "the drill does not recover");
    let drill: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let failures = drill["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["step"], "db");
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not healthy within 1m"),
        "{failures:?}"
    );
    assert_eq!(drill["counts"]["starts"], 2, "both attempts were made");
    let app = drill["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "app")
        .unwrap();
    assert_eq!(app["status"], "blocked");
    assert_eq!(app["blocked_on"], "db");
}

#[test]
fn a_run_factor_moves_whole_runs_together_and_widens_the_band_by_about_its_spread() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let exact = DrillConfig::exact();
    let band = |config: DrillConfig| {
        blackstart::drill::monte_carlo_with_costs(
            &Drill::new(&topology, &plan, config),
            200,
            0,
            5,
            2,
            &|| {},
        )
        .makespan
    };
    let still = band(exact);
    assert_eq!(
        still.p10, still.p90,
        "no spread and no run factor: every run the same"
    );
    let moved = band(DrillConfig {
        run_spread: 0.2,
        ..exact
    });
    let (p10, p50, p90) = (
        moved.p10.unwrap().as_secs_f64(),
        moved.p50.unwrap().as_secs_f64(),
        moved.p90.unwrap().as_secs_f64(),
    );
    let base = still.p50.unwrap().as_secs_f64();
    // Every time of a run scaled by one lognormal factor of mean 1: the fast tenth of the
    // runs is about exp(-1.28 x 0.2 - 0.02) = 0.76 of the unscaled run, the slow tenth at
    // least 1.27 of it (more: past a ready timeout a slow start is cut and retried), and the
    // median stays near the unscaled run.
    assert!((0.70..0.82).contains(&(p10 / base)), "p10 {p10} vs {base}");
    assert!(p90 / base > 1.2, "p90 {p90} vs {base}");
    assert!((p50 / base - 1.0).abs() < 0.08, "p50 {p50} vs {base}");
}

/// `simulate --kill-at`: the controller SIGKILLed at moments all through a cold start and
/// resumed a minute later. The resume adopts what was in flight, so an exact drill issues
/// exactly the starts an uninterrupted one does (one per node), and drills with failing and
/// flapping starts never start a service twice.
#[test]
fn a_killed_and_resumed_drill_adopts_what_was_in_flight_and_starts_nothing_twice() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let exact = Drill::new(&topology, &plan, DrillConfig::exact());
    let plain = exact.run(5);
    assert!(plain.succeeded);
    let kill = |at_s: u64| blackstart::drill::ControllerKill {
        at: Duration::from_secs(at_s),
        down_for: Duration::from_secs(60),
    };
    let mut adopted = 0;
    for at_s in (15..plain.makespan.as_secs()).step_by(20) {
        let killed = Drill::new(&topology, &plan, DrillConfig::exact())
            .kill_controller(kill(at_s))
            .run(5);
        let interruption = killed.interruption.expect("killed before the run settled");
        assert_eq!(interruption.killed_at, Duration::from_secs(at_s));
        assert!(killed.succeeded, "killed at {at_s}s: {:?}", killed.failures);
        assert_eq!(
            killed.starts, plain.starts,
            "killed at {at_s}s: one start per node, as without the kill"
        );
        assert_eq!(killed.double_starts, 0, "killed at {at_s}s");
        assert!(killed.makespan >= plain.makespan, "killed at {at_s}s");
        adopted += interruption.adopted;
    }
    assert!(adopted > 0, "some kills landed on starts in flight");

    let faulty = DrillConfig {
        faults: FaultRates {
            start_failure: 0.1,
            flapping: 0.1,
            ..FaultRates::NONE
        },
        // No spread: no start outlasts its ready timeout, the one case where a retry rightly
        // starts a service still coming up (the drill counts those too).
        spread: 0.0,
        ..DrillConfig::default()
    };
    for seed in 0..20 {
        let at_s = 60 + seed * 23 % 400;
        let outcome = Drill::new(&topology, &plan, faulty)
            .kill_controller(kill(at_s))
            .run(seed);
        assert_eq!(outcome.double_starts, 0, "seed {seed}, killed at {at_s}s");
    }
}

/// The ETA `plan` quotes is the run `simulate --no-faults --spread 0` shows, step by step:
/// both through the command line, on the reference (fleet-wide caps binding) and on a small
/// fleet whose parallelism is squeezed to 2.
#[test]
fn the_plan_quotes_the_capped_schedule_that_a_fault_free_drill_runs() {
    let squeezed = std::env::temp_dir().join(format!("bs-squeezed-{}.yaml", std::process::id()));
    std::fs::write(
        &squeezed,
        FLEET.replace("parallelism: 64", "parallelism: 2"),
    )
    .unwrap();
    for file in [None, Some(squeezed.to_str().unwrap())] {
        let with = |args: &[&str]| {
            let mut all: Vec<&str> = args.to_vec();
            all.extend(file);
            let output = blackstart(&all);
            assert!(output.status.success(), "{args:?}: {output:?}");
            serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
        };
        let plan = with(&["plan", "--format", "json"]);
        let drill = with(&[
            "simulate",
            "--no-faults",
            "--spread",
            "0",
            "--format",
            "json",
        ]);
        assert_eq!(plan["eta_s"], drill["makespan"], "{file:?}");
        assert!(
            plan["eta_s"].as_f64() > plan["bound_eta_s"].as_f64(),
            "{file:?}: the caps cost time, and the bound stays visible"
        );
        let drilled: std::collections::HashMap<&str, &serde_json::Value> = drill["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| (step["step"].as_str().unwrap(), &step["ready_at"]))
            .collect();
        for step in plan["steps"].as_array().unwrap() {
            let id = step["id"].as_str().unwrap();
            assert_eq!(&step["ready_s"], drilled[id], "{file:?}: {id}");
        }
        let costs = plan["cap_costs"].as_array().unwrap();
        assert!(
            costs.iter().any(|cost| cost["adds_s"].as_f64() > Some(0.0)),
            "{file:?}: the binding cap is named with its cost: {costs:?}"
        );
    }
    let _ = std::fs::remove_file(&squeezed);
}

/// One recovery time for one timeline: what `simulate` prints is what the journal's records
/// say (`journal::recovered_at`, read by `status`, the report and the summary), with faults,
/// and across a controller kill whose resume journals the ready steps again.
#[test]
fn simulate_and_the_records_agree_on_when_the_run_recovered() {
    let topology = load(FLEET);
    let plan = plan_of(&topology);
    let config = DrillConfig {
        timeline: true,
        faults: FaultRates {
            start_failure: 0.1,
            flapping: 0.1,
            ..FaultRates::NONE
        },
        ..DrillConfig::default()
    };
    for seed in 0..10 {
        let mut drill = Drill::new(&topology, &plan, config);
        if seed % 2 == 1 {
            drill = drill.kill_controller(blackstart::drill::ControllerKill {
                at: Duration::from_secs(100 + 30 * seed),
                down_for: Duration::from_secs(45),
            });
        }
        let outcome = drill.run(seed);
        let recovered = blackstart::journal::recovered_at(&outcome.timeline, plan.steps.len());
        if !outcome.succeeded {
            // monitoring's start may outlast its ready timeout (expect = ready timeout).
            assert_eq!(recovered, None, "seed {seed}: never recovered");
            continue;
        }
        // The journal keeps milliseconds.
        assert_eq!(
            recovered.map(|at| at.as_millis()),
            Some(outcome.makespan.as_millis()),
            "seed {seed}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("drill.html");
    let output = blackstart(&[
        "simulate",
        "topologies/minimal.yaml",
        "--report",
        page.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    let recovered = said
        .lines()
        .find_map(|line| line.strip_prefix("Recovered in "))
        .and_then(|rest| rest.split(" (").next())
        .expect("simulate says when it recovered");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(&format!("recovered in {recovered}")),
        "the report quotes {recovered}"
    );
}
