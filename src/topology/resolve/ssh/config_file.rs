//! Reading one host entry's SSH configuration file, and what the built-in client says about
//! the directives in it that it does not follow.

use std::path::{Path, PathBuf};

use crate::topology::diagnostic::Collector;
use crate::topology::ssh_config::{self, tokens, SshConfig};

/// Reads and parses `file`. A missing implicit file is no configuration; a named one that is
/// missing, and any file that does not parse, is an error at `at` (or the host entry).
pub(super) fn read(
    file: &Path,
    at: Option<&str>,
    entry: &str,
    out: &mut Collector,
) -> Option<SshConfig> {
    let shown = file.display();
    let place = at.map_or_else(|| format!("{entry}.ssh"), String::from);
    let text = match crate::topology::read_source(file) {
        Ok(text) => text,
        Err(err) if at.is_none() && err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            out.error(&place, format!("cannot read SSH config {shown}: {err}"))
                .hint("name a readable OpenSSH client configuration file, or write `config: none`");
            return None;
        }
    };
    let home = PathBuf::from(tokens::local_home());
    match ssh_config::parse_file(&text, &shown.to_string(), &home) {
        Ok(config) => Some(config),
        Err(err) => {
            out.error(
                &place,
                format!("SSH config {}: {}", err.place(), err.message),
            )
            .hint("fix that line (ssh_config(5)), or write `config: none` to ignore the file");
            None
        }
    }
}

/// Warns about what the built-in client reads but does not follow in `config`
/// (`CanonicalizeHostname`) and about an `Include` that names no file, at `at` (or the host
/// entry `entry`).
pub(super) fn warn_unfollowed(
    config: &SshConfig,
    at: Option<&str>,
    entry: &str,
    out: &mut Collector,
) {
    let place = at.map_or_else(|| format!("{entry}.ssh"), String::from);
    for (line, what) in &config.unfollowed {
        out.warning(
            &place,
            format!("{line}: `{what}` is not followed by blackstart's built-in SSH client"),
        )
        .hint(
            "write the names the fleet needs in the topology or as `HostName`, or use \
             `ssh: { client: openssh }` to let the system ssh canonicalize them",
        );
    }
    for (line, word) in &config.empty_includes {
        // ssh takes `%` literally in `Include` (no tokens there), which surprises people
        // used to `IdentityFile ~/.ssh/%h`: say so where it would explain the miss.
        let hint = if word.contains('%') {
            "`%` tokens are not expanded in `Include` (ssh reads them literally); name the \
             file, or use a `*` glob"
        } else {
            "relative names are under ~/.ssh; check the name, or remove the line"
        };
        out.warning(
            &place,
            format!("{line}: `Include {word}` names no file (nothing included, as in ssh)"),
        )
        .hint(hint);
    }
}
