//! The `%` tokens of ssh_config(5) (TOKENS) and the leading `~` in the file names a
//! configuration gives (`IdentityFile`, `UserKnownHostsFile`), expanded as `ssh` expands
//! them, so that a prerequisite check looks for the file `ssh` would read. Tokens
//! blackstart cannot know (`%C`, `%j`, `%k`, `%l`, `%L`, `%T`) are refused when the file is
//! parsed, never left in a path.

/// The tokens [`expand`] replaces, as a hint names them.
pub const KNOWN: &str = "%%, %d, %h, %i, %n, %p, %r, %u";

/// What the tokens of one connection stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context<'a> {
    /// `%h`: the remote host name, after `HostName`.
    pub host: &'a str,
    /// `%n`: the host name as given (the alias).
    pub original: &'a str,
    /// `%p`: the remote port.
    pub port: u16,
    /// `%r`: the remote user.
    pub remote_user: &'a str,
    /// `%u`: the local user.
    pub local_user: &'a str,
    /// `%d` and `~`: the local user's home directory.
    pub home: &'a str,
    /// `%i`: the local user id.
    pub uid: u32,
}

/// Checks that `value` holds only tokens [`expand`] knows; the error names the first other.
pub fn check(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('%' | 'd' | 'h' | 'i' | 'n' | 'p' | 'r' | 'u') => {}
            Some(other) => {
                return Err(format!(
                    "the token %{other} is not expanded by blackstart (it knows {KNOWN})"
                ))
            }
            None => return Err("a `%` at the end of the value (write `%%` for a `%`)".into()),
        }
    }
    Ok(())
}

/// `value` with a leading `~/` and its tokens replaced. Call [`check`] first: a token it
/// would refuse is kept as written.
pub fn expand(value: &str, context: &Context) -> String {
    let (mut out, rest) = match value.strip_prefix("~/") {
        Some(rest) => (format!("{}/", context.home.trim_end_matches('/')), rest),
        None if value == "~" => return context.home.to_string(),
        None => (String::new(), value),
    };
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('d') => out.push_str(context.home),
            Some('h') => out.push_str(context.host),
            Some('i') => out.push_str(&context.uid.to_string()),
            Some('n') => out.push_str(context.original),
            Some('p') => out.push_str(&context.port.to_string()),
            Some('r') => out.push_str(context.remote_user),
            Some('u') => out.push_str(context.local_user),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// The local user's name as `ssh` takes it: the password database entry of the real user
/// id, else `$USER`, else `unknown`.
pub fn local_user() -> String {
    passwd_name()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The local home directory: `$HOME` (as `~` is expanded everywhere in blackstart).
pub fn local_home() -> String {
    std::env::var("HOME").unwrap_or_default()
}

/// The real user id.
pub fn local_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn passwd_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid value for getpwuid_r to fill in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf` outlives the use of `entry`.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name points at a NUL-terminated string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context<'static> {
        Context {
            host: "10.0.2.11",
            original: "db1",
            port: 2200,
            remote_user: "dba",
            local_user: "alice",
            home: "/home/alice",
            uid: 1000,
        }
    }

    #[test]
    fn every_known_token_and_the_tilde_are_expanded() {
        let c = context();
        assert_eq!(
            expand("~/.ssh/%h-%n_%p_%r_%u_%i_100%%", &c),
            "/home/alice/.ssh/10.0.2.11-db1_2200_dba_alice_1000_100%"
        );
        assert_eq!(expand("%d/.ssh/id_%r", &c), "/home/alice/.ssh/id_dba");
        assert_eq!(expand("/keys/plain", &c), "/keys/plain");
    }

    #[test]
    fn tokens_blackstart_cannot_know_are_refused() {
        assert!(check("~/.ssh/%h/%r%%").is_ok());
        let err = check("~/.ssh/cm-%C").unwrap_err();
        assert!(err.contains("%C"), "{err}");
        assert!(check("/keys/100%").unwrap_err().contains("%%"));
    }

    #[test]
    fn the_local_user_is_never_empty() {
        assert!(!local_user().is_empty());
    }
}
