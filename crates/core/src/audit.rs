//! The audit log's vocabulary: one closed enum of actions and one of outcomes. This is the
//! event catalogue: the audit log records them today, and webhooks and metrics will fan out
//! from the same values. The string forms are stable: they are stored and shown by the admin
//! API, and they are the `type` of a webhook's event (docs/events.md).

/// Something that happened to a user's factors or sign-in, or to the tenant's applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// An enrollment started (a factor is pending).
    FactorEnroll,
    /// A pending factor was confirmed (or its confirmation failed).
    FactorConfirm,
    /// An admin created a factor already confirmed.
    FactorCreateConfirmed,
    /// A factor was removed.
    FactorDelete,
    /// A second factor was verified at sign-in (or failed).
    MfaVerify,
    /// An attempt met a locked factor.
    MfaAttempt,
    /// A backup code was used at sign-in.
    BackupCodeUse,
    /// The backup codes were replaced.
    BackupCodesRegenerate,
    /// An admin removed every factor of a user.
    MfaReset,
    /// A code was queued for sending, or refused.
    CodeSend,
    /// A passkey signed a user in without a password (or failed to).
    PasskeySignIn,
    /// A WebAuthn credential's signature counter went backwards: possibly a cloned
    /// authenticator. The credential is refused until it is removed.
    WebauthnCloneSuspected,
    /// An application (OAuth 2.0 / OpenID Connect client) was registered.
    ApplicationCreated,
    /// An application's registration was changed.
    ApplicationUpdated,
    /// An application was removed.
    ApplicationDeleted,
    /// A confidential application was given a new secret (the old one stops working).
    ApplicationSecretRotated,
    /// A forgotten password was replaced through an emailed link or code (or the attempt
    /// failed); every session of the user ended.
    PasswordReset,
    /// An email address was proven through an emailed link or code.
    EmailVerify,
    /// An OAuth 2.0 authorization code was presented a second time: the tokens its first
    /// redemption issued are revoked (RFC 6749 §4.1.2). A stolen code, or a broken client.
    AuthorizationCodeReplayed,
    /// An MFA rule of an organization, role, application or user was set or removed; a
    /// user's exemption is one (its detail says until when and why).
    MfaRuleChanged,
    /// A password sign-in: accepted (the detail says what follows: `complete`,
    /// `mfa_challenge` or `mfa_enroll`), failed (wrong email or password), or refused
    /// (throttled, or by adaptive MFA: `risk_denied`, `risk_no_factor`). With adaptive MFA
    /// on, the detail ends with the risk: `risk=60 reasons=new_device,new_country`. The
    /// user is named when the email matched one.
    SignIn,
    /// A second factor was asked for at sign-in: a challenge was issued (outcome
    /// `pending`; the detail says whether it proves a factor or enrolls one).
    MfaChallenge,
    /// The tenant's settings (its MFA policy among them) were changed by an admin; the
    /// detail names the fields.
    TenantSettingsChanged,
    /// The tenant's SMS or email provider was set or cleared; the detail says which
    /// (`sms set`, `email cleared`). Never the credentials.
    ProviderChanged,
    /// An SMS was refused by the destination policy before anything was sent: a country
    /// outside the allow-list or a risky number class (the detail names the rule). Send
    /// limits and cooldowns refuse as `code.send` with outcome `refused`.
    SmsRefused,
    /// A webhook endpoint was registered, changed, given a new secret or removed (the
    /// detail says which and names the endpoint).
    WebhookChanged,
    /// A device was remembered after a second factor: it may stand in for the second
    /// factor at the user's later password sign-ins (the detail names the device).
    DeviceRemembered,
    /// Remembered devices were forgotten by the user or an admin (the detail says which:
    /// one device's id, or `all`). Devices forgotten because the password changed, a
    /// factor was removed, a backup code signed in or an admin reset MFA go with that
    /// event.
    DeviceRevoked,
    /// A user's preferred factor was set: the one a sign-in that sends a code by itself
    /// (nauth-style login) sends it to (the detail names the factor's kind).
    FactorPreferred,
    /// An administrator made an enrollment ticket for a user (the detail: its id, the kind
    /// it asks for, whether it was emailed; never its link).
    EnrollmentTicketCreated,
    /// A sign-in spent an enrollment ticket (the detail: its id).
    EnrollmentTicketUsed,
}

impl AuditAction {
    pub const ALL: [AuditAction; 31] = [
        AuditAction::FactorEnroll,
        AuditAction::FactorConfirm,
        AuditAction::FactorCreateConfirmed,
        AuditAction::FactorDelete,
        AuditAction::MfaVerify,
        AuditAction::MfaAttempt,
        AuditAction::BackupCodeUse,
        AuditAction::BackupCodesRegenerate,
        AuditAction::MfaReset,
        AuditAction::CodeSend,
        AuditAction::PasskeySignIn,
        AuditAction::WebauthnCloneSuspected,
        AuditAction::ApplicationCreated,
        AuditAction::ApplicationUpdated,
        AuditAction::ApplicationDeleted,
        AuditAction::ApplicationSecretRotated,
        AuditAction::PasswordReset,
        AuditAction::EmailVerify,
        AuditAction::AuthorizationCodeReplayed,
        AuditAction::MfaRuleChanged,
        AuditAction::SignIn,
        AuditAction::MfaChallenge,
        AuditAction::TenantSettingsChanged,
        AuditAction::ProviderChanged,
        AuditAction::SmsRefused,
        AuditAction::WebhookChanged,
        AuditAction::DeviceRemembered,
        AuditAction::DeviceRevoked,
        AuditAction::FactorPreferred,
        AuditAction::EnrollmentTicketCreated,
        AuditAction::EnrollmentTicketUsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::FactorEnroll => "factor.enroll",
            AuditAction::FactorConfirm => "factor.confirm",
            AuditAction::FactorCreateConfirmed => "factor.create_confirmed",
            AuditAction::FactorDelete => "factor.delete",
            AuditAction::MfaVerify => "mfa.verify",
            AuditAction::MfaAttempt => "mfa.attempt",
            AuditAction::BackupCodeUse => "backup_code.use",
            AuditAction::BackupCodesRegenerate => "backup_codes.regenerate",
            AuditAction::MfaReset => "mfa.reset",
            AuditAction::CodeSend => "code.send",
            AuditAction::PasskeySignIn => "passkey.signin",
            AuditAction::WebauthnCloneSuspected => "webauthn.clone_suspected",
            AuditAction::ApplicationCreated => "application.created",
            AuditAction::ApplicationUpdated => "application.updated",
            AuditAction::ApplicationDeleted => "application.deleted",
            AuditAction::ApplicationSecretRotated => "application.secret_rotated",
            AuditAction::PasswordReset => "password.reset",
            AuditAction::EmailVerify => "email.verify",
            AuditAction::AuthorizationCodeReplayed => "authorization.code_replayed",
            AuditAction::MfaRuleChanged => "mfa_rule.changed",
            AuditAction::SignIn => "signin",
            AuditAction::MfaChallenge => "mfa.challenge",
            AuditAction::TenantSettingsChanged => "tenant.settings_changed",
            AuditAction::ProviderChanged => "provider.changed",
            AuditAction::SmsRefused => "sms.refused",
            AuditAction::WebhookChanged => "webhook.changed",
            AuditAction::DeviceRemembered => "device.remembered",
            AuditAction::DeviceRevoked => "device.revoked",
            AuditAction::FactorPreferred => "factor.preferred",
            AuditAction::EnrollmentTicketCreated => "enrollment_ticket.created",
            AuditAction::EnrollmentTicketUsed => "enrollment_ticket.used",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Success,
    Failure,
    /// Refused without trying: a locked factor.
    Locked,
    /// Started, awaiting confirmation.
    Pending,
    /// Accepted for delivery.
    Queued,
    /// Refused by a rule (a send limit, a stale challenge, a step-up).
    Refused,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 6] = [
        AuditOutcome::Success,
        AuditOutcome::Failure,
        AuditOutcome::Locked,
        AuditOutcome::Pending,
        AuditOutcome::Queued,
        AuditOutcome::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Locked => "locked",
            AuditOutcome::Pending => "pending",
            AuditOutcome::Queued => "queued",
            AuditOutcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a:?}");
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        for o in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(o.as_str()), Some(o));
        }
    }
}
