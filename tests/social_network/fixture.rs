//! The social-network lab of tests/social_network_lab.rs: a copy-shaped, small
//! `topologies/social-network.yaml` (basics, the config service with its bootstrap snapshot,
//! the cluster-store quorum, a database shard with a spare, a frontend) on twelve real sshd
//! hosts with ipmi_sim BMCs, all powered off at start, running `services.py`; and what those
//! services saw. The cycle is real: the config service reads its peers from the
//! cluster-store, the cluster-store from the config service (its snapshot or itself).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use blackstart::event::Event;
use blackstart::journal::{Entry, Record};
use blackstart::template::shell_quote;

use super::support::cli::wall;
use super::support::lab::{Lab, LabSecret};

const SERVICES: &str = include_str!("services.py");
/// Hosts: 1 basics (dns, ntp), 2–4 config, 5–7 cluster-store, 8–10 the database shard,
/// 11 its spare, 12 the frontend.
pub const HOSTS: usize = 12;
/// 0-based indices of the config hosts.
pub const CONFIG: [usize; 3] = [1, 2, 3];
/// 0-based indices of the cluster-store hosts.
pub const CLUSTER_STORE: [usize; 3] = [4, 5, 6];
/// 0-based indices of the database shard's hosts, and of its spare.
pub const DATABASE: [usize; 3] = [7, 8, 9];
pub const SPARE: usize = 10;
pub const WEB: usize = 11;
/// The looping line of the incident's configuration template, as planted on every host.
pub const LOOPING_LINE: &str = "PROMPT_COMMAND='fleet-loop; history -a'";

/// What differs between the lessons; the rest is social-network.yaml's shape.
pub struct Shape {
    /// Seconds the config service takes to read in the cluster descriptions.
    pub config_load_s: f64,
    /// config's ready timeout, per attempt.
    pub config_ready_timeout: &'static str,
    /// Whether config declares its progress probe (the descriptions read so far).
    pub config_progress: bool,
}

/// Quick starts everywhere: the shape, not the incident's durations.
pub const QUICK: Shape = Shape {
    config_load_s: 0.3,
    config_ready_timeout: "5s",
    config_progress: true,
};

/// One line of `services.log`.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Unix seconds.
    pub at: f64,
    /// `start`, `refused`, `stopped`.
    pub what: String,
    /// The service (`config`, `config-snapshot`, ...).
    pub service: String,
    /// The host's address.
    pub address: String,
    /// For `found-peers`, the URL the peer list came from.
    pub from: Option<String>,
}

pub struct SocialNetwork {
    pub lab: Lab,
    /// The services' shared state: their log, pid files, load logs.
    pub state: PathBuf,
}

impl SocialNetwork {
    pub fn start(name: &str, block: (u8, u8)) -> SocialNetwork {
        let lab = Lab::start(name, block, HOSTS);
        let state = lab.dir.join("social");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(lab.dir.join("services.py"), SERVICES).unwrap();
        SocialNetwork { lab, state }
    }

    /// `services.py ARGS...` as a shell command, every word quoted.
    fn services(&self, args: &[&str]) -> String {
        let script = self.lab.dir.join("services.py");
        let python = self.lab.python.to_string_lossy();
        let mut words = vec![python.as_ref(), script.to_str().unwrap()];
        words.extend(args);
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        quoted.join(" ")
    }

    fn serve(&self, name: &str, port: u16, body: &str, load_s: f64) -> String {
        self.serve_needing(name, port, body, load_s, &[])
    }

    /// [`Self::serve`] of a service that first reads its peers from one of `needs` (URLs).
    fn serve_needing(
        &self,
        name: &str,
        port: u16,
        body: &str,
        load_s: f64,
        needs: &[String],
    ) -> String {
        let (state, port, load) = (
            self.state.to_string_lossy(),
            port.to_string(),
            load_s.to_string(),
        );
        let mut args = vec!["serve", name, &port, body, &load, &state];
        let needs = needs.join(",");
        if !needs.is_empty() {
            args.extend(["--needs", &needs]);
        }
        self.services(&args)
    }

    /// `http://ADDRESS:PORT/PATH` on each host of `indices`.
    fn urls(&self, indices: &[usize], port: u16, path: &str) -> Vec<String> {
        indices
            .iter()
            .map(|&i| format!("http://{}:{port}{path}", self.lab.hosts[i].address))
            .collect()
    }

    fn stop(&self, name: &str, port: u16) -> String {
        let state = self.state.to_string_lossy();
        self.services(&["stop", name, &port.to_string(), &state])
    }

    /// The lines a progress probe reads: what `name` has loaded on the host it runs on.
    fn progress(&self, name: &str) -> String {
        let log = format!("{}/load-{name}-", self.state.display());
        format!("wc -l < {}\"$LAB_ADDRESS\".log", shell_quote(&log))
    }

    fn names(&self, indices: &[usize]) -> String {
        let names: Vec<String> = indices
            .iter()
            .map(|&i| format!("\"{}\"", self.lab.hosts[i].name))
            .collect();
        names.join(", ")
    }

    /// The lab topology: social-network.yaml's subsystems around the cycle, their quorums,
    /// rolling starts, spare and timeouts, on the lab's hosts. Read it beside the reference.
    pub fn topology(&self, shape: &Shape) -> PathBuf {
        let q = |text: &str| serde_json::to_string(text).unwrap();
        let config_progress = if shape.config_progress {
            format!(
                "    progress: {{ command: {}, interval: 300ms, stall_after: 1500ms }}\n",
                q(&self.progress("config"))
            )
        } else {
            String::new()
        };
        let subsystems = format!(
            "subsystems:
  - name: dns
    tier: S1
    hosts: [{basics}]
    start: {dns}
    health: {{ http: {{ url: \"http://{{address}}:7053/\", body: resolving }} }}
  - name: ntp
    tier: S1
    hosts: [{basics}]
    start: {ntp}
    health: {{ http: {{ url: \"http://{{address}}:7123/\", body: synchronised }} }}
  - name: config
    tier: S1
    description: cluster descriptions (which host holds which shard)
    hosts: [{config}]
    requires: [dns, ntp, cluster-store]
    start: {config_start}
    stop: {config_stop}
    health: {{ http: {{ url: \"http://{{address}}:7000/health\", status: 200, body: serving }} }}
{config_progress}    ready_timeout: {config_ready}
    min_healthy: 2
    max_parallel: 3
    bootstrap:
      start: {snapshot_start}
      stop: {snapshot_stop}
      health: {{ http: {{ url: \"http://{{address}}:7001/snapshot/health\", body: ok }} }}
      requires: [dns]
  - name: cluster-store
    tier: S1
    hosts: [{cstore}]
    requires:
      - ntp
      - {{ name: config, bootstrap: true }}
    start: {cstore_start}
    health: {{ http: {{ url: \"http://{{address}}:7002/status\", body: \"state:\" }} }}
    progress: {{ command: {cstore_progress}, interval: 300ms }}
    min_healthy: 2
    max_parallel: 1
  - name: user-db-shard-01
    tier: S1
    hosts: [{db}]
    spares: [{spare}]
    requires: [config, cluster-store, ntp]
    start: {db_start}
    stop: {db_stop}
    health: {{ http: {{ url: \"http://{{address}}:7306/ping\", body: alive }} }}
    min_healthy: 2
    max_parallel: 3
  - name: web
    tier: S1
    hosts: [{web}]
    requires: [user-db-shard-01, config]
    start: {web_start}
    health: {{ http: {{ url: \"http://{{address}}:7080/\", body: ok }} }}
",
            basics = self.names(&[0]),
            config = self.names(&CONFIG),
            cstore = self.names(&CLUSTER_STORE),
            db = self.names(&DATABASE),
            spare = self.names(&[SPARE]),
            web = self.names(&[WEB]),
            dns = q(&self.serve("dns", 7053, "resolving", 0.1)),
            ntp = q(&self.serve("ntp", 7123, "synchronised", 0.1)),
            config_start = q(&self.serve_needing(
                "config",
                7000,
                "serving",
                shape.config_load_s,
                &self.urls(&CLUSTER_STORE, 7002, "/status")
            )),
            config_stop = q(&self.stop("config", 7000)),
            config_ready = shape.config_ready_timeout,
            snapshot_start = q(&self.serve("config-snapshot", 7001, "ok", 0.2)),
            snapshot_stop = q(&self.stop("config-snapshot", 7001)),
            cstore_start = q(&self.serve_needing(
                "cluster-store",
                7002,
                "state: leader",
                0.5,
                &[
                    self.urls(&CONFIG, 7001, "/snapshot/health"),
                    self.urls(&CONFIG, 7000, "/health"),
                    // A member joining a running group learns its peers from the group.
                    self.urls(&CLUSTER_STORE, 7002, "/status")
                ]
                .concat()
            )),
            cstore_progress = q(&self.progress("cluster-store")),
            db_start = q(&self.serve("user-db-01", 7306, "alive", 0.3)),
            db_stop = q(&self.stop("user-db-01", 7306)),
            web_start = q(&self.serve("web", 7080, "ok", 0.1)),
        );
        let mut yaml = self.lab.topology_yaml(LabSecret::File, &subsystems);
        // Each edit must find its text: a change to the lab's YAML fails here.
        for (from, to) in [
            // A lab host answers SSH as soon as it is on; a dead one is given up on after
            // three times its boot.
            ("    boot: 10s\n", "    boot: 1s\n"),
            (
                "hosts:\n",
                "  subsystem:\n    health_policy: { interval: 200ms, timeout: 1s, successes: 1 }\n    \
                 retry: { attempts: 2, backoff: 300ms }\n    start_timeout: 10s\n    \
                 ready_timeout: 5s\nhosts:\n",
            ),
        ] {
            assert!(yaml.contains(from), "lab topology lost {from:?}");
            yaml = yaml.replacen(from, to, 1);
        }
        self.lab.write_topology_text(&yaml)
    }

    /// Host `index`'s disk is dead: its BMC powers it on, but its sshd listens on an
    /// address nobody dials (the OS never comes up where it should).
    pub fn kill_disk(&self, index: usize) {
        let host = &self.lab.hosts[index];
        let config = host.dir.join("sshd_config");
        let text = std::fs::read_to_string(&config).unwrap();
        let (a, b) = self.lab.block;
        let nowhere = format!("ListenAddress 127.{a}.{b}.{}:22", 200 + index);
        let from = format!("ListenAddress {}:22", host.address);
        assert!(text.contains(&from), "sshd_config lost {from:?}");
        std::fs::write(&config, text.replacen(&from, &nowhere, 1)).unwrap();
    }

    /// The login profile of host `index`, where the bad template line landed.
    pub fn profile(&self, index: usize) -> PathBuf {
        self.lab.hosts[index].dir.join("etc/profile.d/fleet.sh")
    }

    /// Writes every host's profile with the incident's looping line among good ones.
    pub fn plant_looping_line(&self) {
        for index in 0..HOSTS {
            let path = self.profile(index);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = format!("export FLEET_ROLE=web\n{LOOPING_LINE}\nexport HISTSIZE=5000\n");
            std::fs::write(path, text).unwrap();
        }
    }

    /// A playbook over `topology` whose preparation step removes the looping line on every
    /// host (the shipped full-outage.yaml's `sed`, on the lab's path), and notes when.
    pub fn full_outage_playbook(&self, topology: &Path) -> PathBuf {
        let remove = "f=\"$LAB_DIR/h$(printf %s \"$LAB_HOST\" | tr -dc 0-9)/etc/profile.d/fleet.sh\"; \
                      sed -i '/^PROMPT_COMMAND=.*fleet-loop/d' \"$f\" && date +%s.%N > \"$f.prepared\"";
        let q = |text: &str| serde_json::to_string(text).unwrap();
        let path = self.lab.dir.join("full-outage.yaml");
        let yaml = format!(
            "version: 1\nplaybook: full-outage\ntopology: {}\nprepare:\n  \
             - name: remove-looping-template-line\n    on: {{ all: true }}\n    run: {}\n    \
             timeout: 10s\n",
            q(&topology.to_string_lossy()),
            q(remove)
        );
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// When host `index`'s preparation removed the looping line (unix seconds).
    pub fn line_removed_at(&self, index: usize) -> f64 {
        let noted = self.profile(index).with_extension("sh.prepared");
        let text = std::fs::read_to_string(&noted).unwrap_or_default();
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{} holds a time: {text:?}", noted.display()))
    }

    /// Everything the services logged, in order.
    pub fn seen(&self) -> Vec<Seen> {
        std::fs::read_to_string(self.state.join("services.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                Seen {
                    at: words[0].parse().unwrap(),
                    what: words[1].into(),
                    service: words[2].into(),
                    address: words[3].into(),
                    from: words.get(4).map(|w| w.to_string()),
                }
            })
            .collect()
    }

    /// Unix times at which `service` started on host `index`.
    pub fn started(&self, service: &str, index: usize) -> Vec<f64> {
        let address = &self.lab.hosts[index].address;
        self.seen()
            .into_iter()
            .filter(|s| s.what == "start" && s.service == service && s.address == *address)
            .map(|s| s.at)
            .collect()
    }

    /// The body of `GET /` on host `index`'s `port`, if it answers.
    pub fn answer(&self, index: usize, port: u16) -> Option<String> {
        let addr = format!("{}:{port}", self.lab.hosts[index].address);
        let response = super::support::http::get(&addr)?;
        Some(response.split("\r\n\r\n").nth(1)?.trim().to_string())
    }

    /// The lines `name` loaded on host `index` (its last start's).
    pub fn loaded(&self, name: &str, index: usize) -> Vec<String> {
        let file = format!("load-{name}-{}.log", self.lab.hosts[index].address);
        std::fs::read_to_string(self.state.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Host name → unix time of its SSH answer (after its preparation steps), or why it never
/// answered.
pub fn ssh_ready(records: &[Record]) -> HashMap<String, Result<f64, String>> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::SshReady { result, .. },
                host: Some(host),
                ..
            } => Some((
                host.clone(),
                result
                    .clone()
                    .map(|()| wall(r))
                    .map_err(|why| why.to_string()),
            )),
            _ => None,
        })
        .collect()
}
