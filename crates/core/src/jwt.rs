//! Access tokens: compact JWS (RFC 7515) signed with Ed25519 (`EdDSA`, RFC 8037).
//!
//! Verification accepts exactly one algorithm (no `alg` confusion, no `none`), looks the key
//! up by `kid`, uses strict Ed25519 verification (rejects non-canonical and small-order
//! encodings), and checks issuer and expiry against the server's clock.
//!
//! Tokens are typed `at+jwt` (RFC 9068 §2.1), and verification requires that type (§4:
//! resource servers "MUST verify that the typ header value is `at+jwt` or
//! `application/at+jwt` and reject tokens carrying any other value"), so an ID token or any
//! other JWT signed with the same key cannot pass as an access token. Tokens issued before
//! this (typed `JWT`) stop verifying; they live at most one access-token lifetime and the
//! refresh token still works, so clients just refresh. Each token carries a `jti` of 128
//! random bits (RFC 9068 §2.2, RFC 7519 §4.1.7), so no two tokens are ever the same bytes.

use crate::clock::UnixMillis;
use crate::rand::{self, SecureRandom};
use crate::secret::{b64url, b64url_decode};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The claims Latchkey issues. `amr` holds RFC 8176 method values; `acr` the assurance
/// level reached (`aal1`, `aal2`), so relying parties can tell how the user signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub tid: String,
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    /// When a second factor was last verified in this session (seconds), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_time: Option<i64>,
    /// This token's unique id: [`new_jti`].
    pub jti: String,
    /// For a token issued to an application at the token endpoint (RFC 9068 §2.2): the
    /// audience and client (both the application's id) and the scopes granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A token an application gets for itself (`client_credentials`, RFC 6749 §4.4): no user,
/// no session. It has none of [`Claims`]' session fields, so [`verify`] refuses it as a
/// user's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientClaims {
    pub iss: String,
    /// The application's id.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub tid: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The `typ` every access token carries (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A fresh token id: 128 bits from the CSPRNG, base64url. Never derived from the clock, so
/// two tokens minted in the same second for the same session still differ.
pub fn new_jti(rng: &dyn SecureRandom) -> String {
    b64url(&rand::bytes::<16>(rng))
}

/// RFC 9068 §4 allows the media type with or without its `application/` prefix, and media
/// types compare case-insensitively (RFC 7515 §4.1.9).
fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == ACCESS_TOKEN_TYP || t.strip_prefix("application/") == Some(ACCESS_TOKEN_TYP)
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm or type is not accepted")]
    BadHeader,
    #[error("token signing key is unknown")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token was issued by someone else")]
    WrongIssuer,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: String,
}

/// An Ed25519 key pair with its key id.
pub struct Signer {
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.kid)
    }
}

/// The key id of a public key: the first 16 hex digits of its SHA-256.
pub fn kid_for(public: &[u8; 32]) -> String {
    crate::hash::hex(&Sha256::digest(public)[..8])
}

impl Signer {
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(secret.try_into().ok()?);
        let key = SigningKey::from_bytes(&bytes);
        let kid = kid_for(key.verifying_key().as_bytes());
        Some(Self { kid, key })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs an access token: a user's ([`Claims`]) or an application's ([`ClientClaims`]).
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let header = Header {
            alg: "EdDSA".into(),
            typ: Some(ACCESS_TOKEN_TYP.into()),
            kid: self.kid.clone(),
        };
        // Serialising these plain structs cannot fail.
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let c = serde_json::to_vec(claims).unwrap_or_default();
        let input = format!("{}.{}", b64url(&h), b64url(&c));
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64url(&sig.to_bytes()))
    }
}

/// A public key as a JWK (RFC 8037 §2) for `/.well-known/jwks.json`.
pub fn jwk(kid: &str, public: &[u8; 32]) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
        "kid": kid, "x": b64url(public),
    })
}

/// Reads the `kid` of a token without trusting anything else in it.
pub fn peek_kid(token: &str) -> Result<String, JwtError> {
    let head = token.split('.').next().ok_or(JwtError::Malformed)?;
    let bytes = b64url_decode(head).ok_or(JwtError::Malformed)?;
    let header: Header = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    Ok(header.kid)
}

/// Verifies signature, algorithm, issuer and expiry. `key_for` maps a kid to its public
/// key; `issuer_ok` says whether the (signed) claims name an issuer of ours for their tenant.
pub fn verify(
    token: &str,
    key_for: impl Fn(&str) -> Option<[u8; 32]>,
    issuer_ok: impl Fn(&Claims) -> bool,
    now: UnixMillis,
) -> Result<Claims, JwtError> {
    if token.len() > 4096 {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header: Header = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if header.alg != "EdDSA" || !is_access_token_typ(header.typ.as_deref()) {
        return Err(JwtError::BadHeader);
    }
    let public = key_for(&header.kid).ok_or(JwtError::UnknownKey)?;
    let vk = VerifyingKey::from_bytes(&public).map_err(|_| JwtError::UnknownKey)?;
    let sig_bytes: [u8; 64] = b64url_decode(s)
        .and_then(|b| b.try_into().ok())
        .ok_or(JwtError::Malformed)?;
    let sig = Signature::from_bytes(&sig_bytes);
    let signed = &token[..h.len() + 1 + c.len()];
    vk.verify_strict(signed.as_bytes(), &sig)
        .map_err(|_| JwtError::BadSignature)?;
    let claims: Claims = b64url_decode(c)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if !issuer_ok(&claims) {
        return Err(JwtError::WrongIssuer);
    }
    if now.div_euclid(1000) >= claims.exp {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts exactly one issuer.
    fn iss(expected: &'static str) -> impl Fn(&Claims) -> bool {
        move |c| c.iss == expected
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "https://id.example".into(),
            sub: "usr_1".into(),
            tid: "tnt_1".into(),
            sid: "ses_1".into(),
            iat: 1000,
            exp,
            auth_time: 1000,
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            mfa_time: None,
            jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            aud: None,
            client_id: None,
            scope: None,
        }
    }

    #[test]
    fn sign_and_verify() {
        let s = Signer::from_secret(&[9u8; 32]).unwrap();
        let pk = s.public_bytes();
        let kid = s.kid().to_owned();
        let lookup = |k: &str| (k == kid).then_some(pk);
        let t = s.sign(&claims(2000));
        assert_eq!(peek_kid(&t).unwrap(), kid);
        assert_eq!(
            verify(&t, lookup, iss("https://id.example"), 1_500_000).unwrap(),
            claims(2000)
        );
        assert_eq!(
            verify(&t, lookup, iss("https://id.example"), 2_000_000),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify(&t, lookup, iss("https://other"), 1_500_000),
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            verify(&t, |_| None, iss("https://id.example"), 1_500_000),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn rejects_tampering_and_other_algorithms() {
        let s = Signer::from_secret(&[9u8; 32]).unwrap();
        let pk = s.public_bytes();
        let lookup = |_: &str| Some(pk);
        let t = s.sign(&claims(2000));
        let parts: Vec<&str> = t.split('.').collect();
        // Flip a claim: acr aal1 -> aal2.
        let mut c: serde_json::Value = serde_json::from_slice(&b64url_decode(parts[1]).unwrap()).unwrap();
        c["acr"] = "aal2".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64url(&serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify(&forged, lookup, iss("https://id.example"), 0),
            Err(JwtError::BadSignature)
        );
        // alg none / HS256 headers are refused before any key is used.
        for alg in ["none", "HS256", "ES256"] {
            let h = b64url(format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, s.kid()).as_bytes());
            let t2 = format!("{h}.{}.{}", parts[1], parts[2]);
            assert_eq!(
                verify(&t2, lookup, iss("https://id.example"), 0),
                Err(JwtError::BadHeader)
            );
        }
        assert_eq!(verify("a.b", lookup, iss("x"), 0), Err(JwtError::Malformed));
        assert_eq!(
            verify(&format!("{t}.x"), lookup, iss("x"), 0),
            Err(JwtError::Malformed)
        );
    }

    /// Re-signs `claims` under a header of our choosing, with the real key, so only the
    /// header differs from a genuine token.
    fn signed_with_header(s: &Signer, header: &str, claims: &Claims) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(&serde_json::to_vec(claims).unwrap())
        );
        format!("{input}.{}", b64url(&s.key.sign(input.as_bytes()).to_bytes()))
    }

    #[test]
    fn typ_must_be_at_jwt() {
        let s = Signer::from_secret(&[9u8; 32]).unwrap();
        let pk = s.public_bytes();
        let lookup = |_: &str| Some(pk);
        let t = s.sign(&claims(2000));
        let head: serde_json::Value =
            serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(head["typ"], "at+jwt");
        assert_eq!(head["alg"], "EdDSA");
        let kid = s.kid();
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
            let ok = signed_with_header(
                &s,
                &format!(r#"{{"alg":"EdDSA","typ":"{typ}","kid":"{kid}"}}"#),
                &claims(2000),
            );
            assert!(verify(&ok, lookup, iss("https://id.example"), 0).is_ok(), "{typ}");
        }
        // A correctly signed token of another type, or of none, is refused (RFC 9068 §4):
        // tokens from before the upgrade (typ JWT) included.
        for header in [
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"id+jwt","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"at+jwt2","kid":"{kid}"}}"#),
        ] {
            let bad = signed_with_header(&s, &header, &claims(2000));
            assert_eq!(
                verify(&bad, lookup, iss("https://id.example"), 0),
                Err(JwtError::BadHeader),
                "{header}"
            );
        }
        // A token without a jti is malformed.
        let mut c = serde_json::to_value(claims(2000)).unwrap();
        c.as_object_mut().unwrap().remove("jti");
        let input = format!(
            "{}.{}",
            t.split('.').next().unwrap(),
            b64url(&serde_json::to_vec(&c).unwrap())
        );
        let no_jti = format!("{input}.{}", b64url(&s.key.sign(input.as_bytes()).to_bytes()));
        assert_eq!(
            verify(&no_jti, lookup, iss("https://id.example"), 0),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn an_application_token_is_not_a_users() {
        let s = Signer::from_secret(&[9u8; 32]).unwrap();
        let pk = s.public_bytes();
        let t = s.sign(&ClientClaims {
            iss: "https://id.example".into(),
            sub: "app_1".into(),
            aud: "https://api.example".into(),
            client_id: "app_1".into(),
            tid: "tnt_1".into(),
            scope: "read:users".into(),
            iat: 1000,
            exp: 2000,
            jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        });
        assert_eq!(
            verify(&t, |_| Some(pk), iss("https://id.example"), 1_500_000),
            Err(JwtError::Malformed)
        );
        // A user's token issued to an application keeps its client and scope.
        let mut c = claims(2000);
        c.aud = Some("app_1".into());
        c.client_id = Some("app_1".into());
        c.scope = Some("openid email".into());
        let t = s.sign(&c);
        assert_eq!(
            verify(&t, |_| Some(pk), iss("https://id.example"), 1_500_000),
            Ok(c)
        );
    }

    #[test]
    fn jti_is_random() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| new_jti(&crate::rand::OsRandom)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|j| j.len() == 22 && b64url_decode(j).is_some_and(|b| b.len() == 16)));
    }
}
