//! The drill's model of a fleet: every time and rate the simulation assumes, named, with a
//! default, in a file a person can read and `blackstart calibrate` can write from real runs.
//!
//! The topology says what a night should take (`boot`, `expect`); the model says what the
//! last real runs took. `simulate --model FILE` uses both: the model's boot times and start
//! times replace the topology's expectations, its latencies, spread and fault rates replace
//! the drill's defaults. Everything not in the file keeps its default.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DrillConfig, FaultRates, Latencies, People};
use crate::topology::{HostId, Topology};

/// A low and a high bound in seconds: the drill draws uniformly between them.
pub type Range = [f64; 2];

/// Latencies of the small operations, seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelLatencies {
    /// Reading the power state through the BMC (`CheckPower`).
    pub check_power: Range,
    /// Switching a host on through the BMC (`PowerOn`).
    pub power_on: Range,
    /// From the moment a host could answer SSH until the run notices (the boot poll's lag).
    pub ssh: Range,
    /// One health probe.
    pub probe: Range,
    /// A BMC that never answers; absent: `policy.bmc_timeout` × `policy.bmc_attempts`
    /// plus the pauses between attempts, as the real run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_bmc: Option<f64>,
    /// Shape of one factor per kind of BMC call (power check, power-on) and run on those
    /// calls' latencies: the standard deviation of its logarithm.
    pub run_spread: f64,
}

impl Default for ModelLatencies {
    fn default() -> Self {
        let pair = |(low, high): (Duration, Duration)| [low.as_secs_f64(), high.as_secs_f64()];
        let typical = Latencies::TYPICAL;
        ModelLatencies {
            check_power: pair(typical.check_power),
            power_on: pair(typical.power_on),
            ssh: pair(typical.ssh),
            probe: pair(typical.probe),
            dead_bmc: typical.dead_bmc.map(|d| d.as_secs_f64()),
            run_spread: typical.run_spread,
        }
    }
}

/// Fault probabilities, as `simulate`'s flags have them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelFaults {
    /// Per start attempt.
    pub start_failure: f64,
    /// Per host: the disk never comes back.
    pub dead_disk: f64,
    /// Per host with a BMC: the BMC never answers.
    pub dead_bmc: f64,
    /// Per host: SSH late and slow.
    pub slow_ssh: f64,
    /// Per node: the first attempt fails on a flapping health check.
    pub flapping: f64,
}

impl Default for ModelFaults {
    fn default() -> Self {
        let rates = FaultRates::DEFAULT;
        ModelFaults {
            start_failure: rates.start_failure,
            dead_disk: rates.dead_disk,
            dead_bmc: rates.dead_bmc,
            slow_ssh: rates.slow_ssh,
            flapping: rates.flapping,
        }
    }
}

/// People's response times, seconds: the median of what `calibrate` read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelPeople {
    /// From a gate or manual step waiting to its `ack`; absent: the step's own `expect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<f64>,
    /// From a step failing to the `retry` after a repair; absent: nobody retries in a drill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<f64>,
}

impl ModelPeople {
    fn is_empty(&self) -> bool {
        self.ack.is_none() && self.retry.is_none()
    }
}

/// What the drill assumes about a fleet (see the README, "Drill model").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Model {
    /// Shape of boot and start times around their expected values: the standard deviation
    /// of their logarithm (0 = exactly as expected).
    pub spread: f64,
    /// Shape of one factor per run on every time of that run (a loaded controller, a busy
    /// network: all hosts slower together): the standard deviation of its logarithm.
    pub run_spread: f64,
    /// Shape of one factor per step and run on that step's start times (its nodes start
    /// together, under the same load): the standard deviation of its logarithm.
    pub step_spread: f64,
    /// Small latencies.
    pub latencies: ModelLatencies,
    /// Fault probabilities.
    pub faults: ModelFaults,
    /// The host label that names a host's class; hosts without it are classed by the first
    /// subsystem they serve.
    pub class_label: String,
    /// Seconds from power-on until SSH answers, per host class; replaces the topology's
    /// `boot` for hosts of that class.
    pub boot: BTreeMap<String, f64>,
    /// Seconds from a start until healthy, per step (`name` or `name@bootstrap`); replaces
    /// the topology's `expect`.
    pub start: BTreeMap<String, f64>,
    /// How soon people act.
    #[serde(skip_serializing_if = "ModelPeople::is_empty")]
    pub people: ModelPeople,
    /// Where the numbers come from (free text, written by `calibrate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fitted_from: Option<String>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            spread: DrillConfig::default().spread,
            run_spread: DrillConfig::default().run_spread,
            step_spread: DrillConfig::default().step_spread,
            latencies: ModelLatencies::default(),
            faults: ModelFaults::default(),
            class_label: "role".into(),
            boot: BTreeMap::new(),
            start: BTreeMap::new(),
            people: ModelPeople::default(),
            fitted_from: None,
        }
    }
}

impl Model {
    /// Reads a model file (YAML, or JSON, which is YAML too).
    pub fn load(path: &Path) -> Result<Model, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read the model {}: {err}", path.display()))?;
        let model: Model =
            serde_yaml::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
        model
            .check()
            .map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(model)
    }

    /// The model as YAML, with a header saying what it is.
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).expect("a model serializes");
        format!("# blackstart drill model: seconds and probabilities; see README, \"Drill model\".\n{body}")
    }

    fn check(&self) -> Result<(), String> {
        let seconds = |name: &str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "{name}: {value} is not a number of seconds of 0 or more"
                ))
            }
        };
        let l = &self.latencies;
        for (name, [low, high]) in [
            ("latencies.check_power", l.check_power),
            ("latencies.power_on", l.power_on),
            ("latencies.ssh", l.ssh),
            ("latencies.probe", l.probe),
        ] {
            seconds(name, low)?;
            seconds(name, high)?;
            if low > high {
                return Err(format!("{name}: write [low, high], low first"));
            }
        }
        seconds("latencies.run_spread", l.run_spread)?;
        if let Some(dead) = l.dead_bmc {
            seconds("latencies.dead_bmc", dead)?;
        }
        seconds("spread", self.spread)?;
        seconds("run_spread", self.run_spread)?;
        seconds("step_spread", self.step_spread)?;
        for (class, boot) in &self.boot {
            seconds(&format!("boot.{class}"), *boot)?;
        }
        for (step, start) in &self.start {
            seconds(&format!("start.{step}"), *start)?;
        }
        for (name, value) in [
            ("people.ack", self.people.ack),
            ("people.retry", self.people.retry),
        ] {
            if let Some(value) = value {
                seconds(name, value)?;
            }
        }
        let f = &self.faults;
        for (name, p) in [
            ("start_failure", f.start_failure),
            ("dead_disk", f.dead_disk),
            ("dead_bmc", f.dead_bmc),
            ("slow_ssh", f.slow_ssh),
            ("flapping", f.flapping),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "faults.{name}: {p} is not a probability from 0 to 1"
                ));
            }
        }
        Ok(())
    }

    /// The class of `host`: its `class_label` label, else the first subsystem it serves,
    /// else its name.
    pub fn class_of(&self, topology: &Topology, host: HostId) -> String {
        host_class(topology, host, &self.class_label)
    }

    /// Replaces the topology's boot and start expectations with the model's. Returns the
    /// classes and steps of the model the topology does not have (worth a warning).
    pub fn apply(&self, topology: &mut Topology) -> Vec<String> {
        let mut used = std::collections::BTreeSet::new();
        for host in 0..topology.hosts.len() {
            let class = self.class_of(topology, host);
            if let Some(boot) = self.boot.get(&class) {
                topology.hosts[host].boot = Duration::from_secs_f64(*boot);
                used.insert(format!("boot.{class}"));
            }
        }
        for subsystem in &mut topology.subsystems {
            if let Some(start) = self.start.get(&subsystem.name) {
                subsystem.expect = Duration::from_secs_f64(*start);
                used.insert(format!("start.{}", subsystem.name));
            }
            let id = format!("{}@bootstrap", subsystem.name);
            if let (Some(start), Some(bootstrap)) =
                (self.start.get(&id), subsystem.bootstrap.as_mut())
            {
                bootstrap.expect = Duration::from_secs_f64(*start);
                used.insert(format!("start.{id}"));
            }
        }
        self.boot
            .keys()
            .map(|class| format!("boot.{class}"))
            .chain(self.start.keys().map(|step| format!("start.{step}")))
            .filter(|key| !used.contains(key))
            .collect()
    }

    /// The drill's configuration under this model (a cold fleet, no timeline).
    pub fn config(&self) -> DrillConfig {
        let pair =
            |[low, high]: Range| (Duration::from_secs_f64(low), Duration::from_secs_f64(high));
        let l = &self.latencies;
        let f = &self.faults;
        DrillConfig {
            spread: self.spread,
            run_spread: self.run_spread,
            step_spread: self.step_spread,
            faults: FaultRates {
                start_failure: f.start_failure,
                dead_disk: f.dead_disk,
                dead_bmc: f.dead_bmc,
                slow_ssh: f.slow_ssh,
                flapping: f.flapping,
            },
            latencies: Latencies {
                check_power: pair(l.check_power),
                power_on: pair(l.power_on),
                ssh: pair(l.ssh),
                probe: pair(l.probe),
                dead_bmc: l.dead_bmc.map(Duration::from_secs_f64),
                run_spread: l.run_spread,
            },
            people: People {
                ack: self.people.ack.map(Duration::from_secs_f64),
                retry: self.people.retry.map(Duration::from_secs_f64),
            },
            ..DrillConfig::default()
        }
    }
}

/// The class of `host` by `label`: that label's value, else the first subsystem the host
/// serves, else the host's name.
pub fn host_class(topology: &Topology, host: HostId, label: &str) -> String {
    if let Some(value) = topology.hosts[host].labels.get(label) {
        return value.clone();
    }
    topology
        .subsystems
        .iter()
        .find(|subsystem| subsystem.hosts.contains(&host))
        .map_or_else(|| topology.hosts[host].name.clone(), |s| s.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_round_trips_and_gives_the_default_drill() {
        let model = Model::default();
        let text = model.to_yaml();
        let back: Model = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, model);
        assert_eq!(model.config(), DrillConfig::default());
    }

    #[test]
    fn a_partial_model_keeps_the_other_defaults_and_bad_values_are_refused() {
        let model: Model = serde_yaml::from_str("latencies: { ssh: [0, 1.5] }").unwrap();
        assert_eq!(model.latencies.ssh, [0.0, 1.5]);
        assert_eq!(model.latencies.probe, ModelLatencies::default().probe);
        assert!(serde_yaml::from_str::<Model>("latencies: { sssh: [0, 1] }").is_err());
        let backwards: Model = serde_yaml::from_str("latencies: { ssh: [2, 1] }").unwrap();
        assert!(backwards.check().unwrap_err().contains("low first"));
        let people: Model = serde_yaml::from_str("people: { retry: 90 }").unwrap();
        assert_eq!(people.config().people.retry, Some(Duration::from_secs(90)));
        assert_eq!(people.config().people.ack, None);
        let slow: Model = serde_yaml::from_str("people: { ack: -1 }").unwrap();
        assert!(slow.check().unwrap_err().contains("people.ack"));
        assert!(serde_yaml::from_str::<Model>("people: { acks: 1 }").is_err());
    }
}
