//! The lines of one file into [`Entry`]s; `Include` splices the files it names in place.

use std::path::Path;

use super::matching::{match_criteria, pattern, Subject};
use super::values::{check_value, split_keyword, words};
use super::{include, Entry, Keyword, ParseError, Place, SshConfig};

/// Appends the entries of `text` (the file shown as `file`, `depth` includes deep) to
/// `config`. `budget` counts the files still allowed to be read.
pub(super) fn parse_into(
    config: &mut SshConfig,
    text: &str,
    file: &str,
    home: &Path,
    depth: usize,
    budget: &mut usize,
) -> Result<(), ParseError> {
    for (index, raw_line) in text.lines().enumerate() {
        let place = Place {
            file: file.to_string(),
            line: index + 1,
        };
        let fail = |message: String| ParseError {
            file: file.to_string(),
            line: index + 1,
            message,
        };
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
                config.entries.push(Entry::Host(patterns));
            }
            "match" => {
                let criteria =
                    match_criteria(&args).map_err(|why| fail(format!("Match: {why}")))?;
                if criteria.iter().any(|c| c.kind == Subject::Final) {
                    config.wants_final = true;
                }
                config.entries.push(Entry::Match(criteria, place));
            }
            "include" => {
                if args.is_empty() {
                    return Err(fail("`Include` without a file".into()));
                }
                for word in &args {
                    let files = include::files(word, home).map_err(&fail)?;
                    if files.is_empty() {
                        config.empty_includes.push((place.clone(), word.clone()));
                    }
                    for path in files {
                        include_one(config, &path, home, depth, budget).map_err(&fail)?;
                    }
                }
            }
            "canonicalizehostname" => {
                let value = args.first().map(|v| v.to_ascii_lowercase());
                if matches!(value.as_deref(), Some("yes" | "always")) {
                    config
                        .unfollowed
                        .push((place, format!("CanonicalizeHostname {}", args[0])));
                }
            }
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
                config.entries.push(Entry::Setting(key, value, place));
            }
        }
    }
    Ok(())
}

/// Reads and splices one included file. Its own errors name its own lines; what goes wrong
/// with the file itself is the including line's (the caller adds the place).
fn include_one(
    config: &mut SshConfig,
    path: &Path,
    home: &Path,
    depth: usize,
    budget: &mut usize,
) -> Result<(), String> {
    let shown = path.display().to_string();
    if depth + 1 > include::MAX_DEPTH {
        return Err(format!(
            "`Include` of {shown} is more than {} files deep (an Include loop?)",
            include::MAX_DEPTH
        ));
    }
    if *budget == 0 {
        return Err(format!(
            "`Include` of {shown}: more than {} files included in all",
            include::MAX_FILES
        ));
    }
    *budget -= 1;
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read the included file {shown}: {err}"))?;
    config.entries.push(Entry::IncludeStart);
    // An error inside the included file is reported at its own line.
    parse_into(config, &text, &shown, home, depth + 1, budget)
        .map_err(|err| format!("in the included file {}: {}", err.place(), err.message))?;
    config.entries.push(Entry::IncludeEnd);
    Ok(())
}
