//! `defaults.subsystem` settings blocks are inherited field by field, as `ssh` and `bmc`
//! are: a subsystem that sets one field of `retry` or `health_policy` keeps the others from
//! the defaults, and the plan shows them.

mod support;

use support::cli::{blackstart, text};

const TOPOLOGY: &str = r#"version: 1
name: inherit
defaults:
  subsystem:
    retry: { attempts: 3, backoff: 45s, max_backoff: 10m }
    health_policy: { interval: 7s, successes: 4 }
hosts:
  - name: node1
    address: 10.0.0.1
subsystems:
  - name: own-attempts
    hosts: [node1]
    start: "true"
    health: { tcp: 1 }
    retry: { attempts: 5 }
    health_policy: { timeout: 9s }
  - name: all-defaults
    hosts: [node1]
    start: "true"
    health: { tcp: 2 }
"#;

#[test]
fn retry_and_health_policy_merge_with_the_defaults_field_by_field() {
    let loaded = blackstart::load::load_str(TOPOLOGY, std::path::Path::new("t.yaml"))
        .unwrap_or_else(|err| panic!("{err}"))
        .topology;
    let own = &loaded.subsystems[0];
    assert_eq!(own.retry.attempts, 5);
    assert_eq!(own.retry.backoff.as_secs(), 45);
    assert_eq!(own.retry.max_backoff.as_secs(), 600);
    assert_eq!(own.health_policy.interval.as_secs(), 7);
    assert_eq!(own.health_policy.timeout.as_secs(), 9);
    assert_eq!(own.health_policy.successes, 4);
    let inherited = &loaded.subsystems[1];
    assert_eq!(inherited.retry.attempts, 3);
    assert_eq!(
        inherited.health_policy.timeout.as_secs(),
        5,
        "built-in default"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, TOPOLOGY).unwrap();
    let output = blackstart(&["plan", file.to_str().unwrap(), "--every-node"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("5 attempts, backoff 45s doubling to 10m"),
        "{shown}"
    );
    assert!(
        shown.contains("every 7s, timeout 9s, 4 successes"),
        "{shown}"
    );
}
