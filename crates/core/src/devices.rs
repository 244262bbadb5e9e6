//! Remembered devices: after a second factor, a browser or app may be given a device token
//! that stands in for the second factor at later password sign-ins of the same user, for a
//! number of days (nauth-toolkit's `rememberDevices`, Auth0's "remember this browser").
//!
//! What a remembered device may do is decided here, without I/O:
//! - only a password sign-in, never a step-up (a session it opens has its second factor
//!   dated from when the device was remembered, so freshness checks are not met);
//! - never when the policy (or the application) asks for phishing resistance: the token is a
//!   bearer secret, which is not phishing resistant whatever factor it was earned with;
//! - never when adaptive risk asks for a second factor;
//! - never past its expiry, and never after it was revoked (password change, factor removal,
//!   a backup code used to sign in, an admin reset, or by the user or an admin).

use crate::assurance::Aal;
use crate::policy::engine::MinAssurance;
use serde::{Deserialize, Serialize};

/// The longest a device may be remembered.
pub const MAX_DAYS: u16 = 365;
/// How long, unless the tenant says otherwise.
pub const DEFAULT_DAYS: u16 = 30;
/// The prefix of a device token (the secret) and of a device's public id.
pub const TOKEN_PREFIX: &str = "dvt_";
/// The longest device token accepted (a longer one is not looked up).
pub const MAX_TOKEN_LEN: usize = 100;
/// A device's name (its user agent, as sent) is cut to this many characters.
pub const MAX_NAME_CHARS: usize = 120;

/// A presented device token worth looking up: our prefix, not absurdly long.
pub fn well_formed(token: Option<&str>) -> Option<&str> {
    token.filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() <= MAX_TOKEN_LEN)
}

/// When a device is remembered, as nauth-toolkit names the modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RememberMode {
    /// Never: every sign-in of a user with MFA asks for the second factor.
    Never,
    /// When the user asks (`remember_device: true`, the checkbox on the hosted MFA screen).
    #[default]
    UserOptIn,
    /// After every successful second factor.
    Always,
}

impl RememberMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RememberMode::Never => "never",
            RememberMode::UserOptIn => "user_opt_in",
            RememberMode::Always => "always",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RememberMode::Never, RememberMode::UserOptIn, RememberMode::Always]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    /// How often devices are remembered: a higher rank skips the second factor more.
    pub fn rank(self) -> u8 {
        match self {
            RememberMode::Never => 0,
            RememberMode::UserOptIn => 1,
            RememberMode::Always => 2,
        }
    }

    /// Whether a verification that asked (`asked`) or did not ask to be remembered is.
    pub fn remembers(self, asked: bool) -> bool {
        match self {
            RememberMode::Never => false,
            RememberMode::UserOptIn => asked,
            RememberMode::Always => true,
        }
    }
}

/// A tenant's remembered-device settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RememberSettings {
    pub mode: RememberMode,
    /// 1 to [`MAX_DAYS`].
    pub days: u16,
}

impl Default for RememberSettings {
    fn default() -> Self {
        Self {
            mode: RememberMode::default(),
            days: DEFAULT_DAYS,
        }
    }
}

impl RememberSettings {
    /// How long (ms) a device remembered now stays remembered.
    pub fn lifetime_ms(&self) -> i64 {
        i64::from(self.days.clamp(1, MAX_DAYS)) * 86_400_000
    }
}

/// What a sign-in asks of its second factor, beyond the user's own policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInAsks {
    /// The policy's minimum assurance for this user (and application).
    pub min_assurance: MinAssurance,
    /// What the application asked for (`acr_values`), if anything.
    pub application: Option<Aal>,
    /// Adaptive risk asks for a second factor at this sign-in.
    pub risky: bool,
}

/// Why a remembered device does not stand in for the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAccepted {
    /// The policy or the application asks for a phishing-resistant factor.
    PhishingResistanceAsked,
    /// Adaptive risk asks for a second factor now.
    Risk,
    /// The device was remembered after a verification weaker than a second factor.
    Weak,
}

/// Whether a live remembered device, remembered after a verification that reached
/// `remembered_at`, may stand in for the second factor of a password sign-in that asks
/// `asks`. The caller has already found the device live (not expired, not revoked) and the
/// user's.
pub fn stands_in(remembered_at: Aal, asks: &SignInAsks) -> Result<(), NotAccepted> {
    if asks.risky {
        return Err(NotAccepted::Risk);
    }
    if asks.min_assurance == MinAssurance::PhishingResistant || asks.application == Some(Aal::Aal2Phr) {
        return Err(NotAccepted::PhishingResistanceAsked);
    }
    if remembered_at < Aal::Aal2 {
        return Err(NotAccepted::Weak);
    }
    Ok(())
}

/// The assurance a session opened by a remembered device claims: `aal2`, never more (the
/// token is a bearer secret).
pub const SESSION_AAL: Aal = Aal::Aal2;

/// A device's name from its user agent: printable, single-line, at most
/// [`MAX_NAME_CHARS`] characters; `None` when nothing usable is left.
pub fn device_name(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?;
    let cleaned: String = ua
        .chars()
        .filter(|c| !crate::text::is_forbidden(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(min: MinAssurance, app: Option<Aal>, risky: bool) -> SignInAsks {
        SignInAsks {
            min_assurance: min,
            application: app,
            risky,
        }
    }

    #[test]
    fn a_device_stands_in_only_where_nothing_more_is_asked() {
        use MinAssurance::*;
        use NotAccepted::*;
        let table: &[(Aal, SignInAsks, Result<(), NotAccepted>)] = &[
            (Aal::Aal2, asks(Aal2, None, false), Ok(())),
            (Aal::Aal2, asks(Aal2, Some(Aal::Aal2), false), Ok(())),
            (Aal::Aal2Phr, asks(Aal2, Some(Aal::Aal2), false), Ok(())),
            // A device remembered after an SMS code does not satisfy a phishing-resistant
            // rule, and neither does one remembered after a passkey: the token is a bearer
            // secret.
            (
                Aal::Aal2,
                asks(PhishingResistant, None, false),
                Err(PhishingResistanceAsked),
            ),
            (
                Aal::Aal2Phr,
                asks(PhishingResistant, None, false),
                Err(PhishingResistanceAsked),
            ),
            (
                Aal::Aal2Phr,
                asks(Aal2, Some(Aal::Aal2Phr), false),
                Err(PhishingResistanceAsked),
            ),
            // Adaptive risk wins over everything.
            (Aal::Aal2Phr, asks(Aal2, None, true), Err(Risk)),
            // An email code is not a second factor of aal2.
            (Aal::Aal1, asks(Aal2, None, false), Err(Weak)),
        ];
        for (at, a, want) in table {
            assert_eq!(stands_in(*at, a), *want, "{at:?} {a:?}");
        }
    }

    #[test]
    fn modes_parse_and_decide() {
        for m in [RememberMode::Never, RememberMode::UserOptIn, RememberMode::Always] {
            assert_eq!(RememberMode::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert!(!RememberMode::Never.remembers(true));
        assert!(!RememberMode::UserOptIn.remembers(false));
        assert!(RememberMode::UserOptIn.remembers(true));
        assert!(RememberMode::Always.remembers(false));
        assert_eq!(RememberSettings::default().days, 30);
        assert_eq!(RememberSettings::default().mode, RememberMode::UserOptIn);
        let long = RememberSettings {
            mode: RememberMode::Always,
            days: 9999,
        };
        assert_eq!(long.lifetime_ms(), 365 * 86_400_000);
    }

    #[test]
    fn device_names_are_printable_and_short() {
        assert_eq!(device_name(None), None);
        assert_eq!(device_name(Some("  \u{202e}\n ")), None);
        assert_eq!(
            device_name(Some("Mozilla/5.0 (X11; Linux)\u{202e}\r\nx")).as_deref(),
            Some("Mozilla/5.0 (X11; Linux)x")
        );
        assert_eq!(
            device_name(Some(&"a".repeat(500))).unwrap().chars().count(),
            MAX_NAME_CHARS
        );
    }
}
