//! OpenSSH host certificates (`*-cert-v01@openssh.com`, PROTOCOL.certkeys), checked by
//! blackstart itself. libssh2 negotiates certificate host keys and proves that the server
//! holds the certified key, but it never asks who signed the certificate, for which names,
//! or until when: without this check a certificate from anyone would pass as a key that is
//! merely "not in known_hosts". The checks are those of OpenSSH's `check_host_cert`.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

const CERT_SUFFIX: &str = "-cert-v01@openssh.com";
/// PROTOCOL.certkeys: the `type` field of a host certificate.
const HOST_CERT: u32 = 2;

/// The fields of a certificate that its check reads.
#[derive(Debug)]
pub(crate) struct HostCert<'a> {
    /// The certified key as a plain public key blob: what a known_hosts line would hold.
    pub plain: Vec<u8>,
    /// The certificate's key id (shown in messages, as ssh logs it).
    pub key_id: String,
    kind: u32,
    principals: Vec<String>,
    valid_after: u64,
    valid_before: u64,
    critical_options: &'a [u8],
    /// The CA's public key blob.
    pub signature_key: &'a [u8],
    signature: &'a [u8],
    /// Everything the signature covers.
    signed: &'a [u8],
}

/// Reads SSH wire-format fields (RFC 4251 §5) out of a blob, refusing short data.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.data.len())
            .ok_or("the certificate is truncated")?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let bytes = self.take(8)?;
        Ok(u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.string()?).into_owned())
    }
}

/// The key type named at the start of a public key blob (`ssh-ed25519`, ...).
pub(crate) fn key_type(blob: &[u8]) -> String {
    Reader::new(blob).text().unwrap_or_default()
}

/// Parses `blob` (a host key as the server sent it): `None` when it is a plain key.
pub(crate) fn parse(blob: &[u8]) -> Result<Option<HostCert<'_>>, String> {
    let mut r = Reader::new(blob);
    let kind = r.text()?;
    let Some(plain_type) = kind.strip_suffix(CERT_SUFFIX) else {
        return Ok(None);
    };
    r.string()?; // nonce
    let key_fields = match plain_type {
        "ssh-ed25519" => 1,
        "ssh-rsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => 2,
        other => {
            return Err(format!(
                "a `{other}` certificate, which blackstart cannot read"
            ))
        }
    };
    let key_start = r.at;
    for _ in 0..key_fields {
        r.string()?;
    }
    let mut plain = wire_string(plain_type.as_bytes());
    plain.extend_from_slice(&blob[key_start..r.at]);
    let _serial = r.u64()?;
    let cert_kind = r.u32()?;
    let key_id = r.text()?;
    let mut principals = Vec::new();
    let mut list = Reader::new(r.string()?);
    while list.at < list.data.len() {
        principals.push(list.text()?);
    }
    let valid_after = r.u64()?;
    let valid_before = r.u64()?;
    let critical_options = r.string()?;
    r.string()?; // extensions
    r.string()?; // reserved
    let signature_key = r.string()?;
    let signed = &blob[..r.at];
    let signature = r.string()?;
    Ok(Some(HostCert {
        plain,
        key_id,
        kind: cert_kind,
        principals,
        valid_after,
        valid_before,
        critical_options,
        signature_key,
        signature,
        signed,
    }))
}

impl HostCert<'_> {
    /// Why this certificate does not vouch for the host `name` at unix time `now`, when
    /// signed by the CA whose key blob is `ca`; `None` when it does (signature verified).
    pub(crate) fn refusal(&self, ca: &[u8], name: &str, now: u64) -> Option<String> {
        if self.signature_key != ca {
            return Some("it is signed by another CA".into());
        }
        if self.kind != HOST_CERT {
            return Some("it is a user certificate, not a host certificate".into());
        }
        // An empty list vouches for every name, as OpenSSH reads it for host certificates.
        if !self.principals.is_empty() && !self.principals.iter().any(|p| p == name) {
            return Some(format!(
                "it is valid for {} but not for {name}",
                self.principals.join(", ")
            ));
        }
        if now < self.valid_after {
            return Some(format!("it is not valid before {}", self.valid_after));
        }
        if now >= self.valid_before {
            return Some(format!("it expired at {} (unix time)", self.valid_before));
        }
        if !self.critical_options.is_empty() {
            return Some("it carries critical options, which host certificates never do".into());
        }
        verify(ca, self.signature, self.signed).err()
    }
}

/// Checks the CA's `signature` over `signed` with the CA key blob `ca`.
fn verify(ca: &[u8], signature: &[u8], signed: &[u8]) -> Result<(), String> {
    let mut key = Reader::new(ca);
    let ca_type = key.text()?;
    let mut sig = Reader::new(signature);
    let sig_type = sig.text()?;
    let sig_bytes = sig.string()?;
    let bad = || format!("its {sig_type} signature by the CA does not verify");
    let wrong_pair = || format!("a {ca_type} CA cannot make a {sig_type} signature");
    match ca_type.as_str() {
        "ssh-ed25519" => {
            if sig_type != "ssh-ed25519" {
                return Err(wrong_pair());
            }
            UnparsedPublicKey::new(&signature::ED25519, key.string()?)
                .verify(signed, sig_bytes)
                .map_err(|_| bad())
        }
        "ssh-rsa" => {
            // SHA-1 signatures (`ssh-rsa`) are refused, as OpenSSH's default
            // CASignatureAlgorithms refuses them.
            let params = match sig_type.as_str() {
                "rsa-sha2-256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "rsa-sha2-512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                _ => return Err(format!("its CA signature is {sig_type}, which is refused")),
            };
            let e = strip_zeros(key.string()?);
            let n = strip_zeros(key.string()?);
            RsaPublicKeyComponents { n, e }
                .verify(params, signed, sig_bytes)
                .map_err(|_| bad())
        }
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" => {
            if sig_type != ca_type {
                return Err(wrong_pair());
            }
            let (params, width): (&signature::EcdsaVerificationAlgorithm, usize) =
                if ca_type.ends_with("256") {
                    (&signature::ECDSA_P256_SHA256_FIXED, 32)
                } else {
                    (&signature::ECDSA_P384_SHA384_FIXED, 48)
                };
            key.string()?; // curve name
            let point = key.string()?;
            // The wire signature is two mpints; ring takes r and s at fixed width.
            let mut parts = Reader::new(sig_bytes);
            let mut fixed = Vec::with_capacity(2 * width);
            for _ in 0..2 {
                let part = strip_zeros(parts.string()?);
                if part.len() > width {
                    return Err(bad());
                }
                fixed.resize(fixed.len() + width - part.len(), 0);
                fixed.extend_from_slice(part);
            }
            UnparsedPublicKey::new(params, point)
                .verify(signed, &fixed)
                .map_err(|_| bad())
        }
        other => Err(format!(
            "its CA key is {other}, which blackstart's built-in client cannot verify; use \
             `ssh: {{ client: openssh }}` for this host (the system ssh checks it)"
        )),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn wire_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}
