//! Health: is a node healthy now (N checks in a row), and waiting until it is, with the
//! progress probe that keeps a slow start alive. Checks run directly against the service,
//! never through the monitoring system (which lies on the worst night).

use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::transport::{Probe, Remote, TransportError};
use crate::event::Reason;
use crate::plan::actions::RenderedCheck;
use crate::topology::{HealthPolicy, Host, Subsystem};

/// Ok when `policy.successes` checks pass in a row; fails at the first failure.
pub async fn healthy_now<Q: Probe>(
    probe: &Q,
    host: &Host,
    check: &RenderedCheck,
    policy: &HealthPolicy,
) -> Result<(), Reason> {
    for round in 0..policy.successes {
        if round > 0 {
            sleep(policy.interval).await;
        }
        probe.check(host, check, policy.timeout).await?;
    }
    Ok(())
}

/// Watches a progress probe's output. Slow is not dead: while the output keeps changing,
/// a start past its ready timeout is left alone instead of killed and retried.
#[derive(Debug, Clone)]
pub struct ProgressWatch {
    interval: Duration,
    stall_after: Duration,
    started: Instant,
    last_value: Option<String>,
    last_change: Option<Instant>,
    last_poll: Instant,
}

impl ProgressWatch {
    /// A watch polled every `interval`, given up after `stall_after` without change.
    pub fn new(interval: Duration, stall_after: Duration, started: Instant) -> ProgressWatch {
        ProgressWatch {
            interval,
            stall_after,
            started,
            last_value: None,
            last_change: None,
            last_poll: started,
        }
    }

    /// Whether the probe should run now (its interval passed, or the deadline is here).
    pub fn due(&self, now: Instant, deadline: Instant) -> bool {
        now >= self.last_poll + self.interval || now >= deadline
    }

    /// Records the probe's output at `now`.
    pub fn observe(&mut self, now: Instant, output: Option<String>) {
        self.last_poll = now;
        let Some(value) = output else { return };
        if self.last_value.as_ref() != Some(&value) {
            if self.last_value.is_some() {
                self.last_change = Some(now);
            }
            self.last_value = Some(value);
        }
    }

    /// The deadline moved past `deadline` when the output changed recently enough.
    pub fn extended(&self, now: Instant, deadline: Instant) -> Option<Instant> {
        let changed = self.last_change?;
        (now >= deadline && now < changed + self.stall_after && changed > self.started)
            .then(|| now + self.interval)
    }
}

/// Shortest pause between two health probes of a node that is not healthy yet.
const PROBE_PAUSE_MIN: Duration = Duration::from_millis(20);

/// When to look again for something that is not there yet (a service, an SSH answer),
/// expected at a known time: while it is early, the pauses grow with the time waited (half
/// of it), so a fast start is seen fast and a slow one costs few polls; from the expected
/// time on they start short again and grow with the lateness (a quarter of it). Never
/// shorter than `min`, never longer than `max` (the configured interval), and never
/// sleeping past the expected time. So a poll lands within a fraction of the wait, not a
/// whole interval, after the thing appears.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    started: Instant,
    expected: Instant,
    min: Duration,
    max: Duration,
}

impl Pace {
    /// Pauses for a wait begun at `started` for something expected at `expected`, between
    /// `min` and `max`.
    pub fn new(started: Instant, expected: Instant, min: Duration, max: Duration) -> Pace {
        let max = max.max(Duration::from_millis(1));
        Pace {
            started,
            expected,
            min: min.min(max),
            max,
        }
    }

    /// The pause after a poll at `now` that found nothing.
    pub fn pause(&self, now: Instant) -> Duration {
        if now < self.expected {
            let grown = now.saturating_duration_since(self.started) / 2;
            grown
                .clamp(self.min, self.max)
                .min(self.expected - now)
                .max(Duration::from_millis(1))
        } else {
            (now.duration_since(self.expected) / 4).clamp(self.min, self.max)
        }
    }
}

/// Polls until the node is healthy (`successes` in a row) or its ready timeout passes; a
/// progress probe that keeps changing moves the timeout. The first probe runs at once; while
/// the node is not healthy the probes follow a [`Pace`] around `expected` (when the start
/// should be done) capped at the policy's interval; between successes in a row the full
/// interval passes, as "N checks in a row" promises.
///
/// `started` is when the start began: now for a fresh start, in the past for a start
/// adopted after a kill, whose ready timeout has been running since. While the node is not
/// healthy, the host itself is asked every [`alive_every`] whether it is still there: a
/// host that lost power ends the wait at once with [`Reason::Unreachable`] instead of
/// polling a dead port for the whole ready timeout.
#[allow(clippy::too_many_arguments)]
pub async fn wait_healthy<R: Remote, Q: Probe>(
    remote: &R,
    probe: &Q,
    host: &Host,
    subsystem: &Subsystem,
    check: &RenderedCheck,
    progress_command: Option<&str>,
    started: Instant,
    expected: Instant,
) -> Result<(), Reason> {
    let policy = subsystem.health_policy;
    let mut next_alive_check = Instant::now() + alive_every(host);
    let pace = Pace::new(started, expected, PROBE_PAUSE_MIN, policy.interval);
    let mut deadline = started + subsystem.ready_timeout;
    let mut in_a_row = 0;
    let mut last_failure = String::from("no probe ran");
    let mut progress = progress_command
        .zip(subsystem.progress.as_ref())
        .map(|(command, probe)| {
            (
                command,
                ProgressWatch::new(probe.interval, probe.stall_after, started),
            )
        });
    loop {
        match probe.check(host, check, policy.timeout).await {
            Ok(()) => {
                in_a_row += 1;
                if in_a_row >= policy.successes {
                    return Ok(());
                }
            }
            Err(why) => {
                in_a_row = 0;
                last_failure = why.to_string();
                if Instant::now() >= next_alive_check {
                    next_alive_check = Instant::now() + alive_every(host);
                    host_still_there(remote, host, subsystem, &last_failure).await?;
                }
            }
        }
        let now = Instant::now();
        if let Some((command, watch)) = &mut progress {
            if watch.due(now, deadline) {
                let output = remote
                    .exec(host, command, policy.timeout)
                    .await
                    .ok()
                    .map(|o| o.stdout);
                watch.observe(now, output);
                if let Some(later) = watch.extended(now, deadline) {
                    deadline = later;
                    tracing::info!(host = %host.name, subsystem = %subsystem.name, "still progressing past the ready timeout; waiting");
                }
            }
        }
        if now >= deadline {
            return Err(Reason::NotHealthyWithin {
                limit_ms: Reason::millis(now.duration_since(started)),
                last: last_failure,
            });
        }
        let pause = if in_a_row > 0 {
            policy.interval
        } else {
            pace.pause(now)
        };
        sleep(pause.min(deadline.saturating_duration_since(now))).await;
    }
}

/// How often a host is asked whether it is still there while its service does not answer:
/// a TCP connect each second when it is reached directly, a login every five seconds
/// through jump hosts (each one a session on the bastion that serves the whole fleet).
pub fn alive_every(host: &Host) -> Duration {
    if host.ssh.jumps.is_empty() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    }
}

/// Ok when the host still answers; the reason the attempt ends when it does not.
async fn host_still_there<R: Remote>(
    remote: &R,
    host: &Host,
    subsystem: &Subsystem,
    last_failure: &str,
) -> Result<(), Reason> {
    match remote.alive(host, host.ssh.login.connect_timeout).await {
        Ok(()) => Ok(()),
        Err(err @ (TransportError::Unreachable { .. } | TransportError::Timeout { .. })) => {
            Err(Reason::Unreachable {
                detail: format!(
                    "{err} (stopped answering while {} came up; its check: {last_failure})",
                    subsystem.name
                ),
            })
        }
        // Anything else (a refused key, a config problem) is for the start to report.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_while_early_restart_at_the_expected_time_and_stay_within_bounds() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let pace = Pace::new(t0, t0 + ms(2000), ms(20), ms(500));
        assert_eq!(pace.pause(t0), ms(20), "the floor right after the start");
        assert_eq!(
            pace.pause(t0 + ms(300)),
            ms(150),
            "half the wait while early"
        );
        assert_eq!(
            pace.pause(t0 + ms(1900)),
            ms(100),
            "never past the expected time"
        );
        assert_eq!(pace.pause(t0 + ms(1200)), ms(500), "capped at the interval");
        assert_eq!(pace.pause(t0 + ms(2000)), ms(20), "short again when due");
        assert_eq!(
            pace.pause(t0 + ms(2400)),
            ms(100),
            "a quarter of the lateness"
        );
        assert_eq!(pace.pause(t0 + ms(9000)), ms(500), "capped at the interval");
        // A policy interval below the floor wins over the floor.
        let quick = Pace::new(t0, t0 + ms(1000), ms(20), ms(5));
        assert_eq!(quick.pause(t0 + ms(500)), ms(5));
        // Polling a whole schedule: a service up 2.25 s after its start (0.25 s late) is
        // seen within 0.1 s, where a fixed 500 ms interval could miss it by up to 500 ms.
        let up = t0 + ms(2250);
        let mut now = t0;
        let mut polls = 0;
        while now < up {
            now += pace.pause(now);
            polls += 1;
        }
        assert!(now - up <= ms(100), "seen {:?} late", now - up);
        assert!(polls <= 25, "{polls} polls");
    }

    #[test]
    fn a_changing_probe_extends_the_deadline_and_a_stalled_one_does_not() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut watch = ProgressWatch::new(second, 3 * second, t0);
        let deadline = t0 + 5 * second;
        watch.observe(t0 + second, Some("pos 10".into()));
        assert_eq!(
            watch.extended(deadline, deadline),
            None,
            "a first value is no progress yet"
        );
        watch.observe(t0 + 4 * second, Some("pos 20".into()));
        assert_eq!(watch.extended(deadline, deadline), Some(deadline + second));
        watch.observe(t0 + 6 * second, Some("pos 20".into()));
        let late = t0 + 8 * second;
        assert_eq!(
            watch.extended(late, late),
            None,
            "no change for 4 s: stalled"
        );
    }
}
