//! Broken and hostile topologies for the input tests: a small valid base, edits of it, and
//! checks that `validate` refuses them with exit 2 at file:line:column.

use std::path::PathBuf;
use std::process::Output;

use super::cli::{blackstart, text};

/// A small valid topology; the hostile cases are edits of it.
pub const BASE: &str = r#"version: 1
name: hostile
defaults:
  host:
    bmc: { user: admin, password_env: BMC_PASSWORD }
hosts:
  - name: node[1:4].dc1
    address: 10.0.0.[1:4]
    bmc: { address: "10.1.0.[1:4]" }
    boot: 2m
subsystems:
  - name: database
    hosts: ["node[1:2].dc1"]
    start: systemctl start postgresql
    health: { tcp: 5432 }
    expect: 30s
  - name: app
    hosts: [node3.dc1]
    requires: [database]
    start: systemctl start app
    health: { http: { url: "http://{address}:8080/health" } }
"#;

/// Writes `files` (name, text) to a fresh directory.
pub fn write(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

pub fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// `BASE` with `from` replaced by `to` (which must be there).
pub fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    BASE.replacen(from, to, 1)
}

/// The 1-based line of the first line of `source` containing `marker`.
pub fn line_of(source: &str, marker: &str) -> usize {
    source
        .lines()
        .position(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("{marker:?} not in source"))
        + 1
}

/// Asserts exit 2, no panic, and every fragment in the output; returns the output.
pub fn refused_output(output: &Output, expected: &[&str]) -> String {
    let shown = text(output);
    assert_eq!(output.status.code(), Some(2), "exit 2 expected:\n{shown}");
    assert!(!shown.contains("panicked"), "panicked:\n{shown}");
    for fragment in expected {
        assert!(
            shown.contains(fragment),
            "{fragment:?} expected in:\n{shown}"
        );
    }
    shown
}

/// Validates `source` and asserts it is refused at `file:LINE:COLUMN` of `marker`'s line,
/// and that `plan` refuses it too without a panic.
pub fn refused(source: &str, marker: &str, expected: &[&str]) -> String {
    let dir = write(&[("t.yaml", source)]);
    let file = path_in(&dir, "t.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = refused_output(&output, expected);
    let place = format!("{}:{}:", file.display(), line_of(source, marker));
    let at = shown
        .find(&place)
        .unwrap_or_else(|| panic!("{place} expected in:\n{shown}"));
    // A column follows the line.
    let column = &shown[at + place.len()..];
    assert!(
        column.starts_with(|c: char| c.is_ascii_digit()),
        "no column after {place}:\n{shown}"
    );
    // `plan` refuses the same file the same way: exit 2, never a panic.
    let plan = blackstart(&["plan", file.to_str().unwrap()]);
    refused_output(&plan, &[]);
    shown
}
