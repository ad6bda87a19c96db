//! The benches' lab fleet: 24 hosts with ipmi_sim BMCs, five levels of subsystems whose
//! services open their port 0.5–2 s after start; and how a real run of it is measured: its
//! makespan, and the bound no controller could beat given when each host came up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackstart::event::state::StepStatus;
use blackstart::event::Event;
use blackstart::journal::{Entry, Record};
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use blackstart::topology::Topology;

use super::cli::{read_journal, run_in, text};
use super::lab::{Lab, LabSecret};

/// Hosts in the fleet.
pub const HOSTS: usize = 24;

/// Five levels: dns and config, the database (3 of 4, two at a time), queue and cache,
/// the application, the web tier, the edge. Each subsystem's `expect` is its service's delay,
/// so the plan of the fleet is the bound's model.
fn subsystems(lab: &Lab) -> String {
    let hosts = |range: std::ops::RangeInclusive<usize>| {
        range
            .map(|i| format!("\"{}\"", lab.hosts[i - 1].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut yaml = String::from("subsystems:\n");
    let mut add = |name: &str, port: u16, on, delay: f64, requires: &str, extra: &str| {
        yaml += &format!(
            "  - name: {name}\n    hosts: [{}]\n    requires: [{requires}]\n    start: {}\n    \
             health: {{ tcp: {port} }}\n    expect: {delay}s\n{extra}",
            hosts(on),
            serde_json::to_string(&lab.service_command(port, delay, "")).unwrap()
        );
    };
    add("dns", 7101, 1..=2, 0.5, "", "    tier: S1\n");
    add("config", 7102, 3..=5, 1.0, "", "    min_healthy: 2\n");
    add(
        "db",
        7103,
        6..=9,
        2.0,
        "dns, config",
        "    min_healthy: 3\n    max_parallel: 2\n",
    );
    add("queue", 7104, 10..=12, 0.8, "config", "");
    add("cache", 7105, 13..=15, 1.2, "db", "    min_healthy: 2\n");
    add(
        "app",
        7106,
        16..=19,
        1.5,
        "db, queue",
        "    wants: [cache]\n",
    );
    add("web", 7107, 20..=23, 1.0, "app", "    tier: S1\n");
    add("edge", 7108, 24..=24, 0.5, "web", "    tier: S1\n");
    yaml
}

/// How a bench's lab topology departs from [`Lab::topology_yaml`]'s policy and defaults.
/// Durations are YAML durations (`500ms`, `3s`).
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// `policy.parallelism`.
    pub parallelism: usize,
    /// `policy.power_on`: this many per second.
    pub power_ons_per_s: usize,
    /// `policy.bmc_timeout`.
    pub bmc_timeout: &'static str,
    /// `policy.bmc_attempts`.
    pub bmc_attempts: u32,
    /// Every host's `boot`.
    pub boot: &'static str,
    /// Every host's SSH `connect_timeout`.
    pub connect_timeout: &'static str,
    /// Subsystem default: the health check's `interval` (timeout 1s, one success).
    pub health_interval: &'static str,
    /// Subsystem default: `retry` (3 attempts) `backoff`.
    pub backoff: &'static str,
    /// Subsystem default: `retry` `max_backoff`.
    pub max_backoff: &'static str,
    /// Subsystem default: `start_timeout`.
    pub start_timeout: &'static str,
    /// Subsystem default: `ready_timeout`.
    pub ready_timeout: &'static str,
}

/// The fleet's timings: short BMC limits and boots, a 500 ms health interval, three attempts
/// per start; the lab's parallelism, power-on rate and SSH connect timeout.
pub const FLEET_TIMINGS: Timings = Timings {
    parallelism: 16,
    power_ons_per_s: 50,
    bmc_timeout: "3s",
    bmc_attempts: 1,
    boot: "2s",
    connect_timeout: "3s",
    health_interval: "500ms",
    backoff: "500ms",
    max_backoff: "2s",
    start_timeout: "10s",
    ready_timeout: "15s",
};

/// Writes the fleet's topology into the lab's directory, with [`FLEET_TIMINGS`].
pub fn write_topology(lab: &Lab) -> PathBuf {
    write_topology_with(lab, &subsystems(lab), &FLEET_TIMINGS)
}

/// Writes the lab's topology with `subsystems` (see [`Lab::topology_yaml`]) and `timings`
/// into the lab's directory; returns its path.
pub fn write_topology_with(lab: &Lab, subsystems: &str, timings: &Timings) -> PathBuf {
    let mut yaml = lab.topology_yaml(LabSecret::File, subsystems);
    // Each edit must find its text: a change to the lab's YAML fails here, not as a bench
    // silently run with the lab's defaults.
    let mut replace = |from: &str, to: &str| {
        assert!(yaml.contains(from), "lab topology lost {from:?}");
        yaml = yaml.replacen(from, to, 1);
    };
    replace(
        "  parallelism: 16\n",
        &format!(
            "  parallelism: {}\n  bmc_timeout: {}\n  bmc_attempts: {}\n",
            timings.parallelism, timings.bmc_timeout, timings.bmc_attempts
        ),
    );
    replace(
        "power_on: { count: 50, per: 1s }",
        &format!(
            "power_on: {{ count: {}, per: 1s }}",
            timings.power_ons_per_s
        ),
    );
    replace("    boot: 10s\n", &format!("    boot: {}\n", timings.boot));
    replace(
        "connect_timeout: 3s",
        &format!("connect_timeout: {}", timings.connect_timeout),
    );
    replace(
        "hosts:\n",
        &format!(
            "  subsystem:\n    health_policy: {{ interval: {}, timeout: 1s, successes: 1 }}\n    \
             retry: {{ attempts: 3, backoff: {}, max_backoff: {} }}\n    start_timeout: {}\n    \
             ready_timeout: {}\nhosts:\n",
            timings.health_interval,
            timings.backoff,
            timings.max_backoff,
            timings.start_timeout,
            timings.ready_timeout
        ),
    );
    lab.write_topology_text(&yaml)
}

/// Milliseconds of the run's first action (the origin of makespans and bounds).
pub fn first_action(records: &[Record]) -> u64 {
    records
        .iter()
        .find(|r| matches!(r.entry, Entry::Action { .. }))
        .map_or(0, |r| r.t_ms)
}

/// Milliseconds of every step-ready record, in journal order.
pub fn ready_ms(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .filter(|r| {
            matches!(
                r.entry,
                Entry::StepStatus {
                    status: StepStatus::Ready,
                    ..
                }
            )
        })
        .map(|r| r.t_ms)
        .collect()
}

/// From the first action to the last step ready, as the drill measures a makespan.
pub fn makespan(records: &[Record]) -> Duration {
    let last = ready_ms(records)
        .into_iter()
        .max()
        .expect("steps became ready");
    Duration::from_millis(last - first_action(records))
}

/// When a host counts as up, for [`bound`].
#[derive(Debug, Clone, Copy)]
pub enum HostUp {
    /// When its BMC confirmed the power-on (the lab's BMC answers once sshd listens).
    PoweredOn,
    /// When it first answered SSH (what `tests/run_lab.rs` has always measured from).
    SshReady,
}

/// The makespan no controller could beat on this run: the plan of `topology` (quorums,
/// rolling starts, soft dependencies, each start taking exactly its service's delay) with
/// every host booting at the moment it came `up` in the journal. What a run takes beyond it
/// is the controller's own overhead: polling, SSH logins, process starts.
pub fn bound(topology: &Topology, records: &[Record], up: HostUp) -> Duration {
    let origin = first_action(records);
    let mut topology = topology.clone();
    for record in records {
        let host = match (&record.entry, up) {
            (
                Entry::Event {
                    event:
                        Event::PoweredOn {
                            host,
                            result: Ok(()),
                        },
                    ..
                },
                HostUp::PoweredOn,
            )
            | (
                Entry::Event {
                    event:
                        Event::SshReady {
                            host,
                            result: Ok(()),
                        },
                    ..
                },
                HostUp::SshReady,
            ) => *host,
            _ => continue,
        };
        topology.hosts[host].boot = Duration::from_millis(record.t_ms - origin);
    }
    let selection = Scope::default().select(&topology).unwrap();
    Plan::build(&topology, &selection).unwrap().eta
}

/// One real cold start: every host of the fleet powered off, then `blackstart run FILE`
/// into `<lab>/run-<run>`, which must exit 0. Returns the run directory and its figures.
pub fn cold_start(lab: &Lab, file: &Path, topology: &Topology, run: usize) -> (PathBuf, Measured) {
    for host in 0..HOSTS {
        lab.power_off(host);
    }
    let dir = lab.dir.join(format!("run-{run}"));
    let output = run_in(file, &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let measured = measure(topology, &dir);
    (dir, measured)
}

/// The journal's makespan and both bounds, as one line and as JSON.
pub fn measure(topology: &Topology, run_dir: &Path) -> Measured {
    let records = read_journal(run_dir);
    Measured {
        makespan: makespan(&records),
        bound_powered_on: bound(topology, &records, HostUp::PoweredOn),
        bound_ssh_ready: bound(topology, &records, HostUp::SshReady),
    }
}

/// One real run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// First action to last step ready.
    pub makespan: Duration,
    /// [`bound`] with hosts up at their power-on.
    pub bound_powered_on: Duration,
    /// [`bound`] with hosts up at their first SSH answer.
    pub bound_ssh_ready: Duration,
}

impl Measured {
    /// Makespan / bound (hosts up at power-on).
    pub fn ratio_powered_on(&self) -> f64 {
        self.makespan.as_secs_f64() / self.bound_powered_on.as_secs_f64()
    }

    /// Makespan / bound (hosts up at their first SSH answer).
    pub fn ratio_ssh_ready(&self) -> f64 {
        self.makespan.as_secs_f64() / self.bound_ssh_ready.as_secs_f64()
    }

    /// `makespan 12.34s; bound 10.00s (x1.23) from power-on, 10.20s (x1.21) from SSH answer`.
    pub fn line(&self) -> String {
        format!(
            "makespan {:.2}s; bound {:.2}s from power-on (ratio {:.3}), {:.2}s from first SSH answer (ratio {:.3})",
            self.makespan.as_secs_f64(),
            self.bound_powered_on.as_secs_f64(),
            self.ratio_powered_on(),
            self.bound_ssh_ready.as_secs_f64(),
            self.ratio_ssh_ready()
        )
    }

    /// The figures as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "makespan_s": self.makespan.as_secs_f64(),
            "bound_powered_on_s": self.bound_powered_on.as_secs_f64(),
            "ratio_powered_on": self.ratio_powered_on(),
            "bound_ssh_ready_s": self.bound_ssh_ready.as_secs_f64(),
            "ratio_ssh_ready": self.ratio_ssh_ready(),
        })
    }
}

/// The machine's load averages (1, 5, 15 minutes), as `uptime` shows them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
