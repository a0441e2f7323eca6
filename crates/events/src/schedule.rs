//! When a failed webhook delivery is tried again (SPEC §12): growing delays, the first
//! retry within 30 s, and retries for over 24 hours (the Standard Webhooks schedule:
//! 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — 27.6 h in all, eight attempts).

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// The delay after the n-th failed attempt (index n-1).
const DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(10 * HOUR),
];

/// The retry schedule, every delay multiplied by `scale` (1 in production; tests
/// shrink it with the hidden `WEBHOOK_RETRY_SCALE`).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    scale: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

impl Schedule {
    /// The schedule with every delay multiplied by `scale` (at least 0).
    pub fn scaled(scale: f64) -> Self {
        Self {
            scale: if scale.is_finite() {
                scale.max(0.0)
            } else {
                1.0
            },
        }
    }

    /// The wait after `attempts` failed attempts, or `None` when it is time to give up.
    pub fn after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        DELAYS.get(index).map(|delay| delay.mul_f64(self.scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_30_seconds_grow_and_last_over_a_day() {
        let schedule = Schedule::default();
        assert!(schedule.after(1).unwrap() <= Duration::from_secs(30));
        let delays: Vec<Duration> = (1..).map_while(|n| schedule.after(n)).collect();
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        let total: Duration = delays.iter().sum();
        assert!(total >= Duration::from_secs(24 * HOUR), "{total:?}");
        assert_eq!(schedule.after(0), None);
    }

    #[test]
    fn a_scaled_schedule_keeps_its_shape() {
        let fast = Schedule::scaled(0.001);
        assert_eq!(fast.after(1), Some(Duration::from_millis(5)));
        assert_eq!(fast.after(8), None);
    }
}
