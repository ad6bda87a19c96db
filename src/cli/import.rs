//! `blackstart import ansible INVENTORY`: a topology skeleton (or, with `--format json`,
//! what blackstart read) from an Ansible inventory, on stdout.

use std::path::Path;

use blackstart::topology::ansible::{self, skeleton::skeleton, Level, LoadError};

use super::Outcome;

/// What `import ansible` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    /// A topology skeleton that `validate` accepts.
    Yaml,
    /// The inventory as read: hosts with their groups and merged variables, and groups.
    Json,
}

/// Reads `inventory` and prints it as `format`; problems go to stderr with file:line.
pub fn ansible(inventory: &Path, format: ImportFormat) -> anyhow::Result<Outcome> {
    let read = match ansible::load(inventory) {
        Ok(read) => read,
        Err(LoadError::Invalid { path, problems }) => {
            for problem in &problems {
                let label = match problem.level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                };
                eprintln!(
                    "{label}: {}\n  --> {}",
                    problem.message,
                    problem.place(&path)
                );
                if let Some(hint) = &problem.hint {
                    eprintln!("  = hint: {hint}");
                }
            }
            return Ok(Outcome::InvalidInput);
        }
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(Outcome::InvalidInput);
        }
    };
    for problem in &read.warnings {
        let place = problem.place(&inventory.display().to_string());
        eprintln!("warning: {}\n  --> {place}", problem.message);
    }
    match format {
        ImportFormat::Json => println!("{}", serde_json::to_string_pretty(&read)?),
        ImportFormat::Yaml => {
            let name = inventory
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or("inventory");
            print!(
                "{}",
                skeleton(&read, &inventory.display().to_string(), name)
            );
        }
    }
    Ok(Outcome::Success)
}
