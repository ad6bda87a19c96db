//! The host pattern of an inventory line or key, with its port: one syntax for the INI and
//! the YAML readers.

/// `web[01:03].example.com:2222` → the pattern and its port. A bare IPv6 address keeps its
/// colons; `[fe80::1]:2222` loses its brackets.
pub(super) fn split_port(pattern: &str) -> (&str, Option<u64>) {
    let Some((head, port)) = pattern.rsplit_once(':') else {
        return (pattern, None);
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return (pattern, None);
    }
    let Ok(port) = port.parse::<u64>() else {
        return (pattern, None);
    };
    if let Some(v6) = head.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if v6.contains(':') && !v6.contains('[') {
            return (v6, Some(port));
        }
    }
    // Outside ranges, the head must hold no colon (else it is an IPv6 address).
    let mut depth = 0i32;
    for c in head.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => return (pattern, None),
            _ => {}
        }
    }
    (head, Some(port))
}
