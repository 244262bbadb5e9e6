//! What every message Latchkey sends is made of, said once for the codes of SMS and email
//! factors (`factors::sent_code`), emailed links (`recovery`) and enrollment tickets
//! (`tickets`): the outbox row, its destination and content sealed to its id, and the
//! tenant's send limits that count it.

use super::sealed::seal_text;
use super::{ServiceError, ServiceResult};
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::Channel;
use latchkey_core::ids::{FactorId, TenantId, UserId};
use latchkey_core::rand::SecureRandom;
use latchkey_core::seal::Keyring;
use latchkey_core::settings::SendLimits;
use latchkey_store::model::{DeliveryStatus, OutboxMessage, SealedColumn, SendLimit};

/// One message to queue: who it is for, where it goes and what it says (`payload`: an SMS
/// `{"body"}` or an email `{"subject","text","html"}`).
pub(crate) struct Outgoing<'a> {
    pub tenant: &'a TenantId,
    pub user: &'a UserId,
    /// The factor whose code it carries; `None` for a link's email.
    pub factor: Option<&'a FactorId>,
    pub channel: Channel,
    pub destination: &'a str,
    pub payload: &'a serde_json::Value,
    /// Dropped unsent after this.
    pub expires_at: UnixMillis,
}

/// The outbox row for `m`, queued at `now`: a new message id, and its destination and
/// payload sealed under the master key, bound to that id.
pub(crate) fn queued_message(
    keyring: &Keyring,
    rng: &dyn SecureRandom,
    now: UnixMillis,
    m: Outgoing<'_>,
) -> ServiceResult<OutboxMessage> {
    let id = format!("msg_{}", latchkey_core::ids::ulid(now, rng));
    let payload = zeroize::Zeroizing::new(m.payload.to_string().into_bytes());
    let payload_sealed = keyring
        .seal(&payload, &SealedColumn::OutboxPayload.aad(&id), rng)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let destination_sealed = seal_text(keyring, rng, SealedColumn::OutboxDestination, &id, m.destination)?;
    Ok(OutboxMessage {
        id,
        tenant_id: m.tenant.clone(),
        user_id: m.user.clone(),
        factor_id: m.factor.cloned(),
        channel: m.channel,
        destination_sealed,
        payload_sealed,
        status: DeliveryStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        expires_at: m.expires_at,
        last_error: None,
        provider: None,
        provider_message_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// The tenant's limits on one message: per destination (by its keyed hash, never the value),
/// user, tenant and, when known, client address, each hourly and daily.
pub(crate) fn send_limits(
    l: &SendLimits,
    destination_key: &str,
    user: &UserId,
    tenant: &TenantId,
    ip: Option<&str>,
) -> Vec<SendLimit> {
    let limit = |scope, subject: &str, window_secs, limit| SendLimit {
        scope,
        subject: subject.to_owned(),
        window_secs,
        limit,
    };
    let mut limits = vec![
        limit("destination_hourly", destination_key, 3600, l.destination_hourly),
        limit("destination_daily", destination_key, 86_400, l.destination_daily),
        limit("user_hourly", user.as_str(), 3600, l.user_hourly),
        limit("user_daily", user.as_str(), 86_400, l.user_daily),
        limit("tenant_hourly", tenant.as_str(), 3600, l.tenant_hourly),
        limit("tenant_daily", tenant.as_str(), 86_400, l.tenant_daily),
    ];
    if let Some(ip) = ip {
        limits.push(limit("ip_hourly", ip, 3600, l.ip_hourly));
        limits.push(limit("ip_daily", ip, 86_400, l.ip_daily));
    }
    limits
}
