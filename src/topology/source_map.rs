//! Where each value sits in the YAML source, for error messages only.
//!
//! serde does not keep positions, so the source is indexed once with a position-aware event
//! parser. Paths look like `subsystems[3].requires[1]`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Positions of every value in one YAML document, keyed by path.
#[derive(Debug, Default)]
pub struct SourceMap {
    positions: HashMap<String, Location>,
}

impl SourceMap {
    /// Indexes `source`. A source the parser rejects yields an empty map: the syntax error
    /// itself is reported by serde with its own position.
    pub fn index(source: &str) -> SourceMap {
        let mut indexer = Indexer::default();
        let mut parser = Parser::new_from_str(source);
        // Partial results are still useful if the parser stops early.
        let _ = parser.load(&mut indexer, false);
        SourceMap {
            positions: indexer.positions,
        }
    }

    /// The position of exactly `path`, when indexed.
    pub fn get(&self, path: &str) -> Option<Location> {
        self.positions.get(path).copied()
    }

    /// Positions of every value strictly below `path` (`path.x`, `path[0]`, ...).
    pub fn entries_under<'a>(&'a self, path: &'a str) -> impl Iterator<Item = Location> + 'a {
        self.positions.iter().filter_map(move |(key, location)| {
            key.strip_prefix(path)
                .filter(|rest| rest.starts_with(['.', '[']))
                .map(|_| *location)
        })
    }

    /// The position of `path`, or of its nearest indexed ancestor.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut current = path;
        loop {
            if let Some(location) = self.positions.get(current) {
                return Some(*location);
            }
            let cut = current.rfind(['.', '['])?;
            current = &current[..cut];
        }
    }
}

enum Frame {
    Mapping { key: Option<String> },
    Sequence { next: usize },
}

#[derive(Default)]
struct Indexer {
    path: Vec<String>,
    stack: Vec<Frame>,
    positions: HashMap<String, Location>,
}

impl Indexer {
    fn joined(&self) -> String {
        let mut text = String::new();
        for segment in &self.path {
            if !segment.starts_with('[') && !text.is_empty() {
                text.push('.');
            }
            text.push_str(segment);
        }
        text
    }

    /// Called for every node: pushes its path segment and records its position.
    /// Returns false when the node is a mapping key rather than a value.
    fn enter_value(&mut self, mark: Marker, key_text: Option<&str>) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key }) if key.is_none() => {
                *key = Some(key_text.unwrap_or("?").to_string());
                return false;
            }
            Some(Frame::Mapping { key }) => {
                let segment = key.take().unwrap_or_default();
                self.path.push(segment);
            }
            Some(Frame::Sequence { next }) => {
                self.path.push(format!("[{next}]"));
                *next += 1;
            }
            None => {}
        }
        let location = Location {
            line: mark.line(),
            column: mark.col() + 1,
        };
        self.positions.insert(self.joined(), location);
        true
    }

    fn leave_value(&mut self) {
        if !self.stack.is_empty() {
            self.path.pop();
        }
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, ..) if self.enter_value(mark, Some(&text)) => self.leave_value(),
            Event::Alias(_) if self.enter_value(mark, None) => self.leave_value(),
            Event::MappingStart(..) => {
                self.enter_value(mark, None);
                self.stack.push(Frame::Mapping { key: None });
            }
            Event::SequenceStart(..) => {
                self.enter_value(mark, None);
                self.stack.push(Frame::Sequence { next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.leave_value();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_path_with_one_based_lines() {
        let source = "name: x\nsubsystems:\n  - name: a\n    requires: [b, c]\n  - name: b\n";
        let map = SourceMap::index(source);
        assert_eq!(map.locate("name").unwrap().line, 1);
        assert_eq!(map.locate("subsystems[0].requires[1]").unwrap().line, 4);
        assert_eq!(
            map.locate("subsystems[1].name"),
            Some(Location {
                line: 5,
                column: 11
            })
        );
        // Unknown children fall back to their parent.
        assert_eq!(map.locate("subsystems[1].name.deeper").unwrap().line, 5);
    }
}
