//! `exec`: one command on many hosts at once, before any service starts (push a fix, check a
//! mount, clear a lock file). Hosts come from the topology; the command goes over SSH with
//! the same strict host-key checking as everything else.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blackstart::run::fanout::{self, HostResult, Options};
use blackstart::run::transport::ssh::SshRemote;
use blackstart::scope::Scope;
use blackstart::topology::diagnostic::closest;
use blackstart::topology::hostrange;
use blackstart::topology::values::parse_duration;
use blackstart::topology::{HostId, Topology};

use super::load::load_any;
use super::{Outcome, ScopeArgs};

/// Most lines of each output stream shown per host with `--show-output`.
const SHOWN_LINES: usize = 10;
/// Most bytes of each output stream shown per host with `--show-output`.
const SHOWN_BYTES: usize = 2048;

/// Arguments of `exec`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "COMMAND is everything after `--`. Its words are joined with spaces into one \
                  command line, which each host's login shell runs (as with `ssh host CMD`): \
                  quote it locally to keep `$VAR`, `|`, `&&` and globs for the remote shell.\n\n\
                  Exit codes: 0 every host exited 0, 1 any host failed or could not be reached, \
                  2 invalid input."
)]
pub struct ExecArgs {
    /// Topology or playbook file; the embedded reference topology when omitted.
    pub file: Option<PathBuf>,
    /// Every host of the topology.
    #[arg(long, conflicts_with_all = ["subsystem", "host", "only", "exclude"])]
    pub all: bool,
    /// The hosts and spares of this subsystem (repeatable).
    #[arg(long, value_name = "NAME")]
    pub subsystem: Vec<String>,
    /// Hosts by name or address: exact, `*`/`?` globs, or ranges `web[1:8]` (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub host: Vec<String>,
    /// Scope: `--only` (it and everything it needs), `--exclude`, and `--datacenter` /
    /// `--label`, which narrow the other selections (alone: all their hosts).
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Hosts in flight at once (default: the topology's policy.parallelism).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub parallel: Option<u32>,
    /// Time limit per host, connection included.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the tail of each host's stdout and stderr under its line.
    #[arg(long)]
    pub show_output: bool,
    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `blackstart exec`.
pub fn exec(args: ExecArgs) -> anyhow::Result<Outcome> {
    let loaded = match load_any(args.file.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let topology = loaded.topology;
    let selected = match select(&topology, &args) {
        Ok(selected) => selected,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(Outcome::InvalidInput);
        }
    };
    let command = args.command.join(" ");
    if command.trim().is_empty() {
        eprintln!("error: the command after `--` is empty");
        return Ok(Outcome::InvalidInput);
    }
    if args.timeout.is_zero() {
        eprintln!("error: --timeout must be more than 0");
        return Ok(Outcome::InvalidInput);
    }
    let parallel = args.parallel.unwrap_or(topology.policy.parallelism).max(1) as usize;
    let hosts: Vec<_> = selected
        .iter()
        .map(|&id| topology.hosts[id].clone())
        .collect();
    // The command is the operator's own text: it is neither logged nor journaled.
    tracing::info!(hosts = hosts.len(), parallel, timeout = ?args.timeout, "exec");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let options = Options {
        parallelism: parallel,
        timeout: args.timeout,
    };
    let show_output = args.show_output;
    let (results, wall, interrupted) = runtime.block_on(async move {
        let remote = Arc::new(SshRemote::new(parallel));
        let mut fanout = fanout::start(remote, hosts, &command, options);
        let mut results: Vec<HostResult> = Vec::with_capacity(fanout.total());
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        let mut interrupted = false;
        loop {
            tokio::select! {
                next = fanout.next() => match next {
                    Some(result) => {
                        print_result(&result, show_output);
                        results.push(result);
                    }
                    None => break,
                },
                _ = &mut interrupt, if !interrupted => {
                    interrupted = true;
                    eprintln!("interrupted: no further host is started; sessions in flight are cut");
                    fanout.stop();
                }
            }
        }
        (results, fanout.elapsed(), interrupted)
    });
    // Sessions cut by an interrupt end at their own time limit; do not wait for them.
    runtime.shutdown_background();

    let ok = results.iter().filter(|r| r.succeeded()).count();
    let exited = results
        .iter()
        .filter(|r| r.result.is_ok() && !r.succeeded())
        .count();
    let unreachable = results.len() - ok - exited;
    let not_run = selected.len() - results.len();
    let failed = results.len() - ok + not_run;
    let mut summary = format!(
        "{} hosts: {ok} ok, {failed} failed ({exited} exited non-zero, {unreachable} could not run",
        selected.len()
    );
    if not_run > 0 {
        summary.push_str(&format!(", {not_run} unfinished: interrupted"));
    }
    summary.push_str(&format!(
        ") in {:.2}s, {parallel} at a time",
        wall.as_secs_f64()
    ));
    println!("{summary}");
    if failed > 0 {
        let done: BTreeSet<usize> = results.iter().map(|r| r.index).collect();
        let names: Vec<&str> = results
            .iter()
            .filter(|r| !r.succeeded())
            .map(|r| (r.index, r.name.as_str()))
            .chain(
                selected
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| !done.contains(index))
                    .map(|(index, &id)| (index, topology.hosts[id].name.as_str())),
            )
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        println!("failed: {}", hostrange::compress(names).join(" "));
    }
    Ok(if failed == 0 && !interrupted {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// One line for the host, then (with `show_output`) the tails of its output, all written at
/// once so hosts finishing together do not interleave.
fn print_result(result: &HostResult, show_output: bool) {
    let mut text = if result.succeeded() {
        format!("{}: exit 0", result.name)
    } else {
        format!("{}: FAILED: {}", result.name, result.status())
    };
    text.push_str(&format!(" ({:.2}s)\n", result.duration.as_secs_f64()));
    if show_output {
        if let Ok(output) = &result.result {
            for (tag, stream) in [("out", &output.stdout), ("err", &output.stderr)] {
                for line in shown_tail(stream) {
                    text.push_str(&format!("  {tag}| {line}\n"));
                }
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// The last [`SHOWN_LINES`] lines of `stream` (at most [`SHOWN_BYTES`]), control characters
/// escaped so a host's output cannot move the operator's cursor or recolor the terminal.
fn shown_tail(stream: &str) -> Vec<String> {
    let tail = blackstart::run::transport::tail(stream.trim_end_matches('\n'), SHOWN_BYTES);
    let lines: Vec<&str> = tail.lines().collect();
    let skip = lines.len().saturating_sub(SHOWN_LINES);
    let mut shown: Vec<String> = Vec::new();
    if skip > 0 || tail.len() < stream.trim_end_matches('\n').len() {
        shown.push("...".to_string());
    }
    shown.extend(lines[skip..].iter().map(|line| {
        line.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() && c != '\t' {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect()
    }));
    shown
}

/// The hosts the flags select, in topology order; an error for input that selects nothing or
/// names what the topology lacks.
fn select(topology: &Topology, args: &ExecArgs) -> Result<Vec<HostId>, String> {
    let narrowing = args.scope.datacenter.is_some() || !args.scope.label.is_empty();
    let picking = !args.subsystem.is_empty()
        || !args.host.is_empty()
        || !args.scope.only.is_empty()
        || !args.scope.exclude.is_empty();
    if !args.all && !picking && !narrowing {
        return Err(
            "say which hosts: --all, --subsystem NAME, --host PATTERN, --only, --exclude, \
             --datacenter or --label"
                .into(),
        );
    }
    let mut chosen = vec![!picking; topology.hosts.len()];
    for name in &args.subsystem {
        let Some(id) = topology.subsystem_id(name) else {
            return Err(unknown_subsystem(topology, name, "--subsystem"));
        };
        let subsystem = &topology.subsystems[id];
        if subsystem.hosts.is_empty() && subsystem.spares.is_empty() {
            return Err(format!("subsystem {name:?} has no hosts"));
        }
        for &host in subsystem.hosts.iter().chain(&subsystem.spares) {
            chosen[host] = true;
        }
    }
    if !args.host.is_empty() {
        let matched = Scope::match_hosts(topology, &args.host).map_err(|e| e.to_string())?;
        for (id, hit) in matched.into_iter().enumerate() {
            chosen[id] |= hit;
        }
    }
    if !args.scope.only.is_empty() || !args.scope.exclude.is_empty() {
        let scope = Scope {
            only: args.scope.only.clone(),
            exclude: args.scope.exclude.clone(),
            ..Scope::default()
        };
        let selection = scope.select(topology).map_err(|e| e.to_string())?;
        for (id, covered) in selection.in_scope.iter().enumerate() {
            if *covered {
                for &host in selection.hosts[id].iter().chain(&selection.spares[id]) {
                    chosen[host] = true;
                }
            }
        }
    }
    let labels = Scope::parse_labels(&args.scope.label).map_err(|e| e.to_string())?;
    let selected: Vec<HostId> = topology
        .hosts
        .iter()
        .enumerate()
        .filter(|(id, _)| chosen[*id])
        .filter(|(_, host)| {
            args.scope
                .datacenter
                .as_ref()
                .is_none_or(|dc| host.datacenter.as_ref() == Some(dc))
                && labels
                    .iter()
                    .all(|(key, value)| host.labels.get(key) == Some(value))
        })
        .map(|(id, _)| id)
        .collect();
    if selected.is_empty() {
        return Err("the selection covers no host: check --datacenter and --label".into());
    }
    Ok(selected)
}

fn unknown_subsystem(topology: &Topology, name: &str, flag: &str) -> String {
    let hint = closest(name, topology.subsystems.iter().map(|s| s.name.as_str()))
        .map(|near| format!(" (did you mean {near:?}?)"))
        .unwrap_or_default();
    format!("unknown subsystem {name:?} in {flag}{hint}")
}

#[cfg(test)]
mod tests {
    use super::shown_tail;

    #[test]
    fn tails_are_bounded_and_escaped() {
        let many: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let shown = shown_tail(&many);
        assert_eq!(shown.len(), 11);
        assert_eq!(shown[0], "...");
        assert_eq!(shown[10], "line 99");
        assert_eq!(shown_tail("red \x1b[31m\n"), vec!["red \\u{1b}[31m"]);
        assert!(shown_tail("").is_empty());
        let long = "x".repeat(10_000);
        assert!(shown_tail(&long).iter().map(String::len).sum::<usize>() <= 2048 + 3);
    }
}
