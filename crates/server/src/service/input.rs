//! Input a use case refuses, one variant a reason. Each has a stable code (`code()`, the
//! API's `error.code`) and its message (`Display`); the parse errors of the core's domain
//! types are kept as they are, so their messages are the core's.

use latchkey_core::email::InvalidEmail;
use latchkey_core::ids::InvalidId;
use latchkey_core::password::PasswordError;
use latchkey_core::phone::PhoneError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Email(#[from] InvalidEmail),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    PhoneNumber(#[from] PhoneError),
    #[error("phone_number is required for an sms factor")]
    PhoneNumberMissing,
    #[error("phone_number applies to sms factors only")]
    PhoneNumberNotForKind,
    #[error(
        "name must be at most 200 characters, without control, invisible or bidirectional-control characters"
    )]
    UserName,
    #[error(
        "name must be 1 to 100 characters, without control, invisible or bidirectional-control characters"
    )]
    FactorName,
    #[error("tenant name must be 1 to 200 characters")]
    TenantName,
    #[error(transparent)]
    KeyId(#[from] InvalidId),
    #[error("credential is required: this factor answers with a WebAuthn response")]
    CredentialRequired,
    #[error("code is required: this factor answers with a code")]
    CodeRequired,
    #[error("give either code or credential, not both")]
    AnswerMissing,
    #[error(
        "credential is not a WebAuthn response (RegistrationResponseJSON or AuthenticationResponseJSON)"
    )]
    CredentialFormat,
    #[error("webauthn.attestation_ca_pems holds a certificate that cannot be read")]
    AttestationRoot,
}

impl InputError {
    /// The stable snake_case code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Email(_) => "invalid_email",
            InputError::Password(_) => "invalid_password",
            InputError::PhoneNumber(_) | InputError::PhoneNumberMissing => "invalid_phone_number",
            InputError::PhoneNumberNotForKind => "invalid_request",
            InputError::UserName | InputError::FactorName | InputError::TenantName => "invalid_name",
            InputError::KeyId(_) => "invalid_key_id",
            InputError::CredentialRequired | InputError::CodeRequired | InputError::AnswerMissing => {
                "invalid_request"
            }
            InputError::CredentialFormat => "invalid_credential_format",
            InputError::AttestationRoot => "invalid_settings",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_the_apis() {
        assert_eq!(InputError::PhoneNumberNotForKind.code(), "invalid_request");
        assert_eq!(
            InputError::TenantName.to_string(),
            "tenant name must be 1 to 200 characters"
        );
        let email = latchkey_core::email::Email::parse("nope").unwrap_err();
        assert_eq!(InputError::from(email.clone()).to_string(), email.to_string());
    }
}
