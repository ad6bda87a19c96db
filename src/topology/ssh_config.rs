//! The OpenSSH client configuration (`~/.ssh/config`, ssh_config(5)): parsing and the
//! resolution of one host to its settings. Resolution is pure; parsing reads the files that
//! `Include` names (the caller reads the first one).
//!
//! What is read: `Host` blocks (several patterns, `*`, `?`, `!` negation, matched
//! case-sensitively as ssh matches them), `HostName` (with `%h`), `User`, `Port`,
//! `IdentityFile` (the first one), `ProxyJump` (hops or `none`), `ConnectTimeout`,
//! `StrictHostKeyChecking`, `UserKnownHostsFile` (the first file), `CertificateFile` (the
//! first file). File names keep their
//! `%` tokens here; [`tokens::expand`] replaces them once the connection is known. An
//! unquoted `#` starts a comment anywhere on a line. As in
//! ssh, the first value obtained for a keyword wins, blocks in file order; `ProxyJump` and
//! `ProxyCommand` compete, the first obtained of either one winning. `ProxyCommand` is only
//! read so that a host routed by it is refused rather than dialled directly, and
//! `CanonicalizeHostname` so that it is warned of.
//! Other keywords are ignored.
//!
//! `Include` is followed as ssh follows it (see [`include`]). `Match` blocks with the
//! criteria `all`, `host`, `originalhost`, `user`, `localuser`, `final`, `canonical` and
//! `exec` (negated with `!`, comma-separated pattern lists) apply as ssh evaluates them: one
//! pass, then a second (final) pass over the `HostName` obtained when any `Match final` is
//! written, in which `final` and `canonical` hold. `exec` commands are handed to the
//! caller, which runs them only when the operator allowed it (see [`SshConfig::resolve_with`]).

mod include;
mod matching;
mod parse;
mod resolve;
pub mod tokens;
mod values;

use std::fmt;
use std::time::Duration;

use matching::Criterion;
pub use resolve::ExecRequest;
pub use values::parse_proxy_jump;

/// A line of a configuration file, as messages name it: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// The file, as messages show it (empty when the text came from nowhere).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "line {}", self.line)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// A parsed configuration file, its `Include`d files spliced in where they are named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfig {
    entries: Vec<Entry>,
    /// True when a `Match final` is written anywhere: ssh then reads the file twice.
    wants_final: bool,
    /// Lines that ask for what this reader does not do (`CanonicalizeHostname yes`), with
    /// what they ask.
    pub unfollowed: Vec<(Place, String)>,
    /// `Include` lines that matched no file (ssh takes that silently; blackstart says so).
    pub empty_includes: Vec<(Place, String)>,
    /// The file, as messages show it (set by whoever read it; empty otherwise).
    pub file: String,
}

/// One line that matters to resolution, in the order ssh reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `Host` patterns: starts a block.
    Host(Vec<Pattern>),
    /// `Match` criteria, all of which must hold: starts a block.
    Match(Vec<Criterion>, Place),
    /// A setting of the current block.
    Setting(Keyword, String, Place),
    /// An included file starts: its blocks apply only if the including block does, and
    /// the including block resumes after [`Entry::IncludeEnd`].
    IncludeStart,
    /// The included file ends.
    IncludeEnd,
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
    CertificateFile,
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
            "certificatefile" => Keyword::CertificateFile,
            _ => return None,
        })
    }
}

/// A line of a file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file, as messages show it (empty for the text given to [`parse`]).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    /// The place of the error: `file:line`.
    pub fn place(&self) -> Place {
        Place {
            file: self.file.clone(),
            line: self.line,
        }
    }
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
    /// User certificate offered with the key (`CertificateFile`), tokens not expanded.
    pub certificate_file: Option<String>,
    /// Jump hosts.
    pub proxy_jump: Option<ProxyJump>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Strict host-key checking (`accept-new` counts as strict: no trust on first use).
    pub strict_host_key_checking: Option<bool>,
    /// known_hosts file, `~` and `%` tokens not expanded.
    pub user_known_hosts_file: Option<String>,
    /// A `ProxyCommand` other than `none` obtained before any `ProxyJump`: the command and
    /// its line. The built-in client does not run it.
    pub proxy_command: Option<(String, Place)>,
}

/// Parses a configuration's text (messages name its lines only). `Include` reads files
/// relative to `~/.ssh`.
pub fn parse(text: &str) -> Result<SshConfig, ParseError> {
    parse_file(text, "", std::path::Path::new(&tokens::local_home()))
}

/// Parses the text of the file shown as `file`, following `Include` (relative names under
/// `home/.ssh`, `~` as `home`), at most [`include::MAX_DEPTH`] deep.
pub fn parse_file(text: &str, file: &str, home: &std::path::Path) -> Result<SshConfig, ParseError> {
    let mut config = SshConfig {
        file: file.to_string(),
        ..SshConfig::default()
    };
    let mut budget = include::MAX_FILES;
    parse::parse_into(&mut config, text, file, home, 0, &mut budget)?;
    Ok(config)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_include;
