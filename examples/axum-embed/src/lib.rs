//! An axum application that embeds Latchkey: its own routes, Latchkey mounted under
//! `/auth`, and routes of its own that take a Latchkey access token (one of them only after a
//! second factor). `main.rs` runs it; `tests/embedded.rs` drives it over HTTP.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use latchkey_embed::{
    async_trait, AuthUser, Builder, DeliveryError, EmailMessage, EmailSender, Latchkey, Sent, SmsMessage,
    SmsSender,
};
use serde_json::json;

/// Where Latchkey is mounted in this application.
pub const MOUNT: &str = "/auth";

/// The application's state: its own things would sit beside Latchkey here.
#[derive(Clone)]
pub struct AppState {
    pub latchkey: Latchkey,
    pub name: &'static str,
}

/// What lets [`AuthUser`] find Latchkey in this state.
impl FromRef<AppState> for Latchkey {
    fn from_ref(state: &AppState) -> Latchkey {
        state.latchkey.clone()
    }
}

/// The whole application: its routes and Latchkey's under [`MOUNT`].
pub fn app(latchkey: Latchkey) -> Router {
    let auth = latchkey.router();
    Router::new()
        .route("/", get(home))
        .route("/api/me", get(me))
        .route("/api/vault", get(vault))
        .with_state(AppState {
            latchkey,
            name: "axum-embed",
        })
        .nest(MOUNT, auth)
}

async fn home(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "app": state.name,
        "sign_in_page": format!("{MOUNT}/login"),
        "api": format!("{MOUNT}/v1"),
        "discovery": format!("{MOUNT}/.well-known/openid-configuration"),
    }))
}

/// Any signed-in user: the token is checked by Latchkey (signature, issuer, expiry, a live
/// session); a bad or missing one never reaches this body.
async fn me(user: AuthUser) -> Json<serde_json::Value> {
    let c = user.claims();
    Json(json!({
        "user_id": user.0.user_id.to_string(),
        "tenant_id": user.0.tenant_id.to_string(),
        "amr": c.amr,
        "acr": c.acr,
        "second_factor_verified": user.second_factor_verified(),
    }))
}

/// Only after a second factor in this session: the application's own rule on top of
/// Latchkey's answer.
async fn vault(user: AuthUser) -> Response {
    if !user.second_factor_verified() {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": {
                "code": "second_factor_required",
                "message": "sign in with a second factor to open the vault",
            }})),
        )
            .into_response();
    }
    Json(json!({ "secret": "the vault is open", "user_id": user.0.user_id.to_string() })).into_response()
}

/// The application's own sender: it prints SMS and email (codes included) to standard
/// output instead of sending them. A real application would call its SMS gateway or mail
/// service here; Latchkey's outbox retries a `Transient` error and gives up on a
/// `Permanent` one.
#[derive(Clone, Copy, Default)]
pub struct PrintingSender;

#[async_trait]
impl SmsSender for PrintingSender {
    fn provider(&self) -> &'static str {
        "printing"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        println!("[axum-embed] SMS to {}: {}", msg.to, msg.body);
        Ok(Sent {
            provider: "printing",
            provider_message_id: None,
        })
    }
}

#[async_trait]
impl EmailSender for PrintingSender {
    fn provider(&self) -> &'static str {
        "printing"
    }

    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        println!("[axum-embed] email to {}: {}\n{}", msg.to, msg.subject, msg.text);
        Ok(Sent {
            provider: "printing",
            provider_message_id: None,
        })
    }
}

/// Latchkey as this application configures it: reached at `{base_url}/auth`, SQLite in
/// `data_dir` unless `database_url` names PostgreSQL, the printing sender for SMS and email.
pub fn latchkey(base_url: &str, data_dir: &std::path::Path, database_url: Option<&str>) -> Builder {
    let builder = Latchkey::builder()
        .public_url(format!("{}{MOUNT}", base_url.trim_end_matches('/')))
        .data_dir(data_dir)
        .sms_sender(PrintingSender)
        .email_sender(PrintingSender);
    match database_url {
        Some(url) => builder.postgres(url),
        None => builder.sqlite(data_dir.join("latchkey.db")),
    }
}
