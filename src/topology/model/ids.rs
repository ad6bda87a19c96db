//! The indices every part of the model refers to.

/// Index of a host in [`super::Topology::hosts`].
pub type HostId = usize;
/// Index of a subsystem in [`super::Topology::subsystems`].
pub type SubsystemId = usize;
