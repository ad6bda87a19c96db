//! Power-on rate limits per power domain: thousands of servers switched on at once trip
//! breakers, so each domain gets at most `count` power-ons within any window.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A sliding-window limiter keyed by power domain.
#[derive(Debug, Clone)]
pub struct PowerOnLimiter {
    count: usize,
    window: Duration,
    recent: HashMap<String, VecDeque<Duration>>,
}

impl PowerOnLimiter {
    /// At most `count` power-ons per domain within `window`.
    pub fn new(count: u32, window: Duration) -> Self {
        PowerOnLimiter {
            count: count.max(1) as usize,
            window,
            recent: HashMap::new(),
        }
    }

    /// When the domain may power on the next host: `now` if it may already.
    pub fn next_slot(&mut self, domain: &str, now: Duration) -> Duration {
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
    pub fn record(&mut self, domain: &str, now: Duration) {
        self.recent
            .entry(domain.to_string())
            .or_default()
            .push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_waits_for_its_window_while_others_go_on() {
        let mut limiter = PowerOnLimiter::new(2, Duration::from_secs(10));
        let t0 = Duration::ZERO;
        limiter.record("pdu-a", t0);
        limiter.record("pdu-a", Duration::from_secs(1));
        assert_eq!(
            limiter.next_slot("pdu-a", Duration::from_secs(2)),
            Duration::from_secs(10)
        );
        assert_eq!(
            limiter.next_slot("pdu-b", Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(
            limiter.next_slot("pdu-a", Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }
}
