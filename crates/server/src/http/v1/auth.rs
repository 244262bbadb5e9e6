//! End-user routes: `/v1/auth/*` and `/v1/users/me`.

use super::dto::*;
use super::error::{sign_in_answer, ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{
    header_tenant, invalid_access_token, Meta, StrictJson, TenantCtx, UserCtx,
};
use crate::service::auth::SignupInput;
use crate::service::outcome::{SignInExtras, SignInOutcome};
use crate::service::recovery::LinkAnswer;
use crate::service::sessions::TokenPair;
use crate::service::{ErrorCode, Failure};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_store::model::{Tenant, User};

/// The answer to a completed sign-up or sign-in: the user and the new session's tokens.
fn signed_in(app: &App, user: &User, tokens: TokenPair) -> AuthResponse {
    AuthResponse {
        user: UserView::new(user, app.user_phone(user)),
        tokens: tokens.into(),
        mfa_enrollment_due: None,
    }
}

#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key (24 h); see docs/security.md", min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7e]+$")),
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = AuthResponse),
        (status = 401, description = "mfa_setup_required: the tenant requires MFA; the account exists, enroll a factor with the challenge (no session yet)", body = ErrorBody),
        (status = 400, description = "Invalid input, invalid_idempotency_key", body = ErrorBody),
        (status = 403, description = "Sign-up disabled", body = ErrorBody),
        (status = 409, description = "email_taken; idempotency_key_in_use", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused: this Idempotency-Key came with another request", body = ErrorBody),
    ))]
pub async fn signup(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    StrictJson(req, _): StrictJson<SignupRequest, V1>,
) -> Result<impl IntoResponse, ApiError> {
    let input = SignupInput {
        email: req.email,
        password: req.password,
        phone_number: req.phone_number,
        name: req.name,
    };
    let outcome = app.signup(&tenant, input).await?;
    let due = enrollment_due(&app, &tenant, &outcome).await?;
    Ok(sign_in_answer(outcome, |(user, tokens)| {
        let mut body = signed_in(&app, &user, tokens);
        body.mfa_enrollment_due = due;
        (StatusCode::CREATED, Json(body)).into_response()
    }))
}

/// The reminder for an account signed in within an enrollment grace (`None` otherwise).
async fn enrollment_due(
    app: &App,
    tenant: &Tenant,
    outcome: &SignInOutcome<(User, TokenPair)>,
) -> Result<Option<EnrollmentDueView>, ApiError> {
    let SignInOutcome::Complete((user, _)) = outcome else {
        return Ok(None);
    };
    Ok(app
        .enrollment_due(tenant, &user.id)
        .await?
        .map(|d| EnrollmentDueView {
            until: latchkey_core::time::rfc3339(d.until),
            allowed: d.allowed.iter().map(|k| k.as_str()).collect(),
        }))
}

#[utoipa::path(post, path = "/v1/auth/signin", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = SigninRequest,
    responses(
        (status = 200, description = "Signed in (with a remembered device: `amr` `[\"pwd\",\"mfa\"]`, `acr` `aal2`)", body = AuthResponse),
        (status = 401, description = "invalid_credentials: unknown email or wrong password, indistinguishably; mfa_required / mfa_setup_required with a challenge", body = ErrorBody),
        (status = 403, description = "sign_in_refused: adaptive MFA refused this sign-in (its risk reached the tenant's deny_score, or it needed a second factor the user does not have); the same answer whatever the reason", body = ErrorBody),
        (status = 429, description = "too_many_attempts, with Retry-After", body = ErrorBody),
    ))]
pub async fn signin(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<SigninRequest, V1>,
) -> Result<Response, ApiError> {
    let extras = SignInExtras {
        requires: None,
        device_token: req.device_token.as_deref(),
        risky: false,
        ..SignInExtras::default()
    };
    let outcome = app
        .signin_with(&tenant, &req.email, &req.password, &extras, &meta)
        .await?;
    let due = enrollment_due(&app, &tenant, &outcome).await?;
    Ok(sign_in_answer(outcome, |(user, tokens)| {
        let mut body = signed_in(&app, &user, tokens);
        body.mfa_enrollment_due = due;
        Json(body).into_response()
    }))
}

#[utoipa::path(post, path = "/v1/auth/passkey/options", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    responses(
        (status = 200, description = "Request options for a passkey (discoverable credential) sign-in; no body needed", body = PasskeyOptions),
        (status = 400, description = "factor_not_allowed: the tenant does not allow webauthn", body = ErrorBody),
    ))]
pub async fn passkey_options(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
) -> Result<Json<PasskeyOptions>, ApiError> {
    Ok(Json(PasskeyOptions(app.passkey_options(&tenant, &meta).await?)))
}

#[utoipa::path(post, path = "/v1/auth/passkey/signin", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = PasskeySigninRequest,
    responses(
        (status = 200, description = "Signed in: amr names the key (hwk or swk), user and mfa; acr aal2_phr", body = AuthResponse),
        (status = 400, description = "invalid_credential_format", body = ErrorBody),
        (status = 401, description = "invalid_credential: whatever was wrong (unknown credential, used or expired options, bad signature, another user's handle)", body = ErrorBody),
        (status = 429, description = "too_many_attempts, with Retry-After", body = ErrorBody),
    ))]
pub async fn passkey_signin(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<PasskeySigninRequest, V1>,
) -> Result<Response, ApiError> {
    let outcome = app.passkey_signin(&tenant, &req.credential, &meta).await?;
    Ok(sign_in_answer(outcome, |(user, tokens)| {
        Json(signed_in(&app, &user, tokens)).into_response()
    }))
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "If given, must be the token's tenant")),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is spent", body = TokenResponse),
        (status = 401, description = "invalid_refresh_token (a reused token also ends its session)", body = ErrorBody),
    ))]
pub async fn refresh(
    State(app): State<App>,
    headers: HeaderMap,
    StrictJson(req, _): StrictJson<RefreshRequest, V1>,
) -> Result<Json<TokenResponse>, ApiError> {
    let hint = header_tenant(&headers)?;
    Ok(Json(app.refresh(hint.as_ref(), &req.refresh_token).await?.into()))
}

#[utoipa::path(post, path = "/v1/auth/signout", tag = "auth",
    request_body(content = Option<SignoutRequest>, description = "Optional; without a body the access token's session ends"),
    responses(
        (status = 204, description = "Session ended"),
        (status = 401, description = "No valid access or refresh token", body = ErrorBody),
    ),
    security(("access_token" = [])))]
pub async fn signout(
    State(app): State<App>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    // With a JSON body naming a refresh token, end that token's session; otherwise end the
    // session of the bearer access token.
    if !body.is_empty() {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
        if !is_json {
            return Err(Failure::unsupported_media_type().into());
        }
        let req: SignoutRequest = serde_json::from_slice(&body).map_err(|_| {
            Failure::invalid(ErrorCode::InvalidJson, "body must be {\"refresh_token\": \"…\"}")
        })?;
        if let Some(rt) = req.refresh_token {
            app.signout_refresh(&rt).await?;
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or_else(|| {
            Failure::unauthenticated(
                ErrorCode::MissingCredentials,
                "send an access token or a refresh_token",
            )
        })?;
    let ctx = app
        .authenticate_access(&token)
        .await
        .ok_or_else(invalid_access_token)?;
    app.signout_session(&ctx.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/users/me", tag = "users",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, description = "invalid_token", body = ErrorBody),
    ),
    security(("access_token" = [])))]
pub async fn me(State(app): State<App>, UserCtx(ctx, _): UserCtx<V1>) -> Result<Json<UserView>, ApiError> {
    let user = app.get_user(&ctx.tenant_id, &ctx.user_id).await?;
    Ok(Json(UserView::new(&user, app.user_phone(&user))))
}

/// A link answer from the request's `token`, or `email` and `code`; exactly one of the two.
fn link_answer<'a>(
    token: &'a Option<String>,
    email: &'a Option<String>,
    code: &'a Option<String>,
) -> Result<LinkAnswer<'a>, Failure> {
    match (token, email, code) {
        (Some(token), None, None) => Ok(LinkAnswer::Token(token)),
        (None, Some(email), Some(code)) => Ok(LinkAnswer::Code { email, code }),
        _ => Err(Failure::invalid(
            ErrorCode::InvalidRequest,
            "give either token, or email and code",
        )),
    }
}

#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "The same answer whether or not the address has an account; an account's address gets a reset link and code (valid 30 minutes, once)", body = Accepted),
        (status = 400, description = "invalid_email", body = ErrorBody),
        (status = 429, description = "too_many_attempts (per address asked about, per client address), with Retry-After", body = ErrorBody),
    ))]
pub async fn forgot_password(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ForgotPasswordRequest, V1>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    app.request_password_reset(&tenant, &req.email, &meta).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "if an account has this address, a link and code are on their way",
        }),
    ))
}

#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed; every session of the user ended, and every reset link of the user is spent"),
        (status = 400, description = "invalid_link (unknown, expired, used, or for an address the account no longer has), invalid_password, invalid_request", body = ErrorBody),
        (status = 429, description = "too_many_attempts: too many wrong codes for this address, with Retry-After", body = ErrorBody),
    ))]
pub async fn reset_password(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ResetPasswordRequest, V1>,
) -> Result<StatusCode, ApiError> {
    let answer = link_answer(&req.token, &req.email, &req.code)?;
    app.reset_password(&tenant, answer, &req.password, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/auth/email/verify/send", tag = "auth",
    responses(
        (status = 202, description = "A verification link and code are on their way to the user's address (valid 24 hours, once)", body = Accepted),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 409, description = "email_already_verified", body = ErrorBody),
        (status = 429, description = "rate_limited: a send limit or the resend cooldown, with Retry-After", body = ErrorBody),
    ),
    security(("access_token" = [])))]
pub async fn send_email_verification(
    State(app): State<App>,
    UserCtx(ctx, _): UserCtx<V1>,
    Meta(meta): Meta,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let tenant = app.load_tenant(&ctx.tenant_id).await?;
    let user = app.get_user(&ctx.tenant_id, &ctx.user_id).await?;
    app.send_email_verification(&tenant, &user, &meta).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "a link and code are on their way",
        }),
    ))
}

#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "auth",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant; the default tenant if absent")),
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is verified", body = UserView),
        (status = 400, description = "invalid_link (unknown, expired, used, or for an address the account no longer has), invalid_request", body = ErrorBody),
        (status = 429, description = "too_many_attempts: too many wrong codes for this address, with Retry-After", body = ErrorBody),
    ))]
pub async fn verify_email(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<VerifyEmailRequest, V1>,
) -> Result<Json<UserView>, ApiError> {
    let answer = link_answer(&req.token, &req.email, &req.code)?;
    let user = app.verify_email(&tenant, answer, &meta).await?;
    Ok(Json(UserView::new(&user, app.user_phone(&user))))
}
