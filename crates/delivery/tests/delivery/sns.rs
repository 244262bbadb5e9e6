//! AWS SNS against moto, the AWS emulator, in server mode with IAM enforcement on: moto
//! recomputes every SigV4 signature with botocore's signer and refuses a mismatch, so a
//! published SMS proves the signature right. moto keeps published SMS in its SNS backend;
//! `/moto-api/data.json` lists them (`sns.SMS`: message_id, phone_number, message).

use crate::support::{black_hole, free_port, opts, python_module_or_skip, transient_within};
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use latchkey_testkit::moto::{published, publisher_key, start_moto};
use std::time::Duration;

const REGION: &str = "eu-west-1";

fn config(endpoint: &str, key_id: &str, secret: &str) -> SmsProviderConfig {
    SmsProviderConfig::AwsSns {
        region: REGION.into(),
        access_key_id: key_id.into(),
        secret_access_key: secret.into(),
        endpoint_url: Some(endpoint.into()),
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
        1,
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
