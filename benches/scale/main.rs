//! A real run of 1,000 hosts (or up to 5,000) in the lab (a bench, not in CI).
//!
//! `flock /work/lab.lock cargo bench --bench scale` starts 1,000 sshd hosts on loopback
//! (127.120.10.x to 127.120.16.x, BMCs on the odd blocks beside them; needs
//! `bash tests/install-lab-packages.sh` and root), gives the first `BLACKSTART_SCALE_BMCS`
//! (default: all 1,000) an ipmi_sim BMC and powers the others on, generates the reference
//! topology (`topologies/social-network.yaml`) scaled down to those hosts (see `shape.rs`),
//! and runs `blackstart run --yes` on it through the release binary, as an operator would.
//! It checks the run exits 0, every step is ready and every node's port answers, then reports
//! the makespan against the topology's lower bound (their ratio), the controller's peak memory
//! and CPU time, SSH sessions per second (from the hosts' sshd logs) and the journal's size.
//! Also the bound recomputed from when each host's BMC confirmed its power-on (what the
//! controller could do with the boots this lab really had), and the wall time of `status`
//! and `report -o` on the finished run. Writes target/bench-scale-HOSTS.json and keeps the
//! journal as target/bench-scale-HOSTS.jsonl. `BLACKSTART_SCALE_HOSTS` sets the fleet's size:
//! at least 432 hosts (the reference's quorums need them), at most 5,000 (127.120.10.x to
//! 127.120.49.x; one sshd and one ipmi_sim per host: at 5,000 that is about 6 GB and 3.5 GB).
//!
//! Why every host gets a BMC: measured on the 2-core, 23 GB lab machine, 1,000 ipmi_sim
//! processes start in about 13 s, hold about 0.7 MB of private memory each (1 GB in all,
//! beside 1.25 GB for the 1,000 sshd) and use no CPU while idle, so the machine holds one per
//! host. What they cost is per call: a power read or power-on is one `ipmitool` lanplus
//! session (about 30 ms of CPU in the controller's children), and the 2,000 of a cold start
//! are what bounds the run's first minutes on two shared cores.
//! Services are the lab's port keeper (one Python process for all ports) rather than one
//! Python server per node, which would cost 10 MB each.

mod shape;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blackstart::event::Event;
use blackstart::journal::{Entry, JOURNAL_FILE};
use blackstart::load::load_file;
use blackstart::plan::Plan;
use blackstart::scope::Scope;
use serde_json::json;
use support::bound::lower_bound;
use support::cli::{output_bounded, read_journal, BIN};
use support::lab::Lab;
use support::lab_fleet::{
    bound as bound_from_boots, first_action, load_average, makespan, ready_ms, write_topology_with,
    HostUp, Timings,
};
use support::procs::peak_rss_kb;

const HOSTS: usize = 1000;
/// The lab's first block: 127.120.10.x, then .12, .14, .16 (BMCs on .11, .13, .15, .17).
const BLOCK: (u8, u8) = (120, 10);
const REFERENCE: &str = "topologies/social-network.yaml";
/// The reference's minutes become the lab's seconds.
const TIME_SCALE: f64 = 1.0 / 60.0;
/// The reference's own `parallelism`: a lab node costs one SSH session and a timer while it
/// starts, so the fleet-wide cap is the reference's policy, unchanged.
const PARALLELISM: usize = 256;
/// Hosts the lab machine boots per second (see `TIMINGS`).
const LAB_BOOTS_PER_S: usize = 25;
/// No run may take longer than this (the bound is about a minute).
const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: not a count: {v}"))
        })
        .unwrap_or(default)
}

/// The lab's timings and policy for the scaled reference.
const TIMINGS: Timings = Timings {
    parallelism: PARALLELISM,
    // Every lab host boots on the same two cores (an sshd started by its BMC), so the lab
    // is one power domain whose rate is what the machine boots without starving the hosts
    // already up: at 100 a second a 1,000-host run drove the load past 100 and services
    // missed their ready timeouts. Real hosts boot on their own CPUs; the bound from the
    // actual power-ons below takes this pace into account.
    power_ons_per_s: LAB_BOOTS_PER_S,
    bmc_timeout: "10s",
    bmc_attempts: 3,
    // Powering on returns once sshd listens: a lab host boots in well under a second.
    boot: "500ms",
    connect_timeout: "10s",
    health_interval: "250ms",
    backoff: "1s",
    max_backoff: "4s",
    start_timeout: "30s",
    ready_timeout: "60s",
};

/// The controller, killed and reaped on drop unless it was reaped already.
struct Controller {
    pid: libc::pid_t,
    reaped: bool,
}

impl Drop for Controller {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own unreaped child: the pid cannot have been reused.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// What the controller's process used.
struct Usage {
    exit_code: Option<i32>,
    wall: Duration,
    /// VmHWM of the process itself (sampled every 50 ms; the kernel keeps the peak).
    peak_rss_mb: f64,
    /// ru_maxrss from wait4: the largest of the process and the children it waited for.
    wait4_maxrss_mb: f64,
    /// With the programs it ran (ipmitool) and waited for: what wait4 reports.
    cpu_user_s: f64,
    cpu_system_s: f64,
    /// Its own, without its children: the last sample of /proc/PID/stat (50 ms before exit
    /// at most).
    own_cpu_s: f64,
}

/// The process's own user + system CPU seconds.
fn own_cpu(pid: libc::pid_t) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
    let ticks: f64 = fields[11].parse::<f64>().ok()? + fields[12].parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

/// `blackstart run FILE --run-dir DIR --yes`, output to files in DIR's parent, waited for
/// with wait4 (bounded) for its resource usage.
// The child is reaped by wait4 (for its rusage) or by `Controller`'s drop, not by `Child`.
#[allow(clippy::zombie_processes)]
fn run_controller(file: &Path, run_dir: &Path) -> Usage {
    let logs = run_dir.parent().unwrap();
    let began = Instant::now();
    let child = Command::new(BIN)
        .args(["run", "--yes", "--run-dir"])
        .arg(run_dir)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(File::create(logs.join("controller.out")).unwrap())
        .stderr(File::create(logs.join("controller.err")).unwrap())
        .spawn()
        .expect("blackstart binary");
    let mut controller = Controller {
        pid: child.id() as libc::pid_t,
        reaped: false,
    };
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let (mut own_cpu_s, mut own_peak_kb) = (0.0, 0.0_f64);
    loop {
        own_cpu_s = own_cpu(controller.pid).unwrap_or(own_cpu_s);
        own_peak_kb = own_peak_kb.max(peak_rss_kb(controller.pid).map_or(0.0, |kb| kb as f64));
        // SAFETY: wait4 on our own child, WNOHANG: returns at once.
        let done = unsafe { libc::wait4(controller.pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == controller.pid {
            controller.reaped = true;
            break;
        }
        assert!(
            began.elapsed() < RUN_LIMIT,
            "blackstart ran longer than {RUN_LIMIT:?}; see {}",
            logs.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        wall: began.elapsed(),
        peak_rss_mb: own_peak_kb / 1024.0,
        // ru_maxrss is in kilobytes on Linux.
        wait4_maxrss_mb: usage.ru_maxrss as f64 / 1024.0,
        cpu_user_s: seconds(usage.ru_utime),
        cpu_system_s: seconds(usage.ru_stime),
        own_cpu_s,
    }
}

/// Puts every host of the topology at `file` in one power domain, the lab machine.
fn one_power_domain(file: &Path) {
    let yaml = std::fs::read_to_string(file).unwrap();
    let hosts = yaml.matches("\n    rack: ").count();
    assert!(hosts > 0, "the lab topology names its hosts' racks");
    let yaml = yaml.replace(
        "\n    rack: ",
        "\n    power_domain: lab-machine\n    rack: ",
    );
    std::fs::write(file, yaml).unwrap();
}

/// Wall time of `blackstart ARGS` as a person types it (bounded), which must exit 0.
fn timed(args: &[&str]) -> Duration {
    let began = Instant::now();
    let output = output_bounded(Command::new(BIN).args(args));
    assert!(
        output.status.success(),
        "blackstart {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    began.elapsed()
}

/// The failed nodes of the run's summary (`nodes: ... N failed, of M`), 0 when none.
fn failed_nodes(summary: &str) -> usize {
    summary
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nodes: "))
        .filter_map(|rest| {
            rest.split(", ")
                .find_map(|part| part.strip_suffix(" failed"))
        })
        .filter_map(|count| count.parse().ok())
        .next_back()
        .unwrap_or(0)
}

/// Logins every host's sshd accepted.
fn ssh_sessions(lab: &Lab) -> usize {
    lab.hosts
        .iter()
        .map(|host| {
            std::fs::read_to_string(host.dir.join("sshd.log"))
                .unwrap_or_default()
                .lines()
                .filter(|line| line.contains("Accepted publickey"))
                .count()
        })
        .sum()
}

/// Nodes whose port does not answer a TCP connect (each tried for at most 1 s).
fn silent_nodes(nodes: &[(String, u16)]) -> Vec<String> {
    nodes
        .iter()
        .filter(|(address, port)| {
            let socket: SocketAddr = format!("{address}:{port}").parse().unwrap();
            TcpStream::connect_timeout(&socket, Duration::from_secs(1)).is_err()
        })
        .map(|(address, port)| format!("{address}:{port}"))
        .collect()
}

fn main() {
    let hosts = env_count("BLACKSTART_SCALE_HOSTS", HOSTS);
    let bmcs = env_count("BLACKSTART_SCALE_BMCS", hosts).min(hosts);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = load_file(&root.join(REFERENCE))
        .unwrap_or_else(|e| panic!("{e}"))
        .topology;
    let counts = shape::scaled_counts(&reference, hosts);
    let started = Instant::now();
    let mut lab = Lab::start_fleet("sc", BLOCK, hosts, bmcs);
    lab.start_port_keeper();
    let lab_start = started.elapsed();
    println!(
        "scale bench: lab of {hosts} sshd hosts ({bmcs} with ipmi_sim BMCs) up in {:.1}s",
        lab_start.as_secs_f64()
    );

    let file = write_topology_with(
        &lab,
        &shape::subsystems_yaml(&reference, &counts, &lab, TIME_SCALE),
        &TIMINGS,
    );
    one_power_domain(&file);
    let topology = load_file(&file).unwrap_or_else(|e| panic!("{e}")).topology;
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    let (bound, by_work) = lower_bound(&topology, &plan);

    let load_before = load_average();
    let run_dir = lab.dir.join("run-1");
    let usage = run_controller(&file, &run_dir);
    let load_after = load_average();
    let out = std::fs::read_to_string(lab.dir.join("controller.out")).unwrap_or_default();
    let err = std::fs::read_to_string(lab.dir.join("controller.err")).unwrap_or_default();
    let tail = |text: &str| text.lines().rev().take(40).collect::<Vec<_>>().join("\n");
    // Kept before anything is asserted, so a failed run can be read afterwards (`blackstart
    // status` works on a run directory holding only this journal).
    let kept = root.join(format!("target/bench-scale-{hosts}.jsonl"));
    std::fs::copy(run_dir.join(JOURNAL_FILE), &kept).unwrap();
    std::fs::write(root.join(format!("target/bench-scale-{hosts}.out")), &out).unwrap();
    assert_eq!(
        usage.exit_code,
        Some(0),
        "blackstart run failed (journal kept as {}, output as target/bench-scale-{hosts}.out):\n{}\n{}",
        kept.display(),
        tail(&out),
        tail(&err)
    );

    let records = read_journal(&run_dir);
    let first_action = first_action(&records);
    let ready = ready_ms(&records);
    let last_record = records.last().map_or(0, |r| r.t_ms);
    let makespan = makespan(&records);
    let actions = records
        .iter()
        .filter(|r| matches!(r.entry, Entry::Action { .. }))
        .count();
    // The BMC calls (power reads and power-ons), and when the last one was answered.
    let bmc_answers: Vec<u64> = records
        .iter()
        .filter(|r| {
            matches!(
                r.entry,
                Entry::Event {
                    event: Event::PowerChecked { .. } | Event::PoweredOn { .. },
                    ..
                }
            )
        })
        .map(|r| r.t_ms)
        .collect();
    let last_bmc_answer = Duration::from_millis(
        bmc_answers.iter().max().copied().unwrap_or(first_action) - first_action,
    );
    assert_eq!(
        ready.len(),
        plan.steps.len(),
        "every step ready once: {} of {}",
        ready.len(),
        plan.steps.len()
    );
    let nodes = shape::expected_ports(&reference, &counts, &lab);
    let silent = silent_nodes(&nodes);
    // A run exits 0 with nodes failed within quorum (RECOVERED, DEGRADED): those may be
    // silent, and are what the lab lost to its own load; any other silent node is a node
    // the journal calls healthy that does not answer.
    let failed_in_quorum = failed_nodes(&out);
    assert!(
        silent.len() <= failed_in_quorum,
        "{} nodes not answering, {failed_in_quorum} failed in the journal: {silent:?}",
        silent.len()
    );

    let sessions = ssh_sessions(&lab);
    let run_span = Duration::from_millis(last_record - first_action);
    let journal = std::fs::read_to_string(run_dir.join(JOURNAL_FILE)).unwrap();
    let ratio = makespan.as_secs_f64() / bound.as_secs_f64();
    // The bound of this run: the plan with every host up when its BMC confirmed the
    // power-on (a loaded lab boots late; the controller cannot beat its hosts).
    let booted_bound = bound_from_boots(&topology, &records, HostUp::PoweredOn);
    let booted_ratio = makespan.as_secs_f64() / booted_bound.as_secs_f64();
    let run = run_dir.to_str().unwrap();
    let status_time = timed(&["status", run]);
    let html = lab.dir.join("report.html");
    let report_time = timed(&["report", run, "-o", html.to_str().unwrap()]);
    let cpu = usage.cpu_user_s + usage.cpu_system_s;
    println!(
        "  topology: {} subsystems ({} steps) of {REFERENCE} on {hosts} hosts, {} nodes, times x{TIME_SCALE:.4}, parallelism {PARALLELISM}",
        topology.subsystems.len(),
        plan.steps.len(),
        nodes.len(),
    );
    println!(
        "  run: exit 0, {} of {} steps ready, {} of {} node ports answer ({failed_in_quorum} nodes failed within quorum)",
        ready.len(),
        plan.steps.len(),
        nodes.len() - silent.len(),
        nodes.len()
    );
    println!(
        "  makespan {:.2}s vs lower bound {:.2}s (work/parallelism {:.2}s): ratio {ratio:.2}; plan ETA {:.2}s; controller wall {:.2}s",
        makespan.as_secs_f64(),
        bound.as_secs_f64(),
        by_work.as_secs_f64(),
        plan.eta.as_secs_f64(),
        usage.wall.as_secs_f64()
    );
    println!(
        "  bound from the hosts' actual power-ons {:.2}s: ratio {booted_ratio:.3}",
        booted_bound.as_secs_f64()
    );
    println!(
        "  controller: peak RSS {:.1} MB; CPU {:.2}s of its own ({:.0}% of one core over its wall time), {cpu:.2}s with the programs it ran ({:.2}s user + {:.2}s system)",
        usage.peak_rss_mb,
        usage.own_cpu_s,
        100.0 * usage.own_cpu_s / usage.wall.as_secs_f64(),
        usage.cpu_user_s,
        usage.cpu_system_s,
    );
    println!(
        "  SSH: {sessions} sessions accepted in {:.2}s of run = {:.1}/s; {actions} actions journalled",
        run_span.as_secs_f64(),
        sessions as f64 / run_span.as_secs_f64()
    );
    println!(
        "  BMC: {} calls for {bmcs} BMCs ({:.2} per BMC; power reads and power-ons, native IPMI), the last answered at {:.2}s = {:.1} calls/s",
        bmc_answers.len(),
        bmc_answers.len() as f64 / bmcs.max(1) as f64,
        last_bmc_answer.as_secs_f64(),
        bmc_answers.len() as f64 / last_bmc_answer.as_secs_f64()
    );
    println!(
        "  journal: {} bytes, {} lines; load before {load_before}, after {load_after}",
        journal.len(),
        journal.lines().count()
    );
    println!(
        "  views of the finished run: `status` {:.0} ms, `report -o` {:.0} ms; journal kept as {}",
        status_time.as_secs_f64() * 1e3,
        report_time.as_secs_f64() * 1e3,
        kept.display()
    );
    let report = json!({
        "hosts": hosts,
        "bmcs": bmcs,
        "subsystems": topology.subsystems.len(),
        "steps": plan.steps.len(),
        "nodes": nodes.len(),
        "time_scale": TIME_SCALE,
        "parallelism": PARALLELISM,
        "lab_start_s": lab_start.as_secs_f64(),
        "makespan_s": makespan.as_secs_f64(),
        "lower_bound_s": bound.as_secs_f64(),
        "work_bound_s": by_work.as_secs_f64(),
        "ratio": ratio,
        "booted_bound_s": booted_bound.as_secs_f64(),
        "booted_ratio": booted_ratio,
        "status_ms": status_time.as_secs_f64() * 1e3,
        "report_ms": report_time.as_secs_f64() * 1e3,
        "plan_eta_s": plan.eta.as_secs_f64(),
        "controller_wall_s": usage.wall.as_secs_f64(),
        "controller_peak_rss_mb": usage.peak_rss_mb,
        "controller_wait4_maxrss_mb": usage.wait4_maxrss_mb,
        "controller_own_cpu_s": usage.own_cpu_s,
        "controller_and_children_cpu_user_s": usage.cpu_user_s,
        "controller_and_children_cpu_system_s": usage.cpu_system_s,
        "ssh_sessions": sessions,
        "ssh_sessions_per_s": sessions as f64 / run_span.as_secs_f64(),
        "actions": actions,
        "bmc_calls": bmc_answers.len(),
        "last_bmc_answer_s": last_bmc_answer.as_secs_f64(),
        "journal_bytes": journal.len(),
        "journal_lines": journal.lines().count(),
        "load_before": load_before,
        "load_after": load_after,
    });
    let out = root.join(format!("target/bench-scale-{hosts}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("  written to {}", out.display());
}
