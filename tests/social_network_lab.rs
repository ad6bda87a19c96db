//! Incident 1 (a social network's whole fleet down, INCIDENTS.md) on the lab: a copy-shaped
//! small `topologies/social-network.yaml` on twelve real sshd hosts with ipmi_sim BMCs, all
//! off at start, running stand-in services (`tests/social_network/services.py`, driven
//! through `tests/social_network/fixture.rs`) that log what they saw. Each test is one
//! lesson of the incident, asserted from the journal and from the services.

#[path = "social_network/fixture.rs"]
mod fixture;
mod support;

use blackstart::event::{Action, Event};
use blackstart::journal::{Entry, Record};
use fixture::{
    ssh_ready, Shape, SocialNetwork, CLUSTER_STORE, CONFIG, DATABASE, HOSTS, LOOPING_LINE, QUICK,
    SPARE, WEB,
};
use support::cli::{read_journal, ready_times, run_in, step_results, step_starts, text, wall};

/// Milliseconds of every Start of `step`, sorted.
fn start_ms(records: &[Record], step: &str) -> Vec<u64> {
    let mut ms: Vec<u64> = step_starts(records, step)
        .iter()
        .map(|(_, _, r)| r.t_ms)
        .collect();
    ms.sort_unstable();
    ms
}

/// The hosts `step` was started on, with the attempt, sorted.
fn started_on(records: &[Record], step: &str) -> Vec<(String, u32)> {
    let mut on: Vec<(String, u32)> = step_starts(records, step)
        .into_iter()
        .map(|(host, attempt, _)| (host, attempt))
        .collect();
    on.sort();
    on
}

fn once_on(net: &SocialNetwork, indices: &[usize]) -> Vec<(String, u32)> {
    let mut on: Vec<(String, u32)> = indices
        .iter()
        .map(|&i| (net.lab.hosts[i].name.clone(), 1))
        .collect();
    on.sort();
    on
}

#[test]
fn the_config_cycle_is_broken_by_its_bootstrap_snapshot_started_first() {
    let net = SocialNetwork::start("sa", (104, 1));
    let topology = net.topology(&QUICK);
    let run_dir = net.lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    // Nothing was started twice anywhere: no attempt past the first.
    let retried: Vec<String> = records
        .iter()
        .filter(|r| matches!(&r.entry, Entry::Action { action: Action::Start { attempt, .. }, .. } if *attempt > 1))
        .map(|r| r.entry.label())
        .collect();
    assert!(retried.is_empty(), "{retried:?}");
    cycle_order_in_the_journal(&net, &records);
    cycle_as_the_hosts_saw_it(&net);
    refused_without_the_bootstrap_mode(&net, &topology);
}

/// The journal of a run of the cycle: snapshot, store quorum, real config, each once.
fn cycle_order_in_the_journal(net: &SocialNetwork, records: &[Record]) {
    // Each mode started once per host, the cluster-store once per member.
    assert_eq!(
        started_on(records, "config@bootstrap"),
        once_on(net, &CONFIG)
    );
    assert_eq!(
        started_on(records, "cluster-store"),
        once_on(net, &CLUSTER_STORE)
    );
    assert_eq!(started_on(records, "config"), once_on(net, &CONFIG));
    // The order the cycle allows: snapshot ready, then the store, then the real service.
    let ready = ready_times(records);
    let store = start_ms(records, "cluster-store");
    let config = start_ms(records, "config");
    assert!(
        *start_ms(records, "config@bootstrap").last().unwrap() < store[0]
            && ready["config@bootstrap"] <= store[0],
        "the store started after the snapshot served: {ready:?} {store:?}"
    );
    let store_ok: Vec<u64> = step_results(records, "cluster-store")
        .iter()
        .map(|(_, _, r)| r.t_ms)
        .collect();
    assert!(
        store_ok.len() == 3 && ready["cluster-store"] <= config[0],
        "config started once the store had its quorum (2 of 3): {ready:?} {config:?}"
    );
    assert!(
        store_ok.iter().filter(|&&at| at <= config[0]).count() >= 2,
        "two store members healthy before config started: {store_ok:?} {config:?}"
    );
}

/// What the services logged during a run of the cycle.
fn cycle_as_the_hosts_saw_it(net: &SocialNetwork) {
    // What the hosts saw: on each config host the snapshot served, was stopped, and only
    // then did the real service start; the store's quorum started in between.
    let seen = net.seen();
    let first_snapshot = CONFIG
        .iter()
        .map(|&i| net.started("config-snapshot", i)[0])
        .fold(f64::MAX, f64::min);
    for &i in &CONFIG {
        let address = &net.lab.hosts[i].address;
        let snapshot = net.started("config-snapshot", i);
        let real = net.started("config", i);
        assert_eq!((snapshot.len(), real.len()), (1, 1), "{seen:?}");
        let stopped = seen
            .iter()
            .find(|s| {
                s.what == "stopped" && s.service == "config-snapshot" && s.address == *address
            })
            .unwrap_or_else(|| panic!("the snapshot on {address} was stopped: {seen:?}"));
        assert!(
            snapshot[0] < stopped.at && stopped.at <= real[0],
            "{seen:?}"
        );
        assert_eq!(net.answer(i, 7000).as_deref(), Some("serving"));
        assert_eq!(net.answer(i, 7001), None, "the snapshot no longer serves");
    }
    let first_real = CONFIG
        .iter()
        .map(|&i| net.started("config", i)[0])
        .fold(f64::MAX, f64::min);
    // The cycle is real: the store's first members read their peers from a config host's
    // snapshot (the real config was not up yet), each config host from the store.
    assert!(!seen.iter().any(|s| s.what == "no-peers"), "{seen:?}");
    for (service, hosts) in [("cluster-store", &CLUSTER_STORE), ("config", &CONFIG)] {
        for &i in hosts {
            let address = &net.lab.hosts[i].address;
            let found = seen.iter().position(|s| {
                s.what == "found-peers" && s.service == service && s.address == *address
            });
            let started = seen
                .iter()
                .position(|s| s.what == "start" && s.service == service && s.address == *address);
            assert!(
                found.is_some() && found < started,
                "{service} on {address} found its peers, then started: {seen:?}"
            );
        }
    }
    let store_peers: Vec<&str> = seen
        .iter()
        .filter(|s| s.what == "found-peers" && s.service == "cluster-store")
        .filter_map(|s| s.from.as_deref())
        .collect();
    assert!(
        store_peers[0].ends_with(":7001/snapshot/health"),
        "the first store member found its peers in the snapshot: {store_peers:?}"
    );
    let mut store: Vec<f64> = Vec::new();
    for &i in &CLUSTER_STORE {
        let started = net.started("cluster-store", i);
        assert_eq!(started.len(), 1, "{seen:?}");
        store.extend(started);
    }
    store.sort_by(f64::total_cmp);
    assert!(
        store[0] > first_snapshot && store[1] < first_real,
        "the store's quorum started between the snapshot and the real config: {seen:?}"
    );
    assert_eq!(net.answer(WEB, 7080).as_deref(), Some("ok"));
}

/// The lab topology with its bootstrap mode cut out is refused by `validate`, cycle named.
fn refused_without_the_bootstrap_mode(net: &SocialNetwork, topology: &std::path::Path) {
    // Without the bootstrap mode the same topology is refused: the cycle, with its path.
    let yaml = std::fs::read_to_string(topology).unwrap();
    let cut_from = yaml.find("    bootstrap:\n").expect("the bootstrap block");
    let cut_to = cut_from + yaml[cut_from..].find("  - name: cluster-store").unwrap();
    let cyclic = format!("{}{}", &yaml[..cut_from], &yaml[cut_to..]).replacen(
        "{ name: config, bootstrap: true }",
        "config",
        1,
    );
    assert!(!cyclic.contains("bootstrap"));
    let cyclic_path = net.lab.dir.join("cyclic.yaml");
    std::fs::write(&cyclic_path, cyclic).unwrap();
    let output = support::cli::blackstart(&["validate", cyclic_path.to_str().unwrap()]);
    let shown = text(&output);
    assert_ne!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("config -> cluster-store -> config")
            || shown.contains("cluster-store -> config -> cluster-store"),
        "the cycle named: {shown}"
    );
}

#[test]
fn quorum_holds_with_a_dead_database_disk_and_the_spare_takes_its_place() {
    let net = SocialNetwork::start("sb", (104, 3));
    let dead = DATABASE[2];
    net.kill_disk(dead);
    let topology = net.topology(&QUICK);
    let run_dir = net.lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(
        output.status.code(),
        Some(0),
        "two of three and the spare: {}",
        text(&output)
    );
    let records = read_journal(&run_dir);
    let name = |i: usize| net.lab.hosts[i].name.clone();

    // The dead host was switched on and never answered; the spare ran the shard instead.
    let ssh = ssh_ready(&records);
    let gave_up = records
        .iter()
        .find(|r| {
            matches!(&r.entry, Entry::Event { event: Event::SshReady { result: Err(_), .. }, host: Some(h), .. } if *h == name(dead))
        })
        .unwrap_or_else(|| panic!("{} never answered: {ssh:?}", name(dead)));
    assert!(ssh[&name(dead)].is_err(), "{ssh:?}");
    assert_eq!(
        started_on(&records, "user-db-shard-01"),
        once_on(&net, &[DATABASE[0], DATABASE[1], SPARE])
    );
    let results = step_results(&records, "user-db-shard-01");
    assert!(
        results.len() == 3 && results.iter().all(|(_, result, _)| result.is_ok()),
        "{results:?}"
    );
    let spare_power_on = records
        .iter()
        .find(|r| {
            matches!(&r.entry, Entry::Action { action: Action::PowerOn { .. }, host: Some(h), .. } if *h == name(SPARE))
        })
        .expect("the spare was switched on");
    assert!(
        spare_power_on.t_ms >= gave_up.t_ms,
        "the spare was switched on only once the dead host was given up on"
    );

    // Dependents started once the quorum (2 of 3) held, not before.
    let mut healthy: Vec<u64> = results.iter().map(|(_, _, r)| r.t_ms).collect();
    healthy.sort_unstable();
    let web = start_ms(&records, "web");
    assert_eq!(web.len(), 1);
    let ready = ready_times(&records);
    assert!(
        web[0] >= healthy[1] && web[0] >= ready["user-db-shard-01"],
        "web started at {} ms, the shard's second healthy member at {} ms",
        web[0],
        healthy[1]
    );

    // What the fleet saw: nothing ran on the dead host; the spare serves the shard.
    let dead_address = &net.lab.hosts[dead].address;
    let seen = net.seen();
    assert!(!seen.iter().any(|s| s.address == *dead_address), "{seen:?}");
    assert_eq!(net.started("user-db-01", SPARE).len(), 1, "{seen:?}");
    assert_eq!(net.answer(SPARE, 7306).as_deref(), Some("alive"));
    for &i in &DATABASE[..2] {
        assert_eq!(net.answer(i, 7306).as_deref(), Some("alive"));
    }
    assert_eq!(net.answer(WEB, 7080).as_deref(), Some("ok"));
}

#[test]
fn a_slow_but_progressing_config_service_is_started_once_and_never_restarted() {
    let net = SocialNetwork::start("sc", (104, 5));
    // Four seconds of reading cluster descriptions, against a one-second ready timeout.
    let slow = Shape {
        config_load_s: 4.0,
        config_ready_timeout: "1s",
        config_progress: true,
    };
    let topology = net.topology(&slow);
    let run_dir = net.lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    assert_eq!(started_on(&records, "config"), once_on(&net, &CONFIG));
    for (host, result, record) in step_results(&records, "config") {
        let took = match &record.entry {
            Entry::Event { duration_ms, .. } => *duration_ms,
            _ => unreachable!(),
        };
        assert!(result.is_ok(), "{host}: {result:?}");
        assert!(
            took >= 3500,
            "{host}: healthy after {took} ms, past the 1 s timeout"
        );
    }
    for &i in &CONFIG {
        assert_eq!(net.started("config", i).len(), 1, "{:?}", net.seen());
        let loaded = net.loaded("config", i);
        let expected: Vec<String> = (1..=40).map(|n| format!("loaded {n}")).collect();
        assert_eq!(loaded, expected, "read in once, never started over");
        assert_eq!(net.answer(i, 7000).as_deref(), Some("serving"));
    }
    assert_eq!(net.answer(WEB, 7080).as_deref(), Some("ok"));

    // The incident's mistake on the same fleet: without the progress probe the slow hosts
    // look dead, are restarted, lose what they had read, and nothing behind them starts.
    for index in 0..HOSTS {
        net.lab.power_off(index);
    }
    let blind = net.topology(&Shape {
        config_progress: false,
        ..slow
    });
    let run_dir = net.lab.dir.join("run-blind");
    let output = run_in(&blind, &run_dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let records = read_journal(&run_dir);
    let attempts = started_on(&records, "config");
    for &i in &CONFIG {
        let name = &net.lab.hosts[i].name;
        assert!(
            attempts.contains(&(name.clone(), 2)),
            "{name} restarted: {attempts:?}"
        );
        assert!(net.started("config", i).len() >= 3, "{:?}", net.seen());
    }
    assert!(
        start_ms(&records, "web").is_empty(),
        "nothing behind config started"
    );
}

#[test]
fn the_looping_line_is_removed_on_every_host_before_its_services_start() {
    let net = SocialNetwork::start("sd", (104, 7));
    net.plant_looping_line();
    let topology = net.topology(&QUICK);

    // Without the preparation step the services refuse: the line is what broke the fleet.
    let run_dir = net.lab.dir.join("run-unprepared");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let seen = net.seen();
    assert!(
        seen.iter().any(|s| s.what == "refused") && !seen.iter().any(|s| s.what == "start"),
        "{seen:?}"
    );

    let playbook = net.full_outage_playbook(&topology);
    let run_dir = net.lab.dir.join("run");
    let before = net.seen().len();
    let output = run_in(&playbook, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    let seen = net.seen()[before..].to_vec();
    assert!(!seen.iter().any(|s| s.what == "refused"), "{seen:?}");

    for index in 0..HOSTS {
        prepared_before_started(&net, index, &records, &seen);
    }
    assert_eq!(net.answer(WEB, 7080).as_deref(), Some("ok"));
}

/// Host `index`'s profile lost only the looping line, and nothing started on it before its
/// preparation finished (journal) or before the line was gone (what the services saw).
fn prepared_before_started(
    net: &SocialNetwork,
    index: usize,
    records: &[Record],
    seen: &[fixture::Seen],
) {
    let ssh = ssh_ready(records);
    let host = &net.lab.hosts[index];
    let profile = std::fs::read_to_string(net.profile(index)).unwrap();
    if index == SPARE {
        // Never needed, never switched on: prepared when it first boots.
        assert!(!ssh.contains_key(&host.name), "{ssh:?}");
        assert!(profile.contains(LOOPING_LINE));
        return;
    }
    assert_eq!(
        profile, "export FLEET_ROLE=web\nexport HISTSIZE=5000\n",
        "{}: only the looping line went",
        host.name
    );
    let prepared_at = ssh[&host.name].clone().expect("answered and prepared");
    let removed_at = net.line_removed_at(index);
    let journal_starts: Vec<f64> = records
        .iter()
        .filter(|r| {
            matches!(&r.entry, Entry::Action { action: Action::Start { .. }, host: Some(h), .. } if *h == host.name)
        })
        .map(wall)
        .collect();
    let service_starts: Vec<f64> = seen
        .iter()
        .filter(|s| s.what == "start" && s.address == host.address)
        .map(|s| s.at)
        .collect();
    assert!(
        !journal_starts.is_empty() && journal_starts.len() == service_starts.len(),
        "{}: {journal_starts:?} {service_starts:?}",
        host.name
    );
    assert!(
        journal_starts.iter().all(|&at| at >= prepared_at)
            && service_starts.iter().all(|&at| at > removed_at),
        "{}: prepared at {prepared_at} (line removed at {removed_at}), starts {journal_starts:?}, services {service_starts:?}",
        host.name
    );
}

#[test]
fn the_shipped_social_network_files_validate_and_their_plan_shows_the_lessons() {
    // The shipped files carry the example's 10.x addresses: validated and planned, never run.
    for file in [
        "topologies/social-network.yaml",
        "playbooks/full-outage.yaml",
    ] {
        let output = support::cli::blackstart(&["validate", file]);
        assert_eq!(output.status.code(), Some(0), "{file}: {}", text(&output));
    }
    let output = support::cli::blackstart(&["plan", "playbooks/full-outage.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let shown = String::from_utf8(output.stdout).unwrap();
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "[S1] config@bootstrap 9 hosts, quorum 5/9, 3 at a time",
        "[S1] cluster-store 5 hosts, quorum 3/5, 1 at a time",
        "waits ntp, config@bootstrap",
        "first ssh recovery@10.1.8.1:22 -- systemctl stop configd-snapshot",
        "progress: `configd-ctl descriptions --loaded --count` keeps changing",
        "spares 22 hosts more, only to replace a failed member: dbspare[01:06].dc1",
        "PREPARE (on each host after it boots, before its services start)",
        "remove-looping-template-line on 5,705 hosts",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{shown}");
    }
}
