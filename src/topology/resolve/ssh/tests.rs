use std::path::Path;

use crate::topology::{load_str_alone, Diagnostics, Topology};

const CONFIG: &str = "Host bastion\n  HostName 10.0.0.1\n  User jumper\n  Port 2222\n  \
                      IdentityFile /keys/bastion\nHost db* !db9\n  ProxyJump bastion,ops@10.0.1.1\n  \
                      User dba\n  Port 2200\n  ConnectTimeout 4\nHost db1\n  HostName 10.0.2.11\n";

/// Loads `yaml` from a directory holding `ssh_config` (the text above, or `config`).
fn load_with(yaml: &str, config: &str) -> Result<Topology, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ssh_config"), config).unwrap();
    let file = dir.path().join("t.yaml");
    load_str_alone(yaml, &file).map(|loaded| loaded.topology)
}

/// The topology of `ssh` defaults and `hosts`, loaded beside [`CONFIG`].
fn with_config(ssh: &str, hosts: &str) -> Topology {
    load_with(&topology(ssh, hosts), CONFIG).unwrap()
}

fn topology(ssh: &str, hosts: &str) -> String {
    format!(
        "version: 1\nname: t\ndefaults:\n  host:\n    ssh:\n{ssh}hosts:\n{hosts}\
         subsystems:\n  - {{ name: s, hosts: [\"db[1:2]\"] }}\n"
    )
}

#[test]
fn the_config_fills_in_what_the_topology_leaves_open_and_the_route_shows_it() {
    let t = with_config(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n    address: 10.0.2.12\n",
    );
    let db1 = &t.hosts[0];
    assert_eq!(
        db1.address, "10.0.2.11",
        "HostName names a host without an address"
    );
    assert_eq!(
        (db1.ssh.login.user.as_str(), db1.ssh.login.port),
        ("dba", 2200)
    );
    assert_eq!(
        db1.ssh.login.connect_timeout,
        std::time::Duration::from_secs(4)
    );
    assert_eq!(
        db1.ssh_route(),
        "dba@10.0.2.11:2200 via jumper@10.0.0.1:2222,ops@10.0.1.1:22"
    );
    let bastion = &db1.ssh.jumps[0];
    assert_eq!(bastion.name, "bastion");
    assert_eq!(
        bastion.login.key.as_deref(),
        Some(Path::new("/keys/bastion"))
    );
    assert!(bastion.login.strict_host_key_checking);
    // The second hop has no block of its own: it shares the host's key and known_hosts.
    assert_eq!(
        db1.ssh.jumps[1].login.known_hosts,
        db1.ssh.login.known_hosts
    );
    // An address written in the topology is dialled as written.
    assert_eq!(t.hosts[1].address, "10.0.2.12");
}

#[test]
fn fields_written_in_the_topology_win_over_the_config() {
    let t = with_config(
        "      config: ssh_config\n      user: root\n      proxy_jump: admin@10.9.9.9:22\n",
        "  - name: db1\n    ssh: { port: 22 }\n  - name: db2\n    ssh: { proxy_jump: none }\n",
    );
    assert_eq!(
        t.hosts[0].ssh_route(),
        "root@10.0.2.11:22 via admin@10.9.9.9:22"
    );
    assert_eq!(t.hosts[1].ssh_route(), "root@db2:2200");
}

#[test]
fn config_none_reads_no_file_and_keeps_the_built_in_defaults() {
    let t = with_config("      config: none\n", "  - name: db1\n  - name: db2\n");
    assert_eq!(t.hosts[0].ssh_route(), "root@db1:22");
    assert!(t.hosts[0].ssh.jumps.is_empty());
}

#[test]
fn a_config_line_that_does_not_parse_is_an_error_naming_the_file_and_line() {
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let err = load_with(&yaml, "Host db*\n  Port 99999\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("ssh_config:2: Port"), "{text}");
    assert!(text.contains("not a port"), "{text}");
}

#[test]
fn a_named_config_that_is_missing_is_an_error_at_its_field() {
    let yaml = topology("      config: nowhere\n", "  - name: db1\n  - name: db2\n");
    let err = load_with(&yaml, "").unwrap_err();
    let item = &err.items[0];
    assert!(item.message.contains("cannot read SSH config"), "{item:?}");
    assert_eq!(item.path, "defaults.host.ssh.config");
    assert_eq!(item.location.map(|l| l.line), Some(6), "{item:?}");
}

#[test]
fn an_invalid_proxy_jump_in_the_topology_is_an_error_with_a_hint() {
    let yaml = topology(
        "      config: none\n      proxy_jump: \"root@:22\"\n",
        "  - name: db1\n  - name: db2\n",
    );
    let text = load_with(&yaml, "").unwrap_err().to_string();
    assert!(text.contains("invalid proxy_jump"), "{text}");
    assert!(text.contains("user@host:port"), "{text}");
}

#[test]
fn identity_file_tokens_are_expanded_as_ssh_expands_them() {
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let config = "Host db1\n HostName 10.0.2.11\nHost *\n User dba\n Port 2200\n \
                  IdentityFile /keys/%h/%n_%r_%p_%u%%\n UserKnownHostsFile %d/kh-%n\n";
    let t = load_with(&yaml, config).unwrap();
    let local = crate::topology::ssh_config::tokens::local_user();
    let home = crate::topology::ssh_config::tokens::local_home();
    let login = &t.hosts[0].ssh.login;
    let key = format!("/keys/10.0.2.11/db1_dba_2200_{local}%");
    assert_eq!(login.key.as_deref(), Some(Path::new(&key)));
    assert_eq!(login.known_hosts, Path::new(&format!("{home}/kh-db1")));
    let key = format!("/keys/db2/db2_dba_2200_{local}%");
    assert_eq!(t.hosts[1].ssh.login.key.as_deref(), Some(Path::new(&key)));
}

#[test]
fn a_proxy_command_route_is_refused_naming_the_line_the_host_and_what_to_do() {
    let yaml = topology("      config: ssh_config\n", "  - name: \"db[1:2]\"\n");
    let config = "Host db2\n  ProxyCommand ssh -W %h:%p gw\nHost *\n  ProxyJump gw\n";
    let text = load_with(&yaml, config).unwrap_err().to_string();
    assert!(text.contains("ssh_config:2:"), "{text}");
    assert!(
        text.contains("db2 is reached through `ProxyCommand ssh -W %h:%p gw`"),
        "{text}"
    );
    assert!(
        text.contains("ProxyJump") && text.contains("client: openssh"),
        "{text}"
    );
    // A jump host routed by a ProxyCommand is refused too.
    let config = "Host gw\n  ProxyCommand nc -X 5 %h %p\nHost db*\n  ProxyJump gw\n";
    let text = load_with(&yaml, config).unwrap_err().to_string();
    assert!(
        text.contains("gw is reached through `ProxyCommand"),
        "{text}"
    );
}

#[test]
fn proxy_command_none_or_a_route_written_in_the_topology_is_dialled_as_said() {
    let config = "Host db1\n  ProxyCommand none\nHost db*\n  ProxyCommand ssh -W %h:%p gw\n";
    let yaml = topology(
        "      config: ssh_config\n      proxy_jump: ops@gw\n",
        "  - name: db1\n  - name: db2\n",
    );
    let t = load_with(&yaml, config).unwrap();
    assert_eq!(t.hosts[1].ssh_route(), "root@db2:22 via ops@gw:22");
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n    ssh: { proxy_jump: none }\n",
    );
    let t = load_with(&yaml, config).unwrap();
    assert_eq!(t.hosts[0].ssh_route(), "root@db1:22");
}

#[test]
fn certificate_file_is_offered_per_host_with_its_tokens_expanded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ssh_config"),
        "Host db1\n  CertificateFile /certs/%h-%r-cert.pub\n",
    )
    .unwrap();
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let loaded = load_str_alone(&yaml, &dir.path().join("t.yaml")).unwrap();
    let text = loaded.warnings.to_string();
    assert!(!text.contains("CertificateFile"), "{text}");
    let logins: Vec<_> = loaded
        .topology
        .hosts
        .iter()
        .map(|h| h.ssh.login.certificate.clone())
        .collect();
    assert_eq!(
        logins,
        vec![Some("/certs/db1-root-cert.pub".into()), None],
        "only db1's block names a certificate"
    );
}

#[test]
fn a_jump_host_without_a_user_logs_in_as_the_local_user_as_ssh_does() {
    let config = "Host db*\n  User dba\n  ProxyJump gw,ops@gw2\n";
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let t = load_with(&yaml, config).unwrap();
    let local = crate::topology::ssh_config::tokens::local_user();
    let jumps = &t.hosts[0].ssh.jumps;
    assert_eq!(t.hosts[0].ssh.login.user, "dba");
    assert_eq!(jumps[0].login.user, local, "not the destination's user");
    assert_eq!(jumps[1].login.user, "ops");
    // A user written in the topology is the destination's, not the jump host's.
    let yaml = topology(
        "      config: none\n      user: admin\n      proxy_jump: gw\n",
        "  - name: db1\n  - name: db2\n",
    );
    let t = load_with(&yaml, "").unwrap();
    assert_eq!(
        t.hosts[0].ssh_route(),
        format!("admin@db1:22 via {local}@gw:22")
    );
}

#[test]
fn with_client_openssh_proxy_command_match_and_include_are_the_system_ssh_s_business() {
    let config = "Match host db1\n  User matched\nInclude extra\nHost db*\n  \
                  ProxyCommand ssh -W %h:%p gw\n  StrictHostKeyChecking no\n";
    let yaml = topology(
        "      config: ssh_config\n      client: openssh\n      user: ops\n",
        "  - name: db1\n  - name: db2\n    address: 10.0.2.12\n",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ssh_config"), config).unwrap();
    let loaded = load_str_alone(&yaml, &dir.path().join("t.yaml")).unwrap();
    assert!(
        loaded.warnings.to_string().is_empty(),
        "nothing warned as skipped: {}",
        loaded.warnings
    );
    let db2 = &loaded.topology.hosts[1];
    let client = db2.ssh.openssh.as_ref().expect("the system ssh");
    assert_eq!(
        client.destination, "10.0.2.12",
        "ssh resolves Host blocks itself"
    );
    assert_eq!(
        client.config.as_deref(),
        Some(dir.path().join("ssh_config").as_path())
    );
    assert_eq!(
        client.user.as_deref(),
        Some("ops"),
        "written in the topology"
    );
    assert_eq!(client.port, None, "left to ssh");
    assert!(
        db2.ssh.login.strict_host_key_checking,
        "strict unless the topology says otherwise, whatever the file says"
    );
    assert_eq!(db2.ssh.client(), "openssh");

    // The same file with the built-in client: refused and warned, naming the way out.
    let builtin = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let text = load_str_alone(&builtin, &dir.path().join("t.yaml"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("ssh_config:5:"), "{text}");
    assert!(text.contains("use `ssh: { client: openssh }`"), "{text}");
}

#[test]
fn an_unknown_client_is_refused_at_its_line() {
    let yaml = topology("      client: putty\n", "  - name: db1\n");
    let text = load_with(&yaml, CONFIG).unwrap_err().to_string();
    assert!(text.contains("putty") && text.contains("openssh"), "{text}");
    assert!(
        text.contains("t.yaml:6:15"),
        "the line of `client:`: {text}"
    );
}

#[test]
fn an_include_with_a_percent_token_that_matches_nothing_says_tokens_are_literal_there() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ssh_config"),
        format!("Include {}/%u.conf\n", dir.path().display()),
    )
    .unwrap();
    let yaml = topology(
        "      config: ssh_config\n",
        "  - name: db1\n  - name: db2\n",
    );
    let loaded = load_str_alone(&yaml, &dir.path().join("t.yaml")).unwrap();
    let text = loaded.warnings.to_string();
    assert!(
        text.contains("names no file") && text.contains("not expanded in `Include`"),
        "{text}"
    );
}
