//! The test harness: `spawn(Backend)` starts a server with a hand-driven clock.

use latchkey_core::clock::ManualClock;
use latchkey_server::app::{App, AppOptions};
use latchkey_server::config::{Config, Overrides};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

pub const BOOTSTRAP_KEY: &str = "sk_live_testbootstrapkey0000000000000000000000000000";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the test body once per backend. PostgreSQL is skipped only outside CI when no
/// database URL is given.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::helpers::pg_url().is_none() { return; }
                super::$name($crate::helpers::Backend::Postgres).await
            })*
        }
    };
}

pub fn pg_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set LATCHKEY_TEST_DATABASE_URL"
            );
            eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
            None
        }
    }
}

/// Everything the server logs in this test process, for secret-leak checks.
pub static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        if std::env::var_os("LATCHKEY_TEST_LOG_STDERR").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        // No timestamps: their six-digit microseconds would match a six-digit code by chance
        // in the leak checks. webauthn-rs's own debug lines (its ceremony dumps) are left out.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=warn,hyper=info,h2=info,webauthn_rs=warn,webauthn_rs_core=warn")
            .without_time()
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .try_init();
        buf
    });
}

pub fn logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
        .unwrap_or_default()
}

pub struct TestServer {
    pub url: String,
    pub app: App,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    /// A default-tenant key with the `mfa:admin` scope.
    pub mfa_admin_key: String,
    pub dir: Arc<tempfile::TempDir>,
    pub backend: Backend,
    pub pg_schema: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn test_config(dir: &std::path::Path, backend: Backend) -> Config {
    let mut env = vec![
        (
            "LATCHKEY_BOOTSTRAP_SECRET_KEY".to_string(),
            BOOTSTRAP_KEY.to_string(),
        ),
        ("LATCHKEY_LISTEN".to_string(), "127.0.0.1:0".to_string()),
        ("LATCHKEY_DATA_DIR".to_string(), dir.display().to_string()),
        ("LATCHKEY_PUBLIC_URL".to_string(), "https://id.test".to_string()),
        // The stand-in providers all live on loopback; the tests of the destination policy
        // turn this back off with `spawn_with`.
        (
            "LATCHKEY_ALLOW_PRIVATE_DESTINATIONS".to_string(),
            "true".to_string(),
        ),
    ];
    if let Backend::Postgres = backend {
        env.push(("DATABASE_URL".to_string(), pg_url().unwrap()));
    }
    let o = Overrides {
        config_file: Some(dir.join("none.toml")),
        ..Default::default()
    };
    std::fs::write(dir.join("none.toml"), "").unwrap();
    Config::load_from(&o, env).unwrap()
}

pub async fn spawn(backend: Backend) -> TestServer {
    spawn_tweaked(backend, |_| {}).await
}

/// A fresh server whose configuration `tweak` changes first.
pub async fn spawn_tweaked(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let schema = match backend {
        Backend::Postgres => Some(format!(
            "lk_test_{}",
            latchkey_core::ids::ulid(1_800_000_000_000, &latchkey_core::rand::OsRandom).to_lowercase()
        )),
        Backend::Sqlite => None,
    };
    let clock = ManualClock::new(latchkey_core::clock::Clock::now_ms(
        &latchkey_core::clock::SystemClock,
    ));
    spawn_with(backend, dir, schema, clock, tweak).await
}

/// Starts a server over an existing data directory / schema (a restart), with a config tweak.
pub async fn spawn_with(
    backend: Backend,
    dir: Arc<tempfile::TempDir>,
    pg_schema: Option<String>,
    clock: ManualClock,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    init_logs();
    let mut config = test_config(dir.path(), backend);
    tweak(&mut config);
    let options = AppOptions {
        clock: Arc::new(clock.clone()),
        pg_schema: pg_schema.clone(),
        ..Default::default()
    };
    let app = App::start(config, options).await.unwrap().app;
    // The bootstrap key does everyday administration; this one may also do the
    // destructive MFA operations (`mfa:admin`).
    let (_, mfa_admin_key) = app
        .create_api_key(
            &app.default_tenant,
            "mfa-admin",
            &[latchkey_core::scope::KeyScope::MfaAdmin],
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(latchkey_server::http::serve(app.clone(), listener, async {
        let _ = rx.await;
    }));
    TestServer {
        url,
        app,
        clock,
        http: reqwest::Client::new(),
        mfa_admin_key: mfa_admin_key.expose().to_owned(),
        dir,
        backend,
        pg_schema,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestServer {
    /// Stops the server gracefully and returns what a restart needs.
    pub async fn stop(mut self) -> (Backend, Arc<tempfile::TempDir>, Option<String>, ManualClock) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.app.store.close().await;
        (
            self.backend,
            self.dir.clone(),
            self.pg_schema.clone(),
            self.clock.clone(),
        )
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(format!("{}{path}", self.url))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.post(path).json(&body)).await
    }

    pub async fn signup(&self, email: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/v1/auth/signup",
                serde_json::json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub async fn signin(&self, email: &str, password: &str) -> (u16, Value) {
        self.post_json(
            "/v1/auth/signin",
            serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    pub fn admin(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(BOOTSTRAP_KEY)
    }

    /// With a key of the default tenant that has the `mfa:admin` scope: for resetting MFA,
    /// confirmed factors, weakening the tenant's policy and provider changes.
    pub fn mfa_admin(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(&self.mfa_admin_key)
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if let Some(code) = body["error"].get("code").and_then(Value::as_str) {
        assert!(
            documented_error_codes().contains(code),
            "the server answered error code `{code}`, which the OpenAPI document's ErrorCode enum does not list"
        );
    }
    (status, body)
}

/// The codes the OpenAPI document's `ErrorCode` schema lists: every error envelope a test
/// receives through [`send`] must carry one of them.
pub fn documented_error_codes() -> &'static std::collections::BTreeSet<String> {
    static CODES: OnceLock<std::collections::BTreeSet<String>> = OnceLock::new();
    CODES.get_or_init(|| {
        let doc = latchkey_server::http::openapi_json();
        doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("the OpenAPI document has an ErrorCode enum")
            .iter()
            .map(|v| v.as_str().expect("a string code").to_owned())
            .collect()
    })
}

/// The claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey_core::secret::b64url_decode(payload).unwrap()).unwrap()
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}
