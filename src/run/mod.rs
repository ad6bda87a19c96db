//! The run: a pure scheduler deciding, executors carrying out through transports.

pub mod boot_poll;
pub mod critical_path;
pub mod driver;
pub mod executor;
#[cfg(test)]
pub(crate) mod fake;
pub mod fanout;
pub mod health;
pub mod ordering;
pub mod preflight;
pub mod prerequisites;
pub mod rate;
pub mod requests;
pub mod scheduler;
pub mod secrets;
#[cfg(test)]
mod tests;
pub mod transport;
