//! Local stand-ins for the HTTP providers: axum servers on 127.0.0.1:0 that check requests
//! the way the real APIs do, record what they accepted, and answer as told.

use axum::http::HeaderMap;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the stand-in answers a request that passes its checks.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// As the real API answers an accepted message.
    Accept,
    /// This HTTP status, with the provider's error body.
    Status(u16),
    /// Accept, but only after this long.
    Slow(Duration),
    /// Vonage only: HTTP 200 with this `messages[0].status`.
    VonageStatus(&'static str),
}

/// One request the stand-in saw, whatever it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct StandIn {
    answer: Arc<Mutex<Answer>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl StandIn {
    pub fn new() -> Self {
        Self {
            answer: Arc::new(Mutex::new(Answer::Accept)),
            received: Arc::default(),
        }
    }

    pub fn answer_with(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn answer(&self) -> Answer {
        *self.answer.lock().unwrap()
    }

    pub fn record(&self, headers: &HeaderMap, body: &[u8]) {
        self.received.lock().unwrap().push(Received {
            headers: headers.clone(),
            body: body.to_vec(),
        });
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Serves `router` on a fresh loopback port for the rest of the test.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// A form body as ordered pairs (repeated or unknown fields stay visible to assertions).
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).expect("form-encoded body")
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
