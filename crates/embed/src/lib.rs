//! Latchkey as a library inside an axum application: [`Latchkey::builder`] configures it in
//! code (public URL, store, master key, senders), [`Latchkey::router`] is the whole server's
//! router to mount under a prefix (`Router::nest("/auth", …)`), and [`AuthUser`] checks a
//! Latchkey access token on the application's own routes.
//!
//! Nothing here is a second implementation: the builder produces the same
//! [`Config`](latchkey_server::Config) (through the same parsers and checks as
//! `latchkey.toml` and `LATCHKEY_*`) and the same [`App`] the `latchkey` binary serves, and
//! [`AuthUser`] is the native API's own access-token check. See `docs/embedding.md`.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::Router;
use latchkey_core::jwt::Claims;
use latchkey_core::secret::SecretString;
use latchkey_server::http::common::extract::UserCtx;
use latchkey_server::http::v1::V1;
use latchkey_server::http::Workers;
use latchkey_server::service::auth::AccessContext;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use async_trait::async_trait;
pub use latchkey_delivery::config::{EmailProviderConfig, SmsProviderConfig};
pub use latchkey_delivery::{DeliveryError, EmailMessage, EmailSender, Sent, SmsMessage, SmsSender};
pub use latchkey_server::{App, Config};
pub use latchkey_store::DynStore;

/// Why Latchkey could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings, every problem listed.
    #[error(transparent)]
    Config(#[from] latchkey_server::config::ConfigErrors),
    /// The store, the keys, or another part of start-up.
    #[error(transparent)]
    Startup(#[from] latchkey_server::StartupError),
    /// A builder argument that is not a setting (the mount path, a sender beside a provider).
    #[error("{0}")]
    Invalid(String),
}

/// Configures Latchkey in code. Every method but the senders, the store and the mount path
/// sets one of the settings of the README's configuration table, parsed as that key in
/// `latchkey.toml` would be; nothing is read from the environment or a `latchkey.toml`.
#[must_use]
pub struct Builder {
    settings: Vec<(String, String)>,
    mount_path: Option<String>,
    pg_schema: Option<String>,
    store: Option<DynStore>,
    senders: latchkey_server::HostSenders,
}

impl Builder {
    /// Where browsers and API clients reach Latchkey, the mount path included
    /// (`https://app.example/auth`): every token's issuer, the OpenID Connect discovery
    /// document's endpoints, the links in emails. Required.
    pub fn public_url(self, url: impl Into<String>) -> Self {
        self.setting("public_url", url)
    }

    /// The path the router is mounted under, when it is not the public URL's path (a proxy
    /// in front adds to it). Default: the public URL's path.
    pub fn mount_path(mut self, path: impl Into<String>) -> Self {
        self.mount_path = Some(path.into());
        self
    }

    /// SQLite in this file (created, with its directory, if missing).
    pub fn sqlite(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.setting("database_url", format!("sqlite://{}", path.display()))
    }

    /// PostgreSQL at this URL (`postgres://…`).
    pub fn postgres(self, url: impl Into<String>) -> Self {
        self.setting("database_url", url)
    }

    /// The PostgreSQL schema Latchkey's tables live in (created if missing), so they stay
    /// apart from the application's own in one database. Default: the connection's
    /// `search_path`.
    pub fn postgres_schema(mut self, schema: impl Into<String>) -> Self {
        self.pg_schema = Some(schema.into());
        self
    }

    /// A store the application opened itself ([`latchkey_store::open`]); it is migrated.
    pub fn store(mut self, store: DynStore) -> Self {
        self.store = Some(store);
        self
    }

    /// The directory of the generated master key (when none is given) and of the default
    /// SQLite database (when no database is given). Default: `./latchkey-data`.
    pub fn data_dir(self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        self.setting("data_dir", dir.display().to_string())
    }

    /// The master key that seals secrets at rest: 32 bytes, as 64 hex characters or base64.
    /// Without it one is generated into the data directory (`master.key`).
    pub fn master_key(self, key: impl Into<String>) -> Self {
        self.setting("master_key", key)
    }

    /// The default tenant's first secret key, instead of a generated one.
    pub fn bootstrap_secret_key(self, key: impl Into<String>) -> Self {
        self.setting("bootstrap_secret_key", key)
    }

    /// Any other setting, by its `latchkey.toml` key (`access_token_ttl`, `mfa_required`,
    /// `cors_allowed_origins`, …), parsed and checked as the file's would be.
    pub fn setting(mut self, key: &str, value: impl Into<String>) -> Self {
        self.settings.push((key.to_owned(), value.into()));
        self
    }

    /// The application's own SMS sender, for every tenant without a provider of its own.
    pub fn sms_sender(mut self, sender: impl SmsSender + 'static) -> Self {
        self.senders.sms = Some(Arc::new(sender));
        self
    }

    /// The application's own email sender, for every tenant without a provider of its own.
    pub fn email_sender(mut self, sender: impl EmailSender + 'static) -> Self {
        self.senders.email = Some(Arc::new(sender));
        self
    }

    /// One of the built-in SMS providers (Twilio, Amazon SNS, Vonage, a webhook, the
    /// console), as the `sms_provider` setting takes it.
    pub fn sms_provider(self, provider: SmsProviderConfig) -> Self {
        let json = serde_json::to_string(&provider).unwrap_or_default();
        self.setting("sms_provider", json)
    }

    /// The built-in SMTP (or console) email provider, as the `email_provider` setting takes it.
    pub fn email_provider(self, provider: EmailProviderConfig) -> Self {
        let json = serde_json::to_string(&provider).unwrap_or_default();
        self.setting("email_provider", json)
    }

    /// Opens and migrates the store, loads the keys, creates the default tenant on first
    /// start, and starts the background workers (the outbox that sends SMS and email, the
    /// webhooks, key and address refreshers) on the current Tokio runtime.
    pub async fn build(self) -> Result<Latchkey, Error> {
        let config = Config::from_settings(&self.settings)?;
        let Some(public_url) = config.public_url.clone() else {
            return Err(Error::Invalid(
                "public_url is required: the URL the router is reached at, mount path included".into(),
            ));
        };
        let mount_path = match self.mount_path {
            Some(p) => p.trim_end_matches('/').to_owned(),
            None => path_of(&public_url).to_owned(),
        };
        let options = latchkey_server::AppOptions {
            pg_schema: self.pg_schema,
            mount_path,
            senders: self.senders,
            store: self.store,
            ..Default::default()
        };
        let started = App::start(config, options).await?;
        let app = started.app;
        let workers = Workers::spawn(&app);
        // Off the request path: libphonenumber's metadata, as the binary does at start.
        tokio::task::spawn_blocking(latchkey_core::phone::Phone::warm_up);
        tracing::info!(
            backend = app.store.backend(),
            issuer = %app.issuer,
            mount = %app.mount,
            default_tenant = %app.default_tenant,
            "latchkey is embedded"
        );
        Ok(Latchkey {
            app,
            inner: Arc::new(Inner {
                workers: tokio::sync::Mutex::new(Some(workers)),
                generated_key: Mutex::new(started.generated_key),
            }),
        })
    }
}

/// The path of an `http(s)://host[:port]/path` URL, without a trailing `/` (`""` at the root).
fn path_of(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/')
}

struct Inner {
    workers: tokio::sync::Mutex<Option<Workers>>,
    generated_key: Mutex<Option<SecretString>>,
}

/// A running Latchkey: its router, its engine, and its background workers. Cheap to clone;
/// put it in the application's state to use [`AuthUser`].
#[derive(Clone)]
pub struct Latchkey {
    app: App,
    inner: Arc<Inner>,
}

impl Latchkey {
    pub fn builder() -> Builder {
        Builder {
            settings: Vec::new(),
            mount_path: None,
            pg_schema: None,
            store: None,
            senders: Default::default(),
        }
    }

    /// Every route of the server (the `/v1` API, OpenID Connect, the hosted pages, the
    /// compatibility surfaces), to mount with `Router::nest(mount_path, …)`. Serve the
    /// application with `into_make_service_with_connect_info::<SocketAddr>()`: Latchkey's
    /// per-address limits, audit log and `/metrics` need the client's address.
    pub fn router(&self) -> Router {
        latchkey_server::http::router(self.app.clone())
    }

    /// The engine: every use case the HTTP routes call (users, factors, tenants, keys,
    /// applications, …), for the application's own code.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The default tenant's issuer (the public URL).
    pub fn issuer(&self) -> &str {
        &self.app.issuer
    }

    /// Checks an access token as the native API does (signature, issuer, expiry, a live
    /// session). `None`: not a valid access token now.
    pub async fn verify_access_token(&self, token: &str) -> Option<AccessContext> {
        self.app.authenticate_access(token).await
    }

    /// The secret key created with the default tenant on the very first start (`None` after
    /// that, when `bootstrap_secret_key` was given, or once taken). Show it once to the
    /// operator; it is not stored anywhere readable.
    pub fn take_generated_secret_key(&self) -> Option<SecretString> {
        self.inner.generated_key.lock().ok()?.take()
    }

    /// Stops the background workers (letting sends in progress finish, bounded by
    /// `shutdown_grace`) and closes the store. Call it after the application's server has
    /// stopped; the router answers nothing useful afterwards.
    pub async fn shutdown(&self) {
        if let Some(workers) = self.inner.workers.lock().await.take() {
            workers.stop().await;
            self.app.store.close().await;
        }
    }
}

/// An extractor for the application's own routes: the request carries a Latchkey access
/// token (`Authorization: Bearer …`) whose session is live. It is the native API's own check,
/// and refuses as it does: `401` with `{"error": {"code": "invalid_token", …}}` (or
/// `missing_credentials`, `invalid_credentials_format`) and `WWW-Authenticate: Bearer`.
/// The state must give a [`Latchkey`] (`FromRef`).
pub struct AuthUser(pub AccessContext);

impl AuthUser {
    /// The token's claims (`sub`, `tid`, `amr`, `acr`, `mfa_time`, …).
    pub fn claims(&self) -> &Claims {
        &self.0.claims
    }

    /// Whether a second factor was verified in this session.
    pub fn second_factor_verified(&self) -> bool {
        self.0.claims.mfa_time.is_some()
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Latchkey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = <V1 as latchkey_server::http::common::Surface>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let latchkey = Latchkey::from_ref(state);
        let UserCtx(ctx, _) = UserCtx::<V1>::from_request_parts(parts, &latchkey.app).await?;
        Ok(AuthUser(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_mount_path_is_the_public_urls_path() {
        assert_eq!(path_of("https://app.example/auth"), "/auth");
        assert_eq!(path_of("https://app.example/auth/"), "/auth");
        assert_eq!(path_of("http://127.0.0.1:3000/a/b"), "/a/b");
        assert_eq!(path_of("https://id.example"), "");
        assert_eq!(path_of("https://id.example/"), "");
    }
}
