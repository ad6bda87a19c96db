//! Every schema error of a file at once, not only the first one serde stops at.
//!
//! serde stops at the first field it cannot read. To show the rest, the file is read as a
//! plain YAML value, the offending key is taken out, and the value is read again, until it
//! reads or nothing more can be taken out safely. Paths (`hosts[0].bogus`) stay the same
//! because only mapping keys are removed, never list items, so every later error is placed
//! with the original file's positions. A YAML syntax error stops the reader for good: it is
//! reported with a hint that what follows it is checked once it is fixed.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::diagnostic::Diagnostic;
use super::source_map::{Location, SourceMap};
use super::{schema_diagnostic, ErrorKind};

/// Re-reads after taking a key out, at most this many times (a file with more schema errors
/// than this shows the first ones and says so).
const MAX_ERRORS: usize = 50;

/// Field places recorded from the format at most (the topology's format has a few hundred).
const MAX_KNOWN_FIELDS: usize = 20_000;

/// Every schema error of `source`, starting with `first`, the error serde stopped at.
pub(crate) fn every_error<T: DeserializeOwned + JsonSchema>(
    first: &serde_yaml::Error,
    source: &str,
) -> Vec<Diagnostic> {
    let known = KnownFields::of::<T>();
    let mut out = Vec::new();
    if has_aliases(source) {
        // Re-reading expands every alias: a file built of aliases could take minutes. Its
        // first error is enough to go on with.
        let mut first = schema_diagnostic(first, source, None, ErrorKind::Schema, &known);
        let hint = first.hint.get_or_insert_with(String::new);
        hint.push_str("; more problems may show once this one is fixed");
        return vec![first];
    }
    // An error of the file as serde placed it (only later ones need a place of their own).
    let placed = |err: &serde_yaml::Error, kind| schema_diagnostic(err, source, None, kind, &known);
    let mut value = match serde_yaml::from_str::<Value>(source) {
        Ok(value) => value,
        Err(syntax) => {
            // Either `first` is the syntax error itself, or a schema error before it.
            if syntax.to_string() != first.to_string() {
                out.push(placed(first, ErrorKind::Schema));
            }
            out.push(placed(&syntax, ErrorKind::Syntax));
            return out;
        }
    };
    let map = SourceMap::index(source);
    out.push(placed(first, ErrorKind::Schema));
    let mut current = first.to_string();
    let mut complete = false;
    while out.len() < MAX_ERRORS {
        let Some(offending) = offending_key(&current) else {
            break;
        };
        if !remove(&mut value, &offending) {
            break;
        }
        let Ok(text) = serde_yaml::to_string(&value) else {
            break;
        };
        match serde_yaml::from_str::<T>(&text) {
            Ok(_) => {
                complete = true;
                break;
            }
            Err(next) => {
                let message = next.to_string();
                // A field missing only because a bad one was taken out is not the file's.
                if missing_because_removed(&message, &map) {
                    break;
                }
                out.push(schema_diagnostic(
                    &next,
                    source,
                    Some(place_in_original(&message, &map)),
                    ErrorKind::Schema,
                    &known,
                ));
                current = message;
            }
        }
    }
    if !complete {
        if let Some(last) = out.last_mut() {
            let hint = last.hint.get_or_insert_with(String::new);
            hint.push_str("; more problems may show once this one is fixed");
        }
    }
    out
}

/// Whether the YAML uses an alias (`*name`) anywhere, read without expanding any.
fn has_aliases(source: &str) -> bool {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(source);
    while let Ok((event, _)) = parser.next_token() {
        match event {
            Event::Alias(_) => return true,
            Event::StreamEnd => return false,
            _ => {}
        }
    }
    false
}

/// Where an error found in the edited copy sits in the original: its path's place, a
/// top-level unknown field's own place, or the top of the file.
fn place_in_original(message: &str, map: &SourceMap) -> Location {
    let top_field = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    path_of(message)
        .and_then(|path| map.locate(path))
        .or_else(|| top_field.and_then(|field| map.get(field)))
        .unwrap_or(Location { line: 1, column: 1 })
}

/// The path serde names at the front of its message: `hosts[0]` in
/// ``hosts[0]: unknown field `bogus`, expected …``.
fn path_of(message: &str) -> Option<&str> {
    let (path, _) = message.split_once(": ")?;
    (!path.is_empty() && !path.contains(char::is_whitespace)).then_some(path)
}

/// The key to take out for `message`: the unknown field itself, or the key whose value
/// could not be read. None when the error is about a list item or the whole file.
fn offending_key(message: &str) -> Option<Vec<Segment>> {
    // A top-level error has no path in front of it.
    let at_top = message.starts_with("unknown field `");
    let mut segments = match at_top {
        true => Vec::new(),
        false => parse_path(path_of(message)?)?,
    };
    if let Some((_, rest)) = message.split_once("unknown field `") {
        let field = rest.split('`').next()?;
        segments.push(Segment::Key(field.to_string()));
    } else if message.contains(": missing field `") {
        return None;
    }
    matches!(segments.last(), Some(Segment::Key(_))).then_some(segments)
}

/// One step of a path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `subsystems[3].check.http` as segments; None for a path serde writes in another way.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, indices) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segments.push(Segment::Key(key.to_string()));
        }
        for index in indices.split('[').skip(1) {
            segments.push(Segment::Index(index.strip_suffix(']')?.parse().ok()?));
        }
    }
    Some(segments)
}

/// Takes the key at `path` out of `value`; false when it is not there.
fn remove(value: &mut Value, path: &[Segment]) -> bool {
    let Some((Segment::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parents {
        let next = match segment {
            Segment::Key(key) => here.get_mut(key.as_str()),
            Segment::Index(index) => here.get_mut(*index),
        };
        match next {
            Some(next) => here = next,
            None => return false,
        }
    }
    here.as_mapping_mut()
        .is_some_and(|mapping| mapping.remove(last.as_str()).is_some())
}

/// A `missing field` error for a field the original file has: the removal made it.
fn missing_because_removed(message: &str, map: &SourceMap) -> bool {
    let Some((_, rest)) = message.split_once("missing field `") else {
        return false;
    };
    let field = rest.split('`').next().unwrap_or_default();
    let path = path_of(message).unwrap_or_default();
    let full = match path {
        "" => field.to_string(),
        path => format!("{path}.{field}"),
    };
    map.get(&full).is_some() || path.is_empty()
}

/// Where each field name is known in the format, for "belongs under" hints.
pub(crate) struct KnownFields {
    /// (field name, path of the mapping it belongs to, like `defaults.host.ssh`).
    fields: Vec<(String, String)>,
}

impl KnownFields {
    /// The fields of `T`'s JSON Schema, by where they sit.
    pub(crate) fn of<T: JsonSchema>() -> KnownFields {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        let mut fields = Vec::new();
        let definitions = schema.get("definitions").cloned().unwrap_or_default();
        collect(&schema, &definitions, "", &mut fields, &mut Vec::new());
        KnownFields { fields }
    }

    /// Where `field` belongs when it is not known at `path`, nearest first: the mapping
    /// that shares most of `path`.
    pub(crate) fn belongs_under(&self, field: &str, path: &str) -> Option<&str> {
        let general = |p: &str| {
            p.split('.')
                .map(|s| s.split('[').next().unwrap_or(s).to_string())
                .collect::<Vec<_>>()
        };
        let here = general(path);
        self.fields
            .iter()
            .filter(|(name, at)| name == field && general(at) != here)
            .max_by_key(|(_, at)| {
                let there = general(at);
                let shared = here.iter().zip(&there).take_while(|(a, b)| a == b).count();
                (shared, usize::MAX - there.len())
            })
            .map(|(_, at)| at.as_str())
    }
}

/// Walks a JSON Schema, following `$ref`s (to a bounded depth), and records each property
/// with the path of the mapping it belongs to (`[]` for list items).
fn collect<'a>(
    schema: &'a serde_json::Value,
    definitions: &'a serde_json::Value,
    path: &str,
    out: &mut Vec<(String, String)>,
    expanding: &mut Vec<&'a str>,
) {
    // Each definition once per path (a recursive format would never end), and a bound on
    // the whole walk so a large format stays cheap.
    if expanding.len() > 12 || out.len() > MAX_KNOWN_FIELDS {
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(|r| r.as_str()) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        if let Some(target) = definitions.get(name).filter(|_| !expanding.contains(&name)) {
            expanding.push(name);
            collect(target, definitions, path, out, expanding);
            expanding.pop();
        }
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        for branch in schema
            .get(combinator)
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
        {
            collect(branch, definitions, path, out, expanding);
        }
    }
    if let Some(items) = schema.get("items") {
        collect(items, definitions, &format!("{path}[]"), out, expanding);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        collect(values, definitions, &format!("{path}.*"), out, expanding);
    }
    let properties = schema.get("properties").and_then(|p| p.as_object());
    for (name, property) in properties.into_iter().flatten() {
        out.push((name.clone(), path.trim_start_matches('.').to_string()));
        let below = format!("{path}.{name}");
        collect(property, definitions, &below, out, expanding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_as_serde_writes_them() {
        assert_eq!(
            parse_path("subsystems[3].check"),
            Some(vec![
                Segment::Key("subsystems".into()),
                Segment::Index(3),
                Segment::Key("check".into())
            ])
        );
        assert_eq!(
            offending_key("hosts[0]: unknown field `bogus`, expected one of `name`"),
            Some(vec![
                Segment::Key("hosts".into()),
                Segment::Index(0),
                Segment::Key("bogus".into())
            ])
        );
        // An error about a list item itself cannot be taken out without moving the others.
        assert_eq!(offending_key("hosts[1]: invalid type: string"), None);
        assert_eq!(offending_key("missing field `name`"), None);
        assert_eq!(
            offending_key("unknown field `nmae`, expected `name`"),
            Some(vec![Segment::Key("nmae".into())])
        );
    }

    #[test]
    fn a_key_is_taken_out_only_where_it_is() {
        let mut value: Value = serde_yaml::from_str("a:\n  - b: 1\n    c: 2\n").unwrap();
        let path = parse_path("a[0].c").unwrap();
        assert!(remove(&mut value, &path));
        assert!(!remove(&mut value, &path), "already gone");
        assert_eq!(serde_yaml::to_string(&value).unwrap(), "a:\n- b: 1\n");
    }
}
