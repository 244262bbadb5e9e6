//! MFA routes: managing a user's factors (`/v1/users/{user_id}/mfa/*`) and the sign-in
//! challenge (`/v1/mfa/*`).

use super::dto::*;
use super::error::{sign_in_answer, ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{CallerCtx, Meta, StrictJson, TenantCtx};
use crate::service::mfa::{EnrollRequest as EnrollInput, FactorChoice};
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::FactorId;
use latchkey_core::time::rfc3339;

fn kind(name: &str) -> Result<FactorKind, ApiError> {
    FactorKind::parse(name).ok_or_else(|| ServiceError::UnknownFactorType.into())
}

/// The factor a challenge request names, by id or type (or neither, when unambiguous).
fn choice(factor_id: Option<String>, kind_name: Option<&str>) -> Result<FactorChoice, ApiError> {
    Ok(FactorChoice {
        factor_id,
        kind: kind_name.map(kind).transpose()?,
    })
}

fn factor_id(s: &str) -> Result<FactorId, ApiError> {
    FactorId::parse(s).map_err(|_| ServiceError::FactorNotFound.into())
}

#[utoipa::path(post, path = "/v1/users/{user_id}/mfa/factors", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me` with an access token"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key (24 h); see docs/security.md", min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7e]+$")),
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "Pending factor; confirm it with a code", body = EnrollmentResponse),
        (status = 400, description = "factor_not_allowed, unknown_factor_type, invalid_phone_number, invalid_idempotency_key", body = ErrorBody),
        (status = 403, description = "mfa_verification_required: the token's second factor is older than 15 minutes; insufficient_scope: `confirmed: true` needs a secret key with the `mfa:admin` scope", body = ErrorBody),
        (status = 409, description = "idempotency_key_in_use: a request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused: this Idempotency-Key came with another request", body = ErrorBody),
    ),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn enroll(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path(user_id): Path<String>,
    StrictJson(req, _): StrictJson<EnrollRequest, V1>,
) -> Result<impl IntoResponse, ApiError> {
    let target = caller.target(&user_id)?;
    let request = EnrollInput {
        kind: kind(&req.kind)?,
        name: req.name,
        phone_number: req.phone_number,
        confirmed: req.confirmed.unwrap_or(false),
    };
    let enrollment = app
        .enroll_factor(&caller.tenant, &caller.actor, &target, request, &caller.meta)
        .await?;
    Ok((StatusCode::CREATED, Json(EnrollmentResponse::from(enrollment))))
}

#[utoipa::path(post, path = "/v1/users/{user_id}/mfa/factors/{factor_id}/confirm", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me`"), ("factor_id" = String, Path, description = "fac_…")),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Active; backup codes on the first factor", body = ConfirmResponse),
        (status = 400, description = "invalid_request (neither or both of code and credential), invalid_credential_format", body = ErrorBody),
        (status = 401, description = "invalid_code, invalid_credential", body = ErrorBody),
        (status = 403, description = "mfa_verification_required: a factor became active since this enrollment started, and this session has not passed one within 15 minutes", body = ErrorBody),
        (status = 409, description = "factor_not_pending", body = ErrorBody),
        (status = 429, description = "too_many_attempts", body = ErrorBody),
    ),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn confirm(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path((user_id, fid)): Path<(String, String)>,
    StrictJson(req, _): StrictJson<CodeRequest, V1>,
) -> Result<Json<ConfirmResponse>, ApiError> {
    let target = caller.target(&user_id)?;
    let (factor, backup_codes) = app
        .confirm_factor(
            &caller.tenant,
            &caller.actor,
            &target,
            &factor_id(&fid)?,
            req.answer()?,
            &caller.meta,
        )
        .await?;
    Ok(Json(ConfirmResponse {
        factor_id: factor.id.to_string(),
        kind: factor.kind.as_str(),
        status: factor.status.as_str(),
        backup_codes,
    }))
}

#[utoipa::path(get, path = "/v1/users/{user_id}/mfa/factors", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me`")),
    responses((status = 200, description = "Active and pending factors; never a secret", body = FactorList)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn list(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path(user_id): Path<String>,
) -> Result<Json<FactorList>, ApiError> {
    let target = caller.target(&user_id)?;
    let factors = app
        .list_user_factors(&caller.tenant, &caller.actor, &target)
        .await?;
    Ok(Json(FactorList {
        factors: factors.iter().map(FactorView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/users/{user_id}/mfa/factors/{factor_id}", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me`"), ("factor_id" = String, Path, description = "fac_…")),
    responses((status = 204, description = "Removed"),
              (status = 403, description = "mfa_verification_required; insufficient_scope: a secret key needs the `mfa:admin` scope to remove a user's factor", body = ErrorBody),
              (status = 404, description = "factor_not_found", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn delete(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path((user_id, fid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let target = caller.target(&user_id)?;
    app.delete_factor(
        &caller.tenant,
        &caller.actor,
        &target,
        &factor_id(&fid)?,
        &caller.meta,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/users/{user_id}/mfa/factors/{factor_id}/preferred", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me`"), ("factor_id" = String, Path, description = "fac_…")),
    responses((status = 200, description = "The factor, now the user's preferred one (`preferred: true`); audited as `factor.preferred`", body = FactorView),
              (status = 401, description = "missing_credentials, invalid_token, invalid_api_key", body = ErrorBody),
              (status = 404, description = "factor_not_found: no active factor of the user with this id (backup codes cannot be preferred)", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn prefer(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path((user_id, fid)): Path<(String, String)>,
) -> Result<Json<FactorView>, ApiError> {
    let target = caller.target(&user_id)?;
    let chosen = app
        .set_preferred_factor(
            &caller.tenant,
            &caller.actor,
            &target,
            &factor_id(&fid)?,
            &caller.meta,
        )
        .await?;
    let factors = app
        .list_user_factors(&caller.tenant, &caller.actor, &target)
        .await?;
    factors
        .iter()
        .find(|f| f.factor.id == chosen.id)
        .map(|f| Json(FactorView::from(f)))
        .ok_or_else(|| ServiceError::FactorNotFound.into())
}

#[utoipa::path(post, path = "/v1/users/{user_id}/mfa/backup-codes", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me`"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key (24 h); see docs/security.md", min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7e]+$")),
    responses((status = 201, description = "A new set; every old code stops working", body = BackupCodes),
              (status = 400, description = "invalid_idempotency_key", body = ErrorBody),
              (status = 403, description = "mfa_verification_required; insufficient_scope: a secret key needs the `mfa:admin` scope to take a user's new codes", body = ErrorBody),
              (status = 409, description = "mfa_not_enabled; idempotency_key_in_use", body = ErrorBody),
              (status = 422, description = "idempotency_key_reused: this Idempotency-Key came with another request", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn regenerate_backup_codes(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path(user_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let target = caller.target(&user_id)?;
    let codes = app
        .regenerate_backup_codes(&caller.tenant, &caller.actor, &target, &caller.meta)
        .await?;
    Ok((StatusCode::CREATED, Json(BackupCodes { backup_codes: codes })))
}

#[utoipa::path(post, path = "/v1/mfa/challenge", tag = "mfa",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key (24 h); see docs/security.md", min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7e]+$")),
    request_body = ChallengeRequest,
    responses((status = 200, description = "The factor chosen for this challenge; `expires_at` covers a code just sent", body = ChallengeResponse),
              (status = 400, description = "factor_id_required, unknown_factor_type, invalid_idempotency_key", body = ErrorBody),
              (status = 401, description = "invalid_challenge, challenge_expired", body = ErrorBody),
              (status = 404, description = "factor_not_found", body = ErrorBody),
              (status = 409, description = "idempotency_key_in_use: a request with this Idempotency-Key is still running", body = ErrorBody),
              (status = 422, description = "idempotency_key_reused: this Idempotency-Key came with another request", body = ErrorBody),
              (status = 429, description = "rate_limited: a code was sent too recently or a send limit is reached, with Retry-After", body = ErrorBody)))]
pub async fn challenge(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ChallengeRequest, V1>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    let choice = choice(req.factor_id, req.kind.as_deref())?;
    let selected = app
        .select_factor(&tenant, &req.challenge_id, &choice, &meta)
        .await?;
    Ok(Json(ChallengeResponse {
        challenge_id: selected.challenge.id.to_string(),
        factor_id: selected.factor.id.to_string(),
        kind: selected.factor.kind.as_str(),
        destination: app.masked_destination(&selected.factor),
        expires_at: rfc3339(selected.expires_at),
        webauthn: selected.options,
    }))
}

#[utoipa::path(post, path = "/v1/mfa/verify", tag = "mfa",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in")),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Signed in: tokens with amr naming both factors and acr aal2", body = VerifyResponse),
        (status = 400, description = "factor_id_required (several factors fit), unknown_factor_type, invalid_request (neither or both of code and credential), invalid_credential_format", body = ErrorBody),
        (status = 401, description = "invalid_code, invalid_credential, invalid_challenge, challenge_expired; mfa_setup_required when the factor proven is of a kind no longer allowed (with a new challenge to enroll an allowed one)", body = ErrorBody),
        (status = 429, description = "too_many_attempts, with Retry-After (even a right code is refused while waiting)", body = ErrorBody),
    ))]
pub async fn verify(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<VerifyRequest, V1>,
) -> Result<Response, ApiError> {
    let choice = choice(req.factor_id.clone(), req.kind.as_deref())?;
    let answer = CodeRequest {
        code: req.code,
        credential: req.credential,
    };
    let outcome = app
        .verify_challenge(
            &tenant,
            &req.challenge_id,
            &choice,
            answer.answer()?,
            req.remember_device.unwrap_or(false),
            &meta,
        )
        .await?;
    Ok(sign_in_answer(outcome, |verified| {
        let body = VerifyResponse {
            tokens: verified.tokens.into(),
            backup_codes: verified.backup_codes,
            device_token: verified.device_token.map(|t| t.expose().to_owned()),
        };
        Json(body).into_response()
    }))
}

#[utoipa::path(post, path = "/v1/mfa/enroll", tag = "mfa",
    params(("X-Tenant-ID" = Option<String>, Header, description = "Tenant of the sign-in"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key (24 h); see docs/security.md", min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7e]+$")),
    request_body = ChallengeEnrollRequest,
    responses(
        (status = 201, description = "Pending factor for a forced enrollment; finish with /v1/mfa/verify", body = EnrollmentResponse),
        (status = 400, description = "factor_not_allowed, unknown_factor_type, invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "invalid_challenge; challenge_expired, also when the user has enrolled a factor since the challenge was issued", body = ErrorBody),
        (status = 409, description = "idempotency_key_in_use: a request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused: this Idempotency-Key came with another request", body = ErrorBody),
    ))]
pub async fn enroll_for_challenge(
    State(app): State<App>,
    TenantCtx(tenant, _): TenantCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<ChallengeEnrollRequest, V1>,
) -> Result<impl IntoResponse, ApiError> {
    let request = EnrollInput {
        kind: kind(&req.kind)?,
        name: req.name,
        phone_number: req.phone_number,
        confirmed: false,
    };
    let enrollment = app
        .enroll_for_challenge(&tenant, &req.challenge_id, request, &meta)
        .await?;
    Ok((StatusCode::CREATED, Json(EnrollmentResponse::from(enrollment))))
}
