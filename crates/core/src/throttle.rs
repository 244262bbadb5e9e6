//! Attempt throttling policy: a few free attempts, then an exponentially growing delay,
//! capped so that it slows guessing without letting an attacker lock a victim out for long
//! (NIST SP 800-63B-4 §3.2.2; OWASP Authentication Cheat Sheet on lockout DoS).
//!
//! The counter is stored, not kept in memory, so it survives restarts and is shared by
//! every replica; the store applies this policy atomically.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Attempts evaluated before any delay; the last of them starts the first delay.
    pub free_attempts: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay_secs: u64,
    /// The longest single delay.
    pub max_delay_secs: u64,
    /// A quiet period after which the count starts again from zero.
    pub reset_after_secs: u64,
}

impl ThrottlePolicy {
    /// First-factor (password) default: 5 tries, then waits of 1 s, 2 s, 4 s … up to 60 s,
    /// so an attacker gets at most ~60 guesses an hour per account (ASVS 4.0.3 V2.2.1 asks
    /// ≤100) and a victim waits at most a minute.
    pub const PASSWORD: ThrottlePolicy = ThrottlePolicy {
        free_attempts: 5,
        base_delay_secs: 1,
        max_delay_secs: 60,
        reset_after_secs: 3600,
    };

    /// Client authentication (an application's secret): 10 failures, then waits of 1 s,
    /// 2 s, 4 s … up to 60 s. Client secrets carry 256 random bits, so this is not what
    /// keeps them from being guessed; it keeps a misconfigured or hostile caller from
    /// hammering the token endpoint with wrong secrets. Only failures count (see
    /// `service/applications.rs`), so a busy client's successes never add up to a lock.
    pub const CLIENT: ThrottlePolicy = ThrottlePolicy {
        free_attempts: 10,
        base_delay_secs: 1,
        max_delay_secs: 60,
        reset_after_secs: 3600,
    };

    /// The delay imposed after the `failures`-th counted attempt, in seconds (0 = none).
    /// With `free_attempts = n`, attempts 1..n-1 impose none and the n-th starts the first,
    /// so at most `n` attempts are ever evaluated back to back.
    pub fn delay_after(&self, failures: u32) -> u64 {
        if failures < self.free_attempts.max(1) {
            return 0;
        }
        let exp = (failures - self.free_attempts.max(1)).min(32);
        self.base_delay_secs
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_secs)
    }
}

/// What the store decided about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleDecision {
    /// Go ahead; this is the `failures`-th attempt counted since the last success.
    Allowed { failures: u32 },
    /// Refused without evaluating; try again after this many seconds.
    Locked { retry_after_secs: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        let p = ThrottlePolicy::PASSWORD;
        let d: Vec<u64> = (1..=14).map(|f| p.delay_after(f)).collect();
        assert_eq!(d, [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(p.delay_after(u32::MAX), 60);
    }
}
