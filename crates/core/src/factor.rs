//! MFA factor kinds and their lifecycle. The kind is a closed enum matched exhaustively
//! everywhere, so a new kind (SMS, email OTP, WebAuthn) is a compile error until every
//! place handles it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A time-based one-time password from an authenticator app (RFC 6238).
    Totp,
    /// Single-use recovery codes, installed with the first factor.
    BackupCodes,
}

impl FactorKind {
    pub const ALL: [FactorKind; 2] = [FactorKind::Totp, FactorKind::BackupCodes];

    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::BackupCodes => "backup_codes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `amr` value (RFC 8176) a verification with this kind adds. Backup codes have no
    /// registered value; `backup_code` is ours (RFC 8176 §6.1 leaves room for that).
    pub fn amr(self) -> &'static str {
        match self {
            FactorKind::Totp => "otp",
            FactorKind::BackupCodes => "backup_code",
        }
    }

    /// Whether a user enrolls this kind directly. Backup codes come with the first factor.
    pub fn enrollable(self) -> bool {
        match self {
            FactorKind::Totp => true,
            FactorKind::BackupCodes => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorStatus {
    /// Enrollment started; inert until confirmed with a code from the new secret.
    Pending,
    Active,
}

impl FactorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorStatus::Pending => "pending",
            FactorStatus::Active => "active",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(FactorStatus::Pending),
            "active" => Some(FactorStatus::Active),
            _ => None,
        }
    }
}

/// What a sign-in challenge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// The user has factors: prove one.
    SignIn,
    /// MFA is required and the user has none: enroll one, then sign in with it.
    Enroll,
}

impl ChallengePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::SignIn => "signin",
            ChallengePurpose::Enroll => "enroll",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signin" => Some(ChallengePurpose::SignIn),
            "enroll" => Some(ChallengePurpose::Enroll),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in FactorKind::ALL {
            assert_eq!(FactorKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(FactorKind::parse("sms"), None);
    }
}
