//! Fan-out benchmark: `true` on every host of a real lab (one sshd per host on loopback),
//! timed for blackstart, pdsh and Ansible in the same run, at the same parallelism, with the
//! same strict host-key checking. Run with `cargo bench --bench fanout`.
//!
//! blackstart is measured through the built binary (`blackstart exec FILE --all --parallel N
//! -- true`), process start and topology loading included, as an operator runs it.
//! pdsh runs OpenSSH with its default key exchange; a second pdsh row forces
//! curve25519-sha256 (what libssh2 negotiates) to separate crypto cost from tool cost.
//! Ansible runs `-m raw` with connection sharing off (ControlMaster=no), so every run opens
//! fresh connections, as the other tools do.
//!
//! Environment: `BENCH_FANOUT_HOSTS` (default 200, at most 250), `BENCH_FANOUT_PARALLEL`
//! (default `20,200`), `BENCH_FANOUT_RUNS` (default 3). Writes `target/bench-fanout.json`.
//! pdsh comes from `bash tests/install-lab-packages.sh`; ansible-core is installed with pip
//! into `target/fanout-venv` when missing. A missing tool fails the bench; nothing is skipped.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::lab::{Lab, LabSecret};

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");
/// Longest any single timed run may take before the bench gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(600);
const ANSIBLE_TARGET: f64 = 5.0;
const PDSH_TARGET: f64 = 1.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Blackstart,
    Pdsh,
    PdshCurve,
    Ansible,
}

impl Tool {
    const ALL: [Tool; 4] = [Tool::Blackstart, Tool::Pdsh, Tool::PdshCurve, Tool::Ansible];

    fn name(self) -> &'static str {
        match self {
            Tool::Blackstart => "blackstart exec",
            Tool::Pdsh => "pdsh -R ssh",
            Tool::PdshCurve => "pdsh -R ssh (kex curve25519)",
            Tool::Ansible => "ansible -m raw",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Tool::Blackstart => "blackstart",
            Tool::Pdsh => "pdsh",
            Tool::PdshCurve => "pdsh_curve25519",
            Tool::Ansible => "ansible",
        }
    }
}

struct Setup {
    topology: PathBuf,
    pdsh_hosts: PathBuf,
    ssh_config: PathBuf,
    ssh_config_curve: PathBuf,
    inventory: PathBuf,
    ansible: PathBuf,
    ansible_home: PathBuf,
    logs: PathBuf,
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let hosts: usize = env_or("BENCH_FANOUT_HOSTS", 200);
    assert!(
        (1..=250).contains(&hosts),
        "BENCH_FANOUT_HOSTS must be 1..=250"
    );
    let parallels: Vec<usize> = std::env::var("BENCH_FANOUT_PARALLEL")
        .unwrap_or_else(|_| "20,200".into())
        .split(',')
        .map(|p| p.trim().parse().expect("BENCH_FANOUT_PARALLEL: numbers"))
        .collect();
    let runs: usize = env_or("BENCH_FANOUT_RUNS", 3).max(1);
    let target_dir = target_dir();

    let pdsh = which("pdsh").unwrap_or_else(|| {
        panic!("pdsh is missing: install it with `bash tests/install-lab-packages.sh`")
    });
    let ansible = ensure_ansible(&target_dir);
    eprintln!(
        "fanout bench: pdsh {}, ansible {}",
        pdsh.display(),
        ansible.display()
    );

    let began = Instant::now();
    let all: Vec<usize> = (0..hosts).collect();
    let lab = Lab::start_with("fb", (93, 20), hosts, &all);
    eprintln!(
        "fanout bench: lab of {hosts} hosts up in {:.1}s ({})",
        began.elapsed().as_secs_f64(),
        lab.dir.display()
    );
    let setup = write_setup(&lab, &ansible, &target_dir);

    // One untimed pass of every tool: checks every tool reaches every host with strict host
    // keys (a run that is not all-ok fails the bench), and warms caches equally.
    let warm = parallels[0];
    for tool in Tool::ALL {
        let took = run_tool(tool, &setup, warm);
        eprintln!(
            "warm-up {:<30} -f {warm:<4} {:.2}s",
            tool.name(),
            took.as_secs_f64()
        );
    }

    // times[parallel][tool] = seconds of each run; tools interleaved within each round.
    let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); Tool::ALL.len()]; parallels.len()];
    for (p, &parallel) in parallels.iter().enumerate() {
        for round in 0..runs {
            for (t, tool) in Tool::ALL.into_iter().enumerate() {
                let took = run_tool(tool, &setup, parallel).as_secs_f64();
                eprintln!(
                    "run {}/{runs} {:<30} -f {parallel:<4} {took:.2}s",
                    round + 1,
                    tool.name()
                );
                times[p][t].push(took);
            }
        }
    }

    let medians: Vec<Vec<f64>> = times
        .iter()
        .map(|per_tool| per_tool.iter().map(|runs| median(runs)).collect())
        .collect();
    let table = render_table(hosts, runs, &parallels, &medians);
    print!("{table}");
    let json = render_json(hosts, runs, &parallels, &times, &medians);
    let out = target_dir.join("bench-fanout.json");
    std::fs::write(&out, json).expect("write bench-fanout.json");
    println!("wrote {}", out.display());
    drop(lab);
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `target/fanout-venv/bin/ansible`, installing ansible-core from PyPI into that venv when
/// missing. Panics when it cannot.
fn ensure_ansible(target_dir: &Path) -> PathBuf {
    let venv = target_dir.join("fanout-venv");
    let ansible = venv.join("bin/ansible");
    if ansible.is_file() {
        return ansible;
    }
    eprintln!(
        "fanout bench: installing ansible-core into {}",
        venv.display()
    );
    let python = which("python3").expect("python3 is missing: it is needed for ansible-core");
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv");
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "ansible-core"])
        .status()
        .expect("pip");
    assert!(
        status.success() && ansible.is_file(),
        "pip install ansible-core into {} failed: the bench needs Ansible as a baseline",
        venv.display()
    );
    ansible
}

fn write_setup(lab: &Lab, ansible: &Path, target_dir: &Path) -> Setup {
    let names: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("\"{}\"", h.name))
        .collect();
    let subsystems = format!(
        "subsystems:\n  - name: fleet\n    hosts: [{}]\n    start: \"true\"\n",
        names.join(", ")
    );
    let topology = lab.write_topology(LabSecret::File, &subsystems);

    let addresses: String = lab
        .hosts
        .iter()
        .map(|h| format!("{}\n", h.address))
        .collect();
    let pdsh_hosts = lab.dir.join("pdsh-hosts");
    std::fs::write(&pdsh_hosts, &addresses).unwrap();
    let ssh_config = lab.dir.join("ssh_config");
    let config = format!(
        "Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n  \
         UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  \
         StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 30\n  \
         ControlMaster no\n  LogLevel ERROR\n",
        key = lab.client_key.display(),
        kh = lab.known_hosts.display(),
    );
    std::fs::write(&ssh_config, &config).unwrap();
    let ssh_config_curve = lab.dir.join("ssh_config.curve25519");
    std::fs::write(
        &ssh_config_curve,
        format!("{config}  KexAlgorithms curve25519-sha256\n"),
    )
    .unwrap();

    let inventory = lab.dir.join("inventory.ini");
    let mut ini = String::from("[lab]\n");
    ini.push_str(&addresses);
    write!(
        ini,
        "\n[lab:vars]\nansible_user=root\nansible_ssh_private_key_file={key}\n\
         ansible_ssh_common_args='-o UserKnownHostsFile={kh} -o GlobalKnownHostsFile=/dev/null \
         -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n",
        key = lab.client_key.display(),
        kh = lab.known_hosts.display(),
    )
    .unwrap();
    std::fs::write(&inventory, ini).unwrap();
    let ansible_home = target_dir.join("fanout-ansible-home");
    std::fs::create_dir_all(&ansible_home).unwrap();
    Setup {
        topology,
        pdsh_hosts,
        ssh_config,
        ssh_config_curve,
        inventory,
        ansible: ansible.to_path_buf(),
        ansible_home,
        logs: lab.dir.clone(),
    }
}

/// Runs `tool` once on every host at `parallel`, returning its wall time. Panics (naming the
/// log) unless it reports every host ok.
fn run_tool(tool: Tool, setup: &Setup, parallel: usize) -> Duration {
    let f = parallel.to_string();
    let mut command = match tool {
        Tool::Blackstart => {
            let mut c = Command::new(BIN);
            c.arg("exec")
                .arg(&setup.topology)
                .args(["--all", "--parallel", &f, "--", "true"]);
            c
        }
        Tool::Pdsh | Tool::PdshCurve => {
            let config = if tool == Tool::Pdsh {
                &setup.ssh_config
            } else {
                &setup.ssh_config_curve
            };
            let mut c = Command::new("pdsh");
            c.env("PDSH_RCMD_TYPE", "ssh")
                .env("PDSH_SSH_ARGS", format!("-F {} %h", config.display()))
                .args(["-S", "-R", "ssh", "-f", &f, "-w"])
                .arg(format!("^{}", setup.pdsh_hosts.display()))
                .arg("true");
            c
        }
        Tool::Ansible => {
            let mut c = Command::new(&setup.ansible);
            c.env("ANSIBLE_HOME", &setup.ansible_home)
                .env("ANSIBLE_HOST_KEY_CHECKING", "True")
                .env("ANSIBLE_SSH_ARGS", "-o ControlMaster=no")
                .env("ANSIBLE_TIMEOUT", "30")
                .env("ANSIBLE_NOCOLOR", "1")
                .arg("all")
                .arg("-i")
                .arg(&setup.inventory)
                .args(["-m", "raw", "-a", "true", "-f", &f]);
            c
        }
    };
    let log = setup
        .logs
        .join(format!("bench-{}-f{parallel}.log", tool.key()));
    let file = std::fs::File::create(&log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let began = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", tool.name()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} ran longer than {RUN_LIMIT:?}; log: {}",
                tool.name(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = began.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "{} -f {parallel} did not report every host ok ({status}); log {}:\n{}",
        tool.name(),
        log.display(),
        last_lines(&text, 30)
    );
    took
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn render_table(hosts: usize, runs: usize, parallels: &[usize], medians: &[Vec<f64>]) -> String {
    let mut out = format!(
        "\nfan-out of `true` to {hosts} lab hosts, median of {runs} runs ({} cores)\n\n",
        cores()
    );
    write!(out, "{:<32}", "tool").unwrap();
    for parallel in parallels {
        write!(out, "{:>12}", format!("-f {parallel}")).unwrap();
    }
    out.push('\n');
    for (t, tool) in Tool::ALL.into_iter().enumerate() {
        write!(out, "{:<32}", tool.name()).unwrap();
        for per_tool in medians {
            write!(out, "{:>11.2}s", per_tool[t]).unwrap();
        }
        out.push('\n');
    }
    out.push('\n');
    let ratio_row = |out: &mut String, label: &str, tool: Tool, target: f64| {
        write!(out, "{label:<32}").unwrap();
        for per_tool in medians {
            let ratio = per_tool[tool as usize] / per_tool[Tool::Blackstart as usize];
            let mark = if ratio >= target { "" } else { "!" };
            write!(out, "{:>12}", format!("{ratio:.2}x{mark}")).unwrap();
        }
        writeln!(out, "   (target >= {target}x)").unwrap();
    };
    ratio_row(
        &mut out,
        "ansible / blackstart",
        Tool::Ansible,
        ANSIBLE_TARGET,
    );
    ratio_row(&mut out, "pdsh / blackstart", Tool::Pdsh, PDSH_TARGET);
    ratio_row(
        &mut out,
        "pdsh (curve25519) / blackstart",
        Tool::PdshCurve,
        PDSH_TARGET,
    );
    out.push_str("(! = target missed)\n");
    out
}

fn render_json(
    hosts: usize,
    runs: usize,
    parallels: &[usize],
    times: &[Vec<Vec<f64>>],
    medians: &[Vec<f64>],
) -> String {
    let results: Vec<serde_json::Value> = parallels
        .iter()
        .enumerate()
        .map(|(p, parallel)| {
            let tools: serde_json::Map<String, serde_json::Value> = Tool::ALL
                .into_iter()
                .enumerate()
                .map(|(t, tool)| {
                    (
                        tool.key().to_string(),
                        serde_json::json!({
                            "command": tool.name(),
                            "runs_s": times[p][t],
                            "median_s": medians[p][t],
                        }),
                    )
                })
                .collect();
            let ratio =
                |tool: Tool| medians[p][tool as usize] / medians[p][Tool::Blackstart as usize];
            serde_json::json!({
                "parallel": parallel,
                "tools": tools,
                "ratios": {
                    "ansible_over_blackstart": ratio(Tool::Ansible),
                    "pdsh_over_blackstart": ratio(Tool::Pdsh),
                    "pdsh_curve25519_over_blackstart": ratio(Tool::PdshCurve),
                },
                "targets_met": {
                    "ansible_over_blackstart": ratio(Tool::Ansible) >= ANSIBLE_TARGET,
                    "pdsh_over_blackstart": ratio(Tool::Pdsh) >= PDSH_TARGET,
                },
            })
        })
        .collect();
    let report = serde_json::json!({
        "bench": "fanout",
        "command": "true",
        "hosts": hosts,
        "runs": runs,
        "cores": cores(),
        "blackstart_mode": "built binary: blackstart exec FILE --all --parallel N -- true",
        "pdsh": "pdsh -S -R ssh -f N -w ^hosts true, OpenSSH with -F config (strict host keys)",
        "ansible": "ansible all -i inventory -m raw -a true -f N, ControlMaster=no, strict host keys",
        "targets": { "ansible_over_blackstart": ANSIBLE_TARGET, "pdsh_over_blackstart": PDSH_TARGET },
        "results": results,
    });
    serde_json::to_string_pretty(&report).unwrap() + "\n"
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
