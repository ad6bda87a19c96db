//! A bound on how deeply a YAML file nests, checked before any parser sees it.
//!
//! The YAML parsers recurse once per level: a few hundred kilobytes of `[[[[...` or
//! `- - - - ...` overflow the stack or take quadratic time. Real topologies nest fewer than a
//! dozen levels, so a cheap, non-recursive scan refuses anything deeper than [`MAX_DEPTH`]
//! with its place, before parsing starts.

use super::source_map::Location;

/// The deepest nesting accepted (mappings, sequences and flow collections together).
pub const MAX_DEPTH: usize = 64;

/// The largest file accepted, in bytes: a topology of 100,000 hosts written by hand or by a
/// script is far smaller.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Where `source` first nests deeper than [`MAX_DEPTH`], if it does.
///
/// The count is an upper bound: block levels (indentation and `- ` on one line) plus open
/// flow brackets, skipping quoted text, comments and block scalars (`|`, `>`), whose brackets
/// are text.
pub fn too_deep(source: &str) -> Option<Location> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    let mut block_scalar: Option<usize> = None;
    for (number, line) in source.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 && !blank && !line.trim_start().starts_with('#') {
            while indents.last().is_some_and(|last| *last >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut inline = 0usize;
        // The last significant character: brackets and quotes open only where a value starts.
        let mut previous: Option<char> = None;
        let mut chars = line.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if let Some(open) = quote {
                if c == open {
                    // '' inside single quotes is an escaped quote, not the end.
                    if open == '\'' && chars.peek().is_some_and(|(_, next)| *next == '\'') {
                        chars.next();
                    } else {
                        quote = None;
                        previous = Some(c);
                    }
                } else if c == '\\' && open == '"' {
                    chars.next();
                }
                continue;
            }
            let value_start = matches!(previous, None | Some('[' | '{' | ',' | ':' | '-' | '?'));
            match c {
                ' ' | '\t' => continue,
                '#' if at == 0 || line[..at].ends_with([' ', '\t']) => break,
                '"' | '\'' if value_start => quote = Some(c),
                '[' | '{' if value_start || flow > 0 => flow += 1,
                ']' | '}' if flow > 0 => flow -= 1,
                '-' | '?' if value_start && line[at + 1..].starts_with([' ', '\t']) => inline += 1,
                '|' | '>' if flow == 0 && matches!(previous, Some(':' | '-') | None) => {
                    // A header is `|` or `>` with an optional chomping sign and indentation
                    // digit, then nothing but a comment.
                    let rest = line[at + 1..].split(" #").next().unwrap_or("").trim();
                    if rest.len() <= 2 && rest.chars().all(|c| matches!(c, '+' | '-' | '1'..='9')) {
                        block_scalar = Some(indent);
                    }
                }
                _ => {}
            }
            // `:`, `-` and `?` are indicators only before a space or the end of the line:
            // inside a plain scalar (`isp-'billing`, `a:'b'`) what follows them is still text,
            // and a quote there opens nothing.
            let indicator = !matches!(c, ':' | '-' | '?')
                || line[at + 1..].is_empty()
                || line[at + 1..].starts_with([' ', '\t']);
            previous = Some(if indicator { c } else { 'x' });
            if indents.len() + inline + flow > MAX_DEPTH {
                return Some(Location {
                    line: number + 1,
                    column: line[..at].chars().count() + 1,
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{too_deep, MAX_DEPTH};

    #[test]
    fn deep_flow_and_block_nesting_is_found_and_text_is_not_counted() {
        let deep = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH + 5),
            "]".repeat(MAX_DEPTH + 5)
        );
        assert_eq!(too_deep(&deep).map(|l| l.line), Some(1));
        let dashes = format!("a:\n  {}x\n", "- ".repeat(MAX_DEPTH + 5));
        assert_eq!(too_deep(&dashes).map(|l| l.line), Some(2));
        let text = format!(
            "a: \"{}\"\nb: it's [x\nc: |\n  {}\nd: >- # note\n  {}\n",
            "[".repeat(200),
            "{".repeat(200),
            "[".repeat(200)
        );
        assert_eq!(too_deep(&text), None);
        // A quote inside a plain scalar opens nothing: the nesting after it still counts
        // (found by the fuzzer: `name: isp-'billing` hid 40,000 levels of `{a: ` below).
        let hidden = format!(
            "name: isp-'billing\npolicy:\n  power_on: {}\n",
            "{a: ".repeat(MAX_DEPTH + 5)
        );
        assert_eq!(too_deep(&hidden).map(|l| l.line), Some(3));
        for shipped in [
            include_str!("../../topologies/social-network.yaml"),
            include_str!("../../playbooks/full-outage.yaml"),
        ] {
            assert_eq!(too_deep(shipped), None);
        }
    }
}
