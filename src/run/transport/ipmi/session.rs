//! RMCP+ session establishment (IPMI v2.0 sections 13.17 to 13.32): Open Session, then the
//! four RAKP messages that prove both sides know the user's password without sending it,
//! and the keys derived from them (SIK, K1, K2).
//!
//! Only the two cipher suites asked for by operators are spoken: 3 (HMAC-SHA1,
//! HMAC-SHA1-96, AES-CBC-128) and 17 (HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128). Both
//! encrypt; suites without confidentiality would put Chassis Control in the clear.

use thiserror::Error;

use super::packet::{hmac_sha1, hmac_sha256, Integrity, SessionKeys};

/// Privilege level asked for: Administrator (Chassis Control needs Operator or more).
pub const ADMINISTRATOR: u8 = 0x04;
/// RAKP 1's role byte: the privilege, with "name-only lookup" (bit 4), as ipmitool sends it.
pub const ROLE: u8 = 0x10 | ADMINISTRATOR;
/// Longest user name RAKP carries.
pub const MAX_USER: usize = 16;

/// A cipher suite this client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherSuite {
    /// Suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128.
    Sha1Aes,
    /// Suite 17: RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128.
    Sha256Aes,
}

impl CipherSuite {
    /// The suite of this ID; None for the ones not spoken.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            3 => Some(CipherSuite::Sha1Aes),
            17 => Some(CipherSuite::Sha256Aes),
            _ => None,
        }
    }

    /// The suite's ID in IPMI v2.0 table 22-20.
    pub fn id(self) -> u8 {
        match self {
            CipherSuite::Sha1Aes => 3,
            CipherSuite::Sha256Aes => 17,
        }
    }

    /// Authentication, integrity and confidentiality algorithm numbers (table 13-17 to 13-19).
    fn algorithms(self) -> [u8; 3] {
        match self {
            CipherSuite::Sha1Aes => [0x01, 0x01, 0x01],
            CipherSuite::Sha256Aes => [0x03, 0x04, 0x01],
        }
    }

    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            CipherSuite::Sha1Aes => hmac_sha1(key, parts).to_vec(),
            CipherSuite::Sha256Aes => hmac_sha256(key, parts).to_vec(),
        }
    }

    /// Bytes of the RAKP 2 and 3 key exchange codes: a whole HMAC.
    fn exchange_len(self) -> usize {
        match self {
            CipherSuite::Sha1Aes => 20,
            CipherSuite::Sha256Aes => 32,
        }
    }

    /// Bytes of RAKP 4's integrity check value: 12 (SHA1-96) or 16 (SHA256-128).
    fn check_len(self) -> usize {
        match self {
            CipherSuite::Sha1Aes => 12,
            CipherSuite::Sha256Aes => 16,
        }
    }
}

/// A session setup answer that ends the attempt.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SetupError {
    /// The BMC refused with an RMCP+ status code.
    #[error("{step} refused by the BMC: {}", status_text(*.status))]
    Refused {
        /// Open Session, RAKP 2 or RAKP 4.
        step: &'static str,
        /// RMCP+ status code (table 13-15).
        status: u8,
    },
    /// The BMC's RAKP 2 code does not match our password: the password (or the user) is
    /// wrong. Retrying would only count against the account's lockout.
    #[error("the BMC's RAKP 2 proof does not match the configured password for this user")]
    WrongPassword,
    /// RAKP 4 does not match the session key: the BMC derived another key.
    #[error("the BMC's RAKP 4 integrity check value does not match the session key")]
    BadRakp4,
    /// An answer that does not parse.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Open Session Request: our session ID and the suite's three algorithms, Administrator.
pub fn open_session_request(tag: u8, console_sid: u32, suite: CipherSuite) -> Vec<u8> {
    let [auth, integrity, confidentiality] = suite.algorithms();
    let mut payload = vec![tag, ADMINISTRATOR, 0, 0];
    payload.extend_from_slice(&console_sid.to_le_bytes());
    for (kind, algorithm) in [(0x00, auth), (0x01, integrity), (0x02, confidentiality)] {
        payload.extend_from_slice(&[kind, 0, 0, 8, algorithm, 0, 0, 0]);
    }
    payload
}

/// What an Open Session Response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    /// Message tag (echoes the request's).
    pub tag: u8,
    /// Our session ID.
    pub console_sid: u32,
    /// The BMC's session ID.
    pub bmc_sid: u32,
}

/// Parses an Open Session Response; a refusal (non-zero status) is an error.
pub fn parse_open_session(payload: &[u8], suite: CipherSuite) -> Result<OpenSession, SetupError> {
    if payload.len() < 2 {
        return Err(SetupError::Malformed("Open Session Response"));
    }
    if payload[1] != 0 {
        return Err(SetupError::Refused {
            step: "Open Session",
            status: payload[1],
        });
    }
    if payload.len() < 36 {
        return Err(SetupError::Malformed("Open Session Response"));
    }
    let chosen = [payload[16], payload[24], payload[32]];
    if chosen != suite.algorithms() {
        return Err(SetupError::Malformed(
            "Open Session Response (other algorithms)",
        ));
    }
    Ok(OpenSession {
        tag: payload[0],
        console_sid: u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]),
        bmc_sid: u32::from_le_bytes([payload[8], payload[9], payload[10], payload[11]]),
    })
}

/// One handshake's values, from which the proofs and keys are computed.
#[derive(Clone)]
pub struct Handshake {
    /// The cipher suite.
    pub suite: CipherSuite,
    /// Our session ID (SIDm).
    pub console_sid: u32,
    /// The BMC's session ID (SIDc).
    pub bmc_sid: u32,
    /// Our random number (Rm).
    pub console_random: [u8; 16],
    /// The BMC's random number (Rc), from RAKP 2.
    pub bmc_random: [u8; 16],
    /// The BMC's GUID (GUIDc), from RAKP 2.
    pub bmc_guid: [u8; 16],
    /// The user name (at most 16 bytes).
    pub user: Vec<u8>,
}

impl Handshake {
    /// ROLEm ‖ ULENGTHm ‖ UNAMEm, which every proof ends with.
    fn role_and_user(&self) -> Vec<u8> {
        let mut bytes = vec![ROLE, self.user.len() as u8];
        bytes.extend_from_slice(&self.user);
        bytes
    }

    /// RAKP 2's expected key exchange code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm,
    /// ULENGTHm, UNAMEm).
    pub fn rakp2_code(&self, password: &[u8]) -> Vec<u8> {
        self.suite.hmac(
            password,
            &[
                &self.console_sid.to_le_bytes(),
                &self.bmc_sid.to_le_bytes(),
                &self.console_random,
                &self.bmc_random,
                &self.bmc_guid,
                &self.role_and_user(),
            ],
        )
    }

    /// RAKP 3's key exchange code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm).
    pub fn rakp3_code(&self, password: &[u8]) -> Vec<u8> {
        self.suite.hmac(
            password,
            &[
                &self.bmc_random,
                &self.console_sid.to_le_bytes(),
                &self.role_and_user(),
            ],
        )
    }

    /// The session integrity key SIK = HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm); KG is the
    /// password when the BMC has no key of its own (the common case, and ipmi_sim's).
    pub fn sik(&self, password: &[u8]) -> Vec<u8> {
        self.suite.hmac(
            password,
            &[
                &self.console_random,
                &self.bmc_random,
                &self.role_and_user(),
            ],
        )
    }

    /// RAKP 4's expected integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated.
    pub fn rakp4_check(&self, sik: &[u8]) -> Vec<u8> {
        let mut check = self.suite.hmac(
            sik,
            &[
                &self.console_random,
                &self.bmc_sid.to_le_bytes(),
                &self.bmc_guid,
            ],
        );
        check.truncate(self.suite.check_len());
        check
    }

    /// K1 = HMAC_SIK(0x01 × 20) and K2 = HMAC_SIK(0x02 × 20); the constants are 20 bytes
    /// for SHA256 too (as ipmitool and the BMCs it talks to do).
    pub fn keys(&self, sik: &[u8]) -> SessionKeys {
        let k1 = self.suite.hmac(sik, &[&[0x01; 20]]);
        let k2 = self.suite.hmac(sik, &[&[0x02; 20]]);
        let integrity = match self.suite {
            CipherSuite::Sha1Aes => Integrity::HmacSha1_96(copy(&k1)),
            CipherSuite::Sha256Aes => Integrity::HmacSha256_128(copy(&k1)),
        };
        SessionKeys {
            integrity,
            aes: copy(&k2[..16]),
        }
    }
}

fn copy<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// RAKP Message 1: the BMC's session ID, our random number, the role and the user name.
pub fn rakp1(tag: u8, handshake: &Handshake) -> Vec<u8> {
    let mut payload = vec![tag, 0, 0, 0];
    payload.extend_from_slice(&handshake.bmc_sid.to_le_bytes());
    payload.extend_from_slice(&handshake.console_random);
    payload.extend_from_slice(&[ROLE, 0, 0, handshake.user.len() as u8]);
    payload.extend_from_slice(&handshake.user);
    payload
}

/// What RAKP Message 2 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp2 {
    /// Message tag.
    pub tag: u8,
    /// Our session ID, echoed.
    pub console_sid: u32,
    /// Rc.
    pub bmc_random: [u8; 16],
    /// GUIDc.
    pub bmc_guid: [u8; 16],
    /// The BMC's key exchange code.
    pub code: Vec<u8>,
}

/// Parses RAKP Message 2; a refusal is an error.
pub fn parse_rakp2(payload: &[u8], suite: CipherSuite) -> Result<Rakp2, SetupError> {
    if payload.len() < 2 {
        return Err(SetupError::Malformed("RAKP Message 2"));
    }
    if payload[1] != 0 {
        return Err(SetupError::Refused {
            step: "RAKP 2",
            status: payload[1],
        });
    }
    if payload.len() != 40 + suite.exchange_len() {
        return Err(SetupError::Malformed("RAKP Message 2 (length)"));
    }
    Ok(Rakp2 {
        tag: payload[0],
        console_sid: u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]),
        bmc_random: copy(&payload[8..24]),
        bmc_guid: copy(&payload[24..40]),
        code: payload[40..].to_vec(),
    })
}

/// RAKP Message 3: our proof, status 0.
pub fn rakp3(tag: u8, bmc_sid: u32, code: &[u8]) -> Vec<u8> {
    let mut payload = vec![tag, 0, 0, 0];
    payload.extend_from_slice(&bmc_sid.to_le_bytes());
    payload.extend_from_slice(code);
    payload
}

/// RAKP Message 4's tag, our session ID and integrity check value; a refusal is an error.
pub fn parse_rakp4(payload: &[u8], suite: CipherSuite) -> Result<(u8, u32, Vec<u8>), SetupError> {
    if payload.len() < 2 {
        return Err(SetupError::Malformed("RAKP Message 4"));
    }
    if payload[1] != 0 {
        return Err(SetupError::Refused {
            step: "RAKP 4",
            status: payload[1],
        });
    }
    if payload.len() != 8 + suite.check_len() {
        return Err(SetupError::Malformed("RAKP Message 4 (length)"));
    }
    let sid = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
    Ok((payload[0], sid, payload[8..].to_vec()))
}

/// RMCP+ status codes (IPMI v2.0 table 13-15), as an operator reads them.
pub fn status_text(status: u8) -> String {
    let text = match status {
        0x01 => "insufficient resources to create a session",
        0x02 => "invalid session ID",
        0x03 => "invalid payload type",
        0x04 => "invalid authentication algorithm",
        0x05 => "invalid integrity algorithm",
        0x06 => "no matching authentication payload",
        0x07 => "no matching integrity payload",
        0x08 => "inactive session ID",
        0x09 => "invalid role",
        0x0A => "unauthorized role or privilege level requested",
        0x0B => "insufficient resources to create a session at the requested role",
        0x0C => "invalid user name length",
        0x0D => "unauthorized user name",
        0x0E => "unauthorized GUID",
        0x0F => "invalid integrity check value",
        0x10 => "invalid confidentiality algorithm",
        0x11 => "no cipher suite match with the proposed security algorithms",
        0x12 => "illegal or unrecognized parameter",
        _ => "unknown status",
    };
    format!("{text} (status 0x{status:02x})")
}

/// True for the statuses that mean "this cipher suite is not offered".
pub fn refuses_suite(status: u8) -> bool {
    matches!(status, 0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
