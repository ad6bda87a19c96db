//! `Match` lines: their criteria, parsed and evaluated as ssh evaluates them in one pass.

use super::Pattern;
use crate::topology::names::glob_match;

/// One criterion of a `Match` line: `[!]kind patterns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Criterion {
    pub(super) kind: Subject,
    pub(super) negated: bool,
    /// The comma-separated pattern list (each may be `!`-negated).
    pub(super) patterns: Vec<Pattern>,
    /// `exec`'s command, as written (tokens not expanded).
    pub(super) command: String,
}

/// What a `Match` criterion looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    /// Always true.
    All,
    /// The host name so far: `HostName` when one was obtained, else what was typed.
    Host,
    /// What was typed after `ssh`.
    OriginalHost,
    /// The remote user so far (`User` when obtained, else the local user).
    User,
    /// The local user.
    LocalUser,
    /// True in the second pass that a `Match final` asks for.
    Final,
    /// True in the second pass (blackstart does not canonicalize names itself, so the only
    /// pass after canonicalization is the final one).
    Canonical,
    /// A command's exit status (0 holds), run only when the operator allowed it.
    Exec,
}

/// The criteria of a `Match` line's words.
pub(super) fn match_criteria(args: &[String]) -> Result<Vec<Criterion>, String> {
    if args.is_empty() {
        return Err("no criterion".into());
    }
    let mut criteria = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let (negated, name) = match word.strip_prefix('!') {
            Some(name) => (true, name),
            None => (false, word.as_str()),
        };
        let alone = |kind| Criterion {
            kind,
            negated,
            patterns: Vec::new(),
            command: String::new(),
        };
        let kind = match name.to_ascii_lowercase().as_str() {
            "all" => {
                criteria.push(alone(Subject::All));
                continue;
            }
            "final" => {
                criteria.push(alone(Subject::Final));
                continue;
            }
            "canonical" => {
                criteria.push(alone(Subject::Canonical));
                continue;
            }
            "host" => Subject::Host,
            "originalhost" => Subject::OriginalHost,
            "user" => Subject::User,
            "localuser" => Subject::LocalUser,
            "exec" => Subject::Exec,
            other => {
                return Err(format!(
                    "`{other}` is not a criterion blackstart reads (all, canonical, exec, \
                     final, host, localuser, originalhost, user); use `ssh: {{ client: \
                     openssh }}` if the system ssh knows it"
                ))
            }
        };
        let what = if kind == Subject::Exec {
            "a command"
        } else {
            "patterns"
        };
        let list = words
            .next()
            .ok_or_else(|| format!("`{name}` without {what}"))?;
        let mut criterion = alone(kind);
        if kind == Subject::Exec {
            criterion.command = list.clone();
        } else {
            criterion.patterns = list.split(',').map(pattern).collect();
        }
        criteria.push(criterion);
    }
    Ok(criteria)
}

/// One pattern of a list, `!` marking a negated one.
pub(super) fn pattern(word: &str) -> Pattern {
    match word.strip_prefix('!') {
        Some(glob) => Pattern {
            negated: true,
            glob: glob.to_string(),
        },
        None => Pattern {
            negated: false,
            glob: word.to_string(),
        },
    }
}

/// One of `patterns` matches `text` and none of the negated ones does (ssh's pattern lists).
pub(super) fn list_matches(patterns: &[Pattern], text: &str) -> bool {
    let mut positive = false;
    for pattern in patterns {
        if glob_match(pattern.glob.as_bytes(), text.as_bytes(), b'*', b'?') {
            if pattern.negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// What `Match` criteria are evaluated against, as resolution stands at the block.
pub(super) struct MatchState<'a> {
    pub(super) original: &'a str,
    pub(super) host: &'a str,
    pub(super) user: &'a str,
    pub(super) local_user: &'a str,
    /// The second pass (`final` and `canonical` hold).
    pub(super) final_pass: bool,
}
