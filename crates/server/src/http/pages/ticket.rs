//! The page an enrollment ticket's link opens (`/enroll?ticket=…`): the sign-in form for the
//! ticket's account (its email shown, not editable), whose POST signs in with the password,
//! spends the ticket and goes on as any sign-in does (`login::next_step`): to forced
//! enrollment for a user without a second factor, to the second-factor step (then the
//! account page, to add another) for one who has. GET never spends the ticket (mail scanners
//! fetch links).

use super::email_views;
use super::login::next_step;
use super::session::{Posted, State, Visitor};
use super::signup::{form_cookie, with_form_cookie};
use super::text::t;
use super::views::{self, LoginError};
use super::{html, PageError};
use crate::service::outcome::SignInExtras;
use crate::service::tickets::PresentedTicket;
use crate::service::ServiceError;
use crate::App;
use axum::extract::State as AppState;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TicketForm {
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    password: String,
}

/// The `ticket` query parameter, if any.
fn query_ticket(uri: &Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or("")).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// "This link does not work": expired, used, replaced by a newer one, or never a ticket.
fn ticket_invalid() -> Response {
    html(
        StatusCode::BAD_REQUEST,
        email_views::message(
            t!(TICKET_INVALID_TITLE),
            t!(TICKET_INVALID),
            &[("/login", t!(BACK_TO_SIGN_IN))],
        ),
    )
}

/// `GET /enroll?ticket=…`: the sign-in form for the ticket's account, if the ticket is live.
pub async fn form(AppState(app): AppState<App>, visitor: Visitor, uri: Uri) -> Result<Response, PageError> {
    let Some(token) = query_ticket(&uri) else {
        return Ok(ticket_invalid());
    };
    let Some((_, user)) = app.live_enrollment_ticket(&visitor.tenant, &token).await? else {
        return Ok(ticket_invalid());
    };
    let (cookie, fresh) = form_cookie(&app, visitor.cookie);
    let page = html(
        StatusCode::OK,
        views::ticket_signin(&cookie.csrf_token(&app), user.email.as_str(), &token, None),
    );
    with_form_cookie(&app, page, &cookie, fresh)
}

/// `POST /enroll`: the password for the ticket's account. A wrong one shows the form again
/// (the ticket is not spent); a right one spends the ticket and goes on to the second step.
pub async fn submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    headers: axum::http::HeaderMap,
    Posted { cookie, form }: Posted<TicketForm>,
) -> Result<Response, PageError> {
    let token = form.ticket.trim();
    let Some((_, user)) = app.live_enrollment_ticket(&visitor.tenant, token).await? else {
        return Ok(ticket_invalid());
    };
    let csrf = cookie.csrf_token(&app);
    let email = user.email.as_str().to_owned();
    let again = |status, error: LoginError<'_>| {
        html(status, views::ticket_signin(&csrf, &email, token, Some(&error)))
    };
    if form.password.is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            LoginError::Password(t!(PASSWORD_REQUIRED)),
        ));
    }
    let device = super::session::device_token(&headers, &app);
    let extras = SignInExtras {
        requires: None,
        device_token: device.as_deref(),
        risky: false,
        ticket: Some(PresentedTicket { token }),
        ticket_spent: None,
    };
    let replaces = match &cookie.state {
        State::User { session } => Some(session.clone()),
        _ => None,
    };
    match app
        .signin_with(&visitor.tenant, &email, &form.password, &extras, &visitor.meta)
        .await
    {
        Ok(outcome) => next_step(&app, &visitor, outcome, replaces).await,
        Err(ServiceError::InvalidCredentials) => Ok(again(
            StatusCode::UNAUTHORIZED,
            LoginError::Password(t!(INVALID_CREDENTIALS)),
        )),
        Err(ServiceError::InvalidLink) => Ok(ticket_invalid()),
        Err(ServiceError::SignInRefused) => Ok(again(
            StatusCode::FORBIDDEN,
            LoginError::Password(t!(SIGN_IN_REFUSED)),
        )),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => {
            let message = t!(too_many_attempts)(retry_after_secs);
            let mut page = again(StatusCode::TOO_MANY_REQUESTS, LoginError::Password(&message));
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                page.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(page)
        }
        Err(e) => Err(e.into()),
    }
}
