//! What the flags of `simulate` make of the simulated fleet: the model, priority and
//! parallelism applied to the topology, the drill's configuration and the placed faults.
//! Shared by a drill and a game day, which must make the same fleet from the same flags.

use blackstart::drill::{DrillConfig, FaultRates, FleetStart, Injected, Model};
use blackstart::topology::Topology;

use super::{PriorityArg, SimulateArgs};
use crate::cli::Outcome;

/// How the simulated fleet behaves, from the flags: the model applied to `topology`
/// (with priority and parallelism), the drill's configuration and the placed faults.
pub(crate) struct Shaped {
    /// Times, spreads and fault rates.
    pub config: DrillConfig,
    /// Faults placed on purpose.
    pub injected: Vec<Injected>,
}

/// Applies the model, priority and parallelism flags to `topology` and reads the fault
/// flags; errors are printed and come back as the exit outcome.
pub(crate) fn shape(args: &SimulateArgs, topology: &mut Topology) -> Result<Shaped, Outcome> {
    let model = match &args.model {
        Some(path) => match Model::load(path) {
            Ok(model) => {
                for unused in model.apply(topology) {
                    eprintln!("note: the model's {unused} matches nothing in this topology");
                }
                model
            }
            Err(message) => {
                eprintln!("error: {message}");
                return Err(Outcome::InvalidInput);
            }
        },
        None => Model::default(),
    };
    if let Some(priority) = args.priority {
        topology.policy.priority = match priority {
            PriorityArg::Tier => blackstart::topology::Priority::Tier,
            PriorityArg::CriticalPath => blackstart::topology::Priority::CriticalPath,
        };
    }
    if let Some(parallelism) = args.parallelism {
        if parallelism == 0 {
            eprintln!("error: --parallelism must be at least 1");
            return Err(Outcome::InvalidInput);
        }
        topology.policy.parallelism = parallelism;
    }
    let base = model.config();
    let faults = if args.no_faults {
        FaultRates::NONE
    } else {
        FaultRates {
            start_failure: args.start_failure.unwrap_or(base.faults.start_failure),
            dead_disk: args.dead_disk.unwrap_or(base.faults.dead_disk),
            dead_bmc: args.dead_bmc.unwrap_or(base.faults.dead_bmc),
            slow_ssh: args.slow_ssh.unwrap_or(base.faults.slow_ssh),
            flapping: args.flapping.unwrap_or(base.faults.flapping),
        }
    };
    let config = DrillConfig {
        spread: args.spread.unwrap_or(base.spread),
        faults,
        start: if args.warm {
            FleetStart::Warm
        } else {
            FleetStart::Cold
        },
        timeline: false,
        ..base
    };
    let mut injected = Vec::new();
    for text in &args.inject {
        match Injected::parse(topology, text) {
            Ok(fault) => injected.push(fault),
            Err(message) => {
                eprintln!("error: --inject {message}");
                return Err(Outcome::InvalidInput);
            }
        }
    }
    Ok(Shaped { config, injected })
}
