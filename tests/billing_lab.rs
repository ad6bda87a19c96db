//! Incident 2 (an ISP billing system on 1 April, INCIDENTS.md) on the lab: a copy-shaped
//! `topologies/billing.yaml` over real sshd hosts, with a real durable broker that requires
//! acknowledgements, RADIUS-side consumers that write slowly and answer heartbeats on the
//! same thread, and a provisioning producer (`tests/billing/services.py`, driven through
//! `tests/billing/fixture.rs`). Each test is one lesson of the incident, asserted from the
//! journal and from what the services saw.

#[path = "billing/fixture.rs"]
mod fixture;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use blackstart::event::{Action, Event};
use blackstart::journal::Entry;
use fixture::{step_results, step_starts, wall, write, Billing, Shape, SmallDisk};
use support::cli::{actions, read_journal, run_in, spawn_run, text, wait_bounded, RUN_LIMIT};
use support::lab::wait_until;

#[test]
fn a_full_tablespace_stops_the_billing_start_before_any_action() {
    let billing = Billing::start("ba", (103, 1));
    let lab = &billing.lab;
    let disk = SmallDisk::mount(&lab.dir.join("oradata"), "1m");
    let filled = disk.fill();
    assert!(filled > 0 && filled <= 1 << 20, "filled {filled} bytes");
    let topology = billing.topology(&Shape {
        write_s: 0.005,
        heartbeat_timeout: "4s",
        sync_ready_timeout: "5s",
        replay_s: 0.2,
        produce: 10,
        acks: true,
    });
    let playbook = write(
        &lab.dir.join("billing-restart.yaml"),
        &format!(
            "playbook: billing-restart\ntopology: {}\npreflight:\n  - name: tablespace-disk-has-room\n    on: {{ subsystems: [billing-db] }}\n    disk_free: {{ path: {}, min: 10% }}\n",
            topology.display(),
            serde_json::to_string(&disk.dir.to_string_lossy()).unwrap()
        ),
    );

    let run_dir = lab.dir.join("run-full");
    let output = run_in(&playbook, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("FAILED tablespace-disk-has-room"), "{shown}");
    let records = read_journal(&run_dir);
    let failed: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Preflight {
                check,
                result: Err(why),
                ..
            } if check == "tablespace-disk-has-room" => Some(why.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let mount = disk.dir.to_string_lossy();
    assert!(
        failed[0].contains(mount.as_ref()) && failed[0].contains("below the minimum 10%"),
        "the reason names the disk: {failed:?}"
    );
    assert!(
        actions(&records).is_empty(),
        "no start (or any) action: {:?}",
        actions(&records)
    );
    assert!(lab.service_starts().is_empty(), "no service started");
    assert!(
        billing.connections().is_empty() && !billing.state.join("prov.pid").exists(),
        "neither the broker nor provisioning ran"
    );

    // Room added: the same playbook starts the stack.
    std::fs::remove_file(disk.dir.join("BILLING_DATA.dbf")).unwrap();
    let run_dir = lab.dir.join("run-room");
    let output = run_in(&playbook, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    assert_eq!(step_starts(&records, "billing-db").len(), 1);
    assert_eq!(billing.lines("published.log").len(), 10);
}

#[test]
fn consumers_start_in_batches_so_a_backlog_does_not_become_a_reconnect_storm() {
    let billing = Billing::start("bb", (103, 3));
    billing.seed_backlog(600);
    let topology = billing.topology(&Shape {
        write_s: 0.004,
        heartbeat_timeout: "4s",
        sync_ready_timeout: "5s",
        replay_s: 0.2,
        produce: 100,
        acks: true,
    });
    let run_dir = billing.lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);

    // The journal: at most two profile-sync starts in flight, and two at once at some point.
    let (mut in_flight, mut most) = (0i32, 0i32);
    for record in &records {
        match &record.entry {
            Entry::Action {
                action: Action::Start { .. },
                step: Some(step),
                ..
            } if step == "profile-sync" => in_flight += 1,
            Entry::Event {
                event: Event::StartFinished { .. },
                step: Some(step),
                ..
            } if step == "profile-sync" => in_flight -= 1,
            _ => {}
        }
        most = most.max(in_flight);
    }
    assert_eq!(most, 2, "profile-sync started two at a time");
    let ready: HashMap<String, f64> = step_results(&records, "profile-sync")
        .into_iter()
        .map(|(host, result, r)| {
            assert!(result.is_ok(), "{host}: {result:?}");
            (host, wall(r))
        })
        .collect();
    assert_eq!(ready.len(), 4, "{ready:?}");

    // What the broker saw: each consumer connected once, never dropped, and no consumer
    // connected while two others were still connecting (started, not yet healthy).
    let seen = billing.connections();
    let connects: Vec<(f64, String)> = seen
        .iter()
        .filter(|(_, what, _)| what == "connect")
        .map(|(at, _, who)| (*at, who.clone()))
        .collect();
    assert_eq!(connects.len(), 4, "one connection per consumer: {seen:?}");
    assert!(
        seen.iter().all(|(_, what, _)| what == "connect"),
        "no disconnect, no requeue: {seen:?}"
    );
    for (at, who) in &connects {
        let connecting = connects
            .iter()
            .filter(|(other_at, other)| other_at <= at && ready[other] > *at)
            .count();
        assert!(
            connecting <= 2,
            "{who} connected at {at} with {connecting} consumers still starting: {connects:?} ready {ready:?}"
        );
    }
    let first_ready = connects[..2]
        .iter()
        .map(|(_, who)| ready[who])
        .fold(f64::MAX, f64::min);
    assert!(
        connects[2].0 >= first_ready,
        "the second batch connected after the first had a healthy member: {connects:?} {ready:?}"
    );

    // And the backlog went through: every queued message in a store.
    assert!(billing.wait_drained(Duration::from_secs(15)), "drained");
    let (stored, _) = billing.stored();
    assert_eq!(stored, billing.queued());
    assert_eq!(stored.len(), 700);
}

#[test]
fn a_slow_writer_with_a_long_heartbeat_is_not_killed_by_a_too_short_timeout() {
    let billing = Billing::start("bc", (103, 5));
    billing.seed_backlog(400);
    // Each write takes 0.8 s and the heartbeat waits behind it; radius-store replays for
    // 3 s, past its 2 s ready timeout, printing progress.
    let shape = Shape {
        write_s: 0.8,
        heartbeat_timeout: "3s",
        sync_ready_timeout: "8s",
        replay_s: 3.0,
        produce: 5,
        acks: true,
    };
    let topology = billing.topology(&shape);
    let run_dir = billing.lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    for step in ["radius-store", "profile-sync"] {
        let starts = step_starts(&records, step);
        let results = step_results(&records, step);
        assert_eq!(starts.len(), 4, "{step} started once per host: {starts:?}");
        assert!(
            results.iter().all(|(_, result, _)| result.is_ok()) && results.len() == 4,
            "{step}: {results:?}"
        );
    }
    let replayed = billing.lab.hosts[2..]
        .iter()
        .map(|h| billing.lines(&format!("replay-{}.log", h.address)).len())
        .min()
        .unwrap();
    assert!(
        replayed >= 10,
        "radius-store replayed for its 3 s: {replayed} lines"
    );
    let seen = billing.connections();
    assert_eq!(
        seen.len(),
        4,
        "one connection per consumer, none dropped: {seen:?}"
    );

    // The incident's timeout on the same fleet: the working consumers' late heartbeats read
    // as dead, they are restarted, and the broker sees the reconnects and requeues.
    let yaml = std::fs::read_to_string(&topology)
        .unwrap()
        .replacen("timeout: 3s, successes", "timeout: 300ms, successes", 1)
        .replacen("ready_timeout: 8s", "ready_timeout: 2s", 1);
    assert!(yaml.contains("timeout: 300ms") && yaml.contains("ready_timeout: 2s\n    retry"));
    let short = write(&billing.lab.dir.join("short-timeout.yaml"), &yaml);
    let run_dir = billing.lab.dir.join("run-short");
    let output = run_in(&short, &run_dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let records = read_journal(&run_dir);
    let failed = step_results(&records, "profile-sync")
        .into_iter()
        .filter(|(_, result, _)| result.is_err())
        .count();
    assert!(failed >= 4, "the short timeout failed the consumers");
    let seen = billing.connections();
    let count = |what: &str| seen.iter().filter(|(_, w, _)| w == what).count();
    assert!(
        count("disconnect") >= 4 && count("connect") >= 8 && count("requeue") >= 1,
        "restarted consumers reconnected and their messages were requeued: {seen:?}"
    );
    assert!(
        step_starts(&records, "radius-store").is_empty(),
        "the healthy store was probed, not restarted"
    );
}

/// What a consumer killed while messages flow left behind.
struct AfterKill {
    billing: Billing,
    victim: String,
    /// The attempts of the victim's profile-sync start, in the journal.
    victim_starts: Vec<u32>,
    /// Queued ids (backlog and burst) that never reached a store.
    lost: Vec<String>,
    /// Whether the broker held nothing unacknowledged at the end.
    drained: bool,
}

/// A backlog of 1500 and a burst of 300 through four consumers; the first RADIUS server's
/// consumer is SIGKILLed while its start is in flight, 20 messages in. Returns once the run
/// ended (exit 0 asserted) and the broker drained or 20 s passed.
fn kill_a_consumer_mid_run(name: &str, block: (u8, u8), acks: bool) -> AfterKill {
    let billing = Billing::start(name, block);
    billing.seed_backlog(1500);
    let topology = billing.topology(&Shape {
        write_s: 0.003,
        heartbeat_timeout: "4s",
        sync_ready_timeout: "2s",
        replay_s: 0.2,
        produce: 300,
        acks,
    });
    let run_dir = billing.lab.dir.join("run");
    let child = spawn_run(&topology, &run_dir);
    let victim = billing.lab.hosts[2].name.clone();
    let store = format!("{victim}.store");
    let writing = wait_until(Duration::from_secs(60), || {
        billing.lines(&store).len() >= 20
    });
    assert!(writing, "the consumer on {victim} took messages");
    let records = read_journal(&run_dir);
    assert!(
        !step_results(&records, "profile-sync")
            .iter()
            .any(|(host, _, _)| *host == victim),
        "killed while its start was in flight"
    );
    billing.kill(&format!("{victim}.pid"));

    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    let victim_starts: Vec<u32> = step_starts(&records, "profile-sync")
        .into_iter()
        .filter(|(host, _, _)| *host == victim)
        .map(|(_, attempt, _)| attempt)
        .collect();
    let drained = billing.wait_drained(Duration::from_secs(20));
    let published = billing.lines("published.log");
    assert_eq!(published.len(), 300, "provisioning published its burst");
    let (stored, _) = billing.stored();
    let queued = billing.queued();
    assert_eq!(queued.len(), 1800);
    assert!(
        stored.is_subset(&queued),
        "no store holds a message never queued"
    );
    let lost = queued.difference(&stored).cloned().collect();
    AfterKill {
        billing,
        victim,
        victim_starts,
        lost,
        drained,
    }
}

#[test]
fn a_consumer_killed_mid_run_loses_no_message() {
    let after = kill_a_consumer_mid_run("bd", (103, 7), true);
    assert_eq!(
        after.victim_starts,
        vec![1, 2],
        "the killed consumer was started again"
    );
    // Producer count = consumer count: every queued message (the backlog and provisioning's
    // burst) reached a RADIUS store.
    assert!(
        after.drained && after.lost.is_empty(),
        "{} messages never reached a store (drained: {}), e.g. {:?}",
        after.lost.len(),
        after.drained,
        &after.lost[..after.lost.len().min(5)]
    );
    let seen = after.billing.connections();
    let requeued = seen
        .iter()
        .filter(|(_, what, who)| what == "requeue" && *who == after.victim)
        .count();
    assert_eq!(
        requeued, 1,
        "the kill cut deliveries in flight, which went back to the queue: {seen:?}"
    );
}

#[test]
fn without_acknowledgements_the_same_kill_loses_messages() {
    // The incident's broker: a message counts as delivered once sent, so what sat in the
    // killed consumer's socket buffer is gone; the end-to-end count shows it.
    let after = kill_a_consumer_mid_run("be", (103, 9), false);
    assert_eq!(
        after.victim_starts,
        vec![1, 2],
        "started again all the same"
    );
    assert!(after.drained, "the broker handed everything out");
    assert!(
        !after.lost.is_empty(),
        "a kill without acknowledgements lost nothing: the count would not catch a loss"
    );
    eprintln!(
        "without acknowledgements: {} messages lost",
        after.lost.len()
    );
}

#[test]
fn the_shipped_billing_files_validate_and_their_plan_shows_the_lessons() {
    // The shipped files carry the example's 10.x addresses: validated and planned, never run.
    for file in ["topologies/billing.yaml", "playbooks/billing-restart.yaml"] {
        let output = support::cli::blackstart(&["validate", file]);
        assert_eq!(output.status.code(), Some(0), "{file}: {}", text(&output));
    }
    let output = support::cli::blackstart(&["plan", "playbooks/billing-restart.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let shown = String::from_utf8(output.stdout).unwrap();
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "PREFLIGHT (before any power or start action)",
        "tablespace-disk-has-room: free space on /u01/oradata at least 10% on billdb[1:2].msk1",
        "broker-disk-has-room",
        "[S1] profile-sync 4 hosts, quorum 3/4, 2 at a time",
        "probe timeout 30s, ready timeout 30m",
        "progress: `du -sb /var/lib/postgresql` keeps changing",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{shown}");
    }
}
