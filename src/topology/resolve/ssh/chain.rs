//! The jump hosts on a route, as ssh chains them. `ProxyJump a,b` makes ssh reach `b`
//! through `a` (the rest of the list is given to that `ssh` on its command line, so `b`'s own
//! `ProxyJump` is not read), and `a` with an `ssh` of its own, which reads `a`'s block: `a`'s
//! own `ProxyJump` (and so on, recursively) comes before it. Only the first hop of each
//! list is looked up for its own route; a loop or a chain past [`MAX_JUMPS`] is refused.

use super::MAX_JUMPS;
use crate::topology::ssh_config::{HostConfig, JumpSpec, ProxyJump};

/// One hop, with what the configuration says about it.
pub(super) struct Hop {
    /// As written in the `ProxyJump` that named it.
    pub spec: JumpSpec,
    /// Its own block's settings.
    pub found: HostConfig,
    /// Reached by an `ssh` of its own that reads its block's route (`ProxyCommand` included).
    pub first: bool,
}

/// The hops on the way to `destination` given by `hops`, its own first hop's own route
/// first. The error says what is wrong (the caller adds the place).
pub(super) fn chain(
    hops: &[JumpSpec],
    destination: &str,
    lookup: &mut dyn FnMut(&str) -> HostConfig,
) -> Result<Vec<Hop>, String> {
    let mut out = Vec::new();
    let mut path = vec![destination.to_string()];
    expand(hops, lookup, &mut path, &mut out)?;
    Ok(out)
}

fn expand(
    hops: &[JumpSpec],
    lookup: &mut dyn FnMut(&str) -> HostConfig,
    path: &mut Vec<String>,
    out: &mut Vec<Hop>,
) -> Result<(), String> {
    let Some((first, rest)) = hops.split_first() else {
        return Ok(());
    };
    if path.contains(&first.host) {
        return Err(format!(
            "the jump hosts loop: {} -> {} (each one's ProxyJump names the next)",
            path.join(" <- "),
            first.host
        ));
    }
    let found = lookup(&first.host);
    if let Some(ProxyJump::Hops(own)) = &found.proxy_jump {
        path.push(first.host.clone());
        expand(own, lookup, path, out)?;
        path.pop();
    }
    out.push(Hop {
        spec: first.clone(),
        found,
        first: true,
    });
    for spec in rest {
        out.push(Hop {
            spec: spec.clone(),
            found: lookup(&spec.host),
            first: false,
        });
    }
    if out.len() > MAX_JUMPS {
        return Err(format!(
            "more than {MAX_JUMPS} jump hosts on the way to {} (their own ProxyJump included)",
            path[0]
        ));
    }
    Ok(())
}
