//! nauth's public routes: `POST /auth/login`, `POST /auth/respond-challenge`,
//! `POST /auth/challenge/setup-data`, `POST /auth/challenge/resend`. Each maps onto the
//! sign-in use cases `/v1` uses: `signin_with`, `select_factor` (which sends a code),
//! `verify_challenge`, `enroll_for_challenge`, and the verified-phone forced setup.

use super::dto::*;
use super::{Flow, Nauth, NauthError, NauthErrorBody};
use crate::http::common::extract::{Meta, StrictJson, TenantCtx};
use crate::service::audit::RequestMeta;
use crate::service::factors::{Answer, EnrollDetails};
use crate::service::mfa::{EnrollRequest, Enrollment, FactorChoice, Verified};
use crate::service::outcome::{PendingChallenge, SignInExtras, SignInOutcome};
use crate::service::sessions::TokenPair;
use crate::service::{FailureKind, ServiceError};
use crate::App;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use latchkey_core::factor::{ChallengePurpose, Channel, FactorKind};
use latchkey_store::model::{Tenant, User};
use serde_json::{json, Value};

/// A completed sign-in in nauth's shape.
pub(super) fn tokens_response(
    app: &App,
    tenant: &Tenant,
    user: &User,
    tokens: TokenPair,
    backup_codes: Option<Vec<String>>,
) -> Response {
    let now = app.now();
    let access_ms = i64::try_from(tokens.expires_in).unwrap_or(0).saturating_mul(1000);
    let refresh_ms = i64::try_from(tenant.settings.refresh_token_ttl_secs)
        .unwrap_or(0)
        .saturating_mul(1000);
    let body = TokensResponse {
        access_token: tokens.access_token.expose().to_owned(),
        refresh_token: tokens.refresh_token.expose().to_owned(),
        access_token_expires_at: now.saturating_add(access_ms),
        refresh_token_expires_at: now.saturating_add(refresh_ms),
        auth_method: "password",
        trusted: false,
        user: AuthUser {
            sub: user.id.to_string(),
            email: user.email.to_string(),
            phone: app.user_phone(user),
            is_email_verified: user.email_verified_at.is_some(),
            is_phone_verified: user.phone_verified_at.is_some(),
        },
        sub: user.id.to_string(),
    };
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    if let (Some(codes), Some(obj)) = (backup_codes, value.as_object_mut()) {
        // Shown once: the first factor's backup codes (a Latchkey addition).
        obj.insert("backupCodes".into(), json!(codes));
    }
    Json(value).into_response()
}

fn challenge(name: &'static str, session: String, user: &User, parameters: Value) -> Response {
    Json(ChallengeResponse {
        challenge_name: name,
        session,
        challenge_parameters: parameters,
        sub: user.id.to_string(),
    })
    .into_response()
}

fn medium(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "SMS",
        Channel::Email => "EMAIL",
    }
}

/// `MFA_REQUIRED`: the code goes by itself to the preferred factor (or, without one, the
/// first factor offered), when that factor is one codes are sent to.
async fn mfa_required(
    app: &App,
    tenant: &Tenant,
    user: &User,
    pending: &PendingChallenge,
    meta: &RequestMeta,
) -> Result<Response, NauthError> {
    let session = pending.challenge_id.to_string();
    let mut methods: Vec<&'static str> = Vec::new();
    for f in &pending.factors {
        let m = method_name(f.kind);
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    let preferred = app.preferred_factor(tenant, &user.id).await?;
    let chosen = pending
        .factors
        .iter()
        .find(|f| Some(&f.id) == preferred.as_ref())
        .or_else(|| pending.factors.iter().find(|f| !f.kind.is_recovery()));
    let mut params = json!({ "availableMethods": methods });
    if let Some(f) = chosen {
        params["preferredMethod"] = method_name(f.kind).into();
        if let Some(channel) = f.kind.channel() {
            let choice = FactorChoice {
                factor_id: Some(f.id.to_string()),
                kind: None,
            };
            match app.select_factor(tenant, &session, &choice, meta).await {
                Ok(selected) => {
                    params["destination"] = app.masked_destination(&selected.factor).into();
                    params["deliveryMedium"] = medium(channel).into();
                }
                // A refused send (a cooldown, a send limit, the SMS policy) leaves the
                // challenge as it is: another method, or `challenge/resend`, says why.
                Err(e) => {
                    let failure = crate::service::Failure::from(e);
                    if failure.kind == FailureKind::Internal {
                        return Err(failure.into());
                    }
                    tracing::info!(code = failure.code.as_str(), "nauth login: the code was not sent");
                }
            }
        }
    }
    Ok(challenge("MFA_REQUIRED", session, user, params))
}

/// `MFA_SETUP_REQUIRED`, or `VERIFY_PHONE` when only SMS may be set up and the account has
/// no number to send its code to.
fn setup_required(app: &App, user: &User, pending: &PendingChallenge) -> Response {
    let allowed: Vec<FactorKind> = pending
        .allowed
        .iter()
        .copied()
        .filter(|k| !k.is_recovery())
        .collect();
    let session = pending.challenge_id.to_string();
    if allowed == [FactorKind::Sms] && app.user_phone(user).is_none() {
        return challenge(
            "VERIFY_PHONE",
            session,
            user,
            json!({ "requiresPhoneCollection": true }),
        );
    }
    let methods: Vec<&str> = allowed.iter().map(|k| method_name(*k)).collect();
    challenge(
        "MFA_SETUP_REQUIRED",
        session,
        user,
        json!({ "allowedMethods": methods }),
    )
}

/// A sign-in outcome in nauth's words.
async fn answer_outcome(
    app: &App,
    tenant: &Tenant,
    outcome: SignInOutcome<Verified>,
    meta: &RequestMeta,
) -> Result<Response, NauthError> {
    match outcome {
        SignInOutcome::Complete(v) => {
            let user = app.get_user(&tenant.id, &v.factor.user_id).await?;
            Ok(tokens_response(app, tenant, &user, v.tokens, v.backup_codes))
        }
        SignInOutcome::Challenge(p) | SignInOutcome::Enroll(p) => {
            let (user, purpose) = app.challenge_user(tenant, p.challenge_id.as_str()).await?;
            match purpose {
                ChallengePurpose::SignIn => mfa_required(app, tenant, &user, &p, meta).await,
                ChallengePurpose::Enroll => Ok(setup_required(app, &user, &p)),
            }
        }
    }
}

#[utoipa::path(post, path = "/auth/login", tag = "nauth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens (`accessToken`, `refreshToken`, `accessTokenExpiresAt`, `user`, …), or a challenge: `MFA_REQUIRED` (the code already sent to the preferred SMS or email device), `MFA_SETUP_REQUIRED` (`allowedMethods`), `VERIFY_PHONE` (SMS must be set up and the account has no number)", body = TokensResponse),
        (status = 400, description = "VALIDATION_FAILED", body = NauthErrorBody),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS: unknown identifier or wrong password, indistinguishably", body = NauthErrorBody),
        (status = 403, description = "FORBIDDEN: adaptive MFA refused this sign-in", body = NauthErrorBody),
        (status = 429, description = "RATE_LIMIT_LOGIN, with Retry-After", body = NauthErrorBody),
    ))]
pub async fn login(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<Nauth>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<LoginRequest, Nauth>,
) -> Result<Response, NauthError> {
    let outcome = app
        .signin_with(
            &tenant,
            &req.identifier,
            &req.password,
            &SignInExtras::default(),
            &meta,
        )
        .await
        .map_err(NauthError::during(Flow::Login))?;
    match outcome {
        SignInOutcome::Complete((user, tokens)) => Ok(tokens_response(&app, &tenant, &user, tokens, None)),
        SignInOutcome::Challenge(p) => {
            let (user, _) = app.challenge_user(&tenant, p.challenge_id.as_str()).await?;
            mfa_required(&app, &tenant, &user, &p, &meta).await
        }
        SignInOutcome::Enroll(p) => {
            let (user, _) = app.challenge_user(&tenant, p.challenge_id.as_str()).await?;
            Ok(setup_required(&app, &user, &p))
        }
    }
}

fn kind_of(method: Option<&str>) -> Result<Option<FactorKind>, NauthError> {
    method
        .map(|m| {
            method_kind(m).ok_or_else(|| {
                NauthError::invalid("`method` must be one of sms, email, totp, passkey, backup")
            })
        })
        .transpose()
}

/// The answer in a request: a code or a WebAuthn credential, exactly one.
fn answer<'a>(code: Option<&'a str>, credential: Option<&'a Value>) -> Result<Answer<'a>, NauthError> {
    match (code, credential) {
        (Some(c), None) => Ok(Answer::Code(c)),
        (None, Some(v)) => Ok(Answer::Credential(v)),
        (None, None) => Err(NauthError::invalid("send `code` (or `credential` for a passkey)")),
        (Some(_), Some(_)) => Err(NauthError::invalid(
            "send either `code` or `credential`, not both",
        )),
    }
}

#[utoipa::path(post, path = "/auth/respond-challenge", tag = "nauth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in")),
    request_body = RespondChallengeRequest,
    responses(
        (status = 200, description = "Tokens, or the next challenge (`VERIFY_PHONE` after a number: the code went to it; `MFA_SETUP_REQUIRED` when the factor proven is of a kind no longer allowed)", body = TokensResponse),
        (status = 400, description = "VERIFY_CODE_INVALID (a wrong code: counted), VALIDATION_FAILED (an unknown `type` or `method`, a missing `code`, an invalid phone number)", body = NauthErrorBody),
        (status = 401, description = "CHALLENGE_EXPIRED: the session is unknown, used or expired", body = NauthErrorBody),
        (status = 429, description = "CHALLENGE_MAX_ATTEMPTS (too many wrong codes, with Retry-After), RATE_LIMIT_SMS", body = NauthErrorBody),
    ))]
pub async fn respond_challenge(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<Nauth>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<RespondChallengeRequest, Nauth>,
) -> Result<Response, NauthError> {
    let verify = NauthError::during(Flow::Verify);
    let kind = kind_of(req.method.as_deref())?;
    match req.kind.as_str() {
        "MFA_REQUIRED" => {
            let choice = FactorChoice {
                factor_id: req.device_id.clone(),
                kind,
            };
            let given = answer(req.code.as_deref(), req.credential.as_ref())?;
            let outcome = app
                .verify_challenge(&tenant, &req.session, &choice, given, false, &meta)
                .await
                .map_err(&verify)?;
            answer_outcome(&app, &tenant, outcome, &meta).await
        }
        "MFA_SETUP_REQUIRED" => {
            let setup = req
                .setup_data
                .as_ref()
                .ok_or_else(|| NauthError::invalid("`setupData` is required for MFA_SETUP_REQUIRED"))?;
            if let Some(device) = &setup.device_id {
                let verified = app
                    .complete_with_verified_phone(&tenant, &req.session, device, &meta)
                    .await
                    .map_err(&verify)?;
                return answer_outcome(&app, &tenant, SignInOutcome::Complete(verified), &meta).await;
            }
            let choice = FactorChoice {
                factor_id: None,
                kind,
            };
            let given = answer(setup.code.as_deref(), setup.credential.as_ref())?;
            let outcome = app
                .verify_challenge(&tenant, &req.session, &choice, given, false, &meta)
                .await
                .map_err(&verify)?;
            answer_outcome(&app, &tenant, outcome, &meta).await
        }
        "VERIFY_PHONE" => match (&req.phone, &req.code) {
            (Some(phone), None) => {
                let request = EnrollRequest {
                    kind: FactorKind::Sms,
                    name: None,
                    phone_number: Some(phone.clone()),
                    confirmed: false,
                };
                let enrollment = app
                    .enroll_for_challenge(&tenant, &req.session, request, &meta)
                    .await?;
                let (user, _) = app.challenge_user(&tenant, &req.session).await?;
                let destination = match enrollment.details {
                    EnrollDetails::Sent { destination, .. } => Some(destination),
                    _ => None,
                };
                Ok(challenge(
                    "VERIFY_PHONE",
                    req.session.clone(),
                    &user,
                    json!({ "codeDeliveryDestination": destination, "deliveryMedium": "SMS" }),
                ))
            }
            (None, Some(code)) => {
                let choice = FactorChoice {
                    factor_id: None,
                    kind: Some(FactorKind::Sms),
                };
                let outcome = app
                    .verify_challenge(&tenant, &req.session, &choice, Answer::Code(code), false, &meta)
                    .await
                    .map_err(&verify)?;
                answer_outcome(&app, &tenant, outcome, &meta).await
            }
            _ => Err(NauthError::invalid(
                "VERIFY_PHONE takes `phone` (to send a code) or `code` (to verify it), one of them",
            )),
        },
        "VERIFY_EMAIL" | "FORCE_CHANGE_PASSWORD" => Err(NauthError::invalid(format!(
            "challenge type {} is not issued by this server",
            req.kind
        ))),
        _ => Err(NauthError::invalid(
            "`type` must be MFA_REQUIRED, MFA_SETUP_REQUIRED or VERIFY_PHONE",
        )),
    }
}

/// `{"setupData": …}` for a started enrollment.
pub(super) fn setup_view(enrollment: &Enrollment) -> Value {
    match &enrollment.details {
        EnrollDetails::Sent { channel, destination } => match channel {
            Channel::Sms => json!({ "maskedPhone": destination }),
            Channel::Email => json!({ "maskedEmail": destination }),
        },
        EnrollDetails::Totp {
            secret_base32,
            otpauth_uri,
            qr_code_svg,
        } => {
            let svg = base64::engine::general_purpose::STANDARD.encode(qr_code_svg.as_bytes());
            json!({
                "secret": secret_base32.as_str(),
                "manualEntryKey": secret_base32.as_str(),
                "otpauthUrl": otpauth_uri.as_str(),
                "qrCode": format!("data:image/svg+xml;base64,{svg}"),
                "deviceId": enrollment.factor.id.to_string(),
            })
        }
        EnrollDetails::Confirmed { destination, .. } => json!({
            "autoCompleted": true,
            "deviceId": enrollment.factor.id.to_string(),
            "maskedPhone": destination,
        }),
        EnrollDetails::Webauthn { options } => json!({
            "options": options,
            "deviceId": enrollment.factor.id.to_string(),
        }),
    }
}

#[utoipa::path(post, path = "/auth/challenge/setup-data", tag = "nauth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in")),
    request_body = ChallengeSetupRequest,
    responses(
        (status = 200, description = "SMS with the account's verified number: `{\"setupData\":{\"autoCompleted\":true,\"deviceId\"}}` (no code; finish with `setupData.deviceId`); else `{\"setupData\":{\"maskedPhone\"}}` and a code sent; email: `maskedEmail`; TOTP: `secret`, `qrCode`, `otpauthUrl`", body = SetupDataResponse),
        (status = 400, description = "VALIDATION_FAILED: an unknown or disallowed method, no number to send to", body = NauthErrorBody),
        (status = 401, description = "CHALLENGE_EXPIRED, also when the user has set up a factor since", body = NauthErrorBody),
        (status = 429, description = "RATE_LIMIT_SMS: a send limit", body = NauthErrorBody),
    ))]
pub async fn challenge_setup_data(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<Nauth>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ChallengeSetupRequest, Nauth>,
) -> Result<Json<SetupDataResponse>, NauthError> {
    let kind = kind_of(Some(&req.method))?.unwrap_or(FactorKind::Sms);
    if kind == FactorKind::Sms && req.phone.is_none() {
        if let Some(enrollment) = app.enroll_verified_phone(&tenant, &req.session, &meta).await? {
            return Ok(Json(SetupDataResponse {
                setup_data: json!({
                    "autoCompleted": true,
                    "deviceId": enrollment.factor.id.to_string(),
                }),
            }));
        }
    }
    let request = EnrollRequest {
        kind,
        name: None,
        phone_number: req.phone,
        confirmed: false,
    };
    let enrollment = app
        .enroll_for_challenge(&tenant, &req.session, request, &meta)
        .await?;
    Ok(Json(SetupDataResponse {
        setup_data: setup_view(&enrollment),
    }))
}

#[utoipa::path(post, path = "/auth/challenge/resend", tag = "nauth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in")),
    request_body = ResendRequest,
    responses(
        (status = 200, description = "A new code went to the challenge's SMS or email device (or the one `method` names)", body = ResendResponse),
        (status = 400, description = "VALIDATION_FAILED: an unknown method, or one no code is sent for", body = NauthErrorBody),
        (status = 401, description = "CHALLENGE_EXPIRED", body = NauthErrorBody),
        (status = 404, description = "MFA_DEVICE_NOT_FOUND: no device of that method, or no code to send again", body = NauthErrorBody),
        (status = 429, description = "RATE_LIMIT_RESEND: within the resend cooldown or a send limit, with Retry-After", body = NauthErrorBody),
    ))]
pub async fn challenge_resend(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<Nauth>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ResendRequest, Nauth>,
) -> Result<Json<ResendResponse>, NauthError> {
    let resend = NauthError::during(Flow::Resend);
    let kind = kind_of(req.method.as_deref())?;
    if kind.is_some_and(|k| k.channel().is_none()) {
        return Err(NauthError::invalid("codes are sent by `sms` or `email` only"));
    }
    let (_, purpose) = app.challenge_user(&tenant, &req.session).await?;
    let (factor, destination) = match purpose {
        ChallengePurpose::SignIn => {
            let choice = FactorChoice {
                factor_id: None,
                kind,
            };
            let selected = app
                .select_factor(&tenant, &req.session, &choice, &meta)
                .await
                .map_err(&resend)?;
            let destination = app.masked_destination(&selected.factor);
            (selected.factor, destination)
        }
        ChallengePurpose::Enroll => {
            let enrollment = app
                .resend_enrollment_code(&tenant, &req.session, &meta)
                .await
                .map_err(&resend)?;
            let destination = match &enrollment.details {
                EnrollDetails::Sent { destination, .. } => Some(destination.clone()),
                _ => None,
            };
            (enrollment.factor, destination)
        }
    };
    let channel = factor
        .kind
        .channel()
        .ok_or_else(|| NauthError::from(ServiceError::FactorNotFound))?;
    Ok(Json(ResendResponse {
        destination,
        delivery_medium: medium(channel),
    }))
}
