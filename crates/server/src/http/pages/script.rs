//! Answers to the pages' own script (`assets/webauthn.js`), which fetches WebAuthn options
//! before it runs a ceremony. These are not pages: they answer JSON the script reads, and
//! are not part of `/openapi.json`. A POST to them passes the same anti-forgery checks as a
//! form ([`super::session::Posted`]: same site, the cookie's token as the `csrf` field).
//!
//! Success is `200 {"options": …}` (plus what the ceremony needs, such as a `factor_id`).
//! Anything else is `{"location": "/path"}` (the script goes there: sign-in, step-up) or
//! `{"message": "…"}` with the status the page would have had, in the pages' words.

use super::session::clear_cookies;
use super::PageError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// What an options endpoint answers.
pub enum Scripted {
    /// The options, and anything the ceremony's form needs.
    Options(Value),
    /// The script sends the browser to a page of ours.
    Go(StatusCode, &'static str),
    /// A refusal, as the page would have shown it.
    Refused(PageError),
}

impl From<PageError> for Scripted {
    fn from(e: PageError) -> Self {
        Scripted::Refused(e)
    }
}

impl From<crate::service::ServiceError> for Scripted {
    fn from(e: crate::service::ServiceError) -> Self {
        Scripted::Refused(e.into())
    }
}

impl IntoResponse for Scripted {
    fn into_response(self) -> Response {
        match self {
            Scripted::Options(v) => Json(v).into_response(),
            Scripted::Go(status, to) => {
                (status, Json(json!({ "location": super::here(to) }))).into_response()
            }
            Scripted::Refused(PageError::Redirect(to)) => {
                Scripted::Go(StatusCode::UNAUTHORIZED, to).into_response()
            }
            Scripted::Refused(PageError::SignedOut) => {
                let mut resp = Scripted::Go(StatusCode::UNAUTHORIZED, "/login").into_response();
                clear_cookies(resp.headers_mut());
                resp
            }
            Scripted::Refused(PageError::Page {
                status,
                message,
                retry_after,
                ..
            }) => {
                let mut resp = (status, Json(json!({ "message": message }))).into_response();
                if let Some(secs) = retry_after {
                    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                        resp.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                resp
            }
        }
    }
}

/// A `credential` form field as JSON: `None` when it is not a JSON object.
pub fn credential(field: &str) -> Option<Value> {
    serde_json::from_str::<Value>(field).ok().filter(Value::is_object)
}
