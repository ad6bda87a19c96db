//! Secrets (BMC passwords) are read here and nowhere else: at the moment of use, never kept,
//! never printed. Errors say where a secret was looked for, never what was found.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::topology::SecretSource;

/// A secret read from its source. Its `Debug` shows nothing of it.
pub struct Secret(String);

impl Secret {
    /// The secret itself, to hand to a tool's environment.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable ${0} is not set (or not UTF-8)")]
    Unset(String),
    /// The file could not be read.
    #[error("cannot read {path}: {kind}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        kind: String,
    },
    /// The file's first line is empty.
    #[error("first line of {0} is empty")]
    Empty(PathBuf),
}

/// Reads a secret now: an environment variable, or the first line of a file.
pub fn read(source: &SecretSource) -> Result<Secret, SecretError> {
    match source {
        SecretSource::Env(variable) => std::env::var(variable)
            .map(Secret)
            .map_err(|_| SecretError::Unset(variable.clone())),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| SecretError::Unreadable {
                path: path.clone(),
                kind: e.kind().to_string(),
            })?;
            let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
            if line.is_empty() {
                return Err(SecretError::Empty(path.clone()));
            }
            Ok(Secret(line.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_read_from_a_file_and_never_shown_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cr3t-value\nignored\n").unwrap();
        let secret = read(&SecretSource::File(path.clone())).unwrap();
        assert_eq!(secret.expose(), "s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(
            read(&SecretSource::File(path.clone())).unwrap_err(),
            SecretError::Empty(path)
        );
        let unset = SecretSource::Env("BLACKSTART_TEST_SURELY_UNSET_VARIABLE".into());
        assert!(matches!(read(&unset), Err(SecretError::Unset(_))));
    }
}
