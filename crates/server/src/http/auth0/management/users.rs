//! A user's authentication methods and Guardian enrollments (`/api/v2/users/{user_id}/…`,
//! `/api/v2/guardian/enrollments/{id}`): the user's factors, listed, created, removed and
//! reset by the same use cases as `/v1/users/{user_id}/mfa/factors` and `/v2/admin/users/{user_id}/mfa`.
//!
//! User ids: Latchkey's own (`usr_…`), also with Auth0's connection prefix
//! (`auth0|usr_…`, arriving percent-encoded as `auth0%7Cusr_…`). Any other id names no
//! user: Auth0's `404 inexistent_user`. Method and enrollment ids are factor ids (`fac_…`).

use super::dto::*;
use crate::http::auth0::credentials::Manager;
use crate::http::auth0::{Auth0, Auth0Error, Auth0ErrorBody};
use crate::http::common::extract::{StrictJson, StrictQuery};
use crate::service::mfa::{EnrollRequest, FactorSummary};
use crate::service::tickets::TicketRequest as NewTicket;
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::ids::{FactorId, UserId};
use latchkey_core::time::rfc3339_millis;

const READ_METHODS: &[&str] = &["read:authentication_methods"];
const CREATE_METHODS: &[&str] = &["create:authentication_methods"];
const UPDATE_METHODS: &[&str] = &["update:authentication_methods"];
const DELETE_METHODS: &[&str] = &["delete:authentication_methods"];
const READ_ENROLLMENTS: &[&str] = &["read:users", "read:guardian_enrollments"];
const DELETE_ENROLLMENTS: &[&str] = &["delete:guardian_enrollments"];
const CREATE_TICKETS: &[&str] = &["create:guardian_enrollment_tickets"];

/// Auth0 pages hold at most 100.
const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 50;

/// The Latchkey user an Auth0-style id names: `usr_…`, or `auth0|usr_…`.
fn user_id(segment: &str) -> Result<UserId, Auth0Error> {
    let id = segment.strip_prefix("auth0|").unwrap_or(segment);
    UserId::parse(id).map_err(|_| ServiceError::UserNotFound.into())
}

fn method_not_found() -> Auth0Error {
    Auth0Error::new(
        StatusCode::NOT_FOUND,
        "authentication_method_not_found",
        "The authentication method does not exist.",
    )
}

fn method_id(segment: &str) -> Result<FactorId, Auth0Error> {
    // Auth0 ids carry their type (`phone|dev_…`); ours may come back so too.
    let id = segment.rsplit('|').next().unwrap_or(segment);
    FactorId::parse(id).map_err(|_| method_not_found())
}

/// Auth0's type of a factor.
fn method_type(s: &FactorSummary) -> &'static str {
    match s.factor.kind {
        FactorKind::Sms => "phone",
        FactorKind::EmailOtp => "email",
        FactorKind::Totp => "totp",
        FactorKind::BackupCodes => "recovery-code",
        // A credential on the device itself (`internal`) is a platform authenticator.
        FactorKind::Webauthn => {
            let platform = s
                .credential
                .as_ref()
                .and_then(|c| c.transports.as_deref())
                .is_some_and(|t| t.contains("internal") || t.contains("hybrid"));
            if platform {
                "webauthn-platform"
            } else {
                "webauthn-roaming"
            }
        }
    }
}

fn method_view(s: &FactorSummary) -> AuthenticationMethod {
    let f = &s.factor;
    let kind = method_type(s);
    AuthenticationMethod {
        id: f.id.to_string(),
        kind,
        confirmed: f.status == FactorStatus::Active,
        name: f.name.clone(),
        phone_number: (kind == "phone").then(|| s.destination.clone()).flatten(),
        email: (kind == "email").then(|| s.destination.clone()).flatten(),
        preferred_authentication_method: (kind == "phone").then_some("sms"),
        created_at: rfc3339_millis(f.created_at),
        enrolled_at: f.confirmed_at.map(rfc3339_millis),
        last_auth_at: f.last_used_at.map(rfc3339_millis),
    }
}

#[utoipa::path(get, path = "/api/v2/users/{user_id}/authentication-methods", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…` (percent-encoded: `auth0%7Cusr_…`)"), Paging),
    responses((status = 200, description = "The user's factors: a bare array, or with `include_totals=true` `{start, limit, total, authenticators}`", body = AuthenticationMethods),
              (status = 400, description = "invalid_query_string", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs read:authentication_methods", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["read:authentication_methods"]), ("secret_key" = [])))]
pub async fn list_methods(
    State(app): State<App>,
    m: Manager,
    Path(id): Path<String>,
    StrictQuery(q, _): StrictQuery<Paging, Auth0>,
) -> Result<Json<AuthenticationMethods>, Auth0Error> {
    let actor = m.actor(READ_METHODS)?;
    let user = user_id(&id)?;
    let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(Auth0Error::bad_request(
            "invalid_query_string",
            format!("Query validation error: per_page must be 1 to {MAX_PER_PAGE}"),
        ));
    }
    let page = q.page.unwrap_or(0);
    let all = app.list_user_factors(&m.tenant, &actor, &user).await?;
    let total = all.len() as u64;
    let start = page.saturating_mul(per_page);
    let methods: Vec<AuthenticationMethod> = all
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .map(method_view)
        .collect();
    Ok(Json(if q.include_totals.unwrap_or(false) {
        AuthenticationMethods::Page(AuthenticationMethodsPage {
            start,
            limit: per_page,
            total,
            authenticators: methods,
        })
    } else {
        AuthenticationMethods::List(methods)
    }))
}

#[utoipa::path(get, path = "/api/v2/users/{user_id}/authentication-methods/{factor_id}", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`"),
           ("factor_id" = String, Path, description = "A factor id, `fac_…`")),
    responses((status = 200, description = "One method", body = AuthenticationMethod),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user; authentication_method_not_found", body = Auth0ErrorBody)),
    security(("management_token" = ["read:authentication_methods"]), ("secret_key" = [])))]
pub async fn get_method(
    State(app): State<App>,
    m: Manager,
    Path((id, method)): Path<(String, String)>,
) -> Result<Json<AuthenticationMethod>, Auth0Error> {
    let actor = m.actor(READ_METHODS)?;
    let user = user_id(&id)?;
    let method = method_id(&method)?;
    let all = app.list_user_factors(&m.tenant, &actor, &user).await?;
    all.iter()
        .find(|s| s.factor.id == method)
        .map(|s| Json(method_view(s)))
        .ok_or_else(method_not_found)
}

#[utoipa::path(post, path = "/api/v2/users/{user_id}/authentication-methods", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`")),
    request_body = CreateAuthenticationMethod,
    responses((status = 201, description = "`phone` with `confirmed: true` and the user's verified number: active at once (audited); otherwise an enrollment the user confirms with the code sent", body = AuthenticationMethod),
              (status = 400, description = "invalid_body; unsupported_method_type (totp, webauthn, recovery-code: the user enrolls those); factor_not_allowed", body = Auth0ErrorBody),
              (status = 409, description = "phone_not_verified: `confirmed` for a number the user has not verified", body = Auth0ErrorBody),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 429, description = "rate_limited: too many codes sent", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs create:authentication_methods (a key: `mfa:admin` for a confirmed one)", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["create:authentication_methods"]), ("secret_key" = [])))]
pub async fn create_method(
    State(app): State<App>,
    m: Manager,
    Path(id): Path<String>,
    StrictJson(req, _): StrictJson<CreateAuthenticationMethod, Auth0>,
) -> Result<(StatusCode, Json<AuthenticationMethod>), Auth0Error> {
    let actor = m.actor(CREATE_METHODS)?;
    let user = user_id(&id)?;
    let unsupported = |what: &str| {
        Auth0Error::bad_request(
            "unsupported_method_type",
            format!("{what} cannot be created through this API: the user enrolls it"),
        )
    };
    if req
        .preferred_authentication_method
        .as_deref()
        .is_some_and(|p| p != "sms")
    {
        return Err(Auth0Error::bad_request(
            "invalid_body",
            "Payload validation error: preferred_authentication_method must be sms",
        ));
    }
    let kind = match req.kind.as_str() {
        "phone" => FactorKind::Sms,
        "email" => FactorKind::EmailOtp,
        "totp" | "webauthn-roaming" | "webauthn-platform" | "recovery-code" => {
            return Err(unsupported(&req.kind))
        }
        _ => {
            return Err(Auth0Error::bad_request(
                "invalid_body",
                "Payload validation error: type must be one of phone, email, totp, webauthn-roaming, webauthn-platform, recovery-code",
            ))
        }
    };
    if kind == FactorKind::EmailOtp {
        if let Some(given) = &req.email {
            // Email codes go to the account's address; another cannot be named here.
            let account = app.get_user(&m.tenant.id, &user).await?;
            if !given.trim().eq_ignore_ascii_case(account.email.as_str()) {
                return Err(Auth0Error::bad_request(
                    "invalid_body",
                    "email must be the account's own address",
                ));
            }
        }
    }
    let enrollment = app
        .enroll_factor(
            &m.tenant,
            &actor,
            &user,
            EnrollRequest {
                kind,
                name: req.name,
                phone_number: req.phone_number,
                confirmed: req.confirmed.unwrap_or(false),
            },
            &m.meta,
        )
        .await?;
    let summary = FactorSummary {
        destination: app.masked_destination(&enrollment.factor),
        factor: enrollment.factor,
        remaining_codes: None,
        last_delivery: None,
        credential: None,
        // A factor just made is never the preferred one (that is chosen once it is active).
        preferred: false,
    };
    Ok((StatusCode::CREATED, Json(method_view(&summary))))
}

#[utoipa::path(patch, path = "/api/v2/users/{user_id}/authentication-methods/{factor_id}", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`"),
           ("factor_id" = String, Path, description = "A factor id, `fac_…`")),
    request_body = UpdateAuthenticationMethod,
    responses((status = 200, description = "Unchanged: only `preferred_authentication_method: sms` for a phone is accepted (Latchkey sends SMS only)", body = AuthenticationMethod),
              (status = 400, description = "invalid_body (renaming is not supported)", body = Auth0ErrorBody),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs update:authentication_methods", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user; authentication_method_not_found", body = Auth0ErrorBody)),
    security(("management_token" = ["update:authentication_methods"]), ("secret_key" = [])))]
pub async fn update_method(
    State(app): State<App>,
    m: Manager,
    Path((id, method)): Path<(String, String)>,
    StrictJson(req, _): StrictJson<UpdateAuthenticationMethod, Auth0>,
) -> Result<Json<AuthenticationMethod>, Auth0Error> {
    let actor = m.actor(UPDATE_METHODS)?;
    let user = user_id(&id)?;
    let method = method_id(&method)?;
    let all = app.list_user_factors(&m.tenant, &actor, &user).await?;
    let found = all
        .iter()
        .find(|s| s.factor.id == method)
        .ok_or_else(method_not_found)?;
    if let Some(p) = req.preferred_authentication_method.as_deref() {
        if p != "sms" || found.factor.kind != FactorKind::Sms {
            return Err(Auth0Error::bad_request(
                "invalid_body",
                "preferred_authentication_method can only be sms, for a phone",
            ));
        }
    }
    Ok(Json(method_view(found)))
}

#[utoipa::path(delete, path = "/api/v2/users/{user_id}/authentication-methods/{factor_id}", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`"),
           ("factor_id" = String, Path, description = "A factor id, `fac_…`")),
    responses((status = 204, description = "Removed; audited; the user's other sessions end and they are notified"),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs delete:authentication_methods (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user; authentication_method_not_found", body = Auth0ErrorBody)),
    security(("management_token" = ["delete:authentication_methods"]), ("secret_key" = [])))]
pub async fn delete_method(
    State(app): State<App>,
    m: Manager,
    Path((id, method)): Path<(String, String)>,
) -> Result<StatusCode, Auth0Error> {
    let actor = m.actor(DELETE_METHODS)?;
    let user = user_id(&id)?;
    let method = method_id(&method)?;
    match app
        .delete_factor(&m.tenant, &actor, &user, &method, &m.meta)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ServiceError::FactorNotFound) => Err(method_not_found()),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(delete, path = "/api/v2/users/{user_id}/authentication-methods", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`")),
    responses((status = 204, description = "Every factor removed (an MFA reset; audited, the user is notified)"),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs delete:authentication_methods (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["delete:authentication_methods"]), ("secret_key" = [])))]
pub async fn delete_methods(
    State(app): State<App>,
    m: Manager,
    Path(id): Path<String>,
) -> Result<StatusCode, Auth0Error> {
    let actor = m.actor(DELETE_METHODS)?;
    let user = user_id(&id)?;
    app.admin_reset_mfa(&m.tenant, &actor, &user, &m.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v2/users/{user_id}/enrollments", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`")),
    responses((status = 204, description = "Every enrollment removed, as `DELETE /api/v2/users/{user_id}/authenticators` (an MFA reset; audited, the user is notified)"),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs delete:guardian_enrollments (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["delete:guardian_enrollments"]), ("secret_key" = [])))]
pub async fn delete_enrollments(
    app: State<App>,
    m: Manager,
    id: Path<String>,
) -> Result<StatusCode, Auth0Error> {
    delete_authenticators(app, m, id).await
}

#[utoipa::path(delete, path = "/api/v2/users/{user_id}/authenticators", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`")),
    responses((status = 204, description = "Every factor removed (an MFA reset; audited, the user is notified)"),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs delete:guardian_enrollments (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["delete:guardian_enrollments"]), ("secret_key" = [])))]
pub async fn delete_authenticators(
    State(app): State<App>,
    m: Manager,
    Path(id): Path<String>,
) -> Result<StatusCode, Auth0Error> {
    let actor = m.actor(DELETE_ENROLLMENTS)?;
    let user = user_id(&id)?;
    app.admin_reset_mfa(&m.tenant, &actor, &user, &m.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The kind a ticket's `factor` names, as Auth0 names it; Auth0's refusal for email and for
/// what Latchkey has not.
fn ticket_factor(name: &str) -> Result<FactorKind, Auth0Error> {
    match name {
        "otp" => Ok(FactorKind::Totp),
        "phone" | "sms" => Ok(FactorKind::Sms),
        "webauthn-roaming" | "webauthn-platform" => Ok(FactorKind::Webauthn),
        "email" => Err(Auth0Error::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Users cannot enroll in Email as a factor through enrollment tickets.",
        )),
        _ => Err(Auth0Error::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Payload validation error: 'factor' must be one of otp, phone, webauthn-roaming, webauthn-platform (push-notification is not supported).",
        )),
    }
}

#[utoipa::path(post, path = "/api/v2/guardian/enrollments/ticket", tag = "auth0",
    request_body = TicketRequest,
    responses((status = 200, description = "The ticket: a single-use link (five days) into the hosted enrollment, emailed with `send_mail`; audited", body = TicketResponse),
              (status = 400, description = "invalid_body (an unknown or email `factor`, a malformed `email`); factor_not_allowed (the tenant does not allow that factor)", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs create:guardian_enrollment_tickets", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody),
              (status = 409, description = "already_enrolled: the user has a second factor and `allow_multiple_enrollments` is not set", body = Auth0ErrorBody),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 429, description = "rate_limited: the email's send limits (with `send_mail`)", body = Auth0ErrorBody)),
    security(("management_token" = ["create:guardian_enrollment_tickets"]), ("secret_key" = [])))]
pub async fn create_ticket(
    State(app): State<App>,
    m: Manager,
    StrictJson(req, _): StrictJson<TicketRequest, Auth0>,
) -> Result<Json<TicketResponse>, Auth0Error> {
    let actor = m.actor(CREATE_TICKETS)?;
    let factor = req.factor.as_deref().map(ticket_factor).transpose()?;
    let user = user_id(&req.user_id)?;
    let made = app
        .create_enrollment_ticket(
            &m.tenant,
            &actor,
            NewTicket {
                user_id: user,
                factor,
                allow_multiple: req.allow_multiple_enrollments.unwrap_or(false),
                send_mail: req.send_mail.unwrap_or(false),
                email: req.email,
            },
            &m.meta,
        )
        .await?;
    Ok(Json(TicketResponse {
        ticket_id: made.id,
        ticket_url: made.url,
    }))
}

fn enrollment_view(s: &FactorSummary) -> GuardianEnrollment {
    let f = &s.factor;
    let kind = match f.kind {
        FactorKind::Totp => "authenticator",
        FactorKind::Sms => "sms",
        FactorKind::EmailOtp => "email",
        FactorKind::Webauthn => "webauthn",
        FactorKind::BackupCodes => "recovery-code",
    };
    GuardianEnrollment {
        id: f.id.to_string(),
        status: match f.status {
            FactorStatus::Active => "confirmed",
            FactorStatus::Pending => "pending",
        },
        kind,
        auth_method: match f.kind {
            FactorKind::Totp => Some("authenticator"),
            FactorKind::Sms => Some("sms"),
            FactorKind::Webauthn => Some(method_type(s)),
            FactorKind::EmailOtp | FactorKind::BackupCodes => None,
        },
        name: f.name.clone(),
        identifier: s.destination.clone(),
        phone_number: (f.kind == FactorKind::Sms)
            .then(|| s.destination.clone())
            .flatten(),
        enrolled_at: f.confirmed_at.map(rfc3339_millis),
        last_auth: f.last_used_at.map(rfc3339_millis),
    }
}

#[utoipa::path(get, path = "/api/v2/users/{user_id}/enrollments", tag = "auth0",
    params(("user_id" = String, Path, description = "`usr_…` or `auth0|usr_…`")),
    responses((status = 200, description = "The user's second factors as Guardian enrollments (recovery codes left out)", body = [GuardianEnrollment]),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs read:users", body = Auth0ErrorBody),
              (status = 404, description = "inexistent_user", body = Auth0ErrorBody)),
    security(("management_token" = ["read:users"]), ("secret_key" = [])))]
pub async fn list_enrollments(
    State(app): State<App>,
    m: Manager,
    Path(id): Path<String>,
) -> Result<Json<Vec<GuardianEnrollment>>, Auth0Error> {
    let actor = m.actor(READ_ENROLLMENTS)?;
    let user = user_id(&id)?;
    let all = app.list_user_factors(&m.tenant, &actor, &user).await?;
    Ok(Json(
        all.iter()
            .filter(|s| !s.factor.kind.is_recovery())
            .map(enrollment_view)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v2/guardian/enrollments/{factor_id}", tag = "auth0",
    params(("factor_id" = String, Path, description = "A factor id, `fac_…`")),
    responses((status = 200, description = "One enrollment", body = GuardianEnrollment),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs read:guardian_enrollments", body = Auth0ErrorBody),
              (status = 404, description = "enrollment_not_found", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_enrollments"]), ("secret_key" = [])))]
pub async fn get_enrollment(
    State(app): State<App>,
    m: Manager,
    Path(enrollment): Path<String>,
) -> Result<Json<GuardianEnrollment>, Auth0Error> {
    let actor = m.actor(&["read:guardian_enrollments"])?;
    let factor = method_id(&enrollment).map_err(|_| enrollment_not_found())?;
    let user = app
        .factor_owner(&m.tenant, &factor)
        .await
        .map_err(|_| enrollment_not_found())?;
    let all = app.list_user_factors(&m.tenant, &actor, &user).await?;
    all.iter()
        .find(|s| s.factor.id == factor && !s.factor.kind.is_recovery())
        .map(|s| Json(enrollment_view(s)))
        .ok_or_else(enrollment_not_found)
}

fn enrollment_not_found() -> Auth0Error {
    Auth0Error::new(
        StatusCode::NOT_FOUND,
        "enrollment_not_found",
        "The enrollment does not exist.",
    )
}

#[utoipa::path(delete, path = "/api/v2/guardian/enrollments/{factor_id}", tag = "auth0",
    params(("factor_id" = String, Path, description = "A factor id, `fac_…`")),
    responses((status = 204, description = "Removed; audited"),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs delete:guardian_enrollments (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 404, description = "enrollment_not_found", body = Auth0ErrorBody)),
    security(("management_token" = ["delete:guardian_enrollments"]), ("secret_key" = [])))]
pub async fn delete_enrollment(
    State(app): State<App>,
    m: Manager,
    Path(enrollment): Path<String>,
) -> Result<StatusCode, Auth0Error> {
    let actor = m.actor(DELETE_ENROLLMENTS)?;
    let factor = method_id(&enrollment).map_err(|_| enrollment_not_found())?;
    let user = app
        .factor_owner(&m.tenant, &factor)
        .await
        .map_err(|_| enrollment_not_found())?;
    match app
        .delete_factor(&m.tenant, &actor, &user, &factor, &m.meta)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ServiceError::FactorNotFound) => Err(enrollment_not_found()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth0_style_user_ids_map_onto_ours() {
        let id = UserId::generate(0, &latchkey_core::rand::OsRandom);
        assert_eq!(user_id(id.as_str()).unwrap(), id);
        assert_eq!(user_id(&format!("auth0|{id}")).unwrap(), id);
        assert!(user_id("auth0|5f7c8ec7c33c6c004bbafe82").is_err());
        assert!(user_id("google-oauth2|123").is_err());
    }
}
