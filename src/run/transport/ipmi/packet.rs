//! IPMI v2.0 LAN framing (IPMI v2.0 section 13): the RMCP header, the RMCP+ session header
//! with its integrity trailer and AES-CBC-128 payloads, the IPMI v1.5 session-less header
//! (used before a session exists), and the IPMI request and response messages inside.

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use thiserror::Error;

/// RMCP version 1.0, reserved, no RMCP ACK (sequence 0xFF), class IPMI.
pub const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xFF, 0x07];
/// Authentication type of an RMCP+ (IPMI v2.0) session header.
const AUTH_RMCP_PLUS: u8 = 0x06;
/// The BMC's address on the IPMB, and ours as a remote console (software ID 0x40 << 1 | 1).
pub const BMC_ADDRESS: u8 = 0x20;
const CONSOLE_ADDRESS: u8 = 0x81;
/// Payload type bits: encrypted, authenticated.
const ENCRYPTED: u8 = 0x80;
const AUTHENTICATED: u8 = 0x40;
/// Next header of the integrity trailer: always 0x07 (RMCP class IPMI).
const NEXT_HEADER: u8 = 0x07;
/// AES block and IV size.
const AES_BLOCK: usize = 16;

/// What does not decode as a BMC's answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    /// Too short, a wrong header, a length that does not add up.
    #[error("malformed IPMI packet: {0}")]
    Malformed(&'static str),
    /// The integrity code does not match: altered on the way, or keyed with another password.
    #[error("integrity check of an IPMI packet failed")]
    Integrity,
    /// Unauthenticated or unencrypted where the session requires both.
    #[error("unprotected IPMI packet inside an encrypted session")]
    Unprotected,
}

/// RMCP+ payload types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadType {
    /// An IPMI request or response.
    Ipmi = 0x00,
    /// RMCP+ Open Session Request.
    OpenSessionRequest = 0x10,
    /// RMCP+ Open Session Response.
    OpenSessionResponse = 0x11,
    /// RAKP Message 1 to 4.
    Rakp1 = 0x12,
    /// RAKP Message 2.
    Rakp2 = 0x13,
    /// RAKP Message 3.
    Rakp3 = 0x14,
    /// RAKP Message 4.
    Rakp4 = 0x15,
}

impl PayloadType {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits & 0x3F {
            0x00 => PayloadType::Ipmi,
            0x10 => PayloadType::OpenSessionRequest,
            0x11 => PayloadType::OpenSessionResponse,
            0x12 => PayloadType::Rakp1,
            0x13 => PayloadType::Rakp2,
            0x14 => PayloadType::Rakp3,
            0x15 => PayloadType::Rakp4,
            _ => return None,
        })
    }
}

/// The integrity algorithm of a session, with its key K1.
#[derive(Clone)]
pub enum Integrity {
    /// HMAC-SHA1-96: 12 bytes of HMAC-SHA1 keyed with K1 (20 bytes).
    HmacSha1_96([u8; 20]),
    /// HMAC-SHA256-128: 16 bytes of HMAC-SHA256 keyed with K1 (32 bytes).
    HmacSha256_128([u8; 32]),
}

impl Integrity {
    fn code_len(&self) -> usize {
        match self {
            Integrity::HmacSha1_96(_) => 12,
            Integrity::HmacSha256_128(_) => 16,
        }
    }

    fn code(&self, data: &[u8]) -> Vec<u8> {
        let mut code = match self {
            Integrity::HmacSha1_96(k1) => hmac_sha1(k1, &[data]).to_vec(),
            Integrity::HmacSha256_128(k1) => hmac_sha256(k1, &[data]).to_vec(),
        };
        code.truncate(self.code_len());
        code
    }

    /// Constant-time comparison of a received code.
    fn verify(&self, data: &[u8], code: &[u8]) -> bool {
        if code.len() != self.code_len() {
            return false;
        }
        match self {
            Integrity::HmacSha1_96(k1) => {
                keyed::<Hmac<Sha1>>(k1, &[data]).verify_truncated_left(code)
            }
            Integrity::HmacSha256_128(k1) => {
                keyed::<Hmac<Sha256>>(k1, &[data]).verify_truncated_left(code)
            }
        }
        .is_ok()
    }
}

/// The keys of an active session: integrity (K1) and AES-CBC-128 confidentiality (the first
/// 16 bytes of K2). Never printed.
#[derive(Clone)]
pub struct SessionKeys {
    /// Integrity algorithm and K1.
    pub integrity: Integrity,
    /// AES-128 key.
    pub aes: [u8; 16],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> M {
    // HMAC takes keys of any length: this never fails.
    let mut mac = <M as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA1 of the concatenated `parts`.
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    keyed::<Hmac<Sha1>>(key, parts)
        .finalize()
        .into_bytes()
        .into()
}

/// HMAC-SHA256 of the concatenated `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    keyed::<Hmac<Sha256>>(key, parts)
        .finalize()
        .into_bytes()
        .into()
}

/// Two's complement checksum: the bytes plus it sum to zero.
fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |sum, b| sum.wrapping_add(*b))
        .wrapping_neg()
}

/// An IPMI request message from the remote console to the BMC (LUN 0).
pub fn encode_request(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let mut message = vec![BMC_ADDRESS, netfn << 2];
    message.push(checksum(&message));
    let body = message.len();
    message.extend_from_slice(&[CONSOLE_ADDRESS, (rq_seq & 0x3F) << 2, cmd]);
    message.extend_from_slice(data);
    message.push(checksum(&message[body..]));
    message
}

/// An IPMI response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Network function (the request's plus one).
    pub netfn: u8,
    /// Command.
    pub cmd: u8,
    /// The request's sequence number (6 bits).
    pub rq_seq: u8,
    /// Completion code: 0 is success.
    pub completion: u8,
    /// Response data after the completion code.
    pub data: Vec<u8>,
}

/// Decodes an IPMI response message, checksums included.
pub fn decode_response(message: &[u8]) -> Result<Response, PacketError> {
    if message.len() < 8 {
        return Err(PacketError::Malformed("IPMI response shorter than 8 bytes"));
    }
    if checksum(&message[..2]) != message[2] {
        return Err(PacketError::Malformed("bad IPMI header checksum"));
    }
    let last = message.len() - 1;
    if checksum(&message[3..last]) != message[last] {
        return Err(PacketError::Malformed("bad IPMI data checksum"));
    }
    Ok(Response {
        netfn: message[1] >> 2,
        rq_seq: message[4] >> 2,
        cmd: message[5],
        completion: message[6],
        data: message[7..last].to_vec(),
    })
}

/// An IPMI v1.5 session-less packet (authentication type none, session 0) around `message`:
/// what a console sends before any session exists.
pub fn encode_sessionless(message: &[u8]) -> Vec<u8> {
    let mut packet = RMCP_HEADER.to_vec();
    packet.extend_from_slice(&[0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    packet.push(message.len() as u8);
    packet.extend_from_slice(message);
    packet
}

/// The IPMI message inside an IPMI v1.5 session-less packet.
pub fn decode_sessionless(packet: &[u8]) -> Result<&[u8], PacketError> {
    if packet.len() < 14 || packet[..4] != RMCP_HEADER {
        return Err(PacketError::Malformed("not an RMCP IPMI packet"));
    }
    if packet[4] != 0x00 {
        return Err(PacketError::Malformed(
            "not a session-less IPMI v1.5 packet",
        ));
    }
    let len = usize::from(packet[13]);
    packet.get(14..14 + len).ok_or(PacketError::Malformed(
        "IPMI v1.5 message length past the packet",
    ))
}

/// Bytes of integrity pad so that the authenticated part (from the authentication type
/// through the next header) is a multiple of 4.
fn integrity_pad(payload_len: usize) -> usize {
    (4 - (12 + payload_len + 2) % 4) % 4
}

/// An RMCP+ packet. With `keys`, the payload is encrypted with AES-CBC-128 under `iv` and
/// the packet carries the integrity trailer; without, it goes in the clear (session setup).
pub fn encode_v20(
    session_id: u32,
    seq: u32,
    payload_type: PayloadType,
    payload: &[u8],
    keys: Option<&SessionKeys>,
    iv: [u8; 16],
) -> Vec<u8> {
    let mut packet = RMCP_HEADER.to_vec();
    let body = match keys {
        Some(keys) => encrypt(&keys.aes, iv, payload),
        None => payload.to_vec(),
    };
    let flags = if keys.is_some() {
        ENCRYPTED | AUTHENTICATED
    } else {
        0
    };
    packet.push(AUTH_RMCP_PLUS);
    packet.push(flags | payload_type as u8);
    packet.extend_from_slice(&session_id.to_le_bytes());
    packet.extend_from_slice(&seq.to_le_bytes());
    packet.extend_from_slice(&(body.len() as u16).to_le_bytes());
    packet.extend_from_slice(&body);
    if let Some(keys) = keys {
        let pad = integrity_pad(body.len());
        packet.extend(std::iter::repeat_n(0xFF, pad));
        packet.push(pad as u8);
        packet.push(NEXT_HEADER);
        let code = keys.integrity.code(&packet[RMCP_HEADER.len()..]);
        packet.extend_from_slice(&code);
    }
    packet
}

/// An RMCP+ packet as received, its payload decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Payload type.
    pub payload_type: PayloadType,
    /// The receiver's session ID (ours, for what the BMC sends).
    pub session_id: u32,
    /// Session sequence number.
    pub seq: u32,
    /// The payload, in the clear.
    pub payload: Vec<u8>,
}

/// Decodes an RMCP+ packet. With `keys`, only authenticated and encrypted packets are
/// accepted, and their integrity code is checked before anything is decrypted.
pub fn decode_v20(packet: &[u8], keys: Option<&SessionKeys>) -> Result<Inbound, PacketError> {
    if packet.len() < 16 || packet[..4] != RMCP_HEADER {
        return Err(PacketError::Malformed("not an RMCP IPMI packet"));
    }
    if packet[4] != AUTH_RMCP_PLUS {
        return Err(PacketError::Malformed("not an RMCP+ packet"));
    }
    let flags = packet[5];
    let payload_type =
        PayloadType::from_bits(flags).ok_or(PacketError::Malformed("unknown payload type"))?;
    let word = |at: usize| {
        u32::from_le_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
    };
    let session_id = word(6);
    let seq = word(10);
    let len = usize::from(u16::from_le_bytes([packet[14], packet[15]]));
    let body = packet
        .get(16..16 + len)
        .ok_or(PacketError::Malformed("payload length past the packet"))?;
    let protected = flags & (ENCRYPTED | AUTHENTICATED) == ENCRYPTED | AUTHENTICATED;
    let payload = match keys {
        None if flags & (ENCRYPTED | AUTHENTICATED) != 0 => {
            return Err(PacketError::Malformed(
                "protected packet before the session keys",
            ))
        }
        None => body.to_vec(),
        Some(_) if !protected => return Err(PacketError::Unprotected),
        Some(keys) => {
            let pad = integrity_pad(len);
            let trailer = 16 + len + pad;
            let code_at = trailer + 2;
            if packet.len() != code_at + keys.integrity.code_len() {
                return Err(PacketError::Malformed(
                    "integrity trailer of a wrong length",
                ));
            }
            if usize::from(packet[trailer]) != pad || packet[trailer + 1] != NEXT_HEADER {
                return Err(PacketError::Malformed("bad integrity pad"));
            }
            if !keys
                .integrity
                .verify(&packet[RMCP_HEADER.len()..code_at], &packet[code_at..])
            {
                return Err(PacketError::Integrity);
            }
            decrypt(&keys.aes, body)?
        }
    };
    Ok(Inbound {
        payload_type,
        session_id,
        seq,
        payload,
    })
}

/// IV ‖ AES-CBC-128(data ‖ 1, 2, … ‖ pad length), the confidentiality trailer of
/// IPMI v2.0 section 13.29 (pad bytes count up from 1).
fn encrypt(key: &[u8; 16], iv: [u8; 16], data: &[u8]) -> Vec<u8> {
    let pad = (AES_BLOCK - (data.len() + 1) % AES_BLOCK) % AES_BLOCK;
    let mut plain = data.to_vec();
    plain.extend((1..=pad as u8).collect::<Vec<_>>());
    plain.push(pad as u8);
    let len = plain.len();
    let encrypted = cbc::Encryptor::<Aes128>::new(key.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|_| unreachable!("the plain text is padded to whole blocks"));
    let mut out = iv.to_vec();
    out.extend_from_slice(&encrypted);
    out
}

fn decrypt(key: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, PacketError> {
    if body.len() < 2 * AES_BLOCK || !body.len().is_multiple_of(AES_BLOCK) {
        return Err(PacketError::Malformed(
            "encrypted payload not in whole AES blocks",
        ));
    }
    let (iv, cipher) = body.split_at(AES_BLOCK);
    let mut plain = cipher.to_vec();
    let iv: [u8; 16] = iv
        .try_into()
        .map_err(|_| PacketError::Malformed("short IV"))?;
    cbc::Decryptor::<Aes128>::new(key.into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut plain)
        .map_err(|_| PacketError::Malformed("undecryptable payload"))?;
    let pad = usize::from(*plain.last().unwrap_or(&0));
    if pad >= AES_BLOCK || pad + 1 > plain.len() {
        return Err(PacketError::Malformed("bad confidentiality pad"));
    }
    plain.truncate(plain.len() - pad - 1);
    Ok(plain)
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
