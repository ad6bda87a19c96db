//! What an on-call engineer reads from `run` and `status` when much goes wrong at once,
//! against the real lab (sshd per host, ipmi_sim per BMC).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blackstart::event::Action;
use serde_json::Value;
use support::cli::{blackstart, read_journal, text, wait_bounded, BIN, RUN_LIMIT};
use support::lab::{Lab, LabSecret};

/// One service on every host; `min_healthy: 1`, so it recovers with most hosts dead.
/// `dead` (0-based) get BMC addresses nobody answers on.
fn one_service_everywhere(lab: &Lab, secret: LabSecret, dead: &[usize]) -> std::path::PathBuf {
    slow_service_everywhere(lab, secret, dead, 0.2)
}

/// Like [`one_service_everywhere`], the service listening `delay_s` after its start while
/// the plan expects 1 s: slower than planned, so overdue.
fn slow_service_everywhere(
    lab: &Lab,
    secret: LabSecret,
    dead: &[usize],
    delay_s: f64,
) -> std::path::PathBuf {
    let names: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("\"{}\"", h.name))
        .collect();
    let subsystems = format!(
        "subsystems:\n  - name: svc\n    hosts: [{}]\n    start: {}\n    health: {{ tcp: 7101 }}\n    \
         min_healthy: 1\n    health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n    \
         expect: 1s\n",
        names.join(", "),
        serde_json::to_string(&lab.service_command(7101, delay_s, "")).unwrap()
    );
    let mut yaml = lab.topology_yaml(secret, &subsystems);
    yaml = yaml.replacen(
        "policy:\n",
        "policy:\n  bmc_timeout: 2s\n  bmc_attempts: 1\n",
        1,
    );
    yaml = yaml.replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    for (n, index) in dead.iter().enumerate() {
        let live = format!("bmc: {{ address: {} }}", lab.hosts[*index].bmc_address);
        let unused = format!("bmc: {{ address: 127.100.200.{} }}", n + 1);
        yaml = yaml.replacen(&live, &unused, 1);
    }
    let path = lab.dir.join("topology.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn an_unset_password_variable_stops_the_run_before_any_action_in_one_line() {
    let lab = Lab::start("ua", (100, 10), 12);
    let topology = one_service_everywhere(&lab, LabSecret::Env, &[]);
    let run_dir = lab.dir.join("run");
    let child = Command::new(BIN)
        .args([
            "run",
            topology.to_str().unwrap(),
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .env_remove(&lab.password_env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_bounded(child, RUN_LIMIT);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    let lines: Vec<&str> = shown
        .lines()
        .filter(|line| line.starts_with("error: missing prerequisite"))
        .collect();
    assert_eq!(lines.len(), 1, "one line for the cause: {shown}");
    assert!(
        lines[0].contains(&format!("${}", lab.password_env)),
        "{shown}"
    );
    assert!(lines[0].contains("is not set: 12 hosts"), "{shown}");
    let acted = std::fs::metadata(run_dir.join(blackstart::journal::JOURNAL_FILE)).is_ok()
        && read_journal(&run_dir)
            .iter()
            .any(|r| matches!(r.entry, blackstart::journal::Entry::Action { .. }));
    assert!(!acted, "no action journaled");
    assert!((0..12).all(|i| !lab.is_on(i)), "no host was powered on");
    let plan = Command::new(BIN)
        .args(["plan", topology.to_str().unwrap(), "--prerequisites"])
        .env_remove(&lab.password_env)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let checklist = String::from_utf8_lossy(&plan.stdout);
    assert!(
        checklist.contains("[MISSING] BMC password sources present (12 hosts)"),
        "{checklist}"
    );
    assert!(
        checklist.contains("[ok     ] hosts in known_hosts (12 hosts)"),
        "{checklist}"
    );
    assert!(!checklist.contains(&lab.password), "no secret shown");
}

#[test]
fn ten_dead_bmcs_are_one_line_with_their_count_and_the_degraded_recovery_says_so() {
    let lab = Lab::start("ub", (100, 12), 12);
    let dead: Vec<usize> = (2..12).collect();
    let topology = one_service_everywhere(&lab, LabSecret::File, &dead);
    let run_dir = lab.dir.join("run");
    let output = blackstart(&[
        "run",
        topology.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--strict",
    ]);
    let shown = text(&output);
    assert_eq!(
        output.status.code(),
        Some(3),
        "degraded with --strict: {shown}"
    );
    let summary = String::from_utf8_lossy(&output.stdout).to_string();
    let grouped: Vec<&str> = summary
        .lines()
        .filter(|line| line.trim_start().starts_with("FAILED"))
        .collect();
    assert_eq!(grouped.len(), 1, "one line for the ten: {summary}");
    assert!(grouped[0].contains(": 10 hosts (rack r12: "), "{summary}");
    assert!(
        summary
            .contains("RECOVERED, DEGRADED: 10 nodes failed within quorum (svc 2 of 12 healthy)"),
        "{summary}"
    );
    let live = String::from_utf8_lossy(&output.stderr).to_string();
    // IPMI hosts are switched on without a power read: the dead BMCs fail the power-on.
    let one_by_one = live
        .lines()
        .filter(|l| l.contains(": BMC FAILED") || l.contains(": power on FAILED: BMC"))
        .count();
    assert_eq!(
        one_by_one, 3,
        "live: three one by one, then counted: {live}"
    );
    assert!(
        live.lines()
            .any(|l| l.contains("FAILED  BMC") && l.contains(" so far (")),
        "{live}"
    );
    let actions = read_journal(&run_dir)
        .iter()
        .filter(|r| {
            matches!(
                r.entry,
                blackstart::journal::Entry::Action {
                    action: Action::CheckPower { .. } | Action::PowerOn { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(actions, 12, "the journal keeps every host's attempt");

    // status: the same grouping, every node behind --failed, and the same counts as JSON.
    let dir = run_dir.to_str().unwrap();
    let status = blackstart(&["status", dir]);
    let status_text = text(&status);
    assert_eq!(
        status.status.code(),
        Some(0),
        "degraded is recovered: {status_text}"
    );
    assert_eq!(
        status_text
            .lines()
            .filter(|l| l.contains(": 10 hosts"))
            .count(),
        1,
        "{status_text}"
    );
    assert_eq!(
        blackstart(&["status", dir, "--strict"]).status.code(),
        Some(3)
    );
    let all = text(&blackstart(&["status", dir, "--failed"]));
    for index in &dead {
        assert!(
            all.contains(&format!("FAILED  svc on {}: BMC", lab.hosts[*index].name)),
            "{all}"
        );
    }
    // The recorded journal replayed into `status` gives the summary's counts.
    let json: Value =
        serde_json::from_slice(&blackstart(&["status", dir, "--format", "json"]).stdout).unwrap();
    let counts = &json["counts"];
    let expected = format!(
        "nodes: {} started, {} already healthy (left alone), {} failed, of {}",
        counts["started"], counts["already_healthy"], counts["failed_nodes"], counts["nodes"]
    );
    assert!(
        summary.contains(&expected),
        "summary {summary} vs status {json}"
    );
    let steps = format!(
        "steps: {} ready, {} failed, {} blocked, {} not finished (of {})",
        counts["ready"], counts["failed"], counts["blocked"], counts["unfinished"], counts["steps"]
    );
    assert!(
        summary.contains(&steps),
        "summary {summary} vs status {json}"
    );
    assert_eq!(counts["failed_nodes"], 10);
    assert_eq!(json["causes"][0]["hosts"], 10);
    assert_eq!(json["run"]["state"], "finished");
}

#[test]
fn without_a_terminal_a_heartbeat_says_what_is_in_flight_and_what_is_overdue() {
    let lab = Lab::start("uc", (100, 14), 4);
    let topology = slow_service_everywhere(&lab, LabSecret::File, &[], 4.0);
    let run_dir = lab.dir.join("run");
    let output = blackstart(&[
        "run",
        topology.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--heartbeat",
        "1s",
    ]);
    let shown = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{shown}");
    let beats: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("heartbeat: "))
        .collect();
    assert!(
        beats.len() >= 3,
        "a beat every second of a run over 4 s: {shown}"
    );
    assert!(
        beats
            .iter()
            .any(|l| l.contains(" in flight (oldest: svc on uc")),
        "{shown}"
    );
    assert!(
        beats
            .iter()
            .any(|l| l.contains("OVERDUE svc +") && l.contains("behind plan")),
        "{shown}"
    );
}

/// Runs `args` of blackstart in a detached tmux session on its own server, and returns the
/// screen once `seen` holds for it (bounded), or the last screen.
fn on_a_terminal(args: &[&str], limit: Duration, seen: impl Fn(&str) -> bool) -> String {
    let socket = format!("bs-ux-{}", std::process::id());
    let tmux = |extra: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("tmux")
    };
    let command = std::iter::once(BIN.to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
        + "; sleep 60";
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "run",
        "-x",
        "160",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success(), "tmux: {}", text(&started));
    let began = Instant::now();
    let mut screen = String::new();
    while began.elapsed() < limit {
        screen =
            String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "run"]).stdout).to_string();
        if seen(&screen) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux(&["kill-server"]);
    screen
}

#[test]
fn on_a_terminal_the_status_area_shows_what_is_in_flight_and_overdue() {
    let lab = Lab::start("ud", (100, 16), 4);
    let topology = slow_service_everywhere(&lab, LabSecret::File, &[], 6.0);
    let run_dir = lab.dir.join("run");
    let screen = on_a_terminal(
        &[
            "run",
            topology.to_str().unwrap(),
            "--run-dir",
            run_dir.to_str().unwrap(),
            "--yes",
        ],
        Duration::from_secs(60),
        |screen| screen.contains("OVERDUE svc") && screen.contains("(oldest: svc on ud"),
    );
    assert!(screen.contains("in flight (oldest: svc on ud"), "{screen}");
    assert!(screen.contains("OVERDUE svc +"), "{screen}");
    assert!(screen.contains("behind plan"), "{screen}");
    assert!(
        screen.contains("S3: 0/1 steps ready"),
        "the tier table: {screen}"
    );
}

/// A live run behind its plan: `status` and the live page both say it is OVERDUE and by
/// how much (not a remaining ETA that stays put), with the start in flight on the step.
#[test]
fn a_live_run_behind_its_plan_is_overdue_in_status_and_on_the_live_page() {
    let lab = Lab::start("ue", (100, 18), 2);
    let topology = slow_service_everywhere(&lab, LabSecret::File, &[], 8.0);
    let run_dir = lab.dir.join("run");
    let page = "127.100.18.250:18480";
    let child = support::cli::spawn(&[
        "run",
        topology.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--yes",
        "--serve",
        page,
    ]);
    let deadline = Instant::now() + Duration::from_secs(40);
    let (mut status, mut live) = (String::new(), String::new());
    while Instant::now() < deadline {
        let out = support::cli::output_bounded(
            Command::new(BIN).args(["status", run_dir.to_str().unwrap()]),
        );
        status = text(&out);
        live = support::http::get(page).unwrap_or_default();
        if status.contains("OVERDUE by") && live.contains("OVERDUE by") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let run = wait_bounded(child, RUN_LIMIT);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        status.contains("remaining ETA: OVERDUE by"),
        "status says the run is late: {status}"
    );
    assert!(
        status.contains("starting"),
        "and what is in flight: {status}"
    );
    let now = live
        .find("<section id=\"now\">")
        .map(|at| &live[at..])
        .unwrap_or_else(|| panic!("the live page has a Now section: {live}"));
    let now = &now[..now.find("</section>").unwrap()];
    assert!(now.contains("OVERDUE by"), "{now}");
    assert!(now.contains("elapsed (wall clock)"), "{now}");
    assert!(
        now.contains("data-step=\"svc\"") && now.contains("starting"),
        "the start in flight on svc: {now}"
    );
}
