//! Incident 2 (an ISP billing system on 1 April, INCIDENTS.md) on the lab: a copy-shaped
//! `topologies/billing.yaml` over real sshd hosts, with a real durable broker that requires
//! acknowledgements, RADIUS-side consumers that write slowly and answer heartbeats on the
//! same thread, and a provisioning producer (`tests/billing/services.py`). Each test is one
//! lesson of the incident, asserted from the journal and from what the services saw.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use blackstart::event::{Action, Event};
use blackstart::journal::{Entry, Record};
use blackstart::template::shell_quote;
use support::cli::{
    actions, output_bounded, read_journal, run_in, spawn_run, text, wait_bounded, RUN_LIMIT,
};
use support::lab::{wait_until, Lab, LabSecret};

const SERVICES: &str = include_str!("billing/services.py");
const BROKER_PORT: u16 = 7602;

/// What differs between the lessons; everything else is billing.yaml's shape.
struct Shape {
    /// Seconds profile-sync takes to write one message (the slow RAID).
    write_s: f64,
    /// profile-sync's heartbeat (health poll) timeout.
    heartbeat_timeout: &'static str,
    /// profile-sync's ready timeout, per attempt.
    sync_ready_timeout: &'static str,
    /// Seconds radius-store replays its backlog before it accepts connections.
    replay_s: f64,
    /// Messages provisioning publishes during the run.
    produce: u32,
}

/// Six lab hosts (no BMCs: powered on): b1 runs the billing database, billing-core and
/// provisioning, b2 the broker, b3..b6 the RADIUS servers (store and profile-sync).
struct Billing {
    lab: Lab,
    /// The services' shared state: the broker's queue, the stores, pid files, logs.
    state: PathBuf,
}

impl Billing {
    fn start(name: &str, block: (u8, u8)) -> Billing {
        let lab = Lab::start_fleet(name, block, 6, 0);
        let state = lab.dir.join("billing");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(lab.dir.join("services.py"), SERVICES).unwrap();
        Billing { lab, state }
    }

    /// `services.py ARGS...` as a shell command, every word quoted.
    fn services(&self, args: &[&str]) -> String {
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

    fn state_path(&self, file: &str) -> String {
        self.state.join(file).to_string_lossy().into_owned()
    }

    /// The lab topology: billing.yaml's subsystems, their order, quorums, rolling start and
    /// timeouts, on the lab's hosts (names and ports are the lab's).
    fn topology(&self, shape: &Shape) -> PathBuf {
        let q = |text: &str| serde_json::to_string(text).unwrap();
        let h = |i: usize| self.lab.hosts[i].name.clone();
        let broker_addr = self.lab.hosts[1].address.clone();
        let state = self.state_path("");
        let port = BROKER_PORT.to_string();
        let radius = format!("\"{}[3:6]\"", self.lab.name);
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
            broker = q(&self.services(&["broker", &port, &state])),
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
    fn seed_backlog(&self, count: u32) {
        let ids: String = (1..=count).map(|i| format!("backlog-{i}\n")).collect();
        std::fs::write(self.state.join("queue.log"), ids).unwrap();
    }

    fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.state.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The broker's connection log: (unix time, what, consumer).
    fn connections(&self) -> Vec<(f64, String, String)> {
        self.lines("connections.log")
            .iter()
            .map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                (words[0].parse().unwrap(), words[1].into(), words[2].into())
            })
            .collect()
    }

    /// Every id the broker accepted (backlog and published).
    fn queued(&self) -> BTreeSet<String> {
        self.lines("queue.log").into_iter().collect()
    }

    /// Every id written to a RADIUS store, and how many writes there were.
    fn stored(&self) -> (BTreeSet<String>, usize) {
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
    fn wait_drained(&self, limit: Duration) -> bool {
        wait_until(limit, || {
            let acked: BTreeSet<String> = self.lines("acks.log").into_iter().collect();
            acked == self.queued()
        })
    }

    /// Kills the process whose pid `file` in the state directory names.
    fn kill(&self, file: &str) {
        let pid: i32 = self.lines(file)[0].trim().parse().unwrap();
        // SAFETY: plain kill(2) on the pid the service wrote itself.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Unix seconds of a journal record's wall-clock time.
fn wall(record: &Record) -> f64 {
    let at = humantime::parse_rfc3339(record.at.as_deref().unwrap()).unwrap();
    at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// (host, attempt) of every Start of `step`, with its record.
fn step_starts<'a>(records: &'a [Record], step: &str) -> Vec<(String, u32, &'a Record)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Action {
                action: Action::Start { attempt, .. },
                step: Some(s),
                host: Some(host),
                ..
            } if s == step => Some((host.clone(), *attempt, r)),
            _ => None,
        })
        .collect()
}

/// (host, result as text) of every finished start of `step`, with its record.
fn step_results<'a>(
    records: &'a [Record],
    step: &str,
) -> Vec<(String, Result<(), String>, &'a Record)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::StartFinished { result, .. },
                step: Some(s),
                host: Some(host),
                ..
            } if s == step => Some((
                host.clone(),
                result.clone().map_err(|why| why.to_string()),
                r,
            )),
            _ => None,
        })
        .collect()
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// A tmpfs of `size` mounted at `dir` (the database's data disk), unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
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
    fn fill(&self) -> usize {
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

#[test]
fn a_consumer_killed_mid_run_loses_no_message() {
    let billing = Billing::start("bd", (103, 7));
    billing.seed_backlog(1500);
    let topology = billing.topology(&Shape {
        write_s: 0.003,
        heartbeat_timeout: "4s",
        sync_ready_timeout: "2s",
        replay_s: 0.2,
        produce: 300,
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
    assert_eq!(
        victim_starts,
        vec![1, 2],
        "the killed consumer was started again"
    );

    assert!(billing.wait_drained(Duration::from_secs(20)), "drained");
    let published = billing.lines("published.log");
    assert_eq!(published.len(), 300, "provisioning published its burst");
    let (stored, writes) = billing.stored();
    let queued = billing.queued();
    assert_eq!(queued.len(), 1800);
    assert_eq!(
        stored, queued,
        "every message, backlog and burst, reached a store"
    );
    let seen = billing.connections();
    let requeued: usize = seen
        .iter()
        .filter(|(_, what, who)| what == "requeue" && *who == victim)
        .count();
    assert!(
        requeued == 1,
        "the kill cut deliveries in flight, which went back to the queue: {seen:?}"
    );
    eprintln!(
        "{} messages, {writes} writes ({} redelivered)",
        stored.len(),
        writes - stored.len()
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
