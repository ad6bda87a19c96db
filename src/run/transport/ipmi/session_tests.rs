//! Vectors: suite 3 from an `ipmitool -I lanplus -C 3 -vvvvv` session against ipmi_sim
//! (user `admin`, password `pass`); suite 17 from the same inputs through the formulas of
//! IPMI v2.0 section 13.31-13.32, computed apart with Python's hmac and hashlib.

use super::*;

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn captured(suite: CipherSuite) -> Handshake {
    Handshake {
        suite,
        console_sid: 0xa0a2_a3a4,
        bmc_sid: 2,
        console_random: hex("eb80150810bdcd1a7ae51c8759672c79").try_into().unwrap(),
        bmc_random: hex("fa0086fc17b947197198de3335a7eed0").try_into().unwrap(),
        bmc_guid: hex("a123456789abcdefa123456700000001").try_into().unwrap(),
        user: b"admin".to_vec(),
    }
}

#[test]
fn suite_3_proofs_and_keys_match_ipmitool_against_ipmi_sim() {
    let h = captured(CipherSuite::Sha1Aes);
    assert_eq!(
        h.rakp2_code(b"pass"),
        hex("a3282ae352842a0e07dd3d26296a18dd5e89e2d8")
    );
    assert_eq!(
        h.rakp3_code(b"pass"),
        hex("ca785c96d10790d96c9270e7d8b5e4c277024f53")
    );
    let sik = h.sik(b"pass");
    assert_eq!(sik, hex("7aebceb8693a4995e00c18a6f5a1c2ecbf75d8ce"));
    // RAKP 4 as ipmi_sim sent it.
    assert_eq!(h.rakp4_check(&sik), hex("d70f65a9a70477abd1699079"));
    let keys = h.keys(&sik);
    let super::super::packet::Integrity::HmacSha1_96(k1) = keys.integrity else {
        panic!("suite 3 integrity is HMAC-SHA1-96");
    };
    assert_eq!(k1.to_vec(), hex("ebc31797c914b8865610a108b033f67765f6d0cf"));
    assert_eq!(keys.aes.to_vec(), hex("7d6e8fa59b0e2058bc3513285164c566"));
    // A wrong password gives another proof: what RAKP 2's check catches.
    assert_ne!(h.rakp2_code(b"pasS"), h.rakp2_code(b"pass"));
}

#[test]
fn suite_17_proofs_and_keys_follow_the_spec() {
    let h = captured(CipherSuite::Sha256Aes);
    assert_eq!(
        h.rakp2_code(b"pass"),
        hex("d32b4482774a251f426870e70b5695960a5053d77dd7d2de0237a31035e43cca")
    );
    assert_eq!(
        h.rakp3_code(b"pass"),
        hex("d4a1d5b0455dbaa0a93eb95242705f23025376de4587b102a41a42089cb06b79")
    );
    let sik = h.sik(b"pass");
    assert_eq!(
        sik,
        hex("4dab9c37268837166aac9731a0a13927b3fbb41f6685c95d27bae234faf833e7")
    );
    assert_eq!(h.rakp4_check(&sik), hex("6ad903cbd330908ec960fcef254c6cd7"));
    let keys = h.keys(&sik);
    let super::super::packet::Integrity::HmacSha256_128(k1) = keys.integrity else {
        panic!("suite 17 integrity is HMAC-SHA256-128");
    };
    assert_eq!(
        k1.to_vec(),
        hex("07175a2a7efc204f0b1411a281c5ec143c645c1013157a0197a32d6bd51d7b0e")
    );
    assert_eq!(keys.aes.to_vec(), hex("e8a599890e57009dbd04c880df7a1025"));
}

#[test]
fn open_session_request_proposes_the_suites_algorithms() {
    let request = open_session_request(1, 0xa0a2_a3a4, CipherSuite::Sha1Aes);
    assert_eq!(
        request,
        hex("01 04 0000 a4a3a2a0 00000008 01000000 01000008 01000000 02000008 01000000")
    );
    let request = open_session_request(7, 1, CipherSuite::Sha256Aes);
    assert_eq!(
        request[8..],
        hex("00000008 03000000 01000008 04000000 02000008 01000000")[..]
    );
}

#[test]
fn rakp_messages_carry_the_role_and_user() {
    let h = captured(CipherSuite::Sha1Aes);
    assert_eq!(
        rakp1(3, &h),
        hex("03000000 02000000 eb80150810bdcd1a7ae51c8759672c79 14 0000 05 61646d696e")
    );
    // The RAKP 3 ipmitool sent, after its packet headers.
    assert_eq!(
        rakp3(0, 2, &h.rakp3_code(b"pass")),
        hex("00000000 02000000 ca785c96d10790d96c9270e7d8b5e4c277024f53")
    );
}

#[test]
fn answers_are_parsed_and_refusals_named() {
    // ipmi_sim's RAKP 4 after its packet headers.
    let rakp4 = hex("00000000 a4a3a2a0 d70f65a9a70477abd1699079");
    let (tag, sid, check) = parse_rakp4(&rakp4, CipherSuite::Sha1Aes).unwrap();
    assert_eq!(
        (tag, sid, check),
        (0, 0xa0a2_a3a4, hex("d70f65a9a70477abd1699079"))
    );
    assert!(
        parse_rakp4(&rakp4, CipherSuite::Sha256Aes).is_err(),
        "SHA256 checks are 16 bytes"
    );
    let refused = parse_open_session(&[1, 0x04, 0, 0], CipherSuite::Sha256Aes).unwrap_err();
    assert_eq!(
        refused,
        SetupError::Refused {
            step: "Open Session",
            status: 4
        }
    );
    assert!(refused
        .to_string()
        .contains("invalid authentication algorithm"));
    assert!(refuses_suite(0x11) && !refuses_suite(0x0D));
    assert!(parse_rakp2(&[0], CipherSuite::Sha1Aes).is_err());
    assert!(parse_open_session(&[1, 0, 4], CipherSuite::Sha1Aes).is_err());
}
