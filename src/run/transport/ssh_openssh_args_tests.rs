use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::run::transport::ssh::remote_time_limit;

fn host() -> (Host, OpensshClient) {
    let mut host = Host::for_test("web1");
    host.ssh.login.connect_timeout = Duration::from_millis(2500);
    let client = OpensshClient {
        destination: "-oProxyCommand=evil".into(),
        config: Some(PathBuf::from("/etc/fleet ssh/config")),
        user: Some("ops".into()),
        port: Some(2222),
        key: Some(PathBuf::from("/keys/100%/id")),
        known_hosts: Some(PathBuf::from("/kh/known hosts")),
        proxy_jump: Some("bastion".into()),
        resolved: None,
    };
    (host, client)
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_command_is_one_argument_after_the_destination_quoted_as_the_builtin_client_sends_it() {
    let (host, client) = host();
    let command = remote_time_limit(
        "echo 'a b' $HOME; rm -rf \"/tmp/x y\"",
        Duration::from_secs(5),
    );
    let args = strings(
        &argv(
            &host,
            &client,
            Mux::Through(Path::new("/run/m1")),
            Some(&command),
        )
        .unwrap(),
    );
    let dashdash = args.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        &args[dashdash + 1..],
        &["-oProxyCommand=evil".to_string(), command.clone()],
        "a destination after `--` is never an option; the command is one argument"
    );
    assert!(command.starts_with("timeout -k 5 5 "), "{command}");
    for pair in [
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        "ConnectTimeout=3",
        "User=ops",
        "Port=2222",
        "IdentityFile=/keys/100%%/id",
        "UserKnownHostsFile=\"/kh/known hosts\"",
        "ProxyJump=bastion",
        "ControlMaster=no",
        "ControlPath=/run/m1",
    ] {
        let at = args.iter().position(|a| a == pair);
        assert!(
            at.is_some_and(|at| at < dashdash && args[at - 1] == "-o"),
            "{pair} in {args:?}"
        );
    }
    assert_eq!(&args[..2], &["-F", "/etc/fleet ssh/config"]);
    assert!(!args.contains(&"-N".to_string()), "a command, not a master");
}

#[test]
fn the_master_runs_no_command_and_persists_a_bounded_time() {
    let (mut host, mut client) = host();
    host.ssh.login.strict_host_key_checking = false;
    client.config = None;
    let args = strings(
        &argv(
            &host,
            &client,
            Mux::Start(Path::new("/run/m2"), Duration::from_secs(120)),
            None,
        )
        .unwrap(),
    );
    for expected in [
        "-N",
        "-f",
        "ControlMaster=yes",
        "ControlPersist=120",
        "StrictHostKeyChecking=no",
    ] {
        assert!(
            args.contains(&expected.to_string()),
            "{expected} in {args:?}"
        );
    }
    assert!(!args.contains(&"-F".to_string()), "ssh reads its own files");
    assert_eq!(args.last().unwrap(), "-oProxyCommand=evil");
    let alone = strings(&argv(&host, &client, Mux::Alone, Some("true")).unwrap());
    assert!(alone.contains(&"ControlPath=none".to_string()));
}

#[test]
fn no_secret_reaches_the_argv_and_unquotable_values_are_refused() {
    let dir = std::env::temp_dir().join(format!("bs-argv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id");
    let secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==";
    std::fs::write(&key, secret).unwrap();
    let (host, mut client) = host();
    client.key = Some(key.clone());
    let args = strings(&argv(&host, &client, Mux::Alone, Some("true")).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    let joined = args.join(" ");
    assert!(joined.contains(&format!("IdentityFile={}", key.display())));
    assert!(
        !joined.contains("BEGIN OPENSSH"),
        "the key's path, never its content"
    );
    assert!(!joined.contains("c2VjcmV0"), "{joined}");

    client.user = Some("o\"ps".into());
    let refused = argv(&host, &client, Mux::Alone, Some("true")).unwrap_err();
    assert!(
        matches!(refused, TransportError::Config { .. }),
        "{refused}"
    );
}

/// What a classified error must be.
type Expect = fn(&TransportError) -> bool;

#[test]
fn ssh_errors_map_to_typed_kinds_and_a_command_s_own_output_does_not() {
    let (host, _) = host();
    let limit = Duration::from_secs(3);
    let cases: &[(&str, Expect)] = &[
        ("Host key verification failed.\n", |e| {
            matches!(e, TransportError::HostKey { .. })
        }),
        (
            "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n",
            |e| matches!(e, TransportError::HostKey { .. }),
        ),
        ("root@127.0.0.1: Permission denied (publickey).\n", |e| {
            matches!(e, TransportError::Auth { .. })
        }),
        (
            "ssh: connect to host 10.0.0.1 port 22: Connection timed out\n",
            |e| matches!(e, TransportError::Timeout { reaching: true, .. }),
        ),
        (
            "ssh: connect to host 127.0.0.1 port 22: Connection refused\n",
            |e| matches!(e, TransportError::Unreachable { .. }),
        ),
        (
            "Unable to negotiate with 127.0.0.1 port 22: no matching key exchange method found.\n",
            |e| matches!(e, TransportError::Config { .. }),
        ),
    ];
    for (stderr, expected) in cases {
        let error = classify(&host, stderr, limit).unwrap_or_else(|| panic!("{stderr}"));
        assert!(expected(&error), "{stderr} -> {error:?}");
        assert!(error.to_string().contains("system ssh"), "{error}");
    }
    assert!(
        classify(&host, "my-tool: fatal: disk full\n", limit).is_none(),
        "a command's own exit 255 stays the command's"
    );
}
