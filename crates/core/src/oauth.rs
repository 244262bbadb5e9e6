//! The pure rules of the authorization code flow: PKCE (RFC 7636), scopes (OpenID Connect
//! Core §5.4), the authorization request's `prompt`, `max_age`, `acr_values` and
//! `response_mode`, and the `at_hash` of an ID token (§3.1.3.6). No I/O: the service applies
//! them to stored applications and sessions.

use crate::assurance::Aal;
use crate::oidc::SigningAlg;
use crate::secret::{b64url, ct_eq};
use sha2::{Digest, Sha256, Sha512};

/// The scopes Latchkey knows (OpenID Connect Core §5.4, §11). Others are refused.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", "offline_access"];

/// An authorization request's scopes: known, without duplicates, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<&'static str>);

impl Scopes {
    /// Parses a space-separated `scope` (RFC 6749 §3.3). `None` names the first unknown one.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out: Vec<&'static str> = Vec::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            let known = SCOPES
                .iter()
                .find(|k| **k == word)
                .ok_or_else(|| word.chars().take(64).collect::<String>())?;
            if !out.contains(known) {
                out.push(known);
            }
        }
        Ok(Scopes(out))
    }

    pub fn has(&self, scope: &str) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `self` is in `granted` (a refresh may narrow, never widen).
    pub fn within(&self, granted: &Scopes) -> bool {
        self.0.iter().all(|s| granted.has(s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_string(&self) -> String {
        self.0.join(" ")
    }
}

/// PKCE: a `code_verifier` is 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An `S256` code challenge is base64url of a SHA-256 digest: 43 characters, no padding.
pub fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The `S256` challenge of a verifier: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn s256(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` (RFC 7636 §4.6), in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    valid_verifier(verifier) && ct_eq(s256(verifier).as_bytes(), challenge.as_bytes())
}

/// `prompt` (OpenID Connect Core §3.1.2.1). `consent` and `select_account` ask for nothing
/// Latchkey shows (first-party applications, one account per browser) and are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: no page may be shown; fail with `login_required` instead.
    pub none: bool,
    /// `login`: sign in again even if signed in.
    pub login: bool,
}

impl Prompt {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut p = Prompt::default();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" | "select_account" => {}
                _ => return Err("prompt has an unknown value"),
            }
        }
        // §3.1.2.1: "none" with any other value is an error.
        if p.none && s.split(' ').filter(|w| !w.is_empty()).count() > 1 {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(p)
    }
}

/// `response_mode` (OAuth 2.0 Multiple Response Types; Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(ResponseMode::Query),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

/// The `acr` values Latchkey can be asked for, lowest first, with the assurance each needs.
/// Auth0's multi-factor policy URI is understood as `aal2`, so Auth0 clients asking for MFA
/// get it.
pub const ACR_VALUES: [(&str, Aal); 4] = [
    ("aal1", Aal::Aal1),
    ("aal2", Aal::Aal2),
    (
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        Aal::Aal2,
    ),
    ("aal2_phr", Aal::Aal2Phr),
];

/// The assurance an `acr_values` request asks for: the least of the values Latchkey knows
/// (§3.1.2.1: "in order of preference", and any of them satisfies the request); unknown
/// values are ignored, as the parameter is voluntary. `None` when it names nothing known.
pub fn requested_aal(acr_values: &str) -> Option<Aal> {
    acr_values
        .split(' ')
        .filter_map(|v| ACR_VALUES.iter().find(|(name, _)| *name == v).map(|(_, a)| *a))
        .min()
}

/// Whether a sign-in authenticated at `auth_time` (ms) is too old for `max_age` (seconds)
/// at `now` (ms) (§3.1.2.1). `max_age=0` always asks for a new sign-in.
pub fn too_old(auth_time: i64, max_age: u64, now: i64) -> bool {
    let age_secs = (now - auth_time).max(0) / 1000;
    max_age == 0 || u64::try_from(age_secs).unwrap_or(u64::MAX) > max_age
}

/// `at_hash` (§3.1.3.6): base64url of the left half of the hash of the access token's ASCII
/// octets, with the hash of the ID token's `alg` (SHA-512 for Ed25519, as the OpenID
/// Connect errata and the relying-party libraries that support EdDSA use).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => {
            let d = Sha256::digest(access_token.as_bytes());
            b64url(&d[..16])
        }
        SigningAlg::EdDSA => {
            let d = Sha512::digest(access_token.as_bytes());
            b64url(&d[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        // "plain": the challenge itself as the verifier does not pass.
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(!verifier_matches(challenge, challenge));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("short"));
        assert!(!valid_challenge(&format!("{}=", &challenge[..42])));
    }

    #[test]
    fn verifier_shape() {
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(valid_verifier(&"a".repeat(128)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(valid_verifier(&format!("{}-._~", "a".repeat(43))));
    }

    #[test]
    fn scopes() {
        let s = Scopes::parse("openid  email openid offline_access").unwrap();
        assert_eq!(s.as_string(), "openid email offline_access");
        assert!(s.has("email") && !s.has("phone"));
        assert_eq!(Scopes::parse("openid admin"), Err("admin".into()));
        assert!(Scopes::parse("openid").unwrap().within(&s));
        assert!(!Scopes::parse("openid phone").unwrap().within(&s));
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn prompts() {
        assert_eq!(Prompt::parse("").unwrap(), Prompt::default());
        assert!(Prompt::parse("none").unwrap().none);
        assert!(Prompt::parse("login consent").unwrap().login);
        assert!(Prompt::parse("none login").is_err());
        assert!(Prompt::parse("create").is_err());
    }

    #[test]
    fn acr_requests() {
        assert_eq!(requested_aal("aal2"), Some(Aal::Aal2));
        assert_eq!(requested_aal("aal2_phr aal2"), Some(Aal::Aal2));
        assert_eq!(requested_aal("aal2_phr"), Some(Aal::Aal2Phr));
        assert_eq!(
            requested_aal("http://schemas.openid.net/pape/policies/2007/06/multi-factor"),
            Some(Aal::Aal2)
        );
        assert_eq!(requested_aal("urn:unknown"), None);
    }

    #[test]
    fn max_age() {
        let now = 1_000_000_000;
        assert!(!too_old(now - 59_000, 60, now));
        assert!(too_old(now - 61_000, 60, now));
        assert!(too_old(now, 0, now));
    }

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OpenID Connect Core, Appendix A.3/A.4 (RS256): at_hash of this access token.
        assert_eq!(
            at_hash(SigningAlg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(SigningAlg::EdDSA, "x").len(), 43);
    }

    proptest! {
        #[test]
        fn any_valid_verifier_matches_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(verifier_matches(&v, &s256(&v)));
            prop_assert!(valid_challenge(&s256(&v)));
        }
    }
}
