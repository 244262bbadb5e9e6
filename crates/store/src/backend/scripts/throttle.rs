//! The attempt throttle: failures counted per authenticator, locks growing with them.

use crate::backend::conn::{args, fetch_one, Conn};
use crate::model::ThrottleKey;
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};

/// Counts one attempt against `key` unless it is locked; sets the next delay.
pub(crate) async fn attempt<C: Conn>(
    c: &mut C,
    key: &ThrottleKey,
    policy: &ThrottlePolicy,
    now: UnixMillis,
) -> Result<ThrottleDecision> {
    let reset_before =
        now.saturating_sub(i64::try_from(policy.reset_after_secs).unwrap_or(i64::MAX / 2000) * 1000);
    let (tenant, scope, subject) = (key.tenant_id.as_str(), key.scope, key.subject.as_str());
    c.execute(
        "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
         VALUES ($1, $2, $3, 0, $4, 0) ON CONFLICT (tenant_id, scope, subject) DO NOTHING",
        args![tenant, scope, subject, now],
    )
    .await?;
    // Counting happens before the attempt is evaluated, in the same statement that checks
    // the lock, so a burst of parallel attempts cannot all slip past the limit. On
    // PostgreSQL the row lock taken here is held until commit; SQLite has one writer.
    let counted = c
        .fetch_optional(
            "UPDATE throttles SET \
               failures = CASE WHEN last_attempt_at < $4 THEN 1 ELSE failures + 1 END, \
               last_attempt_at = $5 \
             WHERE tenant_id = $1 AND scope = $2 AND subject = $3 AND locked_until <= $5 \
             RETURNING failures",
            args![tenant, scope, subject, reset_before, now],
            |r| r.int("failures"),
        )
        .await?;
    Ok(match counted {
        Some(failures) => {
            let failures = u32::try_from(failures).unwrap_or(u32::MAX);
            let delay = policy.delay_after(failures);
            if delay > 0 {
                c.execute(
                    "UPDATE throttles SET locked_until = $4 WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
                    args![
                        tenant,
                        scope,
                        subject,
                        now + i64::try_from(delay).unwrap_or(0) * 1000
                    ],
                )
                .await?;
            }
            ThrottleDecision::Allowed { failures }
        }
        None => {
            let locked_until = fetch_one(
                c,
                "SELECT locked_until FROM throttles WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
                args![tenant, scope, subject],
                |r| r.int("locked_until"),
            )
            .await?;
            ThrottleDecision::Locked {
                retry_after_secs: super::secs_until(locked_until, now),
            }
        }
    })
}

pub(crate) async fn clear<C: Conn>(c: &mut C, key: &ThrottleKey) -> Result<()> {
    // Reset rather than delete: a row that vanished between another request's insert and
    // update would leave that request nothing to count against.
    c.execute(
        "UPDATE throttles SET failures = 0, locked_until = 0 \
         WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
        args![key.tenant_id.as_str(), key.scope, key.subject.as_str()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn peek<C: Conn>(c: &mut C, key: &ThrottleKey) -> Result<Option<(u32, UnixMillis)>> {
    c.fetch_optional(
        "SELECT failures, locked_until FROM throttles WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
        args![key.tenant_id.as_str(), key.scope, key.subject.as_str()],
        |r| {
            Ok((
                u32::try_from(r.int("failures")?).unwrap_or(u32::MAX),
                r.int("locked_until")?,
            ))
        },
    )
    .await
}
