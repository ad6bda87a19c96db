//! Redfish BMCs for a [`Lab`]: one real `sushy-emulator` (sushy-tools, installed by the lab
//! script into a virtual environment) per chosen host, on `127.A.(B+2).N:8443`, with TLS
//! (a lab CA signs each emulator's certificate) and HTTP basic auth (bcrypt htpasswd). Each
//! emulator serves one system from its fake driver, whose power changes are posted to a
//! small listener (`redfish_notifier.py`) that switches the host's sshd with the lab's
//! chassis-ctl at the moment the emulator applies them — as ipmi_sim's chassis control does.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use blackstart::topology::{BmcProtocol, Host, RedfishOff, RedfishSettings, TlsTrust};

use super::lab::{wait_until, Lab, INSTALL_HINT};

/// Port every emulator listens on.
pub const PORT: u16 = 8443;

/// The lab's virtual environment holding sushy-tools.
pub fn venv() -> PathBuf {
    std::env::var_os("BLACKSTART_LAB_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lab-venv"),
        PathBuf::from,
    )
}

/// A CA and a server certificate signed by it for `ips`, made with the openssl CLI in `dir`.
/// Returns (CA certificate, server certificate, server key).
pub fn tls_material(dir: &Path, name: &str, ips: &[String]) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let p = |suffix: &str| dir.join(format!("{name}-{suffix}"));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                s(&p("ca.key")),
                "-out",
                s(&p("ca.pem")),
                "-days",
                "2",
                "-subj",
                &format!("/CN={name} lab CA"),
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                s(&p("key.pem")),
                "-out",
                s(&p("csr.pem")),
                "-subj",
                &format!("/CN={name}"),
            ],
        ]
        .concat(),
    );
    let sans: Vec<String> = ips.iter().map(|ip| format!("IP:{ip}")).collect();
    std::fs::write(
        p("ext.cnf"),
        format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            sans.join(",")
        ),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        s(&p("csr.pem")),
        "-CA",
        s(&p("ca.pem")),
        "-CAkey",
        s(&p("ca.key")),
        "-CAcreateserial",
        "-out",
        s(&p("cert.pem")),
        "-days",
        "2",
        "-extfile",
        s(&p("ext.cnf")),
    ]);
    (p("ca.pem"), p("cert.pem"), p("key.pem"))
}

/// A self-signed certificate for `ip` (basicConstraints CA:TRUE, as BMCs make them) and its
/// key, in `dir`.
pub fn self_signed(dir: &Path, name: &str, ip: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let cert = dir.join(format!("{name}-self.pem"));
    let key = dir.join(format!("{name}-self.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=IP:{ip}")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("lab: openssl runs");
    assert!(out.status.success(), "lab: openssl: {out:?}");
    (cert, key)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("lab: openssl ({e}); run {INSTALL_HINT}"));
    assert!(out.status.success(), "lab: openssl {args:?}: {out:?}");
}

/// Redfish emulators for some of a lab's hosts. Dropping it stops them.
pub struct RedfishBmcs {
    /// The lab CA that signed every emulator's certificate.
    pub ca_file: PathBuf,
    /// Another CA, which signed nothing here: trusting it must fail.
    pub wrong_ca_file: PathBuf,
    /// `(host index, BMC address with port)` per emulator.
    pub bmcs: Vec<(usize, String)>,
    children: Vec<Child>,
}

impl RedfishBmcs {
    /// Starts one emulator for each host index in `hosts` (all powered off) and the notifier.
    pub fn start(lab: &Lab, hosts: &[usize]) -> RedfishBmcs {
        let python = venv().join("bin/python");
        let emulator = venv().join("bin/sushy-emulator");
        assert!(
            emulator.exists(),
            "lab: {} is missing; run {INSTALL_HINT}",
            emulator.display()
        );
        let (a, b) = lab.block;
        let dir = lab.dir.join("redfish");
        std::fs::create_dir_all(&dir).unwrap();
        let ip = |n: usize| format!("127.{a}.{}.{n}", b + 2);
        let ips: Vec<String> = hosts.iter().map(|&i| ip(i + 1)).collect();
        let (ca_file, cert, key) = tls_material(&dir, "bmc", &ips);
        let (wrong_ca_file, _, _) = tls_material(&dir, "impostor", &ips);

        // htpasswd with a bcrypt digest (the only kind sushy-tools accepts); the password
        // travels in the environment, never on a command line.
        let auth_file = dir.join("htpasswd");
        let out = Command::new(&python)
            .args(["-c", "import bcrypt, os, sys; sys.stdout.write('admin:' + bcrypt.hashpw(os.environ['PW'].encode(), bcrypt.gensalt(4)).decode() + '\\n')"])
            .env("PW", &lab.password)
            .output()
            .unwrap();
        assert!(out.status.success(), "lab: bcrypt: {out:?}");
        std::fs::write(&auth_file, &out.stdout).unwrap();

        let notifier_address = ip(250);
        let notifier_port = 9000;
        let mut hosts_json = serde_json::Map::new();
        for &index in hosts {
            hosts_json.insert(
                format!("h{}", index + 1),
                serde_json::json!([lab.hosts[index].dir, lab.host_tag(index)]),
            );
        }
        std::fs::write(
            dir.join("hosts.json"),
            serde_json::Value::Object(hosts_json).to_string(),
        )
        .unwrap();
        std::fs::write(dir.join("redfish_notifier.py"), NOTIFIER).unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let tag = format!("{}/redfish", lab.host_tag(0).rsplit_once('/').unwrap().0);
        let mut children = vec![Command::new(&python)
            .arg(dir.join("redfish_notifier.py"))
            .args([&notifier_address, &notifier_port.to_string(), s(&lab.dir)])
            .env("BLACKSTART_LAB", &tag)
            .stdin(Stdio::null())
            .stdout(log("notifier.out"))
            .stderr(log("notifier.err"))
            .spawn()
            .unwrap()];
        let mut bmcs = Vec::new();
        for &index in hosts {
            let n = index + 1;
            let host_dir = dir.join(format!("h{n}"));
            std::fs::create_dir_all(&host_dir).unwrap();
            let mut config = String::new();
            let q = |text: &str| serde_json::to_string(text).unwrap();
            writeln!(config, "SUSHY_EMULATOR_LISTEN_IP = {}", q(&ip(n))).unwrap();
            writeln!(config, "SUSHY_EMULATOR_LISTEN_PORT = {PORT}").unwrap();
            writeln!(config, "SUSHY_EMULATOR_SSL_CERT = {}", q(s(&cert))).unwrap();
            writeln!(config, "SUSHY_EMULATOR_SSL_KEY = {}", q(s(&key))).unwrap();
            writeln!(config, "SUSHY_EMULATOR_AUTH_FILE = {}", q(s(&auth_file))).unwrap();
            writeln!(config, "SUSHY_EMULATOR_STATE_DIR = {}", q(s(&host_dir))).unwrap();
            writeln!(config, "SUSHY_EMULATOR_FAKE_DRIVER = True").unwrap();
            writeln!(
                config,
                "EXTERNAL_NOTIFICATION_URL = {}",
                q(&format!("http://{notifier_address}:{notifier_port}/h{n}"))
            )
            .unwrap();
            writeln!(
                config,
                "SUSHY_EMULATOR_FAKE_SYSTEMS = [{{'uuid': '{}', 'name': 'h{n}', 'power_state': 'Off', 'external_notifier': True, 'nics': [{{'mac': '52:54:00:00:00:{n:02x}', 'ip': {}}}]}}]",
                system_uuid(index),
                q(&lab.hosts[index].address)
            )
            .unwrap();
            std::fs::write(host_dir.join("emulator.conf"), config).unwrap();
            children.push(
                Command::new(&emulator)
                    .arg("--config")
                    .arg(host_dir.join("emulator.conf"))
                    .env("BLACKSTART_LAB", &tag)
                    .stdin(Stdio::null())
                    .stdout(log(&format!("emulator-{n}.out")))
                    .stderr(log(&format!("emulator-{n}.err")))
                    .spawn()
                    .unwrap(),
            );
            bmcs.push((index, format!("{}:{PORT}", ip(n))));
        }
        let mut lab_bmcs = RedfishBmcs {
            ca_file,
            wrong_ca_file,
            bmcs,
            children,
        };
        let mut listeners: Vec<String> = lab_bmcs.bmcs.iter().map(|(_, a)| a.clone()).collect();
        listeners.push(format!("{notifier_address}:{notifier_port}"));
        for address in listeners {
            let up = wait_until(Duration::from_secs(30), || {
                TcpStream::connect(&address).is_ok()
            });
            if !up {
                let err = std::fs::read_to_string(dir.join("emulator-1.err")).unwrap_or_default();
                lab_bmcs.stop();
                panic!("lab: {address} did not listen within 30 s; emulator log: {err}");
            }
        }
        lab_bmcs
    }

    /// The BMC address (with port) of host `index`.
    pub fn address(&self, index: usize) -> &str {
        &self
            .bmcs
            .iter()
            .find(|(i, _)| *i == index)
            .expect("not a Redfish host")
            .1
    }

    /// `lab.host(index)` with its Redfish BMC, trusting `ca_file`.
    pub fn host(&self, lab: &Lab, index: usize, ca_file: &Path) -> Host {
        let mut host = lab.host(index);
        let bmc = host.bmc.as_mut().unwrap();
        bmc.address = self.address(index).to_string();
        bmc.protocol = BmcProtocol::Redfish(RedfishSettings {
            system: None,
            tls: TlsTrust {
                ca_file: Some(ca_file.to_path_buf()),
                insecure: false,
            },
            off: RedfishOff::ForceOff,
        });
        host
    }

    /// Rewrites a lab topology so the hosts with emulators have Redfish BMCs.
    pub fn redfish_topology(&self, lab: &Lab, yaml: &str, ca_file: &Path) -> String {
        let mut yaml = yaml.to_string();
        for (index, address) in &self.bmcs {
            let from = format!("bmc: {{ address: {} }}", lab.hosts[*index].bmc_address);
            let to = format!(
                "bmc: {{ protocol: redfish, address: \"{address}\", ca_file: {} }}",
                serde_json::to_string(s(ca_file)).unwrap()
            );
            assert!(yaml.contains(&from), "lab topology has no line {from:?}");
            yaml = yaml.replace(&from, &to);
        }
        yaml
    }

    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for RedfishBmcs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The fake system's UUID of host `index`.
pub fn system_uuid(index: usize) -> String {
    format!("8f2c0000-0000-4000-8000-{:012x}", index + 1)
}

/// Listener of the emulators' power notifications: switches the host at the moment the
/// emulator applies the change (`pending_power.apply_time`), with the lab's chassis-ctl.
const NOTIFIER: &str = r#"#!/usr/bin/env python3
import http.server, json, os, subprocess, sys, threading, time
addr, port, lab = sys.argv[1], int(sys.argv[2]), sys.argv[3]
hosts = json.load(open(os.path.join(lab, "redfish", "hosts.json")))
lock = threading.Lock()
generation = {}
def log(*words):
    with open(os.path.join(lab, "redfish", "notify.log"), "a") as f:
        f.write("%.3f %s\n" % (time.time(), " ".join(str(w) for w in words)))
def apply(key, state, at, gen):
    time.sleep(max(0.0, at - time.time()))
    with lock:
        if generation.get(key) != gen:
            return
    d, tag = hosts[key]
    subprocess.run([os.path.join(lab, "chassis-ctl"), d, tag, "set", "power", "1" if state == "On" else "0"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    log(key, state, "applied")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        key = self.path.strip("/")
        system = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        pending = system.get("pending_power")
        state, at = (pending["power_state"], pending["apply_time"]) if pending else (system["power_state"], 0)
        with lock:
            gen = generation[key] = generation.get(key, 0) + 1
        log(key, state, "at", at)
        if key in hosts:
            threading.Thread(target=apply, args=(key, state, at, gen), daemon=True).start()
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((addr, port), Handler).serve_forever()
"#;
