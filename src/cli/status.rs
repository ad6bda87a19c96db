//! `status`: where a run stands, once, or redrawn until it ends (`--watch`), as text or
//! JSON. Exit 1 when a step failed or is blocked; 0 otherwise (3 for a degraded recovery
//! with `--strict`), as `run` ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackstart::journal;
use blackstart::report::status::{render_status, run_status};
use blackstart::report::view::RunView;
use blackstart::report::Verdict;

use super::prepare::{follow_run, Prepared};
use super::Outcome;

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StatusFormat {
    /// For people.
    Text,
    /// For machines: one JSON document (one per redraw with --watch).
    Json,
}

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The run directory; several (one per controller, e.g. one per datacenter) are merged
    /// into one fleet view.
    #[arg(required = true, num_args = 1.., value_name = "RUN_DIR")]
    pub run_dirs: Vec<PathBuf>,
    /// Redraw every SECONDS until the run ends (at most 24 hours).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub watch: Option<u64>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "text")]
    pub format: StatusFormat,
    /// List every failed node instead of one line per cause.
    #[arg(long, visible_alias = "all")]
    pub failed: bool,
    /// Exit 3 instead of 0 when every step is ready but nodes failed within quorum.
    #[arg(long)]
    pub strict: bool,
}

/// `blackstart status RUN_DIR...`.
pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    if args.run_dirs.len() > 1 {
        return super::fleet::status(args);
    }
    let (prepared, mut followed) = match follow_run(&args.run_dirs[0])? {
        Ok(followed) => followed,
        Err(outcome) => return Ok(outcome),
    };
    let Some(every) = args.watch.map(Duration::from_secs) else {
        followed.refresh()?;
        return show(args, &prepared, followed.view(), false).map(|(outcome, _)| outcome);
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let most = (24 * 3600 / every.as_secs()).max(1);
    for round in 0..most {
        if terminal && round > 0 {
            // Clear and home: the redraw replaces the previous one.
            print!("\x1b[2J\x1b[H");
        }
        // Only what was appended since the last redraw is read and applied.
        followed.refresh()?;
        let (outcome, live) = show(args, &prepared, followed.view(), true)?;
        if !live {
            return Ok(outcome);
        }
        std::thread::sleep(every);
    }
    followed.refresh()?;
    show(args, &prepared, followed.view(), false).map(|(outcome, _)| outcome)
}

/// Prints the status once; returns the exit outcome and whether the run is live.
fn show(
    args: &StatusArgs,
    prepared: &Prepared,
    view: &RunView,
    watching: bool,
) -> anyhow::Result<(Outcome, bool)> {
    let dir: &Path = &args.run_dirs[0];
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let live = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(journal::LOCK_FILE))
        .map(|file| file.try_lock().is_err())
        .unwrap_or(false);
    let status = run_status(topology, plan, view, live);
    match args.format {
        // A game day's status says so; a real run's stays exactly as it was.
        StatusFormat::Json if prepared.info.simulated => {
            let mut value = serde_json::to_value(&status)?;
            if let Some(object) = value.as_object_mut() {
                object.insert("simulated".into(), true.into());
                let card = super::scorecard::card(prepared, dir, view.records())?;
                object.insert("scorecard".into(), serde_json::to_value(&card)?);
            }
            println!("{}", serde_json::to_string(&value)?)
        }
        StatusFormat::Json => println!("{}", serde_json::to_string(&status)?),
        StatusFormat::Text => {
            if prepared.info.simulated {
                println!("SIMULATED game day: a simulated fleet, nothing is contacted");
            }
            let name = dir.display().to_string();
            let shown = render_status(
                &status,
                topology,
                plan,
                view.scheduler(),
                &name,
                args.failed,
            );
            if prepared.info.simulated {
                // A game day goes on in the simulation, never on real hosts.
                print!(
                    "{}",
                    shown.replace("blackstart run --resume", "blackstart simulate --resume")
                );
            } else {
                print!("{shown}");
            }
            if watching && live {
                println!(
                    "(redrawn every {}s until the run ends)",
                    args.watch.unwrap_or(1)
                );
            }
        }
    }
    let outcome = match status.verdict {
        Verdict::Recovered => Outcome::Success,
        Verdict::Degraded if args.strict => Outcome::Degraded,
        Verdict::Degraded => Outcome::Success,
        Verdict::Failed => Outcome::Failed,
        // Still going, or stopped or killed with nothing failed: the header says which,
        // and `run --resume` carries on.
        Verdict::Unfinished => Outcome::Success,
    };
    Ok((outcome, live))
}
