//! Preflight checks: the remote command each one runs, and the pure judgement of its
//! output. Paths are shell-quoted; nothing here touches the network.

use std::time::Duration;

use super::raw::RawPreflight;
use crate::event::CommandOutput;
use crate::template::shell_quote;
use crate::topology::diagnostic::Collector;
use crate::topology::Bound;

/// An amount of free space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// A percentage of the file system.
    Percent(f64),
    /// Bytes.
    Bytes(u64),
}

/// What a preflight check verifies.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Free space on the file system holding `path`.
    DiskFree {
        /// The path.
        path: String,
        /// The minimum free.
        min: Amount,
    },
    /// A command's numeric output meets a bound.
    Value {
        /// The command.
        command: String,
        /// The bound.
        bound: Bound,
    },
    /// A file is recent and large enough.
    File {
        /// The file.
        path: String,
        /// Oldest acceptable age.
        max_age: Option<Duration>,
        /// Smallest acceptable size in bytes.
        min_size: u64,
    },
    /// A command exits as expected.
    Command {
        /// The command.
        command: String,
        /// Expected exit code.
        exit_code: i32,
    },
}

/// Parses `10%`, `500MB`, `5GB`, `1024` (bytes).
pub fn parse_amount(text: &str) -> Result<Amount, String> {
    let trimmed = text.trim();
    if let Some(percent) = trimmed.strip_suffix('%') {
        let value: f64 = percent
            .trim()
            .parse()
            .map_err(|_| format!("invalid percentage {text:?}"))?;
        if !(0.0..=100.0).contains(&value) {
            return Err(format!("percentage {text:?} must be between 0% and 100%"));
        }
        return Ok(Amount::Percent(value));
    }
    parse_size(trimmed).map(Amount::Bytes)
}

/// Parses a size: `1024`, `512K`, `10MB`, `5G`, `1TB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: write e.g. 500MB, 5GB"))?;
    let scale: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("invalid size unit in {text:?}: use K, M, G or T")),
    };
    Ok((value * scale as f64) as u64)
}

/// Resolves a raw check, recording problems under `at`.
pub(super) fn parse(raw: &RawPreflight, at: &str, out: &mut Collector) -> Option<Check> {
    let given = [
        raw.disk_free.is_some(),
        raw.value.is_some(),
        raw.file.is_some(),
        raw.command.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    if given != 1 {
        out.error(
            at,
            "a preflight check needs exactly one of `disk_free`, `value`, `file`, `command`",
        );
        return None;
    }
    if let Some(disk) = &raw.disk_free {
        return match parse_amount(&disk.min) {
            Ok(min) => Some(Check::DiskFree {
                path: disk.path.clone(),
                min,
            }),
            Err(why) => {
                out.error(format!("{at}.disk_free.min"), why);
                None
            }
        };
    }
    if let Some(value) = &raw.value {
        if !value.bound.is_finite() {
            out.error(
                format!("{at}.value.bound"),
                format!(
                    "bound {} is not a number a value can be compared with",
                    value.bound
                ),
            )
            .hint("write a finite number, e.g. `bound: 0.5`");
            return None;
        }
        return Some(Check::Value {
            command: value.command.clone(),
            bound: Bound {
                op: value.op,
                value: value.bound,
            },
        });
    }
    if let Some(file) = &raw.file {
        let min_size = match file.min_size.as_deref().map(parse_size).transpose() {
            Ok(size) => size.unwrap_or(1),
            Err(why) => {
                out.error(format!("{at}.file.min_size"), why);
                return None;
            }
        };
        return Some(Check::File {
            path: file.path.clone(),
            max_age: file.max_age.map(|a| a.0),
            min_size,
        });
    }
    raw.command.as_ref().map(|command| Check::Command {
        command: command.clone(),
        exit_code: raw.exit_code.unwrap_or(0),
    })
}

impl Check {
    /// The command run on the host.
    pub fn remote_command(&self) -> String {
        match self {
            Check::DiskFree { path, .. } => format!("df -Pk -- {}", shell_quote(path)),
            Check::Value { command, .. } | Check::Command { command, .. } => command.clone(),
            Check::File { path, .. } => {
                format!("stat -c '%Y %s' -- {} && date +%s", shell_quote(path))
            }
        }
    }

    /// Judges the command's output: Ok with what was seen, or Err with why it fails.
    pub fn judge(&self, output: &CommandOutput) -> Result<String, String> {
        let failed = |what: &str| {
            format!(
                "{what} (exit {}): {}",
                output
                    .exit_code
                    .map_or("by signal".into(), |c| c.to_string()),
                output.stderr.trim().lines().last().unwrap_or("no output")
            )
        };
        match self {
            Check::Command { exit_code, .. } => match output.exit_code {
                Some(code) if code == *exit_code => Ok(format!("exited {code}")),
                _ => Err(failed(&format!("expected exit {exit_code}"))),
            },
            _ if output.exit_code != Some(0) => Err(failed("the check command failed")),
            Check::Value { bound, .. } => {
                let last = output.stdout.trim().lines().last().unwrap_or("").trim();
                let value: f64 = last
                    .parse()
                    .map_err(|_| format!("expected a number, got {last:?}"))?;
                if bound.holds(value) {
                    Ok(format!("value {value} meets {bound}"))
                } else {
                    Err(format!("value {value} does not meet {bound}"))
                }
            }
            Check::DiskFree { path, min } => {
                let fields: Vec<&str> = output
                    .stdout
                    .lines()
                    .nth(1)
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
                let (Some(used), Some(available)) = (number(2), number(3)) else {
                    return Err(format!("cannot read `df` output for {path}"));
                };
                let free_bytes = available * 1024;
                let free_percent = if used + available == 0 {
                    0.0
                } else {
                    100.0 * available as f64 / (used + available) as f64
                };
                let enough = match min {
                    Amount::Percent(p) => free_percent >= *p,
                    Amount::Bytes(b) => free_bytes >= *b,
                };
                let seen = format!(
                    "{path}: {:.1}% free ({} MiB)",
                    free_percent,
                    free_bytes >> 20
                );
                if enough {
                    Ok(seen)
                } else {
                    Err(format!(
                        "{seen}, below the minimum {}",
                        describe_amount(*min)
                    ))
                }
            }
            Check::File {
                path,
                max_age,
                min_size,
            } => {
                let words: Vec<u64> = output
                    .stdout
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                let [modified, size, now] = words[..] else {
                    return Err(format!("cannot read `stat` output for {path}"));
                };
                let age = Duration::from_secs(now.saturating_sub(modified));
                let seen = format!("{path}: {size} bytes, {} old", crate::plan::human(age));
                if size < *min_size {
                    return Err(format!("{seen}: smaller than {min_size} bytes"));
                }
                if max_age.is_some_and(|limit| age > limit) {
                    return Err(format!(
                        "{seen}: older than {}",
                        crate::plan::human(max_age.unwrap_or_default())
                    ));
                }
                Ok(seen)
            }
        }
    }

    /// One line for the plan.
    pub fn describe(&self) -> String {
        match self {
            Check::DiskFree { path, min } => {
                format!("free space on {path} at least {}", describe_amount(*min))
            }
            // The plan prints the command itself on the next line.
            Check::Value { bound, .. } => format!("the command below prints a value {bound}"),
            Check::File {
                path,
                max_age,
                min_size,
            } => format!(
                "{path} at least {min_size} bytes{}",
                max_age
                    .map(|a| format!(", at most {} old", crate::plan::human(a)))
                    .unwrap_or_default()
            ),
            Check::Command { exit_code, .. } => format!("the command below exits {exit_code}"),
        }
    }
}

fn describe_amount(amount: Amount) -> String {
    match amount {
        Amount::Percent(p) => format!("{p}%"),
        Amount::Bytes(b) => format!("{} MiB", b >> 20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Comparison;

    fn ok(stdout: &str) -> CommandOutput {
        CommandOutput {
            exit_code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
            bmc: None,
        }
    }

    /// Why `check` refuses a command that printed `stdout`.
    fn refusal(check: &Check, stdout: &str) -> String {
        check.judge(&ok(stdout)).unwrap_err()
    }

    #[test]
    fn disk_free_reads_df_and_compares() {
        let df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1000 950 50 95% /\n";
        let check = Check::DiskFree {
            path: "/".into(),
            min: Amount::Percent(10.0),
        };
        assert!(refusal(&check, df).contains("5.0% free"));
        let check = Check::DiskFree {
            path: "/".into(),
            min: Amount::Bytes(40 * 1024),
        };
        assert!(check.judge(&ok(df)).is_ok());
    }

    #[test]
    fn value_bounds_and_garbage() {
        let check = Check::Value {
            command: "lag".into(),
            bound: Bound {
                op: Comparison::Eq,
                value: 0.0,
            },
        };
        assert!(check.judge(&ok("0\n")).is_ok());
        assert!(refusal(&check, "12\n").contains("does not meet == 0"));
        assert!(check.judge(&ok("NULL\n")).is_err());
    }

    #[test]
    fn backups_must_be_recent_and_not_empty() {
        let check = Check::File {
            path: "/b".into(),
            max_age: Some(Duration::from_secs(3600)),
            min_size: 1,
        };
        assert!(check.judge(&ok("1000 10\n2000\n")).is_ok());
        assert!(refusal(&check, "1000 0\n2000\n").contains("smaller"));
        assert!(refusal(&check, "1000 10\n9000\n").contains("older"));
    }

    #[test]
    fn sizes_and_amounts_parse() {
        assert_eq!(parse_size("5GB").unwrap(), 5 << 30);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_amount("10%").unwrap(), Amount::Percent(10.0));
        assert!(parse_size("5 parsecs").is_err());
    }
}
