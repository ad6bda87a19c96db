//! YAML values as the inventory's values: shared by the YAML inventory reader and the
//! `group_vars/`/`host_vars/` files, so neither reader imports the other.

use serde_yaml::Value as Yaml;

use super::Value;

/// A mapping key as text: YAML allows numbers and booleans as keys.
pub(super) fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(text) => text.clone(),
        Yaml::Number(number) => number.to_string(),
        Yaml::Bool(flag) => flag.to_string(),
        Yaml::Null => "null".to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// A YAML value as a variable's value; what JSON cannot hold (non-text keys) becomes text.
pub(super) fn json(value: &Yaml) -> Value {
    match value {
        Yaml::Tagged(tagged) => json(&tagged.value),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .iter()
                .map(|(key, value)| (key_text(key), json(value)))
                .collect(),
        ),
        Yaml::Sequence(items) => Value::Array(items.iter().map(json).collect()),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}
