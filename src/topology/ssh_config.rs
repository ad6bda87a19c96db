//! The OpenSSH client configuration (`~/.ssh/config`, ssh_config(5)): parsing and the
//! resolution of one host to its settings. Both are pure; reading the file is the caller's.
//!
//! What is read: `Host` blocks (several patterns, `*`, `?`, `!` negation, matched
//! case-sensitively as ssh matches them), `HostName` (with `%h`), `User`, `Port`,
//! `IdentityFile` (the first one), `ProxyJump` (hops or `none`), `ConnectTimeout`,
//! `StrictHostKeyChecking`, `UserKnownHostsFile` (the first file). File names keep their
//! `%` tokens here; [`tokens::expand`] replaces them once the connection is known. An
//! unquoted `#` starts a comment anywhere on a line. As in
//! ssh, the first value obtained for a keyword wins, blocks in file order; `ProxyJump` and
//! `ProxyCommand` compete, the first obtained of either one winning. `ProxyCommand` is only
//! read so that a host routed by it is refused rather than dialled directly, and
//! `CertificateFile` so that it is warned of. Other keywords are ignored. `Match` blocks with
//! the criteria `all`, `host`, `originalhost`, `user` and `localuser` (negated with `!`,
//! comma-separated pattern lists) apply as ssh evaluates them in one pass; a `Match` with any
//! other criterion (`exec`, `final`, `canonical`, ...) is never applied, and `Include` is not
//! followed (both are named so the loader can warn, and `client: openssh` follows them).

mod matching;
pub mod tokens;
mod values;

use std::time::Duration;

use matching::{
    list_matches, match_criteria, pattern, Criterion, MatchProblem, MatchState, Subject,
};
pub use values::parse_proxy_jump;
use values::{check_value, parse_port, parse_strict, parse_timeout, split_keyword, words};

/// A parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfig {
    blocks: Vec<Block>,
    /// Lines that ask for something this reader does not do (`Match`, `Include`), with their
    /// 1-based line numbers.
    pub unsupported: Vec<(usize, String)>,
    /// `CertificateFile` lines (1-based), which the built-in client cannot honour.
    pub certificate_files: Vec<usize>,
    /// The file, as messages show it (set by whoever read it; empty otherwise).
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// `None` for the lines before the first `Host` (they apply to every host) and for a
    /// `Match` block (its criteria decide).
    patterns: Option<Vec<Pattern>>,
    /// A `Match` block's criteria, all of which must hold.
    criteria: Option<Vec<Criterion>>,
    /// False for a `Match` block with a criterion this reader does not evaluate.
    applies: bool,
    settings: Vec<(Keyword, String, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negated: bool,
    glob: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    HostName,
    User,
    Port,
    IdentityFile,
    ProxyJump,
    ConnectTimeout,
    StrictHostKeyChecking,
    UserKnownHostsFile,
    ProxyCommand,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word.to_ascii_lowercase().as_str() {
            "hostname" => Keyword::HostName,
            "user" => Keyword::User,
            "port" => Keyword::Port,
            "identityfile" => Keyword::IdentityFile,
            "proxyjump" => Keyword::ProxyJump,
            "connecttimeout" => Keyword::ConnectTimeout,
            "stricthostkeychecking" => Keyword::StrictHostKeyChecking,
            "userknownhostsfile" => Keyword::UserKnownHostsFile,
            "proxycommand" => Keyword::ProxyCommand,
            _ => return None,
        })
    }
}

/// A line of the file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One hop of a `ProxyJump`, as written: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    /// Login user, when written.
    pub user: Option<String>,
    /// Host (an alias looked up in the configuration, or an address).
    pub host: String,
    /// Port, when written.
    pub port: Option<u16>,
}

/// What `ProxyJump` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyJump {
    /// `none`: connect directly (and stop later blocks from adding hops).
    None,
    /// Hops in order, the first one dialled directly.
    Hops(Vec<JumpSpec>),
}

/// The settings the configuration gives one host; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// The address to dial (`%h` already replaced).
    pub host_name: Option<String>,
    /// Login user.
    pub user: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Private key file, `~` and `%` tokens not expanded.
    pub identity_file: Option<String>,
    /// Jump hosts.
    pub proxy_jump: Option<ProxyJump>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Strict host-key checking (`accept-new` counts as strict: no trust on first use).
    pub strict_host_key_checking: Option<bool>,
    /// known_hosts file, `~` and `%` tokens not expanded.
    pub user_known_hosts_file: Option<String>,
    /// A `ProxyCommand` other than `none` obtained before any `ProxyJump`: the command and
    /// its 1-based line. The built-in client does not run it.
    pub proxy_command: Option<(String, usize)>,
}

/// Parses a configuration file's text.
pub fn parse(text: &str) -> Result<SshConfig, ParseError> {
    let mut config = SshConfig {
        blocks: vec![Block {
            patterns: None,
            criteria: None,
            applies: true,
            settings: Vec::new(),
        }],
        unsupported: Vec::new(),
        certificate_files: Vec::new(),
        file: String::new(),
    };
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |message: String| ParseError { line, message };
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (keyword, rest) = split_keyword(trimmed);
        let args = words(rest).map_err(|why| fail(format!("{keyword}: {why}")))?;
        match keyword.to_ascii_lowercase().as_str() {
            "host" => {
                if args.is_empty() {
                    return Err(fail("`Host` without a pattern".into()));
                }
                let patterns = args.iter().map(|word| pattern(word)).collect();
                config.blocks.push(Block {
                    patterns: Some(patterns),
                    criteria: None,
                    applies: true,
                    settings: Vec::new(),
                });
            }
            "match" => {
                let (criteria, applies) = match match_criteria(&args) {
                    Ok(criteria) => (criteria, true),
                    Err(MatchProblem::Unsupported(what)) => {
                        config.unsupported.push((line, format!("Match {what}")));
                        (Vec::new(), false)
                    }
                    Err(MatchProblem::Invalid(why)) => return Err(fail(format!("Match: {why}"))),
                };
                config.blocks.push(Block {
                    patterns: None,
                    criteria: Some(criteria),
                    applies,
                    settings: Vec::new(),
                });
            }
            "include" => config.unsupported.push((line, "Include".into())),
            "certificatefile" => config.certificate_files.push(line),
            _ => {
                let Some(key) = Keyword::from_word(keyword) else {
                    continue;
                };
                let Some(value) = args.first() else {
                    return Err(fail(format!("`{keyword}` without a value")));
                };
                // A command is the rest of the line, as ssh runs it.
                let value = match key {
                    Keyword::ProxyCommand => rest.to_string(),
                    _ => value.clone(),
                };
                check_value(key, &value).map_err(|why| fail(format!("{keyword}: {why}")))?;
                let block = config
                    .blocks
                    .last_mut()
                    .expect("the first block always exists");
                block.settings.push((key, value, line));
            }
        }
    }
    Ok(config)
}

impl Block {
    /// A `Host` block applies when one of its patterns matches and none of its negated ones
    /// does; a `Match` block when every criterion holds.
    fn matches(&self, state: &MatchState) -> bool {
        if !self.applies {
            return false;
        }
        if let Some(criteria) = &self.criteria {
            return criteria.iter().all(|c| {
                let text = match c.kind {
                    Subject::All => return !c.negated,
                    Subject::Host => state.host,
                    Subject::OriginalHost => state.original,
                    Subject::User => state.user,
                    Subject::LocalUser => state.local_user,
                };
                list_matches(&c.patterns, text) != c.negated
            });
        }
        match &self.patterns {
            None => true,
            Some(patterns) => list_matches(patterns, state.original),
        }
    }
}

impl SshConfig {
    /// The settings for `host` (the name as one would type it after `ssh`, matched against
    /// the patterns case-sensitively): the first value obtained for each keyword, blocks in
    /// file order.
    pub fn resolve(&self, host: &str) -> HostConfig {
        self.resolve_as(host, &tokens::local_user())
    }

    /// [`SshConfig::resolve`] for the local user `local_user`. `Match host` sees the
    /// `HostName` obtained so far, `Match user` the `User` obtained so far (else the local
    /// user), as ssh evaluates them in one pass.
    pub fn resolve_as(&self, host: &str, local_user: &str) -> HostConfig {
        let mut out = HostConfig::default();
        for block in &self.blocks {
            let state = MatchState {
                original: host,
                host: out.host_name.as_deref().unwrap_or(host),
                user: out.user.as_deref().unwrap_or(local_user),
                local_user,
            };
            if !block.matches(&state) {
                continue;
            }
            for (key, value, line) in &block.settings {
                // Values were checked by `parse`; a failed conversion cannot happen here.
                match key {
                    Keyword::HostName => {
                        set(&mut out.host_name, || Some(value.replace("%h", host)))
                    }
                    Keyword::User => set(&mut out.user, || Some(value.clone())),
                    Keyword::Port => set(&mut out.port, || parse_port(value).ok()),
                    Keyword::IdentityFile => set(&mut out.identity_file, || Some(value.clone())),
                    Keyword::ProxyJump if out.proxy_command.is_none() => {
                        set(&mut out.proxy_jump, || parse_proxy_jump(value).ok())
                    }
                    Keyword::ProxyCommand
                        if out.proxy_jump.is_none() && out.proxy_command.is_none() =>
                    {
                        if value.eq_ignore_ascii_case("none") {
                            out.proxy_jump = Some(ProxyJump::None);
                        } else {
                            set(&mut out.proxy_command, || Some((value.clone(), *line)));
                        }
                    }
                    Keyword::ProxyJump | Keyword::ProxyCommand => {}
                    Keyword::ConnectTimeout => {
                        set(&mut out.connect_timeout, || parse_timeout(value).ok())
                    }
                    Keyword::StrictHostKeyChecking => {
                        set(&mut out.strict_host_key_checking, || {
                            parse_strict(value).ok()
                        })
                    }
                    Keyword::UserKnownHostsFile => {
                        set(&mut out.user_known_hosts_file, || Some(value.clone()))
                    }
                }
            }
        }
        out
    }
}

/// First obtained value wins.
fn set<T>(slot: &mut Option<T>, value: impl FnOnce() -> Option<T>) {
    if slot.is_none() {
        *slot = value();
    }
}

#[cfg(test)]
mod tests;
