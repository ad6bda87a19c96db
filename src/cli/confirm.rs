//! The plan-to-run contract at the terminal: `run` prints the same summary `plan` printed,
//! with its digest, and goes ahead only when a person types the topology's name, when
//! `--yes` says so, or when `--expect-digest` matches what was reviewed.

use std::io::{BufRead, IsTerminal, Write};

use blackstart::plan::render_summary;

use super::prepare::Prepared;
use super::review::review_options;
use super::Outcome;

/// How `run` may go ahead without a person typing at a terminal.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApprovalArgs {
    /// Go ahead without asking (automation that reviewed the plan some other way).
    #[arg(long)]
    pub yes: bool,
    /// Go ahead only if the plan's digest (printed by `plan`) is this one; refuse, before
    /// any action and with exit code 2, otherwise.
    #[arg(long, value_name = "DIGEST")]
    pub expect_digest: Option<String>,
}

/// Prints the plan's summary and decides whether the run may act. `Err` carries the exit
/// outcome of a refusal; nothing has been done by then.
///
/// Without a terminal on stdin, and with neither `--yes` nor `--expect-digest`, the run goes
/// ahead and says so with the digest: cron jobs and the lab tests have no one to ask, and the
/// digest is also written to the run directory for anyone checking afterwards.
pub fn approve(prepared: &Prepared, approval: &ApprovalArgs) -> Result<(), Outcome> {
    let topology = &prepared.topology;
    // The same ETA `plan` quoted when it was reviewed: the capped schedule.
    let plan = &blackstart::drill::scheduled(topology, (*prepared.plan).clone());
    let digest = &prepared.info.plan_digest;
    let options = review_options(topology, &prepared.procedures, plan, digest.clone());
    print!("{}", render_summary(topology, plan, &options));
    let _ = std::io::stdout().flush();
    if let Some(expected) = &approval.expect_digest {
        if expected.trim() != digest {
            eprintln!(
                "error: the plan's digest is {digest}, not the expected {}: the topology, \
                 playbook, scope or rendered commands changed since that plan was reviewed. \
                 Nothing was done",
                expected.trim()
            );
            return Err(Outcome::InvalidInput);
        }
        return Ok(());
    }
    if approval.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "no terminal to confirm on: going ahead with the plan of digest {digest} \
             (--expect-digest {digest} pins it, --yes silences this)"
        );
        return Ok(());
    }
    let drill = options
        .power_off_hosts
        .map(|n| format!(" (the drill first powers OFF {n} hosts)"))
        .unwrap_or_default();
    eprint!(
        "Type the topology's name ({}) to go ahead{drill}: ",
        topology.name
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == topology.name {
        Ok(())
    } else {
        eprintln!(
            "error: not confirmed (expected {:?}); nothing was done",
            topology.name
        );
        Err(Outcome::InvalidInput)
    }
}
