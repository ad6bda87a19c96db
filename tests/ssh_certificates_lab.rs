//! SSH certificates against real sshd. Host certificates: a known_hosts holding only a
//! `@cert-authority` line trusts the hosts that CA signed, and blackstart's built-in client
//! verifies them itself (libssh2 negotiates them but never checks the signer) as the system
//! ssh does; a certificate from another CA, or an expired one, is refused naming the
//! known_hosts line. User certificates: an sshd that accepts only certificates signed by
//! its `TrustedUserCAKeys`, the certificate named by `CertificateFile` in the operator's
//! ssh_config. Every wait is bounded.

mod support;

use support::cli::{blackstart, text};
use support::lab::{Lab, LabSecret};
use support::ssh_ca::Ca;

/// The lab's topology with `extra` under `ssh:` of the defaults and a stub subsystem.
fn topology(lab: &Lab, file: &str, extra: &str) -> std::path::PathBuf {
    let names: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("\"{}\"", h.name))
        .collect();
    let stub = format!(
        "subsystems:\n  - {{ name: s, hosts: [{}], start: \"true\" }}\n",
        names.join(", ")
    );
    let yaml = lab.topology_yaml(LabSecret::File, &stub).replacen(
        "      connect_timeout: 3s\n",
        &format!("      connect_timeout: 3s\n{extra}"),
        1,
    );
    let path = lab.dir.join(file);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `blackstart exec FILE --host NAME -- true`.
fn exec_on(file: &std::path::Path, host: &str) -> std::process::Output {
    blackstart(&["exec", file.to_str().unwrap(), "--host", host, "--", "true"])
}

#[test]
fn hosts_signed_by_the_fleet_ca_are_trusted_from_one_cert_authority_line_by_both_clients() {
    let lab = Lab::start("ca", (89, 0), 3);
    let fleet = Ca::new(&lab, "fleet_ca");
    let rogue = Ca::new(&lab, "rogue_ca");
    fleet.certify_host(&lab, 0, "");
    rogue.certify_host(&lab, 1, "");
    fleet.certify_host(&lab, 2, "20200101:20200102");
    for index in 0..3 {
        lab.power_on(index);
    }
    // No host is listed one by one: the CA line is all the file says.
    std::fs::write(
        &lab.known_hosts,
        format!(
            "# the fleet's CA\n@cert-authority 127.89.0.* {}\n",
            fleet.public
        ),
    )
    .unwrap();
    let known = lab.known_hosts.display().to_string();
    let builtin = topology(&lab, "builtin.yaml", "");
    let openssh = topology(&lab, "openssh.yaml", "      client: openssh\n");

    let validated = blackstart(&["plan", "--check", builtin.to_str().unwrap()]);
    let validated_text = text(&validated);
    assert!(
        validated_text.contains("[ok     ] hosts in known_hosts (3 hosts)"),
        "the CA line lists the hosts for the prerequisite check: {validated_text}"
    );

    let (signed, by_rogue, expired) = (&lab.hosts[0].name, &lab.hosts[1].name, &lab.hosts[2].name);
    for file in [&builtin, &openssh] {
        let reached = exec_on(file, signed);
        assert_eq!(
            reached.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            text(&reached)
        );
    }
    let refused = exec_on(&builtin, by_rogue);
    let shown = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("does not trust") && shown.contains(&format!("{known}:2")),
        "another CA's certificate is refused naming the @cert-authority line: {shown}"
    );
    let refused = exec_on(&builtin, expired);
    let shown = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("expired") && shown.contains(&format!("{known}:2")),
        "{shown}"
    );
    // The system ssh refuses them too: both clients draw the same line.
    for host in [by_rogue, expired] {
        let refused = exec_on(&openssh, host);
        assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    }

    // Revoking the fleet CA shuts its hosts out, even with strict checking off.
    std::fs::write(
        &lab.known_hosts,
        format!(
            "@cert-authority 127.89.0.* {ca}\n@revoked * {ca}\n",
            ca = fleet.public
        ),
    )
    .unwrap();
    let lax = topology(&lab, "lax.yaml", "      strict_host_key_checking: false\n");
    let refused = exec_on(&lax, signed);
    let shown = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("REVOKED") && shown.contains(&format!("{known}:2")),
        "{shown}"
    );
}

#[test]
fn an_sshd_trusting_only_a_user_ca_is_reached_with_the_certificate_file_of_the_ssh_config() {
    let lab = Lab::start("cb", (89, 2), 1);
    let users = Ca::new(&lab, "user_ca");
    users.trust_users_on(&lab, 0);
    // Away from the key: ssh would otherwise find `client_key-cert.pub` by itself.
    let cert = lab.dir.join("operator-cert.pub");
    std::fs::rename(users.certify_client(&lab), &cert).unwrap();
    lab.power_on(0);
    let config = lab.dir.join("ssh_config");
    std::fs::write(
        &config,
        format!("Host *\n  CertificateFile {}\n", cert.display()),
    )
    .unwrap();
    let with_config = format!("      config: {}\n", config.display());
    let name = &lab.hosts[0].name;

    // The plain key alone is refused: the certificate is the only way in.
    let keyless = topology(&lab, "plain.yaml", "      config: none\n");
    let refused = exec_on(&keyless, name);
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));

    let builtin = topology(&lab, "builtin.yaml", &with_config);
    let validated = blackstart(&["validate", builtin.to_str().unwrap()]);
    let validated_text = text(&validated);
    assert_eq!(validated.status.code(), Some(0), "{validated_text}");
    assert!(
        !validated_text.contains("CertificateFile"),
        "the built-in client follows it now, nothing to warn of: {validated_text}"
    );
    let openssh = topology(
        &lab,
        "openssh.yaml",
        &format!("{with_config}      client: openssh\n"),
    );
    for file in [&builtin, &openssh] {
        let reached = exec_on(file, name);
        assert_eq!(
            reached.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            text(&reached)
        );
    }
}
