//! The reference topology (`topologies/social-network.yaml`) scaled down to a lab fleet: the
//! same subsystems, tiers, dependencies (bootstrap ones too), quorums and rolling starts, with
//! host counts scaled to the lab's size and times to the lab's clock. Each service is the
//! lab's port keeper opening one port per subsystem after the subsystem's scaled `expect`.

use std::fmt::Write as _;
use std::time::Duration;

use blackstart::topology::{MinHealthy, Topology};

use crate::support::lab::Lab;

/// Ports: 7000 + subsystem index for the service, 7500 + index for its bootstrap mode.
const PORT: u16 = 7000;
const BOOTSTRAP_PORT: u16 = 7500;

/// How many hosts each reference subsystem gets out of `total`: about proportional, but a
/// group keeps one member more than an absolute quorum (`min_healthy: 4` of 6 stays 5 hosts,
/// so a quorum is still a choice) and two members when its quorum is a percentage, never more
/// than it had. Sums to `total` exactly.
pub fn scaled_counts(reference: &Topology, total: usize) -> Vec<usize> {
    let sizes: Vec<usize> = reference.subsystems.iter().map(|s| s.hosts.len()).collect();
    let floors: Vec<usize> = reference
        .subsystems
        .iter()
        .zip(&sizes)
        .map(|(subsystem, &n)| match subsystem.min_healthy {
            MinHealthy::Count(k) => n.min(k as usize + 1),
            MinHealthy::Percent(_) => n.min(2),
        })
        .collect();
    let counts_at = |factor: f64| -> Vec<usize> {
        sizes
            .iter()
            .zip(&floors)
            .map(|(&n, &floor)| ((n as f64 * factor).round() as usize).clamp(floor, n))
            .collect()
    };
    let available: usize = sizes.iter().sum();
    assert!(
        floors.iter().sum::<usize>() <= total && total <= available,
        "scale: {total} hosts cannot hold the reference's shape ({} to {available})",
        floors.iter().sum::<usize>()
    );
    // The largest factor whose counts fit: bisection, 60 halvings are far below one host.
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    for _ in 0..60 {
        let middle = (low + high) / 2.0;
        if counts_at(middle).iter().sum::<usize>() <= total {
            low = middle;
        } else {
            high = middle;
        }
    }
    let mut counts = counts_at(low);
    // Hand out what rounding left, one host at a time, to the groups furthest below their
    // proportional share (bounded: at most `total` rounds).
    for _ in 0..total {
        if counts.iter().sum::<usize>() >= total {
            break;
        }
        let behind = (0..sizes.len())
            .filter(|&i| counts[i] < sizes[i])
            .max_by(|&a, &b| {
                let gap = |i: usize| sizes[i] as f64 * high - counts[i] as f64;
                gap(a).total_cmp(&gap(b))
            })
            .expect("room left: total <= available");
        counts[behind] += 1;
    }
    counts
}

/// A duration scaled by `scale`, never below `floor`, written in milliseconds.
fn millis(duration: Duration, scale: f64, floor: Duration) -> String {
    let scaled = duration.mul_f64(scale).max(floor);
    format!("{}ms", scaled.as_millis())
}

fn quorum(min_healthy: MinHealthy) -> String {
    match min_healthy {
        MinHealthy::Count(k) => k.to_string(),
        MinHealthy::Percent(p) => format!("{p}%"),
    }
}

/// The `subsystems:` block: each reference subsystem on `counts[i]` consecutive lab hosts.
/// `time_scale` shrinks `expect` (at least 200 ms).
pub fn subsystems_yaml(
    reference: &Topology,
    counts: &[usize],
    lab: &Lab,
    time_scale: f64,
) -> String {
    let floor = Duration::from_millis(200);
    let q = |text: &str| serde_json::to_string(text).unwrap();
    let names = |ids: &mut dyn Iterator<Item = usize>| {
        ids.map(|id| q(&reference.subsystems[id].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut next_host = 0;
    let mut yaml = String::from("subsystems:\n");
    for (index, (subsystem, &count)) in reference.subsystems.iter().zip(counts).enumerate() {
        let port = PORT + index as u16;
        let hosts: Vec<String> = lab.hosts[next_host..next_host + count]
            .iter()
            .map(|host| q(&host.name))
            .collect();
        next_host += count;
        let requires: Vec<String> = subsystem
            .requires
            .iter()
            .map(|dependency| {
                let name = q(&reference.subsystems[dependency.on].name);
                if dependency.bootstrap_ok {
                    format!("{{ name: {name}, bootstrap: true }}")
                } else {
                    name
                }
            })
            .collect();
        writeln!(
            yaml,
            "  - name: {}\n    tier: S{}\n    hosts: [{}]\n    requires: [{}]\n    \
             wants: [{}]\n    start: {}\n    health: {{ tcp: {port} }}\n    expect: {}\n    \
             min_healthy: {}",
            q(&subsystem.name),
            subsystem.tier.0,
            hosts.join(", "),
            requires.join(", "),
            names(&mut subsystem.wants.iter().copied()),
            q(&lab.port_service_command(port, secs(subsystem.expect, time_scale, floor))),
            millis(subsystem.expect, time_scale, floor),
            quorum(subsystem.min_healthy),
        )
        .unwrap();
        if let Some(parallel) = subsystem.max_parallel {
            writeln!(yaml, "    max_parallel: {parallel}").unwrap();
        }
        if let Some(bootstrap) = &subsystem.bootstrap {
            let port = BOOTSTRAP_PORT + index as u16;
            writeln!(
                yaml,
                "    bootstrap:\n      start: {}\n      stop: {}\n      health: {{ tcp: {port} }}\n      \
                 requires: [{}]\n      expect: {}",
                q(&lab.port_service_command(port, secs(bootstrap.expect, time_scale, floor))),
                q(&lab.port_stop_command(port)),
                names(&mut bootstrap.requires.iter().copied()),
                millis(bootstrap.expect, time_scale, floor),
            )
            .unwrap();
        }
    }
    yaml
}

fn secs(duration: Duration, scale: f64, floor: Duration) -> f64 {
    duration.mul_f64(scale).max(floor).as_secs_f64()
}

/// (address, port) of every node: what must answer a TCP connect once the run is done.
pub fn expected_ports(reference: &Topology, counts: &[usize], lab: &Lab) -> Vec<(String, u16)> {
    let mut next_host = 0;
    let mut nodes = Vec::new();
    for (index, &count) in counts.iter().enumerate() {
        for host in &lab.hosts[next_host..next_host + count] {
            nodes.push((host.address.clone(), PORT + index as u16));
        }
        next_host += count;
    }
    debug_assert_eq!(counts.len(), reference.subsystems.len());
    nodes
}
