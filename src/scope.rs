//! Scope selection: which subsystems and hosts a plan or run covers.

use std::collections::{BTreeSet, HashSet};

use thiserror::Error;

use crate::topology::diagnostic::closest;
use crate::topology::hostrange;
use crate::topology::names::glob_match;
use crate::topology::{HostId, SubsystemId, Topology};

/// What the operator asked to cover. Empty fields select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    /// These subsystems and everything they need.
    pub only: Vec<String>,
    /// Leave these subsystems out (their dependents assume them up).
    pub exclude: Vec<String>,
    /// Only hosts in this datacenter.
    pub datacenter: Option<String>,
    /// Only hosts carrying every one of these `key=value` labels.
    pub labels: Vec<(String, String)>,
    /// Only subsystems of these tiers (1 = S1) and everything they need.
    #[serde(default)]
    pub tiers: Vec<u8>,
    /// Only hosts matching one of these patterns (`--host`/`--limit`): names or addresses,
    /// exact, `*`/`?` globs, or ranges `web[1:8]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// A scope applied to a topology.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Per subsystem: is it covered.
    pub in_scope: Vec<bool>,
    /// Per subsystem: its hosts that are covered.
    pub hosts: Vec<Vec<HostId>>,
    /// Per subsystem: its spares that are covered.
    pub spares: Vec<Vec<HostId>>,
    /// Subsystems out of scope that covered ones depend on: assumed to be up already.
    pub assumed_up: Vec<SubsystemId>,
}

/// A scope that names something the topology lacks.
#[derive(Debug, Error)]
pub enum ScopeError {
    /// `--only` or `--exclude` named an unknown subsystem.
    #[error("unknown subsystem {name:?} in --{flag}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownSubsystem {
        /// The flag.
        flag: &'static str,
        /// The name given.
        name: String,
        /// The nearest known name.
        suggestion: Option<String>,
    },
    /// A label was not `key=value`.
    #[error("label selector {0:?} must be key=value")]
    BadLabel(String),
    /// `--host` named a pattern that matches no host.
    #[error("--host {pattern:?} matches no host{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownHost {
        /// The pattern given.
        pattern: String,
        /// The nearest host name.
        suggestion: Option<String>,
    },
    /// A host pattern or tier that does not parse.
    #[error("{0}")]
    BadPattern(String),
    /// `--datacenter` (or a playbook's `scope.datacenter`) names no host's datacenter.
    #[error("datacenter {name:?} holds no host of this topology; its datacenters: {}{}", known.join(", "), suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownDatacenter {
        /// The name given.
        name: String,
        /// Every datacenter the hosts name.
        known: Vec<String>,
        /// The nearest of them.
        suggestion: Option<String>,
    },
    /// A label selector no host carries.
    #[error("no host carries the label {key}={value}; {}{}", if known.is_empty() { format!("no host has a {key:?} label") } else { format!("values of {key:?}: {}", known.join(", ")) }, suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownLabel {
        /// The label's key.
        key: String,
        /// The value asked for.
        value: String,
        /// The values the hosts give this key (the first few, then how many in all).
        known: Vec<String>,
        /// The nearest of them.
        suggestion: Option<String>,
    },
    /// Nothing is left to do.
    #[error("the scope selects no subsystem with hosts: check --only, --exclude, --tier, --host, --datacenter and --label")]
    Empty,
}

impl Scope {
    /// Parses `key=value` label selectors.
    pub fn parse_labels(labels: &[String]) -> Result<Vec<(String, String)>, ScopeError> {
        labels
            .iter()
            .map(|label| {
                label
                    .split_once('=')
                    .filter(|(key, _)| !key.is_empty())
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .ok_or_else(|| ScopeError::BadLabel(label.clone()))
            })
            .collect()
    }

    /// Parses a tier as the topology format writes it: `S1`..`S9` or `1`..`9`.
    pub fn parse_tier(text: &str) -> Result<u8, ScopeError> {
        // The topology's own rule and message, so a tier reads the same everywhere.
        serde_json::from_value::<crate::topology::Tier>(serde_json::Value::String(text.into()))
            .map(|tier| tier.0)
            .map_err(|err| ScopeError::BadPattern(err.to_string()))
    }

    /// Per host of `topology`: does it match one of `patterns` (name or address; exact,
    /// glob or range). Every pattern must match something, so a typo is an error rather
    /// than a silently smaller run.
    pub fn match_hosts(topology: &Topology, patterns: &[String]) -> Result<Vec<bool>, ScopeError> {
        let mut chosen = vec![false; topology.hosts.len()];
        for pattern in patterns {
            let mut matched = false;
            for wanted in hostrange::expand(pattern).map_err(ScopeError::BadPattern)? {
                for (id, host) in topology.hosts.iter().enumerate() {
                    if glob(&wanted, &host.name) || glob(&wanted, &host.address) {
                        chosen[id] = true;
                        matched = true;
                    }
                }
            }
            if !matched {
                return Err(ScopeError::UnknownHost {
                    pattern: pattern.clone(),
                    suggestion: closest(pattern, topology.hosts.iter().map(|h| h.name.as_str()))
                        .map(str::to_string),
                });
            }
        }
        Ok(chosen)
    }

    /// Refuses a datacenter no host is in, so a typo is named instead of planning nothing.
    pub fn check_datacenter(topology: &Topology, name: &str) -> Result<(), ScopeError> {
        let known: BTreeSet<&str> = topology
            .hosts
            .iter()
            .filter_map(|host| host.datacenter.as_deref())
            .collect();
        if known.contains(name) {
            return Ok(());
        }
        Err(ScopeError::UnknownDatacenter {
            name: name.to_string(),
            suggestion: closest(name, known.iter().copied()).map(str::to_string),
            known: known.into_iter().map(str::to_string).collect(),
        })
    }

    /// Refuses a `key=value` label no host carries, listing the values the key has.
    pub fn check_label(topology: &Topology, key: &str, value: &str) -> Result<(), ScopeError> {
        let known: BTreeSet<&str> = topology
            .hosts
            .iter()
            .filter_map(|host| host.labels.get(key).map(String::as_str))
            .collect();
        if known.contains(value) {
            return Ok(());
        }
        const SHOWN: usize = 10;
        let mut shown: Vec<String> = known.iter().take(SHOWN).map(|v| v.to_string()).collect();
        if known.len() > SHOWN {
            shown.push(format!("… ({} in all)", known.len()));
        }
        Err(ScopeError::UnknownLabel {
            key: key.to_string(),
            value: value.to_string(),
            suggestion: closest(value, known.iter().copied()).map(str::to_string),
            known: shown,
        })
    }

    /// Applies the scope to `topology`.
    pub fn select(&self, topology: &Topology) -> Result<Selection, ScopeError> {
        if let Some(datacenter) = &self.datacenter {
            Self::check_datacenter(topology, datacenter)?;
        }
        for (key, value) in &self.labels {
            Self::check_label(topology, key, value)?;
        }
        let lookup = |flag: &'static str, name: &String| {
            topology
                .subsystem_id(name)
                .ok_or_else(|| ScopeError::UnknownSubsystem {
                    flag,
                    name: name.clone(),
                    suggestion: closest(name, topology.subsystems.iter().map(|s| s.name.as_str()))
                        .map(str::to_string),
                })
        };
        let count = topology.subsystems.len();
        let everything = self.only.is_empty() && self.tiers.is_empty();
        let mut in_scope = vec![everything; count];
        let mut queue: Vec<SubsystemId> = self
            .only
            .iter()
            .map(|name| lookup("only", name))
            .collect::<Result<_, _>>()?;
        queue.extend(
            topology
                .subsystems
                .iter()
                .enumerate()
                .filter(|(_, s)| self.tiers.contains(&s.tier.0))
                .map(|(id, _)| id),
        );
        while let Some(id) = queue.pop() {
            if std::mem::replace(&mut in_scope[id], true) {
                continue;
            }
            let subsystem = &topology.subsystems[id];
            queue.extend(subsystem.requires.iter().map(|dependency| dependency.on));
            if let Some(bootstrap) = &subsystem.bootstrap {
                queue.extend(bootstrap.requires.iter().copied());
            }
        }
        for name in &self.exclude {
            in_scope[lookup("exclude", name)?] = false;
        }
        let limited = match self.hosts.is_empty() {
            true => None,
            false => Some(Self::match_hosts(topology, &self.hosts)?),
        };
        let host_ok = |id: HostId| {
            let host = &topology.hosts[id];
            limited.as_ref().is_none_or(|chosen| chosen[id])
                && self
                    .datacenter
                    .as_ref()
                    .is_none_or(|dc| host.datacenter.as_ref() == Some(dc))
                && self
                    .labels
                    .iter()
                    .all(|(key, value)| host.labels.get(key) == Some(value))
        };
        let filter = |list: &[HostId]| list.iter().copied().filter(|h| host_ok(*h)).collect();
        let hosts: Vec<Vec<HostId>> = topology
            .subsystems
            .iter()
            .map(|s| filter(&s.hosts))
            .collect();
        let spares = topology
            .subsystems
            .iter()
            .map(|s| filter(&s.spares))
            .collect();
        for (id, selected) in hosts.iter().enumerate() {
            // Steps done by people have no hosts; they stay when what they guard stays.
            if selected.is_empty() && !topology.subsystems[id].kind.is_human() {
                in_scope[id] = false;
            }
        }
        if !in_scope.iter().any(|covered| *covered) {
            return Err(ScopeError::Empty);
        }
        let mut assumed: HashSet<SubsystemId> = HashSet::new();
        for (id, subsystem) in topology.subsystems.iter().enumerate() {
            if !in_scope[id] {
                continue;
            }
            let bootstrap_requires = subsystem
                .bootstrap
                .iter()
                .flat_map(|b| b.requires.iter().copied());
            for dependency in subsystem
                .requires
                .iter()
                .map(|d| d.on)
                .chain(bootstrap_requires)
            {
                if !in_scope[dependency] {
                    assumed.insert(dependency);
                }
            }
        }
        let mut assumed_up: Vec<SubsystemId> = assumed.into_iter().collect();
        assumed_up.sort_unstable();
        Ok(Selection {
            in_scope,
            hosts,
            spares,
            assumed_up,
        })
    }
}

/// Shell-style match of `text` against `pattern` with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    glob_match(&pattern, &text, '*', '?')
}

#[cfg(test)]
mod tests {
    use super::{glob, Scope};

    #[test]
    fn globs() {
        assert!(glob("web*", "web12"));
        assert!(glob("web?", "web1"));
        assert!(!glob("web?", "web12"));
        assert!(glob("*.dc1", "db1.dc1"));
        assert!(glob("db1.dc1", "db1.dc1"));
        assert!(!glob("db1", "db1.dc1"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn tiers_parse_as_the_topology_writes_them() {
        assert_eq!(Scope::parse_tier("S1").unwrap(), 1);
        assert_eq!(Scope::parse_tier("2").unwrap(), 2);
        assert!(Scope::parse_tier("S0").is_err());
        assert!(Scope::parse_tier("gold")
            .unwrap_err()
            .to_string()
            .contains("S1..S9"));
    }
}
