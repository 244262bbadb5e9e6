//! MFA factor kinds and their lifecycle. The kind is a closed enum matched exhaustively
//! everywhere, so a new kind (SMS, email OTP, WebAuthn) is a compile error until every
//! place handles it.

use crate::assurance::{Aal, Amr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A time-based one-time password from an authenticator app (RFC 6238).
    Totp,
    /// Single-use recovery codes, installed with the first factor.
    BackupCodes,
    /// A one-time code sent by SMS to a verified number (a restricted authenticator, NIST
    /// SP 800-63B-4 §3.1.3.3).
    Sms,
    /// A one-time code sent to the account's email (weakest: NIST forbids email as an
    /// out-of-band authenticator, so it never yields AAL2).
    EmailOtp,
    /// A WebAuthn credential: a passkey or a security key (public-key, origin-bound, so
    /// phishing resistant).
    Webauthn,
}

impl FactorKind {
    pub const ALL: [FactorKind; 5] = [
        FactorKind::Totp,
        FactorKind::BackupCodes,
        FactorKind::Sms,
        FactorKind::EmailOtp,
        FactorKind::Webauthn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::BackupCodes => "backup_codes",
            FactorKind::Sms => "sms",
            FactorKind::EmailOtp => "email_otp",
            FactorKind::Webauthn => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `amr` value (RFC 8176) a verification with this kind adds. Backup codes have no
    /// registered value; `backup_code` is ours (RFC 8176 §6.1 leaves room for that). A
    /// WebAuthn credential says more per verification (`hwk` or `swk`, `user` when the
    /// authenticator verified the user): its module reports that; this is the least it is.
    pub fn amr(self) -> Amr {
        match self {
            FactorKind::Totp => Amr::Otp,
            FactorKind::BackupCodes => Amr::BackupCode,
            FactorKind::Sms => Amr::Sms,
            FactorKind::EmailOtp => Amr::Email,
            FactorKind::Webauthn => Amr::Swk,
        }
    }

    /// The assurance level a password plus this factor reaches. SMS is restricted but
    /// allowed at AAL2 (NIST SP 800-63B-4 §3.1.3.3); email is not an out-of-band
    /// authenticator at all (§3.1.3.1), so it stays at AAL1 (Latchkey's decision, SECURITY.md §1.9).
    pub fn acr_with_password(self) -> Aal {
        match self {
            FactorKind::Totp | FactorKind::BackupCodes | FactorKind::Sms | FactorKind::Webauthn => Aal::Aal2,
            FactorKind::EmailOtp => Aal::Aal1,
        }
    }

    /// Whether codes for this kind are sent to the user (and so need a delivery channel).
    pub fn channel(self) -> Option<Channel> {
        match self {
            FactorKind::Totp | FactorKind::BackupCodes | FactorKind::Webauthn => None,
            FactorKind::Sms => Some(Channel::Sms),
            FactorKind::EmailOtp => Some(Channel::Email),
        }
    }

    /// What enrollment tells the user about the factor's strength, if anything.
    pub fn notice(self) -> Option<&'static str> {
        match self {
            FactorKind::Totp | FactorKind::BackupCodes | FactorKind::Webauthn => None,
            FactorKind::Sms => Some(
                "SMS codes can be intercepted (SIM swap, number porting); prefer an authenticator app where you can.",
            ),
            FactorKind::EmailOtp => Some(
                "Email codes are the weakest second factor: anyone with access to the mailbox can use them. Prefer an authenticator app.",
            ),
        }
    }
}

/// How a code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

impl FactorKind {
    /// Whether this kind only recovers access beside a real factor (backup codes): alone it
    /// is no second factor.
    pub fn is_recovery(self) -> bool {
        match self {
            FactorKind::BackupCodes => true,
            FactorKind::Totp | FactorKind::Sms | FactorKind::EmailOtp | FactorKind::Webauthn => false,
        }
    }

    /// Whether a user enrolls this kind directly. Backup codes come with the first factor.
    pub fn enrollable(self) -> bool {
        match self {
            FactorKind::Totp | FactorKind::Sms | FactorKind::EmailOtp | FactorKind::Webauthn => true,
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
        assert_eq!(FactorKind::parse("sms"), Some(FactorKind::Sms));
        assert_eq!(FactorKind::parse("email"), None);
    }
}
