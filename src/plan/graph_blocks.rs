//! What the graphs draw: the plan's steps folded as the text plan folds them (the 66
//! database shards of the reference are a handful of boxes, not 66), with the edges between
//! folded boxes merged. `plan --every-node` draws every step instead.

use super::reduce::{drawn_edges, Edge};
use super::{folded_blocks, Plan};
use crate::topology::hostrange::compress;
use crate::topology::Topology;

/// One box of the graph: a step, or alike steps of one wave folded together.
#[derive(Debug)]
pub(super) struct Unit {
    /// `post-db-shard-[01:16]`, or the step's own id.
    pub name: String,
    /// The steps it stands for, the first one representative.
    pub members: Vec<usize>,
    /// A member is on the critical path.
    pub critical: bool,
}

/// An arrow between two boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Arrow {
    pub from: usize,
    pub to: usize,
    /// Every dependency it stands for is soft.
    pub soft: bool,
    /// One of them is an edge of the critical path.
    pub critical: bool,
}

/// The boxes and arrows to draw.
#[derive(Debug)]
pub(super) struct Drawn {
    pub units: Vec<Unit>,
    pub arrows: Vec<Arrow>,
}

/// Folds (unless `every_node`) and merges the edges (reduced unless `all_edges`).
pub(super) fn drawn(topology: &Topology, plan: &Plan, every_node: bool, all_edges: bool) -> Drawn {
    let blocks: Vec<Vec<usize>> = match every_node {
        true => (0..plan.steps.len()).map(|id| vec![id]).collect(),
        false => folded_blocks(topology, plan),
    };
    let mut unit_of = vec![0; plan.steps.len()];
    let units: Vec<Unit> = blocks
        .into_iter()
        .enumerate()
        .map(|(index, members)| {
            for &id in &members {
                unit_of[id] = index;
            }
            Unit {
                name: compress(members.iter().map(|id| plan.steps[*id].id.as_str())).join(", "),
                critical: members.iter().any(|id| plan.steps[*id].critical),
                members,
            }
        })
        .collect();
    let mut arrows: Vec<Arrow> = Vec::new();
    for edge in step_edges(plan, all_edges) {
        let (from, to) = (unit_of[edge.from], unit_of[edge.to]);
        if from == to {
            continue;
        }
        let critical = on_path(plan, edge.from, edge.to);
        match arrows.iter_mut().find(|a| a.from == from && a.to == to) {
            Some(arrow) => {
                arrow.soft &= edge.soft;
                arrow.critical |= critical;
            }
            None => arrows.push(Arrow {
                from,
                to,
                soft: edge.soft,
                critical,
            }),
        }
    }
    arrows.sort_unstable();
    Drawn { units, arrows }
}

/// The step edges to draw, with the critical path's own edges always among them.
fn step_edges(plan: &Plan, all_edges: bool) -> Vec<Edge> {
    let mut edges = drawn_edges(plan, all_edges);
    for pair in plan.critical_path.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        if !edges.iter().any(|e| e.from == from && e.to == to) {
            let soft = !plan.steps[to].requires.contains(&from);
            edges.push(Edge { from, to, soft });
        }
    }
    edges.sort_unstable();
    edges
}

/// True when `from -> to` is an edge of the critical path.
fn on_path(plan: &Plan, from: usize, to: usize) -> bool {
    plan.critical_path
        .windows(2)
        .any(|pair| pair[0] == from && pair[1] == to)
}
