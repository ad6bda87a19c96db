//! What the system `ssh` is run with, and what its failures mean: pure functions, so the
//! argv (quoting, no secret) and the classification of ssh's own errors are unit-tested.
//!
//! Every call names the host's destination after `--` (never read as an option) and hands
//! the remote command as one argument, wrapped and quoted exactly as the built-in client
//! sends it. Paths reach ssh through `-o Key="value"`, with `%` doubled (ssh expands tokens
//! in them) and `"` refused (ssh's option parser has no escape for it).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::ssh_login::KEEPALIVE_INTERVAL_SECS;
use super::TransportError;
use crate::topology::{Host, OpensshClient};

/// Keepalives missed before ssh gives up on a silent server (as the built-in client's
/// keepalive, about 45 s).
const KEEPALIVE_COUNT: u32 = 3;

/// How a call uses the host's ControlMaster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mux<'a> {
    /// Start the master on this socket, in the background, idle at most `persist`.
    Start(&'a Path, Duration),
    /// Run through the master on this socket (or connect alone when it is gone).
    Through(&'a Path),
    /// No master: the fleet's cap is reached and every master is busy.
    Alone,
}

/// The arguments (after the program name) of one `ssh` call for `host`: the master's start
/// when `command` is `None`, else `command` run through `mux`.
pub(super) fn argv(
    host: &Host,
    client: &OpensshClient,
    mux: Mux,
    command: Option<&str>,
) -> Result<Vec<OsString>, TransportError> {
    let mut args = config_file(client);
    args.push("-T".into());
    if command.is_none() {
        // The master: no command, backgrounded once authenticated.
        args.push("-N".into());
        args.push("-f".into());
    }
    args.extend(options(host, client)?);
    let path = |what: &str, file: &Path| option_path(host, what, file);
    let mut opt = |key: &str, value: &str| {
        args.push("-o".into());
        args.push(format!("{key}={value}").into());
    };
    match mux {
        Mux::Start(socket, persist) => {
            opt("ControlMaster", "yes");
            opt("ControlPath", &path("control socket", socket)?);
            opt("ControlPersist", &whole_seconds(persist).to_string());
        }
        Mux::Through(socket) => {
            opt("ControlMaster", "no");
            opt("ControlPath", &path("control socket", socket)?);
        }
        Mux::Alone => {
            opt("ControlMaster", "no");
            opt("ControlPath", "none");
        }
    }
    args.push("--".into());
    args.push(client.destination.clone().into());
    if let Some(command) = command {
        args.push(command.into());
    }
    Ok(args)
}

/// The arguments of `ssh -G`: the configuration ssh would use for `host`, printed.
pub(super) fn resolve_argv(
    host: &Host,
    client: &OpensshClient,
) -> Result<Vec<OsString>, TransportError> {
    let mut args = config_file(client);
    args.extend(options(host, client)?);
    args.extend(["-G", "--"].map(OsString::from));
    args.push(client.destination.clone().into());
    Ok(args)
}

/// `-F FILE` when the topology (or `BLACKSTART_SSH_CONFIG`) names one.
fn config_file(client: &OpensshClient) -> Vec<OsString> {
    match &client.config {
        Some(file) => vec!["-F".into(), file.into()],
        None => Vec::new(),
    }
}

/// The `-o` options every call for `host` carries. Options given first win in ssh: these
/// come before anything the configuration file says.
fn options(host: &Host, client: &OpensshClient) -> Result<Vec<OsString>, TransportError> {
    let login = &host.ssh.login;
    let mut args: Vec<OsString> = Vec::new();
    let mut opt = |key: &str, value: &str| {
        args.push("-o".into());
        args.push(format!("{key}={value}").into());
    };
    let path = |what: &str, file: &Path| option_path(host, what, file);
    opt("BatchMode", "yes");
    let strict = if login.strict_host_key_checking {
        "yes"
    } else {
        "no"
    };
    opt("StrictHostKeyChecking", strict);
    opt(
        "ConnectTimeout",
        &whole_seconds(login.connect_timeout).to_string(),
    );
    opt("ServerAliveInterval", &KEEPALIVE_INTERVAL_SECS.to_string());
    opt("ServerAliveCountMax", &KEEPALIVE_COUNT.to_string());
    // ssh's own warnings would land in the command's stderr; errors still show.
    opt("LogLevel", "ERROR");
    if let Some(user) = &client.user {
        opt("User", &quoted(host, "user", user)?);
    }
    if let Some(port) = client.port {
        opt("Port", &port.to_string());
    }
    if let Some(key) = &client.key {
        opt("IdentityFile", &path("key", key)?);
    }
    if let Some(known) = &client.known_hosts {
        opt("UserKnownHostsFile", &path("known_hosts", known)?);
    }
    if let Some(jump) = &client.proxy_jump {
        opt("ProxyJump", &quoted(host, "proxy_jump", jump)?);
    }
    Ok(args)
}

/// The arguments that ask the master on `socket` to exit (`-F none`: no configuration file
/// is read, so no `Match exec` runs at the end of a run).
pub(super) fn exit_argv(socket: &Path) -> Vec<OsString> {
    let mut control = OsString::from("ControlPath=");
    control.push(socket);
    ["-F", "none", "-o"]
        .into_iter()
        .map(OsString::from)
        .chain([control])
        .chain(["-O", "exit", "--", "blackstart-master"].map(OsString::from))
        .collect()
}

/// `value` as one token of an `-o` option: double-quoted when it holds blanks; a `"` or a
/// control character cannot be expressed and is refused.
fn quoted(host: &Host, what: &str, value: &str) -> Result<String, TransportError> {
    if value.contains('"') || value.chars().any(char::is_control) {
        return Err(TransportError::Config {
            host: host.name.clone(),
            detail: format!(
                "{what} {value:?} holds a quote or control character, which the system ssh \
                 cannot be given; rename it, or use the built-in client"
            ),
        });
    }
    Ok(if value.contains(char::is_whitespace) {
        format!("\"{value}\"")
    } else {
        value.to_string()
    })
}

/// A path for an `-o` option: `%` doubled (ssh expands `%` tokens in file names), quoted.
fn option_path(host: &Host, what: &str, file: &Path) -> Result<String, TransportError> {
    let text = file.to_str().ok_or_else(|| TransportError::Config {
        host: host.name.clone(),
        detail: format!("{what} path {} is not UTF-8", file.display()),
    })?;
    quoted(host, what, &text.replace('%', "%%"))
}

/// Whole seconds, at least 1 (ssh takes seconds; 0 would mean no limit).
fn whole_seconds(limit: Duration) -> u64 {
    limit.as_secs_f64().ceil().max(1.0) as u64
}

/// What an `ssh` that exited 255 says about reaching the host, read from its stderr. `None`
/// when nothing there is ssh's own error (a remote command may exit 255 too). The only place
/// where ssh's words are read.
pub(super) fn classify(host: &Host, stderr: &str, limit: Duration) -> Option<TransportError> {
    let line = stderr
        .lines()
        .rev()
        .find(|line| kind(line).is_some())?
        .trim();
    let host_name = host.name.clone();
    let detail = format!("system ssh: {line}");
    Some(match kind(line)? {
        Kind::HostKey => TransportError::HostKey {
            host: host_name,
            detail,
        },
        Kind::Auth => TransportError::Auth {
            host: host_name,
            detail,
        },
        Kind::Timeout => TransportError::Timeout {
            host: host_name,
            what: detail,
            after: limit,
            reaching: true,
        },
        Kind::Negotiation => TransportError::Config {
            host: host_name,
            detail: format!("{detail} (the server and the system ssh share no algorithm)"),
        },
        Kind::Unreachable => TransportError::Unreachable {
            host: host_name,
            detail,
        },
    })
}

/// The kinds of ssh's own errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    HostKey,
    Auth,
    Timeout,
    Negotiation,
    Unreachable,
}

/// The kind of one line of ssh's stderr, if it is one of ssh's errors.
fn kind(line: &str) -> Option<Kind> {
    const PATTERNS: &[(&str, Kind)] = &[
        ("Host key verification failed", Kind::HostKey),
        ("REMOTE HOST IDENTIFICATION HAS CHANGED", Kind::HostKey),
        ("host key is known for", Kind::HostKey),
        ("Permission denied (", Kind::Auth),
        ("Too many authentication failures", Kind::Auth),
        ("Connection timed out", Kind::Timeout),
        ("Operation timed out", Kind::Timeout),
        ("timed out during banner exchange", Kind::Timeout),
        ("Unable to negotiate with", Kind::Negotiation),
        ("Could not resolve hostname", Kind::Unreachable),
        ("Connection refused", Kind::Unreachable),
        ("No route to host", Kind::Unreachable),
        ("Network is unreachable", Kind::Unreachable),
        ("Connection closed by", Kind::Unreachable),
        ("Connection reset by", Kind::Unreachable),
        ("kex_exchange_identification", Kind::Unreachable),
        ("Broken pipe", Kind::Unreachable),
    ];
    PATTERNS
        .iter()
        .find(|(pattern, _)| line.contains(pattern))
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
#[path = "ssh_openssh_args_tests.rs"]
mod tests;
