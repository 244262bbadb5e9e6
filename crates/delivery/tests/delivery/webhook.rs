//! The webhook provider against a gateway that verifies the signature the way the module
//! docs tell gateway authors to, with its own HMAC, not ours.

use crate::stand_in::{content_type, serve, Answer, StandIn};
use crate::support::{opts, transient_within};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use serde_json::json;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_3f1c9a7e5b2d4f6a8c0e1b3d5f7a9c2e";

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The verification recipe from `webhook.rs`'s docs, step by step.
fn verify(headers: &HeaderMap, raw_body: &[u8]) -> Result<(), &'static str> {
    let header = headers
        .get("x-latchkey-signature")
        .ok_or("no signature")?
        .to_str()
        .unwrap();
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => return Err("unknown part"),
        }
    }
    let (t, v1) = (t.ok_or("no t")?, v1.ok_or("no v1")?);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(raw_body);
    let claimed = hex::decode(v1).map_err(|_| "v1 is not hex")?;
    mac.verify_slice(&claimed).map_err(|_| "bad signature")?;
    let t: i64 = t.parse().map_err(|_| "t is not a number")?;
    if (now_secs() - t).abs() > 300 {
        return Err("stale");
    }
    Ok(())
}

async fn gateway(State(s): State<StandIn>, headers: HeaderMap, body: Bytes) -> Response {
    s.record(&headers, &body);
    assert_eq!(content_type(&headers), "application/json");
    if let Err(why) = verify(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    match s.answer() {
        Answer::Accept => {}
        Answer::Slow(delay) => tokio::time::sleep(delay).await,
        Answer::Status(302) => {
            let to = [("location", "http://127.0.0.1:9/elsewhere")];
            return (StatusCode::FOUND, to).into_response();
        }
        Answer::Status(code) => return StatusCode::from_u16(code).unwrap().into_response(),
        Answer::VonageStatus(_) => unreachable!(),
    }
    Json(json!({ "id": "gw_42" })).into_response()
}

async fn webhook() -> (StandIn, String) {
    let s = StandIn::new();
    let router = Router::new()
        .route("/hooks/sms", post(gateway))
        .with_state(s.clone());
    let addr = serve(router).await;
    (s, format!("http://{addr}/hooks/sms"))
}

fn config(url: &str, secret: &str) -> SmsProviderConfig {
    SmsProviderConfig::Webhook {
        url: url.into(),
        secret: secret.into(),
    }
}

fn sms() -> SmsMessage {
    SmsMessage {
        to: "+14155552671".into(),
        body: "Your Acme code is 246810".into(),
        idempotency_key: "msg_webhook_1".into(),
    }
}

#[tokio::test]
async fn posts_signed_json_that_an_independent_verifier_accepts() {
    let (stand_in, url) = webhook().await;
    let cfg = config(&url, SECRET);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let before = now_secs();
    let sent = cfg
        .build_sms(&opts(Duration::from_secs(5)))
        .send(&sms())
        .await
        .unwrap();
    assert_eq!(sent.provider, "webhook");
    assert_eq!(sent.provider_message_id.as_deref(), Some("gw_42"));

    let received = stand_in.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.headers.get("idempotency-key").unwrap(), "msg_webhook_1");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["to", "body", "idempotency_key", "sent_at"]);
    assert_eq!(body["to"], "+14155552671");
    assert_eq!(body["body"], "Your Acme code is 246810");
    assert_eq!(body["idempotency_key"], "msg_webhook_1");
    // `sent_at` is RFC 3339 UTC to the second, and names the signed `t`.
    let signature = request
        .headers
        .get("x-latchkey-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let t: i64 = signature
        .strip_prefix("t=")
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((before..=now_secs()).contains(&t));
    assert_eq!(body["sent_at"], latchkey_core::time::rfc3339(t * 1000));
}

#[tokio::test]
async fn a_gateway_with_another_secret_refuses_and_that_is_permanent() {
    let (stand_in, url) = webhook().await;
    let other = "whsec_ffffffffffffffffffffffffffffffff";
    let err = config(&url, other)
        .build_sms(&opts(Duration::from_secs(5)))
        .send(&sms())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(!err.to_string().contains(other));
    assert_eq!(stand_in.received().len(), 1);
}

#[tokio::test]
async fn statuses_are_classified_and_redirects_not_followed() {
    let (stand_in, url) = webhook().await;
    let sender = config(&url, SECRET).build_sms(&opts(Duration::from_secs(5)));
    for (status, transient) in [
        (500, true),
        (502, true),
        (429, true),
        (408, true),
        (400, false),
        (404, false),
        (302, false),
    ] {
        stand_in.answer_with(Answer::Status(status));
        let err = sender.send(&sms()).await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Transient(_)),
            transient,
            "HTTP {status}: {err}"
        );
    }
    assert_eq!(
        stand_in.received().len(),
        7,
        "one request per attempt, the redirect not followed"
    );
}

#[tokio::test]
async fn the_timeout_bounds_a_slow_gateway() {
    let (stand_in, url) = webhook().await;
    stand_in.answer_with(Answer::Slow(Duration::from_secs(10)));
    let sender = config(&url, SECRET).build_sms(&opts(Duration::from_millis(300)));
    transient_within(Duration::from_secs(2), sender.send(&sms())).await;
}
