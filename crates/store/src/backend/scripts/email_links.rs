//! Emailed links (email verification, password reset): issuing one with its message,
//! finding a live one, and spending one with its effect, each in one transaction.

use super::delivery::{bump_stat, count_send, insert_outbox};
use super::sessions::end_all_but;
use crate::backend::conn::{args, Conn};
use crate::backend::rows::{self, EMAIL_LINK_COLUMNS};
use crate::backend::Write;
use crate::model::{EmailLink, EmailLinkIssue, IssueOutcome, LinkConsume, LinkEffect, LinkProof};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::TenantId;
use latchkey_core::links::LinkPurpose;

/// Issues a link: limits and cooldown, then the link (ending the user's earlier links of the
/// purpose, so only the latest email works), its message and statistics. Over a limit or
/// in the cooldown nothing is kept.
pub(crate) async fn issue<C: Conn>(
    c: &mut C,
    issue: &EmailLinkIssue,
    now: UnixMillis,
) -> Result<Write<IssueOutcome>> {
    let link = &issue.link;
    let tenant = link.tenant_id.as_str();
    if let Some(refused) = count_send(
        c,
        tenant,
        &issue.cooldown_key,
        issue.cooldown_secs,
        &issue.limits,
        now,
    )
    .await?
    {
        return Ok(Write::Undo(refused));
    }
    // Links that can no longer be spent are of no use to anyone.
    c.execute(
        "DELETE FROM email_links WHERE tenant_id = $1 AND expires_at <= $2",
        args![tenant, now],
    )
    .await?;
    c.execute(
        "UPDATE email_links SET consumed_at = $1 WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
        args![now, link.user_id.as_str(), link.purpose.as_str()],
    )
    .await?;
    c.execute(
        &format!(
            "INSERT INTO email_links ({EMAIL_LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        args![
            &link.token_hash,
            tenant,
            link.user_id.as_str(),
            link.purpose.as_str(),
            &link.code_hash,
            &link.email_hash,
            link.created_at,
            link.expires_at,
            link.consumed_at
        ],
    )
    .await?;
    insert_outbox(c, &issue.message).await?;
    for (metric, label) in &issue.stats {
        bump_stat(c, tenant, metric, label).await?;
    }
    Ok(Write::Keep(IssueOutcome::Issued))
}

/// The live (unspent, unexpired) link of `purpose` that `proof` names in the tenant.
pub(crate) async fn find<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    purpose: LinkPurpose,
    proof: &LinkProof,
    now: UnixMillis,
) -> Result<Option<EmailLink>> {
    let live = "consumed_at IS NULL AND expires_at > $3";
    match proof {
        LinkProof::Token { token_hash } => {
            c.fetch_optional(
                &format!(
                    "SELECT {EMAIL_LINK_COLUMNS} FROM email_links \
                     WHERE tenant_id = $1 AND purpose = $2 AND {live} AND token_hash = $4"
                ),
                args![tenant.as_str(), purpose.as_str(), now, token_hash],
                rows::email_link,
            )
            .await
        }
        LinkProof::Code { user_id, code_hash } => {
            c.fetch_optional(
                &format!(
                    "SELECT {EMAIL_LINK_COLUMNS} FROM email_links \
                     WHERE tenant_id = $1 AND purpose = $2 AND {live} AND user_id = $4 AND code_hash = $5"
                ),
                args![
                    tenant.as_str(),
                    purpose.as_str(),
                    now,
                    user_id.as_str(),
                    code_hash
                ],
                rows::email_link,
            )
            .await
        }
    }
}

/// Spends a link with one conditional write, then applies its effect and writes its audit
/// record; `false` (and nothing written) if the link was not live, not this user's, not of
/// this purpose, or sent to an address the account no longer has. Of concurrent calls for
/// one link, one spends it: PostgreSQL re-evaluates the condition on the row once a
/// concurrent writer commits; SQLite's one writer runs them one after another.
pub(crate) async fn consume<C: Conn>(c: &mut C, spend: &LinkConsume, now: UnixMillis) -> Result<Write<bool>> {
    let purpose = spend.effect.purpose();
    let user = spend.user_id.as_str();
    let spent = c
        .execute(
            "UPDATE email_links SET consumed_at = $1 WHERE token_hash = $2 AND tenant_id = $3 AND user_id = $4 \
             AND purpose = $5 AND email_hash = $6 AND consumed_at IS NULL AND expires_at > $1",
            args![
                now,
                &spend.token_hash,
                spend.tenant_id.as_str(),
                user,
                purpose.as_str(),
                &spend.email_hash
            ],
        )
        .await?;
    if spent != 1 {
        return Ok(Write::Undo(false));
    }
    match &spend.effect {
        LinkEffect::VerifyEmail => {
            c.execute(
                "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
                args![now, user],
            )
            .await?;
        }
        LinkEffect::ResetPassword { password_hash } => {
            c.execute(
                "UPDATE users SET password_hash = $1, email_verified_at = COALESCE(email_verified_at, $2), \
                 updated_at = $2 WHERE id = $3",
                args![password_hash, now, user],
            )
            .await?;
            end_all_but(c, user, None, now).await?;
        }
    }
    // Whatever else of this purpose was outstanding for the user dies with it.
    c.execute(
        "UPDATE email_links SET consumed_at = $1 WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
        args![now, user, purpose.as_str()],
    )
    .await?;
    if let Some(event) = &spend.audit {
        super::audit::insert(c, event).await?;
    }
    Ok(Write::Keep(true))
}
