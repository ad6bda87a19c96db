//! One view over several controllers (issue 24 item 3): two game days of one topology, one
//! per datacenter, each in its own run directory, with a start failure placed in dc1's;
//! `status`, `report` and `serve` over both directories merge them into one fleet, and
//! directories that are not one fleet are refused. Nothing here touches a real host: the
//! fleets are simulated.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cli::{blackstart, spawn, text};
use support::procs::wait_until;

/// Two datacenters; `ldap` and `app` span both, `batch` lives in dc2 only.
const SITES: &str = r#"
name: sites
policy: { parallelism: 16, power_on: { count: 100, per: 1s } }
defaults:
  host: { boot: 30s, bmc: { password_env: FLEET_VIEW_BMC } }
  subsystem:
    expect: 20s
    retry: { attempts: 2, backoff: 10s, max_backoff: 10s }
hosts:
  - { name: ldap1, address: 10.0.0.1, datacenter: dc1, bmc: { address: 10.1.0.1 } }
  - { name: ldap2, address: 10.0.0.2, datacenter: dc2, bmc: { address: 10.1.0.2 } }
  - { name: app1, address: 10.0.1.1, datacenter: dc1, bmc: { address: 10.1.1.1 } }
  - { name: app2, address: 10.0.1.2, datacenter: dc2, bmc: { address: 10.1.1.2 } }
  - { name: batch2, address: 10.0.2.2, datacenter: dc2, bmc: { address: 10.1.2.2 } }
subsystems:
  - { name: ldap, tier: S1, hosts: [ldap1, ldap2], min_healthy: 1, start: "true" }
  - { name: app, tier: S1, hosts: [app1, app2], requires: [ldap], start: "true" }
  - { name: batch, tier: S3, hosts: [batch2], start: "true" }
"#;

/// A game day of `file` scoped to `datacenter` into `run`, as fast as possible.
fn game_day(file: &Path, run: &Path, datacenter: &str, inject: &[&str]) {
    let mut args = vec![
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--as-fast-as-possible",
        "--datacenter",
        datacenter,
        "--no-faults",
        "--spread",
        "0",
    ];
    args.extend(inject);
    let output = blackstart(&args);
    assert!(run.join("run.json").exists(), "{}", text(&output));
}

/// A scratch directory with the topology and two shards: dc1 (app fails on app1), dc2.
fn two_shards() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sites.yaml");
    std::fs::write(&file, SITES).unwrap();
    let (dc1, dc2) = (dir.path().join("dc1"), dir.path().join("dc2"));
    game_day(&file, &dc1, "dc1", &["--inject", "start-failure=app@app1"]);
    game_day(&file, &dc2, "dc2", &[]);
    (dir, file, dc1, dc2)
}

fn json(args: &[&str]) -> serde_json::Value {
    let output = blackstart(args);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)))
}

fn step<'a>(status: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {status}"))
}

#[test]
fn status_over_two_shards_shows_one_fleet_with_the_failure_first_and_each_shares() {
    let (_dir, _file, dc1, dc2) = two_shards();
    let (one, two) = (dc1.to_str().unwrap(), dc2.to_str().unwrap());
    let output = blackstart(&["status", one, two]);
    let shown = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed step: {}",
        text(&output)
    );
    // What is wrong comes first, in the shard it concerns, with its own directory to retry.
    let failed = shown.find("FAILED  app").expect(&shown);
    let shares = shown.find("shards:").expect(&shown);
    let steps = shown.find("[S1] ldap").expect(&shown);
    assert!(failed < shares && shares < steps, "{shown}");
    assert!(shown.contains(&format!("in {one}:")), "{shown}");
    assert!(
        shown.contains(&format!("blackstart retry {one} app")),
        "{shown}"
    );
    assert!(
        !shown.contains(&format!("blackstart retry {two}")),
        "{shown}"
    );
    // Each shard's share: scope and outcome.
    for (dir, dc, outcome) in [(one, "dc1", "failed"), (two, "dc2", "succeeded")] {
        let line = shown
            .lines()
            .find(|l| l.starts_with(&format!("  {dir}  scope")))
            .unwrap_or_else(|| panic!("no share of {dir}: {shown}"));
        assert!(line.contains(&format!("datacenter {dc}")), "{line}");
        assert!(line.contains(&format!("outcome: {outcome}")), "{line}");
    }
    // ldap spans both datacenters: its members from both, its quorum over both.
    let ldap = shown.lines().find(|l| l.contains("[S1] ldap")).unwrap();
    assert!(ldap.contains("2/2"), "{ldap}");
    assert!(shown.contains("steps: 2 ready, 1 failed, 0 blocked, 0 not finished (of 3)"));
    assert!(shown.contains("nodes: 4 started, 0 already healthy (left alone), 1 failed, of 5"));
    assert!(
        shown.contains(&format!(
            "next in {one}: then continue with: blackstart simulate --resume {one}"
        )),
        "{shown}"
    );
}

#[test]
fn status_json_over_two_shards_sums_each_shard_and_names_the_failed_ones_directory() {
    let (_dir, _file, dc1, dc2) = two_shards();
    let (one, two) = (dc1.to_str().unwrap(), dc2.to_str().unwrap());
    let fleet = json(&["status", one, two, "--format", "json"]);
    let alone: Vec<serde_json::Value> = [one, two]
        .iter()
        .map(|dir| json(&["status", dir, "--format", "json"]))
        .collect();
    assert_eq!(fleet["verdict"], "failed", "{fleet}");
    assert_eq!(fleet["simulated"], true, "game days say so");
    for count in ["nodes", "started", "failed_nodes"] {
        let sum: u64 = alone
            .iter()
            .map(|a| a["counts"][count].as_u64().unwrap())
            .sum();
        assert_eq!(fleet["counts"][count], sum, "{count}: {fleet}");
    }
    // The latest shard's clock, not the first's nor an average.
    let latest = alone
        .iter()
        .map(|a| a["elapsed_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(fleet["elapsed_ms"], latest);
    let failed = fleet["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{fleet}");
    assert_eq!(failed[0]["dir"], one);
    assert_eq!(failed[0]["host"], "app1");
    assert_eq!(failed[0]["retry"], format!("blackstart retry {one} app"));
    let app = step(&fleet, "app");
    assert_eq!(app["status"], "failed");
    assert_eq!(
        (
            app["healthy"].as_u64(),
            app["hosts"].as_u64(),
            app["needed"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );
    let ldap = step(&fleet, "ldap");
    assert_eq!(ldap["status"], "ready");
    assert_eq!(ldap["shards"].as_array().unwrap().len(), 2, "{ldap}");
    assert_eq!(step(&fleet, "batch")["shards"][0]["dir"], two);
    let shards = fleet["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0]["scope"], "datacenter dc1");
    assert_eq!(shards[1]["status"]["verdict"], "recovered");
    assert!(shards[0]["last_record_age_ms"].is_u64(), "{fleet}");
    // With --watch on finished shards: one drawing, then the end.
    let watched = blackstart(&["status", one, two, "--watch", "1", "--failed"]);
    assert_eq!(watched.status.code(), Some(1), "{}", text(&watched));
    assert_eq!(
        String::from_utf8_lossy(&watched.stdout)
            .matches("FLEET of 2")
            .count(),
        1
    );
}

#[test]
fn report_and_serve_over_two_shards_show_both() {
    let (dir, _file, dc1, dc2) = two_shards();
    let (one, two) = (dc1.to_str().unwrap(), dc2.to_str().unwrap());
    let page = dir.path().join("fleet.html");
    let report = blackstart(&["report", one, two, "-o", page.to_str().unwrap()]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let html = std::fs::read_to_string(&page).unwrap();
    for dir in [one, two] {
        assert!(
            html.contains(&format!("data-dir=\"{dir}\"")),
            "{dir} in {html}"
        );
    }
    assert!(html.contains("data-shards=\"2\""));
    assert!(
        html.contains(&format!("blackstart retry {one} app")),
        "{html}"
    );
    assert!(
        html.contains("data-step=\"app\" data-status=\"failed\""),
        "{html}"
    );
    // Without -o the fleet report belongs to no shard: refused, not written into one.
    let nowhere = blackstart(&["report", one, two]);
    assert_eq!(nowhere.status.code(), Some(2), "{}", text(&nowhere));
    assert!(!dc1.join("report.html").exists());

    let addr = format!(
        "127.105.0.{}:{}",
        1 + std::process::id() % 250,
        20000 + std::process::id() % 20000
    );
    let mut server = spawn(&["serve", one, two, "--addr", &addr]);
    let mut served = String::new();
    let answered = wait_until(Duration::from_secs(20), || {
        served = support::http::get(&addr).unwrap_or_default();
        served.contains("</html>")
    });
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(answered, "the fleet page was served on {addr}");
    assert!(served.contains("data-refresh=\"5\""), "a live page reloads");
    for dir in [one, two] {
        assert!(
            served.contains(&format!("data-dir=\"{dir}\"")),
            "{dir} in {served}"
        );
    }
}

#[test]
fn directories_that_are_not_one_fleet_are_refused_and_another_version_is_warned_of() {
    let (dir, file, dc1, _dc2) = two_shards();
    let one = dc1.to_str().unwrap();
    // The same directory twice, even spelled differently.
    let again = dc1.join("..").join("dc1");
    let twice = blackstart(&["status", one, again.to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
    assert!(
        text(&twice).contains("are the same run directory"),
        "{}",
        text(&twice)
    );
    // Another topology.
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, SITES.replace("name: sites", "name: other")).unwrap();
    let foreign = dir.path().join("other-dc2");
    game_day(&other, &foreign, "dc2", &[]);
    let foreign = foreign.to_str().unwrap();
    for args in [
        vec!["status", one, foreign],
        vec!["report", one, foreign, "-o", "-"],
    ] {
        let refused = blackstart(&args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&refused)
        );
        let said = text(&refused);
        assert!(
            said.contains("not one fleet")
                && said.contains("\"sites\"")
                && said.contains("\"other\""),
            "{said}"
        );
    }
    // The same topology, another version of its file: merged, with a warning naming both.
    let newer = dir.path().join("sites-newer.yaml");
    std::fs::write(&newer, SITES.replace("expect: 20s", "expect: 25s")).unwrap();
    let shard = dir.path().join("newer-dc2");
    game_day(&newer, &shard, "dc2", &[]);
    let warned = blackstart(&["status", one, shard.to_str().unwrap()]);
    assert_eq!(
        warned.status.code(),
        Some(1),
        "merged, dc1 failed: {}",
        text(&warned)
    );
    let said = String::from_utf8_lossy(&warned.stderr);
    assert!(
        said.contains("warning:") && said.contains("the files differ"),
        "{said}"
    );
    assert!(
        said.contains(file.to_str().unwrap()) && said.contains(newer.to_str().unwrap()),
        "{said}"
    );
}

#[test]
fn a_live_shard_is_shown_live_and_watch_redraws_until_every_shard_ends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sites.yaml");
    std::fs::write(&file, SITES).unwrap();
    let (dc1, dc2) = (dir.path().join("dc1"), dir.path().join("dc2"));
    game_day(&file, &dc1, "dc1", &["--inject", "start-failure=app@app1"]);
    let (one, two) = (dc1.to_str().unwrap(), dc2.to_str().unwrap());
    // dc2's controller is still at it: about 8 seconds of wall clock at 10x.
    let child = spawn(&[
        "simulate",
        file.to_str().unwrap(),
        "--run-dir",
        two,
        "--speed",
        "10",
        "--datacenter",
        "dc2",
        "--no-faults",
        "--spread",
        "0",
    ]);
    let mut live = serde_json::Value::Null;
    let seen_live = wait_until(Duration::from_secs(30), || {
        if !dc2.join("journal.jsonl").exists() {
            return false;
        }
        live = json(&["status", one, two, "--format", "json"]);
        live["live"] == 1
    });
    assert!(seen_live, "dc2's game day was never seen live: {live}");
    assert_eq!(
        live["shards"][1]["status"]["run"]["state"], "live",
        "{live}"
    );
    assert_eq!(live["shards"][0]["status"]["run"]["state"], "finished");
    let watched = blackstart(&["status", one, two, "--watch", "1"]);
    let shown = String::from_utf8_lossy(&watched.stdout).to_string();
    let finished = support::cli::wait_bounded(child, support::cli::RUN_LIMIT);
    assert_eq!(finished.status.code(), Some(0), "{}", text(&finished));
    assert_eq!(watched.status.code(), Some(1), "dc1 failed: {shown}");
    let drawings: Vec<&str> = shown.split("FLEET of 2").skip(1).collect();
    let last = drawings.last().expect(&shown);
    assert!(
        last.contains(" 0 live "),
        "the watch ends once no shard is live: {last}"
    );
    assert!(last.contains("outcome: succeeded"), "{last}");
    if drawings[0].contains(" 1 live ") {
        assert!(drawings.len() > 1, "a live fleet is redrawn: {shown}");
        assert!(drawings[0].contains("redrawn every 1s until every shard ends"));
    }
}
