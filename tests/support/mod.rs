//! Shared helpers of the integration tests. Each test binary includes this with `mod support;`
//! and uses only part of it.
#![allow(dead_code)]

pub mod bound;
pub mod browser;
pub mod cli;
pub mod gameday_fixture;
pub mod http;
pub mod input;
pub mod lab;
pub mod lab_fleet;
pub mod lab_scripts;
pub mod netns;
pub mod procs;
pub mod redfish;
pub mod redfish_standin;
pub mod snapshot;
pub mod ssh_ca;
pub mod udp_stand_in;
