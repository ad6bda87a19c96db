//! The run: a pure scheduler deciding, executors carrying out through transports.

pub mod driver;
pub mod event;
pub mod executor;
#[cfg(test)]
mod fake;
pub mod fanout;
pub mod health;
pub mod narrate;
pub mod ordering;
pub mod preflight;
pub mod rate;
pub mod rehearsal;
pub mod requests;
pub mod scheduler;
pub mod state;
#[cfg(test)]
mod tests;
pub mod transport;
