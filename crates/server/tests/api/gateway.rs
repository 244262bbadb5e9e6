//! A stand-in SMS gateway on loopback for the delivery tests: it speaks Twilio's Messages
//! API, Vonage's SMS API and Latchkey's signed webhook, checks what each requires (path,
//! credentials, fields, the webhook signature), records the messages it accepts, and can be
//! told to fail, to fail a few times, or to hold requests until released.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use std::sync::{Arc, Mutex};

pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-secret";
pub const WEBHOOK_SECRET: &str = "webhook-signing-secret-0123456789";

#[derive(Debug, Clone)]
pub struct Received {
    pub api: &'static str,
    pub to: String,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answer this many requests with 503 before accepting.
    fail_next: usize,
    /// Answer every request with 503.
    always_fail: bool,
    /// Hold requests until released.
    hold: bool,
    requests: usize,
}

#[derive(Clone)]
pub struct Gateway {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    release: Arc<tokio::sync::Notify>,
}

impl Gateway {
    pub async fn start() -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener).await
    }

    async fn serve(listener: tokio::net::TcpListener) -> Gateway {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gw = Gateway {
            url,
            inner: Default::default(),
            release: Arc::new(tokio::sync::Notify::new()),
        };
        let app = axum::Router::new().fallback(handle).with_state(gw.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        gw
    }

    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().fail_next = n;
    }

    pub fn always_fail(&self, on: bool) {
        self.inner.lock().unwrap().always_fail = on;
    }

    pub fn hold(&self, on: bool) {
        self.inner.lock().unwrap().hold = on;
        if !on {
            self.release.notify_waiters();
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().requests
    }

    /// Waits (up to 10 s of real time) for the `n`-th accepted message and returns its code.
    pub async fn code(&self, n: usize) -> String {
        for _ in 0..200 {
            if let Some(m) = self.received().get(n - 1) {
                return extract_code(&m.body);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("message {n} never arrived; got {:?}", self.received());
    }
}

/// The six-digit code in a message.
pub fn extract_code(text: &str) -> String {
    let bytes = text.as_bytes();
    for i in 0..bytes.len().saturating_sub(5) {
        let window = &bytes[i..i + 6];
        let before = i
            .checked_sub(1)
            .map(|j| bytes[j].is_ascii_digit())
            .unwrap_or(false);
        let after = bytes.get(i + 6).is_some_and(|b| b.is_ascii_digit());
        if window.iter().all(u8::is_ascii_digit) && !before && !after {
            return String::from_utf8(window.to_vec()).unwrap();
        }
    }
    panic!("no code in {text:?}");
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url_decode_pairs(std::str::from_utf8(body).unwrap_or(""))
}

fn url_decode_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn field<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

async fn handle(State(gw): State<Gateway>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let hold = {
        let mut inner = gw.inner.lock().unwrap();
        inner.requests += 1;
        inner.hold
    };
    if hold {
        gw.release.notified().await;
    }
    {
        let mut inner = gw.inner.lock().unwrap();
        if inner.always_fail {
            return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
        }
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
    }
    let path = uri.path();
    let accepted = if path == format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json") {
        // Twilio: Basic auth with the account SID and auth token; To, From, Body form fields.
        let expected = format!(
            "Basic {}",
            base64_encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}").as_bytes())
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"code":20003,"message":"Authenticate"}"#,
            )
                .into_response();
        }
        let f = form(&body);
        match (field(&f, "To"), field(&f, "From"), field(&f, "Body")) {
            (Some(to), Some(_), Some(text)) => Some((
                Received {
                    api: "twilio",
                    to: to.into(),
                    body: text.into(),
                },
                StatusCode::CREATED,
                r#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#,
            )),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    r#"{"code":21604,"message":"missing field"}"#,
                )
                    .into_response()
            }
        }
    } else if path == "/sms/json" {
        // Vonage: api_key, api_secret, from, to (no +), text.
        let f = form(&body);
        match (
            field(&f, "api_key"),
            field(&f, "api_secret"),
            field(&f, "to"),
            field(&f, "text"),
        ) {
            (Some(_), Some(_), Some(to), Some(text)) if !to.starts_with('+') => Some((
                Received {
                    api: "vonage",
                    to: format!("+{to}"),
                    body: text.into(),
                },
                StatusCode::OK,
                r#"{"message-count":"1","messages":[{"status":"0","message-id":"0A0000001234"}]}"#,
            )),
            _ => {
                return (
                    StatusCode::OK,
                    r#"{"message-count":"1","messages":[{"status":"2","error-text":"Missing params"}]}"#,
                )
                    .into_response()
            }
        }
    } else if path == "/webhook" {
        // Latchkey's webhook: `X-Latchkey-Signature: t=<secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
        let sig = headers
            .get("x-latchkey-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let t = sig.split(',').find_map(|p| p.strip_prefix("t=")).unwrap_or("");
        let v1 = sig.split(',').find_map(|p| p.strip_prefix("v1=")).unwrap_or("");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(&body);
        let want = hex(&mac.finalize().into_bytes());
        if want != v1 {
            return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        Some((
            Received {
                api: "webhook",
                to: json["to"].as_str().unwrap().into(),
                body: json["body"].as_str().unwrap().into(),
            },
            StatusCode::OK,
            "{}",
        ))
    } else {
        None
    };
    match accepted {
        Some((received, status, reply)) => {
            gw.inner.lock().unwrap().received.push(received);
            (status, [("content-type", "application/json")], reply).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such endpoint").into_response(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
