//! OpenID Connect and OAuth 2.0 vocabulary shared by the provider's layers: the kinds of
//! client (RFC 6749 §2.1), the grants an application may use, and the algorithms an ID
//! token may be signed with. The rules that use them live beside them (redirect URIs,
//! scopes) or in the service; the wire names are the registered ones.

use serde::{Deserialize, Serialize};

/// RFC 6749 §2.1: whether a client can keep a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// A single-page app or a native app: no secret, PKCE required.
    Public,
    /// A server-side app: authenticates with its secret (`client_secret_basic` or
    /// `client_secret_post`).
    Confidential,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Public => "public",
            ClientType::Confidential => "confidential",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(ClientType::Public),
            "confidential" => Some(ClientType::Confidential),
            _ => None,
        }
    }
}

/// The grants an application may use at the token endpoint (RFC 6749 §4, §6), and the
/// Auth0 extensions its MFA API is built on (the resource-owner password grant, with a
/// realm, and the grants that answer an `mfa_required`), stored and spoken by their
/// registered names ([`GrantType::as_str`]; Auth0's are URIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    /// Machine clients: a token for the application itself. Confidential clients only.
    ClientCredentials,
    /// RFC 6749 §4.3: the application collects the user's password. Never on by default
    /// (the OAuth 2.0 Security BCP, RFC 9700 §2.4, advises against it); for applications
    /// written against Auth0's MFA API.
    Password,
    /// Auth0's `password-realm`: the password grant naming the user database.
    #[serde(rename = "http://auth0.com/oauth/grant-type/password-realm")]
    PasswordRealm,
    /// Auth0's MFA API: answer `mfa_required` with an authenticator app's code...
    #[serde(rename = "http://auth0.com/oauth/grant-type/mfa-otp")]
    MfaOtp,
    /// ...with a code sent by text message or email (`oob_code` + `binding_code`)...
    #[serde(rename = "http://auth0.com/oauth/grant-type/mfa-oob")]
    MfaOob,
    /// ...or with a recovery (backup) code.
    #[serde(rename = "http://auth0.com/oauth/grant-type/mfa-recovery-code")]
    MfaRecoveryCode,
}

impl GrantType {
    pub const ALL: [GrantType; 8] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::PasswordRealm,
        GrantType::MfaOtp,
        GrantType::MfaOob,
        GrantType::MfaRecoveryCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::PasswordRealm => "http://auth0.com/oauth/grant-type/password-realm",
            GrantType::MfaOtp => "http://auth0.com/oauth/grant-type/mfa-otp",
            GrantType::MfaOob => "http://auth0.com/oauth/grant-type/mfa-oob",
            GrantType::MfaRecoveryCode => "http://auth0.com/oauth/grant-type/mfa-recovery-code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// A grant by which a user signs in with a password at the token endpoint.
    pub fn is_password(self) -> bool {
        matches!(self, GrantType::Password | GrantType::PasswordRealm)
    }

    /// A grant that answers an `mfa_required` (it needs a password grant to get one).
    pub fn is_mfa(self) -> bool {
        matches!(
            self,
            GrantType::MfaOtp | GrantType::MfaOob | GrantType::MfaRecoveryCode
        )
    }
}

/// JWS algorithms (RFC 7518 §3.1, RFC 8037) Latchkey signs with. ID tokens default to
/// `RS256`, which OpenID Connect Core §15.1 requires every provider to support and most
/// relying-party libraries expect; an application may ask for `ES256` or `EdDSA`. Access
/// tokens are always `EdDSA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    /// Exact, case-sensitive (RFC 7515 §4.1.1: `alg` values are case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        for a in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(SigningAlg::parse("rs256"), None);
        assert_eq!(SigningAlg::parse("none"), None);
        for t in [ClientType::Public, ClientType::Confidential] {
            assert_eq!(ClientType::parse(t.as_str()), Some(t));
        }
    }
}
