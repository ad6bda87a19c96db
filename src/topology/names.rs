//! What a name, a label, an address or an environment-variable name may hold.
//!
//! Names and labels are printed in plans (text, DOT, Mermaid, JSON) and journals, and
//! addresses go into `ssh`, `ipmitool` and URLs: a control character, an empty string or a
//! shell metacharacter in them would forge output lines or commands.

use std::net::IpAddr;

/// Why `text` cannot be a name or a label, if it cannot: empty, or holding a control
/// character (a newline would split a line of the plan in two).
pub fn name_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("it is empty".into());
    }
    text.chars()
        .find(|c| c.is_control())
        .map(|c| format!("it holds the control character {c:?}"))
}

/// Why `text` cannot be a network address, if it cannot: it must be an IP address or a host
/// name (letters, digits, `-` and `_` in dot-separated labels, no label starting with `-`).
pub fn address_problem(text: &str) -> Option<String> {
    if text.parse::<IpAddr>().is_ok() {
        return None;
    }
    if text.is_empty() {
        return Some("it is empty".into());
    }
    if text.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    for label in text.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Some("each dot-separated part must hold 1 to 63 characters".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a part cannot start or end with '-'".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Some(format!(
                "{c:?} is neither a letter, a digit, '-' nor '_' (write an IP address or a host name)"
            ));
        }
    }
    None
}

/// True when `text` is a usable environment-variable name: `BMC_PASSWORD`, `_x1`.
pub fn is_env_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ips_or_host_names() {
        for good in ["10.0.0.1", "fe80::1", "db001.dc1", "bmc-7.rack_2.example"] {
            assert_eq!(address_problem(good), None, "{good}");
        }
        for bad in ["", "-1.20.2.10", "10.0.0.1;touch x", "a..b", "x y", "h\n"] {
            assert!(address_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_empty_and_control_characters() {
        assert!(name_problem(" ").is_some());
        assert!(name_problem("a\nb").is_some());
        assert_eq!(name_problem("user-db \"primary\""), None);
        assert!(is_env_name("BMC_PASSWORD"));
        assert!(!is_env_name("hunter2!"));
        assert!(!is_env_name("9X"));
        assert!(!is_env_name(""));
    }
}
