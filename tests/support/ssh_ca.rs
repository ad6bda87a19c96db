//! SSH certificate authorities for the lab: a CA key made with `ssh-keygen`, host keys
//! signed as host certificates (`-h`) and served with `HostCertificate`, client keys signed
//! as user certificates for an sshd with `TrustedUserCAKeys`. Every `ssh-keygen` is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::lab::{Lab, INSTALL_HINT};
use super::procs::wait_output;

/// One CA: its private key file and its public key line (`ssh-ed25519 AAAA...`).
pub struct Ca {
    /// The private key.
    pub key: PathBuf,
    /// `type base64` of the public key, as known_hosts and TrustedUserCAKeys take it.
    pub public: String,
}

/// Runs `ssh-keygen args`, bounded; panics with its output when it fails.
fn keygen(args: &[&str]) {
    let child = Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("lab: cannot run ssh-keygen ({e}); run {INSTALL_HINT}"));
    let out = wait_output(child, Duration::from_secs(20), "ssh-keygen");
    assert!(out.status.success(), "lab: ssh-keygen {args:?}: {out:?}");
}

impl Ca {
    /// A fresh ed25519 CA at `<lab>/<name>`.
    pub fn new(lab: &Lab, name: &str) -> Ca {
        let key = lab.dir.join(name);
        let path = key.to_string_lossy().into_owned();
        keygen(&["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", &path]);
        let public = std::fs::read_to_string(format!("{path}.pub")).unwrap();
        let public = public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Ca { key, public }
    }

    /// Signs `public_key` (a `.pub` file); `host`: a host certificate. `validity` is
    /// ssh-keygen's `-V` (empty: forever). Returns the `-cert.pub` file beside it.
    fn sign(
        &self,
        public_key: &Path,
        id: &str,
        principals: &str,
        host: bool,
        validity: &str,
    ) -> PathBuf {
        let ca = self.key.to_string_lossy().into_owned();
        let target = public_key.to_string_lossy().into_owned();
        let mut args = vec!["-q", "-s", &ca, "-I", id, "-n", principals];
        if host {
            args.push("-h");
        }
        if !validity.is_empty() {
            args.extend(["-V", validity]);
        }
        args.push(&target);
        keygen(&args);
        PathBuf::from(target.replace(".pub", "-cert.pub"))
    }

    /// Gives lab host `index` a host certificate for its address, signed by this CA and
    /// valid for `validity` (`-V`; empty: forever), served by its sshd from the next power
    /// on.
    pub fn certify_host(&self, lab: &Lab, index: usize, validity: &str) {
        let host = &lab.hosts[index];
        let cert = self.sign(
            &host.dir.join("ssh_host_ed25519_key.pub"),
            &format!("host-{}", host.name),
            &host.address,
            true,
            validity,
        );
        append(
            &host.dir.join("sshd_config"),
            &format!("HostCertificate {}\n", cert.display()),
        );
    }

    /// Makes lab host `index` accept user certificates signed by this CA, and no plain key
    /// (its AuthorizedKeysFile is emptied): a certificate is its only way in.
    pub fn trust_users_on(&self, lab: &Lab, index: usize) {
        let host = &lab.hosts[index];
        let ca_file = host.dir.join("user_ca.pub");
        std::fs::write(&ca_file, format!("{}\n", self.public)).unwrap();
        let config = host.dir.join("sshd_config");
        let text = std::fs::read_to_string(&config).unwrap();
        let kept: String = text
            .lines()
            .filter(|line| !line.starts_with("AuthorizedKeysFile"))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(
            &config,
            format!(
                "{kept}AuthorizedKeysFile none\nTrustedUserCAKeys {}\n",
                ca_file.display()
            ),
        )
        .unwrap();
    }

    /// Signs the lab's client key as a user certificate for `root`; returns the
    /// certificate file (`client_key-cert.pub`).
    pub fn certify_client(&self, lab: &Lab) -> PathBuf {
        self.sign(
            &lab.dir.join("client_key.pub"),
            "operator",
            "root",
            false,
            "",
        )
    }
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}
