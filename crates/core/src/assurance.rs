//! How a user authenticated, in the vocabularies relying parties read: authentication method
//! references (`amr`, RFC 8176) and the assurance level reached (`acr`, NIST SP 800-63B AAL).
//! Closed enums, so a token can only carry values Latchkey defines; they travel as their
//! string forms in tokens and in stored sessions.

use serde::{Deserialize, Serialize};

/// An authentication method reference (RFC 8176 §2, and Latchkey's own where the registry
/// has none, as §6.1 allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password (TOTP).
    Otp,
    /// A code sent by SMS.
    Sms,
    /// A code sent by email (not registered by RFC 8176).
    Email,
    /// A recovery code (not registered by RFC 8176).
    BackupCode,
    /// More than one factor was used.
    Mfa,
    /// Proof of possession of a hardware-secured key (a device-bound WebAuthn credential).
    Hwk,
    /// Proof of possession of a software-secured key (a synced passkey, whose key can be
    /// copied between a user's devices).
    Swk,
    /// The authenticator verified its user (PIN or biometric: WebAuthn's UV flag does not
    /// say which, so neither `pin` nor `fpt` is claimed).
    User,
}

impl Amr {
    pub const ALL: [Amr; 9] = [
        Amr::Pwd,
        Amr::Otp,
        Amr::Sms,
        Amr::Email,
        Amr::BackupCode,
        Amr::Mfa,
        Amr::Hwk,
        Amr::Swk,
        Amr::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Sms => "sms",
            Amr::Email => "email",
            Amr::BackupCode => "backup_code",
            Amr::Mfa => "mfa",
            Amr::Hwk => "hwk",
            Amr::Swk => "swk",
            Amr::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The authenticator assurance level a sign-in reached (NIST SP 800-63B §4; `acr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aal {
    /// One factor (a password), or a password and an email code (email is not an
    /// out-of-band authenticator, NIST SP 800-63B-4 §3.1.3.1).
    Aal1,
    /// A password and a possession factor.
    Aal2,
    /// Multi-factor and phishing resistant: a WebAuthn credential with user verification
    /// (alone, as a passkey, or after a password). Origin-bound keys are the verifier
    /// impersonation resistance NIST SP 800-63B-4 §3.2.5 asks for.
    Aal2Phr,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
            Aal::Aal2Phr => "aal2_phr",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Aal::Aal1, Aal::Aal2, Aal::Aal2Phr]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What one verification proved: the methods it adds and the level a password plus it
/// reaches. A kind's module says this per verification (a passkey with user verification
/// will say more than one without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub amr: Vec<Amr>,
    pub aal: Aal,
}

/// The `amr` strings of a list of methods.
pub fn amr_strings(amr: &[Amr]) -> Vec<String> {
    amr.iter().map(|a| a.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Amr::ALL {
            assert_eq!(Amr::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for l in [Aal::Aal1, Aal::Aal2, Aal::Aal2Phr] {
            assert_eq!(Aal::parse(l.as_str()), Some(l));
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        }
        assert!(Aal::Aal2 > Aal::Aal1);
        assert!(Aal::Aal2Phr > Aal::Aal2);
    }
}
