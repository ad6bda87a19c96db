//! What the system `ssh` is told about a `client: openssh` host: only what the topology
//! writes, and the configuration file it names; the rest is ssh's own business.

use std::path::{Path, PathBuf};

use super::super::absolute;
use crate::topology::model::OpensshClient;
use crate::topology::raw::RawSsh;

/// What the system `ssh` is told about a host: the fields the topology writes, and the
/// configuration file it names.
pub(super) fn client(
    (own, inherited): (&RawSsh, &RawSsh),
    alias: &str,
    (path, base_dir): (&str, &Path),
) -> OpensshClient {
    let pick = |field: fn(&RawSsh) -> Option<&String>| field(own).or_else(|| field(inherited));
    OpensshClient {
        destination: alias.to_string(),
        config: config(own, inherited, path, base_dir),
        user: pick(|s| s.user.as_ref()).cloned(),
        port: own.port.or(inherited.port),
        key: pick(|s| s.key.as_ref()).map(|key| absolute(key, base_dir)),
        known_hosts: pick(|s| s.known_hosts.as_ref()).map(|f| absolute(f, base_dir)),
        proxy_jump: pick(|s| s.proxy_jump.as_ref()).cloned(),
        resolved: None,
    }
}

/// The `-F` argument for the system `ssh`: the file the topology or [`CONFIG_ENV`] names
/// (`none` for none), or nothing when `ssh` should read its own default files.
fn config(own: &RawSsh, inherited: &RawSsh, path: &str, base_dir: &Path) -> Option<PathBuf> {
    match super::choice(own, inherited, path, base_dir) {
        super::Choice::None => Some(PathBuf::from("none")),
        super::Choice::Implicit(file) | super::Choice::Named(file, _) => Some(file),
        super::Choice::Default(_) => None,
    }
}
