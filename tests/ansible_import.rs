//! `blackstart import ansible` on inventories as found in public projects: what it writes
//! always validates (or it refuses, saying why, at the host's line), INI values come out as
//! the Python literals Ansible makes of them, and secrets never come out at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn import(file: &Path, json: bool) -> Output {
    let mut command = Command::new(BIN);
    command.args(["import", "ansible"]).arg(file);
    if json {
        command.args(["--format", "json"]);
    }
    command.output().unwrap()
}

fn all(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_host_whose_name_cannot_be_an_address_is_refused_at_its_line_and_with_ansible_host_it_validates(
) {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.ini", "[web]\nnode1\ncafé\n");
    let output = import(&bad, false);
    let text = all(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("bad.ini:3") && text.contains("\"café\" cannot be an address"),
        "{text}"
    );
    assert!(text.contains("ansible_host="), "the fix is named: {text}");
    assert!(output.stdout.is_empty(), "no topology written: {text}");

    let good = write(
        dir.path(),
        "good.ini",
        "[web]\nnode1\ncafé ansible_host=10.0.0.9\n",
    );
    let output = import(&good, false);
    assert!(output.status.success(), "{}", all(&output));
    let topology = write(
        dir.path(),
        "topology.yaml",
        &String::from_utf8_lossy(&output.stdout),
    );
    let validate = Command::new(BIN)
        .arg("validate")
        .arg(&topology)
        .output()
        .unwrap();
    assert!(validate.status.success(), "{}", all(&validate));
}

#[test]
fn an_inventory_without_hosts_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("groups.ini", "[web]\n[db:children]\nweb\n"),
        ("comments", "# nothing yet\n\n"),
    ] {
        let file = write(dir.path(), name, text);
        let output = import(&file, false);
        let text = all(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {text}");
        assert!(text.contains("declares no hosts"), "{name}: {text}");
    }
    let file = write(dir.path(), "comments.yml", "# nothing yet\n");
    let text = all(&import(&file, false));
    assert!(
        text.contains("nothing but comments") && !text.contains("start the file with `all:`"),
        "{text}"
    );
}

#[test]
fn ini_values_are_python_literals_and_secrets_are_withheld_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(
        dir.path(),
        "awx.ini",
        "[web]\nw1 ansible_host=10.0.0.2 ports=\"[80, 443]\" ratio=1.5 debug=True name_='x' pg_password=hunter2 k3s_token=K10abc\n\
         [web:vars]\nansible_become_pass=sup3r\nsettings={'user': 'app', 'secret_key': 'sk-123'}\nblackstart_label_api_token=tok-9\n",
    );
    let output = import(&ini, true);
    assert!(output.status.success(), "{}", all(&output));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let vars = &read["hosts"][0]["vars"];
    assert_eq!(vars["ports"], serde_json::json!([80, 443]));
    assert_eq!(vars["ratio"], serde_json::json!(1.5));
    assert_eq!(vars["debug"], serde_json::json!(true));
    assert_eq!(vars["name_"], "x");
    assert_eq!(vars["settings"]["user"], "app");
    for name in ["pg_password", "k3s_token", "ansible_become_pass"] {
        assert!(
            vars[name]
                .as_str()
                .unwrap()
                .starts_with("(withheld by blackstart"),
            "{name}: {vars}"
        );
    }
    assert!(vars["settings"]["secret_key"]
        .as_str()
        .unwrap()
        .starts_with("(withheld"));
    let skeleton = import(&ini, false);
    assert!(skeleton.status.success(), "{}", all(&skeleton));
    for output in [&output, &skeleton] {
        let text = all(output);
        for secret in ["hunter2", "K10abc", "sup3r", "sk-123", "tok-9"] {
            assert!(!text.contains(secret), "{secret} printed:\n{text}");
        }
    }
    let yaml = write(
        dir.path(),
        "vault.yml",
        "all:\n  hosts:\n    h1:\n      ansible_host: 10.0.0.3\n      db_credentials: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          61626364\n",
    );
    let output = import(&yaml, true);
    let text = all(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        !text.contains("ANSIBLE_VAULT")
            && text.contains("(withheld by blackstart: vault-encrypted)"),
        "{text}"
    );
}

#[test]
fn a_secret_looking_label_from_an_inventory_is_refused_before_any_plan_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inv.ini",
        "[web]\nw1 ansible_host=10.0.0.2 blackstart_label_api_token=tok-9\n",
    );
    let topology = write(
        dir.path(),
        "topology.yaml",
        "version: 1\nname: t\nhosts_from:\n  - ansible: inv.ini\nsubsystems:\n  - name: app\n    hosts: [w1]\n    health: { command: \"true\" }\n",
    );
    for command in ["validate", "plan"] {
        let output = Command::new(BIN)
            .arg(command)
            .arg(&topology)
            .output()
            .unwrap();
        let text = all(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {text}");
        assert!(
            text.contains("blackstart_label_api_token looks like a secret")
                && !text.contains("tok-9"),
            "{command}: {text}"
        );
    }
}
