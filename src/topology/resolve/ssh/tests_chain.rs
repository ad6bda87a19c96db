//! A jump host's own `ProxyJump`, followed as ssh follows it.

use crate::topology::load_str_alone;
use crate::topology::ssh_config::tokens::local_user;

fn load(config: &str, written_jump: &str) -> Result<crate::topology::Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ssh_config"), config).unwrap();
    let yaml = format!(
        "version: 1\nname: t\ndefaults:\n  host:\n    ssh:\n      config: ssh_config\n{written_jump}\
         hosts:\n  - name: db1\n  - name: db2\nsubsystems:\n  - {{ name: s, hosts: [\"db[1:2]\"] }}\n"
    );
    load_str_alone(&yaml, &dir.path().join("t.yaml")).map_err(|err| err.to_string())
}

#[test]
fn the_first_hop_s_own_proxy_jump_comes_before_it_recursively_and_later_hops_are_not_looked_up() {
    let config = "Host db*\n  ProxyJump mid,last\nHost mid\n  HostName 10.0.0.2\n  \
                  ProxyJump ops@outer\nHost outer\n  HostName 10.0.0.1\n  ProxyJump edge:2222\n\
                  Host last\n  HostName 10.0.0.3\n  User lastuser\n  ProxyJump never\n";
    let t = load(config, "").unwrap().topology;
    let local = local_user();
    assert_eq!(
        t.hosts[0].ssh_route(),
        format!(
            "root@db1:22 via {local}@edge:2222,ops@10.0.0.1:22,{local}@10.0.0.2:22,\
             lastuser@10.0.0.3:22"
        ),
        "edge, then outer (mid's own), then mid, then last (whose own ProxyJump ssh never reads)"
    );
    // The first hop of a route written in the topology is followed the same way.
    let t = load(config, "      proxy_jump: mid\n").unwrap().topology;
    assert_eq!(
        t.hosts[1].ssh_route(),
        format!("root@db2:22 via {local}@edge:2222,ops@10.0.0.1:22,{local}@10.0.0.2:22")
    );
}

#[test]
fn a_jump_host_matched_by_its_own_proxy_jump_is_a_loop_refused_with_a_hint() {
    // ssh itself would start ssh after ssh for ever here.
    let config = "Host *\n  ProxyJump bastion\nHost bastion\n  HostName 10.0.0.1\n";
    let err = load(config, "").unwrap_err();
    assert!(
        err.contains("the jump hosts loop: db1 <- bastion -> bastion"),
        "{err}"
    );
    assert!(err.contains("proxy_jump: none"), "{err}");
    let fixed = "Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n";
    let t = load(fixed, "").unwrap().topology;
    assert_eq!(t.hosts[0].ssh.jumps.len(), 1);
}

#[test]
fn a_proxy_command_matters_only_on_a_hop_whose_own_route_ssh_reads() {
    let config = "Host db*\n  ProxyJump a,b\nHost b\n  ProxyCommand nc gw %h %p\n";
    let t = load(config, "").unwrap().topology;
    assert_eq!(
        t.hosts[0].ssh.jumps.len(),
        2,
        "b is reached through a, as ssh -J a b does"
    );
    let config = "Host db*\n  ProxyJump a,b\nHost a\n  ProxyCommand nc gw %h %p\n";
    let err = load(config, "").unwrap_err();
    assert!(
        err.contains("a is reached through `ProxyCommand nc gw %h %p`"),
        "{err}"
    );
}
