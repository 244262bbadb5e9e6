//! Per-tenant settings: what `GET/PATCH /v1/admin/config` shows and changes. Stored as JSON
//! with every field defaulted, so a setting added later needs no migration and old rows
//! read back with the new default.

use crate::factor::FactorKind;
use crate::throttle::ThrottlePolicy;
use serde::{Deserialize, Serialize};

pub const ACCESS_TTL_RANGE: (u64, u64) = (60, 86_400);
pub const REFRESH_TTL_RANGE: (u64, u64) = (3_600, 365 * 86_400);
pub const CHALLENGE_TTL_RANGE: (u64, u64) = (60, 600);
/// NIST SP 800-63B-4 §3.2.2: no more than 100 consecutive failures on one account.
pub const MAX_MFA_ATTEMPTS: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Lifetime of access tokens (seconds). Default 15 minutes.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh-token family from sign-in (seconds). Default 30 days.
    pub refresh_token_ttl_secs: u64,
    /// Whether `POST /v1/auth/signup` is open to the public.
    pub signup_enabled: bool,
    /// Every user must pass a second factor (and enroll one at sign-in if they have none).
    pub mfa_required: bool,
    /// The factor kinds users may enroll and use.
    pub mfa_allowed_factors: Vec<FactorKind>,
    /// TOTP steps accepted either side of now: 1 (RFC 6238's recommendation) or 0.
    pub totp_window: u8,
    /// Failed second-factor attempts per factor before waits begin (at most 100).
    pub mfa_max_attempts: u32,
    /// How long a sign-in challenge stays open (seconds).
    pub challenge_ttl_secs: u64,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 86_400,
            signup_enabled: true,
            mfa_required: false,
            mfa_allowed_factors: vec![FactorKind::Totp, FactorKind::BackupCodes],
            totp_window: 1,
            mfa_max_attempts: 5,
            challenge_ttl_secs: 300,
        }
    }
}

impl TenantSettings {
    /// Every problem with these settings, as `(field, message)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let in_range = |v: u64, (lo, hi): (u64, u64)| v >= lo && v <= hi;
        if !in_range(self.access_token_ttl_secs, ACCESS_TTL_RANGE) {
            out.push(("access_token_ttl", "must be between 1m and 24h".to_string()));
        }
        if !in_range(self.refresh_token_ttl_secs, REFRESH_TTL_RANGE) {
            out.push(("refresh_token_ttl", "must be between 1h and 365d".to_string()));
        }
        if self.refresh_token_ttl_secs < self.access_token_ttl_secs {
            out.push((
                "refresh_token_ttl",
                "must not be shorter than access_token_ttl".to_string(),
            ));
        }
        if self.totp_window > 1 {
            out.push((
                "totp_window",
                "must be 0 or 1 (RFC 6238 allows one step of drift)".to_string(),
            ));
        }
        if self.mfa_max_attempts == 0 || self.mfa_max_attempts > MAX_MFA_ATTEMPTS {
            out.push((
                "mfa_max_attempts",
                format!("must be between 1 and {MAX_MFA_ATTEMPTS}"),
            ));
        }
        if !in_range(self.challenge_ttl_secs, CHALLENGE_TTL_RANGE) {
            out.push(("challenge_ttl", "must be between 1m and 10m".to_string()));
        }
        if self.mfa_required && !self.mfa_allowed_factors.iter().any(|k| k.enrollable()) {
            out.push((
                "mfa_allowed_factors",
                "must allow a factor users can enroll when MFA is required".to_string(),
            ));
        }
        out
    }

    pub fn allows(&self, kind: FactorKind) -> bool {
        self.mfa_allowed_factors.contains(&kind)
    }

    /// Second-factor throttling: `mfa_max_attempts` tries, then waits of 30 s doubling up
    /// to an hour (NIST SP 800-63B rev3 §5.2.2's "30 seconds up to an hour"), forgotten
    /// after a day without failures.
    pub fn factor_throttle(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            free_attempts: self.mfa_max_attempts.clamp(1, MAX_MFA_ATTEMPTS),
            base_delay_secs: 30,
            max_delay_secs: 3600,
            reset_after_secs: 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_old_rows_read_back() {
        assert!(TenantSettings::default().problems().is_empty());
        let old: TenantSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(old, TenantSettings::default());
        let bad = TenantSettings {
            access_token_ttl_secs: 5,
            ..Default::default()
        };
        assert_eq!(bad.problems().len(), 1);
    }
}
