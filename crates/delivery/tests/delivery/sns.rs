//! AWS SNS against moto, the AWS emulator, in server mode with IAM enforcement on: moto
//! recomputes every SigV4 signature with botocore's signer and refuses a mismatch, so a
//! published SMS proves the signature right. moto keeps published SMS in its SNS backend;
//! `/moto-api/data.json` lists them (`sns.SMS`: message_id, phone_number, message).

use crate::support::{black_hole, free_port, opts, python_module_or_skip, transient_within, Server};
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::{DeliveryError, SmsMessage};
use std::process::Command;
use std::time::Duration;

const REGION: &str = "eu-west-1";

struct Moto {
    _server: Server,
    _dir: tempfile::TempDir,
    endpoint: String,
}

/// moto on a free port. `INITIAL_NO_AUTH_ACTION_COUNT=3`: the first three requests (the IAM
/// set-up below) pass unauthenticated, and every request after them must be signed by a
/// key moto issued, for an action its policy allows.
fn start_moto() -> Moto {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new("python3");
    command
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    let server = Server::start(command, port, &dir.path().join("moto.log"));
    Moto {
        endpoint: format!("http://{}", server.addr),
        _server: server,
        _dir: dir,
    }
}

/// An IAM Query API call during moto's unauthenticated window. moto routes a request by the
/// service named in its credential scope, so the header names `iam`; nothing checks the
/// signature yet.
async fn iam(moto: &Moto, params: &[(&str, &str)]) -> String {
    let unchecked = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, \
                     SignedHeaders=host, Signature=0";
    let response = reqwest::Client::new()
        .post(format!("{}/", moto.endpoint))
        .header("authorization", unchecked)
        .form(params)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "IAM {params:?}: {}",
        response.status()
    );
    response.text().await.unwrap()
}

fn xml(text: &str, element: &str) -> String {
    let open = format!("<{element}>");
    let start = text.find(&open).unwrap() + open.len();
    let end = start + text[start..].find(&format!("</{element}>")).unwrap();
    text[start..end].to_owned()
}

/// A user allowed `sns:Publish`, and an access key of theirs.
async fn publisher_key(moto: &Moto) -> (String, String) {
    let version = ("Version", "2010-05-08");
    iam(
        moto,
        &[("Action", "CreateUser"), version, ("UserName", "latchkey")],
    )
    .await;
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}"#;
    iam(
        moto,
        &[
            ("Action", "PutUserPolicy"),
            version,
            ("UserName", "latchkey"),
            ("PolicyName", "publish"),
            ("PolicyDocument", policy),
        ],
    )
    .await;
    let key = iam(
        moto,
        &[("Action", "CreateAccessKey"), version, ("UserName", "latchkey")],
    )
    .await;
    (xml(&key, "AccessKeyId"), xml(&key, "SecretAccessKey"))
}

/// The SMS moto's SNS backend holds, as (message_id, phone_number, message).
async fn published(moto: &Moto) -> Vec<(String, String, String)> {
    let url = format!("{}/moto-api/data.json", moto.endpoint);
    let data: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sms| {
            let text = |k: &str| sms[k].as_str().unwrap().to_owned();
            (text("message_id"), text("phone_number"), text("message"))
        })
        .collect()
}

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
