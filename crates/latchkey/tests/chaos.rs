//! Chaos tests on the real binary (SECURITY.md 61–64): `kill -9` under mixed load and a
//! restart on the same store, a PostgreSQL restart under load with no restart of Latchkey, and
//! two replicas on one database.
//!
//! The binary runs on the real clock, so TOTP codes come from the system time through
//! `latchkey_core::totp`, one step per factor at most (a step is accepted once per factor).
//! Nothing here asserts a duration: waits are "until it happens, or a generous deadline".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use latchkey_core::totp;
use latchkey_testkit::webauthn::{Forge, SoftAuthenticator};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const KEY: &str = "sk_live_chaostestkey000000000000000000000000000000";
const PASSWORD: &str = "correct horse battery";
/// A request that takes longer than this is a hang. Generous: a request that finds the
/// database gone waits for a connection (sqlx's acquire timeout, 30 s) before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------
// The server process.

/// How to start `latchkey serve`: always the same data dir / database, so a start after a
/// kill is a restart.
#[derive(Clone)]
struct Setup {
    data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new(data_dir: &Path, database_url: Option<&str>) -> Self {
        let mut env = vec![
            ("LATCHKEY_BOOTSTRAP_SECRET_KEY".to_owned(), KEY.to_owned()),
            ("LATCHKEY_DATA_DIR".to_owned(), data_dir.display().to_string()),
            // A crashed server's claimed messages are retried once their lease (twice this
            // plus 5 s) runs out.
            ("LATCHKEY_DELIVERY_TIMEOUT".to_owned(), "1s".to_owned()),
        ];
        if let Some(url) = database_url {
            env.push(("DATABASE_URL".to_owned(), url.to_owned()));
            env.push(("LATCHKEY_MASTER_KEY".to_owned(), "44".repeat(32)));
        }
        Self {
            data_dir: data_dir.to_owned(),
            env,
        }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

/// Starts the server on a free port and reads the address from its log. The port is taken
/// from the OS first, so the public URL can name it: WebAuthn's origin is
/// `http://localhost:PORT` (browsers and the relying party know no IP-address origins).
fn start(setup: &Setup) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .current_dir(&setup.data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LATCHKEY_PUBLIC_URL", format!("http://localhost:{port}"))
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let sink = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("latchkey is listening") {
                if let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("address=")) {
                    let _ = tx.send(addr.to_owned());
                }
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(addr) => Server {
            child,
            url: format!("http://{addr}"),
            log,
        },
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!("server did not start: {}", log.lock().unwrap());
        }
    }
}

impl Server {
    /// SIGKILL: no shutdown path runs.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn assert_no_panic(&self) {
        let log = self.log();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// HTTP.

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// One request. `Err` when no response came (refused, reset, timed out): its outcome is unknown.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http.request(method, url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

async fn post(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    call(http, reqwest::Method::POST, &url, bearer, Some(body)).await
}

async fn get(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
) -> Result<(u16, Value), reqwest::Error> {
    call(http, reqwest::Method::GET, &url, bearer, None).await
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Every 4xx/5xx carries our envelope.
fn assert_envelope(status: u16, body: &Value, what: &str) {
    if status >= 400 {
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{what}: {status} without the error envelope: {body}"
        );
    }
}

async fn configure(http: &reqwest::Client, url: &str, settings: Value) {
    let (status, body) = call(
        http,
        reqwest::Method::PATCH,
        &format!("{url}/v1/admin/config"),
        Some(KEY),
        Some(settings),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// Waits until `/readyz` answers `want`, or panics after `deadline`.
async fn wait_ready(http: &reqwest::Client, url: &str, want: u16, deadline: Duration) -> Value {
    let start = Instant::now();
    loop {
        if let Ok((status, body)) = get(http, format!("{url}/readyz"), None).await {
            if status == want {
                return body;
            }
        }
        assert!(start.elapsed() < deadline, "/readyz never answered {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Users and codes.

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A user with a confirmed TOTP factor. `last_step` is the newest step this test sent for the
/// factor (accepted or not), so no step is ever sent twice.
#[derive(Clone, Debug)]
struct TotpUser {
    email: String,
    user_id: String,
    factor_id: String,
    secret: Vec<u8>,
    last_step: i64,
    backup_factor: Option<String>,
    backup_codes: Vec<String>,
}

impl TotpUser {
    /// The next step to send: the current one, or the next when the current is used; `None`
    /// when both are used (the server accepts the current step ± 1 and never a used one).
    fn next_step(&self) -> Option<i64> {
        let cur = totp::step_at(now_ms());
        let s = cur.max(self.last_step + 1);
        (s <= cur + 1).then_some(s)
    }
}

/// Why a multi-request step did not complete.
#[derive(Debug)]
enum Failed {
    /// A request got no answer (the server was killed): its outcome is unknown.
    NoAnswer,
    /// The server answered something else than the step needs.
    Refused(String),
}

impl From<reqwest::Error> for Failed {
    fn from(_: reqwest::Error) -> Self {
        Failed::NoAnswer
    }
}

/// Signs up and enrolls and confirms TOTP.
async fn enroll_totp(http: &reqwest::Client, url: &str, email: &str) -> Result<TotpUser, Failed> {
    let (status, body) = post(
        http,
        format!("{url}/v1/auth/signup"),
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await?;
    if status != 201 {
        return Err(Failed::Refused(format!("signup {status} {body}")));
    }
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = post(
        http,
        format!("{url}/v1/users/me/mfa/factors"),
        Some(&token),
        json!({ "type": "totp", "name": "phone" }),
    )
    .await?;
    if status != 201 {
        return Err(Failed::Refused(format!("enroll {status} {e}")));
    }
    let factor_id = e["factor_id"].as_str().unwrap().to_owned();
    let secret = totp::base32_decode(e["secret"].as_str().unwrap()).unwrap();
    let step = totp::step_at(now_ms());
    let (status, c) = post(
        http,
        format!("{url}/v1/users/me/mfa/factors/{factor_id}/confirm"),
        Some(&token),
        json!({ "code": totp::code_at_step(totp::Algorithm::Sha1, &secret, step) }),
    )
    .await?;
    if status != 200 {
        return Err(Failed::Refused(format!("confirm {status} {c}")));
    }
    Ok(TotpUser {
        email: email.to_owned(),
        user_id,
        factor_id,
        secret,
        last_step: step,
        backup_factor: None,
        backup_codes: c["backup_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    })
}

/// Signs in with the password; returns the challenge id and the backup-code factor's id.
async fn start_challenge(
    http: &reqwest::Client,
    url: &str,
    email: &str,
) -> Result<(String, Option<String>), Failed> {
    let (status, body) = post(
        http,
        format!("{url}/v1/auth/signin"),
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await?;
    if (status, code_of(&body)) != (401, "mfa_required") {
        return Err(Failed::Refused(format!("signin {status} {body}")));
    }
    let backup = body["error"]["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "backup_codes")
        .and_then(|f| f["id"].as_str())
        .map(str::to_owned);
    Ok((body["error"]["challenge_id"].as_str().unwrap().to_owned(), backup))
}

async fn verify(
    http: &reqwest::Client,
    url: &str,
    challenge: &str,
    factor: &str,
    code: &str,
) -> Result<(u16, Value), reqwest::Error> {
    post(
        http,
        format!("{url}/v1/mfa/verify"),
        None,
        json!({ "challenge_id": challenge, "factor_id": factor, "code": code }),
    )
    .await
}

async fn refresh(http: &reqwest::Client, url: &str, token: &str) -> Result<(u16, Value), reqwest::Error> {
    post(
        http,
        format!("{url}/v1/auth/refresh"),
        None,
        json!({ "refresh_token": token }),
    )
    .await
}

/// A six-digit code that is none of the factor's codes near now (a certainly wrong code).
fn wrong_code(secret: &[u8]) -> String {
    let cur = totp::step_at(now_ms());
    let near: HashSet<String> = (cur - 3..=cur + 3)
        .map(|s| totp::code_at_step(totp::Algorithm::Sha1, secret, s))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919 + 13) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// A fresh schema on the shared test PostgreSQL, named in the URL as an operator would; `None`
/// without PostgreSQL (outside CI). `.ci/run` drops leftover `lk_cli_*` schemas.
fn pg_schema_url(tag: &str) -> Option<(String, String)> {
    let url = match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set LATCHKEY_TEST_DATABASE_URL"
            );
            eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
            return None;
        }
    };
    let schema = format!("lk_cli_{tag}_{}_{}", std::process::id(), now_ms() % 1_000_000);
    let status = Command::new("psql")
        .args([&url, "-qc", &format!("create schema \"{schema}\"")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "could not create schema {schema}");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some((format!("{url}{sep}options=-c%20search_path%3D{schema}"), schema))
}

fn drop_pg_schema(schema: &str) {
    if let Ok(url) = std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        let _ = Command::new("psql")
            .args([
                &url,
                "-qc",
                &format!("drop schema if exists \"{schema}\" cascade"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// A small, seeded generator: which operation next, when to kill.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seed() -> u64 {
    let s = std::env::var("LATCHKEY_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() as u64);
    eprintln!("chaos seed {s} (LATCHKEY_CHAOS_SEED={s} repeats the kill moments)");
    s
}

// ---------------------------------------------------------------------------------------
// 1. kill -9 under mixed load, then restart on the same store (SECURITY.md 61, 62, 64).

/// What the clients were told before a crash: every entry was acknowledged with a success.
#[derive(Default)]
struct Journal {
    /// Enrollments confirmed with 200: (user id, factor id).
    confirmed: Vec<(String, String)>,
    /// TOTP codes accepted at sign-in: (email, factor id, code).
    totp_accepted: Vec<(String, String, String)>,
    /// Backup codes accepted at sign-in: (email, backup factor id, code).
    backup_used: Vec<(String, String, String)>,
    /// Refresh tokens issued and not yet sent back (sent back with no answer: forgotten).
    live: HashSet<String>,
    /// Refresh tokens rotated with 200.
    spent: Vec<String>,
    /// SMS enrollments answered 201: (user id, phone number).
    sms: Vec<(String, String)>,
    /// Passwordless passkey sign-ins answered 200: (email, the signature counter they carried).
    passkey_accepted: Vec<(String, u32)>,
    /// Answers no correct server gives (a valid code refused, a live token refused, a 5xx).
    anomalies: Vec<String>,
}

/// A user who signs in with a passkey alone (a software authenticator).
struct PasskeyUser {
    email: String,
    auth: SoftAuthenticator,
}

/// The origin browsers would use for a server: WebAuthn knows `localhost`, not `127.0.0.1`.
fn webauthn_origin(url: &str) -> String {
    url.replace("127.0.0.1", "localhost")
}

/// Signs up `email` and registers a passkey for them.
async fn enroll_passkey(http: &reqwest::Client, url: &str, email: &str) -> Result<PasskeyUser, Failed> {
    let body = match post(
        http,
        format!("{url}/v1/auth/signup"),
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await
    {
        Ok((201, body)) => body,
        Ok((status, body)) => return Err(Failed::Refused(format!("signup: {status} {body}"))),
        Err(_) => return Err(Failed::NoAnswer),
    };
    let token = body["access_token"].as_str().unwrap().to_owned();
    let e = match post(
        http,
        format!("{url}/v1/users/me/mfa/factors"),
        Some(&token),
        json!({ "type": "webauthn" }),
    )
    .await
    {
        Ok((201, e)) => e,
        Ok((status, body)) => return Err(Failed::Refused(format!("passkey enroll: {status} {body}"))),
        Err(_) => return Err(Failed::NoAnswer),
    };
    let mut auth = SoftAuthenticator::new();
    let reg = auth
        .register(&e["webauthn"], &webauthn_origin(url), &Forge::default())
        .unwrap();
    let fid = e["factor_id"].as_str().unwrap();
    match post(
        http,
        format!("{url}/v1/users/me/mfa/factors/{fid}/confirm"),
        Some(&token),
        json!({ "credential": reg }),
    )
    .await
    {
        Ok((200, _)) => Ok(PasskeyUser {
            email: email.to_owned(),
            auth,
        }),
        Ok((status, body)) => Err(Failed::Refused(format!("passkey confirm: {status} {body}"))),
        Err(_) => Err(Failed::NoAnswer),
    }
}

/// One passwordless sign-in: the answer, and the counter the assertion carried.
async fn passkey_signin(
    http: &reqwest::Client,
    url: &str,
    u: &mut PasskeyUser,
    forge: &Forge,
) -> Result<(u16, Value, u32), Failed> {
    let options = match post(http, format!("{url}/v1/auth/passkey/options"), None, json!({})).await {
        Ok((200, o)) => o,
        Ok((status, body)) => return Err(Failed::Refused(format!("passkey options: {status} {body}"))),
        Err(_) => return Err(Failed::NoAnswer),
    };
    let answer = u.auth.assert(&options, &webauthn_origin(url), forge).unwrap();
    let id = u.auth.credential_ids()[0].clone();
    let count = forge.counter.unwrap_or_else(|| u.auth.counter(&id).unwrap());
    match post(
        http,
        format!("{url}/v1/auth/passkey/signin"),
        None,
        json!({ "credential": answer }),
    )
    .await
    {
        Ok((status, body)) => Ok((status, body, count)),
        Err(_) => Err(Failed::NoAnswer),
    }
}

struct Load {
    url: String,
    http: reqwest::Client,
    pool: Arc<Mutex<Vec<TotpUser>>>,
    passkeys: Arc<Mutex<Vec<PasskeyUser>>>,
    journal: Arc<Mutex<Journal>>,
    stop: Arc<AtomicBool>,
    counter: Arc<AtomicU32>,
    tag: String,
}

impl Load {
    fn note(&self, what: String) {
        self.journal.lock().unwrap().anomalies.push(what);
    }

    async fn enroll(&self) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let email = format!("enroll-{}-{n}@example.com", self.tag);
        match enroll_totp(&self.http, &self.url, &email).await {
            Ok(u) => {
                self.journal
                    .lock()
                    .unwrap()
                    .confirmed
                    .push((u.user_id.clone(), u.factor_id.clone()));
                self.pool.lock().unwrap().push(u);
            }
            Err(Failed::Refused(e)) => self.note(format!("enroll: {e}")),
            Err(Failed::NoAnswer) => {}
        }
    }

    /// Takes a user out of the pool (no other worker uses it meanwhile).
    fn take(&self, want: impl Fn(&TotpUser) -> bool) -> Option<TotpUser> {
        let mut pool = self.pool.lock().unwrap();
        let i = pool.iter().position(want)?;
        Some(pool.swap_remove(i))
    }

    fn put_back(&self, u: TotpUser) {
        self.pool.lock().unwrap().push(u);
    }

    async fn sign_in_totp(&self) -> bool {
        let Some(mut u) = self.take(|u| u.next_step().is_some()) else {
            return false;
        };
        let started = start_challenge(&self.http, &self.url, &u.email).await;
        if let Err(Failed::Refused(e)) = &started {
            self.note(format!("sign-in: {e}"));
        }
        if let Ok((challenge, backup)) = started {
            u.backup_factor = backup.or(u.backup_factor);
            if let Some(step) = u.next_step() {
                let code = totp::code_at_step(totp::Algorithm::Sha1, &u.secret, step);
                u.last_step = step; // sent, whatever happens next
                match verify(&self.http, &self.url, &challenge, &u.factor_id, &code).await {
                    Ok((200, body)) => {
                        let mut j = self.journal.lock().unwrap();
                        j.totp_accepted.push((u.email.clone(), u.factor_id.clone(), code));
                        j.live.insert(body["refresh_token"].as_str().unwrap().to_owned());
                    }
                    Ok((status, body)) => {
                        self.note(format!("a fresh TOTP code was refused: {status} {body}"))
                    }
                    Err(_) => {}
                }
            }
        }
        self.put_back(u);
        true
    }

    async fn sign_in_backup(&self) -> bool {
        let Some(mut u) = self.take(|u| !u.backup_codes.is_empty()) else {
            return false;
        };
        let started = start_challenge(&self.http, &self.url, &u.email).await;
        if let Err(Failed::Refused(e)) = &started {
            self.note(format!("sign-in: {e}"));
        }
        if let Ok((challenge, backup)) = started {
            let factor = backup.unwrap();
            let code = u.backup_codes.pop().unwrap(); // sent, whatever happens next
            match verify(&self.http, &self.url, &challenge, &factor, &code).await {
                Ok((200, body)) => {
                    let mut j = self.journal.lock().unwrap();
                    j.backup_used.push((u.email.clone(), factor, code));
                    j.live.insert(body["refresh_token"].as_str().unwrap().to_owned());
                }
                Ok((status, body)) => {
                    self.note(format!("an unused backup code was refused: {status} {body}"))
                }
                Err(_) => {}
            }
        }
        self.put_back(u);
        true
    }

    async fn rotate(&self) -> bool {
        let token = {
            let mut j = self.journal.lock().unwrap();
            let Some(t) = j.live.iter().next().cloned() else {
                return false;
            };
            j.live.remove(&t);
            t
        };
        match refresh(&self.http, &self.url, &token).await {
            Ok((200, body)) => {
                let mut j = self.journal.lock().unwrap();
                j.spent.push(token);
                j.live.insert(body["refresh_token"].as_str().unwrap().to_owned());
            }
            Ok((status, body)) => self.note(format!("a live refresh token was refused: {status} {body}")),
            Err(_) => {}
        }
        true
    }

    async fn sms(&self) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let email = format!("sms-{}-{n}@example.com", self.tag);
        let body = match post(
            &self.http,
            format!("{}/v1/auth/signup", self.url),
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await
        {
            Ok((201, body)) => body,
            Ok((status, body)) => return self.note(format!("signup: {status} {body}")),
            Err(_) => return,
        };
        let user_id = body["user"]["id"].as_str().unwrap().to_owned();
        let token = body["access_token"].as_str().unwrap();
        let phone = format!("+1415555{:04}", 2000 + n);
        match post(
            &self.http,
            format!("{}/v1/users/me/mfa/factors", self.url),
            Some(token),
            json!({ "type": "sms", "phone_number": phone }),
        )
        .await
        {
            Ok((201, _)) => self.journal.lock().unwrap().sms.push((user_id, phone)),
            Ok((status, body)) => self.note(format!("sms enroll refused: {status} {body}")),
            Err(_) => {}
        }
    }

    /// A passwordless sign-in with a passkey (its counter advanced in the store).
    async fn passkey(&self) -> bool {
        let taken = {
            let mut pool = self.passkeys.lock().unwrap();
            pool.pop()
        };
        let Some(mut u) = taken else {
            return false;
        };
        match passkey_signin(&self.http, &self.url, &mut u, &Forge::default()).await {
            Ok((200, body, count)) => {
                let mut j = self.journal.lock().unwrap();
                j.passkey_accepted.push((u.email.clone(), count));
                j.live.insert(body["refresh_token"].as_str().unwrap().to_owned());
            }
            Ok((status, body, _)) => {
                self.note(format!("a fresh passkey assertion was refused: {status} {body}"))
            }
            Err(Failed::Refused(e)) => self.note(e),
            Err(Failed::NoAnswer) => {}
        }
        self.passkeys.lock().unwrap().insert(0, u);
        true
    }

    /// One client: a mix of operations until told to stop.
    async fn run(self: Arc<Self>, mut rng: Rng) {
        while !self.stop.load(Ordering::Relaxed) {
            match rng.below(7) {
                6 => {
                    if !self.passkey().await {
                        self.enroll().await;
                    }
                }
                0 => self.enroll().await,
                1 | 2 => {
                    if !self.sign_in_totp().await {
                        self.enroll().await;
                    }
                }
                3 => {
                    if !self.sign_in_backup().await {
                        self.enroll().await;
                    }
                }
                4 => {
                    if !self.rotate().await {
                        self.sms().await;
                    }
                }
                _ => self.sms().await,
            }
        }
    }
}

/// Records what the SMS webhook stand-in receives: (to, body).
async fn sms_gateway() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                sink.lock().unwrap().push((
                    v["to"].as_str().unwrap_or_default().to_owned(),
                    v["body"].as_str().unwrap_or_default().to_owned(),
                ));
                "{}"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn kill_under_load(database_url: Option<&str>, tag: &str) {
    const ROUNDS: usize = 3;
    const WORKERS: u64 = 4;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed());
    rt.block_on(async {
        let (hook, received) = sms_gateway().await;
        let provider = format!(
            r#"{{"provider":"webhook","url":"{hook}","secret":"chaos-test-secret-0123456789abcdef0123456789"}}"#
        );
        // The webhook stand-in is on loopback, which only an operator's switch allows.
        let setup = Setup::new(dir.path(), database_url)
            .with("LATCHKEY_SMS_PROVIDER", &provider)
            .with("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "true");
        let http = client();
        let mut server = start(&setup);
        configure(
            &http,
            &server.url,
            json!({
                "mfa_allowed_factors": ["totp", "sms", "webauthn", "backup_codes"],
                // The load comes from one address; the replays at the end count as failures.
                "send_limits": { "ip_hourly": 100000, "ip_daily": 100000, "tenant_hourly": 100000, "tenant_daily": 100000 },
                "mfa_max_attempts": 100
            }),
        )
        .await;
        // Users enrolled before any crash: acknowledged enrollments like the others.
        let pool = Arc::new(Mutex::new(Vec::new()));
        let journal = Arc::new(Mutex::new(Journal::default()));
        for i in 0..4 {
            let u = enroll_totp(&http, &server.url, &format!("seed-{tag}-{i}@example.com"))
                .await
                .unwrap();
            journal
                .lock()
                .unwrap()
                .confirmed
                .push((u.user_id.clone(), u.factor_id.clone()));
            pool.lock().unwrap().push(u);
        }
        let passkeys = Arc::new(Mutex::new(Vec::new()));
        for i in 0..3 {
            let u = enroll_passkey(&http, &server.url, &format!("passkey-{tag}-{i}@example.com"))
                .await
                .unwrap_or_else(|e| panic!("passkey enrollment: {}", match e { Failed::Refused(m) => m, Failed::NoAnswer => "no answer".into() }));
            passkeys.lock().unwrap().push(u);
        }
        let counter = Arc::new(AtomicU32::new(0));

        for round in 0..ROUNDS {
            let stop = Arc::new(AtomicBool::new(false));
            let load = Arc::new(Load {
                url: server.url.clone(),
                http: http.clone(),
                pool: pool.clone(),
                passkeys: passkeys.clone(),
                journal: journal.clone(),
                stop: stop.clone(),
                counter: counter.clone(),
                tag: tag.to_owned(),
            });
            // The first phone number a process parses loads libphonenumber's metadata (seconds
            // in a debug build): one SMS enrollment and one TOTP sign-in first, so that even a
            // short round on a slow machine leaves something acknowledged to check.
            load.sms().await;
            load.sign_in_totp().await;
            load.passkey().await;
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| tokio::spawn(load.clone().run(Rng::new(rng.below(u64::MAX) + w))))
                .collect();
            // A random moment: anything from early in the first requests to well into the load.
            let after = Duration::from_millis(500 + rng.below(2500));
            tokio::time::sleep(after).await;
            server.assert_no_panic();
            server.kill9();
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.await.unwrap();
            }
            eprintln!("{tag}: round {round}: SIGKILL after {after:?}");
            server = start(&setup);
        }

        // After the last restart: everything acknowledged before a crash still holds.
        let url = server.url.clone();
        let j = std::mem::take(&mut *journal.lock().unwrap());
        eprintln!(
            "{tag}: acknowledged before the kills: {} enrollments, {} TOTP sign-ins, {} backup codes, {} rotations, {} live sessions, {} SMS",
            j.confirmed.len(),
            j.totp_accepted.len(),
            j.backup_used.len(),
            j.spent.len(),
            j.live.len(),
            j.sms.len()
        );
        assert!(j.anomalies.is_empty(), "wrong answers under load: {:#?}", j.anomalies);
        assert!(
            !j.confirmed.is_empty() && !j.totp_accepted.is_empty() && !j.sms.is_empty() && !j.passkey_accepted.is_empty(),
            "the load did too little to test anything"
        );
        eprintln!("{tag}: {} passkey sign-ins acknowledged", j.passkey_accepted.len());

        // A confirmed enrollment is active.
        for (user, factor) in &j.confirmed {
            let (status, body) = get(&http, format!("{url}/v2/admin/users/{user}/mfa"), Some(KEY)).await.unwrap();
            assert_eq!(status, 200, "{body}");
            let f = body["factors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["factor_id"] == factor.as_str())
                .unwrap_or_else(|| panic!("confirmed factor {factor} lost after the crash: {body}"));
            assert_eq!(f["status"], "active", "{body}");
        }
        // An issued session is valid: its refresh token works once.
        for token in &j.live {
            let (status, body) = refresh(&http, &url, token).await.unwrap();
            assert_eq!(status, 200, "a session issued before the crash is gone: {body}");
            let (status, body) = refresh(&http, &url, token).await.unwrap();
            assert_eq!((status, code_of(&body)), (401, "invalid_refresh_token"), "{body}");
        }
        // A refresh token rotated before the crash cannot be used again.
        for token in &j.spent {
            let (status, body) = refresh(&http, &url, token).await.unwrap();
            assert_eq!((status, code_of(&body)), (401, "invalid_refresh_token"), "{body}");
        }
        // A TOTP code accepted once is refused on replay (inside its window or not).
        for (email, factor, code) in &j.totp_accepted {
            let (challenge, _) = start_challenge(&http, &url, email).await.unwrap();
            let (status, body) = verify(&http, &url, &challenge, factor, code).await.unwrap();
            assert!(status == 401 || status == 429, "a used TOTP code was accepted again: {status} {body}");
            assert_envelope(status, &body, "replay");
        }
        // A backup code used once is refused.
        for (email, factor, code) in &j.backup_used {
            let (challenge, _) = start_challenge(&http, &url, email).await.unwrap();
            let (status, body) = verify(&http, &url, &challenge, factor, code).await.unwrap();
            assert!(status == 401 || status == 429, "a used backup code was accepted again: {status} {body}");
        }
        // A passkey's counter survived: a fresh assertion signs in, and one carrying a counter
        // value acknowledged before the crash is refused (the store kept it, and only moves
        // it forward).
        let mut users = std::mem::take(&mut *passkeys.lock().unwrap());
        for u in &mut users {
            let (status, body, _) = passkey_signin(&http, &url, u, &Forge::default()).await.unwrap_or_else(|_| panic!("no answer"));
            assert_eq!(status, 200, "a passkey no longer signs in after the crash: {body}");
        }
        for u in &mut users {
            let Some(max) = j.passkey_accepted.iter().filter(|(e, _)| *e == u.email).map(|(_, c)| *c).max() else {
                continue;
            };
            let replay = Forge { counter: Some(max), ..Forge::default() };
            let (status, body, _) = passkey_signin(&http, &url, u, &replay).await.unwrap_or_else(|_| panic!("no answer"));
            assert_eq!(status, 401, "an acknowledged counter value was accepted again: {body}");
        }
        // Every queued SMS is delivered (at least once; a message in flight at a kill may be
        // sent again after its lease runs out) and its outbox row ends `sent`.
        let deadline = Instant::now() + Duration::from_secs(120);
        for (user, phone) in &j.sms {
            loop {
                let delivered = received.lock().unwrap().iter().any(|(to, _)| to == phone);
                let (status, body) = get(&http, format!("{url}/v2/admin/users/{user}/mfa"), Some(KEY)).await.unwrap();
                assert_eq!(status, 200, "{body}");
                let state = body["factors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["type"] == "sms")
                    .map(|f| f["last_delivery"]["status"].clone())
                    .unwrap_or_else(|| panic!("the SMS factor of {user} is gone: {body}"));
                if delivered && state == "sent" {
                    break;
                }
                assert!(
                    state != "abandoned" && state != "failed",
                    "message to {phone} given up: {body}"
                );
                assert!(Instant::now() < deadline, "message to {phone} never delivered: {body}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        let (status, stats) = get(&http, format!("{url}/v1/admin/delivery-stats"), Some(KEY)).await.unwrap();
        assert_eq!(status, 200, "{stats}");
        let sends = received.lock().unwrap().len();
        eprintln!("{tag}: {} SMS acknowledged, {sends} deliveries received; stats {stats}", j.sms.len());
        server.assert_no_panic();
    });
}

#[test]
fn kill9_under_mixed_load_then_restart_sqlite() {
    kill_under_load(None, "k9s");
}

#[test]
fn kill9_under_mixed_load_then_restart_postgres() {
    let Some((url, schema)) = pg_schema_url("k9p") else {
        return;
    };
    kill_under_load(Some(&url), "k9p");
    drop_pg_schema(&schema);
}

// ---------------------------------------------------------------------------------------
// 2. PostgreSQL restarted under load; Latchkey recovers without a restart (SECURITY.md 64).

/// A PostgreSQL of this test's own (initdb in a temporary directory, a free loopback port),
/// so stopping it disturbs no other test. Run as the `postgres` user when we are root.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePg {
    fn bindir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("LATCHKEY_TEST_PG_BINDIR") {
            return Some(PathBuf::from(dir));
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    }

    fn start() -> Option<Self> {
        let Some(bin) = Self::bindir() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs the PostgreSQL server binaries (initdb)"
            );
            eprintln!("no PostgreSQL server binaries: private-PostgreSQL case skipped");
            return None;
        };
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            // initdb refuses to run as root; the directory must belong to the postgres user.
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = pg.data();
        let out = pg
            .cmd("initdb")
            .args([
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.pg_ctl_start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let out = self
            .cmd("pg_ctl")
            .args([
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "120",
                "-o",
                &opts,
                "start",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Like a crash of the database server: no shutdown checkpoint, connections cut.
    fn stop_immediate(&self) {
        let out = self
            .cmd("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn postgres_restart_under_load_recovers_without_restarting_latchkey() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let setup = Setup::new(dir.path(), Some(&pg.url()));
        let http = client();
        let mut server = start(&setup);
        let url = server.url.clone();
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(
                enroll_totp(&http, &url, &format!("pgr-{i}@example.com"))
                    .await
                    .unwrap(),
            );
        }

        // Load: sign-ins with TOTP verifies, and sign-ups, until told to stop; every answer kept.
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::<(String, Result<(u16, Value), String>)>::new()));
        let mut workers = Vec::new();
        for (w, mut u) in users.into_iter().enumerate() {
            let (stop, answers, http, url) = (stop.clone(), answers.clone(), http.clone(), url.clone());
            workers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let r = post(
                        &http,
                        format!("{url}/v1/auth/signup"),
                        None,
                        json!({ "email": format!("load-{w}-{n}@example.com"), "password": PASSWORD }),
                    )
                    .await;
                    answers
                        .lock()
                        .unwrap()
                        .push(("signup".into(), r.map_err(|e| e.to_string())));
                    let r = post(
                        &http,
                        format!("{url}/v1/auth/signin"),
                        None,
                        json!({ "email": u.email, "password": PASSWORD }),
                    )
                    .await;
                    let challenge = match &r {
                        Ok((401, b)) if code_of(b) == "mfa_required" => {
                            b["error"]["challenge_id"].as_str().map(str::to_owned)
                        }
                        _ => None,
                    };
                    answers
                        .lock()
                        .unwrap()
                        .push(("signin".into(), r.map_err(|e| e.to_string())));
                    if let (Some(c), Some(step)) = (challenge, u.next_step()) {
                        u.last_step = step;
                        let r = verify(
                            &http,
                            &url,
                            &c,
                            &u.factor_id,
                            &totp::code_at_step(totp::Algorithm::Sha1, &u.secret, step),
                        )
                        .await;
                        answers
                            .lock()
                            .unwrap()
                            .push(("verify".into(), r.map_err(|e| e.to_string())));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                u
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;

        pg.stop_immediate();
        let outage = Instant::now();
        // Not ready while the database is gone (within a bounded wait), and still running.
        let body = wait_ready(&http, &url, 503, Duration::from_secs(120)).await;
        assert_eq!(code_of(&body), "database_unavailable", "{body}");
        eprintln!(
            "pg restart: /readyz said 503 {:?} after the stop",
            outage.elapsed()
        );
        assert!(server.alive(), "the server exited when its database went away");

        pg.pg_ctl_start();
        let back = Instant::now();
        wait_ready(&http, &url, 200, Duration::from_secs(120)).await;
        eprintln!(
            "pg restart: ready again {:?} after PostgreSQL was back",
            back.elapsed()
        );
        stop.store(true, Ordering::Relaxed);
        let mut users = Vec::new();
        for w in workers {
            users.push(w.await.unwrap());
        }
        assert!(server.alive());

        let answers = std::mem::take(&mut *answers.lock().unwrap());
        let (mut ok, mut failed_cleanly) = (0, 0);
        for (what, r) in &answers {
            match r {
                Ok((status, body)) => {
                    assert_envelope(*status, body, what);
                    if *status >= 500 {
                        assert!(
                            ["internal_error", "database_unavailable", "overloaded"].contains(&code_of(body)),
                            "{what}: {status} {body}"
                        );
                        failed_cleanly += 1;
                    } else {
                        ok += 1;
                    }
                }
                Err(e) => panic!("{what}: no answer during the outage (a hang or a dropped connection): {e}"),
            }
        }
        eprintln!("pg restart: {ok} answers before/after, {failed_cleanly} clean 5xx during the outage");
        // The clients kept sending through the outage (it lasts at least until /readyz saw it),
        // so some of their requests met it: answered with a 5xx and the envelope, not a hang.
        assert!(failed_cleanly > 0, "no request met the outage");

        // Recovered, without a restart: sign-ins and verifies succeed again, for users from
        // before the outage and for a new one.
        for u in users.iter_mut() {
            let Some(step) = u.next_step() else { continue };
            let (challenge, _) = start_challenge(&http, &url, &u.email).await.unwrap();
            let (status, body) = verify(
                &http,
                &url,
                &challenge,
                &u.factor_id,
                &totp::code_at_step(totp::Algorithm::Sha1, &u.secret, step),
            )
            .await
            .unwrap();
            u.last_step = step;
            assert_eq!(status, 200, "verify after recovery: {body}");
        }
        let mut fresh = enroll_totp(&http, &url, "after-outage@example.com")
            .await
            .unwrap();
        let step = fresh.next_step().unwrap();
        let (challenge, _) = start_challenge(&http, &url, &fresh.email).await.unwrap();
        let (status, body) = verify(
            &http,
            &url,
            &challenge,
            &fresh.factor_id,
            &totp::code_at_step(totp::Algorithm::Sha1, &fresh.secret, step),
        )
        .await
        .unwrap();
        fresh.last_step = step;
        assert_eq!(status, 200, "{body}");
        server.assert_no_panic();
    });
}

// ---------------------------------------------------------------------------------------
// 3. Two replicas on one PostgreSQL (SECURITY.md 63).

#[test]
fn two_replicas_share_challenges_throttles_and_refresh_tokens() {
    let Some((db, schema)) = pg_schema_url("rep") else {
        return;
    };
    let rt = runtime();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rt.block_on(async {
        // Same database, same master key (Setup sets it for PostgreSQL), separate data dirs.
        // B starts after the settings change, so it does not hold the old settings for the
        // tenant cache's second (crates/server/src/tenant_cache.rs).
        let a = start(&Setup::new(dir_a.path(), Some(&db)));
        let http = client();
        configure(&http, &a.url, json!({ "mfa_max_attempts": 4 })).await;
        let b = start(&Setup::new(dir_b.path(), Some(&db)));
        let (ua, ub) = (a.url.clone(), b.url.clone());

        // A challenge started on A is finished on B.
        let mut u = enroll_totp(&http, &ub, "replicas@example.com").await.unwrap();
        let (challenge, _) = start_challenge(&http, &ua, &u.email).await.unwrap();
        let step = u.next_step().unwrap();
        u.last_step = step;
        let (status, body) = verify(
            &http,
            &ub,
            &challenge,
            &u.factor_id,
            &totp::code_at_step(totp::Algorithm::Sha1, &u.secret, step),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "challenge from A verified on B: {body}");

        // Throttling is shared: 4 wrong codes split over A and B, then both refuse with 429,
        // even the right code.
        let (challenge, _) = start_challenge(&http, &ub, &u.email).await.unwrap();
        let wrong = wrong_code(&u.secret);
        for (i, url) in [&ua, &ub, &ua, &ub].into_iter().enumerate() {
            let (status, body) = verify(&http, url, &challenge, &u.factor_id, &wrong)
                .await
                .unwrap();
            assert_eq!(
                (status, code_of(&body)),
                (401, "invalid_code"),
                "wrong code {i}: {body}"
            );
        }
        for url in [&ua, &ub] {
            let (status, body) = verify(&http, url, &challenge, &u.factor_id, &wrong)
                .await
                .unwrap();
            assert_eq!((status, code_of(&body)), (429, "too_many_attempts"), "{body}");
        }
        if let Some(step) = u.next_step() {
            let (status, body) = verify(
                &http,
                &ub,
                &challenge,
                &u.factor_id,
                &totp::code_at_step(totp::Algorithm::Sha1, &u.secret, step),
            )
            .await
            .unwrap();
            assert_eq!(
                (status, code_of(&body)),
                (429, "too_many_attempts"),
                "locked for the right code too: {body}"
            );
        }

        // A refresh token rotated on A cannot be reused on B (and reusing it ends the session).
        let (status, body) = post(
            &http,
            format!("{ua}/v1/auth/signup"),
            None,
            json!({ "email": "tokens@example.com", "password": PASSWORD }),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        let first = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh(&http, &ua, &first).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let second = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh(&http, &ub, &first).await.unwrap();
        assert_eq!((status, code_of(&body)), (401, "invalid_refresh_token"), "{body}");
        let (status, body) = refresh(&http, &ub, &second).await.unwrap();
        assert_eq!(
            (status, code_of(&body)),
            (401, "invalid_refresh_token"),
            "reuse ended the session: {body}"
        );

        // One token sent to both replicas at once: exactly one rotation.
        for round in 0..5 {
            let (status, body) = post(
                &http,
                format!("{ua}/v1/auth/signin"),
                None,
                json!({ "email": "tokens@example.com", "password": PASSWORD }),
            )
            .await
            .unwrap();
            assert_eq!(status, 200, "{body}");
            let token = body["refresh_token"].as_str().unwrap().to_owned();
            let (ra, rb) = tokio::join!(refresh(&http, &ua, &token), refresh(&http, &ub, &token));
            let statuses = [ra.unwrap().0, rb.unwrap().0];
            assert_eq!(
                statuses.iter().filter(|s| **s == 200).count(),
                1,
                "round {round}: {statuses:?}"
            );
        }
        a.assert_no_panic();
        b.assert_no_panic();
    });
    drop_pg_schema(&schema);
}
