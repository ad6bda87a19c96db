//! Problems found in a topology, each with its place in the file and a hint.

use std::fmt;
use std::path::PathBuf;

use super::redact::redact_line;
use super::source_map::Location;

/// How bad a finding is: errors stop the plan, warnings are shown and the plan goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The topology cannot be used.
    Error,
    /// Worth a look; the plan is still made.
    Warning,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Path of the offending value, like `subsystems[3].requires[1]`.
    pub path: String,
    /// Where it sits in the file, when known.
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Every finding for one file, rendered with the offending source lines.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The file the findings are about.
    pub file: PathBuf,
    /// Its text, kept to quote the offending lines.
    pub source: String,
    /// The findings, in file order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The one finding for a file that cannot be read.
    pub fn unreadable(path: &std::path::Path, err: &std::io::Error) -> Diagnostics {
        Diagnostics {
            file: path.to_path_buf(),
            source: String::new(),
            items: vec![Diagnostic {
                severity: Severity::Error,
                path: String::new(),
                location: None,
                message: format!("cannot read {}: {err}", path.display()),
                hint: Some("check the path and its permissions".into()),
            }],
        }
    }

    /// True when any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.items
            .iter()
            .any(|item| item.severity == Severity::Error)
    }

    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|item| item.severity == Severity::Error)
    }

    /// Only the warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|item| item.severity == Severity::Warning)
    }

    fn render(&self, item: &Diagnostic, lines: &[&str], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match item.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // A parser's message may quote a value that swallowed a secret line (an unclosed
        // quote turns the rest of the file into one string): redact it like a source line.
        writeln!(f, "{label}: {}", redact_line(&item.message))?;
        match item.location {
            Some(location) => {
                writeln!(
                    f,
                    "  --> {}:{}:{}",
                    self.file.display(),
                    location.line,
                    location.column
                )?;
                if let Some(line) = lines.get(location.line.saturating_sub(1)) {
                    // A secret written inline must not be repeated on the terminal or in CI
                    // logs, whichever finding quotes its line.
                    let (text, caret) = quoted(line, location.column);
                    let gutter = location.line.to_string();
                    let pad = " ".repeat(gutter.len());
                    writeln!(f, "  {pad} |")?;
                    writeln!(f, "  {gutter} | {text}")?;
                    writeln!(f, "  {pad} | {}^", " ".repeat(caret))?;
                }
            }
            None if item.path.is_empty() => writeln!(f, "  --> {}", self.file.display())?,
            None => writeln!(f, "  --> {} ({})", self.file.display(), item.path)?,
        }
        if let Some(hint) = &item.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// At most this many findings are printed; a file broken everywhere would otherwise bury
/// the first, most useful ones. The summary line still counts them all.
const SHOWN: usize = 200;

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Split once: looking each quoted line up from the start would make a file with
        // many findings quadratic.
        let lines: Vec<&str> = if self.items.iter().any(|item| item.location.is_some()) {
            self.source.lines().collect()
        } else {
            Vec::new()
        };
        for item in self.items.iter().take(SHOWN) {
            self.render(item, &lines, f)?;
        }
        if self.items.len() > SHOWN {
            writeln!(
                f,
                "... and {} more finding(s) not shown; fix these and validate again",
                self.items.len() - SHOWN
            )?;
        }
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        if errors > 0 {
            write!(
                f,
                "{}: {errors} error(s), {warnings} warning(s)",
                self.file.display()
            )?;
        }
        Ok(())
    }
}

/// The widest quoted source line, in characters: a generated line can be megabytes long.
const QUOTED_WIDTH: usize = 160;

/// The source line to quote, redacted and cut to a window around `column`, and the caret's
/// offset in it.
fn quoted(line: &str, column: usize) -> (String, usize) {
    let cut = line
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(at, _)| at);
    // Redacting the part before the column tells where the column moved to.
    let caret = redact_line(&line[..cut]).chars().count();
    let text = redact_line(line);
    let length = text.chars().count();
    if length <= QUOTED_WIDTH {
        return (text, caret.min(length));
    }
    let first = caret.saturating_sub(QUOTED_WIDTH / 3);
    let window: String = text.chars().skip(first).take(QUOTED_WIDTH).collect();
    let before = if first > 0 { "…" } else { "" };
    let after = if first + QUOTED_WIDTH < length {
        "…"
    } else {
        ""
    };
    (
        format!("{before}{window}{after}"),
        caret - first + before.chars().count(),
    )
}

impl std::error::Error for Diagnostics {}

/// Collects findings while a topology is resolved.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub items: Vec<Diagnostic>,
}

impl Collector {
    pub fn error(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Error, path.into(), message.into())
    }

    pub fn warning(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Warning, path.into(), message.into())
    }

    fn push(&mut self, severity: Severity, path: String, message: String) -> &mut Diagnostic {
        self.items.push(Diagnostic {
            severity,
            path,
            location: None,
            message,
            hint: None,
        });
        self.items.last_mut().expect("just pushed")
    }

    pub fn has_errors(&self) -> bool {
        self.items
            .iter()
            .any(|item| item.severity == Severity::Error)
    }
}

impl Diagnostic {
    /// Adds a hint saying what to do.
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The closest name to `wanted` among `known`, for "did you mean" hints.
/// Long names and long candidate lists are not compared, so a hostile file cannot make the
/// suggestions quadratic.
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const LONGEST: usize = 64;
    const CANDIDATES: usize = 5_000;
    if wanted.len() > LONGEST {
        return None;
    }
    let wanted: Vec<char> = wanted.chars().collect();
    // Two rows reused for every candidate: a fleet of 100,000 hosts with a few typos would
    // otherwise spend its time in the allocator.
    let mut rows = (
        Vec::with_capacity(LONGEST + 1),
        Vec::with_capacity(LONGEST + 1),
    );
    let mut right = Vec::with_capacity(LONGEST);
    known
        .into_iter()
        .take(CANDIDATES)
        .filter(|name| name.len() <= LONGEST && name.len().abs_diff(wanted.len()) <= LONGEST / 3)
        .filter_map(|name| {
            right.clear();
            right.extend(name.chars());
            let distance = edit_distance(&wanted, &right, &mut rows);
            (distance <= (right.len().max(wanted.len()) / 3).max(2)).then_some((distance, name))
        })
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(
    left: &[char],
    right: &[char],
    (previous, current): &mut (Vec<usize>, Vec<usize>),
) -> usize {
    previous.clear();
    previous.extend(0..=right.len());
    for (i, a) in left.iter().enumerate() {
        current.clear();
        current.push(i + 1);
        for (j, b) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(a != b);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        std::mem::swap(previous, current);
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_names_only() {
        let known = ["user-db", "config", "cache"];
        assert_eq!(closest("user-db2", known), Some("user-db"));
        assert_eq!(closest("frontend", known), None);
    }
}
