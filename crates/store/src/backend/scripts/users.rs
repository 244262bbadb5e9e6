//! Users.

use crate::backend::conn::{args, conflict_or, Conn};
use crate::backend::rows::{self, USER_COLUMNS};
use crate::model::User;
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{FactorId, TenantId, UserId};

pub(crate) async fn insert<C: Conn>(c: &mut C, user: &User) -> Result<()> {
    c.execute(
        &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        args![
            user.id.as_str(),
            user.tenant_id.as_str(),
            user.email.as_str(),
            &user.password_hash,
            &user.name,
            &user.phone_sealed,
            &user.phone_hash,
            user.phone_verified_at,
            user.created_at,
            user.updated_at,
            user.email_verified_at
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(c: &mut C, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
    c.fetch_optional(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"),
        args![tenant.as_str(), id.as_str()],
        rows::user,
    )
    .await
}

pub(crate) async fn find_by_email<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    email: &str,
) -> Result<Option<User>> {
    c.fetch_optional(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2"),
        args![tenant.as_str(), email],
        rows::user,
    )
    .await
}

pub(crate) async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    after: Option<&UserId>,
    limit: u32,
) -> Result<Vec<User>> {
    c.fetch_all(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
        args![
            tenant.as_str(),
            after.map(|a| a.as_str()).unwrap_or(""),
            i64::from(limit)
        ],
        rows::user,
    )
    .await
}

pub(crate) async fn set_phone_hash<C: Conn>(c: &mut C, user: &UserId, hash: &str) -> Result<()> {
    c.execute(
        "UPDATE users SET phone_hash = $1 WHERE id = $2",
        args![hash, user.as_str()],
    )
    .await?;
    Ok(())
}

/// The user's preferred factor, when it still names one of their active factors.
pub(crate) async fn preferred_factor<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Option<FactorId>> {
    let id = c
        .fetch_optional(
            "SELECT f.id AS id FROM users u JOIN factors f \
               ON f.id = u.preferred_factor_id AND f.user_id = u.id AND f.tenant_id = u.tenant_id \
             WHERE u.tenant_id = $1 AND u.id = $2 AND f.status = 'active'",
            args![tenant.as_str(), user.as_str()],
            |r| r.text("id"),
        )
        .await?;
    Ok(id.and_then(|s| FactorId::parse(&s).ok()))
}

/// Points the user's preference at one of their active factors (one statement: the
/// factor's state is checked where it is written).
pub(crate) async fn set_preferred_factor<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    factor: &FactorId,
    now: UnixMillis,
) -> Result<bool> {
    let changed = c
        .execute(
            "UPDATE users SET preferred_factor_id = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM factors f \
               WHERE f.id = $3 AND f.user_id = $2 AND f.tenant_id = $1 AND f.status = 'active')",
            args![tenant.as_str(), user.as_str(), factor.as_str(), now],
        )
        .await?;
    Ok(changed == 1)
}
