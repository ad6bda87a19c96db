//! `blackstart import ansible INVENTORY`: a topology skeleton (or, with `--format json`,
//! what blackstart read) from an Ansible inventory, on stdout.

use std::path::Path;

use blackstart::topology::ansible::skeleton::{refusals, skeleton};
use blackstart::topology::ansible::{self, Level, LoadError};

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
    let path = inventory.display().to_string();
    let read = match ansible::load(inventory) {
        Ok(read) => read,
        Err(LoadError::Invalid { path, problems }) => {
            print_problems(&path, &problems);
            return Ok(Outcome::InvalidInput);
        }
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(Outcome::InvalidInput);
        }
    };
    for problem in &read.warnings {
        let place = problem.place(&path);
        eprintln!("warning: {}\n  --> {place}", problem.message);
    }
    match format {
        // Secret-looking values are never printed: a marker says they were withheld.
        ImportFormat::Json => println!("{}", serde_json::to_string_pretty(&read.withheld())?),
        ImportFormat::Yaml => {
            let refusals = refusals(&read);
            if !refusals.is_empty() {
                print_problems(&path, &refusals);
                eprintln!("error: no topology written: it would not validate");
                return Ok(Outcome::InvalidInput);
            }
            let name = inventory
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or("inventory");
            let text = skeleton(&read, &path, name);
            // What is written must validate: checked here rather than hoped for.
            if let Err(diagnostics) =
                blackstart::load::load_str(&text, Path::new("imported-topology.yaml"))
            {
                eprintln!(
                    "error: the topology written from {path} would not validate, so none is written:\n{diagnostics}"
                );
                return Ok(Outcome::InvalidInput);
            }
            print!("{text}");
        }
    }
    Ok(Outcome::Success)
}

fn print_problems(path: &str, problems: &[ansible::Problem]) {
    for problem in problems {
        let label = match problem.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        eprintln!(
            "{label}: {}\n  --> {}",
            problem.message,
            problem.place(path)
        );
        if let Some(hint) = &problem.hint {
            eprintln!("  = hint: {hint}");
        }
    }
}
