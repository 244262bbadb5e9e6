//! The markup of sign-up, the forgotten-password pages and email verification (maud, as
//! [`super::views`], whose frame and fields they use): one `<main>` and `<h1>`, every input
//! labelled with its `autocomplete` (`new-password` for a password being chosen), errors
//! tied to their field, words from [`text`].

use super::here as u;
use super::text::t;
use super::views::{csrf_field, field, layout, Chrome, Code, Field};
use maud::{html, Markup};

/// Which field of a form an error belongs to.
#[derive(Clone, Copy)]
pub enum FormError<'a> {
    Email(&'a str),
    Code(&'a str),
    Password(&'a str),
}

impl<'a> FormError<'a> {
    fn email(e: Option<Self>) -> Option<&'a str> {
        match e {
            Some(FormError::Email(m)) => Some(m),
            _ => None,
        }
    }
    fn code(e: Option<Self>) -> Option<&'a str> {
        match e {
            Some(FormError::Code(m)) => Some(m),
            _ => None,
        }
    }
    fn password(e: Option<Self>) -> Option<&'a str> {
        match e {
            Some(FormError::Password(m)) => Some(m),
            _ => None,
        }
    }
}

fn notice(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p.notice role="status" { (m) } } }
}

fn email_field<'a>(value: Option<&'a str>, error: Option<FormError<'a>>, autofocus: bool) -> Field<'a> {
    let e = FormError::email(error);
    Field {
        value,
        error: e,
        autofocus: e.is_some() || (autofocus && error.is_none()),
        ..Field::new("email", t!(EMAIL), "email", "username")
    }
}

/// A password being chosen: `new-password`, so managers offer to generate and save one.
fn new_password_field<'a>(label: &'a str, error: Option<FormError<'a>>, autofocus: bool) -> Field<'a> {
    let e = FormError::password(error);
    Field {
        error: e,
        hint: Some(t!(PASSWORD_HINT)),
        autofocus: e.is_some() || (autofocus && error.is_none()),
        ..Field::new("password", label, "password", "new-password")
    }
}

fn code_field<'a>(error: Option<FormError<'a>>) -> Field<'a> {
    let e = FormError::code(error);
    Field {
        error: e,
        hint: Some(t!(LINK_CODE_HINT)),
        autofocus: e.is_some(),
        ..Field::code("code", t!(CODE), Code::Numeric)
    }
}

/// `/signup`: email and a new password.
pub fn signup(csrf: &str, email: Option<&str>, error: Option<FormError<'_>>) -> Markup {
    layout(
        t!(SIGNUP_TITLE),
        None,
        false,
        html! {
            form method="post" action=(u("/signup")) {
                (csrf_field(csrf))
                (field(&email_field(email, error, true)))
                (field(&new_password_field(t!(PASSWORD), error, false)))
                button type="submit" { (t!(SIGNUP_SUBMIT)) }
            }
            p { a href=(u("/login")) { (t!(HAVE_ACCOUNT)) } }
        },
    )
}

/// A page that only says something, with links onwards.
pub fn message(title: &str, message: &str, links: &[(&str, &str)]) -> Markup {
    layout(
        title,
        None,
        false,
        html! {
            p role="status" { (message) }
            p.actions {
                @for (href, label) in links { a href=(u(href)) { (label) } }
            }
        },
    )
}

/// `/password/forgot`: the address to send a reset link to.
pub fn forgot(csrf: &str, email: Option<&str>, error: Option<FormError<'_>>) -> Markup {
    layout(
        t!(FORGOT_TITLE),
        None,
        false,
        html! {
            p { (t!(FORGOT_INTRO)) }
            form method="post" action=(u("/password/forgot")) {
                (csrf_field(csrf))
                (field(&email_field(email, error, true)))
                button type="submit" { (t!(FORGOT_SUBMIT)) }
            }
            p.actions {
                a href=(u("/password/reset")) { (t!(HAVE_CODE)) }
                a href=(u("/login")) { (t!(BACK_TO_SIGN_IN)) }
            }
        },
    )
}

/// `/password/reset?token=…`: the link's token travels in a hidden field; the form's POST
/// spends it (a GET never does: mail scanners fetch links).
pub fn reset_with_token(csrf: &str, token: &str, error: Option<FormError<'_>>) -> Markup {
    layout(
        t!(RESET_TITLE),
        None,
        false,
        html! {
            p { (t!(RESET_INTRO_LINK)) }
            form method="post" action=(u("/password/reset")) {
                (csrf_field(csrf))
                input type="hidden" name="token" value=(token);
                (field(&new_password_field(t!(NEW_PASSWORD), error, true)))
                button type="submit" { (t!(RESET_SUBMIT)) }
            }
        },
    )
}

/// `/password/reset` without a link: the address, the emailed code and a new password.
pub fn reset_with_code(csrf: &str, email: Option<&str>, error: Option<FormError<'_>>) -> Markup {
    layout(
        t!(RESET_TITLE),
        None,
        false,
        html! {
            p { (t!(RESET_INTRO_CODE)) }
            form method="post" action=(u("/password/reset")) {
                (csrf_field(csrf))
                (field(&email_field(email, error, true)))
                (field(&code_field(error)))
                (field(&new_password_field(t!(NEW_PASSWORD), error, false)))
                button type="submit" { (t!(RESET_SUBMIT)) }
            }
            p.actions {
                a href=(u("/password/forgot")) { (t!(ASK_NEW_RESET)) }
                a href=(u("/login")) { (t!(BACK_TO_SIGN_IN)) }
            }
        },
    )
}

/// `/verify-email?token=…`: one button, whose POST spends the link.
pub fn verify_with_token(csrf: &str, token: &str) -> Markup {
    layout(
        t!(VERIFY_TITLE),
        None,
        false,
        html! {
            p { (t!(VERIFY_INTRO_LINK)) }
            form method="post" action=(u("/verify-email")) {
                (csrf_field(csrf))
                input type="hidden" name="token" value=(token);
                button type="submit" autofocus { (t!(VERIFY_SUBMIT)) }
            }
        },
    )
}

/// `/verify-email` without a link: the address and the emailed code; for a signed-in user
/// whose address is not confirmed, a button that sends a new link.
pub fn verify_with_code(
    csrf: &str,
    email: Option<&str>,
    error: Option<FormError<'_>>,
    note: Option<&str>,
    chrome: Option<&Chrome<'_>>,
    can_send: bool,
) -> Markup {
    layout(
        t!(VERIFY_TITLE),
        chrome,
        false,
        html! {
            (notice(note))
            p { (t!(VERIFY_INTRO_CODE)) }
            form method="post" action=(u("/verify-email")) {
                (csrf_field(csrf))
                (field(&email_field(email, error, true)))
                (field(&code_field(error)))
                button type="submit" { (t!(VERIFY_CODE_SUBMIT)) }
            }
            @if can_send {
                form method="post" action=(u("/verify-email/send")) {
                    (csrf_field(csrf))
                    button.secondary type="submit" { (t!(VERIFY_SEND)) }
                }
            }
        },
    )
}
