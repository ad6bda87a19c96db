//! `blackstart run` against a real lab: sshd per host, ipmi_sim per BMC, real services
//! started over SSH. Each test reads like the incident it guards against.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blackstart::event::Event;
use blackstart::journal::{self, Entry};
use support::cli::{
    blackstart, read_journal, ready_times, run_in, spawn_run, spawn_with_env, starts, text,
    wait_bounded, RUN_LIMIT,
};
use support::lab::{Lab, LabSecret};

/// Eight subsystems in four levels on twelve hosts (indices 1-based in names):
/// L0 config(1,2) dns(3) · L1 db(4,5,6; 2 of 3) queue(7) · L2 cache(8) app(9,10) · L3 web(11,12) reports(12).
fn eight_subsystems(lab: &Lab, overrides: &HashMap<&str, String>) -> String {
    let host = |i: usize| lab.hosts[i - 1].name.clone();
    let hosts = |list: &[usize]| {
        list.iter()
            .map(|i| format!("\"{}\"", host(*i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let service = |name: &str, port: u16| {
        overrides
            .get(name)
            .cloned()
            .unwrap_or_else(|| lab.service_command(port, 0.3, ""))
    };
    let subsystem = |name: &str, port: u16, on: &[usize], requires: &str, extra: &str| {
        format!(
            "  - name: {name}\n    hosts: [{}]\n    requires: [{requires}]\n    start: {}\n    health: {{ tcp: {port} }}\n{extra}{}",
            hosts(on),
            serde_json::to_string(&service(name, port)).unwrap(),
            overrides.get(format!("{name}.extra").as_str()).cloned().unwrap_or_default(),
        )
    };
    let mut yaml = String::from(
        "  subsystem:\n    health_policy: { interval: 100ms, timeout: 1s, successes: 1 }\n    \
         retry: { attempts: 2, backoff: 200ms, max_backoff: 1s }\n    start_timeout: 5s\n    \
         ready_timeout: 5s\n    expect: 1s\n",
    );
    yaml = format!("__DEFAULTS__{yaml}subsystems:\n");
    yaml += &subsystem("config", 7001, &[1, 2], "", "    tier: S1\n");
    yaml += &subsystem("dns", 7002, &[3], "", "    tier: S1\n");
    yaml += &subsystem(
        "db",
        7003,
        &[4, 5, 6],
        "config, dns",
        "    min_healthy: 2\n",
    );
    yaml += &subsystem("queue", 7004, &[7], "config", "");
    yaml += &subsystem("cache", 7005, &[8], "db", "");
    yaml += &subsystem("app", 7006, &[9, 10], "db, queue", "    wants: [cache]\n");
    yaml += &subsystem("web", 7007, &[11, 12], "app", "    tier: S1\n");
    yaml += &subsystem("reports", 7008, &[12], "app, cache", "    tier: S3\n");
    yaml
}

/// Writes the lab topology with the eight subsystems, `policy` and `defaults` merged in.
fn write_topology(lab: &Lab, secret: LabSecret, overrides: &HashMap<&str, String>) -> PathBuf {
    let body = eight_subsystems(lab, overrides);
    let (defaults, subsystems) = body.split_once("subsystems:\n").unwrap();
    let defaults = defaults.trim_start_matches("__DEFAULTS__");
    let mut yaml = lab.topology_yaml(secret, &format!("subsystems:\n{subsystems}"));
    // Short BMC limits so a dead BMC is found dead in seconds, and short boots for the lab.
    yaml = yaml.replacen(
        "policy:\n",
        "policy:\n  bmc_timeout: 3s\n  bmc_attempts: 1\n",
        1,
    );
    yaml = yaml.replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    yaml = yaml.replacen("hosts:\n", &format!("{defaults}hosts:\n"), 1);
    if let Some(hosts_override) = overrides.get("hosts.replace") {
        let (from, to) = hosts_override.split_once("=>").unwrap();
        yaml = yaml.replace(from, to);
    }
    let path = lab.dir.join("topology.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn step_of(label: &str) -> &str {
    label.split(" on ").next().unwrap()
}

const REQUIRES: &[(&str, &[&str])] = &[
    ("db", &["config", "dns"]),
    ("queue", &["config"]),
    ("cache", &["db"]),
    ("app", &["db", "queue"]),
    ("web", &["app"]),
    ("reports", &["app", "cache"]),
];

#[test]
fn cold_start_powers_on_over_ipmi_and_starts_in_dependency_order_then_a_rerun_starts_nothing() {
    let lab = Lab::start("ra", (91, 10), 12);
    let topology = write_topology(&lab, LabSecret::File, &HashMap::new());
    let run_dir = lab.dir.join("run-1");
    let began = Instant::now();
    let output = run_in(&topology, &run_dir);
    let wall = began.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!((0..12).all(|i| lab.is_on(i)), "every host powered on");

    let records = read_journal(&run_dir);
    let powered: usize = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::PoweredOn { result: Ok(()), .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        powered, 12,
        "all twelve hosts powered on through their BMCs"
    );
    let ready = ready_times(&records);
    assert_eq!(ready.len(), 8, "all eight steps ready: {ready:?}");
    for (label, at) in starts(&records) {
        let step = step_of(&label);
        for (dependent, needs) in REQUIRES {
            if *dependent == step {
                for need in *needs {
                    assert!(
                        at >= ready[*need],
                        "{label} started at {at} ms before {need} was ready at {} ms",
                        ready[*need]
                    );
                }
            }
        }
    }
    // Makespan against the bound from the services' own delays: four levels of 0.3 s plus
    // the boot of the hosts (measured as the first SSH answer).
    let finished = records.last().unwrap().t_ms;
    let first_ssh = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::SshReady { result: Ok(()), .. },
                    ..
                }
            )
        })
        .map(|r| r.t_ms)
        .max()
        .unwrap();
    let bound_ms = first_ssh + 4 * 300;
    // The plan's bound: every start exactly its service's 0.3 s, every host up at its first
    // SSH answer, quorums and `wants` (app waits for cache: five levels, not four) counted.
    let mut exact = blackstart::load::load_file(&topology).unwrap().topology;
    for subsystem in &mut exact.subsystems {
        subsystem.expect = Duration::from_millis(300);
    }
    let plan_bound =
        support::lab_fleet::bound(&exact, &records, support::lab_fleet::HostUp::SshReady);
    let makespan = support::lab_fleet::makespan(&records);
    eprintln!(
        "lab cold start: makespan {finished} ms (wall {wall:?}); bound {bound_ms} ms (all hosts answering SSH at {first_ssh} ms + 4 levels x 300 ms); ratio {:.2}; \
         against the plan's bound from each host's first SSH answer: makespan {makespan:?} / {plan_bound:?} = {:.2}",
        finished as f64 / bound_ms as f64,
        makespan.as_secs_f64() / plan_bound.as_secs_f64()
    );
    let service_starts = lab.service_starts().len();
    assert_eq!(service_starts, 13, "one service per node");

    let second_dir = lab.dir.join("run-2");
    let output = run_in(&topology, &second_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&second_dir);
    assert!(
        starts(&records).is_empty(),
        "nothing is started when everything is up"
    );
    let already = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::Probed { result: Ok(()), .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(already, 13, "every node recorded as already healthy");
    assert_eq!(
        lab.service_starts().len(),
        service_starts,
        "no service restarted"
    );
    assert!(
        text(&output).contains("13 already healthy"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_dead_bmc_and_a_service_that_never_comes_up_block_only_their_subtrees() {
    let lab = Lab::start("rb", (91, 12), 12);
    let mut overrides = HashMap::new();
    // queue (host 7) never becomes healthy: it starts, but listens nowhere.
    overrides.insert("queue", lab.service_command(7999, 0.1, ""));
    // dns's host 3 has a BMC nobody answers on.
    let dead_bmc = lab.hosts[2].bmc_address.clone();
    overrides.insert(
        "hosts.replace",
        format!("bmc: {{ address: {dead_bmc} }}=>bmc: {{ address: 127.91.13.200 }}"),
    );
    let topology = write_topology(&lab, LabSecret::Env, &overrides);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    let ready = ready_times(&read_journal(&run_dir));
    // Everything that needs neither dns nor queue comes up.
    assert!(
        ready.contains_key("config"),
        "config ready: {ready:?}\n{shown}"
    );
    for step in ["dns", "queue", "db", "cache", "app", "web", "reports"] {
        assert!(!ready.contains_key(step), "{step} must not be ready");
    }
    assert!(
        shown.contains(&format!("FAILED  dns on {}", lab.hosts[2].name)),
        "{shown}"
    );
    assert!(
        shown.contains("BMC"),
        "the dead BMC is named as the cause: {shown}"
    );
    assert!(
        shown.contains(&format!("FAILED  queue on {}", lab.hosts[6].name)),
        "{shown}"
    );
    assert!(shown.contains("not healthy within"), "{shown}");
    // The summary's words: what is blocked is listed under the failed step it waits for.
    let blocked_behind = |failed: &str| {
        shown
            .lines()
            .find(|line| {
                line.starts_with("  BLOCKED ")
                    && line.contains(&format!("wait for failed {failed}: "))
            })
            .unwrap_or_default()
            .to_string()
    };
    assert!(blocked_behind("dns").contains("db"), "{shown}");
    assert!(
        blocked_behind("dns").contains("web") || blocked_behind("queue").contains("web"),
        "{shown}"
    );
    assert!(
        !shown.contains(&lab.password),
        "BMC password leaked into output"
    );
    // `status` says the run cannot finish, and on what, instead of a remaining ETA.
    let dir = run_dir.to_str().unwrap();
    let status = text(&blackstart(&["status", dir]));
    assert!(
        status.contains("cannot finish: waits for failed dns"),
        "{status}"
    );
    assert!(!status.contains("remaining ETA"), "{status}");
    let json = blackstart(&["status", dir, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(json["remaining_eta_ms"].is_null(), "{json}");
    let waits: HashMap<&str, &str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| Some((step["id"].as_str()?, step["waits_on"].as_str()?)))
        .collect();
    assert_eq!(waits.get("db"), Some(&"dns"), "{waits:?}");
    let held: Vec<&str> = json["cannot_finish"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["step"].as_str().unwrap())
        .collect();
    assert!(held.contains(&"dns") && held.contains(&"queue"), "{held:?}");
}

#[test]
fn quorum_holds_with_one_dead_database_host_and_a_spare_takes_its_place() {
    let lab = Lab::start("rc", (91, 14), 12);
    let mut overrides = HashMap::new();
    let dead = lab.hosts[5].bmc_address.clone();
    overrides.insert(
        "hosts.replace",
        format!("bmc: {{ address: {dead} }}=>bmc: {{ address: 127.91.15.201 }}"),
    );
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(
        output.status.code(),
        Some(0),
        "2 of 3 db hosts is enough: {}",
        text(&output)
    );
    assert!(ready_times(&read_journal(&run_dir)).contains_key("web"));

    // Same fault, now with a spare: the spare is brought up in the dead host's place.
    let spare = lab.hosts[11].name.clone();
    overrides.insert("db.extra", format!("    spares: [\"{spare}\"]\n"));
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let run_dir = lab.dir.join("run-spare");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let used = starts(&read_journal(&run_dir))
        .iter()
        .any(|(label, _)| *label == format!("db on {spare}"));
    assert!(used, "the spare ran db");
}

#[test]
fn a_changed_host_key_is_refused_and_named() {
    let lab = Lab::start("rd", (91, 16), 12);
    let topology = write_topology(&lab, LabSecret::File, &HashMap::new());
    let wrong = lab.known_hosts_with_wrong_key(7);
    let yaml = std::fs::read_to_string(&topology).unwrap().replace(
        &serde_json::to_string(&lab.known_hosts.to_string_lossy()).unwrap(),
        &serde_json::to_string(&wrong.to_string_lossy()).unwrap(),
    );
    std::fs::write(&topology, yaml).unwrap();
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    let name = &lab.hosts[7].name;
    assert!(
        shown.contains(&format!("FAILED  cache on {name}")),
        "{shown}"
    );
    assert!(shown.contains("host key"), "the refusal says why: {shown}");
    assert!(!starts(&read_journal(&run_dir))
        .iter()
        .any(|(label, _)| label.ends_with(&format!(" on {name}"))));
}

#[test]
fn killed_mid_run_then_resumed_restarts_nothing_that_was_healthy() {
    let lab = Lab::start("re", (91, 18), 12);
    let mut overrides = HashMap::new();
    // The last level is slow, so the kill lands while earlier levels are healthy.
    overrides.insert("web", lab.service_command(7007, 3.0, ""));
    overrides.insert("reports", lab.service_command(7008, 3.0, ""));
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let run_dir = lab.dir.join("run");
    let mut child = spawn_run(&topology, &run_dir);
    let began = Instant::now();
    let reached = loop {
        let ready = ready_times(&journal::read(&run_dir).unwrap_or_default());
        if ready.contains_key("app") {
            break true;
        }
        if began.elapsed() > RUN_LIMIT || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(reached, "app became ready before the kill");
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let status = blackstart(&["status", run_dir.to_str().unwrap()]);
    let shown = text(&status);
    assert_eq!(status.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("killed before finishing"),
        "status tells the run died: {shown}"
    );
    assert!(
        shown.contains("app") && shown.contains("healthy"),
        "{shown}"
    );
    assert!(shown.contains("remaining ETA"), "{shown}");
    let before = read_journal(&run_dir);
    let healthy_before: Vec<String> =
        before
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Event {
                    event:
                        Event::StartFinished { result: Ok(()), .. }
                        | Event::Probed { result: Ok(()), .. },
                    ..
                } => Some(r.entry.label()),
                _ => None,
            })
            .collect();
    assert!(!healthy_before.is_empty());
    let before_len = before.len();

    let output = blackstart(&["run", "--resume", run_dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let after = read_journal(&run_dir);
    assert_eq!(
        &after[..before_len],
        &before[..],
        "no step lost: the journal only grew"
    );
    let restarted: Vec<String> = starts(&after[before_len..])
        .into_iter()
        .map(|(label, _)| label)
        .filter(|label| healthy_before.contains(label))
        .collect();
    assert!(
        restarted.is_empty(),
        "healthy before the kill, started again: {restarted:?}"
    );
    assert!(ready_times(&after).contains_key("web"));
    assert!(ready_times(&after).contains_key("reports"));
}

#[test]
fn a_hanging_start_is_cut_and_retried_and_a_progressing_slow_start_is_left_alone() {
    let lab = Lab::start("rf", (91, 20), 12);
    let mut overrides = HashMap::new();
    let marker = lab.dir.join("run/queue-hung-once");
    overrides.insert(
        "queue",
        format!(
            "if [ -e {m} ]; then {svc}; else touch {m}; sleep 600; fi",
            m = marker.display(),
            svc = lab.service_command(7004, 0.1, "")
        ),
    );
    // cache needs 7 s to open its port, past its 5 s ready timeout, but reports progress.
    overrides.insert("cache", lab.service_command(7005, 7.0, ""));
    overrides.insert("db.extra", String::new());
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let yaml = std::fs::read_to_string(&topology).unwrap().replacen(
        "  - name: cache\n",
        "  - name: cache\n    progress: { command: \"date +%s%N\", interval: 500ms, stall_after: 3s }\n",
        1,
    );
    std::fs::write(&topology, yaml).unwrap();
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    let attempts = |step: &str| -> Vec<Result<(), String>> {
        records
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Event {
                    event: Event::StartFinished { result, .. },
                    step: Some(id),
                    ..
                } if id == step => Some(result.clone().map_err(|why| why.to_string())),
                _ => None,
            })
            .collect()
    };
    let queue = attempts("queue");
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert!(
        queue[0].as_ref().unwrap_err().contains("timed out"),
        "{queue:?}"
    );
    assert!(queue[1].is_ok());
    let cache = attempts("cache");
    assert_eq!(
        cache,
        vec![Ok(())],
        "the slow cache was not killed and retried"
    );
    // The hung attempt was ended on the host too, not only abandoned by the orchestrator.
    let tag = format!("BLACKSTART_LAB={}", lab.host_tag(6));
    let lingering = std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        cmdline.starts_with(b"sleep\x00600")
            && environ.split(|b| *b == 0).any(|var| var == tag.as_bytes())
    });
    assert!(!lingering, "the hung `sleep 600` still runs on the host");
}

#[test]
fn a_node_repaired_by_hand_and_retried_brings_its_subtree_up_in_the_same_run() {
    let lab = Lab::start("rg", (91, 22), 12);
    let mut overrides = HashMap::new();
    let repaired = lab.dir.join("run/queue-repaired");
    overrides.insert(
        "queue",
        format!(
            "test -e {} && {}",
            repaired.display(),
            lab.service_command(7004, 0.1, "")
        ),
    );
    // reports is slow, so the run is still going when the operator comes back.
    overrides.insert("dns", lab.service_command(7002, 0.1, ""));
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let yaml = std::fs::read_to_string(&topology).unwrap().replacen(
        "  - name: dns\n",
        "  - name: slow-audit\n    hosts: [\"rg1\"]\n    start: __SLOW__\n    health: { tcp: 7010 }\n    ready_timeout: 30s\n  - name: dns\n",
        1,
    ).replace("__SLOW__", &serde_json::to_string(&lab.service_command(7010, 12.0, "")).unwrap());
    std::fs::write(&topology, yaml).unwrap();
    let run_dir = lab.dir.join("run");
    let child = spawn_run(&topology, &run_dir);
    let began = Instant::now();
    let failed = loop {
        let records = journal::read(&run_dir).unwrap_or_default();
        let failed = records.iter().any(|r| matches!(&r.entry, Entry::StepStatus { step, status } if step == "queue" && status.name() == "failed"));
        if failed || began.elapsed() > Duration::from_secs(60) {
            break failed;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(failed, "queue failed for good first");
    std::fs::write(&repaired, "fixed by hand\n").unwrap();
    let retry = blackstart(&["retry", run_dir.to_str().unwrap(), "queue"]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let records = read_journal(&run_dir);
    assert!(records.iter().any(|r| matches!(
        &r.entry,
        Entry::Event {
            event: Event::Rearmed { .. },
            ..
        }
    )));
    let ready = ready_times(&records);
    for step in ["queue", "app", "web", "reports"] {
        assert!(ready.contains_key(step), "{step} came up after the retry");
    }
}

#[test]
fn the_bmc_password_never_reaches_the_journal_the_logs_or_ps() {
    let lab = Lab::start("rh", (91, 24), 12);
    let topology = write_topology(&lab, LabSecret::Env, &HashMap::new());
    // Through ipmitool, the client that runs a process per call: its argv is what ps shows.
    let yaml = std::fs::read_to_string(&topology).unwrap();
    let yaml = yaml.replacen("    bmc:\n", "    bmc:\n      client: ipmitool\n", 1);
    assert!(yaml.contains("client: ipmitool"), "{yaml}");
    std::fs::write(&topology, yaml).unwrap();
    let run_dir = lab.dir.join("run");
    let child = spawn_with_env(
        &[
            "run",
            topology.to_str().unwrap(),
            "--run-dir",
            run_dir.to_str().unwrap(),
        ],
        &[("RUST_LOG", "debug")],
    );
    let pid = child.id();
    let mut sampled = 0;
    let began = Instant::now();
    let mut seen_in_ps = Vec::new();
    while began.elapsed() < RUN_LIMIT && Path::new(&format!("/proc/{pid}")).exists() {
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                    if String::from_utf8_lossy(&cmdline).contains(&lab.password) {
                        seen_in_ps.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
                    }
                }
            }
        }
        sampled += 1;
        let done = std::fs::read_to_string(run_dir.join(journal::JOURNAL_FILE))
            .unwrap_or_default()
            .contains("run_finished");
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(sampled > 5, "ps was sampled during the run");
    assert!(
        seen_in_ps.is_empty(),
        "password on a command line: {seen_in_ps:?}"
    );
    let journal_text = std::fs::read_to_string(run_dir.join(journal::JOURNAL_FILE)).unwrap();
    assert!(
        journal_text.contains("ipmitool"),
        "the journal records the IPMI commands"
    );
    assert!(
        !journal_text.contains(&lab.password),
        "password in the journal"
    );
    assert!(
        !text(&output).contains(&lab.password),
        "password in the logs"
    );
}

#[test]
fn a_service_that_becomes_healthy_just_after_its_ready_timeout_is_started_exactly_once() {
    // Incident 1: restarting half-recovered servers lost their progress. cache listens
    // 1.8 s after its start, its ready timeout is 1 s, and the retry waits 1.5-3 s: the probe
    // before the retry must find it healthy and leave it alone.
    let lab = Lab::start("ri", (91, 30), 12);
    let mut overrides = HashMap::new();
    overrides.insert("cache", lab.service_command(7005, 1.8, ""));
    overrides.insert(
        "cache.extra",
        "    ready_timeout: 1s\n    retry: { attempts: 3, backoff: 3s, max_backoff: 3s }\n"
            .to_string(),
    );
    let topology = write_topology(&lab, LabSecret::File, &overrides);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let cache_host = &lab.hosts[7];
    let launched = lab
        .service_starts()
        .iter()
        .filter(|line| line.ends_with(&format!(" {} 7005", cache_host.address)))
        .count();
    assert_eq!(launched, 1, "cache was launched exactly once on its host");
    let records = read_journal(&run_dir);
    let cache_starts = starts(&records)
        .iter()
        .filter(|(label, _)| step_of(label) == "cache")
        .count();
    assert_eq!(cache_starts, 1, "one start action for cache in the journal");
    let timed_out_then_found_healthy = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                step: Some(id),
                event,
                ..
            } if id == "cache" => Some(event),
            _ => None,
        })
        .skip_while(|event| !matches!(event, Event::StartFinished { result: Err(_), .. }))
        .any(|event| matches!(event, Event::Probed { result: Ok(()), .. }));
    assert!(
        timed_out_then_found_healthy,
        "the journal shows the timed-out attempt, then a probe that found cache healthy"
    );
}

#[test]
fn the_drill_and_the_real_run_agree_on_which_node_fails_and_what_is_blocked() {
    // The same topology and the same two faults, once on the lab and once in simulation:
    // dns's BMC answers nobody, and queue never comes up.
    let lab = Lab::start("rj", (91, 32), 12);
    let mut overrides = HashMap::new();
    overrides.insert("queue", lab.service_command(7999, 0.1, ""));
    let dead_bmc = lab.hosts[2].bmc_address.clone();
    overrides.insert(
        "hosts.replace",
        format!("bmc: {{ address: {dead_bmc} }}=>bmc: {{ address: 127.91.33.200 }}"),
    );
    let topology_file = write_topology(&lab, LabSecret::File, &overrides);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology_file, &run_dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));

    let topology = blackstart::load::load_file(&topology_file)
        .unwrap()
        .topology;
    let selection = blackstart::scope::Scope::default()
        .select(&topology)
        .unwrap();
    let plan = blackstart::plan::Plan::build(&topology, &selection).unwrap();
    let events = journal::events(&read_journal(&run_dir));
    let real = blackstart::run::driver::replay(&topology, &plan, 1, &events);
    let failed_nodes = |nodes: &[blackstart::event::state::Node]| -> Vec<(String, String)> {
        let mut failed: Vec<(String, String)> = nodes
            .iter()
            .filter(|n| matches!(n.state, blackstart::event::state::NodeState::Failed { .. }))
            .map(|n| {
                (
                    plan.steps[n.step].id.clone(),
                    topology.hosts[n.host].name.clone(),
                )
            })
            .collect();
        failed.sort();
        failed
    };
    let real_failed = failed_nodes(real.nodes());
    let real_statuses: Vec<String> = real
        .statuses()
        .iter()
        .map(|s| blackstart::event::narrate::status_text(&plan, s, None))
        .collect();

    let output = blackstart(&[
        "simulate",
        topology_file.to_str().unwrap(),
        "--no-faults",
        "--spread",
        "0",
        "--inject",
        &format!("dead-bmc={}", lab.hosts[2].name),
        "--inject",
        &format!("start-failure=queue@{}", lab.hosts[6].name),
        "--format",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the drill does not recover either"
    );
    let drill: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut drill_failed: Vec<(String, String)> = drill["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["step"].as_str().unwrap().to_string(),
                f["host"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    drill_failed.sort();
    assert_eq!(
        drill_failed, real_failed,
        "the same nodes fail in the drill and on the lab"
    );
    assert_eq!(real_failed.len(), 2, "{real_failed:?}");
    for (id, step) in drill["steps"].as_array().unwrap().iter().enumerate() {
        let status = step["status"].as_str().unwrap();
        let real = &real_statuses[id];
        match status {
            "blocked" => assert_eq!(
                *real,
                format!(
                    "BLOCKED (waits for failed {})",
                    step["blocked_on"].as_str().unwrap()
                ),
                "{}",
                step["step"]
            ),
            "failed" => assert!(real.starts_with("FAILED"), "{}: {real}", step["step"]),
            "ready" => assert_eq!(real, "ready", "{}", step["step"]),
            other => panic!("{}: the drill ended {other}", step["step"]),
        }
    }
}
