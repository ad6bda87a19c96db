//! Reading one line of a configuration file: the keyword, its words, and the values
//! blackstart checks when the file is parsed (so that resolving a host cannot fail).

use std::time::Duration;

use super::{tokens, JumpSpec, Keyword, ProxyJump};

/// `Keyword value`, `Keyword=value` or `Keyword = value`.
pub(super) fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    (keyword, rest.trim())
}

/// Whitespace-separated words; double quotes group words with spaces. An unquoted word
/// starting with `#` starts a comment that runs to the end of the line, as in OpenSSH
/// (`Host web # prod` is the one pattern `web`).
pub(super) fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => word.push(c),
                    None => return Err("unterminated quote".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

pub(super) fn check_value(key: Keyword, value: &str) -> Result<(), String> {
    match key {
        Keyword::Port => parse_port(value).map(|_| ()),
        Keyword::ConnectTimeout => parse_timeout(value).map(|_| ()),
        Keyword::StrictHostKeyChecking => parse_strict(value).map(|_| ()),
        Keyword::ProxyJump => parse_proxy_jump(value).map(|_| ()),
        Keyword::IdentityFile | Keyword::UserKnownHostsFile | Keyword::CertificateFile => {
            tokens::check(value)
        }
        _ => Ok(()),
    }
}

pub(super) fn parse_port(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{value:?} is not a port (1 to 65535)")),
    }
}

pub(super) fn parse_timeout(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{value:?} is not a number of seconds"))
}

pub(super) fn parse_strict(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "ask" | "accept-new" => Ok(true),
        "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not yes, no, ask, accept-new or off")),
    }
}

/// `none`, or comma-separated `[user@]host[:port]` hops (`ssh://` URIs too).
pub fn parse_proxy_jump(value: &str) -> Result<ProxyJump, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(ProxyJump::None);
    }
    let mut hops = Vec::new();
    for hop in value.split(',') {
        let hop = hop.trim();
        let spec = hop.strip_prefix("ssh://").unwrap_or(hop);
        let (user, rest) = match spec.rsplit_once('@') {
            Some((user, rest)) => (Some(user.to_string()), rest),
            None => (None, spec),
        };
        let (host, port) = split_port(rest)?;
        if host.is_empty() || user.as_deref() == Some("") {
            return Err(format!("jump host {hop:?} is not [user@]host[:port]"));
        }
        hops.push(JumpSpec {
            user,
            host: host.to_string(),
            port,
        });
    }
    Ok(ProxyJump::Hops(hops))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: `[` without `]`"))?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("{text:?}: unexpected {after:?} after `]`")),
        };
    }
    match text.rsplit_once(':') {
        // More than one colon: a bare IPv6 address without a port.
        Some((host, _)) if host.contains(':') => Ok((text, None)),
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((text, None)),
    }
}
