//! Numbers for people: durations rounded the way an operator reads them, counts with the
//! right plural. One place, so the plan, the run and the drill print the same words.

use std::time::Duration;

/// Formats a duration for people: `1h 23m 5s`, `40s`, `2.5s`, `250ms`, `0s`.
///
/// Whole minutes and hours drop the fraction (nobody plans to the millisecond past a
/// minute); under a minute a fraction stays as one decimal, so a measured `20.001363171s`
/// prints `20.0s`; under a second it prints milliseconds, so a 300 ms probe interval is not
/// rounded to `0s` in a plan someone reviews.
pub fn human_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".into();
    }
    if duration < Duration::from_secs(1) {
        return format!("{}ms", duration.as_millis().max(1));
    }
    if duration < Duration::from_secs(60) && duration.subsec_nanos() != 0 {
        let tenths = (duration.as_secs_f64() * 10.0).round() / 10.0;
        if tenths < 60.0 {
            return format!("{tenths:.1}s");
        }
    }
    // Rounded to the nearest second: `59.99s` reads `1m`, not `59s`.
    let total = ((duration.as_millis() + 500) / 1000) as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut parts = Vec::new();
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if seconds > 0 || parts.is_empty() {
        parts.push(format!("{seconds}s"));
    }
    parts.join(" ")
}

/// `1 host`, `5,705 hosts`: the count and the noun, plural when the count is not one.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!(
        "{} {}",
        thousands(n),
        if n == 1 { singular } else { plural }
    )
}

/// A count with thousands separators, `5,705`, for fleet-sized numbers read at a glance.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        let ms = Duration::from_millis;
        assert_eq!(human_duration(Duration::ZERO), "0s");
        assert_eq!(human_duration(ms(300)), "300ms");
        assert_eq!(human_duration(Duration::from_nanos(10)), "1ms");
        assert_eq!(human_duration(ms(1500)), "1.5s");
        assert_eq!(human_duration(Duration::new(20, 1_363_171)), "20.0s");
        assert_eq!(human_duration(ms(59_990)), "1m");
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(3785)), "1h 3m 5s");
        assert_eq!(human_duration(ms(125_400)), "2m 5s");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "host", "hosts"), "1 host");
        assert_eq!(count(0, "host", "hosts"), "0 hosts");
        assert_eq!(count(5705, "host", "hosts"), "5,705 hosts");
        assert_eq!(count(2, "attempt", "attempts"), "2 attempts");
        assert_eq!(thousands(5705), "5,705");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
