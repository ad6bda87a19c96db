#![warn(missing_docs)]
//! blackstart: bring a whole fleet back from total outage.
//!
//! The data path: [`topology`] (format, validation) → [`graph`] (steps, cycles) → [`load`]
//! (a topology checked by both) → [`plan`] (waves, earliest starts, critical path, ETA) → run → journal → report.

pub mod digest;
pub mod drill;
pub mod event;
pub mod gameday;
pub mod graph;
pub mod journal;
pub mod load;
pub mod night;
pub mod plan;
pub mod playbook;
pub mod rehearsal;
pub mod report;
pub mod run;
pub mod scope;
pub mod template;
pub mod topology;
pub mod units;
