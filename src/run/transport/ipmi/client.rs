//! The native IPMI v2.0 client: for each call a fresh RMCP+ session (Open Session, RAKP 1 to
//! 4), one command encrypted and authenticated, then Close Session. In-process, so a call
//! costs a few round trips instead of an `ipmitool` process, and the password never leaves
//! the process: no argv, no environment, no file.
//!
//! A session per call, not one kept per BMC: BMCs hold few sessions and time idle ones out,
//! and a run calls each BMC a handful of times over minutes.

use std::sync::atomic::{AtomicU8, Ordering};

use super::super::bmc_calls::BmcCalls;
use super::super::{PowerAction, PowerState, TransportError};
use super::active::Session;
use super::commands::{self, NETFN_APP};
use super::failure::{random, unreachable, Failure};
use super::link::{self, Link};
use super::packet::{self, PayloadType};
use super::session::{self, CipherSuite, Handshake, SetupError};
use crate::topology::{Bmc, Host, IpmiSettings};

/// Longest password IPMI v2.0 carries (the key Kuid).
const MAX_PASSWORD: usize = 20;
/// Blocks of Get Channel Cipher Suites read at most (16 bytes of records each).
const MAX_SUITE_BLOCKS: u8 = 8;

/// [`super::super::Power`] for IPMI BMCs through the native client. Cheap to clone; clones
/// share the caps of [`BmcCalls`].
#[derive(Debug, Clone)]
pub struct NativeIpmi {
    calls: BmcCalls,
}

impl NativeIpmi {
    /// Calls under caps shared with other BMC protocols.
    pub fn with_calls(calls: BmcCalls) -> Self {
        NativeIpmi { calls }
    }

    /// [`super::super::Power::power`] for a host whose BMC speaks IPMI, natively.
    pub async fn power_native(
        &self,
        host: &Host,
        bmc: &Bmc,
        ipmi: &IpmiSettings,
        action: PowerAction,
    ) -> Result<PowerState, TransportError> {
        let what = format!(
            "IPMI chassis power {} at BMC {}",
            action.verb(),
            bmc.address
        );
        self.calls
            .run(host, bmc, action, &what, |password| async move {
                call(bmc, ipmi, password.expose().as_bytes(), action)
                    .await
                    .map_err(|failure| failure.into_error(host))
            })
            .await
    }
}

/// One call: a session, the command, Close Session.
async fn call(
    bmc: &Bmc,
    ipmi: &IpmiSettings,
    password: &[u8],
    action: PowerAction,
) -> Result<PowerState, Failure> {
    let Some(suite) = CipherSuite::from_id(ipmi.cipher_suite) else {
        return Err(Failure::Config(format!(
            "the native IPMI client speaks cipher suites 3 and 17, not {}",
            ipmi.cipher_suite
        )));
    };
    if password.len() > MAX_PASSWORD {
        return Err(Failure::Config(format!(
            "the BMC password is longer than IPMI's {MAX_PASSWORD} bytes"
        )));
    }
    if bmc.user.len() > session::MAX_USER {
        return Err(Failure::Config(format!(
            "BMC user name longer than IPMI's {} bytes",
            session::MAX_USER
        )));
    }
    let peer = link::resolve(&bmc.address)
        .await
        .map_err(|e| Failure::Unreachable(format!("BMC address {:?}: {e}", bmc.address)))?;
    let link = Link::connect(peer)
        .await
        .map_err(|e| Failure::Unreachable(format!("BMC {peer}: {e}")))?;
    let mut session = open(&link, bmc.user.as_bytes(), password, suite).await?;
    let result = session.power(action).await;
    session.close().await;
    result
}

/// Constant-time equality of two proofs.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An RMCP+ setup packet (session 0, in the clear) answered by `expect` with our tag.
async fn setup<T>(
    link: &Link,
    step: &str,
    request: PayloadType,
    expect: PayloadType,
    payload: impl Fn(u8) -> Vec<u8>,
    parse: impl Fn(&[u8]) -> Result<T, SetupError>,
) -> Result<Result<T, SetupError>, Failure> {
    // A new tag per send, so a late answer to an earlier send is told apart.
    let tag = AtomicU8::new(0);
    link.exchange(
        link::COMMAND,
        || {
            let sent = tag.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            packet::encode_v20(0, 0, request, &payload(sent), None, [0; 16])
        },
        |datagram| {
            let inbound = packet::decode_v20(datagram, None).ok()?;
            let ours = inbound.payload_type == expect
                && inbound.payload.first() == Some(&tag.load(Ordering::Relaxed));
            ours.then(|| parse(&inbound.payload))
        },
    )
    .await
    .map_err(|e| unreachable(link, step, e))
}

fn refused(link: &Link, err: SetupError, user: &[u8]) -> Failure {
    let user = String::from_utf8_lossy(user);
    match err {
        SetupError::WrongPassword => Failure::Auth(format!(
            "IPMI BMC {} refused user {user:?}: the password does not match (RAKP 2); not retried, so the account is not locked out",
            link.peer
        )),
        SetupError::Refused { status: 0x0D | 0x09 | 0x0A, .. } => Failure::Auth(format!(
            "IPMI BMC {} refused user {user:?} as Administrator: {err}",
            link.peer
        )),
        other => Failure::Other(format!("IPMI BMC {}: {other}", link.peer)),
    }
}

/// Opens an RMCP+ session at Administrator privilege.
async fn open<'a>(
    link: &'a Link,
    user: &[u8],
    password: &[u8],
    suite: CipherSuite,
) -> Result<Session<'a>, Failure> {
    let console_sid = u32::from_le_bytes(random::<4>()?) | 1;
    let opened = setup(
        link,
        "Open Session",
        PayloadType::OpenSessionRequest,
        PayloadType::OpenSessionResponse,
        |tag| session::open_session_request(tag, console_sid, suite),
        |payload| session::parse_open_session(payload, suite),
    )
    .await?;
    let opened = match opened {
        Ok(opened) if opened.console_sid == console_sid => opened,
        Ok(_) => {
            return Err(Failure::Other(format!(
                "IPMI BMC {}: Open Session answered for another session",
                link.peer
            )))
        }
        Err(SetupError::Refused { status, .. }) if session::refuses_suite(status) => {
            return Err(Failure::Config(format!(
                "IPMI BMC {} refuses cipher suite {} ({}); {}",
                link.peer,
                suite.id(),
                session::status_text(status),
                offered(link).await
            )))
        }
        Err(err) => return Err(refused(link, err, user)),
    };
    let mut handshake = Handshake {
        suite,
        console_sid,
        bmc_sid: opened.bmc_sid,
        console_random: random::<16>()?,
        bmc_random: [0; 16],
        bmc_guid: [0; 16],
        user: user.to_vec(),
    };
    let rakp2 = {
        let handshake = &handshake;
        setup(
            link,
            "RAKP 1",
            PayloadType::Rakp1,
            PayloadType::Rakp2,
            |tag| session::rakp1(tag, handshake),
            |payload| session::parse_rakp2(payload, suite),
        )
        .await?
        .map_err(|err| refused(link, err, user))?
    };
    handshake.bmc_random = rakp2.bmc_random;
    handshake.bmc_guid = rakp2.bmc_guid;
    if rakp2.console_sid != console_sid {
        return Err(Failure::Other(format!(
            "IPMI BMC {}: RAKP 2 for another session",
            link.peer
        )));
    }
    if !same(&rakp2.code, &handshake.rakp2_code(password)) {
        return Err(refused(link, SetupError::WrongPassword, user));
    }
    let rakp3_code = handshake.rakp3_code(password);
    let (_, rakp4_sid, check) = setup(
        link,
        "RAKP 3",
        PayloadType::Rakp3,
        PayloadType::Rakp4,
        |tag| session::rakp3(tag, handshake.bmc_sid, &rakp3_code),
        |payload| session::parse_rakp4(payload, suite),
    )
    .await?
    .map_err(|err| refused(link, err, user))?;
    let sik = handshake.sik(password);
    if rakp4_sid != console_sid || !same(&check, &handshake.rakp4_check(&sik)) {
        return Err(refused(link, SetupError::BadRakp4, user));
    }
    Ok(Session {
        link,
        keys: handshake.keys(&sik),
        console_sid,
        bmc_sid: handshake.bmc_sid,
        out_seq: 0,
        in_seq: 0,
        rq_seq: 0,
        closed: false,
    })
}

/// "it offers 1, 2, 3" from Get Channel Cipher Suites, or why the list is unknown.
async fn offered(link: &Link) -> String {
    match cipher_suites(link).await {
        Ok(ids) if ids.is_empty() => "it lists no cipher suites".into(),
        Ok(ids) => {
            let listed: Vec<String> = ids.iter().map(u8::to_string).collect();
            let spoken: Vec<u8> = ids
                .iter()
                .copied()
                .filter(|id| CipherSuite::from_id(*id).is_some())
                .collect();
            let fix = match spoken.as_slice() {
                [] => {
                    "none of them is spoken by the native client (3 and 17): set `client: ipmitool`"
                        .to_string()
                }
                [one, ..] => format!("set `cipher_suite: {one}`"),
            };
            format!("it offers {}; {fix}", listed.join(", "))
        }
        Err(why) => format!("it did not list the suites it offers ({why}); try `cipher_suite: 3`"),
    }
}

/// The IDs of the cipher suites the BMC offers, asked outside any session.
async fn cipher_suites(link: &Link) -> Result<Vec<u8>, String> {
    let mut records = Vec::new();
    for index in 0..MAX_SUITE_BLOCKS {
        let rq_seq = index + 1;
        let request = packet::encode_request(
            NETFN_APP,
            commands::GET_CHANNEL_CIPHER_SUITES,
            rq_seq,
            &commands::cipher_suites_request(index),
        );
        let response = link
            .exchange(
                link::COURTESY,
                || packet::encode_sessionless(&request),
                |datagram| {
                    let message = packet::decode_sessionless(datagram).ok()?;
                    let response = packet::decode_response(message).ok()?;
                    (response.rq_seq == rq_seq
                        && response.cmd == commands::GET_CHANNEL_CIPHER_SUITES)
                        .then_some(response)
                },
            )
            .await
            .map_err(|e| format!("Get Channel Cipher Suites: {e}"))?;
        if response.completion != 0 {
            return Err(format!(
                "Get Channel Cipher Suites: {}",
                commands::completion_text(response.completion)
            ));
        }
        let block = response.data.get(1..).unwrap_or_default();
        records.extend_from_slice(block);
        if block.len() < 16 {
            break;
        }
    }
    Ok(commands::cipher_suite_ids(&records))
}
