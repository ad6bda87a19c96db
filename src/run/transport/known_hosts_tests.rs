//! known_hosts with marker lines and host certificates made by `ssh-keygen -s` (OpenSSH
//! 9.2): CA keys of each kind, a certificate for `127.89.0.1,db1`, an expired one, a user
//! certificate and one without principals.

use base64::Engine as _;

use super::*;

const CA_ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINivHXUWy7eezZPRaO3CGdLf26g8nAqCj+/KJr9W4TWY";
const CA_RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCwuZ+Zd18JzxXMSuGjb5U67qiLv+g4wpad0sNiNOuLs7svidAGw6VmbQK1qN+FrVj43PWaAnik1aI5XxJ46LdNCuoeN44hc4yUI+z0L1/IMv35oTngcryI10TXo4p39Gf5WUcWYiWqAEqWHGxRlnj9yvxau+4WXMsaeU4fL1A3qnCq2gZ2yjXmxxGzzB+hWvqBmXoM3oOos2Gzw5RR3mW+2Y47A/iuJrS2fU29vgERNf32mmgt4mVygy2JOBVRiH/dvqr1PpNpQh3za72F+kxSrezhhunTm7jr7Sq7PNSJo5/G3/ekNg4Gb3lswTc6zZJ0Pn6WXc9v8AVVKrFX8MUUwGgm8bbQPxu0Du3+VyC5WUWcV4Jk1slEHCkvtlIQgIK8zgRJiSqX/pkRhKhxpddJhr/2CgxBaIk/4sgjP0Z073kzS07jqEF+tKQRcff2g2/Py/aHQyVtSWkQEyagWnLeCSKjIUaMFAvnfikUKV73XPqQupyJ+XUa1k4qfG+TGyE=";
const CA_ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBId90VOQaNPT2jr+L/g1qDWBh2s4HWj8sBvFI///j22nMxcKvY/8BVf569m0lIpofz6PUTLVfW4c8fH0mrPNz0I=";
const HOST: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7O";
const OTHER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMTbkLEqXnlAuhOpzwnCCfy1kpKBGV5gm9fUpZZV3202";
const CERT_ED25519: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAILoXpUIzNPyV8l74ja64jCye7Rrfwl9qVSeKzUQ7TcVwAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAACAAAADGhvc3QtZWQyNTUxOQAAABUAAAAKMTI3Ljg5LjAuMQAAAANkYjEAAAAAAAAAAP//////////AAAAAAAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDYrx11Fsu3ns2T0WjtwhnS39uoPJwKgo/vyia/VuE1mAAAAFMAAAALc3NoLWVkMjU1MTkAAABAZKuVo92Y0EMFqRvw+YpEid5o/4HGAniPIzc2plJYe1ORCuLSxe7CP4l9A7sgcNA2VSZY4R1ehbHSyxNrmrYkAw==";
const CERT_RSA: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIBjLcKRETI3cWf76iRCtKQ11PVuB3sGtmSeLBUIZANjEAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAACAAAACGhvc3QtcnNhAAAAFQAAAAoxMjcuODkuMC4xAAAAA2RiMQAAAAAAAAAA//////////8AAAAAAAAAAAAAAAAAAAGXAAAAB3NzaC1yc2EAAAADAQABAAABgQCwuZ+Zd18JzxXMSuGjb5U67qiLv+g4wpad0sNiNOuLs7svidAGw6VmbQK1qN+FrVj43PWaAnik1aI5XxJ46LdNCuoeN44hc4yUI+z0L1/IMv35oTngcryI10TXo4p39Gf5WUcWYiWqAEqWHGxRlnj9yvxau+4WXMsaeU4fL1A3qnCq2gZ2yjXmxxGzzB+hWvqBmXoM3oOos2Gzw5RR3mW+2Y47A/iuJrS2fU29vgERNf32mmgt4mVygy2JOBVRiH/dvqr1PpNpQh3za72F+kxSrezhhunTm7jr7Sq7PNSJo5/G3/ekNg4Gb3lswTc6zZJ0Pn6WXc9v8AVVKrFX8MUUwGgm8bbQPxu0Du3+VyC5WUWcV4Jk1slEHCkvtlIQgIK8zgRJiSqX/pkRhKhxpddJhr/2CgxBaIk/4sgjP0Z073kzS07jqEF+tKQRcff2g2/Py/aHQyVtSWkQEyagWnLeCSKjIUaMFAvnfikUKV73XPqQupyJ+XUa1k4qfG+TGyEAAAGUAAAADHJzYS1zaGEyLTUxMgAAAYA8q9gT6ywH4gxklG47GH56f7kJ5x9uuVJrpf7wWQkFT/i81ynNDvQMEmmgd9N7kJrqbBeRP0RIr9P7hRN3WOYUhB0HaWe0mC3fCXEHZFWKhTnkZUPWY6CFJvpwjCkNVzPZYd9tt5paSJNmH/vkE1LkXIYS/0D1vEoZzf588bk+zjA1QC13RUks5jpZ8Az5K+2tiH948OIE5Fwz1GzwZx8alS1oLOKaMvlfkesxm4VmxkJzcyxu+LXW9ktgzKJDqKB4ZzZM3fJAH0KzieRpiF3p/4khpWorywrBeyBZRbkKvJ63XplrVdijQHjGNiUoR5yRN1FEMKCzph+aHfXbX6faQHElOLNH1qE3sMJKNUA5qKzxpMLyl37650pLPy8JDzhxQEUnk0a1Id40FxsRvBkcj06a+vo1gLQvVt2ijSVJXReMioD6Pt+SvGLY5L+/kRlepPTscM5FSCJnLQ3hNBiczCXraROGjMVZ3ZxwwRZ3JFFzhVTnY1vSgoNNslHgiY4=";
const CERT_ECDSA: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIHsK7jTRzOu/VOOtmTJz5RfDXZZtbz7FZ9Mkngn4m20DAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAACAAAACmhvc3QtZWNkc2EAAAAVAAAACjEyNy44OS4wLjEAAAADZGIxAAAAAAAAAAD//////////wAAAAAAAAAAAAAAAAAAAGgAAAATZWNkc2Etc2hhMi1uaXN0cDI1NgAAAAhuaXN0cDI1NgAAAEEEh33RU5Bo09PaOv4v+DWoNYGHazgdaPywG8Uj//+PbaczFwq9j/wFV/nr2bSUimh/Po9RMtV9bhzx8fSas83PQgAAAGQAAAATZWNkc2Etc2hhMi1uaXN0cDI1NgAAAEkAAAAhANscyFJTBAJRz/IhbmTrMV5QUtK0XT6S+mlE3TOoOSxJAAAAICkqiknln/QAA86GrgwSKsmIkL/XmiBkmMG8+4iGVVMs";
const CERT_EXPIRED: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIEO7ezToa47/VjYF9G3A2PF5+8vYx71qvXPSqfx3hxmBAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAACAAAAB2V4cGlyZWQAAAAOAAAACjEyNy44OS4wLjEAAAAAXgvhAAAAAABeDTKAAAAAAAAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDYrx11Fsu3ns2T0WjtwhnS39uoPJwKgo/vyia/VuE1mAAAAFMAAAALc3NoLWVkMjU1MTkAAABA9CfGrkWrFxiS41nPWdx4RVV5fsoUJ06BKxe7In1hJGn1hqgL35o4Q1hcDMpk5bsBF4R6w3dxVa/f/OGCeQS/Bw==";
const CERT_USER: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIMZZqRViHgrs5xxKxBERSxgUYqg8aW5KykRPLfvjkjNJAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAABAAAABHVzZXIAAAAIAAAABHJvb3QAAAAAAAAAAP//////////AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAg2K8ddRbLt57Nk9Fo7cIZ0t/bqDycCoKP78omv1bhNZgAAABTAAAAC3NzaC1lZDI1NTE5AAAAQDoz+TOVEP55/NteUrmMt8mGRKRWRhLpMUORJXCmD+yi9EHfMeXTqXWGRj+7ME4ujwoIc2G8XPePFwZCy2EYKQU=";
const CERT_ANY_NAME: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIKgK2TFTtNb+M4rI/qBELwCBqw4E5X1ES750bkIqDvKMAAAAIDb3HK45t+mUpYG3xCmQZWSTJK7T/oGCgnTpV1d6Fp7OAAAAAAAAAAAAAAACAAAAB2FueW5hbWUAAAAAAAAAAAAAAAD//////////wAAAAAAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAg2K8ddRbLt57Nk9Fo7cIZ0t/bqDycCoKP78omv1bhNZgAAABTAAAAC3NzaC1lZDI1NTE5AAAAQJMGwH01cB4nkCPzmcy2X42Qmztm22gVkU14E7Ys8wmjbZp9KVnUGn0ISkza19zZMQIrN0Vaep1ijvHz/MOcCQI=";

/// Unix time in 2026: inside every certificate's validity but the expired one's.
const NOW: u64 = 1_796_000_000;
const ADDRESS: &str = "127.89.0.1";

/// The key blob of a `type base64` line.
fn blob(line: &str) -> Vec<u8> {
    let b64 = line.split_whitespace().nth(1).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// `text` written as a known_hosts file and read; the file's directory is kept alive.
fn file(text: &str) -> (tempfile::TempDir, KnownHostsFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    std::fs::write(&path, text).unwrap();
    let read = KnownHostsFile::read(&path).unwrap();
    (dir, read)
}

fn check(text: &str, key: &str, port: u16) -> Result<(), Refusal> {
    let (_dir, known) = file(text);
    known.check(ADDRESS, port, &blob(key), NOW)
}

#[test]
fn a_certificate_signed_by_a_trusted_ca_of_each_kind_is_accepted() {
    for (ca, cert) in [
        (CA_ED25519, CERT_ED25519),
        (CA_RSA, CERT_RSA),
        (CA_ECDSA, CERT_ECDSA),
    ] {
        let text = format!("# fleet CA\n@cert-authority 127.89.0.* {ca}\n");
        assert_eq!(check(&text, cert, 22), Ok(()), "{ca}");
    }
}

#[test]
fn a_certificate_whose_signed_bytes_were_altered_is_refused() {
    let mut key = blob(CERT_ED25519);
    // A byte of the nonce, inside what the CA signed.
    key[45] ^= 1;
    let (_dir, known) = file(&format!("@cert-authority * {CA_ED25519}\n"));
    let refused = known.check(ADDRESS, 22, &key, NOW).unwrap_err();
    assert!(
        refused.detail.contains("known_hosts:1") && refused.detail.contains("does not verify"),
        "{refused:?}"
    );
}

#[test]
fn certificates_for_another_name_expired_for_users_or_from_another_ca_are_refused_with_the_line() {
    let text = format!("@cert-authority 127.89.0.* {CA_ED25519}\n");
    let other_name = {
        let (_dir, known) = file(&text.replace("127.89.0.*", "*"));
        known.check("127.89.0.2", 22, &blob(CERT_ED25519), NOW)
    };
    let cases = [
        (other_name, "not for 127.89.0.2"),
        (check(&text, CERT_EXPIRED, 22), "expired"),
        (check(&text, CERT_USER, 22), "user certificate"),
        (
            check(&format!("@cert-authority * {CA_RSA}\n"), CERT_ED25519, 22),
            "does not trust",
        ),
    ];
    for (verdict, says) in cases {
        let refused = verdict.unwrap_err();
        assert!(refused.detail.contains(says), "{says}: {refused:?}");
        assert!(refused.detail.contains("known_hosts:1"), "{refused:?}");
        assert!(!refused.revoked);
    }
}

#[test]
fn a_certificate_without_principals_vouches_for_every_name() {
    let text = format!("@cert-authority * {CA_ED25519}\n");
    assert_eq!(check(&text, CERT_ANY_NAME, 22), Ok(()));
}

#[test]
fn the_ca_pattern_must_match_the_host_and_port_as_ssh_looks_them_up() {
    let text = format!("@cert-authority 127.89.1.*,!127.89.0.9 {CA_ED25519}\n");
    let refused = check(&text, CERT_ED25519, 22).unwrap_err();
    assert!(refused.detail.contains("not in"), "{refused:?}");
    let negated = format!("@cert-authority 127.89.0.*,!127.89.0.1 {CA_ED25519}\n");
    assert!(check(&negated, CERT_ED25519, 22).is_err());
    let ported = format!("@cert-authority [127.89.0.1]:2222 {CA_ED25519}\n");
    assert_eq!(check(&ported, CERT_ED25519, 2222), Ok(()));
    assert!(check(&ported, CERT_ED25519, 22).is_err());
}

#[test]
fn a_hashed_ca_pattern_matches_its_host() {
    // `ssh-keygen -H` form: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
    let salt = [7u8; 20];
    let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap();
    mac.update(ADDRESS.as_bytes());
    let engine = base64::engine::general_purpose::STANDARD;
    let hashed = format!(
        "|1|{}|{}",
        engine.encode(salt),
        engine.encode(mac.finalize().into_bytes())
    );
    let text = format!("@cert-authority {hashed} {CA_ED25519}\n");
    assert_eq!(check(&text, CERT_ED25519, 22), Ok(()));
}

#[test]
fn a_certified_key_listed_plainly_is_accepted_without_a_ca() {
    let text = format!("{ADDRESS} {HOST}\n");
    assert_eq!(check(&text, CERT_ED25519, 22), Ok(()));
    let changed = format!("{ADDRESS} {OTHER}\n");
    assert!(check(&changed, CERT_ED25519, 22)
        .unwrap_err()
        .detail
        .contains("DIFFERS"));
}

#[test]
fn revoked_keys_and_revoked_cas_are_refused_even_when_listed() {
    for revoked in [HOST, CA_ED25519] {
        let text =
            format!("{ADDRESS} {HOST}\n@cert-authority * {CA_ED25519}\n@revoked * {revoked}\n");
        let refused = check(&text, CERT_ED25519, 22).unwrap_err();
        assert!(refused.revoked, "{refused:?}");
        assert!(refused.detail.contains("known_hosts:3"), "{refused:?}");
    }
    let plain = format!("{ADDRESS} {HOST}\n@revoked * {HOST}\n");
    assert!(check(&plain, HOST, 22).unwrap_err().revoked);
}

#[test]
fn a_plain_key_where_only_a_ca_is_trusted_is_refused_naming_the_ca_line() {
    let text = format!("\n@cert-authority 127.89.0.* {CA_ED25519}\n");
    let refused = check(&text, HOST, 22).unwrap_err();
    assert!(
        refused.detail.contains("only `@cert-authority` (line 2)"),
        "{refused:?}"
    );
}

#[test]
fn plain_lines_beside_markers_are_still_read_and_listed() {
    let text = format!("@cert-authority 127.89.0.* {CA_ED25519}\n127.89.1.1 {HOST}\n");
    let (_dir, known) = file(&text);
    assert!(known.lists("127.89.1.1", 22));
    assert!(known.lists(ADDRESS, 22), "trusted through the CA");
    assert!(!known.lists("127.89.2.1", 22));
}

#[test]
fn unreadable_lines_are_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    for (text, says) in [
        (
            format!("{ADDRESS} {HOST}\n@cert-authoroty * {CA_ED25519}\n"),
            "unknown marker",
        ),
        ("@revoked *\n".to_string(), "needs host patterns"),
        ("@revoked * ssh-ed25519 !!!\n".to_string(), "not base64"),
        (
            format!("@revoked * ssh-rsa {}\n", HOST.split(' ').nth(1).unwrap()),
            "not a ssh-rsa key",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let Err(why) = KnownHostsFile::read(&path) else {
            panic!("{says}: read");
        };
        assert!(why.starts_with("line ") && why.contains(says), "{why}");
    }
}
