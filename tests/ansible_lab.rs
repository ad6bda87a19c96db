//! Ansible inventories read by blackstart against what the real `ansible-inventory --list`
//! (ansible-core, installed by the lab script into target/lab-venv) reads from the same
//! files: the same hosts, the same groups for each (children followed), and the same merged
//! `ansible_host`, `ansible_port` and `ansible_user`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use blackstart::topology::ansible::{self, InventoryHost};
use serde_json::Value;
use support::redfish::venv;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ansible")
        .join(name)
}

/// What Ansible knows of one host, in the terms compared.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    groups: BTreeSet<String>,
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
}

/// Runs the real `ansible-inventory -i FILE --list`, with Ansible's state kept in a
/// scratch directory. Fails loudly when the lab script has not installed ansible-core.
fn ansible_list(file: &Path) -> Value {
    let binary = venv().join("bin/ansible-inventory");
    assert!(
        binary.exists(),
        "{} is missing: run `bash tests/install-lab-packages.sh` (it installs ansible-core into the lab's virtual environment)",
        binary.display()
    );
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(&binary)
        .args(["-i"])
        .arg(file)
        .arg("--list")
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path().join("tmp"))
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-inventory runs");
    assert!(
        output.status.success(),
        "ansible-inventory refused {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("ansible-inventory prints JSON")
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Each host of `ansible-inventory --list`: its groups (direct ones and their ancestors,
/// `all` left out) and its merged connection variables.
fn seen_by_ansible(list: &Value) -> BTreeMap<String, Seen> {
    let object = list.as_object().expect("an object");
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut direct: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (group, body) in object.iter().filter(|(name, _)| *name != "_meta") {
        for child in body["children"].as_array().into_iter().flatten() {
            let child = child.as_str().unwrap().to_string();
            parents.entry(child).or_default().push(group.clone());
        }
        for host in body["hosts"].as_array().into_iter().flatten() {
            let host = host.as_str().unwrap().to_string();
            direct.entry(host).or_default().push(group.clone());
        }
    }
    let hostvars = list["_meta"]["hostvars"].as_object().expect("hostvars");
    let mut seen = BTreeMap::new();
    for (host, groups) in &direct {
        let mut all_groups = BTreeSet::new();
        let mut pending = groups.clone();
        // Bounded: each group is expanded once.
        while let Some(group) = pending.pop() {
            if all_groups.insert(group.clone()) {
                pending.extend(parents.get(&group).cloned().unwrap_or_default());
            }
        }
        all_groups.remove("all");
        let vars = hostvars.get(host);
        let var = |name: &str| text(vars.and_then(|vars| vars.get(name)));
        seen.insert(
            host.clone(),
            Seen {
                groups: all_groups,
                host: var("ansible_host"),
                port: var("ansible_port"),
                user: var("ansible_user"),
            },
        );
    }
    seen
}

fn seen_by_blackstart(hosts: &[InventoryHost]) -> BTreeMap<String, Seen> {
    hosts
        .iter()
        .map(|host| {
            (
                host.name.clone(),
                Seen {
                    groups: host.groups.iter().cloned().collect(),
                    host: host.address(),
                    port: host.port().expect("a port").map(|p| p.to_string()),
                    user: host.user(),
                },
            )
        })
        .collect()
}

fn assert_reads_like_ansible(name: &str, expected_hosts: usize) {
    assert_file_reads_like_ansible(&fixture(name), name, expected_hosts);
}

fn assert_file_reads_like_ansible(file: &Path, name: &str, expected_hosts: usize) {
    let file = file.to_path_buf();
    let theirs = seen_by_ansible(&ansible_list(&file));
    let ours = seen_by_blackstart(&ansible::load(&file).expect("blackstart reads it").hosts);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "{name}: the same hosts"
    );
    for (host, seen) in &theirs {
        assert_eq!(&ours[host], seen, "{name}: host {host}");
    }
    assert_eq!(ours.len(), expected_hosts, "{name}: ranges expanded");
}

#[test]
fn an_ini_inventory_with_ranges_nested_children_and_group_vars_reads_as_ansible_reads_it() {
    assert_reads_like_ansible("site.ini", 17);
}

#[test]
fn a_yaml_inventory_with_groups_named_twice_and_priorities_reads_as_ansible_reads_it() {
    assert_reads_like_ansible("site.yaml", 18);
}

#[test]
fn an_inventory_without_extension_is_read_as_ini_as_ansible_does() {
    assert_reads_like_ansible("bare", 4);
}

/// `group_vars/` and `host_vars/` beside the inventory, as files and as a directory: the
/// user, port and address Ansible merges from them are the ones blackstart reads.
#[test]
fn group_vars_and_host_vars_beside_the_inventory_merge_as_ansible_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "hosts.ini",
        "[web]\nweb1 ansible_host=10.0.0.1\nweb2\n[db]\ndb1 ansible_port=2200\n[prod:children]\nweb\ndb\n",
    );
    write(
        "group_vars/all.yml",
        "ansible_user: deploy\nansible_port: 22\n",
    );
    write("group_vars/prod.yaml", "ansible_port: 2022\n");
    write("group_vars/web/connection.yml", "ansible_port: 2222\n");
    write("group_vars/web/other.yml", "unrelated: 1\n");
    write(
        "host_vars/web2.yml",
        "ansible_user: webadmin\nansible_host: 10.0.0.2\n",
    );
    write("host_vars/db1", "ansible_host: 10.0.1.1\n");
    assert_file_reads_like_ansible(&root.join("hosts.ini"), "hosts.ini with vars", 3);
}

/// Every range form Ansible reads, INI and YAML: an omitted start (`mail[:5]` is
/// mail0..mail5), zero padding, letters, steps, and two ranges in one name.
#[test]
fn every_range_form_expands_as_ansible_expands_it() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("ranges.ini");
    std::fs::write(
        &ini,
        "mail[:5]\n[web]\nweb[01:10].dc1\n[rack]\nrack-[a:c]\n[odd]\nodd[1:10:2] ansible_port=2201\n[grid]\nn[:1]-[x:y]\n",
    )
    .unwrap();
    assert_file_reads_like_ansible(&ini, "ranges.ini", 6 + 10 + 3 + 5 + 4);
    let yaml = dir.path().join("ranges.yaml");
    std::fs::write(
        &yaml,
        "all:\n  hosts:\n    \"mail[:5]\":\n  children:\n    web:\n      hosts:\n        \"web[01:10].dc1\":\n          ansible_user: ops\n    odd:\n      hosts:\n        \"odd[1:10:2]\":\n",
    )
    .unwrap();
    assert_file_reads_like_ansible(&yaml, "ranges.yaml", 6 + 10 + 5);
}

/// INI values are Python literals to Ansible (`ast.literal_eval`, text when not one): every
/// variable of every host comes out as the same JSON from both.
#[test]
fn ini_values_are_the_python_literals_ansible_makes_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("values.ini");
    std::fs::write(
        &ini,
        concat!(
            "[web]\n",
            "w1 ports=\"[80, 443]\" ratio=1.5 big=1e3 neg=-7 on=True off=False none=None text=web01 ip=10.0.0.1\n",
            "w2 octal=010 under=1_000 hex=0x1f tuple=\"(1, 'a')\" d=\"{'a': [1, {'b': 2.5}]}\" lower=true quoted='x y'\n",
            "[web:vars]\n",
            "list = ['a', \"b\", 3]\n",
            "spaced = some words here\n",
            "escaped = 'it\\'s'\n",
            "port = 22 # a comment\n",
            "float = .5\n",
        ),
    )
    .unwrap();
    let list = ansible_list(&ini);
    let ours = ansible::load(&ini).expect("blackstart reads it");
    for host in &ours.hosts {
        let theirs = &list["_meta"]["hostvars"][&host.name];
        let ours: serde_json::Map<String, Value> = host.vars.clone().into_iter().collect();
        assert_eq!(&Value::Object(ours), theirs, "host {}", host.name);
    }
    assert_eq!(ours.hosts.len(), 2);
}

#[test]
fn a_group_loop_is_refused_by_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loop.ini");
    std::fs::write(&file, "[a:children]\nb\n[b:children]\na\n[a]\nh\n[b]\n").unwrap();
    let binary = venv().join("bin/ansible-inventory");
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(&binary)
        .arg("-i")
        .arg(&file)
        .arg("--list")
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .output()
        .expect("ansible-inventory runs");
    assert!(!output.status.success(), "ansible accepts a loop?");
    assert!(String::from_utf8_lossy(&output.stderr).contains("recursive dependency loop"));
    match ansible::load(&file) {
        Err(ansible::LoadError::Invalid { problems, .. }) => {
            assert!(problems[0].message.contains("a -> b -> a"), "{problems:?}");
            assert_eq!(problems[0].line, 4);
        }
        other => panic!("a loop was not refused: {other:?}"),
    }
}
