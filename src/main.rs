//! The `blackstart` command line: parses arguments, runs the command, maps the outcome to an
//! exit code (0 success, 1 the job ran and something failed, 2 invalid input or usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::init_logging(&args);
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("{err}");
            cli::Outcome::InvalidInput.into()
        }
    }
}
