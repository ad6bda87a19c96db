//! The billing lab of tests/billing_lab.rs: a copy-shaped `topologies/billing.yaml` on six
//! real sshd hosts running `services.py` (broker, consumers, producer, store), what those
//! services saw, and a small real disk for the database.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use blackstart::template::shell_quote;

use super::support::cli::{output_bounded, text};
pub use super::support::cli::{step_results, step_starts, wall};
use super::support::lab::{wait_until, Lab, LabSecret};

const SERVICES: &str = include_str!("services.py");
const BROKER_PORT: u16 = 7602;

/// What differs between the lessons; everything else is billing.yaml's shape.
pub struct Shape {
    /// Seconds profile-sync takes to write one message (the slow RAID).
    pub write_s: f64,
    /// profile-sync's heartbeat (health poll) timeout.
    pub heartbeat_timeout: &'static str,
    /// profile-sync's ready timeout, per attempt.
    pub sync_ready_timeout: &'static str,
    /// Seconds radius-store replays its backlog before it accepts connections.
    pub replay_s: f64,
    /// Messages provisioning publishes during the run.
    pub produce: u32,
    /// Whether the broker requires acknowledgements (false: the incident's broker).
    pub acks: bool,
}

/// Six lab hosts (no BMCs: powered on): b1 runs the billing database, billing-core and
/// provisioning, b2 the broker, b3..b6 the RADIUS servers (store and profile-sync).
pub struct Billing {
    pub lab: Lab,
    /// The services' shared state: the broker's queue, the stores, pid files, logs.
    pub state: PathBuf,
}

impl Billing {
    pub fn start(name: &str, block: (u8, u8)) -> Billing {
        let lab = Lab::start_fleet(name, block, 6, 0);
        let state = lab.dir.join("billing");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(lab.dir.join("services.py"), SERVICES).unwrap();
        Billing { lab, state }
    }

    /// `services.py ARGS...` as a shell command, every word quoted.
    pub fn services(&self, args: &[&str]) -> String {
        let mut words = vec![
            self.lab.python.to_string_lossy().into_owned(),
            self.lab
                .dir
                .join("services.py")
                .to_string_lossy()
                .into_owned(),
        ];
        words.extend(args.iter().map(|a| a.to_string()));
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn state_path(&self, file: &str) -> String {
        self.state.join(file).to_string_lossy().into_owned()
    }

    /// The lab topology: billing.yaml's subsystems, their order, quorums, rolling start and
    /// timeouts, on the lab's hosts (names and ports are the lab's). One YAML template, long
    /// because the topology is: read it beside billing.yaml.
    pub fn topology(&self, shape: &Shape) -> PathBuf {
        let q = |text: &str| serde_json::to_string(text).unwrap();
        let h = |i: usize| self.lab.hosts[i].name.clone();
        let broker_addr = self.lab.hosts[1].address.clone();
        let state = self.state_path("");
        let port = BROKER_PORT.to_string();
        let radius = format!("\"{}[3:6]\"", self.lab.name);
        let mut broker_args = vec!["broker", &port, &state];
        if !shape.acks {
            broker_args.push("--no-ack");
        }
        let subsystems = format!(
            "subsystems:
  - name: billing-db
    tier: S1
    hosts: [{db}]
    start: {db_start}
    health: {{ tcp: 7601 }}
    max_parallel: 1
  - name: broker
    tier: S1
    description: durable queue; consumers must acknowledge
    hosts: [{mq}]
    start: {broker}
    health: {{ tcp: {port} }}
  - name: radius-store
    tier: S1
    hosts: [{radius}]
    start: {store}
    health: {{ tcp: 7603 }}
    progress: {{ command: {progress}, interval: 300ms, stall_after: 2s }}
    ready_timeout: 2s
    min_healthy: 75%
  - name: profile-sync
    tier: S1
    hosts: [{radius}]
    requires: [broker, radius-store]
    start: {consumer}
    health: {{ http: {{ url: \"http://{{address}}:9410/health\", body: \"heartbeat ok\" }} }}
    health_policy: {{ interval: 1s, timeout: {heartbeat}, successes: 2 }}
    ready_timeout: {sync_ready}
    retry: {{ attempts: 2, backoff: 500ms }}
    min_healthy: 75%
    max_parallel: 2
  - name: billing-core
    tier: S1
    hosts: [{db}]
    requires: [billing-db, broker]
    start: {core}
    health: {{ http: {{ url: \"http://{{address}}:7604/health\", status: 200, body: ok }} }}
  - name: provisioning
    tier: S1
    hosts: [{db}]
    requires: [billing-core, broker]
    start: {producer}
    health: {{ http: {{ url: \"http://{{address}}:7605/health\", body: published }} }}
",
            db = h(0),
            mq = h(1),
            db_start = q(&self.lab.service_command(7601, 0.1, "")),
            broker = q(&self.services(&broker_args)),
            store = q(&self.services(&["store", "7603", &shape.replay_s.to_string(), &state])),
            progress = q(&format!(
                "wc -l < {}/replay-$LAB_ADDRESS.log",
                shell_quote(&state)
            )),
            consumer = q(&self
                .services(&[
                    "consumer",
                    "HOST",
                    &broker_addr,
                    &port,
                    "9410",
                    &state,
                    &shape.write_s.to_string()
                ])
                .replace("HOST", "{host}")),
            heartbeat = shape.heartbeat_timeout,
            sync_ready = shape.sync_ready_timeout,
            core = q(&self.lab.service_command(7604, 0.1, "")),
            producer = q(&self.services(&[
                "producer",
                "prov",
                &broker_addr,
                &port,
                "7605",
                &shape.produce.to_string(),
                &state
            ])),
        );
        self.lab.write_topology(LabSecret::File, &subsystems)
    }

    /// Puts `count` messages in the broker's durable queue: the backlog that piled up while
    /// the tablespace was full.
    pub fn seed_backlog(&self, count: u32) {
        let ids: String = (1..=count).map(|i| format!("backlog-{i}\n")).collect();
        std::fs::write(self.state.join("queue.log"), ids).unwrap();
    }

    pub fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.state.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The broker's connection log: (unix time, what, consumer).
    pub fn connections(&self) -> Vec<(f64, String, String)> {
        self.lines("connections.log")
            .iter()
            .map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                (words[0].parse().unwrap(), words[1].into(), words[2].into())
            })
            .collect()
    }

    /// Every id the broker accepted (backlog and published).
    pub fn queued(&self) -> BTreeSet<String> {
        self.lines("queue.log").into_iter().collect()
    }

    /// Every id written to a RADIUS store, and how many writes there were.
    pub fn stored(&self) -> (BTreeSet<String>, usize) {
        let mut ids = BTreeSet::new();
        let mut writes = 0;
        for host in &self.lab.hosts[2..] {
            for id in self.lines(&format!("{}.store", host.name)) {
                writes += 1;
                ids.insert(id);
            }
        }
        (ids, writes)
    }

    /// Waits (bounded) until the broker holds nothing unacknowledged.
    pub fn wait_drained(&self, limit: Duration) -> bool {
        wait_until(limit, || {
            let acked: BTreeSet<String> = self.lines("acks.log").into_iter().collect();
            acked == self.queued()
        })
    }

    /// Kills the process whose pid `file` in the state directory names.
    pub fn kill(&self, file: &str) {
        let pid: i32 = self.lines(file)[0].trim().parse().unwrap();
        // SAFETY: plain kill(2) on the pid the service wrote itself.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

pub fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// A tmpfs of `size` mounted at `dir` (the database's data disk), unmounted on drop.
pub struct SmallDisk {
    pub dir: PathBuf,
}

impl SmallDisk {
    pub fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = output_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir),
        );
        assert!(out.status.success(), "mount tmpfs: {}", text(&out));
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes until the disk is full (ENOSPC); returns the bytes written.
    pub fn fill(&self) -> usize {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.dir.join("BILLING_DATA.dbf")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0;
        // Bounded: a tmpfs of a few MiB fills in a few dozen chunks.
        for _ in 0..10_000 {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n,
            }
        }
        written
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = output_bounded(Command::new("umount").arg("-l").arg(&self.dir));
    }
}
