//! Vonage against a stand-in of its SMS API: `POST /sms/json` with the documented form
//! fields, answering HTTP 200 with a per-message `status` as Vonage does.

use crate::stand_in::{content_type, field, form, serve, Answer, StandIn};
use crate::support::{opts, transient_within};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use serde_json::json;
use std::time::Duration;

const KEY: &str = "a1b2c3d4";
const SECRET: &str = "vonage-api-secret-0123456789";

async fn send_sms(State(s): State<StandIn>, headers: HeaderMap, body: Bytes) -> Response {
    s.record(&headers, &body);
    assert!(content_type(&headers).starts_with("application/x-www-form-urlencoded"));
    let fields = form(&body);
    let mut names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["api_key", "api_secret", "client-ref", "from", "text", "to"]
    );
    if field(&fields, "api_key") != Some(KEY) || field(&fields, "api_secret") != Some(SECRET) {
        return one_message(json!({ "status": "4", "error-text": "Bad Credentials" }));
    }
    // Vonage takes international numbers without the `+`.
    let to = field(&fields, "to").unwrap();
    if !to.bytes().all(|b| b.is_ascii_digit()) {
        return one_message(json!({ "status": "3", "error-text": format!("Invalid to address: {to}") }));
    }
    match s.answer() {
        Answer::Accept => {}
        Answer::Slow(delay) => tokio::time::sleep(delay).await,
        Answer::Status(code) => return StatusCode::from_u16(code).unwrap().into_response(),
        Answer::VonageStatus(status) => {
            return one_message(json!({ "status": status, "error-text": "as told" }));
        }
    }
    one_message(json!({
        "to": to,
        "message-id": "0A0000000123ABCD1",
        "status": "0",
        "remaining-balance": "3.14159265",
        "message-price": "0.03330000",
        "network": "12345",
        "client-ref": field(&fields, "client-ref"),
    }))
}

fn one_message(message: serde_json::Value) -> Response {
    Json(json!({ "message-count": "1", "messages": [message] })).into_response()
}

async fn vonage() -> (StandIn, String) {
    let s = StandIn::new();
    let router = Router::new()
        .route("/sms/json", post(send_sms))
        .with_state(s.clone());
    let addr = serve(router).await;
    (s, format!("http://{addr}"))
}

fn config(base_url: &str, secret: &str, from: &str) -> SmsProviderConfig {
    SmsProviderConfig::Vonage {
        api_key: KEY.into(),
        api_secret: secret.into(),
        from: from.into(),
        base_url: Some(base_url.into()),
    }
}

fn sms() -> SmsMessage {
    SmsMessage {
        to: "+447700900123".into(),
        body: "Your Acme code is 654321".into(),
        idempotency_key: "msg_01HZX3T8Q7W9V2K4M6N8P0R2S4".into(),
    }
}

#[tokio::test]
async fn sends_the_documented_form_and_keeps_the_message_id() {
    let (stand_in, base) = vonage().await;
    for from in ["AcmeAuth", "14155550100"] {
        let cfg = config(&base, SECRET, from);
        assert_eq!(cfg.validate(), Vec::<String>::new(), "{from}");
        let sent = cfg
            .build_sms(&opts(Duration::from_secs(5)))
            .send(&sms())
            .await
            .unwrap();
        assert_eq!(sent.provider, "vonage");
        assert_eq!(sent.provider_message_id.as_deref(), Some("0A0000000123ABCD1"));
        let received = stand_in.received();
        let fields = form(&received.last().unwrap().body);
        assert_eq!(field(&fields, "to"), Some("447700900123"));
        assert_eq!(field(&fields, "from"), Some(from));
        assert_eq!(field(&fields, "text"), Some("Your Acme code is 654321"));
        assert_eq!(
            field(&fields, "client-ref"),
            Some("msg_01HZX3T8Q7W9V2K4M6N8P0R2S4")
        );
    }
}

#[tokio::test]
async fn statuses_in_a_200_are_classified() {
    let (stand_in, base) = vonage().await;
    let options = opts(Duration::from_secs(5));

    let wrong = "wrong-secret-000000000000";
    let err = config(&base, wrong, "AcmeAuth")
        .build_sms(&options)
        .send(&sms())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("invalid credentials"), "{err}");
    assert!(!err.to_string().contains(wrong));

    let sender = config(&base, SECRET, "AcmeAuth").build_sms(&options);
    for (status, transient) in [("1", true), ("5", true), ("3", false), ("6", false), ("9", false)] {
        stand_in.answer_with(Answer::VonageStatus(status));
        let err = sender.send(&sms()).await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Transient(_)),
            transient,
            "status {status}: {err}"
        );
        assert!(err.to_string().contains(&format!("status {status}")), "{err}");
    }
    for (http, transient) in [(500, true), (429, true), (401, false)] {
        stand_in.answer_with(Answer::Status(http));
        let err = sender.send(&sms()).await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Transient(_)),
            transient,
            "HTTP {http}: {err}"
        );
    }
}

#[tokio::test]
async fn the_timeout_bounds_a_slow_api() {
    let (stand_in, base) = vonage().await;
    stand_in.answer_with(Answer::Slow(Duration::from_secs(10)));
    let sender = config(&base, SECRET, "AcmeAuth").build_sms(&opts(Duration::from_millis(300)));
    transient_within(Duration::from_secs(2), sender.send(&sms())).await;
}
