//! A routed lab in network namespaces the test creates: a `core` namespace holding two
//! bridges, an outer network (10.77.1.0/24) and an inner one (10.77.2.0/24); one namespace
//! per machine joined to a bridge by a veth pair. The jump host sits on both networks, the
//! orchestrator only on the outer one, the hosts only on the inner one — and no namespace
//! forwards, so the hosts are reachable only through the jump host. Each machine but the
//! orchestrator runs its own sshd.
//!
//! Namespace names carry the pid and a per-test letter, so tests run in parallel. Everything
//! is torn down on drop, also when the test panics: every process in the namespaces is
//! killed, then the namespaces are deleted. Every wait is bounded; a missing tool fails
//! loudly, naming the install script.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::lab::{wait_until, INSTALL_HINT, SSHD};

/// The jump host's address on the outer network.
pub const JUMP_OUTER: &str = "10.77.1.1";
/// The jump host's address on the inner network.
pub const JUMP_INNER: &str = "10.77.2.1";
/// The orchestrator's address on the outer network.
pub const ORCHESTRATOR: &str = "10.77.1.10";

/// A running namespace lab. Dropping it stops everything.
pub struct NetLab {
    /// Prefix of every namespace name.
    pub prefix: String,
    /// The lab's directory (keys, configs, logs).
    pub dir: PathBuf,
    /// Client private key accepted as root everywhere.
    pub client_key: PathBuf,
    /// The jump host's key as in known_hosts (`ssh-ed25519 AAAA...`).
    pub jump_key: String,
    /// Each inner host's `(address, key as in known_hosts)`.
    pub hosts: Vec<(String, String)>,
    namespaces: Vec<String>,
    sshds: Vec<Child>,
    _tempdir: tempfile::TempDir,
}

impl NetLab {
    /// Creates the networks, a jump host and `hosts` inner hosts (10.77.2.11, .12, ...),
    /// each with its own sshd, ready when this returns.
    pub fn start(letter: char, hosts: usize) -> NetLab {
        for tool in ["ip", SSHD, "ssh-keygen"] {
            assert!(
                Path::new(tool).is_file() || which(tool),
                "netns lab: `{tool}` is missing; install it with {INSTALL_HINT}"
            );
        }
        let tempdir = tempfile::Builder::new()
            .prefix("bsjump-")
            .tempdir()
            .expect("netns lab: temp dir");
        let dir = tempdir.path().to_path_buf();
        let prefix = format!("bsj{}{letter}", std::process::id());
        let mut lab = NetLab {
            prefix: prefix.clone(),
            dir: dir.clone(),
            client_key: dir.join("client_key"),
            jump_key: String::new(),
            hosts: Vec::new(),
            namespaces: Vec::new(),
            sshds: Vec::new(),
            _tempdir: tempdir,
        };
        // From here on, a failure unwinds through Drop, which removes what was made.
        let core = lab.namespace("core");
        ip(&["-n", &core, "link", "add", "brout", "type", "bridge"]);
        ip(&["-n", &core, "link", "add", "brin", "type", "bridge"]);
        ip(&["-n", &core, "link", "set", "brout", "up"]);
        ip(&["-n", &core, "link", "set", "brin", "up"]);
        let orchestrator = lab.namespace("orch");
        lab.wire(&orchestrator, "eth0", "vo", "brout", ORCHESTRATOR);
        let jump = lab.namespace("jump");
        lab.wire(&jump, "eth0", "vjo", "brout", JUMP_OUTER);
        lab.wire(&jump, "eth1", "vji", "brin", JUMP_INNER);

        keygen(&lab.client_key);
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        lab.jump_key = lab.start_sshd(&jump, "jump");
        for n in 1..=hosts {
            let name = format!("h{n}");
            let ns = lab.namespace(&name);
            let address = format!("10.77.2.{}", 10 + n);
            lab.wire(&ns, "eth0", &format!("v{name}"), "brin", &address);
            let key = lab.start_sshd(&ns, &name);
            lab.hosts.push((address, key));
        }
        lab.wait_ready();
        lab
    }

    /// Full name of the lab's namespace `short`.
    pub fn ns(&self, short: &str) -> String {
        format!("{}{short}", self.prefix)
    }

    fn namespace(&mut self, short: &str) -> String {
        let name = self.ns(short);
        ip(&["netns", "add", &name]);
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// A veth pair: `inside` in `ns` with `address`/24, `outside` on `bridge` in core.
    fn wire(&self, ns: &str, inside: &str, outside: &str, bridge: &str, address: &str) {
        let core = self.ns("core");
        ip(&[
            "-n", &core, "link", "add", outside, "type", "veth", "peer", "name", inside, "netns",
            ns,
        ]);
        ip(&["-n", &core, "link", "set", outside, "master", bridge, "up"]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            inside,
        ]);
        ip(&["-n", ns, "link", "set", inside, "up"]);
    }

    /// Starts an sshd in `ns` on every address; returns its host key as in known_hosts.
    fn start_sshd(&mut self, ns: &str, short: &str) -> String {
        let dir = self.dir.join(short);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("ssh_host_ed25519_key");
        keygen(&key);
        let config = format!(
            "ListenAddress 0.0.0.0:22\nHostKey {key}\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {lab}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nUseDNS no\nMaxStartups 100:30:200\nSetEnv SHLVL=1\n",
            key = key.display(),
            dir = dir.display(),
            lab = self.dir.display(),
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, SSHD, "-D", "-f"])
            .arg(dir.join("sshd_config"))
            // Its own log (logins counted by tests), apart from what it prints.
            .arg("-E")
            .arg(dir.join("auth.log"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("netns lab: cannot start sshd ({e}); {INSTALL_HINT}"));
        self.sshds.push(child);
        let public = std::fs::read_to_string(dir.join("ssh_host_ed25519_key.pub")).unwrap();
        public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Waits (at most 10 s) for every sshd's pid file: written after it bound its port.
    fn wait_ready(&self) {
        let mut pid_files = vec![self.dir.join("jump/sshd.pid")];
        pid_files.extend((1..=self.hosts.len()).map(|n| self.dir.join(format!("h{n}/sshd.pid"))));
        let ready = wait_until(Duration::from_secs(10), || {
            pid_files.iter().all(|file| file.exists())
        });
        assert!(
            ready,
            "netns lab: sshd did not start within 10 s; logs in {}",
            self.dir.display()
        );
    }

    /// Runs `program args` inside namespace `short`, killed (failing the test) after
    /// `limit`; returns its output and how long it took.
    pub fn run_in(
        &self,
        short: &str,
        program: &str,
        args: &[&str],
        limit: Duration,
    ) -> (Output, Duration) {
        let began = Instant::now();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(short), program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec");
        let exited = wait_until(limit, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} in {short} ran longer than {limit:?}");
        }
        (child.wait_with_output().unwrap(), began.elapsed())
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for sshd in &mut self.sshds {
            let _ = sshd.kill();
        }
        // Session processes sshd forked live on in the namespaces: end every one of them.
        for ns in &self.namespaces {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: plain kill(2) on a pid living in our own namespace.
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                    }
                }
            }
        }
        for sshd in &mut self.sshds {
            let _ = sshd.wait();
        }
        // Deleting core removes the bridges and every veth end with them.
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `ip args`, panicking with its error when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("netns lab: cannot run ip ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "netns lab: ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bsjump", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("netns lab: cannot run ssh-keygen ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "netns lab: ssh-keygen failed: {out:?}"
    );
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}
