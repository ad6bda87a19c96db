//! The topology: its YAML format, loading, and validation with every problem located.

pub mod ansible;
pub mod defaults;
pub mod depth;
pub mod diagnostic;
pub mod hostrange;
mod model;
pub mod names;
pub mod raw;
pub mod redact;
mod resolve;
mod schema_errors;
pub(crate) use schema_errors::every_error as every_schema_error;
pub mod source_map;
pub mod ssh_config;
pub mod values;

use std::path::Path;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use values::{HumanDuration, MinHealthy, Tier};

use diagnostic::Collector;
use source_map::{Location, SourceMap};

/// A topology that passed validation, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The validated topology.
    pub topology: Topology,
    /// Findings that do not stop the plan.
    pub warnings: Diagnostics,
}

/// Reads a topology or playbook file: only a regular file of at most
/// [`depth::MAX_BYTES`], so a path such as `/dev/zero` cannot exhaust memory or hang.
pub fn read_source(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    if metadata.len() > depth::MAX_BYTES as u64 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("larger than {} bytes", depth::MAX_BYTES),
        ));
    }
    std::fs::read_to_string(path)
}

/// Validates a topology given as text; `file` is used in messages and to resolve relative
/// paths (keys, known_hosts) against the file's directory. `further_checks` sees the resolved
/// model before findings are placed and sorted, so checks from the layers above (the step
/// graph's cycles, in `crate::load`) are reported exactly like this layer's own.
pub(crate) fn load_str_with(
    source: &str,
    file: &Path,
    further_checks: impl FnOnce(&Topology, &mut Collector),
) -> Result<Loaded, Diagnostics> {
    let source = without_bom(source);
    let diagnostics = |items| Diagnostics {
        file: file.to_path_buf(),
        source: source.to_string(),
        items,
    };
    if let Some(refused) = refuse_shape(source) {
        return Err(diagnostics(vec![refused]));
    }
    let raw: raw::RawTopology = match serde_yaml::from_str(source) {
        Ok(raw) => raw,
        Err(err) => {
            let every = schema_errors::every_error::<raw::RawTopology>(&err, source);
            return Err(diagnostics(every));
        }
    };
    let mut collector = Collector::default();
    let topology = resolve::resolve(raw, file, &mut collector);
    further_checks(&topology, &mut collector);
    // Positions are only needed to place findings; a clean file is not indexed at all.
    if !collector.items.is_empty() {
        let map = SourceMap::index(source);
        for item in &mut collector.items {
            // A finding about something missing altogether has no place of its own: point at
            // the top of the file rather than at nothing.
            item.location = map
                .locate(&item.path)
                .or(Some(Location { line: 1, column: 1 }));
        }
    }
    collector
        .items
        .sort_by_key(|item| item.location.map(|l| (l.line, l.column)));
    if collector.has_errors() {
        return Err(diagnostics(collector.items));
    }
    Ok(Loaded {
        topology,
        warnings: diagnostics(collector.items),
    })
}

/// The topology layer alone, without the checks of the layers above: for this layer's own
/// unit tests, which must not import upward.
#[cfg(test)]
pub(crate) fn load_str_alone(source: &str, file: &Path) -> Result<Loaded, Diagnostics> {
    load_str_with(source, file, |_, _| {})
}

/// `source` without a UTF-8 byte-order mark: editors on some systems write one, and the
/// YAML parsers would otherwise lose every position (or misread the first key).
pub(crate) fn without_bom(source: &str) -> &str {
    source.strip_prefix('\u{feff}').unwrap_or(source)
}

/// A file too large or nested too deeply to be parsed safely, refused before parsing.
pub(crate) fn refuse_shape(source: &str) -> Option<Diagnostic> {
    if source.len() > depth::MAX_BYTES {
        return Some(Diagnostic {
            severity: Severity::Error,
            path: String::new(),
            location: None,
            message: format!(
                "the file is {} bytes; at most {} are read",
                source.len(),
                depth::MAX_BYTES
            ),
            hint: Some("split the fleet into several topologies".into()),
        });
    }
    let location = depth::too_deep(source)?;
    Some(Diagnostic {
        severity: Severity::Error,
        path: String::new(),
        location: Some(location),
        message: format!(
            "the YAML nests more than {} levels deep here",
            depth::MAX_DEPTH
        ),
        hint: Some("a topology needs a few levels; look for unclosed `[` or `{`".into()),
    })
}

/// Whether a serde_yaml error is about the format (the reader can go on past it) or the
/// YAML syntax (the reader stops there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// A field unknown, missing or of the wrong type.
    Schema,
    /// YAML that cannot be parsed.
    Syntax,
}

/// A serde_yaml error as a located diagnostic (shared by topologies and playbooks). When
/// the error comes from a re-read of an edited copy, `fallback` is its place in the
/// original file (serde's own position would be in the copy).
pub(crate) fn schema_diagnostic(
    err: &serde_yaml::Error,
    source: &str,
    fallback: Option<Location>,
    kind: ErrorKind,
    known: &schema_errors::KnownFields,
) -> Diagnostic {
    // serde_yaml prefixes its message with the path and position; keep the message, and put
    // the position where every other diagnostic has it.
    let message = err.to_string();
    let message = match message.split_once(" at line ") {
        Some((head, _)) => head.to_string(),
        None => message,
    };
    // Redacted before it is cut, so a secret key and its value are never split apart.
    let message = redact::shorten_quoted(&redact::redact_line(&message), 80);
    let own = || {
        err.location().map(|location| Location {
            line: location.line(),
            column: location.column(),
        })
    };
    Diagnostic {
        severity: Severity::Error,
        path: String::new(),
        // serde places errors raised while reading a value (a bad duration, an unknown field)
        // at the start of the enclosing mapping; point at the offending entry instead.
        location: value_location(&message, source).or(fallback).or_else(own),
        hint: Some(syntax_hint(&message, kind, known)),
        message,
    }
}

/// What to do about a serde_yaml error: the near field name for a misspelt one, where a
/// field at the wrong level belongs, or that a syntax error stops the reader.
fn syntax_hint(message: &str, kind: ErrorKind, known: &schema_errors::KnownFields) -> String {
    let schema = "`blackstart schema` (or `schema --playbook`) prints the format";
    if kind == ErrorKind::Syntax {
        return format!(
            "fix the YAML syntax here; the reader stops at a syntax error, so what follows it \
             is checked once it is fixed; {schema}"
        );
    }
    // "unknown field `expct`, expected one of `name`, `expect`, ..."
    if let Some((head, rest)) = message.split_once("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let known_here = expected.split('`').skip(1).step_by(2);
            if let Some(near) = diagnostic::closest(field, known_here) {
                return format!("did you mean `{near}`?");
            }
            let path = head.trim_end_matches(": ");
            if let Some(under) = known.belongs_under(field, path) {
                let under = if under.is_empty() {
                    "the top level"
                } else {
                    under
                };
                return format!(
                    "`{field}` is a field of `{under}`, not of `{}`: check its indentation",
                    if path.is_empty() {
                        "the top level"
                    } else {
                        path
                    }
                );
            }
        }
    }
    format!("fix the YAML here; {schema}")
}

/// Where the value named in a serde message such as `subsystems[0]: invalid duration "-5s"`
/// or `subsystems[0]: unknown field `expct`` sits, found below the message's path.
fn value_location(message: &str, source: &str) -> Option<Location> {
    let (path, rest) = message.split_once(": ")?;
    if path.is_empty() || path.contains(char::is_whitespace) {
        return None;
    }
    let quoted = |quote: char| {
        let start = rest.find(quote)? + 1;
        let length = rest[start..].find(quote)?;
        Some(&rest[start..start + length]).filter(|text| !text.is_empty())
    };
    let map = SourceMap::index(source);
    if let Some(field) = quoted('`') {
        if let Some(location) = map.get(&format!("{path}.{field}")) {
            return Some(location);
        }
    }
    let value = quoted('"')?;
    let lines: Vec<&str> = source.lines().collect();
    map.entries_under(path)
        .filter(|location| {
            lines
                .get(location.line.saturating_sub(1))
                .is_some_and(|line| line.contains(value))
        })
        .min_by_key(|location| (location.line, location.column))
}
