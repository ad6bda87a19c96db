//! The interruptions of a night, on a real lab (sshd per host, ipmi_sim per BMC, services that
//! listen seconds after their start command returns): a controller SIGKILLed mid-run and
//! resumed never starts twice what the killed run started, and a host that loses power
//! under a start is noticed, powered on again and its service started once more.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use blackstart::event::{Action, Event, PowerReport};
use blackstart::journal::{Entry, Record, RunOutcome};
use support::cli::{
    actions, read_journal, ready_times, spawn, spawn_run, starts, text, wait_bounded,
    wait_for_journal, RUN_LIMIT,
};
use support::lab::{Lab, LabSecret, BMC_USER};

/// A lab topology with `subsystems` and a 2 s boot (ipmi_sim's sshd comes up at once).
fn write_topology(lab: &Lab, subsystems: &str, file: &str) -> PathBuf {
    let yaml = lab
        .topology_yaml(LabSecret::File, subsystems)
        .replacen("    boot: 10s\n", "    boot: 2s\n", 1)
        .replacen("policy:\n", "policy:\n  bmc_timeout: 5s\n", 1);
    let path = lab.dir.join(file);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// One subsystem block: `name` on the lab hosts `on` (0-based), listening on `port` after
/// `delay_s`.
fn subsystem(lab: &Lab, name: &str, on: &[usize], port: u16, delay_s: f64, extra: &str) -> String {
    let hosts: Vec<String> = on
        .iter()
        .map(|i| format!("\"{}\"", lab.hosts[*i].name))
        .collect();
    format!(
        "  - name: {name}\n    hosts: [{}]\n    start: {}\n    health: {{ tcp: {port} }}\n    \
         health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n    \
         start_timeout: 10s\n    expect: 1s\n{extra}",
        hosts.join(", "),
        serde_json::to_string(&lab.service_command(port, delay_s, "")).unwrap(),
    )
}

/// How many times each `<address> <port>` was started, from the services' own log.
fn starts_by_service(lab: &Lab) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in lab.service_starts() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, address, port, ..] = fields[..] {
            *counts.entry(format!("{address}:{port}")).or_insert(0) += 1;
        }
    }
    counts
}

/// SIGKILL, the way a dying laptop or an OOM killer ends the controller.
fn kill(mut child: Child) {
    child.kill().unwrap();
    let _ = child.wait();
}

/// Starts `run --resume DIR` in the background.
fn spawn_resume(run_dir: &Path) -> Child {
    spawn(&["run", "--resume", run_dir.to_str().unwrap()])
}

fn has_start(records: &[Record], step: &str) -> bool {
    starts(records)
        .iter()
        .any(|(label, _)| label.starts_with(&format!("{step} on ")))
}

fn count_adopts(records: &[Record]) -> usize {
    actions(records)
        .iter()
        .filter(|action| matches!(action, Action::Adopt { .. }))
        .count()
}

/// Journaled events that `wanted` picks.
fn count_events(records: &[Record], wanted: impl Fn(&Event) -> bool) -> usize {
    records
        .iter()
        .filter(|r| matches!(&r.entry, Entry::Event { event, .. } if wanted(event)))
        .count()
}

/// Waits (bounded) until the service on `service` (`address:port`) has logged its start.
fn wait_for_service_start(lab: &Lab, service: &str) -> bool {
    support::lab::wait_until(RUN_LIMIT, || starts_by_service(lab).contains_key(service))
}

/// The incident of the issue: a service that needs 3 s to listen, the controller killed while
/// it comes up. Five trials, killed at two moments: as soon as the start is journaled (the
/// command may or may not have reached the host) and once the service itself has begun. The
/// resume watches the start in flight instead of issuing it again: one start per trial.
#[test]
fn a_start_in_flight_at_a_kill_is_adopted_never_started_twice() {
    let lab = Lab::start("ia", (87, 10), 1);
    lab.power_on(0);
    for trial in 0..5u16 {
        let port = 7100 + trial;
        let topology = write_topology(
            &lab,
            &format!(
                "subsystems:\n{}",
                subsystem(
                    &lab,
                    "slow",
                    &[0],
                    port,
                    3.0,
                    "    ready_timeout: 8s\n    retry: { attempts: 2, backoff: 200ms }\n"
                )
            ),
            &format!("topology-{trial}.yaml"),
        );
        let run_dir = lab.dir.join(format!("run-{trial}"));
        let service = format!("{}:{port}", lab.hosts[0].address);
        let child = spawn_run(&topology, &run_dir);
        let at_service = trial % 2 == 1;
        let reached = if at_service {
            wait_for_service_start(&lab, &service)
        } else {
            wait_for_journal(&run_dir, RUN_LIMIT, |records| has_start(records, "slow"))
        };
        assert!(
            reached,
            "trial {trial}: the start was journaled before the kill"
        );
        kill(child);
        let before = read_journal(&run_dir).len();

        let resumed = wait_bounded(spawn_resume(&run_dir), RUN_LIMIT);
        let shown = text(&resumed);
        assert_eq!(resumed.status.code(), Some(0), "trial {trial}: {shown}");
        let after = read_journal(&run_dir);
        assert!(ready_times(&after).contains_key("slow"), "trial {trial}");
        assert_eq!(
            starts_by_service(&lab).get(&service),
            Some(&1),
            "trial {trial} (killed at {}): the service was started exactly once; {shown}",
            if at_service {
                "the service's start"
            } else {
                "the journaled start"
            }
        );
        assert_eq!(
            count_adopts(&after[before..]),
            1,
            "trial {trial}: the resume adopted the start in flight"
        );
        if at_service {
            let adopted = count_events(&after[before..], |event| {
                matches!(event, Event::Adopted { result: Ok(()), .. })
            });
            assert_eq!(adopted, 1, "trial {trial}: {shown}");
            assert!(shown.contains("ADOPTED"), "trial {trial}: {shown}");
            assert!(
                shown.contains("not started again"),
                "trial {trial}: {shown}"
            );
        }
    }
}

/// Killed, resumed, and killed again while the resume is still watching the adopted start:
/// the second resume adopts it too, from the first start's time.
#[test]
fn two_kills_in_a_row_still_start_once() {
    let lab = Lab::start("ib", (87, 12), 1);
    lab.power_on(0);
    let port = 7200;
    let topology = write_topology(
        &lab,
        &format!(
            "subsystems:\n{}",
            subsystem(&lab, "slow", &[0], port, 4.0, "    ready_timeout: 12s\n")
        ),
        "topology.yaml",
    );
    let run_dir = lab.dir.join("run-twice");
    let service = format!("{}:{port}", lab.hosts[0].address);
    let child = spawn_run(&topology, &run_dir);
    assert!(wait_for_service_start(&lab, &service));
    kill(child);
    let first_resume = spawn_resume(&run_dir);
    assert!(
        wait_for_journal(&run_dir, RUN_LIMIT, |records| count_adopts(records) == 1),
        "the first resume adopted the start"
    );
    kill(first_resume);

    let resumed = wait_bounded(spawn_resume(&run_dir), RUN_LIMIT);
    let shown = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{shown}");
    let journal = read_journal(&run_dir);
    assert!(ready_times(&journal).contains_key("slow"), "{shown}");
    assert_eq!(count_adopts(&journal), 2, "both resumes adopted it");
    assert_eq!(
        starts_by_service(&lab).get(&service),
        Some(&1),
        "started once over two kills: {shown}"
    );
}

/// A small xorshift, so each trial's kill moment is random yet the same on every machine.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// The lab experiment of the issue, smaller: a cold start of three levels on six powered-off
/// hosts, SIGKILLed at a seeded random moment (during power-on, boot, starts or health
/// waits), then resumed to the end. Every service is started once per trial, and every step
/// ends ready.
#[test]
fn random_kills_of_a_cold_start_never_start_a_service_twice() {
    let lab = Lab::start("ic", (87, 14), 6);
    let subsystems = [
        subsystem(&lab, "base", &[0, 1], 7301, 1.5, "    ready_timeout: 10s\n"),
        subsystem(
            &lab,
            "middle",
            &[2, 3],
            7302,
            1.5,
            "    requires: [base]\n    ready_timeout: 10s\n",
        ),
        subsystem(
            &lab,
            "top",
            &[4, 5],
            7303,
            1.5,
            "    requires: [middle]\n    ready_timeout: 10s\n",
        ),
    ]
    .concat();
    let topology = write_topology(&lab, &format!("subsystems:\n{subsystems}"), "cold.yaml");
    let starts_log = lab.dir.join("run/starts.log");
    let mut moments = Moments(0x5eed_b1ac_5747);
    for trial in 0..10 {
        for host in 0..lab.hosts.len() {
            lab.power_off(host);
        }
        let _ = std::fs::remove_file(&starts_log);
        let kill_after = Duration::from_millis(300 + moments.next_ms(7_000));
        let run_dir = lab.dir.join(format!("run-cold-{trial}"));
        let child = spawn_run(&topology, &run_dir);
        std::thread::sleep(kill_after);
        kill(child);
        let resumed = wait_bounded(spawn_resume(&run_dir), RUN_LIMIT);
        let shown = text(&resumed);
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "trial {trial}, killed after {kill_after:?}: {shown}"
        );
        let ready = ready_times(&read_journal(&run_dir));
        for step in ["base", "middle", "top"] {
            assert!(ready.contains_key(step), "trial {trial}: {step} ready");
        }
        let counts = starts_by_service(&lab);
        assert_eq!(counts.len(), 6, "trial {trial}: every service started");
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "trial {trial}, killed after {kill_after:?}: started twice {twice:?}; {shown}"
        );
    }
}

/// A host powered off through its BMC while its service comes up: the run notices within
/// seconds that the host stopped answering, asks the BMC, powers the host on again, waits
/// for its boot and starts the service once more — with no retry spent (attempts: 1).
#[test]
fn a_host_that_loses_power_mid_start_is_powered_on_and_started_again() {
    let lab = Lab::start("id", (87, 16), 1);
    let port = 7400;
    let topology = write_topology(
        &lab,
        &format!(
            "subsystems:\n{}",
            subsystem(
                &lab,
                "web",
                &[0],
                port,
                3.0,
                "    ready_timeout: 20s\n    retry: { attempts: 1 }\n"
            )
        ),
        "topology.yaml",
    );
    let run_dir = lab.dir.join("run-power");
    let service = format!("{}:{port}", lab.hosts[0].address);
    let child = spawn_run(&topology, &run_dir);
    assert!(wait_for_service_start(&lab, &service));
    let began = Instant::now();
    let off = std::process::Command::new("timeout")
        .args(["20", "ipmitool", "-I", "lanplus", "-C", "3", "-H"])
        .arg(&lab.hosts[0].bmc_address)
        .args(["-U", BMC_USER, "-E", "chassis", "power", "off"])
        .env("IPMI_PASSWORD", &lab.password)
        .output()
        .expect("ipmitool");
    assert!(off.status.success(), "power off: {off:?}");
    let finished = wait_bounded(child, RUN_LIMIT);
    let shown = text(&finished);
    assert_eq!(finished.status.code(), Some(0), "{shown}");
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "noticed and recovered before the 20 s ready timeout ran out: {:?}",
        began.elapsed()
    );
    assert_eq!(
        starts_by_service(&lab).get(&service),
        Some(&2),
        "started again after the power loss: {shown}"
    );
    let power_ons = std::fs::read_to_string(lab.hosts[0].dir.join("chassis.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("set power 1"))
        .count();
    assert_eq!(
        power_ons, 2,
        "powered on at the start and again after the loss"
    );
    let journal = read_journal(&run_dir);
    let rechecked_off = count_events(&journal, |event| {
        matches!(
            event,
            Event::Rechecked {
                result: Ok(PowerReport::Off),
                ..
            }
        )
    }) > 0;
    assert!(rechecked_off, "the BMC was asked and said off");
    assert!(shown.contains("POWER LOST"), "{shown}");
}

/// Ctrl-C and a refused request are journal records, not only lines on one terminal: the
/// journal says a person stopped the run (and the run then says interrupted), and that a
/// `retry` naming nothing that failed was refused and changed nothing.
#[test]
fn a_ctrl_c_and_a_refused_request_are_records_in_the_journal() {
    let lab = Lab::start("ic", (87, 18), 1);
    lab.power_on(0);
    let topology = write_topology(
        &lab,
        &format!(
            "subsystems:\n{}{}",
            subsystem(&lab, "slow", &[0], 7300, 4.0, "    ready_timeout: 10s\n"),
            subsystem(&lab, "after", &[0], 7301, 0.1, "    requires: [slow]\n")
        ),
        "topology.yaml",
    );
    let run_dir = lab.dir.join("run/stopped");
    let child = spawn_run(&topology, &run_dir);
    assert!(
        wait_for_journal(&run_dir, RUN_LIMIT, |records| has_start(records, "slow")),
        "the start was journaled"
    );
    let stopped_at = Instant::now();
    // SAFETY: a plain signal to a child this test spawned and still owns.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = wait_bounded(child, RUN_LIMIT);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(30),
        "the stop waited for the start in flight only"
    );
    let records = read_journal(&run_dir);
    let kinds: Vec<&Entry> = records
        .iter()
        .map(|r| &r.entry)
        .filter(|e| {
            matches!(
                e,
                Entry::StopRequested | Entry::RunFinished { .. } | Entry::RunStarted { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            kinds[..],
            [
                Entry::RunStarted { .. },
                Entry::StopRequested,
                Entry::RunFinished {
                    outcome: RunOutcome::Interrupted
                }
            ]
        ),
        "{kinds:?}"
    );
    // Nothing failed: a retry of `slow` names nothing to re-arm and is refused, on the
    // terminal (exit 2) and in the journal.
    let before = records.len();
    let retry = spawn(&["retry", run_dir.to_str().unwrap(), "slow"]);
    let retry = wait_bounded(retry, RUN_LIMIT);
    assert_eq!(retry.status.code(), Some(2), "{}", text(&retry));
    let records = read_journal(&run_dir);
    assert_eq!(
        records.len(),
        before + 1,
        "one record, nothing else changed"
    );
    assert!(
        matches!(&records[before].entry, Entry::RequestRefused { request, why }
            if request == "retry slow" && why.contains("no failed node")),
        "{:?}",
        records[before].entry
    );
    // `status` reads the new records without tripping on them.
    let status = wait_bounded(spawn(&["status", run_dir.to_str().unwrap()]), RUN_LIMIT);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(text(&status).contains("interrupted"), "{}", text(&status));
}

/// [`write_topology`] with every host on the system ssh (`client: openssh`).
fn write_openssh_topology(lab: &Lab, subsystems: &str, file: &str) -> PathBuf {
    let path = write_topology(lab, subsystems, file);
    let yaml = std::fs::read_to_string(&path).unwrap().replacen(
        "      connect_timeout: 3s\n",
        "      connect_timeout: 3s\n      client: openssh\n",
        1,
    );
    assert!(yaml.contains("client: openssh"), "{yaml}");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Over the system ssh, a controller killed while the start is in flight, then resumed: the
/// resume adopts the start (its master is gone with the killed run; a new one is made), and
/// the service starts once.
#[test]
fn over_the_system_ssh_a_kill_mid_start_and_resume_starts_once() {
    let lab = Lab::start("io", (88, 20), 1);
    lab.power_on(0);
    let port = 7500;
    let topology = write_openssh_topology(
        &lab,
        &format!(
            "subsystems:\n{}",
            subsystem(&lab, "slow", &[0], port, 3.0, "    ready_timeout: 10s\n")
        ),
        "topology.yaml",
    );
    let run_dir = lab.dir.join("run-openssh");
    let service = format!("{}:{port}", lab.hosts[0].address);
    let child = spawn_run(&topology, &run_dir);
    assert!(wait_for_service_start(&lab, &service));
    kill(child);
    let before = read_journal(&run_dir).len();
    let resumed = wait_bounded(spawn_resume(&run_dir), RUN_LIMIT);
    let shown = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{shown}");
    let after = read_journal(&run_dir);
    assert!(ready_times(&after).contains_key("slow"), "{shown}");
    assert_eq!(count_adopts(&after[before..]), 1, "{shown}");
    assert_eq!(
        starts_by_service(&lab).get(&service),
        Some(&1),
        "0 double starts over the system ssh: {shown}"
    );
}

/// Over the system ssh, a host powered off under its start: the run notices, powers it on,
/// makes a new master and starts the service once more — once per boot. Then the controller
/// is killed and resumed on the finished run: nothing starts again.
#[test]
fn over_the_system_ssh_a_host_lost_mid_start_is_started_once_per_boot_and_a_resume_adds_none() {
    let lab = Lab::start("ip", (88, 22), 1);
    let port = 7600;
    let topology = write_openssh_topology(
        &lab,
        &format!(
            "subsystems:\n{}",
            subsystem(
                &lab,
                "web",
                &[0],
                port,
                3.0,
                "    ready_timeout: 20s\n    retry: { attempts: 1 }\n"
            )
        ),
        "topology.yaml",
    );
    let run_dir = lab.dir.join("run-openssh-power");
    let service = format!("{}:{port}", lab.hosts[0].address);
    let child = spawn_run(&topology, &run_dir);
    assert!(wait_for_service_start(&lab, &service));
    let off = std::process::Command::new("timeout")
        .args(["20", "ipmitool", "-I", "lanplus", "-C", "3", "-H"])
        .arg(&lab.hosts[0].bmc_address)
        .args(["-U", BMC_USER, "-E", "chassis", "power", "off"])
        .env("IPMI_PASSWORD", &lab.password)
        .output()
        .expect("ipmitool");
    assert!(off.status.success(), "power off: {off:?}");
    let finished = wait_bounded(child, RUN_LIMIT);
    let shown = text(&finished);
    assert_eq!(finished.status.code(), Some(0), "{shown}");
    assert!(shown.contains("POWER LOST"), "{shown}");
    assert_eq!(
        starts_by_service(&lab).get(&service),
        Some(&2),
        "one start per boot: {shown}"
    );
    let resumed = wait_bounded(spawn_resume(&run_dir), RUN_LIMIT);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert_eq!(
        starts_by_service(&lab).get(&service),
        Some(&2),
        "the resume of a finished run starts nothing: {}",
        text(&resumed)
    );
}
