//! Typed, layered configuration: defaults < config file (`latchkey.toml`) < environment
//! (`LATCHKEY_*`, plus `DATABASE_URL`) < command-line flags, with `*_FILE` variants for
//! secrets. Unknown keys are rejected and every problem is reported at once.
//!
//! One parser per setting serves the file and the environment alike: file values are read
//! as text and go through the same function as the variable of the same name.

use latchkey_core::password::Argon2Params;
use latchkey_core::secret::SecretString;
use latchkey_delivery::Destinations;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    pub database_max_connections: u32,
    /// The server's public base URL; the `iss` of every token.
    pub public_url: Option<String>,
    pub master_key: Option<SecretString>,
    pub previous_master_keys: Vec<SecretString>,
    pub bootstrap_secret_key: Option<SecretString>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Defaults for new tenants' token lifetimes (seconds).
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub argon2: Argon2Params,
    /// How many password hashes may run at once; the rest wait, so a login flood cannot
    /// take every core from other requests.
    pub hash_concurrency: usize,
    pub max_body_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// How long a client may take to send a complete request head, counted from the
    /// connection's accept (first request) or from its first byte (later requests).
    pub header_read_timeout_secs: u64,
    /// How long a keep-alive connection may sit between requests without a byte.
    pub keep_alive_timeout_secs: u64,
    /// How long a client may take to send a request body once its head has arrived.
    pub body_read_timeout_secs: u64,
    /// Connections served at once; beyond it new connections are closed at once.
    pub max_connections: usize,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` are believed.
    pub trusted_proxies: crate::http::common::forwarded::TrustedProxies,
    /// The header trusted proxies write the client address into (only it is read).
    pub forwarded_header: crate::http::common::forwarded::ForwardedHeader,
    /// Origins of browser apps that may call the user's routes of `/v1` (CORS).
    pub cors_allowed_origins: crate::http::common::cors::AllowedOrigins,
    /// Require MFA for every user of every tenant (`MFA_REQUIRED=true`).
    pub mfa_required: bool,
    /// Where `mfa_required` was set (`MFA_REQUIRED`, `LATCHKEY_MFA_REQUIRED`, a file key);
    /// `None` for the default. Shown by the admin API's effective policy.
    pub mfa_required_source: Option<String>,
    /// The issuer name authenticator apps show for the default tenant's TOTP factors
    /// (other tenants show their own name).
    pub totp_issuer: String,
    /// Server-wide SMS provider for tenants without their own (JSON, as the admin API takes).
    pub sms_provider: Option<latchkey_delivery::providers::SmsProviders>,
    /// Server-wide email provider for tenants without their own.
    pub email_provider: Option<latchkey_delivery::providers::EmailProviders>,
    /// The longest a single provider call may take.
    pub delivery_timeout_secs: u64,
    /// Attempts per message before it is abandoned.
    pub delivery_max_attempts: u32,
    /// SQLite `synchronous`: `full` (default, durable across power loss) or `normal`.
    pub sqlite_synchronous_full: bool,
    /// Let outbound requests (providers, webhooks) reach loopback, private and other
    /// internal addresses. Off by default: tenant admins choose those URLs.
    pub allow_private_destinations: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first) and PEM private key; both
    /// or neither (checked with the rest).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The bearer token that opens `GET /metrics` to clients other than loopback ones.
    /// Unset: only loopback clients may scrape.
    pub metrics_token: Option<SecretString>,
    /// A second address serving only `GET /metrics`, to anyone who can reach it (bind it to
    /// a private interface): for a scraper that is neither on loopback nor given the token.
    pub metrics_listen: Option<SocketAddr>,
    /// A MaxMind-format GeoIP database (`.mmdb`, City or Country) for adaptive MFA's
    /// country and travel signals; read at start (`geoip.rs`). Unset: no such signals.
    pub geoip_database: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("latchkey-data"),
            database_url: None,
            database_max_connections: 32,
            public_url: None,
            master_key: None,
            previous_master_keys: Vec::new(),
            bootstrap_secret_key: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 86_400,
            argon2: Argon2Params::default(),
            hash_concurrency: (cores / 2).max(1),
            max_body_bytes: 64 * 1024,
            shutdown_grace_secs: 30,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 60,
            body_read_timeout_secs: 30,
            // Below the common soft limit of open files once raised to the hard limit (see
            // `http::common::edge::raise_open_file_limit`), leaving room for database connections.
            max_connections: 4096,
            trusted_proxies: Default::default(),
            forwarded_header: Default::default(),
            cors_allowed_origins: Default::default(),
            mfa_required: false,
            mfa_required_source: None,
            totp_issuer: "Latchkey".into(),
            sms_provider: None,
            email_provider: None,
            delivery_timeout_secs: 10,
            delivery_max_attempts: 5,
            sqlite_synchronous_full: true,
            allow_private_destinations: false,
            tls_cert: None,
            tls_key: None,
            metrics_token: None,
            metrics_listen: None,
            geoip_database: None,
        }
    }
}

/// Settings that may come from the file and the environment, by file key. The environment
/// variable is `LATCHKEY_` + the key in upper case.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_max_connections",
    "public_url",
    "master_key",
    "previous_master_keys",
    "bootstrap_secret_key",
    "log_format",
    "log_level",
    "access_token_ttl",
    "refresh_token_ttl",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "hash_concurrency",
    "max_body_bytes",
    "shutdown_grace",
    "header_read_timeout",
    "keep_alive_timeout",
    "body_read_timeout",
    "max_connections",
    "trusted_proxies",
    "forwarded_header",
    "cors_allowed_origins",
    "mfa_required",
    "totp_issuer",
    "sms_provider",
    "email_provider",
    "delivery_timeout",
    "delivery_max_attempts",
    "sqlite_synchronous",
    "allow_private_destinations",
    "tls_cert",
    "tls_key",
    "metrics_token",
    "metrics_listen",
    "geoip_database",
];

/// Settings that may be given as `LATCHKEY_<KEY>_FILE` (a path whose contents are the value).
const FILE_KEYS: &[&str] = &[
    "database_url",
    "master_key",
    "previous_master_keys",
    "bootstrap_secret_key",
    "sms_provider",
    "email_provider",
    "metrics_token",
];

/// Command-line overrides (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// Every problem found, one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// Loads configuration from the process environment and the given overrides.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigErrors> {
        Self::load_from(overrides, std::env::vars().collect())
    }

    /// Configuration given in code (an application embedding Latchkey, `crates/embed`):
    /// the defaults with each `(key, value)` applied by the same parser as the file and the
    /// environment (keys as in `latchkey.toml`), then the same cross-field checks. Nothing
    /// is read from a file or the environment.
    pub fn from_settings<K: AsRef<str>, V: AsRef<str>>(settings: &[(K, V)]) -> Result<Config, ConfigErrors> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        for (key, value) in settings {
            let key = key.as_ref();
            if KEYS.contains(&key) {
                apply(&mut cfg, key, value.as_ref(), key, &mut errors);
            } else {
                errors.push(format!("{}: unknown setting", key.escape_debug()));
            }
        }
        cfg.check(&mut errors);
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Loads configuration from an explicit environment (tests pass their own).
    pub fn load_from(overrides: &Overrides, env: Vec<(String, String)>) -> Result<Config, ConfigErrors> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

        // 1. The file: --config, else LATCHKEY_CONFIG, else ./latchkey.toml if present.
        let file = overrides
            .config_file
            .clone()
            .or_else(|| get("LATCHKEY_CONFIG").map(PathBuf::from))
            .map(|p| (p, true))
            .or_else(|| Some((PathBuf::from("latchkey.toml"), false)));
        if let Some((path, required)) = file {
            match std::fs::read_to_string(&path) {
                Ok(text) => apply_file(&mut cfg, &path, &text, &mut errors),
                Err(e) if required || e.kind() != std::io::ErrorKind::NotFound => {
                    errors.push(format!("{}: cannot read: {e}", path.display()))
                }
                Err(_) => {}
            }
        }

        // 2. The environment.
        for (name, value) in &env {
            let Some(rest) = name.strip_prefix("LATCHKEY_") else {
                continue;
            };
            if rest == "CONFIG" || rest.starts_with("TEST_") {
                continue;
            }
            let lower = rest.to_ascii_lowercase();
            if let Some(key) = lower.strip_suffix("_file").filter(|k| FILE_KEYS.contains(k)) {
                match std::fs::read_to_string(value) {
                    Ok(text) => apply(&mut cfg, key, text.trim(), name, &mut errors),
                    Err(e) => errors.push(format!("{name}: cannot read {value}: {e}")),
                }
            } else if KEYS.contains(&lower.as_str()) {
                apply(&mut cfg, &lower, value, name, &mut errors);
            } else {
                errors.push(format!("{name}: unknown setting"));
            }
        }
        // The conventional unprefixed name, when the prefixed one is absent.
        if get("LATCHKEY_DATABASE_URL").is_none() && get("LATCHKEY_DATABASE_URL_FILE").is_none() {
            if let Some(url) = get("DATABASE_URL").filter(|u| !u.is_empty()) {
                apply(&mut cfg, "database_url", &url, "DATABASE_URL", &mut errors);
            }
        }

        // HelloJohn's global switches: MFA_REQUIRED=true requires MFA everywhere;
        // MFA_OPTIONAL=true (self-enrollment only) is the default and only checked.
        if get("LATCHKEY_MFA_REQUIRED").is_none() {
            if let Some(v) = get("MFA_REQUIRED") {
                apply(&mut cfg, "mfa_required", &v, "MFA_REQUIRED", &mut errors);
            }
        }
        // MFA_OPTIONAL=false would mean "no MFA at all", which Latchkey does not offer; and
        // MFA_OPTIONAL=true beside MFA_REQUIRED=true says two things at once. Both are
        // refused rather than silently resolved one way (review item 14).
        if let Some(v) = get("MFA_OPTIONAL") {
            match parse_bool(&v) {
                None => errors.push("MFA_OPTIONAL: must be true or false".into()),
                Some(false) => errors.push(
                    "MFA_OPTIONAL=false is not supported: users may always enroll factors; \
                     to require MFA set MFA_REQUIRED=true (and leave MFA_OPTIONAL unset)"
                        .into(),
                ),
                Some(true) if cfg.mfa_required => errors.push(
                    "MFA_OPTIONAL=true contradicts mfa_required=true (MFA_REQUIRED): \
                     MFA cannot be both optional and required; unset one of them"
                        .into(),
                ),
                Some(true) => {}
            }
        }

        // 3. Flags.
        if let Some(listen) = &overrides.listen {
            apply(&mut cfg, "listen", listen, "--listen", &mut errors);
        }
        if let Some(dir) = &overrides.data_dir {
            cfg.data_dir = dir.clone();
        }
        if let Some(path) = &overrides.tls_cert {
            cfg.tls_cert = Some(path.clone());
        }
        if let Some(path) = &overrides.tls_key {
            cfg.tls_key = Some(path.clone());
        }

        cfg.check(&mut errors);
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Cross-field checks, after all layers are applied.
    fn check(&self, errors: &mut Vec<String>) {
        let t = latchkey_core::settings::TenantSettings {
            access_token_ttl_secs: self.access_token_ttl_secs,
            refresh_token_ttl_secs: self.refresh_token_ttl_secs,
            ..Default::default()
        };
        for (field, msg) in t.problems() {
            errors.push(format!("{field}: {msg}"));
        }
        if let Err(e) = self.argon2.validate() {
            errors.push(format!("argon2: {e}"));
        }
        let destinations = self.destinations();
        if let Some(p) = &self.sms_provider {
            for problem in p.destination_problems(destinations) {
                errors.push(format!("sms_provider: {problem}"));
            }
        }
        if let Some(p) = &self.email_provider {
            for problem in p.destination_problems(destinations) {
                errors.push(format!("email_provider: {problem}"));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                if let Err(e) = crate::http::common::tls::Tls::load(cert, key) {
                    errors.push(format!("tls_cert, tls_key: {e}"));
                }
            }
            (Some(_), None) => errors.push(
                "tls_cert is set but tls_key is not: HTTPS needs both (PEM files), plain HTTP neither".into(),
            ),
            (None, Some(_)) => errors.push(
                "tls_key is set but tls_cert is not: HTTPS needs both (PEM files), plain HTTP neither".into(),
            ),
            (None, None) => {}
        }
        if self.argon2.memory_kib < 19_456 || self.argon2.iterations < 2 {
            // Allowed (tests and constrained hosts), but never silently.
            tracing::warn!("Argon2 parameters are below OWASP's minimum (m=19456 KiB, t=2)");
        }
    }

    /// Where outbound requests may go.
    pub fn destinations(&self) -> Destinations {
        Destinations::from_allow_private(self.allow_private_destinations)
    }

    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("latchkey.db").display()),
        }
    }

    /// The issuer: the public URL without a trailing slash, or one derived from `listen`
    /// (https when this server speaks TLS itself).
    pub fn issuer(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None if self.tls_files().is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// The certificate chain and key files, when this server serves HTTPS itself.
    pub fn tls_files(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }

    /// Whether browsers reach this server over HTTPS: it speaks TLS itself, or its public
    /// URL (a TLS-terminating proxy in front) is https. Cookies are then `Secure` and
    /// `__Host-` prefixed.
    pub fn served_over_https(&self) -> bool {
        self.tls_files().is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

fn apply_file(cfg: &mut Config, path: &Path, text: &str, errors: &mut Vec<String>) {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("{}: {}", path.display(), e.message()));
            return;
        }
    };
    for (key, value) in table {
        let source = format!("{}: {key}", path.display());
        if !KEYS.contains(&key.as_str()) {
            errors.push(format!("{source}: unknown setting"));
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => {
                errors.push(format!("{source}: unsupported value type {}", other.type_str()));
                continue;
            }
        };
        apply(cfg, &key, &text, &source, errors);
    }
}

/// Parses one setting from text into `cfg`, or records why it cannot.
fn apply(cfg: &mut Config, key: &str, value: &str, source: &str, errors: &mut Vec<String>) {
    let mut fail = |msg: String| errors.push(format!("{source}: {msg}"));
    let v = value.trim();
    let secret = || Some(SecretString::new(v.to_owned())).filter(|s| !s.expose().is_empty());
    match key {
        "listen" => match v.parse() {
            Ok(a) => cfg.listen = a,
            Err(_) => fail(format!(
                "`{}` is not an address like 127.0.0.1:8080",
                v.escape_debug()
            )),
        },
        "data_dir" => cfg.data_dir = PathBuf::from(v),
        "geoip_database" => cfg.geoip_database = (!v.is_empty()).then(|| PathBuf::from(v)),
        "database_url" => {
            if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") {
                cfg.database_url = secret();
            } else {
                fail("must start with sqlite:, postgres:// or postgresql://".into());
            }
        }
        "database_max_connections" => {
            number(v, 1, 1000, &mut fail, |n| cfg.database_max_connections = n as u32)
        }
        "public_url" => {
            if v.starts_with("http://") || v.starts_with("https://") {
                cfg.public_url = Some(v.trim_end_matches('/').to_owned());
            } else {
                fail("must start with http:// or https://".into());
            }
        }
        "master_key" => match latchkey_core::seal::MasterKey::parse(v) {
            Ok(_) => cfg.master_key = secret(),
            Err(e) => fail(e.to_string()),
        },
        "previous_master_keys" => {
            cfg.previous_master_keys.clear();
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match latchkey_core::seal::MasterKey::parse(part) {
                    Ok(_) => cfg.previous_master_keys.push(SecretString::new(part.to_owned())),
                    Err(e) => fail(e.to_string()),
                }
            }
        }
        "bootstrap_secret_key" => {
            if v.starts_with("sk_live_") && v.len() >= 40 && v.bytes().all(|b| b.is_ascii_graphic()) {
                cfg.bootstrap_secret_key = secret();
            } else {
                fail("must start with sk_live_ and be at least 40 printable characters".into());
            }
        }
        "metrics_listen" => match v.parse() {
            Ok(a) => cfg.metrics_listen = Some(a),
            Err(_) => fail("must be an address and port, like 10.0.0.5:9090".into()),
        },
        "metrics_token" => {
            // Compared in constant time, but a short token is guessable all the same.
            if v.len() >= 32 && v.bytes().all(|b| b.is_ascii_graphic()) {
                cfg.metrics_token = secret();
            } else {
                fail("must be at least 32 printable characters, e.g. from `openssl rand -hex 32`".into());
            }
        }
        "log_format" => match v {
            "text" => cfg.log_format = LogFormat::Text,
            "json" => cfg.log_format = LogFormat::Json,
            _ => fail("must be text or json".into()),
        },
        "log_level" => {
            if tracing_subscriber::EnvFilter::try_new(v).is_ok() {
                cfg.log_level = v.to_owned();
            } else {
                fail("not a log filter like info or latchkey=debug".into());
            }
        }
        "access_token_ttl" => duration(v, &mut fail, |s| cfg.access_token_ttl_secs = s),
        "refresh_token_ttl" => duration(v, &mut fail, |s| cfg.refresh_token_ttl_secs = s),
        "argon2_memory_kib" => number(v, 8, 4 * 1024 * 1024, &mut fail, |n| {
            cfg.argon2.memory_kib = n as u32
        }),
        "argon2_iterations" => number(v, 1, 100, &mut fail, |n| cfg.argon2.iterations = n as u32),
        "argon2_parallelism" => number(v, 1, 64, &mut fail, |n| cfg.argon2.parallelism = n as u32),
        "hash_concurrency" => number(v, 1, 1024, &mut fail, |n| cfg.hash_concurrency = n as usize),
        "max_body_bytes" => number(v, 1024, 16 * 1024 * 1024, &mut fail, |n| {
            cfg.max_body_bytes = n as usize
        }),
        "shutdown_grace" => duration(v, &mut fail, |s| cfg.shutdown_grace_secs = s),
        "header_read_timeout" => duration_in(v, 1, 300, &mut fail, |s| cfg.header_read_timeout_secs = s),
        "keep_alive_timeout" => duration_in(v, 1, 3600, &mut fail, |s| cfg.keep_alive_timeout_secs = s),
        "body_read_timeout" => duration_in(v, 1, 600, &mut fail, |s| cfg.body_read_timeout_secs = s),
        "max_connections" => number(v, 16, 1_000_000, &mut fail, |n| cfg.max_connections = n as usize),
        "forwarded_header" => match crate::http::common::forwarded::ForwardedHeader::parse(v) {
            Some(h) => cfg.forwarded_header = h,
            None => fail("must be x-forwarded-for or forwarded".into()),
        },
        "trusted_proxies" => match crate::http::common::forwarded::TrustedProxies::parse(v) {
            Ok(t) => cfg.trusted_proxies = t,
            Err(problems) => fail(problems.join("; ")),
        },
        "cors_allowed_origins" => match crate::http::common::cors::AllowedOrigins::parse(v) {
            Ok(o) => cfg.cors_allowed_origins = o,
            Err(problems) => fail(problems.join("; ")),
        },
        "mfa_required" => match parse_bool(v) {
            Some(b) => {
                cfg.mfa_required = b;
                cfg.mfa_required_source = Some(source.to_owned());
            }
            None => fail("must be true or false".into()),
        },
        "allow_private_destinations" => match parse_bool(v) {
            Some(b) => cfg.allow_private_destinations = b,
            None => fail("must be true or false".into()),
        },
        // Destinations are checked in `check`, once `allow_private_destinations` is known
        // whichever layer sets it.
        "sms_provider" => {
            match latchkey_delivery::providers::parse_sms_providers(v, Destinations::AllowPrivate) {
                Ok(p) => cfg.sms_provider = Some(p),
                Err(problems) => fail(problems.join("; ")),
            }
        }
        "email_provider" => {
            match latchkey_delivery::providers::parse_email_providers(v, Destinations::AllowPrivate) {
                Ok(p) => cfg.email_provider = Some(p),
                Err(problems) => fail(problems.join("; ")),
            }
        }
        "delivery_timeout" => duration(v, &mut fail, |s| cfg.delivery_timeout_secs = s.clamp(1, 120)),
        "sqlite_synchronous" => match v {
            "full" => cfg.sqlite_synchronous_full = true,
            "normal" => cfg.sqlite_synchronous_full = false,
            _ => fail("must be full or normal".into()),
        },
        "delivery_max_attempts" => number(v, 1, 20, &mut fail, |n| cfg.delivery_max_attempts = n as u32),
        "tls_cert" | "tls_key" => {
            if v.is_empty() {
                fail("must be the path of a PEM file".into());
            } else if key == "tls_cert" {
                cfg.tls_cert = Some(PathBuf::from(v));
            } else {
                cfg.tls_key = Some(PathBuf::from(v));
            }
        }
        "totp_issuer" => {
            if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
                fail("must be 1 to 64 printable characters".into());
            } else {
                cfg.totp_issuer = v.to_owned();
            }
        }
        other => fail(format!("unknown setting {other}")),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn number(v: &str, min: u64, max: u64, fail: &mut impl FnMut(String), set: impl FnOnce(u64)) {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => set(n),
        _ => fail(format!("must be a whole number from {min} to {max}")),
    }
}

fn duration(v: &str, fail: &mut impl FnMut(String), set: impl FnOnce(u64)) {
    match latchkey_core::duration::parse_secs(v) {
        Ok(s) => set(s),
        Err(e) => fail(e),
    }
}

/// A duration that must lie within `min..=max` seconds.
fn duration_in(v: &str, min: u64, max: u64, fail: &mut impl FnMut(String), set: impl FnOnce(u64)) {
    match latchkey_core::duration::parse_secs(v) {
        Ok(s) if (min..=max).contains(&s) => set(s),
        Ok(_) => fail(format!(
            "must be from {} to {}",
            latchkey_core::duration::format_secs(min),
            latchkey_core::duration::format_secs(max)
        )),
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_file() -> Overrides {
        Overrides {
            config_file: None,
            ..Default::default()
        }
    }

    #[test]
    fn defaults_need_nothing() {
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.effective_database_url(), "sqlite://latchkey-data/latchkey.db");
        assert_eq!(c.issuer(), "http://127.0.0.1:8080");
    }

    #[test]
    fn settings_in_code_use_the_same_parsers() {
        let c = Config::from_settings(&[
            ("public_url", "https://app.example/auth/"),
            ("database_url", "sqlite:///tmp/x.db"),
            ("access_token_ttl", "5m"),
        ])
        .unwrap();
        assert_eq!(c.issuer(), "https://app.example/auth");
        assert_eq!(c.access_token_ttl_secs, 300);
        // Every problem at once, each named by its key; nothing read from the environment.
        let err = Config::from_settings(&[
            ("public_url", "ftp://x"),
            ("no_such_key", "1"),
            ("access_token_ttl", "1s"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.0[0].starts_with("public_url: must start with http"), "{err}");
        assert_eq!(err.0[1], "no_such_key: unknown setting");
        assert!(err.0[2].starts_with("access_token_ttl"), "{err}");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latchkey.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\naccess_token_ttl = \"5m\"\nargon2_iterations = 3\n",
        )
        .unwrap();
        let o = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load_from(&o, env(&[("LATCHKEY_ACCESS_TOKEN_TTL", "10m")])).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.access_token_ttl_secs, 600, "env beats file");
        assert_eq!(c.argon2.iterations, 3);
        let o = Overrides {
            config_file: Some(file),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let c = Config::load_from(&o, env(&[("LATCHKEY_LISTEN", "127.0.0.1:9050")])).unwrap();
        assert_eq!(c.listen.port(), 9100, "flag beats env");
    }

    #[test]
    fn database_url_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let keyfile = dir.path().join("mk");
        std::fs::write(&keyfile, format!("{}\n", "ab".repeat(32))).unwrap();
        let c = Config::load_from(
            &no_file(),
            env(&[
                ("DATABASE_URL", "postgres://u@h/db"),
                ("LATCHKEY_MASTER_KEY_FILE", keyfile.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(c.effective_database_url(), "postgres://u@h/db");
        assert_eq!(c.master_key.unwrap().expose(), "ab".repeat(32));
    }

    #[test]
    fn every_problem_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listen = \"nope\"\ncolour = \"blue\"\n").unwrap();
        let o = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let err = Config::load_from(
            &o,
            env(&[
                ("LATCHKEY_ACCESS_TOKEN_TTL", "5 minutes"),
                ("LATCHKEY_MASTER_KEY", "short"),
                ("LATCHKEY_FROBNICATE", "1"),
                ("DATABASE_URL", "mysql://x"),
                ("LATCHKEY_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 6, "{err}");
        let text = err.to_string();
        for needle in [
            "listen",
            "colour",
            "ACCESS_TOKEN_TTL",
            "MASTER_KEY",
            "FROBNICATE",
            "DATABASE_URL",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert!(!text.contains("short"), "secret values are not echoed");
    }

    #[test]
    fn sqlite_synchronous_and_providers() {
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert!(c.sqlite_synchronous_full, "durable by default");
        let c = Config::load_from(&no_file(), env(&[("LATCHKEY_SQLITE_SYNCHRONOUS", "normal")])).unwrap();
        assert!(!c.sqlite_synchronous_full);
        assert!(Config::load_from(&no_file(), env(&[("LATCHKEY_SQLITE_SYNCHRONOUS", "off")])).is_err());
        let c = Config::load_from(
            &no_file(),
            env(&[("LATCHKEY_SMS_PROVIDER", r#"{"provider":"console"}"#)]),
        )
        .unwrap();
        assert!(c.sms_provider.is_some());
        let err = Config::load_from(
            &no_file(),
            env(&[("LATCHKEY_SMS_PROVIDER", r#"{"provider":"twilio","account_sid":"x","auth_token":"very-secret-token","from_number":"1"}"#)]),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("very-secret-token"), "{err}");
    }

    #[test]
    fn private_destinations_are_refused_unless_allowed() {
        let hook = r#"{"provider":"webhook","url":"http://127.0.0.1:9000/sms","secret":"whsec_00112233445566778899aabbccddeeff"}"#;
        let relay = r#"{"provider":"smtp","host":"localhost","port":25,"tls":"none","from":"a@acme.test"}"#;
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert!(!c.allow_private_destinations, "refused by default");
        let err = Config::load_from(
            &no_file(),
            env(&[
                ("LATCHKEY_SMS_PROVIDER", hook),
                ("LATCHKEY_EMAIL_PROVIDER", relay),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(err.0[0].starts_with("sms_provider: url ") && err.0[1].starts_with("email_provider: host "));
        assert!(!err.to_string().contains("whsec_"), "{err}");
        // Allowed, from the environment or the file, whichever layer names the provider.
        let c = Config::load_from(
            &no_file(),
            env(&[
                ("LATCHKEY_SMS_PROVIDER", hook),
                ("LATCHKEY_EMAIL_PROVIDER", relay),
                ("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "true"),
            ]),
        )
        .unwrap();
        assert!(c.allow_private_destinations && c.sms_provider.is_some() && c.email_provider.is_some());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latchkey.toml");
        std::fs::write(&file, "allow_private_destinations = true\n").unwrap();
        let o = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        assert!(Config::load_from(&o, env(&[("LATCHKEY_SMS_PROVIDER", hook)])).is_ok());
        assert!(Config::load_from(
            &no_file(),
            env(&[("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "maybe")])
        )
        .is_err());
    }

    #[test]
    fn sns_origination_number_is_configured_and_checked() {
        // nauth-toolkit's `originationNumber`: the server-wide SNS provider takes it from the
        // file or the environment, sent as `AWS.MM.SMS.OriginationNumber`; E.164 only.
        let sns = |number: &str| {
            format!(
                r#"{{"provider":"aws_sns","region":"us-east-1","access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","origination_number":"{number}"}}"#
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latchkey.toml");
        std::fs::write(&file, format!("sms_provider = '{}'\n", sns("+12345678901"))).unwrap();
        let o = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let c = Config::load_from(&o, vec![]).unwrap();
        let shown = serde_json::to_value(&c.sms_provider).unwrap();
        assert_eq!(shown["primary"]["origination_number"], "+12345678901", "{shown}");
        let err = Config::load_from(&no_file(), env(&[("LATCHKEY_SMS_PROVIDER", &sns("12345678901"))]))
            .unwrap_err();
        assert!(err.to_string().contains("origination_number"), "{err}");
        assert!(!err.to_string().contains("wJalrXUtnFEMI"), "{err}");
    }

    #[test]
    fn mfa_switches() {
        let c = Config::load_from(&no_file(), env(&[("MFA_REQUIRED", "true")])).unwrap();
        assert!(c.mfa_required);
        assert_eq!(c.mfa_required_source.as_deref(), Some("MFA_REQUIRED"));
        let c = Config::load_from(
            &no_file(),
            env(&[("MFA_REQUIRED", "false"), ("MFA_OPTIONAL", "true")]),
        )
        .unwrap();
        assert!(!c.mfa_required);
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert!(!c.mfa_required);
        assert_eq!(c.mfa_required_source, None);
        // Contradictions and the unsupported "no MFA at all" are refused, saying why.
        for bad in [
            vec![("MFA_REQUIRED", "true"), ("MFA_OPTIONAL", "true")],
            vec![("LATCHKEY_MFA_REQUIRED", "true"), ("MFA_OPTIONAL", "true")],
            vec![("MFA_OPTIONAL", "false")],
            vec![("MFA_REQUIRED", "false"), ("MFA_OPTIONAL", "false")],
        ] {
            let err = Config::load_from(&no_file(), env(&bad)).unwrap_err();
            assert!(err.to_string().contains("MFA_OPTIONAL"), "{bad:?}: {err}");
        }
        assert!(Config::load_from(&no_file(), env(&[("MFA_REQUIRED", "maybe")])).is_err());
        assert!(Config::load_from(&no_file(), env(&[("MFA_OPTIONAL", "perhaps")])).is_err());
    }

    #[test]
    fn edge_settings() {
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert_eq!(
            (
                c.header_read_timeout_secs,
                c.keep_alive_timeout_secs,
                c.body_read_timeout_secs
            ),
            (10, 60, 30)
        );
        assert_eq!(c.max_connections, 4096);
        assert!(c.trusted_proxies.is_empty(), "no proxy is trusted by default");
        let c = Config::load_from(
            &no_file(),
            env(&[
                ("LATCHKEY_HEADER_READ_TIMEOUT", "5s"),
                ("LATCHKEY_KEEP_ALIVE_TIMEOUT", "2m"),
                ("LATCHKEY_BODY_READ_TIMEOUT", "15"),
                ("LATCHKEY_MAX_CONNECTIONS", "100"),
                ("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (
                c.header_read_timeout_secs,
                c.keep_alive_timeout_secs,
                c.body_read_timeout_secs
            ),
            (5, 120, 15)
        );
        assert_eq!(c.max_connections, 100);
        assert!(c.trusted_proxies.contains("10.1.1.1".parse().unwrap()));
        let err = Config::load_from(
            &no_file(),
            env(&[
                ("LATCHKEY_HEADER_READ_TIMEOUT", "0s"),
                ("LATCHKEY_KEEP_ALIVE_TIMEOUT", "2d"),
                ("LATCHKEY_BODY_READ_TIMEOUT", "soon"),
                ("LATCHKEY_MAX_CONNECTIONS", "0"),
                ("LATCHKEY_TRUSTED_PROXIES", "10.0.0.1/8, localhost"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 5, "{err}");
    }

    #[test]
    fn metrics_token_is_a_secret_of_some_length() {
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert!(c.metrics_token.is_none(), "loopback only by default");
        let token = "0123456789abcdef0123456789abcdef";
        let c = Config::load_from(&no_file(), env(&[("LATCHKEY_METRICS_TOKEN", token)])).unwrap();
        assert_eq!(c.metrics_token.as_ref().map(SecretString::expose), Some(token));
        assert!(!format!("{c:?}").contains(token), "not in a Debug print");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let c = Config::load_from(
            &no_file(),
            env(&[("LATCHKEY_METRICS_TOKEN_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.metrics_token.as_ref().map(SecretString::expose), Some(token));
        let err =
            Config::load_from(&no_file(), env(&[("LATCHKEY_METRICS_TOKEN", "short-secret")])).unwrap_err();
        assert!(err.to_string().contains("METRICS_TOKEN"), "{err}");
        assert!(!err.to_string().contains("short-secret"), "{err}");
    }

    #[test]
    fn metrics_listen_is_an_address() {
        let c = Config::load_from(&no_file(), vec![]).unwrap();
        assert_eq!(c.metrics_listen, None, "off by default");
        let c = Config::load_from(&no_file(), env(&[("LATCHKEY_METRICS_LISTEN", "10.0.0.5:9090")])).unwrap();
        assert_eq!(c.metrics_listen, Some("10.0.0.5:9090".parse().unwrap()));
        let err =
            Config::load_from(&no_file(), env(&[("LATCHKEY_METRICS_LISTEN", "everywhere")])).unwrap_err();
        assert!(err.to_string().contains("METRICS_LISTEN"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let o = Overrides {
            config_file: Some("/nonexistent/latchkey.toml".into()),
            ..Default::default()
        };
        assert!(Config::load_from(&o, vec![]).is_err());
    }
}
