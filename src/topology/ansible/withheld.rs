//! Inventories hold secrets (AWX's `pg_password`, k3s's `token`, `ansible_become_pass`,
//! vault-encrypted values): whatever blackstart prints of an inventory shows them as a marker
//! saying they were withheld, never their value. Decided by the variable's name (at any
//! depth of a nested value) and by the value itself for vault ciphertext.

use super::{Inventory, Value};

/// What is printed instead of a secret-looking variable's value.
pub const WITHHELD_NAME: &str =
    "(withheld by blackstart: the variable's name marks it as a secret)";
/// What is printed instead of a vault-encrypted value.
pub const WITHHELD_VAULT: &str = "(withheld by blackstart: vault-encrypted)";

/// Whether a variable named `name` holds a secret by its name: `*password*`, `*passwd*`,
/// `*token*`, `*secret*`, `*api_key*`/`*apikey*`, `*_pass` (`ansible_become_pass`,
/// `ansible_ssh_pass`), case-insensitively.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "token", "secret", "api_key", "apikey"]
        .iter()
        .any(|word| name.contains(word))
        || name.ends_with("_pass")
        || name == "pass"
}

/// Whether `value` is vault ciphertext (`!vault |` in YAML, or `$ANSIBLE_VAULT;...` text).
pub fn is_vaulted(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.trim_start().starts_with("$ANSIBLE_VAULT;"))
}

/// `value` as it may be printed under the name `name`.
pub fn shown(name: &str, value: &Value) -> Value {
    if is_secret_name(name) {
        return Value::String(WITHHELD_NAME.into());
    }
    if is_vaulted(value) {
        return Value::String(WITHHELD_VAULT.into());
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| (key.clone(), shown(key, inner)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| shown("", item)).collect()),
        other => other.clone(),
    }
}

impl Inventory {
    /// A copy to print: every secret-looking value, of hosts and of groups, replaced by a
    /// marker.
    pub fn withheld(&self) -> Inventory {
        let mut copy = self.clone();
        for host in &mut copy.hosts {
            for (name, value) in host.vars.iter_mut() {
                *value = shown(name, value);
            }
        }
        for group in &mut copy.groups {
            for (name, value) in group.vars.iter_mut() {
                *value = shown(name, value);
            }
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_withheld_by_name_and_by_vault_at_any_depth() {
        for name in [
            "pg_password",
            "k3s_token",
            "AWS_SECRET_KEY",
            "ansible_become_pass",
            "ansible_ssh_pass",
            "db_passwd",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["ansible_user", "ansible_port", "passage", "compass_url"] {
            assert!(!is_secret_name(name), "{name}");
        }
        let value = json!({"user": "app", "password": "hunter2", "list": [{"api_token": "t"}]});
        assert_eq!(
            shown("db", &value),
            json!({"user": "app", "password": WITHHELD_NAME, "list": [{"api_token": WITHHELD_NAME}]})
        );
        assert_eq!(
            shown("anything", &json!("$ANSIBLE_VAULT;1.1;AES256\n3061")),
            json!(WITHHELD_VAULT)
        );
    }
}
