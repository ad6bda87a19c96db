//! A night over `ssh: { client: openssh }` that goes wrong twice: the controller is SIGKILLed
//! while a start is in flight (its ssh ControlMasters die with it or linger, their sockets
//! stale), and a host loses power while nobody watches. `run --resume` finishes the night:
//! what had started is not started again, the lost host is powered on and its service
//! started once more. Every wait is bounded.

mod support;

use std::collections::HashMap;

use support::cli::{read_journal, ready_times, spawn, spawn_run, text, wait_bounded, RUN_LIMIT};
use support::lab::{wait_until, Lab, LabSecret};

/// How many times each `<address>:<port>` was started, from the services' own log.
fn starts_by_service(lab: &Lab) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in lab.service_starts() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, address, port, ..] = fields[..] {
            *counts.entry(format!("{address}:{port}")).or_insert(0) += 1;
        }
    }
    counts
}

/// One subsystem on lab host `on`, listening on `port` `delay_s` after its start.
fn subsystem(lab: &Lab, name: &str, on: usize, port: u16, delay_s: f64, requires: &str) -> String {
    format!(
        "  - name: {name}\n    hosts: [\"{}\"]\n    start: {}\n    health: {{ tcp: {port} }}\n    \
         health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n    \
         start_timeout: 10s\n    ready_timeout: 15s\n    expect: 1s\n{requires}",
        lab.hosts[on].name,
        serde_json::to_string(&lab.service_command(port, delay_s, "")).unwrap(),
    )
}

#[test]
fn a_night_over_the_system_ssh_killed_mid_start_and_short_a_host_resumes_without_double_starts() {
    let lab = Lab::start_with("or", (89, 4), 3, &[0, 1, 2]);
    let needs_base = "    requires: [base]\n";
    let subsystems = format!(
        "subsystems:\n{}{}{}",
        subsystem(&lab, "base", 0, 7400, 0.2, ""),
        subsystem(&lab, "app", 1, 7401, 3.0, needs_base),
        subsystem(&lab, "web", 2, 7402, 3.0, needs_base),
    );
    let yaml = lab
        .topology_yaml(LabSecret::File, &subsystems)
        .replacen(
            "      connect_timeout: 3s\n",
            "      connect_timeout: 3s\n      client: openssh\n",
            1,
        )
        .replacen("    boot: 10s\n", "    boot: 2s\n", 1)
        .replacen("policy:\n", "policy:\n  bmc_timeout: 5s\n", 1);
    let file = lab.write_topology_text(&yaml);
    let run_dir = lab.dir.join("run-night");
    let service = |i: usize, port: u16| format!("{}:{port}", lab.hosts[i].address);
    let (base, app, web) = (service(0, 7400), service(1, 7401), service(2, 7402));

    let mut child = spawn_run(&file, &run_dir);
    let in_flight = wait_until(RUN_LIMIT, || starts_by_service(&lab).contains_key(&app));
    assert!(in_flight, "app's start reached its host before the kill");
    child.kill().unwrap();
    let _ = child.wait();
    // While the controller is dead, web's host loses power (its sshd and service with it).
    lab.power_off(2);
    let before = starts_by_service(&lab);
    eprintln!("starts at the kill: {before:?}");

    let resumed = wait_bounded(
        spawn(&["run", "--resume", run_dir.to_str().unwrap()]),
        RUN_LIMIT,
    );
    let shown = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{shown}");
    let ready = ready_times(&read_journal(&run_dir));
    for step in ["base", "app", "web"] {
        assert!(
            ready.contains_key(step),
            "{step} ready after the resume: {shown}"
        );
    }
    let after = starts_by_service(&lab);
    assert_eq!(
        after.get(&base),
        Some(&1),
        "base was up before the kill: {shown}"
    );
    assert_eq!(
        after.get(&app),
        Some(&1),
        "app's start in flight was adopted, not issued again: {shown}"
    );
    let web_before = before.get(&web).copied().unwrap_or(0);
    assert_eq!(
        after.get(&web).copied().unwrap_or(0),
        web_before + 1,
        "web's host came back without its service: started once more, no more: {shown}"
    );
    assert!(lab.is_on(2), "the resume powered the lost host on again");
}
