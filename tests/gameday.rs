//! Game days: `simulate --run-dir` drives the simulated fleet in sped-up real time into a
//! real run directory, which `status`, `report`, `retry` and `ack` work on while it runs;
//! Ctrl-C stops it as a real run stops and `simulate --resume` finishes it. Nothing here
//! touches the network: the fleet is simulated.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackstart::event::Event;
use blackstart::journal::{self, Entry, RunOutcome};
use support::cli::{blackstart, spawn, text, wait_bounded, RUN_LIMIT};
use support::gameday_fixture::{fleet_without_batch, FLEET, GATED};
use support::procs::wait_until;

fn scratch(playbook: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fleet = if playbook {
        // The gated playbook's fleet: no batch job.
        fleet_without_batch()
    } else {
        FLEET.to_string()
    };
    std::fs::write(dir.path().join("fleet.yaml"), fleet).unwrap();
    std::fs::write(dir.path().join("gated.yaml"), GATED).unwrap();
    let file = dir
        .path()
        .join(if playbook { "gated.yaml" } else { "fleet.yaml" });
    (dir, file)
}

fn status_json(run: &Path) -> serde_json::Value {
    let output = blackstart(&["status", run.to_str().unwrap(), "--format", "json"]);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("status json: {err}: {}", text(&output)))
}

fn step_status(status: &serde_json::Value, step: &str) -> String {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == step)
        .unwrap_or_else(|| panic!("no step {step} in {status}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls `status` until `done` holds (bounded).
fn wait_for_status(run: &Path, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let mut last = serde_json::Value::Null;
    let seen = wait_until(Duration::from_secs(60), || {
        if !run.join(journal::RUN_FILE).exists() {
            return false;
        }
        last = status_json(run);
        done(&last)
    });
    assert!(seen, "{what} never showed in status: {last}");
}

fn events(run: &Path) -> Vec<(String, Event)> {
    journal::read(run)
        .unwrap()
        .into_iter()
        .filter_map(|record| match record.entry {
            Entry::Event { event, host, .. } => Some((host.unwrap_or_default(), event)),
            _ => None,
        })
        .collect()
}

fn outcomes(run: &Path) -> Vec<RunOutcome> {
    journal::read(run)
        .unwrap()
        .into_iter()
        .filter_map(|record| match record.entry {
            Entry::RunFinished { outcome } => Some(outcome),
            _ => None,
        })
        .collect()
}

#[test]
fn a_placed_failure_stays_failed_until_retry_repairs_it_and_status_reads_the_live_game_day() {
    let (dir, file) = scratch(false);
    let run = dir.path().join("run");
    let child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--speed",
        "30",
        "--no-faults",
        "--spread",
        "0",
        "--inject",
        "start-failure=ldap@ldap1",
    ]);
    // Live, marked simulated, and ldap failed: both attempts failed, and nothing retries it.
    wait_for_status(&run, "ldap failed in a live game day", |status| {
        status["run"]["state"] == "live" && step_status(status, "ldap") == "failed"
    });
    let live = status_json(&run);
    assert_eq!(live["simulated"], true, "{live}");
    assert_eq!(step_status(&live, "app"), "blocked");
    let shown = blackstart(&["status", run.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).starts_with("SIMULATED game day"),
        "{}",
        text(&shown)
    );
    // The operator repairs LDAP and says so: the live game day re-arms it and it starts.
    let retry = blackstart(&["retry", run.to_str().unwrap(), "ldap"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    assert!(String::from_utf8_lossy(&retry.stdout).contains("handed to the live run"));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("SIMULATED game day"));

    let after = status_json(&run);
    assert_eq!(after["simulated"], true);
    assert_eq!(after["verdict"], "recovered", "{after}");
    for step in ["ldap", "app", "batch"] {
        assert_eq!(step_status(&after, step), "ready", "{step}: {after}");
    }
    // In the journal: ldap1 failed, was re-armed, then became healthy; the run succeeded.
    let events = events(&run);
    let failed = events
        .iter()
        .position(|(host, e)| {
            host == "ldap1" && matches!(e, Event::StartFinished { result: Err(_), .. })
        })
        .expect("ldap1 failed");
    let rearmed = events
        .iter()
        .position(|(_, e)| matches!(e, Event::Rearmed { .. }))
        .expect("the retry re-armed ldap1");
    let healthy = events
        .iter()
        .rposition(|(host, e)| {
            host == "ldap1" && matches!(e, Event::StartFinished { result: Ok(()), .. })
        })
        .expect("ldap1 became healthy");
    assert!(failed < rearmed && rearmed < healthy, "{events:?}");
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);

    // The report says what it is; `run --resume` takes a game day to its simulated fleet,
    // never to real hosts.
    let page = dir.path().join("report.html");
    let report = blackstart(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("SIMULATED game day"));
    // The live page served from the game day's directory says so too.
    let addr = format!("127.92.1.1:{}", 20000 + std::process::id() % 20000);
    let mut server = spawn(&["serve", run.to_str().unwrap(), "--addr", &addr]);
    let mut page = String::new();
    let served = wait_until(Duration::from_secs(20), || {
        page = support::http::get(&addr).unwrap_or_default();
        page.contains("</html>")
    });
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(served, "the page was served on {addr}");
    assert!(page.contains("SIMULATED game day"), "{page}");
    let resume = blackstart(&["run", "--resume", run.to_str().unwrap()]);
    assert_eq!(resume.status.code(), Some(0), "{}", text(&resume));
    assert!(text(&resume).contains("NOTHING real is contacted"));
    assert!(
        text(&resume).contains("simulate --resume"),
        "{}",
        text(&resume)
    );
}

#[test]
fn a_gate_waits_for_a_real_ack() {
    let (dir, file) = scratch(true);
    let run = dir.path().join("run");
    let addr = format!("127.92.2.1:{}", 20000 + std::process::id() % 20000);
    let child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--speed",
        "60",
        "--no-faults",
        "--spread",
        "0",
        "--serve",
        &addr,
    ]);
    wait_for_status(&run, "ldap ready", |status| {
        step_status(status, "ldap") == "ready"
    });
    // Far past the gate's expected minute on the simulated clock, nobody acknowledged: the
    // game day still waits (a drill's simulated operator would have acknowledged).
    std::thread::sleep(Duration::from_secs(3));
    let waiting = status_json(&run);
    assert_eq!(waiting["run"]["state"], "live", "{waiting}");
    assert_ne!(step_status(&waiting, "approve-app"), "ready", "{waiting}");
    assert_ne!(step_status(&waiting, "app"), "ready", "{waiting}");
    // The game day's own live page, while the gate waits.
    let page = support::http::get(&addr).unwrap_or_default();
    assert!(
        page.contains("SIMULATED game day")
            && page.contains("live run")
            && page.contains("approve-app"),
        "{page}"
    );
    let ack = blackstart(&["ack", run.to_str().unwrap(), "approve-app", "--by", "ana"]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(events(&run)
        .iter()
        .any(|(_, e)| matches!(e, Event::Acknowledged { by, .. } if by == "ana")));
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);
}

#[test]
fn ctrl_c_stops_a_game_day_and_simulate_resume_finishes_it() {
    let (dir, file) = scratch(true);
    let run = dir.path().join("run");
    let child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--speed",
        "60",
        "--no-faults",
        "--spread",
        "0",
    ]);
    // At the gate nothing is in flight: the stop ends the game day at once.
    wait_for_status(&run, "ldap ready", |status| {
        step_status(status, "ldap") == "ready"
    });
    // SAFETY: signalling our own child, by its pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("continue with: blackstart simulate --resume")
            && !said.contains("run --resume"),
        "{said}"
    );
    let records = journal::read(&run).unwrap();
    assert!(records
        .iter()
        .any(|r| matches!(r.entry, Entry::StopRequested)));
    assert_eq!(outcomes(&run), vec![RunOutcome::Interrupted]);
    let stopped = status_json(&run);
    assert_ne!(stopped["run"]["state"], "live", "{stopped}");
    let shown = blackstart(&["status", run.to_str().unwrap()]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("blackstart simulate --resume"), "{shown}");
    assert_eq!(step_status(&stopped, "ldap"), "ready");

    // The gate is approved while no process runs (recorded in the journal), and the resume
    // carries on from there without starting LDAP again.
    let ack = blackstart(&["ack", run.to_str().unwrap(), "approve-app", "--by", "ana"]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let resumed = blackstart(&[
        "simulate",
        "--resume",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert_eq!(
        outcomes(&run),
        vec![RunOutcome::Interrupted, RunOutcome::Succeeded]
    );
    let after = status_json(&run);
    assert_eq!(after["verdict"], "recovered", "{after}");
    assert_eq!(after["simulated"], true);
    let ldap_starts = journal::read(&run)
        .unwrap()
        .iter()
        .filter(|r| {
            matches!(&r.entry, Entry::Action { action: blackstart::event::Action::Start { .. }, step: Some(step), .. } if step == "ldap")
        })
        .count();
    assert_eq!(ldap_starts, 2, "each LDAP server started once");
}

#[test]
fn a_game_day_killed_with_sigkill_resumes_adopting_what_was_starting() {
    let (dir, file) = scratch(false);
    let run = dir.path().join("run");
    let mut child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--speed",
        "30",
        "--no-faults",
        "--spread",
        "0",
    ]);
    // The batch job's four simulated minutes are under way when the controller dies.
    wait_for_status(&run, "app ready while batch runs", |status| {
        step_status(status, "app") == "ready" && step_status(status, "batch") == "active"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(outcomes(&run).is_empty(), "a killed process writes no end");
    let killed = status_json(&run);
    assert_ne!(killed["run"]["state"], "live", "{killed}");

    let resumed = blackstart(&[
        "simulate",
        "--resume",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("RESUME"));
    let records = journal::read(&run).unwrap();
    let actions_on = |step: &str, adopt: bool| {
        records
            .iter()
            .filter(|r| match &r.entry {
                Entry::Action {
                    action,
                    step: Some(s),
                    ..
                } if s == step => {
                    if adopt {
                        matches!(action, blackstart::event::Action::Adopt { .. })
                    } else {
                        matches!(action, blackstart::event::Action::Start { .. })
                    }
                }
                _ => false,
            })
            .count()
    };
    assert_eq!(actions_on("batch", false), 1, "batch was not started twice");
    assert_eq!(
        actions_on("batch", true),
        1,
        "the resume adopted the batch start"
    );
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);
    assert_eq!(status_json(&run)["verdict"], "recovered");
}

/// Listeners on the game day's host addresses: any SSH attempt would land in one.
fn listeners(count: usize) -> (u16, Vec<std::net::TcpListener>) {
    for _ in 0..20 {
        let first = std::net::TcpListener::bind("127.98.210.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        let rest: Result<Vec<_>, _> = (2..=count)
            .map(|n| std::net::TcpListener::bind(format!("127.98.210.{n}:{port}")))
            .collect();
        if let Ok(rest) = rest {
            let mut all = vec![first];
            all.extend(rest);
            for listener in &all {
                listener.set_nonblocking(true).unwrap();
            }
            return (port, all);
        }
    }
    panic!("no free port on 127.98.210.1-{count}");
}

#[test]
fn a_game_day_killed_with_sigkill_resumes_with_run_resume_on_its_simulated_fleet() {
    // The fleet's hosts are addresses with a listener on their SSH port, and no BMC
    // password is set: a real transport would show in a listener or fail at once.
    let (port, listening) = listeners(4);
    let fleet = FLEET
        .replace("10.0.0.[1:2]", "127.98.210.[1:2]")
        .replace("10.0.1.1", "127.98.210.3")
        .replace("10.0.2.1", "127.98.210.4")
        .replace(
            "host: { boot: 30s,",
            &format!("host: {{ boot: 30s, ssh: {{ port: {port} }},"),
        );
    assert!(
        !fleet.contains("10.0.") && fleet.contains("ssh: {"),
        "{fleet}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.yaml");
    std::fs::write(&file, fleet).unwrap();
    let run = dir.path().join("run");
    let mut child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--speed",
        "60",
        "--no-faults",
        "--spread",
        "0",
    ]);
    // Killed while the batch job's start is in flight (app ready, batch started, not done).
    let in_flight = support::cli::wait_for_journal(&run, Duration::from_secs(60), |records| {
        let ready = support::cli::ready_times(records);
        let batch_started = support::cli::starts(records)
            .iter()
            .any(|(label, _)| label.contains("batch"));
        ready.contains_key("app") && !ready.contains_key("batch") && batch_started
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(in_flight, "the batch start was never in flight");
    assert!(outcomes(&run).is_empty(), "a killed process writes no end");

    let resumed = support::cli::wait_bounded(
        support::cli::spawn(&["run", "--resume", run.to_str().unwrap()]),
        RUN_LIMIT,
    );
    let said = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{said}");
    assert!(
        said.contains("GAME DAY") && said.contains("NOTHING real is contacted"),
        "{said}"
    );
    assert!(
        String::from_utf8_lossy(&resumed.stdout).contains("SIMULATED game day"),
        "{said}"
    );
    assert!(said.contains("RESUME"), "{said}");
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);
    assert_eq!(status_json(&run)["verdict"], "recovered");
    // Every node started once: the batch start in flight was adopted, not issued again.
    let records = journal::read(&run).unwrap();
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for (label, _) in support::cli::starts(&records) {
        *per_node.entry(label).or_default() += 1;
    }
    assert_eq!(per_node.len(), 4, "{per_node:?}");
    assert!(per_node.values().all(|n| *n == 1), "{per_node:?}");
    let adopted: Vec<_> = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Action { action: blackstart::event::Action::Adopt { .. }, step: Some(s), .. }
                    if s == "batch"
            )
        })
        .collect();
    assert_eq!(adopted.len(), 1, "the resume adopted the batch start");
    for listener in &listening {
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "something connected to {:?}",
            listener.local_addr()
        );
    }
}

#[test]
fn a_scenario_scripts_the_game_day_and_a_bad_one_is_refused_with_its_line() {
    let (dir, _) = scratch(false);
    let scenario = dir.path().join("day.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nscenario: app-breaks\nfile: fleet.yaml\nseed: 3\nspeed: 30\n\
         faults:\n  - fault: start-failure=app@app1\n    at: 30s\n\
         expect:\n  - retry: app\n    within: 5m\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let child = spawn(&[
        "simulate",
        "--scenario",
        scenario.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--spread",
        "0",
    ]);
    // The scenario's fault strikes app's starts (launched after 30s, behind LDAP), not
    // LDAP's; only the placed fault strikes (no random ones unless the scenario asks).
    wait_for_status(&run, "app failed", |status| {
        step_status(status, "app") == "failed"
    });
    assert_eq!(step_status(&status_json(&run), "ldap"), "ready");
    let retry = blackstart(&["retry", run.to_str().unwrap(), "app"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("SCENARIO app-breaks"), "{shown}");
    assert!(
        shown.contains("expected of the team: retry app within 5m"),
        "{shown}"
    );
    let settings = std::fs::read_to_string(run.join("simulation.json")).unwrap();
    assert!(settings.contains("retry app within 5m"), "{settings}");
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);

    // A pace without a game day would be ignored: refused instead.
    let unpaced = blackstart(&["simulate", "--speed", "60", "--no-faults"]);
    assert_eq!(unpaced.status.code(), Some(2), "{}", text(&unpaced));
    let reshaped = blackstart(&[
        "simulate",
        "--resume",
        run.to_str().unwrap(),
        "--inject",
        "dead-disk=ldap1",
    ]);
    assert_eq!(reshaped.status.code(), Some(2), "{}", text(&reshaped));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nscenario: typo\nfile: fleet.yaml\nfaults:\n  - fault: start-failure=ldap@ldap9\n",
    )
    .unwrap();
    let refused = blackstart(&[
        "simulate",
        "--scenario",
        bad.to_str().unwrap(),
        "--run-dir",
        dir.path().join("bad-run").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains(&format!("{}:5:", bad.display())) && said.contains("unknown host \"ldap9\""),
        "{said}"
    );
    assert!(
        !dir.path()
            .join("bad-run")
            .join(journal::JOURNAL_FILE)
            .exists(),
        "nothing ran"
    );
}

#[test]
fn a_scenario_fault_after_an_event_strikes_from_that_event_on() {
    let (dir, _) = scratch(false);
    let scenario = dir.path().join("day.yaml");
    // app's starts come after LDAP is ready: struck. batch's start was launched long
    // before app is ready: not struck, although its fault is armed then.
    std::fs::write(
        &scenario,
        "version: 1\nscenario: after-ldap\nfile: fleet.yaml\nseed: 3\nspeed: 30\n\
         faults:\n  - fault: start-failure=app@app1\n    after: ready ldap\n\
         \x20 - fault: start-failure=batch@batch1\n    after: ready app\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let child = spawn(&[
        "simulate",
        "--scenario",
        scenario.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--spread",
        "0",
    ]);
    wait_for_status(&run, "app failed", |status| {
        step_status(status, "app") == "failed"
    });
    let retry = blackstart(&["retry", run.to_str().unwrap(), "app"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);
    let records = journal::read(&run).unwrap();
    let ready_at = support::cli::ready_times(&records);
    let failed: Vec<(String, u64)> = records
        .iter()
        .filter(|r| {
            matches!(
                r.entry,
                Entry::Event {
                    event: Event::StartFinished { result: Err(_), .. },
                    ..
                }
            )
        })
        .map(|r| (r.entry.label(), r.t_ms))
        .collect();
    assert!(!failed.is_empty(), "app's placed fault struck");
    for (label, at) in &failed {
        assert_eq!(label, "app on app1", "{failed:?}");
        assert!(
            *at > ready_at["ldap"],
            "struck after LDAP was ready: {failed:?}"
        );
    }
    for step in ["ldap", "app", "batch"] {
        assert!(ready_at.contains_key(step), "{step} ready: {ready_at:?}");
    }
}

#[test]
fn as_fast_as_possible_a_gate_waiting_for_people_still_takes_their_ack() {
    // Found on the reference topology: with only heartbeats due, the loop never waited and
    // the runtime never read `requests/`; the ack sat there while the clock ran 700 hours.
    let (dir, file) = scratch(true);
    let run = dir.path().join("run");
    let child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
        "--no-faults",
        "--spread",
        "0",
    ]);
    wait_for_status(&run, "the gate waiting", |status| {
        step_status(status, "approve-app") == "active"
    });
    let ack = blackstart(&["ack", run.to_str().unwrap(), "approve-app", "--by", "ana"]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let output = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(outcomes(&run), vec![RunOutcome::Succeeded]);
}
