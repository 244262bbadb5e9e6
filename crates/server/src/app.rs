//! The application object: everything a request needs, built once at start-up.

use crate::config::Config;
use crate::keys::{self, Crypto, KeyError, KeySource};
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ApiKeyId, TenantId};
use latchkey_core::password::PasswordHasher;
use latchkey_core::policy::risk::GeoLookup;
use latchkey_core::rand::{OsRandom, SecureRandom};
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::{ApiKeyRecord, Tenant};
use latchkey_store::{DynStore, OpenOptions, StoreError};
use std::ops::Deref;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Other(String),
}

/// What tests replace (clock, randomness, schema, GeoIP) and what an application embedding
/// Latchkey gives in code (`crates/embed`): the path it mounts the router under, senders of
/// its own, a store it opened. The server binary leaves every one at its default.
#[derive(Clone)]
pub struct AppOptions {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn SecureRandom>,
    /// PostgreSQL schema to run in (test isolation, or an embedding application's own).
    pub pg_schema: Option<String>,
    /// Where client addresses are, for adaptive MFA; `None` reads `geoip_database` (or
    /// goes without when that is unset).
    pub geo: Option<Arc<dyn GeoLookup>>,
    /// The path the router is mounted under (`/auth`), or `""` at the root. The hosted
    /// pages' links and redirects and a `/t/{slug}` tenant's issuer base start with it.
    pub mount_path: String,
    /// Senders given in code: used for every tenant without a provider of its own, in place
    /// of the configured server-wide provider (which must then be unset) and the console.
    pub senders: HostSenders,
    /// A store already opened; it is migrated like one opened from `database_url`.
    pub store: Option<DynStore>,
}

/// SMS and email senders an embedding application implements itself (or built-in
/// providers it built in code).
#[derive(Clone, Default)]
pub struct HostSenders {
    pub sms: Option<Arc<dyn latchkey_delivery::SmsSender>>,
    pub email: Option<Arc<dyn latchkey_delivery::EmailSender>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRandom),
            pg_schema: None,
            geo: None,
            mount_path: String::new(),
            senders: HostSenders::default(),
            store: None,
        }
    }
}

pub struct AppInner {
    pub config: Config,
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn SecureRandom>,
    pub crypto: Crypto,
    pub key_source: KeySource,
    pub passwords: PasswordHasher,
    pub hash_pool: crate::hash_pool::HashPool,
    pub default_tenant: TenantId,
    pub issuer: String,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wakeup: tokio::sync::Notify,
    /// Wakes the events worker (`outbox/webhooks.rs`) when a delivery may be due.
    pub events_wakeup: tokio::sync::Notify,
    pub senders: crate::outbox::SenderCache,
    pub delivery: latchkey_delivery::config::BuildOptions,
    pub tenants: crate::tenant_cache::TenantCache,
    /// Which tenant a `/t/{slug}` path or a host name is for.
    pub addresses: crate::addresses::Addresses,
    /// Prometheus counters and histograms (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Where the separate metrics listener (`metrics_listen`) is bound, once it is.
    pub metrics_bound: std::sync::OnceLock<std::net::SocketAddr>,
    /// The GeoIP database adaptive MFA asks where a client is, if one is configured.
    pub geo: Option<Arc<dyn GeoLookup>>,
    /// The path the router is mounted under (`""` for the server binary): see
    /// [`AppOptions::mount_path`].
    pub mount: String,
    /// Senders given in code ([`AppOptions::senders`]).
    pub host_senders: HostSenders,
}

/// Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Facts from start-up the caller reports to the operator.
pub struct Started {
    pub app: App,
    /// A secret key generated for a newly created default tenant: shown once, never stored.
    pub generated_key: Option<SecretString>,
}

/// Opens and migrates the store named by the configuration.
pub async fn open_store(config: &Config, pg_schema: Option<String>) -> Result<DynStore, StartupError> {
    if config.database_url.is_none() {
        crate::keys::private_dir(&config.data_dir).map_err(|e| {
            StartupError::Other(format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let mut opts = OpenOptions::new(config.effective_database_url());
    opts.max_connections = config.database_max_connections;
    opts.pg_schema = pg_schema;
    opts.sqlite_durable = config.sqlite_synchronous_full;
    let store = latchkey_store::open(&opts).await?;
    store.migrate().await?;
    Ok(store)
}

impl App {
    /// Builds the application: store (migrated), keys, the default tenant.
    pub async fn start(config: Config, mut options: AppOptions) -> Result<Started, StartupError> {
        check_mount_path(&options.mount_path)?;
        if options.senders.sms.is_some() && config.sms_provider.is_some() {
            return Err(StartupError::Other(
                "sms_provider is configured and an SMS sender is given in code: keep one".into(),
            ));
        }
        if options.senders.email.is_some() && config.email_provider.is_some() {
            return Err(StartupError::Other(
                "email_provider is configured and an email sender is given in code: keep one".into(),
            ));
        }
        let store = match options.store.take() {
            Some(store) => {
                store.migrate().await?;
                store
            }
            None => open_store(&config, options.pg_schema.clone()).await?,
        };
        let (keyring, key_source) = keys::load_keyring(&config, options.rng.as_ref())?;
        let now = options.clock.now_ms();
        let crypto = Crypto::load(&store, keyring, options.clock.clone(), options.rng.as_ref()).await?;
        let params = config.argon2;
        let rng = options.rng.clone();
        let passwords = tokio::task::spawn_blocking(move || PasswordHasher::new(params, rng.as_ref()))
            .await
            .map_err(|e| StartupError::Other(e.to_string()))?
            .map_err(|e| StartupError::Other(e.to_string()))?;

        // The default tenant, with its first secret key.
        let tenant = Tenant {
            id: TenantId::generate(now, options.rng.as_ref()),
            name: "default".into(),
            settings: TenantSettings {
                access_token_ttl_secs: config.access_token_ttl_secs,
                refresh_token_ttl_secs: config.refresh_token_ttl_secs,
                ..Default::default()
            },
            created_at: now,
            slug: None,
            host: None,
            mfa_rules: 0,
            webhooks: 0,
        };
        let key = match &config.bootstrap_secret_key {
            Some(k) => k.clone(),
            None => opaque_token("sk_live_", options.rng.as_ref()),
        };
        // Everyday administration only: the destructive MFA operations need a key given
        // `mfa:admin` explicitly (`latchkey keys create --scope mfa:admin`).
        let record = api_key_record(
            &crypto,
            &tenant.id,
            "bootstrap",
            &key,
            now,
            options.rng.as_ref(),
            &[],
        );
        let (default_tenant, created) = store.ensure_default_tenant(&tenant, Some(&record)).await?;
        let generated_key = (created && config.bootstrap_secret_key.is_none()).then_some(key);
        if created {
            tracing::info!(tenant_id = %default_tenant, "created the default tenant");
        }

        let geo = match (options.geo, &config.geoip_database) {
            (Some(geo), _) => Some(geo),
            (None, Some(path)) => Some(Arc::new(
                crate::geoip::MaxMindGeo::open(path)
                    .map_err(|e| StartupError::Other(format!("geoip_database: {e}")))?,
            ) as Arc<dyn GeoLookup>),
            (None, None) => None,
        };
        let delivery = latchkey_delivery::config::BuildOptions::new(
            std::time::Duration::from_secs(config.delivery_timeout_secs),
            config.destinations(),
        )
        .map_err(|e| StartupError::Other(e.to_string()))?;
        if config.allow_private_destinations {
            tracing::warn!(
                "allow_private_destinations is on: provider URLs and SMTP hosts may reach this \
                 server's own network"
            );
        }
        let inner = AppInner {
            outbox_wakeup: tokio::sync::Notify::new(),
            events_wakeup: tokio::sync::Notify::new(),
            senders: Default::default(),
            tenants: Default::default(),
            addresses: Default::default(),
            metrics: Default::default(),
            metrics_bound: std::sync::OnceLock::new(),
            delivery,
            geo,
            mount: options.mount_path,
            host_senders: options.senders,
            issuer: config.issuer(),
            hash_pool: crate::hash_pool::HashPool::new(config.hash_concurrency, 64 * config.hash_concurrency)
                .map_err(|e| StartupError::Other(format!("cannot start the hashing threads: {e}")))?,
            config,
            store,
            clock: options.clock,
            rng: options.rng,
            crypto,
            key_source,
            passwords,
            default_tenant,
        };
        let app = App(Arc::new(inner));
        app.refresh_addresses()
            .await
            .map_err(|e| StartupError::Other(format!("cannot read the tenants' addresses: {e}")))?;
        // Before serving (and before the outbox worker reads a destination).
        app.seal_legacy_rows()
            .await
            .map_err(|e| StartupError::Other(format!("cannot seal stored phone numbers: {e}")))?;
        Ok(Started { app, generated_key })
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A mount path is `""` or `/segment[/segment…]` of URL-safe characters, without a trailing
/// `/`: it is put before our own paths in links and `Location` headers as it is.
fn check_mount_path(path: &str) -> Result<(), StartupError> {
    let ok = path.is_empty()
        || (path.starts_with('/')
            && !path.ends_with('/')
            && !path.contains("//")
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'))
            && !path.split('/').any(|s| s == "." || s == ".."));
    if ok {
        Ok(())
    } else {
        Err(StartupError::Other(format!(
            "mount path `{}`: must be empty or like /auth (letters, digits, - _ . ~, no trailing /)",
            path.escape_debug()
        )))
    }
}

/// The stored form of a new secret key: id, keyed hash and a display prefix.
pub fn api_key_record(
    crypto: &Crypto,
    tenant: &TenantId,
    name: &str,
    key: &SecretString,
    now: i64,
    rng: &dyn SecureRandom,
    scopes: &[latchkey_core::scope::KeyScope],
) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(now, rng),
        tenant_id: tenant.clone(),
        name: name.to_owned(),
        key_hash: crypto
            .hasher
            .hash(HashPurpose::ApiKey, "", key.expose().as_bytes()),
        display_prefix: key.expose().chars().take(12).collect(),
        created_at: now,
        revoked_at: None,
        scopes: scopes.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::check_mount_path;

    #[test]
    fn mount_paths() {
        for ok in ["", "/auth", "/a/b-c_d.e~f", "/v1"] {
            assert!(check_mount_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "auth", "/auth/", "/", "//auth", "/a//b", "/a/../b", "/./a", "/a b", "/a?b", "/é",
        ] {
            assert!(check_mount_path(bad).is_err(), "{bad}");
        }
    }
}
