//! Subcommands. Each returns an [`Outcome`]; errors of input end as exit code 2.

mod calibrate;
mod confirm;
mod control;
mod exec;
mod fleet;
mod gameday;
mod import;
mod load;
mod pictures;
mod plan;
mod prepare;
mod review;
mod run;
mod scorecard;
mod simulate;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// What a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything done.
    Success,
    /// The job ran and something failed.
    Failed,
    /// Invalid input or usage, or a missing prerequisite.
    InvalidInput,
    /// Recovered, but nodes failed within quorum, and `--strict` asked to say so.
    Degraded,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(match outcome {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::InvalidInput => 2,
            Outcome::Degraded => 3,
        })
    }
}

/// Bring a whole fleet back from total outage: plan, run, drill.
#[derive(Debug, Parser)]
#[command(name = "blackstart", version, about)]
pub struct Args {
    /// Log format on stderr.
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Which subsystems and hosts a command covers.
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// Only this subsystem and everything it needs (repeatable).
    #[arg(long, value_name = "SUBSYSTEM")]
    pub only: Vec<String>,
    /// Leave this subsystem out; its dependents assume it is up (repeatable).
    #[arg(long, value_name = "SUBSYSTEM")]
    pub exclude: Vec<String>,
    /// Only hosts in this datacenter.
    #[arg(long)]
    pub datacenter: Option<String>,
    /// Only hosts with this label, `key=value` (repeatable; all must match).
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
}

/// The scope of `plan` and `run`: the common flags, plus hosts and tiers as `exec` and
/// playbooks have them. (`exec` has its own `--host`, which adds hosts instead of limiting.)
#[derive(Debug, Clone, clap::Args)]
pub struct PlanScopeArgs {
    /// The common scope flags.
    #[command(flatten)]
    pub common: ScopeArgs,
    /// Only hosts matching this pattern: name or address, exact, `*`/`?` glob, or range
    /// `web[1:8]` (repeatable; any may match). Out-of-scope dependencies are assumed up.
    #[arg(long = "host", visible_alias = "limit", value_name = "PATTERN")]
    pub hosts: Vec<String>,
    /// Only subsystems of this tier (`S1`..`S9` or `1`..`9`) and everything they need
    /// (repeatable).
    #[arg(long = "tier", value_name = "TIER", value_parser = parse_tier)]
    pub tiers: Vec<u8>,
}

fn parse_tier(text: &str) -> Result<u8, String> {
    blackstart::scope::Scope::parse_tier(text).map_err(|err| err.to_string())
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// For people.
    Text,
    /// For machines.
    Json,
    /// Graphviz.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// How `plan --format dot|mermaid` groups steps.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphCluster {
    /// By tier.
    Tier,
    /// By the datacenter of the step's hosts.
    Datacenter,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check topology, playbook and game-day scenario files; every problem is reported
    /// with file, line and a hint.
    Validate {
        /// Topology or playbook files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the dry-run plan: nothing is contacted.
    Plan {
        /// Topology or playbook file; the embedded reference topology when omitted.
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value = "text")]
        format: PlanFormat,
        /// In text, every step in full, each node's rendered commands, no folding.
        #[arg(long)]
        every_node: bool,
        /// In text, also check this machine's prerequisites for a run (BMC password
        /// sources, SSH keys, known_hosts, ipmitool) and show them as a checklist.
        #[arg(long, visible_alias = "check")]
        prerequisites: bool,
        /// In DOT and Mermaid, every dependency edge instead of the transitive reduction.
        #[arg(long)]
        all_edges: bool,
        /// In DOT and Mermaid, group steps by `tier` or `datacenter`.
        #[arg(long, value_enum, default_value = "tier")]
        cluster: GraphCluster,
        /// Scope.
        #[command(flatten)]
        scope: PlanScopeArgs,
    },
    /// Bring the fleet up: power on, start in dependency order, check, journal.
    Run(run::RunArgs),
    /// Where a run stands: healthy, in progress, failed (grouped by cause), blocked,
    /// remaining ETA. Several run directories (one controller each) read as one fleet.
    Status(status::StatusArgs),
    /// Re-arm failed nodes after a person repaired them; their blocked dependents follow.
    Retry {
        /// The run directory.
        run_dir: PathBuf,
        /// Subsystem name or step id (`name@bootstrap`).
        target: String,
        /// Only the node on this host.
        #[arg(long)]
        host: Option<String>,
    },
    /// Run one command on many hosts at once (e.g. push a fix before services start).
    Exec(exec::ExecArgs),
    /// Drill the whole recovery against a simulated fleet on a virtual clock.
    Simulate(simulate::SimulateArgs),
    /// Fit the drill's model (boot, power, SSH, start times; failure rates) from real runs.
    Calibrate(calibrate::CalibrateArgs),
    /// Acknowledge a manual step or approve a gate; recorded with who and when.
    Ack {
        /// The run directory.
        run_dir: PathBuf,
        /// The manual step or gate.
        step: String,
        /// Who acknowledges (default: $SUDO_USER or $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Write the HTML report of a run directory: timeline per subsystem, critical path,
    /// plan vs actual, failures by cause, readiness per tier. One self-contained file.
    Report {
        /// The run directory (a finished, failed, killed or live run); several (one per
        /// controller) are merged into one fleet report.
        #[arg(required = true, num_args = 1.., value_name = "RUN_DIR")]
        run_dirs: Vec<PathBuf>,
        /// Where to write it (`-` for stdout); default RUN_DIR/report.html (with several
        /// run directories, required: the fleet report belongs to none of them).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Serve a run's report as a live, read-only status page, redrawn from its journal.
    Serve {
        /// The run directory; several (one per controller) are served as one fleet page.
        #[arg(required = true, num_args = 1.., value_name = "RUN_DIR")]
        run_dirs: Vec<PathBuf>,
        /// Where to listen; loopback only unless --allow-remote.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Require this token (`?token=T` or `Authorization: Bearer T`).
        #[arg(long)]
        token: Option<String>,
        /// Allow an address other than loopback.
        #[arg(long)]
        allow_remote: bool,
    },
    /// Print shell completions for bash, zsh, fish, elvish or PowerShell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `blackstart man > blackstart.1`.
    Man,
    /// Write a topology skeleton from another tool's description of the fleet, on stdout.
    Import {
        /// Where the hosts are described.
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Print the topology format (or, with --playbook, the playbook format) as JSON Schema.
    Schema {
        /// The playbook format instead of the topology format.
        #[arg(long)]
        playbook: bool,
    },
}

/// What `import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// An Ansible inventory (INI, or YAML for `.yaml`, `.yml`, `.json`): hosts with their
    /// addresses, SSH ports and users, groups as `group.NAME` labels, a subsystem sketched
    /// per group.
    Ansible {
        /// The inventory file.
        inventory: PathBuf,
        /// `yaml`: a topology skeleton; `json`: the inventory as read (hosts, groups, vars).
        #[arg(long, short, value_enum, default_value = "yaml")]
        format: import::ImportFormat,
    },
}

/// Sets up `tracing` on stderr, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging(args: &Args) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs the parsed command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Validate { files } => Ok(plan::validate(&files)),
        Command::Plan {
            file,
            format,
            every_node,
            prerequisites,
            all_edges,
            cluster,
            scope,
        } => {
            let graph = blackstart::plan::GraphOptions {
                all_edges,
                every_node,
                cluster: match cluster {
                    GraphCluster::Tier => blackstart::plan::ClusterBy::Tier,
                    GraphCluster::Datacenter => blackstart::plan::ClusterBy::Datacenter,
                },
            };
            plan::plan(file, format, every_node, prerequisites, graph, &scope)
        }
        Command::Run(run_args) => run::run(run_args),
        Command::Status(status_args) => status::status(&status_args),
        Command::Retry {
            run_dir,
            target,
            host,
        } => control::retry(&run_dir, target, host),
        Command::Ack { run_dir, step, by } => control::ack(&run_dir, step, by),
        Command::Exec(exec_args) => exec::exec(exec_args),
        Command::Simulate(simulate_args) if simulate::is_game_day(&simulate_args) => {
            gameday::game_day(simulate_args)
        }
        Command::Simulate(simulate_args) => simulate::simulate(simulate_args),
        Command::Report { run_dirs, output } if run_dirs.len() > 1 => {
            fleet::report(&run_dirs, output)
        }
        Command::Report { run_dirs, output } => pictures::report(&run_dirs[0], output),
        Command::Serve {
            run_dirs,
            addr,
            token,
            allow_remote,
        } => {
            let args = pictures::ServeArgs {
                serve: Some(addr),
                token,
                allow_remote,
            };
            if run_dirs.len() > 1 {
                fleet::serve(&run_dirs, addr, args)
            } else {
                pictures::serve_dir(&run_dirs[0], addr, args)
            }
        }
        Command::Completions { shell } => Ok(pictures::completions(shell)),
        Command::Man => pictures::man(),
        Command::Calibrate(calibrate_args) => calibrate::calibrate(calibrate_args),
        Command::Import {
            source: ImportSource::Ansible { inventory, format },
        } => import::ansible(&inventory, format),
        Command::Schema { playbook } => {
            let schema = if playbook {
                schemars::schema_for!(blackstart::playbook::raw::RawPlaybook)
            } else {
                schemars::schema_for!(blackstart::topology::raw::RawTopology)
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(Outcome::Success)
        }
    }
}
