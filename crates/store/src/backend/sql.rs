//! The store traits implemented once in SQL that both SQLite and PostgreSQL accept
//! (`$n` placeholders, `ON CONFLICT`, `RETURNING`, `CASE`). This file is compiled twice,
//! as a child of `sqlite.rs` and of `postgres.rs`; `super::Db` names the database.

use super::{lock_migrations, unlock_migrations, Db, BACKEND, MIGRATIONS};
use crate::backend::SqlStore;
use crate::model::*;
use crate::*;
use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::ids::{ApiKeyId, SessionId, TenantId, UserId};
use latchkey_core::settings::TenantSettings;
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use sqlx::{Acquire, Row};

type DbRow = <Db as sqlx::Database>::Row;

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

fn conflict_or(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict
    } else {
        StoreError::Database(e)
    }
}

fn tenant_from_row(row: &DbRow) -> Result<Tenant> {
    let settings: String = row.try_get("settings")?;
    Ok(Tenant {
        id: TenantId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        settings: serde_json::from_str::<TenantSettings>(&settings)
            .map_err(|e| StoreError::Corrupt(format!("tenant settings: {e}")))?,
        created_at: row.try_get("created_at")?,
    })
}

fn api_key_from_row(row: &DbRow) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id")?),
        tenant_id: TenantId::from_trusted(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        display_prefix: row.try_get("display_prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn user_from_row(row: &DbRow) -> Result<User> {
    Ok(User {
        id: UserId::from_trusted(row.try_get("id")?),
        tenant_id: TenantId::from_trusted(row.try_get("tenant_id")?),
        email: Email::from_trusted(row.try_get("email")?),
        password_hash: row.try_get("password_hash")?,
        name: row.try_get("name")?,
        phone_number: row.try_get("phone_number")?,
        phone_verified_at: row.try_get("phone_verified_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn session_from_row(row: &DbRow) -> Result<Session> {
    let amr: String = row.try_get("amr")?;
    Ok(Session {
        id: SessionId::from_trusted(row.try_get("id")?),
        tenant_id: TenantId::from_trusted(row.try_get("tenant_id")?),
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        amr: serde_json::from_str(&amr)
            .map_err(|e| StoreError::Corrupt(format!("session amr: {e}")))?,
        acr: row.try_get("acr")?,
        auth_time: row.try_get("auth_time")?,
        mfa_at: row.try_get("mfa_at")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn settings_json(s: &TenantSettings) -> Result<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const USER_COLUMNS: &str = "id, tenant_id, email, password_hash, name, phone_number, \
     phone_verified_at, created_at, updated_at";
const SESSION_COLUMNS: &str = "id, tenant_id, user_id, amr, acr, auth_time, mfa_at, \
     created_at, expires_at, revoked_at";
const API_KEY_COLUMNS: &str =
    "id, tenant_id, name, key_hash, display_prefix, created_at, revoked_at";

async fn insert_api_key_on<'c, E>(exec: E, key: &ApiKeyRecord) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, display_prefix, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.id.as_str())
    .bind(key.tenant_id.as_str())
    .bind(&key.name)
    .bind(&key.key_hash)
    .bind(&key.display_prefix)
    .bind(key.created_at)
    .bind(key.revoked_at)
    .execute(exec)
    .await
    .map_err(conflict_or)?;
    Ok(())
}

async fn insert_tenant_on<'c, E>(exec: E, tenant: &Tenant) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(
        "INSERT INTO tenants (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(tenant.id.as_str())
    .bind(&tenant.name)
    .bind(settings_json(&tenant.settings)?)
    .bind(tenant.created_at)
    .execute(exec)
    .await
    .map_err(conflict_or)?;
    Ok(())
}

#[async_trait]
impl TenantStore for SqlStore<Db> {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
        insert_tenant_on(&self.write, tenant).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let row = sqlx::query("SELECT id, name, settings, created_at FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn update_tenant_settings(&self, tenant: &Tenant, now: UnixMillis) -> Result<bool> {
        let done = sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3")
            .bind(settings_json(&tenant.settings)?)
            .bind(now)
            .bind(tenant.id.as_str())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn ensure_default_tenant(
        &self,
        tenant: &Tenant,
        first_key: Option<&ApiKeyRecord>,
    ) -> Result<(TenantId, bool)> {
        let mut tx = self.write.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('default_tenant_id', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(tenant.id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            insert_tenant_on(&mut *tx, tenant).await?;
            if let Some(key) = first_key {
                insert_api_key_on(&mut *tx, key).await?;
            }
        }
        let id: String = sqlx::query("SELECT value FROM meta WHERE key = 'default_tenant_id'")
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
        tx.commit().await?;
        Ok((TenantId::from_trusted(id), claimed))
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore<Db> {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        insert_api_key_on(&self.write, key).await
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.as_str())
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl UserStore for SqlStore<Db> {
    async fn insert_user(&self, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, password_hash, name, phone_number, \
             phone_verified_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(user.id.as_str())
        .bind(user.tenant_id.as_str())
        .bind(user.email.as_str())
        .bind(&user.password_hash)
        .bind(&user.name)
        .bind(&user.phone_number)
        .bind(user.phone_verified_at)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&self.write)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2"
        ))
        .bind(tenant.as_str())
        .bind(email)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(after.map(|a| a.as_str()).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(user_from_row).collect()
    }
}

#[async_trait]
impl SessionStore for SqlStore<Db> {
    async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<()> {
        let amr = serde_json::to_string(&s.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(s.id.as_str())
        .bind(s.tenant_id.as_str())
        .bind(s.user_id.as_str())
        .bind(amr)
        .bind(&s.acr)
        .bind(s.auth_time)
        .bind(s.mfa_at)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.revoked_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(refresh_hash)
        .bind(s.id.as_str())
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next_hash: &str,
        now: UnixMillis,
    ) -> Result<RotateOutcome> {
        let mut tx = self.write.begin().await?;
        // The one conditional write that makes a refresh token single-use.
        let consumed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             RETURNING session_id",
        )
        .bind(now)
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let session_id: String = match consumed {
            Some(row) => row.try_get("session_id")?,
            None => {
                let used =
                    sqlx::query("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
                        .bind(presented_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                let outcome = match used {
                    Some(row) => {
                        let sid: String = row.try_get("session_id")?;
                        sqlx::query(
                            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                        )
                        .bind(now)
                        .bind(&sid)
                        .execute(&mut *tx)
                        .await?;
                        RotateOutcome::Reused
                    }
                    None => RotateOutcome::Unknown,
                };
                tx.commit().await?;
                return Ok(outcome);
            }
        };
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(&session_id)
        .fetch_one(&mut *tx)
        .await?;
        let session = session_from_row(&row)?;
        if !session.is_live(now) {
            tx.commit().await?;
            return Ok(RotateOutcome::Dead);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(next_hash)
        .bind(&session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(session))
    }

    async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.as_str())
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn session_for_refresh(&self, hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = \
             (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)"
        ))
        .bind(hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }
}

#[async_trait]
impl ThrottleStore for SqlStore<Db> {
    async fn throttle_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: UnixMillis,
    ) -> Result<ThrottleDecision> {
        let reset_before = now.saturating_sub(
            i64::try_from(policy.reset_after_secs).unwrap_or(i64::MAX / 2000) * 1000,
        );
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
             VALUES ($1, $2, $3, 0, $4, 0) ON CONFLICT (tenant_id, scope, subject) DO NOTHING",
        )
        .bind(key.tenant_id.as_str())
        .bind(key.scope)
        .bind(&key.subject)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Counting happens before the attempt is evaluated, in the same statement that checks
        // the lock, so a burst of parallel attempts cannot all slip past the limit. On
        // PostgreSQL the row lock taken here is held until commit.
        let counted = sqlx::query(
            "UPDATE throttles SET \
               failures = CASE WHEN last_attempt_at < $4 THEN 1 ELSE failures + 1 END, \
               last_attempt_at = $5 \
             WHERE tenant_id = $1 AND scope = $2 AND subject = $3 AND locked_until <= $5 \
             RETURNING failures",
        )
        .bind(key.tenant_id.as_str())
        .bind(key.scope)
        .bind(&key.subject)
        .bind(reset_before)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let decision = match counted {
            Some(row) => {
                let failures: i64 = row.try_get("failures")?;
                let failures = u32::try_from(failures).unwrap_or(u32::MAX);
                let delay = policy.delay_after(failures);
                if delay > 0 {
                    sqlx::query(
                        "UPDATE throttles SET locked_until = $4 \
                         WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
                    )
                    .bind(key.tenant_id.as_str())
                    .bind(key.scope)
                    .bind(&key.subject)
                    .bind(now + i64::try_from(delay).unwrap_or(0) * 1000)
                    .execute(&mut *tx)
                    .await?;
                }
                ThrottleDecision::Allowed { failures }
            }
            None => {
                let locked_until: i64 = sqlx::query(
                    "SELECT locked_until FROM throttles WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
                )
                .bind(key.tenant_id.as_str())
                .bind(key.scope)
                .bind(&key.subject)
                .fetch_one(&mut *tx)
                .await?
                .try_get("locked_until")?;
                let wait_ms = (locked_until - now).max(1);
                ThrottleDecision::Locked {
                    retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
                }
            }
        };
        tx.commit().await?;
        Ok(decision)
    }

    async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
        sqlx::query("DELETE FROM throttles WHERE tenant_id = $1 AND scope = $2 AND subject = $3")
            .bind(key.tenant_id.as_str())
            .bind(key.scope)
            .bind(&key.subject)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl KeyStore for SqlStore<Db> {
    async fn ensure_server_secret(
        &self,
        name: &str,
        sealed: &str,
        now: UnixMillis,
    ) -> Result<String> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO server_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query("SELECT sealed FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("sealed")?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, public_key, private_sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.public_key)
        .bind(&key.private_sealed)
        .bind(key.created_at)
        .execute(&self.write)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    async fn active_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, public_key, private_sealed, created_at FROM signing_keys \
             WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRecord {
                    kid: r.try_get("kid")?,
                    algorithm: r.try_get("algorithm")?,
                    public_key: r.try_get("public_key")?,
                    private_sealed: r.try_get("private_sealed")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn list_sealed(&self, column: SealedColumn) -> Result<Vec<(String, String)>> {
        let (table, id, sealed) = column.location();
        let rows = sqlx::query(&format!(
            "SELECT {id} AS id, {sealed} AS sealed FROM {table} ORDER BY {id}"
        ))
        .fetch_all(&self.write)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("sealed")?)))
            .collect()
    }

    async fn replace_sealed(
        &self,
        column: SealedColumn,
        row: &str,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let (table, id, sealed) = column.location();
        let done = sqlx::query(&format!(
            "UPDATE {table} SET {sealed} = $1 WHERE {id} = $2 AND {sealed} = $3"
        ))
        .bind(new)
        .bind(row)
        .bind(old)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl Store for SqlStore<Db> {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        lock_migrations(&mut conn).await?;
        let result = apply_migrations(&mut conn).await;
        unlock_migrations(&mut conn).await;
        result
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

async fn apply_migrations(conn: &mut <Db as sqlx::Database>::Connection) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM latchkey_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<std::result::Result<_, _>>()?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let fail = |e: sqlx::Error| StoreError::Migration {
            version: *version,
            message: e.to_string(),
        };
        let mut tx = conn.begin().await?;
        // A plain string runs unprepared, which allows several statements.
        sqlx::Executor::execute(&mut *tx, *sql)
            .await
            .map_err(fail)?;
        let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
        sqlx::query(
            "INSERT INTO latchkey_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version, name, backend = BACKEND, "applied migration");
    }
    Ok(())
}
