//! One host's settings from the parsed entries, as ssh reads them: the first value obtained
//! for each keyword wins, a first pass over what was typed and, when a `Match final` is
//! written, a second pass over the `HostName` obtained in which `final` and `canonical` hold.

use super::matching::{list_matches, MatchState, Subject};
use super::values::{parse_port, parse_proxy_jump, parse_strict, parse_timeout};
use super::{tokens, Entry, HostConfig, Keyword, Place, ProxyJump, SshConfig};

/// A `Match exec` line reached while resolving a host (every criterion before it held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest<'a> {
    /// The `Match` line.
    pub place: &'a Place,
    /// The command with its tokens expanded (`%h`, `%n`, `%p`, `%r`, `%u`, `%d`, `%i`),
    /// or why it must not reach a shell (a value with characters a shell would read).
    pub command: Result<String, String>,
}

impl SshConfig {
    /// The settings for `host` (the name as one would type it after `ssh`, matched against
    /// the patterns case-sensitively), no `Match exec` command run (such a criterion does
    /// not hold).
    pub fn resolve(&self, host: &str) -> HostConfig {
        self.resolve_as(host, &tokens::local_user())
    }

    /// [`SshConfig::resolve`] for the local user `local_user`.
    pub fn resolve_as(&self, host: &str, local_user: &str) -> HostConfig {
        self.resolve_with(host, local_user, &mut |_| false)
    }

    /// The settings for `host` as the local user `local_user`. `Match host` sees the
    /// `HostName` obtained so far, `Match user` the `User` obtained so far (else the local
    /// user), as ssh evaluates them. `exec` decides each `Match exec` reached: true when the
    /// command ran and exited 0 (the caller runs it, or refuses to and says so).
    pub fn resolve_with(
        &self,
        host: &str,
        local_user: &str,
        exec: &mut dyn FnMut(ExecRequest) -> bool,
    ) -> HostConfig {
        let mut out = HostConfig::default();
        self.pass(host, host, local_user, false, exec, &mut out);
        if self.wants_final {
            let name = out.host_name.clone().unwrap_or_else(|| host.to_string());
            self.pass(&name, host, local_user, true, exec, &mut out);
        }
        out
    }

    /// One reading of the entries for the host named `name` (typed as `original`).
    fn pass(
        &self,
        name: &str,
        original: &str,
        local_user: &str,
        final_pass: bool,
        exec: &mut dyn FnMut(ExecRequest) -> bool,
        out: &mut HostConfig,
    ) {
        // The lines before the first block apply to every host.
        let mut active = true;
        // While reading an included file: whether the including block applied, restored
        // at its end; a file included by a block that does not apply matches nothing.
        let mut stack: Vec<bool> = Vec::new();
        let never = |stack: &[bool]| stack.iter().any(|applied| !applied);
        for entry in &self.entries {
            match entry {
                Entry::IncludeStart => stack.push(active),
                Entry::IncludeEnd => active = stack.pop().unwrap_or(true),
                Entry::Host(patterns) => {
                    active = !never(&stack) && list_matches(patterns, name);
                }
                Entry::Match(criteria, place) => {
                    let state = MatchState {
                        original,
                        host: out.host_name.as_deref().unwrap_or(name),
                        user: out.user.as_deref().unwrap_or(local_user),
                        local_user,
                        final_pass,
                    };
                    // As ssh does, every criterion is looked at, but a command only runs
                    // while all before it held.
                    let mut holds = true;
                    for c in criteria {
                        let this = match c.kind {
                            Subject::All => true,
                            Subject::Final | Subject::Canonical => state.final_pass,
                            Subject::Host => list_matches(&c.patterns, state.host),
                            Subject::OriginalHost => list_matches(&c.patterns, state.original),
                            Subject::User => list_matches(&c.patterns, state.user),
                            Subject::LocalUser => list_matches(&c.patterns, state.local_user),
                            Subject::Exec if !holds => false,
                            Subject::Exec => exec(ExecRequest {
                                place,
                                command: exec_command(&c.command, &state, out),
                            }),
                        };
                        holds &= this != c.negated;
                    }
                    active = !never(&stack) && holds;
                }
                Entry::Setting(key, value, place) if active => {
                    apply(out, *key, value, place, original)
                }
                Entry::Setting(..) => {}
            }
        }
    }
}

/// `command` with its tokens expanded for the host as resolution stands, unless a value
/// holds characters a shell would read.
fn exec_command(command: &str, state: &MatchState, out: &HostConfig) -> Result<String, String> {
    let home = tokens::local_home();
    let context = tokens::Context {
        host: state.host,
        original: state.original,
        port: out.port.unwrap_or(22),
        remote_user: state.user,
        local_user: state.local_user,
        home: &home,
        uid: tokens::local_uid(),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-:@/+".contains(c);
    for value in [
        state.host,
        state.original,
        state.user,
        state.local_user,
        &home,
    ] {
        if !value.chars().all(plain) {
            return Err(format!(
                "{value:?} would reach the shell with characters it reads"
            ));
        }
    }
    Ok(tokens::expand(command, &context))
}

/// Takes one setting unless a value was obtained already.
fn apply(out: &mut HostConfig, key: Keyword, value: &str, place: &Place, original: &str) {
    // Values were checked by `parse`; a failed conversion cannot happen here.
    match key {
        Keyword::HostName => set(&mut out.host_name, || Some(value.replace("%h", original))),
        Keyword::User => set(&mut out.user, || Some(value.to_string())),
        Keyword::Port => set(&mut out.port, || parse_port(value).ok()),
        Keyword::IdentityFile => set(&mut out.identity_file, || Some(value.to_string())),
        Keyword::CertificateFile => set(&mut out.certificate_file, || Some(value.to_string())),
        Keyword::ProxyJump if out.proxy_command.is_none() => {
            set(&mut out.proxy_jump, || parse_proxy_jump(value).ok())
        }
        Keyword::ProxyCommand if out.proxy_jump.is_none() && out.proxy_command.is_none() => {
            if value.eq_ignore_ascii_case("none") {
                out.proxy_jump = Some(ProxyJump::None);
            } else {
                out.proxy_command = Some((value.to_string(), place.clone()));
            }
        }
        Keyword::ProxyJump | Keyword::ProxyCommand => {}
        Keyword::ConnectTimeout => set(&mut out.connect_timeout, || parse_timeout(value).ok()),
        Keyword::StrictHostKeyChecking => set(&mut out.strict_host_key_checking, || {
            parse_strict(value).ok()
        }),
        Keyword::UserKnownHostsFile => {
            set(&mut out.user_known_hosts_file, || Some(value.to_string()))
        }
    }
}

/// First obtained value wins.
fn set<T>(slot: &mut Option<T>, value: impl FnOnce() -> Option<T>) {
    if slot.is_none() {
        *slot = value();
    }
}
