//! Reproducible draws for the simulated fleet.
//!
//! Every random quantity is a pure function of the run's key and what it is about (which
//! host, which node, which attempt), not of the order in which the scheduler happens to ask.
//! So two runs with the same seed are identical, and a run with one fault kind switched off
//! sees the very same boot times, start times and other faults as the run with everything on
//! (common random numbers): the difference between the two is that fault's cost, not noise.

use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a draw is for; part of its key so different quantities are independent.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub(crate) enum Stream {
    Boot = 1,
    StartTime,
    StartFails,
    FailAfter,
    Flapping,
    DeadDisk,
    DeadBmc,
    SlowSsh,
    SlowSshDelay,
    CheckLatency,
    PowerLatency,
    SshLatency,
    ProbeLatency,
    RunFactor,
    StepFactor,
}

/// The draws of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draws {
    key: u64,
}

impl Draws {
    /// The draws for `seed`: the key comes from a ChaCha8 stream seeded with it.
    pub(crate) fn new(seed: u64) -> Draws {
        Draws {
            key: ChaCha8Rng::seed_from_u64(seed).next_u64(),
        }
    }

    /// A uniform number in [0, 1) for `(stream, a, b)`.
    pub(crate) fn unit(&self, stream: Stream, a: u64, b: u64) -> f64 {
        let mut hash = mix(self.key ^ mix(stream as u64));
        hash = mix(hash ^ a);
        hash = mix(hash ^ b.rotate_left(29));
        (hash >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&self, p: f64, stream: Stream, a: u64, b: u64) -> bool {
        p > 0.0 && self.unit(stream, a, b) < p
    }

    /// A duration around `expected`: lognormal with the same mean and shape `spread` (the
    /// standard deviation of its logarithm). Real boots and starts are skewed this way: most
    /// take about as long as expected, a few take much longer, none take less than nothing.
    /// A spread of zero gives `expected` exactly.
    pub(crate) fn around(
        &self,
        expected: Duration,
        spread: f64,
        stream: Stream,
        a: u64,
        b: u64,
    ) -> Duration {
        if spread <= 0.0 || expected.is_zero() {
            return expected;
        }
        // Box-Muller from two independent uniforms.
        let u1 = 1.0 - self.unit(stream, a, b);
        let u2 = self.unit(stream, a, b ^ 0x5555_5555_5555_5555);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let factor = (spread * z - spread * spread / 2.0).exp();
        millis(expected.as_secs_f64() * factor)
    }

    /// A duration uniform between `low` and `high`.
    pub(crate) fn between(
        &self,
        (low, high): (Duration, Duration),
        stream: Stream,
        a: u64,
        b: u64,
    ) -> Duration {
        if high <= low {
            return low;
        }
        let span = (high - low).as_secs_f64();
        low + millis(span * self.unit(stream, a, b))
    }
}

/// Seconds rounded to whole milliseconds: timelines stay short and exact.
pub(crate) fn millis(seconds: f64) -> Duration {
    Duration::from_millis((seconds * 1000.0).round().max(0.0) as u64)
}

/// The SplitMix64 finalizer: a cheap, well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of run `index` of a Monte Carlo series started from `seed`.
pub fn run_seed(seed: u64, index: u64) -> u64 {
    mix(seed ^ mix(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_draw_and_keys_differ() {
        let draws = Draws::new(7);
        let a = draws.unit(Stream::Boot, 1, 2);
        assert_eq!(a, Draws::new(7).unit(Stream::Boot, 1, 2));
        assert_ne!(a, draws.unit(Stream::Boot, 2, 1));
        assert_ne!(a, draws.unit(Stream::StartTime, 1, 2));
        assert_ne!(a, Draws::new(8).unit(Stream::Boot, 1, 2));
    }

    #[test]
    fn lognormal_keeps_the_mean_and_zero_spread_is_exact() {
        let draws = Draws::new(1);
        let expected = Duration::from_secs(100);
        assert_eq!(draws.around(expected, 0.0, Stream::Boot, 0, 0), expected);
        let n = 20_000;
        let total: f64 = (0..n)
            .map(|i| {
                draws
                    .around(expected, 0.3, Stream::Boot, i, 0)
                    .as_secs_f64()
            })
            .sum();
        let mean = total / n as f64;
        assert!((mean - 100.0).abs() < 1.5, "mean {mean}");
        let spread: Vec<f64> = (0..100)
            .map(|i| {
                draws
                    .around(expected, 0.3, Stream::Boot, i, 0)
                    .as_secs_f64()
            })
            .collect();
        assert!(spread.iter().any(|x| *x > 120.0) && spread.iter().any(|x| *x < 80.0));
    }
}
