//! What a name, a label, an address or an environment-variable name may hold.
//!
//! Names and labels are printed in plans (text, DOT, Mermaid, JSON) and journals, and
//! addresses go into `ssh`, `ipmitool` and URLs: a control character, an empty string or a
//! shell metacharacter in them would forge output lines or commands. Patterns over names
//! (`--only 'web*'`, OpenSSH's `Host` lines) match with one glob.

use std::net::IpAddr;

use super::diagnostic::Collector;

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

/// Reports at `at` why `text` cannot name a `what` (a check, a step), if it cannot (see
/// [`name_problem`]). True when it can.
pub(crate) fn name_ok(text: &str, what: &str, at: &str, out: &mut Collector) -> bool {
    match name_problem(text) {
        Some(why) => {
            out.error(at, format!("invalid {what} name: {why}"));
            false
        }
        None => true,
    }
}

/// Reports at `at` why `text` cannot name a `what` (a subsystem, a step), if it cannot: it
/// must be a name (see [`name_ok`]) without '@', which is kept for step modes such as
/// `name@bootstrap`. True when it can.
pub(crate) fn step_name_ok(text: &str, what: &str, at: &str, out: &mut Collector) -> bool {
    if !name_ok(text, what, at, out) {
        return false;
    }
    if text.contains('@') {
        out.error(at, format!("{what} name {text:?} holds '@'"))
            .hint("'@' is kept for step modes such as `name@bootstrap`; use '-' instead");
        return false;
    }
    true
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

/// Why `text` cannot be a BMC endpoint, if it cannot: an address as [`address_problem`]
/// wants, optionally followed by `:PORT` (`bmc7:8443`, `[fd00::7]:8443`), as a Redfish BMC
/// behind a non-standard port needs.
pub fn endpoint_problem(text: &str) -> Option<String> {
    let (host, port) = match text.rsplit_once(':') {
        // A bare IPv6 address holds colons of its own.
        _ if text.parse::<IpAddr>().is_ok() => return None,
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, port)
        }
        _ => return address_problem(text),
    };
    match port.parse::<u16>() {
        Ok(0) | Err(_) => return Some(format!("port {port} is not between 1 and 65535")),
        Ok(_) => {}
    }
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    address_problem(host)
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

/// Shell-style match of `text` against `pattern`: `any_run` matches any run of elements,
/// `any_one` any one element (a character, or a byte where OpenSSH compares bytes).
pub fn glob_match<T: Copy + PartialEq>(pattern: &[T], text: &[T], any_run: T, any_one: T) -> bool {
    // Iterative with one backtrack point: linear enough, never recursive.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == any_one || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == any_run {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == any_run)
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

#[cfg(test)]
mod endpoint_tests {
    use super::endpoint_problem;

    #[test]
    fn an_endpoint_may_carry_a_port_but_nothing_else() {
        for good in [
            "10.1.0.7",
            "bmc7:8443",
            "127.0.0.1:623",
            "[fd00::7]:8443",
            "fd00::7",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "bmc7:0",
            "bmc7:70000",
            "bmc7:",
            "10.0.0.1;touch x",
            "-x:80",
            "",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }
}
