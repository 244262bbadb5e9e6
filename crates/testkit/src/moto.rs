//! moto, the AWS emulator, in server mode with IAM enforcement: moto recomputes every SigV4
//! signature with botocore's signer, so a message it accepts was signed right. Published SMS
//! are listed at `/moto-api/data.json` (`sns.SMS`).

use crate::process::{free_port, Server};
use std::process::Command;

pub struct Moto {
    _server: Server,
    _dir: tempfile::TempDir,
    pub endpoint: String,
}

/// moto on a free port. `INITIAL_NO_AUTH_ACTION_COUNT=3`: the first three requests (the IAM
/// set-up below) pass unauthenticated, and every request after them must be signed by a
/// key moto issued, for an action its policy allows.
pub fn start_moto() -> Moto {
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
pub async fn publisher_key(moto: &Moto) -> (String, String) {
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
pub async fn published(moto: &Moto) -> Vec<(String, String, String)> {
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
