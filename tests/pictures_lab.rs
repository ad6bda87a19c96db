//! The report and the live status page of a real run against the lab (sshd and ipmi_sim on
//! loopback), checked in headless Chromium.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use blackstart::journal::Entry;
use support::browser::{self, assert_rendered_cleanly, attribute, rows};
use support::cli::{spawn, text, wait_bounded, wait_for_journal, BIN, RUN_LIMIT};
use support::lab::{Lab, LabSecret};

/// A free loopback port (a small race with other processes is acceptable in tests).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain GET without a token: the status code line.
fn status_line(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

fn ready_steps(records: &[blackstart::journal::Record]) -> usize {
    records
        .iter()
        .filter(|r| {
            matches!(&r.entry, Entry::StepStatus { status, .. }
                if *status == blackstart::event::state::StepStatus::Ready)
        })
        .count()
}

#[test]
fn a_lab_run_serves_a_live_page_that_moves_and_leaves_a_report_of_every_subsystem() {
    let lab = Lab::start("pic", (97, 2), 4);
    let host = |i: usize| lab.hosts[i].name.clone();
    let subsystem = |name: &str, port: u16, on: usize, requires: &str| {
        format!(
            "  - name: {name}\n    hosts: [\"{}\"]\n    requires: [{requires}]\n    start: {}\n    \
             health: {{ tcp: {port} }}\n    expect: 2s\n",
            host(on),
            serde_json::to_string(&lab.service_command(port, 2.0, "")).unwrap()
        )
    };
    let mut subsystems = String::from("subsystems:\n");
    subsystems += &subsystem("base", 7101, 0, "");
    subsystems += &subsystem("store", 7102, 1, "base");
    subsystems += &subsystem("api", 7103, 2, "store");
    subsystems += &subsystem("front", 7104, 3, "api");
    let mut yaml = lab.topology_yaml(LabSecret::File, &subsystems);
    yaml = yaml.replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    let topology = lab.dir.join("topology.yaml");
    std::fs::write(&topology, yaml).unwrap();
    let run_dir = lab.dir.join("run");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = spawn(&[
        "run",
        topology.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--yes",
        "--serve",
        &addr,
        "--token",
        "t0ken",
    ]);
    let page = format!("http://{addr}/?token=t0ken");
    // First look: once something has started, before the last step is ready.
    assert!(
        wait_for_journal(&run_dir, RUN_LIMIT, |records| ready_steps(records) >= 1),
        "the run makes progress"
    );
    assert!(status_line(port, "/").contains("401"), "no token, no page");
    let first = browser::load(&page);
    assert_rendered_cleanly(&first);
    let first_ready: usize = attribute(&first.dom, "<body", "data-ready-steps")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        attribute(&first.dom, "<body", "data-refresh").is_some(),
        "a live page reloads itself"
    );
    // Second look, after more steps became ready.
    assert!(
        wait_for_journal(&run_dir, RUN_LIMIT, |records| ready_steps(records)
            > first_ready),
        "the run goes on"
    );
    let second = browser::load(&page);
    assert_rendered_cleanly(&second);
    let second_ready: usize = attribute(&second.dom, "<body", "data-ready-steps")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        second_ready > first_ready,
        "progress moved between loads: {first_ready} -> {second_ready}"
    );
    assert!(first_ready < 4, "the first look was mid-run");
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // The report of the finished run, from its directory.
    let report = run_dir.join("report.html");
    let made = std::process::Command::new(BIN)
        .args(["report", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let loaded = browser::load(&format!("file://{}#expand=api", report.display()));
    assert_rendered_cleanly(&loaded);
    let rows = rows(&loaded.dom);
    for name in ["base", "store", "api", "front"] {
        assert!(
            rows.iter().any(|row| row.1 == name && row.2),
            "{name} has a bar: {rows:?}"
        );
    }
    // A chain: every step is on the critical path.
    assert_eq!(rows.iter().filter(|row| row.3).count(), 4);
    assert!(loaded.dom.contains("seg seg-power") && loaded.dom.contains("seg seg-boot"));
    assert!(loaded.dom.contains("class=\"host-row\""), "hosts on demand");
    browser::screenshot(
        &format!("file://{}", report.display()),
        &lab.dir.join("run.png"),
        (1400, 900),
    );
    if let Ok(out) = std::env::var("BLACKSTART_SCREENSHOT_DIR") {
        std::fs::copy(&report, std::path::Path::new(&out).join("run-report.html")).unwrap();
    }
}
