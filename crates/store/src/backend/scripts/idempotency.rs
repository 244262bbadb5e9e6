//! `Idempotency-Key` records.

use crate::backend::conn::{args, fetch_one, Conn};
use crate::backend::rows::idempotency_state;
use crate::model::{IdempotencyBegin, IdempotencyRecord, IDEMPOTENCY_IN_FLIGHT_MS};
use crate::Result;
use latchkey_core::clock::UnixMillis;

/// Drops the tenant's expired records (and a stalled one of this key), then records the
/// key or reports the record already there.
pub(crate) async fn begin<C: Conn>(
    c: &mut C,
    r: &IdempotencyRecord,
    now: UnixMillis,
) -> Result<IdempotencyBegin> {
    let (tenant, scope, key) = (r.tenant_id.as_str(), r.scope.as_str(), r.key_hash.as_str());
    c.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND (expires_at <= $2 \
         OR (scope = $3 AND key_hash = $4 AND status IS NULL AND created_at <= $5))",
        args![tenant, now, scope, key, now - IDEMPOTENCY_IN_FLIGHT_MS],
    )
    .await?;
    let inserted = c
        .execute(
            "INSERT INTO idempotency_keys (tenant_id, scope, key_hash, request_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, scope, key_hash) DO NOTHING",
            args![tenant, scope, key, &r.request_hash, r.created_at, r.expires_at],
        )
        .await?
        == 1;
    if inserted {
        return Ok(IdempotencyBegin::Started);
    }
    // `status` is an INTEGER column: read as BIGINT on both databases.
    let (stored, status, response) = fetch_one(
        c,
        "SELECT request_hash, CAST(status AS BIGINT) AS status, response_sealed FROM idempotency_keys \
         WHERE tenant_id = $1 AND scope = $2 AND key_hash = $3",
        args![tenant, scope, key],
        |row| {
            Ok((
                row.text("request_hash")?,
                row.opt_int("status")?,
                row.opt_text("response_sealed")?,
            ))
        },
    )
    .await?;
    Ok(idempotency_state(&r.request_hash, stored, status, response))
}

pub(crate) async fn finish<C: Conn>(
    c: &mut C,
    r: &IdempotencyRecord,
    status: u16,
    response_sealed: &str,
) -> Result<()> {
    c.execute(
        "UPDATE idempotency_keys SET status = $1, response_sealed = $2 \
         WHERE tenant_id = $3 AND scope = $4 AND key_hash = $5",
        args![
            i64::from(status),
            response_sealed,
            r.tenant_id.as_str(),
            &r.scope,
            &r.key_hash
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn abandon<C: Conn>(c: &mut C, r: &IdempotencyRecord) -> Result<()> {
    c.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND scope = $2 AND key_hash = $3 AND status IS NULL",
        args![r.tenant_id.as_str(), &r.scope, &r.key_hash],
    )
    .await?;
    Ok(())
}
