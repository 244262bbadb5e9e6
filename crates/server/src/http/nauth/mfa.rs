//! nauth's protected MFA routes (`/auth/mfa/*`, Bearer access token): the signed-in
//! user's status and devices, setting one up, the preferred device. The same use cases as
//! `/v1/users/me/mfa/*` (`enroll_factor`, `confirm_factor`, `list_user_factors`,
//! `delete_factor`, `set_preferred_factor`), so the same step-up rule and audit apply.

use super::auth::setup_view;
use super::dto::*;
use super::{Flow, Nauth, NauthError, NauthErrorBody};
use crate::http::common::extract::{CallerCtx, StrictJson};
use crate::service::factors::Answer;
use crate::service::mfa::{EnrollRequest, FactorSummary};
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::Json;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::ids::FactorId;
use latchkey_core::time::rfc3339;

fn method(name: &str) -> Result<FactorKind, NauthError> {
    method_kind(name)
        .filter(|k| !k.is_recovery())
        .ok_or_else(|| NauthError::invalid("`methodName` must be one of sms, email, totp, passkey"))
}

fn device_id(s: &str) -> Result<FactorId, NauthError> {
    FactorId::parse(s).map_err(|_| ServiceError::FactorNotFound.into())
}

fn device(s: &FactorSummary) -> Device {
    Device {
        id: s.factor.id.to_string(),
        kind: method_name(s.factor.kind),
        name: s.factor.name.clone(),
        is_preferred: s.preferred,
        is_active: s.factor.status == FactorStatus::Active,
        created_at: rfc3339(s.factor.created_at),
        destination: s.destination.clone(),
    }
}

#[utoipa::path(get, path = "/auth/mfa/status", tag = "nauth",
    responses((status = 200, description = "The user's MFA status", body = MfaStatus),
              (status = 401, description = "AUTH_TOKEN_INVALID: no valid access token", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn status(State(app): State<App>, caller: CallerCtx<Nauth>) -> Result<Json<MfaStatus>, NauthError> {
    let me = caller.target("me")?;
    let factors = app.list_user_factors(&caller.tenant, &caller.actor, &me).await?;
    let decision = app.mfa_decision(&caller.tenant, &me, None).await?;
    let active = |s: &&FactorSummary| s.factor.status == FactorStatus::Active;
    let mut configured: Vec<&'static str> = Vec::new();
    for s in factors
        .iter()
        .filter(active)
        .filter(|s| !s.factor.kind.is_recovery())
    {
        let m = method_name(s.factor.kind);
        if !configured.contains(&m) {
            configured.push(m);
        }
    }
    let available = FactorKind::ALL
        .into_iter()
        .filter(|k| decision.allowed.contains(k) && caller.tenant.settings.allows(*k))
        .map(method_name)
        .collect();
    Ok(Json(MfaStatus {
        enabled: !configured.is_empty(),
        required: decision.required || app.config.mfa_required,
        configured_methods: configured,
        available_methods: available,
        has_backup_codes: factors
            .iter()
            .filter(active)
            .any(|s| s.factor.kind.is_recovery() && s.remaining_codes.unwrap_or(0) > 0),
        preferred_method: factors
            .iter()
            .find(|s| s.preferred)
            .map(|s| method_name(s.factor.kind)),
        mfa_exempt: false,
        mfa_exempt_reason: None,
        mfa_exempt_granted_at: None,
    }))
}

#[utoipa::path(post, path = "/auth/mfa/setup-data", tag = "nauth",
    request_body = MfaSetupRequest,
    responses((status = 200, description = "SMS: `{\"setupData\":{\"maskedPhone\"}}`, a code sent to the account's number (or `setupData.phone`); email: `maskedEmail`; TOTP: `secret`, `qrCode`, `otpauthUrl`; passkey: `options`", body = SetupDataResponse),
              (status = 400, description = "VALIDATION_FAILED: an unknown or disallowed method, no number on the account, an invalid number", body = NauthErrorBody),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody),
              (status = 403, description = "FORBIDDEN (`reason` `mfa_verification_required`): with a factor already, the session's second factor must be recent", body = NauthErrorBody),
              (status = 429, description = "RATE_LIMIT_SMS", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn setup_data(
    State(app): State<App>,
    caller: CallerCtx<Nauth>,
    StrictJson(req, _): StrictJson<MfaSetupRequest, Nauth>,
) -> Result<Json<SetupDataResponse>, NauthError> {
    let me = caller.target("me")?;
    let kind = method(&req.method_name)?;
    let (phone_number, name) = match req.setup_data {
        Some(d) => (d.phone, d.name),
        None => (None, None),
    };
    let name = match (kind, name) {
        (FactorKind::Webauthn, None) => Some("Passkey".to_owned()),
        (_, name) => name,
    };
    let request = EnrollRequest {
        kind,
        name,
        phone_number,
        confirmed: false,
    };
    let enrollment = app
        .enroll_factor(&caller.tenant, &caller.actor, &me, request, &caller.meta)
        .await?;
    Ok(Json(SetupDataResponse {
        setup_data: setup_view(&enrollment),
    }))
}

#[utoipa::path(post, path = "/auth/mfa/verify-setup", tag = "nauth",
    request_body = VerifySetupRequest,
    responses((status = 200, description = "`{\"deviceId\"}`: the device is active (with `backupCodes` once, on the first factor)", body = VerifySetupResponse),
              (status = 400, description = "VERIFY_CODE_INVALID, VALIDATION_FAILED", body = NauthErrorBody),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody),
              (status = 404, description = "MFA_DEVICE_NOT_FOUND: no setup of this method in progress", body = NauthErrorBody),
              (status = 429, description = "CHALLENGE_MAX_ATTEMPTS", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn verify_setup(
    State(app): State<App>,
    caller: CallerCtx<Nauth>,
    StrictJson(req, _): StrictJson<VerifySetupRequest, Nauth>,
) -> Result<Json<VerifySetupResponse>, NauthError> {
    let me = caller.target("me")?;
    let kind = method(&req.method_name)?;
    let setup = &req.setup_data;
    let given = match (setup.code.as_deref(), setup.credential.as_ref()) {
        (Some(code), None) => Answer::Code(code),
        (None, Some(credential)) => Answer::Credential(credential),
        _ => {
            return Err(NauthError::invalid(
                "`setupData` takes `code` (or `credential` for a passkey)",
            ))
        }
    };
    let factor = match &setup.device_id {
        Some(id) => device_id(id)?,
        None => app
            .list_user_factors(&caller.tenant, &caller.actor, &me)
            .await?
            .into_iter()
            .filter(|s| s.factor.kind == kind && s.factor.status == FactorStatus::Pending)
            .map(|s| s.factor.id)
            .next_back()
            .ok_or(ServiceError::FactorNotFound)?,
    };
    let (factor, backup_codes) = app
        .confirm_factor(&caller.tenant, &caller.actor, &me, &factor, given, &caller.meta)
        .await
        .map_err(NauthError::during(Flow::Verify))?;
    Ok(Json(VerifySetupResponse {
        device_id: factor.id.to_string(),
        backup_codes,
    }))
}

#[utoipa::path(get, path = "/auth/mfa/devices", tag = "nauth",
    responses((status = 200, description = "The user's active devices (backup codes aside)", body = DevicesResponse),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn devices(
    State(app): State<App>,
    caller: CallerCtx<Nauth>,
) -> Result<Json<DevicesResponse>, NauthError> {
    let me = caller.target("me")?;
    let factors = app.list_user_factors(&caller.tenant, &caller.actor, &me).await?;
    Ok(Json(DevicesResponse {
        devices: factors
            .iter()
            .filter(|s| s.factor.status == FactorStatus::Active && !s.factor.kind.is_recovery())
            .map(device)
            .collect(),
    }))
}

#[utoipa::path(post, path = "/auth/mfa/devices/{id}/preferred", tag = "nauth",
    params(("id" = String, Path, description = "A device id, fac_…", pattern = "^fac_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "`{\"message\"}`: the device is the preferred one (`factor.preferred` audited; `/v1` shows `preferred: true`)", body = MessageResponse),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody),
              (status = 404, description = "MFA_DEVICE_NOT_FOUND", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn set_preferred(
    State(app): State<App>,
    caller: CallerCtx<Nauth>,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, NauthError> {
    let me = caller.target("me")?;
    app.set_preferred_factor(&caller.tenant, &caller.actor, &me, &device_id(&id)?, &caller.meta)
        .await?;
    Ok(Json(MessageResponse {
        message: "Preferred MFA device updated",
    }))
}

#[utoipa::path(delete, path = "/auth/mfa/devices/{id}", tag = "nauth",
    params(("id" = String, Path, description = "A device id, fac_…", pattern = "^fac_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "`{\"message\"}`: removed; the user's other sessions end", body = MessageResponse),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody),
              (status = 403, description = "FORBIDDEN (`reason` `mfa_verification_required`): the session's second factor is not recent", body = NauthErrorBody),
              (status = 404, description = "MFA_DEVICE_NOT_FOUND", body = NauthErrorBody)),
    security(("access_token" = [])))]
pub async fn remove_device(
    State(app): State<App>,
    caller: CallerCtx<Nauth>,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, NauthError> {
    let me = caller.target("me")?;
    app.delete_factor(&caller.tenant, &caller.actor, &me, &device_id(&id)?, &caller.meta)
        .await?;
    Ok(Json(MessageResponse {
        message: "MFA device removed",
    }))
}
