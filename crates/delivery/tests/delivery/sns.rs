//! AWS SNS against moto, the AWS emulator, in server mode with IAM enforcement on: moto
//! recomputes every SigV4 signature with botocore's signer and refuses a mismatch, so a
//! published SMS proves the signature right. moto keeps published SMS in its SNS backend;
//! `/moto-api/data.json` lists them (`sns.SMS`: message_id, phone_number, message).

use crate::stand_in::{field, form, serve, StandIn};
use crate::support::{black_hole, free_port, opts, python_module_or_skip, transient_within};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use latchkey_testkit::moto::{published, publisher_key, start_moto};
use std::time::Duration;

const REGION: &str = "eu-west-1";
const ORIGINATION: &str = "+18005550100";
const SENDER_ID: &str = "AcmeAuth";

fn config(endpoint: &str, key_id: &str, secret: &str) -> SmsProviderConfig {
    SmsProviderConfig::AwsSns {
        region: REGION.into(),
        access_key_id: key_id.into(),
        secret_access_key: secret.into(),
        endpoint_url: Some(endpoint.into()),
        origination_number: None,
        sender_id: None,
    }
}

/// The same, with an origination number and a sender id.
fn config_with_sender(endpoint: &str, key_id: &str, secret: &str) -> SmsProviderConfig {
    match config(endpoint, key_id, secret) {
        SmsProviderConfig::AwsSns {
            region,
            access_key_id,
            secret_access_key,
            endpoint_url,
            ..
        } => SmsProviderConfig::AwsSns {
            region,
            access_key_id,
            secret_access_key,
            endpoint_url,
            origination_number: Some(ORIGINATION.into()),
            sender_id: Some(SENDER_ID.into()),
        },
        _ => unreachable!(),
    }
}

fn sms(body: &str) -> SmsMessage {
    SmsMessage {
        to: "+14155552671".into(),
        body: body.into(),
        idempotency_key: "msg_sns".into(),
    }
}

#[tokio::test]
async fn publishes_through_moto_with_a_signature_moto_verifies() {
    // `moto.server`, not `moto`: server mode needs the `moto[server]` extras (Flask).
    if !python_module_or_skip("moto.server") {
        return;
    }
    let moto = start_moto();
    let (key_id, secret) = publisher_key(&moto).await;
    let options = opts(Duration::from_secs(10));

    let cfg = config(&moto.endpoint, &key_id, &secret);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    // A body with characters form encoding and SigV4 canonicalisation must both get right.
    let body = "Your Acme code is 135790. Don't share it: 100% yours & nobody else's +/=~* é";
    let sent = cfg.build_sms(&options).send(&sms(body)).await.unwrap();
    assert_eq!(sent.provider, "aws_sns");
    let id = sent.provider_message_id.expect("MessageId");
    assert_eq!(
        published(&moto).await,
        [(id, "+14155552671".to_owned(), body.to_owned())]
    );

    // With an origination number and a sender id: two more message attributes, which moto
    // parses and checks (it does not keep them; the stand-in test below reads them).
    let cfg = config_with_sender(&moto.endpoint, &key_id, &secret);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let sent = cfg.build_sms(&options).send(&sms("Code 24680")).await.unwrap();
    assert_eq!(published(&moto).await.len(), 2);
    assert_eq!(
        published(&moto).await[1],
        (
            sent.provider_message_id.unwrap(),
            "+14155552671".to_owned(),
            "Code 24680".to_owned()
        )
    );

    // The same key with a wrong secret: moto's own SigV4 check refuses it.
    let wrong = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET";
    let err = config(&moto.endpoint, &key_id, wrong)
        .build_sms(&options)
        .send(&sms("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert!(!err.to_string().contains(wrong) && !err.to_string().contains(&secret));

    // A key moto never issued.
    let err = config(&moto.endpoint, "AKIAIOSFODNN7EXAMPLE", &secret)
        .build_sms(&options)
        .send(&sms("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("InvalidClientTokenId"), "{err}");

    assert_eq!(
        published(&moto).await.len(),
        2,
        "refused requests published nothing"
    );
}

#[tokio::test]
async fn an_unreachable_or_silent_endpoint_is_transient() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let options = opts(Duration::from_millis(500));
    let err = config(&closed, "AKIAIOSFODNN7EXAMPLE", secret)
        .build_sms(&options)
        .send(&sms("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
    assert!(!err.to_string().contains(secret));

    let (addr, _hole) = black_hole().await;
    let silent = format!("http://{addr}");
    transient_within(
        Duration::from_secs(3),
        config(&silent, "AKIAIOSFODNN7EXAMPLE", secret)
            .build_sms(&options)
            .send(&sms("x")),
    )
    .await;
}

/// Records the Publish form and answers as SNS does.
async fn publish(State(s): State<StandIn>, headers: HeaderMap, body: Bytes) -> Response {
    s.record(&headers, &body);
    let ok = r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>
</PublishResponse>"#;
    ([("content-type", "text/xml")], ok).into_response()
}

#[tokio::test]
async fn origination_number_and_sender_id_are_sent_as_message_attributes() {
    let s = StandIn::new();
    let addr = serve(Router::new().route("/", post(publish)).with_state(s.clone())).await;
    let endpoint = format!("http://{addr}");
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let options = opts(Duration::from_secs(5));

    let sent = config_with_sender(&endpoint, "AKIAIOSFODNN7EXAMPLE", secret)
        .build_sms(&options)
        .send(&sms("Code 13579"))
        .await
        .unwrap();
    assert_eq!(
        sent.provider_message_id.as_deref(),
        Some("567910cd-659e-55d4-8ccb-5aaf14679dc0")
    );
    let fields = form(&s.received()[0].body);
    let attributes: Vec<(&str, &str, &str)> = (1..)
        .map_while(|i| {
            let entry = format!("MessageAttributes.entry.{i}");
            Some((
                field(&fields, &format!("{entry}.Name"))?,
                field(&fields, &format!("{entry}.Value.DataType"))?,
                field(&fields, &format!("{entry}.Value.StringValue"))?,
            ))
        })
        .collect();
    assert_eq!(
        attributes,
        [
            ("AWS.SNS.SMS.SMSType", "String", "Transactional"),
            ("AWS.MM.SMS.OriginationNumber", "String", ORIGINATION),
            ("AWS.SNS.SMS.SenderID", "String", SENDER_ID),
        ]
    );
    assert_eq!(field(&fields, "PhoneNumber"), Some("+14155552671"));

    // Without them, the one attribute as before.
    config(&endpoint, "AKIAIOSFODNN7EXAMPLE", secret)
        .build_sms(&options)
        .send(&sms("Code 97531"))
        .await
        .unwrap();
    let fields = form(&s.received()[1].body);
    assert!(
        field(&fields, "MessageAttributes.entry.2.Name").is_none(),
        "{fields:?}"
    );
    assert_eq!(
        field(&fields, "MessageAttributes.entry.1.Name"),
        Some("AWS.SNS.SMS.SMSType")
    );
}
