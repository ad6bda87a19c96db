//! The few IPMI commands a power switch needs (IPMI v2.0 sections 22 and 28), their request
//! data and how their answers read.

use super::super::{PowerAction, PowerState};

/// Network function Chassis.
pub const NETFN_CHASSIS: u8 = 0x00;
/// Network function Application.
pub const NETFN_APP: u8 = 0x06;
/// Get Chassis Status (Chassis).
pub const GET_CHASSIS_STATUS: u8 = 0x01;
/// Chassis Control (Chassis).
pub const CHASSIS_CONTROL: u8 = 0x02;
/// Close Session (Application).
pub const CLOSE_SESSION: u8 = 0x3C;
/// Get Channel Cipher Suites (Application), asked outside a session.
pub const GET_CHANNEL_CIPHER_SUITES: u8 = 0x54;
/// Set Session Privilege Level (Application).
pub const SET_SESSION_PRIVILEGE: u8 = 0x3B;

/// Chassis Control's request byte for a switch; None for a status read.
pub fn chassis_control(action: PowerAction) -> Option<u8> {
    match action {
        PowerAction::Status => None,
        PowerAction::Off => Some(0x00),
        PowerAction::On => Some(0x01),
        PowerAction::Cycle => Some(0x02),
    }
}

/// Get Chassis Status's answer: bit 0 of the current power state byte.
pub fn chassis_power(data: &[u8]) -> Option<PowerState> {
    data.first().map(|state| {
        if state & 0x01 == 0x01 {
            PowerState::On
        } else {
            PowerState::Off
        }
    })
}

/// Get Channel Cipher Suites request: the current channel, IPMI payloads, the algorithm list
/// by cipher suite, block `index` (16 bytes each).
pub fn cipher_suites_request(index: u8) -> [u8; 3] {
    [0x0E, 0x00, 0x80 | (index & 0x3F)]
}

/// The cipher suite IDs in the records of Get Channel Cipher Suites' answers (after the
/// channel byte), all blocks concatenated: a standard record starts with 0xC0 and the ID,
/// an OEM one with 0xC1, the ID and a 3-byte IANA number; algorithm bytes follow.
pub fn cipher_suite_ids(records: &[u8]) -> Vec<u8> {
    let mut ids = Vec::new();
    let mut at = 0;
    while at + 1 < records.len() {
        match records[at] {
            0xC0 => {
                ids.push(records[at + 1]);
                at += 2;
            }
            0xC1 => {
                ids.push(records[at + 1]);
                at += 5;
            }
            // An algorithm byte (tagged 00, 01 or 10 in its top bits) of the last record.
            _ => at += 1,
        }
    }
    ids.dedup();
    ids
}

/// Completion codes (IPMI v2.0 table 5-2), as an operator reads them.
pub fn completion_text(code: u8) -> String {
    let text = match code {
        0xC0 => "node busy",
        0xC1 => "invalid command",
        0xC3 => "timeout while processing",
        0xC4 => "out of space",
        0xC7 => "request data length invalid",
        0xC9 => "parameter out of range",
        0xCC => "invalid data field in request",
        0xCE => "command response could not be provided",
        0xD4 => "insufficient privilege level",
        0xD5 => "command not supported in present state",
        0xFF => "unspecified error",
        _ => "error",
    };
    format!("{text} (completion code 0x{code:02x})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_bit_is_bit_zero() {
        assert_eq!(chassis_power(&[0x01, 0x00, 0x40]), Some(PowerState::On));
        assert_eq!(chassis_power(&[0x60, 0x10, 0x00]), Some(PowerState::Off));
        assert_eq!(chassis_power(&[]), None);
    }

    #[test]
    fn chassis_control_codes_are_table_28_4() {
        assert_eq!(chassis_control(PowerAction::Off), Some(0));
        assert_eq!(chassis_control(PowerAction::On), Some(1));
        assert_eq!(chassis_control(PowerAction::Cycle), Some(2));
        assert_eq!(chassis_control(PowerAction::Status), None);
    }

    /// Records as a BMC offering suites 3 and 17 and an OEM suite 0x40 sends them.
    #[test]
    fn reads_cipher_suite_records() {
        let records = [
            0xC0, 0x03, 0x01, 0x41, 0x81, // suite 3: SHA1, SHA1-96, AES
            0xC0, 0x11, 0x03, 0x44, 0x81, // suite 17: SHA256, SHA256-128, AES
            0xC1, 0x40, 0xA2, 0x02, 0x00, 0x01, 0x41, 0x80,
        ];
        assert_eq!(cipher_suite_ids(&records), vec![3, 17, 0x40]);
        assert_eq!(cipher_suite_ids(&[]), Vec::<u8>::new());
    }
}
