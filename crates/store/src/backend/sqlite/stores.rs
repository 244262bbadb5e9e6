//! The store traits over SQLite. Every write is one job on the writer thread (so all its
//! statements share one transaction); every read runs on a pooled read-only connection.
//! Inputs are cloned into write jobs, which outlive the borrowed call.

use super::engine::Write;
use super::{SqliteStore, MIGRATIONS};
use crate::backend::rows::{
    self, idempotency_state, settings_json, API_KEY_COLUMNS, AUDIT_COLUMNS, CHALLENGE_COLUMNS,
    FACTOR_COLUMNS, OUTBOX_COLUMNS, SESSION_COLUMNS, USER_COLUMNS,
};
use crate::model::*;
use crate::*;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use rusqlite::{params, Connection, Row};

fn conflict_or(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation)
            if matches!(
                e.sqlite_error().map(|f| f.extended_code),
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
            ) =>
        {
            StoreError::Conflict
        }
        _ => StoreError::Sqlite(e),
    }
}

// rusqlite rows borrow their statement, so the shared mappers are wrapped for use as
// `FnOnce(&Row)` arguments.
fn tenant_from_row(row: &Row) -> Result<Tenant> {
    rows::tenant(row)
}
fn api_key_from_row(row: &Row) -> Result<ApiKeyRecord> {
    rows::api_key(row)
}
fn user_from_row(row: &Row) -> Result<User> {
    rows::user(row)
}
fn session_from_row(row: &Row) -> Result<Session> {
    rows::session(row)
}
fn factor_from_row(row: &Row) -> Result<Factor> {
    rows::factor(row)
}
fn challenge_from_row(row: &Row) -> Result<Challenge> {
    rows::challenge(row)
}
fn audit_from_row(row: &Row) -> Result<AuditEvent> {
    rows::audit(row)
}
fn outbox_from_row(row: &Row) -> Result<OutboxMessage> {
    rows::outbox(row)
}

/// One optional row through `map`.
fn query_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Every row through `map`.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs a statement; returns the number of rows changed.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

fn count(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<i64> {
    Ok(conn.prepare_cached(sql)?.query_row(params, |r| r.get(0))?)
}

fn insert_api_key_on(c: &Connection, key: &ApiKeyRecord) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, display_prefix, created_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key.id.as_str(),
        key.tenant_id.as_str(),
        key.name,
        key.key_hash,
        key.display_prefix,
        key.created_at,
        key.revoked_at
    ])
    .map_err(conflict_or)?;
    Ok(())
}

fn insert_tenant_on(c: &Connection, tenant: &Tenant) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO tenants (id, name, settings, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![
        tenant.id.as_str(),
        tenant.name,
        settings_json(&tenant.settings)?,
        tenant.created_at
    ])
    .map_err(conflict_or)?;
    Ok(())
}

fn insert_user_on(c: &Connection, user: &User) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO users (id, tenant_id, email, password_hash, name, phone_sealed, phone_hash, \
         phone_verified_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        user.id.as_str(),
        user.tenant_id.as_str(),
        user.email.as_str(),
        user.password_hash,
        user.name,
        user.phone_sealed,
        user.phone_hash,
        user.phone_verified_at,
        user.created_at,
        user.updated_at
    ])
    .map_err(conflict_or)?;
    Ok(())
}

fn insert_challenge_on(c: &Connection, ch: &Challenge) -> Result<()> {
    let amr = serde_json::to_string(&ch.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.prepare_cached(&format!(
        "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        ch.id.as_str(),
        ch.tenant_id.as_str(),
        ch.user_id.as_str(),
        ch.purpose.as_str(),
        amr,
        ch.factor_id.as_ref().map(|f| f.as_str()),
        ch.created_at,
        ch.expires_at,
        ch.completed_at
    ])?;
    Ok(())
}

fn insert_factor_on(c: &Connection, f: &Factor) -> Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO factors ({FACTOR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
         ?14, ?15)"
    ))?
    .execute(params![
        f.id.as_str(),
        f.tenant_id.as_str(),
        f.user_id.as_str(),
        f.kind.as_str(),
        f.name,
        f.status.as_str(),
        f.secret_sealed,
        f.last_step,
        f.created_at,
        f.expires_at,
        f.confirmed_at,
        f.last_used_at,
        f.destination_sealed,
        f.enrolled_by,
        f.algorithm
    ])
    .map_err(conflict_or)?;
    Ok(())
}

fn insert_audit_on(c: &Connection, e: &AuditEvent) -> Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        e.id,
        e.tenant_id.as_str(),
        e.user_id.as_ref().map(|u| u.as_str()),
        e.actor,
        e.action,
        e.factor_id.as_ref().map(|f| f.as_str()),
        e.outcome,
        e.ip,
        e.detail,
        e.created_at
    ])?;
    Ok(())
}

fn insert_session_on(c: &Connection, s: &Session, refresh_hash: &str) -> Result<()> {
    let amr = serde_json::to_string(&s.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.prepare_cached(&format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        s.id.as_str(),
        s.tenant_id.as_str(),
        s.user_id.as_str(),
        amr,
        s.acr,
        s.auth_time,
        s.mfa_at,
        s.created_at,
        s.expires_at,
        s.revoked_at
    ])?;
    run(
        c,
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
        params![refresh_hash, s.id.as_str(), s.created_at],
    )?;
    Ok(())
}

fn throttle_clear_on(c: &Connection, key: &ThrottleKey) -> Result<()> {
    // Reset rather than delete, as on PostgreSQL (see sql.rs).
    run(
        c,
        "UPDATE throttles SET failures = 0, locked_until = 0 \
         WHERE tenant_id = ?1 AND scope = ?2 AND subject = ?3",
        params![key.tenant_id.as_str(), key.scope, key.subject],
    )?;
    Ok(())
}

fn bump_stat_on(c: &Connection, tenant: &str, metric: &str, label: &str) -> Result<()> {
    run(
        c,
        "INSERT INTO delivery_stats (tenant_id, metric, label, count) VALUES (?1, ?2, ?3, 1) \
         ON CONFLICT (tenant_id, metric, label) DO UPDATE SET count = delivery_stats.count + 1",
        params![tenant, metric, label],
    )?;
    Ok(())
}

fn throttle_attempt_on(
    c: &Connection,
    key: &ThrottleKey,
    policy: &ThrottlePolicy,
    now: UnixMillis,
) -> Result<ThrottleDecision> {
    let reset_before =
        now.saturating_sub(i64::try_from(policy.reset_after_secs).unwrap_or(i64::MAX / 2000) * 1000);
    let (tenant, scope, subject) = (key.tenant_id.as_str(), key.scope, key.subject.as_str());
    run(
        c,
        "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
         VALUES (?1, ?2, ?3, 0, ?4, 0) ON CONFLICT (tenant_id, scope, subject) DO NOTHING",
        params![tenant, scope, subject, now],
    )?;
    let counted: Option<i64> = query_one(
        c,
        "UPDATE throttles SET \
           failures = CASE WHEN last_attempt_at < ?4 THEN 1 ELSE failures + 1 END, \
           last_attempt_at = ?5 \
         WHERE tenant_id = ?1 AND scope = ?2 AND subject = ?3 AND locked_until <= ?5 \
         RETURNING failures",
        params![tenant, scope, subject, reset_before, now],
        |r| Ok(r.get(0)?),
    )?;
    Ok(match counted {
        Some(failures) => {
            let failures = u32::try_from(failures).unwrap_or(u32::MAX);
            let delay = policy.delay_after(failures);
            if delay > 0 {
                run(
                    c,
                    "UPDATE throttles SET locked_until = ?4 WHERE tenant_id = ?1 AND scope = ?2 AND subject = ?3",
                    params![
                        tenant,
                        scope,
                        subject,
                        now + i64::try_from(delay).unwrap_or(0) * 1000
                    ],
                )?;
            }
            ThrottleDecision::Allowed { failures }
        }
        None => {
            let locked_until = count(
                c,
                "SELECT locked_until FROM throttles WHERE tenant_id = ?1 AND scope = ?2 AND subject = ?3",
                params![tenant, scope, subject],
            )?;
            let wait_ms = (locked_until - now).max(1);
            ThrottleDecision::Locked {
                retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
            }
        }
    })
}

/// Replaces the user's backup codes: reuses the existing backup factor if there is one,
/// otherwise creates the one in `install`. Returns the factor id used.
fn install_backup_on(c: &Connection, install: &BackupInstall) -> Result<FactorId> {
    let f = &install.factor;
    let existing: Option<String> = query_one(
        c,
        "SELECT id FROM factors WHERE tenant_id = ?1 AND user_id = ?2 AND kind = ?3",
        params![
            f.tenant_id.as_str(),
            f.user_id.as_str(),
            FactorKind::BackupCodes.as_str()
        ],
        |r| Ok(r.get(0)?),
    )?;
    let id = match existing {
        Some(id) => FactorId::from_trusted(id),
        None => {
            insert_factor_on(c, f)?;
            f.id.clone()
        }
    };
    if id != f.id {
        // Hashes are bound to the factor id they were computed for.
        return Err(StoreError::Corrupt(
            "backup codes hashed for another factor".into(),
        ));
    }
    run(
        c,
        "DELETE FROM backup_codes WHERE factor_id = ?1",
        params![id.as_str()],
    )?;
    for hash in &install.code_hashes {
        run(
            c,
            "INSERT INTO backup_codes (factor_id, code_hash) VALUES (?1, ?2)",
            params![id.as_str(), hash],
        )?;
    }
    Ok(id)
}

/// Consumes a sent code: live, unused, for this factor and challenge (`''` for an
/// enrollment). `false` if there is no such code.
fn consume_code_on(
    c: &Connection,
    factor: &FactorId,
    challenge: &str,
    code_hash: &str,
    now: UnixMillis,
) -> Result<bool> {
    Ok(run(
        c,
        "UPDATE otp_codes SET used_at = ?1 WHERE factor_id = ?2 AND challenge_id = ?3 AND code_hash = ?4 \
         AND used_at IS NULL AND expires_at > ?1",
        params![now, factor.as_str(), challenge, code_hash],
    )? == 1)
}

/// Activates a pending factor if `rules` still hold, and installs backup codes if it is the
/// user's first (see `ActivationRules`). On any outcome but `Activated` the caller undoes the
/// job.
fn activate_on(
    c: &Connection,
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
            if !consume_code_on(c, id, challenge, code_hash, now)? {
                return Ok(ActivateOutcome::Rejected);
            }
            None
        }
        Check::Preverified => None,
    };
    let user: Option<String> = query_one(
        c,
        "UPDATE factors SET status = 'active', confirmed_at = ?1, last_used_at = ?1, last_step = ?2, \
         expires_at = NULL WHERE id = ?3 AND status = 'pending' AND expires_at > ?1 RETURNING user_id",
        params![now, step, id.as_str()],
        |r| Ok(r.get(0)?),
    )?;
    let Some(user) = user else {
        return Ok(ActivateOutcome::NotPending);
    };
    if let Some(kinds) = rules.only_without.as_ref().filter(|k| !k.is_empty()) {
        // The user's factors decide, as they are now (the one writer: nothing changes them
        // before the commit).
        let sql = format!(
            "SELECT COUNT(*) FROM factors WHERE user_id = ?1 AND status = 'active' AND id <> ?2 AND kind IN ({})",
            placeholders(3, kinds.len())
        );
        let mut values: Vec<&str> = vec![user.as_str(), id.as_str()];
        values.extend(kinds.iter().map(|k| k.as_str()));
        if count(c, &sql, rusqlite::params_from_iter(values))? > 0 {
            return Ok(ActivateOutcome::Stale);
        }
    }
    let others = count(
        c,
        "SELECT COUNT(*) FROM factors WHERE user_id = ?1 AND status = 'active' AND kind <> ?2 AND id <> ?3",
        params![user, FactorKind::BackupCodes.as_str(), id.as_str()],
    )?;
    if others == 0 {
        // The account now has MFA: sessions opened without it end (but the one enabling it),
        // and enrollments others started while it had none go (review items 2 and 5).
        end_sessions_on(c, &user, rules.keep_session.as_ref(), now)?;
        let by = rules.enrolled_by.as_deref().unwrap_or("");
        run(
            c,
            "DELETE FROM otp_codes WHERE factor_id IN (SELECT id FROM factors WHERE user_id = ?1 \
             AND status = 'pending' AND id <> ?2 AND COALESCE(enrolled_by, '') <> ?3)",
            params![user, id.as_str(), by],
        )?;
        run(
            c,
            "DELETE FROM factors WHERE user_id = ?1 AND status = 'pending' AND id <> ?2 \
             AND COALESCE(enrolled_by, '') <> ?3",
            params![user, id.as_str(), by],
        )?;
    }
    let has_backup = count(
        c,
        "SELECT COUNT(*) FROM factors WHERE user_id = ?1 AND kind = ?2",
        params![user, FactorKind::BackupCodes.as_str()],
    )?;
    if others == 0 && has_backup == 0 {
        install_backup_on(c, backup)?;
        return Ok(ActivateOutcome::Activated {
            backup_installed: true,
        });
    }
    Ok(ActivateOutcome::Activated {
        backup_installed: false,
    })
}

/// `?start, ?start+1, …`: `n` numbered placeholders for an `IN (…)` list.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ends every live session of `user` but `keep` (their refresh tokens stop working with
/// them: rotation checks the session).
fn end_sessions_on(c: &Connection, user: &str, keep: Option<&SessionId>, now: UnixMillis) -> Result<()> {
    run(
        c,
        "UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL AND id <> ?3",
        params![now, user, keep.map(|k| k.as_str()).unwrap_or("")],
    )?;
    Ok(())
}

fn secs_until(at: UnixMillis, now: UnixMillis) -> u64 {
    u64::try_from(((at - now).max(1) + 999) / 1000).unwrap_or(1)
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
        let tenant = tenant.clone();
        self.db.write(move |c| insert_tenant_on(c, &tenant)).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        self.db.read(|c| {
            query_one(
                c,
                "SELECT id, name, settings, created_at FROM tenants WHERE id = ?1",
                [id.as_str()],
                tenant_from_row,
            )
        })
    }

    async fn update_tenant_settings(&self, tenant: &Tenant, now: UnixMillis) -> Result<bool> {
        let settings = settings_json(&tenant.settings)?;
        let id = tenant.id.clone();
        self.db
            .write(move |c| {
                Ok(run(
                    c,
                    "UPDATE tenants SET settings = ?1, updated_at = ?2 WHERE id = ?3",
                    params![settings, now, id.as_str()],
                )? == 1)
            })
            .await
    }

    async fn ensure_default_tenant(
        &self,
        tenant: &Tenant,
        first_key: Option<&ApiKeyRecord>,
    ) -> Result<(TenantId, bool)> {
        let tenant = tenant.clone();
        let first_key = first_key.cloned();
        self.db
            .write(move |c| {
                let claimed = run(
                    c,
                    "INSERT INTO meta (key, value) VALUES ('default_tenant_id', ?1) ON CONFLICT (key) DO NOTHING",
                    [tenant.id.as_str()],
                )? == 1;
                if claimed {
                    insert_tenant_on(c, &tenant)?;
                    if let Some(key) = &first_key {
                        insert_api_key_on(c, key)?;
                    }
                }
                let id: String = c
                    .prepare_cached("SELECT value FROM meta WHERE key = 'default_tenant_id'")?
                    .query_row([], |r| r.get(0))?;
                Ok((TenantId::from_trusted(id), claimed))
            })
            .await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let key = key.clone();
        self.db.write(move |c| insert_api_key_on(c, &key)).await
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"),
                [key_hash],
                api_key_from_row,
            )
        })
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        self.db.read(|c| {
            query_all(
                c,
                &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY id"),
                [tenant.as_str()],
                api_key_from_row,
            )
        })
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<bool> {
        let id = id.clone();
        self.db
            .write(move |c| {
                Ok(run(
                    c,
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    params![now, id.as_str()],
                )? == 1)
            })
            .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.db.write(move |c| insert_user_on(c, &user)).await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND id = ?2"),
                [tenant.as_str(), id.as_str()],
                user_from_row,
            )
        })
    }

    async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<User>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND email = ?2"),
                [tenant.as_str(), email],
                user_from_row,
            )
        })
    }

    async fn list_users(&self, tenant: &TenantId, after: Option<&UserId>, limit: u32) -> Result<Vec<User>> {
        let (tenant, after) = (tenant.clone(), after.cloned());
        self.db
            .read_blocking(move |c| {
                query_all(
                    c,
                    &format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                    ),
                    params![
                        tenant.as_str(),
                        after.as_ref().map(|a| a.as_str()).unwrap_or(""),
                        i64::from(limit)
                    ],
                    user_from_row,
                )
            })
            .await
    }

    async fn set_phone_hash(&self, user: &UserId, hash: &str) -> Result<()> {
        let (user, hash) = (user.clone(), hash.to_owned());
        self.db
            .write(move |c| {
                run(
                    c,
                    "UPDATE users SET phone_hash = ?1 WHERE id = ?2",
                    params![hash, user.as_str()],
                )?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<()> {
        let (s, hash) = (s.clone(), refresh_hash.to_owned());
        self.db.write(move |c| insert_session_on(c, &s, &hash)).await
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id.as_str()],
                session_from_row,
            )
        })
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next_hash: &str,
        now: UnixMillis,
    ) -> Result<RotateOutcome> {
        let (presented, next) = (presented_hash.to_owned(), next_hash.to_owned());
        self.db
            .write(move |c| {
                // The one conditional write that makes a refresh token single-use.
                let consumed: Option<String> = query_one(
                    c,
                    "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL \
                     RETURNING session_id",
                    params![now, presented],
                    |r| Ok(r.get(0)?),
                )?;
                let Some(session_id) = consumed else {
                    let used: Option<String> = query_one(
                        c,
                        "SELECT session_id FROM refresh_tokens WHERE token_hash = ?1",
                        [&presented],
                        |r| Ok(r.get(0)?),
                    )?;
                    return Ok(match used {
                        Some(sid) => {
                            run(
                                c,
                                "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                                params![now, sid],
                            )?;
                            RotateOutcome::Reused
                        }
                        None => RotateOutcome::Unknown,
                    });
                };
                let session = query_one(
                    c,
                    &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                    [&session_id],
                    session_from_row,
                )?
                .ok_or_else(|| StoreError::Corrupt("refresh token without a session".into()))?;
                if !session.is_live(now) {
                    return Ok(RotateOutcome::Dead);
                }
                run(
                    c,
                    "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
                    params![next, session_id, now],
                )?;
                Ok(RotateOutcome::Rotated(session))
            })
            .await
    }

    async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool> {
        let id = id.clone();
        self.db
            .write(move |c| {
                Ok(run(
                    c,
                    "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    params![now, id.as_str()],
                )? == 1)
            })
            .await
    }

    async fn session_for_refresh(&self, hash: &str) -> Result<Option<Session>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = \
                     (SELECT session_id FROM refresh_tokens WHERE token_hash = ?1)"
                ),
                [hash],
                session_from_row,
            )
        })
    }
}

#[async_trait]
impl ThrottleStore for SqliteStore {
    async fn throttle_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: UnixMillis,
    ) -> Result<ThrottleDecision> {
        let (key, policy) = (key.clone(), *policy);
        self.db
            .write(move |c| throttle_attempt_on(c, &key, &policy, now))
            .await
    }

    async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
        let key = key.clone();
        self.db.write(move |c| throttle_clear_on(c, &key)).await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn ensure_server_secret(&self, name: &str, sealed: &str, now: UnixMillis) -> Result<String> {
        let (name, sealed) = (name.to_owned(), sealed.to_owned());
        self.db
            .write(move |c| {
                run(
                    c,
                    "INSERT INTO server_secrets (name, sealed, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO NOTHING",
                    params![name, sealed, now],
                )?;
                Ok(
                    c.prepare_cached("SELECT sealed FROM server_secrets WHERE name = ?1")?
                        .query_row([&name], |r| r.get(0))?,
                )
            })
            .await
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        let key = key.clone();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO signing_keys (kid, algorithm, public_key, private_sealed, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    key.kid,
                    key.algorithm,
                    key.public_key,
                    key.private_sealed,
                    key.created_at
                ])
                .map_err(conflict_or)?;
                Ok(())
            })
            .await
    }

    async fn active_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.db.read(|c| {
            query_all(
                c,
                "SELECT kid, algorithm, public_key, private_sealed, created_at FROM signing_keys \
                 WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
                [],
                |r| {
                    Ok(SigningKeyRecord {
                        kid: r.get("kid")?,
                        algorithm: r.get("algorithm")?,
                        public_key: r.get("public_key")?,
                        private_sealed: r.get("private_sealed")?,
                        created_at: r.get("created_at")?,
                    })
                },
            )
        })
    }

    async fn list_sealed(&self, column: SealedColumn) -> Result<Vec<(String, String)>> {
        let (table, id, sealed) = column.location();
        // On the writer: a rotation reads what it is about to replace.
        self.db
            .write(move |c| {
                query_all(
                    c,
                    &format!("SELECT {id}, {sealed} FROM {table} WHERE {sealed} IS NOT NULL ORDER BY {id}"),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
    }

    async fn replace_sealed(&self, column: SealedColumn, row: &str, old: &str, new: &str) -> Result<bool> {
        let (table, id, sealed) = column.location();
        let (row, old, new) = (row.to_owned(), old.to_owned(), new.to_owned());
        self.db
            .write(move |c| {
                Ok(run(
                    c,
                    &format!("UPDATE {table} SET {sealed} = ?1 WHERE {id} = ?2 AND {sealed} = ?3"),
                    params![new, row, old],
                )? == 1)
            })
            .await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        self.db.read(|c| {
            query_one(c, "SELECT value FROM meta WHERE key = ?1", [key], |r| {
                Ok(r.get(0)?)
            })
        })
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.db
            .write(move |c| {
                run(
                    c,
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                    [key, value],
                )?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(&self, r: &IdempotencyRecord, now: UnixMillis) -> Result<IdempotencyBegin> {
        let r = r.clone();
        self.db
            .write(move |c| {
                run(
                    c,
                    "DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND (expires_at <= ?2 \
                     OR (scope = ?3 AND key_hash = ?4 AND status IS NULL AND created_at <= ?5))",
                    params![
                        r.tenant_id.as_str(),
                        now,
                        r.scope,
                        r.key_hash,
                        now - IDEMPOTENCY_IN_FLIGHT_MS
                    ],
                )?;
                let inserted = run(
                    c,
                    "INSERT INTO idempotency_keys (tenant_id, scope, key_hash, request_hash, created_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id, scope, key_hash) DO NOTHING",
                    params![
                        r.tenant_id.as_str(),
                        r.scope,
                        r.key_hash,
                        r.request_hash,
                        r.created_at,
                        r.expires_at
                    ],
                )? == 1;
                if inserted {
                    return Ok(IdempotencyBegin::Started);
                }
                let row: Option<(String, Option<i64>, Option<String>)> = query_one(
                    c,
                    "SELECT request_hash, status, response_sealed FROM idempotency_keys \
                     WHERE tenant_id = ?1 AND scope = ?2 AND key_hash = ?3",
                    params![r.tenant_id.as_str(), r.scope, r.key_hash],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )?;
                let (stored, status, response) =
                    row.ok_or_else(|| StoreError::Corrupt("idempotency record vanished".into()))?;
                Ok(idempotency_state(&r.request_hash, stored, status, response))
            })
            .await
    }

    async fn idempotency_finish(
        &self,
        r: &IdempotencyRecord,
        status: u16,
        response_sealed: &str,
    ) -> Result<()> {
        let (r, response) = (r.clone(), response_sealed.to_owned());
        self.db
            .write(move |c| {
                run(
                    c,
                    "UPDATE idempotency_keys SET status = ?1, response_sealed = ?2 \
                     WHERE tenant_id = ?3 AND scope = ?4 AND key_hash = ?5",
                    params![
                        i64::from(status),
                        response,
                        r.tenant_id.as_str(),
                        r.scope,
                        r.key_hash
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn idempotency_abandon(&self, r: &IdempotencyRecord) -> Result<()> {
        let r = r.clone();
        self.db
            .write(move |c| {
                run(
                    c,
                    "DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND scope = ?2 AND key_hash = ?3 \
                     AND status IS NULL",
                    params![r.tenant_id.as_str(), r.scope, r.key_hash],
                )?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn insert_factor(&self, factor: &Factor) -> Result<()> {
        let factor = factor.clone();
        self.db
            .write(move |c| {
                if factor.status == FactorStatus::Pending {
                    run(
                        c,
                        "DELETE FROM factors WHERE user_id = ?1 AND kind = ?2 AND status = 'pending'",
                        params![factor.user_id.as_str(), factor.kind.as_str()],
                    )?;
                }
                insert_factor_on(c, &factor)
            })
            .await
    }

    async fn get_factor(&self, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = ?1 AND id = ?2"),
                [tenant.as_str(), id.as_str()],
                factor_from_row,
            )
        })
    }

    async fn list_factors(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>> {
        self.db.read(|c| {
            query_all(
                c,
                &format!(
                    "SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = ?1 AND user_id = ?2 \
                     ORDER BY CASE WHEN kind = 'backup_codes' THEN 1 ELSE 0 END, created_at, id"
                ),
                [tenant.as_str(), user.as_str()],
                factor_from_row,
            )
        })
    }

    async fn activate_factor(
        &self,
        id: &FactorId,
        check: &Check,
        backup: &BackupInstall,
        rules: &ActivationRules,
        now: UnixMillis,
    ) -> Result<ActivateOutcome> {
        let (id, check, backup, rules) = (id.clone(), check.clone(), backup.clone(), rules.clone());
        self.db
            .write_or_undo(move |c| {
                Ok(match activate_on(c, &id, &check, &backup, &rules, now)? {
                    done @ ActivateOutcome::Activated { .. } => Write::Keep(done),
                    other => Write::Undo(other),
                })
            })
            .await
    }

    async fn mark_phone_verified(&self, user: &UserId, phone_hash: &str, now: UnixMillis) -> Result<()> {
        let (user, phone_hash) = (user.clone(), phone_hash.to_owned());
        self.db
            .write(move |c| {
                run(
                    c,
                    "UPDATE users SET phone_verified_at = ?1, updated_at = ?1 \
                     WHERE id = ?2 AND phone_hash = ?3 AND phone_verified_at IS NULL",
                    params![now, user.as_str(), phone_hash],
                )?;
                Ok(())
            })
            .await
    }

    async fn delete_factor(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &FactorId,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<bool> {
        let (tenant, user, id, keep) = (tenant.clone(), user.clone(), id.clone(), keep_session.cloned());
        self.db
            .write_or_undo(move |c| {
                run(c, "DELETE FROM backup_codes WHERE factor_id = ?1", [id.as_str()])?;
                let gone = run(
                    c,
                    "DELETE FROM factors WHERE tenant_id = ?1 AND user_id = ?2 AND id = ?3",
                    [tenant.as_str(), user.as_str(), id.as_str()],
                )? == 1;
                if !gone {
                    return Ok(Write::Undo(false));
                }
                end_sessions_on(c, user.as_str(), keep.as_ref(), now)?;
                let remaining = count(
                    c,
                    "SELECT COUNT(*) FROM factors WHERE user_id = ?1 AND status = 'active' AND kind <> ?2",
                    [user.as_str(), FactorKind::BackupCodes.as_str()],
                )?;
                if remaining == 0 {
                    // Backup codes recover a second factor; with none left they would be one.
                    run(
                        c,
                        "DELETE FROM backup_codes WHERE factor_id IN \
                         (SELECT id FROM factors WHERE user_id = ?1 AND kind = ?2)",
                        [user.as_str(), FactorKind::BackupCodes.as_str()],
                    )?;
                    run(
                        c,
                        "DELETE FROM factors WHERE user_id = ?1 AND kind = ?2",
                        [user.as_str(), FactorKind::BackupCodes.as_str()],
                    )?;
                }
                Ok(Write::Keep(true))
            })
            .await
    }

    async fn replace_backup_codes(
        &self,
        install: &BackupInstall,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<FactorId> {
        let (install, keep) = (install.clone(), keep_session.cloned());
        self.db
            .write(move |c| {
                let id = install_backup_on(c, &install)?;
                end_sessions_on(c, install.factor.user_id.as_str(), keep.as_ref(), now)?;
                Ok(id)
            })
            .await
    }

    async fn unused_backup_codes(&self, factor: &FactorId) -> Result<i64> {
        self.db.read(|c| {
            count(
                c,
                "SELECT COUNT(*) FROM backup_codes WHERE factor_id = ?1 AND used_at IS NULL",
                [factor.as_str()],
            )
        })
    }

    async fn reset_mfa(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.db
            .write(move |c| {
                run(
                    c,
                    "DELETE FROM backup_codes WHERE factor_id IN \
                     (SELECT id FROM factors WHERE tenant_id = ?1 AND user_id = ?2)",
                    [tenant.as_str(), user.as_str()],
                )?;
                let n = run(
                    c,
                    "DELETE FROM factors WHERE tenant_id = ?1 AND user_id = ?2",
                    [tenant.as_str(), user.as_str()],
                )?;
                run(
                    c,
                    "UPDATE challenges SET expires_at = ?1 WHERE tenant_id = ?2 AND user_id = ?3 \
                     AND completed_at IS NULL AND expires_at > ?1",
                    params![now, tenant.as_str(), user.as_str()],
                )?;
                end_sessions_on(c, user.as_str(), None, now)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn count_users_to_reenroll(&self, tenant: &TenantId, allowed: &[FactorKind]) -> Result<i64> {
        let allowed: Vec<&'static str> = allowed
            .iter()
            .filter(|k| **k != FactorKind::BackupCodes)
            .map(|k| k.as_str())
            .collect();
        let sql = format!(
            "SELECT COUNT(DISTINCT user_id) FROM factors f WHERE tenant_id = ?1 AND status = 'active' \
             AND kind <> ?2 AND NOT EXISTS (SELECT 1 FROM factors g WHERE g.user_id = f.user_id \
             AND g.status = 'active' AND g.kind IN ({}))",
            if allowed.is_empty() {
                "NULL".to_owned()
            } else {
                placeholders(3, allowed.len())
            }
        );
        let mut values: Vec<String> = vec![tenant.to_string(), FactorKind::BackupCodes.as_str().to_owned()];
        values.extend(allowed.iter().map(|k| (*k).to_owned()));
        self.db
            .read_blocking(move |c| count(c, &sql, rusqlite::params_from_iter(values)))
            .await
    }
}

/// Consumes `proof` after the challenge was completed; `Ok(backup_installed)` on success,
/// else how the completion failed.
fn consume_proof_on(
    c: &Connection,
    challenge: &ChallengeId,
    proof: &Proof,
    now: UnixMillis,
) -> Result<std::result::Result<bool, CompleteOutcome>> {
    Ok(match proof {
        Proof::TotpStep { factor_id, step } => {
            // The step only moves forward: a code is accepted once, across challenges.
            let moved = run(
                c,
                "UPDATE factors SET last_step = ?1, last_used_at = ?2 WHERE id = ?3 AND status = 'active' \
                 AND (last_step IS NULL OR last_step < ?1)",
                params![step, now, factor_id.as_str()],
            )?;
            (moved == 1).then_some(false)
        }
        Proof::BackupCode { factor_id, code_hash } => {
            let used = run(
                c,
                "UPDATE backup_codes SET used_at = ?1 WHERE factor_id = ?2 AND code_hash = ?3 AND used_at IS NULL",
                params![now, factor_id.as_str(), code_hash],
            )?;
            if used == 1 {
                run(
                    c,
                    "UPDATE factors SET last_used_at = ?1 WHERE id = ?2",
                    params![now, factor_id.as_str()],
                )?;
            }
            (used == 1).then_some(false)
        }
        Proof::SentCode { factor_id, code_hash } => {
            if consume_code_on(c, factor_id, challenge.as_str(), code_hash, now)? {
                run(
                    c,
                    "UPDATE factors SET last_used_at = ?1 WHERE id = ?2 AND status = 'active'",
                    params![now, factor_id.as_str()],
                )?;
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
        } => match activate_on(c, factor_id, check, backup, rules, now)? {
            ActivateOutcome::Activated { backup_installed } => Some(backup_installed),
            ActivateOutcome::Stale => return Ok(Err(CompleteOutcome::Stale)),
            ActivateOutcome::Rejected | ActivateOutcome::NotPending => None,
        },
    }
    .ok_or(CompleteOutcome::ProofRejected))
}

#[async_trait]
impl ChallengeStore for SqliteStore {
    async fn insert_challenge(&self, ch: &Challenge) -> Result<()> {
        let ch = ch.clone();
        self.db.write(move |c| insert_challenge_on(c, &ch)).await
    }

    async fn get_challenge(&self, tenant: &TenantId, id: &ChallengeId) -> Result<Option<Challenge>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE tenant_id = ?1 AND id = ?2"),
                [tenant.as_str(), id.as_str()],
                challenge_from_row,
            )
        })
    }

    async fn choose_factor(&self, id: &ChallengeId, factor: &FactorId, now: UnixMillis) -> Result<bool> {
        let (id, factor) = (id.clone(), factor.clone());
        self.db
            .write(move |c| {
                Ok(run(
                    c,
                    "UPDATE challenges SET factor_id = ?1 WHERE id = ?2 AND completed_at IS NULL AND expires_at > ?3",
                    params![factor.as_str(), id.as_str(), now],
                )? == 1)
            })
            .await
    }

    async fn complete_sign_in(
        &self,
        id: &ChallengeId,
        proof: &Proof,
        writes: &SignInWrites,
        now: UnixMillis,
    ) -> Result<CompleteOutcome> {
        let (id, proof, writes) = (id.clone(), proof.clone(), writes.clone());
        self.db
            .write_or_undo(move |c| {
                Ok(match complete_on(c, &id, &proof, &writes, now)? {
                    done @ CompleteOutcome::Completed { .. } => Write::Keep(done),
                    other => Write::Undo(other),
                })
            })
            .await
    }

    async fn attempt_sign_in(&self, attempt: &SignInAttempt, now: UnixMillis) -> Result<AttemptOutcome> {
        let attempt = attempt.clone();
        self.db.write(move |c| attempt_on(c, &attempt, now)).await
    }
}

/// Completes the challenge, consumes the proof and performs `writes`. On any outcome but
/// `Completed` the caller must undo what this wrote.
fn complete_on(
    c: &Connection,
    id: &ChallengeId,
    proof: &Proof,
    writes: &SignInWrites,
    now: UnixMillis,
) -> Result<CompleteOutcome> {
    let completed = run(
        c,
        "UPDATE challenges SET completed_at = ?1 WHERE id = ?2 AND completed_at IS NULL AND expires_at > ?1",
        params![now, id.as_str()],
    )? == 1;
    if !completed {
        return Ok(CompleteOutcome::ChallengeGone);
    }
    let backup_installed = match consume_proof_on(c, id, proof, now)? {
        Ok(installed) => installed,
        Err(failed) => return Ok(failed),
    };
    if let Some(key) = &writes.clear_throttle {
        throttle_clear_on(c, key)?;
    }
    if let Some(event) = &writes.audit {
        insert_audit_on(c, event)?;
    }
    if let Some((session, refresh_hash)) = &writes.session {
        insert_session_on(c, session, refresh_hash)?;
    }
    Ok(CompleteOutcome::Completed { backup_installed })
}

fn attempt_on(c: &Connection, a: &SignInAttempt, now: UnixMillis) -> Result<AttemptOutcome> {
    let key = &a.throttle;
    // One writer: nothing can change this row between here and the commit.
    let state: Option<(i64, i64)> = query_one(
        c,
        "SELECT failures, locked_until FROM throttles WHERE tenant_id = ?1 AND scope = ?2 AND subject = ?3",
        params![key.tenant_id.as_str(), key.scope, key.subject],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if let Some((_, locked_until)) = state.filter(|(_, until)| *until > now) {
        if let Some(event) = &a.on_locked {
            insert_audit_on(c, event)?;
        }
        return Ok(AttemptOutcome::Locked {
            retry_after_secs: secs_until(locked_until, now),
        });
    }
    let outcome = match &a.proof {
        Some(proof) => {
            run(c, "SAVEPOINT proof", [])?;
            let outcome = complete_on(c, &a.challenge_id, proof, &a.writes, now)?;
            if !matches!(outcome, CompleteOutcome::Completed { .. }) {
                run(c, "ROLLBACK TO proof", [])?;
            }
            run(c, "RELEASE proof", [])?;
            outcome
        }
        None => CompleteOutcome::ProofRejected,
    };
    Ok(match outcome {
        CompleteOutcome::Completed { backup_installed } => {
            if state.is_some_and(|(failures, until)| failures != 0 || until != 0) {
                throttle_clear_on(c, key)?;
            }
            AttemptOutcome::Completed { backup_installed }
        }
        CompleteOutcome::ChallengeGone => {
            throttle_attempt_on(c, key, &a.policy, now)?;
            AttemptOutcome::ChallengeGone
        }
        CompleteOutcome::Stale => {
            // Not a guess: nothing is counted, and the challenge is closed for good.
            run(
                c,
                "UPDATE challenges SET expires_at = ?1 WHERE id = ?2 AND completed_at IS NULL",
                params![now, a.challenge_id.as_str()],
            )?;
            AttemptOutcome::Stale
        }
        CompleteOutcome::ProofRejected => {
            throttle_attempt_on(c, key, &a.policy, now)?;
            if let Some(event) = &a.on_failure {
                insert_audit_on(c, event)?;
            }
            AttemptOutcome::Rejected
        }
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit(&self, e: &AuditEvent) -> Result<()> {
        let e = e.clone();
        self.db.write(move |c| insert_audit_on(c, &e)).await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let (tenant, user, before) = (tenant.clone(), user.cloned(), before.map(str::to_owned));
        self.db
            .read_blocking(move |c| {
                query_all(
                    c,
                    &format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE tenant_id = ?1 \
                         AND (?2 = '' OR user_id = ?2) AND (?3 = '' OR id < ?3) ORDER BY id DESC LIMIT ?4"
                    ),
                    params![
                        tenant.as_str(),
                        user.as_ref().map(|u| u.as_str()).unwrap_or(""),
                        before.as_deref().unwrap_or(""),
                        i64::from(limit)
                    ],
                    audit_from_row,
                )
            })
            .await
    }
}

fn issue_code_on(c: &Connection, issue: &CodeIssue, now: UnixMillis) -> Result<Write<IssueOutcome>> {
    let tenant = issue.tenant_id.as_str();
    // The cooldown: set only if the previous one has run out, atomically.
    let set: Option<i64> = query_one(
        c,
        "INSERT INTO cooldowns (tenant_id, subject, until_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (tenant_id, subject) DO UPDATE SET until_at = ?3 WHERE cooldowns.until_at <= ?4 \
         RETURNING until_at",
        params![tenant, issue.cooldown_key, now + issue.cooldown_secs * 1000, now],
        |r| Ok(r.get(0)?),
    )?;
    if set.is_none() {
        let until = count(
            c,
            "SELECT until_at FROM cooldowns WHERE tenant_id = ?1 AND subject = ?2",
            params![tenant, issue.cooldown_key],
        )?;
        return Ok(Write::Undo(IssueOutcome::Cooldown {
            retry_after_secs: secs_until(until, now),
        }));
    }
    // Every limit, counted in fixed windows; the first one reached refuses the send.
    for limit in &issue.limits {
        let window_ms = limit.window_secs * 1000;
        let window_start = now - now.rem_euclid(window_ms);
        let counted: Option<i64> = query_one(
            c,
            "INSERT INTO send_counters (tenant_id, scope, subject, window_start, count) VALUES (?1, ?2, ?3, ?4, 1) \
             ON CONFLICT (tenant_id, scope, subject, window_start) DO UPDATE \
             SET count = send_counters.count + 1 WHERE send_counters.count < ?5 RETURNING count",
            params![tenant, limit.scope, limit.subject, window_start, i64::from(limit.limit)],
            |r| Ok(r.get(0)?),
        )?;
        if counted.is_none() || limit.limit == 0 {
            return Ok(Write::Undo(IssueOutcome::Limited {
                scope: limit.scope,
                retry_after_secs: secs_until(window_start + window_ms, now),
            }));
        }
    }
    if let Some(factor) = &issue.new_factor {
        run(
            c,
            "DELETE FROM otp_codes WHERE factor_id IN \
             (SELECT id FROM factors WHERE user_id = ?1 AND kind = ?2 AND status = 'pending')",
            [factor.user_id.as_str(), factor.kind.as_str()],
        )?;
        run(
            c,
            "DELETE FROM factors WHERE user_id = ?1 AND kind = ?2 AND status = 'pending'",
            [factor.user_id.as_str(), factor.kind.as_str()],
        )?;
        insert_factor_on(c, factor)?;
    }
    let code = &issue.code;
    let challenge = code.challenge_id.as_ref().map(|id| id.as_str()).unwrap_or("");
    // A resend invalidates the previous code: at most one live code per factor and challenge.
    run(
        c,
        "UPDATE otp_codes SET used_at = ?1 WHERE factor_id = ?2 AND challenge_id = ?3 AND used_at IS NULL",
        params![now, code.factor_id.as_str(), challenge],
    )?;
    run(
        c,
        "INSERT INTO otp_codes (id, factor_id, challenge_id, code_hash, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            code.id,
            code.factor_id.as_str(),
            challenge,
            code.code_hash,
            code.created_at,
            code.expires_at
        ],
    )?;
    if let Some(id) = &code.challenge_id {
        // A code lives as long as its message says: the challenge it answers does too.
        run(
            c,
            "UPDATE challenges SET expires_at = ?1 WHERE id = ?2 AND completed_at IS NULL AND expires_at < ?1",
            params![code.expires_at, id.as_str()],
        )?;
    }
    let m = &issue.message;
    run(
        c,
        &format!(
            "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
             ?13, ?14, ?15, ?16, ?17)"
        ),
        params![
            m.id,
            m.tenant_id.as_str(),
            m.user_id.as_str(),
            m.factor_id.as_str(),
            m.channel.as_str(),
            m.destination_sealed,
            m.payload_sealed,
            m.status.as_str(),
            m.attempts,
            m.next_attempt_at,
            m.locked_until,
            m.expires_at,
            m.last_error,
            m.provider,
            m.provider_message_id,
            m.created_at,
            m.updated_at
        ],
    )?;
    for (metric, label) in &issue.stats {
        bump_stat_on(c, tenant, metric, label)?;
    }
    Ok(Write::Keep(IssueOutcome::Issued))
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn issue_code(&self, issue: &CodeIssue, now: UnixMillis) -> Result<IssueOutcome> {
        let issue = issue.clone();
        self.db
            .write_or_undo(move |c| issue_code_on(c, &issue, now))
            .await
    }

    async fn claim_outbox(&self, now: UnixMillis, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMessage>> {
        self.db
            .write(move |c| {
                query_all(
                    c,
                    &format!(
                        "UPDATE outbox SET status = 'sending', locked_until = ?1, attempts = attempts + 1, \
                         updated_at = ?2 WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') \
                         AND next_attempt_at <= ?2 AND (locked_until IS NULL OR locked_until <= ?2) \
                         ORDER BY next_attempt_at LIMIT ?3) RETURNING {OUTBOX_COLUMNS}"
                    ),
                    params![now + lease_ms, now, i64::from(limit)],
                    outbox_from_row,
                )
            })
            .await
    }

    async fn finish_outbox(&self, id: &str, u: &DeliveryUpdate, now: UnixMillis) -> Result<()> {
        let (id, u) = (id.to_owned(), u.clone());
        self.db
            .write(move |c| {
                run(
                    c,
                    "UPDATE outbox SET status = ?1, next_attempt_at = ?2, last_error = ?3, \
                     provider = COALESCE(?4, provider), provider_message_id = COALESCE(?5, provider_message_id), \
                     locked_until = NULL, updated_at = ?6 WHERE id = ?7",
                    params![
                        u.status.as_str(),
                        u.next_attempt_at,
                        u.last_error,
                        u.provider,
                        u.provider_message_id,
                        now,
                        id
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn last_delivery(&self, factor: &FactorId) -> Result<Option<OutboxMessage>> {
        self.db.read(|c| {
            query_one(
                c,
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE factor_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
                ),
                [factor.as_str()],
                outbox_from_row,
            )
        })
    }

    async fn bump_stat(&self, tenant: &TenantId, metric: &str, label: &str) -> Result<()> {
        let (tenant, metric, label) = (tenant.clone(), metric.to_owned(), label.to_owned());
        self.db
            .write(move |c| bump_stat_on(c, tenant.as_str(), &metric, &label))
            .await
    }

    async fn delivery_stats(&self, tenant: &TenantId) -> Result<Vec<(String, String, i64)>> {
        let tenant = tenant.clone();
        self.db
            .read_blocking(move |c| {
                query_all(
                    c,
                    "SELECT metric, label, count FROM delivery_stats WHERE tenant_id = ?1 ORDER BY metric, label",
                    [tenant.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .await
    }

    async fn get_provider(&self, tenant: &TenantId, channel: &str) -> Result<Option<String>> {
        self.db.read(|c| {
            query_one(
                c,
                "SELECT config_sealed FROM tenant_providers WHERE id = ?1",
                [crate::provider_row_id(tenant, channel)],
                |r| Ok(r.get(0)?),
            )
        })
    }

    async fn put_provider(
        &self,
        tenant: &TenantId,
        channel: &str,
        sealed: &str,
        now: UnixMillis,
    ) -> Result<()> {
        let (row, tenant, channel, sealed) = (
            crate::provider_row_id(tenant, channel),
            tenant.clone(),
            channel.to_owned(),
            sealed.to_owned(),
        );
        self.db
            .write(move |c| {
                run(
                    c,
                    "INSERT INTO tenant_providers (id, tenant_id, channel, config_sealed, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET config_sealed = ?4, updated_at = ?5",
                    params![row, tenant.as_str(), channel, sealed, now],
                )?;
                Ok(())
            })
            .await
    }

    async fn delete_provider(&self, tenant: &TenantId, channel: &str) -> Result<bool> {
        let row = crate::provider_row_id(tenant, channel);
        self.db
            .write(move |c| Ok(run(c, "DELETE FROM tenant_providers WHERE id = ?1", [row])? == 1))
            .await
    }
}

#[async_trait]
impl SeedStore for SqliteStore {
    async fn seed(&self, users: &[User], factors: &[Factor], challenges: &[Challenge]) -> Result<()> {
        const CHUNK: usize = 5_000;
        for chunk in users.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            self.db
                .write(move |c| chunk.iter().try_for_each(|u| insert_user_on(c, u)))
                .await?;
        }
        for chunk in factors.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            self.db
                .write(move |c| chunk.iter().try_for_each(|f| insert_factor_on(c, f)))
                .await?;
        }
        for chunk in challenges.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            self.db
                .write(move |c| chunk.iter().try_for_each(|ch| insert_challenge_on(c, ch)))
                .await?;
        }
        Ok(())
    }

    async fn database_bytes(&self) -> Result<i64> {
        self.db.read(|c| {
            count(
                c,
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
            )
        })
    }
}

fn apply_migrations(c: &Connection) -> Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )?;
    let applied: Vec<i64> = query_all(
        c,
        "SELECT version FROM latchkey_migrations",
        [],
        |r| Ok(r.get(0)?),
    )?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version: *version,
            message: e.to_string(),
        };
        c.execute_batch(sql).map_err(fail)?;
        let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
        c.execute(
            "INSERT INTO latchkey_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, now],
        )
        .map_err(fail)?;
        tracing::info!(version, name, backend = "sqlite", "applied migration");
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<()> {
        // One writer: migrations of this process run one at a time, all or none.
        self.db.write(apply_migrations).await
    }

    async fn ping(&self) -> Result<()> {
        self.db.read(|c| {
            Ok(c.prepare_cached("SELECT 1")?
                .query_row([], |r| r.get::<_, i64>(0))?)
        })?;
        Ok(())
    }

    async fn close(&self) {
        self.db.close().await;
    }
}
