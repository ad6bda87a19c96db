//! `validate` shows every schema problem of a file at once, each at its own line, with a
//! hint for a key written at the wrong level; a YAML syntax error is shown after the schema
//! errors before it, and says that what follows it is checked once it is fixed.

mod support;

use support::cli::{blackstart, text};

const TOPOLOGY: &str = "\
name: t
defaults:
  host:
    user: root
hosts:
  - name: a1
    address: 127.0.0.1
    bogus: 3
subsystems:
  - name: s
    hosts: [a1]
    start: \"true\"
    tier: 9x
    timeout: 5q
";

fn validate(file: &str, source: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, source).unwrap();
    let output = blackstart(&["validate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output).replace(&format!("{}", path.display()), file);
    assert!(!shown.contains("panicked"), "{shown}");
    shown
}

fn line_of(marker: &str, source: &str) -> usize {
    1 + source.lines().position(|l| l.contains(marker)).unwrap()
}

#[test]
fn every_schema_error_of_a_topology_is_shown_at_once_each_at_its_line() {
    let shown = validate("t.yaml", TOPOLOGY);
    for (marker, message) in [
        ("user: root", "unknown field `user`"),
        ("bogus: 3", "unknown field `bogus`"),
        ("tier: 9x", "invalid tier \"9x\""),
        ("timeout: 5q", "unknown field `timeout`"),
    ] {
        let place = format!("t.yaml:{}:", line_of(marker, TOPOLOGY));
        let block = shown
            .split("error: ")
            .find(|block| block.contains(message))
            .unwrap_or_else(|| panic!("{message} is reported: {shown}"));
        assert!(block.contains(&place), "{message} at {place}: {block}");
    }
    assert!(shown.contains("4 error(s)"), "{shown}");
    assert!(
        shown.contains("`user` is a field of `defaults.host.ssh`, not of `defaults.host`"),
        "a dedented key is told where it belongs: {shown}"
    );
    assert!(!shown.contains("more problems may show"), "{shown}");
}

#[test]
fn a_syntax_error_after_schema_errors_is_shown_with_them_and_says_the_reader_stops() {
    let source = format!("{TOPOLOGY}  - name: broken\n    hosts: [a1\n");
    let shown = validate("t.yaml", &source);
    assert!(shown.contains("unknown field `user`"), "{shown}");
    assert!(shown.contains("did not find expected"), "{shown}");
    assert!(
        shown.contains("the reader stops at a syntax error"),
        "{shown}"
    );
    assert!(shown.contains("2 error(s)"), "{shown}");
}

#[test]
fn every_schema_error_of_a_playbook_is_shown_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let topology = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/minimal.yaml");
    let source = format!(
        "version: 1\nplaybook: p\ntopology: {}\nstop_on_faliure: true\nprepare:\n  - name: x\n    on: {{ all: true }}\n    run: \"true\"\n    tiemout: 3s\n",
        topology.display()
    );
    std::fs::write(dir.path().join("p.yaml"), &source).unwrap();
    let output = blackstart(&["validate", dir.path().join("p.yaml").to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("unknown field `stop_on_faliure`"), "{shown}");
    assert!(shown.contains("unknown field `tiemout`"), "{shown}");
    assert!(
        shown.contains("p.yaml:9:"),
        "the second error at its own line: {shown}"
    );
    assert!(shown.contains("did you mean `timeout`?"), "{shown}");
}

#[test]
fn a_scope_value_that_matches_nothing_is_refused_at_validate_with_the_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let topology =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/social-network.yaml");
    let source = format!(
        "version: 1\nplaybook: p\ntopology: {}\nscope:\n  datacenter: dc9\n  labels: {{ role: ldpa }}\n",
        topology.display()
    );
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, &source).unwrap();
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(
            "datacenter \"dc9\" holds no host of this topology; its datacenters: dc1, dc2"
        ),
        "{shown}"
    );
    assert!(shown.contains("p.yaml:5:"), "{shown}");
    assert!(shown.contains("did you mean \"ldap\"?"), "{shown}");
    assert!(shown.contains("p.yaml:6:"), "{shown}");
    // The same words from the command line, where nothing used to name the datacenter.
    let output = blackstart(&["plan", "--datacenter", "dc3"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("\"dc3\""), "{}", text(&output));
    assert!(text(&output).contains("dc1, dc2"), "{}", text(&output));
}
