//! The HTML report, seen by a real browser: a drill of the reference topology, a Monte
//! Carlo study, a hand-written journal with hostile text, plus completions and the man page.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use blackstart::event::{Action, Event, Reason};
use blackstart::journal::{Entry, Record};
use blackstart::load::{load_file, load_str};
use blackstart::plan::Plan;
use blackstart::report::html::{render_run, RunPage};
use blackstart::scope::Scope;
use support::browser::{self, assert_rendered_cleanly, attribute, rows};
use support::cli::{blackstart, text};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/topologies/social-network.yaml"
);

fn url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

#[test]
fn a_drill_of_the_reference_topology_draws_every_subsystem_and_the_critical_path() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("drill.html");
    let output = blackstart(&["simulate", REFERENCE, "--report", page.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains(" src=")
            && !html.contains("href=\"http")
            && !html.contains("url(")
            && !html.contains("@import"),
        "self-contained: nothing fetched"
    );
    let topology = load_file(Path::new(REFERENCE)).unwrap().topology;
    // The first critical step is opened through the page's script: its hosts are drawn.
    let first_critical = html
        .split("data-critical=\"true\"")
        .next()
        .and_then(|before| before.rsplit("data-step=\"").next())
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .unwrap();
    let loaded = browser::load(&url(&page, &format!("#expand={first_critical}")));
    assert_rendered_cleanly(&loaded);
    let rows = rows(&loaded.dom);
    let drawn: BTreeSet<&str> = rows
        .iter()
        .filter(|row| row.2)
        .map(|row| row.1.as_str())
        .collect();
    for subsystem in &topology.subsystems {
        assert!(
            drawn.contains(subsystem.name.as_str()),
            "{} has a bar",
            subsystem.name
        );
    }
    // Rows read in the order the work began (steps that never began last).
    let starts: Vec<u64> = loaded
        .dom
        .split("<details class=\"row step")
        .skip(1)
        .map(|row| {
            let start = attribute(&format!("<details{row}"), "<details", "data-start").unwrap();
            start.parse().unwrap_or(u64::MAX)
        })
        .collect();
    assert_eq!(starts.len(), rows.len());
    assert!(
        starts.windows(2).all(|pair| pair[0] <= pair[1]),
        "Gantt rows ordered by start: {starts:?}"
    );
    let critical = rows.iter().filter(|row| row.3).count();
    assert!(
        critical >= 2,
        "the critical path is marked: {critical} rows"
    );
    assert_eq!(
        attribute(&loaded.dom, "id=\"gantt\"", "data-critical-rows"),
        Some(critical.to_string())
    );
    // Each critical step's own stretch is outlined, from when the one before it became
    // ready: the stretches follow one another, and are not whole rows.
    let stretches: Vec<(u64, u64)> = html
        .split("<rect class=\"chain\"")
        .skip(1)
        .map(|rest| {
            let rect = format!("<rect{rest}");
            let at = |name| {
                attribute(&rect, "<rect", name)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            };
            (at("data-from-ms"), at("data-to-ms"))
        })
        .collect();
    assert_eq!(stretches.len(), critical, "one stretch per critical step");
    let mut sorted = stretches.clone();
    sorted.sort();
    assert!(
        sorted.windows(2).all(|pair| pair[0].1 == pair[1].0),
        "stretches follow one another: {sorted:?}"
    );
    assert!(
        sorted.iter().skip(1).all(|(from, _)| *from > 0),
        "only the first starts at the beginning: {sorted:?}"
    );
    let opened = attribute(
        &loaded.dom,
        &format!("data-step=\"{first_critical}\""),
        "open",
    );
    assert!(opened.is_some(), "{first_critical} was opened");
    assert!(
        loaded.dom.contains("class=\"host-row\""),
        "its hosts were drawn on demand"
    );
    browser::screenshot(&url(&page, ""), &dir.path().join("drill.png"), (1400, 1800));
}

#[test]
fn a_study_page_shows_distributions_per_tier_and_critical_shares() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("study.html");
    let output = blackstart(&[
        "simulate",
        REFERENCE,
        "--runs",
        "12",
        "--report",
        page.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        !text(&output).contains("simulating"),
        "no progress bar when stderr is not a terminal"
    );
    let loaded = browser::load(&url(&page, ""));
    assert_rendered_cleanly(&loaded);
    let histograms = loaded.dom.matches("<figure class=\"histogram\"").count();
    assert!(histograms >= 3, "all runs and per tier: {histograms}");
    // The recovery histogram's axis comes from the data, and the plan's ETA, p50 and p90
    // are marked on it at the study's own numbers.
    let study: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let seconds = |key: &str| (study["result"]["makespan"][key].as_f64().unwrap() * 1000.0) as u64;
    let figure = attribute(
        &loaded.dom,
        "<figure class=\"histogram\"",
        "data-axis-from-ms",
    )
    .and_then(|v| v.parse::<u64>().ok())
    .unwrap();
    assert!(
        figure > 0 && figure <= seconds("p10"),
        "the axis starts near the fastest run, not at 0: {figure} ms"
    );
    let marker = |name: &str| {
        attribute(
            &loaded.dom,
            &format!("data-marker=\"{name}\""),
            "data-at-ms",
        )
        .and_then(|v| v.parse::<u64>().ok())
    };
    let plan_eta = (study["result"]["plan_eta"].as_f64().unwrap() * 1000.0) as u64;
    assert_eq!(marker("plan ETA"), Some(plan_eta));
    assert!(marker("p50").is_some_and(|p| p.abs_diff(seconds("p50")) <= 1));
    assert!(marker("p90").is_some_and(|p| p.abs_diff(seconds("p90")) <= 1));
    assert!(loaded.dom.contains("class=\"share\" data-subsystem=\""));
    assert_eq!(
        attribute(&loaded.dom, "<body", "data-runs").as_deref(),
        Some("12")
    );
    // Each fault's cost is shown with its standard error and the runs it was measured on,
    // the same numbers the JSON output gives.
    let costs = study["result"]["fault_costs"].as_array().unwrap();
    assert!(!costs.is_empty(), "the reference has faults on by default");
    for cost in costs {
        let fault = cost["fault"].as_str().unwrap();
        let cells = table_cells(&loaded.dom, &format!("<tr data-fault=\"{fault}\""));
        assert_eq!(cells.len(), 6, "{fault}: {cells:?}");
        assert_eq!(cells[4], cost["runs"].to_string(), "{fault}: {cells:?}");
        let (added, stderr) = cells[3]
            .split_once("s ±")
            .unwrap_or_else(|| panic!("{fault}: no ± in {cells:?}"));
        let near = |shown: &str, key: &str| {
            let shown: f64 = shown.parse().unwrap();
            (shown - cost[key].as_f64().unwrap()).abs() <= 0.051
        };
        assert!(
            near(added, "cost_secs"),
            "{fault}: {cells:?} against {cost}"
        );
        assert!(
            near(stderr, "cost_stderr_secs"),
            "{fault}: {cells:?} against {cost}"
        );
    }
}

/// The text of each cell of the table row that starts at `row_marker`.
fn table_cells(dom: &str, row_marker: &str) -> Vec<String> {
    let Some(at) = dom.find(row_marker) else {
        return Vec::new();
    };
    let row = &dom[at..at + dom[at..].find("</tr>").unwrap_or(dom.len() - at)];
    row.split("<td>")
        .skip(1)
        .map(|cell| cell.split("</td>").next().unwrap_or("").to_string())
        .collect()
}

const SMALL: &str = r#"
name: "<b>small</b>"
defaults: { host: { boot: 1m, bmc: { password_env: NOPE } } }
hosts:
  - { name: h1, address: 10.0.0.1, bmc: { address: 10.1.0.1 } }
subsystems:
  - { name: db, hosts: [h1], start: "true", expect: 10s }
"#;

#[test]
fn hostile_text_is_escaped_and_a_killed_run_shows_where_it_stopped() {
    let topology = load_str(SMALL, Path::new("small.yaml")).unwrap().topology;
    let plan = Plan::build(&topology, &Scope::default().select(&topology).unwrap()).unwrap();
    let evil = "<img src=x onerror=alert(1)>";
    let record = |t_ms, entry| Record {
        at: None,
        t_ms,
        entry,
    };
    let records = vec![
        record(
            0,
            Entry::Action {
                action: Action::Start {
                    node: 0,
                    attempt: 1,
                },
                step: Some("db".into()),
                host: Some("h1".into()),
                command: None,
            },
        ),
        record(
            3_000,
            Entry::Event {
                event: Event::StartFinished {
                    node: 0,
                    attempt: 1,
                    result: Err(Reason::ExitStatus {
                        command: "start command".into(),
                        code: Some(1),
                        last_line: evil.into(),
                    }),
                },
                step: Some("db".into()),
                host: Some(evil.to_string()),
                duration_ms: 3_000,
                output: None,
            },
        ),
        // Killed during the second attempt: no event, no run_finished.
        record(
            4_000,
            Entry::Action {
                action: Action::Start {
                    node: 0,
                    attempt: 2,
                },
                step: Some("db".into()),
                host: Some("h1".into()),
                command: None,
            },
        ),
    ];
    let html = render_run(&RunPage {
        topology: &topology,
        plan: &plan,
        nodes: &[(0, 0)],
        records: &records,
        source: "run <dir>",
        refresh_secs: None,
        banner: &[],
        extra: "",
    });
    assert!(!html.contains(evil) && !html.contains("<b>small"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("stopped before finishing"));
    assert!(
        html.contains("seg seg-running"),
        "the attempt in flight is drawn"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("killed.html");
    std::fs::write(&page, &html).unwrap();
    let loaded = browser::load(&url(&page, "#expand=db"));
    assert_rendered_cleanly(&loaded);
    assert!(!loaded.dom.contains("<img"), "no element made from text");
    assert!(loaded.dom.contains("seg seg-failed"));
}

#[test]
fn completions_and_the_manual_page_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let output = blackstart(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0));
        let script = String::from_utf8_lossy(&output.stdout);
        for command in ["simulate", "report", "serve", "completions"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    let output = blackstart(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH blackstart"),
        "{}",
        &page[..200]
    );
    assert!(page.contains("report"));
}

#[test]
fn the_status_page_refuses_a_non_loopback_address_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let output = blackstart(&[
        "serve",
        dir.path().to_str().unwrap(),
        "--addr",
        "0.0.0.0:8080",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("not a loopback address"));
}
