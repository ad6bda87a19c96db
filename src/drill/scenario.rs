//! A game day's scenario (YAML): what is rehearsed (a topology or playbook), with which
//! seed and pace, the faults placed (from the start, from a time on, or from an event on:
//! a step started or ready), and what the team
//! is expected to do about them. Validated like the rest: every finding names the file,
//! line and column, and says what to write instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Injected, TriggerOn};
use crate::plan::Plan;
use crate::topology::diagnostic::closest;
use crate::topology::source_map::SourceMap;
use crate::topology::{SubsystemKind, Topology};

/// The scenario format this release reads.
pub const SCENARIO_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: u32,
    scenario: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default = "first_seed")]
    seed: u64,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    random_faults: bool,
    #[serde(default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

fn first_seed() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    fault: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    retry: Option<String>,
    #[serde(default)]
    ack: Option<String>,
    within: String,
}

/// What the team is expected to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Repair and `blackstart retry` this subsystem or step after it fails.
    Retry(String),
    /// `blackstart ack` this manual step or gate once it waits.
    Ack(String),
}

/// One expectation of the team.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Expectation {
    /// What.
    pub action: Expected,
    /// How soon after it is called for (the failure, or the step waiting).
    pub within: Duration,
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let within = humantime::format_duration(self.within);
        match &self.action {
            Expected::Retry(target) => {
                write!(f, "retry {target} within {within} of its failure")
            }
            Expected::Ack(step) => write!(f, "ack {step} within {within} of it waiting"),
        }
    }
}

/// A loaded, checked scenario (names in it are checked against the topology by
/// [`Scenario::resolve`]).
#[derive(Debug)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it rehearses, in words.
    pub description: Option<String>,
    /// The topology or playbook, resolved against the scenario's directory; the embedded
    /// reference topology when none.
    pub file: Option<PathBuf>,
    /// The seed of the simulated fleet.
    pub seed: u64,
    /// Simulated seconds per real second, when the scenario sets one.
    pub speed: Option<f64>,
    /// Random faults too (default: only the placed ones, so the day goes as scripted).
    pub random_faults: bool,
    /// The placed faults, as `--inject` writes them (`KIND=TARGET[+TIME]`).
    pub faults: Vec<String>,
    /// What the team is expected to do.
    pub expect: Vec<Expectation>,
    /// Per placed fault: the step whose event arms it (`after:`), checked against the plan.
    after: Vec<Option<String>>,
    path: PathBuf,
    map: SourceMap,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("{}: cannot read the scenario: {err}", path.display()))?;
        let raw: Raw = serde_yaml::from_str(&text).map_err(|err| match err.location() {
            Some(at) => format!(
                "{}:{}:{}: error: {err}",
                path.display(),
                at.line(),
                at.column()
            ),
            None => format!("{}: error: {err}", path.display()),
        })?;
        let map = SourceMap::index(&text);
        let at = |key: &str| locate(path, &map, key);
        if raw.version != SCENARIO_VERSION {
            return Err(format!(
                "{}: error: scenario version {}, but this release reads version {SCENARIO_VERSION}; write `version: {SCENARIO_VERSION}`",
                at("version"),
                raw.version
            ));
        }
        if let Some(speed) = raw.speed {
            if !(speed > 0.0 && speed <= 100_000.0) {
                return Err(format!(
                    "{}: error: speed {speed} is not a pace: write simulated seconds per real second, above 0 and at most 100000, e.g. 60",
                    at("speed")
                ));
            }
        }
        let mut faults = Vec::new();
        let mut after = Vec::new();
        for (index, fault) in raw.faults.iter().enumerate() {
            let event = match &fault.after {
                None => None,
                Some(_) if fault.at.is_some() => {
                    return Err(format!(
                        "{}: error: a fault strikes `at:` a time or `after:` an event, not both",
                        at(&format!("faults[{index}].after"))
                    ))
                }
                Some(text) => Some(parse_after(text).map_err(|message| {
                    format!(
                        "{}: error: {message}",
                        at(&format!("faults[{index}].after"))
                    )
                })?),
            };
            let text = match (&fault.at, &event) {
                (None, None) => fault.fault.clone(),
                (None, Some((on, step))) => format!("{}+{}:{step}", fault.fault, on.name()),
                (Some(time), _) => {
                    if let Err(err) = humantime::parse_duration(time) {
                        return Err(format!(
                            "{}: error: {time:?} is not a time into the run ({err}); write e.g. `at: 30m`",
                            at(&format!("faults[{index}].at"))
                        ));
                    }
                    format!("{}+{time}", fault.fault)
                }
            };
            faults.push(text);
            after.push(event.map(|(_, step)| step));
        }
        let mut expect = Vec::new();
        for (index, item) in raw.expect.iter().enumerate() {
            let here = at(&format!("expect[{index}]"));
            let action = match (&item.retry, &item.ack) {
                (Some(target), None) => Expected::Retry(target.clone()),
                (None, Some(step)) => Expected::Ack(step.clone()),
                _ => {
                    return Err(format!(
                        "{here}: error: an expectation is one of `retry: SUBSYSTEM` or `ack: STEP`, with `within: TIME`"
                    ))
                }
            };
            let within = humantime::parse_duration(&item.within).map_err(|err| {
                format!(
                    "{}: error: {:?} is not a time ({err}); write e.g. `within: 10m`",
                    at(&format!("expect[{index}].within")),
                    item.within
                )
            })?;
            expect.push(Expectation { action, within });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Scenario {
            name: raw.scenario,
            description: raw.description,
            file: raw.file.map(|file| base.join(file)),
            seed: raw.seed,
            speed: raw.speed,
            random_faults: raw.random_faults,
            faults,
            after,
            expect,
            path: path.to_path_buf(),
            map,
        })
    }

    /// Checks the scenario's names against what it rehearses: the placed faults (as
    /// `--inject` reads them) and what the team is expected to act on.
    pub fn resolve(&self, topology: &Topology, plan: &Plan) -> Result<Vec<Injected>, String> {
        let mut injected = Vec::new();
        for (index, fault) in self.faults.iter().enumerate() {
            if let Some(Some(step)) = self.after.get(index) {
                if !plan.steps.iter().any(|planned| planned.id == *step) {
                    let near = closest(step, plan.steps.iter().map(|p| p.id.as_str()))
                        .map(|near| format!(" (did you mean {near:?}?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "{}: error: no step {step:?} in this plan{near}: the fault would never be armed",
                        locate(&self.path, &self.map, &format!("faults[{index}].after"))
                    ));
                }
            }
            let fault = Injected::parse(topology, fault).map_err(|message| {
                format!(
                    "{}: error: {message}",
                    locate(&self.path, &self.map, &format!("faults[{index}].fault"))
                )
            })?;
            injected.push(fault);
        }
        for (index, expectation) in self.expect.iter().enumerate() {
            let here = |key: &str| locate(&self.path, &self.map, &format!("expect[{index}].{key}"));
            match &expectation.action {
                Expected::Retry(target) => {
                    let known = plan.steps.iter().any(|step| {
                        step.id == *target
                            || topology.subsystems[step.step.subsystem].name == *target
                    });
                    if !known {
                        return Err(format!(
                            "{}: error: nothing to retry named {target:?} in this plan; name a subsystem or step of it",
                            here("retry")
                        ));
                    }
                }
                Expected::Ack(step) => {
                    let human = plan.steps.iter().any(|planned| {
                        planned.id == *step
                            && !matches!(
                                topology.subsystems[planned.step.subsystem].kind,
                                SubsystemKind::Service
                            )
                    });
                    if !human {
                        return Err(format!(
                            "{}: error: {step:?} is not a manual step or gate of this plan; only those are acknowledged",
                            here("ack")
                        ));
                    }
                }
            }
        }
        Ok(injected)
    }
}

/// `after: ready STEP` or `after: started STEP`: the event and the step's id.
fn parse_after(text: &str) -> Result<(TriggerOn, String), String> {
    let usage = "write `after: ready STEP` (from the moment STEP is ready) or `after: started STEP` (from when its nodes begin starting)";
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [word, step] => match TriggerOn::parse(word) {
            Some(on) => Ok((on, (*step).to_string())),
            None => Err(format!("{word:?} is not an event of a step; {usage}")),
        },
        _ => Err(format!("{text:?} is not an event; {usage}")),
    }
}

/// `file:line:column` of `key` (or its nearest ancestor), or the file alone.
fn locate(path: &Path, map: &SourceMap, key: &str) -> String {
    match map.locate(key) {
        Some(at) => format!("{}:{}:{}", path.display(), at.line, at.column),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(file: &Path) -> (Topology, Plan) {
        let loaded = crate::playbook::load_any(file).unwrap_or_else(|err| panic!("{err}"));
        let selection = loaded.scope.select(&loaded.topology).unwrap();
        let plan = Plan::build(&loaded.topology, &selection).unwrap();
        (loaded.topology, plan)
    }

    /// Every shipped scenario loads, and its faults and expectations name what it rehearses.
    #[test]
    fn the_shipped_scenarios_load_and_resolve() {
        for (file, faults, expected) in [
            ("playbooks/game-days/ldap-down.yaml", 4, 2),
            ("playbooks/game-days/failover-approval.yaml", 0, 3),
        ] {
            let scenario = Scenario::load(Path::new(file)).unwrap_or_else(|err| panic!("{err}"));
            let (topology, plan) = planned(scenario.file.as_ref().expect("names its file"));
            let injected = scenario
                .resolve(&topology, &plan)
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(injected.len(), faults, "{file}");
            assert_eq!(scenario.expect.len(), expected, "{file}");
        }
        let ldap = Scenario::load(Path::new("playbooks/game-days/ldap-down.yaml")).unwrap();
        let (topology, plan) = planned(ldap.file.as_ref().unwrap());
        let timed = ldap.resolve(&topology, &plan).unwrap()[3];
        assert_eq!(
            timed.from,
            Duration::from_secs(40 * 60),
            "`at: 40m` is kept"
        );
    }

    fn scenario_error(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("day.yaml");
        std::fs::write(&path, text).unwrap();
        let loaded = Scenario::load(&path);
        let message = match loaded {
            Err(message) => message,
            Ok(scenario) => {
                let (topology, plan) =
                    crate::drill::shipped_and_planned("topologies/social-network.yaml");
                scenario.resolve(&topology, &plan).unwrap_err()
            }
        };
        message.replace(&path.display().to_string(), "day.yaml")
    }

    fn scenario_with(text: &str) -> (Scenario, Topology, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("day.yaml");
        std::fs::write(&path, text).unwrap();
        let scenario = Scenario::load(&path).unwrap_or_else(|err| panic!("{err}"));
        let (topology, plan) = crate::drill::shipped_and_planned("topologies/social-network.yaml");
        (scenario, topology, plan)
    }

    /// `after: ready STEP` places a fault on an event: it is armed by that step, not at once.
    #[test]
    fn a_fault_after_an_event_is_armed_by_its_step() {
        let (scenario, topology, plan) = scenario_with(
            "version: 1\nscenario: s\nfaults:\n  - fault: start-failure=ldap@ldap01.dc1\n    after: ready config\n  - fault: start-failure=ldap@ldap02.dc1\n    after: started config@bootstrap\n",
        );
        assert_eq!(
            scenario.faults,
            [
                "start-failure=ldap@ldap01.dc1+ready:config",
                "start-failure=ldap@ldap02.dc1+started:config@bootstrap"
            ]
        );
        let injected = scenario.resolve(&topology, &plan).unwrap();
        let config = topology.subsystem_id("config").unwrap();
        assert_eq!(
            injected[0].after,
            Some(crate::drill::Trigger {
                on: TriggerOn::Ready,
                subsystem: config,
                bootstrap: false
            })
        );
        assert_eq!(
            injected[1].after.map(|t| (t.on, t.bootstrap)),
            Some((TriggerOn::Started, true))
        );
        assert_eq!(injected[0].from, Duration::ZERO, "not armed by a time");
        let (disk, topology, plan) = scenario_with(
            "version: 1\nscenario: s\nfaults:\n  - fault: dead-disk=ldap@ldap01.dc1\n",
        );
        let disk = disk.resolve(&topology, &plan).unwrap();
        assert_eq!(disk[0].kind, crate::drill::FaultKind::DeadDisk);
        assert_eq!(disk[0].host, topology.host_id("ldap01.dc1").unwrap());
        // The trigger fires on its own step only, and on the status it names.
        use crate::event::state::StepStatus;
        let trigger = injected[0].after.unwrap();
        let step_of = |id: &str| plan.steps.iter().position(|p| p.id == id).unwrap();
        assert!(trigger.fired_by(&plan, step_of("config"), &StepStatus::Ready));
        assert!(!trigger.fired_by(&plan, step_of("config"), &StepStatus::Active));
        assert!(!trigger.fired_by(&plan, step_of("config@bootstrap"), &StepStatus::Ready));
        assert!(!trigger.fired_by(&plan, step_of("ldap"), &StepStatus::Ready));
        let started = injected[1].after.unwrap();
        assert!(started.fired_by(&plan, step_of("config@bootstrap"), &StepStatus::Active));
    }

    /// Mistakes are named with file, line and column, and what to write instead.
    #[test]
    fn mistakes_name_file_line_and_what_to_write() {
        let head = "version: 1\nscenario: s\n";
        let unknown_host = scenario_error(&format!(
            "{head}faults:\n  - fault: start-failure=ldap@ldap01.dc1\n  - fault: dead-disk=nosuch.dc1\n"
        ));
        assert!(
            unknown_host.starts_with("day.yaml:5:")
                && unknown_host.contains("unknown host \"nosuch.dc1\""),
            "{unknown_host}"
        );
        let typo = scenario_error(&format!("{head}sped: 60\n"));
        assert!(
            typo.starts_with("day.yaml:3:") && typo.contains("sped"),
            "{typo}"
        );
        let bad_time = scenario_error(&format!(
            "{head}faults:\n  - fault: start-failure=ldap@ldap01.dc1\n    at: soon\n"
        ));
        assert!(
            bad_time.starts_with("day.yaml:5:") && bad_time.contains("at: 30m"),
            "{bad_time}"
        );
        let not_human = scenario_error(&format!("{head}expect:\n  - ack: ldap\n    within: 5m\n"));
        assert!(
            not_human.starts_with("day.yaml:4:") && not_human.contains("not a manual step or gate"),
            "{not_human}"
        );
        let timed_disk = scenario_error(&format!(
            "{head}faults:\n  - fault: dead-disk=ldap01.dc1\n    at: 5m\n"
        ));
        assert!(
            timed_disk.contains("only a start failure strikes from a time on"),
            "{timed_disk}"
        );
        let typo_step = scenario_error(&format!(
            "{head}faults:\n  - fault: start-failure=ldap@ldap01.dc1\n    after: ready confg\n"
        ));
        assert!(
            typo_step.starts_with("day.yaml:5:") && typo_step.contains("did you mean \"config\""),
            "{typo_step}"
        );
        let bad_event = scenario_error(&format!(
            "{head}faults:\n  - fault: start-failure=ldap@ldap01.dc1\n    after: healthy config\n"
        ));
        assert!(
            bad_event.starts_with("day.yaml:5:") && bad_event.contains("after: ready STEP"),
            "{bad_event}"
        );
        let both = scenario_error(&format!(
            "{head}faults:\n  - fault: start-failure=ldap@ldap01.dc1\n    at: 5m\n    after: ready config\n"
        ));
        assert!(
            both.starts_with("day.yaml:6:") && both.contains("not both"),
            "{both}"
        );
        let disk_on_event = scenario_error(&format!(
            "{head}faults:\n  - fault: dead-disk=ldap01.dc1\n    after: ready config\n"
        ));
        assert!(
            disk_on_event.starts_with("day.yaml:4:")
                && disk_on_event.contains("only a start failure strikes from an event on"),
            "{disk_on_event}"
        );
        let not_its_step = scenario_error(&format!(
            "{head}faults:\n  - fault: dead-disk=config@ldap01.dc1\n"
        ));
        assert!(
            not_its_step.starts_with("day.yaml:4:")
                && not_its_step.contains("ldap01.dc1 does not run config")
                && not_its_step.contains("dead-disk=ldap01.dc1"),
            "{not_its_step}"
        );
        let version = scenario_error("version: 2\nscenario: s\n");
        assert!(
            version.starts_with("day.yaml:1:") && version.contains("version: 1"),
            "{version}"
        );
    }
}
