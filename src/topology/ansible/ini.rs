//! The INI inventory format, as ansible-core's `ini` plugin reads it: hosts before any
//! section are ungrouped; `[g]` lists hosts (`name[:port] key=value ...`, split like a
//! shell line, `#` starting a comment), `[g:vars]` one `key=value` a line, `[g:children]`
//! one group a line. Values are Python literals when they read as one, text otherwise.

use std::collections::HashMap;

use super::groups::Builder;
use super::host_pattern::split_port;
use super::Value;
use crate::topology::hostrange;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// Reads `text` into `builder`, recording every problem with its line.
pub(super) fn read(text: &str, builder: &mut Builder) {
    let mut group = builder.group("ungrouped", 0);
    let mut state = State::Hosts;
    // Groups named by `[x:vars]` or `[x:children]` before `[x]` (or `[x:children]`) itself
    // declares them, with the line that named them first: Ansible refuses the file when
    // one is never declared.
    let mut pending: HashMap<String, (usize, State, String)> = HashMap::new();
    // Children named before their group was declared: (parent, child, line).
    let mut pending_children: Vec<(usize, String, usize)> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        if builder.stopped {
            return;
        }
        let number = index + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((name, kind)) = section(line) {
            state = match kind {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    builder.error(
                        number,
                        format!("section [{name}:{other}] has unknown type {other:?}"),
                        "a section is [group], [group:vars] or [group:children]",
                    );
                    group = None;
                    continue;
                }
            };
            if !builder.has_group(name) && state != State::Hosts {
                pending
                    .entry(name.to_string())
                    .or_insert((number, state, name.to_string()));
            }
            if state != State::Vars {
                pending.remove(name);
            }
            group = builder.group(name, number);
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            builder.error(
                number,
                format!("invalid section {line:?}"),
                "a section header is [group], [group:vars] or [group:children], without spaces",
            );
            group = None;
            continue;
        }
        let Some(current) = group else { continue };
        match state {
            State::Hosts => host_line(line, number, current, builder),
            State::Vars => match line.split_once('=') {
                Some((key, value)) => {
                    builder.set_group_var(current, key.trim(), literal(value.trim()), number)
                }
                None => builder.error(
                    number,
                    format!("expected key=value, got {line:?}"),
                    "a [group:vars] line is `name=value`",
                ),
            },
            State::Children => {
                let name = line.split('#').next().unwrap_or("").trim();
                if name.is_empty() || name.contains(char::is_whitespace) || name.contains(':') {
                    builder.error(
                        number,
                        format!("invalid group name {line:?}"),
                        "a [group:children] line names one group",
                    );
                    continue;
                }
                if builder.has_group(name) {
                    if let Some(child) = builder.group(name, number) {
                        builder.add_child(current, child, number);
                    }
                } else {
                    pending.entry(name.to_string()).or_insert((
                        number,
                        State::Children,
                        name.to_string(),
                    ));
                    pending_children.push((current, name.to_string(), number));
                }
            }
        }
    }
    let mut unresolved: Vec<(usize, State, String)> = pending.into_values().collect();
    unresolved.sort_by_key(|(line, ..)| *line);
    for (line, state, name) in unresolved {
        let message = match state {
            State::Vars => format!("section [{name}:vars] is for a group never declared"),
            _ => format!("group {name:?} is named as a child but never declared"),
        };
        builder.error(
            line,
            message,
            &format!("declare the group with a [{name}] section (it may be empty) or fix the name"),
        );
    }
    for (parent, name, line) in pending_children {
        if let Some(child) = builder.group(&name, line) {
            builder.add_child(parent, child, line);
        }
    }
}

/// `[name]` or `[name:kind]`, optionally followed by a comment.
fn section(line: &str) -> Option<(&str, Option<&str>)> {
    let inner = line.strip_prefix('[')?;
    let close = inner.find(']')?;
    let rest = inner[close + 1..].trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let inner = &inner[..close];
    let (name, kind) = match inner.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (inner, None),
    };
    let plain =
        |text: &str| !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == '[');
    let word =
        |text: &str| !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_');
    (plain(name) && kind.is_none_or(word)).then_some((name, kind))
}

fn host_line(line: &str, number: usize, group: usize, builder: &mut Builder) {
    let tokens = match shell_words(line) {
        Ok(tokens) => tokens,
        Err(why) => {
            builder.error(
                number,
                format!("cannot split the host line: {why}"),
                "close the quote",
            );
            return;
        }
    };
    let Some((pattern, rest)) = tokens.split_first() else {
        return;
    };
    let mut vars = Vec::new();
    let (pattern, port) = split_port(pattern);
    if let Some(port) = port {
        vars.push(("ansible_port".to_string(), Value::from(port)));
    }
    for token in rest {
        match token.split_once('=') {
            Some((key, value)) if !key.is_empty() => vars.push((key.to_string(), literal(value))),
            _ => {
                builder.error(
                    number,
                    format!("expected key=value after the host, got {token:?}"),
                    "host variables are written `name=value`; quote a value holding spaces",
                );
                return;
            }
        }
    }
    let names = if pattern.contains('[') {
        match hostrange::expand(pattern) {
            Ok(names) => names,
            Err(why) => {
                builder.error(number, why, "write a range such as web[01:20] or db-[a:c]");
                return;
            }
        }
    } else {
        vec![pattern.to_string()]
    };
    builder.add_hosts(&names, group, &vars, number);
}

/// Python's `shlex.split(line, comments=True)`: whitespace splits, quotes group, a
/// backslash escapes outside single quotes, an unquoted `#` ends the line.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("no closing quotation".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("no escaped character".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// What `ast.literal_eval` makes of a value ([`super::literal`]): strings, numbers,
/// booleans, `None`, lists, dicts; anything else stays the text it is, as Ansible keeps it.
pub(super) fn literal(text: &str) -> Value {
    super::literal::python_literal(text.trim()).unwrap_or_else(|| Value::String(text.to_string()))
}
