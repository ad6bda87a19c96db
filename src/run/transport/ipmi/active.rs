//! An active RMCP+ session: every packet encrypted and authenticated, session sequence
//! numbers counted both ways, IPMI request sequence numbers kept across resends.

use super::super::{PowerAction, PowerState};
use super::commands::{self, NETFN_APP, NETFN_CHASSIS};
use super::failure::{random, unreachable, Failure};
use super::link::{self, Link, LinkError, Resend};
use super::packet::{self, PayloadType, Response, SessionKeys};
use super::session;

/// An active session: its keys, IDs and sequence numbers.
pub(super) struct Session<'a> {
    pub(super) link: &'a Link,
    pub(super) keys: SessionKeys,
    pub(super) console_sid: u32,
    pub(super) bmc_sid: u32,
    /// Our last session sequence number: each packet, resends included, takes the next.
    pub(super) out_seq: u32,
    /// The BMC's last accepted sequence number: an older one is a replay or a late copy.
    pub(super) in_seq: u32,
    /// Our last IPMI request sequence number (6 bits, 1 to 63): a resend keeps it, so the
    /// BMC can tell a duplicate.
    pub(super) rq_seq: u8,
    /// Close Session was sent and answered (or tried): nothing left for `drop`.
    pub(super) closed: bool,
}

impl Session<'_> {
    /// One encrypted request and its response.
    async fn request(
        &mut self,
        resend: Resend,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Response, LinkError> {
        self.rq_seq = self.rq_seq % 63 + 1;
        let rq_seq = self.rq_seq;
        let message = packet::encode_request(netfn, cmd, rq_seq, data);
        let (keys, out_seq, in_seq) = (&self.keys, &mut self.out_seq, &mut self.in_seq);
        let (bmc_sid, console_sid) = (self.bmc_sid, self.console_sid);
        self.link
            .exchange(
                resend,
                || {
                    *out_seq = out_seq.wrapping_add(1).max(1);
                    let iv = random::<16>().unwrap_or_else(|_| {
                        // Without the system's generator, an IV that never repeats
                        // within the session still keeps CBC sound.
                        let mut iv = [0u8; 16];
                        iv[..4].copy_from_slice(&out_seq.to_le_bytes());
                        iv
                    });
                    packet::encode_v20(
                        bmc_sid,
                        *out_seq,
                        PayloadType::Ipmi,
                        &message,
                        Some(keys),
                        iv,
                    )
                },
                |datagram| {
                    let inbound = packet::decode_v20(datagram, Some(keys)).ok()?;
                    if inbound.session_id != console_sid
                        || inbound.payload_type != PayloadType::Ipmi
                        || (inbound.seq != 0 && inbound.seq <= *in_seq)
                    {
                        return None;
                    }
                    let response = packet::decode_response(&inbound.payload).ok()?;
                    let ours = response.rq_seq == rq_seq
                        && response.cmd == cmd
                        && response.netfn == netfn + 1;
                    if ours {
                        *in_seq = inbound.seq;
                    }
                    ours.then_some(response)
                },
            )
            .await
    }

    /// Get Chassis Status, or Chassis Control for a switch; the state it leaves.
    pub(super) async fn power(&mut self, action: PowerAction) -> Result<PowerState, Failure> {
        let peer = self.link.peer;
        let (cmd, data, name) = match commands::chassis_control(action) {
            None => (
                commands::GET_CHASSIS_STATUS,
                Vec::new(),
                "Get Chassis Status",
            ),
            Some(code) => (commands::CHASSIS_CONTROL, vec![code], "Chassis Control"),
        };
        if action != PowerAction::Status {
            // A session starts at User privilege; Chassis Control needs Operator. A read
            // does not, and saves the round trip.
            let raised = self
                .request(
                    link::COMMAND,
                    NETFN_APP,
                    commands::SET_SESSION_PRIVILEGE,
                    &[session::ADMINISTRATOR],
                )
                .await
                .map_err(|e| unreachable(self.link, "Set Session Privilege Level", e))?;
            if raised.completion != 0 {
                return Err(Failure::Auth(format!(
                    "IPMI BMC {peer} refused Administrator privilege: {}",
                    commands::completion_text(raised.completion)
                )));
            }
        }
        let resend = match action {
            PowerAction::Status => link::COMMAND,
            _ => link::CONTROL,
        };
        let response = self
            .request(resend, NETFN_CHASSIS, cmd, &data)
            .await
            .map_err(|e| unreachable(self.link, name, e))?;
        if response.completion != 0 {
            return Err(Failure::Other(format!(
                "IPMI BMC {peer}: {name} (power {}) failed: {}",
                action.verb(),
                commands::completion_text(response.completion)
            )));
        }
        match action {
            PowerAction::Status => commands::chassis_power(&response.data).ok_or_else(|| {
                Failure::Other(format!(
                    "IPMI BMC {peer}: Get Chassis Status answered no state"
                ))
            }),
            PowerAction::On | PowerAction::Cycle => Ok(PowerState::On),
            PowerAction::Off => Ok(PowerState::Off),
        }
    }

    /// Close Session, briefly: a BMC that misses it times the session out by itself.
    pub(super) async fn close(mut self) {
        self.closed = true;
        let sid = self.bmc_sid.to_le_bytes();
        match self
            .request(link::COURTESY, NETFN_APP, commands::CLOSE_SESSION, &sid)
            .await
        {
            Ok(response) if response.completion == 0 => {}
            Ok(response) => {
                tracing::debug!(bmc = %self.link.peer, "Close Session: {}", commands::completion_text(response.completion))
            }
            Err(err) => tracing::debug!(bmc = %self.link.peer, "Close Session: {err}"),
        }
    }
}

impl Drop for Session<'_> {
    /// A call cut by its time limit (its future dropped) still tells the BMC, with one
    /// unanswered Close Session: BMCs hold few sessions per user (ipmi_sim 10 by default),
    /// and a leaked one lasts until the BMC times it out.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.rq_seq = self.rq_seq % 63 + 1;
        self.out_seq = self.out_seq.wrapping_add(1).max(1);
        let message = packet::encode_request(
            NETFN_APP,
            commands::CLOSE_SESSION,
            self.rq_seq,
            &self.bmc_sid.to_le_bytes(),
        );
        let iv = random::<16>().unwrap_or([0x5A; 16]);
        let packet = packet::encode_v20(
            self.bmc_sid,
            self.out_seq,
            PayloadType::Ipmi,
            &message,
            Some(&self.keys),
            iv,
        );
        self.link.send_now(&packet);
    }
}
