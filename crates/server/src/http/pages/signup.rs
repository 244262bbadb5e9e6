//! Sign-up on the pages (`/signup`), where the tenant allows it (`signup_enabled`): the
//! same use case as `POST /v1/auth/signup`, then a verification email, then where a
//! password sign-in leads (signed in, or forced enrollment when MFA is required).

use super::email_views::{self, FormError};
use super::login::{next_step, with_cookie};
use super::session::{CookieSession, Posted, State, Visitor};
use super::text::t;
use super::{html, PageError};
use crate::service::auth::SignupInput;
use crate::service::{InputError, ServiceError};
use crate::App;
use axum::extract::State as AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::ids::SessionId;
use latchkey_core::password::PasswordError;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The page saying sign-up is closed.
fn closed(status: StatusCode) -> Response {
    html(
        status,
        email_views::message(
            t!(SIGNUP_CLOSED_TITLE),
            t!(SIGNUP_CLOSED),
            &[("/login", t!(BACK_TO_SIGN_IN))],
        ),
    )
}

/// The visitor's cookie session for a form before sign-in: theirs, or a new anonymous one
/// (`true`: to be stored).
pub fn form_cookie(app: &App, cookie: Option<CookieSession>) -> (CookieSession, bool) {
    match cookie {
        Some(c) => (c, false),
        None => (CookieSession::anonymous(app), true),
    }
}

/// `page`, storing `cookie` if it is new.
pub fn with_form_cookie(
    app: &App,
    page: Response,
    cookie: &CookieSession,
    fresh: bool,
) -> Result<Response, PageError> {
    if fresh {
        with_cookie(page, app, cookie)
    } else {
        Ok(page)
    }
}

/// `GET /signup`: the form, the account page for someone signed in, or "sign-up is closed".
pub async fn form(AppState(app): AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    if let Some(State::User { session }) = visitor.cookie.as_ref().map(|c| &c.state) {
        if let Ok(id) = SessionId::parse(session) {
            if app.browser_session(&visitor.tenant, &id).await?.is_some() {
                return Ok(Redirect::to("/account/security").into_response());
            }
        }
    }
    if !visitor.tenant.settings.signup_enabled {
        return Ok(closed(StatusCode::OK));
    }
    // A new visitor, or one whose sign-in this replaces: a fresh anonymous cookie.
    let (cookie, fresh) = match visitor.cookie {
        Some(c) if !matches!(c.state, State::User { .. }) => (c, false),
        _ => (CookieSession::anonymous(&app), true),
    };
    let page = html(
        StatusCode::OK,
        email_views::signup(&cookie.csrf_token(&app), None, None),
    );
    with_form_cookie(&app, page, &cookie, fresh)
}

/// `POST /signup`: creates the account, queues a verification email, and continues as a
/// password sign-in would. A taken address, an invalid one or a refused password show the
/// form again with the error on its field.
pub async fn submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<SignupForm>,
) -> Result<Response, PageError> {
    let tenant = &visitor.tenant;
    if !tenant.settings.signup_enabled {
        return Ok(closed(StatusCode::FORBIDDEN));
    }
    let csrf = cookie.csrf_token(&app);
    let again = |status, error: FormError<'_>| {
        html(status, email_views::signup(&csrf, Some(&form.email), Some(error)))
    };
    if form.email.trim().is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Email(t!(EMAIL_REQUIRED)),
        ));
    }
    let input = SignupInput {
        email: form.email.clone(),
        password: form.password.clone(),
        phone_number: None,
        name: None,
    };
    match app.signup(tenant, input).await {
        Ok(outcome) => {
            app.send_signup_verification(tenant, &form.email, &visitor.meta)
                .await;
            next_step(&app, &visitor, outcome, None).await
        }
        Err(ServiceError::EmailTaken) => Ok(again(StatusCode::CONFLICT, FormError::Email(t!(EMAIL_TAKEN)))),
        Err(ServiceError::Input(InputError::Email(_))) => Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Email(t!(EMAIL_INVALID)),
        )),
        Err(ServiceError::Input(InputError::Password(e))) => Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Password(password_error(&e)),
        )),
        Err(ServiceError::SignupDisabled) => Ok(closed(StatusCode::FORBIDDEN)),
        Err(e) => Err(e.into()),
    }
}

/// What the pages say about a refused new password.
pub fn password_error(e: &PasswordError) -> &'static str {
    match e {
        PasswordError::TooShort => t!(PASSWORD_TOO_SHORT),
        PasswordError::TooLong => t!(PASSWORD_TOO_LONG),
    }
}
