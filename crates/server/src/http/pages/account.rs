//! The account's security page (`/account/security`): the user's factors, adding an
//! authenticator app, removing a factor, new backup codes, and re-verification when a
//! change needs a recent second factor (`/account/reauth`, step-up). Every handler acts as
//! the signed-in session (`Actor::User`), through the same use cases `/v1` calls.

use super::login::{notice, passkeys, with_cookie, CodeForm, Empty};
use super::script::{self, Scripted};
use super::session::{CookieSession, Posted, SignedIn};
use super::text::t;
use super::views::{self, Chrome, TotpEnroll, TotpShown};
use super::{html, PageError};
use crate::service::factors::{Answer, EnrollDetails};
use crate::service::mfa::EnrollRequest;
use crate::service::outcome::SignInOutcome;
use crate::service::{Failure, FailureKind, ServiceError};
use crate::App;
use axum::extract::{Path, State as AppState};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{DeviceId, FactorId};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// A new passkey's registration, put in the form by `assets/webauthn.js`.
#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    factor_id: String,
    #[serde(default)]
    credential: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

fn chrome<'a>(s: &'a SignedIn, csrf: &'a str) -> Chrome<'a> {
    Chrome {
        email: s.user.email.as_str(),
        csrf,
    }
}

/// The account page with an alert, after a change the service refused.
async fn account_with_error(
    app: &App,
    s: &SignedIn,
    status: StatusCode,
    message: &str,
) -> Result<Response, PageError> {
    let factors = app.list_user_factors(&s.tenant, &s.actor, &s.user.id).await?;
    let devices = app.list_devices(&s.tenant, &s.actor, &s.user.id).await?;
    let csrf = s.cookie.csrf_token(app);
    Ok(html(
        status,
        views::account(
            &chrome(s, &csrf),
            &factors,
            &devices,
            None,
            Some(message),
            passkeys(&s.tenant),
        ),
    ))
}

/// How a refused change is shown: step-up explained, a refusal the user can act on on the
/// account page, anything else as an error page.
async fn refused(app: &App, s: &SignedIn, e: ServiceError) -> Result<Response, PageError> {
    if matches!(e, ServiceError::MfaVerificationRequired) {
        let csrf = s.cookie.csrf_token(app);
        return Ok(html(StatusCode::FORBIDDEN, views::step_up(&chrome(s, &csrf))));
    }
    if matches!(e, ServiceError::MfaNotEnabled) {
        return account_with_error(app, s, StatusCode::CONFLICT, t!(MFA_NOT_ENABLED)).await;
    }
    let failure = Failure::from(e);
    let status = match failure.kind {
        FailureKind::Invalid => StatusCode::BAD_REQUEST,
        FailureKind::NotFound => StatusCode::NOT_FOUND,
        FailureKind::Conflict => StatusCode::CONFLICT,
        _ => return Err(failure.into()),
    };
    account_with_error(app, s, status, &failure.message).await
}

/// `GET /account/security`.
pub async fn security(AppState(app): AppState<App>, s: SignedIn, uri: Uri) -> Result<Response, PageError> {
    let factors = app.list_user_factors(&s.tenant, &s.actor, &s.user.id).await?;
    let devices = app.list_devices(&s.tenant, &s.actor, &s.user.id).await?;
    let csrf = s.cookie.csrf_token(&app);
    Ok(html(
        StatusCode::OK,
        views::account(
            &chrome(&s, &csrf),
            &factors,
            &devices,
            notice(&uri),
            None,
            passkeys(&s.tenant),
        ),
    ))
}

/// `POST /account/security/totp`: starts an authenticator app and shows its secret once.
pub async fn totp_start(
    AppState(app): AppState<App>,
    s: SignedIn,
    Posted { form, .. }: Posted<NameForm>,
) -> Result<Response, PageError> {
    let name = Some(form.name.trim().to_owned()).filter(|n| !n.is_empty());
    let request = EnrollRequest {
        kind: FactorKind::Totp,
        name,
        phone_number: None,
        confirmed: false,
    };
    let enrollment = match app
        .enroll_factor(&s.tenant, &s.actor, &s.user.id, request, &s.meta)
        .await
    {
        Ok(e) => e,
        Err(e) => return refused(&app, &s, e).await,
    };
    let EnrollDetails::Totp {
        secret_base32,
        qr_code_svg,
        ..
    } = &enrollment.details
    else {
        return Err(Failure::internal().into());
    };
    let csrf = s.cookie.csrf_token(&app);
    let factor_id = enrollment.factor.id.to_string();
    Ok(html(
        StatusCode::OK,
        views::totp_enroll(&TotpEnroll {
            csrf: &csrf,
            confirm_action: "/account/security/totp/confirm",
            restart_href: "/account/security",
            factor_id: &factor_id,
            shown: Some(TotpShown {
                secret_base32,
                qr_code_svg,
            }),
            error: None,
            chrome: Some(&chrome(&s, &csrf)),
        }),
    ))
}

/// `POST /account/security/totp/confirm`: the first code activates the app; the first
/// factor of the account brings backup codes, shown once.
pub async fn totp_confirm(
    AppState(app): AppState<App>,
    s: SignedIn,
    Posted { form, .. }: Posted<CodeForm>,
) -> Result<Response, PageError> {
    let csrf = s.cookie.csrf_token(&app);
    let header = chrome(&s, &csrf);
    let again = |status, error| {
        html(
            status,
            views::totp_enroll(&TotpEnroll {
                csrf: &csrf,
                confirm_action: "/account/security/totp/confirm",
                restart_href: "/account/security",
                factor_id: &form.factor_id,
                shown: None,
                error: Some(error),
                chrome: Some(&header),
            }),
        )
    };
    let code = form.code.trim();
    if code.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(CODE_REQUIRED)));
    }
    let Ok(factor_id) = FactorId::parse(&form.factor_id) else {
        return account_with_error(&app, &s, StatusCode::CONFLICT, t!(ENROLL_LAPSED)).await;
    };
    match app
        .confirm_factor(
            &s.tenant,
            &s.actor,
            &s.user.id,
            &factor_id,
            Answer::Code(code),
            &s.meta,
        )
        .await
    {
        Ok((_, Some(codes))) => Ok(html(
            StatusCode::OK,
            views::backup_codes(&codes, "/account/security", Some(&header)),
        )),
        Ok((_, None)) => Ok(Redirect::to("/account/security?notice=totp_added").into_response()),
        Err(ServiceError::InvalidCode) => Ok(again(StatusCode::UNAUTHORIZED, t!(INVALID_CODE))),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => {
            let mut resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                &t!(too_many_attempts)(retry_after_secs),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
        Err(ServiceError::FactorNotPending | ServiceError::FactorNotFound) => {
            account_with_error(&app, &s, StatusCode::CONFLICT, t!(ENROLL_LAPSED)).await
        }
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `POST /account/passkeys/options` (for the page's script): starts a `webauthn` factor
/// (`enroll_factor`) and answers its creation options and id as JSON. A change that needs
/// a recent second factor sends the script to step-up (`/account/reauth`).
pub async fn passkey_options(
    AppState(app): AppState<App>,
    s: Result<SignedIn, PageError>,
    posted: Result<Posted<NameForm>, PageError>,
) -> Scripted {
    let (s, Posted { form, .. }) = match (s, posted) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    let request = EnrollRequest {
        kind: FactorKind::Webauthn,
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        phone_number: None,
        confirmed: false,
    };
    match app
        .enroll_factor(&s.tenant, &s.actor, &s.user.id, request, &s.meta)
        .await
    {
        Ok(enrollment) => match enrollment.details {
            EnrollDetails::Webauthn { options } => Scripted::Options(serde_json::json!({
                "factor_id": enrollment.factor.id.to_string(),
                "options": options,
            })),
            _ => PageError::from(Failure::internal()).into(),
        },
        Err(ServiceError::MfaVerificationRequired) => Scripted::Go(StatusCode::FORBIDDEN, "/account/reauth"),
        Err(ServiceError::FactorNotAllowed) => {
            PageError::page(StatusCode::FORBIDDEN, t!(GENERIC_TITLE), t!(PASSKEYS_NOT_ALLOWED)).into()
        }
        Err(e) => e.into(),
    }
}

/// `POST /account/passkeys/confirm`: the browser's registration activates the factor
/// (`confirm_factor`); the account's first factor brings backup codes, shown once.
pub async fn passkey_confirm(
    AppState(app): AppState<App>,
    s: SignedIn,
    Posted { form, .. }: Posted<PasskeyForm>,
) -> Result<Response, PageError> {
    if form.credential.trim().is_empty() {
        return account_with_error(&app, &s, StatusCode::BAD_REQUEST, t!(WEBAUTHN_NEEDS_SCRIPT)).await;
    }
    let Some(credential) = script::credential(&form.credential) else {
        return account_with_error(&app, &s, StatusCode::BAD_REQUEST, t!(PASSKEY_NOT_ACCEPTED)).await;
    };
    let Ok(factor_id) = FactorId::parse(&form.factor_id) else {
        return account_with_error(&app, &s, StatusCode::CONFLICT, t!(ENROLL_LAPSED)).await;
    };
    match app
        .confirm_factor(
            &s.tenant,
            &s.actor,
            &s.user.id,
            &factor_id,
            Answer::Credential(&credential),
            &s.meta,
        )
        .await
    {
        Ok((_, Some(codes))) => {
            let csrf = s.cookie.csrf_token(&app);
            Ok(html(
                StatusCode::OK,
                views::backup_codes(
                    &codes,
                    "/account/security?notice=passkey_added",
                    Some(&chrome(&s, &csrf)),
                ),
            ))
        }
        Ok((_, None)) => Ok(Redirect::to("/account/security?notice=passkey_added").into_response()),
        Err(ServiceError::InvalidCredential | ServiceError::Input(_)) => {
            account_with_error(&app, &s, StatusCode::BAD_REQUEST, t!(PASSKEY_NOT_ACCEPTED)).await
        }
        Err(ServiceError::CredentialTaken) => {
            account_with_error(&app, &s, StatusCode::CONFLICT, t!(PASSKEY_TAKEN)).await
        }
        Err(ServiceError::FactorNotPending | ServiceError::FactorNotFound) => {
            account_with_error(&app, &s, StatusCode::CONFLICT, t!(ENROLL_LAPSED)).await
        }
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => {
            let mut resp = account_with_error(
                &app,
                &s,
                StatusCode::TOO_MANY_REQUESTS,
                &t!(too_many_attempts)(retry_after_secs),
            )
            .await?;
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `POST /account/security/factors/{factor_id}/remove`.
pub async fn remove_factor(
    AppState(app): AppState<App>,
    s: SignedIn,
    Path(factor_id): Path<String>,
    _: Posted<Empty>,
) -> Result<Response, PageError> {
    let Ok(id) = FactorId::parse(&factor_id) else {
        return refused(&app, &s, ServiceError::FactorNotFound).await;
    };
    match app
        .delete_factor(&s.tenant, &s.actor, &s.user.id, &id, &s.meta)
        .await
    {
        Ok(()) => Ok(Redirect::to("/account/security?notice=removed").into_response()),
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `POST /account/security/devices/{device_id}/forget`: this remembered device asks for the
/// second step again.
pub async fn forget_device(
    AppState(app): AppState<App>,
    s: SignedIn,
    Path(device_id): Path<String>,
    _: Posted<Empty>,
) -> Result<Response, PageError> {
    let Ok(id) = DeviceId::parse(&device_id) else {
        return refused(&app, &s, ServiceError::DeviceNotFound).await;
    };
    match app
        .forget_devices(&s.tenant, &s.actor, &s.user.id, Some(&id), &s.meta)
        .await
    {
        Ok(_) => Ok(Redirect::to("/account/security?notice=devices_forgotten").into_response()),
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `POST /account/security/devices/forget`: every remembered device asks again.
pub async fn forget_devices(
    AppState(app): AppState<App>,
    s: SignedIn,
    _: Posted<Empty>,
) -> Result<Response, PageError> {
    match app
        .forget_devices(&s.tenant, &s.actor, &s.user.id, None, &s.meta)
        .await
    {
        Ok(_) => Ok(Redirect::to("/account/security?notice=devices_forgotten").into_response()),
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `POST /account/security/backup-codes`: a new set, shown once.
pub async fn backup_codes(
    AppState(app): AppState<App>,
    s: SignedIn,
    _: Posted<Empty>,
) -> Result<Response, PageError> {
    match app
        .regenerate_backup_codes(&s.tenant, &s.actor, &s.user.id, &s.meta)
        .await
    {
        Ok(codes) => {
            let csrf = s.cookie.csrf_token(&app);
            Ok(html(
                StatusCode::OK,
                views::backup_codes(&codes, "/account/security", Some(&chrome(&s, &csrf))),
            ))
        }
        Err(e) => refused(&app, &s, e).await,
    }
}

/// `GET /account/reauth`: step-up starts with the password.
pub async fn reauth_form(AppState(app): AppState<App>, s: SignedIn) -> Result<Response, PageError> {
    let csrf = s.cookie.csrf_token(&app);
    Ok(html(StatusCode::OK, views::reauth(&chrome(&s, &csrf), None)))
}

/// `POST /account/reauth`: signs in again as the same user; the second-factor step that
/// follows replaces this session with one that has just passed a second factor.
pub async fn reauth(
    AppState(app): AppState<App>,
    s: SignedIn,
    Posted { form, .. }: Posted<PasswordForm>,
) -> Result<Response, PageError> {
    let csrf = s.cookie.csrf_token(&app);
    let again = |status, error: &str| html(status, views::reauth(&chrome(&s, &csrf), Some(error)));
    if form.password.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(PASSWORD_REQUIRED)));
    }
    let replaces = Some(s.session.id.to_string());
    match app
        .signin(&s.tenant, s.user.email.as_str(), &form.password, &s.meta)
        .await
    {
        Ok(SignInOutcome::Challenge(p)) => with_cookie(
            Redirect::to("/login/mfa").into_response(),
            &app,
            &CookieSession::pending(&app, &p, false, replaces),
        ),
        Ok(SignInOutcome::Enroll(p)) => with_cookie(
            Redirect::to("/login/enroll").into_response(),
            &app,
            &CookieSession::pending(&app, &p, true, replaces),
        ),
        // No second factor to prove: the new session is as fresh as this account allows.
        Ok(SignInOutcome::Complete((_, tokens))) => {
            let session = app.session_of(&tokens).await?;
            app.signout_session(&s.session.id).await?;
            with_cookie(
                Redirect::to("/account/security").into_response(),
                &app,
                &CookieSession::signed_in(&app, &session),
            )
        }
        Err(ServiceError::InvalidCredentials) => Ok(again(StatusCode::UNAUTHORIZED, t!(INVALID_CREDENTIALS))),
        Err(ServiceError::SignInRefused) => Ok(again(StatusCode::FORBIDDEN, t!(SIGN_IN_REFUSED))),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => {
            let mut resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                &t!(too_many_attempts)(retry_after_secs),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}
