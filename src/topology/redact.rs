//! Secrets kept out of messages: values of secret-looking keys redacted wherever a source
//! line or a parser's message is shown, and long quoted values cut short.

/// `message` with every double-quoted string longer than `width` characters cut short: a
/// parser quoting a whole swallowed file helps nobody.
pub fn shorten_quoted(message: &str, width: usize) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut inside: Option<usize> = None;
    let mut escaped = false;
    for c in message.chars() {
        match inside {
            None => {
                out.push(c);
                if c == '"' {
                    inside = Some(0);
                }
            }
            Some(count) => {
                let closing = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                if closing {
                    if count > width {
                        out.push('…');
                    }
                    out.push(c);
                    inside = None;
                } else {
                    if count < width {
                        out.push(c);
                    }
                    inside = Some(count + 1);
                }
            }
        }
    }
    out
}

/// Keys whose values are secrets, or may be when a secret is pasted in the wrong place.
const SECRET_KEYS: [&str; 5] = ["password", "passwd", "pass", "secret", "token"];

/// `line` with the value of every key that names a secret (`password`, `passwd`, `pass`,
/// `secret`, `token`, or a key containing one, such as `password_env`, in any case)
/// replaced by `<redacted>`, in block and flow style alike.
pub fn redact_line(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = line[at..].find(':') {
        let colon = at + offset;
        at = colon + 1;
        // A key is followed by `:` and a space (or the end of the line).
        if bytes
            .get(colon + 1)
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            continue;
        }
        let key_end = line[..colon].trim_end_matches(['"', '\'', ' ']).len();
        let key_start = line[..key_end]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let key = line[key_start..key_end].to_ascii_lowercase();
        if !SECRET_KEYS.iter().any(|secret| key.contains(secret)) {
            continue;
        }
        let value_start = line.len() - line[colon + 1..].trim_start().len();
        let value_end = value_end(line, value_start);
        if value_end > value_start {
            out.push_str(&line[copied..value_start]);
            out.push_str("<redacted>");
            copied = value_end;
            at = value_end.max(at);
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// Where the value starting at `start` ends: its closing quote, or the next `,` `}` `]` of a
/// flow collection, or the end of the line.
fn value_end(line: &str, start: usize) -> usize {
    let rest = &line[start..];
    match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => rest[1..]
            .find(quote)
            .map_or(line.len(), |close| start + close + 2),
        Some(_) => rest
            .find([',', '}', ']'])
            .map_or(line.len(), |end| start + end),
        None => start,
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_line, shorten_quoted};

    #[test]
    fn long_quoted_values_in_messages_are_cut_short() {
        let long = format!(
            "invalid type: string \"{}\", expected u32",
            "x\\\"y".repeat(50)
        );
        let short = shorten_quoted(&long, 10);
        assert_eq!(
            short,
            "invalid type: string \"x\\\"yx\\\"yx\\…\", expected u32"
        );
        assert_eq!(shorten_quoted("unknown \"a\"", 10), "unknown \"a\"");
    }

    #[test]
    fn secrets_are_redacted_by_key_in_block_and_flow_style() {
        assert_eq!(
            redact_line("    password: hunter2"),
            "    password: <redacted>"
        );
        assert_eq!(
            redact_line("bmc: { passwd: \"a, b\", cipher_suite: 99, Token: x}"),
            "bmc: { passwd: <redacted>, cipher_suite: 99, Token: <redacted>}"
        );
        assert_eq!(redact_line("url: http://x:80/"), "url: http://x:80/");
        assert_eq!(redact_line("na\u{202e}me: x"), "na\u{202e}me: x");
        assert_eq!(
            redact_line("é\u{feff}token: x"),
            "é\u{feff}token: <redacted>"
        );
        assert_eq!(
            redact_line("  - {pass: 'it', secret: s3}"),
            "  - {pass: <redacted>, secret: <redacted>}"
        );
    }
}
