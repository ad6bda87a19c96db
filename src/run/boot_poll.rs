//! Waiting for a host that was just powered on to answer SSH, without wasting the critical
//! path: sparse polls while it cannot be up yet, then from shortly before its expected boot a
//! poll at least every [`DENSE`], each a cheap TCP connect first (a SYN costs the booting
//! host nothing) and the SSH handshake only once the port answers. The TCP connects of the
//! whole fleet share one pace ([`ConnectPace`]), so 5,000 hosts near their boot do not
//! flood the controller's network.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::{sleep, sleep_until, Instant};

use super::health::Pace;
use super::transport::{Remote, TransportError};
use crate::event::Reason;
use crate::topology::Host;

/// Shortest and longest pause between two boot polls of a host.
const POLL_MIN: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(2);
/// The longest pause once the host may be up.
pub const DENSE: Duration = Duration::from_millis(250);
/// The longest a cheap TCP poll waits for the port.
const TCP_TIMEOUT: Duration = Duration::from_secs(1);
/// TCP boot polls per second, over the whole fleet.
pub const FLEET_CONNECTS_PER_SECOND: u32 = 2_000;

/// How long to wait for a booting host to answer SSH: three times its expected boot plus
/// one connect timeout, so a slow boot is not declared dead.
pub fn boot_timeout(host: &Host) -> Duration {
    host.boot * 3 + host.ssh.login.connect_timeout
}

/// When polls turn dense: a fifth of the expected boot (at least a second, at most 15 s)
/// before it, since boots vary around what the topology says.
pub fn dense_from(started: Instant, boot: Duration) -> Instant {
    let margin = (boot / 5).clamp(Duration::from_secs(1), Duration::from_secs(15));
    started + boot.saturating_sub(margin)
}

/// The pause after a poll at `now` that found nothing: the pace around the expected boot,
/// never longer than [`DENSE`] once polls are dense.
pub fn pause(pace: &Pace, now: Instant, dense: Instant) -> Duration {
    let paced = pace.pause(now);
    if now >= dense {
        paced.min(DENSE)
    } else {
        paced.min(dense - now).max(Duration::from_millis(1))
    }
}

/// One fleet-wide pace for TCP connects: at most `per_second`, in the order asked.
#[derive(Debug)]
pub struct ConnectPace {
    interval: Duration,
    next: Mutex<Instant>,
}

impl ConnectPace {
    /// At most `per_second` connects a second.
    pub fn new(per_second: u32) -> ConnectPace {
        ConnectPace {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's slot.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        sleep_until(slot).await;
    }
}

/// Waits until `host` answers SSH (connect, host key, login) or its boot timeout passes.
pub async fn wait_for_ssh<R: Remote>(
    remote: &R,
    connects: &ConnectPace,
    host: &Host,
) -> Result<(), Reason> {
    let started = Instant::now();
    let deadline = started + boot_timeout(host);
    let dense = dense_from(started, host.boot);
    let pace = Pace::new(started, started + host.boot, POLL_MIN, POLL_MAX);
    // Reached directly, the port can be asked with a SYN; through jump hosts or the
    // system ssh, asking is itself a login, so the login is the poll.
    let tcp_first = host.ssh.jumps.is_empty() && host.ssh.openssh.is_none();
    loop {
        let attempt = if tcp_first {
            connects.wait().await;
            match remote
                .alive(host, TCP_TIMEOUT.min(host.ssh.login.connect_timeout))
                .await
            {
                Ok(()) => remote.reachable(host, host.ssh.login.connect_timeout).await,
                Err(closed) => Err(closed),
            }
        } else {
            remote.reachable(host, host.ssh.login.connect_timeout).await
        };
        match attempt {
            Ok(()) => return Ok(()),
            // A wrong host key or credentials will not fix themselves by waiting.
            Err(
                err @ (TransportError::HostKey { .. }
                | TransportError::Auth { .. }
                | TransportError::Config { .. }),
            ) => return Err(err.ssh_reason("SSH")),
            Err(err) => {
                let now = Instant::now();
                let pause = pause(&pace, now, dense);
                if now + pause >= deadline {
                    return Err(Reason::NoAnswerAfterBoot {
                        limit_ms: Reason::millis(boot_timeout(host)),
                        last: err.to_string(),
                    });
                }
                sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_sparse_before_the_boot_and_at_most_250ms_apart_from_shortly_before_it() {
        let t0 = Instant::now();
        let boot = Duration::from_secs(60);
        let dense = dense_from(t0, boot);
        assert_eq!(
            dense,
            t0 + Duration::from_secs(48),
            "a fifth of the boot before it"
        );
        let pace = Pace::new(t0, t0 + boot, POLL_MIN, POLL_MAX);
        let early = pause(&pace, t0 + Duration::from_secs(20), dense);
        assert_eq!(early, POLL_MAX, "sparse while the host cannot be up");
        assert!(
            pause(&pace, dense - Duration::from_millis(300), dense) <= Duration::from_millis(300)
        );
        let mut now = dense;
        while now < t0 + Duration::from_secs(90) {
            let step = pause(&pace, now, dense);
            assert!(step <= DENSE, "{step:?} at {:?}", now - t0);
            now += step;
        }
        // A short boot still gets its margin of a second.
        assert_eq!(
            dense_from(t0, Duration::from_secs(2)),
            t0 + Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn the_fleet_shares_one_pace_of_connects() {
        let connects = ConnectPace::new(100);
        let began = Instant::now();
        for _ in 0..21 {
            connects.wait().await;
        }
        let took = began.elapsed();
        assert!(
            took >= Duration::from_millis(195),
            "21 connects at 100/s take 200 ms, took {took:?}"
        );
    }
}
