//! The example application served on a free loopback port, Latchkey mounted under `/auth`,
//! driven over HTTP on SQLite and on PostgreSQL (`LATCHKEY_TEST_DATABASE_URL`; skipped
//! outside CI when unset, as the server's tests do): sign-up, sign-in, TOTP enrollment and
//! the MFA sign-in through `/auth/v1`, the application's own routes taking and refusing the
//! tokens, an SMS factor whose code the application's own sender captures, OpenID Connect
//! discovery and the hosted pages under the prefix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use axum::Router;
use latchkey_core::totp;
use latchkey_embed::{
    async_trait, DeliveryError, EmailMessage, EmailSender, Latchkey, Sent, SmsMessage, SmsSender,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const PASSWORD: &str = "correct horse battery";
const ADMIN_KEY: &str = "sk_live_embedtestbootstrapkey000000000000000000000000";

/// The host's own sender for the test: it keeps every message, as an application's sender
/// would hand them to its gateway.
#[derive(Clone, Default)]
struct Capture {
    sms: Arc<Mutex<Vec<(String, String)>>>,
    email: Arc<Mutex<Vec<(String, String)>>>,
}

#[async_trait]
impl SmsSender for Capture {
    fn provider(&self) -> &'static str {
        "capture"
    }
    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        self.sms.lock().unwrap().push((msg.to.clone(), msg.body.clone()));
        Ok(Sent {
            provider: "capture",
            provider_message_id: None,
        })
    }
}

#[async_trait]
impl EmailSender for Capture {
    fn provider(&self) -> &'static str {
        "capture"
    }
    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        self.email
            .lock()
            .unwrap()
            .push((msg.to.clone(), msg.subject.clone()));
        Ok(Sent {
            provider: "capture",
            provider_message_id: None,
        })
    }
}

impl Capture {
    /// The subject of the first email to `to`, once the outbox has sent it.
    async fn email_to(&self, to: &str) -> String {
        for _ in 0..100 {
            let found = self.email.lock().unwrap().iter().find(|(t, _)| t == to).cloned();
            if let Some((_, subject)) = found {
                return subject;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no email to {to} came");
    }

    /// The six-digit code of the `n`th SMS (1-based), once the outbox has sent it.
    async fn sms_code(&self, n: usize) -> (String, String) {
        for _ in 0..100 {
            if let Some((to, body)) = self.sms.lock().unwrap().get(n - 1).cloned() {
                let code: String = body
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == 6)
                    .unwrap_or_else(|| panic!("no code in {body:?}"))
                    .to_owned();
                return (to, code);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("SMS {n} never came");
    }
}

struct Host {
    base: String,
    http: reqwest::Client,
    latchkey: Latchkey,
    capture: Capture,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

fn pg_url() -> Option<String> {
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

/// The example's application with Latchkey built as `axum_embed::latchkey` builds it, but
/// with the test's capturing sender, on a free loopback port.
async fn start(backend: Backend) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let capture = Capture::default();
    let mut builder = Latchkey::builder()
        .public_url(format!("{base}{}", axum_embed::MOUNT))
        .data_dir(dir.path())
        .bootstrap_secret_key(ADMIN_KEY)
        .sms_sender(capture.clone())
        .email_sender(capture.clone());
    builder = match backend {
        Backend::Sqlite => builder.sqlite(dir.path().join("latchkey.db")),
        Backend::Postgres => {
            let schema = format!(
                "lk_embed_{}",
                latchkey_core::ids::ulid(1_800_000_000_000, &latchkey_core::rand::OsRandom).to_lowercase()
            );
            builder.postgres(pg_url().unwrap()).postgres_schema(schema)
        }
    };
    let latchkey = builder.build().await.unwrap();
    let app: Router = axum_embed::app(latchkey.clone());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Host {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        latchkey,
        capture,
        shutdown,
        server,
        _dir: dir,
    }
}

impl Host {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req).await
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.server.await.unwrap();
        self.latchkey.shutdown().await;
    }
}

async fn read(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn code(secret_b32: &str, steps_ahead: i64) -> String {
    let secret = totp::base32_decode(secret_b32).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    totp::code_at_step(totp::Algorithm::Sha1, &secret, totp::step_at(now) + steps_ahead)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey_core::secret::b64url_decode(payload).unwrap()).unwrap()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

async fn sign_up_totp_and_mfa_sign_in(backend: Backend) {
    let h = start(backend).await;
    let issuer = h.url("/auth");

    // The application's own route, then Latchkey's API under the prefix.
    let (status, home) = h.get("/", None).await;
    assert_eq!(
        (status, home["app"].as_str()),
        (200, Some("axum-embed")),
        "{home}"
    );
    let (status, body) = h
        .post(
            "/auth/v1/auth/signup",
            None,
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let first = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(&first)["iss"],
        issuer.as_str(),
        "the issuer carries the prefix"
    );
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();

    // The protected route: the token is taken, a bad or missing one refused as /v1 does.
    let (status, me) = h.get("/api/me", Some(&first)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user_id"], user_id.as_str());
    assert_eq!(me["second_factor_verified"], false);
    let (status, body) = h.get("/api/me", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "missing_credentials"),
        "{body}"
    );
    let mut forged = first.clone();
    forged.pop();
    forged.push(if first.ends_with('A') { 'B' } else { 'A' });
    for bad in [forged.as_str(), "not-a-token", ADMIN_KEY] {
        let (status, body) = h.get("/api/me", Some(bad)).await;
        assert_eq!(
            (status, error_code(&body)),
            (401, "invalid_token"),
            "{bad}: {body}"
        );
    }
    let (status, body) = h.get("/api/vault", Some(&first)).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "second_factor_required"),
        "{body}"
    );

    // TOTP enrollment with the user's own token.
    let (status, e) = h
        .post(
            "/auth/v1/users/me/mfa/factors",
            Some(&first),
            json!({ "type": "totp", "name": "My phone" }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (status, c) = h
        .post(
            &format!("/auth/v1/users/me/mfa/factors/{fid}/confirm"),
            Some(&first),
            json!({ "code": code(&secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["backup_codes"].as_array().unwrap().len(), 10);

    // Sign-in now asks for the second factor.
    let (status, ch) = h
        .post(
            "/auth/v1/auth/signin",
            None,
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&ch)), (401, "mfa_required"), "{ch}");
    let challenge = ch["error"]["challenge_id"].clone();
    let (status, body) = h
        .post(
            "/auth/v1/mfa/verify",
            None,
            json!({ "challenge_id": challenge, "factor_id": fid, "code": "000000" }),
        )
        .await;
    assert_eq!(status, 401, "a wrong code: {body}");
    // The confirming code's step is used up; the next step is inside the window.
    let (status, tokens) = h
        .post(
            "/auth/v1/mfa/verify",
            None,
            json!({ "challenge_id": challenge, "factor_id": fid, "code": code(&secret, 1) }),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let strong = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&strong)["iss"], issuer.as_str());
    assert_eq!(claims(&strong)["acr"], "aal2");

    // The host's routes take the MFA token; the engine answers the same in code.
    let (status, me) = h.get("/api/me", Some(&strong)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["second_factor_verified"], true);
    assert_eq!(me["amr"], json!(["pwd", "otp", "mfa"]));
    let (status, vault) = h.get("/api/vault", Some(&strong)).await;
    assert_eq!(
        (status, vault["user_id"].as_str()),
        (200, Some(user_id.as_str())),
        "{vault}"
    );
    let ctx = h.latchkey.verify_access_token(&strong).await.unwrap();
    assert_eq!(ctx.user_id.to_string(), user_id);
    assert!(h.latchkey.verify_access_token(&forged).await.is_none());

    // Signing out ends the session: its access tokens are refused by the host too.
    let (status, body) = h
        .post(
            "/auth/v1/auth/signout",
            Some(&strong),
            json!({ "refresh_token": tokens["refresh_token"] }),
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let (status, body) = h.get("/api/vault", Some(&strong)).await;
    assert_eq!((status, error_code(&body)), (401, "invalid_token"), "{body}");
    h.stop().await;
}

async fn sms_code_through_the_hosts_sender(backend: Backend) {
    let h = start(backend).await;
    // The tenant's provider settings say where SMS goes: the application's sender.
    let (status, p) = read(
        h.http
            .get(h.url("/auth/v1/admin/sms-provider"))
            .bearer_auth(ADMIN_KEY),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p, json!({ "provider": "capture", "source": "host" }));
    let (status, body) = read(
        h.http
            .patch(h.url("/auth/v1/admin/config"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = h
        .post(
            "/auth/v1/auth/signup",
            None,
            json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = h
        .post(
            "/auth/v1/users/me/mfa/factors",
            Some(&token),
            json!({ "type": "sms", "phone_number": "+1 (415) 555-2671" }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let (to, sms_code) = h.capture.sms_code(1).await;
    assert_eq!(to, "+14155552671");
    let (status, c) = h
        .post(
            &format!("/auth/v1/users/me/mfa/factors/{fid}/confirm"),
            Some(&token),
            json!({ "code": sms_code }),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    // The security notice of the new factor goes through the application's email sender
    // (with the console default it would not be sent at all).
    let subject = h.capture.email_to("bob@example.com").await;
    assert!(!subject.is_empty());
    let (status, p) = read(
        h.http
            .get(h.url("/auth/v1/admin/email-provider"))
            .bearer_auth(ADMIN_KEY),
    )
    .await;
    assert_eq!(
        (status, p),
        (200, json!({ "provider": "capture", "source": "host" }))
    );

    // Sign-in by SMS: the challenge sends the second code through the same sender.
    let (status, ch) = h
        .post(
            "/auth/v1/auth/signin",
            None,
            json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&ch)), (401, "mfa_required"), "{ch}");
    let challenge = ch["error"]["challenge_id"].clone();
    let (status, sel) = h
        .post(
            "/auth/v1/mfa/challenge",
            None,
            json!({ "challenge_id": challenge, "factor_id": fid }),
        )
        .await;
    assert_eq!(status, 200, "{sel}");
    let (_, sms_code) = h.capture.sms_code(2).await;
    let (status, tokens) = h
        .post(
            "/auth/v1/mfa/verify",
            None,
            json!({ "challenge_id": challenge, "factor_id": fid, "code": sms_code }),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, vault) = h.get("/api/vault", tokens["access_token"].as_str()).await;
    assert_eq!(status, 200, "{vault}");
    h.stop().await;
}

async fn provider_and_pages_under_the_prefix(backend: Backend) {
    let h = start(backend).await;
    let issuer = h.url("/auth");

    // OpenID Connect discovery: the issuer and every endpoint under the prefix.
    let (status, d) = h.get("/auth/.well-known/openid-configuration", None).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["issuer"], issuer.as_str());
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    ] {
        let url = d[field].as_str().unwrap_or_else(|| panic!("{field}: {d}"));
        assert!(url.starts_with(&format!("{issuer}/")), "{field}: {url}");
    }
    let jwks = d["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(&h.base)
        .unwrap()
        .to_owned();
    let (status, keys) = h.get(&jwks, None).await;
    assert_eq!(status, 200, "{keys}");
    assert!(!keys["keys"].as_array().unwrap().is_empty());

    // The hosted pages: forms, assets and redirects keep the prefix.
    let resp = h.http.get(h.url("/auth/login")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"action="/auth/login""#), "{page}");
    assert!(page.contains(r#"href="/auth/assets/pages.css""#), "{page}");
    assert!(
        !page.contains(r#"="/login"#) && !page.contains(r#"="/assets/"#),
        "{page}"
    );
    let resp = h.http.get(h.url("/auth/assets/pages.css")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = h.http.get(h.url("/auth/account/security")).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()["location"], "/auth/login");

    // A tenant at `/t/{slug}`, made with the engine in code: under the prefix too.
    let app = h.latchkey.app();
    let (acme, _key) = app.create_tenant("Acme").await.unwrap();
    let acme_issuer = app
        .set_tenant_addresses(&acme.id, Some("acme"), None)
        .await
        .unwrap();
    assert_eq!(acme_issuer.to_string(), format!("{issuer}/t/acme"));
    let (status, d) = h.get("/auth/t/acme/.well-known/openid-configuration", None).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["issuer"], format!("{issuer}/t/acme"));
    assert_eq!(d["authorization_endpoint"], format!("{issuer}/t/acme/authorize"));
    let page = h.http.get(h.url("/auth/t/acme/login")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"action="/auth/t/acme/login""#), "{page}");
    assert!(page.contains(r#"href="/auth/assets/pages.css""#), "{page}");
    let resp = h
        .http
        .get(h.url("/auth/t/acme/account/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/auth/t/acme/login");
    let (status, _) = h.get("/auth/t/nobody/login", None).await;
    assert_eq!(status, 404);

    // The JSON API's unknown route answers as Latchkey's; the host's own 404 stays its own.
    let (status, body) = h.get("/auth/v1/no-such-route", None).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");
    let (status, _) = h.get("/no-such-route", None).await;
    assert_eq!(status, 404);
    h.stop().await;
}

/// A browser's view of one answer: status, `Location`, body; cookies kept by [`Browser`].
struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Page {
    /// The value of the first `<input … name="NAME" value="…">`.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

/// Cookies in, cookies out, no automatic redirects.
struct Browser<'a> {
    h: &'a Host,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser<'_> {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let resp = req.header("cookie", cookie.join("; ")).send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            assert!(v.contains("Path=/;") || v.ends_with("Path=/"), "{v}");
            let (name, rest) = v.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            location,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.h.http.get(self.h.url(path));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.h.http.post(self.h.url(path)).form(fields);
        self.send(req).await
    }
}

/// A user with TOTP signs in on the hosted pages under the prefix: every redirect stays
/// under `/auth`, and the account page opens.
async fn hosted_pages_sign_in_under_the_prefix(backend: Backend) {
    let h = start(backend).await;
    let (status, body) = h
        .post(
            "/auth/v1/auth/signup",
            None,
            json!({ "email": "carol@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (_, e) = h
        .post(
            "/auth/v1/users/me/mfa/factors",
            Some(&token),
            json!({ "type": "totp", "name": "My phone" }),
        )
        .await;
    let (fid, secret) = (e["factor_id"].as_str().unwrap(), e["secret"].as_str().unwrap());
    let (status, c) = h
        .post(
            &format!("/auth/v1/users/me/mfa/factors/{fid}/confirm"),
            Some(&token),
            json!({ "code": code(secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{c}");

    let mut b = Browser {
        h: &h,
        cookies: Default::default(),
    };
    let form = b.get("/auth/login").await;
    assert_eq!(form.status, 200);
    let csrf = form.field("csrf");
    let p = b
        .post(
            "/auth/login",
            &[
                ("csrf", &csrf),
                ("email", "carol@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/auth/login/mfa"),
        "{}",
        p.body
    );
    let mfa = b.get("/auth/login/mfa").await;
    assert_eq!(mfa.status, 200, "{}", mfa.body);
    assert!(
        mfa.body.contains(r#"action="/auth/login/mfa/verify""#),
        "{}",
        mfa.body
    );
    let totp = code(secret, 1);
    let p = b
        .post(
            "/auth/login/mfa/verify",
            &[
                ("csrf", &mfa.field("csrf")),
                ("factor_id", &mfa.field("factor_id")),
                ("code", &totp),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/auth/account/security"),
        "{}",
        p.body
    );
    let account = b.get("/auth/account/security").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(
        account.body.contains("Signed in as carol@example.com"),
        "{}",
        account.body
    );
    assert!(
        account.body.contains(r#"action="/auth/logout""#),
        "{}",
        account.body
    );
    h.stop().await;
}

/// An application signs a user in with OpenID Connect (authorization code with PKCE) through
/// the hosted pages under the prefix; its access token opens the host's route.
async fn openid_connect_sign_in_under_the_prefix(backend: Backend) {
    const REDIRECT: &str = "http://127.0.0.1:9/callback";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let h = start(backend).await;
    let issuer = h.url("/auth");
    let (status, body) = h
        .post(
            "/auth/v1/auth/signup",
            None,
            json!({ "email": "dave@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, app) = read(
        h.http
            .post(h.url("/auth/v1/admin/applications"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({
                "name": "Acme SPA", "type": "public", "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
            })),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let client = app["client_id"].as_str().unwrap().to_owned();

    let authorize = reqwest::Url::parse_with_params(
        &h.url("/auth/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "st-123"),
            ("code_challenge", latchkey_core::oauth::s256(VERIFIER).as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let mut b = Browser {
        h: &h,
        cookies: Default::default(),
    };
    let p = b.send(h.http.get(authorize)).await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/auth/login"),
        "{}",
        p.body
    );
    let form = b.get("/auth/login").await;
    let p = b
        .post(
            "/auth/login",
            &[
                ("csrf", &form.field("csrf")),
                ("email", "dave@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/auth/login/continue"),
        "{}",
        p.body
    );
    let p = b.get("/auth/login/continue").await;
    let back = reqwest::Url::parse(&p.location).unwrap();
    assert!(p.location.starts_with(REDIRECT), "{}", p.location);
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("st-123"));
    assert_eq!(param("iss").as_deref(), Some(issuer.as_str()));
    let code = param("code").unwrap();

    let (status, tokens) = read(h.http.post(h.url("/auth/oauth/token")).form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]))
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["iss"],
        issuer.as_str()
    );
    let access = tokens["access_token"].as_str().unwrap();
    let (status, me) = h.get("/api/me", Some(access)).await;
    assert_eq!(status, 200, "{me}");
    let (status, info) = h.get("/auth/userinfo", Some(access)).await;
    assert_eq!(
        (status, info["email"].as_str()),
        (200, Some("dave@example.com")),
        "{info}"
    );
    h.stop().await;
}

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if super::pg_url().is_none() { return; }
                super::$name(super::Backend::Postgres).await
            })*
        }
    };
}

both_stores!(
    sign_up_totp_and_mfa_sign_in,
    sms_code_through_the_hosts_sender,
    provider_and_pages_under_the_prefix,
    hosted_pages_sign_in_under_the_prefix,
    openid_connect_sign_in_under_the_prefix,
);

#[tokio::test]
async fn the_builder_refuses_what_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Latchkey::builder()
        .sqlite(dir.path().join("x.db"))
        .data_dir(dir.path())
        .build()
        .await;
    assert!(missing
        .err()
        .unwrap()
        .to_string()
        .contains("public_url is required"),);
    let bad = Latchkey::builder()
        .public_url("ftp://x")
        .setting("access_token_ttl", "1s")
        .setting("no_such_setting", "1")
        .build()
        .await;
    let text = bad.err().unwrap().to_string();
    assert!(text.contains("public_url: must start with http"), "{text}");
    assert!(text.contains("access_token_ttl"), "{text}");
    assert!(text.contains("no_such_setting: unknown setting"), "{text}");
    let both = Latchkey::builder()
        .public_url("http://127.0.0.1:1/auth")
        .data_dir(dir.path())
        .sqlite(dir.path().join("y.db"))
        .sms_provider(latchkey_embed::SmsProviderConfig::Console)
        .sms_sender(Capture::default())
        .build()
        .await;
    let text = both.err().unwrap().to_string();
    assert!(text.contains("SMS sender is given in code"), "{text}");
    let mount = Latchkey::builder()
        .public_url("http://127.0.0.1:1/auth")
        .mount_path("auth")
        .data_dir(dir.path())
        .sqlite(dir.path().join("z.db"))
        .build()
        .await;
    let text = mount.err().unwrap().to_string();
    assert!(text.contains("mount path `auth`"), "{text}");
}
