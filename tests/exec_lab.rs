//! `blackstart exec` against a real lab: one sshd per host on loopback, strict host keys.
//! Every wait is bounded; a hung exec fails the test instead of hanging it.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::lab::{wait_until, Lab, LabSecret};

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");
/// No exec in these tests may take longer than this.
const EXEC_LIMIT: Duration = Duration::from_secs(60);

/// Runs blackstart to completion, killed after [`EXEC_LIMIT`]; returns its output and how
/// long it took.
fn blackstart(args: &[&str]) -> (Output, Duration) {
    let began = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("blackstart binary");
    // The pipes are small; these runs print a few lines, far below a pipe's buffer.
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > EXEC_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("blackstart {args:?} ran longer than {EXEC_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), began.elapsed())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn all_text(output: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The lab's topology with two subsystems: `app` on hosts 1-2, `web` on host 3 (if any).
fn topology(lab: &Lab) -> String {
    let name = |i: usize| lab.hosts[i].name.clone();
    let mut subsystems = format!(
        "subsystems:\n  - name: app\n    hosts: [\"{}\", \"{}\"]\n    start: \"true\"\n",
        name(0),
        name(1)
    );
    if lab.hosts.len() > 2 {
        subsystems += &format!(
            "  - name: web\n    hosts: [\"{}\"]\n    requires: [app]\n    start: \"true\"\n",
            name(2)
        );
    }
    lab.write_topology(LabSecret::File, &subsystems)
        .to_string_lossy()
        .into_owned()
}

/// The line exec printed for `host`.
fn line_of<'a>(text: &'a str, host: &str) -> &'a str {
    let prefix = format!("{host}: ");
    text.lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {host} in:\n{text}"))
}

#[test]
fn true_on_every_host_exits_0_and_reports_each_host() {
    let lab = Lab::start_with("xa", (93, 2), 4, &[0, 1, 2, 3]);
    let file = topology(&lab);
    let (output, _) = blackstart(&["exec", &file, "--all", "--", "true"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));
    for host in &lab.hosts {
        assert!(
            line_of(&text, &host.name).starts_with(&format!("{}: exit 0", host.name)),
            "{text}"
        );
    }
    assert!(text.contains("4 hosts: 4 ok, 0 failed"), "{text}");
    assert!(!text.contains("FAILED"), "{text}");

    // Selections: a subsystem, a host range, a glob; only those hosts are contacted.
    let (output, _) = blackstart(&["exec", &file, "--subsystem", "web", "--", "true"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));
    assert!(text.contains("1 hosts: 1 ok"), "{text}");
    line_of(&text, &lab.hosts[2].name);
    let range = format!("{}[1:2]", lab.name);
    let (output, _) = blackstart(&["exec", &file, "--host", &range, "--", "true"]);
    let text = stdout(&output);
    assert!(text.contains("2 hosts: 2 ok"), "{}", all_text(&output));
    assert!(
        !text.contains(&format!("{}: ", lab.hosts[3].name)),
        "{text}"
    );
    let (output, _) = blackstart(&["exec", &file, "--only", "web", "--", "true"]);
    assert!(
        stdout(&output).contains("3 hosts: 3 ok"),
        "web needs app: {}",
        all_text(&output)
    );

    // The words after `--` are one command line for the remote login shell.
    let (output, _) = blackstart(&[
        "exec",
        &file,
        "--host",
        &lab.hosts[0].name,
        "--show-output",
        "--",
        "echo",
        "from-$LAB_HOST",
        "&&",
        "echo",
        "oops",
        ">&2",
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));
    assert!(
        text.contains(&format!("  out| from-{}\n", lab.hosts[0].name)),
        "{text}"
    );
    assert!(text.contains("  err| oops\n"), "{text}");
}

#[test]
fn a_command_failing_on_one_host_exits_1_and_names_that_host() {
    let lab = Lab::start_with("xb", (93, 4), 3, &[0, 1, 2]);
    let file = topology(&lab);
    let bad = &lab.hosts[1].name;
    std::fs::write(lab.dir.join(format!("{bad}.broken")), "").unwrap();
    let check = format!("{}/$LAB_HOST.broken", lab.dir.display());
    let (output, _) = blackstart(&["exec", &file, "--all", "--", "test", "!", "-e", &check]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    assert!(
        line_of(&text, bad).starts_with(&format!("{bad}: FAILED: exit 1")),
        "{text}"
    );
    for good in [&lab.hosts[0].name, &lab.hosts[2].name] {
        assert!(
            line_of(&text, good).starts_with(&format!("{good}: exit 0")),
            "{text}"
        );
    }
    assert!(
        text.contains("3 hosts: 2 ok, 1 failed (1 exited non-zero, 0 could not run"),
        "{text}"
    );
    assert!(text.contains(&format!("failed: {bad}\n")), "{text}");
}

#[test]
fn a_powered_off_host_is_unreachable_and_a_hung_one_is_cut_at_the_timeout() {
    let lab = Lab::start_with("xc", (93, 6), 3, &[0, 1]);
    let file = topology(&lab);
    let (off, hung) = (&lab.hosts[2].name, &lab.hosts[1].name);
    std::fs::write(lab.dir.join(format!("{hung}.hang")), "").unwrap();
    let command = format!(
        "if test -e {}/$LAB_HOST.hang; then sleep 30; fi",
        lab.dir.display()
    );
    let (output, took) = blackstart(&[
        "exec",
        &file,
        "--all",
        "--timeout",
        "3s",
        "--parallel",
        "3",
        "--",
        &command,
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    assert!(
        line_of(&text, off).starts_with(&format!("{off}: FAILED: unreachable")),
        "{text}"
    );
    assert!(
        line_of(&text, hung).starts_with(&format!("{hung}: FAILED: timed out after 3s")),
        "{text}"
    );
    let first = &lab.hosts[0].name;
    assert!(
        line_of(&text, first).starts_with(&format!("{first}: exit 0")),
        "{text}"
    );
    assert!(
        text.contains("3 hosts: 1 ok, 2 failed (0 exited non-zero, 2 could not run"),
        "{text}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}:\n{text}");
    // The off host is reported before the hung one ends: results come as they arrive.
    let position = |host: &str| text.find(&format!("{host}: ")).unwrap();
    assert!(position(off) < position(hung), "{text}");

    // A host key that changed is refused, as everywhere.
    let yaml = std::fs::read_to_string(&file).unwrap();
    let wrong = lab.known_hosts_with_wrong_key(0);
    let changed = yaml.replace(
        &lab.known_hosts.to_string_lossy().into_owned(),
        &wrong.to_string_lossy(),
    );
    let changed_file = lab.dir.join("changed.yaml");
    std::fs::write(&changed_file, changed).unwrap();
    let (output, _) = blackstart(&[
        "exec",
        changed_file.to_str().unwrap(),
        "--host",
        first,
        "--",
        "true",
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    assert!(
        line_of(&text, first).contains("FAILED: SSH host key refused"),
        "{text}"
    );
}

#[test]
fn invalid_input_exits_2_and_contacts_nothing() {
    let lab = Lab::start("xd", (93, 8), 2);
    let file = topology(&lab);
    for args in [
        vec!["exec", file.as_str(), "--", "true"],
        vec!["exec", file.as_str(), "--subsystem", "ap", "--", "true"],
        vec!["exec", file.as_str(), "--host", "nosuch*", "--", "true"],
        vec![
            "exec",
            file.as_str(),
            "--all",
            "--timeout",
            "soon",
            "--",
            "true",
        ],
        vec![
            "exec",
            file.as_str(),
            "--all",
            "--parallel",
            "0",
            "--",
            "true",
        ],
        vec!["exec", file.as_str(), "--all"],
        vec![
            "exec",
            file.as_str(),
            "--all",
            "--label",
            "role",
            "--",
            "true",
        ],
        vec![
            "exec",
            file.as_str(),
            "--datacenter",
            "elsewhere",
            "--",
            "true",
        ],
    ] {
        let (output, took) = blackstart(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            all_text(&output)
        );
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
        assert!(
            stdout(&output).is_empty(),
            "{args:?}: {}",
            all_text(&output)
        );
    }
    let (output, _) = blackstart(&["exec", &file, "--subsystem", "ap", "--", "true"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("did you mean \"app\""),
        "{}",
        all_text(&output)
    );
}

#[test]
fn ctrl_c_stops_at_once_and_counts_unfinished_hosts_as_failed() {
    let lab = Lab::start_with("xe", (93, 10), 3, &[0, 1, 2]);
    let file = topology(&lab);
    // Each session leaves a mark as it starts, so the test knows when both are under way.
    let started = |name: &str| lab.dir.join(format!("{name}.started"));
    let command = format!("touch {}/$LAB_HOST.started; sleep 30", lab.dir.display());
    let child = Command::new(BIN)
        .args(["exec", &file, "--all", "--parallel", "2", "--", &command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("blackstart binary");
    // Once both sessions run (and not before), interrupt as a person would.
    let both_running = wait_until(Duration::from_secs(15), || {
        lab.hosts
            .iter()
            .filter(|h| started(&h.name).exists())
            .count()
            == 2
    });
    if !both_running {
        let mut child = child;
        let _ = child.kill();
        panic!(
            "two sessions did not start within 15 s: {:?}",
            child.wait_with_output()
        );
    }
    // Timed from the interrupt: how long the sessions took to start is the lab's, not exec's.
    let interrupted = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if interrupted.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("exec did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    assert!(
        text.contains("3 hosts: 0 ok, 3 failed (0 exited non-zero, 0 could not run, 3 unfinished: interrupted)"),
        "{}",
        all_text(&output)
    );
    // The bound the test had when it slept a fixed 1.5 s first (10 s in all), from the interrupt.
    assert!(
        interrupted.elapsed() < Duration::from_millis(8_500),
        "{:?}",
        interrupted.elapsed()
    );
}
