//! `blackstart import ansible`: a topology skeleton written from an inventory. Every host
//! with its address, SSH port and user, placement, BMC address and labels; one subsystem
//! that only checks each host answers over SSH (so the file validates as it is); and, as
//! comments, one subsystem per group to start from.

use std::fmt::Write as _;

use super::{Inventory, InventoryHost, Level, Problem};
use crate::topology::{hostrange, names};

/// Quoted for YAML: a JSON string is a valid YAML double-quoted scalar.
fn q(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The skeleton of a topology named `name` for `inventory`, read from `source` (the path as
/// the user gave it, repeated in the header).
pub fn skeleton(inventory: &Inventory, source: &str, name: &str) -> String {
    let mut out = String::new();
    let groups: Vec<_> = inventory
        .groups
        .iter()
        .filter(|g| g.name != "all" && !(g.name == "ungrouped" && g.hosts.is_empty()))
        .collect();
    let _ = writeln!(
        out,
        "# Written by `blackstart import ansible {source}`: {} hosts, {} groups.\n\
         # Review it, then replace the first subsystem with real ones (one per group is sketched\n\
         # below). To keep reading hosts from the inventory instead of this copy, remove `hosts:`\n\
         # and write `hosts_from: [{{ ansible: {} }}]`.",
        inventory.hosts.len(),
        groups.len(),
        q(source)
    );
    let _ = writeln!(out, "version: 1\nname: {}", q(name));
    out.push_str("hosts:\n");
    for host in &inventory.hosts {
        write_host(&mut out, host);
    }
    let names = hostrange::compress(inventory.hosts.iter().map(|h| h.name.as_str()));
    let names: Vec<String> = names.iter().map(|n| q(n)).collect();
    let _ = writeln!(
        out,
        "subsystems:\n  # Every host answers over SSH: a first step that checks nothing else.\n  \
         - name: reachable\n    hosts: [{}]\n    health: {{ command: \"true\" }}",
        names.join(", ")
    );
    for group in groups {
        let label = q(&format!("group.{}", group.name));
        let count = inventory
            .hosts
            .iter()
            .filter(|h| h.groups.contains(&group.name))
            .count();
        let _ = writeln!(
            out,
            "  # - name: {}    # group {}: {count} host(s)\n  #   select: {{ labels: {{ {label}: \"true\" }} }}\n  \
             #   start: \"systemctl start SERVICE\"\n  #   health: {{ tcp: PORT }}\n  #   requires: []",
            q(&group.name),
            group.name,
        );
    }
    out
}

/// Why no topology can be written from `inventory`, if it cannot: no hosts, or a host whose
/// name or address a topology refuses. Each at the host's line, with what to change.
pub fn refusals(inventory: &Inventory) -> Vec<Problem> {
    let problem = |line: usize, message: String, hint: &str| Problem {
        level: Level::Error,
        line,
        message,
        hint: Some(hint.to_string()),
        file: None,
    };
    if inventory.hosts.is_empty() {
        return vec![problem(
            1,
            "the inventory declares no hosts: a topology needs at least one".into(),
            "check this is the inventory you meant (`ansible-inventory -i FILE --list` shows the same), or add hosts",
        )];
    }
    let mut found = Vec::new();
    for host in &inventory.hosts {
        if let Some(why) = names::name_problem(&host.name) {
            found.push(problem(
                host.line,
                format!(
                    "host name {:?} cannot name a topology host: {why}",
                    host.name
                ),
                "rename the host in the inventory",
            ));
            continue;
        }
        let (address, from) = match host.address() {
            Some(address) => (address, "its ansible_host"),
            None => (host.name.clone(), "its name (it has no ansible_host)"),
        };
        if let Some(why) = names::address_problem(&address) {
            found.push(problem(
                host.line,
                format!(
                    "host {:?}: {from} {address:?} cannot be an address: {why}",
                    host.name
                ),
                "give the host `ansible_host=IP-OR-ASCII-NAME` in the inventory",
            ));
        }
    }
    found
}

fn write_host(out: &mut String, host: &InventoryHost) {
    let _ = writeln!(out, "  - name: {}", q(&host.name));
    if let Some(address) = host.address() {
        let _ = writeln!(out, "    address: {}", q(&address));
    }
    let mut ssh = Vec::new();
    if let Some(user) = host.user() {
        ssh.push(format!("user: {}", q(&user)));
    }
    match host.port() {
        Ok(Some(port)) => ssh.push(format!("port: {port}")),
        Ok(None) => {}
        Err(why) => {
            let _ = writeln!(out, "    # {}: left out", why.replace('\n', " "));
        }
    }
    if !ssh.is_empty() {
        let _ = writeln!(out, "    ssh: {{ {} }}", ssh.join(", "));
    }
    for (field, var) in [
        ("datacenter", "blackstart_datacenter"),
        ("rack", "blackstart_rack"),
        ("power_domain", "blackstart_power_domain"),
    ] {
        if let Some(value) = host.text_var(var) {
            let _ = writeln!(out, "    {field}: {}", q(&value));
        }
    }
    if let Some(bmc) = host.text_var("blackstart_bmc_address") {
        // The password is read from this variable at run time, never written here.
        let _ = writeln!(
            out,
            "    bmc: {{ address: {}, password_env: BMC_PASSWORD }}",
            q(&bmc)
        );
    }
    let mut labels: Vec<String> = host
        .groups
        .iter()
        .map(|g| format!("{}: \"true\"", q(&format!("group.{g}"))))
        .collect();
    for (key, value) in &host.vars {
        if let Some(label) = key.strip_prefix("blackstart_label_") {
            if super::withheld::is_secret_name(key) || super::withheld::is_vaulted(value) {
                let _ = writeln!(
                    out,
                    "    # label {}: {}",
                    q(label),
                    super::withheld::WITHHELD_NAME
                );
                continue;
            }
            if let Some(value) = super::scalar_text(value) {
                labels.push(format!("{}: {}", q(label), q(&value)));
            }
        }
    }
    if !labels.is_empty() {
        let _ = writeln!(out, "    labels: {{ {} }}", labels.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::skeleton;
    use crate::topology::ansible::{parse, Format};
    use crate::topology::load_str_alone;

    #[test]
    fn the_skeleton_validates_and_keeps_every_host_and_its_connection() {
        let inventory = parse(
            "solo ansible_host=10.0.0.5\n[web]\nweb[01:03] ansible_user=deploy\nweb-x:2222 ansible_port=70000\n\
             [db]\ndb1 blackstart_bmc_address=10.9.0.1 blackstart_label_role=primary blackstart_datacenter=dc1\n\
             [dc:children]\nweb\ndb\n[dc:vars]\nansible_port=2200\n",
            Some(Format::Ini),
        )
        .unwrap();
        let text = skeleton(&inventory, "inv.ini", "site");
        let loaded =
            load_str_alone(&text, Path::new("t.yaml")).unwrap_or_else(|d| panic!("{d}\n{text}"));
        let topology = loaded.topology;
        assert_eq!(topology.hosts.len(), 6, "{text}");
        let web02 = topology.hosts.iter().find(|h| h.name == "web02").unwrap();
        assert_eq!(
            (web02.ssh.login.user.as_str(), web02.ssh.login.port),
            ("deploy", 2200)
        );
        assert_eq!(web02.labels["group.dc"], "true");
        let db1 = topology.hosts.iter().find(|h| h.name == "db1").unwrap();
        assert_eq!(db1.bmc.as_ref().unwrap().address, "10.9.0.1");
        assert_eq!(db1.labels["role"], "primary");
        assert_eq!(db1.datacenter.as_deref(), Some("dc1"));
        assert_eq!(topology.subsystems[0].hosts.len(), 6);
        assert!(
            text.contains("#   select: { labels: { \"group.web\": \"true\" } }"),
            "{text}"
        );
        assert!(text.contains("is not a port"), "{text}");
    }
}
