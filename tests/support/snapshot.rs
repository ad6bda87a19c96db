//! Snapshot files under `tests/snapshots/`: output compared with a file kept in git.
//!
//! A missing or different snapshot fails the test. Only `BLACKSTART_BLESS=1` writes one, so
//! deleting a snapshot can never turn the suite green by itself: accepting new output is a
//! step someone takes on purpose and then reviews in the diff.

use std::path::{Path, PathBuf};

/// The environment variable that, set to `1`, writes the output as the new snapshot.
pub const BLESS_VAR: &str = "BLACKSTART_BLESS";
/// Lines of context shown on each side of the first difference.
const CONTEXT: usize = 3;

/// Compares `actual` with `tests/snapshots/NAME`, failing when the file is missing or
/// differs; with `BLACKSTART_BLESS=1` it writes `actual` there instead.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        panic!(
            "snapshot {} is missing; review the output below, then accept it with \
             `{BLESS_VAR}=1 cargo test`:\n{actual}",
            path.display()
        );
    };
    if expected != actual {
        panic!(
            "{} differs from the output; review, then accept it with `{BLESS_VAR}=1 cargo test`:\n{}",
            path.display(),
            first_difference(&expected, actual)
        );
    }
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

/// True only for the exact value `1`: a stray `BLACKSTART_BLESS=0` must not bless.
pub fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|value| value == "1")
}

/// A diff-like excerpt around the first line that differs: common lines prefixed with a
/// space, the snapshot's lines with `-` and the output's with `+`, down to where either ends.
pub fn first_difference(expected: &str, actual: &str) -> String {
    let (want, got): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let at = want
        .iter()
        .zip(&got)
        .position(|(w, g)| w != g)
        .unwrap_or(want.len().min(got.len()));
    let from = at.saturating_sub(CONTEXT);
    let mut out = format!("@@ line {} @@\n", at + 1);
    for line in &want[from..at] {
        out += &format!(" {line}\n");
    }
    for line in want.iter().skip(at).take(CONTEXT * 2) {
        out += &format!("-{line}\n");
    }
    for line in got.iter().skip(at).take(CONTEXT * 2) {
        out += &format!("+{line}\n");
    }
    if want.len() == got.len() && at == want.len() {
        // Same lines, different bytes: a trailing newline or carriage returns.
        out += "(the lines match; the files differ in line endings or a final newline)\n";
    }
    out
}
