//! Host ranges as in Ansible inventories: `db[001:040].dc1`, `web[1:9:2]`, `rack[a:d]`.

/// Expands every `[start:end(:step)]` range in `pattern`, left to right, into the list of
/// names it stands for. A pattern with no range expands to itself.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    // Split into literal text and expanded ranges first, so the size of the product is known
    // (and refused when too large) before anything is allocated for it.
    let mut parts: Vec<(&str, Vec<String>)> = Vec::new();
    let mut rest = pattern;
    let mut total: u64 = 1;
    while let Some(open) = rest.find('[') {
        let close = rest[open..]
            .find(']')
            .map(|offset| open + offset)
            .ok_or_else(|| format!("unclosed '[' in host pattern {pattern:?}"))?;
        if rest[..open].contains(']') {
            return Err(format!("unbalanced ']' in host pattern {pattern:?}"));
        }
        let items = expand_range(&rest[open + 1..close])
            .map_err(|why| format!("{why} in host pattern {pattern:?}"))?;
        total = total.saturating_mul(items.len() as u64);
        if total > MAX_EXPANSION {
            return Err(format!(
                "host pattern {pattern:?} stands for more than {MAX_EXPANSION} names"
            ));
        }
        parts.push((&rest[..open], items));
        rest = &rest[close + 1..];
    }
    if rest.contains(']') {
        return Err(format!("unbalanced ']' in host pattern {pattern:?}"));
    }
    let mut names = vec![String::new()];
    for (prefix, items) in &parts {
        let mut longer = Vec::with_capacity(names.len() * items.len());
        for name in &names {
            for item in items {
                longer.push(format!("{name}{prefix}{item}"));
            }
        }
        names = longer;
    }
    for name in &mut names {
        name.push_str(rest);
    }
    Ok(names)
}

/// Folds names back into ranges for display: `db001..db040` → `db[001:040]`.
/// Names keep their order of first appearance; only runs of consecutive numbers fold.
pub fn compress<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut groups: Vec<(String, String, usize, Vec<u64>)> = Vec::new();
    let mut singles_at: Vec<(usize, String)> = Vec::new();
    for name in names {
        // Fold on the first run of digits: `db001.dc1` varies in `001`, not in `dc1`.
        let Some(start) = name.find(|c: char| c.is_ascii_digit()) else {
            singles_at.push((groups.len() + singles_at.len(), name.to_string()));
            continue;
        };
        let end = name[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(name.len(), |i| start + i)
            - 1;
        let digits = &name[start..=end];
        let Ok(number) = digits.parse::<u64>() else {
            singles_at.push((groups.len() + singles_at.len(), name.to_string()));
            continue;
        };
        // Same number of digits, same group: `udb09` and `udb10` fold together, while
        // unpadded `db9` and `db10` stay apart (they would print differently).
        let width = digits.len();
        let (prefix, suffix) = (&name[..start], &name[end + 1..]);
        match groups
            .iter_mut()
            .find(|(p, s, w, _)| p == prefix && s == suffix && *w == width)
        {
            Some(group) => group.3.push(number),
            None => groups.push((prefix.into(), suffix.into(), width, vec![number])),
        }
    }
    let mut output: Vec<String> = Vec::new();
    for (prefix, suffix, width, mut numbers) in groups {
        numbers.sort_unstable();
        numbers.dedup();
        let mut index = 0;
        while index < numbers.len() {
            let first = numbers[index];
            let mut last = first;
            while index + 1 < numbers.len() && numbers[index + 1] == last + 1 {
                index += 1;
                last = numbers[index];
            }
            index += 1;
            output.push(if first == last {
                format!("{prefix}{first:0width$}{suffix}")
            } else {
                format!("{prefix}[{first:0width$}:{last:0width$}]{suffix}")
            });
        }
    }
    output.extend(singles_at.into_iter().map(|(_, name)| name));
    output
}

/// Upper bound on one pattern's expansion (all its ranges multiplied), so a typo cannot
/// allocate the world.
pub const MAX_EXPANSION: u64 = 100_000;

fn expand_range(spec: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(format!(
            "range [{spec}] must be [start:end] or [start:end:step]"
        ));
    }
    let step: u64 = match parts.get(2) {
        Some(text) => text
            .parse()
            .ok()
            .filter(|step| *step > 0)
            .ok_or_else(|| format!("range step {text:?} must be a positive number"))?,
        None => 1,
    };
    // An empty start is 0, as Ansible reads it: `mail[:5]` is mail0..mail5.
    let start = if parts[0].is_empty() { "0" } else { parts[0] };
    let end = parts[1];
    if let (Ok(first), Ok(last)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if first > last {
            return Err(format!("range [{spec}] runs backwards"));
        }
        if (last - first) / step >= MAX_EXPANSION {
            return Err(format!(
                "range [{spec}] is too large: at most {MAX_EXPANSION} values"
            ));
        }
        // A leading zero fixes the width: [001:040] gives 001..040.
        let width = if start.len() > 1 && start.starts_with('0') {
            start.len()
        } else {
            0
        };
        return Ok((first..=last)
            .step_by(step as usize)
            .map(|number| format!("{number:0width$}"))
            .collect());
    }
    let letters = |text: &str| {
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(letter), None) if letter.is_ascii_alphabetic() => Some(letter as u8),
            _ => None,
        }
    };
    match (letters(start), letters(end)) {
        (Some(first), Some(last)) if first <= last => Ok((first..=last)
            .step_by(step as usize)
            .map(|letter| (letter as char).to_string())
            .collect()),
        _ => Err(format!(
            "range [{spec}] must hold two numbers or two letters in order"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{compress, expand};

    #[test]
    fn an_empty_start_is_zero_as_ansible_reads_it() {
        assert_eq!(
            expand("mail[:5]").unwrap(),
            ["mail0", "mail1", "mail2", "mail3", "mail4", "mail5"]
        );
        assert_eq!(expand("n[:4:2]").unwrap(), ["n0", "n2", "n4"]);
        assert!(expand("mail[:]").is_err());
    }

    #[test]
    fn zero_padded_ranges_keep_their_width() {
        let names = expand("db[001:040].dc1").unwrap();
        assert_eq!(names.len(), 40);
        assert_eq!(names[0], "db001.dc1");
        assert_eq!(names[39], "db040.dc1");
    }

    #[test]
    fn several_ranges_multiply_and_steps_skip() {
        assert_eq!(
            expand("r[a:b]-h[1:5:2]").unwrap(),
            ["ra-h1", "ra-h3", "ra-h5", "rb-h1", "rb-h3", "rb-h5"]
        );
    }

    #[test]
    fn compress_folds_what_expand_unfolds() {
        let names = expand("db[001:040].dc1").unwrap();
        let folded = compress(names.iter().map(String::as_str));
        assert_eq!(folded, ["db[001:040].dc1"]);
        assert_eq!(compress(["a1", "a2", "a4", "cfg"]), ["a[1:2]", "a4", "cfg"]);
    }

    #[test]
    fn malformed_ranges_are_errors_not_panics() {
        for bad in [
            "db[1:",
            "db[5:1]",
            "db[1:2:0]",
            "db[x:10]",
            "db]",
            "db[1]",
            "h[1:1000][1:1000][1:100]",
            "h[0:18446744073709551615]",
            "a]b[1:2]",
        ] {
            assert!(expand(bad).is_err(), "{bad} should be rejected");
        }
    }
}
