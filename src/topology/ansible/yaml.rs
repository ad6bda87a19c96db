//! The YAML inventory format, as ansible-core's `yaml` plugin reads it: top-level keys are
//! groups (usually just `all`), each a mapping of `hosts`, `vars` and `children`; a host's
//! value holds its variables. Lines come from the topology's source map machinery.

use serde_yaml::Value as Yaml;

use super::groups::Builder;
use super::host_pattern::split_port;
use super::yaml_value::{json, key_text};
use super::Value;
use crate::topology::source_map::SourceMap;
use crate::topology::{depth, hostrange};

/// True when `text` parses as a YAML mapping: what Ansible's YAML plugin accepts before the
/// INI plugin is tried, for a file without an extension.
pub(super) fn looks_like_yaml(text: &str) -> bool {
    depth::too_deep(text).is_none()
        && matches!(serde_yaml::from_str::<Yaml>(text), Ok(Yaml::Mapping(_)))
}

/// How many lines above a value its key is looked for.
const LOOK_BACK: usize = 4;

struct Reader<'a> {
    builder: &'a mut Builder,
    map: SourceMap,
    lines: Vec<&'a str>,
}

/// Reads `text` into `builder`, recording every problem with its line.
pub(super) fn read(text: &str, builder: &mut Builder) {
    if let Some(location) = depth::too_deep(text) {
        builder.error(
            location.line,
            format!(
                "the YAML nests more than {} levels deep here",
                depth::MAX_DEPTH
            ),
            "an inventory needs a few levels; look for unclosed `[` or `{`",
        );
        return;
    }
    let document: Yaml = match serde_yaml::from_str(text) {
        Ok(document) => document,
        Err(err) => {
            let message = err.to_string();
            let message = message.split(" at line ").next().unwrap_or("").to_string();
            builder.error(
                err.location().map_or(1, |l| l.line()),
                format!("invalid YAML: {message}"),
                "fix the YAML here",
            );
            return;
        }
    };
    if document.is_null() {
        builder.error(
            1,
            "the inventory holds nothing but comments or blank lines: no hosts, no groups",
            "check this is the inventory you meant; an inventory starts with `all:` (YAML) or a `[group]` line (INI)",
        );
        return;
    }
    let Yaml::Mapping(top) = document else {
        builder.error(
            1,
            "a YAML inventory is a mapping of groups (`all:` with `hosts`, `vars`, `children`)",
            "start the file with `all:`",
        );
        return;
    };
    if top.get("plugin").is_some() {
        builder.error(
            1,
            "this is an inventory plugin's configuration, not an inventory",
            "run `ansible-inventory -i FILE --list -y` and read its output instead",
        );
        return;
    }
    let mut reader = Reader {
        builder,
        map: SourceMap::index(text),
        lines: text.lines().collect(),
    };
    for (key, value) in &top {
        let name = key_text(key);
        reader.group(&name, value, &name);
    }
}

impl Reader<'_> {
    /// The line of the key that ends `path`. The source map places values, and an empty
    /// value (`web1:` with nothing after) sits where the next thing starts: the key is found
    /// on that line or a few above it.
    fn line(&self, path: &str) -> usize {
        let line = self
            .map
            .get(path)
            .or_else(|| self.map.locate(path))
            .map_or(1, |location| location.line);
        let key = path.rsplit('.').next().unwrap_or(path);
        (line.saturating_sub(LOOK_BACK).max(1)..=line)
            .rev()
            .find(|at| {
                self.lines
                    .get(at - 1)
                    .is_some_and(|text| text.contains(key))
            })
            .unwrap_or(line)
    }

    fn group(&mut self, name: &str, data: &Yaml, path: &str) -> Option<usize> {
        if self.builder.stopped {
            return None;
        }
        let line = self.line(path);
        let data = match data {
            Yaml::Mapping(data) => Some(data),
            Yaml::Null => None,
            _ => {
                self.builder.warning(
                    line,
                    format!("skipped {name:?}: not a valid group definition"),
                );
                return None;
            }
        };
        let id = self.builder.group(name, line)?;
        let Some(data) = data else { return Some(id) };
        for (key, value) in data {
            let key = key_text(key);
            let at = format!("{path}.{key}");
            let section_line = self.line(&at);
            let entries = match value {
                Yaml::Null => continue,
                // A single name stands for a mapping of it to nothing.
                Yaml::String(single) if key == "hosts" || key == "children" || key == "vars" => {
                    let mut mapping = serde_yaml::Mapping::new();
                    mapping.insert(Yaml::String(single.clone()), Yaml::Null);
                    mapping
                }
                Yaml::Mapping(mapping) => mapping.clone(),
                _ if key == "hosts" || key == "children" || key == "vars" => {
                    self.builder.error(
                        section_line,
                        format!("`{key}` of group {name:?} must be a mapping"),
                        "write `name:` entries under it (a list `- name` is not an inventory)",
                    );
                    continue;
                }
                _ => {
                    self.builder.warning(
                        section_line,
                        format!("skipped key {key:?} of group {name:?}: it is not a mapping"),
                    );
                    continue;
                }
            };
            match key.as_str() {
                "vars" => {
                    for (var, value) in &entries {
                        let var = key_text(var);
                        let var_line = self.line(&format!("{at}.{var}"));
                        self.builder.set_group_var(id, &var, json(value), var_line);
                    }
                }
                "children" => {
                    for (child, child_data) in &entries {
                        let child = key_text(child);
                        let child_path = format!("{at}.{child}");
                        let child_line = self.line(&child_path);
                        if let Some(child_id) = self.group(&child, child_data, &child_path) {
                            self.builder.add_child(id, child_id, child_line);
                        }
                    }
                }
                "hosts" => {
                    for (pattern, vars) in &entries {
                        let pattern = key_text(pattern);
                        self.hosts(&pattern, vars, id, &format!("{at}.{pattern}"));
                    }
                }
                other => self.builder.warning(
                    section_line,
                    format!(
                        "skipped key {other:?} of group {name:?}: only `vars`, `children` and `hosts` are read"
                    ),
                ),
            }
        }
        Some(id)
    }

    fn hosts(&mut self, pattern: &str, vars: &Yaml, group: usize, path: &str) {
        let line = self.line(path);
        let mut list = Vec::new();
        match vars {
            Yaml::Null => {}
            Yaml::Mapping(vars) => {
                for (key, value) in vars {
                    list.push((key_text(key), json(value)));
                }
            }
            _ => {
                self.builder.error(
                    line,
                    format!("the variables of host {pattern:?} must be a mapping"),
                    "write `host: { name: value }`, or nothing after `host:`",
                );
                return;
            }
        }
        let (pattern, port) = split_port(pattern);
        if let Some(port) = port {
            // The line's own `ansible_port` wins over the pattern's, as Ansible sets it last.
            list.insert(0, ("ansible_port".to_string(), Value::from(port)));
        }
        let names = if pattern.contains('[') {
            match hostrange::expand(pattern) {
                Ok(names) => names,
                Err(why) => {
                    self.builder
                        .error(line, why, "write a range such as web[01:20] or db-[a:c]");
                    return;
                }
            }
        } else {
            vec![pattern.to_string()]
        };
        self.builder.add_hosts(&names, group, &list, line);
    }
}
