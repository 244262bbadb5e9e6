//! Signing in on the pages: the password form (`/login`), the second-factor step
//! (`/login/mfa`), forced enrollment (`/login/enroll`) and `/logout`. Each handler calls one
//! use case (`signin`, `select_factor`, `verify_challenge`, `enroll_for_challenge`,
//! `signout_session`) and renders what comes back; where the visitor is between steps lives
//! in the sealed cookie (`session.rs`).

use super::script::{self, Scripted};
use super::session::{CodeSent, CookieSession, Offered, PendingCode, Posted, State, Visitor};
use super::text::t;
use super::views::{self, Chrome, EnrollChoices, LoginError, TotpEnroll, TotpShown};
use super::{html, PageError};
use crate::service::factors::{Answer, EnrollDetails};
use crate::service::input::InputError;
use crate::service::mfa::{EnrollRequest, FactorChoice, Verified};
use crate::service::oidc::LogoutParams;
use crate::service::outcome::{SignInExtras, SignInOutcome};
use crate::service::sessions::TokenPair;
use crate::service::ServiceError;
use crate::App;
use axum::extract::State as AppState;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::devices::RememberMode;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::SessionId;
use latchkey_store::model::Tenant;
use serde::Deserialize;

/// Where every completed sign-in goes: back to an application waiting on it
/// (`authorize::after_sign_in`), or to the account page.
pub const CONTINUE: &str = "/login/continue";

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct FactorForm {
    #[serde(default)]
    factor_id: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub factor_id: String,
    #[serde(default)]
    pub code: String,
    /// A WebAuthn answer (`AuthenticationResponseJSON`) instead of a code; present, and
    /// empty, when the ceremony's form was sent without the script.
    #[serde(default)]
    pub credential: Option<String>,
    /// The "remember this device" checkbox, ticked.
    #[serde(default)]
    pub remember: Option<String>,
}

/// The answer of a WebAuthn ceremony, put in the form by `assets/webauthn.js`.
#[derive(Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    credential: String,
}

/// Starting a passkey at forced enrollment: its optional name.
#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// A new passkey's registration at forced enrollment, put in the form by the script.
#[derive(Deserialize)]
pub struct RegistrationForm {
    #[serde(default)]
    factor_id: String,
    #[serde(default)]
    credential: String,
}

/// A form with no field but the token.
#[derive(Deserialize)]
pub struct Empty {}

/// `response` with the cookie session stored.
pub fn with_cookie(mut response: Response, app: &App, cookie: &CookieSession) -> Result<Response, PageError> {
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie.set_cookie(app)?);
    Ok(response)
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The message a `?notice=` names; only these fixed words, never text from the URL.
pub fn notice(uri: &Uri) -> Option<&'static str> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or("")).ok()?;
    let key = pairs.into_iter().find(|(k, _)| k == "notice")?.1;
    match key.as_str() {
        "signed_out" => Some(t!(SIGNED_OUT)),
        "expired" => Some(t!(SIGN_IN_EXPIRED)),
        "removed" => Some(t!(NOTICE_REMOVED)),
        "devices_forgotten" => Some(t!(NOTICE_DEVICES_FORGOTTEN)),
        "enroll_due" => Some(t!(NOTICE_ENROLL_DUE)),
        "totp_added" => Some(t!(NOTICE_TOTP_ADDED)),
        "passkey_added" => Some(t!(NOTICE_PASSKEY_ADDED)),
        "password_reset" => Some(t!(NOTICE_PASSWORD_RESET)),
        "email_verified" => Some(t!(NOTICE_EMAIL_VERIFIED)),
        _ => None,
    }
}

/// `GET /login`: the form, or the account page for someone already signed in.
///
/// With an application waiting (`/authorize`), someone signed in goes straight back to it,
/// unless it asked for a new sign-in (`prompt=login`, `max_age`, `acr_values`); its
/// `login_hint` fills the email field.
pub async fn form(AppState(app): AppState<App>, visitor: Visitor, uri: Uri) -> Result<Response, PageError> {
    let waiting = visitor.waiting.clone();
    if let Some(State::User { session }) = visitor.cookie.as_ref().map(|c| &c.state) {
        if let Ok(id) = SessionId::parse(session) {
            if let Some(session) = app.browser_session(&visitor.tenant, &id).await? {
                let again = waiting
                    .as_ref()
                    .and_then(|p| p.signed_in_after)
                    .is_some_and(|t| session.auth_time < t);
                if !again {
                    return Ok(see_other(visitor.after_sign_in()));
                }
            }
        }
    }
    let hint = waiting.as_ref().and_then(|p| p.login_hint.as_deref());
    // A signed-in visitor asked to sign in again keeps the cookie, so the sign-in that
    // follows replaces (and ends) that session.
    let (cookie, fresh) = match visitor.cookie {
        Some(c) if !matches!(c.state, State::User { .. }) || waiting.is_some() => (c, false),
        _ => (CookieSession::anonymous(&app), true),
    };
    let page = html(
        StatusCode::OK,
        views::login(
            &cookie.csrf_token(&app),
            hint,
            None,
            notice(&uri),
            offers(&visitor.tenant),
            waiting.as_ref().map(|p| p.client_name.as_str()),
        ),
    );
    if fresh {
        with_cookie(page, &app, &cookie)
    } else {
        Ok(page)
    }
}

/// `POST /login`: the password. Wrong credentials and throttling show the form again with
/// the error on the password field (401, 429); the same message for an unknown email and a
/// wrong password (ASVS 5.0 V6.3.8).
pub async fn submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    headers: axum::http::HeaderMap,
    Posted { cookie, form }: Posted<LoginForm>,
) -> Result<Response, PageError> {
    // An application waiting may ask for a second factor for this sign-in (`acr_values`),
    // and this browser may be a remembered device.
    let device = super::session::device_token(&headers, &app);
    let extras = SignInExtras {
        requires: visitor.waiting.as_ref().and_then(|p| p.acr),
        device_token: device.as_deref(),
        risky: false,
        ..SignInExtras::default()
    };
    let for_app = visitor.waiting.as_ref().map(|p| p.client_name.as_str());
    let replaces = match &cookie.state {
        State::User { session } => Some(session.clone()),
        _ => None,
    };
    let csrf = cookie.csrf_token(&app);
    let offered = offers(&visitor.tenant);
    let again = |status, error: LoginError<'_>| {
        html(
            status,
            views::login(&csrf, Some(&form.email), Some(&error), None, offered, for_app),
        )
    };
    if form.email.trim().is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            LoginError::Email(t!(EMAIL_REQUIRED)),
        ));
    }
    if form.password.is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            LoginError::Password(t!(PASSWORD_REQUIRED)),
        ));
    }
    match app
        .signin_with(
            &visitor.tenant,
            form.email.trim(),
            &form.password,
            &extras,
            &visitor.meta,
        )
        .await
    {
        Ok(outcome) => next_step(&app, &visitor, outcome, replaces).await,
        Err(ServiceError::InvalidCredentials) => Ok(again(
            StatusCode::UNAUTHORIZED,
            LoginError::Password(t!(INVALID_CREDENTIALS)),
        )),
        // Adaptive MFA refused it: the form again, with one message whatever the reason.
        Err(ServiceError::SignInRefused) => Ok(again(
            StatusCode::FORBIDDEN,
            LoginError::Password(t!(SIGN_IN_REFUSED)),
        )),
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => {
            let message = t!(too_many_attempts)(retry_after_secs);
            Ok(with_retry_after(
                again(StatusCode::TOO_MANY_REQUESTS, LoginError::Password(&message)),
                retry_after_secs,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the tenant allows passkeys and security keys (the pages offer them then).
pub fn passkeys(tenant: &Tenant) -> bool {
    tenant.settings.allows(FactorKind::Webauthn)
}

/// What the sign-in page offers besides the password: passkeys, and a link to sign up
/// when the tenant is open to it.
pub fn offers(tenant: &Tenant) -> views::LoginOffers {
    views::LoginOffers {
        passkeys: passkeys(tenant),
        signup: tenant.settings.signup_enabled,
    }
}

/// Where a first step of sign-in (a password, a passkey, a sign-up) leads: signed in, the
/// second factor, or forced enrollment.
/// `replaces`: the session of a visitor who was signed in already, which this sign-in
/// ends when it completes.
pub(super) async fn next_step(
    app: &App,
    visitor: &Visitor,
    outcome: SignInOutcome<(latchkey_store::model::User, TokenPair)>,
    replaces: Option<String>,
) -> Result<Response, PageError> {
    let tenant = &visitor.tenant;
    match outcome {
        SignInOutcome::Complete((user, tokens)) => {
            // Within an enrollment grace the account page says a second step is due (an
            // application waiting gets its answer first; the reminder waits for the next
            // visit to the account page).
            let next = match visitor.after_sign_in() {
                "/account/security" if app.enrollment_due(tenant, &user.id).await?.is_some() => {
                    "/account/security?notice=enroll_due"
                }
                other => other,
            };
            finish(app, tenant, &tokens, replaces.as_deref(), None, None, next).await
        }
        SignInOutcome::Challenge(p) => with_cookie(
            see_other("/login/mfa"),
            app,
            &CookieSession::pending(app, &p, false, replaces),
        ),
        SignInOutcome::Enroll(p) => with_cookie(
            see_other("/login/enroll"),
            app,
            &CookieSession::pending(app, &p, true, replaces),
        ),
    }
}

/// `POST /login/passkey/options` (for the page's script): request options for a
/// passwordless ceremony (`passkey_options`), as JSON.
pub async fn passkey_options(
    AppState(app): AppState<App>,
    visitor: Result<Visitor, PageError>,
    posted: Result<Posted<Empty>, PageError>,
) -> Scripted {
    let (visitor, _) = match (visitor, posted) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    match app.passkey_options(&visitor.tenant, &visitor.meta).await {
        Ok(options) => Scripted::Options(serde_json::json!({ "options": options })),
        Err(ServiceError::FactorNotAllowed) => webauthn_not_allowed().into(),
        Err(e) => e.into(),
    }
}

/// `POST /login/passkey`: the browser's answer to the passwordless ceremony signs in
/// (`passkey_signin`), or the sign-in page says why not (one message whatever was wrong,
/// as the service gives one refusal).
pub async fn passkey_signin(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<CredentialForm>,
) -> Result<Response, PageError> {
    let csrf = cookie.csrf_token(&app);
    let for_app = visitor.waiting.as_ref().map(|p| p.client_name.as_str());
    let replaces = match &cookie.state {
        State::User { session } => Some(session.clone()),
        _ => None,
    };
    let offered = offers(&visitor.tenant);
    let again = |status, message: &str| {
        html(
            status,
            views::login(
                &csrf,
                None,
                Some(&LoginError::Passkey(message)),
                None,
                offered,
                for_app,
            ),
        )
    };
    if form.credential.trim().is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(WEBAUTHN_NEEDS_SCRIPT)));
    }
    let Some(credential) = script::credential(&form.credential) else {
        return Ok(again(StatusCode::BAD_REQUEST, t!(PASSKEY_INVALID)));
    };
    match app
        .passkey_signin(&visitor.tenant, &credential, &visitor.meta)
        .await
    {
        Ok(outcome) => next_step(&app, &visitor, outcome, replaces).await,
        Err(ServiceError::InvalidCredential | ServiceError::Input(_)) => {
            Ok(again(StatusCode::UNAUTHORIZED, t!(PASSKEY_INVALID)))
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

/// Signed in: the browser gets a cookie naming the new session (a new id, so no token from
/// before sign-in works after it), a session this sign-in re-verified ends, and the
/// backup codes a forced enrollment installed are shown once.
async fn finish(
    app: &App,
    tenant: &Tenant,
    tokens: &TokenPair,
    replaces: Option<&str>,
    backup_codes: Option<Vec<String>>,
    device_token: Option<&str>,
    next: &'static str,
) -> Result<Response, PageError> {
    let session = app.session_of(tokens).await?;
    if let Some(old) = replaces.and_then(|s| SessionId::parse(s).ok()) {
        if old != session.id {
            app.signout_session(&old).await?;
        }
    }
    let cookie = CookieSession::signed_in(app, &session);
    let response = match backup_codes {
        Some(codes) => {
            let user = app.get_user(&tenant.id, &session.user_id).await?;
            let csrf = cookie.csrf_token(app);
            let chrome = Chrome {
                email: user.email.as_str(),
                csrf: &csrf,
            };
            html(StatusCode::OK, views::backup_codes(&codes, next, Some(&chrome)))
        }
        None => see_other(next),
    };
    let mut response = with_cookie(response, app, &cookie)?;
    if let Some(value) =
        device_token.and_then(|t| super::session::device_cookie(app, t, tenant.settings.remember_device.days))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// What a verified second factor (a sign-in's, or a forced enrollment's first code or
/// credential) leads to: signed in, or on to enrolling an allowed kind. A refusal is shown
/// by the step's own page, `again`, with the words `refused` gives the error (the kinds each
/// step explains: a wrong code, a passkey taken…); waits and lapsed sign-ins are alike for
/// every step.
async fn verified(
    app: &App,
    visitor: &Visitor,
    replaces: &Option<String>,
    result: Result<SignInOutcome<Verified>, ServiceError>,
    again: impl Fn(StatusCode, &str) -> Response,
    refused: impl Fn(&ServiceError) -> Option<(StatusCode, &'static str)>,
) -> Result<Response, PageError> {
    match result {
        Ok(SignInOutcome::Complete(v)) => {
            finish(
                app,
                &visitor.tenant,
                &v.tokens,
                replaces.as_deref(),
                v.backup_codes,
                v.device_token.as_ref().map(|t| t.expose()),
                visitor.after_sign_in(),
            )
            .await
        }
        Ok(SignInOutcome::Enroll(p)) | Ok(SignInOutcome::Challenge(p)) => with_cookie(
            see_other("/login/enroll"),
            app,
            &CookieSession::pending(app, &p, true, replaces.clone()),
        ),
        Err(e) => match refused(&e) {
            Some((status, error)) => Ok(again(status, error)),
            None => match e {
                ServiceError::TooManyAttempts { retry_after_secs } => Ok(with_retry_after(
                    again(
                        StatusCode::TOO_MANY_REQUESTS,
                        &t!(too_many_attempts)(retry_after_secs),
                    ),
                    retry_after_secs,
                )),
                ServiceError::InvalidChallenge | ServiceError::ChallengeExpired => {
                    expired(app, &visitor.tenant)
                }
                e => Err(e.into()),
            },
        },
    }
}

/// The sign-in has lapsed (the challenge expired or was used): back to the password, with
/// a fresh anonymous cookie.
fn expired(app: &App, tenant: &Tenant) -> Result<Response, PageError> {
    let cookie = CookieSession::anonymous(app);
    let page = html(
        StatusCode::UNAUTHORIZED,
        views::login(
            &cookie.csrf_token(app),
            None,
            None,
            Some(t!(SIGN_IN_EXPIRED)),
            offers(tenant),
            None,
        ),
    );
    with_cookie(page, app, &cookie)
}

/// The factor a `/login/mfa?factor=…` link names; anything else in the query is ignored.
fn asked_factor(uri: &Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or("")).ok()?;
    pairs.into_iter().find(|(k, _)| k == "factor").map(|(_, v)| v)
}

/// Where the second-factor step shows `factor`.
fn mfa_href(factor: &str) -> String {
    match serde_urlencoded::to_string([("factor", factor)]) {
        Ok(query) => format!("/login/mfa?{query}"),
        Err(_) => "/login/mfa".to_owned(),
    }
}

/// The factor the second-factor step shows: the one asked for if the sign-in offers it
/// (an unknown id is no error: the default instead), else the one a code was sent for
/// last, else the first offered that is not a backup code.
fn shown_factor<'a>(factors: &'a [Offered], asked: Option<&str>, sent: Option<&str>) -> Option<&'a Offered> {
    let known = |f: &&Offered| FactorKind::parse(&f.kind).is_some();
    let find = |id: &str| factors.iter().filter(known).find(|f| f.id == id);
    asked
        .and_then(find)
        .or_else(|| sent.and_then(find))
        .or_else(|| {
            factors
                .iter()
                .find(|f| FactorKind::parse(&f.kind).is_some_and(|k| k != FactorKind::BackupCodes))
        })
        .or_else(|| factors.iter().find(known))
}

/// Whether showing the factor sends it a code (SMS, email).
fn sends_code(f: &Offered) -> bool {
    matches!(
        FactorKind::parse(&f.kind),
        Some(FactorKind::Sms | FactorKind::EmailOtp)
    )
}

/// Whole seconds from `now` until `at` (Unix milliseconds), rounded up.
fn secs_until(now: i64, at: i64) -> u64 {
    u64::try_from(at.saturating_sub(now).max(0))
        .unwrap_or(0)
        .div_ceil(1000)
}

/// The second-factor page showing `shown`, its code form open if a code was sent for it,
/// and its resend button waiting out the cooldown (at least `wait` seconds).
fn mfa_page(
    app: &App,
    tenant: &Tenant,
    cookie: &CookieSession,
    shown: Option<&Offered>,
    status: StatusCode,
    error: Option<&str>,
    wait: u64,
) -> Response {
    let (factors, sends) = match &cookie.state {
        State::Mfa { factors, sends, .. } => (factors.as_slice(), sends.as_slice()),
        _ => (&[][..], &[][..]),
    };
    let sent = shown.and_then(|f| sends.iter().find(|s| s.factor == f.id));
    let resend_in = sent.map_or(0, |s| secs_until(app.now(), s.resend_at)).max(wait);
    let csrf = cookie.csrf_token(app);
    html(
        status,
        views::mfa(&views::MfaView {
            csrf: &csrf,
            factors,
            shown,
            open: sent.is_some(),
            resend_in,
            error,
            note: None,
            remember_days: (tenant.settings.remember_device.mode == RememberMode::UserOptIn)
                .then_some(tenant.settings.remember_device.days),
        }),
    )
}

/// `GET /login/mfa`: one factor of those the sign-in offers (`?factor=` or the default),
/// with links to the others. An SMS or email factor shown for the first time in this
/// sign-in is sent its code now (`select_factor`), once: the cookie remembers it, so a
/// reload or a switch back shows the code form and the resend cooldown, and sends nothing.
pub async fn mfa_form(
    AppState(app): AppState<App>,
    visitor: Visitor,
    uri: Uri,
) -> Result<Response, PageError> {
    let Some(cookie) = visitor.cookie.as_ref() else {
        return Ok(see_other("/login"));
    };
    let State::Mfa {
        factors, sent, sends, ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    let asked = asked_factor(&uri);
    let shown = shown_factor(factors, asked.as_deref(), sent.as_deref());
    let Some(f) = shown.filter(|f| sends_code(f) && !sends.iter().any(|s| s.factor == f.id)) else {
        return Ok(mfa_page(
            &app,
            &visitor.tenant,
            cookie,
            shown,
            StatusCode::OK,
            None,
            0,
        ));
    };
    match send_code(&app, &visitor, cookie, &f.id).await? {
        Sending::Sent(next) => {
            let page = mfa_page(&app, &visitor.tenant, &next, Some(f), StatusCode::OK, None, 0);
            with_cookie(page, &app, &next)
        }
        Sending::Wait(secs) => Ok(with_retry_after(
            mfa_page(
                &app,
                &visitor.tenant,
                cookie,
                Some(f),
                StatusCode::TOO_MANY_REQUESTS,
                Some(&t!(rate_limited)(secs)),
                secs,
            ),
            secs,
        )),
        Sending::Lapsed => expired(&app, &visitor.tenant),
    }
}

/// What asking for a code came to.
enum Sending {
    /// Sent: the cookie session that remembers it.
    Sent(CookieSession),
    /// The cooldown or a send limit refused it for this many seconds.
    Wait(u64),
    /// The sign-in has lapsed.
    Lapsed,
}

/// Sends a code for an SMS or email factor of the sign-in (`select_factor`; the service
/// enforces the resend cooldown and the send limits) and remembers when another may be
/// sent. The cookie keeps its id (and so its form token): only what was sent changes.
async fn send_code(
    app: &App,
    visitor: &Visitor,
    cookie: &CookieSession,
    factor_id: &str,
) -> Result<Sending, PageError> {
    let State::Mfa {
        challenge,
        factors,
        replaces,
        sends,
        ..
    } = &cookie.state
    else {
        return Ok(Sending::Lapsed);
    };
    let choice = FactorChoice {
        factor_id: Some(factor_id.to_owned()),
        kind: None,
    };
    match app
        .select_factor(&visitor.tenant, challenge, &choice, &visitor.meta)
        .await
    {
        Ok(_) => {
            let cooldown = i64::try_from(visitor.tenant.settings.otp_resend_cooldown_secs).unwrap_or(60);
            let mut sends: Vec<CodeSent> = sends.iter().filter(|s| s.factor != factor_id).cloned().collect();
            sends.push(CodeSent {
                factor: factor_id.to_owned(),
                resend_at: app.now() + cooldown * 1000,
            });
            Ok(Sending::Sent(CookieSession {
                state: State::Mfa {
                    challenge: challenge.clone(),
                    factors: factors.clone(),
                    sent: Some(factor_id.to_owned()),
                    replaces: replaces.clone(),
                    sends,
                },
                ..cookie.clone()
            }))
        }
        Err(ServiceError::RateLimited { retry_after_secs }) => Ok(Sending::Wait(retry_after_secs)),
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => Ok(Sending::Lapsed),
        Err(e) => Err(e.into()),
    }
}

/// The second-factor page again, showing `factor` with an error.
fn mfa_again(
    app: &App,
    tenant: &Tenant,
    cookie: &CookieSession,
    status: StatusCode,
    factor: &str,
    error: &str,
) -> Response {
    let shown = match &cookie.state {
        State::Mfa { factors, sent, .. } => shown_factor(factors, Some(factor), sent.as_deref()),
        _ => None,
    };
    mfa_page(app, tenant, cookie, shown, status, Some(error), 0)
}

/// `POST /login/mfa/send`: sends a new code for an SMS or email factor. Before the
/// cooldown has passed, the page shows the wait (429, `Retry-After`), not an error page.
pub async fn mfa_send(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<FactorForm>,
) -> Result<Response, PageError> {
    let State::Mfa { factors, sent, .. } = &cookie.state else {
        return Ok(see_other("/login"));
    };
    let Some(f) = factors.iter().find(|f| f.id == form.factor_id && sends_code(f)) else {
        return Ok(see_other("/login/mfa"));
    };
    match send_code(&app, &visitor, &cookie, &f.id).await? {
        Sending::Sent(next) => with_cookie(see_other(&mfa_href(&f.id)), &app, &next),
        Sending::Wait(secs) => {
            let shown = shown_factor(factors, Some(&f.id), sent.as_deref());
            Ok(with_retry_after(
                mfa_page(
                    &app,
                    &visitor.tenant,
                    &cookie,
                    shown,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(&t!(rate_limited)(secs)),
                    secs,
                ),
                secs,
            ))
        }
        Sending::Lapsed => expired(&app, &visitor.tenant),
    }
}

/// `POST /login/mfa/webauthn/options` (for the page's script): chooses the WebAuthn factor
/// for the sign-in's challenge (`select_factor`), whose request options allow every
/// credential of the user, as JSON. A lapsed sign-in sends the script back to `/login`.
pub async fn mfa_webauthn_options(
    AppState(app): AppState<App>,
    visitor: Result<Visitor, PageError>,
    posted: Result<Posted<FactorForm>, PageError>,
) -> Scripted {
    let (visitor, Posted { cookie, form }) = match (visitor, posted) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    let State::Mfa { challenge, .. } = &cookie.state else {
        return Scripted::Go(StatusCode::UNAUTHORIZED, "/login");
    };
    let choice = FactorChoice {
        factor_id: Some(form.factor_id).filter(|f| !f.is_empty()),
        kind: Some(FactorKind::Webauthn),
    };
    match app
        .select_factor(&visitor.tenant, challenge, &choice, &visitor.meta)
        .await
    {
        Ok(selected) => match selected.options {
            Some(options) => Scripted::Options(serde_json::json!({ "options": options })),
            None => PageError::from(crate::service::Failure::internal()).into(),
        },
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            Scripted::Go(StatusCode::UNAUTHORIZED, "/login?notice=expired")
        }
        Err(ServiceError::FactorNotFound | ServiceError::FactorNotAllowed) => webauthn_not_allowed().into(),
        Err(e) => e.into(),
    }
}

/// `POST /login/mfa/verify`: a code for one of the offered factors, or the browser's answer
/// to the WebAuthn ceremony (`credential`; the credential names its factor).
pub async fn mfa_verify(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<CodeForm>,
) -> Result<Response, PageError> {
    let State::Mfa {
        challenge, replaces, ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    let credential = match form.credential.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Ok(mfa_again(
                &app,
                &visitor.tenant,
                &cookie,
                StatusCode::BAD_REQUEST,
                &form.factor_id,
                t!(WEBAUTHN_NEEDS_SCRIPT),
            ))
        }
        Some(json) => match script::credential(json) {
            Some(v) => Some(v),
            None => {
                return Ok(mfa_again(
                    &app,
                    &visitor.tenant,
                    &cookie,
                    StatusCode::BAD_REQUEST,
                    &form.factor_id,
                    t!(MFA_WEBAUTHN_INVALID),
                ))
            }
        },
    };
    let code = form.code.trim();
    if credential.is_none() && code.is_empty() {
        return Ok(mfa_again(
            &app,
            &visitor.tenant,
            &cookie,
            StatusCode::BAD_REQUEST,
            &form.factor_id,
            t!(CODE_REQUIRED),
        ));
    }
    let (choice, answer, wrong) = match &credential {
        Some(v) => (
            FactorChoice {
                factor_id: None,
                kind: Some(FactorKind::Webauthn),
            },
            Answer::Credential(v),
            t!(MFA_WEBAUTHN_INVALID),
        ),
        None => (
            FactorChoice {
                factor_id: Some(form.factor_id.clone()),
                kind: None,
            },
            Answer::Code(code),
            t!(INVALID_CODE),
        ),
    };
    let result = app
        .verify_challenge(
            &visitor.tenant,
            challenge,
            &choice,
            answer,
            form.remember.is_some(),
            &visitor.meta,
        )
        .await;
    verified(
        &app,
        &visitor,
        replaces,
        result,
        |status, error| mfa_again(&app, &visitor.tenant, &cookie, status, &form.factor_id, error),
        |e| match e {
            ServiceError::InvalidCode | ServiceError::InvalidCredential => {
                Some((StatusCode::UNAUTHORIZED, wrong))
            }
            ServiceError::Input(_) if credential.is_some() => Some((StatusCode::BAD_REQUEST, wrong)),
            _ => None,
        },
    )
    .await
}

/// Whether forced enrollment may set up `kind` (the challenge's allowed kinds).
fn can_enroll(allowed: &[String], kind: FactorKind) -> bool {
    allowed.iter().any(|k| FactorKind::parse(k) == Some(kind))
}

/// The forced-enrollment page: what these pages can set up of the allowed kinds (an
/// authenticator app, a passkey or security key; SMS and email enrollment are for later).
fn enroll_page(
    app: &App,
    cookie: &CookieSession,
    allowed: &[String],
    status: StatusCode,
    passkey_error: Option<&str>,
) -> Response {
    enroll_page_with(app, cookie, allowed, status, passkey_error, None)
}

/// The forced-enrollment page, with an error under the passkey's or the email's button.
fn enroll_page_with(
    app: &App,
    cookie: &CookieSession,
    allowed: &[String],
    status: StatusCode,
    passkey_error: Option<&str>,
    email_error: Option<&str>,
) -> Response {
    let csrf = cookie.csrf_token(app);
    html(
        status,
        views::enroll_required(&EnrollChoices {
            csrf: &csrf,
            totp: can_enroll(allowed, FactorKind::Totp),
            passkey: can_enroll(allowed, FactorKind::Webauthn),
            passkey_error,
            sms: can_enroll(allowed, FactorKind::Sms),
            email: can_enroll(allowed, FactorKind::EmailOtp),
            email_error,
        }),
    )
}

/// `GET /login/enroll`: a factor must be set up before sign-in completes.
pub async fn enroll_form(AppState(app): AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    let Some(cookie) = visitor.cookie else {
        return Ok(see_other("/login"));
    };
    let State::Enroll { allowed, .. } = &cookie.state else {
        return Ok(see_other("/login"));
    };
    Ok(enroll_page(&app, &cookie, allowed, StatusCode::OK, None))
}

/// `POST /login/enroll/passkey/options` (for the page's script): starts a passkey or
/// security key for the sign-in's enrollment challenge (`enroll_for_challenge`): its
/// creation options and the new factor's id, as JSON. A lapsed sign-in sends the script
/// back to `/login`.
pub async fn enroll_passkey_options(
    AppState(app): AppState<App>,
    visitor: Result<Visitor, PageError>,
    posted: Result<Posted<NameForm>, PageError>,
) -> Scripted {
    let (visitor, Posted { cookie, form }) = match (visitor, posted) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    let State::Enroll { challenge, .. } = &cookie.state else {
        return Scripted::Go(StatusCode::UNAUTHORIZED, "/login");
    };
    let request = EnrollRequest {
        kind: FactorKind::Webauthn,
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        phone_number: None,
        confirmed: false,
    };
    match app
        .enroll_for_challenge(&visitor.tenant, challenge, request, &visitor.meta)
        .await
    {
        Ok(enrollment) => match enrollment.details {
            EnrollDetails::Webauthn { options } => Scripted::Options(serde_json::json!({
                "factor_id": enrollment.factor.id.to_string(),
                "options": options,
            })),
            _ => PageError::from(crate::service::Failure::internal()).into(),
        },
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            Scripted::Go(StatusCode::UNAUTHORIZED, "/login?notice=expired")
        }
        Err(ServiceError::FactorNotAllowed) => webauthn_not_allowed().into(),
        Err(e) => e.into(),
    }
}

/// `POST /login/enroll/passkey`: the browser's registration confirms the new passkey or
/// security key (`verify_challenge` on the enrollment challenge), which completes the
/// sign-in; the backup codes it brings are shown once. A refusal shows the enrollment page
/// again with the error under the passkey's button.
pub async fn enroll_passkey(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<RegistrationForm>,
) -> Result<Response, PageError> {
    let State::Enroll {
        challenge,
        allowed,
        replaces,
        ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    let again = |status, error: &str| enroll_page(&app, &cookie, allowed, status, Some(error));
    if form.credential.trim().is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(WEBAUTHN_NEEDS_SCRIPT)));
    }
    let Some(credential) = script::credential(&form.credential) else {
        return Ok(again(StatusCode::BAD_REQUEST, t!(PASSKEY_NOT_ACCEPTED)));
    };
    // The factor the options endpoint started; without it, the challenge's pending passkey.
    let choice = FactorChoice {
        factor_id: Some(form.factor_id.trim().to_owned()).filter(|f| !f.is_empty()),
        kind: Some(FactorKind::Webauthn),
    };
    let result = app
        .verify_challenge(
            &visitor.tenant,
            challenge,
            &choice,
            Answer::Credential(&credential),
            false,
            &visitor.meta,
        )
        .await;
    verified(&app, &visitor, replaces, result, again, |e| match e {
        ServiceError::InvalidCredential | ServiceError::InvalidCode | ServiceError::Input(_) => {
            Some((StatusCode::UNAUTHORIZED, t!(PASSKEY_NOT_ACCEPTED)))
        }
        ServiceError::CredentialTaken => Some((StatusCode::CONFLICT, t!(PASSKEY_TAKEN))),
        ServiceError::FactorNotFound | ServiceError::FactorNotPending | ServiceError::FactorIdRequired => {
            Some((StatusCode::CONFLICT, t!(ENROLL_LAPSED)))
        }
        _ => None,
    })
    .await
}

/// `POST /login/enroll`: starts an authenticator app for the sign-in's challenge and shows
/// its secret, once.
pub async fn enroll_start(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, .. }: Posted<Empty>,
) -> Result<Response, PageError> {
    let State::Enroll { challenge, .. } = &cookie.state else {
        return Ok(see_other("/login"));
    };
    let request = EnrollRequest {
        kind: FactorKind::Totp,
        name: None,
        phone_number: None,
        confirmed: false,
    };
    let enrollment = match app
        .enroll_for_challenge(&visitor.tenant, challenge, request, &visitor.meta)
        .await
    {
        Ok(e) => e,
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            return expired(&app, &visitor.tenant)
        }
        Err(e) => return Err(e.into()),
    };
    let EnrollDetails::Totp {
        secret_base32,
        qr_code_svg,
        ..
    } = &enrollment.details
    else {
        return Err(PageError::from(crate::service::Failure::internal()));
    };
    let csrf = cookie.csrf_token(&app);
    let factor_id = enrollment.factor.id.to_string();
    Ok(html(
        StatusCode::OK,
        views::totp_enroll(&TotpEnroll {
            csrf: &csrf,
            confirm_action: "/login/enroll/confirm",
            restart_href: "/login/enroll",
            factor_id: &factor_id,
            shown: Some(TotpShown {
                secret_base32,
                qr_code_svg,
            }),
            error: None,
            chrome: None,
        }),
    ))
}

/// `POST /login/enroll/confirm`: the first code of the new factor completes the sign-in.
pub async fn enroll_confirm(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<CodeForm>,
) -> Result<Response, PageError> {
    let State::Enroll {
        challenge, replaces, ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    let csrf = cookie.csrf_token(&app);
    let again = |status, error: &str| {
        html(
            status,
            views::totp_enroll(&TotpEnroll {
                csrf: &csrf,
                confirm_action: "/login/enroll/confirm",
                restart_href: "/login/enroll",
                factor_id: &form.factor_id,
                shown: None,
                error: Some(error),
                chrome: None,
            }),
        )
    };
    let code = form.code.trim();
    if code.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(CODE_REQUIRED)));
    }
    let choice = FactorChoice {
        factor_id: Some(form.factor_id.clone()),
        kind: None,
    };
    let result = app
        .verify_challenge(
            &visitor.tenant,
            challenge,
            &choice,
            Answer::Code(code),
            false,
            &visitor.meta,
        )
        .await;
    verified(&app, &visitor, replaces, result, again, |e| match e {
        ServiceError::InvalidCode => Some((StatusCode::UNAUTHORIZED, t!(INVALID_CODE))),
        _ => None,
    })
    .await
}

/// The number of a text-message set-up at forced enrollment.
#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    phone_number: String,
}

/// `GET /u2/mfa/phone`: forced enrollment by text message, asking for the number
/// (pre-filled with the account's verified phone, if it has one).
pub async fn sms_phone_form(AppState(app): AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    let Some(cookie) = visitor.cookie.as_ref() else {
        return Ok(see_other("/login"));
    };
    let State::Enroll {
        challenge, allowed, ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    if !can_enroll(allowed, FactorKind::Sms) {
        return Ok(see_other("/login/enroll"));
    }
    let number = match app.enrollment_phone(&visitor.tenant, challenge).await {
        Ok(n) => n,
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            return expired(&app, &visitor.tenant)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(html(
        StatusCode::OK,
        views::sms_phone(&cookie.csrf_token(&app), number.as_deref(), None),
    ))
}

/// `POST /u2/mfa/phone`: starts an SMS factor for the enrollment challenge
/// (`enroll_for_challenge`), which sends its code, and goes on to `/u2/mfa/sms`. A number
/// the service refuses (not a number, a country or class of number the tenant does not
/// send to, a send limit) shows the form again with the reason on the field.
pub async fn sms_phone_submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<PhoneForm>,
) -> Result<Response, PageError> {
    let State::Enroll {
        challenge,
        allowed,
        code,
        ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    if !can_enroll(allowed, FactorKind::Sms) {
        return Ok(see_other("/login/enroll"));
    }
    let csrf = cookie.csrf_token(&app);
    let number = form.phone_number.trim();
    let again = |status, error: &str| html(status, views::sms_phone(&csrf, Some(number), Some(error)));
    if number.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(PHONE_REQUIRED)));
    }
    // Each number starts a new factor: the page waits out the last code's cooldown.
    if let Some(wait) = cooling(&app, code.as_ref(), FactorKind::Sms) {
        return Ok(with_retry_after(
            again(StatusCode::TOO_MANY_REQUESTS, &t!(rate_limited)(wait)),
            wait,
        ));
    }
    let request = EnrollRequest {
        kind: FactorKind::Sms,
        name: None,
        phone_number: Some(number.to_owned()),
        confirmed: false,
    };
    match app
        .enroll_for_challenge(&visitor.tenant, challenge, request, &visitor.meta)
        .await
    {
        Ok(enrollment) => {
            let next = code_sent(&app, &visitor.tenant, &cookie, FactorKind::Sms, enrollment)?;
            with_cookie(see_other("/u2/mfa/sms"), &app, &next)
        }
        Err(ServiceError::Input(InputError::PhoneNumber(_) | InputError::PhoneNumberMissing)) => {
            Ok(again(StatusCode::BAD_REQUEST, t!(PHONE_INVALID)))
        }
        Err(ServiceError::CountryNotAllowed) => Ok(again(StatusCode::BAD_REQUEST, t!(PHONE_COUNTRY_REFUSED))),
        Err(ServiceError::NumberTypeNotAllowed(_)) => {
            Ok(again(StatusCode::BAD_REQUEST, t!(PHONE_CLASS_REFUSED)))
        }
        Err(ServiceError::RateLimited { retry_after_secs }) => Ok(with_retry_after(
            again(StatusCode::TOO_MANY_REQUESTS, &t!(rate_limited)(retry_after_secs)),
            retry_after_secs,
        )),
        Err(ServiceError::FactorNotAllowed) => Ok(see_other("/login/enroll")),
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            expired(&app, &visitor.tenant)
        }
        Err(e) => Err(e.into()),
    }
}

/// The cookie session of a forced enrollment once the code of its `kind` factor was sent:
/// the same id (and so the same form token); only the pending factor changes, with when
/// another code may be asked for.
fn code_sent(
    app: &App,
    tenant: &Tenant,
    cookie: &CookieSession,
    kind: FactorKind,
    enrollment: crate::service::mfa::Enrollment,
) -> Result<CookieSession, PageError> {
    let State::Enroll {
        challenge,
        allowed,
        replaces,
        ..
    } = &cookie.state
    else {
        return Err(PageError::from(crate::service::Failure::internal()));
    };
    let EnrollDetails::Sent { destination, .. } = enrollment.details else {
        return Err(PageError::from(crate::service::Failure::internal()));
    };
    let cooldown = i64::try_from(tenant.settings.otp_resend_cooldown_secs).unwrap_or(60);
    Ok(CookieSession {
        state: State::Enroll {
            challenge: challenge.clone(),
            allowed: allowed.clone(),
            replaces: replaces.clone(),
            code: Some(PendingCode {
                kind: kind.as_str().to_owned(),
                factor: enrollment.factor.id.to_string(),
                to: destination,
                resend_at: app.now() + cooldown * 1000,
            }),
        },
        ..cookie.clone()
    })
}

/// The code a forced enrollment of `kind` waits for, if any.
fn pending_of(code: Option<&PendingCode>, kind: FactorKind) -> Option<&PendingCode> {
    code.filter(|p| FactorKind::parse(&p.kind) == Some(kind))
}

/// Seconds the page still waits before sending another code of `kind` at forced enrollment.
/// Each start makes a new factor, whose code the service's per-challenge cooldown does not
/// hold back: the page waits out the cooldown of the code it sent last (the send limits
/// per user, destination and address still bound what a new cookie could do).
fn cooling(app: &App, code: Option<&PendingCode>, kind: FactorKind) -> Option<u64> {
    pending_of(code, kind)
        .map(|p| secs_until(app.now(), p.resend_at))
        .filter(|w| *w > 0)
}

/// `GET /u2/mfa/sms`: the code form of the SMS factor being set up; without one, the
/// number first.
pub async fn sms_code_form(app: AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    code_form(app, visitor, FactorKind::Sms).await
}

/// `GET /u2/mfa/email`: the code form of the email factor being set up; without one, the
/// enrollment page.
pub async fn email_code_form(app: AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    code_form(app, visitor, FactorKind::EmailOtp).await
}

/// `POST /u2/mfa/sms`: the code confirms the new SMS factor.
pub async fn sms_code_submit(
    app: AppState<App>,
    visitor: Visitor,
    posted: Posted<CodeForm>,
) -> Result<Response, PageError> {
    code_submit(app, visitor, posted, FactorKind::Sms).await
}

/// `POST /u2/mfa/email`: the code confirms the new email factor.
pub async fn email_code_submit(
    app: AppState<App>,
    visitor: Visitor,
    posted: Posted<CodeForm>,
) -> Result<Response, PageError> {
    code_submit(app, visitor, posted, FactorKind::EmailOtp).await
}

/// Where forced enrollment of `kind` starts.
fn start_of(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Sms => "/u2/mfa/phone",
        _ => "/login/enroll",
    }
}

async fn code_form(
    AppState(app): AppState<App>,
    visitor: Visitor,
    kind: FactorKind,
) -> Result<Response, PageError> {
    let Some(cookie) = visitor.cookie.as_ref() else {
        return Ok(see_other("/login"));
    };
    let code = match &cookie.state {
        State::Enroll { code, .. } => code,
        // A sign-in that already has the factor: its code is asked on the second-factor step.
        State::Mfa { .. } => return Ok(second_factor_of(cookie, kind)),
        _ => return Ok(see_other("/login")),
    };
    let Some(pending) = pending_of(code.as_ref(), kind) else {
        return Ok(see_other(start_of(kind)));
    };
    Ok(html(
        StatusCode::OK,
        views::enroll_code(&cookie.csrf_token(&app), kind, &pending.to, None),
    ))
}

/// The second-factor step showing the sign-in's first factor of `kind` (the step's default
/// when it offers none).
fn second_factor_of(cookie: &CookieSession, kind: FactorKind) -> Response {
    let State::Mfa { factors, .. } = &cookie.state else {
        return see_other("/login/mfa");
    };
    match factors.iter().find(|f| f.kind == kind.as_str()) {
        Some(f) => see_other(&mfa_href(&f.id)),
        None => see_other("/login/mfa"),
    }
}

/// `GET /u2/mfa/otp` (AuthHero's screen for an authenticator app's code): the second-factor
/// step with the authenticator app, or, for a user who must enroll one, its enrollment.
pub async fn otp_form(visitor: Visitor) -> Result<Response, PageError> {
    Ok(match visitor.cookie.as_ref().map(|c| (&c.state, c)) {
        Some((State::Mfa { .. }, cookie)) => second_factor_of(cookie, FactorKind::Totp),
        Some((State::Enroll { .. }, _)) => see_other(start_of(FactorKind::Totp)),
        _ => see_other("/login"),
    })
}

/// The code confirms the new SMS or email factor (`verify_challenge` on the enrollment
/// challenge), which completes the sign-in; the backup codes it brings are shown once.
async fn code_submit(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<CodeForm>,
    kind: FactorKind,
) -> Result<Response, PageError> {
    let State::Enroll {
        challenge,
        replaces,
        code: pending,
        ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    let Some(pending) = pending_of(pending.as_ref(), kind) else {
        return Ok(see_other(start_of(kind)));
    };
    let csrf = cookie.csrf_token(&app);
    let again = |status, error: &str| html(status, views::enroll_code(&csrf, kind, &pending.to, Some(error)));
    let code = form.code.trim();
    if code.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, t!(CODE_REQUIRED)));
    }
    let choice = FactorChoice {
        factor_id: Some(pending.factor.clone()),
        kind: None,
    };
    let result = app
        .verify_challenge(
            &visitor.tenant,
            challenge,
            &choice,
            Answer::Code(code),
            false,
            &visitor.meta,
        )
        .await;
    verified(&app, &visitor, replaces, result, again, |e| match e {
        ServiceError::InvalidCode => Some((StatusCode::UNAUTHORIZED, t!(INVALID_CODE))),
        ServiceError::FactorNotFound | ServiceError::FactorNotPending | ServiceError::FactorIdRequired => {
            Some((StatusCode::CONFLICT, t!(ENROLL_LAPSED)))
        }
        _ => None,
    })
    .await
}

/// `POST /login/enroll/email`: starts an email factor for the enrollment challenge
/// (`enroll_for_challenge`), which sends a code to the account's address, and goes on to
/// `/u2/mfa/email`. A send refused (the cooldown, a send limit) shows the enrollment page
/// with the wait under the email's button.
pub async fn email_start(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, .. }: Posted<Empty>,
) -> Result<Response, PageError> {
    let State::Enroll {
        challenge,
        allowed,
        code,
        ..
    } = &cookie.state
    else {
        return Ok(see_other("/login"));
    };
    if !can_enroll(allowed, FactorKind::EmailOtp) {
        return Ok(see_other("/login/enroll"));
    }
    let refused = |wait: u64| {
        with_retry_after(
            enroll_page_with(
                &app,
                &cookie,
                allowed,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(&t!(rate_limited)(wait)),
            ),
            wait,
        )
    };
    if let Some(wait) = cooling(&app, code.as_ref(), FactorKind::EmailOtp) {
        return Ok(refused(wait));
    }
    let request = EnrollRequest {
        kind: FactorKind::EmailOtp,
        name: None,
        phone_number: None,
        confirmed: false,
    };
    match app
        .enroll_for_challenge(&visitor.tenant, challenge, request, &visitor.meta)
        .await
    {
        Ok(enrollment) => {
            let next = code_sent(&app, &visitor.tenant, &cookie, FactorKind::EmailOtp, enrollment)?;
            with_cookie(see_other("/u2/mfa/email"), &app, &next)
        }
        Err(ServiceError::RateLimited { retry_after_secs }) => Ok(refused(retry_after_secs)),
        Err(ServiceError::FactorNotAllowed) => Ok(see_other("/login/enroll")),
        Err(ServiceError::InvalidChallenge | ServiceError::ChallengeExpired) => {
            expired(&app, &visitor.tenant)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: ends the session (its tokens stop working too, and those of every
/// application it signed in to) and clears the cookie. From an application's logout
/// request (`GET /logout`), it also ends the session its ID token names and goes back to
/// its post-logout redirect URI, if the application registered that URI exactly.
pub async fn logout(
    AppState(app): AppState<App>,
    visitor: Visitor,
    Posted { cookie, form }: Posted<LogoutParams>,
) -> Result<Response, PageError> {
    let browser = match &cookie.state {
        State::User { session } => match SessionId::parse(session) {
            Ok(id) => app.browser_session(&visitor.tenant, &id).await?,
            Err(_) => None,
        },
        _ => None,
    };
    let (plan, hinted) = app.logout_plan(&visitor.tenant, &form).await?;
    app.end_browser_session(&visitor.tenant, browser.as_ref(), hinted.as_ref())
        .await?;
    let mut response = see_other(plan.redirect.as_deref().unwrap_or("/login?notice=signed_out"));
    super::session::clear_cookies(response.headers_mut());
    Ok(response)
}

/// What a WebAuthn route answers where the tenant does not allow `webauthn`.
fn webauthn_not_allowed() -> PageError {
    PageError::page(StatusCode::NOT_FOUND, t!(GENERIC_TITLE), t!(WEBAUTHN_NOT_ALLOWED))
}
