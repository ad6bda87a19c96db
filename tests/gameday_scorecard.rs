//! A game day's scorecard: a scripted day with a placed start failure and a gate, driven
//! through the CLI (`retry`, `ack`); the scorecard printed at its end, in `status --format
//! json` and in the report must quote the journal's own times and who acknowledged.

mod support;

use std::path::Path;
use std::time::Duration;

use blackstart::event::Event;
use blackstart::journal::{self, Entry, Record};
use support::cli::{blackstart, spawn, text, wait_bounded, RUN_LIMIT};
use support::gameday_fixture::{fleet_without_batch, FLEET, GATED};
use support::procs::wait_until;

/// The ack is expected within a day (met); the retry within no time at all (missed).
const DAY: &str = "version: 1\nscenario: ldap-and-gate\nfile: gated.yaml\nseed: 3\nspeed: 30\n\
faults:\n  - fault: start-failure=ldap@ldap1\n\
expect:\n  - retry: ldap\n    within: 1ms\n  - ack: approve-app\n    within: 1day\n  - retry: app\n    within: 1m\n";

fn status_json(run: &Path) -> serde_json::Value {
    let output = blackstart(&["status", run.to_str().unwrap(), "--format", "json"]);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("status json: {err}: {}", text(&output)))
}

fn step_is(run: &Path, step: &str, status: &str) -> bool {
    run.join(journal::RUN_FILE).exists()
        && status_json(run)["steps"].as_array().is_some_and(|steps| {
            steps
                .iter()
                .any(|s| s["id"] == step && s["status"] == status)
        })
}

fn wall_ms(record: &Record) -> u64 {
    let at = humantime::parse_rfc3339(record.at.as_deref().unwrap()).unwrap();
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn the_scorecard_quotes_the_journals_times_for_the_retry_and_the_ack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(dir.path().join("gated.yaml"), GATED).unwrap();
    let scenario = dir.path().join("day.yaml");
    std::fs::write(&scenario, DAY).unwrap();
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
    let failed = wait_until(Duration::from_secs(60), || step_is(&run, "ldap", "failed"));
    assert!(failed, "ldap never failed: {}", status_json(&run));
    let retry = blackstart(&["retry", run.to_str().unwrap(), "ldap"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let waits = wait_until(Duration::from_secs(60), || {
        step_is(&run, "approve-app", "active")
    });
    assert!(waits, "the gate never waited: {}", status_json(&run));
    let ack = blackstart(&["ack", run.to_str().unwrap(), "approve-app", "--by", "ana"]);
    assert_eq!(ack.status.code(), Some(0), "{}", text(&ack));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout).to_string();

    // The journal's own times: ldap1 gave up at its last failed start, the retry re-armed
    // it, the gate went active and ana's ack released it.
    let records = journal::read(&run).unwrap();
    let find = |what: &dyn Fn(&Record) -> bool| records.iter().rposition(what).unwrap();
    let gave_up = find(
        &|r| matches!(&r.entry, Entry::Event { event: Event::StartFinished { result: Err(_), .. }, host: Some(h), .. } if h == "ldap1"),
    );
    let rearmed = find(&|r| {
        matches!(
            &r.entry,
            Entry::Event {
                event: Event::Rearmed { .. },
                ..
            }
        )
    });
    let waiting = records
        .iter()
        .position(|r| matches!(&r.entry, Entry::StepStatus { step, status } if step == "approve-app" && status.name() == "active"))
        .unwrap();
    let acked = find(
        &|r| matches!(&r.entry, Entry::Event { event: Event::Acknowledged { by, .. }, .. } if by == "ana"),
    );
    let recovered = journal::recovered_at(&records, 4).unwrap().as_millis() as u64;

    let card = &status_json(&run)["scorecard"];
    assert_eq!(card["recovered_ms"], recovered, "{card}");
    let failure = &card["failures"][0];
    assert_eq!(card["failures"].as_array().unwrap().len(), 1, "{card}");
    assert_eq!(
        (failure["step"].as_str(), failure["host"].as_str()),
        (Some("ldap"), Some("ldap1"))
    );
    assert_eq!(failure["failed_ms"], records[gave_up].t_ms, "{card}");
    assert_eq!(failure["retried_ms"], records[rearmed].t_ms, "{card}");
    assert_eq!(
        failure["delay"]["run_ms"],
        records[rearmed].t_ms - records[gave_up].t_ms
    );
    assert_eq!(
        failure["delay"]["wall_ms"],
        wall_ms(&records[rearmed]) - wall_ms(&records[gave_up])
    );
    let gate = &card["gates"][0];
    assert_eq!(gate["step"], "approve-app");
    assert_eq!(gate["by"], "ana");
    assert_eq!(gate["waiting_ms"], records[waiting].t_ms, "{card}");
    assert_eq!(gate["acked_ms"], records[acked].t_ms, "{card}");
    assert_eq!(
        gate["delay"]["run_ms"],
        records[acked].t_ms - records[waiting].t_ms
    );
    assert_eq!(
        gate["delay"]["wall_ms"],
        wall_ms(&records[acked]) - wall_ms(&records[waiting])
    );
    let met: Vec<&str> = card["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["met"].as_str().unwrap())
        .collect();
    assert_eq!(met, ["missed", "met", "not_called_for"], "{card}");
    // The band was studied (a tiny fleet is cheap) and brackets its own median.
    let band = &card["band"];
    assert_eq!(band["band"], "studied", "{card}");
    assert!(band["p10_ms"].as_u64() <= band["p50_ms"].as_u64());
    assert!(band["p50_ms"].as_u64() <= band["p90_ms"].as_u64());

    // The same numbers at the end of the game day and in the report.
    let ack_line = "acknowledged by ana after ";
    assert!(
        printed.contains("SCORECARD") && printed.contains(ack_line),
        "{printed}"
    );
    assert!(
        printed.contains("MISSED  retry ldap within 1ms"),
        "{printed}"
    );
    assert!(
        printed.contains("MET     ack approve-app within 1day"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "recovered in {}",
            blackstart::plan::human(Duration::from_millis(recovered))
        )),
        "{printed}"
    );
    let page = dir.path().join("report.html");
    let report = blackstart(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"scorecard\"") && html.contains("acknowledged by ana after"),
        "{html}"
    );
}

#[test]
fn a_failure_nobody_acted_on_is_said_and_a_retry_after_the_game_day_stopped_counts_on_the_wall_clock(
) {
    // Without the batch job nothing runs once LDAP fails: the game day ends failed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.yaml"), fleet_without_batch()).unwrap();
    let run = dir.path().join("run");
    let output = blackstart(&[
        "simulate",
        dir.path().join("fleet.yaml").to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
        "--no-faults",
        "--spread",
        "0",
        "--inject",
        "start-failure=ldap@ldap1",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("ldap on ldap1 failed at +") && printed.contains("NEVER acted on"),
        "{printed}"
    );
    assert!(printed.contains("not recovered after"), "{printed}");
    let card = &status_json(&run)["scorecard"];
    assert_eq!(
        card["failures"][0]["retried_ms"],
        serde_json::Value::Null,
        "{card}"
    );
    assert_eq!(card["recovered_ms"], serde_json::Value::Null, "{card}");

    // The retry comes later, with no process running: the run clock stands still, the
    // wall clock does not.
    std::thread::sleep(Duration::from_millis(300));
    let retry = blackstart(&["retry", run.to_str().unwrap(), "ldap"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let card = &status_json(&run)["scorecard"];
    let delay = &card["failures"][0]["delay"];
    assert_eq!(delay["run_ms"], 0, "{card}");
    assert!(delay["wall_ms"].as_u64().unwrap() >= 300, "{card}");
}

/// [`FLEET`] with a third LDAP server kept as a spare.
fn fleet_with_a_spare() -> String {
    let fleet = FLEET
        .replace(
            r#"name: "ldap[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.1.0.[1:2]" }"#,
            r#"name: "ldap[1:3]", address: "10.0.0.[1:3]", bmc: { address: "10.1.0.[1:3]" }"#,
        )
        .replace(
            r#"hosts: ["ldap[1:2]"], start"#,
            r#"hosts: ["ldap[1:2]"], spares: [ldap3], start"#,
        );
    assert!(fleet.contains("spares: [ldap3]") && fleet.contains("ldap[1:3]"));
    fleet
}

/// Start actions per `step on host` in the journal.
fn starts_per_node(run: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut per_node = std::collections::BTreeMap::new();
    for (label, _) in support::cli::starts(&journal::read(run).unwrap()) {
        *per_node.entry(label).or_default() += 1;
    }
    per_node
}

#[test]
fn a_dead_disk_on_a_step_with_a_spare_is_replaced_by_the_run_and_scored_as_no_one_needed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.yaml");
    std::fs::write(&file, fleet_with_a_spare()).unwrap();
    let run = dir.path().join("run");
    // As fast as possible: were a person needed, the game day would wait for one forever
    // (bounded here by RUN_LIMIT).
    let output = wait_bounded(
        spawn(&[
            "simulate",
            file.to_str().unwrap(),
            "--run-dir",
            run.to_str().unwrap(),
            "--as-fast-as-possible",
            "--no-faults",
            "--spread",
            "0",
            "--inject",
            "dead-disk=ldap@ldap1",
        ]),
        RUN_LIMIT,
    );
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("ldap on ldap1 failed at +")
            && printed.contains("the run brought in spare ldap3")
            && printed.contains("no one needed to act")
            && !printed.contains("NEVER acted on"),
        "{printed}"
    );
    let shown = blackstart(&["status", run.to_str().unwrap()]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("FAILED  ldap on ldap1")
            && shown.contains("disk did not come back")
            && shown.contains(
                "SPARE   ldap on ldap3: brought in for a member that failed for good; healthy"
            ),
        "{shown}"
    );
    let status = status_json(&run);
    assert_eq!(status["verdict"], "recovered", "{status}");
    let failure = &status["scorecard"]["failures"][0];
    assert_eq!(failure["host"], "ldap1", "{failure}");
    assert_eq!(failure["spare"]["host"], "ldap3", "{failure}");
    assert_eq!(failure["retried_ms"], serde_json::Value::Null, "{failure}");
    let brought = failure["spare"]["brought_in_ms"].as_u64().unwrap();
    let healthy = failure["spare"]["healthy_ms"].as_u64().unwrap();
    assert!(
        failure["failed_ms"].as_u64().unwrap() <= brought && brought < healthy,
        "{failure}"
    );
    // The dead host's service was never started; the spare's once.
    let starts = starts_per_node(&run);
    assert_eq!(starts.get("ldap on ldap1"), None, "{starts:?}");
    assert_eq!(starts.get("ldap on ldap3"), Some(&1), "{starts:?}");
}

#[test]
fn a_dead_disk_without_a_spare_waits_for_the_repair_and_its_retry_is_scored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.yaml");
    std::fs::write(&file, FLEET).unwrap();
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
        "dead-disk=ldap@ldap1",
    ]);
    // LDAP needs both servers: below its quorum it fails, and nothing brings it back but
    // a person who replaces the disk and says so (the batch job keeps the day going).
    let failed = wait_until(Duration::from_secs(60), || step_is(&run, "ldap", "failed"));
    assert!(failed, "ldap never failed: {}", status_json(&run));
    let retry = blackstart(&["retry", run.to_str().unwrap(), "ldap"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let status = status_json(&run);
    assert_eq!(status["verdict"], "recovered", "{status}");
    let failure = &status["scorecard"]["failures"][0];
    assert_eq!(failure["host"], "ldap1", "{failure}");
    assert!(failure["spare"].is_null(), "{failure}");
    assert!(
        failure["retried_ms"].as_u64().unwrap() > failure["failed_ms"].as_u64().unwrap(),
        "{failure}"
    );
    assert!(failure["delay"]["wall_ms"].is_u64(), "{failure}");
    // After the repair the host answered and its service started, once.
    assert_eq!(starts_per_node(&run).get("ldap on ldap1"), Some(&1));
}

#[test]
fn calibrate_learns_the_teams_retry_from_a_game_day_and_the_drill_then_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.yaml");
    std::fs::write(&fleet, fleet_without_batch()).unwrap();
    let run = dir.path().join("run");
    let failed = blackstart(&[
        "simulate",
        fleet.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
        "--no-faults",
        "--spread",
        "0",
        "--inject",
        "start-failure=ldap@ldap1",
    ]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    // The team takes its time (on the wall clock) before it repairs LDAP and says so.
    std::thread::sleep(Duration::from_millis(400));
    let retry = blackstart(&["retry", run.to_str().unwrap(), "ldap"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));

    let model = dir.path().join("model.yaml");
    let fitted = blackstart(&[
        "calibrate",
        run.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    assert_eq!(fitted.status.code(), Some(0), "{}", text(&fitted));
    assert!(
        text(&fitted).contains("0 real runs and 1 game days"),
        "{}",
        text(&fitted)
    );
    let learned: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let retry_s = learned["people"]["retry"]
        .as_f64()
        .expect("people.retry learned");
    assert!((0.4..60.0).contains(&retry_s), "{learned:?}");
    // The game day's machines are the drill's own model: nothing learned from them.
    assert!(
        learned["start"].as_mapping().is_none_or(|m| m.is_empty()),
        "{learned:?}"
    );

    // A drill of the same failure: without people it stalls; with the team's time a
    // simulated person repairs and retries LDAP, and the night recovers that much later.
    let drill = |model: Option<&Path>| {
        let mut args = vec![
            "simulate",
            fleet.to_str().unwrap(),
            "--no-faults",
            "--spread",
            "0",
            "--inject",
            "start-failure=ldap@ldap1",
            "--format",
            "json",
        ];
        if let Some(model) = model {
            args.extend(["--model", model.to_str().unwrap()]);
        }
        let output = blackstart(&args);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", text(&output)));
        json
    };
    let alone = drill(None);
    let helped = drill(Some(&model));
    assert_eq!(alone["succeeded"], false, "{alone}");
    assert_eq!(helped["succeeded"], true, "{helped}");
    // The next game day's band is of nights with those people, and says so.
    let next = dir.path().join("next");
    let output = blackstart(&[
        "simulate",
        fleet.to_str().unwrap(),
        "--run-dir",
        next.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--as-fast-as-possible",
        "--no-faults",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("calibrated people: retries"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_models_people_ack_is_how_long_a_drills_gate_waits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.yaml"), fleet_without_batch()).unwrap();
    let playbook = dir.path().join("gated.yaml");
    std::fs::write(&playbook, GATED).unwrap();
    let model = dir.path().join("model.yaml");
    std::fs::write(&model, "people: { ack: 3600 }\n").unwrap();
    let gate_ready = |model: Option<&Path>| {
        let mut args = vec![
            "simulate",
            playbook.to_str().unwrap(),
            "--no-faults",
            "--spread",
            "0",
            "--format",
            "json",
        ];
        if let Some(model) = model {
            args.extend(["--model", model.to_str().unwrap()]);
        }
        let output = blackstart(&args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let gate = json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "approve-app")
            .cloned()
            .unwrap_or_else(|| panic!("no gate in {json}"));
        gate["ready_at"].as_f64().unwrap()
    };
    // The gate's own `expect` (1m) without people; the team's hour with them.
    let planned = gate_ready(None);
    let with_people = gate_ready(Some(&model));
    assert!(
        ((with_people - planned) - 3540.0).abs() < 1.0,
        "{planned} -> {with_people}"
    );
}
