//! Command and URL templates: `{host}`, `{address}`, `{subsystem}`, `{datacenter}`, `{rack}`,
//! `{label.KEY}`. Every value that lands in a shell command is single-quoted. Text put into
//! other quoted formats (DOT, Mermaid, HTML) is escaped by one table per format.

use std::collections::BTreeMap;

/// The values a template may refer to, for one node.
#[derive(Debug, Clone, Default)]
pub struct Values<'a> {
    /// Host name.
    pub host: &'a str,
    /// Host address.
    pub address: &'a str,
    /// Subsystem name.
    pub subsystem: &'a str,
    /// Datacenter, empty when undeclared.
    pub datacenter: &'a str,
    /// Rack, empty when undeclared.
    pub rack: &'a str,
    /// Host labels.
    pub labels: Option<&'a BTreeMap<String, String>>,
}

/// A piece of a template: literal text or a placeholder name.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into pieces. Only `{name}` with a lowercase identifier is a
/// placeholder: shell text such as `awk '{print $1}'` or `${HOME}` stays literal.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut literal_from = 0;
    let bytes = template.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'{' && (index == 0 || bytes[index - 1] != b'$') {
            if let Some(length) = template[index + 1..].find('}') {
                let name = &template[index + 1..index + 1 + length];
                let identifier = name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if identifier {
                    pieces.push(Piece::Text(&template[literal_from..index]));
                    pieces.push(Piece::Placeholder(name));
                    index += length + 2;
                    literal_from = index;
                    continue;
                }
            }
        }
        index += 1;
    }
    pieces.push(Piece::Text(&template[literal_from..]));
    pieces
}

/// The placeholder names in `template`.
pub fn placeholders(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Checks that every placeholder in `template` is one this module knows.
pub fn check(template: &str) -> Result<(), String> {
    for name in placeholders(template) {
        let known = matches!(
            name,
            "host" | "address" | "subsystem" | "datacenter" | "rack"
        ) || name
            .strip_prefix("label.")
            .is_some_and(|key| !key.is_empty());
        if !known {
            return Err(format!(
                "unknown placeholder {{{name}}}: use {{host}}, {{address}}, {{subsystem}}, \
                 {{datacenter}}, {{rack}} or {{label.KEY}}"
            ));
        }
    }
    Ok(())
}

/// Renders a shell command: each substituted value is shell-quoted.
pub fn render_shell(template: &str, values: &Values<'_>) -> String {
    render(template, values, shell_quote)
}

/// Renders a URL: values are inserted as they are (they come from the topology, not users).
pub fn render_plain(template: &str, values: &Values<'_>) -> String {
    render(template, values, |text| text.to_string())
}

fn render(template: &str, values: &Values<'_>, quote: impl Fn(&str) -> String) -> String {
    let mut output = String::with_capacity(template.len() + 16);
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => output.push_str(text),
            Piece::Placeholder(name) => {
                let value = match name {
                    "host" => values.host,
                    "address" => values.address,
                    "subsystem" => values.subsystem,
                    "datacenter" => values.datacenter,
                    "rack" => values.rack,
                    other => other
                        .strip_prefix("label.")
                        .and_then(|key| values.labels.and_then(|labels| labels.get(key)))
                        .map_or("", String::as_str),
                };
                output.push_str(&quote(value));
            }
        }
    }
    output
}

/// Quotes `text` for a POSIX shell. Plain words stay readable; anything else is wrapped in
/// single quotes with embedded quotes escaped.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` with every character found in `table` replaced by its text there (quoting for
/// DOT, Mermaid or HTML is one such table); other characters are kept.
pub fn replace_chars(text: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substituted_values_cannot_escape_the_shell_word() {
        let values = Values {
            host: "db1; rm -rf /",
            address: "10.0.0.1",
            subsystem: "it's",
            ..Values::default()
        };
        assert_eq!(
            render_shell("start {host} {address} {subsystem}", &values),
            r"start 'db1; rm -rf /' 10.0.0.1 'it'\''s'"
        );
    }

    #[test]
    fn unknown_placeholders_are_reported() {
        assert!(check("run {hostname}").unwrap_err().contains("{hostname}"));
        assert!(check("run {label.role} {host}").is_ok());
        assert!(check("awk '{print $1}' ${HOME} {").is_ok());
    }
}
