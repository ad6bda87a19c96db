//! The step graph: one step per subsystem, plus one per bootstrap mode. Edges run from a
//! dependency to its dependent. Cycles are found here, each reported with its whole path.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::topology::{SubsystemId, Topology};

/// Whether a step runs a subsystem normally or in its degraded bootstrap mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The bootstrap start that breaks a cycle; replaced by the normal start later.
    Bootstrap,
    /// The subsystem's own start.
    Normal,
}

/// One unit of the plan: a subsystem in a mode, on all of its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    /// The subsystem.
    pub subsystem: SubsystemId,
    /// Its mode.
    pub mode: Mode,
}

impl Step {
    /// How long a start of this step is expected to take on one host: the bootstrap mode's
    /// own `expect` in bootstrap mode, the subsystem's otherwise.
    pub fn expected(&self, topology: &Topology) -> std::time::Duration {
        let subsystem = &topology.subsystems[self.subsystem];
        match (self.mode, &subsystem.bootstrap) {
            (Mode::Bootstrap, Some(bootstrap)) => bootstrap.expect,
            _ => subsystem.expect,
        }
    }
}

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A hard dependency: the dependent waits, and is blocked if it fails.
    Requires,
    /// A soft dependency: only orders.
    Wants,
}

/// A dependency cycle that no bootstrap mode breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Steps along the cycle, each requiring the next; the first is repeated at the end.
    pub path: Vec<Step>,
}

/// The graph of steps for the subsystems in scope.
#[derive(Debug, Clone)]
pub struct StepGraph {
    /// Edges run dependency → dependent.
    pub graph: DiGraph<Step, EdgeKind>,
    index: HashMap<Step, NodeIndex>,
    /// Soft edges dropped because they closed a cycle: (dependent, wanted).
    pub dropped_wants: Vec<(SubsystemId, SubsystemId)>,
}

impl StepGraph {
    /// Builds the graph over the subsystems for which `in_scope` is true. Dependencies on
    /// subsystems out of scope are left out (the plan lists them as assumed up).
    pub fn build(topology: &Topology, in_scope: &[bool]) -> StepGraph {
        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        for (id, subsystem) in topology.subsystems.iter().enumerate() {
            if !in_scope[id] {
                continue;
            }
            if subsystem.bootstrap.is_some() {
                let step = Step {
                    subsystem: id,
                    mode: Mode::Bootstrap,
                };
                index.insert(step, graph.add_node(step));
            }
            let step = Step {
                subsystem: id,
                mode: Mode::Normal,
            };
            index.insert(step, graph.add_node(step));
        }
        let node = |id: SubsystemId, mode: Mode| {
            index
                .get(&Step {
                    subsystem: id,
                    mode,
                })
                .copied()
        };
        for (id, subsystem) in topology.subsystems.iter().enumerate() {
            let Some(normal) = node(id, Mode::Normal) else {
                continue;
            };
            for dependency in &subsystem.requires {
                let mode = if dependency.bootstrap_ok {
                    Mode::Bootstrap
                } else {
                    Mode::Normal
                };
                if let Some(source) = node(dependency.on, mode) {
                    graph.add_edge(source, normal, EdgeKind::Requires);
                }
            }
            if let (Some(bootstrap), Some(plan)) = (node(id, Mode::Bootstrap), &subsystem.bootstrap)
            {
                graph.add_edge(bootstrap, normal, EdgeKind::Requires);
                for &dependency in &plan.requires {
                    if let Some(source) = node(dependency, Mode::Normal) {
                        graph.add_edge(source, bootstrap, EdgeKind::Requires);
                    }
                }
            }
        }
        let mut step_graph = StepGraph {
            graph,
            index,
            dropped_wants: Vec::new(),
        };
        step_graph.add_wants(topology);
        step_graph
    }

    /// Adds soft edges that keep the graph acyclic; a soft edge that would close a cycle
    /// is dropped (and reported as a warning), since soft dependencies only order.
    fn add_wants(&mut self, topology: &Topology) {
        for (id, subsystem) in topology.subsystems.iter().enumerate() {
            let Some(dependent) = self.node(Step {
                subsystem: id,
                mode: Mode::Normal,
            }) else {
                continue;
            };
            for &wanted in &subsystem.wants {
                let Some(source) = self.node(Step {
                    subsystem: wanted,
                    mode: Mode::Normal,
                }) else {
                    continue;
                };
                if petgraph::algo::has_path_connecting(&self.graph, dependent, source, None) {
                    self.dropped_wants.push((id, wanted));
                } else {
                    self.graph.add_edge(source, dependent, EdgeKind::Wants);
                }
            }
        }
    }

    /// The node of `step`, when it is in the graph.
    pub fn node(&self, step: Step) -> Option<NodeIndex> {
        self.index.get(&step).copied()
    }

    /// Steps in an order where each comes after everything it depends on, or every cycle.
    pub fn order(&self) -> Result<Vec<NodeIndex>, Vec<Cycle>> {
        toposort(&self.graph, None).map_err(|_| self.cycles())
    }

    /// Every cycle of hard dependencies: one concrete path for each elementary cycle found,
    /// at most [`MAX_CYCLES_PER_COMPONENT`] per strongly connected component.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let members: HashSet<NodeIndex> = component.iter().copied().collect();
            let self_loop = component.len() == 1
                && self
                    .graph
                    .edges(component[0])
                    .any(|edge| edge.target() == component[0]);
            if component.len() > 1 || self_loop {
                cycles.extend(self.elementary_cycles(&members));
            }
        }
        cycles.sort_by_key(|cycle| cycle.path.cmp_key());
        cycles
    }

    /// Enumerates simple cycles inside one component, following "requires" (dependent →
    /// dependency), each starting from its smallest node so no cycle is listed twice.
    fn elementary_cycles(&self, members: &HashSet<NodeIndex>) -> Vec<Cycle> {
        let mut sorted: Vec<NodeIndex> = members.iter().copied().collect();
        sorted.sort();
        let mut found = Vec::new();
        let mut budget = 200_000usize;
        for &start in &sorted {
            // DFS over nodes >= start, with an explicit stack of (node, next neighbour).
            let neighbours = |node: NodeIndex| -> Vec<NodeIndex> {
                let mut list: Vec<NodeIndex> = self
                    .graph
                    .edges_directed(node, Direction::Incoming)
                    .map(|edge| edge.source())
                    .filter(|source| members.contains(source) && *source >= start)
                    .collect();
                list.sort();
                list.dedup();
                list
            };
            let mut path = vec![start];
            let mut on_path: HashSet<NodeIndex> = HashSet::from([start]);
            let mut stack = vec![(neighbours(start), 0usize)];
            while let Some((options, next)) = stack.last_mut() {
                if found.len() >= MAX_CYCLES_PER_COMPONENT || budget == 0 {
                    return found;
                }
                budget -= 1;
                let Some(&candidate) = options.get(*next) else {
                    stack.pop();
                    if let Some(node) = path.pop() {
                        on_path.remove(&node);
                    }
                    continue;
                };
                *next += 1;
                if candidate == start {
                    let mut cycle: Vec<Step> = path.iter().map(|node| self.graph[*node]).collect();
                    cycle.push(self.graph[start]);
                    found.push(Cycle { path: cycle });
                } else if !on_path.contains(&candidate) {
                    path.push(candidate);
                    on_path.insert(candidate);
                    stack.push((neighbours(candidate), 0));
                }
            }
        }
        found
    }

    /// The hard dependencies of `node`.
    pub fn requires(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.dependencies(node, EdgeKind::Requires)
    }

    /// The soft dependencies of `node` that are in the graph.
    pub fn wants(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.dependencies(node, EdgeKind::Wants)
    }

    fn dependencies(
        &self,
        node: NodeIndex,
        kind: EdgeKind,
    ) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .edges_directed(node, Direction::Incoming)
            .filter(move |edge| *edge.weight() == kind)
            .map(|edge| edge.source())
    }

    /// Every step that transitively requires `node` (its subtree), `node` excluded.
    pub fn dependents(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut seen = HashSet::from([node]);
        let mut queue = VecDeque::from([node]);
        let mut result = Vec::new();
        while let Some(current) = queue.pop_front() {
            for edge in self.graph.edges_directed(current, Direction::Outgoing) {
                if *edge.weight() == EdgeKind::Requires && seen.insert(edge.target()) {
                    result.push(edge.target());
                    queue.push_back(edge.target());
                }
            }
        }
        result
    }
}

/// Cap on cycles listed per strongly connected component; a dense tangle has exponentially
/// many, and the first few show where to cut.
pub const MAX_CYCLES_PER_COMPONENT: usize = 20;

trait CycleKey {
    fn cmp_key(&self) -> Vec<(SubsystemId, Mode)>;
}

impl CycleKey for Vec<Step> {
    fn cmp_key(&self) -> Vec<(SubsystemId, Mode)> {
        self.iter()
            .map(|step| (step.subsystem, step.mode))
            .collect()
    }
}

/// Renders a step for people: `config` or `config (bootstrap)`.
pub fn step_name(topology: &Topology, step: Step) -> String {
    let name = &topology.subsystems[step.subsystem].name;
    match step.mode {
        Mode::Normal => name.clone(),
        Mode::Bootstrap => format!("{name} (bootstrap)"),
    }
}

/// Renders a cycle as `config -> user-db -> config`.
pub fn cycle_text(topology: &Topology, cycle: &Cycle) -> String {
    cycle
        .path
        .iter()
        .map(|step| step_name(topology, *step))
        .collect::<Vec<_>>()
        .join(" -> ")
}
