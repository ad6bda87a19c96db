//! Topologies whose hosts come from Ansible inventories (`hosts_from:`): the hosts join the
//! topology's own, selectable by group, and every mistake is refused with both places.

use std::path::{Path, PathBuf};
use std::process::Command;

use blackstart::load::load_file;
use blackstart::scope::Scope;
use blackstart::topology::SecretSource;

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const INVENTORY: &str =
    "[web]\nweb[1:3] ansible_user=deploy\n[db]\ndb1 ansible_host=10.0.0.11 ansible_port=2201 \
                         blackstart_bmc_address=10.9.0.11 blackstart_label_role=primary\n\
                         [dc1:children]\nweb\ndb\n[dc1:vars]\nblackstart_datacenter=dc1\n";

fn topology(extra_hosts: &str, subsystems: &str) -> String {
    format!(
        "name: t\ndefaults:\n  host:\n    ssh: {{ key: id_ops }}\n    bmc: {{ password_env: BMC_PW }}\n\
         hosts_from:\n  - ansible: inventory.ini\nhosts:\n  - {{ name: cfg, address: 10.0.0.1, bmc: {{ address: 10.9.0.1 }} }}\n{extra_hosts}\
         subsystems:\n{subsystems}"
    )
}

#[test]
fn inventory_hosts_join_the_topology_and_are_selected_by_group() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inventory.ini", INVENTORY);
    let file = write(
        dir.path(),
        "t.yaml",
        &topology(
            "",
            "  - { name: config, hosts: [cfg] }\n  - name: web\n    select: { labels: { group.web: \"true\" } }\n    requires: [db]\n\
             \x20 - name: db\n    select: { datacenter: dc1, labels: { role: primary } }\n",
        ),
    );
    let topology = load_file(&file).unwrap_or_else(|d| panic!("{d}")).topology;
    let names: Vec<&str> = topology.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["cfg", "web1", "web2", "web3", "db1"]);
    let db1 = &topology.hosts[4];
    assert_eq!(db1.address, "10.0.0.11");
    assert_eq!(db1.ssh.login.port, 2201);
    assert_eq!(db1.ssh.login.user, "root", "no ansible_user: the default");
    assert_eq!(
        db1.ssh.login.key.as_deref(),
        Some(dir.path().join("id_ops").as_path())
    );
    assert_eq!(db1.datacenter.as_deref(), Some("dc1"));
    assert_eq!(db1.labels["group.dc1"], "true");
    let bmc = db1.bmc.as_ref().expect("a BMC from blackstart_bmc_address");
    assert_eq!(bmc.address, "10.9.0.11");
    assert_eq!(bmc.password, SecretSource::Env("BMC_PW".into()));
    assert_eq!(topology.hosts[1].ssh.login.user, "deploy");
    assert_eq!(topology.hosts[1].address, "web1");
    assert!(topology.hosts[1].bmc.is_none());
    let web = topology
        .subsystems
        .iter()
        .find(|s| s.name == "web")
        .unwrap();
    assert_eq!(web.hosts.len(), 3);
    let db = topology.subsystems.iter().find(|s| s.name == "db").unwrap();
    assert_eq!(db.hosts, [4]);
    // `--label group.web=true` picks the same hosts.
    let scope = Scope {
        labels: Scope::parse_labels(&["group.web=true".into()]).unwrap(),
        ..Scope::default()
    };
    let selection = scope.select(&topology).unwrap();
    let web_id = topology.subsystem_id("web").unwrap();
    let db_id = topology.subsystem_id("db").unwrap();
    assert_eq!(selection.hosts[web_id], [1, 2, 3]);
    assert!(selection.hosts[db_id].is_empty());
}

fn validate(dir: &Path, topology: &str, inventory: &str) -> (bool, String) {
    write(dir, "inventory.ini", inventory);
    let file = write(dir, "t.yaml", topology);
    let output = Command::new(BIN)
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code() == Some(2), text)
}

#[test]
fn a_host_in_both_the_topology_and_the_inventory_is_refused_naming_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let (refused, text) = validate(
        dir.path(),
        &topology(
            "  - name: \"web[2:4]\"\n    address: \"10.0.1.[2:4]\"\n",
            "  - { name: s, hosts: [cfg] }\n",
        ),
        INVENTORY,
    );
    assert!(refused, "{text}");
    assert!(
        text.contains("duplicate host \"web2\": declared under hosts[1] and at"),
        "{text}"
    );
    assert!(text.contains("inventory.ini:2"), "{text}");
    // Placed at the `hosts_from` entry of the topology.
    assert!(text.contains("t.yaml:7:"), "{text}");
}

#[test]
fn a_malformed_inventory_is_refused_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (refused, text) = validate(
        dir.path(),
        &topology("", "  - { name: s, hosts: [cfg] }\n"),
        "[web]\nweb1\n[web:children]\nnowhere\n[db]\ndb[9:1]\n",
    );
    assert!(refused, "{text}");
    assert!(
        text.contains("inventory.ini:6: range [9:1] runs backwards"),
        "{text}"
    );
    assert!(
        text.contains("inventory.ini:4: group \"nowhere\""),
        "{text}"
    );
    let (refused, text) = validate(
        dir.path(),
        &topology("", "  - { name: s, hosts: [cfg] }\n"),
        "[web]\nweb1 ansible_host=\"not an address\"\nweb2 ansible_port=99999\n",
    );
    assert!(refused, "{text}");
    assert!(
        text.contains("inventory.ini:2: host \"web1\": invalid address"),
        "{text}"
    );
    assert!(
        text.contains("inventory.ini:3: host \"web2\": ansible_port"),
        "{text}"
    );
}

#[test]
fn a_missing_inventory_or_an_empty_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.yaml",
        "name: t\nhosts_from:\n  - ansible: missing.ini\n  - {}\nhosts: [{ name: a }]\nsubsystems: [{ name: s, hosts: [a] }]\n",
    );
    let text = load_file(&file).expect_err("refused").to_string();
    assert!(text.contains("cannot read"), "{text}");
    assert!(text.contains("missing.ini"), "{text}");
    assert!(text.contains("a host source without a kind"), "{text}");
}

fn import(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["import", "ansible"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn import_ansible_writes_a_skeleton_that_validates_and_a_json_dump_of_what_was_read() {
    for inventory in ["tests/ansible/site.ini", "tests/ansible/site.yaml"] {
        let output = import(&[inventory]);
        assert!(output.status.success(), "{output:?}");
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "skeleton.yaml",
            &String::from_utf8_lossy(&output.stdout),
        );
        let topology = load_file(&file).unwrap_or_else(|d| panic!("{d}")).topology;
        let json = import(&[inventory, "--format", "json"]);
        assert!(json.status.success(), "{json:?}");
        let read: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let hosts = read["hosts"].as_array().unwrap();
        assert_eq!(topology.hosts.len(), hosts.len(), "{inventory}");
        let canary = hosts.iter().find(|h| h["name"] == "web-canary").unwrap();
        assert_eq!(canary["vars"]["ansible_host"], "192.0.2.40");
        let host = topology
            .hosts
            .iter()
            .find(|h| h.name == "web-canary")
            .unwrap();
        assert_eq!(
            (host.address.as_str(), host.ssh.login.port),
            ("192.0.2.40", 2222)
        );
        assert_eq!(host.ssh.login.user, "canary ops");
    }
}

#[test]
fn import_ansible_refuses_a_malformed_inventory_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.ini", "[web]\nweb1\n[web:oops]\n");
    let output = import(&[file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("bad.ini:3"), "{text}");
    assert!(text.contains("unknown type"), "{text}");
}

#[test]
fn users_and_addresses_from_group_vars_host_vars_and_legacy_variables_reach_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("group_vars/web")).unwrap();
    std::fs::create_dir_all(dir.path().join("host_vars")).unwrap();
    write(
        dir.path(),
        "inventory.ini",
        "[web]\nweb[1:2]\n[db]\ndb1 ansible_ssh_host=10.0.0.11 ansible_ssh_port=2201 ansible_ssh_user=dba\n",
    );
    write(dir.path(), "group_vars/all.yml", "ansible_user: deploy\n");
    write(dir.path(), "group_vars/web/ssh.yml", "ansible_port: 2222\n");
    write(
        dir.path(),
        "host_vars/web2.yaml",
        "ansible_host: 10.0.0.22\n",
    );
    let file = write(
        dir.path(),
        "t.yaml",
        &topology("", "  - { name: all, hosts: [cfg, \"web[1:2]\", db1] }\n"),
    );
    let loaded = load_file(&file).unwrap_or_else(|d| panic!("{d}"));
    assert!(
        !loaded.warnings.to_string().contains("not read"),
        "{}",
        loaded.warnings
    );
    let route = |name: &str| {
        let host = loaded
            .topology
            .hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap();
        host.ssh_route()
    };
    assert_eq!(route("web1"), "deploy@web1:2222");
    assert_eq!(route("web2"), "deploy@10.0.0.22:2222");
    // The legacy names give db1 its address and port; for the user the modern name set in
    // group_vars/all wins, as ansible-core takes the first of ansible_user, ansible_ssh_user.
    assert_eq!(route("db1"), "deploy@10.0.0.11:2201");
}

#[test]
fn import_ansible_reads_group_vars_and_names_a_broken_vars_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
    let inventory = write(dir.path(), "hosts.ini", "[k8s]\nnode1\n");
    write(dir.path(), "group_vars/all.yml", "ansible_user: ubuntu\n");
    let output = import(&[inventory.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let skeleton = String::from_utf8_lossy(&output.stdout);
    assert!(skeleton.contains("user: \"ubuntu\""), "{skeleton}");
    let broken = write(
        dir.path(),
        "group_vars/k8s.yml",
        "ansible_port: 22\n  bad: [\n",
    );
    let output = import(&[inventory.to_str().unwrap()]);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let place = format!("{}:2", broken.display());
    assert!(stderr.contains(&place), "{stderr}");
}
