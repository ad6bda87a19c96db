//! A real fleet on loopback, started by the tests themselves: per host one `sshd` on
//! `127.A.B.N:22` and one `ipmi_sim` BMC on `127.A.(B+1).N:623` whose chassis power switches
//! that sshd on and off. Each test takes its own `(A, B)` block so tests run in parallel.
//! A large lab ([`Lab::start_fleet`]) spans blocks `(A, B)`, `(A, B+2)`, ... of 250 hosts each,
//! and may give only some hosts a BMC.
//!
//! Everything started is killed and waited for on drop: the BMCs, and every process carrying
//! the lab's tag in its environment (the sshd daemons, their sessions, services started over
//! SSH). Every wait is bounded. Missing binaries fail the test loudly; nothing is skipped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use blackstart::template::shell_quote;
use blackstart::topology::{
    Bmc, BmcProtocol, Host, IpmiClient, IpmiSettings, SecretSource, SshLogin, SshSettings,
};

use super::lab_scripts::{CHASSIS_CTL, LAB_SERVICE, PORT_KEEPER};
pub use super::procs::wait_until;
use super::procs::{descendants, kill_matching, kill_pids, wait_output};

/// The command that installs what the lab needs.
pub const INSTALL_HINT: &str = "bash tests/install-lab-packages.sh";
/// Path of sshd.
pub const SSHD: &str = "/usr/sbin/sshd";
/// The BMC user every lab BMC knows.
pub const BMC_USER: &str = "admin";
/// Hosts in one `(A, B)` block: the last octet runs 1..=250.
pub const BLOCK_HOSTS: usize = 250;
/// Processes (keygens, BMCs) started at once while a lab starts: enough to keep both
/// cores busy, few enough that each bounded wait holds on a loaded machine.
const START_BATCH: usize = 64;

/// One simulated host.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// 0-based index in [`Lab::hosts`].
    pub index: usize,
    /// Host name: the lab's name followed by `index + 1`.
    pub name: String,
    /// SSH address, `127.A.B.(index+1)` (in a large lab, `B` grows by 2 every 250 hosts).
    pub address: String,
    /// BMC address, `127.A.(B+1).(index+1)`, port 623.
    pub bmc_address: String,
    /// Whether an `ipmi_sim` BMC runs for it; hosts without one are powered on at start.
    pub has_bmc: bool,
    /// The rack: `r<B>`, one per block.
    pub rack: String,
    /// The host's own directory (keys, sshd_config, pid file, log).
    pub dir: PathBuf,
    /// sshd's pid file: present while the host is on.
    pub pid_file: PathBuf,
    /// Its host key as in known_hosts: `ssh-ed25519 AAAA...`.
    pub host_key: String,
}

/// How the lab topology hands the BMC password to blackstart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabSecret {
    /// `password_file:` pointing at [`Lab::password_file`].
    File,
    /// `password_env:` naming [`Lab::password_env`], set in this process.
    Env,
}

/// A running lab. Dropping it stops everything.
pub struct Lab {
    /// Prefix of host names.
    pub name: String,
    /// The `(A, B)` of `127.A.B.N` (of the first 250 hosts).
    pub block: (u8, u8),
    /// The lab's temporary directory.
    pub dir: PathBuf,
    /// The hosts.
    pub hosts: Vec<LabHost>,
    /// Client private key (ed25519) accepted by every host as root.
    pub client_key: PathBuf,
    /// known_hosts listing every host's key.
    pub known_hosts: PathBuf,
    /// The BMC password (distinctive, to look for leaks).
    pub password: String,
    /// File holding the BMC password.
    pub password_file: PathBuf,
    /// Environment variable holding the BMC password, set in this process.
    pub password_env: String,
    /// python3 as seen by the hosts' shells (absolute).
    pub python: PathBuf,
    tag: String,
    bmcs: Vec<Child>,
    keeper: Option<Child>,
    tempdir: Option<tempfile::TempDir>,
}

impl Lab {
    /// `hosts` hosts on `127.A.B.1..` (BMCs on `127.A.(B+1).1..`), all powered off.
    pub fn start(name: &str, block: (u8, u8), hosts: usize) -> Lab {
        Lab::start_with(name, block, hosts, &[])
    }

    /// Like [`Lab::start`], with the hosts at the given 0-based indices powered on.
    pub fn start_with(name: &str, block: (u8, u8), hosts: usize, powered_on: &[usize]) -> Lab {
        assert!((1..=BLOCK_HOSTS).contains(&hosts), "lab: bad host count");
        Lab::build(name, block, hosts, hosts, powered_on)
    }

    /// A large lab: `hosts` hosts on blocks `(A, B)`, `(A, B+2)`, ... (250 each, BMCs on the
    /// odd block after each). The first `bmcs` hosts have a BMC and start powered off; the
    /// others have none and start powered on (SSH reachable).
    pub fn start_fleet(name: &str, block: (u8, u8), hosts: usize, bmcs: usize) -> Lab {
        assert!(bmcs <= hosts, "lab: more BMCs than hosts");
        let without: Vec<usize> = (bmcs..hosts).collect();
        Lab::build(name, block, hosts, bmcs, &without)
    }

    fn build(name: &str, block: (u8, u8), hosts: usize, bmcs: usize, powered_on: &[usize]) -> Lab {
        let python = require_tools();
        let blocks = hosts.div_ceil(BLOCK_HOSTS);
        assert!(
            hosts >= 1 && block.0 != 0 && usize::from(block.1) + 2 * blocks <= 256,
            "lab: bad block or host count"
        );
        let tempdir = tempfile::Builder::new()
            .prefix(&format!("bslab-{name}-"))
            .tempdir()
            .expect("lab: temp dir");
        let dir = tempdir.path().to_path_buf();
        let tag = format!("{}-{}-{}-{}", name, std::process::id(), block.0, block.1);
        std::fs::create_dir_all(dir.join("run")).unwrap();

        let client_key = dir.join("client_key");
        let mut keys = vec![client_key.clone()];
        let mut lab_hosts = Vec::new();
        for index in 0..hosts {
            let n = index % BLOCK_HOSTS + 1;
            // The block of this host: B, B+2, ... (fits in u8: checked above).
            let b = block.1 + 2 * (index / BLOCK_HOSTS) as u8;
            let host_dir = dir.join(format!("h{}", index + 1));
            std::fs::create_dir_all(&host_dir).unwrap();
            keys.push(host_dir.join("ssh_host_ed25519_key"));
            lab_hosts.push(LabHost {
                index,
                name: format!("{name}{}", index + 1),
                address: format!("127.{}.{b}.{n}", block.0),
                bmc_address: format!("127.{}.{}.{n}", block.0, b + 1),
                has_bmc: index < bmcs,
                rack: format!("r{b}"),
                pid_file: host_dir.join("sshd.pid"),
                dir: host_dir,
                host_key: String::new(),
            });
        }
        for batch in keys.chunks(START_BATCH) {
            let children: Vec<Child> = batch.iter().map(|path| keygen(path)).collect();
            for child in children {
                let out = wait_output(child, Duration::from_secs(20), "ssh-keygen");
                assert!(out.status.success(), "lab: ssh-keygen failed: {out:?}");
            }
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();

        // IPMI passwords are at most 16 bytes (v1.5) / 20 (v2.0).
        let password = format!("lp{}", unique_hex());
        let password_file = dir.join("bmc-password");
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        let password_env = format!("BLACKSTART_LAB_PW_{}_{}", block.0, block.1);
        std::env::set_var(&password_env, &password);

        std::fs::write(dir.join("chassis-ctl"), CHASSIS_CTL).unwrap();
        std::fs::write(dir.join("lab_service.py"), LAB_SERVICE).unwrap();
        chmod_x(&dir.join("chassis-ctl"));
        chmod_x(&dir.join("lab_service.py"));

        let mut known_hosts = String::new();
        for host in &mut lab_hosts {
            let public = std::fs::read_to_string(host.dir.join("ssh_host_ed25519_key.pub"))
                .expect("lab: host key");
            host.host_key = public
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            writeln!(known_hosts, "{} {}", host.address, host.host_key).unwrap();
            std::fs::write(host.dir.join("sshd_config"), sshd_config(&dir, host, &tag)).unwrap();
        }
        let known_hosts_path = dir.join("known_hosts");
        std::fs::write(&known_hosts_path, known_hosts).unwrap();

        let mut lab = Lab {
            name: name.to_string(),
            block,
            dir: dir.clone(),
            hosts: lab_hosts,
            client_key,
            known_hosts: known_hosts_path,
            password,
            password_file,
            password_env,
            python,
            tag,
            bmcs: Vec::new(),
            keeper: None,
            tempdir: Some(tempdir),
        };
        let with_bmc: Vec<usize> = (0..hosts).filter(|&i| lab.hosts[i].has_bmc).collect();
        for batch in with_bmc.chunks(START_BATCH) {
            for &index in batch {
                let child = lab.start_bmc(index);
                lab.bmcs.push(child);
            }
            for &index in batch {
                lab.wait_bmc(index);
            }
        }
        for &index in powered_on {
            lab.power_on(index);
        }
        lab
    }

    fn start_bmc(&self, index: usize) -> Child {
        let host = &self.hosts[index];
        let n = index + 1;
        let lan = format!(
            "name \"bmc-{name}\"\nset_working_mc 0x20\n  startlan 1\n    addr {addr} 623\n    \
             priv_limit admin\n    allowed_auths_callback none md2 md5 straight\n    \
             allowed_auths_user none md2 md5 straight\n    \
             allowed_auths_operator none md2 md5 straight\n    \
             allowed_auths_admin none md2 md5 straight\n    \
             guid a123456789abcdefa1234567{n:08x}\n  endlan\n  \
             user 2 true \"{BMC_USER}\" \"{pw}\" admin 10 none md2 md5 straight\n  \
             chassis_control \"{ctl} {dir} {tag}\"\n",
            name = host.name,
            addr = host.bmc_address,
            pw = self.password,
            ctl = self.dir.join("chassis-ctl").display(),
            dir = host.dir.display(),
            tag = self.host_tag(index),
        );
        let emu = "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n\
                   sel_enable 0x20 1000 0x0a\nmc_enable 0x20\n";
        let bmc_dir = host.dir.join("bmc");
        std::fs::create_dir_all(bmc_dir.join("state")).unwrap();
        std::fs::write(bmc_dir.join("lan.conf"), lan).unwrap();
        std::fs::write(bmc_dir.join("bmc.emu"), emu).unwrap();
        let log = std::fs::File::create(bmc_dir.join("ipmi_sim.log")).unwrap();
        Command::new("ipmi_sim")
            .arg("-c")
            .arg(bmc_dir.join("lan.conf"))
            .arg("-f")
            .arg(bmc_dir.join("bmc.emu"))
            .arg("-s")
            .arg(bmc_dir.join("state"))
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("lab: cannot start ipmi_sim ({e}); run {INSTALL_HINT}"))
    }

    /// Waits (at most 5 s) until the BMC's UDP socket is bound.
    fn wait_bmc(&mut self, index: usize) {
        let address = &self.hosts[index].bmc_address;
        let octets: Vec<u8> = address.split('.').map(|o| o.parse().unwrap()).collect();
        let wanted = format!(
            "{:02X}{:02X}{:02X}{:02X}:026F",
            octets[3], octets[2], octets[1], octets[0]
        );
        let bounded = wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string("/proc/net/udp").is_ok_and(|table| table.contains(&wanted))
        });
        if !bounded {
            let log = std::fs::read_to_string(self.hosts[index].dir.join("bmc/ipmi_sim.log"));
            panic!("lab: BMC {address} did not bind within 5 s; ipmi_sim log: {log:?}");
        }
    }

    /// The tag in the environment of every process of host `index`.
    pub fn host_tag(&self, index: usize) -> String {
        format!("{}/{}", self.tag, index + 1)
    }

    /// The blackstart [`Host`] of lab host `index`, password from [`Lab::password_file`].
    pub fn host(&self, index: usize) -> Host {
        let host = &self.hosts[index];
        Host {
            name: host.name.clone(),
            address: host.address.clone(),
            ssh: SshSettings {
                login: SshLogin {
                    user: "root".into(),
                    port: 22,
                    key: Some(self.client_key.clone()),
                    certificate: None,
                    known_hosts: self.known_hosts.clone(),
                    strict_host_key_checking: true,
                    connect_timeout: Duration::from_secs(3),
                },
                jumps: Vec::new(),
                openssh: None,
            },
            bmc: host.has_bmc.then(|| Bmc {
                address: host.bmc_address.clone(),
                user: BMC_USER.into(),
                password: SecretSource::File(self.password_file.clone()),
                protocol: BmcProtocol::Ipmi(IpmiSettings {
                    client: IpmiClient::Ipmitool,
                    interface: "lanplus".into(),
                    cipher_suite: 3,
                }),
            }),
            datacenter: Some("lab".into()),
            rack: Some(host.rack.clone()),
            power_domain: None,
            boot: Duration::from_secs(10),
            labels: Default::default(),
        }
    }

    /// Powers host `index` on without IPMI (as the BMC would); returns when sshd listens.
    pub fn power_on(&self, index: usize) {
        self.chassis(index, &["set", "power", "1"]);
        assert!(
            self.is_on(index),
            "lab: {} did not power on",
            self.hosts[index].name
        );
    }

    /// Powers host `index` off without IPMI: its sshd, sessions and services are killed.
    /// Returns when they are gone (bounded).
    pub fn power_off(&self, index: usize) {
        self.chassis(index, &["set", "power", "0"]);
    }

    /// Whether host `index`'s sshd runs.
    pub fn is_on(&self, index: usize) -> bool {
        self.chassis(index, &["get", "power"]).trim() == "power:1"
    }

    fn chassis(&self, index: usize, args: &[&str]) -> String {
        let child = Command::new(self.dir.join("chassis-ctl"))
            .arg(&self.hosts[index].dir)
            .arg(self.host_tag(index))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lab: chassis-ctl");
        let out = wait_output(child, Duration::from_secs(15), "chassis-ctl");
        assert!(out.status.success(), "lab: chassis-ctl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A known_hosts file without host `index`: it is an unknown host there.
    pub fn known_hosts_without(&self, index: usize) -> PathBuf {
        let text = std::fs::read_to_string(&self.known_hosts).unwrap();
        let prefix = format!("{} ", self.hosts[index].address);
        let kept: String = text
            .lines()
            .filter(|line| !line.starts_with(&prefix))
            .map(|line| format!("{line}\n"))
            .collect();
        let path = self.dir.join(format!("known_hosts.without-{}", index + 1));
        std::fs::write(&path, kept).unwrap();
        path
    }

    /// A known_hosts file where host `index` has another (fresh) key: a changed host key.
    pub fn known_hosts_with_wrong_key(&self, index: usize) -> PathBuf {
        let other = self.dir.join(format!("impostor-{}", index + 1));
        let out = wait_output(keygen(&other), Duration::from_secs(20), "ssh-keygen");
        assert!(out.status.success(), "lab: ssh-keygen: {out:?}");
        let public = std::fs::read_to_string(other.with_extension("pub"))
            .or_else(|_| std::fs::read_to_string(format!("{}.pub", other.display())))
            .unwrap();
        let key: Vec<&str> = public.split_whitespace().take(2).collect();
        let text = std::fs::read_to_string(self.known_hosts_without(index)).unwrap();
        let path = self.dir.join(format!("known_hosts.wrong-{}", index + 1));
        let line = format!("{} {}\n", self.hosts[index].address, key.join(" "));
        std::fs::write(&path, text + &line).unwrap();
        path
    }

    /// Shell command starting the lab service on the host it runs on: daemonizes at once,
    /// listens on `port` at the host's address after `delay_s` and answers every GET with
    /// 200 `ok`. `flags`: `--fail` (exit 3 at once, nothing started), `--hang` (never
    /// returns), or empty. The delay counts from when the shell ran the command, so the
    /// interpreter's start is inside it.
    pub fn service_command(&self, port: u16, delay_s: f64, flags: &str) -> String {
        format!(
            "{} {} {port} {delay_s} --since \"$(date +%s.%N)\" {flags}",
            self.python.display(),
            self.dir.join("lab_service.py").display()
        )
        .trim_end()
        .to_string()
    }

    /// Shell command stopping the lab service on `port` of the host it runs on.
    pub fn stop_service_command(&self, port: u16) -> String {
        format!(
            "{} {} --stop {port}",
            self.python.display(),
            self.dir.join("lab_service.py").display()
        )
    }

    /// Starts the lab's port keeper (once): one process holding every port opened with
    /// [`Lab::port_service_command`]. Returns when it reads its FIFO.
    pub fn start_port_keeper(&mut self) {
        if self.keeper.is_some() {
            return;
        }
        let script = self.dir.join("lab_ports.py");
        std::fs::write(&script, PORT_KEEPER).unwrap();
        let fifo = self.dir.join("run/ports.fifo");
        let made = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("lab: mkfifo");
        assert!(made.success(), "lab: mkfifo {}", fifo.display());
        let log = std::fs::File::create(self.dir.join("run/ports.err")).unwrap();
        let child = Command::new(&self.python)
            .arg(&script)
            .arg(&fifo)
            .arg(self.dir.join("run/ports.log"))
            .env("BLACKSTART_LAB", format!("{}/ports", self.tag))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("lab: port keeper");
        let fds = format!("/proc/{}/fd", child.id());
        self.keeper = Some(child);
        let listening = wait_until(Duration::from_secs(10), || {
            std::fs::read_dir(&fds).is_ok_and(|mut entries| {
                entries.any(|entry| {
                    entry.is_ok_and(|entry| {
                        std::fs::read_link(entry.path()).is_ok_and(|t| t == fifo)
                    })
                })
            })
        });
        assert!(
            listening,
            "lab: port keeper did not open {}",
            fifo.display()
        );
    }

    /// Shell command that asks the port keeper to listen on `port` at the address of the host
    /// it runs on after `delay_s` (a service that answers TCP checks, at the cost of one
    /// `echo`). Needs [`Lab::start_port_keeper`]. Powering the host off does not close it.
    pub fn port_service_command(&self, port: u16, delay_s: f64) -> String {
        self.port_keeper_command(port, &delay_s.to_string())
    }

    /// Shell command closing what [`Lab::port_service_command`] opened on `port`.
    pub fn port_stop_command(&self, port: u16) -> String {
        self.port_keeper_command(port, "stop")
    }

    /// Shell command handing the port keeper the line `<host address> <port> <word>`.
    fn port_keeper_command(&self, port: u16, word: &str) -> String {
        format!(
            "echo \"$LAB_ADDRESS {port} {word}\" >> {}",
            shell_quote(&self.dir.join("run/ports.fifo").to_string_lossy())
        )
    }

    /// Lines `<unix time> <address> <port>` logged by the port keeper as each port opens.
    pub fn port_opens(&self) -> Vec<String> {
        self.log_lines("ports.log")
    }

    /// Lines `<unix time> <address> <port>` written by each service when it starts.
    pub fn service_starts(&self) -> Vec<String> {
        self.log_lines("starts.log")
    }

    /// The lines of `<lab>/run/<file>`; none while it does not exist.
    fn log_lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("run").join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A topology YAML for the lab's hosts (rack `r<B>`, SSH and BMC settings pointing into
    /// the lab) followed by `subsystems` (a YAML block starting with `subsystems:`, or empty).
    pub fn topology_yaml(&self, secret: LabSecret, subsystems: &str) -> String {
        let q = |text: &str| serde_json::to_string(text).unwrap();
        let password = match secret {
            LabSecret::File => format!(
                "password_file: {}",
                q(&self.password_file.to_string_lossy())
            ),
            LabSecret::Env => format!("password_env: {}", q(&self.password_env)),
        };
        // Default BMC settings would give every host a BMC: with hosts lacking one, each
        // BMC carries its own.
        let every_bmc = self.hosts.iter().all(|host| host.has_bmc);
        let default_bmc = if every_bmc {
            format!("    bmc:\n      user: {BMC_USER}\n      {password}\n")
        } else {
            String::new()
        };
        let mut yaml = format!(
            "version: 1\nname: lab-{name}\npolicy:\n  parallelism: 16\n  \
             power_on: {{ count: 50, per: 1s }}\ndefaults:\n  host:\n    ssh:\n      \
             user: root\n      key: {key}\n      known_hosts: {kh}\n      \
             connect_timeout: 3s\n{default_bmc}    \
             datacenter: lab\n    boot: 10s\nhosts:\n",
            name = self.name,
            key = q(&self.client_key.to_string_lossy()),
            kh = q(&self.known_hosts.to_string_lossy()),
        );
        for host in &self.hosts {
            write!(
                yaml,
                "  - name: {}\n    address: {}\n    rack: {}\n",
                host.name, host.address, host.rack
            )
            .unwrap();
            match (host.has_bmc, every_bmc) {
                (true, true) => writeln!(yaml, "    bmc: {{ address: {} }}", host.bmc_address),
                (true, false) => writeln!(
                    yaml,
                    "    bmc: {{ address: {}, user: {BMC_USER}, {password} }}",
                    host.bmc_address
                ),
                (false, _) => Ok(()),
            }
            .unwrap();
        }
        yaml.push_str(subsystems);
        yaml
    }

    /// Installs `script` as the program `name` on every lab host (first on their PATH), to
    /// stand in for software the lab does not run (mysql, keepalived's systemctl, ip).
    /// Scripts see `LAB_ADDRESS`, `LAB_HOST` and `LAB_DIR` to keep per-host state.
    pub fn install_program(&self, name: &str, script: &str) {
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        chmod_x(&path);
    }

    /// Writes [`Lab::topology_yaml`] to `<lab>/topology.yaml` and returns the path.
    pub fn write_topology(&self, secret: LabSecret, subsystems: &str) -> PathBuf {
        self.write_topology_text(&self.topology_yaml(secret, subsystems))
    }

    /// Writes `yaml` (a [`Lab::topology_yaml`] edited by the caller) to
    /// `<lab>/topology.yaml` and returns the path.
    pub fn write_topology_text(&self, yaml: &str) -> PathBuf {
        let path = self.dir.join("topology.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Every kill first, then the waits: the processes exit side by side.
        for child in self.bmcs.iter_mut().chain(&mut self.keeper) {
            let _ = child.kill();
        }
        for child in self.bmcs.iter_mut().chain(&mut self.keeper) {
            let _ = child.wait();
        }
        if self.hosts.len() <= BLOCK_HOSTS {
            for index in 0..self.hosts.len() {
                self.power_off(index);
            }
        } else {
            // Powering off one by one scans every process's environment per host: quadratic
            // in a large lab. Kill every sshd listener's process tree in one pass instead.
            let listeners: Vec<i32> = self
                .hosts
                .iter()
                .filter_map(|host| std::fs::read_to_string(&host.pid_file).ok())
                .filter_map(|pid| pid.trim().parse().ok())
                .collect();
            kill_pids(&descendants(&listeners));
        }
        // Backstop: anything still carrying the lab's tag or naming the lab's directory.
        kill_matching(&format!("BLACKSTART_LAB={}/", self.tag), &self.dir);
        std::env::remove_var(&self.password_env);
        if std::env::var_os("BLACKSTART_LAB_KEEP").is_some() {
            if let Some(dir) = self.tempdir.take() {
                eprintln!("lab kept in {}", dir.keep().display());
            }
        }
    }
}

fn keygen(path: &Path) -> Child {
    Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "blackstart-lab",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("lab: cannot run ssh-keygen ({e}); run {INSTALL_HINT}"))
}

fn sshd_config(lab: &Path, host: &LabHost, tag: &str) -> String {
    format!(
        "ListenAddress {addr}:22\nHostKey {dir}/ssh_host_ed25519_key\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {lab}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
         UseDNS no\nMaxStartups 100:30:200\n\
         SetEnv SHLVL=1 BLACKSTART_LAB={tag}/{n} LAB_ADDRESS={addr} LAB_HOST={name} \
         LAB_DIR={lab} PATH={lab}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        addr = host.address,
        dir = host.dir.display(),
        lab = lab.display(),
        n = host.index + 1,
        name = host.name,
    )
}

/// Panics naming the first missing tool and the install script. Returns python3's path.
fn require_tools() -> PathBuf {
    for tool in [SSHD, "ssh-keygen", "ipmi_sim", "ipmitool", "python3"] {
        if find_program(tool).is_none() {
            panic!(
                "lab: `{tool}` is missing — the lab tests need real sshd, ipmi_sim and ipmitool. \
                 Install them with: {INSTALL_HINT}"
            );
        }
    }
    if !Path::new("/run/sshd").is_dir() && std::fs::create_dir_all("/run/sshd").is_err() {
        panic!("lab: /run/sshd is missing and cannot be created; run {INSTALL_HINT}");
    }
    // Hosts' shells get sshd's default PATH, not ours: hand them an absolute python3.
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| find_program("python3"))
        .unwrap()
}

fn find_program(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).exists().then(|| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn unique_hex() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{:012x}", mixed & 0xffff_ffff_ffff)
}
