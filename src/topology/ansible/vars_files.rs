//! `group_vars/` and `host_vars/` beside an inventory, found as ansible-core's
//! `host_group_vars` plugin finds them: for a group or host NAME, the first of `NAME`,
//! `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; when that is a directory, every file in
//! it (and in its subdirectories without an extension) named without an extension or with
//! one of those, in name order, hidden files and `~` backups skipped. Each file holds a YAML
//! mapping of variables, a later file's value replacing an earlier one. A vault-encrypted
//! file cannot be read and is warned of, never taken as empty without a word.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::yaml_value::{json, key_text};
use super::{Level, Problem, Value};
use crate::topology::depth;

/// One group's or host's variables.
pub(super) type Vars = BTreeMap<String, Value>;

/// The variables read from the files, by group name and by host name.
#[derive(Debug, Default)]
pub(super) struct VarsFiles {
    /// From `group_vars/`.
    pub groups: HashMap<String, Vars>,
    /// From `host_vars/`.
    pub hosts: HashMap<String, Vars>,
}

/// The most files read for one inventory: a bound on a hostile tree.
pub const MAX_FILES: usize = 10_000;
/// How deep directories under `group_vars/NAME/` are followed.
const MAX_DEPTH: usize = 8;
const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// Reads the files of the `groups` and `hosts` under `dir` (the inventory's directory);
/// what goes wrong is returned as problems naming each file and line.
pub(super) fn read(dir: &Path, groups: &[String], hosts: &[String]) -> (VarsFiles, Vec<Problem>) {
    let mut files = VarsFiles::default();
    let mut problems = Vec::new();
    let mut budget = MAX_FILES;
    let kinds = [
        ("group_vars", groups, &mut files.groups),
        ("host_vars", hosts, &mut files.hosts),
    ];
    for (sub, names, out) in kinds {
        let base = dir.join(sub);
        if !base.is_dir() {
            continue;
        }
        for name in names.iter().filter(|n| is_plain_name(n)) {
            let mut vars = Vars::new();
            for path in files_of(&base, name, &mut budget, &mut problems) {
                vars.extend(read_file(&path, &mut problems));
            }
            if !vars.is_empty() {
                out.insert(name.clone(), vars);
            }
        }
    }
    (files, problems)
}

/// A name that stays inside its directory when joined to it.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The files of `name` under `base`, in the order they are merged.
fn files_of(
    base: &Path,
    name: &str,
    budget: &mut usize,
    problems: &mut Vec<Problem>,
) -> Vec<PathBuf> {
    let Some(found) = EXTENSIONS
        .iter()
        .map(|ext| base.join(format!("{name}{ext}")))
        .find(|path| path.exists())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if found.is_dir() {
        walk(&found, 0, &mut out);
    } else {
        out.push(found);
    }
    if out.len() > *budget {
        problems.push(problem(
            Level::Error,
            base,
            1,
            format!("more than {MAX_FILES} variable files"),
        ));
        out.truncate(*budget);
    }
    *budget -= out.len();
    out
}

/// The variable files under `dir`, sorted by name, directories followed to [`MAX_DEPTH`].
fn walk(dir: &Path, level: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && !n.ends_with('~'))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        if path.is_dir() && ext.is_none() && level < MAX_DEPTH {
            walk(&path, level + 1, out);
        } else if path.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
}

/// The variables of one file; an unreadable or invalid file is an error, a vaulted one a
/// warning.
fn read_file(path: &Path, problems: &mut Vec<Problem>) -> Vars {
    let mut fail = |level, line, message: String| {
        problems.push(problem(level, path, line, message));
        Vars::new()
    };
    let text = match crate::topology::read_source(path) {
        Ok(text) => text,
        Err(err) => return fail(Level::Error, 1, format!("cannot read: {err}")),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim_start().starts_with("$ANSIBLE_VAULT;") {
        let why = "vault-encrypted: blackstart cannot read it, its variables are not applied";
        return fail(Level::Warning, 1, why.into());
    }
    if let Some(location) = depth::too_deep(text) {
        let why = format!("the YAML nests more than {} levels deep", depth::MAX_DEPTH);
        return fail(Level::Error, location.line, why);
    }
    match serde_yaml::from_str::<Yaml>(text) {
        Ok(Yaml::Mapping(mapping)) => mapping
            .iter()
            .map(|(key, value)| (key_text(key), json(value)))
            .collect(),
        Ok(Yaml::Null) => Vars::new(),
        Ok(_) => fail(Level::Error, 1, "not a mapping of variables".into()),
        Err(err) => {
            let line = err.location().map_or(1, |l| l.line());
            let message = err.to_string();
            let message = message.split(" at line ").next().unwrap_or("").to_string();
            fail(Level::Error, line, format!("invalid YAML: {message}"))
        }
    }
}

fn problem(level: Level, path: &Path, line: usize, message: String) -> Problem {
    let hint = match level {
        Level::Error => Some("fix the file, or move it out of the inventory's directory".into()),
        Level::Warning => None,
    };
    Problem {
        level,
        line,
        message,
        hint,
        file: Some(path.display().to_string()),
    }
}
