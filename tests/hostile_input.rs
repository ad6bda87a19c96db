//! Hostile and broken input through the real binary: each class of defect found by fuzzing
//! (overflow, secret echo, resource exhaustion, invalid input accepted, errors without a
//! place, output injection) is refused with exit 2 and its place (file:line:column, or the
//! flag), quickly, without a panic; and `plan` of valid files at the limits never panics.

mod support;

use std::time::{Duration, Instant};

use support::cli::{blackstart, text};
use support::input::{edit, line_of, path_in, refused, refused_output, write, BASE};

#[test]
fn huge_durations_are_refused_at_parse_time_and_plans_at_the_limit_do_not_overflow() {
    for (from, to, marker) in [
        ("expect: 30s", "expect: 18446744073709551615s", "expect:"),
        ("boot: 2m", "boot: 18446744073709551615s", "boot:"),
        (
            "    expect: 30s",
            "    expect: 30s\n    progress: { command: date, interval: 292471208678y }",
            "progress:",
        ),
    ] {
        refused(&edit(from, to), marker, &["at most 30 days"]);
    }
    let rate = format!("{BASE}policy:\n  power_on: {{ count: 1, per: 18446744073709551615s }}\n");
    refused(&rate, "power_on", &["at most 30 days"]);

    // Everything at the limit, one host at a time: sums stay far from overflow.
    let at_limit = BASE
        .replace("boot: 2m", "boot: 30d")
        .replace(
            "expect: 30s",
            "expect: 30d\n    max_parallel: 1\n    ready_timeout: 30d",
        )
        .replace("\"node[1:2].dc1\"", "\"node[1:4].dc1\"");
    let dir = write(&[("t.yaml", &at_limit)]);
    let file = path_in(&dir, "t.yaml");
    for format in ["text", "json", "dot", "mermaid"] {
        let output = blackstart(&["plan", file.to_str().unwrap(), "--format", format]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{format}:\n{}",
            text(&output)
        );
    }
    let output = blackstart(&["simulate", file.to_str().unwrap(), "--runs", "3"]);
    assert!(!text(&output).contains("panicked"), "{}", text(&output));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn huge_ranges_deep_nesting_and_many_errors_are_refused_quickly() {
    let began = Instant::now();
    let product = edit("name: node[1:4].dc1", "name: h[1:1000][1:1000][1:100]");
    refused(&product, "h[1:1000]", &["more than 100000 names"]);
    let single = edit("name: node[1:4].dc1", "name: h[1:1000000]");
    refused(&single, "h[1:1000000]", &["too large"]);
    let deep = format!(
        "{BASE}labels_of_nothing: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    refused(&deep, "labels_of_nothing", &["nests more than 64 levels"]);
    let dashes = format!("{BASE}x:\n  {}y\n", "- ".repeat(50_000));
    refused(&dashes, "- - -", &["nests more than 64 levels"]);
    // 40,000 unknown dependencies: every one is found, at most 200 are printed.
    let wants: Vec<String> = (0..40_000).map(|i| format!("missing-{i}")).collect();
    let many = edit(
        "requires: [database]",
        &format!("requires: [database]\n    wants: [{}]", wants.join(", ")),
    );
    let shown = refused(
        &many,
        "wants:",
        &["40000 error(s)", "more finding(s) not shown"],
    );
    assert!(shown.len() < 200_000, "{} bytes of output", shown.len());
    // Generous for a debug build on a shared machine; each took tens of seconds before.
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "took {:?}",
        began.elapsed()
    );
}

#[test]
fn invalid_values_are_refused_with_their_place() {
    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            edit("name: database", "name: \"\""),
            "name: \"\"",
            &["it is empty"],
        ),
        (
            edit("address: 10.0.0.[1:4]", "address: \"\""),
            "address: \"\"",
            &["address"],
        ),
        (
            edit("password_env: BMC_PASSWORD", "password_env: \"\""),
            "password_env",
            &["environment variable"],
        ),
        (
            edit("name: app", "name: database@bootstrap"),
            "database@bootstrap",
            &["'@'"],
        ),
        (
            edit("expect: 30s", "min_healthy: 0"),
            "min_healthy",
            &["at least one host"],
        ),
        (
            edit("expect: 30s", "health_policy: { successes: 0 }"),
            "health_policy",
            &["successes must be at least 1"],
        ),
        (
            edit("expect: 30s", "health_policy: { interval: 0s }"),
            "health_policy",
            &["above zero"],
        ),
        (
            edit(
                "health: { http: { url: \"http://{address}:8080/health\" } }",
                "health: { http: { url: \"http://{address}/\", status: 600 } }",
            ),
            "status: 600",
            &["100 to 599"],
        ),
        (
            edit(
                "bmc: { address: \"10.1.0.[1:4]\" }",
                "bmc: { address: \"10.1.0.[1:4]\", cipher_suite: 200 }",
            ),
            "cipher_suite",
            &["0 to 17"],
        ),
        (
            edit("address: 10.0.0.[1:4]", "address: \"-1.20.2.[1:4]\""),
            "-1.20.2",
            &["invalid address"],
        ),
        (
            edit(
                "name: node[1:4].dc1\n    address: 10.0.0.[1:4]",
                "name: node[1:4].dc1\n    address: \"10.0.0.[1:4];touch x\"",
            ),
            "touch x",
            &["invalid address"],
        ),
        (
            BASE[..BASE.find("subsystems:").unwrap()].to_string(),
            "version: 1",
            &["no subsystems"],
        ),
        (
            edit("name: app", "name: \"app\\nstart: rm -rf /\""),
            "name: \"app",
            &["control character"],
        ),
        (
            edit(
                "    boot: 2m",
                "    boot: 2m\n    labels: { role: \"db\\u001b[31m\" }",
            ),
            "labels:",
            &["control character"],
        ),
    ];
    for (source, marker, expected) in &cases {
        refused(source, marker, expected);
    }
}

#[test]
fn playbook_errors_name_the_playbook_line_and_a_bom_changes_nothing() {
    let playbook = |extra: &str| {
        format!(
            "version: 1\nplaybook: p\ntopology: t.yaml\n{extra}manual:\n  - name: ack-me\n    instructions: do it\n    after: [database]\ngates:\n  - name: ack-me\n    before: app\n    instructions: go\n"
        )
    };
    // An unknown subsystem in the playbook's scope is the playbook's mistake.
    let scoped = playbook("scope:\n  exclude: [databse]\n");
    let dir = write(&[("t.yaml", BASE), ("p.yaml", &scoped)]);
    let file = path_in(&dir, "p.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = refused_output(
        &output,
        &["unknown subsystem \"databse\"", "did you mean \"database\""],
    );
    let place = format!("{}:{}:", file.display(), line_of(&scoped, "exclude"));
    assert!(shown.contains(&place), "{place} expected in:\n{shown}");
    // A gate named like a manual step would make `ack` ambiguous.
    let gate = format!("{}:{}:", file.display(), line_of(&scoped, "gates:") + 1);
    assert!(shown.contains(&gate), "{gate} expected in:\n{shown}");
    assert!(shown.contains("already the name of a step"), "{shown}");

    // A bound that is not a number, and a drill that would never end.
    let nan = playbook(
        "preflight:\n  - name: lag\n    on: { all: true }\n    value: { command: echo 0, op: \"==\", bound: .nan }\ndrill:\n  simulations: 4294967295\n",
    )
    .replace("ack-me\n    before: app", "gate-1\n    before: app");
    let dir = write(&[("t.yaml", BASE), ("p.yaml", &nan)]);
    let file = path_in(&dir, "p.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = refused_output(&output, &["not a number", "simulations is more than"]);
    for marker in ["bound: .nan", "simulations:"] {
        let place = format!("{}:{}:", file.display(), line_of(&nan, marker));
        assert!(shown.contains(&place), "{place} expected in:\n{shown}");
    }

    // A topology path that does not exist is shown at the playbook's `topology:` line.
    let missing = "version: 1\nplaybook: p\ntopology: nowhere.yaml\n";
    let dir = write(&[("p.yaml", missing)]);
    let file = path_in(&dir, "p.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = refused_output(&output, &["cannot read topology"]);
    assert!(shown.contains(&format!("{}:3:", file.display())), "{shown}");
    assert!(!shown.contains("()"), "{shown}");

    // A byte-order mark: still valid, and errors keep their places.
    let bom = format!("\u{feff}{BASE}");
    let dir = write(&[("t.yaml", &bom)]);
    let file = path_in(&dir, "t.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let broken = format!("\u{feff}{}", edit("expect: 30s", "expect: soon"));
    refused(
        &broken,
        "expect: soon",
        &["invalid duration", "prints the format"],
    );
    // A negative min_healthy says what min_healthy takes, not serde's internals.
    let shown = refused(
        &edit("expect: 30s", "min_healthy: -1"),
        "min_healthy",
        &["invalid min_healthy"],
    );
    assert!(!shown.contains("untagged"), "{shown}");
    // A misspelt field gets a suggestion.
    refused(
        &edit("expect: 30s", "expct: 30s"),
        "expct",
        &["did you mean `expect`?"],
    );
}

#[test]
fn labels_are_escaped_in_dot_and_mermaid_and_cli_values_name_their_flag() {
    let quoted = edit("name: app", "name: 'app\" -> \"pwned'").replace(
        "requires: [database]",
        "requires: [database]\n    wants: []",
    );
    let dir = write(&[("t.yaml", &quoted)]);
    let file = path_in(&dir, "t.yaml");
    let dot = blackstart(&["plan", file.to_str().unwrap(), "--format", "dot"]);
    assert_eq!(dot.status.code(), Some(0), "{}", text(&dot));
    let dot = String::from_utf8_lossy(&dot.stdout).into_owned();
    // The quote stays inside the string: no unescaped `"pwned` starts a node of its own.
    assert!(!dot.contains(" \"pwned"), "{dot}");
    assert!(dot.contains("app\\\" -> \\\"pwned"), "{dot}");
    let mermaid = blackstart(&["plan", file.to_str().unwrap(), "--format", "mermaid"]);
    let mermaid = String::from_utf8_lossy(&mermaid.stdout).into_owned();
    assert!(mermaid.contains("app#quot; -#gt; #quot;pwned"), "{mermaid}");
    // Two step labels (subgraph titles and the legend aside): the quote did not split one
    // into more.
    let labels = mermaid
        .lines()
        .filter(|line| line.contains("[\"") && line.trim_start().starts_with('s'))
        .filter(|line| !line.contains("subgraph"))
        .count();
    assert_eq!(labels, 2, "{mermaid}");

    let output = blackstart(&["simulate", file.to_str().unwrap(), "--spread", "1e308"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("--spread"), "{shown}");
}

#[test]
fn empty_names_of_checks_and_steps_are_refused_at_each_name() {
    let playbook = "version: 1\nplaybook: p\ntopology: t.yaml\n\
        preflight:\n  - name: \" \"\n    on: { all: true }\n    command: \"true\"\n\
        prepare:\n  - name: \"\"\n    on: { all: true }\n    run: \"true\"\n\
        manual:\n  - name: \"   \"\n    instructions: do it\n\
        gates:\n  - name: \"\\t\"\n    before: app\n    instructions: go\n";
    let dir = write(&[("t.yaml", BASE), ("p.yaml", playbook)]);
    let file = path_in(&dir, "p.yaml");
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = refused_output(&output, &["invalid check name: it is empty"]);
    assert_eq!(
        shown.matches("invalid step name: it is empty").count(),
        3,
        "{shown}"
    );
    for marker in [
        "name: \" \"",
        "name: \"\"",
        "name: \"   \"",
        "name: \"\\t\"",
    ] {
        let place = format!("{}:{}:", file.display(), line_of(playbook, marker));
        assert!(shown.contains(&place), "{place} expected in:\n{shown}");
    }
}

#[test]
fn an_at_sign_is_refused_in_subsystem_and_step_names() {
    let topology = BASE.replace("  - name: app", "  - name: \"app@dc1\"");
    let playbook = "version: 1\nplaybook: p\ntopology: t.yaml\n\
        manual:\n  - name: \"ask@ops\"\n    instructions: do it\n";
    let dir = write(&[("t.yaml", &topology), ("p.yaml", playbook)]);
    let output = blackstart(&["validate", path_in(&dir, "t.yaml").to_str().unwrap()]);
    refused_output(
        &output,
        &["subsystem name \"app@dc1\" holds '@'", "use '-' instead"],
    );
    let dir = write(&[("t.yaml", BASE), ("p.yaml", playbook)]);
    let output = blackstart(&["validate", path_in(&dir, "p.yaml").to_str().unwrap()]);
    refused_output(
        &output,
        &["step name \"ask@ops\" holds '@'", "use '-' instead"],
    );
}
