//! `calibrate`: a drill model fitted from the journals of real runs, and people's response
//! times from real runs and game days.

use std::io::Write;
use std::path::{Path, PathBuf};

use blackstart::drill::{Calibration, Model};

use super::Outcome;

/// Arguments of `calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Run directories of real runs or game days (each with its journal and run.json); a
    /// game day teaches only its people's response times.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Start from this model (what the journals cannot tell keeps its value).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Class hosts by this label (hosts without it: by the first subsystem they serve).
    #[arg(long, value_name = "LABEL")]
    pub class_label: Option<String>,
    /// Write the model here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Fits and writes the model.
pub fn calibrate(args: CalibrateArgs) -> anyhow::Result<Outcome> {
    let mut base = match &args.model {
        Some(path) => match Model::load(path) {
            Ok(model) => model,
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(Outcome::InvalidInput);
            }
        },
        None => Model::default(),
    };
    if let Some(label) = args.class_label {
        base.class_label = label;
    }
    let mut samples = Calibration::default();
    for dir in &args.runs {
        if let Err(message) = samples.add_run(Path::new(dir), &base.class_label) {
            eprintln!("error: {message}");
            return Ok(Outcome::InvalidInput);
        }
    }
    let text = samples.fit(&base).to_yaml();
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
            eprintln!(
                "model fitted from {} real runs and {} game days written to {}",
                samples.runs,
                samples.game_days,
                path.display()
            );
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(Outcome::Success)
}
