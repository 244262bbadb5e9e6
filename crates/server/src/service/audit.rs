//! The audit log: who did what to which user and factor, from where, with what outcome.
//! Never a code, secret or token.

use super::ServiceResult;
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::ids::{ApiKeyId, ApplicationId, FactorId, SessionId, UserId};
use latchkey_core::scope::KeyScope;
use latchkey_store::model::{ApiKeyRecord, AuditEvent, Tenant};

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A tenant secret key, and the scopes it was given.
    Admin { key_id: ApiKeyId, scopes: Vec<KeyScope> },
    /// A user, with their own access token: its session, and when that session last passed
    /// a second factor (seconds), if ever.
    User {
        user_id: UserId,
        session_id: SessionId,
        mfa_time: Option<i64>,
    },
    /// The user in the middle of signing in (password passed, second factor pending).
    SigningIn { user_id: UserId },
    /// An application with a management token (the Auth0-style `/api/v2`): the key scopes
    /// the token stands for on the route it calls. A token holding the route's privileged
    /// management scope stands for `mfa:admin` there, since only a key with `mfa:admin`
    /// could grant it (`core::scope::PRIVILEGED_MANAGEMENT_SCOPES`).
    Client {
        application_id: ApplicationId,
        scopes: Vec<KeyScope>,
    },
    /// The server's operator, at the command line (`latchkey applications create`).
    Operator,
}

impl Actor {
    /// The actor a secret key is.
    pub fn admin(key: &ApiKeyRecord) -> Actor {
        Actor::Admin {
            key_id: key.id.clone(),
            scopes: key.scopes.clone(),
        }
    }

    fn label(&self) -> String {
        match self {
            Actor::Admin { key_id, .. } => format!("key:{key_id}"),
            Actor::User { user_id, .. } | Actor::SigningIn { user_id } => format!("user:{user_id}"),
            Actor::Client { application_id, .. } => format!("client:{application_id}"),
            Actor::Operator => "system".to_owned(),
        }
    }
}

/// Facts about the request that go into the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client address: the TCP peer, or what a trusted proxy says it forwarded for
    /// (`http::common::forwarded`).
    pub ip: Option<String>,
    /// The `User-Agent` header (cut to 512 characters): a remembered device's name.
    pub user_agent: Option<String>,
}

/// One audit record to write.
pub struct Audit<'a> {
    pub tenant: &'a Tenant,
    pub actor: &'a Actor,
    pub meta: &'a RequestMeta,
    pub user: Option<&'a UserId>,
    pub factor: Option<&'a FactorId>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

impl<'a> Audit<'a> {
    /// An event about `factor` and its user, without detail.
    pub fn on_factor(
        tenant: &'a Tenant,
        actor: &'a Actor,
        meta: &'a RequestMeta,
        factor: &'a latchkey_store::model::Factor,
        action: AuditAction,
        outcome: AuditOutcome,
    ) -> Self {
        Audit {
            tenant,
            actor,
            meta,
            user: Some(&factor.user_id),
            factor: Some(&factor.id),
            action,
            outcome,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl App {
    pub async fn audit(&self, a: Audit<'_>) -> ServiceResult<()> {
        let event = self.audit_event(a);
        self.store.insert_audit(&event).await?;
        self.recorded(&event);
        // Its webhook deliveries, if any, were written with it.
        self.events_wakeup.notify_one();
        Ok(())
    }

    /// The stored form of an audit record; the caller writes it (on its own, or inside
    /// another transaction) and hands it to `App::recorded` once it is written (its log
    /// line and the user's security notice, `notify.rs`).
    pub fn audit_event(&self, a: Audit<'_>) -> AuditEvent {
        let now = self.now();
        AuditEvent {
            id: format!("evt_{}", latchkey_core::ids::ulid(now, self.rng.as_ref())),
            tenant_id: a.tenant.id.clone(),
            user_id: a.user.cloned(),
            actor: a.actor.label(),
            action: a.action.as_str().to_owned(),
            factor_id: a.factor.cloned(),
            outcome: a.outcome.as_str().to_owned(),
            ip: a.meta.ip.clone(),
            detail: a.detail,
            created_at: now,
            fan_out: a.tenant.webhooks > 0,
        }
    }

    pub async fn list_audit(
        &self,
        tenant: &Tenant,
        user: Option<&UserId>,
        before: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Vec<AuditEvent>> {
        Ok(self
            .store
            .list_audit(&tenant.id, user, before, limit.clamp(1, 200))
            .await?)
    }
}

/// The log line every audit record also gets.
pub fn log_audit(event: &AuditEvent) {
    tracing::info!(
        tenant_id = %event.tenant_id,
        user_id = ?event.user_id,
        factor_id = ?event.factor_id,
        actor = %event.actor,
        action = %event.action,
        outcome = %event.outcome,
        "audit"
    );
}
