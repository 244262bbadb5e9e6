//! The pages' markup (maud: checked at compile time, values escaped by default). Semantic
//! HTML: one `<main>` and `<h1>` per page, every input with a bound `<label>` and the right
//! `autocomplete`, errors tied to their field (`aria-describedby`, `aria-invalid`) with focus
//! on the first one. No inline script or style (the CSP forbids both). Words come from
//! [`text`].

use super::asset_path as asset;
use super::here as u;
use super::session::Offered;
use super::text::t;
use crate::service::mfa::FactorSummary;
use base64::Engine as _;
use latchkey_core::factor::FactorKind;
use maud::{html, Markup, DOCTYPE};

/// The signed-in header: whose account, and the sign-out form.
pub struct Chrome<'a> {
    pub email: &'a str,
    pub csrf: &'a str,
}

/// The tenant's look, for the frame of the pages a request renders (set by the surface's
/// middleware, `security_headers`, from the tenant's checked `branding` settings).
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub name: Option<String>,
    pub logo: Option<String>,
    /// The accent colour without `#`, to version the stylesheet's URL.
    pub color: Option<String>,
}

impl Brand {
    pub fn of(b: &latchkey_core::settings::Branding) -> Self {
        Brand {
            name: b.display_name.clone(),
            logo: b.logo_url.clone(),
            color: b
                .primary_color
                .as_deref()
                .map(|c| c.trim_start_matches('#').to_owned()),
        }
    }
}

tokio::task_local! {
    pub static BRAND: Brand;
}

/// The application waiting for this sign-in (`/authorize`), for the frame of the sign-in
/// screens: named on each, with a way to cancel, and whether it asked for a
/// phishing-resistant sign-in (`acr_values=aal2_phr`).
#[derive(Debug, Clone)]
pub struct ForApp {
    pub name: String,
    pub phishing_resistant: bool,
}

tokio::task_local! {
    /// Set by the surface's middleware from the waiting request.
    pub static FOR_APP: Option<ForApp>;
}

fn for_app() -> Option<ForApp> {
    FOR_APP.try_with(Clone::clone).ok().flatten()
}

/// "Continue to {app}" at the top of a sign-in screen, while an application waits.
fn app_lead() -> Markup {
    html! {
        @if let Some(app) = for_app() { p.lead { (t!(continue_to)(&app.name)) } }
    }
}

/// "Cancel and go back" at the foot of a sign-in screen, while an application waits: the
/// application hears `access_denied` (never a dead end).
fn app_cancel(csrf: &str) -> Markup {
    html! {
        @if for_app().is_some() {
            form.cancel method="post" action=(u("/authorize/cancel")) {
                (csrf_field(csrf))
                button.secondary type="submit" { (t!(CANCEL_SIGN_IN)) }
            }
        }
    }
}

/// The brand in effect (the product's own outside a page request).
fn brand() -> Brand {
    BRAND.try_with(Brand::clone).unwrap_or_default()
}

/// The frame of every page.
pub fn layout(title: &str, chrome: Option<&Chrome<'_>>, wide: bool, body: Markup) -> Markup {
    let brand = brand();
    let name = brand.name.as_deref().unwrap_or(t!(PRODUCT));
    html! {
        (DOCTYPE)
        html lang=(t!(LANG)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (name) }
                link rel="icon" href=(asset("/assets/favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(asset("/assets/pages.css"));
                @if let Some(c) = &brand.color {
                    link rel="stylesheet" href={ (asset("/assets/brand.css")) "?v=" (c) };
                }
                script src=(asset("/assets/webauthn.js")) defer {}
            }
            body {
                header.site {
                    span.brand {
                        @if let Some(logo) = &brand.logo { img.logo src=(logo) alt=""; }
                        (name)
                    }
                    @if let Some(c) = chrome {
                        span.muted { (t!(signed_in_as)(c.email)) }
                        form method="post" action=(u("/logout")) {
                            (csrf_field(c.csrf))
                            button.secondary type="submit" { (t!(SIGN_OUT)) }
                        }
                    }
                }
                main class=[wide.then_some("wide")] {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// One labelled input.
pub struct Field<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    pub input_type: &'a str,
    pub autocomplete: &'a str,
    pub value: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
    pub autofocus: bool,
    pub required: bool,
    /// A one-time code: monospace, and digits on a phone keyboard when `numeric`.
    pub code: Option<Code>,
}

#[derive(Clone, Copy)]
pub enum Code {
    Numeric,
    Text,
}

impl<'a> Field<'a> {
    pub fn new(id: &'a str, label: &'a str, input_type: &'a str, autocomplete: &'a str) -> Self {
        Field {
            id,
            name: id,
            label,
            input_type,
            autocomplete,
            value: None,
            hint: None,
            error: None,
            autofocus: false,
            required: true,
            code: None,
        }
    }

    pub fn code(id: &'a str, label: &'a str, kind: Code) -> Self {
        Field {
            name: "code",
            code: Some(kind),
            ..Field::new(id, label, "text", "one-time-code")
        }
    }
}

pub fn field(f: &Field<'_>) -> Markup {
    let hint_id = format!("{}-hint", f.id);
    let error_id = format!("{}-error", f.id);
    let described: Vec<&str> = [
        f.hint.map(|_| hint_id.as_str()),
        f.error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    let inputmode = match f.code {
        Some(Code::Numeric) => Some("numeric"),
        Some(Code::Text) | None => None,
    };
    html! {
        div.field {
            label for=(f.id) { (f.label) }
            input type=(f.input_type) id=(f.id) name=(f.name) autocomplete=(f.autocomplete)
                class=[f.code.map(|_| "code")] inputmode=[inputmode]
                spellcheck=[f.code.map(|_| "false")] autocapitalize=[f.code.map(|_| "none")]
                value=[f.value] required[f.required] autofocus[f.autofocus]
                aria-invalid=[f.error.map(|_| "true")] aria-describedby=[described];
            @if let Some(h) = f.hint { p.hint id=(hint_id) { (h) } }
            @if let Some(e) = f.error {
                p.error id=(error_id) { span.visually-hidden { (t!(ERROR_PREFIX)) " " } (e) }
            }
        }
    }
}

fn notice(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p.notice role="status" { (m) } } }
}

/// What went wrong on the sign-in form, and on which field.
pub enum LoginError<'a> {
    Email(&'a str),
    Password(&'a str),
    /// A passkey sign-in that did not succeed: shown under its button.
    Passkey(&'a str),
}

/// What the sign-in page offers besides the password.
#[derive(Clone, Copy)]
pub struct LoginOffers {
    /// The tenant allows WebAuthn: the passkey button and autofill.
    pub passkeys: bool,
    /// The tenant is open to sign-up: a link to `/signup`.
    pub signup: bool,
}

/// The sign-in page, with "Forgot your password?" and, when open, "Create an account";
/// `for_app`: the application waiting for this sign-in (named, with a way to cancel).
pub fn login(
    csrf: &str,
    email: Option<&str>,
    error: Option<&LoginError<'_>>,
    note: Option<&str>,
    offers: LoginOffers,
    for_app: Option<&str>,
) -> Markup {
    let passkeys = offers.passkeys;
    let (email_error, password_error, passkey_error) = match error {
        Some(LoginError::Email(m)) => (Some(*m), None, None),
        Some(LoginError::Password(m)) => (None, Some(*m), None),
        Some(LoginError::Passkey(m)) => (None, None, Some(*m)),
        None => (None, None, None),
    };
    // `webauthn`: the browser may offer passkeys in this field's autofill (conditional
    // mediation, which the script starts).
    let autocomplete = if passkeys { "username webauthn" } else { "username" };
    let email_field = Field {
        value: email,
        error: email_error,
        autofocus: email_error.is_some() || error.is_none(),
        ..Field::new("email", t!(EMAIL), "email", autocomplete)
    };
    let password_field = Field {
        error: password_error,
        autofocus: password_error.is_some(),
        ..Field::new("password", t!(PASSWORD), "password", "current-password")
    };
    layout(
        t!(LOGIN_TITLE),
        None,
        false,
        html! {
            @if let Some(app) = for_app { p.lead { (t!(continue_to)(app)) } }
            (notice(note))
            form method="post" action=(u("/login")) {
                (csrf_field(csrf))
                (field(&email_field))
                (field(&password_field))
                button type="submit" { (t!(LOGIN_SUBMIT)) }
            }
            p { a href=(u("/password/forgot")) { (t!(FORGOT_LINK)) } }
            @if passkeys { (passkey_signin(csrf, passkey_error)) }
            @if offers.signup { p.actions { a href=(u("/signup")) { (t!(SIGNUP_LINK)) } } }
            @if for_app.is_some() {
                form.cancel method="post" action=(u("/authorize/cancel")) {
                    (csrf_field(csrf))
                    button.secondary type="submit" { (t!(CANCEL_SIGN_IN)) }
                }
            }
        },
    )
}

/// The page an enrollment ticket's link opens: the ticket's account (shown, not editable)
/// and its password; the ticket travels in a hidden field (never in a cookie).
pub fn ticket_signin(csrf: &str, email: &str, ticket: &str, error: Option<&LoginError<'_>>) -> Markup {
    let password_error = match error {
        Some(LoginError::Password(m) | LoginError::Email(m) | LoginError::Passkey(m)) => Some(*m),
        None => None,
    };
    let password_field = Field {
        error: password_error,
        autofocus: true,
        ..Field::new("password", t!(PASSWORD), "password", "current-password")
    };
    layout(
        t!(TICKET_TITLE),
        None,
        false,
        html! {
            p.lead { (t!(TICKET_LEAD)) }
            form method="post" action=(u("/enroll")) {
                (csrf_field(csrf))
                input type="hidden" name="ticket" value=(ticket);
                div.field {
                    label for="email" { (t!(EMAIL)) }
                    input type="email" id="email" name="email" value=(email) readonly autocomplete="username";
                }
                (field(&password_field))
                button type="submit" { (t!(TICKET_SUBMIT)) }
            }
            p { a href=(u("/password/forgot")) { (t!(FORGOT_LINK)) } }
        },
    )
}

/// A WebAuthn ceremony as a form `assets/webauthn.js` wires: its submit button fetches the
/// options from `options_url` (POST, the form's fields and token), runs the browser's
/// ceremony (`mode`: `get`, or `create` to register), puts the answer in the hidden
/// `credential` field and submits the form to `action`, whose answer is a page. Without the
/// script the form posts an empty credential, which the server answers with
/// [`t!(WEBAUTHN_NEEDS_SCRIPT)`]. The words the script may show travel as `data-`
/// attributes.
pub struct Ceremony<'a> {
    /// Names the status element (unique on the page).
    pub id: &'a str,
    pub mode: &'a str,
    pub options_url: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    /// Fields before the button (a factor id, a name).
    pub fields: Markup,
    pub button: &'a str,
    pub secondary: bool,
    pub hint: &'a str,
    pub error: Option<&'a str>,
    /// Passkeys offered in the autofill too (`data-mediation="conditional"`): the script
    /// starts a conditional request on load, which the button aborts before its own.
    pub conditional: bool,
}

pub fn ceremony(c: &Ceremony<'_>) -> Markup {
    let status = format!("{}-status", c.id);
    let error_id = format!("{}-error", c.id);
    let described = match c.error {
        Some(_) => format!("{status} {error_id}"),
        None => status.clone(),
    };
    html! {
        form.webauthn method="post" action=(u(c.action)) data-webauthn=(c.mode) data-options=(u(c.options_url))
            data-msg-unsupported=(t!(WEBAUTHN_UNSUPPORTED)) data-msg-cancelled=(t!(WEBAUTHN_CANCELLED))
            data-msg-failed=(t!(WEBAUTHN_FAILED)) data-msg-waiting=(t!(WEBAUTHN_WAITING))
            data-mediation=[c.conditional.then_some("conditional")] {
            (csrf_field(c.csrf))
            (c.fields)
            input type="hidden" name="credential" value="";
            button type="submit" class=[c.secondary.then_some("secondary")] aria-describedby=(described) { (c.button) }
            p.hint id=(status) role="status" aria-live="polite" data-webauthn-status { (c.hint) }
            @if let Some(e) = c.error {
                p.error id=(error_id) role="alert" { span.visually-hidden { (t!(ERROR_PREFIX)) " " } (e) }
            }
        }
    }
}

/// The passkey sign-in on `/login`: a discoverable credential names its user, so no email
/// or password is asked (`/login/passkey/options`, then `/login/passkey`). Passkeys are
/// offered in the email field's autofill too, except right after a passkey was refused
/// (the page then waits for the user to choose, rather than start another request at once).
pub fn passkey_signin(csrf: &str, error: Option<&str>) -> Markup {
    html! {
        p.or { (t!(LOGIN_OR)) }
        (ceremony(&Ceremony {
            id: "passkey",
            mode: "get",
            options_url: "/login/passkey/options",
            action: "/login/passkey",
            csrf,
            fields: html! {},
            button: t!(LOGIN_PASSKEY),
            secondary: true,
            hint: t!(LOGIN_PASSKEY_HINT),
            error,
            conditional: error.is_none(),
        }))
    }
}

/// What the second-factor step shows: one factor at a time, and the others to switch to.
pub struct MfaView<'a> {
    pub csrf: &'a str,
    pub factors: &'a [Offered],
    /// The factor shown (`login::shown_factor`); `None` only when nothing is offered.
    pub shown: Option<&'a Offered>,
    /// An SMS or email code was sent for the shown factor: its code form is open.
    pub open: bool,
    /// Seconds until another code may be sent for the shown factor (0: now).
    pub resend_in: u64,
    pub error: Option<&'a str>,
    pub note: Option<&'a str>,
    /// The tenant remembers devices when asked, for this many days: the checkbox.
    pub remember_days: Option<u16>,
}

/// The factors as the step lists them: one ceremony covers every credential of the user
/// (the credential names its factor), so the first WebAuthn factor stands for all of
/// them, under the kind's name alone.
fn offered_groups(factors: &[Offered]) -> Vec<(Offered, FactorKind)> {
    let webauthn = factors
        .iter()
        .filter(|f| FactorKind::parse(&f.kind) == Some(FactorKind::Webauthn))
        .count();
    let mut webauthn_shown = false;
    factors
        .iter()
        .filter_map(|f| FactorKind::parse(&f.kind).map(|k| (f, k)))
        .filter(|(_, k)| *k != FactorKind::Webauthn || !std::mem::replace(&mut webauthn_shown, true))
        .map(|(f, k)| {
            let mut f = f.clone();
            if k == FactorKind::Webauthn && webauthn > 1 {
                f.name = None;
            }
            (f, k)
        })
        .collect()
}

fn factor_title(f: &Offered, kind: FactorKind) -> String {
    match &f.name {
        Some(name) => format!("{} · {name}", t!(kind_name)(kind)),
        None => t!(kind_name)(kind).to_owned(),
    }
}

/// The second-factor step: the shown factor's form, then "try another method" with a
/// link (`/login/mfa?factor=…`) to each other factor offered.
pub fn mfa(v: &MfaView<'_>) -> Markup {
    let mut list = offered_groups(v.factors);
    // An application that asked for a phishing-resistant sign-in sees it offered alone
    // when the user has one (what was reached is the ID token's `acr` either way).
    if for_app().is_some_and(|a| a.phishing_resistant) && list.iter().any(|(_, k)| *k == FactorKind::Webauthn)
    {
        list.retain(|(_, k)| *k == FactorKind::Webauthn);
    }
    let shown_kind = v.shown.and_then(|f| FactorKind::parse(&f.kind));
    // The shown factor's entry of the list (for WebAuthn, the one standing for all).
    let mut current = list.iter().find(|(f, k)| {
        Some(*k) == shown_kind && (*k == FactorKind::Webauthn || v.shown.is_some_and(|s| s.id == f.id))
    });
    let mut error = v.error;
    if current.is_none() && v.shown.is_some() {
        // The shown factor is not offered here (a phishing-resistant sign-in): the first
        // that is stands in, without the other's error.
        current = list.first();
        error = None;
    }
    let others: Vec<&(Offered, FactorKind)> = list
        .iter()
        .filter(|e| current.is_none_or(|c| c.0.id != e.0.id))
        .collect();
    layout(
        t!(MFA_TITLE),
        None,
        false,
        html! {
            (app_lead())
            (notice(v.note))
            @if let Some((f, kind)) = current {
                p { (t!(MFA_INTRO)) }
                (mfa_factor(v, f, *kind, error, error.is_some() || *kind != FactorKind::Webauthn))
            }
            @if !others.is_empty() {
                section.others aria-labelledby="other-methods" {
                    h2 id="other-methods" { (t!(MFA_OTHER_METHODS)) }
                    ul {
                        @for (f, kind) in &others {
                            li { a href=(u(&format!("/login/mfa?factor={}", f.id))) { (factor_title(f, *kind)) } }
                        }
                    }
                }
            }
            p { a href=(u("/login")) { (t!(BACK_TO_SIGN_IN)) } }
            (app_cancel(v.csrf))
        },
    )
}

/// One factor of the second-factor step (the match is exhaustive on purpose: a new kind
/// needs its arm). A `webauthn` factor is a [`ceremony`]: options from
/// `/login/mfa/webauthn/options`, the assertion posted to `/login/mfa/verify` as `credential`.
/// An SMS or email factor whose code was sent has the code form and the resend button,
/// disabled while `resend_in` seconds remain (said in words: no script needed). Where the
/// tenant remembers devices when asked, each form has the "remember this device" checkbox.
pub fn mfa_factor(
    v: &MfaView<'_>,
    f: &Offered,
    kind: FactorKind,
    error: Option<&str>,
    autofocus: bool,
) -> Markup {
    let (csrf, open, resend_in, remember_days) = (v.csrf, v.open, v.resend_in, v.remember_days);
    let title = factor_title(f, kind);
    let remember = html! {
        @if let Some(days) = remember_days {
            label.check {
                input type="checkbox" name="remember" value="1";
                " " (t!(remember_device)(days))
            }
        }
    };
    let id = format!("code-{}", f.id);
    let code_form = |hint: &str, code: Code| {
        let input = Field {
            hint: Some(hint),
            error,
            autofocus,
            ..Field::code(&id, t!(CODE), code)
        };
        html! {
            form method="post" action=(u("/login/mfa/verify")) {
                (csrf_field(csrf))
                input type="hidden" name="factor_id" value=(f.id);
                div.row {
                    (field(&input))
                    div.field { button type="submit" { (t!(MFA_VERIFY)) } }
                }
                (remember)
            }
        }
    };
    let send_form = |label: &str| {
        let wait = format!("wait-{}", f.id);
        html! {
            form method="post" action=(u("/login/mfa/send")) {
                (csrf_field(csrf))
                input type="hidden" name="factor_id" value=(f.id);
                @if resend_in > 0 {
                    p.muted id=(wait) { (t!(resend_in)(resend_in)) }
                    button.secondary type="submit" disabled aria-describedby=(wait) { (label) }
                } @else {
                    button.secondary type="submit" { (label) }
                }
            }
        }
    };
    let body = match kind {
        FactorKind::Webauthn => ceremony(&Ceremony {
            id: "webauthn",
            mode: "get",
            options_url: "/login/mfa/webauthn/options",
            action: "/login/mfa/verify",
            csrf,
            fields: html! { input type="hidden" name="factor_id" value=(f.id); (remember) },
            button: t!(MFA_WEBAUTHN_START),
            secondary: false,
            hint: t!(MFA_WEBAUTHN_HINT),
            error,
            conditional: false,
        }),
        FactorKind::Totp => code_form(t!(MFA_TOTP_HINT), Code::Numeric),
        FactorKind::BackupCodes => code_form(t!(MFA_BACKUP_HINT), Code::Text),
        FactorKind::Sms | FactorKind::EmailOtp => {
            let to = f.destination.as_deref().unwrap_or("");
            if open {
                let sent = t!(code_sent_to)(to);
                html! {
                    (code_form(&sent, Code::Numeric))
                    (send_form(t!(MFA_SEND_AGAIN)))
                }
            } else {
                html! {
                    p.muted { (to) }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    (send_form(t!(MFA_SEND)))
                }
            }
        }
    };
    html! {
        section.factor aria-labelledby=(format!("h-{}", f.id)) {
            h2 id=(format!("h-{}", f.id)) { (title) }
            (body)
        }
    }
}

/// Forced enrollment by text message, first step (`/u2/mfa/phone`): the number.
pub fn sms_phone(csrf: &str, number: Option<&str>, error: Option<&str>) -> Markup {
    layout(
        t!(ENROLL_SMS_TITLE),
        None,
        false,
        html! {
            (app_lead())
            form method="post" action=(u("/u2/mfa/phone")) {
                (csrf_field(csrf))
                (field(&Field {
                    name: "phone_number",
                    value: number,
                    hint: Some(t!(ENROLL_SMS_PHONE_HINT)),
                    error,
                    autofocus: true,
                    ..Field::new("phone-number", t!(ENROLL_SMS_PHONE), "tel", "tel")
                }))
                button type="submit" { (t!(ENROLL_SMS_SEND)) }
            }
            p { a href=(u("/login/enroll")) { (t!(ENROLL_OTHER_METHOD)) } }
            (app_cancel(csrf))
        },
    )
}

/// Forced enrollment's code step (`/u2/mfa/sms`, `/u2/mfa/email`): the code sent to `to`.
pub fn enroll_code(csrf: &str, kind: FactorKind, to: &str, error: Option<&str>) -> Markup {
    let hint = t!(code_sent_to)(to);
    let (title, action) = match kind {
        FactorKind::EmailOtp => (t!(ENROLL_EMAIL_TITLE), "/u2/mfa/email"),
        _ => (t!(ENROLL_SMS_TITLE), "/u2/mfa/sms"),
    };
    layout(
        title,
        None,
        false,
        html! {
            (app_lead())
            form method="post" action=(u(action)) {
                (csrf_field(csrf))
                (field(&Field {
                    hint: Some(&hint),
                    error,
                    autofocus: true,
                    ..Field::code("enroll-code", t!(CODE), Code::Numeric)
                }))
                button type="submit" { (t!(ENROLL_CONFIRM)) }
            }
            @if kind == FactorKind::Sms {
                p { a href=(u("/u2/mfa/phone")) { (t!(ENROLL_SMS_OTHER_NUMBER)) } }
            }
            p { a href=(u("/login/enroll")) { (t!(ENROLL_OTHER_METHOD)) } }
            (app_cancel(csrf))
        },
    )
}

/// What forced enrollment at sign-in can offer on these pages.
pub struct EnrollChoices<'a> {
    pub csrf: &'a str,
    /// An authenticator app (`/login/enroll`).
    pub totp: bool,
    /// A passkey or security key: a [`ceremony`] with options from
    /// `/login/enroll/passkey/options`, the registration posted to `/login/enroll/passkey`.
    pub passkey: bool,
    /// Why the last passkey did not complete the set-up.
    pub passkey_error: Option<&'a str>,
    /// Text messages: the number at `/u2/mfa/phone`, the code at `/u2/mfa/sms`.
    pub sms: bool,
    /// Codes by email: started by `POST /login/enroll/email`, the code at `/u2/mfa/email`.
    pub email: bool,
    /// Why no email code was sent.
    pub email_error: Option<&'a str>,
}

/// Forced enrollment at sign-in: what must be set up.
pub fn enroll_required(c: &EnrollChoices<'_>) -> Markup {
    let intro = match (c.totp, c.passkey, c.sms, c.email) {
        (true, false, false, false) => t!(ENROLL_REQUIRED_INTRO),
        _ => t!(ENROLL_REQUIRED_CHOOSE),
    };
    layout(
        t!(ENROLL_REQUIRED_TITLE),
        None,
        false,
        html! {
            (app_lead())
            @if c.totp || c.passkey || c.sms || c.email {
                p { (intro) }
                @if c.sms {
                    section aria-labelledby="enroll-sms" {
                        h2 id="enroll-sms" { (t!(kind_name)(FactorKind::Sms)) }
                        p.muted { (t!(ENROLL_SMS_INTRO)) }
                        p { a href=(u("/u2/mfa/phone")) { (t!(ENROLL_SMS_START)) } }
                    }
                }
                @if c.email {
                    section aria-labelledby="enroll-email" {
                        h2 id="enroll-email" { (t!(kind_name)(FactorKind::EmailOtp)) }
                        p.muted { (t!(ENROLL_EMAIL_INTRO)) }
                        @if let Some(e) = c.email_error { p.error role="alert" { (e) } }
                        form method="post" action=(u("/login/enroll/email")) {
                            (csrf_field(c.csrf))
                            button.secondary type="submit" { (t!(ENROLL_EMAIL_START)) }
                        }
                    }
                }
                @if c.totp {
                    section aria-labelledby="enroll-totp" {
                        h2 id="enroll-totp" { (t!(ADD_TOTP_HEADING)) }
                        form method="post" action=(u("/login/enroll")) {
                            (csrf_field(c.csrf))
                            button type="submit" autofocus[c.passkey_error.is_none()] { (t!(ENROLL_START)) }
                        }
                    }
                }
                @if c.passkey {
                    section aria-labelledby="enroll-passkey" {
                        h2 id="enroll-passkey" { (t!(PASSKEYS_HEADING)) }
                        p.muted { (t!(PASSKEYS_INTRO)) }
                        (ceremony(&Ceremony {
                            id: "enroll-passkey",
                            mode: "create",
                            options_url: "/login/enroll/passkey/options",
                            action: "/login/enroll/passkey",
                            csrf: c.csrf,
                            fields: html! {
                                (field(&Field {
                                    name: "name",
                                    required: false,
                                    hint: Some(t!(PASSKEY_NAME_HINT)),
                                    ..Field::new("passkey-name", t!(PASSKEY_NAME), "text", "off")
                                }))
                                input type="hidden" name="factor_id" value="";
                            },
                            button: t!(ADD_PASSKEY),
                            secondary: c.totp,
                            hint: "",
                            error: c.passkey_error,
                            conditional: false,
                        }))
                    }
                }
            } @else {
                p.alert role="alert" { (t!(ENROLL_UNAVAILABLE)) }
            }
            p { a href=(u("/login")) { (t!(BACK_TO_SIGN_IN)) } }
            (app_cancel(c.csrf))
        },
    )
}

/// A TOTP secret as shown once: the QR code, the key in text, and the confirm form.
pub struct TotpShown<'a> {
    pub secret_base32: &'a str,
    pub qr_code_svg: &'a str,
}

/// Adding an authenticator app: with the secret (`shown`) the first time; without it after
/// a wrong code (the secret is never shown twice), with a way to start again.
pub struct TotpEnroll<'a> {
    pub csrf: &'a str,
    pub confirm_action: &'a str,
    pub restart_href: &'a str,
    pub factor_id: &'a str,
    pub shown: Option<TotpShown<'a>>,
    pub error: Option<&'a str>,
    pub chrome: Option<&'a Chrome<'a>>,
}

pub fn totp_enroll(p: &TotpEnroll<'_>) -> Markup {
    let code = Field {
        error: p.error,
        autofocus: true,
        hint: Some(t!(MFA_TOTP_HINT)),
        ..Field::code("code", t!(CODE), Code::Numeric)
    };
    html_page_totp(p, &code)
}

fn html_page_totp(p: &TotpEnroll<'_>, code: &Field<'_>) -> Markup {
    layout(
        t!(ENROLL_TOTP_TITLE),
        p.chrome,
        false,
        html! {
            // The account page's version (with its chrome) has no application waiting.
            @if p.chrome.is_none() { (app_lead()) }
            @if let Some(s) = &p.shown {
                ol {
                    li {
                        p { (t!(ENROLL_TOTP_STEP_SCAN)) }
                        img.qr src=(svg_data_uri(s.qr_code_svg)) alt=(t!(ENROLL_TOTP_QR_ALT)) width="200" height="200";
                    }
                    li {
                        p id="secret-label" { (t!(ENROLL_TOTP_STEP_TYPE)) }
                        p.secret id="totp-secret" aria-labelledby="secret-label" { (grouped(s.secret_base32)) }
                    }
                    li { p { (t!(ENROLL_TOTP_STEP_CONFIRM)) } }
                }
            } @else {
                p { (t!(ENROLL_TOTP_RETRY)) }
            }
            form method="post" action=(u(p.confirm_action)) {
                (csrf_field(p.csrf))
                input type="hidden" name="factor_id" value=(p.factor_id);
                (field(code))
                button type="submit" { (t!(ENROLL_CONFIRM)) }
            }
            p { a href=(u(p.restart_href)) { (t!(START_AGAIN)) } }
            @if p.chrome.is_none() { (app_cancel(p.csrf)) }
        },
    )
}

/// A base32 key in groups of four, easier to type; apps ignore the spaces.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service's QR code as an `<img>` source: the CSP allows `data:` images, and an image
/// cannot carry script the way inline SVG markup could.
fn svg_data_uri(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg.as_bytes())
    )
}

/// Backup codes, shown this once.
pub fn backup_codes(codes: &[String], next: &str, chrome: Option<&Chrome<'_>>) -> Markup {
    layout(
        t!(BACKUP_TITLE),
        chrome,
        false,
        html! {
            p { (t!(BACKUP_INTRO)) }
            ul.codes aria-label=(t!(BACKUP_TITLE)) {
                @for c in codes { li { code { (c) } } }
            }
            p.actions {
                // A file made in the browser from the page itself: the codes go nowhere else.
                a href=(backup_codes_file(codes)) download="backup-codes.txt" { (t!(BACKUP_DOWNLOAD)) }
                a href=(u(next)) { (t!(BACKUP_DONE)) }
            }
        },
    )
}

/// The backup codes as a `data:` URL of a text file, one code a line.
fn backup_codes_file(codes: &[String]) -> String {
    let mut body = String::from(t!(BACKUP_FILE_HEADER));
    for c in codes {
        body.push_str(c);
        body.push('\n');
    }
    let encoded: String = body
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("data:text/plain;charset=utf-8,{encoded}")
}

/// The account's security page.
pub fn account(
    chrome: &Chrome<'_>,
    factors: &[FactorSummary],
    devices: &[latchkey_store::model::RememberedDevice],
    note: Option<&str>,
    error: Option<&str>,
    passkeys: bool,
) -> Markup {
    let has_factor = factors.iter().any(|f| !f.factor.kind.is_recovery());
    layout(
        t!(ACCOUNT_TITLE),
        Some(chrome),
        true,
        html! {
            (notice(note))
            @if let Some(e) = error { p.alert role="alert" { (e) } }
            h2 { (t!(FACTORS_HEADING)) }
            @if factors.is_empty() {
                p { (t!(FACTORS_NONE)) }
            } @else {
                table {
                    caption { (t!(FACTORS_CAPTION)) }
                    thead { tr {
                        th scope="col" { (t!(COL_NAME)) }
                        th scope="col" { (t!(COL_KIND)) }
                        th scope="col" { (t!(COL_CREATED)) }
                        th scope="col" { (t!(COL_LAST_USED)) }
                        th scope="col" { (t!(COL_ACTIONS)) }
                    } }
                    tbody {
                        @for f in factors { (factor_row(chrome.csrf, f)) }
                    }
                }
            }
            section aria-labelledby="add-totp" {
                h2 id="add-totp" { (t!(ADD_TOTP_HEADING)) }
                p.muted { (t!(ADD_TOTP_INTRO)) }
                form method="post" action=(u("/account/security/totp")) {
                    (csrf_field(chrome.csrf))
                    (field(&Field {
                        required: false,
                        hint: Some(t!(ENROLL_NAME_HINT)),
                        ..Field::new("name", t!(ENROLL_NAME), "text", "off")
                    }))
                    button type="submit" { (t!(ADD_TOTP)) }
                }
            }
            @if has_factor {
                section aria-labelledby="backup" {
                    h2 id="backup" { (t!(BACKUP_HEADING)) }
                    p.muted { (t!(BACKUP_REGENERATE_INTRO)) }
                    form method="post" action=(u("/account/security/backup-codes")) {
                        (csrf_field(chrome.csrf))
                        button.secondary type="submit" { (t!(BACKUP_REGENERATE)) }
                    }
                }
            }
            (passkeys_section(chrome.csrf, passkeys))
            (devices_section(chrome.csrf, devices))
        },
    )
}

/// "Remembered devices" on `/account/security`: each with a button to forget it, and one to
/// forget them all. Nothing when there is none.
fn devices_section(csrf: &str, devices: &[latchkey_store::model::RememberedDevice]) -> Markup {
    html! {
        @if !devices.is_empty() {
            section aria-labelledby="devices" {
                h2 id="devices" { (t!(DEVICES_HEADING)) }
                p.muted { (t!(DEVICES_INTRO)) }
                table {
                    caption { (t!(DEVICES_CAPTION)) }
                    thead { tr {
                        th scope="col" { (t!(COL_DEVICE)) }
                        th scope="col" { (t!(COL_LAST_USED)) }
                        th scope="col" { (t!(COL_EXPIRES)) }
                        th scope="col" { (t!(COL_ACTIONS)) }
                    } }
                    tbody {
                        @for d in devices {
                            @let name = d.name.clone().unwrap_or_else(|| t!(UNNAMED_DEVICE).to_owned());
                            tr {
                                td { (name) @if let Some(ip) = &d.last_ip { br; span.muted { (ip) } } }
                                td { (when(d.last_used_at.unwrap_or(d.created_at))) }
                                td { (when(d.expires_at)) }
                                td {
                                    form method="post" action=(u(&format!("/account/security/devices/{}/forget", d.id))) {
                                        (csrf_field(csrf))
                                        button.danger type="submit" aria-label=(t!(forget_named)(&name)) { (t!(FORGET)) }
                                    }
                                }
                            }
                        }
                    }
                }
                form method="post" action=(u("/account/security/devices/forget")) {
                    (csrf_field(csrf))
                    button.secondary type="submit" { (t!(FORGET_ALL_DEVICES)) }
                }
            }
        }
    }
}

/// "Passkeys and security keys" on `/account/security`: a [`ceremony`] that starts a
/// `webauthn` factor (`/account/passkeys/options`) and confirms it with the browser's
/// registration (`/account/passkeys/confirm`). Said plainly when the tenant does not allow
/// them.
pub fn passkeys_section(csrf: &str, allowed: bool) -> Markup {
    html! {
        section aria-labelledby="passkeys" {
            h2 id="passkeys" { (t!(PASSKEYS_HEADING)) }
            @if allowed {
                p.muted { (t!(PASSKEYS_INTRO)) }
                (ceremony(&Ceremony {
                    id: "register",
                    mode: "create",
                    options_url: "/account/passkeys/options",
                    action: "/account/passkeys/confirm",
                    csrf,
                    fields: html! {
                        (field(&Field {
                            name: "name",
                            required: false,
                            hint: Some(t!(PASSKEY_NAME_HINT)),
                            ..Field::new("passkey-name", t!(PASSKEY_NAME), "text", "off")
                        }))
                        input type="hidden" name="factor_id" value="";
                    },
                    button: t!(ADD_PASSKEY),
                    secondary: false,
                    hint: "",
                    error: None,
                    conditional: false,
                }))
            } @else {
                p.muted { (t!(PASSKEYS_NOT_ALLOWED)) }
            }
        }
    }
}

fn factor_row(csrf: &str, s: &FactorSummary) -> Markup {
    let f = &s.factor;
    let kind = t!(kind_name)(f.kind);
    let name = f.name.clone().unwrap_or_else(|| kind.to_owned());
    let detail = match (s.remaining_codes, &s.destination, &s.credential) {
        (Some(n), _, _) => Some(t!(codes_left)(n)),
        (None, Some(d), _) => Some(d.clone()),
        (None, None, Some(c)) if c.clone_suspected_at.is_some() => Some(t!(PASSKEY_CLONE_SUSPECTED).into()),
        (None, None, Some(c)) if c.backup_eligible => Some(t!(PASSKEY_SYNCED).into()),
        (None, None, Some(_)) => Some(t!(PASSKEY_DEVICE_BOUND).into()),
        (None, None, None) => None,
    };
    html! {
        tr {
            td {
                (name)
                @if let Some(d) = detail { br; span.muted { (d) } }
            }
            td { (kind) }
            td { (when(f.created_at)) }
            td {
                @match f.last_used_at {
                    Some(t) => (when(t)),
                    None => span.muted { (t!(NEVER)) },
                }
            }
            td {
                form method="post" action=(u(&format!("/account/security/factors/{}/remove", f.id))) {
                    (csrf_field(csrf))
                    button.danger type="submit" aria-label=(t!(remove_named)(&name)) { (t!(REMOVE)) }
                }
            }
        }
    }
}

/// A time as a `<time>` element: the date and minute in UTC.
fn when(ms: i64) -> Markup {
    let iso = latchkey_core::time::rfc3339(ms);
    let shown = format!("{} UTC", iso.get(..16).unwrap_or(&iso).replace('T', " "));
    html! { time datetime=(iso) { (shown) } }
}

/// A change that needs a recent second factor.
pub fn step_up(chrome: &Chrome<'_>) -> Markup {
    layout(
        t!(STEP_UP_TITLE),
        Some(chrome),
        false,
        html! {
            p { (t!(STEP_UP_INTRO)) }
            p.actions {
                a href=(u("/account/reauth")) { (t!(STEP_UP_START)) }
                a href=(u("/account/security")) { (t!(BACK_TO_ACCOUNT)) }
            }
        },
    )
}

/// Re-verification for step-up: the password again, then a second factor.
pub fn reauth(chrome: &Chrome<'_>, error: Option<&str>) -> Markup {
    let password = Field {
        error,
        autofocus: true,
        ..Field::new("password", t!(PASSWORD), "password", "current-password")
    };
    layout(
        t!(STEP_UP_TITLE),
        Some(chrome),
        false,
        html! {
            p { (t!(STEP_UP_INTRO)) }
            form method="post" action=(u("/account/reauth")) {
                (csrf_field(chrome.csrf))
                // For password managers: whose password this is.
                input type="hidden" name="username" autocomplete="username" value=(chrome.email);
                (field(&password))
                button type="submit" { (t!(CONTINUE)) }
            }
            p { a href=(u("/account/security")) { (t!(BACK_TO_ACCOUNT)) } }
        },
    )
}

pub fn error_page(title: &str, message: &str) -> Markup {
    let reference = crate::telemetry::current_request_id();
    layout(
        title,
        None,
        false,
        html! {
            p role="alert" { (message) }
            @if let Some(id) = reference { p.muted { (t!(request_id)(&id)) } }
            p { a href=(u("/login")) { (t!(BACK_TO_SIGN_IN)) } }
        },
    )
}

/// The authorization response as a form the browser posts to the application
/// (`response_mode=form_post`, OAuth 2.0 Form Post Response Mode §2): submitted by
/// `assets/form-post.js` at once, or by its button without script.
pub fn form_post(action: &str, params: &[(&str, String)], app_name: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(t!(LANG)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (t!(FORM_POST_TITLE)) " · " (t!(PRODUCT)) }
                link rel="stylesheet" href=(asset("/assets/pages.css"));
                script src=(asset("/assets/form-post.js")) defer {}
            }
            body {
                main {
                    h1 { (t!(FORM_POST_TITLE)) }
                    p { (t!(FORM_POST_NOTE)) }
                    form method="post" action=(action) data-autosubmit {
                        @for (name, value) in params {
                            input type="hidden" name=(name) value=(value);
                        }
                        button type="submit" { (t!(continue_button)(app_name)) }
                    }
                }
            }
        }
    }
}

/// RP-initiated logout's confirmation: signing out is a POST with the page's token, so a
/// link from elsewhere cannot sign anyone out by itself.
pub fn logout_confirm(csrf: &str, app_name: Option<&str>, fields: &[(&str, String)]) -> Markup {
    layout(
        t!(LOGOUT_TITLE),
        None,
        false,
        html! {
            @if let Some(app) = app_name { p { (t!(logout_requested_by)(app)) } }
            p { (t!(LOGOUT_CONFIRM)) }
            form method="post" action=(u("/logout")) {
                (csrf_field(csrf))
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" { (t!(LOGOUT_SUBMIT)) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(id: &str, kind: FactorKind) -> Offered {
        Offered {
            id: id.into(),
            kind: kind.as_str().into(),
            name: None,
            destination: None,
        }
    }

    fn render(app: Option<ForApp>, factors: &[Offered]) -> String {
        let view = MfaView {
            remember_days: None,
            csrf: "t",
            factors,
            shown: factors.first(),
            open: false,
            resend_in: 0,
            error: Some("wrong code"),
            note: None,
        };
        FOR_APP.sync_scope(app, || mfa(&view).into_string())
    }

    #[test]
    fn a_phishing_resistant_sign_in_offers_only_webauthn() {
        let factors = [
            offered("fac_totp", FactorKind::Totp),
            offered("fac_key", FactorKind::Webauthn),
            offered("fac_backup", FactorKind::BackupCodes),
        ];
        let app = |phr| {
            Some(ForApp {
                name: "Acme SPA".into(),
                phishing_resistant: phr,
            })
        };
        let page = render(app(true), &factors);
        assert!(page.contains("Acme SPA"), "{page}");
        assert!(page.contains("action=\"/authorize/cancel\""), "{page}");
        assert!(
            page.contains("data-webauthn=\"get\""),
            "the ceremony is shown: {page}"
        );
        assert!(
            !page.contains("fac_totp") && !page.contains("fac_backup"),
            "{page}"
        );
        assert!(!page.contains("wrong code"), "{page}");
        // Asked for a second factor only: everything is offered.
        let page = render(app(false), &factors);
        assert!(page.contains("fac_totp") && page.contains("fac_backup"), "{page}");
        assert!(page.contains("wrong code"), "{page}");
        // Without a WebAuthn factor, nothing is hidden: the acr tells the application.
        let page = render(app(true), &factors[..1]);
        assert!(page.contains("fac_totp"), "{page}");
        // No application waiting: no cancel.
        let page = render(None, &factors);
        assert!(!page.contains("/authorize/cancel"), "{page}");
    }
}
