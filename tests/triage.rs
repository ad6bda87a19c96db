//! Triage at the reference's size: a drill of the 5,700-host reference in which 4 of 6 ldap
//! nodes never start (116 steps blocked behind it), read back as a run directory. `status`
//! leads with the failed step, its cause, what it blocks and the command to type; it and
//! `status --failed` fit on one screen.

mod support;

use std::path::Path;
use std::process::Command;

use blackstart::journal::{self, RunInfo};
use blackstart::scope::Scope;

fn blackstart(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_blackstart"))
        .args(args)
        .output()
        .unwrap()
}

/// A run directory holding a drill of the reference with ldap broken on four hosts.
fn broken_ldap_run(dir: &Path) {
    let reference = std::fs::canonicalize("topologies/social-network.yaml").unwrap();
    let timeline = dir.join(journal::JOURNAL_FILE);
    let mut args = vec!["simulate".to_string(), reference.display().to_string()];
    for host in ["ldap01.dc1", "ldap02.dc1", "ldap03.dc1", "ldap01.dc2"] {
        args.push("--inject".into());
        args.push(format!("start-failure=ldap@{host}"));
    }
    args.push("--timeline".into());
    args.push(timeline.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let drill = blackstart(&args);
    assert_eq!(drill.status.code(), Some(1), "the drill does not recover");
    journal::write_info(
        dir,
        &RunInfo {
            topology: reference,
            plan_digest: "drill".into(),
            scope: Scope::default(),
            seed: 1,
            simulated: false,
        },
    )
    .unwrap();
}

#[test]
fn status_of_a_run_with_a_failed_step_leads_with_it_and_fits_on_a_screen() {
    let dir = tempfile::tempdir().unwrap();
    broken_ldap_run(dir.path());
    let run_dir = dir.path().to_str().unwrap();
    let status = blackstart(&["status", run_dir]);
    assert_eq!(status.status.code(), Some(1), "a failed step exits 1");
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    let first: Vec<&str> = text.lines().take(5).collect();
    let failed = first
        .iter()
        .find(|line| line.starts_with("FAILED  ldap:"))
        .unwrap_or_else(|| panic!("the failed step within the first 5 lines:\n{text}"));
    assert!(failed.contains("2 of 6 healthy, 3 needed"), "{failed}");
    assert!(
        failed.contains("start command exited 1 on 4 hosts"),
        "{failed}"
    );
    assert!(failed.contains("blocks 116 steps"), "{failed}");
    assert!(
        first
            .iter()
            .any(|line| line.contains(&format!("blackstart retry {run_dir} ldap"))),
        "the next command within the first 5 lines:\n{text}"
    );
    assert!(text.lines().count() <= 40, "one screen:\n{text}");
    let blocked: Vec<&str> = text.lines().filter(|l| l.contains("BLOCKED")).collect();
    assert_eq!(
        blocked.len(),
        1,
        "blocked steps printed once, grouped: {blocked:?}"
    );
    assert!(
        blocked[0].contains("116 steps wait for failed ldap"),
        "{blocked:?}"
    );

    let all = blackstart(&["status", run_dir, "--failed"]);
    let all = String::from_utf8_lossy(&all.stdout).into_owned();
    assert!(all.lines().count() <= 40, "--failed on one screen:\n{all}");
    let journal = std::fs::read_to_string(dir.path().join(journal::JOURNAL_FILE)).unwrap();
    for host in ["ldap01.dc1", "ldap02.dc1", "ldap03.dc1", "ldap01.dc2"] {
        let line = all
            .lines()
            .find(|line| line.contains(&format!("FAILED  ldap on {host}: start command exited 1")))
            .unwrap_or_else(|| panic!("every failed node named: {host}\n{all}"));
        // The attempts the line counts are the start actions the journal holds for it.
        let starts = journal
            .lines()
            .filter(|l| {
                l.contains("\"action\":\"start\"") && l.contains(&format!("\"host\":\"{host}\""))
            })
            .filter(|l| l.contains("\"step\":\"ldap\""))
            .count();
        assert!(starts > 1, "the drill retried {host}: {starts}");
        assert!(
            line.ends_with(&format!(", after {starts} attempts")),
            "{line} (journal: {starts} starts)"
        );
    }
    // A misspelt step is refused with the name it was probably meant to be.
    let typo = blackstart(&["retry", run_dir, "ldpa"]);
    assert_eq!(typo.status.code(), Some(2));
    let said = String::from_utf8_lossy(&typo.stderr);
    assert!(said.contains("did you mean \"ldap\"?"), "{said}");
}

/// The HTML report of the same run opens on the failure: the banner is on the first screen
/// of a laptop (1440 px) and of a phone (390 px), as the browser lays it out.
#[test]
fn the_report_of_a_failed_run_opens_on_its_failure_at_laptop_and_phone_width() {
    let dir = tempfile::tempdir().unwrap();
    broken_ldap_run(dir.path());
    let page = dir.path().join("report.html");
    let report = blackstart(&[
        "report",
        dir.path().to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(report.status.code(), Some(0), "{report:?}");
    let url = format!("file://{}", page.display());
    for size in [(1440, 900), (390, 844)] {
        let loaded = support::browser::load_at(&url, size);
        support::browser::assert_rendered_cleanly(&loaded);
        assert_eq!(
            support::browser::attribute(&loaded.dom, "<body", "data-banner-on-first-screen")
                .as_deref(),
            Some("true"),
            "{size:?}: the banner is on the first screen"
        );
        let banner = &loaded.dom[loaded.dom.find("id=\"banner\"").expect("a banner")..];
        let banner = &banner[..banner.find("</section>").unwrap()];
        assert!(banner.contains("FAILED  ldap: 2 of 6 healthy"), "{banner}");
        assert!(banner.contains("blocks 116 steps"), "{banner}");
        assert!(banner.contains("blackstart retry"), "{banner}");
        // Readable at this width: every step's status word inside the window, the axis
        // labels apart, nothing running off the right edge.
        let words = support::browser::attribute(&loaded.dom, "<body", "data-status-words-inside")
            .expect("the page measured its status words");
        let (inside, all) = words.split_once('/').unwrap();
        assert_eq!(inside, all, "{size:?}: status words inside the window");
        assert!(all.parse::<usize>().unwrap() > 100, "{size:?}: {words}");
        for (name, wanted) in [
            ("data-axis-label-overlaps", "0"),
            ("data-overflows-right", "false"),
        ] {
            assert_eq!(
                support::browser::attribute(&loaded.dom, "<body", name).as_deref(),
                Some(wanted),
                "{size:?}: {name}"
            );
        }
    }
    // The chart marks the chain that led to the failure, not a critical path through the
    // steps that did come up, and only the stretch each step held it.
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        support::browser::attribute(&html, "id=\"gantt\"", "data-chain").as_deref(),
        Some("to-failure")
    );
    let ldap = &html[html.find("data-step=\"ldap\"").expect("an ldap row")..];
    let ldap = &ldap[..ldap.find("</details>").unwrap()];
    assert!(
        ldap.contains("data-critical=\"true\""),
        "ldap is on the chain"
    );
    assert!(
        ldap.contains("<rect class=\"chain\""),
        "its stretch is outlined"
    );
    assert!(
        html.contains("chain to the failure"),
        "the legend says what is marked"
    );
}
