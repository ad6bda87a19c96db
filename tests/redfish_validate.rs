//! Redfish BMC settings through `validate`, `plan` and `schema`: each mistake refused at its
//! own line with a fix, and the plan showing the exact request without the secret.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::cli::output_bounded;

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

fn blackstart(args: &[&str]) -> Output {
    output_bounded(
        Command::new(BIN)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    )
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Hosts 1-2 on IPMI, 3-4 on Redfish; `{BMC}` is replaced by the Redfish host's `bmc:` block.
const BASE: &str = r#"version: 1
name: redfish
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
    std::fs::write(
        dir.join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
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
fn an_ipmi_setting_on_a_redfish_bmc_is_refused_on_its_line() {
    refused(
        "      protocol: redfish\n      address: \"10.2.0.[3:4]\"\n      cipher_suite: 3",
        "cipher_suite",
        &["`cipher_suite` applies to IPMI BMCs only", "protocol: ipmi"],
    );
}

#[test]
fn a_redfish_setting_on_an_ipmi_bmc_is_refused_on_its_line() {
    refused(
        "      address: \"10.2.0.[3:4]\"\n      ca_file: ca.pem",
        "ca_file",
        &[
            "`ca_file` applies to Redfish BMCs only",
            "protocol: redfish",
        ],
    );
}

#[test]
fn a_missing_ca_file_and_a_url_for_an_address_are_refused_on_their_lines() {
    refused(
        "      protocol: redfish\n      address: \"10.2.0.[3:4]\"\n      ca_file: missing-ca.pem",
        "missing-ca.pem",
        &["cannot read CA file", "missing-ca.pem"],
    );
    refused(
        "      protocol: redfish\n      address: \"https://10.2.0.[3:4]\"",
        "https://",
        &["holds a scheme or a path", "https://ADDRESS/redfish/v1"],
    );
    refused(
        "      protocol: redfish\n      address: \"10.2.0.[3:4]\"\n      ca_file: ca.pem\n      insecure: true",
        "insecure",
        &["the CA would never be checked"],
    );
}

#[test]
fn the_plan_shows_each_bmcs_request_and_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = write(
        dir.path(),
        "      protocol: redfish\n      address: \"10.2.0.[3:4]:8443\"\n      system: System.Embedded.1\n      ca_file: ca.pem",
    );
    let output = output_bounded(
        Command::new(BIN)
            .args(["plan", path.to_str().unwrap(), "--every-node"])
            .env("BMC_PASSWORD", "pw-never-shown"),
    );
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let ca = dir.path().join("ca.pem");
    assert!(
        text.contains(&format!(
            "2 hosts via `redfish POST https://10.2.0.3:8443/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset {{\"ResetType\":\"On\"}} as admin, TLS verified against {}",
            ca.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("2 hosts via `native IPMI lanplus 10.1.0.1"),
        "{text}"
    );
    assert!(!text.contains("pw-never-shown"), "{text}");
}

#[test]
fn the_schema_knows_the_redfish_fields() {
    let output = blackstart(&["schema"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for field in [
        "\"protocol\"",
        "\"redfish\"",
        "\"ca_file\"",
        "\"insecure\"",
        "\"graceful_shutdown\"",
    ] {
        assert!(text.contains(field), "{field} missing from the schema");
    }
}
