//! Values parsed once at the edge: human durations, readiness rules, tiers.

use std::fmt;
use std::time::Duration;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// A duration written for people: `30s`, `5m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(de::Error::custom)
    }
}

/// The longest duration a file may write. A recovery longer than a month is not a plan, and
/// the bound keeps every sum and product of durations in the plan and the drill far from
/// overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Parses a human duration of at most [`MAX_DURATION`], with a message that says what is
/// accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "invalid duration {text:?}: durations cannot be negative (write e.g. \"30s\", \"5m\")"
        ));
    }
    let parsed = humantime::parse_duration(trimmed).map_err(|err| {
        format!("invalid duration {text:?}: {err} (write e.g. \"30s\", \"5m\", \"1h 30m\")")
    })?;
    if parsed > MAX_DURATION {
        return Err(format!(
            "invalid duration {text:?}: at most 30 days is accepted (write e.g. \"2h\", \"3d\")"
        ));
    }
    Ok(parsed)
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> String {
        "HumanDuration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            ..Default::default()
        };
        schema.string().pattern = Some(r"^\s*([0-9]+\s*[a-zA-Z]+\s*)+$".into());
        schema.metadata().description = Some("A duration such as 30s, 5m, 1h 30m.".into());
        schema.into()
    }
}

/// How many hosts of a subsystem must be healthy before its dependents may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinHealthy {
    /// At least this many hosts.
    Count(u32),
    /// At least this percentage of the hosts (rounded up).
    Percent(u8),
}

impl Default for MinHealthy {
    fn default() -> Self {
        MinHealthy::Percent(100)
    }
}

impl MinHealthy {
    /// The number of healthy hosts needed out of `total`; never more than `total`, and at
    /// least one when there is any host.
    pub fn required(self, total: usize) -> usize {
        let needed = match self {
            MinHealthy::Count(count) => count as usize,
            MinHealthy::Percent(percent) => (total * percent as usize).div_ceil(100),
        };
        needed.clamp(total.min(1), total)
    }
}

impl fmt::Display for MinHealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MinHealthy::Count(count) => write!(f, "{count}"),
            MinHealthy::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

impl<'de> Deserialize<'de> for MinHealthy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        scalar(
            deserializer,
            "a host count (3) or a percentage (\"60%\")",
            parse_min_healthy,
        )
    }
}

/// Reads a number or a string through `parse`. A visitor rather than an untagged enum, so
/// `-1` or `1.5` gets `parse`'s message instead of "data did not match any variant of
/// untagged enum".
fn scalar<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct Visitor<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<T> de::Visitor<'_> for Visitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
            (self.parse)(&value.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
            (self.parse)(&value.to_string()).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
            (self.parse)(&value.to_string()).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            (self.parse)(text).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(Visitor { expecting, parse })
}

fn parse_min_healthy(text: &str) -> Result<MinHealthy, String> {
    let trimmed = text.trim();
    let invalid = || {
        format!("invalid min_healthy {text:?}: write a host count (3) or a percentage (\"60%\")")
    };
    if let Some(percent) = trimmed.strip_suffix('%') {
        let value: u8 = percent.trim().parse().map_err(|_| invalid())?;
        if value == 0 || value > 100 {
            return Err(format!(
                "invalid min_healthy {text:?}: a percentage must be between 1% and 100%"
            ));
        }
        return Ok(MinHealthy::Percent(value));
    }
    match trimmed.parse() {
        Ok(0) => Err(format!(
            "invalid min_healthy {text:?}: at least one host must be healthy (write 1 or more)"
        )),
        Ok(count) => Ok(MinHealthy::Count(count)),
        Err(_) => Err(invalid()),
    }
}

impl JsonSchema for MinHealthy {
    fn schema_name() -> String {
        "MinHealthy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        integer_or_text(
            "A host count (3) or a percentage of the hosts (\"60%\").",
            r"^\s*[0-9]{1,3}\s*%\s*$",
        )
    }
}

/// A priority tier: 1 (`S1`) is the most severe and is restored first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tier(pub u8);

impl Default for Tier {
    fn default() -> Self {
        Tier(3)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        scalar(deserializer, "a tier S1..S9 or 1..9", parse_tier)
    }
}

fn parse_tier(text: &str) -> Result<Tier, String> {
    let digits = text.trim().trim_start_matches(['S', 's']);
    match digits.parse::<u8>() {
        Ok(value) if (1..=9).contains(&value) => Ok(Tier(value)),
        _ => Err(format!(
            "invalid tier {text:?}: write S1..S9 or 1..9 (S1 is restored first)"
        )),
    }
}

impl JsonSchema for Tier {
    fn schema_name() -> String {
        "Tier".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        integer_or_text(
            "Priority tier S1..S9 (or 1..9); S1 is restored first.",
            r"^[Ss]?[1-9]$",
        )
    }
}

/// The schema of a value written either as a number or as text of a given shape.
fn integer_or_text(description: &str, pattern: &str) -> Schema {
    let mut schema = SchemaObject::default();
    schema.metadata().description = Some(description.into());
    let integer = SchemaObject {
        instance_type: Some(InstanceType::Integer.into()),
        ..Default::default()
    };
    let mut text = SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        ..Default::default()
    };
    text.string().pattern = Some(pattern.into());
    schema.subschemas().one_of = Some(vec![integer.into(), text.into()]);
    schema.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_healthy_rounds_percentages_up_and_never_exceeds_hosts() {
        assert_eq!(MinHealthy::Percent(60).required(40), 24);
        assert_eq!(MinHealthy::Percent(50).required(3), 2);
        assert_eq!(MinHealthy::Count(5).required(3), 3);
        assert_eq!(MinHealthy::Percent(1).required(3), 1);
        assert_eq!(MinHealthy::Count(0).required(0), 0);
    }

    #[test]
    fn durations_reject_negative_and_garbage() {
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("31d").unwrap_err().contains("30 days"));
        assert!(parse_duration("18446744073709551615s").is_err());
        assert_eq!(parse_duration("30d").unwrap(), MAX_DURATION);
    }

    #[test]
    fn readiness_and_tiers_say_what_is_wrong() {
        let min = |text: &str| serde_yaml::from_str::<MinHealthy>(text).map_err(|e| e.to_string());
        assert!(min("0").unwrap_err().contains("at least one host"));
        assert!(min("-1").unwrap_err().contains("invalid min_healthy"));
        assert_eq!(min("\"60%\"").unwrap(), MinHealthy::Percent(60));
        let tier = |text: &str| serde_yaml::from_str::<Tier>(text).map_err(|e| e.to_string());
        assert!(tier("-3").unwrap_err().contains("invalid tier"));
        assert_eq!(tier("S2").unwrap(), Tier(2));
    }
}
