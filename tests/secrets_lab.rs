//! Secrets against a real lab: a run whose BMC password comes from `password_env` (a
//! distinctive value that ipmi_sim really checks), with a failure and a blocked subtree so
//! that every kind of line is printed, and the same topology with a distinctive inline
//! password (refused). Every output of validate, plan (all formats), simulate, run, status
//! (text, JSON, failed nodes), report, the live page `serve` draws, and every file of the
//! run directory is searched for both values.

mod support;

use std::path::{Path, PathBuf};

use support::cli::{read_journal, ready_times, spawn_with_env, text, wait_bounded, RUN_LIMIT};
use support::lab::{Lab, LabSecret};

const INLINE_SECRET: &str = "Zq9-inline-S3cret";

/// `blackstart ARGS` to completion, as (command line, exit code, stdout + stderr).
fn output_of(args: &[&str]) -> (String, Option<i32>, String) {
    let output = wait_bounded(spawn_with_env(args, &[("RUST_LOG", "debug")]), RUN_LIMIT);
    (args.join(" "), output.status.code(), text(&output))
}

/// Every regular file below `dir`, as (path, contents read lossily).
fn files_below(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

#[test]
fn neither_an_env_password_nor_an_inline_one_appears_in_any_output_or_file() {
    let lab = Lab::start("sc", (99, 2), 4);
    let host = |i: usize| lab.hosts[i].name.clone();
    let subsystems = format!(
        "subsystems:\n  \
         - name: base\n    hosts: [\"{h0}\", \"{h1}\"]\n    start: {up}\n    health: {{ tcp: 7101 }}\n  \
         - name: broken\n    hosts: [\"{h2}\"]\n    requires: [base]\n    start: \"exit 3\"\n    \
         health: {{ tcp: 7102 }}\n    retry: {{ attempts: 1 }}\n  \
         - name: after\n    hosts: [\"{h3}\"]\n    requires: [broken]\n    start: \"true\"\n    \
         health: {{ tcp: 7103 }}\n",
        h0 = host(0),
        h1 = host(1),
        h2 = host(2),
        h3 = host(3),
        up = serde_json::to_string(&lab.service_command(7101, 0.2, "")).unwrap(),
    );
    let valid = lab.write_topology(LabSecret::Env, &subsystems);
    let inline = lab.dir.join("inline.yaml");
    let with_inline = lab.topology_yaml(LabSecret::Env, &subsystems).replacen(
        "password_env:",
        &format!("password: \"{INLINE_SECRET}\"\n      password_env:"),
        1,
    );
    assert!(with_inline.contains(INLINE_SECRET));
    std::fs::write(&inline, with_inline).unwrap();

    let mut outputs = Vec::new();
    let run_dir = lab.dir.join("run");
    let refused_run_dir = lab.dir.join("refused-run");
    for (file, code) in [(&valid, 0), (&inline, 2)] {
        let file = file.to_str().unwrap();
        let mut commands: Vec<Vec<&str>> = vec![vec!["validate", file]];
        for format in ["text", "json", "dot", "mermaid"] {
            commands.push(vec!["plan", file, "--format", format, "--every-node"]);
        }
        commands.push(vec!["plan", file, "--prerequisites"]);
        commands.push(vec!["simulate", file, "--runs", "2"]);
        for args in commands {
            let (command, exit, shown) = output_of(&args);
            assert_eq!(exit, Some(code), "{command}:\n{shown}");
            outputs.push((command, shown));
        }
    }

    // The refused file: run stops before touching anything.
    let (command, exit, shown) = output_of(&[
        "run",
        inline.to_str().unwrap(),
        "--run-dir",
        refused_run_dir.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(exit, Some(2), "{command}:\n{shown}");
    outputs.push((command, shown));

    // The real run: base comes up through ipmi_sim power-on, broken fails, after is blocked.
    // At debug level like every other command: it is the one process that handles the
    // password.
    let (command, exit, shown) = output_of(&[
        "run",
        valid.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(exit, Some(1), "{command}:\n{shown}");
    assert!(shown.contains("broken"), "the failure is reported: {shown}");
    // base's hosts were powered on through ipmi_sim, which checked the password.
    assert!(
        ready_times(&read_journal(&run_dir)).contains_key("base"),
        "base became ready: {shown}"
    );
    outputs.push((command, shown));
    let run_dir_text = run_dir.to_str().unwrap();
    for args in [
        vec!["status", run_dir_text],
        vec!["status", run_dir_text, "--format", "json"],
        vec!["status", run_dir_text, "--failed"],
        vec!["report", run_dir_text, "--output", "-"],
    ] {
        let (command, exit, shown) = output_of(&args);
        assert!(matches!(exit, Some(0 | 1)), "{command}:\n{shown}");
        outputs.push((command, shown));
    }
    // The live page a teammate reads (`serve`), as served.
    let addr = format!("127.99.9.1:{}", 20000 + std::process::id() % 20000);
    let mut server = support::cli::spawn(&["serve", run_dir_text, "--addr", &addr]);
    let mut page = String::new();
    let served = support::lab::wait_until(std::time::Duration::from_secs(20), || {
        page = support::http::get(&addr).unwrap_or_default();
        page.contains("</html>")
    });
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(served, "the live page was served on {addr}");
    assert!(
        page.contains(&host(2)),
        "the live page names the failed node"
    );
    outputs.push((format!("serve {run_dir_text} (GET /)"), page));
    let files = files_below(&run_dir);
    assert!(
        files.iter().any(
            |(path, contents)| path.ends_with(blackstart::journal::JOURNAL_FILE)
                && contents.contains("native IPMI")
        ),
        "the journal was written and records the BMC commands"
    );
    for (path, contents) in files {
        outputs.push((path.display().to_string(), contents));
    }

    // The searches ran on real outputs: status names the failed node, the plan names the
    // variable the password comes from.
    assert!(outputs
        .iter()
        .any(|(command, shown)| command.starts_with("status") && shown.contains(&host(2))));
    assert!(outputs
        .iter()
        .any(|(_, shown)| shown.contains(&lab.password_env)));
    for (command, shown) in &outputs {
        assert!(
            !shown.contains(&lab.password),
            "the env password in {command}:\n{shown}"
        );
        assert!(
            !shown.contains(INLINE_SECRET),
            "the inline password in {command}:\n{shown}"
        );
    }
}
