//! known_hosts as OpenSSH reads it, for the built-in client. libssh2 reads plain lines only:
//! a `@cert-authority` or `@revoked` line made its reader fail on the whole file ("Failed to
//! parse known hosts file"). Here the marker lines are read by blackstart, each remembered
//! with its line number, and the plain lines are handed to libssh2 one by one, so a line it
//! cannot parse is named. The host-key decision follows OpenSSH's `check_host_key`: a revoked
//! key is refused even with strict checking off; a certificate signed by a CA the file trusts
//! for the host is verified ([`super::host_cert`]); otherwise the certified (or plain) key
//! must be listed.

use std::path::Path;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use ssh2::{CheckResult, KnownHostFileKind};

use super::host_cert;
use crate::topology::names::glob_match;

/// A marker line's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// `@cert-authority`: the key is a CA trusted to sign host certificates.
    CertAuthority,
    /// `@revoked`: the key must never be accepted.
    Revoked,
}

/// One `@cert-authority` or `@revoked` line.
struct Marked {
    marker: Marker,
    /// The host patterns, as written (comma-separated, `!` negations, `|1|` hashes).
    patterns: String,
    /// The key blob.
    key: Vec<u8>,
    /// 1-based line number.
    line: usize,
}

/// A known_hosts file read once.
pub(crate) struct KnownHostsFile {
    plain: ssh2::KnownHosts,
    marked: Vec<Marked>,
    shown: String,
}

/// Why a host key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// What to tell the operator: the key, the file (and line), what to do.
    pub detail: String,
    /// A revoked key: refused even with strict host-key checking off, as ssh refuses it.
    pub revoked: bool,
}

impl KnownHostsFile {
    /// Reads `path`. Errors name the line that cannot be read (`line 3: ...`); the caller
    /// names the file.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            kind => kind.to_string(),
        })?;
        let text = String::from_utf8_lossy(&text);
        let session = ssh2::Session::new().map_err(|e| e.to_string())?;
        let mut plain = session.known_hosts().map_err(|e| e.to_string())?;
        let mut marked = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_start();
            let at = format!("line {}", index + 1);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('@') {
                marked.push(marker_line(line, index + 1).map_err(|why| format!("{at}: {why}"))?);
                continue;
            }
            plain
                .read_str(line, KnownHostFileKind::OpenSSH)
                .map_err(|e| format!("{at}: cannot read this line ({})", e.message()))?;
        }
        Ok(KnownHostsFile {
            plain,
            marked,
            shown,
        })
    }

    /// Whether the file speaks of `address:port` at all: a plain line, or a CA trusted for it.
    pub(crate) fn lists(&self, address: &str, port: u16) -> bool {
        // A key nobody has: a listed host answers "mismatch", an unlisted one "not found".
        // libssh2 matches hashed entries too.
        let probe = self
            .plain
            .check_port(address, port, b"blackstart-prerequisite-probe");
        !matches!(probe, CheckResult::NotFound)
            || self
                .applying(address, port, Marker::CertAuthority)
                .next()
                .is_some()
    }

    /// The marker lines of `kind` whose patterns match `address:port`.
    fn applying<'s>(
        &'s self,
        address: &str,
        port: u16,
        kind: Marker,
    ) -> impl Iterator<Item = &'s Marked> + 's {
        let name = lookup_name(address, port);
        self.marked
            .iter()
            .filter(move |m| m.marker == kind && patterns_match(&m.patterns, &name))
    }

    /// Whether `key` (as the server sent it) is accepted for `address:port` at unix time
    /// `now`.
    pub(crate) fn check(
        &self,
        address: &str,
        port: u16,
        key: &[u8],
        now: u64,
    ) -> Result<(), Refusal> {
        let shown = &self.shown;
        let refuse = |detail: String| {
            Err(Refusal {
                detail,
                revoked: false,
            })
        };
        let cert = host_cert::parse(key).map_err(|why| Refusal {
            detail: format!("the host key of {address}:{port} cannot be read: {why}"),
            revoked: false,
        })?;
        let plain: &[u8] = cert.as_ref().map_or(key, |c| &c.plain);
        for line in self.applying(address, port, Marker::Revoked) {
            let ca = cert.as_ref().map(|c| c.signature_key);
            if line.key == plain || line.key == key || Some(line.key.as_slice()) == ca {
                return Err(Refusal {
                    detail: format!(
                        "the key of {address}:{port} (or the CA that signed it) is REVOKED by \
                         {shown}:{} (`@revoked`)",
                        line.line
                    ),
                    revoked: true,
                });
            }
        }
        let name = lookup_name(address, port);
        // Why the certificate did not vouch for the host, when a trusted CA's was offered.
        let mut cert_problem = None;
        if let Some(cert) = &cert {
            let cas: Vec<&Marked> = self
                .applying(address, port, Marker::CertAuthority)
                .collect();
            for ca in &cas {
                match cert.refusal(&ca.key, address, now) {
                    None => return Ok(()),
                    Some(why) if ca.key == cert.signature_key => {
                        cert_problem = Some(format!(
                            "the host certificate of {address}:{port} (key id \"{}\") is refused \
                             under `@cert-authority` at {shown}:{}: {why}",
                            cert.key_id, ca.line
                        ));
                    }
                    Some(_) => {}
                }
            }
            if cert_problem.is_none() {
                if let Some(ca) = cas.first() {
                    cert_problem = Some(format!(
                        "the host certificate of {address}:{port} (key id \"{}\") is signed by \
                         a CA ({}) that {shown} does not trust for {name}; the CA trusted at \
                         {shown}:{} is another",
                        cert.key_id,
                        host_cert::key_type(cert.signature_key),
                        ca.line
                    ));
                }
            }
        }
        // As ssh does, a certificate that did not verify falls back to its plain key.
        match self.plain.check_port(address, port, plain) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => refuse(format!(
                "the key of {address}:{port} DIFFERS from the one in {shown} (changed key or \
                 impostor)"
            )),
            CheckResult::Failure => refuse(format!("checking against {shown} failed")),
            CheckResult::NotFound => match cert_problem {
                Some(problem) => refuse(problem),
                None => match self.applying(address, port, Marker::CertAuthority).next() {
                    Some(ca) => refuse(format!(
                        "{address}:{port} offered a plain key, not a certificate, and {shown} \
                         has only `@cert-authority` (line {}) for it; give the host a \
                         certificate signed by that CA, or add its key to {shown}",
                        ca.line
                    )),
                    None => refuse(format!(
                        "{address}:{port} is not in {shown} (unknown host; add its key, no \
                         trust on first use)"
                    )),
                },
            },
        }
    }
}

/// The name ssh looks a host up by: `[address]:port` off port 22.
fn lookup_name(address: &str, port: u16) -> String {
    let address = address.to_ascii_lowercase();
    if port == 22 {
        address
    } else {
        format!("[{address}]:{port}")
    }
}

/// `@marker patterns keytype base64 [comment]`.
fn marker_line(line: &str, number: usize) -> Result<Marked, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let marker = match fields[0] {
        "@cert-authority" => Marker::CertAuthority,
        "@revoked" => Marker::Revoked,
        other => {
            return Err(format!(
                "unknown marker `{other}` (ssh knows `@cert-authority` and `@revoked`); fix or \
                 remove the line"
            ))
        }
    };
    let [_, patterns, key_type, key, ..] = fields[..] else {
        return Err(format!(
            "`{}` needs host patterns, a key type and a key",
            fields[0]
        ));
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|e| format!("the key of `{}` is not base64: {e}", fields[0]))?;
    if host_cert::key_type(&key) != key_type {
        return Err(format!(
            "the key of `{}` is not a {key_type} key",
            fields[0]
        ));
    }
    Ok(Marked {
        marker,
        patterns: patterns.to_string(),
        key,
        line: number,
    })
}

/// ssh's `match_hostname`: a negated pattern that matches rules the name out; otherwise any
/// matching pattern rules it in. `|1|salt|hash` is a hashed name (HMAC-SHA1).
fn patterns_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let hit = match pattern.strip_prefix("|1|") {
            Some(hashed) => hashed_match(hashed, name),
            None => glob_match(
                pattern.to_ascii_lowercase().as_bytes(),
                name.as_bytes(),
                b'*',
                b'?',
            ),
        };
        if hit && negated {
            return false;
        }
        matched |= hit;
    }
    matched
}

fn hashed_match(hashed: &str, name: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
