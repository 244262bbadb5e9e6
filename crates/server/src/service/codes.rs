//! Sending codes, the flow part: a kind module says what to send (a [`CodeIssue`]); here it
//! is written (the code, its outbox message and every send-limit counter in one
//! transaction, or nothing), the outcome counted and audited, and the outbox worker woken:
//! the request never waits for a provider. Also where refusals by the SMS destination policy
//! are counted for the operator.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::clock::UnixMillis;
use latchkey_store::model::{CodeIssue, Factor, IssueOutcome, Tenant, User};

impl App {
    /// The name messages show.
    pub fn app_name(&self, tenant: &Tenant) -> String {
        match &tenant.settings.app_name {
            Some(name) => name.clone(),
            None if tenant.id == self.default_tenant => self.config.totp_issuer.clone(),
            None => tenant.name.clone(),
        }
    }

    /// Writes a code to send for `factor` (and the factor itself, for a new enrollment),
    /// unless a send limit or the resend cooldown refuses it, and wakes the outbox worker.
    /// Returns when the code expires.
    pub(super) async fn issue_code(
        &self,
        tenant: &Tenant,
        user: &User,
        factor: &Factor,
        issue: &CodeIssue,
        meta: &RequestMeta,
    ) -> ServiceResult<UnixMillis> {
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let audit = |outcome, detail: &str| {
            Audit::on_factor(tenant, &actor, meta, factor, AuditAction::CodeSend, outcome).with_detail(detail)
        };
        match self.store.issue_code(issue, self.now()).await? {
            IssueOutcome::Issued => {
                self.outbox_wakeup.notify_one();
                self.audit(audit(AuditOutcome::Queued, issue.message.channel.as_str()))
                    .await?;
                Ok(issue.code.expires_at)
            }
            IssueOutcome::Cooldown { retry_after_secs } => {
                self.store
                    .bump_stat(&tenant.id, "codes_refused", "cooldown")
                    .await?;
                self.metrics.send_refused(&tenant.id, "cooldown");
                self.audit(audit(AuditOutcome::Refused, "cooldown")).await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
            IssueOutcome::Limited {
                scope,
                retry_after_secs,
            } => {
                self.store.bump_stat(&tenant.id, "codes_refused", scope).await?;
                self.metrics.send_refused(&tenant.id, scope);
                self.audit(audit(AuditOutcome::Refused, scope)).await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
        }
    }

    /// Passes `result` on, first counting a refusal by the SMS destination policy (a country
    /// outside the list, a risky number class) for the operator's delivery statistics and
    /// recording it (`sms.refused`, the rule as detail; never the number).
    pub(super) async fn refusals_counted<T>(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        meta: &RequestMeta,
        result: ServiceResult<T>,
    ) -> ServiceResult<T> {
        let reason = match &result {
            Err(ServiceError::CountryNotAllowed) => Some("country"),
            Err(ServiceError::NumberTypeNotAllowed(class)) => Some(class.as_str()),
            _ => None,
        };
        if let Some(reason) = reason {
            self.store.bump_stat(&tenant.id, "sms_refused", reason).await?;
            self.metrics.sms_refused(&tenant.id, reason);
            self.audit(Audit {
                tenant,
                actor,
                meta,
                user: Some(&user.id),
                factor: None,
                action: AuditAction::SmsRefused,
                outcome: AuditOutcome::Refused,
                detail: Some(reason.to_owned()),
            })
            .await?;
        }
        result
    }
}
