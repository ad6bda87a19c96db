//! A host's SSH settings: what the topology writes (the host's own, then `defaults.host`)
//! wins over the OpenSSH client configuration, which wins over the built-in defaults. The
//! plan shows the result, so what is written in the topology is what is reviewed; the
//! configuration file fills in what the topology leaves open, as `ssh` itself would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::absolute;
use crate::topology::defaults;
use crate::topology::diagnostic::Collector;
use crate::topology::model::{JumpHost, SshLogin, SshSettings};
use crate::topology::names::address_problem;
use crate::topology::raw::{RawSsh, RawSshClient};
use crate::topology::ssh_config::{self, tokens, HostConfig, Place, ProxyJump, SshConfig};
use config_file::{read, warn_unfollowed};
use exec::ExecRunner;

/// Environment variable naming the configuration file used when the topology names none
/// (`none` for no file). The repository's `.cargo/config.toml` sets it to `none` so that a
/// developer's own `~/.ssh/config` cannot change what the tests see.
pub const CONFIG_ENV: &str = "BLACKSTART_SSH_CONFIG";

/// The most jump hosts on one route.
pub const MAX_JUMPS: usize = 8;

/// Configuration files, each read and parsed once per topology.
#[derive(Default)]
pub(super) struct SshConfigs {
    read: HashMap<PathBuf, Option<Rc<SshConfig>>>,
    /// Files whose unfollowed directives were warned about (once per file).
    warned: std::collections::HashSet<PathBuf>,
    /// `Match exec` commands run or refused, for every file.
    pub exec: ExecRunner,
}

/// Which file a host entry uses, and where in the topology that was said.
enum Choice {
    None,
    /// Named by [`CONFIG_ENV`].
    Implicit(PathBuf),
    /// `~/.ssh/config`, read only when it exists.
    Default(PathBuf),
    Named(PathBuf, String),
}

impl SshConfigs {
    /// The configuration a host entry uses: its own `ssh.config`, else `defaults.host.ssh
    /// .config`, else [`CONFIG_ENV`], else `~/.ssh/config` when that file exists.
    pub fn for_entry(
        &mut self,
        own: &RawSsh,
        inherited: &RawSsh,
        path: &str,
        base_dir: &Path,
        out: &mut Collector,
    ) -> Option<Rc<SshConfig>> {
        let (file, at) = match choice(own, inherited, path, base_dir) {
            Choice::None => return None,
            Choice::Implicit(file) | Choice::Default(file) => (file, None),
            Choice::Named(file, at) => (file, Some(at)),
        };
        let config = match self.read.get(&file) {
            Some(known) => known.clone(),
            None => {
                let config = read(&file, at.as_deref(), path, out).map(Rc::new);
                self.read.insert(file.clone(), config.clone());
                config
            }
        };
        // What the built-in client skips is OpenSSH's business with `client: openssh`.
        let builtin = own.client.or(inherited.client) != Some(RawSshClient::Openssh);
        if let Some(config) = config.as_deref().filter(|_| builtin) {
            if self.warned.insert(file) {
                warn_unfollowed(config, at.as_deref(), path, out);
            }
        }
        config
    }
}

/// The configuration file a host entry names: its own `ssh.config`, else `defaults.host.ssh
/// .config`, else [`CONFIG_ENV`], else `~/.ssh/config`.
fn choice(own: &RawSsh, inherited: &RawSsh, path: &str, base_dir: &Path) -> Choice {
    match (&own.config, &inherited.config) {
        (Some(value), _) => named(value, &format!("{path}.ssh.config"), base_dir),
        (None, Some(value)) => named(value, "defaults.host.ssh.config", base_dir),
        (None, None) => match std::env::var(CONFIG_ENV) {
            Ok(value) if value == "none" => Choice::None,
            Ok(value) if !value.is_empty() => Choice::Implicit(absolute(&value, base_dir)),
            _ => Choice::Default(absolute("~/.ssh/config", base_dir)),
        },
    }
}

fn named(value: &str, at: &str, base_dir: &Path) -> Choice {
    if value == "none" {
        Choice::None
    } else {
        Choice::Named(absolute(value, base_dir), at.to_string())
    }
}

/// The SSH settings of one host, and the address to dial when the configuration gives a
/// `HostName` (only used when the topology sets no `address`). `alias` is what one would
/// type after `ssh`: the topology's address, or the host's name. Problems are reported when
/// `out` is given (once per host entry, not once per host of a range); the routes through a
/// `ProxyCommand` are returned for the caller to refuse (once per line, whichever host).
pub(super) fn resolve_ssh(
    (own, inherited): (&RawSsh, &RawSsh),
    alias: &str,
    config: Option<&SshConfig>,
    (path, base_dir): (&str, &Path),
    exec: &mut ExecRunner,
    mut out: Option<&mut Collector>,
) -> (SshSettings, Option<String>, Vec<CommandRoute>) {
    let mut commands = Vec::new();
    let openssh_client = own.client.or(inherited.client) == Some(RawSshClient::Openssh);
    // With the system ssh, `Match exec` is ssh's own business when it connects.
    let allowed = own.match_exec.or(inherited.match_exec).unwrap_or(false);
    let local_user = tokens::local_user();
    let mut lookup = |name: &str| -> HostConfig {
        let Some(config) = config else {
            return HostConfig::default();
        };
        config.resolve_with(name, &local_user, &mut |request| {
            !openssh_client && exec.decide(request, allowed)
        })
    };
    let found = lookup(alias);
    let mut login = host_login((own, inherited), alias, &found, base_dir);
    let openssh = (own.client.or(inherited.client) == Some(RawSshClient::Openssh)).then(|| {
        // Strict unless the topology itself says otherwise: a file's `no` is not enough.
        login.strict_host_key_checking = own
            .strict_host_key_checking
            .or(inherited.strict_host_key_checking)
            .unwrap_or(true);
        openssh::client((own, inherited), alias, (path, base_dir))
    });
    let mut settings = SshSettings {
        login,
        jumps: Vec::new(),
        openssh,
    };
    let written_jump = match (&own.proxy_jump, &inherited.proxy_jump) {
        (Some(value), _) => Some((value, format!("{path}.ssh.proxy_jump"))),
        (None, Some(value)) => Some((value, "defaults.host.ssh.proxy_jump".to_string())),
        (None, None) => None,
    };
    let builtin = settings.openssh.is_none();
    let jump = match written_jump {
        Some((value, at)) => match ssh_config::parse_proxy_jump(value) {
            Ok(jump) => Some((jump, at)),
            Err(why) => {
                if let Some(out) = out.as_deref_mut() {
                    out.error(&at, format!("invalid proxy_jump: {why}"))
                        .hint("write `user@host:port` hops separated by commas, or `none`");
                }
                None
            }
        },
        None => {
            if let Some((command, line)) = found.proxy_command.as_ref().filter(|_| builtin) {
                commands.push(CommandRoute::new(alias, command, line));
            }
            found
                .proxy_jump
                .clone()
                .map(|jump| (jump, format!("{path}.ssh.config")))
        }
    };
    if let Some((ProxyJump::Hops(hops), at)) = jump {
        let hops = match chain::chain(&hops, alias, &mut lookup) {
            Ok(hops) => hops,
            Err(why) => {
                if let Some(out) = out.as_deref_mut() {
                    out.error(&at, why).hint(
                        "write the whole route in the topology's `proxy_jump` (its first hop's \
                         own ProxyJump is followed), or `proxy_jump: none` on a jump host",
                    );
                }
                Vec::new()
            }
        };
        for chain::Hop {
            spec,
            found: hop,
            first,
        } in &hops
        {
            // ssh reads a hop's ProxyCommand only where it reads its route.
            if let Some((command, line)) = hop.proxy_command.as_ref().filter(|_| builtin && *first)
            {
                commands.push(CommandRoute::new(&spec.host, command, line));
            }
            let hop = jump_host(spec, hop, &settings.login);
            if let (Some(why), Some(out)) = (address_problem(&hop.address), out.as_deref_mut()) {
                out.error(&at, format!("invalid jump host {:?}: {why}", hop.address));
            }
            settings.jumps.push(hop);
        }
    }
    (settings, found.host_name, commands)
}

/// A host, or a jump host on its way, that the configuration routes through a
/// `ProxyCommand`: the built-in client would dial it directly, so it is refused.
pub(super) struct CommandRoute {
    host: String,
    command: String,
    line: Place,
}

impl CommandRoute {
    fn new(host: &str, command: &str, line: &Place) -> CommandRoute {
        CommandRoute {
            host: host.to_string(),
            command: command.to_string(),
            line: line.clone(),
        }
    }
}

/// Refuses each `ProxyCommand` line of `routes` not refused yet for this host entry (`seen`
/// holds the lines already named), naming the file, the line and the host.
pub(super) fn refuse_proxy_commands(
    routes: &[CommandRoute],
    path: &str,
    seen: &mut std::collections::BTreeSet<Place>,
    out: &mut Collector,
) {
    for route in routes.iter().filter(|r| seen.insert(r.line.clone())) {
        out.error(
            format!("{path}.ssh"),
            format!(
                "{}: {} is reached through `ProxyCommand {}`, which blackstart's built-in \
                 SSH client does not run (it would dial {} directly); use `ssh: {{ client: \
                 openssh }}`",
                route.line, route.host, route.command, route.host
            ),
        )
        .hint(
            "use `ssh: { client: openssh }` to have the system ssh run it; or write the \
             bastion as `ProxyJump` in that file, or as `ssh.proxy_jump` in the topology \
             (`proxy_jump: none` if the host is reachable directly)",
        );
    }
}

/// The host's own login: the topology's fields, then the configuration's (file names with
/// their tokens expanded), then the built-in defaults.
fn host_login(
    (own, inherited): (&RawSsh, &RawSsh),
    alias: &str,
    found: &HostConfig,
    base_dir: &Path,
) -> SshLogin {
    let pick = |field: fn(&RawSsh) -> Option<&String>| field(own).or_else(|| field(inherited));
    let written_key = pick(|s| s.key.as_ref()).map(|key| absolute(key, base_dir));
    let written_known = pick(|s| s.known_hosts.as_ref()).map(|f| absolute(f, base_dir));
    let user = pick(|s| s.user.as_ref())
        .cloned()
        .or_else(|| found.user.clone())
        .unwrap_or_else(|| defaults::SSH_USER.into());
    let port = own
        .port
        .or(inherited.port)
        .or(found.port)
        .unwrap_or(defaults::SSH_PORT);
    let (local_user, home) = (tokens::local_user(), tokens::local_home());
    let context = tokens::Context {
        host: found.host_name.as_deref().unwrap_or(alias),
        original: alias,
        port,
        remote_user: &user,
        local_user: &local_user,
        home: &home,
        uid: tokens::local_uid(),
    };
    SshLogin {
        // The certificate goes with the configuration's key, or with the topology's when
        // the file names a certificate for it (ssh offers it with whichever key it has).
        certificate: config_file(found.certificate_file.as_deref(), &context),
        key: written_key.or_else(|| config_file(found.identity_file.as_deref(), &context)),
        known_hosts: written_known.unwrap_or_else(|| {
            config_file(found.user_known_hosts_file.as_deref(), &context)
                .unwrap_or_else(|| absolute(defaults::KNOWN_HOSTS, base_dir))
        }),
        strict_host_key_checking: own
            .strict_host_key_checking
            .or(inherited.strict_host_key_checking)
            .or(found.strict_host_key_checking)
            .unwrap_or(true),
        connect_timeout: own
            .connect_timeout
            .or(inherited.connect_timeout)
            .map(|t| t.0)
            .or(found.connect_timeout)
            .unwrap_or(defaults::SSH_CONNECT_TIMEOUT),
        user,
        port,
    }
}

/// A hop: what its `ProxyJump` spec writes, then its own `Host` block, then the host's own
/// settings (one fleet usually shares one key and one known_hosts); port 22 by default. Its
/// user defaults to the local user, as ssh's does, never to the destination's.
fn jump_host(spec: &ssh_config::JumpSpec, found: &HostConfig, host: &SshLogin) -> JumpHost {
    let (local_user, home) = (tokens::local_user(), tokens::local_home());
    let user = spec
        .user
        .clone()
        .or_else(|| found.user.clone())
        .unwrap_or_else(|| local_user.clone());
    let port = spec.port.or(found.port).unwrap_or(defaults::SSH_PORT);
    let address = found.host_name.clone().unwrap_or_else(|| spec.host.clone());
    let context = tokens::Context {
        host: &address,
        original: &spec.host,
        port,
        remote_user: &user,
        local_user: &local_user,
        home: &home,
        uid: tokens::local_uid(),
    };
    let own_key = config_file(found.identity_file.as_deref(), &context);
    let login = SshLogin {
        // The host's certificate goes with the host's key only.
        certificate: config_file(found.certificate_file.as_deref(), &context).or_else(|| {
            own_key
                .is_none()
                .then(|| host.certificate.clone())
                .flatten()
        }),
        key: own_key.or_else(|| host.key.clone()),
        known_hosts: config_file(found.user_known_hosts_file.as_deref(), &context)
            .unwrap_or_else(|| host.known_hosts.clone()),
        strict_host_key_checking: found
            .strict_host_key_checking
            .unwrap_or(host.strict_host_key_checking),
        connect_timeout: found.connect_timeout.unwrap_or(host.connect_timeout),
        user,
        port,
    };
    JumpHost {
        name: spec.host.clone(),
        address,
        login,
    }
}

/// A path from the configuration file: `~` and `%` tokens expanded as ssh expands them,
/// otherwise as written (a relative path stays relative, as for ssh).
fn config_file(path: Option<&str>, context: &tokens::Context) -> Option<PathBuf> {
    path.map(|path| PathBuf::from(tokens::expand(path, context)))
}

mod chain;
mod config_file;
mod exec;
mod openssh;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_chain;
#[cfg(test)]
mod tests_exec;
