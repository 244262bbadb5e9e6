//! Applications (OAuth 2.0 / OpenID Connect clients). Every statement names the tenant, so
//! an id of another tenant's application finds nothing.

use crate::backend::conn::{args, conflict_or, Conn};
use crate::backend::rows::{self, APPLICATION_COLUMNS};
use crate::model::Application;
use crate::{Result, StoreError};
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{ApplicationId, TenantId};

/// The JSON columns of an application: its two URI lists, its grant types, its settings.
fn json_columns(app: &Application) -> Result<[String; 4]> {
    let err = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    Ok([
        serde_json::to_string(&app.redirect_uris).map_err(err)?,
        serde_json::to_string(&app.post_logout_redirect_uris).map_err(err)?,
        serde_json::to_string(&app.grant_types).map_err(err)?,
        serde_json::to_string(&app.settings).map_err(err)?,
    ])
}

pub(crate) async fn insert<C: Conn>(c: &mut C, app: &Application) -> Result<()> {
    let [redirect_uris, post_logout, grants, settings] = json_columns(app)?;
    c.execute(
        &format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        args![
            app.id.as_str(),
            app.tenant_id.as_str(),
            &app.name,
            app.client_type.as_str(),
            &app.secret_hash,
            &app.secret_prefix,
            &redirect_uris,
            &post_logout,
            &grants,
            &settings,
            app.created_at,
            app.updated_at
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ApplicationId,
) -> Result<Option<Application>> {
    c.fetch_optional(
        &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE tenant_id = $1 AND id = $2"),
        args![tenant.as_str(), id.as_str()],
        rows::application,
    )
    .await
}

pub(crate) async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    after: Option<&ApplicationId>,
    limit: u32,
) -> Result<Vec<Application>> {
    c.fetch_all(
        &format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE tenant_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ),
        args![
            tenant.as_str(),
            after.map(|a| a.as_str()).unwrap_or(""),
            i64::from(limit)
        ],
        rows::application,
    )
    .await
}

/// Writes what a registration change may change: never the type or the secret, so a change
/// that raced a secret rotation cannot bring the old secret back.
pub(crate) async fn update<C: Conn>(c: &mut C, app: &Application) -> Result<bool> {
    let [redirect_uris, post_logout, grants, settings] = json_columns(app)?;
    let n = c
        .execute(
            "UPDATE applications SET name = $1, redirect_uris = $2, post_logout_redirect_uris = $3, \
             grant_types = $4, settings = $5, updated_at = $6 WHERE tenant_id = $7 AND id = $8",
            args![
                &app.name,
                &redirect_uris,
                &post_logout,
                &grants,
                &settings,
                app.updated_at,
                app.tenant_id.as_str(),
                app.id.as_str()
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn delete<C: Conn>(c: &mut C, tenant: &TenantId, id: &ApplicationId) -> Result<bool> {
    let n = c
        .execute(
            "DELETE FROM applications WHERE tenant_id = $1 AND id = $2",
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Replaces a confidential client's secret hash (a public client has none to replace).
pub(crate) async fn set_secret<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ApplicationId,
    secret_hash: &str,
    secret_prefix: &str,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE applications SET secret_hash = $1, secret_prefix = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5 AND client_type = 'confidential'",
            args![secret_hash, secret_prefix, now, tenant.as_str(), id.as_str()],
        )
        .await?;
    Ok(n == 1)
}
