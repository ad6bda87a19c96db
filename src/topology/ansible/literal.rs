//! Python literals as `ast.literal_eval` reads them, for INI inventory values: Ansible
//! evaluates every INI value so, and keeps the text when it is not one. Strings (with their
//! escapes), integers (`1_000`, `0x1f`, `0o17`, `0b101`), floats, `True`/`False`/`None`,
//! lists, tuples and sets (as lists), dicts; comments end the line. Complex numbers, bytes
//! and integers beyond 64 bits are not JSON: such text stays text.

use serde_json::{Map, Value};

/// Deepest nesting read: a hostile value cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// The value `text` stands for as a Python literal, or None when it is not one.
pub(super) fn python_literal(text: &str) -> Option<Value> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    let value = parser.value(0)?;
    parser.blank();
    (parser.at == parser.chars.len()).then_some(value)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    /// Skips whitespace and comments.
    fn blank(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.at += 1;
                }
            } else if c.is_whitespace() {
                self.at += 1;
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, want: char) -> bool {
        self.blank();
        if self.peek() == Some(want) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.blank();
        match self.peek()? {
            '\'' | '"' => {
                // Adjacent strings join, as in Python: 'a' "b" is 'ab'.
                let mut text = self.string()?;
                loop {
                    self.blank();
                    match self.peek() {
                        Some('\'' | '"') => text.push_str(&self.string()?),
                        _ => return Some(Value::String(text)),
                    }
                }
            }
            '[' => {
                self.at += 1;
                self.items(']', depth).map(Value::Array)
            }
            '(' => {
                self.at += 1;
                let start = self.at;
                // `(1)` is 1; `(1,)` and `()` are tuples.
                if self.eat(')') {
                    return Some(Value::Array(Vec::new()));
                }
                self.at = start;
                let first = self.value(depth + 1)?;
                if self.eat(')') {
                    return Some(first);
                }
                if !self.eat(',') {
                    return None;
                }
                let mut rest = self.items(')', depth)?;
                rest.insert(0, first);
                Some(Value::Array(rest))
            }
            '{' => {
                self.at += 1;
                self.braces(depth)
            }
            '-' | '+' => {
                let negative = self.peek() == Some('-');
                self.at += 1;
                self.blank();
                match self.number()? {
                    Value::Number(n) if negative => {
                        if let Some(i) = n.as_i64() {
                            Some(Value::from(-i))
                        } else {
                            n.as_f64().map(|f| Value::from(-f))
                        }
                    }
                    number => Some(number),
                }
            }
            c if c.is_ascii_digit() || c == '.' => self.number(),
            _ => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.at += 1;
                }
                match self.chars[start..self.at]
                    .iter()
                    .collect::<String>()
                    .as_str()
                {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
        }
    }

    /// Comma-separated values up to `close` (a trailing comma allowed).
    fn items(&mut self, close: char, depth: usize) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    /// `{}` a dict, `{k: v, ...}` a dict, `{a, b}` a set (as a list).
    fn braces(&mut self, depth: usize) -> Option<Value> {
        if self.eat('}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.value(depth + 1)?;
        if !self.eat(':') {
            let mut items = vec![first];
            if self.eat(',') {
                items.extend(self.items('}', depth)?);
            } else if !self.eat('}') {
                return None;
            }
            return Some(Value::Array(items));
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.value(depth + 1)?;
            map.insert(key_text(&key)?, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            key = self.value(depth + 1)?;
            if !self.eat(':') {
                return None;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let triple = self.chars.get(self.at..self.at + 2) == Some(&[quote, quote][..]);
        if triple {
            self.at += 2;
        }
        let mut text = String::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                c if c == quote => {
                    if !triple {
                        return Some(text);
                    }
                    if self.chars.get(self.at..self.at + 2) == Some(&[quote, quote][..]) {
                        self.at += 2;
                        return Some(text);
                    }
                    text.push(c);
                }
                '\n' if !triple => return None,
                '\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    match escaped {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        '0' => text.push('\0'),
                        '\\' | '\'' | '"' => text.push(escaped),
                        '\n' => {}
                        'x' | 'u' | 'U' => {
                            let len = match escaped {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String =
                                self.chars.get(self.at..self.at + len)?.iter().collect();
                            self.at += len;
                            text.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        // Python keeps an unknown escape as written.
                        other => {
                            text.push('\\');
                            text.push(other);
                        }
                    }
                }
                c => text.push(c),
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        let hex = self
            .chars
            .get(start..start + 2)
            .is_some_and(|p| p[0] == '0' && matches!(p[1], 'x' | 'X'));
        while let Some(c) = self.peek() {
            // An exponent's sign: `2e-3`, never in `0x1e-3` (a subtraction, not a literal).
            let sign = matches!(c, '+' | '-')
                && !hex
                && self.at > start
                && matches!(self.chars[self.at - 1], 'e' | 'E');
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') || sign {
                self.at += 1;
            } else {
                break;
            }
        }
        let text: String = self.chars[start..self.at].iter().collect();
        // Underscores only between digits.
        if text.starts_with('_')
            || text.ends_with('_')
            || text.contains("__")
            || text.contains("_.")
            || text.contains("._")
        {
            return None;
        }
        let clean = text.replace('_', "");
        let lower = clean.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(digits) = lower.strip_prefix(prefix) {
                return i64::from_str_radix(digits, radix).ok().map(Value::from);
            }
        }
        if lower.bytes().all(|b| b.is_ascii_digit()) {
            // Python 3 refuses a leading zero (`010`) unless every digit is zero.
            if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|b| b != b'0') {
                return None;
            }
            return lower.parse::<i64>().ok().map(Value::from);
        }
        if !lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+'))
        {
            return None;
        }
        let float: f64 = lower.parse().ok()?;
        float.is_finite().then(|| Value::from(float))
    }
}

/// A dict key as JSON holds it (Ansible's JSON output turns keys into text).
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Value::Null => Some("None".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::python_literal as lit;
    use serde_json::json;

    #[test]
    fn reads_what_literal_eval_reads() {
        assert_eq!(lit("[1, 'a', 2.5]"), Some(json!([1, "a", 2.5])));
        assert_eq!(lit("1.5"), Some(json!(1.5)));
        assert_eq!(lit("-2e3"), Some(json!(-2000.0)));
        assert_eq!(lit(".5"), Some(json!(0.5)));
        assert_eq!(lit("1_000"), Some(json!(1000)));
        assert_eq!(lit("0x1f"), Some(json!(31)));
        assert_eq!(lit("True"), Some(json!(true)));
        assert_eq!(lit("None"), Some(json!(null)));
        assert_eq!(lit("(1, 2)"), Some(json!([1, 2])));
        assert_eq!(lit("(1)"), Some(json!(1)));
        assert_eq!(
            lit("{'a': [1, {'b': False}], 2: 'x'}"),
            Some(json!({"a": [1, {"b": false}], "2": "x"}))
        );
        assert_eq!(lit("{'x', 'y'}"), Some(json!(["x", "y"])));
        assert_eq!(lit(r#"'it\'s' "ok""#), Some(json!("it'sok")));
        assert_eq!(lit("22 # the default"), Some(json!(22)));
        assert_eq!(lit("[1, 2,]"), Some(json!([1, 2])));
    }

    #[test]
    fn keeps_text_that_is_no_literal() {
        for text in [
            "true", "010", "1__0", "web01", "1.2.3", "[1, 2", "a b", "10.0.0.1", "1j", "inf",
            "'open",
        ] {
            assert_eq!(lit(text), None, "{text}");
        }
        assert_eq!(lit(&"[".repeat(200)), None);
    }
}
