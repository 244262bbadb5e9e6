//! The store traits in SQL for PostgreSQL through sqlx (a child of `postgres.rs`, which
//! names the database as `super::Db`). `sqlite/stores.rs` runs the same statements on
//! SQLite; a change here is a change there.

use super::{lock_migrations, unlock_migrations, Db, BACKEND, DATABASE_BYTES_SQL, MIGRATIONS};
use crate::backend::SqlStore;
use crate::model::*;
use crate::*;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use sqlx::{Acquire, Row};

use crate::backend::rows::{
    api_key as api_key_from_row, audit as audit_from_row, challenge as challenge_from_row,
    factor as factor_from_row, idempotency_state, outbox as outbox_from_row, session as session_from_row,
    settings_json, tenant as tenant_from_row, user as user_from_row, API_KEY_COLUMNS, AUDIT_COLUMNS,
    CHALLENGE_COLUMNS, FACTOR_COLUMNS, OUTBOX_COLUMNS, SESSION_COLUMNS, USER_COLUMNS,
};

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

fn conflict_or(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict
    } else {
        StoreError::Database(e)
    }
}

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

async fn insert_user_on<'c, E>(exec: E, user: &User) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, password_hash, name, phone_sealed, phone_hash, \
         phone_verified_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(user.id.as_str())
    .bind(user.tenant_id.as_str())
    .bind(user.email.as_str())
    .bind(&user.password_hash)
    .bind(&user.name)
    .bind(&user.phone_sealed)
    .bind(&user.phone_hash)
    .bind(user.phone_verified_at)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(exec)
    .await
    .map_err(conflict_or)?;
    Ok(())
}

async fn insert_challenge_on<'c, E>(exec: E, c: &Challenge) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    let amr = serde_json::to_string(&c.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(c.id.as_str())
    .bind(c.tenant_id.as_str())
    .bind(c.user_id.as_str())
    .bind(c.purpose.as_str())
    .bind(amr)
    .bind(c.factor_id.as_ref().map(|f| f.as_str()))
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.completed_at)
    .execute(exec)
    .await?;
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
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
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
        insert_user_on(&self.write, user).await
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

    async fn list_users(&self, tenant: &TenantId, after: Option<&UserId>, limit: u32) -> Result<Vec<User>> {
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

    async fn set_phone_hash(&self, user: &UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET phone_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for SqlStore<Db> {
    async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        insert_session_on(&mut tx, s, refresh_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
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
                let used = sqlx::query("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
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
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
            .bind(&session_id)
            .fetch_one(&mut *tx)
            .await?;
        let session = session_from_row(&row)?;
        if !session.is_live(now) {
            tx.commit().await?;
            return Ok(RotateOutcome::Dead);
        }
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(next_hash)
            .bind(&session_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(session))
    }

    async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
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
        let mut tx = self.write.begin().await?;
        let decision = throttle_attempt_on(&mut tx, key, policy, now).await?;
        tx.commit().await?;
        Ok(decision)
    }

    async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
        throttle_clear_on(&self.write, key).await
    }
}

#[async_trait]
impl KeyStore for SqlStore<Db> {
    async fn ensure_server_secret(&self, name: &str, sealed: &str, now: UnixMillis) -> Result<String> {
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
            "SELECT {id} AS id, {sealed} AS sealed FROM {table} WHERE {sealed} IS NOT NULL ORDER BY {id}"
        ))
        .fetch_all(&self.write)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("sealed")?)))
            .collect()
    }

    async fn replace_sealed(&self, column: SealedColumn, row: &str, old: &str, new: &str) -> Result<bool> {
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

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.write)
            .await?;
        row.map(|r| Ok(r.try_get("value")?)).transpose()
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
        )
        .bind(key)
        .bind(value)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for SqlStore<Db> {
    async fn idempotency_begin(&self, r: &IdempotencyRecord, now: UnixMillis) -> Result<IdempotencyBegin> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND (expires_at <= $2 \
             OR (scope = $3 AND key_hash = $4 AND status IS NULL AND created_at <= $5))",
        )
        .bind(r.tenant_id.as_str())
        .bind(now)
        .bind(&r.scope)
        .bind(&r.key_hash)
        .bind(now - IDEMPOTENCY_IN_FLIGHT_MS)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, scope, key_hash, request_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, scope, key_hash) DO NOTHING",
        )
        .bind(r.tenant_id.as_str())
        .bind(&r.scope)
        .bind(&r.key_hash)
        .bind(&r.request_hash)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if inserted {
            IdempotencyBegin::Started
        } else {
            let row = sqlx::query(
                "SELECT request_hash, status, response_sealed FROM idempotency_keys \
                 WHERE tenant_id = $1 AND scope = $2 AND key_hash = $3",
            )
            .bind(r.tenant_id.as_str())
            .bind(&r.scope)
            .bind(&r.key_hash)
            .fetch_one(&mut *tx)
            .await?;
            idempotency_state(
                &r.request_hash,
                row.try_get("request_hash")?,
                row.try_get::<Option<i32>, _>("status")?.map(i64::from),
                row.try_get("response_sealed")?,
            )
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        r: &IdempotencyRecord,
        status: u16,
        response_sealed: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response_sealed = $2 \
             WHERE tenant_id = $3 AND scope = $4 AND key_hash = $5",
        )
        .bind(i32::from(status))
        .bind(response_sealed)
        .bind(r.tenant_id.as_str())
        .bind(&r.scope)
        .bind(&r.key_hash)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn idempotency_abandon(&self, r: &IdempotencyRecord) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND scope = $2 AND key_hash = $3 AND status IS NULL",
        )
        .bind(r.tenant_id.as_str())
        .bind(&r.scope)
        .bind(&r.key_hash)
        .execute(&self.write)
        .await?;
        Ok(())
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
        sqlx::Executor::execute(&mut *tx, *sql).await.map_err(fail)?;
        let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
        sqlx::query("INSERT INTO latchkey_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
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

type Tx<'a> = sqlx::Transaction<'a, Db>;

async fn insert_factor_on(tx: &mut Tx<'_>, f: &Factor) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO factors ({FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15)"
    ))
    .bind(f.id.as_str())
    .bind(f.tenant_id.as_str())
    .bind(f.user_id.as_str())
    .bind(f.kind.as_str())
    .bind(&f.name)
    .bind(f.status.as_str())
    .bind(&f.secret_sealed)
    .bind(f.last_step)
    .bind(f.created_at)
    .bind(f.expires_at)
    .bind(f.confirmed_at)
    .bind(f.last_used_at)
    .bind(&f.destination_sealed)
    .bind(&f.enrolled_by)
    .bind(&f.algorithm)
    .execute(&mut **tx)
    .await
    .map_err(conflict_or)?;
    Ok(())
}

/// Replaces the user's backup codes inside `tx`: reuses the existing backup factor if there
/// is one, otherwise creates the one in `install`. Returns the factor id used.
async fn install_backup_on(tx: &mut Tx<'_>, install: &BackupInstall) -> Result<FactorId> {
    let f = &install.factor;
    let existing = sqlx::query("SELECT id FROM factors WHERE tenant_id = $1 AND user_id = $2 AND kind = $3")
        .bind(f.tenant_id.as_str())
        .bind(f.user_id.as_str())
        .bind(FactorKind::BackupCodes.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let id = match existing {
        Some(row) => FactorId::from_trusted(row.try_get("id")?),
        None => {
            insert_factor_on(tx, f).await?;
            f.id.clone()
        }
    };
    if id != f.id {
        // Hashes are bound to the factor id they were computed for; refuse a mismatch
        // rather than store codes that could never verify.
        return Err(StoreError::Corrupt(
            "backup codes hashed for another factor".into(),
        ));
    }
    sqlx::query("DELETE FROM backup_codes WHERE factor_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    for hash in &install.code_hashes {
        sqlx::query("INSERT INTO backup_codes (factor_id, code_hash) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// Activates a pending factor inside `tx` and installs backup codes if it is the user's
/// first. `None` if the factor was not pending (or has lapsed).
/// Consumes a sent code inside `tx`: live, unused, for this factor and challenge (`''` for
/// an enrollment). `false` if there is no such code.
async fn consume_code_on(
    tx: &mut Tx<'_>,
    factor: &FactorId,
    challenge: &str,
    code_hash: &str,
    now: UnixMillis,
) -> Result<bool> {
    let used = sqlx::query(
        "UPDATE otp_codes SET used_at = $1 WHERE factor_id = $2 AND challenge_id = $3 AND code_hash = $4 \
         AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(factor.as_str())
    .bind(challenge)
    .bind(code_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(used == 1)
}

async fn activate_on(
    tx: &mut Tx<'_>,
    id: &FactorId,
    check: &Check,
    backup: &BackupInstall,
    rules: &ActivationRules,
    now: UnixMillis,
) -> Result<ActivateOutcome> {
    let step = match check {
        Check::TotpStep(step) => Some(*step),
        Check::SentCode {
            code_hash,
            challenge_id,
        } => {
            let challenge = challenge_id.as_ref().map(|c| c.as_str()).unwrap_or("");
            if !consume_code_on(tx, id, challenge, code_hash, now).await? {
                return Ok(ActivateOutcome::Rejected);
            }
            None
        }
        Check::Preverified => None,
    };
    let activated = sqlx::query(
        "UPDATE factors SET status = 'active', confirmed_at = $1, last_used_at = $1, last_step = $2, \
         expires_at = NULL WHERE id = $3 AND status = 'pending' AND expires_at > $1 RETURNING user_id, tenant_id",
    )
    .bind(now)
    .bind(step)
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = activated else {
        return Ok(ActivateOutcome::NotPending);
    };
    let user: String = row.try_get("user_id")?;
    if let Some(kinds) = rules.only_without.as_ref().filter(|k| !k.is_empty()) {
        // The user's factors decide, as they are now: an enrollment started while the user
        // had none cannot complete once another one is active (the caller rolls back).
        let sql = format!(
            "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND id <> $2 AND kind IN ({})",
            placeholders(3, kinds.len())
        );
        let mut q = sqlx::query(&sql).bind(&user).bind(id.as_str());
        for k in kinds {
            q = q.bind(k.as_str());
        }
        let n: i64 = q.fetch_one(&mut **tx).await?.try_get("n")?;
        if n > 0 {
            return Ok(ActivateOutcome::Stale);
        }
    }
    let others: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND kind <> $2 AND id <> $3",
    )
    .bind(&user)
    .bind(FactorKind::BackupCodes.as_str())
    .bind(id.as_str())
    .fetch_one(&mut **tx)
    .await?
    .try_get("n")?;
    if others == 0 {
        // The account now has MFA: sessions opened without it end (but the one enabling it),
        // and enrollments others started while it had none go (review items 2 and 5).
        end_sessions_on(tx, &user, rules.keep_session.as_ref(), now).await?;
        let by = rules.enrolled_by.as_deref().unwrap_or("");
        sqlx::query(
            "DELETE FROM otp_codes WHERE factor_id IN (SELECT id FROM factors WHERE user_id = $1 \
             AND status = 'pending' AND id <> $2 AND COALESCE(enrolled_by, '') <> $3)",
        )
        .bind(&user)
        .bind(id.as_str())
        .bind(by)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "DELETE FROM factors WHERE user_id = $1 AND status = 'pending' AND id <> $2 \
             AND COALESCE(enrolled_by, '') <> $3",
        )
        .bind(&user)
        .bind(id.as_str())
        .bind(by)
        .execute(&mut **tx)
        .await?;
    }
    let has_backup: i64 = sqlx::query("SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND kind = $2")
        .bind(&user)
        .bind(FactorKind::BackupCodes.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if others == 0 && has_backup == 0 {
        install_backup_on(tx, backup).await?;
        return Ok(ActivateOutcome::Activated {
            backup_installed: true,
        });
    }
    Ok(ActivateOutcome::Activated {
        backup_installed: false,
    })
}

/// `$start, $start+1, …`: `n` numbered placeholders for an `IN (…)` list.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ends every live session of `user` but `keep` (their refresh tokens stop working with
/// them: rotation checks the session).
async fn end_sessions_on(
    tx: &mut Tx<'_>,
    user: &str,
    keep: Option<&SessionId>,
    now: UnixMillis,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3")
        .bind(now)
        .bind(user)
        .bind(keep.map(|k| k.as_str()).unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl FactorStore for SqlStore<Db> {
    async fn insert_factor(&self, factor: &Factor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        if factor.status == FactorStatus::Pending {
            sqlx::query("DELETE FROM factors WHERE user_id = $1 AND kind = $2 AND status = 'pending'")
                .bind(factor.user_id.as_str())
                .bind(factor.kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        insert_factor_on(&mut tx, factor).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_factor(&self, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>> {
        let row = sqlx::query(&format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(factor_from_row).transpose()
    }

    async fn list_factors(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>> {
        let rows = sqlx::query(&format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY CASE WHEN kind = 'backup_codes' THEN 1 ELSE 0 END, created_at, id"
        ))
        .bind(tenant.as_str())
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(factor_from_row).collect()
    }

    async fn activate_factor(
        &self,
        id: &FactorId,
        check: &Check,
        backup: &BackupInstall,
        rules: &ActivationRules,
        now: UnixMillis,
    ) -> Result<ActivateOutcome> {
        let mut tx = self.write.begin().await?;
        let out = activate_on(&mut tx, id, check, backup, rules, now).await?;
        if matches!(out, ActivateOutcome::Activated { .. }) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(out)
    }

    async fn mark_phone_verified(&self, user: &UserId, phone_hash: &str, now: UnixMillis) -> Result<()> {
        sqlx::query(
            "UPDATE users SET phone_verified_at = $1, updated_at = $1 \
             WHERE id = $2 AND phone_hash = $3 AND phone_verified_at IS NULL",
        )
        .bind(now)
        .bind(user.as_str())
        .bind(phone_hash)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn delete_factor(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &FactorId,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM backup_codes WHERE factor_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !gone {
            tx.rollback().await?;
            return Ok(false);
        }
        end_sessions_on(&mut tx, user.as_str(), keep_session, now).await?;
        let remaining: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND kind <> $2",
        )
        .bind(user.as_str())
        .bind(FactorKind::BackupCodes.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if remaining == 0 {
            // Backup codes recover a second factor; with none left they would be one.
            sqlx::query(
                "DELETE FROM backup_codes WHERE factor_id IN \
                 (SELECT id FROM factors WHERE user_id = $1 AND kind = $2)",
            )
            .bind(user.as_str())
            .bind(FactorKind::BackupCodes.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM factors WHERE user_id = $1 AND kind = $2")
                .bind(user.as_str())
                .bind(FactorKind::BackupCodes.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    async fn replace_backup_codes(
        &self,
        install: &BackupInstall,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<FactorId> {
        let mut tx = self.write.begin().await?;
        let id = install_backup_on(&mut tx, install).await?;
        end_sessions_on(&mut tx, install.factor.user_id.as_str(), keep_session, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn unused_backup_codes(&self, factor: &FactorId) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM backup_codes WHERE factor_id = $1 AND used_at IS NULL")
                .bind(factor.as_str())
                .fetch_one(&self.read)
                .await?
                .try_get("n")?,
        )
    }

    async fn reset_mfa(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "DELETE FROM backup_codes WHERE factor_id IN \
             (SELECT id FROM factors WHERE tenant_id = $1 AND user_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE challenges SET expires_at = $1 WHERE tenant_id = $2 AND user_id = $3 \
             AND completed_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        end_sessions_on(&mut tx, user.as_str(), None, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn count_users_to_reenroll(&self, tenant: &TenantId, allowed: &[FactorKind]) -> Result<i64> {
        let allowed: Vec<&str> = allowed
            .iter()
            .filter(|k| **k != FactorKind::BackupCodes)
            .map(|k| k.as_str())
            .collect();
        let sql = format!(
            "SELECT COUNT(DISTINCT user_id) AS n FROM factors f WHERE tenant_id = $1 AND status = 'active' \
             AND kind <> $2 AND NOT EXISTS (SELECT 1 FROM factors g WHERE g.user_id = f.user_id \
             AND g.status = 'active' AND g.kind IN ({}))",
            if allowed.is_empty() {
                "NULL".to_owned()
            } else {
                placeholders(3, allowed.len())
            }
        );
        let mut q = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(FactorKind::BackupCodes.as_str());
        for k in allowed {
            q = q.bind(k);
        }
        Ok(q.fetch_one(&self.read).await?.try_get("n")?)
    }
}

#[async_trait]
impl ChallengeStore for SqlStore<Db> {
    async fn insert_challenge(&self, c: &Challenge) -> Result<()> {
        insert_challenge_on(&self.write, c).await
    }

    async fn get_challenge(&self, tenant: &TenantId, id: &ChallengeId) -> Result<Option<Challenge>> {
        let row = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(challenge_from_row).transpose()
    }

    async fn choose_factor(&self, id: &ChallengeId, factor: &FactorId, now: UnixMillis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE challenges SET factor_id = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at > $3",
        )
        .bind(factor.as_str())
        .bind(id.as_str())
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_sign_in(
        &self,
        id: &ChallengeId,
        proof: &Proof,
        writes: &SignInWrites,
        now: UnixMillis,
    ) -> Result<CompleteOutcome> {
        let mut tx = self.write.begin().await?;
        let outcome = complete_on(&mut tx, id, proof, writes, now).await?;
        if matches!(outcome, CompleteOutcome::Completed { .. }) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    async fn attempt_sign_in(&self, a: &SignInAttempt, now: UnixMillis) -> Result<AttemptOutcome> {
        let key = &a.throttle;
        let mut tx = self.write.begin().await?;
        // Lock the authenticator's counter row until commit (creating it if need be, and
        // reading it, in one round trip): concurrent attempts against it are decided one
        // after another, each on the count the previous one left.
        let row = sqlx::query(
            "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
             VALUES ($1, $2, $3, 0, $4, 0) ON CONFLICT (tenant_id, scope, subject) \
             DO UPDATE SET failures = throttles.failures RETURNING failures, locked_until",
        )
        .bind(key.tenant_id.as_str())
        .bind(key.scope)
        .bind(&key.subject)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let (failures, locked_until): (i64, i64) = (row.try_get("failures")?, row.try_get("locked_until")?);
        if locked_until > now {
            if let Some(event) = &a.on_locked {
                insert_audit_on(&mut *tx, event).await?;
            }
            tx.commit().await?;
            return Ok(AttemptOutcome::Locked {
                retry_after_secs: secs_until(locked_until, now),
            });
        }
        let outcome = match &a.proof {
            // An enrollment's proof writes several rows before it can fail: a savepoint.
            Some(proof @ Proof::Enrollment { .. }) => {
                let mut sp = tx.begin().await?;
                let outcome = complete_on(&mut sp, &a.challenge_id, proof, &a.writes, now).await?;
                if matches!(outcome, CompleteOutcome::Completed { .. }) {
                    sp.commit().await?;
                } else {
                    sp.rollback().await?;
                }
                outcome
            }
            // Any other proof is one conditional write: if it fails, only the challenge's
            // completion (a row this transaction holds locked) is to be undone. Two round
            // trips fewer than a savepoint on the hot path.
            Some(proof) => {
                let outcome = complete_on(&mut tx, &a.challenge_id, proof, &a.writes, now).await?;
                if matches!(outcome, CompleteOutcome::ProofRejected | CompleteOutcome::Stale) {
                    sqlx::query("UPDATE challenges SET completed_at = NULL WHERE id = $1")
                        .bind(a.challenge_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                outcome
            }
            None => CompleteOutcome::ProofRejected,
        };
        let result = match outcome {
            CompleteOutcome::Completed { backup_installed } => {
                if failures != 0 || locked_until != 0 {
                    throttle_clear_on(&mut *tx, key).await?;
                }
                AttemptOutcome::Completed { backup_installed }
            }
            CompleteOutcome::Stale => {
                // Not a guess: nothing is counted, and the challenge is closed for good.
                sqlx::query("UPDATE challenges SET expires_at = $1 WHERE id = $2 AND completed_at IS NULL")
                    .bind(now)
                    .bind(a.challenge_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                AttemptOutcome::Stale
            }
            CompleteOutcome::ChallengeGone => {
                throttle_attempt_on(&mut tx, key, &a.policy, now).await?;
                AttemptOutcome::ChallengeGone
            }
            CompleteOutcome::ProofRejected => {
                throttle_attempt_on(&mut tx, key, &a.policy, now).await?;
                if let Some(event) = &a.on_failure {
                    insert_audit_on(&mut *tx, event).await?;
                }
                AttemptOutcome::Rejected
            }
        };
        tx.commit().await?;
        Ok(result)
    }
}

/// Completes the challenge, consumes the proof and performs `writes` inside `tx`. On any
/// outcome but `Completed` the caller must roll back what this wrote.
async fn complete_on(
    tx: &mut Tx<'_>,
    id: &ChallengeId,
    proof: &Proof,
    writes: &SignInWrites,
    now: UnixMillis,
) -> Result<CompleteOutcome> {
    let completed = sqlx::query(
        "UPDATE challenges SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if !completed {
        return Ok(CompleteOutcome::ChallengeGone);
    }
    let outcome = match proof {
        Proof::TotpStep { factor_id, step } => {
            // The step only moves forward: a code is accepted once, across challenges.
            let moved = sqlx::query(
                "UPDATE factors SET last_step = $1, last_used_at = $2 WHERE id = $3 AND status = 'active' \
                     AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(now)
            .bind(factor_id.as_str())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            (moved == 1).then_some(false)
        }
        Proof::BackupCode { factor_id, code_hash } => {
            let used = sqlx::query(
                    "UPDATE backup_codes SET used_at = $1 WHERE factor_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(now)
                .bind(factor_id.as_str())
                .bind(code_hash)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if used == 1 {
                sqlx::query("UPDATE factors SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(factor_id.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
            (used == 1).then_some(false)
        }
        Proof::SentCode { factor_id, code_hash } => {
            if consume_code_on(tx, factor_id, id.as_str(), code_hash, now).await? {
                sqlx::query("UPDATE factors SET last_used_at = $1 WHERE id = $2 AND status = 'active'")
                    .bind(now)
                    .bind(factor_id.as_str())
                    .execute(&mut **tx)
                    .await?;
                Some(false)
            } else {
                None
            }
        }
        Proof::Enrollment {
            factor_id,
            check,
            backup,
            rules,
        } => match activate_on(tx, factor_id, check, backup, rules, now).await? {
            ActivateOutcome::Activated { backup_installed } => Some(backup_installed),
            ActivateOutcome::Stale => return Ok(CompleteOutcome::Stale),
            ActivateOutcome::Rejected | ActivateOutcome::NotPending => None,
        },
    };
    Ok(match outcome {
        Some(backup_installed) => {
            if let Some(key) = &writes.clear_throttle {
                throttle_clear_on(&mut **tx, key).await?;
            }
            match (&writes.audit, &writes.session) {
                (Some(event), Some((session, refresh_hash))) => {
                    insert_audit_and_session_on(tx, event, session, refresh_hash).await?;
                }
                (audit, session) => {
                    if let Some(event) = audit {
                        insert_audit_on(&mut **tx, event).await?;
                    }
                    if let Some((session, refresh_hash)) = session {
                        insert_session_on(tx, session, refresh_hash).await?;
                    }
                }
            }
            CompleteOutcome::Completed { backup_installed }
        }
        None => CompleteOutcome::ProofRejected,
    })
}

#[async_trait]
impl AuditStore for SqlStore<Db> {
    async fn insert_audit(&self, e: &AuditEvent) -> Result<()> {
        insert_audit_on(&self.write, e).await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE tenant_id = $1 \
             AND ($2 = '' OR user_id = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(user.map(|u| u.as_str()).unwrap_or(""))
        .bind(before.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

async fn bump_stat_on<'c, E>(exec: E, tenant: &str, metric: &str, label: &str) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(
        "INSERT INTO delivery_stats (tenant_id, metric, label, count) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, metric, label) DO UPDATE SET count = delivery_stats.count + 1",
    )
    .bind(tenant)
    .bind(metric)
    .bind(label)
    .execute(exec)
    .await?;
    Ok(())
}

#[async_trait]
impl DeliveryStore for SqlStore<Db> {
    async fn issue_code(&self, issue: &CodeIssue, now: UnixMillis) -> Result<IssueOutcome> {
        let tenant = issue.tenant_id.as_str();
        let mut tx = self.write.begin().await?;
        // The cooldown: set only if the previous one has run out, atomically.
        let set = sqlx::query(
            "INSERT INTO cooldowns (tenant_id, subject, until_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, subject) DO UPDATE SET until_at = $3 WHERE cooldowns.until_at <= $4 \
             RETURNING until_at",
        )
        .bind(tenant)
        .bind(&issue.cooldown_key)
        .bind(now + issue.cooldown_secs * 1000)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if set.is_none() {
            let until: i64 =
                sqlx::query("SELECT until_at FROM cooldowns WHERE tenant_id = $1 AND subject = $2")
                    .bind(tenant)
                    .bind(&issue.cooldown_key)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("until_at")?;
            tx.rollback().await?;
            return Ok(IssueOutcome::Cooldown {
                retry_after_secs: secs_until(until, now),
            });
        }
        // Every limit, counted in fixed windows; the first one reached refuses the send.
        for limit in &issue.limits {
            let window_ms = limit.window_secs * 1000;
            let window_start = now - now.rem_euclid(window_ms);
            let counted = sqlx::query(
                "INSERT INTO send_counters (tenant_id, scope, subject, window_start, count) VALUES ($1, $2, $3, $4, 1) \
                 ON CONFLICT (tenant_id, scope, subject, window_start) DO UPDATE \
                 SET count = send_counters.count + 1 WHERE send_counters.count < $5 RETURNING count",
            )
            .bind(tenant)
            .bind(limit.scope)
            .bind(&limit.subject)
            .bind(window_start)
            .bind(i64::from(limit.limit))
            .fetch_optional(&mut *tx)
            .await?;
            if counted.is_none() || limit.limit == 0 {
                tx.rollback().await?;
                return Ok(IssueOutcome::Limited {
                    scope: limit.scope,
                    retry_after_secs: secs_until(window_start + window_ms, now),
                });
            }
        }
        if let Some(factor) = &issue.new_factor {
            sqlx::query("DELETE FROM otp_codes WHERE factor_id IN (SELECT id FROM factors WHERE user_id = $1 AND kind = $2 AND status = 'pending')")
                .bind(factor.user_id.as_str())
                .bind(factor.kind.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM factors WHERE user_id = $1 AND kind = $2 AND status = 'pending'")
                .bind(factor.user_id.as_str())
                .bind(factor.kind.as_str())
                .execute(&mut *tx)
                .await?;
            insert_factor_on(&mut tx, factor).await?;
        }
        let c = &issue.code;
        let challenge = c.challenge_id.as_ref().map(|id| id.as_str()).unwrap_or("");
        // A resend invalidates the previous code: at most one live code per factor and challenge.
        sqlx::query(
            "UPDATE otp_codes SET used_at = $1 WHERE factor_id = $2 AND challenge_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(c.factor_id.as_str())
        .bind(challenge)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO otp_codes (id, factor_id, challenge_id, code_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.id)
        .bind(c.factor_id.as_str())
        .bind(challenge)
        .bind(&c.code_hash)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        if let Some(id) = &c.challenge_id {
            // A code lives as long as its message says: the challenge it answers does too.
            sqlx::query(
                "UPDATE challenges SET expires_at = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at < $1",
            )
            .bind(c.expires_at)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let m = &issue.message;
        sqlx::query(&format!(
            "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17)"
        ))
        .bind(&m.id)
        .bind(m.tenant_id.as_str())
        .bind(m.user_id.as_str())
        .bind(m.factor_id.as_str())
        .bind(m.channel.as_str())
        .bind(&m.destination_sealed)
        .bind(&m.payload_sealed)
        .bind(m.status.as_str())
        .bind(m.attempts)
        .bind(m.next_attempt_at)
        .bind(m.locked_until)
        .bind(m.expires_at)
        .bind(&m.last_error)
        .bind(&m.provider)
        .bind(&m.provider_message_id)
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(&mut *tx)
        .await?;
        for (metric, label) in &issue.stats {
            bump_stat_on(&mut *tx, tenant, metric, label).await?;
        }
        tx.commit().await?;
        Ok(IssueOutcome::Issued)
    }

    async fn claim_outbox(&self, now: UnixMillis, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMessage>> {
        // The outer conditions repeat the inner ones: PostgreSQL re-checks them on the row
        // version it locks, so a message another replica just claimed is skipped.
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 \
               AND (locked_until IS NULL OR locked_until <= $2) ORDER BY next_attempt_at LIMIT $3) \
             AND status IN ('queued', 'sending') AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn finish_outbox(&self, id: &str, u: &DeliveryUpdate, now: UnixMillis) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3, provider = COALESCE($4, provider), \
             provider_message_id = COALESCE($5, provider_message_id), locked_until = NULL, updated_at = $6 WHERE id = $7",
        )
        .bind(u.status.as_str())
        .bind(u.next_attempt_at)
        .bind(&u.last_error)
        .bind(&u.provider)
        .bind(&u.provider_message_id)
        .bind(now)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn last_delivery(&self, factor: &FactorId) -> Result<Option<OutboxMessage>> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE factor_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(factor.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    async fn bump_stat(&self, tenant: &TenantId, metric: &str, label: &str) -> Result<()> {
        bump_stat_on(&self.write, tenant.as_str(), metric, label).await
    }

    async fn delivery_stats(&self, tenant: &TenantId) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT metric, label, count FROM delivery_stats WHERE tenant_id = $1 ORDER BY metric, label",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("metric")?, r.try_get("label")?, r.try_get("count")?)))
            .collect()
    }

    async fn get_provider(&self, tenant: &TenantId, channel: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT config_sealed FROM tenant_providers WHERE id = $1")
            .bind(crate::provider_row_id(tenant, channel))
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get("config_sealed")).transpose()?)
    }

    async fn put_provider(
        &self,
        tenant: &TenantId,
        channel: &str,
        sealed: &str,
        now: UnixMillis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenant_providers (id, tenant_id, channel, config_sealed, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET config_sealed = $4, updated_at = $5",
        )
        .bind(crate::provider_row_id(tenant, channel))
        .bind(tenant.as_str())
        .bind(channel)
        .bind(sealed)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn delete_provider(&self, tenant: &TenantId, channel: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM tenant_providers WHERE id = $1")
            .bind(crate::provider_row_id(tenant, channel))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn secs_until(at: UnixMillis, now: UnixMillis) -> u64 {
    u64::try_from(((at - now).max(1) + 999) / 1000).unwrap_or(1)
}

#[async_trait]
impl SeedStore for SqlStore<Db> {
    async fn seed(&self, users: &[User], factors: &[Factor], challenges: &[Challenge]) -> Result<()> {
        // One statement per chunk: rows travel as arrays and `UNNEST` turns them back into
        // rows (row-by-row inserts took minutes for a million users).
        const CHUNK: usize = 10_000;
        for chunk in users.chunks(CHUNK) {
            sqlx::query(
                "INSERT INTO users (id, tenant_id, email, password_hash, name, phone_sealed, phone_hash, \
                 phone_verified_at, created_at, updated_at) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], \
                 $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[], \
                 $10::BIGINT[])",
            )
            .bind(chunk.iter().map(|u| u.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|u| u.email.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|u| u.password_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_verified_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.updated_at).collect::<Vec<_>>())
            .execute(&self.write)
            .await
            .map_err(conflict_or)?;
        }
        for chunk in factors.chunks(CHUNK) {
            sqlx::query(&format!(
                "INSERT INTO factors ({FACTOR_COLUMNS}) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], \
                 $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], \
                 $11::BIGINT[], $12::BIGINT[], $13::TEXT[], $14::TEXT[], $15::TEXT[])"
            ))
            .bind(chunk.iter().map(|f| f.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.user_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.secret_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.last_step).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.expires_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.confirmed_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.last_used_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.destination_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.enrolled_by.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.algorithm.clone()).collect::<Vec<_>>())
            .execute(&self.write)
            .await
            .map_err(conflict_or)?;
        }
        for chunk in challenges.chunks(CHUNK) {
            let amr = chunk
                .iter()
                .map(|c| serde_json::to_string(&c.amr).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            sqlx::query(&format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS}) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], \
                 $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[])"
            ))
            .bind(chunk.iter().map(|c| c.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.user_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.purpose.as_str()).collect::<Vec<_>>())
            .bind(amr)
            .bind(
                chunk
                    .iter()
                    .map(|c| c.factor_id.as_ref().map(|f| f.to_string()))
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|c| c.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.expires_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.completed_at).collect::<Vec<_>>())
            .execute(&self.write)
            .await?;
        }
        Ok(())
    }

    async fn database_bytes(&self) -> Result<i64> {
        Ok(sqlx::query(DATABASE_BYTES_SQL)
            .fetch_one(&self.read)
            .await?
            .try_get::<i64, _>(0)?)
    }
}

/// Counts one attempt against `key` inside `tx` unless it is locked; sets the next delay.
async fn throttle_attempt_on(
    tx: &mut Tx<'_>,
    key: &ThrottleKey,
    policy: &ThrottlePolicy,
    now: UnixMillis,
) -> Result<ThrottleDecision> {
    let reset_before =
        now.saturating_sub(i64::try_from(policy.reset_after_secs).unwrap_or(i64::MAX / 2000) * 1000);
    sqlx::query(
        "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
             VALUES ($1, $2, $3, 0, $4, 0) ON CONFLICT (tenant_id, scope, subject) DO NOTHING",
    )
    .bind(key.tenant_id.as_str())
    .bind(key.scope)
    .bind(&key.subject)
    .bind(now)
    .execute(&mut **tx)
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
    .fetch_optional(&mut **tx)
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
                .execute(&mut **tx)
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
            .fetch_one(&mut **tx)
            .await?
            .try_get("locked_until")?;
            let wait_ms = (locked_until - now).max(1);
            ThrottleDecision::Locked {
                retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
            }
        }
    };
    Ok(decision)
}

async fn throttle_clear_on<'c, E>(exec: E, key: &ThrottleKey) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    // Reset rather than delete: a row that vanished between another request's insert and
    // update would leave that request nothing to count against.
    sqlx::query(
        "UPDATE throttles SET failures = 0, locked_until = 0 \
         WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
    )
    .bind(key.tenant_id.as_str())
    .bind(key.scope)
    .bind(&key.subject)
    .execute(exec)
    .await?;
    Ok(())
}

async fn insert_audit_on<'c, E>(exec: E, e: &AuditEvent) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(&format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&e.id)
    .bind(e.tenant_id.as_str())
    .bind(e.user_id.as_ref().map(|u| u.as_str()))
    .bind(&e.actor)
    .bind(&e.action)
    .bind(e.factor_id.as_ref().map(|f| f.as_str()))
    .bind(&e.outcome)
    .bind(&e.ip)
    .bind(&e.detail)
    .bind(e.created_at)
    .execute(exec)
    .await?;
    Ok(())
}

async fn insert_session_on(tx: &mut Tx<'_>, s: &Session, refresh_hash: &str) -> Result<()> {
    let amr = serde_json::to_string(&s.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
        .bind(refresh_hash)
        .bind(s.id.as_str())
        .bind(s.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The audit record, the session and its first refresh token in one statement (one round
/// trip instead of three on the verify path). Foreign keys are checked at the statement's end,
/// when the session row exists.
async fn insert_audit_and_session_on(
    tx: &mut Tx<'_>,
    e: &AuditEvent,
    s: &Session,
    refresh_hash: &str,
) -> Result<()> {
    let amr = serde_json::to_string(&s.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(&format!(
        "WITH audit AS (INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)), \
         session AS (INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20)) \
         INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($21, $11, $18)"
    ))
    .bind(&e.id)
    .bind(e.tenant_id.as_str())
    .bind(e.user_id.as_ref().map(|u| u.as_str()))
    .bind(&e.actor)
    .bind(&e.action)
    .bind(e.factor_id.as_ref().map(|f| f.as_str()))
    .bind(&e.outcome)
    .bind(&e.ip)
    .bind(&e.detail)
    .bind(e.created_at)
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
    .bind(refresh_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
