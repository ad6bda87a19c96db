//! The plan's digest: the contract between the plan a person reviewed and the run that
//! carries it out. `plan` prints it, `run` prints the same one, `run --expect-digest`
//! refuses to act on anything else, and a resume refuses a changed plan.

use super::actions::node_commands;
use super::power::{command_line as power_command_line, PowerAction};
use super::Plan;
use crate::digest::digest;
use crate::scope::Scope;
use crate::topology::Topology;

/// The digest of what a plan covers: the text of every file it was loaded from (topology,
/// then playbook), the scope, and every command the run would send, rendered for each node
/// (SSH target, start, check, progress probe, power-on line).
///
/// The file texts alone would miss nothing today; the rendered commands are hashed too so
/// that a change in how templates render (a new blackstart version) also changes the digest:
/// what was approved is what is sent. Paths are left out, so the same files give the same
/// digest from any directory.
pub fn plan_digest<'a>(
    sources: impl IntoIterator<Item = &'a str>,
    scope: &Scope,
    topology: &Topology,
    plan: &Plan,
) -> String {
    let scope_text = serde_json::to_string(scope).unwrap_or_default();
    let mut rendered = String::new();
    for step in &plan.steps {
        rendered.push_str(&step.id);
        rendered.push('\n');
        for &host in &step.hosts {
            let on = &topology.hosts[host];
            rendered.push_str(&format!("{} ", on.ssh_route()));
            if let Some(bmc) = &on.bmc {
                rendered.push_str(&power_command_line(bmc, PowerAction::On));
            }
            let commands = node_commands(topology, step.step, host);
            rendered.push_str(&serde_json::to_string(&commands).unwrap_or_default());
            rendered.push('\n');
        }
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for source in sources {
        parts.push(source.as_bytes());
    }
    parts.extend([scope_text.as_bytes(), rendered.as_bytes()]);
    digest(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TOPOLOGY: &str = include_str!("../../topologies/minimal.yaml");

    fn digest_of(source: &str, scope: &Scope) -> String {
        let loaded = crate::load::load_str(source, Path::new("t.yaml")).expect("valid");
        let selection = scope.select(&loaded.topology).expect("scope");
        let plan = Plan::build(&loaded.topology, &selection).expect("plan");
        plan_digest([source], scope, &loaded.topology, &plan)
    }

    #[test]
    fn the_digest_changes_with_the_text_and_the_scope_and_nothing_else() {
        let all = Scope::default();
        assert_eq!(digest_of(TOPOLOGY, &all), digest_of(TOPOLOGY, &all));
        let edited = TOPOLOGY.replace("systemctl start postgresql", "systemctl start pg");
        assert_ne!(digest_of(TOPOLOGY, &all), digest_of(&edited, &all));
        let narrower = Scope {
            tiers: vec![1],
            ..Scope::default()
        };
        assert_ne!(digest_of(TOPOLOGY, &all), digest_of(TOPOLOGY, &narrower));
    }
}
