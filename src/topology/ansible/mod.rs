//! Ansible inventories, INI and YAML, read the way `ansible-inventory --list` reads them:
//! host ranges expanded, `:children` nested (loops refused), group variables merged under
//! host variables with Ansible's precedence (deeper groups over their parents, `all`
//! lowest; groups of one depth by `ansible_group_priority`, then by name), and, for an
//! inventory file, the `group_vars/` and `host_vars/` beside it over those.
//!
//! [`parse`] is pure: text in, [`Inventory`] or located [`Problem`]s out; [`load`] reads
//! the files. Turning inventory hosts into
//! topology hosts is `topology/resolve/inventory.rs`'s job.

mod groups;
mod host_pattern;
mod ini;
mod literal;
pub mod skeleton;
mod vars_files;
pub mod withheld;
mod yaml;
mod yaml_value;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use groups::Builder;

/// A variable's value, as Ansible holds it (INI values are read as Python literals).
pub type Value = serde_json::Value;

/// The most hosts one inventory may declare, ranges expanded (as for a topology).
pub const MAX_HOSTS: usize = 100_000;
/// The most groups one inventory may declare.
pub const MAX_GROUPS: usize = 10_000;
/// The most (host, group) memberships, every ancestor counted: bounds the work of merging
/// variables on a hostile file.
pub const MAX_MEMBERSHIPS: usize = 1_000_000;

/// How an inventory is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `[group]`, `[group:vars]`, `[group:children]` sections.
    Ini,
    /// Groups as mappings with `hosts`, `vars` and `children`.
    Yaml,
}

impl Format {
    /// The format a file name says, as ansible-core's plugins decide: `.yaml`, `.yml` and
    /// `.json` are YAML, any other extension INI; `None` without an extension (Ansible then
    /// tries YAML first, then INI, and so does [`parse`]).
    pub fn of_path(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml" | "json") => Some(Format::Yaml),
            Some(_) => Some(Format::Ini),
            None => None,
        }
    }
}

/// Whether a [`Problem`] stops the inventory from being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The inventory cannot be used.
    Error,
    /// Skipped, as Ansible skips it with a warning.
    Warning,
}

/// One finding in an inventory, at its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error or warning.
    pub level: Level,
    /// The 1-based line (1 when the whole file is concerned).
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The file, when it is not the inventory itself (a `group_vars/` file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Problem {
    /// `file:line`, the file being `inventory` unless the problem names its own.
    pub fn place(&self, inventory: &str) -> String {
        format!(
            "{}:{}",
            self.file.as_deref().unwrap_or(inventory),
            self.line
        )
    }
}

/// A group as declared: its own hosts, children and variables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Where it is first declared (0 for the implicit `all` and `ungrouped`).
    pub line: usize,
    /// Direct child groups.
    pub children: Vec<String>,
    /// Hosts listed directly in the group.
    pub hosts: Vec<String>,
    /// The group's own variables (`[group:vars]`, `vars:`).
    pub vars: BTreeMap<String, Value>,
}

/// A host with everything Ansible knows of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryHost {
    /// The host's inventory name.
    pub name: String,
    /// Where it is first declared.
    pub line: usize,
    /// Every group it belongs to, directly or through `children`, `all` left out; sorted.
    pub groups: Vec<String>,
    /// Its variables, group variables merged under its own by Ansible's precedence.
    pub vars: BTreeMap<String, Value>,
}

impl InventoryHost {
    /// `ansible_host` (else the legacy `ansible_ssh_host`): the address to connect to.
    pub fn address(&self) -> Option<String> {
        scalar_text(self.connection_var("host")?.1)
    }

    /// `ansible_user` (else the legacy `ansible_ssh_user`): the SSH login, when set.
    pub fn user(&self) -> Option<String> {
        scalar_text(self.connection_var("user")?.1)
    }

    /// `ansible_port` (else the legacy `ansible_ssh_port`; or the `host:PORT` of its line):
    /// the SSH port, when set; an error says why a value set is no port.
    pub fn port(&self) -> Result<Option<u16>, String> {
        let Some((name, value)) = self.connection_var("port") else {
            return Ok(None);
        };
        let text = match value {
            Value::Number(number) => number.to_string(),
            Value::String(text) => text.trim().to_string(),
            other => return Err(format!("{name} {other} is not a port number")),
        };
        match text.parse::<u16>() {
            Ok(port) if port > 0 => Ok(Some(port)),
            _ => Err(format!("{name} {text:?} is not a port between 1 and 65535")),
        }
    }

    /// The connection variable `ansible_WHAT`, else its legacy spelling `ansible_ssh_WHAT`
    /// (still honoured by ansible-core); the modern one wins when both are set. With the
    /// name it was found under.
    fn connection_var(&self, what: &str) -> Option<(String, &Value)> {
        [format!("ansible_{what}"), format!("ansible_ssh_{what}")]
            .into_iter()
            .find_map(|name| self.vars.get(&name).map(|value| (name, value)))
    }

    /// A scalar variable as text (numbers and booleans written as Ansible prints them).
    pub fn text_var(&self, name: &str) -> Option<String> {
        scalar_text(self.vars.get(name)?)
    }
}

/// A scalar value as text; `None` for null, lists and mappings.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A parsed inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// Which format it was read as.
    pub format: Format,
    /// Hosts in order of first appearance.
    pub hosts: Vec<InventoryHost>,
    /// Groups in order of first appearance, `all` and `ungrouped` first.
    pub groups: Vec<Group>,
    /// What was skipped, as Ansible skips it.
    pub warnings: Vec<Problem>,
}

/// Parses an inventory's text. Without a `format`, YAML is tried first and INI second, as
/// Ansible does for a file without an extension. Every error is returned, in line order.
pub fn parse(text: &str, format: Option<Format>) -> Result<Inventory, Vec<Problem>> {
    let (builder, format) = read(text, format);
    builder.finish(format)
}

/// The declarations of `text`, and the format it was read as.
fn read(text: &str, format: Option<Format>) -> (Builder, Format) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(format) => format,
        None if yaml::looks_like_yaml(text) => Format::Yaml,
        None => Format::Ini,
    };
    let mut builder = Builder::new();
    match format {
        Format::Ini => ini::read(text, &mut builder),
        Format::Yaml => yaml::read(text, &mut builder),
    }
    (builder, format)
}

/// Why an inventory file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, not a regular file, too large).
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read and holds errors.
    #[error("{} error(s) in {path}", problems.iter().filter(|p| p.level == Level::Error).count())]
    Invalid {
        /// The file.
        path: String,
        /// Every problem, in line order.
        problems: Vec<Problem>,
    },
}

/// Reads and parses an inventory file, its format chosen by [`Format::of_path`], with the
/// `group_vars/` and `host_vars/` beside it. Only regular files of bounded size are read,
/// as for topologies.
pub fn load(path: &Path) -> Result<Inventory, LoadError> {
    let text = super::read_source(path).map_err(|source| LoadError::Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    let (mut builder, format) = read(&text, Format::of_path(path));
    let (groups, hosts) = builder.names();
    let dir = path.parent().unwrap_or(Path::new("."));
    let (files, problems) = vars_files::read(dir, &groups, &hosts);
    builder.add_files(files, problems);
    builder
        .finish(format)
        .map_err(|problems| LoadError::Invalid {
            path: path.display().to_string(),
            problems,
        })
}

#[cfg(test)]
mod tests;
