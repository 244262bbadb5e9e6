//! What a browser session on the hosted pages needs from the use cases: the session row a
//! completed sign-in created, and whether a session a cookie names is still live. The pages
//! keep no session of their own: a cookie names a real `Session` row (the same a token pair
//! belongs to), so revoking it anywhere (sign-out, a factor removed elsewhere, an admin
//! reset) signs the browser out at its next request.

use super::audit::Actor;
use super::sessions::TokenPair;
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::ids::SessionId;
use latchkey_store::model::{Session, Tenant};

/// The actor a live session acts as: its user, the session, and when it last passed a
/// second factor (seconds), which step-up decisions read.
pub fn session_actor(session: &Session) -> Actor {
    Actor::User {
        user_id: session.user_id.clone(),
        session_id: session.id.clone(),
        mfa_time: session.mfa_at.map(|t| t.div_euclid(1000)),
    }
}

impl App {
    /// The session a sign-in just created, found through the access token it issued (the
    /// use cases hand out tokens, not rows; the token names its session).
    pub async fn session_of(&self, tokens: &TokenPair) -> ServiceResult<Session> {
        let ctx = self
            .authenticate_access(tokens.access_token.expose())
            .await
            .ok_or_else(|| ServiceError::Internal("a token just issued does not verify".into()))?;
        self.store
            .get_session(&ctx.session_id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a session just created is missing".into()))
    }

    /// The session `id` if it is still live for `tenant`: not revoked, not expired, and, where
    /// MFA has become required since a password-only sign-in, not one without a second factor
    /// (the rule `refresh` applies to tokens, SECURITY.md test 73).
    pub async fn browser_session(&self, tenant: &Tenant, id: &SessionId) -> ServiceResult<Option<Session>> {
        let Some(session) = self.store.get_session(id).await? else {
            return Ok(None);
        };
        let live = session.is_live(self.now())
            && session.tenant_id == tenant.id
            && !(session.mfa_at.is_none() && self.mfa_required(tenant));
        Ok(live.then_some(session))
    }
}
