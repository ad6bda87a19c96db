//! The README and `--help` agree: every flag a subcommand's `--help` lists appears in the
//! README, so a reader of either learns the same tool.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_blackstart"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// `--long-flag` tokens in `text`.
fn flags(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| {
            word.starts_with("--") && word.len() > 2 && word.as_bytes()[2].is_ascii_lowercase()
        })
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_flag_in_help_is_in_the_readme() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let top = help(&["--help"]);
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.len() >= 10, "subcommands found: {commands:?}");
    let mut missing = Vec::new();
    for command in &commands {
        for flag in flags(&help(&[command, "--help"])) {
            if flag != "--help" && flag != "--version" && !readme.contains(&flag) {
                missing.push(format!("{command} {flag}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "in --help but not in the README: {missing:?}"
    );
}
