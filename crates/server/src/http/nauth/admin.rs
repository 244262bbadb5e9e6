//! The tenant's MFA settings in the names of nauth-toolkit's `mfa` config
//! (`GET`/`PATCH /auth/admin/mfa-config`, tenant secret key): a view of, and a change to,
//! the same settings `/v1/admin/config` holds, through the same `update_settings` (its
//! checks, its `mfa:admin` rule for weakening MFA, its audit record). Nothing is stored
//! twice:
//! - `enforcement`: `REQUIRED` is `mfa_required`; `ADAPTIVE` is `adaptive.enabled` without
//!   `mfa_required`; `OPTIONAL` is neither;
//! - `allowedMethods`: `mfa_allowed_factors` in nauth's method names;
//! - `rememberDevices`, `rememberDeviceDays`: `remember_device`, `remember_device_days`;
//! - `bypassMFAForTrustedDevices`: whether a remembered device stands in for the second
//!   factor, which in Latchkey it does whenever devices are remembered at all: `false` is
//!   `rememberDevices: never`.

use super::dto::*;
use super::{Nauth, NauthError, NauthErrorBody};
use crate::http::common::extract::{AdminCtx, Meta, StrictJson};
use crate::service::admin::{AdaptiveChange, RememberChange, SettingsPatch};
use crate::service::audit::Actor;
use crate::App;
use axum::extract::State;
use axum::Json;
use latchkey_core::devices::RememberMode;
use latchkey_core::settings::TenantSettings;

fn view(s: &TenantSettings) -> MfaConfig {
    let enforcement = if s.mfa_required {
        "REQUIRED"
    } else if s.adaptive.enabled {
        "ADAPTIVE"
    } else {
        "OPTIONAL"
    };
    MfaConfig {
        enabled: s.mfa_allowed_factors.iter().any(|k| !k.is_recovery()),
        enforcement,
        allowed_methods: s.mfa_allowed_factors.iter().map(|k| method_name(*k)).collect(),
        remember_devices: s.remember_device.mode.as_str(),
        remember_device_days: s.remember_device.days,
        bypass_mfa_for_trusted_devices: s.remember_device.mode != RememberMode::Never,
    }
}

#[utoipa::path(get, path = "/auth/admin/mfa-config", tag = "nauth",
    responses((status = 200, description = "The tenant's MFA settings in nauth's names (the same settings as /v1/admin/config)", body = MfaConfig),
              (status = 401, description = "AUTH_TOKEN_INVALID: no valid secret key", body = NauthErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_mfa_config(AdminCtx { tenant, .. }: AdminCtx<Nauth>) -> Json<MfaConfig> {
    Json(view(&tenant.settings))
}

/// The change in Latchkey's settings, or why it cannot be made.
fn patch_of(req: MfaConfigPatch, current: &TenantSettings) -> Result<SettingsPatch, NauthError> {
    if req.enabled == Some(false) {
        return Err(NauthError::invalid(
            "`enabled: false` is not supported: choose `enforcement: OPTIONAL` (users may still set up MFA) or narrow `allowedMethods`",
        ));
    }
    let mut patch = SettingsPatch::default();
    match req.enforcement.as_deref() {
        None => {}
        Some("OPTIONAL") => {
            patch.mfa_required = Some(false);
            patch.adaptive = Some(AdaptiveChange {
                enabled: Some(false),
                ..Default::default()
            });
        }
        Some("REQUIRED") => patch.mfa_required = Some(true),
        Some("ADAPTIVE") => {
            patch.mfa_required = Some(false);
            patch.adaptive = Some(AdaptiveChange {
                enabled: Some(true),
                ..Default::default()
            });
        }
        Some(_) => {
            return Err(NauthError::invalid(
                "`enforcement` must be OPTIONAL, REQUIRED or ADAPTIVE",
            ))
        }
    }
    if let Some(methods) = req.allowed_methods {
        let kinds = methods
            .iter()
            .map(|m| {
                method_kind(m).map(|k| k.as_str().to_owned()).ok_or_else(|| {
                    NauthError::invalid("`allowedMethods` takes sms, email, totp, passkey, backup")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        patch.mfa_allowed_factors = Some(kinds);
    }
    let mode = match (req.remember_devices.as_deref(), req.bypass_mfa_for_trusted_devices) {
        (Some(m), _) if RememberMode::parse(m).is_none() => {
            return Err(NauthError::invalid(
                "`rememberDevices` must be never, user_opt_in or always",
            ))
        }
        (Some(m), Some(false)) if m != "never" => {
            return Err(NauthError::invalid(
                "a remembered device always stands in for the second factor here: `bypassMFAForTrustedDevices: false` goes with `rememberDevices: never`",
            ))
        }
        (Some(m), _) => Some(m.to_owned()),
        (None, Some(false)) => Some("never".to_owned()),
        (None, Some(true)) if current.remember_device.mode == RememberMode::Never => {
            return Err(NauthError::invalid(
                "devices are not remembered: set `rememberDevices` (user_opt_in or always) with `bypassMFAForTrustedDevices: true`",
            ))
        }
        (None, _) => None,
    };
    if mode.is_some() || req.remember_device_days.is_some() {
        patch.remember_device = Some(RememberChange {
            mode,
            days: req.remember_device_days,
        });
    }
    Ok(patch)
}

#[utoipa::path(patch, path = "/auth/admin/mfa-config", tag = "nauth",
    request_body = MfaConfigPatch,
    responses((status = 200, description = "The updated settings (also seen at /v1/admin/config); audited as tenant.settings_changed", body = MfaConfig),
              (status = 400, description = "VALIDATION_FAILED: an unknown enforcement or method, days outside 1–365, a contradiction", body = NauthErrorBody),
              (status = 401, description = "AUTH_TOKEN_INVALID", body = NauthErrorBody),
              (status = 403, description = "FORBIDDEN (`reason` `insufficient_scope`): weakening MFA needs a key with `mfa:admin`", body = NauthErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_mfa_config(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<Nauth>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<MfaConfigPatch, Nauth>,
) -> Result<Json<MfaConfig>, NauthError> {
    let patch = patch_of(req, &tenant.settings)?;
    let actor = Actor::admin(&key);
    let (settings, ..) = app.update_settings(&tenant, &actor, &meta, patch, false).await?;
    Ok(Json(view(&settings)))
}
