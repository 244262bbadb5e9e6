//! Proving an email address and resetting a forgotten password, by a link or a code
//! emailed through the outbox (`latchkey_core::links` says what is sent and how it is
//! bound; `store::EmailLinkStore` spends a link with one conditional write).
//!
//! **No account enumeration** (OWASP Forgot Password Cheat Sheet; ASVS 5.0 V6.4.1): a reset
//! request gets the same answer whether or not the address has an account, after the same
//! throttles; the email for an existing account is issued in a task of its own, so the
//! answer does not wait for (or time) that write. A code is checked against the account the
//! email address names, under a per-address attempt throttle that counts unknown addresses
//! the same way.
//!
//! **Bound and single use:** a link names its purpose, its user and the keyed hash of the
//! address it went to; it is spent once, by one conditional write, and only while the
//! account still has that address. A new link of a purpose ends the user's earlier ones; a
//! completed reset ends every session of the user and every other reset link.
//!
//! **Where links point:** the configured public URL (`public_url`), never the request's
//! `Host` header, which an attacker can set (host-header poisoning of reset links). The page
//! behind a link does not spend it on GET (mail scanners fetch links): it shows a form whose
//! POST does.

use super::audit::{Actor, Audit, RequestMeta};
use super::outgoing::{queued_message, send_limits, Outgoing};
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::email::{self, Email};
use latchkey_core::factor::Channel;
use latchkey_core::links::{self, LinkPurpose};
use latchkey_core::password;
use latchkey_core::secret::opaque_token;
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use latchkey_store::model::{
    EmailLink, EmailLinkIssue, IssueOutcome, LinkConsume, LinkEffect, LinkProof, Tenant, ThrottleKey, User,
};

/// Reset requests for one address: three, then waits of a minute doubling up to an hour.
/// Counted for every address asked about, with or without an account.
pub const RESET_REQUESTS_PER_EMAIL: ThrottlePolicy = ThrottlePolicy {
    free_attempts: 3,
    base_delay_secs: 60,
    max_delay_secs: 3600,
    reset_after_secs: 3600,
};

/// Reset requests from one client address: twenty, then waits of a minute doubling up to
/// an hour.
pub const RESET_REQUESTS_PER_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free_attempts: 20,
    base_delay_secs: 60,
    max_delay_secs: 3600,
    reset_after_secs: 3600,
};

/// How a link is presented: the token from the link, or the code from the same email with
/// the address it was sent to.
#[derive(Clone, Copy)]
pub enum LinkAnswer<'a> {
    Token(&'a str),
    Code { email: &'a str, code: &'a str },
}

fn throttle_key(tenant: &Tenant, scope: &'static str, subject: String) -> ThrottleKey {
    ThrottleKey {
        tenant_id: tenant.id.clone(),
        scope,
        subject,
    }
}

/// The canonical form of an address as typed, for throttle keys (any input, valid or not).
fn subject(email_in: &str) -> String {
    email::canonical(&email_in.chars().take(320).collect::<String>())
}

impl App {
    /// `POST /v1/auth/password/forgot`: emails a reset link and code if `email_in` names an
    /// account; the same answer either way. Throttled per address asked about and per client
    /// address; the email's own send limits and cooldown then apply, silently.
    pub async fn request_password_reset(
        &self,
        tenant: &Tenant,
        email_in: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let email = Email::parse(email_in).map_err(InputError::from)?;
        let now = self.now();
        let mut keys = vec![(
            throttle_key(tenant, "reset_request", email.as_str().to_owned()),
            RESET_REQUESTS_PER_EMAIL,
        )];
        if let Some(ip) = &meta.ip {
            keys.push((
                throttle_key(tenant, "reset_request_client", ip.clone()),
                RESET_REQUESTS_PER_CLIENT,
            ));
        }
        for (key, policy) in &keys {
            if let ThrottleDecision::Locked { retry_after_secs } =
                self.store.throttle_attempt(key, policy, now).await?
            {
                tracing::info!(tenant_id = %tenant.id, scope = key.scope, "password reset request throttled");
                return Err(ServiceError::TooManyAttempts { retry_after_secs });
            }
        }
        let Some(user) = self.store.find_user_by_email(&tenant.id, email.as_str()).await? else {
            tracing::info!(tenant_id = %tenant.id, "password reset asked for an address without an account");
            return Ok(());
        };
        let (app, tenant, meta) = (self.clone(), tenant.clone(), meta.clone());
        tokio::spawn(async move {
            match app
                .issue_link(&tenant, &user, LinkPurpose::ResetPassword, &meta)
                .await
            {
                Ok(()) => {}
                Err(ServiceError::RateLimited { .. }) => {
                    tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "password reset email refused by a send limit");
                }
                Err(e) => {
                    tracing::error!(tenant_id = %tenant.id, error = %e, "password reset email not queued")
                }
            }
        });
        Ok(())
    }

    /// `POST /v1/auth/password/reset`: a new password (the sign-up policy) through a reset
    /// link or code. On success every session of the user ends, and this and every other
    /// outstanding reset link of the user are spent.
    pub async fn reset_password(
        &self,
        tenant: &Tenant,
        answer: LinkAnswer<'_>,
        new_password: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        let normalized = password::check_new(new_password).map_err(InputError::from)?;
        let (link, user, code_key) = self.live_link(tenant, LinkPurpose::ResetPassword, answer).await?;
        let hash = self
            .with_hasher(move |app| app.passwords.hash(&normalized, app.rng.as_ref()))
            .await?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let audit = self.audit_event(Audit {
            tenant,
            actor: &actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: AuditAction::PasswordReset,
            outcome: AuditOutcome::Success,
            detail: Some(answer.kind().into()),
        });
        self.spend_link(
            &link,
            &user,
            LinkEffect::ResetPassword { password_hash: hash },
            audit,
            code_key,
        )
        .await?;
        // The account is the user's again: earlier password failures (perhaps an
        // attacker's) no longer hold them back.
        self.store
            .throttle_clear(&throttle_key(tenant, "password", user.email.as_str().to_owned()))
            .await?;
        tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "password reset: every session ended");
        self.get_user(&tenant.id, &user.id).await
    }

    /// Emails a verification link and code to the user's address (`POST
    /// /v1/auth/email/verify/send`, the account page, sign-up on the pages). Refused when the
    /// address is verified already, and by the send limits and cooldown.
    pub async fn send_email_verification(
        &self,
        tenant: &Tenant,
        user: &User,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        if user.email_verified_at.is_some() {
            return Err(ServiceError::EmailAlreadyVerified);
        }
        self.issue_link(tenant, user, LinkPurpose::VerifyEmail, meta)
            .await
    }

    /// The verification email right after a sign-up (the pages' `/signup`): the account
    /// the address names was just created. A refusal (a send limit) is logged, not raised:
    /// the account exists either way, and the user can ask again from the account page.
    pub async fn send_signup_verification(&self, tenant: &Tenant, email_in: &str, meta: &RequestMeta) {
        let user = match Email::parse(email_in) {
            Ok(e) => self.store.find_user_by_email(&tenant.id, e.as_str()).await,
            Err(_) => return,
        };
        let result = match user {
            Ok(Some(user)) => self.send_email_verification(tenant, &user, meta).await,
            Ok(None) => return,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::warn!(tenant_id = %tenant.id, error = %e, "verification email at sign-up not queued");
        }
    }

    /// `POST /v1/auth/email/verify`: the address is proven by a verification link or code.
    pub async fn verify_email(
        &self,
        tenant: &Tenant,
        answer: LinkAnswer<'_>,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        let (link, user, code_key) = self.live_link(tenant, LinkPurpose::VerifyEmail, answer).await?;
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let audit = self.audit_event(Audit {
            tenant,
            actor: &actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: AuditAction::EmailVerify,
            outcome: AuditOutcome::Success,
            detail: Some(answer.kind().into()),
        });
        self.spend_link(&link, &user, LinkEffect::VerifyEmail, audit, code_key)
            .await?;
        self.get_user(&tenant.id, &user.id).await
    }

    /// Whether `token` names a live link of `purpose` (for the page a link opens: a form, or
    /// "this link has expired"). Spends nothing.
    pub async fn link_is_live(
        &self,
        tenant: &Tenant,
        purpose: LinkPurpose,
        token: &str,
    ) -> ServiceResult<bool> {
        match self.live_link(tenant, purpose, LinkAnswer::Token(token)).await {
            Ok(_) => Ok(true),
            Err(ServiceError::InvalidLink) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The live link an answer names, its user, and for a code the throttle key it was
    /// counted under. A code counts one attempt against the address it was entered with,
    /// whether or not that address has an account.
    async fn live_link(
        &self,
        tenant: &Tenant,
        purpose: LinkPurpose,
        answer: LinkAnswer<'_>,
    ) -> ServiceResult<(EmailLink, User, Option<ThrottleKey>)> {
        let now = self.now();
        let (proof, code_key) = match answer {
            LinkAnswer::Token(token) => {
                let token = token.trim();
                if token.len() > links::MAX_TOKEN_CHARS || !token.starts_with(purpose.token_prefix()) {
                    return Err(ServiceError::InvalidLink);
                }
                (
                    LinkProof::Token {
                        token_hash: links::token_hash(&self.crypto.hasher, purpose, token),
                    },
                    None,
                )
            }
            LinkAnswer::Code {
                email: email_in,
                code,
            } => {
                let key = throttle_key(tenant, "email_link_code", subject(email_in));
                let policy = tenant.settings.factor_throttle();
                if let ThrottleDecision::Locked { retry_after_secs } =
                    self.store.throttle_attempt(&key, &policy, now).await?
                {
                    return Err(ServiceError::TooManyAttempts { retry_after_secs });
                }
                let user = match Email::parse(email_in) {
                    Ok(e) => self.store.find_user_by_email(&tenant.id, e.as_str()).await?,
                    Err(_) => None,
                };
                let Some(code_hash) = user
                    .as_ref()
                    .and_then(|u| links::code_hash(&self.crypto.hasher, purpose, u.id.as_str(), code.trim()))
                else {
                    return Err(ServiceError::InvalidLink);
                };
                let proof = LinkProof::Code {
                    user_id: user.map(|u| u.id).ok_or(ServiceError::InvalidLink)?,
                    code_hash,
                };
                (proof, Some(key))
            }
        };
        let link = self
            .store
            .find_email_link(&tenant.id, purpose, &proof, now)
            .await?
            .ok_or(ServiceError::InvalidLink)?;
        let user = match self.get_user(&tenant.id, &link.user_id).await {
            Err(ServiceError::UserNotFound) => return Err(ServiceError::InvalidLink),
            other => other?,
        };
        // Sent to an address the account no longer has: dead.
        if self.destination_hash(user.email.as_str()) != link.email_hash {
            return Err(ServiceError::InvalidLink);
        }
        Ok((link, user, code_key))
    }

    /// Spends `link` for `user` (still at the address it went to) with `effect`; the code's
    /// failures are forgotten once it is spent.
    async fn spend_link(
        &self,
        link: &EmailLink,
        user: &User,
        effect: LinkEffect,
        audit: latchkey_store::model::AuditEvent,
        code_key: Option<ThrottleKey>,
    ) -> ServiceResult<()> {
        let spend = LinkConsume {
            tenant_id: link.tenant_id.clone(),
            token_hash: link.token_hash.clone(),
            user_id: user.id.clone(),
            email_hash: self.destination_hash(user.email.as_str()),
            effect,
            audit: Some(audit.clone()),
        };
        if !self.store.consume_email_link(&spend, self.now()).await? {
            return Err(ServiceError::InvalidLink);
        }
        super::audit::log_audit(&audit);
        if let Some(key) = code_key {
            self.store.throttle_clear(&key).await?;
        }
        Ok(())
    }

    /// Writes a link of `purpose` for `user` with its email (link and code), under the send
    /// limits and cooldown, and wakes the outbox worker.
    async fn issue_link(
        &self,
        tenant: &Tenant,
        user: &User,
        purpose: LinkPurpose,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let now = self.now();
        let rng = self.rng.as_ref();
        let token = opaque_token(purpose.token_prefix(), rng);
        let code = zeroize::Zeroizing::new(latchkey_core::otp::generate(rng));
        let code_hash = links::code_hash(&self.crypto.hasher, purpose, user.id.as_str(), &code)
            .ok_or_else(|| ServiceError::Internal("generated code is malformed".into()))?;
        let expires_at = now + purpose.lifetime_ms();
        // The tenant's issuer (from the configured public URL, or the tenant's configured
        // host), never the request's Host header.
        let url = self
            .issuer_for(&tenant.id)
            .url_of(&format!("{}?token={}", purpose.page(), token.expose()));
        let message = links::render(purpose, &self.app_name(tenant), &url, &code);
        let destination = user.email.as_str();
        let destination_key = self.destination_hash(destination);
        let issue = EmailLinkIssue {
            link: EmailLink {
                token_hash: links::token_hash(&self.crypto.hasher, purpose, token.expose()),
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                purpose,
                code_hash,
                email_hash: destination_key.clone(),
                created_at: now,
                expires_at,
                consumed_at: None,
            },
            message: queued_message(
                &self.crypto.keyring,
                rng,
                now,
                Outgoing {
                    tenant: &tenant.id,
                    user: &user.id,
                    factor: None,
                    channel: Channel::Email,
                    destination,
                    payload: &serde_json::json!({
                        "subject": message.subject,
                        "text": message.text,
                        "html": message.html,
                    }),
                    expires_at,
                },
            )?,
            limits: send_limits(
                &tenant.settings.send_limits,
                &destination_key,
                &user.id,
                &tenant.id,
                meta.ip.as_deref(),
            ),
            cooldown_key: format!("link:{}:{}", purpose.as_str(), user.id),
            cooldown_secs: i64::try_from(tenant.settings.otp_resend_cooldown_secs).unwrap_or(60),
            stats: vec![("links_issued", purpose.as_str().to_owned())],
        };
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let audit = |outcome, detail: String| Audit {
            tenant,
            actor: &actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: AuditAction::CodeSend,
            outcome,
            detail: Some(detail),
        };
        match self.store.issue_email_link(&issue, now).await? {
            IssueOutcome::Issued => {
                self.outbox_wakeup.notify_one();
                self.audit(audit(AuditOutcome::Queued, format!("email:{}", purpose.as_str())))
                    .await?;
                Ok(())
            }
            IssueOutcome::Cooldown { retry_after_secs } => {
                self.store
                    .bump_stat(&tenant.id, "codes_refused", "cooldown")
                    .await?;
                self.metrics.send_refused(&tenant.id, "cooldown");
                self.audit(audit(AuditOutcome::Refused, "cooldown".into()))
                    .await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
            IssueOutcome::Limited {
                scope,
                retry_after_secs,
            } => {
                self.store.bump_stat(&tenant.id, "codes_refused", scope).await?;
                self.metrics.send_refused(&tenant.id, scope);
                self.audit(audit(AuditOutcome::Refused, scope.into())).await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
        }
    }
}

impl LinkAnswer<'_> {
    /// How the link was presented, for the audit record.
    fn kind(&self) -> &'static str {
        match self {
            LinkAnswer::Token(_) => "link",
            LinkAnswer::Code { .. } => "code",
        }
    }
}
