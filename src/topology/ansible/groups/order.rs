//! The group graph in order, parents before children, or the loop that prevents it.

use super::super::{Level, Problem};
use super::Builder;

impl Builder {
    /// Groups with every parent before its children, or the first loop found, named whole:
    /// `a -> b -> a`, at the line that closes it.
    pub(super) fn topological_order(&self) -> Result<Vec<usize>, Problem> {
        // Iterative depth-first search (no recursion on hostile nesting): 0 new, 1 on the
        // path, 2 done.
        let mut state = vec![0u8; self.groups.len()];
        let mut order = Vec::with_capacity(self.groups.len());
        for root in 0..self.groups.len() {
            if state[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(&mut (id, ref mut next)) = stack.last_mut() {
                if let Some(&(child, line)) = self.groups[id].children.get(*next) {
                    *next += 1;
                    match state[child] {
                        0 => {
                            state[child] = 1;
                            stack.push((child, 0));
                        }
                        1 => {
                            let start = stack.iter().position(|(g, _)| *g == child).unwrap_or(0);
                            let mut path: Vec<&str> = stack[start..]
                                .iter()
                                .map(|(g, _)| self.groups[*g].name.as_str())
                                .collect();
                            path.push(&self.groups[child].name);
                            return Err(Problem {
                                level: Level::Error,
                                line,
                                message: format!(
                                    "groups nest in a loop: {}",
                                    path.join(" -> ")
                                ),
                                hint: Some(
                                    "a group cannot be its own child, directly or through others; remove one `children` entry of the loop".into(),
                                ),
                                file: None,
                            });
                        }
                        _ => {}
                    }
                } else {
                    state[id] = 2;
                    order.push(id);
                    stack.pop();
                }
            }
        }
        // Post-order puts children first; parents first is wanted.
        order.reverse();
        Ok(order)
    }
}
