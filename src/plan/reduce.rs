//! Transitive reduction of the step graph, for drawing: an edge `a -> c` is left out when
//! `c` is reachable from `a` another way (`a -> b -> c`), so what needs `dns` through
//! `ldap` is not drawn with a second arrow from `dns`. Every dependency stays visible as a
//! path; nothing is dropped from the plan itself.

use super::{Plan, StepId};

/// A drawn edge: from a dependency to the step that needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The dependency.
    pub from: StepId,
    /// The step that needs it.
    pub to: StepId,
    /// A soft dependency (`wants`).
    pub soft: bool,
}

/// Every edge of the plan: hard dependencies, then soft ones, per step.
pub fn edges(plan: &Plan) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (to, step) in plan.steps.iter().enumerate() {
        for &from in &step.requires {
            edges.push(Edge {
                from,
                to,
                soft: false,
            });
        }
        for &from in &step.wants {
            edges.push(Edge {
                from,
                to,
                soft: true,
            });
        }
    }
    edges
}

/// Node sets as bit rows: `n` rows of `n` bits.
struct Bits {
    words: usize,
    bits: Vec<u64>,
}

impl Bits {
    fn new(n: usize) -> Bits {
        let words = n.div_ceil(64);
        Bits {
            words,
            bits: vec![0; words * n],
        }
    }
    fn set(&mut self, row: usize, bit: usize) {
        self.bits[row * self.words + bit / 64] |= 1 << (bit % 64);
    }
    fn get(&self, row: usize, bit: usize) -> bool {
        self.bits[row * self.words + bit / 64] & (1 << (bit % 64)) != 0
    }
    /// row `into` |= row `from`.
    fn union(&mut self, into: usize, from: usize) {
        for word in 0..self.words {
            let value = self.bits[from * self.words + word];
            self.bits[into * self.words + word] |= value;
        }
    }
}

/// Which of `edges` (over nodes `0..n`, acyclic) a transitive reduction keeps: an edge is
/// dropped when its target is reachable through another successor of its source. Parallel
/// edges between the same two nodes keep the first. Returns one flag per edge.
///
/// # Panics
/// When the edges have a cycle (a plan never has one).
pub fn reduce(n: usize, edges: &[Edge]) -> Vec<bool> {
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for edge in edges {
        successors[edge.from].push(edge.to);
        indegree[edge.to] += 1;
    }
    // Kahn's order, then reachability from the last node back to the first.
    let mut order: Vec<usize> = (0..n).filter(|node| indegree[*node] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let node = order[next];
        next += 1;
        for &successor in &successors[node] {
            indegree[successor] -= 1;
            if indegree[successor] == 0 {
                order.push(successor);
            }
        }
    }
    assert_eq!(
        order.len(),
        n,
        "transitive reduction of a graph with a cycle"
    );
    // reach[v]: every node reachable from v in one step or more.
    let mut reach = Bits::new(n);
    for &node in order.iter().rev() {
        for &successor in &successors[node] {
            reach.set(node, successor);
            reach.union(node, successor);
        }
    }
    let mut seen = std::collections::HashSet::new();
    edges
        .iter()
        .map(|edge| {
            let first = seen.insert((edge.from, edge.to));
            let implied = successors[edge.from]
                .iter()
                .any(|&other| other != edge.to && reach.get(other, edge.to));
            first && !implied
        })
        .collect()
}

/// The edges to draw: the reduction, or all of them with `all_edges`.
pub fn drawn_edges(plan: &Plan, all_edges: bool) -> Vec<Edge> {
    let all = edges(plan);
    if all_edges {
        return all;
    }
    let keep = reduce(plan.steps.len(), &all);
    all.into_iter()
        .zip(keep)
        .filter_map(|(edge, keep)| keep.then_some(edge))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reachability(n: usize, edges: &[Edge]) -> Vec<Vec<bool>> {
        let mut reach = vec![vec![false; n]; n];
        for (start, row) in reach.iter_mut().enumerate() {
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                for edge in edges.iter().filter(|edge| edge.from == node) {
                    if !row[edge.to] {
                        row[edge.to] = true;
                        stack.push(edge.to);
                    }
                }
            }
        }
        reach
    }

    fn dag() -> impl Strategy<Value = (usize, Vec<Edge>)> {
        (1usize..40).prop_flat_map(|n| {
            // Edges only from a lower to a higher node: always acyclic.
            proptest::collection::vec((0..n, 0..n, any::<bool>()), 0..(n * 4)).prop_map(
                move |pairs| {
                    let edges = pairs
                        .into_iter()
                        .filter(|(a, b, _)| a != b)
                        .map(|(a, b, soft)| Edge {
                            from: a.min(b),
                            to: a.max(b),
                            soft,
                        })
                        .collect();
                    (n, edges)
                },
            )
        })
    }

    proptest! {
        #[test]
        fn reduction_keeps_every_dependency_reachable((n, edges) in dag()) {
            let keep = reduce(n, &edges);
            let kept: Vec<Edge> = edges
                .iter()
                .zip(&keep)
                .filter_map(|(edge, keep)| keep.then_some(*edge))
                .collect();
            prop_assert_eq!(reachability(n, &kept), reachability(n, &edges));
            // Minimal: no kept edge is implied by the others.
            for (index, edge) in kept.iter().enumerate() {
                let others: Vec<Edge> = kept
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, edge)| *edge)
                    .collect();
                prop_assert!(!reachability(n, &others)[edge.from][edge.to]);
            }
        }
    }

    #[test]
    fn a_shortcut_is_dropped_and_a_chain_kept() {
        let e = |from, to| Edge {
            from,
            to,
            soft: false,
        };
        let edges = [e(0, 1), e(1, 2), e(0, 2)];
        assert_eq!(reduce(3, &edges), vec![true, true, false]);
    }
}
