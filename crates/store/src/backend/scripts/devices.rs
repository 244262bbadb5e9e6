//! Remembered devices.

use crate::backend::conn::{args, Conn};
use crate::backend::rows::Columns;
use crate::model::RememberedDevice;
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{DeviceId, TenantId, UserId};

/// The most live devices one user keeps: remembering another forgets the oldest.
const MAX_LIVE_PER_USER: i64 = 50;

const COLUMNS: &str = "id, tenant_id, user_id, token_hash, name, aal, created_ip, last_ip, created_at, \
                       last_used_at, expires_at, revoked_at";

fn device(r: &dyn Columns) -> Result<RememberedDevice> {
    Ok(RememberedDevice {
        id: DeviceId::from_trusted(r.text("id")?),
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        user_id: UserId::from_trusted(r.text("user_id")?),
        token_hash: r.text("token_hash")?,
        name: r.opt_text("name")?,
        aal: r.text("aal")?,
        created_ip: r.opt_text("created_ip")?,
        last_ip: r.opt_text("last_ip")?,
        created_at: r.int("created_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        expires_at: r.int("expires_at")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

/// Remembers a device (in the transaction of the verification that earned it). The user's
/// dead rows go; past [`MAX_LIVE_PER_USER`] live ones, the oldest are revoked.
pub(crate) async fn insert<C: Conn>(c: &mut C, d: &RememberedDevice) -> Result<()> {
    let now = d.created_at;
    c.execute(
        "DELETE FROM remembered_devices WHERE tenant_id = $1 AND user_id = $2 \
         AND (revoked_at IS NOT NULL OR expires_at <= $3)",
        args![d.tenant_id.as_str(), d.user_id.as_str(), now],
    )
    .await?;
    c.execute(
        "UPDATE remembered_devices SET revoked_at = $1 WHERE tenant_id = $2 AND user_id = $3 \
         AND revoked_at IS NULL AND id NOT IN (SELECT id FROM remembered_devices WHERE tenant_id = $2 \
         AND user_id = $3 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $4)",
        args![
            now,
            d.tenant_id.as_str(),
            d.user_id.as_str(),
            MAX_LIVE_PER_USER - 1
        ],
    )
    .await?;
    c.execute(
        &format!(
            "INSERT INTO remembered_devices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        args![
            d.id.as_str(),
            d.tenant_id.as_str(),
            d.user_id.as_str(),
            &d.token_hash,
            d.name.as_deref(),
            &d.aal,
            d.created_ip.as_deref(),
            d.last_ip.as_deref(),
            d.created_at,
            d.last_used_at,
            d.expires_at,
            d.revoked_at
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn use_device<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    token_hash: &str,
    ip: Option<&str>,
    now: UnixMillis,
) -> Result<Option<RememberedDevice>> {
    c.fetch_optional(
        &format!(
            "UPDATE remembered_devices SET last_used_at = $1, last_ip = $2 \
             WHERE token_hash = $3 AND tenant_id = $4 AND user_id = $5 AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING {COLUMNS}"
        ),
        args![now, ip, token_hash, tenant.as_str(), user.as_str()],
        device,
    )
    .await
}

pub(crate) async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    now: UnixMillis,
) -> Result<Vec<RememberedDevice>> {
    c.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM remembered_devices WHERE tenant_id = $1 AND user_id = $2 \
             AND revoked_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id DESC"
        ),
        args![tenant.as_str(), user.as_str(), now],
        device,
    )
    .await
}

pub(crate) async fn revoke<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    id: &DeviceId,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE remembered_devices SET revoked_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND id = $4 \
             AND revoked_at IS NULL AND expires_at > $1",
            args![now, tenant.as_str(), user.as_str(), id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Revokes every live device of a user (by user id alone: user ids are unique across
/// tenants). How many.
pub(crate) async fn revoke_all<C: Conn>(c: &mut C, user: &str, now: UnixMillis) -> Result<u64> {
    c.execute(
        "UPDATE remembered_devices SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        args![now, user],
    )
    .await
}
