//! The run: a pure scheduler deciding, executors carrying out through transports.

pub mod driver;
pub mod event;
pub mod executor;
pub mod rate;
pub mod scheduler;
pub mod state;
pub mod transport;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
