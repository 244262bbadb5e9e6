//! Rows to records, once for both drivers: each backend's row type implements [`Columns`],
//! and the mapping functions (and the column lists the statements select) live here.
//! Columns are read by name, so a statement's select list must name (or alias) them.

use crate::model::*;
use crate::{Result, StoreError};
use latchkey_core::application::ApplicationSettings;
use latchkey_core::email::Email;
use latchkey_core::factor::{ChallengePurpose, Channel, FactorKind, FactorStatus};
use latchkey_core::ids::{
    ApiKeyId, ApplicationId, ChallengeId, FactorId, SessionId, TenantId, UserId, WebhookId,
};
use latchkey_core::oidc::ClientType;
use latchkey_core::settings::TenantSettings;

pub(crate) const USER_COLUMNS: &str = "id, tenant_id, email, password_hash, name, phone_sealed, \
     phone_hash, phone_verified_at, created_at, updated_at, email_verified_at";
pub(crate) const EMAIL_LINK_COLUMNS: &str =
    "token_hash, tenant_id, user_id, purpose, code_hash, email_hash, created_at, expires_at, consumed_at";
pub(crate) const ENROLLMENT_TICKET_COLUMNS: &str = "id, token_hash, tenant_id, user_id, factor_kind, \
     allow_multiple, created_at, expires_at, consumed_at";
pub(crate) const SESSION_COLUMNS: &str = "id, tenant_id, user_id, amr, acr, auth_time, mfa_at, \
     created_at, expires_at, revoked_at, client_id, parent_id, scope";
pub(crate) const AUTHORIZATION_CODE_COLUMNS: &str = "code_hash, tenant_id, client_id, session_id, \
     redirect_uri, scope, nonce, code_challenge, created_at, expires_at, consumed_at";
pub(crate) const API_KEY_COLUMNS: &str =
    "id, tenant_id, name, key_hash, display_prefix, created_at, revoked_at, scopes";
pub(crate) const FACTOR_COLUMNS: &str = "id, tenant_id, user_id, kind, name, status, secret_sealed, \
     last_step, created_at, expires_at, confirmed_at, last_used_at, destination_sealed, enrolled_by, \
     algorithm";
pub(crate) const CHALLENGE_COLUMNS: &str =
    "id, tenant_id, user_id, purpose, amr, factor_id, created_at, expires_at, completed_at, state_sealed";
pub(crate) const AUDIT_COLUMNS: &str =
    "id, tenant_id, user_id, actor, action, factor_id, outcome, ip, detail, created_at";
pub(crate) const APPLICATION_COLUMNS: &str = "id, tenant_id, name, client_type, secret_hash, \
     secret_prefix, redirect_uris, post_logout_redirect_uris, grant_types, settings, created_at, updated_at";
pub(crate) const OUTBOX_COLUMNS: &str = "id, tenant_id, user_id, factor_id, channel, destination_sealed, \
     payload_sealed, status, attempts, next_attempt_at, locked_until, expires_at, last_error, provider, \
     provider_message_id, created_at, updated_at";

pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, tenant_id, url, description, all_events, enabled, secret_sealed, created_at, updated_at";
pub(crate) const WEBHOOK_DELIVERY_COLUMNS: &str = "id, tenant_id, webhook_id, event_id, event_type, status, \
     attempts, next_attempt_at, locked_until, last_status_code, last_error, created_at, updated_at";

/// Named column access, as both drivers provide it.
pub(crate) trait Columns {
    fn text(&self, name: &str) -> Result<String>;
    fn opt_text(&self, name: &str) -> Result<Option<String>>;
    fn int(&self, name: &str) -> Result<i64>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>>;
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> Result<String> {
        Ok(self.get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.get(name)?)
    }
    fn int(&self, name: &str) -> Result<i64> {
        Ok(self.get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.get(name)?)
    }
    fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        Ok(self.get(name)?)
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn text(&self, name: &str) -> Result<String> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
    fn int(&self, name: &str) -> Result<i64> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
    fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

pub(crate) fn settings_json(s: &TenantSettings) -> Result<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn tenant(row: &dyn Columns) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId::from_trusted(row.text("id")?),
        name: row.text("name")?,
        settings: serde_json::from_str::<TenantSettings>(&row.text("settings")?)
            .map_err(|e| corrupt("tenant settings", e))?,
        created_at: row.int("created_at")?,
        slug: row.opt_text("slug")?,
        host: row.opt_text("host")?,
        mfa_rules: row.opt_int("mfa_rules")?.unwrap_or(0),
        // Unknown is "some": an event is never left out for want of a count.
        webhooks: row.opt_int("webhooks")?.unwrap_or(1),
    })
}

pub(crate) fn api_key(row: &dyn Columns) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        name: row.text("name")?,
        key_hash: row.text("key_hash")?,
        display_prefix: row.text("display_prefix")?,
        created_at: row.int("created_at")?,
        revoked_at: row.opt_int("revoked_at")?,
        scopes: latchkey_core::scope::KeyScope::split(&row.text("scopes")?),
    })
}

pub(crate) fn user(row: &dyn Columns) -> Result<User> {
    Ok(User {
        id: UserId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        email: Email::from_trusted(row.text("email")?),
        password_hash: row.text("password_hash")?,
        name: row.opt_text("name")?,
        phone_sealed: row.opt_text("phone_sealed")?,
        phone_hash: row.opt_text("phone_hash")?,
        phone_verified_at: row.opt_int("phone_verified_at")?,
        email_verified_at: row.opt_int("email_verified_at")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

pub(crate) fn application(row: &dyn Columns) -> Result<Application> {
    let client_type = row.text("client_type")?;
    Ok(Application {
        id: ApplicationId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        name: row.text("name")?,
        client_type: ClientType::parse(&client_type).ok_or_else(|| corrupt("client type", &client_type))?,
        secret_hash: row.opt_text("secret_hash")?,
        secret_prefix: row.opt_text("secret_prefix")?,
        redirect_uris: serde_json::from_str(&row.text("redirect_uris")?)
            .map_err(|e| corrupt("application redirect_uris", e))?,
        post_logout_redirect_uris: serde_json::from_str(&row.text("post_logout_redirect_uris")?)
            .map_err(|e| corrupt("application post_logout_redirect_uris", e))?,
        grant_types: serde_json::from_str(&row.text("grant_types")?)
            .map_err(|e| corrupt("application grant_types", e))?,
        settings: serde_json::from_str::<ApplicationSettings>(&row.text("settings")?)
            .map_err(|e| corrupt("application settings", e))?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

pub(crate) fn session(row: &dyn Columns) -> Result<Session> {
    Ok(Session {
        id: SessionId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        amr: serde_json::from_str(&row.text("amr")?).map_err(|e| corrupt("session amr", e))?,
        acr: row.text("acr")?,
        auth_time: row.int("auth_time")?,
        mfa_at: row.opt_int("mfa_at")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        revoked_at: row.opt_int("revoked_at")?,
        client_id: row.opt_text("client_id")?.map(ApplicationId::from_trusted),
        parent_id: row.opt_text("parent_id")?.map(SessionId::from_trusted),
        scope: row.opt_text("scope")?,
    })
}

pub(crate) fn authorization_code(row: &dyn Columns) -> Result<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: row.text("code_hash")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        client_id: ApplicationId::from_trusted(row.text("client_id")?),
        session_id: SessionId::from_trusted(row.text("session_id")?),
        redirect_uri: row.text("redirect_uri")?,
        scope: row.text("scope")?,
        nonce: row.opt_text("nonce")?,
        code_challenge: row.opt_text("code_challenge")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        consumed_at: row.opt_int("consumed_at")?,
    })
}

pub(crate) fn factor(row: &dyn Columns) -> Result<Factor> {
    let kind = row.text("kind")?;
    let status = row.text("status")?;
    Ok(Factor {
        id: FactorId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        kind: FactorKind::parse(&kind).ok_or_else(|| corrupt("factor kind", &kind))?,
        name: row.opt_text("name")?,
        status: FactorStatus::parse(&status).ok_or_else(|| corrupt("factor status", &status))?,
        secret_sealed: row.opt_text("secret_sealed")?,
        last_step: row.opt_int("last_step")?,
        created_at: row.int("created_at")?,
        expires_at: row.opt_int("expires_at")?,
        confirmed_at: row.opt_int("confirmed_at")?,
        last_used_at: row.opt_int("last_used_at")?,
        destination_sealed: row.opt_text("destination_sealed")?,
        enrolled_by: row.opt_text("enrolled_by")?,
        algorithm: row.opt_text("algorithm")?,
    })
}

pub(crate) fn challenge(row: &dyn Columns) -> Result<Challenge> {
    let purpose = row.text("purpose")?;
    Ok(Challenge {
        id: ChallengeId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        purpose: ChallengePurpose::parse(&purpose).ok_or_else(|| corrupt("challenge purpose", &purpose))?,
        amr: serde_json::from_str(&row.text("amr")?).map_err(|e| corrupt("challenge amr", e))?,
        factor_id: row.opt_text("factor_id")?.map(FactorId::from_trusted),
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        completed_at: row.opt_int("completed_at")?,
        state_sealed: row.opt_text("state_sealed")?,
    })
}

pub(crate) fn audit(row: &dyn Columns) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.text("id")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: row.opt_text("user_id")?.map(UserId::from_trusted),
        actor: row.text("actor")?,
        action: row.text("action")?,
        factor_id: row.opt_text("factor_id")?.map(FactorId::from_trusted),
        outcome: row.text("outcome")?,
        ip: row.opt_text("ip")?,
        detail: row.opt_text("detail")?,
        created_at: row.int("created_at")?,
        fan_out: true,
    })
}

/// An endpoint without its event list (the script reads that separately): `Some(empty)`
/// stands for "the listed ones".
pub(crate) fn webhook(row: &dyn Columns) -> Result<Webhook> {
    Ok(Webhook {
        id: WebhookId::from_trusted(row.text("id")?),
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        url: row.text("url")?,
        description: row.opt_text("description")?,
        events: (row.int("all_events")? == 0).then(Vec::new),
        enabled: row.int("enabled")? != 0,
        secret_sealed: row.text("secret_sealed")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

pub(crate) fn webhook_delivery(row: &dyn Columns) -> Result<WebhookDelivery> {
    let status = row.text("status")?;
    Ok(WebhookDelivery {
        id: row.text("id")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        webhook_id: WebhookId::from_trusted(row.text("webhook_id")?),
        event_id: row.text("event_id")?,
        event_type: row.text("event_type")?,
        status: WebhookDeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery status {status}")))?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        locked_until: row.opt_int("locked_until")?,
        last_status_code: row.opt_int("last_status_code")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

pub(crate) fn outbox(row: &dyn Columns) -> Result<OutboxMessage> {
    let channel = row.text("channel")?;
    let status = row.text("status")?;
    Ok(OutboxMessage {
        id: row.text("id")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        factor_id: row.opt_text("factor_id")?.map(FactorId::from_trusted),
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("outbox channel", &channel))?,
        destination_sealed: row.text("destination_sealed")?,
        payload_sealed: row.text("payload_sealed")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("outbox status", &status))?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        locked_until: row.opt_int("locked_until")?,
        expires_at: row.int("expires_at")?,
        last_error: row.opt_text("last_error")?,
        provider: row.opt_text("provider")?,
        provider_message_id: row.opt_text("provider_message_id")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// What an existing idempotency record means for a request with `request_hash`.
pub(crate) fn idempotency_state(
    request_hash: &str,
    stored_hash: String,
    status: Option<i64>,
    response_sealed: Option<String>,
) -> IdempotencyBegin {
    if stored_hash != request_hash {
        return IdempotencyBegin::Mismatch;
    }
    match (status.and_then(|s| u16::try_from(s).ok()), response_sealed) {
        (Some(status), Some(response_sealed)) => IdempotencyBegin::Done {
            status,
            response_sealed,
        },
        _ => IdempotencyBegin::InFlight,
    }
}

pub(crate) fn enrollment_ticket(row: &dyn Columns) -> Result<EnrollmentTicket> {
    let factor_kind = match row.opt_text("factor_kind")? {
        Some(k) => Some(FactorKind::parse(&k).ok_or_else(|| corrupt("ticket factor kind", &k))?),
        None => None,
    };
    Ok(EnrollmentTicket {
        id: row.text("id")?,
        token_hash: row.text("token_hash")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        factor_kind,
        allow_multiple: row.int("allow_multiple")? != 0,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        consumed_at: row.opt_int("consumed_at")?,
    })
}

pub(crate) fn email_link(row: &dyn Columns) -> Result<EmailLink> {
    let purpose = row.text("purpose")?;
    Ok(EmailLink {
        token_hash: row.text("token_hash")?,
        tenant_id: TenantId::from_trusted(row.text("tenant_id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        purpose: LinkPurpose::parse(&purpose).ok_or_else(|| corrupt("email link purpose", &purpose))?,
        code_hash: row.text("code_hash")?,
        email_hash: row.text("email_hash")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        consumed_at: row.opt_int("consumed_at")?,
    })
}
