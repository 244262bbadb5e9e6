//! Input a use case refuses, one variant a reason. Each has a stable code (`code()`, the
//! API's `error.code`) and its message (`Display`); the parse errors of the core's domain
//! types are kept as they are, so their messages are the core's.

use super::ErrorCode;
use latchkey_core::application::RedirectUriError;
use latchkey_core::email::InvalidEmail;
use latchkey_core::ids::InvalidId;
use latchkey_core::password::PasswordError;
use latchkey_core::phone::PhoneError;
use serde_json::Value;

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
    TenantAddress(#[from] latchkey_core::issuer::AddressError),
    #[error("that slug or host belongs to another tenant")]
    TenantAddressTaken,
    #[error("the default tenant's issuer is the public URL: it takes no slug or host")]
    DefaultTenantAddress,
    #[error("host must differ from the public URL's host, which is the default tenant's")]
    PublicHost,
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
    #[error(
        "name must be 1 to 100 characters, without control, invisible or bidirectional-control characters"
    )]
    ApplicationName,
    /// A redirect URI (or post-logout redirect URI) refused: which list, which entry, why.
    /// The URI itself is not repeated: errors never echo what was sent.
    #[error("{field}[{index}] {reason}")]
    RedirectUri {
        field: &'static str,
        index: usize,
        reason: RedirectUriError,
    },
    #[error("grant_types: {0}")]
    GrantTypes(String),
    /// Everything else wrong with an application, as `(field, message)` pairs.
    #[error("invalid application: {}", .0.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; "))]
    Application(Vec<(String, String)>),
    /// What is wrong with an MFA rule (`invalid_rule`), an organization's or role's name
    /// (`invalid_name`) or a role's assignment (`invalid_assignment`), as `(field, message)`.
    #[error("{}", .problems.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; "))]
    Policy {
        code: PolicyInput,
        problems: Vec<(String, String)>,
    },
}

/// Which part of the MFA policy's input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyInput {
    Rule,
    Name,
    Assignment,
}

impl InputError {
    /// A refusal of the MFA policy's input.
    pub fn policy(code: PolicyInput, problems: Vec<(String, String)>) -> Self {
        InputError::Policy { code, problems }
    }
}

impl InputError {
    /// The stable snake_case code of this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            InputError::Email(_) => ErrorCode::InvalidEmail,
            InputError::Password(_) => ErrorCode::InvalidPassword,
            InputError::PhoneNumber(_) | InputError::PhoneNumberMissing => ErrorCode::InvalidPhoneNumber,
            InputError::PhoneNumberNotForKind => ErrorCode::InvalidRequest,
            InputError::UserName | InputError::FactorName | InputError::TenantName => ErrorCode::InvalidName,
            InputError::KeyId(_) => ErrorCode::InvalidKeyId,
            InputError::TenantAddress(_)
            | InputError::TenantAddressTaken
            | InputError::DefaultTenantAddress
            | InputError::PublicHost => ErrorCode::InvalidTenantAddress,
            InputError::CredentialRequired | InputError::CodeRequired | InputError::AnswerMissing => {
                ErrorCode::InvalidRequest
            }
            InputError::CredentialFormat => ErrorCode::InvalidCredentialFormat,
            InputError::AttestationRoot => ErrorCode::InvalidSettings,
            InputError::ApplicationName => ErrorCode::InvalidName,
            InputError::RedirectUri { .. } => ErrorCode::InvalidRedirectUri,
            InputError::GrantTypes(_) => ErrorCode::InvalidGrantTypes,
            InputError::Application(_) => ErrorCode::InvalidApplication,
            InputError::Policy { code, .. } => match code {
                PolicyInput::Rule => ErrorCode::InvalidRule,
                PolicyInput::Name => ErrorCode::InvalidName,
                PolicyInput::Assignment => ErrorCode::InvalidAssignment,
            },
        }
    }

    /// Named values beside the code and message that a client may act on.
    pub fn details(&self) -> Vec<(&'static str, Value)> {
        match self {
            InputError::RedirectUri { field, index, reason } => vec![
                ("field", (*field).into()),
                ("index", (*index).into()),
                ("reason", reason.code().into()),
            ],
            InputError::Application(problems) | InputError::Policy { problems, .. } => {
                let list: Vec<Value> = problems
                    .iter()
                    .map(|(field, message)| serde_json::json!({ "field": field, "message": message }))
                    .collect();
                vec![("problems", list.into())]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_the_apis() {
        assert_eq!(
            InputError::PhoneNumberNotForKind.code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            InputError::TenantName.to_string(),
            "tenant name must be 1 to 200 characters"
        );
        let uri = InputError::RedirectUri {
            field: "redirect_uris",
            index: 2,
            reason: RedirectUriError::Fragment,
        };
        assert_eq!(uri.code(), ErrorCode::InvalidRedirectUri);
        assert_eq!(
            uri.to_string(),
            "redirect_uris[2] must not contain a fragment (#…)"
        );
        assert_eq!(uri.details()[2], ("reason", Value::from("fragment")));
        let app = InputError::Application(vec![("type".into(), "must be public or confidential".into())]);
        assert_eq!(
            app.to_string(),
            "invalid application: type must be public or confidential"
        );
        let email = latchkey_core::email::Email::parse("nope").unwrap_err();
        assert_eq!(InputError::from(email.clone()).to_string(), email.to_string());
    }
}
