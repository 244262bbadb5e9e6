//! Twilio against a stand-in of its Messages API that checks what Twilio's docs require:
//! the path with the account SID, HTTP Basic auth, and the `To`/`From`/`Body` form.

use crate::stand_in::{content_type, field, form, serve, Answer, StandIn};
use crate::support::{black_hole, free_port, opts, transient_within};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use serde_json::json;
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-0123456789abcdef";
const FROM: &str = "+15005550006";

async fn create_message(
    State(s): State<StandIn>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.record(&headers, &body);
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected_auth.as_str()) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if sid != SID {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    }
    if !content_type(&headers).starts_with("application/x-www-form-urlencoded") {
        return twilio_error(StatusCode::BAD_REQUEST, 21600, "unsupported content type");
    }
    let fields = form(&body);
    let mut names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Body", "From", "To"], "exactly the documented fields");
    let to = field(&fields, "To").unwrap();
    // Twilio's own refusal quotes the number; the provider must not pass that on.
    if !to.starts_with('+') {
        let message = format!("The 'To' number {to} is not a valid phone number.");
        return twilio_error(StatusCode::BAD_REQUEST, 21211, &message);
    }
    match s.answer() {
        Answer::Accept => {}
        Answer::Slow(delay) => tokio::time::sleep(delay).await,
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return twilio_error(status, 20500, "as told");
        }
        Answer::VonageStatus(_) => unreachable!(),
    }
    let created = json!({
        "sid": "SM0123456789abcdef0123456789abcdef",
        "account_sid": SID,
        "to": to,
        "from": field(&fields, "From"),
        "body": field(&fields, "Body"),
        "status": "queued",
    });
    (StatusCode::CREATED, Json(created)).into_response()
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

async fn twilio() -> (StandIn, String) {
    let s = StandIn::new();
    let router = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(create_message))
        .with_state(s.clone());
    let addr = serve(router).await;
    (s, format!("http://{addr}"))
}

fn config(base_url: &str, token: &str) -> SmsProviderConfig {
    SmsProviderConfig::Twilio {
        account_sid: SID.into(),
        auth_token: token.into(),
        from_number: FROM.into(),
        base_url: Some(base_url.into()),
    }
}

fn sms(to: &str) -> SmsMessage {
    SmsMessage {
        to: to.into(),
        body: "Your Acme code is 123456".into(),
        idempotency_key: "msg_01".into(),
    }
}

#[tokio::test]
async fn sends_the_documented_form_and_keeps_the_sid() {
    let (stand_in, base) = twilio().await;
    let cfg = config(&base, TOKEN);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let sender = cfg.build_sms(&opts(Duration::from_secs(5)));
    assert_eq!(sender.provider(), "twilio");

    let sent = sender.send(&sms("+14155552671")).await.unwrap();
    assert_eq!(sent.provider, "twilio");
    assert_eq!(
        sent.provider_message_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );

    let received = stand_in.received();
    assert_eq!(received.len(), 1, "one attempt, one request");
    let fields = form(&received[0].body);
    assert_eq!(field(&fields, "To"), Some("+14155552671"));
    assert_eq!(field(&fields, "From"), Some(FROM));
    assert_eq!(field(&fields, "Body"), Some("Your Acme code is 123456"));
}

#[tokio::test]
async fn refusals_are_permanent_and_quote_neither_secret_nor_number() {
    let (_stand_in, base) = twilio().await;
    let options = opts(Duration::from_secs(5));

    let wrong_token = "wrong-token-00000000000000000000";
    let err = config(&base, wrong_token)
        .build_sms(&options)
        .send(&sms("+14155552671"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(
        err.to_string().contains("401") && err.to_string().contains("20003"),
        "{err}"
    );
    assert!(!err.to_string().contains(wrong_token));

    let sender = config(&base, TOKEN).build_sms(&options);
    let err = sender.send(&sms("4155552671")).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("21211"), "{err}");
    assert!(
        !err.to_string().contains("4155552671"),
        "the number stays out of errors: {err}"
    );
}

#[tokio::test]
async fn server_errors_and_throttling_are_transient_other_4xx_permanent() {
    let (stand_in, base) = twilio().await;
    let sender = config(&base, TOKEN).build_sms(&opts(Duration::from_secs(5)));
    for (status, transient) in [(500, true), (503, true), (429, true), (400, false), (403, false)] {
        stand_in.answer_with(Answer::Status(status));
        let err = sender.send(&sms("+14155552671")).await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Transient(_)),
            transient,
            "HTTP {status}: {err}"
        );
    }
}

#[tokio::test]
async fn the_timeout_bounds_a_slow_api_and_a_silent_one() {
    let (stand_in, base) = twilio().await;
    stand_in.answer_with(Answer::Slow(Duration::from_secs(10)));
    let sender = config(&base, TOKEN).build_sms(&opts(Duration::from_millis(300)));
    transient_within(Duration::from_secs(2), sender.send(&sms("+14155552671"))).await;

    let (addr, _hole) = black_hole().await;
    let sender = config(&format!("http://{addr}"), TOKEN).build_sms(&opts(Duration::from_millis(300)));
    transient_within(Duration::from_secs(2), sender.send(&sms("+14155552671"))).await;
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let base = format!("http://127.0.0.1:{}", free_port());
    let err = config(&base, TOKEN)
        .build_sms(&opts(Duration::from_secs(5)))
        .send(&sms("+14155552671"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
    assert!(!err.to_string().contains(TOKEN));
}
