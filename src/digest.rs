//! A stable 64-bit FNV-1a digest of byte strings. It sits at the bottom of the layers, beside
//! `units`, so the plan can name what it covers without importing the journal (or anything
//! above it). Not a security measure: it recognises the same inputs, it does not defend them.

/// FNV-1a's 64-bit offset basis and prime (the published constants).
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;
/// Ends every part, so `["ab", "c"]` and `["a", "bc"]` differ (0xff never occurs in UTF-8).
const SEPARATOR: u8 = 0xff;

/// The digest of `parts` in order, as 16 lowercase hex digits.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut hash = OFFSET_BASIS;
    for part in parts {
        for byte in part.iter().chain(&[SEPARATOR]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_parts_is_the_offset_basis() {
        assert_eq!(digest(&[]), "cbf29ce484222325");
    }

    #[test]
    fn the_digest_is_stable_across_versions() {
        // Digests are written to run directories and compared on resume: this value is the
        // one the digest had when it lived in `journal`, and must not change.
        assert_eq!(digest(&[b"topology", b"scope"]), "1971f1a217c09630");
    }

    #[test]
    fn where_parts_split_changes_the_digest() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_ne!(digest(&[b"abc"]), digest(&[b"abc", b""]));
    }
}
