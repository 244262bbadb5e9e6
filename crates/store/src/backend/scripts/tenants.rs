//! Tenants and their API keys.

use crate::backend::conn::{args, conflict_or, fetch_one, Conn};
use crate::backend::rows::{self, settings_json, API_KEY_COLUMNS};
use crate::model::{ApiKeyRecord, Tenant};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{ApiKeyId, TenantId};

pub(crate) async fn insert<C: Conn>(c: &mut C, tenant: &Tenant) -> Result<()> {
    let settings = settings_json(&tenant.settings)?;
    c.execute(
        "INSERT INTO tenants (id, name, settings, created_at, updated_at, slug, host) \
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
        args![
            tenant.id.as_str(),
            &tenant.name,
            &settings,
            tenant.created_at,
            tenant.slug.as_deref(),
            tenant.host.as_deref()
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(c: &mut C, id: &TenantId) -> Result<Option<Tenant>> {
    c.fetch_optional(
        "SELECT id, name, settings, created_at, slug, host, \
         (SELECT COUNT(*) FROM mfa_rules WHERE mfa_rules.tenant_id = tenants.id) AS mfa_rules, \
         (SELECT COUNT(*) FROM webhooks WHERE webhooks.tenant_id = tenants.id) AS webhooks \
         FROM tenants WHERE id = $1",
        args![id.as_str()],
        rows::tenant,
    )
    .await
}

pub(crate) async fn update_settings<C: Conn>(c: &mut C, tenant: &Tenant, now: UnixMillis) -> Result<bool> {
    let settings = settings_json(&tenant.settings)?;
    let n = c
        .execute(
            "UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3",
            args![&settings, now, tenant.id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Sets where the tenant's issuer lives (its slug and host; `None` for none).
pub(crate) async fn set_addresses<C: Conn>(
    c: &mut C,
    id: &TenantId,
    slug: Option<&str>,
    host: Option<&str>,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE tenants SET slug = $1, host = $2, updated_at = $3 WHERE id = $4",
            args![slug, host, now, id.as_str()],
        )
        .await
        .map_err(conflict_or)?;
    Ok(n == 1)
}

/// Every tenant with a slug or a host: the routing table of issuers.
pub(crate) async fn list_addressed<C: Conn>(c: &mut C) -> Result<Vec<Tenant>> {
    c.fetch_all(
        "SELECT id, name, settings, created_at, slug, host, CAST(0 AS BIGINT) AS mfa_rules, \
         CAST(1 AS BIGINT) AS webhooks FROM tenants \
         WHERE slug IS NOT NULL OR host IS NOT NULL ORDER BY id",
        args![],
        rows::tenant,
    )
    .await
}

/// Claims the default tenant's slot in `meta`; the first claim creates the tenant and key.
pub(crate) async fn ensure_default<C: Conn>(
    c: &mut C,
    tenant: &Tenant,
    first_key: Option<&ApiKeyRecord>,
) -> Result<(TenantId, bool)> {
    let claimed = c
        .execute(
            "INSERT INTO meta (key, value) VALUES ('default_tenant_id', $1) ON CONFLICT (key) DO NOTHING",
            args![tenant.id.as_str()],
        )
        .await?
        == 1;
    if claimed {
        insert(c, tenant).await?;
        if let Some(key) = first_key {
            insert_api_key(c, key).await?;
        }
    }
    let id = fetch_one(
        c,
        "SELECT value FROM meta WHERE key = 'default_tenant_id'",
        args![],
        |r| r.text("value"),
    )
    .await?;
    Ok((TenantId::from_trusted(id), claimed))
}

pub(crate) async fn insert_api_key<C: Conn>(c: &mut C, key: &ApiKeyRecord) -> Result<()> {
    c.execute(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, display_prefix, created_at, revoked_at, scopes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            key.id.as_str(),
            key.tenant_id.as_str(),
            &key.name,
            &key.key_hash,
            &key.display_prefix,
            key.created_at,
            key.revoked_at,
            &latchkey_core::scope::KeyScope::join(&key.scopes)
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn find_api_key<C: Conn>(c: &mut C, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
    c.fetch_optional(
        &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"),
        args![key_hash],
        rows::api_key,
    )
    .await
}

pub(crate) async fn list_api_keys<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
    c.fetch_all(
        &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"),
        args![tenant.as_str()],
        rows::api_key,
    )
    .await
}

pub(crate) async fn revoke_api_key<C: Conn>(c: &mut C, id: &ApiKeyId, now: UnixMillis) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            args![now, id.as_str()],
        )
        .await?;
    Ok(n == 1)
}
