//! The structure-aware mutator of the fuzz harness: the shipped files it starts from; from one
//! of them, one to four mutations and sometimes a planted secret, deterministic in (seed, index).

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One shipped file to mutate.
#[derive(Clone)]
pub struct Base {
    /// Where it lives; playbooks find their topology relative to it.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// A playbook rather than a topology.
    pub playbook: bool,
}

/// Every shipped topology and playbook under `root`.
pub fn bases(root: &Path) -> Vec<Base> {
    let mut bases = Vec::new();
    for (dir, playbook) in [("topologies", false), ("playbooks", true)] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("shipped directory")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("shipped file");
            bases.push(Base {
                path,
                text,
                playbook,
            });
        }
    }
    bases
}

/// Planted as an inline secret; it must never come out.
pub const MARKER: &str = "FzSecret9q7";

/// Builds input `index` of `seed`: one base, one to four mutations.
pub fn input(bases: &[Base], seed: u64, index: u64) -> (usize, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let base = rng.random_range(0..bases.len());
    let mut lines: Vec<String> = bases[base].text.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..=4) {
        mutate(&mut lines, &mut rng);
    }
    // A secret is planted last, so no later mutation moves it out of its key.
    if rng.random_bool(0.25) {
        plant_secret(&mut lines, &mut rng);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if rng.random_bool(0.03) {
        text.insert(0, '\u{feff}');
    }
    (base, text)
}

const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "1e308",
    ".nan",
    ".inf",
    "-.inf",
];
const DURATIONS: [&str; 9] = [
    "0s",
    "1ns",
    "30d",
    "31d",
    "999999h",
    "18446744073709551615s",
    "292471208678y",
    "-5s",
    "1h 1h 1h 1h",
];
const CHARS: [&str; 24] = [
    "[", "]", "{", "}", ":", ",", "\"", "'", "&", "*", "!", "%", "@", "-", "|", ">", "#", "\t",
    "\r", "\0", "\u{202e}", "\u{200b}", "é", "🔥",
];
const RANGES: [&str; 5] = [
    "[1:1000000]",
    "[1:100000]",
    "[1:1000][1:1000][1:100]",
    "[0:18446744073709551615]",
    "[1:99999]",
];

fn mutate(lines: &mut Vec<String>, rng: &mut ChaCha8Rng) {
    if lines.is_empty() {
        lines.push(String::new());
    }
    let at = rng.random_range(0..lines.len());
    match rng.random_range(0..13) {
        0 => {
            lines.remove(at);
        }
        1 => {
            let copy = lines[at].clone();
            lines.insert(at, copy);
        }
        2 => {
            let other = rng.random_range(0..lines.len());
            lines.swap(at, other);
        }
        3 => {
            let c = CHARS[rng.random_range(0..CHARS.len())];
            let position = char_boundary(&lines[at], rng);
            if rng.random_bool(0.5) && position < lines[at].len() {
                let next = lines[at][position..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8);
                lines[at].replace_range(position..position + next, c);
            } else {
                lines[at].insert_str(position, c);
            }
        }
        4 => deepen(&mut lines[at], rng),
        5 => replace_token(&mut lines[at], rng, |t| t.parse::<f64>().is_ok(), &NUMBERS),
        6 => replace_token(&mut lines[at], rng, is_duration, &DURATIONS),
        7 => {
            // A range made huge, or one added to a name.
            let line = &mut lines[at];
            let range = RANGES[rng.random_range(0..RANGES.len())];
            match (line.find('['), line.find(']')) {
                (Some(open), Some(close)) if open < close => {
                    line.replace_range(open..=close, range)
                }
                _ => {
                    if let Some(quote) = line.rfind('"') {
                        line.insert_str(quote, range);
                    }
                }
            }
        }
        8 => alias_bomb(lines, rng),
        9 => {
            // A long line of repeated structure.
            let count = rng.random_range(1..2000);
            let piece = ["a: b, ", "- ", "x", "[1], "][rng.random_range(0..4)];
            lines[at].push_str(&piece.repeat(count));
        }
        10 => {
            // Indentation shifted: a block moves under another key.
            let shift = rng.random_range(1..8);
            if rng.random_bool(0.5) {
                lines[at].insert_str(0, &" ".repeat(shift));
            } else {
                let cut = lines[at].len() - lines[at].trim_start().len();
                lines[at].replace_range(..cut.min(shift), "");
            }
        }
        11 => {
            // A line from the other end of the file, or a known key with a hostile value.
            let keys = [
                "name",
                "address",
                "password_env",
                "min_healthy",
                "tier",
                "status",
            ];
            let key = keys[rng.random_range(0..keys.len())];
            let value = [
                "\"\"",
                "\"a\\nb\"",
                "\"x@bootstrap\"",
                "0",
                "\"-1.2.3.4\"",
                "\"a;b\"",
            ][rng.random_range(0..6)];
            let indent = lines[at].len() - lines[at].trim_start().len();
            lines.insert(at, format!("{}{key}: {value}", " ".repeat(indent)));
        }
        _ => {
            let c = ["\0", "\u{feff}", "\u{202e}", "\u{fffd}", "ǅ", "\u{10ffff}"]
                [rng.random_range(0..6)];
            let position = char_boundary(&lines[at], rng);
            lines[at].insert_str(position, c);
        }
    }
}

fn char_boundary(line: &str, rng: &mut ChaCha8Rng) -> usize {
    let mut position = rng.random_range(0..=line.len());
    while !line.is_char_boundary(position) {
        position -= 1;
    }
    position
}

fn is_duration(token: &str) -> bool {
    token.len() > 1
        && token.ends_with(['s', 'm', 'h', 'd'])
        && token[..token.len() - 1].chars().all(|c| c.is_ascii_digit())
}

/// Replaces one token of `line` that `wanted` accepts with one of `choices`.
fn replace_token(
    line: &mut String,
    rng: &mut ChaCha8Rng,
    wanted: impl Fn(&str) -> bool,
    choices: &[&str],
) {
    // Runs of letters, digits and dots, by byte range (a separator may be multi-byte).
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (at, c) in line.char_indices().chain([(line.len(), ' ')]) {
        let inside = c.is_alphanumeric() || c == '.';
        match (inside, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                if wanted(&line[from..at]) {
                    tokens.push((from, at));
                }
                start = None;
            }
            _ => {}
        }
    }
    if tokens.is_empty() {
        return;
    }
    let (start, end) = tokens[rng.random_range(0..tokens.len())];
    line.replace_range(start..end, choices[rng.random_range(0..choices.len())]);
}

/// Wraps the value of a `key: value` line in many levels of flow collections.
fn deepen(line: &mut String, rng: &mut ChaCha8Rng) {
    let depth = [2, 10, 63, 65, 200, 5000, 50_000][rng.random_range(0..7)];
    let Some(colon) = line.find(": ") else {
        line.insert_str(0, &"- ".repeat(depth.min(5000)));
        return;
    };
    let (open, close) = if rng.random_bool(0.5) {
        ("[", "]")
    } else {
        ("{a: ", "}")
    };
    let value = line[colon + 2..].to_string();
    let closing = if rng.random_bool(0.8) {
        close.repeat(depth)
    } else {
        String::new()
    };
    line.replace_range(
        colon + 2..,
        &format!("{}{value}{closing}", open.repeat(depth)),
    );
}

/// Adds a billion-laughs chain of anchors and aliases, used somewhere in the file.
fn alias_bomb(lines: &mut Vec<String>, rng: &mut ChaCha8Rng) {
    let levels = rng.random_range(2..10);
    let mut bomb = vec!["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]".to_string()];
    for level in 1..levels {
        let previous = format!("*x{}", level - 1);
        bomb.push(format!(
            "x{level}: &x{level} [{}]",
            vec![previous; 9].join(", ")
        ));
    }
    let at = rng.random_range(0..=lines.len());
    for (offset, line) in bomb.into_iter().enumerate() {
        lines.insert((at + offset).min(lines.len()), line);
    }
    let target = rng.random_range(0..lines.len());
    if let Some(colon) = lines[target].find(": ") {
        let alias = format!("*x{}", levels - 1);
        lines[target].replace_range(colon + 2.., &alias);
    }
}

/// Settings blocks written as flow mappings: a secret planted in one is refused (inline
/// password, misspelt field), and any finding that quotes the line must redact it.
const SECRET_HOMES: [&str; 8] = [
    "bmc",
    "ssh",
    "health",
    "retry",
    "health_policy",
    "progress",
    "http",
    "power_on",
];

fn plant_secret(lines: &mut [String], rng: &mut ChaCha8Rng) {
    let homes: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let line = lines[i].trim_start().trim_start_matches("- ");
            SECRET_HOMES
                .iter()
                .any(|home| line.starts_with(&format!("{home}: {{")))
        })
        .collect();
    if homes.is_empty() {
        return;
    }
    let at = homes[rng.random_range(0..homes.len())];
    let key = [
        "password",
        "passwd",
        "pass",
        "secret",
        "token",
        "password_env",
    ][rng.random_range(0..6)];
    let value = match key {
        // Pasted where a variable name belongs: not a name, so refused, and never echoed.
        "password_env" => format!("\"{MARKER}!x\""),
        _ if rng.random_bool(0.3) => format!("\"{MARKER}, }}\""),
        _ => MARKER.to_string(),
    };
    let open = lines[at].find(": {").expect("home") + 3;
    lines[at].insert_str(open, &format!(" {key}: {value},"));
}

/// True when every occurrence of the marker in `text` sits as the value of a secret key, so
/// that seeing it in any output is a leak (a mutation may have moved it elsewhere).
pub fn secret_is_planted(text: &str) -> bool {
    text.contains(MARKER)
        && text
            .lines()
            .filter(|line| line.contains(MARKER))
            .all(|line| {
                line.split(MARKER).count() == 2
                    && [
                        "password: ",
                        "passwd: ",
                        "pass: ",
                        "secret: ",
                        "token: ",
                        "password_env: ",
                    ]
                    .iter()
                    .any(|key| {
                        line.contains(&format!("{key}{MARKER}"))
                            || line.contains(&format!("{key}\"{MARKER}"))
                    })
                    && line
                        .trim_start()
                        .trim_start_matches("- ")
                        .split(": {")
                        .count()
                        == 2
            })
}
