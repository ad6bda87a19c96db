//! `calibrate`: fits the drill's model from the journals of real runs, so the next
//! prediction starts from what the fleet really did, and learns how soon people act (a
//! gate's wait to its `ack`, a failure to its `retry`) from real runs and game days.
//!
//! Every real run journals each event with how long its action took. From them:
//! power-call latencies (`CheckPower`, `PowerOn`), boot time per host class and the SSH
//! poll's lag (`WaitSsh`: power-on to SSH answering), probe latency, start-to-healthy per
//! step (`StartFinished`), the spread of starts around their means, and the failure rates
//! (failed start attempts, BMCs that never answered, hosts that never came back). With two
//! runs or more, starts are split into a factor per run (every start of a run slower or
//! faster together: load, network) and the spread within a run around it. A slow
//! SSH and a flapping check cannot be told apart from a failed start in a journal: both
//! are fitted as zero, and failed starts count as start failures.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::{host_class, Model, Range};
use super::people_times::people_times;
use crate::event::Event;
use crate::journal::{read, read_info, Entry};
use crate::load::load_file;

/// Samples gathered from journals, seconds.
#[derive(Debug, Default)]
pub struct Calibration {
    /// Runs read.
    pub runs: usize,
    /// (run, seconds) of every power check answered.
    check_power: Vec<(usize, f64)>,
    /// (run, seconds) of every power-on done.
    power_on: Vec<(usize, f64)>,
    /// Per host class: power-on to SSH answering.
    ssh_ready: BTreeMap<String, Vec<f64>>,
    probe: Vec<f64>,
    /// Per step id: (run, seconds) of each successful start.
    starts: BTreeMap<String, Vec<(usize, f64)>>,
    start_attempts: usize,
    start_failures: usize,
    bmc_checked: usize,
    bmc_dead: usize,
    ssh_waited: usize,
    ssh_dead: usize,
    /// Game days read: only their people's times are learned (their machines are made up).
    pub game_days: usize,
    /// Seconds from a gate or manual step waiting to its `ack`, on the wall clock.
    acks: Vec<f64>,
    /// Seconds from a node's last failed attempt to the `retry` that re-armed it.
    retries: Vec<f64>,
}

impl Calibration {
    /// Adds the journal of the run in `dir`, classing hosts by `class_label`.
    pub fn add_run(&mut self, dir: &Path, class_label: &str) -> Result<(), String> {
        let info = read_info(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let topology = load_file(&info.topology)
            .map_err(|err| {
                format!(
                    "{}: its topology {}: {err}",
                    dir.display(),
                    info.topology.display()
                )
            })?
            .topology;
        let records = read(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let (acks, retries) = people_times(&records);
        self.acks.extend(acks);
        self.retries.extend(retries);
        if info.simulated {
            // A game day's machines are the drill's own model: fitting them would only
            // learn the model back. Its people are real.
            self.game_days += 1;
            return Ok(());
        }
        let class = |name: &str| {
            topology
                .host_id(name)
                .map(|host| host_class(&topology, host, class_label))
        };
        for record in records {
            let Entry::Event {
                event,
                step,
                host,
                duration_ms,
                ..
            } = record.entry
            else {
                continue;
            };
            let took = duration_ms as f64 / 1000.0;
            match event {
                Event::PowerChecked { result, .. } => {
                    self.bmc_checked += 1;
                    match result {
                        Ok(_) => self.check_power.push((self.runs, took)),
                        Err(_) => self.bmc_dead += 1,
                    }
                }
                Event::PoweredOn { result: Ok(()), .. } => self.power_on.push((self.runs, took)),
                Event::SshReady { result, .. } => {
                    self.ssh_waited += 1;
                    match (result, host.as_deref().and_then(class)) {
                        (Ok(()), Some(class)) => {
                            self.ssh_ready.entry(class).or_default().push(took)
                        }
                        (Ok(()), None) => {}
                        (Err(_), _) => self.ssh_dead += 1,
                    }
                }
                Event::Probed { .. } => self.probe.push(took),
                Event::StartFinished { result, .. } => {
                    self.start_attempts += 1;
                    let step = step.unwrap_or_default();
                    match result {
                        Ok(()) => self.starts.entry(step).or_default().push((self.runs, took)),
                        Err(_) => self.start_failures += 1,
                    }
                }
                _ => {}
            }
        }
        self.runs += 1;
        Ok(())
    }

    /// The model these samples give; what they cannot tell keeps `base`'s value.
    pub fn fit(&self, base: &Model) -> Model {
        let mut model = base.clone();
        let l = &mut model.latencies;
        l.check_power = band(&seconds(&self.check_power)).unwrap_or(l.check_power);
        l.power_on = band(&seconds(&self.power_on)).unwrap_or(l.power_on);
        l.probe = band(&self.probe).unwrap_or(l.probe);
        // Power-on to SSH is boot plus the poll's lag. The fastest boots of a class are its
        // floor: the boot; what the others took beyond it is lag, uniform from zero with the
        // same mean, so the simulated mean matches the measured one.
        let mut lags = Vec::new();
        for (class, samples) in &self.ssh_ready {
            let boot = quantile(samples, 0.1);
            model.boot.insert(class.clone(), round(boot));
            lags.extend(samples.iter().map(|s| s - boot));
        }
        if !lags.is_empty() {
            let mean = lags.iter().sum::<f64>() / lags.len() as f64;
            model.latencies.ssh = [0.0, round(2.0 * mean)];
        }
        // Each start as log(start / its step's mean), with its run and step.
        let mut logs: Vec<(usize, usize, f64)> = Vec::new();
        for (index, (step, samples)) in self.starts.iter().enumerate() {
            let mean = samples.iter().map(|(_, s)| s).sum::<f64>() / samples.len() as f64;
            model.start.insert(step.clone(), round(mean));
            if mean > 0.0 {
                logs.extend(
                    samples
                        .iter()
                        .filter(|(_, s)| *s > 0.0)
                        .map(|(run, s)| (*run, index, (s / mean).ln())),
                );
            }
        }
        if let Some(fitted) = spreads(&logs) {
            model.spread = round(fitted.node);
            if let Some(step) = fitted.step {
                model.step_spread = round(step);
            }
            if let Some(run) = fitted.run {
                model.run_spread = round(run);
            }
        }
        // BMC calls of one run are slower or faster together (a loaded controller or BMC
        // network), and they decide when the first hosts are up: each kind of call is one
        // more "step" whose factor per run is fitted apart from the starts (a loaded machine
        // slows ipmitool far more than a service's own start).
        let mut calls: Vec<(usize, usize, f64)> = Vec::new();
        for (kind, samples) in [&self.check_power, &self.power_on].into_iter().enumerate() {
            let took: Vec<(usize, f64)> =
                samples.iter().copied().filter(|(_, t)| *t > 0.0).collect();
            if took.is_empty() {
                continue;
            }
            let mean = took.iter().map(|(_, t)| t).sum::<f64>() / took.len() as f64;
            calls.extend(took.iter().map(|(run, t)| (*run, kind, (t / mean).ln())));
        }
        if let Some(Spreads {
            step: Some(kind),
            run: Some(run),
            ..
        }) = spreads(&calls)
        {
            // Per kind and run: the kind's own factor and the run's, together.
            model.latencies.run_spread = round((kind * kind + run * run).sqrt());
        }
        let share = |part: usize, whole: usize| {
            if whole == 0 {
                0.0
            } else {
                round(part as f64 / whole as f64)
            }
        };
        model.faults.start_failure = share(self.start_failures, self.start_attempts);
        model.faults.dead_bmc = share(self.bmc_dead, self.bmc_checked);
        model.faults.dead_disk = share(self.ssh_dead, self.ssh_waited);
        model.faults.slow_ssh = 0.0;
        model.faults.flapping = 0.0;
        if !self.acks.is_empty() {
            model.people.ack = Some(round(median(&self.acks)));
        }
        if !self.retries.is_empty() {
            model.people.retry = Some(round(median(&self.retries)));
        }
        let people = if self.acks.is_empty() && self.retries.is_empty() {
            String::new()
        } else {
            format!(
                "; people: {} acks, {} retries",
                self.acks.len(),
                self.retries.len()
            )
        };
        let game_days = match self.game_days {
            0 => String::new(),
            n => format!(" and {n} game days (their people only)"),
        };
        model.fitted_from = Some(format!(
            "{} real runs{game_days}: {} start attempts ({} failed), {} power checks, {} power-ons, {} SSH waits{people}",
            self.runs,
            self.start_attempts,
            self.start_failures,
            self.bmc_checked,
            self.power_on.len(),
            self.ssh_waited
        ));
        model
    }
}

/// Spreads of log start times, nested: a factor per run (a loaded controller slows every
/// start of the run), a factor per step within a run (its nodes start together, under the
/// same moment's load), and each node's own noise around them.
#[derive(Debug, Clone, Copy)]
struct Spreads {
    node: f64,
    /// With two samples of one step in one run or more (and two step runs).
    step: Option<f64>,
    /// With two runs or more.
    run: Option<f64>,
}

/// Fits [`Spreads`] to `(run, step, log(start / step mean))` samples by the method of
/// moments (one-way random effects, nested): each level's observed variance less what the
/// levels below it alone would give it, never below zero. With one run, everything is the
/// nodes' own spread, as before.
fn spreads(logs: &[(usize, usize, f64)]) -> Option<Spreads> {
    if logs.len() < 2 {
        return None;
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let mut runs: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut groups: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for (run, step, x) in logs {
        runs.entry(*run).or_default().push(*x);
        groups.entry((*run, *step)).or_default().push(*x);
    }
    if runs.len() < 2 {
        let all: Vec<f64> = logs.iter().map(|(_, _, x)| *x).collect();
        let m = mean(&all);
        let variance = all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (all.len() - 1) as f64;
        return Some(Spreads {
            node: variance.sqrt(),
            step: None,
            run: None,
        });
    }
    let n = logs.len() as f64;
    let (r, g) = (runs.len() as f64, groups.len() as f64);
    let steps = logs
        .iter()
        .map(|(_, step, _)| *step)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as f64;
    let run_mean: BTreeMap<usize, f64> = runs.iter().map(|(run, xs)| (*run, mean(xs))).collect();
    // Nodes around their step-in-run's mean.
    let residual: f64 = groups
        .values()
        .map(|xs| {
            let m = mean(xs);
            xs.iter().map(|x| (x - m).powi(2)).sum::<f64>()
        })
        .sum();
    let node = residual / (n - g).max(1.0);
    // Steps-in-run around their run's mean; per step, the step's own mean was taken out
    // already (the logs are relative to it): (runs - 1) x (steps - 1) degrees of freedom.
    let deviations: f64 = groups
        .iter()
        .map(|((run, _), xs)| (mean(xs) - run_mean[run]).powi(2))
        .sum();
    let observed_step = deviations / ((r - 1.0) * (steps - 1.0)).max(1.0);
    let step = (observed_step - node / (n / g)).max(0.0);
    // Runs around the grand mean.
    let grand = mean(&run_mean.values().copied().collect::<Vec<_>>());
    let observed_run = run_mean.values().map(|f| (f - grand).powi(2)).sum::<f64>() / (r - 1.0);
    let run = (observed_run - step / (g / r) - node / (n / r)).max(0.0);
    Some(Spreads {
        node: node.sqrt(),
        step: Some(step.sqrt()),
        run: Some(run.sqrt()),
    })
}

/// Fits a model from the journals in `dirs`, classing hosts by the default label.
pub fn calibrate(dirs: &[&Path]) -> Result<Model, String> {
    let base = Model::default();
    let mut samples = Calibration::default();
    for dir in dirs {
        samples.add_run(dir, &base.class_label)?;
    }
    Ok(samples.fit(&base))
}

/// The 10th to the 90th percentile: where most calls fall.
/// The seconds of (run, seconds) samples.
fn seconds(samples: &[(usize, f64)]) -> Vec<f64> {
    samples.iter().map(|(_, secs)| *secs).collect()
}

fn band(samples: &[f64]) -> Option<Range> {
    (!samples.is_empty()).then(|| [round(quantile(samples, 0.1)), round(quantile(samples, 0.9))])
}

/// The median: what one person typically took (a few slow answers do not move it).
fn median(samples: &[f64]) -> f64 {
    quantile(samples, 0.5)
}

/// Nearest-rank quantile.
fn quantile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds are plenty.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `secs` as samples of consecutive runs, `per_run` samples each.
    fn in_runs_of(per_run: usize, secs: &[f64]) -> Vec<(usize, f64)> {
        secs.iter()
            .enumerate()
            .map(|(i, s)| (i / per_run, *s))
            .collect()
    }

    #[test]
    fn steps_slower_together_in_one_run_are_a_step_factor_not_node_spread() {
        let mut samples = Calibration {
            runs: 2,
            ..Calibration::default()
        };
        // Three steps of three nodes each: within a step and run the nodes agree to 1 %,
        // but each step's nodes are together 10 % faster or slower from run to run.
        let node = [1.0, 1.01, 0.99];
        for (step, shift) in [("a", 1.1), ("b", 0.9), ("c", 1.0)] {
            let took: Vec<f64> = node
                .iter()
                .map(|s| s * shift)
                .chain(node.iter().map(|s| s * (2.0 - shift)))
                .collect();
            // The first three in run 0, the other three in run 1.
            samples.starts.insert(step.into(), in_runs_of(3, &took));
        }
        let model = samples.fit(&Model::default());
        assert!(model.spread < 0.02, "per node: {}", model.spread);
        assert!(
            (0.05..0.2).contains(&model.step_spread),
            "per step and run: {}",
            model.step_spread
        );
        assert!(
            model.run_spread < 0.05,
            "the runs as a whole agree: {}",
            model.run_spread
        );
    }

    #[test]
    fn a_whole_run_slower_is_a_run_factor_not_spread_within_runs() {
        let mut samples = Calibration {
            runs: 2,
            ..Calibration::default()
        };
        // Run 1 takes every start 30 % longer than run 0; within a run starts vary a little.
        let run0 = [1.0, 1.05, 0.95, 1.02, 0.98];
        let took: Vec<f64> = run0.iter().chain(&run0.map(|s| s * 1.3)).copied().collect();
        samples.starts.insert("db".into(), in_runs_of(5, &took));
        let model = samples.fit(&Model::default());
        assert!(model.spread < 0.05, "within runs: {}", model.spread);
        // log(1.3) = 0.262 apart: a standard deviation of 0.262 / sqrt(2) = 0.186.
        assert!(
            (model.run_spread - 0.186).abs() < 0.01,
            "between runs: {}",
            model.run_spread
        );
    }

    #[test]
    fn samples_give_bands_means_boot_floors_and_rates() {
        let mut samples = Calibration {
            runs: 2,
            check_power: in_runs_of(4, &[0.05, 0.06, 0.04, 0.3]),
            power_on: in_runs_of(4, &[0.1; 4]),
            probe: vec![0.02, 0.03],
            start_attempts: 10,
            start_failures: 1,
            bmc_checked: 4,
            ..Calibration::default()
        };
        samples
            .ssh_ready
            .insert("db".into(), vec![2.0, 3.0, 4.0, 5.0]);
        samples
            .starts
            .insert("database".into(), in_runs_of(3, &[1.0, 2.0, 3.0]));
        let model = samples.fit(&Model::default());
        assert_eq!(model.latencies.check_power, [0.04, 0.3]);
        assert_eq!(model.boot["db"], 2.0);
        // Lags 0, 1, 2, 3: mean 1.5, uniform from 0 to 3.
        assert_eq!(model.latencies.ssh, [0.0, 3.0]);
        assert_eq!(model.start["database"], 2.0);
        assert_eq!(model.faults.start_failure, 0.1);
        assert_eq!(model.faults.dead_bmc, 0.0);
        assert!(model.spread > 0.3 && model.spread < 0.7, "{}", model.spread);
        assert_eq!(model.run_spread, 0.0, "one run tells nothing about runs");
        assert_eq!(model.step_spread, 0.0);
        assert_eq!(
            model.latencies.dead_bmc, None,
            "dead BMCs follow the policy"
        );
    }
}
