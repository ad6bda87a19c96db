//! Power-on rate limits per power domain: thousands of servers switched on at once trip
//! breakers, so each domain gets at most `count` power-ons within any window.

use std::collections::VecDeque;
use std::time::Duration;

/// A sliding-window limiter keyed by power domain, as the scheduler numbers them (an index,
/// not a name: a drill powers on thousands of hosts, and hashing and copying a name for
/// each was a measurable share of it).
#[derive(Debug, Clone)]
pub struct PowerOnLimiter {
    count: usize,
    window: Duration,
    /// Per domain index: the power-ons within the window, oldest first.
    recent: Vec<VecDeque<Duration>>,
}

impl PowerOnLimiter {
    /// At most `count` power-ons per domain within `window`.
    pub fn new(count: u32, window: Duration) -> Self {
        PowerOnLimiter {
            count: count.max(1) as usize,
            window,
            recent: Vec::new(),
        }
    }

    /// When the domain may power on the next host: `now` if it may already.
    pub fn next_slot(&mut self, domain: usize, now: Duration) -> Duration {
        let Some(times) = self.recent.get_mut(domain) else {
            return now;
        };
        while times.front().is_some_and(|t| *t + self.window <= now) {
            times.pop_front();
        }
        if times.len() < self.count {
            now
        } else {
            times[0] + self.window
        }
    }

    /// Records a power-on in `domain` at `now`.
    pub fn record(&mut self, domain: usize, now: Duration) {
        if self.recent.len() <= domain {
            self.recent.resize_with(domain + 1, VecDeque::new);
        }
        self.recent[domain].push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_waits_for_its_window_while_others_go_on() {
        const PDU_A: usize = 0;
        const PDU_B: usize = 1;
        let mut limiter = PowerOnLimiter::new(2, Duration::from_secs(10));
        let t0 = Duration::ZERO;
        limiter.record(PDU_A, t0);
        limiter.record(PDU_A, Duration::from_secs(1));
        assert_eq!(
            limiter.next_slot(PDU_A, Duration::from_secs(2)),
            Duration::from_secs(10)
        );
        assert_eq!(
            limiter.next_slot(PDU_B, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(
            limiter.next_slot(PDU_A, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }
}
