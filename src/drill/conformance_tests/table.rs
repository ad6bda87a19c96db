//! The conformance table: each row a case the executor handles, with the fault both sides
//! deal, the script of actions, how times may differ and why, and what the drill had to
//! learn for it.

use std::time::Duration;

pub(super) const READY_TIMEOUT: Duration = Duration::from_millis(400);
pub(super) const INTERVAL: Duration = Duration::from_millis(150);

/// One step of a row's script.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    CheckPower,
    PowerOn,
    PowerOff,
    Recheck,
    /// `WaitSsh`, with `prepared` as given.
    WaitSsh(bool),
    Probe,
    /// `Start`, attempt n.
    Start(u32),
    /// Time passes with nothing asked (not compared).
    Wait(Duration),
}

/// The fault a row deals, to both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fault {
    None,
    DeadBmc,
    Flapping,
    StartFails,
    /// The start hangs: never healthy, its progress output stuck.
    Hangs,
}

/// How the two sides' times may differ, per action.
#[derive(Debug, Clone, Copy)]
pub(super) enum Times {
    /// Within [`SLACK`], the executor never earlier.
    Same,
    /// The executor may take this much longer on the given kind of action.
    Longer(&'static str, Duration),
    /// The executor may end this much earlier on the given kind of action.
    Shorter(&'static str, Duration),
}

pub(super) struct Row {
    pub(super) name: &'static str,
    /// The host the node runs on (`h1` has a BMC, `h2` none).
    pub(super) host: &'static str,
    /// The subsystem's expected start time: when both sides' service comes up.
    pub(super) expect_ms: u64,
    pub(super) successes: u32,
    pub(super) progress: bool,
    pub(super) prepare: usize,
    pub(super) fault: Fault,
    pub(super) script: &'static [Step],
    pub(super) times: Times,
    /// Why the times may differ, or what the drill had to learn for the row.
    pub(super) note: &'static str,
    /// The drill changed to agree: what it models now.
    pub(super) drill_change: Option<&'static str>,
}

pub(super) const COLD: [Step; 4] = [
    Step::CheckPower,
    Step::PowerOn,
    Step::WaitSsh(false),
    Step::Probe,
];

macro_rules! script {
    ($($step:expr),* $(,)?) => {
        &[COLD[0], COLD[1], COLD[2], COLD[3], $($step),*]
    };
}

pub(super) const TABLE: &[Row] = &[
    Row {
        name: "a healthy cold start, then a recheck and a power-off",
        host: "h1",
        expect_ms: 100,
        successes: 2,
        progress: false,
        prepare: 0,
        fault: Fault::None,
        script: script![
            Step::Start(1),
            Step::Probe,
            Step::Recheck,
            Step::PowerOff,
            Step::CheckPower
        ],
        times: Times::Longer("Start", INTERVAL),
        note: "the executor's second good check in a row comes one interval after the first; \
               the drill counts it in the step's expected time, as the plan does",
        drill_change: Some("a healthy probe takes `successes` checks an interval apart"),
    },
    Row {
        name: "a start slower than its ready timeout",
        host: "h1",
        expect_ms: 800,
        successes: 1,
        progress: false,
        prepare: 0,
        fault: Fault::None,
        script: script![
            Step::Start(1),
            Step::Wait(Duration::from_millis(500)),
            Step::Probe
        ],
        times: Times::Same,
        note: "both give up at the ready timeout; the service comes up later all the same",
        drill_change: None,
    },
    Row {
        name: "a slow start whose progress probe keeps changing",
        host: "h1",
        expect_ms: 800,
        successes: 1,
        progress: true,
        prepare: 0,
        fault: Fault::None,
        script: script![Step::Start(1)],
        times: Times::Longer("Start", Duration::from_millis(50)),
        note: "past the ready timeout the executor waits one progress interval at a time",
        drill_change: None,
    },
    Row {
        name: "a slow start whose progress stalls",
        host: "h1",
        expect_ms: 800,
        successes: 1,
        progress: true,
        prepare: 0,
        fault: Fault::Hangs,
        script: script![
            Step::Start(1),
            Step::Wait(Duration::from_millis(500)),
            Step::Probe
        ],
        times: Times::Same,
        note: "a stuck progress output does not move the ready timeout",
        drill_change: Some("a hung start: cut at the ready timeout despite its progress probe, never healthy"),
    },
    Row {
        name: "a flapping health check, two successes needed",
        host: "h1",
        expect_ms: 100,
        successes: 2,
        progress: false,
        prepare: 0,
        fault: Fault::Flapping,
        script: script![Step::Start(1), Step::Probe, Step::Start(2), Step::Probe],
        times: Times::Longer("StartFinished#2", INTERVAL),
        note: "the flapping attempt ends at the ready timeout on both sides; the second's \
               second good check comes an interval after its first",
        drill_change: Some(
            "a flapping attempt fails at the ready timeout (never two good checks in a row), not when the start ends",
        ),
    },
    Row {
        name: "a flapping health check, one success enough",
        host: "h1",
        expect_ms: 100,
        successes: 1,
        progress: false,
        prepare: 0,
        fault: Fault::Flapping,
        // No probe after it: the fake's check keeps flapping, where the drill's flaps only
        // during the first attempt (a later probe could land on either).
        script: script![Step::Start(1)],
        times: Times::Same,
        note: "the first good check passes it",
        drill_change: Some("flapping strikes only where `successes` is above 1"),
    },
    Row {
        name: "three successes in a row",
        host: "h1",
        expect_ms: 100,
        successes: 3,
        progress: false,
        prepare: 0,
        fault: Fault::None,
        script: script![Step::Start(1), Step::Probe],
        times: Times::Longer("Start", Duration::from_millis(300)),
        note: "two more intervals after the first good check; the drill's probe of a healthy \
               node now takes them too",
        drill_change: Some("a healthy probe takes `successes` checks an interval apart"),
    },
    Row {
        name: "preparation steps, run once",
        host: "h1",
        expect_ms: 100,
        successes: 1,
        progress: false,
        prepare: 2,
        fault: Fault::None,
        script: script![Step::WaitSsh(true), Step::Start(1)],
        times: Times::Same,
        note: "each step is one SSH command (instant in the fake, a probe's latency in the drill)",
        drill_change: Some("preparation steps cost one SSH command each on the first SshReady"),
    },
    Row {
        name: "a dead BMC",
        host: "h1",
        expect_ms: 100,
        successes: 1,
        progress: false,
        prepare: 0,
        fault: Fault::DeadBmc,
        script: &[Step::CheckPower, Step::PowerOn],
        times: Times::Same,
        note: "the fake's BMC times out at once, the drill's after `latencies.dead_bmc` (zero \
               here; the retries live in transport/bmc_calls.rs)",
        drill_change: None,
    },
    Row {
        name: "a start command that fails",
        host: "h1",
        expect_ms: 100,
        successes: 1,
        progress: false,
        prepare: 0,
        fault: Fault::StartFails,
        script: script![Step::Start(1)],
        times: Times::Shorter("Start", Duration::from_millis(100)),
        note: "the fake's command fails at once; the drill draws when the crash shows",
        drill_change: None,
    },
    Row {
        name: "a host without a BMC",
        host: "h2",
        expect_ms: 100,
        successes: 1,
        progress: false,
        prepare: 0,
        fault: Fault::None,
        script: script![Step::Start(1)],
        times: Times::Same,
        note: "someone on site switches it on: it answers",
        drill_change: None,
    },
];
