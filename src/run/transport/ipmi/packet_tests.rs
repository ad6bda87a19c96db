//! Vectors: a packet ipmi_sim sent in an `ipmitool -C 3 -vvvvv` session (keys from the
//! same session), and its suite-17 twin computed apart with Python's hmac, hashlib and
//! cryptography following IPMI v2.0 sections 13.6, 13.28 and 13.29.

use super::*;

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn arr<const N: usize>(text: &str) -> [u8; N] {
    hex(text).try_into().unwrap()
}

/// Set Session Privilege Level's answer (Administrator), as ipmi_sim sent it.
const MESSAGE: &str = "811c6320043b00049d";
const IV: &str = "d70a5357937f97f97637937ced44c965";

fn suite_3_keys() -> SessionKeys {
    SessionKeys {
        integrity: Integrity::HmacSha1_96(arr("ebc31797c914b8865610a108b033f67765f6d0cf")),
        aes: arr("7d6e8fa59b0e2058bc3513285164c566"),
    }
}

fn suite_17_keys() -> SessionKeys {
    SessionKeys {
        integrity: Integrity::HmacSha256_128(arr(
            "07175a2a7efc204f0b1411a281c5ec143c645c1013157a0197a32d6bd51d7b0e",
        )),
        aes: arr("e8a599890e57009dbd04c880df7a1025"),
    }
}

const SUITE_3_PACKET: &str = "0600ff07 06c0 a4a3a2a0 01000000 2000
    d70a5357937f97f97637937ced44c965 59082ac900ffc8d5eb57a645ca8fb32e
    ffff 02 07 750be55fa595e7fa852a7fd3";
const SUITE_17_PACKET: &str = "0600ff07 06c0 a4a3a2a0 01000000 2000
    d70a5357937f97f97637937ced44c965 e641da92bb076214a1f4f5a9e26833fa
    ffff 02 07 1ff3f38c61cac987bdc8377acf13051f";

#[test]
fn encodes_an_encrypted_authenticated_packet_byte_for_byte() {
    for (keys, expected) in [
        (suite_3_keys(), SUITE_3_PACKET),
        (suite_17_keys(), SUITE_17_PACKET),
    ] {
        let packet = encode_v20(
            0xa0a2_a3a4,
            1,
            PayloadType::Ipmi,
            &hex(MESSAGE),
            Some(&keys),
            arr(IV),
        );
        assert_eq!(packet, hex(expected));
    }
}

#[test]
fn decodes_what_ipmi_sim_sent_and_refuses_a_changed_byte() {
    for (keys, packet) in [
        (suite_3_keys(), SUITE_3_PACKET),
        (suite_17_keys(), SUITE_17_PACKET),
    ] {
        let packet = hex(packet);
        let inbound = decode_v20(&packet, Some(&keys)).unwrap();
        assert_eq!(inbound.session_id, 0xa0a2_a3a4);
        assert_eq!(inbound.seq, 1);
        assert_eq!(inbound.payload_type, PayloadType::Ipmi);
        assert_eq!(inbound.payload, hex(MESSAGE));
        let response = decode_response(&inbound.payload).unwrap();
        assert_eq!(
            (response.netfn, response.cmd, response.rq_seq),
            (0x07, 0x3B, 1)
        );
        assert_eq!((response.completion, response.data), (0, vec![0x04]));
        for at in [5, 10, 20, 40, packet.len() - 1] {
            let mut changed = packet.clone();
            changed[at] ^= 0x01;
            assert!(
                decode_v20(&changed, Some(&keys)).is_err(),
                "byte {at} changed"
            );
        }
        let short = &packet[..packet.len() - 1];
        assert!(decode_v20(short, Some(&keys)).is_err());
    }
}

#[test]
fn an_unprotected_packet_is_refused_inside_a_session() {
    let clear = encode_v20(1, 1, PayloadType::Ipmi, &hex(MESSAGE), None, [0; 16]);
    assert_eq!(
        decode_v20(&clear, Some(&suite_3_keys())),
        Err(PacketError::Unprotected)
    );
    assert_eq!(decode_v20(&clear, None).unwrap().payload, hex(MESSAGE));
}

#[test]
fn requests_carry_both_checksums() {
    // Get Chassis Status, rqSeq 1: 20 00 e0 | 81 04 01 | 7a.
    assert_eq!(encode_request(0x00, 0x01, 1, &[]), hex("2000e0 810401 7a"));
    // Chassis Control power up, rqSeq 2: the data byte is in the second checksum.
    assert_eq!(
        encode_request(0x00, 0x02, 2, &[0x01]),
        hex("2000e0 81080201 74")
    );
    assert!(
        decode_response(&hex("811c6320043b00049e")).is_err(),
        "bad checksum"
    );
    assert!(decode_response(&hex("811c")).is_err());
}

#[test]
fn session_less_packets_wrap_a_message_in_ipmi_v1_5() {
    let message = encode_request(0x06, 0x54, 1, &[0x0E, 0x00, 0x80]);
    let packet = encode_sessionless(&message);
    assert_eq!(packet[..14], hex("0600ff07 00 00000000 00000000 0a")[..]);
    assert_eq!(decode_sessionless(&packet).unwrap(), &message[..]);
    assert!(decode_sessionless(&packet[..packet.len() - 1]).is_err());
}

#[test]
fn hmacs_match_rfc_2202_and_4231() {
    let data: &[&[u8]] = &[b"what do ya want ", b"for nothing?"];
    assert_eq!(
        hmac_sha1(b"Jefe", data).to_vec(),
        hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
    assert_eq!(
        hmac_sha256(b"Jefe", data).to_vec(),
        hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
}
