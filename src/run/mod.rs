//! The run: a pure scheduler deciding, executors carrying out through transports.

pub mod transport;
