//! Per-tenant settings: what `GET/PATCH /v1/admin/config` shows and changes. Stored as JSON
//! with every field defaulted, so a setting added later needs no migration and old rows
//! read back with the new default.

use serde::{Deserialize, Serialize};

pub const ACCESS_TTL_RANGE: (u64, u64) = (60, 86_400);
pub const REFRESH_TTL_RANGE: (u64, u64) = (3_600, 365 * 86_400);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Lifetime of access tokens (seconds). Default 15 minutes.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh-token family from sign-in (seconds). Default 30 days.
    pub refresh_token_ttl_secs: u64,
    /// Whether `POST /v1/auth/signup` is open to the public.
    pub signup_enabled: bool,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 86_400,
            signup_enabled: true,
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
            out.push((
                "refresh_token_ttl",
                "must be between 1h and 365d".to_string(),
            ));
        }
        if self.refresh_token_ttl_secs < self.access_token_ttl_secs {
            out.push((
                "refresh_token_ttl",
                "must not be shorter than access_token_ttl".to_string(),
            ));
        }
        out
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
