//! Words of the text plan: escaping what a topology says, and wrapping it at [`WIDTH`]
//! with commands kept whole. A leaf: the text plan's parts and the route listing
//! (`plan/route.rs`) use it, and it uses none of them.

/// The width the folded plan keeps to, so it reads in a terminal or a review tool unwrapped.
pub const WIDTH: usize = 100;

/// Escapes control characters in text that comes from a topology (commands, labels,
/// instructions), so a newline or an escape sequence in a YAML string cannot forge a line
/// of the plan or recolour the reviewer's terminal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Prose from a topology (descriptions): whitespace, newlines included, folded to single
/// spaces, other control characters escaped.
pub(crate) fn prose(text: &str) -> String {
    escape(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Visible width of a line: ANSI colour sequences take no column.
pub fn visible_width(line: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// Appends `head` and `text` to `out`, wrapped at [`WIDTH`] on spaces; continuation lines
/// are indented `indent` columns. A command in backticks is never split, so a reviewer can
/// copy it whole: it moves to the next line, and one longer than a line has the line to
/// itself and runs past [`WIDTH`]. Any other word longer than a line is cut.
pub(crate) fn wrap_into(out: &mut String, head: &str, text: &str, indent: usize) {
    let mut line = head.to_string();
    let mut width = visible_width(head);
    let mut fresh = true;
    for word in unbreakable_units(text) {
        let word = word.as_str();
        let word_width = visible_width(word);
        let overflows = width + usize::from(!fresh) + word_width > WIDTH;
        // After a long head, a word that would fit on the next line goes there.
        let after_head = fresh && width > indent && indent + word_width <= WIDTH;
        if overflows && (!fresh || after_head) {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            width = indent;
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            width += 1;
        }
        if width + word_width > WIDTH && !word.contains('\x1b') && !is_command(word) {
            // Only a single word longer than the room left: cut it where the line ends.
            let mut rest: Vec<char> = word.chars().collect();
            while width + rest.len() > WIDTH {
                let room = WIDTH.saturating_sub(width).max(1);
                line.extend(&rest[..room]);
                out.push_str(&line);
                out.push('\n');
                rest.drain(..room);
                line = " ".repeat(indent);
                width = indent;
            }
            line.extend(&rest);
            width += rest.len();
        } else {
            line.push_str(word);
            width += word_width;
        }
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A backtick span, punctuation around it included: `` (`chassis power on`; ``.
pub(crate) fn is_command(word: &str) -> bool {
    word.matches('`').count() == 2
}

/// The longest command (backtick span) in `text`, in columns.
pub(crate) fn longest_command(text: &str) -> usize {
    unbreakable_units(text)
        .iter()
        .filter(|unit| is_command(unit))
        .map(|unit| visible_width(unit))
        .max()
        .unwrap_or(0)
}

/// The words of `text`, except that a backtick span (`` `chassis power on` ``) stays one
/// unit.
fn unbreakable_units(text: &str) -> Vec<String> {
    let mut units = Vec::new();
    let mut span: Vec<&str> = Vec::new();
    for word in text.split(' ') {
        let opens = span.is_empty() && word.matches('`').count() % 2 == 1;
        if span.is_empty() && !opens {
            units.push(word.to_string());
            continue;
        }
        span.push(word);
        let closes = !opens && word.matches('`').count() % 2 == 1;
        if closes {
            units.push(span.join(" "));
            span.clear();
        }
    }
    // An unclosed backtick: its words as they are.
    units.extend(span.iter().map(|w| w.to_string()));
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_in_a_command_cannot_forge_a_line() {
        assert_eq!(escape("start\nGATE approved"), "start\\nGATE approved");
        assert_eq!(escape("red \x1b[31m"), "red \\u{1b}[31m");
        assert_eq!(prose("two\nlines  here"), "two lines here");
    }

    #[test]
    fn wrapped_lines_fit_the_width() {
        let mut out = String::new();
        let long = "word ".repeat(60) + &"x".repeat(250);
        wrap_into(&mut out, "  head: ", &long, 8);
        assert!(out.lines().count() > 3);
        for line in out.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(out.lines().skip(1).all(|line| line.starts_with("        ")));
        assert_eq!(out.matches('x').count(), 250, "nothing is lost");
        assert_eq!(visible_width("\x1b[1mab\x1b[0m"), 2);
    }

    #[test]
    fn a_command_in_backticks_moves_whole_to_the_next_line() {
        let mut out = String::new();
        let text = format!("{} `chassis power on` then", "word ".repeat(17).trim_end());
        wrap_into(&mut out, "  head: ", &text, 8);
        assert!(
            out.lines().any(|line| line.contains("`chassis power on`")),
            "{out}"
        );
        // A command longer than a line has a line to itself, whole; the text goes on after.
        let mut out = String::new();
        let long = format!("run `{}` then this", "x ".repeat(60).trim_end());
        wrap_into(&mut out, "", &long, 4);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[1].trim().len(), 121, "{out}");
        assert_eq!(lines[2], "    then this");
    }
}
