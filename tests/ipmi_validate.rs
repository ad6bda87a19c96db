//! IPMI BMC settings through `validate` and `plan`: the client chosen per BMC (native by
//! default, `client: ipmitool` kept), what the native client cannot speak refused at its
//! line, and the plan saying which client each host uses and whether power is read first.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

fn blackstart(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("BMC_PASSWORD", "pw-never-shown")
        .output()
        .expect("blackstart runs")
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Hosts 1-2 with the defaults' BMC; `{BMC}` is replaced by hosts 3-4's `bmc:` block.
const BASE: &str = r#"version: 1
name: ipmi
defaults:
  host:
    bmc: { user: admin, password_env: BMC_PASSWORD }
hosts:
  - name: node[1:2].dc1
    bmc: { address: "10.1.0.[1:2]" }
  - name: node[3:4].dc1
    bmc:
{BMC}
subsystems:
  - name: app
    hosts: ["node[1:4].dc1"]
    start: systemctl start app
    health: { tcp: 8080 }
"#;

fn write(dir: &Path, bmc: &str) -> (String, std::path::PathBuf) {
    let source = BASE.replace("{BMC}", bmc);
    let path = dir.join("topology.yaml");
    std::fs::write(&path, &source).unwrap();
    (source, path)
}

/// Validates and checks: exit 2, `file:LINE:` of `marker`'s line, every fragment present.
fn refused(bmc: &str, marker: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (source, path) = write(dir.path(), bmc);
    let output = blackstart(&["validate", path.to_str().unwrap()]);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "exit 2 expected:\n{text}");
    let line = source.lines().position(|l| l.contains(marker)).unwrap() + 1;
    let place = format!("{}:{line}:", path.display());
    assert!(text.contains(&place), "expected {place} in:\n{text}");
    for fragment in expected {
        assert!(text.contains(fragment), "expected {fragment:?} in:\n{text}");
    }
}

#[test]
fn an_unknown_client_is_refused_on_its_line() {
    refused(
        "      address: \"10.2.0.[3:4]\"\n      client: freeipmi",
        "freeipmi",
        &["freeipmi", "native", "ipmitool"],
    );
}

#[test]
fn what_the_native_client_cannot_speak_is_refused_with_the_way_out() {
    refused(
        "      address: \"10.2.0.[3:4]\"\n      cipher_suite: 1",
        "cipher_suite",
        &[
            "cipher suite 1 is not spoken by the native IPMI client (the default client)",
            "client: ipmitool",
        ],
    );
    refused(
        "      address: \"10.2.0.[3:4]\"\n      interface: lan",
        "interface",
        &["interface \"lan\" is not spoken by the native IPMI client"],
    );
    refused(
        "      protocol: redfish\n      address: \"10.2.0.[3:4]\"\n      client: ipmitool",
        "client",
        &["`client` applies to IPMI BMCs only"],
    );
}

#[test]
fn the_plan_shows_each_hosts_client_and_what_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = write(
        dir.path(),
        "      address: \"10.2.0.[3:4]\"\n      client: ipmitool\n      cipher_suite: 1",
    );
    let output = blackstart(&["plan", path.to_str().unwrap()]);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // Read as a person reads it: a command kept whole may start the next line.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("2 hosts via `native IPMI lanplus BMC as admin, cipher suite 3"),
        "{text}"
    );
    assert!(
        flat.contains("2 hosts via `ipmitool -I lanplus -H BMC -U admin -E -C 1 chassis power on`"),
        "{text}"
    );
    assert!(text.contains("no power read first"), "{text}");
    assert!(!text.contains("pw-never-shown"), "{text}");

    let output = blackstart(&["plan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hosts = plan["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 4);
    let clients: Vec<&str> = hosts
        .iter()
        .map(|h| h["power"]["client"].as_str().unwrap())
        .collect();
    assert_eq!(clients, ["native", "native", "ipmitool", "ipmitool"]);
    assert!(hosts.iter().all(|h| h["power"]["read_first"].is_null()));
    assert_eq!(
        hosts[0]["power"]["on"],
        "native IPMI lanplus 10.1.0.1 as admin, cipher suite 3: Chassis Control power on"
    );
}
