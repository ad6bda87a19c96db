//! `Include`: which files one word names, as ssh finds them. A relative name is under
//! `~/.ssh` (blackstart reads a user configuration, as `ssh -F` does), `~` is the home
//! directory, and `*`/`?` match within one path component (never a leading `.`), the
//! files in sorted order. A name that matches no file includes nothing, as in ssh.

use std::path::{Path, PathBuf};

use crate::topology::names::glob_match;

/// How deep includes may nest (ssh's own limit).
pub const MAX_DEPTH: usize = 16;

/// How many files one configuration may include in all (bounds a fan-out of globs).
pub const MAX_FILES: usize = 256;

/// The files `word` names, sorted.
pub(super) fn files(word: &str, home: &Path) -> Result<Vec<PathBuf>, String> {
    if word.contains('[') {
        return Err(format!(
            "`Include {word}`: `[...]` character classes are not read by blackstart; \
             write the names with `*` or `?`, or one `Include` per file"
        ));
    }
    let path = if word == "~" {
        home.to_path_buf()
    } else if let Some(rest) = word.strip_prefix("~/") {
        home.join(rest)
    } else if word.starts_with('/') {
        PathBuf::from(word)
    } else {
        home.join(".ssh").join(word)
    };
    // HOME unset leaves a relative path, looked up from the working directory.
    let (mut found, skip) = match path.has_root() {
        true => (vec![PathBuf::from("/")], 1),
        false => (vec![PathBuf::from(".")], 0),
    };
    for component in path.components().skip(skip) {
        let name = component.as_os_str().to_string_lossy().to_string();
        let magic = name.contains(['*', '?']);
        let mut next = Vec::new();
        for dir in &found {
            if !magic {
                next.push(dir.join(&name));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().to_string();
                let hidden = file.starts_with('.') && !name.starts_with('.');
                if !hidden && glob_match(name.as_bytes(), file.as_bytes(), b'*', b'?') {
                    next.push(dir.join(file));
                }
            }
            if next.len() > MAX_FILES {
                return Err(format!(
                    "`Include {word}` matches more than {MAX_FILES} files"
                ));
            }
        }
        found = next;
    }
    found.retain(|path| path.exists());
    found.sort();
    Ok(found)
}
