//! Secrets never come out: an inline password beside other errors, misspelt secret keys,
//! a password pasted into `password_env`, and a distinctive password source searched for in
//! every output of validate, plan (every format) and simulate.

mod support;

use support::cli::text;
use support::input::{edit, path_in, refused, write};

#[test]
fn secrets_are_redacted_in_every_quoted_line_and_never_echoed() {
    let secret = "Hunter2-qZ81";
    // An inline password beside another error on the same line.
    let flow = edit(
        "bmc: { address: \"10.1.0.[1:4]\" }",
        &format!("bmc: {{ address: \"10.1.0.[1:4]\", password: {secret}, cipher_suite: 99 }}"),
    );
    let shown = refused(&flow, "cipher_suite", &["cipher suite 99", "inline"]);
    assert!(!shown.contains(secret), "secret echoed:\n{shown}");
    // A misspelt key is an unknown field: its line is quoted, the value is not.
    for key in ["passwd", "token", "secret"] {
        let misspelt = edit(
            "password_env: BMC_PASSWORD",
            &format!("{key}: \"{secret}\""),
        );
        let shown = refused(&misspelt, key, &["unknown field"]);
        assert!(!shown.contains(secret), "secret echoed via {key}:\n{shown}");
    }
    // One inline password in the defaults is one finding, however many hosts inherit it.
    let defaults = edit(
        "password_env: BMC_PASSWORD",
        &format!("password_env: BMC_PASSWORD, password: {secret}"),
    );
    let shown = refused(&defaults, "password:", &["inline"]);
    assert_eq!(shown.matches("written inline").count(), 1, "{shown}");
    assert!(!shown.contains(secret), "secret echoed:\n{shown}");
    // A dependency of the wrong shape says what a dependency is.
    let shown = refused(
        &edit("requires: [database]", "requires: [{ nam: database }]"),
        "nam: database",
        &["expected a dependency"],
    );
    assert!(!shown.contains("untagged"), "{shown}");
    // A password pasted where a variable name belongs is refused without repeating it.
    let pasted = edit(
        "password_env: BMC_PASSWORD",
        &format!("password_env: \"{secret}!\""),
    );
    let shown = refused(&pasted, "password_env", &["environment variable"]);
    assert!(!shown.contains(secret), "secret echoed:\n{shown}");
}

/// A valid topology with a distinctive password source must never show the secret in
/// validate, plan (every format) or simulate; a distinctive inline password is refused
/// without being echoed by any of them.
#[test]
fn distinctive_secrets_never_appear_in_any_output() {
    let inline_secret = "Zq8-inline-S3cret";
    let env_secret = "Zq8-env-S3cret";
    let valid = edit(
        "password_env: BMC_PASSWORD",
        "password_env: BLACKSTART_TEST_PW",
    );
    let inline = edit(
        "bmc: { address: \"10.1.0.[1:4]\" }",
        &format!("bmc: {{ address: \"10.1.0.[1:4]\", password: \"{inline_secret}\" }}"),
    );
    let dir = write(&[("valid.yaml", &valid), ("inline.yaml", &inline)]);
    let mut outputs = Vec::new();
    for (name, code) in [("valid.yaml", 0), ("inline.yaml", 2)] {
        let file = path_in(&dir, name);
        let file = file.to_str().unwrap();
        let mut commands: Vec<Vec<&str>> = vec![vec!["validate", file]];
        for format in ["text", "json", "dot", "mermaid"] {
            commands.push(vec!["plan", file, "--format", format, "--every-node"]);
        }
        commands.push(vec!["simulate", file, "--runs", "2"]);
        for args in commands {
            let output = support::cli::wait_bounded(
                std::process::Command::new(support::cli::BIN)
                    .args(&args)
                    .env("BLACKSTART_TEST_PW", env_secret)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
                support::cli::RUN_LIMIT,
            );
            assert_eq!(
                output.status.code(),
                Some(code),
                "{args:?}:\n{}",
                text(&output)
            );
            outputs.push((args.join(" "), text(&output)));
        }
    }
    for (command, shown) in &outputs {
        assert!(!shown.contains(inline_secret), "{command}:\n{shown}");
        assert!(!shown.contains(env_secret), "{command}:\n{shown}");
    }
    // The checks ran on real plans: the valid file's plan shows where the password comes from.
    assert!(
        outputs
            .iter()
            .any(|(_, shown)| shown.contains("BLACKSTART_TEST_PW")),
        "no output names the password's variable"
    );
}
