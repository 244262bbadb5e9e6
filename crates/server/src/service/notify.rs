//! Security notices by email (`core::notices` has every word): when an audit record says
//! a user's authenticators changed, a backup code was spent or the codes replaced, an admin
//! reset their MFA, or a
//! factor was locked by wrong answers, the user is told through the outbox and the tenant's
//! email provider. Only where the tenant has an email provider (its own or the server's): the
//! development console is not one. Best effort: a notice that cannot be queued is logged and
//! the request that caused it is not failed.

use super::audit::log_audit;
use super::ServiceResult;
use crate::App;
use latchkey_core::audit::AuditAction;
use latchkey_core::factor::{Channel, FactorKind};
use latchkey_core::notices::{render_with, Notice};
use latchkey_store::model::{AuditEvent, DeliveryStatus, OutboxMessage, SealedColumn};

/// A notice lives in the outbox a day at most: later, it is news no more.
const NOTICE_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// At most one "repeated failed second factors" notice per user an hour, however long the
/// attack goes on.
const LOCKED_NOTICE_COOLDOWN_SECS: i64 = 3600;

/// Which notice an audit record calls for, before looking anything up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Added,
    Removed,
    BackupUsed,
    Regenerated,
    Reset,
    Locked,
    Remembered,
}

fn trigger(e: &AuditEvent) -> Option<Trigger> {
    let action = AuditAction::parse(&e.action)?;
    match (action, e.outcome.as_str()) {
        (AuditAction::FactorConfirm | AuditAction::FactorCreateConfirmed, "success") => Some(Trigger::Added),
        (AuditAction::FactorDelete, "success") => Some(Trigger::Removed),
        (AuditAction::BackupCodeUse, "success") => Some(Trigger::BackupUsed),
        (AuditAction::BackupCodesRegenerate, "success") => Some(Trigger::Regenerated),
        (AuditAction::MfaReset, "success") => Some(Trigger::Reset),
        (AuditAction::MfaAttempt, "locked") => Some(Trigger::Locked),
        (AuditAction::DeviceRemembered, "success") => Some(Trigger::Remembered),
        _ => None,
    }
}

/// The days and name in a `device.remembered` record's detail (`dev_… for 30 days: name`).
fn remembered_device(detail: &str) -> Option<(u16, String)> {
    let (_, rest) = detail.split_once(" for ")?;
    let (days, name) = rest.split_once(" days: ")?;
    Some((days.parse().ok()?, name.to_owned()))
}

impl App {
    /// What follows every written audit record: its log line, and the user's notice if it
    /// calls for one (queued off the request's path).
    pub(crate) fn recorded(&self, event: &AuditEvent) {
        log_audit(event);
        if let Some(t) = trigger(event) {
            let (app, event) = (self.clone(), event.clone());
            tokio::spawn(async move {
                if let Err(e) = app.notify(&event, t).await {
                    tracing::error!(event_id = %event.id, error = %e, "cannot queue a security notice");
                }
            });
        }
    }

    async fn notify(&self, event: &AuditEvent, t: Trigger) -> ServiceResult<()> {
        let Some(user_id) = &event.user_id else {
            return Ok(());
        };
        let tenant = self.load_tenant(&event.tenant_id).await?;
        let (_, source, _) = self.email_providers(&tenant.id).await?;
        if source == super::providers::ProviderSource::Default {
            return Ok(());
        }
        let Some(user) = self.store.get_user(&tenant.id, user_id).await? else {
            return Ok(());
        };
        let factor = match &event.factor_id {
            Some(id) => self.store.get_factor(&tenant.id, id).await?,
            None => None,
        };
        let kind = factor
            .as_ref()
            .map(|f| f.kind)
            .or_else(|| event.detail.as_deref().and_then(FactorKind::parse));
        let (notice, cooldown) = match (t, kind) {
            (Trigger::Added, Some(kind)) => (Notice::FactorAdded(kind), None),
            (Trigger::Removed, Some(kind)) => (Notice::FactorRemoved(kind), None),
            (Trigger::BackupUsed, _) => {
                let remaining = match &event.factor_id {
                    Some(id) => self.store.unused_backup_codes(id).await?,
                    None => 0,
                };
                (
                    Notice::BackupCodeUsed {
                        remaining: u32::try_from(remaining).unwrap_or(0),
                    },
                    None,
                )
            }
            (Trigger::Regenerated, _) => (Notice::BackupCodesRegenerated, None),
            (Trigger::Reset, _) => (Notice::MfaReset, None),
            (Trigger::Locked, Some(kind)) => (
                Notice::SecondFactorLocked(kind),
                Some(format!("notice:locked:{user_id}")),
            ),
            (Trigger::Remembered, _) => match event.detail.as_deref().and_then(remembered_device) {
                Some((days, device)) => (Notice::DeviceRemembered { device, days }, None),
                None => return Ok(()),
            },
            (Trigger::Added | Trigger::Removed | Trigger::Locked, None) => return Ok(()),
        };
        let message = render_with(
            &notice,
            tenant.settings.notice_templates.get(notice.key()),
            &self.app_name(&tenant),
            &latchkey_core::time::rfc3339(event.created_at),
            event.ip.as_deref(),
        );
        let payload = serde_json::json!({
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        });
        let now = self.now();
        let rng = self.rng.as_ref();
        let id = format!("msg_{}", latchkey_core::ids::ulid(now, rng));
        let payload_sealed = self
            .crypto
            .keyring
            .seal(
                payload.to_string().as_bytes(),
                &SealedColumn::OutboxPayload.aad(&id),
                rng,
            )
            .map_err(|e| super::ServiceError::Internal(e.to_string()))?;
        let m = OutboxMessage {
            destination_sealed: self.seal_text(SealedColumn::OutboxDestination, &id, user.email.as_str())?,
            id,
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            factor_id: None,
            channel: Channel::Email,
            payload_sealed,
            status: DeliveryStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            locked_until: None,
            expires_at: now + NOTICE_LIFETIME_MS,
            last_error: None,
            provider: None,
            provider_message_id: None,
            created_at: now,
            updated_at: now,
        };
        if self
            .store
            .queue_notice(&m, cooldown.as_deref(), LOCKED_NOTICE_COOLDOWN_SECS, now)
            .await?
        {
            self.outbox_wakeup.notify_one();
            tracing::info!(user_id = %user.id, notice = ?notice, "security notice queued");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::ids::TenantId;

    fn event(action: AuditAction, outcome: &str) -> AuditEvent {
        AuditEvent {
            id: "evt_x".into(),
            tenant_id: TenantId::from_trusted("tnt_x".into()),
            user_id: None,
            actor: "system".into(),
            action: action.as_str().into(),
            factor_id: None,
            outcome: outcome.into(),
            ip: None,
            detail: None,
            created_at: 0,
            fan_out: true,
        }
    }

    #[test]
    fn only_authenticator_changes_and_attacks_call_for_a_notice() {
        assert_eq!(
            trigger(&event(AuditAction::FactorConfirm, "success")),
            Some(Trigger::Added)
        );
        assert_eq!(trigger(&event(AuditAction::FactorConfirm, "failure")), None);
        assert_eq!(
            trigger(&event(AuditAction::FactorCreateConfirmed, "success")),
            Some(Trigger::Added)
        );
        assert_eq!(
            trigger(&event(AuditAction::FactorDelete, "success")),
            Some(Trigger::Removed)
        );
        assert_eq!(
            trigger(&event(AuditAction::BackupCodeUse, "success")),
            Some(Trigger::BackupUsed)
        );
        assert_eq!(
            trigger(&event(AuditAction::MfaReset, "success")),
            Some(Trigger::Reset)
        );
        assert_eq!(
            trigger(&event(AuditAction::MfaAttempt, "locked")),
            Some(Trigger::Locked)
        );
        assert_eq!(
            trigger(&event(AuditAction::DeviceRemembered, "success")),
            Some(Trigger::Remembered)
        );
        assert_eq!(
            remembered_device("dev_01 for 30 days: Firefox for Linux"),
            Some((30, "Firefox for Linux".to_owned()))
        );
        assert_eq!(remembered_device("all (3)"), None);
        for a in [
            AuditAction::DeviceRevoked,
            AuditAction::MfaVerify,
            AuditAction::SignIn,
            AuditAction::FactorEnroll,
            AuditAction::CodeSend,
        ] {
            assert_eq!(trigger(&event(a, "success")), None, "{a:?}");
        }
    }
}
