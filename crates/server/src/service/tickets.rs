//! Enrollment tickets (`latchkey_core::tickets` says what they are and are not): an
//! administrator makes one for a user, optionally emailed; the hosted page its link opens
//! (`/enroll`) signs the user in with their password, and that sign-in spends the ticket and
//! must end in an enrollment (`SignInExtras::ticket`, checked in `signin_with`).

use super::audit::{Actor, Audit, RequestMeta};
use super::outgoing::{queued_message, send_limits, Outgoing};
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::factor::Channel;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{ulid, UserId};
use latchkey_core::secret::opaque_token;
use latchkey_core::tickets;
use latchkey_store::model::{
    EnrollmentTicket, EnrollmentTicketIssue, IssueOutcome, Tenant, TicketEmail, User,
};

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct TicketRequest {
    pub user_id: UserId,
    /// The kind the user must enroll; `None`: any the tenant allows.
    pub factor: Option<FactorKind>,
    /// Whether a user who already has a second factor may use the ticket to add another
    /// (proving an existing one first). Without it, such a user gets no ticket.
    pub allow_multiple: bool,
    /// Email the link: to `email` when given, else to the user's address.
    pub send_mail: bool,
    pub email: Option<String>,
}

/// A ticket made: its id, and the link (shown to the administrator once; stored only hashed).
#[derive(Debug, Clone)]
pub struct TicketCreated {
    pub id: String,
    pub url: String,
    pub expires_at: UnixMillis,
    /// Where the link was emailed, if it was.
    pub emailed: bool,
}

/// The ticket a sign-in brings (the page's hidden field), for `signin_with` to spend.
#[derive(Debug, Clone, Copy)]
pub struct PresentedTicket<'a> {
    pub token: &'a str,
}

impl App {
    /// Makes an enrollment ticket for a user of `tenant`: refused for a kind the tenant does
    /// not allow, and (without `allow_multiple`) for a user who has a second factor already.
    /// With `send_mail`, the link is emailed under the same send limits as emailed links.
    pub async fn create_enrollment_ticket(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        req: TicketRequest,
        meta: &RequestMeta,
    ) -> ServiceResult<TicketCreated> {
        if !matches!(actor, Actor::Admin { .. } | Actor::Client { .. }) {
            return Err(ServiceError::Forbidden);
        }
        let user = self.get_user(&tenant.id, &req.user_id).await?;
        if let Some(kind) = req.factor {
            if kind.is_recovery() || !tenant.settings.allows(kind) {
                return Err(ServiceError::FactorNotAllowed);
            }
        }
        if !req.allow_multiple && self.has_second_factor(tenant, &user.id).await? {
            return Err(ServiceError::AlreadyEnrolled);
        }
        let destination = match (&req.email, req.send_mail) {
            (Some(e), true) => Some(Email::parse(e).map_err(InputError::from)?.as_str().to_owned()),
            (_, true) => Some(user.email.as_str().to_owned()),
            (_, false) => None,
        };
        let now = self.now();
        let rng = self.rng.as_ref();
        let token = opaque_token(tickets::TOKEN_PREFIX, rng);
        let id = format!("{}{}", tickets::ID_PREFIX, ulid(now, rng));
        let expires_at = now + tickets::LIFETIME_MS;
        let url = self
            .issuer_for(&tenant.id)
            .url_of(&format!("{}?ticket={}", tickets::PAGE, token.expose()));
        let email = match &destination {
            Some(to) => {
                let m = tickets::render(&self.app_name(tenant), &url);
                let payload = serde_json::json!({ "subject": m.subject, "text": m.text, "html": m.html });
                let message = queued_message(
                    &self.crypto.keyring,
                    rng,
                    now,
                    Outgoing {
                        tenant: &tenant.id,
                        user: &user.id,
                        factor: None,
                        channel: Channel::Email,
                        destination: to,
                        payload: &payload,
                        expires_at,
                    },
                )?;
                Some(TicketEmail {
                    message,
                    limits: send_limits(
                        &tenant.settings.send_limits,
                        &self.destination_hash(to),
                        &user.id,
                        &tenant.id,
                        meta.ip.as_deref(),
                    ),
                    cooldown_key: format!("ticket:{}", user.id),
                    cooldown_secs: i64::try_from(tenant.settings.otp_resend_cooldown_secs).unwrap_or(60),
                    stats: vec![("links_issued", "enrollment_ticket".to_owned())],
                })
            }
            None => None,
        };
        let detail = format!(
            "ticket {id} factor={} allow_multiple={} emailed={}",
            req.factor.map_or("any", FactorKind::as_str),
            req.allow_multiple,
            email.is_some()
        );
        let issue = EnrollmentTicketIssue {
            ticket: EnrollmentTicket {
                id: id.clone(),
                token_hash: tickets::token_hash(&self.crypto.hasher, token.expose()),
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                factor_kind: req.factor,
                allow_multiple: req.allow_multiple,
                created_at: now,
                expires_at,
                consumed_at: None,
            },
            email,
            audit: Some(self.audit_event(Audit {
                tenant,
                actor,
                meta,
                user: Some(&user.id),
                factor: None,
                action: AuditAction::EnrollmentTicketCreated,
                outcome: AuditOutcome::Success,
                detail: Some(detail),
            })),
        };
        match self.store.issue_enrollment_ticket(&issue, now).await? {
            IssueOutcome::Issued => {
                if let Some(event) = &issue.audit {
                    self.recorded(event);
                    self.events_wakeup.notify_one();
                }
                if issue.email.is_some() {
                    self.outbox_wakeup.notify_one();
                }
                Ok(TicketCreated {
                    id,
                    url,
                    expires_at,
                    emailed: issue.email.is_some(),
                })
            }
            IssueOutcome::Cooldown { retry_after_secs } | IssueOutcome::Limited { retry_after_secs, .. } => {
                self.store
                    .bump_stat(&tenant.id, "codes_refused", "enrollment_ticket")
                    .await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
        }
    }

    /// The live ticket a page's link carries, and its user: `None` for anything else (the
    /// page says the link does not work). Nothing is spent.
    pub async fn live_enrollment_ticket(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> ServiceResult<Option<(EnrollmentTicket, User)>> {
        if !tickets::plausible(token) {
            return Ok(None);
        }
        let hash = tickets::token_hash(&self.crypto.hasher, token);
        let Some(ticket) = self
            .store
            .find_enrollment_ticket(&tenant.id, &hash, self.now())
            .await?
        else {
            return Ok(None);
        };
        match self.store.get_user(&tenant.id, &ticket.user_id).await? {
            Some(user) => Ok(Some((ticket, user))),
            None => Ok(None),
        }
    }

    /// Spends the ticket a sign-in brought, for the user whose password just verified; the
    /// kind it asks for (if any) comes back. `InvalidLink` when it is not live, not this
    /// user's, or was spent by a concurrent sign-in.
    pub(super) async fn spend_enrollment_ticket(
        &self,
        tenant: &Tenant,
        user: &User,
        presented: PresentedTicket<'_>,
        meta: &RequestMeta,
    ) -> ServiceResult<Option<FactorKind>> {
        let Some((ticket, owner)) = self.live_enrollment_ticket(tenant, presented.token).await? else {
            return Err(ServiceError::InvalidLink);
        };
        if owner.id != user.id {
            return Err(ServiceError::InvalidLink);
        }
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let event = self.audit_event(Audit {
            tenant,
            actor: &actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: AuditAction::EnrollmentTicketUsed,
            outcome: AuditOutcome::Success,
            detail: Some(format!("ticket {}", ticket.id)),
        });
        let spend = latchkey_store::model::TicketSpend {
            tenant_id: tenant.id.clone(),
            token_hash: ticket.token_hash.clone(),
            user_id: user.id.clone(),
            audit: Some(event.clone()),
        };
        if !self.store.consume_enrollment_ticket(&spend, self.now()).await? {
            return Err(ServiceError::InvalidLink);
        }
        self.recorded(&event);
        self.events_wakeup.notify_one();
        Ok(ticket.factor_kind)
    }
}
