//! The `blackstart` command line: parses arguments, runs the command, maps the outcome to an
//! exit code (0 success, 1 the job ran and something failed, 2 invalid input or usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like any Unix filter: when the reader goes away (`| head`), stop quietly.
    // SAFETY: setting a signal disposition before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Args::parse();
    cli::init_logging(&args);
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            cli::Outcome::InvalidInput.into()
        }
    }
}
