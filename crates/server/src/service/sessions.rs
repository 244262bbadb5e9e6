//! Minting sessions and tokens: a new session with its first refresh token, the keyed hash
//! a refresh token is stored and looked up by, and the access token a session carries. Used
//! by every use case that signs someone in (password sign-in and sign-up in `auth.rs`, a
//! completed challenge in `mfa.rs`).

use super::ServiceResult;
use crate::App;
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::SessionId;
use latchkey_core::jwt::Claims;
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_store::model::{Session, Tenant, User};

/// What a successful authentication hands the client.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_in: u64,
}

impl App {
    /// Creates a session (a refresh-token family) and its first tokens.
    pub async fn start_session(
        &self,
        tenant: &Tenant,
        user: &User,
        amr: Vec<String>,
        acr: &str,
        mfa_at: Option<i64>,
    ) -> ServiceResult<TokenPair> {
        let (session, refresh_hash, tokens) = self.new_session(tenant, user, amr, acr, mfa_at);
        self.store.create_session(&session, &refresh_hash).await?;
        Ok(tokens)
    }

    /// A session, the keyed hash of its first refresh token, and the tokens to hand out,
    /// not yet stored: the caller stores them (alone, or with other writes).
    pub(super) fn new_session(
        &self,
        tenant: &Tenant,
        user: &User,
        amr: Vec<String>,
        acr: &str,
        mfa_at: Option<i64>,
    ) -> (Session, String, TokenPair) {
        let now = self.now();
        let refresh_ttl_ms = i64::try_from(tenant.settings.refresh_token_ttl_secs).unwrap_or(0) * 1000;
        let session = Session {
            id: SessionId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            amr,
            acr: acr.to_owned(),
            auth_time: now,
            mfa_at,
            created_at: now,
            expires_at: now + refresh_ttl_ms,
            revoked_at: None,
            client_id: None,
            parent_id: None,
            scope: None,
        };
        let refresh = opaque_token("rt_", self.rng.as_ref());
        let hash = self.refresh_hash(&refresh);
        let tokens = self.tokens_for(tenant, &session, refresh);
        (session, hash, tokens)
    }

    pub(super) fn refresh_hash(&self, token: &SecretString) -> String {
        self.crypto
            .hasher
            .hash(HashPurpose::RefreshToken, "", token.expose().as_bytes())
    }

    pub(super) fn tokens_for(&self, tenant: &Tenant, session: &Session, refresh: SecretString) -> TokenPair {
        let ttl = tenant.settings.access_token_ttl_secs;
        TokenPair {
            access_token: self.access_token(session, ttl),
            refresh_token: refresh,
            expires_in: ttl,
        }
    }

    /// An access token for `session`, valid `ttl` seconds. A session issued to an
    /// application names it as audience and client, with the scopes granted (RFC 9068).
    pub(super) fn access_token(&self, session: &Session, ttl: u64) -> SecretString {
        let now_s = self.now().div_euclid(1000);
        let client = session.client_id.as_ref().map(|c| c.to_string());
        let claims = Claims {
            iss: self.issuer_for(&session.tenant_id).url,
            sub: session.user_id.to_string(),
            tid: session.tenant_id.to_string(),
            sid: session.id.to_string(),
            iat: now_s,
            exp: now_s + i64::try_from(ttl).unwrap_or(0),
            auth_time: session.auth_time.div_euclid(1000),
            amr: session.amr.clone(),
            acr: session.acr.clone(),
            mfa_time: session.mfa_at.map(|t| t.div_euclid(1000)),
            jti: latchkey_core::jwt::new_jti(self.rng.as_ref()),
            aud: client.clone(),
            client_id: client,
            scope: session.scope.clone(),
        };
        SecretString::new(self.crypto.signer().sign(&claims))
    }
}
