//! The forgotten-password pages (`/password/forgot`, `/password/reset`) and email
//! verification (`/verify-email`, `/verify-email/send`), on the use cases `/v1` calls
//! (`service::recovery`), so the same throttles and the same answers hold: asking for a reset
//! says the same for every address. The page a link opens never spends it on GET (mail
//! scanners fetch links): it shows a form whose POST does.

use super::email_views::{self, FormError};
use super::login::Empty;
use super::session::{Posted, SignedIn, Visitor};
use super::signup::{form_cookie, password_error, with_form_cookie};
use super::text::t;
use super::views::Chrome;
use super::{html, PageError};
use crate::service::recovery::LinkAnswer;
use crate::service::{InputError, ServiceError};
use crate::App;
use axum::extract::State as AppState;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::links::LinkPurpose;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// A link's token, or an address and code; and for a reset, the new password.
#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

impl LinkForm {
    fn answer(&self) -> LinkAnswer<'_> {
        match self.token.trim() {
            "" => LinkAnswer::Code {
                email: self.email.trim(),
                code: self.code.trim(),
            },
            token => LinkAnswer::Token(token),
        }
    }
}

/// The `token` query parameter of a link, if any.
fn query_token(uri: &Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or("")).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// "This link does not work", with the way to a new one.
fn link_invalid(again: &str, again_label: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        email_views::message(
            t!(LINK_INVALID_TITLE),
            t!(LINK_INVALID),
            &[(again, again_label), ("/login", t!(BACK_TO_SIGN_IN))],
        ),
    )
}

/// `GET /password/forgot`.
pub async fn forgot_form(AppState(app): AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    let (cookie, fresh) = form_cookie(&app, visitor.cookie);
    let page = html(
        StatusCode::OK,
        email_views::forgot(&cookie.csrf_token(&app), None, None),
    );
    with_form_cookie(&app, page, &cookie, fresh)
}

/// `POST /password/forgot`: the same "check your email" whether or not the address has an
/// account; the form again for an invalid address or when throttled (with the wait).
pub async fn forgot_submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<EmailForm>,
) -> Result<Response, PageError> {
    let csrf = cookie.csrf_token(&app);
    let again = |status, error: &str| {
        html(
            status,
            email_views::forgot(&csrf, Some(&form.email), Some(FormError::Email(error))),
        )
    };
    if form.email.trim().is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(EMAIL_REQUIRED)));
    }
    match app
        .request_password_reset(&visitor.tenant, form.email.trim(), &visitor.meta)
        .await
    {
        Ok(()) => Ok(html(
            StatusCode::OK,
            email_views::message(
                t!(FORGOT_SENT_TITLE),
                t!(FORGOT_SENT),
                &[
                    ("/password/reset", t!(HAVE_CODE)),
                    ("/login", t!(BACK_TO_SIGN_IN)),
                ],
            ),
        )),
        Err(ServiceError::Input(InputError::Email(_))) => {
            Ok(again(StatusCode::BAD_REQUEST, t!(EMAIL_INVALID)))
        }
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => Ok(with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                &t!(too_many_attempts)(retry_after_secs),
            ),
            retry_after_secs,
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /password/reset`: with a link's token, a new-password form for it (if it is live;
/// nothing is spent); without, the form for the emailed code.
pub async fn reset_form(
    AppState(app): AppState<App>,
    visitor: Visitor,
    uri: Uri,
) -> Result<Response, PageError> {
    let (cookie, fresh) = form_cookie(&app, visitor.cookie);
    let csrf = cookie.csrf_token(&app);
    let page = match query_token(&uri) {
        Some(token) => {
            if !app
                .link_is_live(&visitor.tenant, LinkPurpose::ResetPassword, &token)
                .await?
            {
                return Ok(link_invalid("/password/forgot", t!(ASK_NEW_RESET)));
            }
            html(StatusCode::OK, email_views::reset_with_token(&csrf, &token, None))
        }
        None => html(StatusCode::OK, email_views::reset_with_code(&csrf, None, None)),
    };
    with_form_cookie(&app, page, &cookie, fresh)
}

/// `POST /password/reset`: spends the link (or code) and sets the new password; every
/// session of the account ends, so sign-in follows with the new password.
pub async fn reset_submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<LinkForm>,
) -> Result<Response, PageError> {
    let csrf = cookie.csrf_token(&app);
    let by_token = !form.token.trim().is_empty();
    let again = |status, error: FormError<'_>| {
        let page = if by_token {
            email_views::reset_with_token(&csrf, form.token.trim(), Some(error))
        } else {
            email_views::reset_with_code(&csrf, Some(&form.email), Some(error))
        };
        html(status, page)
    };
    if !by_token && form.email.trim().is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Email(t!(EMAIL_REQUIRED)),
        ));
    }
    if !by_token && form.code.trim().is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, FormError::Code(t!(CODE_REQUIRED))));
    }
    match app
        .reset_password(&visitor.tenant, form.answer(), &form.password, &visitor.meta)
        .await
    {
        Ok(_) => {
            let mut response = Redirect::to("/login?notice=password_reset").into_response();
            // Whoever this browser was signed in as, that session has ended.
            super::session::clear_cookies(response.headers_mut());
            Ok(response)
        }
        Err(ServiceError::Input(InputError::Password(e))) => Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Password(password_error(&e)),
        )),
        Err(ServiceError::InvalidLink) if by_token => Ok(link_invalid("/password/forgot", t!(ASK_NEW_RESET))),
        Err(ServiceError::InvalidLink) => Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Code(t!(LINK_CODE_INVALID)),
        )),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => Ok(with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                FormError::Code(&t!(too_many_attempts)(retry_after_secs)),
            ),
            retry_after_secs,
        )),
        Err(e) => Err(e.into()),
    }
}

/// The code form of `/verify-email`, with the signed-in header and the "send a new link"
/// button for a signed-in user whose address is not confirmed.
fn verify_code_page(
    status: StatusCode,
    csrf: &str,
    signed_in: Option<&SignedIn>,
    email: Option<&str>,
    error: Option<FormError<'_>>,
    note: Option<&str>,
) -> Response {
    let chrome = signed_in.map(|s| Chrome {
        email: s.user.email.as_str(),
        csrf,
    });
    let unverified = signed_in.is_some_and(|s| s.user.email_verified_at.is_none());
    let note = match (note, signed_in) {
        (None, Some(s)) if s.user.email_verified_at.is_some() => Some(t!(VERIFY_ALREADY)),
        (note, _) => note,
    };
    html(
        status,
        email_views::verify_with_code(
            csrf,
            email.or(signed_in.map(|s| s.user.email.as_str())),
            error,
            note,
            chrome.as_ref(),
            unverified,
        ),
    )
}

/// `GET /verify-email`: with a link's token, one button that confirms (if the link is live;
/// nothing is spent); without, the form for the emailed code.
pub async fn verify_form(
    AppState(app): AppState<App>,
    visitor: Visitor,
    signed_in: Result<SignedIn, PageError>,
    uri: Uri,
) -> Result<Response, PageError> {
    let (cookie, fresh) = form_cookie(&app, visitor.cookie);
    let csrf = cookie.csrf_token(&app);
    let page = match query_token(&uri) {
        Some(token) => {
            if !app
                .link_is_live(&visitor.tenant, LinkPurpose::VerifyEmail, &token)
                .await?
            {
                return Ok(link_invalid("/verify-email", t!(VERIFY_TITLE)));
            }
            html(StatusCode::OK, email_views::verify_with_token(&csrf, &token))
        }
        None => verify_code_page(StatusCode::OK, &csrf, signed_in.as_ref().ok(), None, None, None),
    };
    with_form_cookie(&app, page, &cookie, fresh)
}

/// `POST /verify-email`: spends the link (or code); the address is confirmed.
pub async fn verify_submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    signed_in: Result<SignedIn, PageError>,
    Posted { cookie, form }: Posted<LinkForm>,
) -> Result<Response, PageError> {
    let csrf = cookie.csrf_token(&app);
    let signed_in = signed_in.ok();
    let by_token = !form.token.trim().is_empty();
    let again = |status, error: FormError<'_>| {
        verify_code_page(
            status,
            &csrf,
            signed_in.as_ref(),
            Some(&form.email),
            Some(error),
            None,
        )
    };
    if !by_token && form.email.trim().is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Email(t!(EMAIL_REQUIRED)),
        ));
    }
    if !by_token && form.code.trim().is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, FormError::Code(t!(CODE_REQUIRED))));
    }
    match app
        .verify_email(&visitor.tenant, form.answer(), &visitor.meta)
        .await
    {
        Ok(_) => {
            let to = match signed_in {
                Some(_) => "/account/security?notice=email_verified",
                None => "/login?notice=email_verified",
            };
            Ok(Redirect::to(to).into_response())
        }
        Err(ServiceError::InvalidLink) if by_token => Ok(link_invalid("/verify-email", t!(VERIFY_TITLE))),
        Err(ServiceError::InvalidLink) => Ok(again(
            StatusCode::BAD_REQUEST,
            FormError::Code(t!(LINK_CODE_INVALID)),
        )),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => Ok(with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                FormError::Code(&t!(too_many_attempts)(retry_after_secs)),
            ),
            retry_after_secs,
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /verify-email/send`: a new verification email for the signed-in user, under the
/// same send limits and cooldown as the API (the wait shown when refused).
pub async fn verify_send(
    AppState(app): AppState<App>,
    s: SignedIn,
    Posted { cookie, .. }: Posted<Empty>,
) -> Result<Response, PageError> {
    let csrf = cookie.csrf_token(&app);
    let page = |status, note: &str| verify_code_page(status, &csrf, Some(&s), None, None, Some(note));
    match app.send_email_verification(&s.tenant, &s.user, &s.meta).await {
        Ok(()) => Ok(page(StatusCode::OK, t!(VERIFY_SENT))),
        Err(ServiceError::EmailAlreadyVerified) => Ok(page(StatusCode::OK, t!(VERIFY_ALREADY))),
        Err(ServiceError::RateLimited { retry_after_secs }) => Ok(with_retry_after(
            page(StatusCode::TOO_MANY_REQUESTS, &t!(rate_limited)(retry_after_secs)),
            retry_after_secs,
        )),
        Err(e) => Err(e.into()),
    }
}
